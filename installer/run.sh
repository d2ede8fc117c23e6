#!/usr/bin/env bash
# Installs what is missing, builds SigmaOps (Release) and starts it on the default model:
# the desktop window when a display is present, else the terminal chat.
#   bash installer/run.sh [ARGS...]   # ARGS go to the app, e.g. -m FILE.gguf
set -euo pipefail
cd "$(dirname "$0")/.."

bash installer/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build/release}
JOBS=${JOBS:-$(nproc)}
cuda_args=()
[[ -x /usr/local/cuda/bin/nvcc ]] && cuda_args=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  mkdir -p "$BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" >"$BUILD_DIR.configure.log" 2>&1 \
    || { cat "$BUILD_DIR.configure.log"; exit 1; }
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target sigmaops sigmaops_dev_model \
  $( [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]] && echo sigmaops-desktop )

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  exec "$BUILD_DIR/app/sigmaops-desktop" "$@"
else
  exec "$BUILD_DIR/app/sigmaops" chat "$@"
fi
