"""Evaluate a Sigma GGUF (the shipped, dequantized weights) in PyTorch.

  python3 tools/train/eval.py --gguf model.gguf --pack PACK --cache TOKCACHE --out eval.json
      [--ckpt model.pt] [--n-cmd 500] [--ppl-tokens 1000000] [--selv-tokens 262144]

Reports (JSON):
  heldout_ppl: per-token perplexity on pretrain_heldout (system text), overall and per src,
               in windows of `seq` tokens (BOS/EOS included as in training).
  sft_heldout_loss: mean NLL on assistant tokens of sft_heldout.
  cmd: on held-out task "cmd" examples, greedy decode of the assistant reply (prompt = BOS +
       render(system, user) + "<|assistant|>\n", stop at <|end|>/EOS, at most 128 tokens);
       exact_match = command from the ```sh block (or the whole reply) equals the reference
       "command" after collapsing whitespace; first_token_acc = first generated token equals
       the reference reply's first token; command_first_token_acc = first token of the
       generated command equals the first token of the reference command (both tokenized in
       the reply); program_acc = first word of the command equals the reference's.
  selective_v: held-out ppl with selective V at k = 32, 64, 100 (top-k probabilities per query
       head, no renormalization, as the engine) vs full attention on the same windows.
  ref_logits: with --logits-out, float32 logits [32][vocab] of 32 held-out positions from the
       GGUF weights (float32, no TF32) and, with --ckpt, from the unquantized checkpoint too.
"""

import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
import data as D  # noqa: E402
import gguf_io as G  # noqa: E402
from model import Sigma, SigmaConfig  # noqa: E402
from train import eval_loss, windows, amp  # noqa: E402

T0 = time.time()


def log(*a):
    print("[eval %6.1fs] " % (time.time() - T0) + " ".join(str(x) for x in a), flush=True)


def config_from_gguf(g):
    m = g.metadata
    p = "sigma."
    return SigmaConfig(
        vocab=g.tensors["token_embd.weight"].ne[1], ctx=int(m[p + "context_length"]),
        d_model=int(m[p + "embedding_length"]), n_layer=int(m[p + "block_count"]),
        d_ff=int(m[p + "feed_forward_length"]), n_q=int(m[p + "attention.head_count"]),
        n_k=int(m[p + "attention.head_count_k"]), n_v=int(m[p + "attention.head_count_v"]),
        d_qk=int(m[p + "attention.key_length"]), d_v=int(m[p + "attention.value_length"]),
        d_aug=int(m.get(p + "attention.augmented_q_length", 0)),
        rope_base=float(m[p + "rope.freq_base"]), eps=float(m[p + "attention.layer_norm_rms_epsilon"]),
        tied="output.weight" not in g.tensors)


def load_gguf_model(path, dtype=torch.float32):
    g = G.read_gguf(path)
    cfg = config_from_gguf(g)
    m = Sigma(cfg)
    m.load_state_dict({k: torch.from_numpy(g.tensor(k).copy()) for k in g.tensors}, strict=True)
    return m.to(dtype), cfg


def extract_command(reply):
    m = re.search(r"```[a-zA-Z]*\n(.*?)(?:\n?```|$)", reply, re.S)
    return (m.group(1) if m else reply).strip()


def fence_len(sp, reply):
    """Tokens of the opening "```sh\n" fence in a reference reply (0 when it has none)."""
    for j in range(1, min(len(reply), 12)):
        t = sp.decode(reply[:j])
        if t.startswith("```") and t.endswith("\n"):
            return j
    return 0


def norm_ws(s):
    return " ".join(s.split())


