#!/usr/bin/env bash
# Where the batch-1 decode attention spends its time, on the GPU machine (one call):
#   1. block timelines (bench_attention --trace: %globaltimer at fixed points of every block of
#      the last graph-replayed call) for full attention and selective V at 16K / 32K / 128K;
#   2. Nsight Compute full sections with source counters (SASS stall samples) of the split-KV
#      kernel (16K) and of the select+gather kernel (32K), as text pages;
#   3. optionally (FWD=1) the engine's GPU tests named in FWD_TESTS (default test_gpu_batch);
#   4. ATTN_TEST=1: test_gpu_attention's full grid (tools/bench/gpu_attention.sh "test");
#   5. AB_ARGS="...": bench_attention with these flags (same-run A/B rows) into ab.jsonl;
#   6. FWD_BENCH="...": bench_forward with these flags (needs FWD=1) into fwd_bench.jsonl.
# NCU=0 skips step 2. Everything lands in /tmp/prof and comes back as $OUT/prof.tgz plus
# $OUT/trace.jsonl and $OUT/ab.jsonl.
# Run from the repository root; carry .devcarry (made by bash tools/bench/make_devcarry.sh).
set -u -o pipefail
OUT=${OUT:-$PWD/out}
R=/tmp/prof
rm -rf "$R"; mkdir -p "$R" "$OUT"
t0=$(date +%s)
el() { echo "== $* at +$(( $(date +%s) - t0 )) s" | tee -a "$R/log.txt"; }
pack() { tar czf "$OUT/prof.tgz" --exclude='*.ncu-rep' -C /tmp prof; cp "$R/trace.jsonl" "$R/ab.jsonl" "$OUT/" 2>/dev/null; }

OUT=$R/attn STEPS=build bash tools/bench/gpu_attention.sh > "$R/attn_build.txt" 2>&1 &
[ "${FWD:-1}" = 1 ] && { OUT=$R/fwd GPU_TESTS="${FWD_TESTS:-test_gpu_batch}" STEPS=build bash tools/bench/gpu_forward.sh > "$R/fwd_build.txt" 2>&1 & }
wait
el "builds done"
B=build/gpu-attn/bench_attention
for ctx in ${TRACE_CTX:-16384 32768 131072}; do
  timeout 120 $B --trace --batch 1 --ctx $ctx --only ${TRACE_VARIANTS:-sigma,sigma_pdl,sigma_selv100,sigma_selv100_pdl,gqa_pdl} >> "$R/trace.jsonl" 2>> "$R/log.txt"
done
el "traces done"; pack
if [ -n "${AB_ARGS:-}" ]; then
  timeout 300 $B $AB_ARGS > "$R/ab.jsonl" 2>> "$R/log.txt"; echo "rc=$? bench_attention $AB_ARGS" | tee -a "$R/log.txt"
  el "A/B done"; pack
fi
if [ "${ATTN_TEST:-0}" = 1 ]; then
  OUT=$R/attn KEEP_SUMMARY=1 STEPS=test bash tools/bench/gpu_attention.sh > "$R/attn_test.txt" 2>&1
  grep -E "^rc=|passed|failed" "$R/attn/summary.txt" | tail -12 | tee -a "$R/log.txt"
  el "attention tests done"; pack
fi
[ "${NCU:-1}" = 1 ] || { SKIP_NCU=1; }

if [ -z "${SKIP_NCU:-}" ]; then
NCU="ncu --set full --import-source yes --cache-control none --clock-control none"
timeout 180 $NCU -k regex:select_gather --launch-skip 1 -c 1 -o "$R/sel32k" \
  $B --batch 1 --ctx 32768 --warmup 1 --iters 1 --no-graph --only sigma_selv100 > "$R/ncu_sel.txt" 2>&1
timeout 180 $NCU -k regex:fast_split --launch-skip 2 -c 1 -o "$R/split16k" \
  $B --batch 1 --ctx 16384 --warmup 2 --iters 1 --no-graph --only sigma > "$R/ncu_split.txt" 2>&1
for r in sel32k split16k; do
  [ -f "$R/$r.ncu-rep" ] || continue
  ncu --import "$R/$r.ncu-rep" --page details > "$R/$r.details.txt" 2>&1
  ncu --import "$R/$r.ncu-rep" --page source --csv --print-source sass > "$R/$r.sass.csv" 2>&1 || true
  ncu --import "$R/$r.ncu-rep" --page source --csv --print-source cuda > "$R/$r.cuda.csv" 2>&1 || true
done
el "ncu done"; pack
fi

if [ "${FWD:-1}" = 1 ]; then
  for t in ${FWD_TESTS:-test_gpu_batch}; do
    timeout 300 build/gpu-fwd/$t > "$R/$t.log" 2>&1; echo "rc=$? $t" | tee -a "$R/log.txt"
    grep -E "^batch|passed|failed|FAILED" "$R/$t.log" | tail -20 | tee -a "$R/log.txt"
  done
  el "engine tests done"
  if [ -n "${FWD_BENCH:-}" ]; then
    timeout 200 build/gpu-fwd/bench_forward $FWD_BENCH > "$R/fwd_bench.jsonl" 2>> "$R/log.txt"; echo "rc=$? bench_forward $FWD_BENCH" | tee -a "$R/log.txt"
    grep -v copy_gbps "$R/fwd_bench.jsonl" | tee -a "$R/log.txt"
  fi
fi
pack
cat "$R/log.txt"
grep -h "Duration\|DRAM Throughput\|Registers Per\|Achieved Occupancy\|Warp Cycles Per Issued" "$R"/*.details.txt 2>/dev/null | head -20
