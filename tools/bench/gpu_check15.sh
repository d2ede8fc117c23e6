#!/usr/bin/env bash
# Issue 15's GPU check on the H100, in one device call of at most about 9 minutes (16 cores):
#   1. build (Release, CUDA arch 90, UI off) into build/gpu with the top-level CMake project,
#      its missing packages taken from .devcarry/root (tools/bench/make_devcarry.sh); if that
#      configure fails there, the direct g++/nvcc build of tools/bench/gpu_forward.sh instead;
#   2. every GPU test (tests/gpu/test_gpu_*.cpp) on its full grid, test_gpu_attention one process
#      per test case (its CPU twins dominate), all side by side;
#   3. at the same time, compute-sanitizer memcheck and racecheck (as gpu_attention.sh and
#      gpu_forward.sh run them) on the quick grids (SIGMAOPS_TEST_QUICK=1) of test_gpu_ops,
#      test_gpu_attention and test_gpu_causal_attention.
# No benchmark runs here (the lead adds bench_forward's before/after comparison).
# Results in $OUT (4 files): summary.json (build, each test's and sanitizer run's exit status
# and Catch2 totals, test_gpu_ops's largest errors), summary.txt (the same as text), logs.tgz
# (every log) and build_tail.txt. Each step's time limit shrinks so the whole stays under
# DEADLINE seconds (default 530).
# Run from the repository root on the GPU machine; carry .devcarry:
#   bash tools/bench/make_devcarry.sh          (here, once)
#   device run: command "bash tools/bench/gpu_check15.sh", carry [".devcarry"], timeout_s 600
set -u -o pipefail
OUT=${OUT:-$PWD/out}
R=/tmp/check15
rm -rf "$R"
mkdir -p "$R/logs" "$OUT"
T0=$(date +%s)
DEADLINE=${DEADLINE:-530}
JOBS=${JOBS:-16}
B=build/gpu
TESTS="test_gpu_ops test_gpu_attention test_gpu_attention_plan test_gpu_causal_attention test_gpu_sampling test_gpu_forward test_gpu_batch"
SAN_TESTS="test_gpu_ops test_gpu_attention test_gpu_causal_attention"
BENCHES="bench_forward bench_attention bench_causal_attention"  # built (they must compile), not run
log() { echo "== $* at +$(( $(date +%s) - T0 )) s" | tee -a "$R/summary.txt"; }
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
# A step's time limit: its default, or what is left before the deadline less a margin.
limit() { local l=$(( $(left) - ${2:-25} )); [ "$l" -lt "$1" ] && echo $(( l > 10 ? l : 10 )) || echo "$1"; }

summarize() {
  python3 - "$R" "$OUT" <<'PY'
import json, os, re, sys
R, OUT = sys.argv[1], sys.argv[2]
def read(p):
    try:
        return open(p, errors="replace").read()
    except OSError:
        return ""
res = {"commit": read(f"{R}/commit.txt").strip(), "gpu": read(f"{R}/gpu.txt").strip(),
       "build": json.loads(read(f"{R}/build.json") or "{}"), "tests": {}, "sanitizers": {}}
for name in sorted(os.listdir(f"{R}/logs")):
    if not name.endswith(".rc"):
        continue
    key = name[:-3]
    rc = read(f"{R}/logs/{name}").strip()
    text = read(f"{R}/logs/{key}.log")
    entry = {"rc": int(rc) if rc.lstrip("-").isdigit() else rc}
    m = re.findall(r"^(All tests passed.*|test cases:.*)$", text, re.M)
    if m: entry["catch2"] = m[-1].strip()
    if "skipped: " in text: entry["skipped_lines"] = text.count("skipped: ")
    failed = re.findall(r"^.*(?:FAILED|failed).*$", text, re.M)
    if failed: entry["first_failures"] = failed[:5]
    if key.startswith("san_"):
        s = re.findall(r"(?:ERROR|RACECHECK) SUMMARY: .*", text)
        if s: entry["summary"] = s[-1]
        res["sanitizers"][key[4:]] = entry
    else:
        errs = re.findall(r"^(gemv.*|rmsnorm:.*|rope \+ KV store:.*|silu_mul:.*|embed:.*|convert, dequant_rows:.*|add, seq_lens, argmax:.*)$", text, re.M)
        if errs: entry["max_errors"] = errs
        res["tests"][key] = entry
ok = res["build"].get("ok", False) and all(e["rc"] == 0 for e in res["tests"].values()) \
     and all(e["rc"] == 0 for e in res["sanitizers"].values()) and len(res["tests"]) > 0
res["all_ok"] = ok
# A GPU test that printed "skipped: " saw no GPU (or lacked optional data): listed, not hidden.
res["tests_with_skips"] = sorted(k for k, e in res["tests"].items() if e.get("skipped_lines"))
json.dump(res, open(f"{OUT}/summary.json", "w"), indent=1)
print(json.dumps(res, indent=1))
PY
}
pack() {
  summarize > "$R/summary_json.txt" 2>&1
  cp "$R/summary.txt" "$OUT/summary.txt" 2>/dev/null
  tail -60 "$R/build.log" > "$OUT/build_tail.txt" 2>/dev/null
  tar czf "$OUT/logs.tgz" -C /tmp check15 2>/dev/null
}

