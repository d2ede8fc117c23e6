#!/usr/bin/env bash
# CPU decode benchmark for the issue's reference point: a ~100M-parameter Sigma model in Q8_0
# (random weights; speed does not depend on their values), decode tokens/s and effective memory
# bandwidth against a STREAM-style copy measured in the same run (`sigmaops bench`).
#   bash bench/cpu_decode.sh [BUILD_DIR]      (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/release}
M=${TMPDIR:-/tmp}/sigma-100m-q8_0.gguf
[[ -f "$M" ]] || "$B/tools/sigmaops-mkmodel" --out "$M" --spm tests/fixtures/tokenizer/spm.model \
  --layers 12 --d-model 768 --d-ff 2048 --heads 12/2/6 --head-dim 64 --type Q8_0 --ctx 4096 --seed 1 \
  --name sigma-100m-random
"$B/app/sigmaops" model info "$M" | grep -E "parameters|weights|KV per token|heads"
echo "uptime: $(uptime)"
"$B/app/sigmaops" bench -m "$M" -p 128 -n 64 --reps 7 --json
