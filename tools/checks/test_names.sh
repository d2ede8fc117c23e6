#!/usr/bin/env bash
# Catch2 test names must survive catch_discover_tests: CTest splits a discovered name at ';'
# (both halves then run as "No test cases matched"), so no TEST_CASE name may hold one.
#   bash tools/checks/test_names.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
hits=$(grep -rnE 'TEST_CASE\s*\(\s*"[^"]*;' "$root/tests" --include='*.cpp' || true)
if [[ -n "$hits" ]]; then
  echo "test names: a ';' in a TEST_CASE name splits it into two CTest tests that match nothing:"
  echo "$hits"
  exit 1
fi
echo "test names: ok"
