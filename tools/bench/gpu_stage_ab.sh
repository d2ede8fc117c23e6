#!/usr/bin/env bash
# The measurement session 7 could not make (no device time left): the full-attention kernel's
# shared-memory stages (fast_split_kernel STG, SIGMAOPS_ATTN_STAGE=1) against the shipped kernel,
# in one call on the GPU machine. Builds the attention kernels, test and benchmark
# (tools/bench/gpu_attention.sh) and the engine's GPU tests (tools/bench/gpu_forward.sh), then:
#   1. the same-run A/B on a quiet GPU: bench_attention, each shipped variant next to its *_stage
#      twin, batch 1 and 8, 2K-128K;
#   2. block timelines at 16K, batch 1, with and without the stages (--trace);
#   3. test_gpu_attention's full grid (it forces pool x stages x few slices), compute-sanitizer
#      memcheck + racecheck, and test_gpu_forward / test_gpu_batch with SIGMAOPS_ATTN_STAGE=1.
# Results go to $OUT/stage_ab.tgz (and the summaries as plain files). Run from the repository
# root; carry .devcarry (Catch2 + sysroot headers for the direct builds).
set -u -o pipefail
OUT=${OUT:-$PWD/out}
RES=/tmp/stage_ab
rm -rf "$RES"; mkdir -p "$RES/attn" "$RES/e2e" "$OUT"
t0=$(date +%s)
el() { echo "== $* at +$(( $(date +%s) - t0 )) s" | tee -a "$RES/log.txt"; }
pack() {
  tar czf "$OUT/stage_ab.tgz" -C /tmp stage_ab
  for f in attn/summary.txt e2e/summary.txt log.txt; do [ -f "$RES/$f" ] && cp "$RES/$f" "$OUT/$(echo $f | tr / _)"; done
}
attn() { OUT=$RES/attn KEEP_SUMMARY=1 TO_TEST=240 TO_SAN=180 TO_BENCH=300 BENCH_ARGS="${2:-}" STEPS="$1" bash tools/bench/gpu_attention.sh >> "$RES/attn/stdout.txt" 2>&1; }
fwd() { OUT=$RES/e2e KEEP_SUMMARY=1 STEP_TIMEOUT=220 GPU_TESTS="test_gpu_forward test_gpu_batch" STEPS="$1" bash tools/bench/gpu_forward.sh >> "$RES/e2e/stdout.txt" 2>&1; }
git log --oneline -1 > "$RES/commit.txt" 2>&1
attn build & fwd build & wait; el "builds"; pack
attn bench "--only sigma_pdl,sigma_stage_pdl,gqa_pdl,gqa_stage_pdl,sigma_static_pdl,sigma_static_stage_pdl,sigma,sigma_stage,sigma_step_pdl,sigma_step_stage_pdl"
el "A/B bench"; pack
for v in sigma_pdl sigma_stage_pdl; do
  timeout 60 build/gpu-attn/bench_attention --trace --batch 1 --ctx 16384 --only $v > "$RES/attn/trace_$v.jsonl" 2>&1
done
el "traces"; pack
attn "test sanitize" & SIGMAOPS_ATTN_STAGE=1 fwd test & wait
el "tests + sanitizers (engine tests with the stages on)"; pack
grep -vE "^\{" "$RES/attn/summary.txt" | tail -40; tail -20 "$RES/e2e/summary.txt"; cat "$RES/log.txt"
