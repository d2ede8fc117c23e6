"""Local check of hf_to_gguf.py without transformers (Debian torch 1.13 has none).

A hand-written forward in Hugging Face's convention (Llama/Qwen2 modeling code:
rotate_half on the *unpermuted* q/k weights, cos/sin = cat(freqs, freqs), repeat_kv,
q/k/v biases for qwen2) runs on a random state dict with HF key names. The same
state dict goes through hf_to_gguf.convert, and sigma_ref (llama mode: interleaved
RoPE on permuted weights; qwen2 mode: rotate-half, no permutation) must give the
same logits. A negative control converts llama without the permutation and must
disagree, which shows the comparison can see a wrong pairing.

Run: /usr/bin/python3 tools/ref/test_hf_convert.py     (exit 0 = passed)
"""

import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import hf_to_gguf  # noqa: E402
import sigma_ref  # noqa: E402


def random_state_dict(cfg, bias, seed):
    rng = np.random.default_rng(seed)
    D, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = D // H

    def m(o, i, s=0.12):
        return rng.standard_normal((o, i)) * s

    sd = {"model.embed_tokens.weight": m(V, D, 0.3)}
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        sd[p + "self_attn.q_proj.weight"] = m(H * hd, D, 0.2)
        sd[p + "self_attn.k_proj.weight"] = m(Hkv * hd, D, 0.2)
        sd[p + "self_attn.v_proj.weight"] = m(Hkv * hd, D)
        if bias:
            sd[p + "self_attn.q_proj.bias"] = rng.standard_normal(H * hd) * 0.3
            sd[p + "self_attn.k_proj.bias"] = rng.standard_normal(Hkv * hd) * 0.3
            sd[p + "self_attn.v_proj.bias"] = rng.standard_normal(Hkv * hd) * 0.3
        sd[p + "self_attn.o_proj.weight"] = m(D, H * hd)
        sd[p + "mlp.gate_proj.weight"] = m(F, D)
        sd[p + "mlp.up_proj.weight"] = m(F, D)
        sd[p + "mlp.down_proj.weight"] = m(D, F)
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(D)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(D)
    sd["model.norm.weight"] = 1 + 0.1 * rng.standard_normal(D)
    if not cfg["tie_word_embeddings"]:
        sd["lm_head.weight"] = m(V, D)
    return {k: v.astype(np.float32) for k, v in sd.items()}


def hf_forward(cfg, sd, ids):
    """Float64 forward in HF's convention (LlamaForCausalLM / Qwen2ForCausalLM, eager)."""
    W = {k: torch.from_numpy(v.astype(np.float64)) for k, v in sd.items()}
    D, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, T = cfg.get("head_dim") or D // H, cfg["rms_norm_eps"], len(ids)

    def norm(x, w):
        return w * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    inv_freq = 1.0 / (hf_to_gguf.rope_theta(cfg) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos()[None], emb.sin()[None]                       # (1, T, hd)

    def rotate_half(x):
        return torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], dim=-1)

    def lin(x, name):
        y = x @ W[name + ".weight"].T
        return y + W[name + ".bias"] if name + ".bias" in W else y

    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = norm(x, W[p + "input_layernorm.weight"])
        q = lin(h, p + "self_attn.q_proj").view(T, H, hd).transpose(0, 1)      # (H, T, hd)
        k = lin(h, p + "self_attn.k_proj").view(T, Hkv, hd).transpose(0, 1)
        v = lin(h, p + "self_attn.v_proj").view(T, Hkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=0)                                  # repeat_kv
        v = v.repeat_interleave(H // Hkv, dim=0)
        a = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, dim=-1) @ v
        x = x + lin(a.transpose(0, 1).reshape(T, H * hd), p + "self_attn.o_proj")
        h = norm(x, W[p + "post_attention_layernorm.weight"])
        g = lin(h, p + "mlp.gate_proj")
        x = x + lin(torch.nn.functional.silu(g) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = norm(x, W["model.norm.weight"])
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def main():
    ids = [5, 200, 17, 17, 99, 0, 255, 31, 64, 128, 3, 77, 150, 9, 42, 230,
           11, 60, 199, 7, 81, 140, 33, 250, 1, 2]
    base = dict(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                max_position_embeddings=64)
    cases = [("llama", dict(base, rope_theta=10000.0, tie_word_embeddings=False), False),
             ("qwen2", dict(base, rope_parameters={"rope_type": "default", "rope_theta": 1e6},
                            tie_word_embeddings=True), True),
             ("llama", dict(base, num_key_value_heads=4, rope_theta=500000.0,
                            tie_word_embeddings=True), False)]
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for i, (arch, cfg, bias) in enumerate(cases):
            sd = random_state_dict(cfg, bias, 1000 + i)
            want = hf_forward(cfg, sd, ids)
            path = os.path.join(d, "m%d.gguf" % i)
            hf_to_gguf.convert(arch, cfg, sd, path, "t")
            model = sigma_ref.Model(path)
            got = sigma_ref.forward_full(model, ids)
            diff = float((got - want).abs().max())
            inc = sigma_ref.self_check(model, ids)
            good = diff < 1e-9 and inc < 1e-9
            ok &= good
            print("%-5s H/Hkv %d/%d tied=%d: ref vs HF-convention max|diff| %.2e, full vs incremental %.2e %s"
                  % (arch, cfg["num_attention_heads"], cfg["num_key_value_heads"],
                     cfg["tie_word_embeddings"], diff, inc, "ok" if good else "FAIL"))
            if arch == "llama":   # negative control: no permutation must be caught
                saved = hf_to_gguf.permute_rows
                hf_to_gguf.permute_rows = lambda w, n: w
                try:
                    hf_to_gguf.convert(arch, cfg, sd, path, "t")
                finally:
                    hf_to_gguf.permute_rows = saved
                bad = float((sigma_ref.forward_full(sigma_ref.Model(path), ids) - want).abs().max())
                caught = bad > 1e-3
                ok &= caught
                print("      negative control (llama without permutation): max|diff| %.2e %s"
                      % (bad, "caught" if caught else "NOT CAUGHT"))
    print("hf_to_gguf local check %s" % ("passed" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
