"""Scaling sweep (issue 21): train each size of configs/sweep.json for the same token budget
(pretraining only) and collect held-out losses into OUT/sweep.json (rewritten after every run,
so a call cut short still returns what it finished).

  python3 tools/train/sweep.py --config tools/train/configs/sweep.json --pack .data/pack \
      --out $OUT --cache /tmp/sigma_tok --steps 350 --seconds-per-run 75 --deadline UNIX_TIME

Every run is a separate `train.py` process (same seed, data order, batch, windows, steps): the
token cache (data.prepare) is built by the first run and reused. A run stops early only at its
time guard (--seconds-per-run) or the call's --deadline; sweep.json then shows its real steps
and tokens, so unequal budgets are visible. Per run: parameters, Q8_0 bytes (estimate), tokens,
tok/s, held-out loss on documents and held-out assistant-token loss (SFT examples seen as plain
text during pretraining), and the loss curve.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(HERE, "configs", "sweep.json"))
    ap.add_argument("--pack", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--seconds-per-run", type=float, default=75)
    ap.add_argument("--deadline", type=float, default=0)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--only", default="", help="comma-separated run names")
    ap.add_argument("--extra", default="", help="more train.py flags, space separated (CPU tests)")
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    runs = [r for r in cfg["runs"] if not a.only or r["name"] in a.only.split(",")]
    res = dict(about=cfg.get("about", ""), train=cfg["train"], steps=a.steps, runs=[])
    os.makedirs(a.out, exist_ok=True)
    for i, r in enumerate(runs):
        left = (a.deadline - time.time()) if a.deadline else 1e9
        if left < 45:
            res["runs"].append(dict(name=r["name"], skipped="deadline"))
            continue
        wdir = os.path.join("/tmp", "sigma_sweep", r["name"])
        os.makedirs(wdir, exist_ok=True)
        rc_path = os.path.join(wdir, "config.json")
        model = dict(cfg.get("common", {}))
        model.update(r["model"])
        json.dump({"model": model, "train": cfg["train"]}, open(rc_path, "w"))
        cmd = [a.python, os.path.join(HERE, "train.py"), "--config", rc_path, "--pack", a.pack, "--out", wdir,
               "--cache", a.cache, "--pretrain-steps", str(a.steps), "--time-pretrain", str(a.seconds_per_run),
               "--no-gguf", "1", "--sft-steps", "0"]
        if a.deadline:
            cmd += ["--deadline", str(a.deadline - 20)]
        cmd += a.extra.split()
        print("== sweep run %d/%d %s: %s" % (i + 1, len(runs), r["name"], json.dumps(r["model"])), flush=True)
        t0 = time.time()
        p = subprocess.run(cmd)
        m_path = os.path.join(wdir, "metrics.json")
        row = dict(name=r["name"], model=model, rc=p.returncode, wall_s=round(time.time() - t0, 1))
        if os.path.exists(m_path) and p.returncode == 0:
            m = json.load(open(m_path))
            pt = m["pretrain"]
            row.update(params=m["params"], q8_tensor_mb=round(m["q8_tensor_bytes"] / 1e6, 2),
                       steps=pt["steps"], tokens=pt["tokens"], seconds=round(pt["seconds"], 1),
                       tokens_per_s=round(pt["tokens_per_s"]), heldout_loss=pt["heldout_loss"],
                       heldout_ppl=math.exp(pt["heldout_loss"]), sft_heldout_loss=pt.get("sft_heldout_loss"),
                       final_train_loss=pt["history"][-1]["loss"] if pt["history"] else None,
                       curve=[(h["step"], round(h["loss"], 4)) for h in pt["history"]][::4],
                       device=m.get("device"))
            os.remove(m_path)
        res["runs"].append(row)
        with open(os.path.join(a.out, "sweep.json"), "w") as f:
            json.dump(res, f, indent=1)
        print("== sweep %s: %s" % (r["name"], json.dumps({k: v for k, v in row.items() if k not in ("curve", "model")})),
              flush=True)
    with open(os.path.join(a.out, "sweep.json"), "w") as f:
        json.dump(res, f, indent=1)
    ok = [x for x in res["runs"] if "heldout_loss" in x]
    if ok:
        print("== sweep table (equal steps %d)" % a.steps)
        for x in ok:
            print("  %-14s %11d params %6.2f MB  %4d steps %11d tokens %8d tok/s  held-out %.4f (ppl %.2f)  sft %.4f"
                  % (x["name"], x["params"], x["q8_tensor_mb"], x["steps"], x["tokens"], x["tokens_per_s"],
                     x["heldout_loss"], x["heldout_ppl"], x["sft_heldout_loss"] or float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
