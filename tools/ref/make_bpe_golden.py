#!/usr/bin/env python3
"""Golden ids for tests/tokenizer/test_tokenizer_bpe.cpp made by HF `tokenizers` (the Rust original).

Same cases as tools/ref/make_bpe_golden.mjs (tokenizers.js); run where `pip install tokenizers`
works, from the repository root:
    python3 tools/ref/make_bpe_golden.py [--out tests/fixtures/tokenizer/bpe_golden_hf.json]
then compare with bpe_golden.json (`cmp` after both are written one case per line), or point
the test at it: the C++ test reads every tests/fixtures/tokenizer/bpe_golden*.json present.
"""
import argparse
import json

FIX = "tests/fixtures/tokenizer"
SPLIT_REGEX = {
    "llama-bpe": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}


def tokenizer_json(vocab, pre, with_specials):
    """The HF tokenizer.json for the GGUF-style vocabulary (mirrors bpe_tokenizer_json.mjs)."""
    ids = {t: i for i, t in enumerate(vocab["tokens"])}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i, t in enumerate(vocab["tokens"]) if vocab["token_types"][i] == 3 and with_specials]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_REGEX[pre]}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": pre == "llama-bpe", "vocab": ids, "merges": vocab["merges"]},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=f"{FIX}/bpe_golden_hf.json")
    args = ap.parse_args()
    import tokenizers
    from tokenizers import Tokenizer
    vocab = json.load(open(f"{FIX}/bpe_vocab.json", encoding="utf-8"))
    texts = json.load(open(f"{FIX}/texts.json", encoding="utf-8"))["texts"]
    specials = [t for i, t in enumerate(vocab["tokens"]) if vocab["token_types"][i] == 3]
    cases = []
    for pre in ("llama-bpe", "qwen2"):
        for with_specials in (False, True):
            tok = Tokenizer.from_str(json.dumps(tokenizer_json(vocab, pre, with_specials)))
            for text in texts:
                if with_specials and not any(s in text for s in specials):
                    continue
                ids = tok.encode(text, add_special_tokens=False).ids
                cases.append({"pre": pre, "text": text, "parse_special": with_specials, "ids": ids})
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps({"generator": f"tools/ref/make_bpe_golden.py, tokenizers {tokenizers.__version__}"},
                           ensure_ascii=False, separators=(",", ":"))[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases) + "\n]}\n")
    print(len(cases), "cases ->", args.out)


if __name__ == "__main__":
    main()
