#!/usr/bin/env bash
# Every GPU figure of issue 4 on the GPU machine, in two calls:
#   MODE=check  builds, then runs the GPU tests and compute-sanitizer (memcheck, racecheck) of the
#               decode attention (tools/bench/gpu_attention.sh) and of the engine
#               (tools/bench/gpu_forward.sh) side by side;
#   MODE=bench  builds, then runs every benchmark one after another on a quiet GPU: decode
#               attention with the PyTorch FlashAttention-2 / cuDNN peers, bench_forward (decode,
#               prefill, the cuBLAS peak), and calm (tools/bench/calm_peer.sh) - one run of the
#               bench programs.
# The device tool returns at most 8 files, so each part writes into its own folder under
# /tmp/issue4 and the tree comes back as $OUT/issue4.tgz, with the tables and summaries also as
# plain files. Run from the repository root; carry .devcarry (Catch2 + sysroot headers for the
# direct builds; bash tools/bench/make_devcarry.sh makes it) and, for MODE=bench, .peer (calm's source, never committed).
#   ATTN_BENCH_ARGS, FWD_BENCH_ARGS: flags of bench_attention / bench_forward (default for the
#   latter: batched decode at 8 and 16 sequences, and GEMV shape 7, the previous warp reduction,
#   as an A/B row); CALM=0 skips calm.
#   THEN_CHECK="test_gpu_sampling test_gpu_batch" (MODE=bench): after the benchmarks and their
#   results are packed, also run test_gpu_attention with its sanitizers and compute-sanitizer on
#   these engine tests (correctness never runs beside the benchmarks).
set -u -o pipefail
OUT=${OUT:-$PWD/out}
MODE=${MODE:-check}
RES=/tmp/issue4
rm -rf "$RES"; mkdir -p "$RES/attn" "$RES/e2e" "$OUT"
t0=$(date +%s)
el() { echo "== $* at +$(( $(date +%s) - t0 )) s"; }
# Results into $OUT (again after each part, so a call cut short still returns what finished).
pack() {
  tar czf "$OUT/issue4.tgz" -C /tmp issue4
  for f in attn/summary.txt e2e/summary.txt e2e/e2e_table.md; do [ -f "$RES/$f" ] && cp "$RES/$f" "$OUT/$(echo $f | tr / _)"; done
}
attn() { OUT=$RES/attn KEEP_SUMMARY=1 BENCH_ARGS="${ATTN_BENCH_ARGS:-}" STEPS="$1" bash tools/bench/gpu_attention.sh >> "$RES/attn/stdout.txt" 2>&1; }
fwd() { OUT=$RES/e2e KEEP_SUMMARY=1 STEP_TIMEOUT=${STEP_TIMEOUT:-420} BENCH_ARGS="${FWD_BENCH_ARGS:---batch 8,16 --gemv-shapes 7}" STEPS="$1" bash tools/bench/gpu_forward.sh >> "$RES/e2e/stdout.txt" 2>&1; }

[ "$MODE" = bench ] && [ "${CALM:-1}" = 1 ] && { OUT=$RES/e2e CALM_STEPS=prepare bash tools/bench/calm_peer.sh > "$RES/e2e/calm_prepare.txt" 2>&1 & }
attn build & fwd build & wait
el "builds done"
if [ "$MODE" = check ]; then
  attn "test sanitize" & fwd "test sanitize" & wait
  el "tests and sanitizers done"
else
  attn "bench peer"; el "attention bench + peers done"; pack
  fwd bench; el "bench_forward done"; pack
  [ "${CALM:-1}" = 1 ] && { OUT=$RES/e2e CALM_STEPS=run bash tools/bench/calm_peer.sh > "$RES/e2e/calm_run.txt" 2>&1; el "calm done"; }
  python3 tools/bench/e2e_table.py "$RES/e2e/bench.jsonl" "$RES/e2e/calm.jsonl" > "$RES/e2e/e2e_table.md" 2>&1
fi
head -3 "$RES/e2e/env.txt" 2>/dev/null
pack
if [ "$MODE" = bench ] && [ -n "${THEN_CHECK:-}" ]; then
  attn "test sanitize" & GPU_TESTS="$THEN_CHECK" fwd sanitize & wait
  el "post-benchmark tests and sanitizers done"
  pack
fi
echo "=== attention summary"; grep -vE "^\{" "$RES/attn/summary.txt" 2>/dev/null | tail -60
echo "=== engine summary"; grep -vE "^\{" "$RES/e2e/summary.txt" 2>/dev/null | tail -45
[ -f "$RES/e2e/e2e_table.md" ] && cat "$RES/e2e/e2e_table.md"