git log --oneline -1 > "$R/commit.txt" 2>&1 || echo "(no git)" > "$R/commit.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$R/gpu.txt" 2>&1
log "GPU: $(cat "$R/gpu.txt"); commit $(cat "$R/commit.txt")"

# ---- 1. build ----------------------------------------------------------------------------
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
DC=$PWD/.devcarry/root
CMAKE_ARGS=(-S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIGMAOPS_CUDA_ARCH=90 -DSIGMAOPS_UI=OFF
            -DCMAKE_CUDA_COMPILER="$NVCC")
if [ -d "$DC/usr" ]; then
  # The packages as installed on Debian 12 (.devcarry/root/usr): CMake package files found
  # through the prefix, pkg-config files read with their paths moved under it.
  export PKG_CONFIG_LIBDIR="$DC/usr/lib/x86_64-linux-gnu/pkgconfig:$DC/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$DC"
  export LD_LIBRARY_PATH="$DC/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  PKGCONF=$(command -v pkg-config || echo "$DC/usr/bin/pkgconf")
  CMAKE_ARGS+=(-DCMAKE_PREFIX_PATH="$DC/usr;$DC/usr/lib/x86_64-linux-gnu/cmake" -DPKG_CONFIG_EXECUTABLE="$PKGCONF")
else
  log "no .devcarry/root: run tools/bench/make_devcarry.sh here and carry .devcarry"
fi
log "configure (CMake)"
BUILD_MODE=none
if cmake "${CMAKE_ARGS[@]}" > "$R/build.log" 2>&1; then
  log "build: ${TESTS} ${BENCHES} (-j$JOBS)"
  if timeout "$(limit 330 200)" cmake --build "$B" -j "$JOBS" --target $TESTS $BENCHES >> "$R/build.log" 2>&1; then
    BUILD_MODE=cmake
  else
    # Whatever built is still tested (a bench that fails to compile must not hide the tests).
    BUILD_MODE=cmake-partial
  fi
  BIN=$B/tests
else
  log "CMake configure failed (build.log); the direct build of tools/bench/gpu_forward.sh instead"
  OUT=$R/fwd STEPS=build GPU_TESTS="$TESTS" timeout "$(limit 330 200)" bash tools/bench/gpu_forward.sh >> "$R/build.log" 2>&1
  cat "$R/fwd/build.log" >> "$R/build.log" 2>/dev/null
  BUILD_MODE=direct
  BIN=build/gpu-fwd
fi
BUILT=""
for t in $TESTS; do [ -x "$BIN/$t" ] && BUILT="$BUILT $t"; done
BUILD_OK=false
[ "$(echo $BUILT | wc -w)" = "$(echo $TESTS | wc -w)" ] && [ "$BUILD_MODE" != cmake-partial ] && BUILD_OK=true
echo "{\"ok\": $BUILD_OK, \"mode\": \"$BUILD_MODE\", \"seconds\": $(( $(date +%s) - T0 )), \"tests_built\": \"${BUILT# }\"}" > "$R/build.json"
log "build $BUILD_MODE, tests built:${BUILT:- none}"
grep -E "error|FAILED" "$R/build.log" | head -20 | tee -a "$R/summary.txt"
pack

# ---- 2. + 3. tests and sanitizers, side by side -----------------------------------------
TL=$(limit 300)
run() {  # name, command...: log, exit status
  local name=$1; shift
  ( timeout "$TL" "$@" > "$R/logs/$name.log" 2>&1; echo $? > "$R/logs/$name.rc" ) &
}
log "tests and sanitizers (limit $TL s each)"
for t in $BUILT; do
  if [ "$t" = test_gpu_attention ]; then
    i=0
    while IFS= read -r name; do
      [ -n "$name" ] || continue
      i=$((i + 1))
      run "test_gpu_attention.$i" "$BIN/$t" "${name//,/\\,}"   # Catch2 splits a spec at commas
    done < <("$BIN/$t" --list-test-names-only | sed 's/^ *//')
  else
    run "$t" "$BIN/$t"
  fi
done
for t in $SAN_TESTS; do
  [ -x "$BIN/$t" ] || continue
  for tool in memcheck racecheck; do
    run "san_${tool}_$t" env SIGMAOPS_TEST_QUICK=1 compute-sanitizer --tool "$tool" --error-exitcode 3 "$BIN/$t"
  done
done
wait
for f in "$R"/logs/*.rc; do
  n=$(basename "$f" .rc)
  echo "rc=$(cat "$f") $n $(grep -hE '^All tests passed|^test cases:|(ERROR|RACECHECK) SUMMARY' "$R/logs/$n.log" | tail -1)" | tee -a "$R/summary.txt"
done
grep -hE "^(gemv|rmsnorm|rope \+ KV store|silu_mul|embed|convert, dequant_rows|add, seq_lens, argmax):" "$R"/logs/test_gpu_ops.log 2>/dev/null | tee -a "$R/summary.txt"
log "done"
pack
grep -E '"all_ok"' "$OUT/summary.json"
