#!/usr/bin/env bash
# Issue 15's GPU evidence in ONE device call (<= ~9.5 minutes): the GPU tests and
# compute-sanitizer (gpu_check15.sh), and bench_forward of this tree against the tree before the
# refactor (forward_ab.sh), so that "speed unchanged" is measured on the same card in the same
# lease. The base tree's bench_forward builds in the background while the tests' build runs.
#   here:   git archive --format=tar.gz -o .wt/base.tar.gz abeee71 -- . ':!resources/models' ':!tests/fixtures'
#           bash tools/bench/make_devcarry.sh
#   device: command "bash tools/bench/gpu_issue15.sh", carry [".devcarry", ".wt/base.tar.gz"], timeout_s 600
# Environment: AB_ARGS (bench_forward's arguments for the A/B, default "--types F16"),
# CHECK_DEADLINE (seconds for the tests, default 400), TOTAL (seconds for the whole call, default
# 560), BASE_TAR (default .wt/base.tar.gz).
# Results in $OUT: summary.json, summary.txt, logs.tgz, build_tail.txt (the tests) and ab.txt,
# base_1.jsonl, new_1.jsonl (the A/B).
set -u -o pipefail
OUT=${OUT:-$PWD/out}
T0=$(date +%s)
BASE_TAR=${BASE_TAR:-.wt/base.tar.gz}
mkdir -p "$OUT"
echo "== base build (background) at +0 s"
OUT=/tmp/ab-build BUILD_ONLY=1 NEW_BENCH=none JOBS=6 DEADLINE=420 bash tools/bench/forward_ab.sh "$BASE_TAR" > /tmp/ab-build.log 2>&1 &
AB=$!
DEADLINE=${CHECK_DEADLINE:-400} JOBS=12 bash tools/bench/gpu_check15.sh > /tmp/check15.log 2>&1
echo "== tests done at +$(( $(date +%s) - T0 )) s: $(grep -o '"all_ok": [a-z]*' "$OUT/summary.json" 2>/dev/null)"
wait $AB
cat /tmp/ab-build.log
LEFT=$(( ${TOTAL:-560} - ($(date +%s) - T0) ))
NEW=build/gpu/bench/bench_forward
if [ ! -x "$NEW" ]; then
  echo "no $NEW from the tests' build: no A/B"
  exit 1
fi
echo "== A/B with $LEFT s left"
SKIP_BUILD=1 NEW_BENCH=$NEW ROUNDS=${ROUNDS:-1} DEADLINE=$LEFT ARGS="${AB_ARGS:---types F16}" \
  bash tools/bench/forward_ab.sh "$BASE_TAR"
echo "== done at +$(( $(date +%s) - T0 )) s"
