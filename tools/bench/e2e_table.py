#!/usr/bin/env python3
"""Markdown tables from bench_forward's JSON lines and calm_peer.sh's, in the form of
docs/benchmarks.md's end-to-end section (paste them there; do not edit numbers by hand): decode
rows with % of the copy roofline, Sigma over its GQA twin at each context (full attention and
selective V), our GQA twin over calm (calm's row matched by the nearest recorded context: it
records 3840 for the "4K" run), the batched decode rows (--batch) with Sigma over GQA at each
batch size, and the prefill rows. A run that is missing prints "-".
usage: e2e_table.py bench.jsonl [calm.jsonl]"""
import json
import sys


def load(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass
    except OSError:
        pass
    return rows


def kctx(ctx):
    """Context as docs/benchmarks.md writes it: 0, 4K, 32K (or the number when not a multiple of 1024)."""
    return f"{ctx // 1024}K" if ctx and ctx % 1024 == 0 else str(ctx)


def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def ratio(num, den):
    return "-" if num is None or den is None or den == 0 else f"{num / den:.2f}x"


def variant(r):
    """The 'weights / variant' cell of the one-sequence table."""
    v = r["weights"]
    if not r.get("graph", True):
        v += ", graphs off"
    if not r.get("pdl", True):
        v += ", PDL off"
    shape = r.get("gemv_shape", 0)
    if shape == 7:
        v += ", GEMV per-row warp reduction (shape 7)"
    elif shape:
        v += f", GEMV shape {shape}"
    sampling = r.get("sampling", "greedy")
    if sampling != "greedy":
        v += ", GPU sampling (t 0.8, top-k 40, top-p 0.95, rep. penalty 1.1)"
        if "no cut" in sampling:
            v += ", one block over the vocabulary"
    if r.get("selective_v"):
        v += f", selective V k={r['selective_v']}"
    return v


def calm_runs(calm, ctx, kv_bits):
    """calm's runs for our context ctx: calm records the position it started from (CALM_POSO),
    which for the "4K" row is 3840 (256 tokens up to 4096): the nearest recorded context within
    10% of ctx (exact for 0)."""
    runs = [c for c in calm if c.get("kv_bits") == kv_bits]
    if not runs:
        return []
    near = min({c["ctx"] for c in runs}, key=lambda c: abs(c - ctx))
    if abs(near - ctx) > 0.1 * ctx:
        return []
    return [c for c in runs if c["ctx"] == near]


def main():
    ours = load(sys.argv[1])
    calm = load(sys.argv[2]) if len(sys.argv) > 2 else []
    copy = next((r["copy_gbps"] for r in ours if "copy_gbps" in r and "model" not in r), None)
    print(f"copy bandwidth: {copy} GB/s\n")
    dec = [r for r in ours if "ms_per_token" in r]
    print("One sequence (`forward_argmax` / `forward_sample`):\n")
    print("| model | weights / variant | ctx | ms/token | tokens/s | GB/s | % of copy roofline |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in dec:
        print(f"| {'Sigma' if r['model'].startswith('sigma') else 'GQA'} | {variant(r)} | {kctx(r['ctx'])} | "
              f"{r['ms_per_token']:.3f} | {r['tokens_per_s']:.0f} | {r['gbps']:.0f} | {r['pct_of_copy_roofline']:.1f}% |")

    def find(model, w, ctx, sv=0):
        for r in dec:
            if r["model"].startswith(model) and r["weights"] == w and r["ctx"] == ctx and r["selective_v"] == sv \
                    and r["graph"] and r.get("pdl", True) and r.get("gemv_shape", 0) == 0 \
                    and r.get("sampling", "greedy") == "greedy":
                return r
        return None

    print("\nSigma against its GQA twin and against calm (same run; calm's \"4K\" is positions 3840-4095):\n")
    print("| weights | ctx | GQA ms | Sigma ms | Sigma speed / GQA | Sigma selV k=100 ms | selV speed / GQA | "
          "calm fp16 KV ms | calm fp8 KV ms | our GQA speed / calm (fp16 KV) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    for w in sorted({r["weights"] for r in dec}):
        for ctx in sorted({r["ctx"] for r in dec}):
            g, s, sv = find("gqa", w, ctx), find("sigma", w, ctx), find("sigma", w, ctx, 100)
            if not g or not s:
                continue
            gms, sms, svms = g["ms_per_token"], s["ms_per_token"], sv["ms_per_token"] if sv else None
            c16 = calm_runs(calm, ctx, 16) if w == "F16" else []  # calm runs fp16 weights only
            c8 = calm_runs(calm, ctx, 8) if w == "F16" else []
            c16ms = min(c["ms_per_token"] for c in c16) if c16 else None
            c8ms = min(c["ms_per_token"] for c in c8) if c8 else None
            if len(c16) > 1:
                notes.append(f"(calm ran {len(c16)} times at ctx {kctx(ctx)} in this call: "
                             + " and ".join(f"{c['ms_per_token']:.2f}" for c in c16) + " ms.)")
            print(f"| {w} | {kctx(ctx)} | {gms:.3f} | {sms:.3f} | {ratio(gms, sms)} | {fmt(svms)} | {ratio(gms, svms)} | "
                  f"{fmt(c16ms)} | {fmt(c8ms)} | {ratio(c16ms, gms)} |")
    for n in notes:
        print("\n" + n)
    bat = [r for r in ours if "ms_per_step" in r]
    if bat:
        print("\n| model | weights | batch | matrix products | ctx | selective V | ms/step | tokens/s (all sequences) | GB/s | % of copy roofline |")
        print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in bat:
            print(f"| {'Sigma' if r['model'].startswith('sigma') else 'GQA'} | {r['weights']} | {r['batch']} | {r['batch_gemm']} | {kctx(r['ctx'])} | "
                  f"{r['selective_v'] or '-'} | {r['ms_per_step']:.3f} | {r['tokens_per_s']:.0f} | {r['gbps']:.0f} | "
                  f"{r['pct_of_copy_roofline']:.1f}% |")

        def bfind(model, w, b, ctx, sv=0):
            # the default matrix products ("auto"; the first final run had "mma" as its default)
            want = "auto" if any(r["batch_gemm"] == "auto" for r in bat) else "mma"
            return next((r for r in bat if r["model"].startswith(model) and r["weights"] == w and r["batch"] == b
                         and r["ctx"] == ctx and r["selective_v"] == sv and r["batch_gemm"] == want), None)

        print("\n| weights | batch | ctx | GQA tokens/s | Sigma tokens/s | Sigma / GQA | Sigma selV k=100 tokens/s | selV / GQA |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for w in sorted({r["weights"] for r in bat}):
            for b in sorted({r["batch"] for r in bat}):
                for ctx in sorted({r["ctx"] for r in bat}):
                    g, s, sv = bfind("gqa", w, b, ctx), bfind("sigma", w, b, ctx), bfind("sigma", w, b, ctx, 100)
                    if not g or not s:
                        continue
                    svs = f"{sv['tokens_per_s']:.0f} | {sv['tokens_per_s'] / g['tokens_per_s']:.2f}x" if sv else "- | -"
                    print(f"| {w} | {b} | {kctx(ctx)} | {g['tokens_per_s']:.0f} | {s['tokens_per_s']:.0f} | "
                          f"{s['tokens_per_s'] / g['tokens_per_s']:.2f}x | {svs} |")
    pre = [r for r in ours if "prefill_tokens" in r]
    if pre:
        print("\n| model | weights | prefill tokens | ms | tokens/s | other fields |")
        print("|---|---|---:|---:|---:|---|")
        for r in pre:
            extra = {k: v for k, v in r.items() if k not in ("model", "weights", "prefill_tokens", "ms", "prefill_tokens_per_s")}
            print(f"| {r['model'].split()[0]} | {r['weights']} | {r['prefill_tokens']} | {r['ms']} | "
                  f"{r.get('prefill_tokens_per_s')} | {json.dumps(extra) if extra else ''} |")
    others = [r for r in ours if "ms_per_token" not in r and "ms_per_step" not in r and "prefill_tokens" not in r and "model" not in r]
    for r in others:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
