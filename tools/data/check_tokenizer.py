#!/usr/bin/env python3
"""Check .data/pack/tokenizer.model and record it in MANIFEST.json.

* special ids (unk 0, bos 1, eos 2, chat tokens as single pieces),
* round trip decode(encode(s)) == s on held-out texts (pretrain documents and rendered SFT chats;
  all of them, or a fixed-seed sample of 3000 when there are more) -- failures are listed,
* bytes/token on train (sample) and held-out text; token estimates for the whole pack.
"""
import json, lzma, os, random, sys
sys.path.insert(0, os.path.dirname(__file__))
import sentencepiece as spm
from common import PACK, DATA, SEED, render_chat


def read(name):
    with lzma.open(os.path.join(PACK, name), "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def main():
    sp = spm.SentencePieceProcessor(model_file=os.path.join(PACK, "tokenizer.model"))
    specials = {p: sp.piece_to_id(p) for p in ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]}
    assert specials["<unk>"] == 0 and specials["<s>"] == 1 and specials["</s>"] == 2, specials
    probe = "<|user|>\nrestart nginx<|end|>\n<|assistant|>\n"
    probe_pieces = sp.encode(probe, out_type=str)
    rng = random.Random(SEED)
    texts = {}
    for split in ("train", "heldout"):
        pre = read(f"pretrain_{split}.jsonl.xz")
        sft = read(f"sft_{split}.jsonl.xz")
        t = [("pretrain", r["id"], r["text"]) for r in pre] + [("sft", r["id"], render_chat(r["messages"])) for r in sft]
        texts[split] = t
    res = {}
    failures = []
    for split, limit in (("heldout", 3000), ("train", 3000)):
        t = texts[split]
        sample = t if len(t) <= limit else rng.sample(t, limit)
        nb = nt = 0
        by = {}
        for kind, rid, s in sample:
            ids = sp.encode(s)
            nb += len(s.encode("utf-8"))
            nt += len(ids)
            b = by.setdefault(kind, [0, 0])
            b[0] += len(s.encode("utf-8"))
            b[1] += len(ids)
            if split == "heldout" and sp.decode(ids) != s:
                failures.append(rid)
        res[split] = {"sampled_texts": len(sample), "bytes_per_token": round(nb / nt, 3),
                      "bytes_per_token_by_kind": {k: round(v[0] / v[1], 3) for k, v in by.items()}}
    total_bytes = {s: sum(len(x[2].encode("utf-8")) for x in texts[s] if x[0] == k) for s in texts for k in ("pretrain",)}
    est = {}
    for split in texts:
        for kind in ("pretrain", "sft"):
            nbytes = sum(len(x[2].encode("utf-8")) for x in texts[split] if x[0] == kind)
            bpt = res["train"]["bytes_per_token_by_kind"].get(kind) or res["train"]["bytes_per_token"]
            est[f"{kind}_{split}"] = {"bytes": nbytes, "est_tokens": int(nbytes / bpt)}
    info = {
        "file": "tokenizer.model", "vocab_size": sp.get_piece_size(), "special_ids": specials,
        "probe": {"text": probe, "pieces": probe_pieces},
        "round_trip_heldout": {"checked": res["heldout"]["sampled_texts"], "failures": len(failures), "failed_ids": failures[:50]},
        "bytes_per_token": {"train_sample": res["train"], "heldout": res["heldout"]},
        "token_estimates": est,
        "spm_train_flags": [l.strip() for l in open(os.path.join(DATA, "work", "spm_flags.txt")) if l.strip() and not l.startswith("--input=") and not l.startswith("--model_prefix=")],
        "spm_version": "sentencepiece 0.1.97 (Debian bookworm, /usr/bin/spm_train)",
        "train_seconds": int(sys.argv[1]) if len(sys.argv) > 1 else None,
    }
    mp = os.path.join(PACK, "MANIFEST.json")
    m = json.load(open(mp))
    m["tokenizer"] = info
    for f in ("tokenizer.model", "tokenizer.vocab"):
        m["files"][f] = {"bytes": os.path.getsize(os.path.join(PACK, f))}
    m["pack_total_bytes"] = sum(os.path.getsize(os.path.join(PACK, f)) for f in os.listdir(PACK))
    with open(mp + ".tmp", "w") as fo:
        json.dump(m, fo, indent=1, ensure_ascii=False)
    os.replace(mp + ".tmp", mp)
    print(json.dumps({k: info[k] for k in ("vocab_size", "special_ids", "probe", "round_trip_heldout", "bytes_per_token", "token_estimates")}, indent=1))
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
