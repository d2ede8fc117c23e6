"""Check every fixture in a manifest against the reference, three ways.

1. reproducible: sigma_ref.forward_full on the GGUF gives the stored logits (<= 1e-6);
2. self-check: the incremental K/V-cache decode equals the full causal pass (<= 1e-5);
3. a second implementation for every file: numpy_forward below, plain numpy float64 with
   its own metadata reading, one token at a time, RoPE as complex multiplication
   (<= 1e-6 against sigma_ref in float64); it shares no helper with sigma_ref;
4. a third formulation where the shape allows it: GQA/MHA-shaped sigma files (n_k == n_v,
   d_qk == d_v, no augmented Q, full rotary), qwen2 files and llama files (q/k rows
   un-permuted back to HF order) are also run through test_hf_convert.hf_forward, a
   forward written in Hugging Face's convention (<= 1e-6 against the stored logits).

Run: /usr/bin/python3 tools/ref/check_fixtures.py [tests/fixtures/models/manifest.json ...]
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import gguf_io  # noqa: E402
import sigma_ref  # noqa: E402
import test_hf_convert  # noqa: E402


def numpy_forward(path, ids):
    """Independent numpy float64 forward (SIGMA-GGUF.md section 2), token by token."""
    g = gguf_io.read_gguf(path)
    arch = g.metadata["general.architecture"]
    md = {k[len(arch) + 1:]: v for k, v in g.metadata.items() if k.startswith(arch + ".")}
    W = {n: g.tensor(n).astype(np.float64) for n in g.tensors}
    n_q = md["attention.head_count"]
    n_k = md.get("attention.head_count_k", md.get("attention.head_count_kv", n_q))
    n_v = md.get("attention.head_count_v", md.get("attention.head_count_kv", n_q))
    e_qk = md.get("attention.key_length", md["embedding_length"] // n_q)
    e_v = md.get("attention.value_length", md["embedding_length"] // n_q)
    n_rot = md.get("rope.dimension_count", e_qk)
    base, eps = md.get("rope.freq_base", 10000.0), md["attention.layer_norm_rms_epsilon"]
    interleaved = arch == "llama"

    def rms(x, w):
        return x / np.sqrt(np.mean(x * x) + eps) * w

    def rope_head(v, pos):
        v = v.copy()
        if interleaved:
            z = v[0:n_rot:2] + 1j * v[1:n_rot:2]
        else:
            z = v[:n_rot // 2] + 1j * v[n_rot // 2:n_rot]
        z = z * np.exp(1j * pos * base ** (-np.arange(0, n_rot, 2) / n_rot))
        if interleaved:
            v[0:n_rot:2], v[1:n_rot:2] = z.real, z.imag
        else:
            v[:n_rot // 2], v[n_rot // 2:n_rot] = z.real, z.imag
        return v

    n_layer = md["block_count"]
    keys = [[] for _ in range(n_layer)]
    vals = [[] for _ in range(n_layer)]
    out = W.get("output.weight", W["token_embd.weight"])
    rows = []
    for pos, tok in enumerate(ids):
        x = W["token_embd.weight"][tok].copy()
        for l in range(n_layer):
            b = "blk.%d." % l
            a = rms(x, W[b + "attn_norm.weight"])
            q, k, v = W[b + "attn_q.weight"] @ a, W[b + "attn_k.weight"] @ a, W[b + "attn_v.weight"] @ a
            if b + "attn_q.bias" in W:
                q, k, v = q + W[b + "attn_q.bias"], k + W[b + "attn_k.bias"], v + W[b + "attn_v.bias"]
            if b + "attn_q_gate.weight" in W:
                gate = W[b + "attn_q_gate.weight"] @ q
                q = W[b + "attn_q_down.weight"] @ (gate / (1 + np.exp(-gate)) * (W[b + "attn_q_up.weight"] @ q))
            keys[l].append([rope_head(k[j * e_qk:(j + 1) * e_qk], pos) for j in range(n_k)])
            vals[l].append([v[j * e_v:(j + 1) * e_v] for j in range(n_v)])
            o = []
            for h in range(n_q):
                qh = rope_head(q[h * e_qk:(h + 1) * e_qk], pos)
                s = np.array([qh @ keys[l][t][h // (n_q // n_k)] for t in range(pos + 1)]) / np.sqrt(e_qk)
                p = np.exp(s - s.max())
                p /= p.sum()
                o.append(sum(p[t] * vals[l][t][h // (n_q // n_v)] for t in range(pos + 1)))
            x = x + W[b + "attn_output.weight"] @ np.concatenate(o)
            f = rms(x, W[b + "ffn_norm.weight"])
            gate = W[b + "ffn_gate.weight"] @ f
            x = x + W[b + "ffn_down.weight"] @ (gate / (1 + np.exp(-gate)) * (W[b + "ffn_up.weight"] @ f))
        rows.append(out @ rms(x, W["output_norm.weight"]))
    return np.array(rows)


def unpermute_rows(w, n_head):
    """Inverse of hf_to_gguf.permute_rows: interleaved -> rotate-half row order."""
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
             .swapaxes(1, 2)
             .reshape(w.shape))


def as_hf(model):
    """(cfg, state_dict) in HF naming for hf_forward, or None if the shape has no HF twin."""
    hp, g = model.hp, model.file
    if hp.d_aug or hp.n_k != hp.n_v or hp.d_qk != hp.d_v or hp.d_rot != hp.d_qk:
        return None
    cfg = dict(vocab_size=hp.n_vocab, hidden_size=hp.d_model, intermediate_size=hp.d_ff,
               num_hidden_layers=hp.n_layer, num_attention_heads=hp.n_q,
               num_key_value_heads=hp.n_k, head_dim=hp.d_qk, rms_norm_eps=hp.eps,
               rope_theta=hp.freq_base, tie_word_embeddings=model.tied)
    sd = {"model.embed_tokens.weight": g.tensor("token_embd.weight"),
          "model.norm.weight": g.tensor("output_norm.weight")}
    if not model.tied:
        sd["lm_head.weight"] = g.tensor("output.weight")
    names = dict(attn_norm="input_layernorm", ffn_norm="post_attention_layernorm",
                 attn_q="self_attn.q_proj", attn_k="self_attn.k_proj", attn_v="self_attn.v_proj",
                 attn_output="self_attn.o_proj", ffn_gate="mlp.gate_proj", ffn_up="mlp.up_proj",
                 ffn_down="mlp.down_proj")
    for name in g.tensors:
        if not name.startswith("blk."):
            continue
        _, i, base, kind = name.split(".")
        w = g.tensor(name)
        if hp.arch == "llama" and base in ("attn_q", "attn_k"):
            w = unpermute_rows(w, hp.n_q if base == "attn_q" else hp.n_k)
        sd["model.layers.%s.%s.%s" % (i, names[base], kind)] = w
    return cfg, sd


def main():
    paths = sys.argv[1:] or ["tests/fixtures/models/manifest.json"]
    ok = True
    for mpath in paths:
        folder = os.path.dirname(mpath)
        for e in json.load(open(mpath)):
            model = sigma_ref.Model(os.path.join(folder, e["gguf"]))
            ids = e["tokens"]
            stored = np.fromfile(os.path.join(folder, e["logits"]), dtype="<f4").reshape(len(ids), e["n_vocab"])
            full = sigma_ref.forward_full(model, ids).numpy()
            d_repro = float(np.abs(full - stored).max())
            d_inc = sigma_ref.self_check(model, ids)
            d_np = float(np.abs(numpy_forward(os.path.join(folder, e["gguf"]), ids) - full).max())
            hf = as_hf(model)
            d_hf = None
            if hf:
                d_hf = float(np.abs(test_hf_convert.hf_forward(hf[0], hf[1], ids).numpy() - stored).max())
            # transformers' float32 logits are stored for *_hf_* fixtures: allow float32 noise.
            tol = 1e-4 if "_hf_" in e["name"] else 1e-6
            good = d_repro <= tol and d_inc <= 1e-5 and d_np <= tol and (d_hf is None or d_hf <= tol)
            ok &= good
            print("%-24s stored vs ref %.1e | full vs incremental %.1e | numpy vs ref %.1e | HF-convention %s  %s"
                  % (e["name"], d_repro, d_inc, d_np, "%.1e" % d_hf if d_hf is not None else "  n/a  ",
                     "ok" if good else "FAIL"))
    print("all fixtures ok" if ok else "SOME FIXTURES FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
