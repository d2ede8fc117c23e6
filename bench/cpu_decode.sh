#!/usr/bin/env bash
# CPU decode benchmark for the issue's reference point: a ~100M-parameter Sigma model in Q8_0
# (random weights; speed does not depend on their values), decode tokens/s and effective memory
# bandwidth against a STREAM-style copy measured in the same run (`sigmaops bench`).
#   bash bench/cpu_decode.sh [BUILD_DIR]      (default build/release)
# On a 2-core VM any other runnable process (a compiler, an indexer) preempts one of the two
# decode threads for a whole time slice and the other then waits at the next barrier, so as
# root the run uses SCHED_FIFO (chrt -f 10): the copy bandwidth and the decode are measured
# under the same policy. SIGMA_BENCH_RT=0 runs at normal priority.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/release}
M=${TMPDIR:-/tmp}/sigma-100m-q8_0.gguf
[[ -f "$M" ]] || "$B/tools/sigmaops-mkmodel" --out "$M" --spm tests/fixtures/tokenizer/spm.model \
  --layers 12 --d-model 768 --d-ff 2048 --heads 12/2/6 --head-dim 64 --type Q8_0 --ctx 4096 --seed 1 \
  --name sigma-100m-random
"$B/app/sigmaops" model info "$M" | grep -E "parameters|weights|KV per token|heads"
echo "uptime: $(uptime)"
RT=()
if [[ ${SIGMA_BENCH_RT:-1} != 0 && $(id -u) == 0 ]] && command -v chrt >/dev/null; then
  RT=(chrt -f 10)
  echo "scheduling: SCHED_FIFO 10 (chrt); SIGMA_BENCH_RT=0 for normal priority"
else
  echo "scheduling: normal priority"
fi
"${RT[@]}" "$B/app/sigmaops" bench -m "$M" --prompt-tokens 128 -n 64 --reps 7 --json
