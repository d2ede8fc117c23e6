#!/usr/bin/env bash
# Installs what is missing, builds SigmaOps (Release, with tests) and runs the whole test suite
# through CTest. This is the README's test command and what CI runs (.ci/run).
#   bash installer/test.sh            # from the repository root, as root on Debian 12
# Environment: BUILD_DIR (default build/release), JOBS (default 2), CTEST_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash installer/install-deps.sh --test

BUILD_DIR=${BUILD_DIR:-build/release}
JOBS=${JOBS:-2}
cuda_args=()
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  # One architecture (sm_90, Hopper) keeps CI's CUDA compile short; GPU tests skip without a GPU.
  cuda_args=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DSIGMAOPS_CUDA_ARCH=90)
fi
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" >"$BUILD_DIR.configure.log" 2>&1 \
  || { cat "$BUILD_DIR.configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "$JOBS"

cd "$BUILD_DIR"
ctest --output-on-failure -j "${CTEST_JOBS:-2}" --timeout 600
echo "test.sh: finished in $(( $(date +%s) - start )) s"
