#!/usr/bin/env python3
"""Write a Hugging Face-layout Llama directory (config.json, tokenizer.json, model.safetensors)
with random fp16 weights of the GQA twin of Sigma-1.5B, for calm's tools/convert.py.

Used only by tools/bench/calm_peer.sh on the GPU machine (calm is the end-to-end decode peer in
issue 4). The weights are drawn on the GPU (std 0.02, norms 1.0) so that a 1.8B model takes
seconds. The tokenizer is synthetic: the 256 byte tokens of GPT-2's byte-level alphabet plus
filler tokens up to the vocabulary size, no merges; calm only needs it to encode a one-word
prompt, and the benchmark decodes greedily from random weights.

usage: make_calm_model.py OUT_DIR [--layers 26] [--dim 2048] [--ffn 6144] [--heads 32]
                                  [--kv-heads 16] [--vocab 128256]
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file


def byte_alphabet():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=26)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--ffn", type=int, default=6144)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--max-pos", type=int, default=131072)
    a = ap.parse_args()
    if a.dim % a.heads or a.heads % a.kv_heads:
        sys.exit("make_calm_model: dim must divide by heads and heads by kv-heads")
    os.makedirs(a.out, exist_ok=True)
    hd = a.dim // a.heads
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": a.dim, "intermediate_size": a.ffn, "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "head_dim": hd,
        "vocab_size": a.vocab, "max_position_embeddings": a.max_pos, "bos_token_id": 1,
        "eos_token_id": 2, "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "hidden_act": "silu",
        "tie_word_embeddings": False, "torch_dtype": "float16",
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    alphabet = byte_alphabet()
    vocab = {}
    for i in range(a.vocab):
        vocab[alphabet[i] if i < 256 else f"<t{i}>"] = i
    tok = {"model": {"type": "BPE", "vocab": vocab, "merges": []}, "added_tokens": []}
    with open(os.path.join(a.out, "tokenizer.json"), "w") as f:
        json.dump(tok, f)

    g = torch.Generator(device="cuda").manual_seed(1234)

    def rnd(*shape):
        return (torch.randn(*shape, generator=g, device="cuda", dtype=torch.float32) * 0.02).half().cpu()

    w = {"model.embed_tokens.weight": rnd(a.vocab, a.dim), "lm_head.weight": rnd(a.vocab, a.dim),
         "model.norm.weight": torch.ones(a.dim, dtype=torch.float16)}
    for l in range(a.layers):
        p = f"model.layers.{l}."
        w[p + "self_attn.q_proj.weight"] = rnd(a.heads * hd, a.dim)
        w[p + "self_attn.k_proj.weight"] = rnd(a.kv_heads * hd, a.dim)
        w[p + "self_attn.v_proj.weight"] = rnd(a.kv_heads * hd, a.dim)
        w[p + "self_attn.o_proj.weight"] = rnd(a.dim, a.heads * hd)
        w[p + "mlp.gate_proj.weight"] = rnd(a.ffn, a.dim)
        w[p + "mlp.up_proj.weight"] = rnd(a.ffn, a.dim)
        w[p + "mlp.down_proj.weight"] = rnd(a.dim, a.ffn)
        w[p + "input_layernorm.weight"] = torch.ones(a.dim, dtype=torch.float16)
        w[p + "post_attention_layernorm.weight"] = torch.ones(a.dim, dtype=torch.float16)
    save_file(w, os.path.join(a.out, "model.safetensors"))
    n = sum(t.numel() for t in w.values())
    print(f"make_calm_model: {n / 1e9:.3f}B parameters, {2 * n / 1e9:.2f} GB fp16 in {a.out}")


if __name__ == "__main__":
    main()
