#!/usr/bin/env bash
# Decode attention on the GPU machine: build the kernels, their test and benchmark; run the test,
# compute-sanitizer (memcheck, racecheck) on a reduced grid, the benchmark and the PyTorch peers.
# Logs and JSON lines go to $OUT (default ./out). Run from the repository root.
#   STEPS="build test sanitize bench peer" (default: all)  BENCH_ARGS="--quick" PEER_ARGS="--quick"
#   Without "build", binaries already in build/gpu-attn (built elsewhere for sm_90) are used, or
#   unpacked from prebuilt/bins.tar.xz when that exists (built on the CPU machine: saves GPU time).
#   Time limits per step (s): TO_TEST TO_SAN (each tool) TO_BENCH TO_NCU TO_PEER.
# Catch2 v2 (header only) is taken from the system, else from .devcarry/catch2 (carried here; make
# .devcarry once with bash tools/bench/make_devcarry.sh).
# The top-level CMake project needs sentencepiece/libssh/SQLite/Catch2 dev packages, which the GPU
# machine may lack; the script tries it first and otherwise compiles just these files with nvcc.
set -u -o pipefail
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
STEPS=${STEPS:-"build test sanitize bench ncu peer"}
ARCH=${SIGMAOPS_CUDA_ARCH:-90}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
BUILD=build/gpu-attn
has() { [[ " $STEPS " == *" $1 "* ]]; }
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
[ "${KEEP_SUMMARY:-0}" = 1 ] || : > "$OUT/summary.txt"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1
  "$NVCC" --version | tail -2
  g++ --version | head -1; cmake --version | head -1
  python3 -c 'import torch; print("torch", torch.__version__)' 2>&1
  for pc in sentencepiece libpcre2-8 sqlite3 libssh; do pkg-config --exists $pc && echo "pkg $pc yes" || echo "pkg $pc no"; done
  ls /usr/include/catch2/catch.hpp /usr/local/include/catch2/catch.hpp 2>&1
} > "$OUT/env.txt" 2>&1

if ! has build && [ ! -x $BUILD/test_gpu_attention ] && [ -f prebuilt/bins.tar.xz ]; then
  mkdir -p $BUILD && tar xJf prebuilt/bins.tar.xz -C $BUILD && log "using prebuilt/bins.tar.xz"
fi

