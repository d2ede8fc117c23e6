#!/bin/bash
# CALL 2 on the GPU machine: pretrain + SFT the main model (configs/main.json), export the
# Q8_0 GGUF, evaluate it, and return everything through $OUT. From the repo root with the pack
# carried in .data/pack:   bash tools/train/gpu_main.sh
# $OUT: main.log (train + eval, teed live), train_metrics.json, eval.json,
#       ref_logits.tar (ref_gguf.f32, ref_fp32.f32: 32 held-out positions, see eval.py),
#       $NAME.gguf.part-00.. (15 MiB pieces, under the 16 MiB a returned file may have; cat them
#       to rebuild, sha256 in main.log).
# Env: PACK (.data/pack), PRETRAIN_STEPS / SFT_STEPS (fixed step counts from calibration.json;
#      unset = driven by the time budgets), TIME_PRETRAIN (280), TIME_SFT (50), COMPILE (1/0),
#      CONFIG, EXTRA_ARGS (more train.py flags), EVAL_ARGS (more eval.py flags; CPU tests),
#      TRAIN_END_S (seconds after start by which training phases stop, default 465), PYTHON,
#      NAME (file name and general.name of the GGUF, default sigma-ops-nano), MODEL_JSON (JSON
#      overriding model fields of CONFIG, e.g. a size picked by gpu_sweep.sh).
#      tools/train/gpu_small.sh sets these for sigma-ops-small (issue 21).
set -o pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/sigma_out}; mkdir -p "$OUT"
PACK=${PACK:-.data/pack}
PY=${PYTHON:-python3}
W=/tmp/sigma_main
START=$(date +%s)
LOG="$OUT/main.log"
{
  echo "== gpu_main.sh $(date -u) host $(hostname) commit $(git rev-parse --short HEAD 2>/dev/null)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
  ls -la "$PACK"
} 2>&1 | tee "$LOG"
ARGS=(--config "${CONFIG:-tools/train/configs/main.json}" --pack "$PACK" --out "$W" --cache /tmp/sigma_tok
      --deadline $((START + ${TRAIN_END_S:-465})) --time-pretrain "${TIME_PRETRAIN:-280}" --time-sft "${TIME_SFT:-50}"
      --compile "${COMPILE:-1}")
[ -n "$PRETRAIN_STEPS" ] && ARGS+=(--pretrain-steps "$PRETRAIN_STEPS")
[ -n "$SFT_STEPS" ] && ARGS+=(--sft-steps "$SFT_STEPS")
[ -n "$MODEL_JSON" ] && ARGS+=(--model "$MODEL_JSON")
NAME=${NAME:-sigma-ops-nano}
ARGS+=(--name "$NAME")
$PY tools/train/train.py "${ARGS[@]}" $EXTRA_ARGS 2>&1 | tee -a "$LOG"
rc=$?
cp "$W/metrics.json" "$OUT/train_metrics.json" 2>/dev/null
if [ -f "$W/model.gguf" ]; then
  # the GGUF comes back first (in pieces), so a timeout in eval cannot cost the model
  split -b 15M -d "$W/model.gguf" "$OUT/$NAME.gguf.part-"
  echo "== gguf $(stat -c %s "$W/model.gguf") bytes sha256 $(sha256sum "$W/model.gguf" | cut -d' ' -f1)" | tee -a "$LOG"
  $PY tools/train/eval.py --gguf "$W/model.gguf" --pack "$PACK" --cache /tmp/sigma_tok --ckpt "$W/model.pt" \
      --out "$OUT/eval.json" --logits-out "$W/ref" $EVAL_ARGS 2>&1 | tee -a "$LOG"
  rc2=$?
  (cd "$W" && tar cf "$OUT/ref_logits.tar" ref_gguf.f32 ref_fp32.f32 2>/dev/null)
else
  echo "== no model.gguf (train rc=$rc)" | tee -a "$LOG"; rc2=1
fi
echo "== done train rc=$rc eval rc=$rc2 in $(( $(date +%s) - START )) s" | tee -a "$LOG"
ls -la "$OUT" | tee -a "$LOG"
