#!/usr/bin/env bash
# The CUDA forward pass on the GPU machine: build the engine (CUDA backend), its GPU tests
# (test_gpu_forward, test_gpu_causal_attention, test_gpu_sampling, test_gpu_batch) and the end-to-end benchmark
# (decode, prefill, cuBLAS peak); run the tests, compute-sanitizer memcheck + racecheck on their
# quick grids, and the benchmark. Logs and JSON lines go to $OUT (default ./out). Run from the
# repository root.
#   STEPS="build test sanitize bench ncu" (default: all)   BENCH_ARGS="--quick"
#   SAN_FORWARD_FILTER="'[prefill]' '[decode]'": the Catch2 filters of test_gpu_forward's sanitizer runs
#   (one process each, all sanitizer runs in parallel; default: every tag)
#   STEP_TIMEOUT=200 seconds per test / sanitizer / bench invocation
#   GPU_TESTS="test_gpu_batch ...": the tests to build / run (default: all four)
# The GPU machine lacks the sentencepiece/PCRE2/nlohmann-json/Catch2 dev packages the top-level
# CMake project needs, so this compiles the engine's sources directly with g++ and the kernels
# with nvcc, taking those headers and shared libraries from .devcarry/ (gitignored; carry it):
#   .devcarry/catch2/catch2/catch.hpp, .devcarry/sysroot/{include,lib} (copied from Debian 12's
#   libsentencepiece-dev, libpcre2-dev, nlohmann-json3-dev). Make it here, once, with
#   bash tools/bench/make_devcarry.sh (idempotent).
set -u -o pipefail
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
STEPS=${STEPS:-"build test sanitize bench ncu"}
ARCH=${SIGMAOPS_CUDA_ARCH:-90}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
BUILD=build/gpu-fwd
SYS=$PWD/.devcarry/sysroot
STEP_TIMEOUT=${STEP_TIMEOUT:-200}
GPU_TESTS=${GPU_TESTS:-"test_gpu_forward test_gpu_causal_attention test_gpu_sampling test_gpu_batch"}
has() { [[ " $STEPS " == *" $1 "* ]]; }
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
[ "${KEEP_SUMMARY:-0}" = 1 ] || : > "$OUT/summary.txt"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1
  "$NVCC" --version | tail -2
  g++ --version | head -1
} > "$OUT/env.txt" 2>&1
head -3 "$OUT/env.txt" | tee -a "$OUT/summary.txt"

