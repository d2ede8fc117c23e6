#!/usr/bin/env bash
# The end-to-end decode comparison of issue 4 on the GPU machine, in one call: our CUDA backend
# (tools/bench/gpu_forward.sh: build, GPU test, compute-sanitizer, bench_forward) and calm
# (tools/bench/calm_peer.sh) on the same card. calm is built and its model written while ours
# builds and is tested; the timed runs (ours, then calm's) run alone. Run from the repository root;
# carry .devcarry (bash tools/bench/make_devcarry.sh makes it) and .peer.
#   FWD_STEPS (default "build test sanitize bench"), BENCH_ARGS (bench_forward flags), CALM=0 skips calm.
set -u -o pipefail
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
if [ "${CALM:-1}" = 1 ]; then CALM_STEPS=prepare bash tools/bench/calm_peer.sh > "$OUT/calm_prepare.txt" 2>&1 & fi
STEPS="${FWD_STEPS:-build test}" bash tools/bench/gpu_forward.sh
wait
KEEP_SUMMARY=1 STEPS="${FWD_STEPS2:-sanitize bench}" bash tools/bench/gpu_forward.sh
if [ "${CALM:-1}" = 1 ]; then
  cat "$OUT/calm_prepare.txt"
  CALM_STEPS=run bash tools/bench/calm_peer.sh
fi
python3 tools/bench/e2e_table.py "$OUT/bench.jsonl" "$OUT/calm.jsonl" 2>&1 | tee "$OUT/e2e_table.md"
