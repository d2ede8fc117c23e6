#!/usr/bin/env bash
# Train the SentencePiece tokenizer on the TRAIN split (pretrain + rendered SFT chats) written by
# pack.py to .data/work/spm_input.txt, then check it (round trip on held-out text, bytes/token)
# and record the settings in .data/pack/MANIFEST.json. Needs Debian's sentencepiece 0.1.97.
# Usage: bash tools/data/train_tokenizer.sh     (after build_corpus.sh)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
IN="$ROOT/.data/work/spm_input.txt"
OUT="$ROOT/.data/pack/tokenizer"
[ -s "$IN" ] || { echo "run tools/data/build_corpus.sh first ($IN missing)" >&2; exit 1; }
VOCAB="${VOCAB:-16000}"
# Flags must match what engine/src/tokenizer/tokenizer_spm.cpp rebuilds from GGUF pieces:
# BPE, identity normalizer, dummy prefix, whitespace runs kept, byte fallback. Llama ids: unk 0, bos 1, eos 2.
FLAGS=(
  --input="$IN" --model_prefix="$OUT"
  --model_type=bpe --vocab_size="$VOCAB"
  --byte_fallback=true --normalization_rule_name=identity
  --remove_extra_whitespaces=false --add_dummy_prefix=true
  --allow_whitespace_only_pieces=true --split_digits=true
  --character_coverage=0.9995 --max_sentencepiece_length=16 --max_sentence_length=8192
  "--user_defined_symbols=<|system|>,<|user|>,<|assistant|>,<|end|>"
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1
  --unk_piece="<unk>" --bos_piece="<s>" --eos_piece="</s>"
  --input_sentence_size=1500000 --shuffle_input_sentence=true
  --seed_sentencepiece_size=1000000 --random_seed=20261125
  --num_threads=2
)
printf '%s\n' "${FLAGS[@]}" > "$ROOT/.data/work/spm_flags.txt"
t0=$(date +%s)
nice -n "${NICE:-19}" spm_train "${FLAGS[@]}" > "$ROOT/.data/work/spm_train.log" 2>&1
echo "spm_train: $(( $(date +%s) - t0 )) s" >&2
nice -n "${NICE:-19}" /usr/bin/python3 "$HERE/check_tokenizer.py" "$(( $(date +%s) - t0 ))"
