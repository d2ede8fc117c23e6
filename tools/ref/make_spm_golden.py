#!/usr/bin/python3
"""Golden ids for tests/tokenizer/test_tokenizer_spm.cpp, made by the reference SentencePiece library.

Run with Debian's python3 (python3-sentencepiece 0.1.97), from the repository root:
    /usr/bin/python3 tools/ref/make_spm_golden.py
Reads tests/fixtures/tokenizer/spm.model and texts.json, writes spm_golden.json.

spm.model was trained on tldr pages (English) with:
    spm_train --input=corpus.txt --model_prefix=spm --vocab_size=2000 --model_type=bpe
      --byte_fallback=true --normalization_rule_name=identity --remove_extra_whitespaces=false
      --add_dummy_prefix=true --split_digits=true --allow_whitespace_only_pieces=true
      --character_coverage=0.9995 --input_sentence_size=0 --shuffle_input_sentence=false
      --num_threads=1 --control_symbols="<|system|>,<|user|>,<|assistant|>,<|end|>"
      --user_defined_symbols="<tool>" --max_sentence_length=16384
(corpus.txt: the non-empty lines of the first 4 MB of the sorted pages/*/*.md files.)
Identity normalization and no whitespace folding, as Llama's tokenizer.model: then a GGUF
vocabulary (pieces, scores, types) describes the model completely.

parse_special=True cases follow llama.cpp: control-token texts are cut out of the text first, each
remaining fragment is encoded on its own (so it gets the dummy-prefix space).
"""
import json
import os
import sentencepiece as spm

FIX = "tests/fixtures/tokenizer"
sp = spm.SentencePieceProcessor(model_file=os.path.join(FIX, "spm.model"))
texts = json.load(open(os.path.join(FIX, "texts.json"), encoding="utf-8"))["texts"]
specials = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i)
            and sp.id_to_piece(i) not in ("<s>", "</s>")]
specials.sort(key=len, reverse=True)


def encode_special(text):
    """Longest-first split on control-token texts; plain fragments encoded separately."""
    ids, frag, i = [], "", 0
    while i < len(text):
        hit = next((s for s in specials if text.startswith(s, i)), None)
        if hit is None:
            frag += text[i]
            i += 1
            continue
        if frag:
            ids += sp.encode(frag)
            frag = ""
        ids.append(sp.piece_to_id(hit))
        i += len(hit)
    if frag:
        ids += sp.encode(frag)
    return ids


cases = []
for t in texts:
    cases.append({"text": t, "parse_special": False, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))})
    if any(s in t for s in specials):
        cases.append({"text": t, "parse_special": True, "ids": encode_special(t)})
out = {"generator": "tools/ref/make_spm_golden.py, sentencepiece " + spm.__version__,
       "bos": sp.bos_id(), "eos": sp.eos_id(), "cases": cases}
with open(os.path.join(FIX, "spm_golden.json"), "w", encoding="utf-8") as f:
    # One case per line keeps diffs readable.
    head = {k: v for k, v in out.items() if k != "cases"}
    f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
    f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
print(len(cases), "cases")
