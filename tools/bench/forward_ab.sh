#!/usr/bin/env bash
# End-to-end decode/prefill speed of this tree against an earlier one, on the GPU machine, in
# one call: both bench_forward binaries are built side by side (CMake, CUDA arch 90, half the
# cores each), then run alternately (base, new, base, new, ... ROUNDS times) so that a drifting
# GPU clock or a warm-up effect falls on both. Use it for "speed unchanged" claims.
#   here:   git archive --format=tar.gz -o .wt/base.tar.gz REV -- . ':!resources/models' ':!tests/fixtures'
#           bash tools/bench/make_devcarry.sh
#   device: command "bash tools/bench/forward_ab.sh .wt/base.tar.gz", carry [".devcarry", ".wt/base.tar.gz"]
# Environment: ARGS (bench_forward's arguments, default: all contexts, F16 and Q8_0), ROUNDS
# (default 2), DEADLINE (seconds for the whole script, default 540), JOBS (build jobs per tree,
# default 8); BUILD_ONLY=1 stops after the builds; NEW_BENCH=PATH uses that bench_forward for
# this tree instead of building it; SKIP_BUILD=1 reuses the base build of an earlier run.
# Results in $OUT: base_N.jsonl / new_N.jsonl (bench_forward's rows) and ab.txt (the GPU, then
# the rows side by side: decode tokens/s and prefill tokens/s, new/base); a failed build's tail.
set -u -o pipefail
BASE_TAR=${1:?usage: forward_ab.sh BASE.tar.gz}
OUT=${OUT:-$PWD/out}
ARGS=${ARGS:-}
ROUNDS=${ROUNDS:-2}
DEADLINE=${DEADLINE:-540}
T0=$(date +%s)
mkdir -p "$OUT"
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
W=/tmp/forward_ab
JOBS=${JOBS:-8}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  rm -rf "$W" && mkdir -p "$W/base"
  tar xzf "$BASE_TAR" -C "$W/base"
fi

NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
DC=$PWD/.devcarry/root
ARGS_CMAKE=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DSIGMAOPS_CUDA_ARCH=90 -DSIGMAOPS_UI=OFF -DSIGMAOPS_TESTS=OFF
             -DCMAKE_CUDA_COMPILER="$NVCC")
if [ -d "$DC/usr" ]; then
  export PKG_CONFIG_LIBDIR="$DC/usr/lib/x86_64-linux-gnu/pkgconfig:$DC/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$DC"
  export LD_LIBRARY_PATH="$DC/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  ARGS_CMAKE+=(-DCMAKE_PREFIX_PATH="$DC/usr;$DC/usr/lib/x86_64-linux-gnu/cmake"
               -DPKG_CONFIG_EXECUTABLE="$(command -v pkg-config || echo "$DC/usr/bin/pkgconf")")
fi
build() {  # name, source dir
  cmake -S "$2" -B "$W/build-$1" "${ARGS_CMAKE[@]}" > "$W/build-$1.log" 2>&1 &&
    timeout "$(( $(left) - 120 ))" cmake --build "$W/build-$1" -j "$JOBS" --target bench_forward >> "$W/build-$1.log" 2>&1
  echo $? > "$W/build-$1.rc"
}
echo "== build at +$(( $(date +%s) - T0 )) s"
TREES="base"
[ -n "${NEW_BENCH:-}" ] || TREES="base new"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  for n in $TREES; do
    if [ $n = base ]; then build base "$W/base" & else build new "$PWD" & fi
  done
  wait
fi
for n in $TREES; do
  [ "$(cat "$W/build-$n.rc" 2>/dev/null)" = 0 ] || { echo "build $n failed"; tail -30 "$W/build-$n.log" | tee "$OUT/build_$n.txt"; exit 1; }
done
[ "${BUILD_ONLY:-0}" = 1 ] && { echo "== builds done at +$(( $(date +%s) - T0 )) s"; exit 0; }
BIN_base=$W/build-base/bench/bench_forward
BIN_new=${NEW_BENCH:-$W/build-new/bench/bench_forward}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$W/gpu.txt"
echo "== built at +$(( $(date +%s) - T0 )) s; bench_forward $ARGS, $ROUNDS rounds"
for r in $(seq 1 "$ROUNDS"); do
  for n in base new; do
    [ "$(left)" -gt 30 ] || { echo "deadline: stopping before $n round $r"; break 2; }
    bin=BIN_$n
    timeout "$(( $(left) - 10 ))" "${!bin}" $ARGS > "$OUT/${n}_$r.jsonl" 2> "$W/${n}_$r.err"
    echo "$n round $r: rc=$? at +$(( $(date +%s) - T0 )) s, $(wc -l < "$OUT/${n}_$r.jsonl") rows"
  done
done
{ echo "GPU: $(cat "$W/gpu.txt"); bench_forward $ARGS"; python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
def rows(kind):
    acc = {}
    for path in sorted(glob.glob(f"{out}/{kind}_*.jsonl")):
        for line in open(path):
            line = line.strip()
            if not line.startswith("{"): continue
            r = json.loads(line)
            metric = next((k for k in ("tokens_per_s", "prefill_tokens_per_s") if k in r), None)
            if metric is None: continue
            key = tuple((k, r[k]) for k in sorted(r) if isinstance(r[k], (str, int)) and not isinstance(r[k], bool)
                        and k not in ("steps", "seconds", "tokens_per_s", "prefill_tokens_per_s") and not k.endswith(("_tps", "_gbps", "_us", "_ms", "_pct")))
            acc.setdefault(key, {}).setdefault(metric, []).append(r[metric])
    return acc
base, new = rows("base"), rows("new")
print(f"{'row':90s} {'metric':12s} {'base':>10s} {'new':>10s} {'new/base':>8s}")
ratios = []
for key in base:
    if key not in new: continue
    for metric, vb in base[key].items():
        vn = new[key].get(metric)
        if not vn: continue
        b, n = statistics.median(vb), statistics.median(vn)
        ratios.append(n / b if b else 0)
        label = " ".join(f"{k}={v}" for k, v in key)[:90]
        print(f"{label:90s} {metric:12s} {b:10.1f} {n:10.1f} {n / b if b else 0:8.3f}")
if ratios:
    print(f"rows {len(ratios)}, new/base: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}")
PY
} | tee "$OUT/ab.txt"