if has build; then
  log "build (arch $ARCH, direct g++/nvcc)"
  mkdir -p $BUILD/obj
  : > "$OUT/build.log"
  CATCH_INC=""
  [ -f /usr/include/catch2/catch.hpp ] || CATCH_INC="-I$PWD/.devcarry/catch2"
  NVFLAGS="-std=c++17 -O3 -gencode=arch=compute_$ARCH,code=sm_$ARCH --expt-relaxed-constexpr -lineinfo -Ikernels"
  BASE_INC=""
  [ -d base/include ] && BASE_INC="-Ibase/include"
  CXXFLAGS="-std=c++20 -O2 -DNDEBUG -DSIGMA_HAVE_CUDA=1 $BASE_INC -Iengine/include -Iengine/src -Ikernels -Itools/mkmodel -Itests/support \
    -isystem /usr/local/cuda/include -isystem $SYS/include $CATCH_INC -DSIGMAOPS_SOURCE_DIR=\\\"$PWD\\\" \
    -DSIGMAOPS_FIXTURES=\\\"$PWD/tests/fixtures\\\" -DSIGMAOPS_BINARY_DIR=\\\"$PWD/$BUILD\\\" \
    -DSIGMAOPS_VERSION=\\\"gpu-direct-build\\\""
  SRCS="$(ls engine/src/*.cpp engine/src/arch/*.cpp engine/src/cpu/*.cpp engine/src/gguf/*.cpp engine/src/tokenizer/*.cpp \
    engine/src/cuda/*.cpp base/*.cpp 2>/dev/null) tools/mkmodel/tiny_model.cpp tests/support/catch_main.cpp $(for t in $GPU_TESTS; do echo tests/gpu/$t.cpp; done)"
  ls kernels/*.cu | xargs -P 16 -I{} sh -c "$NVCC $NVFLAGS -c {} -o $BUILD/obj/\$(basename {} .cu).cu.o || echo FAILED {}" >> "$OUT/build.log" 2>&1 &
  [ -f bench/bench_forward.cpp ] && SRCS="$SRCS bench/bench_forward.cpp"
  echo $SRCS | tr ' ' '\n' | xargs -P 14 -I{} sh -c "g++ $CXXFLAGS -c {} -o $BUILD/obj/\$(echo {} | tr / _).o || echo FAILED {}" >> "$OUT/build.log" 2>&1
  wait
  LIBS="-L/usr/local/cuda/lib64 -lcudart -lcublas -L$SYS/lib -lsentencepiece -lpcre2-8 -lpthread -Wl,-rpath,$SYS/lib"
  ENGINE_OBJ=$(ls $BUILD/obj/engine_*.o $BUILD/obj/base_*.o $BUILD/obj/*.cu.o 2>/dev/null)
  for t in $GPU_TESTS; do
    g++ -o $BUILD/$t $ENGINE_OBJ $BUILD/obj/tools_mkmodel_tiny_model.cpp.o $BUILD/obj/tests_support_catch_main.cpp.o \
      $BUILD/obj/tests_gpu_$t.cpp.o $LIBS >> "$OUT/build.log" 2>&1 || echo "FAILED link $t" >> "$OUT/build.log"
  done
  if [ -f $BUILD/obj/bench_bench_forward.cpp.o ]; then
    g++ -o $BUILD/bench_forward $ENGINE_OBJ $BUILD/obj/bench_bench_forward.cpp.o $LIBS >> "$OUT/build.log" 2>&1 \
      || echo "FAILED link bench_forward" >> "$OUT/build.log"
  fi
  ls -la $(for t in $GPU_TESTS; do echo $BUILD/$t; done) $BUILD/bench_forward 2>&1 | awk '{print $5, $9}' | tee -a "$OUT/summary.txt"
  grep -E "error|FAILED" "$OUT/build.log" | head -30 | tee -a "$OUT/summary.txt"
  # The prefill attention must run on tensor cores without local-memory spills.
  if command -v cuobjdump > /dev/null; then
    echo "causal_attention.cu.o SASS: HMMA $(cuobjdump -sass $BUILD/obj/causal_attention.cu.o | grep -c HMMA)," \
      "LDSM $(cuobjdump -sass $BUILD/obj/causal_attention.cu.o | grep -c LDSM)," \
      "LDL/STL $(cuobjdump -sass $BUILD/obj/causal_attention.cu.o | grep -cE 'LDL|STL')" | tee -a "$OUT/summary.txt"
  fi
fi

if has test; then
  for t in $GPU_TESTS; do
    log "$t (full)"
    timeout $STEP_TIMEOUT $BUILD/$t > "$OUT/$t.log" 2>&1; echo "rc=$?" | tee -a "$OUT/summary.txt"
    grep -E "^(prefill|decode|generated|selective|greedy|causal attention|GPU sampler|generate on|batch|after rejected) " "$OUT/$t.log" | tee -a "$OUT/summary.txt"
    grep -E "FAILED|failed|error" "$OUT/$t.log" | head -20 | tee -a "$OUT/summary.txt"
    tail -2 "$OUT/$t.log" | tee -a "$OUT/summary.txt"
  done
fi

if has sanitize; then
  # memcheck and racecheck of every GPU test, in parallel processes (the instrumentation is
  # CPU-bound); test_gpu_forward is split by tag so that racecheck fits the step's time limit.
  : > "$OUT/sanitizer.log"
  SAN=/tmp/gpu-fwd-san; rm -rf $SAN; mkdir -p $SAN
  i=0
  for t in $GPU_TESTS; do
    FILTERS='""'
    [ "$t" = test_gpu_forward ] && FILTERS="${SAN_FORWARD_FILTER:-'[prefill]' '[decode]' '[selective-v]' '[generate]' '[errors]'}"
    for tool in memcheck racecheck; do
      eval "set -- $FILTERS"
      for f in "$@"; do
        i=$((i + 1))
        ( echo "== compute-sanitizer $tool $t $f (SIGMAOPS_TEST_QUICK=1)"
          SIGMAOPS_TEST_QUICK=1 timeout $STEP_TIMEOUT compute-sanitizer --tool $tool --error-exitcode 3 $BUILD/$t ${f:+"$f"} 2>&1
          echo "rc=$?" ) > $SAN/$i.log 2>&1 &
      done
    done
  done
  wait
  for j in $(seq 1 $i); do
    cat $SAN/$j.log >> "$OUT/sanitizer.log"
    { head -1 $SAN/$j.log; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|test cases|No test cases" $SAN/$j.log | tail -2; tail -1 $SAN/$j.log; } | tee -a "$OUT/summary.txt"
  done
fi

if has bench && [ -x $BUILD/bench_forward ]; then
  log "bench_forward ${BENCH_ARGS:-}"
  timeout $STEP_TIMEOUT $BUILD/bench_forward ${BENCH_ARGS:-} > "$OUT/bench.jsonl" 2>> "$OUT/summary.txt"; echo "rc=$?" | tee -a "$OUT/summary.txt"
  tail -12 "$OUT/bench.jsonl" | tee -a "$OUT/summary.txt"
fi

if has ncu && [ -x $BUILD/bench_forward ]; then  # per-kernel durations of decode steps (Sigma shape, F16, ctx 4K)
  log "ncu kernel durations (bench_forward --quick --steps 1 --types F16)"
  timeout 150 ncu --clock-control none --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
    --kernel-name regex:'gemv|split|attention|rope|argmax|embed|seq_lens|combine|scores|topk|gather' -c 250 \
    $BUILD/bench_forward --quick --steps 1 --types F16 > "$OUT/ncu.txt" 2>&1; echo "rc=$?" | tee -a "$OUT/summary.txt"
  python3 - "$OUT/ncu.txt" <<'PY' | tee -a "$OUT/summary.txt"
import re, sys, collections
name = None; agg = collections.defaultdict(lambda: [0, 0.0, 0.0])
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\s+(\S.*?) \(\d+, \d+, \d+\)x\(\d+, \d+, \d+\)", line)
    if m: name = re.sub(r"\(.*", "", m.group(1))[:60]; continue
    m = re.search(r"gpu__time_duration.sum\s+(\S+)\s+([\d.,]+)", line)
    if m and name:
        v = float(m.group(2).replace(",", "")); v = v / 1000 if m.group(1) == "ns" else (v * 1000 if m.group(1) == "ms" else v)
        agg[name][0] += 1; agg[name][1] += v
    m = re.search(r"dram__throughput.avg.pct_of_peak_sustained_elapsed\s+%\s+([\d.]+)", line)
    if m and name: agg[name][2] += float(m.group(1))
for k, (n, us, pct) in sorted(agg.items(), key=lambda x: -x[1][1]):
    print(f"{k:60s} n={n:4d} total_us={us:9.1f} mean_us={us/n:7.2f} mean_dram%={pct/n:5.1f}")
PY
fi
