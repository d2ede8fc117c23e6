#!/usr/bin/env python3
"""Joins bench_attention JSON lines (ours) and peer_attention.py JSON lines into the markdown
table of docs/benchmarks.md ("Decode attention (H100)"). Usage: attention_table.py ours.jsonl peer.jsonl"""
import json
import sys


def load(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip().startswith("{")]
    except OSError:
        return []


def main():
    ours, peers = load(sys.argv[1]), load(sys.argv[2])
    key = sys.argv[3] if len(sys.argv) > 3 else "us"  # "us" (stream launches) or "us_graph"
    for r in ours + peers:
        if key in r and r[key] is not None:
            r["us"] = r[key]
        elif "us" in r and key != "us":
            r.pop("us")
    print(f"timing: {key}")
    dev = [r for r in ours + peers if r.get("kind") == "device"]
    for r in dev:
        print("device:", json.dumps(r))
    o = {(r["variant"], r["batch"], r["ctx"]): r for r in ours if r.get("kind") == "ours"}
    p = {(r["peer"], r["batch"], r["ctx"]): r for r in peers if r.get("kind") == "peer" and "us" in r}
    print("| B | ctx | ours Sigma µs | ours Sigma PDL µs | ours GQA µs | ours GQA PDL µs | FA2 µs | cuDNN µs | "
          "Sigma % copy BW (plain / PDL) | speedup vs best peer (Sigma PDL / GQA PDL) | "
          "selV k=100 µs (per head / union) | selV PDL µs (per head / union) | selV vs FA2 (plain / PDL) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    cbw = next((r["copy_GBps"] for r in ours if r.get("kind") == "device"), None)
    pct = lambda r: f"{r['bytes'] / (r['us'] * 1e-6) / 1e9 / cbw * 100:.1f}%" if r and cbw else "-"
    keys = sorted({(b, c) for (_, b, c) in o})
    for b, c in keys:
        get = lambda n: o.get((n, b, c))
        s, sp_, g, gp = get("sigma"), get("sigma_pdl"), get("gqa"), get("gqa_pdl")
        sv, su = get("sigma_selv100"), get("sigma_selv100_union")
        svp, sup = get("sigma_selv100_pdl"), get("sigma_selv100_union_pdl")
        fa, cu = p.get(("fa2", b, c)), p.get(("cudnn", b, c))
        f = lambda r, k="us": f"{r[k]:.1f}" if r else "-"
        best = min([r["us"] for r in (fa, cu) if r], default=None)
        sx = lambda r: f"{best / r['us']:.2f}x" if best and r else "-"
        fx = lambda r: f"{fa['us'] / r['us']:.2f}x" if fa and r else "-"
        print(f"| {b} | {c // 1024}K | {f(s)} | {f(sp_)} | {f(g)} | {f(gp)} | {f(fa)} | {f(cu)} | "
              f"{pct(s)} / {pct(sp_)} | {sx(sp_)} / {sx(gp)} | {f(sv)} / {f(su)} | {f(svp)} / {f(sup)} | "
              f"{fx(sv)} / {fx(svp)} |")
    # Engine-like chain (bench_attention.cu, "*_step"): each call after a small kernel that writes
    # q and the newest K/V row (the engine's rope stand-in); time per (writer + attention).
    st = ["sigma_step", "sigma_step_pdl", "sigma_selv100_step", "sigma_selv100_step_pdl"]
    if any((n, b, c) in o for n in st for b, c in keys):
        print()
        print("| B | ctx | writer alone µs | Sigma: writer + attention µs (plain / PDL) | "
              "selV k=100: writer + attention µs (plain / PDL) |")
        print("|---|---|---|---|---|")
        for b, c in keys:
            r = [o.get((n, b, c)) for n in st]
            f = lambda x: f"{x['us']:.1f}" if x else "-"
            w = r[1].get("us_writer_graph") if r[1] and key == "us_graph" else None
            print(f"| {b} | {c // 1024}K | {w:.1f} | " if w else f"| {b} | {c // 1024}K | - | ", end="")
            print(f"{f(r[0])} / {f(r[1])} | {f(r[2])} / {f(r[3])} |")
    # Variants measured in the same run (bench_attention.cu): previous kernels, other slice counts.
    names = ["sigma_old", "gqa_old", "sigma_selv100_old", "sigma_p50", "sigma_p200", "gqa_p200",
             "sigma_selv100_p200", "gqa_selv100", "sigma_selv100_wide", "sigma_selv100_wide_pdl"]
    if any((n, b, c) in o for n in names for b, c in keys):
        print()
        print("| B | ctx | " + " | ".join(n + " µs" for n in names) + " |")
        print("|---|---|" + "---|" * len(names))
        for b, c in keys:
            cells = [f"{o[(n, b, c)]['us']:.1f}" if (n, b, c) in o else "-" for n in names]
            print(f"| {b} | {c // 1024}K | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