@torch.no_grad()
def greedy_batch(model, prompts, dev, stop_ids, max_new=128):
    """prompts: list of token lists -> list of generated token lists (greedy, no KV cache;
    right padding is harmless under the causal mask)."""
    B = len(prompts)
    seqs = [list(p) for p in prompts]
    done = [False] * B
    out = [[] for _ in range(B)]
    for _ in range(max_new):
        L = max(len(s) for s in seqs)
        x = torch.zeros(B, L, dtype=torch.long)
        for i, s in enumerate(seqs):
            x[i, :len(s)] = torch.tensor(s)
        with amp(dev):
            h = model.hidden(x.to(dev))
        last = torch.stack([h[i, len(s) - 1] for i, s in enumerate(seqs)])
        nxt = torch.nn.functional.linear(last.float(), model.out_weight().float()).argmax(-1).tolist()
        for i in range(B):
            if done[i]:
                continue
            t = nxt[i]
            if t in stop_ids:
                done[i] = True
                continue
            out[i].append(t)
            seqs[i].append(t)
        if all(done):
            break
    return out


def cmd_eval(model, sp, pack, dev, n_cmd, batch=128, max_new=128, log_examples=8):
    rows = [json.loads(l) for l in D.read_lines(os.path.join(pack, "sft_heldout.jsonl.xz"))]
    rows = [r for r in rows if r.get("task") == "cmd" and "command" in r][:n_cmd]
    if not rows:
        return {"n": 0}
    asst = sp.piece_to_id("<|assistant|>")
    stop = {sp.piece_to_id("<|end|>"), sp.eos_id()}
    prompts, ref_first, ref_cmd_first, refs = [], [], [], []
    for r in rows:
        msgs = r["messages"]
        k = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        prompt = [sp.bos_id()] + sp.encode(D.render(msgs[:k]) + "<|assistant|>\n")
        full, mask = D.encode_chat(sp, msgs[:k + 1])
        full = list(full)
        # reference reply tokens = the last assistant turn's masked span
        first = [i for i in range(len(full)) if mask[i]]
        last_turn_start = max(i for i, t in enumerate(full) if t == asst)
        reply = [full[i] for i in first if i > last_turn_start]
        prompts.append(prompt)
        refs.append((r["command"], reply))
    gens = []
    t0 = time.time()
    for b in range(0, len(prompts), batch):
        gens += greedy_batch(model, prompts[b:b + batch], dev, stop, max_new)
    em = ft = cft = prog = 0
    examples = []
    for (cmd, reply), g in zip(refs, gens):
        text = sp.decode(g)
        got = extract_command(text)
        em += norm_ws(got) == norm_ws(cmd)
        ft += bool(g) and bool(reply) and g[0] == reply[0]
        # first token of the command inside the reply: skip the common fence prefix
        j = fence_len(sp, reply)
        cft += j < len(g) and j < len(reply) and g[:j + 1] == reply[:j + 1]
        prog += bool(got.split()) and bool(cmd.split()) and got.split()[0] == cmd.split()[0]
        if len(examples) < log_examples:
            examples.append(dict(ref=cmd, got=got, reply=text[:300]))
    n = len(rows)
    return dict(n=n, exact_match=em / n, first_token_acc=ft / n, command_first_token_acc=cft / n,
                program_acc=prog / n, seconds=time.time() - t0, examples=examples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--cache", required=True, help="token cache written by train.py (data.prepare)")
    ap.add_argument("--spm", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ckpt", default="")
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--n-cmd", type=int, default=500)
    ap.add_argument("--ppl-tokens", type=int, default=1_000_000)
    ap.add_argument("--selv-tokens", type=int, default=262_144)
    ap.add_argument("--selv", default="32,64,100")
    ap.add_argument("--logits-out", default="", help="prefix for ref logits files (32 held-out positions)")
    a = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=a.spm or os.path.join(a.pack, "tokenizer.model"))
    paths = D.prepare(a.pack, sp_path := (a.spm or os.path.join(a.pack, "tokenizer.model")), a.cache,
                      names=("pretrain_heldout", "sft_heldout"), log=log)
    ho, sho = D.load(paths["pretrain_heldout"]), D.load(paths["sft_heldout"])
    model, cfg = load_gguf_model(a.gguf)
    model = model.to(dev).eval()
    res = dict(gguf=os.path.basename(a.gguf), gguf_bytes=os.path.getsize(a.gguf), config=cfg.to_dict())

    # 32 held-out positions for the engine comparison (float32 weights from the GGUF, no autocast)
    toks = ho["ids"][:32].astype(np.int64)
    res["logit_tokens"] = toks.tolist()
    if a.logits_out:
        with torch.no_grad():
            lq = model(torch.from_numpy(toks)[None].to(dev))[0].float().cpu().numpy()
        lq.astype("<f4").tofile(a.logits_out + "_gguf.f32")
        if a.ckpt:
            ck = torch.load(a.ckpt, map_location="cpu")
            mf = Sigma(SigmaConfig.from_dict(ck["config"]))
            mf.load_state_dict(ck["state_dict"])
            mf = mf.to(dev).eval()
            with torch.no_grad():
                lf = mf(torch.from_numpy(toks)[None].to(dev))[0].float().cpu().numpy()
            lf.astype("<f4").tofile(a.logits_out + "_fp32.f32")
            res["q8_vs_fp32_logits_max_abs"] = float(np.abs(lq - lf).max())
            del mf
        log("ref logits written; Q8_0 vs fp32 weights max |diff| %s" % res.get("q8_vs_fp32_logits_max_abs"))

    # held-out perplexity, overall and per source (bf16 autocast as in training)
    t = time.time()
    l, n = eval_loss(model, ho["ids"], a.seq, dev, a.ppl_tokens)
    res["heldout_loss"], res["heldout_ppl"], res["heldout_tokens"] = l, math.exp(l), n
    per_src = {}
    for i, s in enumerate(ho["src_names"].tolist()):
        sel = ho["src"] == i
        ids = ho["ids"][sel]
        if windows(ids, a.seq) >= 1:
            ls, ns = eval_loss(model, ids, a.seq, dev, a.ppl_tokens // 4)
            per_src[s] = dict(loss=ls, ppl=math.exp(ls), tokens=ns)
    res["heldout_ppl_by_src"] = per_src
    log("held-out ppl %.3f (loss %.4f, %d tokens) in %.1f s; by src %s" % (
        res["heldout_ppl"], l, n, time.time() - t, {k: round(v["ppl"], 2) for k, v in per_src.items()}))
    if windows(sho["ids"], a.seq) >= 1:
        sl, sn = eval_loss(model, sho["ids"], a.seq, dev, a.ppl_tokens, sho["mask"])
        res["sft_heldout_loss"], res["sft_heldout_tokens"] = sl, sn
        log("sft held-out assistant loss %.4f on %d tokens" % (sl, sn))

    # selective V
    t = time.time()
    full, nf = eval_loss(model, ho["ids"], a.seq, dev, a.selv_tokens, batch=4, selective_v=0, use_amp=False)
    manual_full, _ = eval_loss(model, ho["ids"], a.seq, dev, a.selv_tokens, batch=4, selective_v=10**9,
                               use_amp=False)
    sv = dict(tokens=nf, full_loss=full, full_ppl=math.exp(full), manual_path_full_loss=manual_full)
    for k in [int(x) for x in a.selv.split(",") if x]:
        lk, _ = eval_loss(model, ho["ids"], a.seq, dev, a.selv_tokens, batch=4, selective_v=k, use_amp=False)
        sv["k%d" % k] = dict(loss=lk, ppl=math.exp(lk), ppl_change_pct=100 * (math.exp(lk - full) - 1))
    res["selective_v"] = sv
    log("selective V (fp32, %d tokens) in %.1f s: %s" % (nf, time.time() - t, json.dumps(sv)))

    # request -> command
    res["cmd"] = cmd_eval(model, sp, a.pack, dev, a.n_cmd)
    log("cmd: %s" % json.dumps({k: v for k, v in res["cmd"].items() if k != "examples"}))
    for e in res["cmd"].get("examples", [])[:5]:
        log("  ref %r | got %r" % (e["ref"], e["got"]))
    res["wall_s"] = time.time() - T0
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    log("-> %s" % a.out)


if __name__ == "__main__":
    main()
