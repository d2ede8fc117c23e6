"""Check every fixture in a manifest against the reference, three ways.

1. reproducible: sigma_ref.forward_full on the GGUF gives the stored logits (<= 1e-6);
2. self-check: the incremental K/V-cache decode equals the full causal pass (<= 1e-5);
3. second formulation, where the shape allows it: GQA/MHA-shaped sigma files (n_k == n_v,
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
import sigma_ref  # noqa: E402
import test_hf_convert  # noqa: E402


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
            hf = as_hf(model)
            d_hf = None
            if hf:
                d_hf = float(np.abs(test_hf_convert.hf_forward(hf[0], hf[1], ids).numpy() - stored).max())
            good = d_repro <= 1e-6 and d_inc <= 1e-5 and (d_hf is None or d_hf <= 1e-6)
            # transformers' float32 logits are stored for *_hf_* fixtures: allow float32 noise.
            if "_hf_" in e["name"]:
                good = d_repro <= 1e-4 and d_inc <= 1e-5 and (d_hf is None or d_hf <= 1e-4)
            ok &= good
            print("%-24s stored vs ref %.1e | full vs incremental %.1e | HF-convention forward %s  %s"
                  % (e["name"], d_repro, d_inc, "%.1e" % d_hf if d_hf is not None else "  n/a  ",
                     "ok" if good else "FAIL"))
    print("all fixtures ok" if ok else "SOME FIXTURES FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
