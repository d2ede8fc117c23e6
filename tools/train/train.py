"""Train a Sigma model: pretraining on packed text, then instruction tuning (SFT), then GGUF.

  python3 tools/train/train.py --config tools/train/configs/main.json --pack .data/pack \
      --out OUTDIR [--pretrain-steps N] [--sft-steps N] [--time-pretrain S] [--time-sft S] ...

Config JSON: {"model": {SigmaConfig fields}, "train": {options below}}; CLI flags override
"train" entries (dashes or underscores). Output in OUTDIR: model.pt (config + fp32
state_dict), model.gguf (Q8_0 unless --no-gguf), metrics.json, train.log lines on stdout.

Data order is deterministic: sequences are fixed windows of the token stream, shuffled with
numpy's PCG64(seed); torch seeds are fixed too. The learning rate follows linear warmup then
cosine to lr_min, driven by progress = max(step / steps, elapsed / time_budget), so a run that
is slower than planned still finishes its schedule (and stops) inside its time budget.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data as D  # noqa: E402
from model import Sigma, SigmaConfig, n_params, gguf_bytes_estimate  # noqa: E402

DEFAULTS = dict(
    seed=1234, seq=1024, batch=64, lr=3e-3, lr_min_frac=0.1, warmup=100, wd=0.1, beta2=0.95,
    clip=1.0, pretrain_steps=2000, time_pretrain=300.0, sft_in_pretrain=1.0,
    sft_steps=300, time_sft=60.0, sft_lr=5e-4, sft_batch=64, sft_warmup=30,
    compile=True, max_epochs=0.0, eval_tokens=1_000_000, eval_every=0, nproc=0, limit=0, cache="",
    spm="", gguf_type="Q8_0", no_gguf=False, name="sigma-ops-nano",
    sft_task_weights="", sft_pretrain_mix=0.0, sft_max_epochs=0.0)

T0 = time.time()


def amp(dev):
    """bf16 autocast on CUDA, nothing on the CPU (torch 1.13 rejects a disabled cuda autocast there)."""
    import contextlib
    return torch.autocast("cuda", torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()


def log(*a):
    print("[%7.1fs] " % (time.time() - T0) + " ".join(str(x) for x in a), flush=True)


def windows(stream, seq):
    """Number of non-overlapping (seq+1)-token windows (last token shared with the next one)."""
    return max(0, (len(stream) - 1) // seq)


class Batches:
    """Deterministic shuffled windows over a token stream (with optional loss mask)."""

    def __init__(self, ids, seq, batch, seed, mask=None):
        self.ids, self.mask, self.seq, self.batch = ids, mask, seq, batch
        self.n = windows(ids, seq)
        if self.n < 1:
            raise SystemExit("not enough tokens (%d) for one window of %d" % (len(ids), seq))
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.order, self.pos, self.epoch = self.rng.permutation(self.n), 0, 0

    def next(self):
        rows = []
        for _ in range(self.batch):
            if self.pos >= self.n:
                self.order, self.pos = self.rng.permutation(self.n), 0
                self.epoch += 1
            rows.append(self.order[self.pos]); self.pos += 1
        idx = np.array(rows)[:, None] * self.seq + np.arange(self.seq + 1)[None, :]
        x = torch.from_numpy(self.ids[idx].astype(np.int64))
        if self.mask is not None:
            m = torch.from_numpy(self.mask[idx[:, 1:]].astype(np.uint8))
        else:   # all ones: pretraining and SFT then share one compiled graph
            m = torch.ones(self.batch, self.seq, dtype=torch.uint8)
        return x[:, :-1], x[:, 1:], m


def sft_stream(sft, weights, mix, pre, seed, log=print):
    """The SFT phase's token stream: every SFT record repeated by its task's weight (an integer
    part plus a seeded coin for the fraction: weight 0.5 keeps about half of the records, 2.0
    doubles them), records shuffled with PCG64(seed), then pretraining documents (loss on every
    token) mixed in as whole documents until they make up `mix` of the tokens, so general text
    does not collapse during tuning. -> (ids, mask, stats)."""
    names = [str(x) for x in sft["src_names"]]
    lens = sft["doc_len"]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    task = sft["src"][starts] if len(lens) else np.zeros(0, np.int64)
    w = np.array([float(weights.get(n, 1.0)) for n in names])
    rng = np.random.Generator(np.random.PCG64(seed))
    wr = w[task]
    reps = np.floor(wr).astype(np.int64) + (rng.random(len(lens)) < (wr - np.floor(wr)))
    rec = np.repeat(np.arange(len(lens)), reps)
    parts = [("sft", int(i)) for i in rec]
    n_sft_tok = int(lens[rec].sum())
    n_pre = 0
    if mix > 0 and len(pre["doc_len"]):
        plens = pre["doc_len"]
        pstarts = np.concatenate([[0], np.cumsum(plens)[:-1]])
        want = int(n_sft_tok * mix / max(1e-9, 1 - mix))
        porder = rng.permutation(len(plens))
        acc = 0
        for j in porder:
            if acc >= want:
                break
            parts.append(("pre", int(j)))
            acc += int(plens[j])
        n_pre = acc
    order = rng.permutation(len(parts))
    ids, mask = [], []
    for k in order:
        kind, i = parts[k]
        if kind == "sft":
            a, b = starts[i], starts[i] + lens[i]
            ids.append(sft["ids"][a:b]); mask.append(sft["mask"][a:b])
        else:
            a, b = pstarts[i], pstarts[i] + plens[i]
            ids.append(pre["ids"][a:b]); mask.append(np.ones(b - a, np.uint8))
    ids = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    mask = np.concatenate(mask) if mask else np.zeros(0, np.uint8)
    by_task = {}
    for t, n in zip(task[rec], lens[rec]):
        by_task[names[t]] = by_task.get(names[t], 0) + int(n)
    stats = dict(records=int(len(rec)), sft_tokens=n_sft_tok, pretrain_tokens=n_pre, tokens_by_task=by_task,
                 weights={n: float(weights.get(n, 1.0)) for n in names})
    log("sft stream: %d records (%d tokens) + %d pretraining tokens (mix %.2f); tokens by task %s"
        % (len(rec), n_sft_tok, n_pre, mix, json.dumps(by_task)))
    return ids, mask, stats


def lr_at(progress, step, warmup, lr, lr_min_frac):
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (lr_min_frac + (1 - lr_min_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def make_opt(model, lr, wd, beta2, fused):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    kw = dict(lr=lr, betas=(0.9, beta2), eps=1e-8)
    if fused:
        kw["fused"] = True
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                              {"params": no_decay, "weight_decay": 0.0}], **kw)


@torch.no_grad()
def eval_loss(model, ids, seq, dev, max_tokens, mask=None, batch=16, selective_v=0, use_amp=True):
    """Mean per-token NLL over consecutive windows of the held-out stream (masked if mask)."""
    # (no model.eval()/train(): nothing depends on it, and flipping it would make a compiled
    #  training step recompile)
    n = min(windows(ids, seq), max(1, max_tokens // seq))
    tot, cnt = 0.0, 0
    for b in range(0, n, batch):
        rows = np.arange(b, min(n, b + batch))
        idx = rows[:, None] * seq + np.arange(seq + 1)[None, :]
        x = torch.from_numpy(ids[idx].astype(np.int64)).to(dev)
        m = torch.from_numpy(mask[idx[:, 1:]].astype(np.float32)).to(dev) if mask is not None else None
        with (amp(dev) if use_amp else amp(torch.device("cpu"))):
            loss, k = model.loss(x[:, :-1], x[:, 1:], m, selective_v=selective_v)
        k = int(k)
        tot += float(loss) * k; cnt += k
    return tot / max(cnt, 1), cnt


def run_phase(name, model, fwd, batches, dev, steps, budget, lr, warmup, a, heldout=None, masked=False,
              deadline=None, max_epochs=None):
    opt = make_opt(model, lr, a["wd"], a["beta2"], dev.type == "cuda")
    t0 = time.time()
    step, tokens, hist = 0, 0, []
    cuda = dev.type == "cuda"
    last_log = t0
    while step < steps:
        elapsed = time.time() - t0
        if elapsed >= budget or (deadline and time.time() >= deadline):
            log("%s: time budget reached at step %d" % (name, step))
            break
        me = a.get("max_epochs") if max_epochs is None else max_epochs
        if me and batches.epoch + batches.pos / batches.n >= me:
            log("%s: max_epochs %.2f reached at step %d" % (name, me, step))
            break
        progress = max(step / steps, elapsed / budget)
        cur = lr_at(progress, step, warmup, lr, a["lr_min_frac"])
        for g in opt.param_groups:
            g["lr"] = cur
        x, y, m = batches.next()
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        m = m.to(dev, non_blocking=True) if m is not None else None
        with amp(dev):
            loss = fwd(x, y, m)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), a["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens += x.numel()
        if step % 25 == 0 or step == 1 or step == steps:
            lv = float(loss)
            now = time.time()
            hist.append(dict(step=step, loss=lv, lr=cur, gnorm=float(gn), t=now - t0))
            if now - last_log > 10 or step <= 1 or step == steps:
                log("%s step %d/%d loss %.4f lr %.2e gnorm %.2f  %.0f tok/s (epoch %d)"
                    % (name, step, steps, lv, cur, float(gn), tokens / (now - t0), batches.epoch))
                last_log = now
        if a["eval_every"] and heldout is not None and step % a["eval_every"] == 0:
            hl, _ = eval_loss(model, heldout[0], a["seq"], dev, a["eval_tokens"] // 4, heldout[1])
            log("%s step %d held-out loss %.4f" % (name, step, hl))
    if cuda:
        torch.cuda.synchronize()
    dt = time.time() - t0
    return dict(steps=step, tokens=tokens, seconds=dt, tokens_per_s=tokens / max(dt, 1e-9), history=hist,
                epochs=batches.epoch + batches.pos / batches.n)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--pack", required=True, help="folder with *.jsonl.xz and tokenizer.model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--deadline", type=float, default=0, help="unix time: stop training phases by then")
    ap.add_argument("--model", default="", help="JSON overriding model fields, e.g. '{\"d_ff\": 1280}'")
    for k, v in DEFAULTS.items():
        if isinstance(v, bool):
            ap.add_argument("--" + k.replace("_", "-"), dest=k, type=lambda s: s.lower() in ("1", "true", "yes"),
                            default=None)
        else:
            ap.add_argument("--" + k.replace("_", "-"), dest=k, type=type(v), default=None)
    args = ap.parse_args(argv)
    cfg_file = json.load(open(args.config))
    a = dict(DEFAULTS)
    a.update(cfg_file.get("train", {}))
    a.update({k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None})
    mcfg = dict(cfg_file["model"])
    if args.model:
        mcfg.update(json.loads(args.model))
    os.makedirs(args.out, exist_ok=True)
    spm_path = a["spm"] or os.path.join(args.pack, "tokenizer.model")

    torch.manual_seed(a["seed"]); np.random.seed(a["seed"])
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log("device %s, torch %s, config %s" % (dev, torch.__version__, args.config))

    cache = a["cache"] or os.path.join(args.out, "tok")
    paths = D.prepare(args.pack, spm_path, cache, nproc=a["nproc"] or None, limit=a["limit"] or None, log=log)
    pre, pre_ho = D.load(paths["pretrain_train"]), D.load(paths["pretrain_heldout"])
    sft, sft_ho = D.load(paths["sft_train"]), D.load(paths["sft_heldout"])
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=spm_path)
    mcfg["vocab"] = sp.get_piece_size()
    mcfg["ctx"] = max(mcfg.get("ctx", 0), a["seq"])
    cfg = SigmaConfig.from_dict(mcfg)

    # pretraining stream: all pretrain docs + a fraction of the SFT conversations as plain text
    stream = pre["ids"]
    if a["sft_in_pretrain"] > 0 and len(sft["ids"]):
        n = int(len(sft["ids"]) * min(1.0, a["sft_in_pretrain"]))
        stream = np.concatenate([stream, sft["ids"][:n]])
    log("pretrain stream %d tokens (%d from SFT), held-out %d tokens; SFT %d tokens (%d assistant), held-out %d"
        % (len(stream), len(stream) - len(pre["ids"]), len(pre_ho["ids"]), len(sft["ids"]), int(sft["mask"].sum()),
           len(sft_ho["ids"])))

    model = Sigma(cfg).to(dev)
    npar = n_params(model)
    log("model %s: %d parameters, Q8_0 tensor bytes %.2f MB" % (cfg.to_dict(), npar, gguf_bytes_estimate(model) / 1e6))
    def loss_fn(x, y, m):
        return model.loss(x, y, m)[0]

    fwd = loss_fn
    if a["compile"] and dev.type == "cuda" and hasattr(torch, "compile"):
        compiled = torch.compile(loss_fn)
        state = {"ok": True}

        def fwd(x, y, m):
            # fall back to eager if compilation fails, instead of losing the GPU call
            if state["ok"]:
                try:
                    return compiled(x, y, m)
                except Exception as e:  # noqa: BLE001
                    state["ok"] = False
                    log("torch.compile failed (%s: %s); continuing eager" % (type(e).__name__, str(e)[:300]))
            return loss_fn(x, y, m)

    metrics = dict(config=cfg.to_dict(), train=a, params=npar, q8_tensor_bytes=gguf_bytes_estimate(model),
                   device=str(torch.cuda.get_device_name(0)) if dev.type == "cuda" else "cpu",
                   torch=torch.__version__)
    deadline = args.deadline or None

    t = time.time()
    bpre = Batches(stream, a["seq"], a["batch"], a["seed"])
    metrics["pretrain"] = run_phase("pretrain", model, fwd, bpre, dev, a["pretrain_steps"], a["time_pretrain"],
                                    a["lr"], a["warmup"], a, heldout=(pre_ho["ids"], None), deadline=deadline)
    hl, hn = eval_loss(model, pre_ho["ids"], a["seq"], dev, a["eval_tokens"])
    metrics["pretrain"]["heldout_loss"] = hl
    metrics["pretrain"]["heldout_tokens"] = hn
    log("pretrain done: %d steps in %.1f s, held-out loss %.4f (ppl %.2f) on %d tokens"
        % (metrics["pretrain"]["steps"], time.time() - t, hl, math.exp(hl), hn))

    if a["sft_steps"] <= 0 and len(sft_ho["ids"]) > a["seq"]:
        # pretraining only (scaling sweep): the held-out assistant-token loss is still worth having
        sl, sn = eval_loss(model, sft_ho["ids"], a["seq"], dev, a["eval_tokens"], sft_ho["mask"])
        metrics["pretrain"]["sft_heldout_loss"] = sl
        log("pretrain: held-out assistant-token loss %.4f on %d tokens" % (sl, sn))

    if a["sft_steps"] > 0 and len(sft["ids"]) > a["seq"]:
        weights = a["sft_task_weights"]
        if isinstance(weights, str):
            weights = json.loads(weights) if weights.strip() else {}
        sids, smask, sstats = sft_stream(sft, weights, a["sft_pretrain_mix"], pre, a["seed"] + 2, log=log)
        bsft = Batches(sids, a["seq"], a["sft_batch"], a["seed"] + 1, mask=smask)
        metrics["sft"] = run_phase("sft", model, fwd, bsft, dev, a["sft_steps"], a["time_sft"], a["sft_lr"],
                                   a["sft_warmup"], a, masked=True, deadline=deadline,
                                   max_epochs=a["sft_max_epochs"] or a["max_epochs"])
        metrics["sft"]["stream"] = sstats
        sl, sn = eval_loss(model, sft_ho["ids"], a["seq"], dev, a["eval_tokens"], sft_ho["mask"])
        metrics["sft"]["heldout_loss"] = sl
        metrics["sft"]["heldout_tokens"] = sn
        hl2, _ = eval_loss(model, pre_ho["ids"], a["seq"], dev, a["eval_tokens"])
        metrics["sft"]["pretrain_heldout_loss_after_sft"] = hl2
        log("sft done: held-out assistant-token loss %.4f on %d tokens; pretrain held-out now %.4f"
            % (sl, sn, hl2))

    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": cfg.to_dict(), "state_dict": state}, os.path.join(args.out, "model.pt"))
    if not a["no_gguf"]:
        import export_gguf
        gpath = os.path.join(args.out, "model.gguf")
        size = export_gguf.export(cfg, state, spm_path, gpath, a["gguf_type"], a["name"])
        metrics["gguf_bytes"] = size
        log("wrote %s (%s, %d bytes = %.2f MB)" % (gpath, a["gguf_type"], size, size / 1e6))
    metrics["wall_s"] = time.time() - T0
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    log("metrics -> %s" % os.path.join(args.out, "metrics.json"))
    return metrics


if __name__ == "__main__":
    main()
