#!/usr/bin/env bash
# calm (github zeux/calm at cab0b7b), the end-to-end decode peer of issue 4, built and run on the
# GPU machine beside our bench_forward. Never commit calm or anything built from it: its source
# travels in the gitignored .peer/calm (made here with
#   git -C <calm mirror> archive HEAD src Makefile tools/convert.py | tar -x -C .peer/calm).
# Steps: build calm twice with the three CUDA-13 fixes from ../shared/BASELINES.md (alignas,
# drop memoryClockRate from a printf, -lstdc++) - once as is (its KV cache is fp8 once the
# context exceeds 4096) and once with the fp8 switch raised so the KV cache stays fp16 like ours;
# write the GQA twin of Sigma-1.5B with random fp16 weights (make_calm_model.py) and convert it
# with calm's tools/convert.py --dtype fp16; then decode greedily at positions offset by
# CALM_POSO (0, 4K, 32K, 64K; calm attends over the whole offset, reading zeros below it).
# Output: $OUT/calm.jsonl (one line per run) and $OUT/calm.log. Run from the repository root.
#   CALM_STEPS="prepare run" (default both): prepare = builds + model (CPU and disk work, may run
#   beside our build), run = the timed decodes (run it alone on the GPU).
set -u -o pipefail
CALM_STEPS=${CALM_STEPS:-"prepare run"}
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
SRC=${CALM_SRC:-$PWD/.peer/calm}
WORK=${CALM_WORK:-/tmp/calm}
LOG="$OUT/calm.log"
[ -f "$SRC/src/infer.cu" ] || { echo "calm_peer: no calm source in $SRC" | tee -a "$LOG"; exit 2; }
if [[ " $CALM_STEPS " == *" prepare "* ]]; then
: > "$LOG"
rm -rf "$WORK/src16" "$WORK/src8"; mkdir -p "$WORK"
for v in 8 16; do
  cp -r "$SRC" "$WORK/src$v"
  ( cd "$WORK/src$v" &&
    sed -i 's/union _ALIGNAS(sizeof(T) \* N) ablock/union alignas(sizeof(T) * N) ablock/' src/helpers.cuh &&
    sed -i 's/(double)devprop.memoryClockRate \* (devprop.memoryBusWidth \/ 8) \* 2 \/ 1e6/0.0/' src/infer.cu &&
    sed -i 's/^LDFLAGS=-lm$/LDFLAGS=-lm -lstdc++/' Makefile &&
    if [ $v = 16 ]; then sed -i 's/transformer.config.seq_len > 4096/transformer.config.seq_len > (1 << 30)/' src/run.c; fi &&
    make CUARCH=sm_90 NVCC=${NVCC:-nvcc} > build.log 2>&1; echo "calm build kv$v rc=$?" ) >> "$LOG" 2>&1 &
done
MODEL_DIR="$WORK/hf"
if [ ! -f "$WORK/gqa.calm" ]; then
  python3 tools/bench/make_calm_model.py "$MODEL_DIR" >> "$LOG" 2>&1 || { echo "calm_peer: model generation failed" | tee -a "$LOG"; }
  python3 "$SRC/tools/convert.py" "$WORK/gqa.calm" "$MODEL_DIR" --dtype fp16 >> "$LOG" 2>&1 \
    || echo "calm_peer: convert.py failed" | tee -a "$LOG"
  rm -rf "$MODEL_DIR"
fi
wait
grep -E "rc=|error" "$LOG" | head
fi
[[ " $CALM_STEPS " == *" run "* ]] || exit 0
: > "$OUT/calm.jsonl"
run() {  # kv pos ctx steps
  local kv=$1 pos=$2 ctx=$3 n=$4 line
  line=$(CALM_POSO=$pos timeout 120 "$WORK/src$kv/build/run" "$WORK/gqa.calm" -n $n -t 0 -s 1 -i "a" -c $ctx 2>&1 >/dev/null \
    | tee -a "$LOG" | grep -E "^# [0-9]+ tokens: throughput")
  echo "calm kv$kv pos $pos: $line"
  local tps=$(echo "$line" | sed -E 's/.*throughput: ([0-9.]+) tok\/s.*/\1/')
  local ms=$(echo "$line" | sed -E 's/.*latency: ([0-9.]+) ms\/tok.*/\1/')
  local gbs=$(echo "$line" | sed -E 's/.*bandwidth: ([0-9.]+) GB\/s.*/\1/')
  [ -n "$line" ] && echo "{\"peer\":\"calm\",\"kv_bits\":$kv,\"ctx\":$pos,\"steps\":$n,\"tokens_per_s\":$tps,\"ms_per_token\":$ms,\"calm_GBps\":$gbs}" >> "$OUT/calm.jsonl"
}
run 16 0 4096 256
run 16 3840 4096 256
run 16 32768 33024 256
run 8 32768 33024 256
run 16 65536 65792 256
run 8 65536 65792 256
run 16 0 4096 256
