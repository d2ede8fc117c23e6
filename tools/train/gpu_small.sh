#!/bin/bash
# GPU call for sigma-ops-small (issue 21): pretraining then instruction tuning (with 20 % of
# pretraining text mixed in, task weights and an epoch guard from configs/small.json) on
# 4096-token windows, Q8_0 GGUF in 15 MiB parts, eval.json and reference logits, all in $OUT.
# One call, under 9 minutes on one H100. From the repo root:
#   bash tools/train/gpu_small.sh          carry: [".data/pack"]
# Everything gpu_main.sh reads can be overridden (CONFIG, MODEL_JSON, PRETRAIN_STEPS, SFT_STEPS,
# TIME_PRETRAIN, TIME_SFT, TRAIN_END_S, EVAL_ARGS, EXTRA_ARGS, NAME, PACK, PYTHON).
# Budget: ~30 s tokenizing, ~40 s torch.compile, 300 s pretraining, 60 s tuning (training stops
# by 450 s in any case), then export and evaluation (~60 s) -> about 8 minutes.
export CONFIG=${CONFIG:-tools/train/configs/small.json}
export NAME=${NAME:-sigma-ops-small}
export TIME_PRETRAIN=${TIME_PRETRAIN:-300}
export TIME_SFT=${TIME_SFT:-60}
export TRAIN_END_S=${TRAIN_END_S:-450}
export EVAL_ARGS=${EVAL_ARGS:---seq 4096 --n-cmd 500}
exec bash "$(dirname "$0")/gpu_main.sh"