if has build; then
  log "build (arch $ARCH)"
  mkdir -p $BUILD/obj
  BUILT=0
  # The configure is cheap and tells whether the project builds here; building through it also
  # compiles sigma_engine (not needed by these targets), so it is used only with CMAKE_BUILD=1.
  if cmake -S . -B build/gpu-cmake -G Ninja -DSIGMAOPS_UI=OFF -DSIGMAOPS_CUDA_ARCH=$ARCH >> "$OUT/build.log" 2>&1; then
    log "top-level CMake configure: ok"
  else
    log "top-level CMake configure: fails here (missing packages, see build.log)"
  fi
  if [ "${CMAKE_BUILD:-0}" = 1 ] && ninja -C build/gpu-cmake test_gpu_attention bench_attention >> "$OUT/build.log" 2>&1; then
    cp build/gpu-cmake/tests/test_gpu_attention build/gpu-cmake/bench/bench_attention $BUILD/ && BUILT=1
    log "built with the top-level CMake project"
  else
    log "direct nvcc build of kernels/*.cu, the test and the benchmark"
  fi
  if [ $BUILT = 0 ]; then
    CATCH_INC=""
    [ -f /usr/include/catch2/catch.hpp ] || CATCH_INC="-I$PWD/.devcarry/catch2"
    FLAGS="-std=c++20 -O3 -gencode=arch=compute_$ARCH,code=sm_$ARCH --expt-relaxed-constexpr -lineinfo -Ikernels"
    ls kernels/*.cu | xargs -P ${JOBS:-16} -I{} sh -c "$NVCC $FLAGS -c {} -o $BUILD/obj/\$(basename {} .cu).o" >> "$OUT/build.log" 2>&1
    $NVCC $FLAGS -c bench/bench_attention.cu -o $BUILD/obj/bench_attention.main.o >> "$OUT/build.log" 2>&1 &
    g++ -std=c++20 -O2 $CATCH_INC -Ikernels -I/usr/local/cuda/include -c tests/support/catch_main.cpp -o $BUILD/obj/catch_main.host.o >> "$OUT/build.log" 2>&1 &
    g++ -std=c++20 -O2 $CATCH_INC -Ikernels -Itests/support -I/usr/local/cuda/include -c tests/gpu/test_gpu_attention.cpp -o $BUILD/obj/test_gpu_attention.host.o >> "$OUT/build.log" 2>&1 &
    wait
    KOBJ=$(ls $BUILD/obj/decode_attention*.o)
    # forward_ops.o: rope, the predecessor of the PDL test cases
    $NVCC -o $BUILD/test_gpu_attention $BUILD/obj/test_gpu_attention.host.o $BUILD/obj/catch_main.host.o $KOBJ \
      $BUILD/obj/forward_ops.o >> "$OUT/build.log" 2>&1
    $NVCC -o $BUILD/bench_attention $BUILD/obj/bench_attention.main.o $KOBJ >> "$OUT/build.log" 2>&1
  fi
  ls -la $BUILD/test_gpu_attention $BUILD/bench_attention 2>&1 | tee -a "$OUT/summary.txt"
  grep -E "error" "$OUT/build.log" | head -20 | tee -a "$OUT/summary.txt"
fi

if has test; then  # one process per test case (the CPU twins dominate; the machine has cores)
  log "test_gpu_attention (full grid, test cases in parallel)"
  TLOG=$(mktemp -d)
  i=0
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    i=$((i + 1))
    # Catch2 splits a test spec at commas: escape them; a name that matches nothing fails.
    ( timeout ${TO_TEST:-240} $BUILD/test_gpu_attention "${name//,/\\,}" > "$TLOG/$i.log" 2>&1
      rc=$?; grep -q "No test cases matched" "$TLOG/$i.log" && rc=99
      echo "rc=$rc $name" > "$TLOG/$i.rc" ) &
  done < <($BUILD/test_gpu_attention --list-test-names-only | sed 's/^ *//')
  wait
  for f in "$TLOG"/*.log; do echo "--- $(cat "${f%.log}.rc")"; cat "$f"; done > "$OUT/test.log"
  cat "$TLOG"/*.rc | tee -a "$OUT/summary.txt"
  grep -hE "^All tests passed|^test cases:" "$TLOG"/*.log | tee -a "$OUT/summary.txt"
fi

if has sanitize; then
  for tool in memcheck racecheck; do
    log "compute-sanitizer $tool (SIGMAOPS_TEST_QUICK=1)"
    SIGMAOPS_TEST_QUICK=1 timeout ${TO_SAN:-180} compute-sanitizer --tool $tool --error-exitcode 3 \
      $BUILD/test_gpu_attention >> "$OUT/sanitizer.log" 2>&1; echo "rc=$?" | tee -a "$OUT/summary.txt"
    tail -3 "$OUT/sanitizer.log" | tee -a "$OUT/summary.txt"
  done
fi

if has bench; then
  log "bench_attention ${BENCH_ARGS:-}"
  timeout ${TO_BENCH:-240} $BUILD/bench_attention ${BENCH_ARGS:-} > "$OUT/bench.jsonl" 2>> "$OUT/summary.txt"; echo "rc=$?" | tee -a "$OUT/summary.txt"
fi

if has ncu; then  # per-kernel GPU durations of one batch-1 16K step (full and selective V)
  log "ncu kernel durations, batch 1, ctx 16K"
  timeout ${TO_NCU:-60} ncu --clock-control none --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
    --kernel-name regex:'split|scores_kernel|topk|gather' -c 40 \
    $BUILD/bench_attention --batch 1 --ctx 16384 --warmup 1 --iters 1 --no-graph \
    --only sigma,gqa,sigma_selv100,sigma_old,sigma_selv100_old > "$OUT/ncu.txt" 2>&1; echo "rc=$?" | tee -a "$OUT/summary.txt"
  grep -E "^  [a-z_]+.*\(|gpu__time_duration|dram__throughput" "$OUT/ncu.txt" | sed -E 's/\(sigmaops::kernels::attn::Geometry.*//' | head -48 >> "$OUT/summary.txt"
fi

if has peer; then
  log "peer_attention.py ${PEER_ARGS:-}"
  PYTHONUNBUFFERED=1 timeout ${TO_PEER:-200} python3 tools/bench/peer_attention.py ${PEER_ARGS:-} > "$OUT/peer.jsonl" 2>> "$OUT/summary.txt"; echo "rc=$?" | tee -a "$OUT/summary.txt"
fi

for k in us us_graph; do python3 tools/bench/attention_table.py "$OUT/bench.jsonl" "$OUT/peer.jsonl" $k 2>&1 | tee -a "$OUT/summary.txt"; done
