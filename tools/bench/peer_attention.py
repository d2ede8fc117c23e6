#!/usr/bin/env python3
"""Peer timings for DiffQKV decode attention: PyTorch scaled_dot_product_attention(q, k, v,
enable_gqa=True) on the GQA twin of Sigma-1.5B (32 query heads, 16 KV heads, d 64, bf16), one
query token, under sdpa_kernel(FLASH_ATTENTION) and (CUDNN_ATTENTION), as BASELINES.md measured.

Same protocol as bench/bench_attention.cu: CUDA events around 50 calls after 5 warm-ups (mean per
call; also the same calls captured in a CUDA graph, us_graph), K/V rotated over several copies (>= 256 MiB in all) so small problems don't sit in L2,
and the copy bandwidth (y.copy_(x) of 1 GiB, bytes read + written) measured in the same run.
Prints one JSON object per line. Usage: peer_attention.py [--quick] [--iters N]
"""
import argparse
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def copy_bandwidth():
    x = torch.empty(1 << 29, dtype=torch.int16, device="cuda").fill_(1)  # 1 GiB
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    n = 10
    e0.record()
    for _ in range(n):
        y.copy_(x)
    e1.record()
    e1.synchronize()
    return 2 * x.numel() * 2 * n / (e0.elapsed_time(e1) * 1e-3)


def measure(backend, batch, ctx, n_q=32, n_kv=16, d=64, warmup=5, iters=50):
    set_bytes = 2 * batch * n_kv * ctx * d * 2
    n_sets = max(1, min(64, (256 << 20) // set_bytes + 1))
    q = torch.randn(batch, n_q, 1, d, device="cuda", dtype=torch.bfloat16)
    ks = [torch.randn(batch, n_kv, ctx, d, device="cuda", dtype=torch.bfloat16) for _ in range(n_sets)]
    vs = [torch.randn(batch, n_kv, ctx, d, device="cuda", dtype=torch.bfloat16) for _ in range(n_sets)]
    with sdpa_kernel(backend):
        for i in range(warmup):
            F.scaled_dot_product_attention(q, ks[i % n_sets], vs[i % n_sets], enable_gqa=True)
        torch.cuda.synchronize()
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        for i in range(iters):
            F.scaled_dot_product_attention(q, ks[i % n_sets], vs[i % n_sets], enable_gqa=True)
        e1.record()
        e1.synchronize()
    us = e0.elapsed_time(e1) * 1e3 / iters
    us_graph = None
    try:  # the same calls captured in a CUDA graph: no host/framework launch cost
        with sdpa_kernel(backend):
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for i in range(3):
                    F.scaled_dot_product_attention(q, ks[i % n_sets], vs[i % n_sets], enable_gqa=True)
            torch.cuda.current_stream().wait_stream(s)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for i in range(iters):
                    F.scaled_dot_product_attention(q, ks[i % n_sets], vs[i % n_sets], enable_gqa=True)
            graph.replay()
            torch.cuda.synchronize()
            e0.record()
            graph.replay()
            e1.record()
            e1.synchronize()
            us_graph = e0.elapsed_time(e1) * 1e3 / iters
            del graph
    except Exception as e:  # noqa: BLE001 - a backend may refuse capture; keep the stream timing
        print(json.dumps({"kind": "note", "graph_error": str(e)[:200]}), file=sys.stderr)
    bytes_ = set_bytes + 2 * batch * n_q * d * 2
    del ks, vs
    torch.cuda.empty_cache()
    return us, us_graph, bytes_


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "no GPU"}))
        return 0
    bw = copy_bandwidth()
    print(json.dumps({"kind": "device", "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                      "copy_GBps": round(bw / 1e9, 1)}), flush=True)
    ctxs = [4096, 32768] if args.quick else [2048, 4096, 16384, 32768, 65536, 131072]
    batches = [1] if args.quick else [1, 8]
    for batch in batches:
        for ctx in ctxs:
            for name, backend in (("fa2", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    us, ug, b = measure(backend, batch, ctx, iters=args.iters)
                    rec = {"kind": "peer", "peer": name, "variant": "gqa", "batch": batch, "ctx": ctx,
                           "us": round(us, 2), "us_graph": round(ug, 2) if ug else None, "bytes": b, "GBps": round(b / (us * 1e-6) / 1e9, 1),
                           "pct_copy_bw": round(100 * b / (us * 1e-6) / bw, 1)}
                except Exception as e:  # a backend may refuse a shape: record it, keep going
                    rec = {"kind": "peer", "peer": name, "batch": batch, "ctx": ctx, "error": str(e)[:300]}
                print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
