#!/usr/bin/python3
"""Trains the small byte-level BPE vocabulary used by tests/tokenizer/test_tokenizer_bpe.cpp.

    /usr/bin/python3 tools/ref/train_bpe.py CORPUS [N_MERGES]
writes tests/fixtures/tokenizer/bpe_vocab.json, a GGUF-style vocabulary (the tokenizer.ggml.*
arrays as JSON): tokens in GPT-2 byte-unicode form, token_types, merges in rank order, bos/eos/eot.
Ids 0..255 are the 256 single bytes, then one token per merge, then the special tokens.
The corpus pre-split only approximates the Llama-3 regex (Python's re lacks \\p{L}); that only
shapes which merges are learned, the goldens come from the reference tokenizers.
"""
import collections
import json
import re
import sys


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


SPLIT = re.compile(r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\w]?[^\W\d_]+|\d{1,3}| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|im_start|>", "<|im_end|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]


def train(text, n_merges):
    b2u = bytes_to_unicode()
    counts = collections.Counter(SPLIT.findall(text))
    words = [[b2u[b] for b in w.encode("utf-8")] for w in counts]
    freq = list(counts.values())
    pairs = collections.Counter()
    where = collections.defaultdict(set)  # pair -> indices of words containing it
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += freq[i]
            where[(a, b)].add(i)
    merges = []
    for _ in range(n_merges):
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]  # deterministic tie-break
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(where[best]):
            w = words[i]
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] -= freq[i]
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
                where[(a, b)].discard(i)
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += freq[i]
                where[(a, b)].add(i)
    tokens = [b2u[b] for b in range(256)]
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    types = [1] * len(tokens)
    first_special = len(tokens)
    tokens += SPECIALS
    types += [3] * len(SPECIALS)
    return {"model": "gpt2", "pre": "llama-bpe", "tokens": tokens, "token_types": types,
            "merges": [a + " " + b for a, b in merges],
            "bos": first_special, "eos": first_special + 1, "eot": first_special + 2}


if __name__ == "__main__":
    text = open(sys.argv[1], encoding="utf-8").read()
    vocab = train(text, int(sys.argv[2]) if len(sys.argv) > 2 else 3000)
    with open("tests/fixtures/tokenizer/bpe_vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    print(len(vocab["tokens"]), "tokens,", len(vocab["merges"]), "merges")
