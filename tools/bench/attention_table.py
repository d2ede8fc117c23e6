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
    print("| B | ctx | ours Sigma µs | ours GQA µs | FA2 µs | cuDNN µs | Sigma % copy BW | speedup vs best peer "
          "(Sigma / GQA) | selV k=100 µs (per head / union) | selV vs FA2 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    cbw = next((r["copy_GBps"] for r in ours if r.get("kind") == "device"), None)
    pct = lambda r: f"{r['bytes'] / (r['us'] * 1e-6) / 1e9 / cbw * 100:.1f}%" if r and cbw else "-"
    keys = sorted({(b, c) for (_, b, c) in o})
    for b, c in keys:
        s, g = o.get(("sigma", b, c)), o.get(("gqa", b, c))
        sv, su = o.get(("sigma_selv100", b, c)), o.get(("sigma_selv100_union", b, c))
        fa, cu = p.get(("fa2", b, c)), p.get(("cudnn", b, c))
        f = lambda r, k="us": f"{r[k]:.1f}" if r else "-"
        best = min([r["us"] for r in (fa, cu) if r], default=None)
        sp = f"{best / s['us']:.2f}x / {best / g['us']:.2f}x" if best and s and g else "-"
        svf = f"{sv['us'] / fa['us']:.2f}" if sv and fa else "-"
        svf = f"{fa['us'] / sv['us']:.2f}x" if sv and fa else "-"
        print(f"| {b} | {c // 1024}K | {f(s)} | {f(g)} | {f(fa)} | {f(cu)} | {pct(s)} | {sp} | "
              f"{f(sv)} / {f(su)} | {svf} |")
    # Variants measured in the same run (bench_attention.cu): previous kernels, other slice counts.
    names = ["sigma_old", "gqa_old", "sigma_selv100_old", "sigma_p50", "sigma_p200", "gqa_p200",
             "sigma_selv100_p200", "gqa_selv100"]
    if any((n, b, c) in o for n in names for b, c in keys):
        print()
        print("| B | ctx | " + " | ".join(n + " µs" for n in names) + " |")
        print("|---|---|" + "---|" * len(names))
        for b, c in keys:
            cells = [f"{o[(n, b, c)]['us']:.1f}" if (n, b, c) in o else "-" for n in names]
            print(f"| {b} | {c // 1024}K | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
