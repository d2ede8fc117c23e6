"""Pack (.data/pack/*.jsonl.xz) -> token arrays, tokenized in parallel with SentencePiece.

Formats (match the engine, see README):
  pretrain document: [BOS] + sp.encode(text) + [EOS]
  chat example:      [BOS] + sp.encode(render(messages))  with
                     render = concat("<|role|>\n" + content + "<|end|>\n"), the engine's "sigma"
                     chat format (engine/src/tokenizer/chat_template.cpp); the engine prompt is
                     BOS + encode("...<|assistant|>\n") (engine.cpp adds BOS, SentencePiece
                     matches the user-defined <|...|> pieces itself).
  loss mask (SFT):   1 on the tokens of every assistant turn's content and its closing <|end|>,
                     0 elsewhere (system/user turns, the role markers, the "\n" after them).

prepare() writes <cache>/NAME.npz with "ids" (uint16/int32 stream), "mask" (uint8, SFT) and
"src" (uint8 per token, index into "src_names") so ablation and main runs share the work.
"""

import hashlib
import json
import lzma
import multiprocessing as mp
import os
import time

import numpy as np

ROLES = ("system", "user", "assistant")
_sp = None


def render(messages):
    return "".join("<|%s|>\n%s<|end|>\n" % (m["role"], m["content"]) for m in messages)


def _init(spm_path):
    global _sp
    import sentencepiece as spm
    _sp = spm.SentencePieceProcessor(model_file=spm_path)


def _special_ids(sp):
    return {r: sp.piece_to_id("<|%s|>" % r) for r in ROLES + ("end",)}


def encode_chat(sp, messages, ids_special=None):
    """-> (ids, mask) for a whole conversation, BOS first."""
    sid = ids_special or _special_ids(sp)
    ids = [sp.bos_id()] + sp.encode(render(messages))
    mask = np.zeros(len(ids), np.uint8)
    in_asst, skip_nl = False, False
    nl = set(sp.encode("\n")) | {sp.piece_to_id("<0x0A>")}
    for i, t in enumerate(ids):
        if t == sid["assistant"]:
            in_asst, skip_nl = True, True
            continue
        if in_asst:
            if skip_nl and t in nl:      # the "\n" after <|assistant|> belongs to the prompt
                skip_nl = False
                continue
            skip_nl = False
            mask[i] = 1
            if t == sid["end"]:
                in_asst = False
    return ids, mask


def _enc_pretrain(line):
    r = json.loads(line)
    return r.get("src", ""), np.array([_sp.bos_id()] + _sp.encode(r["text"]) + [_sp.eos_id()], np.int32)


def _enc_sft(line):
    r = json.loads(line)
    ids, mask = encode_chat(_sp, r["messages"])
    return r.get("task", ""), np.array(ids, np.int32), mask


def read_lines(path, limit=None):
    with lzma.open(path, "rt", encoding="utf-8") as f:
        out = []
        for line in f:
            if line.strip():
                out.append(line)
                if limit and len(out) >= limit:
                    break
        return out


def _digest(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def prepare(pack, spm_path, cache, names=("pretrain_train", "pretrain_heldout", "sft_train", "sft_heldout"),
            nproc=None, limit=None, log=print):
    # The cache lives in a subfolder named by the tokenizer's and the pack files' contents: a
    # cache left by an earlier pack or tokenizer (same machine, /tmp kept) is never reused. That
    # happened once: a retrained tokenizer met ids cached under the previous one, and the
    # model shipped with a vocabulary it was not trained on.
    cache = os.path.join(cache, _digest([spm_path] + [os.path.join(pack, n + ".jsonl.xz") for n in names]
                                        ) + ("-limit%d" % limit if limit else ""))
    os.makedirs(cache, exist_ok=True)
    log("token cache %s" % cache)
    nproc = nproc or os.cpu_count()
    out = {}
    with mp.get_context("fork").Pool(nproc, initializer=_init, initargs=(spm_path,)) as pool:
        for name in names:
            dst = os.path.join(cache, name + ".npz")
            if os.path.exists(dst):
                out[name] = dst
                continue
            t0 = time.time()
            lines = read_lines(os.path.join(pack, name + ".jsonl.xz"), limit)
            fn = _enc_sft if name.startswith("sft") else _enc_pretrain
            res = pool.map(fn, lines, chunksize=max(1, len(lines) // (nproc * 8)))
            srcs = sorted({r[0] for r in res})
            si = {s: i for i, s in enumerate(srcs)}
            lens = np.array([len(r[1]) for r in res], np.int64)
            ids = np.concatenate([r[1] for r in res]) if res else np.zeros(0, np.int32)
            src = np.repeat(np.array([si[r[0]] for r in res], np.uint8), lens)
            arrays = dict(ids=ids.astype(np.uint16) if ids.max() < 65535 else ids, src=src,
                          src_names=np.array(srcs), doc_len=lens)
            if name.startswith("sft"):
                arrays["mask"] = np.concatenate([r[2] for r in res]) if res else np.zeros(0, np.uint8)
            np.savez(dst, **arrays)
            nbytes = sum(len(l) for l in lines)
            log("tokenized %s: %d records, %.1f MB json -> %d tokens in %.1f s (%d procs)"
                % (name, len(lines), nbytes / 1e6, len(ids), time.time() - t0, nproc))
            out[name] = dst
    return out


def load(path):
    z = np.load(path)
    return {k: z[k] for k in z.files}
