#!/bin/bash
# CALL 1 on the GPU machine: the issue-5 ablation (4 runs, equal params and tokens) plus a
# throughput calibration of the main config (torch.compile on/off). Run from the repo root
# with the pack carried in .data/pack:   bash tools/train/gpu_ablation.sh
# Writes to $OUT: ablation.log, ablation.json (rewritten after every run), calibration.json.
# Env: PACK (default .data/pack), ABL_SECONDS (training seconds per run, default 70),
#      BUDGET_S (whole-call guard, default 570), PYTHON (default python3).
set -o pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sigma_out}; mkdir -p "$OUT"
PACK=${PACK:-.data/pack}
PY=${PYTHON:-python3}
START=$(date +%s)
DEADLINE=$((START + ${BUDGET_S:-570}))
{
  echo "== gpu_ablation.sh $(date -u) host $(hostname) commit $(git rev-parse --short HEAD 2>/dev/null)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  ls -la "$PACK"
  $PY -c "import torch, sentencepiece; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$OUT/ablation.log"
$PY tools/train/ablation.py --config "${ABL_CONFIG:-tools/train/configs/ablation.json}" --pack "$PACK" --out "$OUT" \
    --cache /tmp/sigma_tok --seconds "${ABL_SECONDS:-70}" \
    --calibrate-main "${CONFIG:-tools/train/configs/main.json}" --deadline "$DEADLINE" $EXTRA_ARGS 2>&1 | tee -a "$OUT/ablation.log"
rc=$?
echo "== done rc=$rc in $(( $(date +%s) - START )) s" | tee -a "$OUT/ablation.log"
exit $rc
