#!/usr/bin/env python3
"""Markdown tables from bench_forward's JSON lines and calm_peer.sh's: decode rows with % of the
copy roofline, Sigma over its GQA twin at each context (full attention and selective V), our GQA
twin over calm, the batched decode rows (--batch) with Sigma over GQA at each batch size, and the
prefill rows. usage: e2e_table.py bench.jsonl [calm.jsonl]"""
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


def main():
    ours = load(sys.argv[1])
    calm = load(sys.argv[2]) if len(sys.argv) > 2 else []
    copy = next((r["copy_gbps"] for r in ours if "copy_gbps" in r and "model" not in r), None)
    print(f"copy bandwidth: {copy} GB/s\n")
    dec = [r for r in ours if "ms_per_token" in r]
    print("| model | weights | ctx | selective V | graph | PDL | GEMV shape | sampling | ms/token | tokens/s | GB/s | % of copy roofline |")
    print("|---|---|---:|---:|---|---|---:|---|---:|---:|---:|---:|")
    for r in dec:
        print(f"| {r['model'].split()[0]} | {r['weights']} | {r['ctx']} | {r['selective_v'] or '-'} | "
              f"{'yes' if r['graph'] else 'no'} | {'yes' if r.get('pdl', True) else 'no'} | {r.get('gemv_shape', 0)} | {r.get('sampling', 'greedy')} | {r['ms_per_token']:.3f} | "
              f"{r['tokens_per_s']:.0f} | {r['gbps']:.0f} | {r['pct_of_copy_roofline']:.1f}% |")

    def find(model, w, ctx, sv=0):
        for r in dec:
            if r["model"].startswith(model) and r["weights"] == w and r["ctx"] == ctx and r["selective_v"] == sv \
                    and r["graph"] and r.get("pdl", True) and r.get("gemv_shape", 0) == 0 \
                    and r.get("sampling", "greedy") == "greedy":
                return r
        return None

    print("\n| weights | ctx | GQA ms | Sigma ms | Sigma / GQA | Sigma selV k=100 ms | selV / GQA | calm fp16 KV ms | calm fp8 KV ms | GQA / calm (fp16 KV) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w in sorted({r["weights"] for r in dec}):
        for ctx in sorted({r["ctx"] for r in dec}):
            g, s, sv = find("gqa", w, ctx), find("sigma", w, ctx), find("sigma", w, ctx, 100)
            if not g or not s:
                continue
            c16 = [c for c in calm if c["ctx"] == ctx and c["kv_bits"] == 16]
            c8 = [c for c in calm if c["ctx"] == ctx and c["kv_bits"] == 8]
            c16ms = min(c["ms_per_token"] for c in c16) if c16 else None
            c8ms = min(c["ms_per_token"] for c in c8) if c8 else None
            fmt = lambda v: f"{v:.3f}" if v else "-"
            print(f"| {w} | {ctx} | {g['ms_per_token']:.3f} | {s['ms_per_token']:.3f} | "
                  f"{g['ms_per_token'] / s['ms_per_token']:.2f}x | {fmt(sv and sv['ms_per_token'])} | "
                  f"{(g['ms_per_token'] / sv['ms_per_token']) if sv else 0:.2f}x | {fmt(c16ms)} | {fmt(c8ms)} | "
                  f"{(c16ms / g['ms_per_token']) if c16ms and w == 'F16' else 0:.2f}x |")
    bat = [r for r in ours if "ms_per_step" in r]
    if bat:
        print("\n| model | weights | batch | matrix products | ctx | selective V | ms/step | tokens/s (all sequences) | GB/s | % of copy roofline |")
        print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in bat:
            print(f"| {r['model'].split()[0]} | {r['weights']} | {r['batch']} | {r['batch_gemm']} | {r['ctx']} | "
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
                    print(f"| {w} | {b} | {ctx} | {g['tokens_per_s']:.0f} | {s['tokens_per_s']:.0f} | "
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
