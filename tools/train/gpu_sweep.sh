#!/bin/bash
# GPU call: scaling sweep for sigma-ops-small (issue 21): the sizes of configs/sweep.json, each
# pretrained for the same number of steps (same 4096-token windows, batch, seed and data order),
# held-out losses into $OUT/sweep.json (rewritten after each run). One call, under 9 minutes on
# one H100. From the repo root with the pack carried:   bash tools/train/gpu_sweep.sh
#   carry: [".data/pack"]
# $OUT: sweep.log (teed live), sweep.json.
# Env: PACK (.data/pack), STEPS (per run, default 350 = 350 x 16 x 4096 = 22.9M tokens; eager, no torch.compile:
#      compiling costs ~40 s a run, more than it saves on runs this short),
#      SECONDS_PER_RUN (time guard per run, default 95), BUDGET_S (whole-call guard, 530),
#      SWEEP_CONFIG, ONLY (comma-separated run names), EXTRA_ARGS (more train.py flags), PYTHON.
set -o pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sigma_out}; mkdir -p "$OUT"
PACK=${PACK:-.data/pack}
PY=${PYTHON:-python3}
START=$(date +%s)
LOG="$OUT/sweep.log"
{
  echo "== gpu_sweep.sh $(date -u) host $(hostname) commit $(git rev-parse --short HEAD 2>/dev/null)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  ls -la "$PACK"
  $PY -c "import torch, sentencepiece; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$LOG"
$PY tools/train/sweep.py --config "${SWEEP_CONFIG:-tools/train/configs/sweep.json}" --pack "$PACK" --out "$OUT" \
    --cache /tmp/sigma_tok --steps "${STEPS:-350}" --seconds-per-run "${SECONDS_PER_RUN:-95}" \
    --deadline $((START + ${BUDGET_S:-530})) --python "$PY" --only "${ONLY:-}" --extra "${EXTRA_ARGS:-}" 2>&1 | tee -a "$LOG"
rc=$?
echo "== done rc=$rc in $(( $(date +%s) - START )) s" | tee -a "$LOG"
exit $rc
