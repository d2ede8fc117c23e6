#!/usr/bin/env bash
# Every GPU figure of issue 4 from one call on the GPU machine: decode attention (ours vs
# PyTorch FlashAttention-2 / cuDNN, tools/bench/gpu_attention.sh) and the end-to-end engine
# (GPU tests, compute-sanitizer, bench_forward decode + prefill + cuBLAS peak, calm beside it,
# tools/bench/gpu_e2e.sh). The device tool returns at most 8 files, so each part writes into its
# own folder under /tmp/issue4 and the whole tree comes back as $OUT/issue4.tgz, with the two
# tables and the summaries also as plain files. Run from the repository root; carry .devcarry
# (Catch2 + sysroot headers for the direct builds) and .peer (calm's source).
#   PARTS="attn e2e" (default both); ATTN_STEPS, ATTN_BENCH_ARGS (gpu_attention.sh), FWD_STEPS,
#   FWD_STEPS2, FWD_BENCH_ARGS (gpu_forward.sh), CALM=0 (skip calm).
set -u -o pipefail
OUT=${OUT:-$PWD/out}
RES=/tmp/issue4
rm -rf "$RES"; mkdir -p "$RES/attn" "$RES/e2e" "$OUT"
PARTS=${PARTS:-"attn e2e"}
t0=$(date +%s)
if [[ " $PARTS " == *" e2e "* && "${CALM:-1}" = 1 ]]; then   # calm's build + model beside our builds
  OUT=$RES/e2e CALM_STEPS=prepare bash tools/bench/calm_peer.sh > "$RES/e2e/calm_prepare.txt" 2>&1 &
fi
if [[ " $PARTS " == *" attn "* ]]; then
  OUT=$RES/attn BENCH_ARGS="${ATTN_BENCH_ARGS:-}" STEPS="${ATTN_STEPS:-build test sanitize bench peer}" bash tools/bench/gpu_attention.sh > "$RES/attn/stdout.txt" 2>&1
  echo "== attention done at +$(( $(date +%s) - t0 )) s"
fi
if [[ " $PARTS " == *" e2e "* ]]; then
  OUT=$RES/e2e BENCH_ARGS="${FWD_BENCH_ARGS:-}" STEPS="${FWD_STEPS:-build test}" bash tools/bench/gpu_forward.sh > "$RES/e2e/stdout1.txt" 2>&1
  wait
  OUT=$RES/e2e BENCH_ARGS="${FWD_BENCH_ARGS:-}" KEEP_SUMMARY=1 STEPS="${FWD_STEPS2:-sanitize bench}" bash tools/bench/gpu_forward.sh > "$RES/e2e/stdout2.txt" 2>&1
  [ "${CALM:-1}" = 1 ] && OUT=$RES/e2e CALM_STEPS=run bash tools/bench/calm_peer.sh > "$RES/e2e/calm_run.txt" 2>&1
  python3 tools/bench/e2e_table.py "$RES/e2e/bench.jsonl" "$RES/e2e/calm.jsonl" > "$RES/e2e/e2e_table.md" 2>&1
  echo "== e2e done at +$(( $(date +%s) - t0 )) s"
fi
tar czf "$OUT/issue4.tgz" -C /tmp issue4
for f in attn/summary.txt e2e/summary.txt e2e/e2e_table.md; do [ -f "$RES/$f" ] && cp "$RES/$f" "$OUT/$(echo $f | tr / _)"; done
[ -f "$RES/attn/summary.txt" ] && grep -A40 "^| B " "$RES/attn/summary.txt" | head -60
[ -f "$RES/e2e/summary.txt" ] && grep -vE "^\{" "$RES/e2e/summary.txt" | tail -40
[ -f "$RES/e2e/e2e_table.md" ] && cat "$RES/e2e/e2e_table.md"
