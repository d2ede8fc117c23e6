"""Issue 5 ablation: (a) GQA n_k = n_v, (b) fewer K heads, (c) fewer V heads, (d) (b) + augmented Q,
at equal parameter count (d_ff adjusts, exact counts reported) and equal tokens (same step count,
batch, seed and data order), pretraining only; held-out loss on pretrain_heldout.

  python3 tools/train/ablation.py --config tools/train/configs/ablation.json --pack PACK --out DIR
      [--seconds 70] [--steps N] [--calibrate-main tools/train/configs/main.json] [--deadline UNIX]

Step count: --steps N, or measured: a short timing run of the slowest config (d) gives steps/s,
and N = 0.92 * steps/s * seconds, so every run gets the same N steps within about `seconds`.
--calibrate-main: after the ablation, time the main config (torch.compile on and off) for the
lead's step counts: compile seconds and tokens/s, written to calibration.json.
Writes DIR/ablation.json (one row per run) and DIR/calibration.json.
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
import train as TR  # noqa: E402
from model import Sigma, SigmaConfig, n_params  # noqa: E402

log = TR.log


def build(common, run, vocab):
    c = dict(common); c.update(run["model"]); c["vocab"] = vocab
    return SigmaConfig.from_dict(c)


def timed_steps(model, fwd, batches, dev, a, seconds, warm=5):
    """Steps/s of a config after `warm` steps (weights are thrown away)."""
    opt = TR.make_opt(model, 1e-4, a["wd"], a["beta2"], dev.type == "cuda")
    t_first = time.time()
    n, t0 = 0, None
    while True:
        x, y, m = batches.next()
        with TR.amp(dev):
            loss = fwd(x.to(dev), y.to(dev), None)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        n += 1
        if n == warm:
            if dev.type == "cuda": torch.cuda.synchronize()
            t0 = time.time()
            first = t0 - t_first
        if t0 and time.time() - t0 > seconds:
            break
    if dev.type == "cuda": torch.cuda.synchronize()
    sps = (n - warm) / (time.time() - t0)
    return sps, first


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default="")
    ap.add_argument("--seconds", type=float, default=70)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--seq", type=int, default=0)
    ap.add_argument("--calibrate-main", default="")
    ap.add_argument("--deadline", type=float, default=0)
    ap.add_argument("--limit", type=int, default=0, help="records per pack file (tests)")
    ap.add_argument("--only", default="", help="comma-separated run names (tests)")
    args = ap.parse_args()
    A = json.load(open(args.config))
    a = dict(TR.DEFAULTS); a.update(A.get("train", {}))
    if args.batch: a["batch"] = args.batch
    if args.seq: a["seq"] = args.seq
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    spm_path = os.path.join(args.pack, "tokenizer.model")
    cache = args.cache or os.path.join(args.out, "tok")
    paths = D.prepare(args.pack, spm_path, cache, limit=args.limit or None, log=log)
    pre, ho, sft = D.load(paths["pretrain_train"]), D.load(paths["pretrain_heldout"]), D.load(paths["sft_train"])
    stream = np.concatenate([pre["ids"], sft["ids"][:int(len(sft["ids"]) * a["sft_in_pretrain"])]])
    import sentencepiece as spm
    vocab = spm.SentencePieceProcessor(model_file=spm_path).get_piece_size()
    runs = [r for r in A["runs"] if not args.only or r["name"] in args.only.split(",")]
    out = dict(about=A.get("about"), device=torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
               torch=torch.__version__, train=a, stream_tokens=int(len(stream)), heldout_tokens=int(len(ho["ids"])),
               rows=[])

    steps = args.steps
    if not steps:
        slow = build(A["common"], runs[-1], vocab)
        torch.manual_seed(a["seed"])
        m = Sigma(slow).to(dev)
        fwd = lambda x, y, mm: m.loss(x, y, mm)[0]  # noqa: E731
        sps, _ = timed_steps(m, fwd, TR.Batches(stream, a["seq"], a["batch"], 999), dev, a, min(15, args.seconds / 4))
        steps = max(10, int(0.92 * sps * args.seconds))
        log("calibration: %s runs %.2f steps/s -> %d steps per run (%.1f M tokens)"
            % (runs[-1]["name"], sps, steps, steps * a["batch"] * a["seq"] / 1e6))
        del m
    out["steps"] = steps
    out["tokens_per_run"] = steps * a["batch"] * a["seq"]

    for r in runs:
        cfg = build(A["common"], r, vocab)
        torch.manual_seed(a["seed"]); np.random.seed(a["seed"])
        model = Sigma(cfg).to(dev)
        fwd = lambda x, y, mm, model=model: model.loss(x, y, mm)[0]  # noqa: E731
        b = TR.Batches(stream, a["seq"], a["batch"], a["seed"])
        log("run %s: %s, %d parameters" % (r["name"], json.dumps(r["model"]), n_params(model)))
        res = TR.run_phase(r["name"], model, fwd, b, dev, steps, args.seconds * 1.6, a["lr"], a["warmup"], a,
                           deadline=args.deadline or None)
        hl, hn = TR.eval_loss(model, ho["ids"], a["seq"], dev, a["eval_tokens"])
        kv = cfg.n_layer * (cfg.n_k * cfg.d_qk + cfg.n_v * cfg.d_v) * 2   # bf16 bytes per token
        row = dict(name=r["name"], model=cfg.to_dict(), params=n_params(model), steps=res["steps"],
                   tokens=res["tokens"], seconds=res["seconds"], tokens_per_s=res["tokens_per_s"],
                   final_train_loss=res["history"][-1]["loss"] if res["history"] else None,
                   heldout_loss=hl, heldout_ppl=math.exp(hl), heldout_tokens=hn, kv_bytes_per_token_bf16=kv,
                   complete=res["steps"] == steps)
        out["rows"].append(row)
        log("RESULT %s: held-out loss %.4f (ppl %.2f), %d params, %d steps, %.0f tok/s%s"
            % (r["name"], hl, math.exp(hl), row["params"], res["steps"], res["tokens_per_s"],
               "" if row["complete"] else "  ** stopped early: tokens not equal **"))
        with open(os.path.join(args.out, "ablation.json"), "w") as f:
            json.dump(out, f, indent=1)
        del model
        if dev.type == "cuda": torch.cuda.empty_cache()

    if args.calibrate_main:
        M = json.load(open(args.calibrate_main))
        cal = {}
        ma = dict(TR.DEFAULTS); ma.update(M.get("train", {}))
        for compile_ in ((True, False) if dev.type == "cuda" and hasattr(torch, "compile") else (False,)):
            left = (args.deadline - time.time()) if args.deadline else 1e9
            if left < 75:
                log("calibration compile=%s skipped: %.0f s left" % (compile_, left))
                continue
            mc = dict(M["model"]); mc["vocab"] = vocab
            cfg = SigmaConfig.from_dict(mc)
            torch.manual_seed(0)
            m = Sigma(cfg).to(dev)
            f = (lambda x, y, mm, m=m: m.loss(x, y, mm)[0])
            if compile_:
                f = torch.compile(f)
            try:
                sps, first = timed_steps(m, f, TR.Batches(stream, ma["seq"], ma["batch"], 7), dev, ma, 20)
            except Exception as e:  # noqa: BLE001  (a failed compile must not lose the ablation)
                log("calibration compile=%s failed: %s: %s" % (compile_, type(e).__name__, str(e)[:300]))
                cal["compile" if compile_ else "eager"] = dict(error=str(e)[:300])
                continue
            tps = sps * ma["batch"] * ma["seq"]
            cal["compile" if compile_ else "eager"] = dict(
                steps_per_s=sps, tokens_per_s=tps, first5_steps_s=first, params=n_params(m),
                recommended_pretrain_steps_300s=int(0.93 * sps * 300))
            log("main config compile=%s: %.2f steps/s = %.0f tok/s, first 5 steps %.1f s (incl. compile)"
                % (compile_, sps, tps, first))
            del m
            if dev.type == "cuda": torch.cuda.empty_cache()
        with open(os.path.join(args.out, "calibration.json"), "w") as fh:
            json.dump(cal, fh, indent=1)
    log("done")


if __name__ == "__main__":
    main()
