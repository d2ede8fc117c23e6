"""Convert a Hugging Face Llama / Qwen2 state dict to GGUF the way llama.cpp's
convert_hf_to_gguf.py does for those architectures (F32 only, no tokenizer).

Purpose: fixtures that tie the engine's "llama" and "qwen2" paths to transformers'
own logits. Written from llama.cpp's documented conventions, not copied:
  - tensor names: model.embed_tokens -> token_embd, layers.N.input_layernorm -> blk.N.attn_norm,
    self_attn.{q,k,v,o}_proj -> attn_{q,k,v,output}, post_attention_layernorm -> ffn_norm,
    mlp.{gate,up,down}_proj -> ffn_{gate,up,down}, model.norm -> output_norm, lm_head -> output
    (dropped when tie_word_embeddings, as save_pretrained drops it);
  - llama: q_proj and k_proj rows are permuted from HF's rotate-half layout to the
    interleaved pairing that LLAMA_ROPE_TYPE_NORM expects:
        W.reshape(n_head, 2, head_dim/2, in).swapaxes(1, 2).reshape(W.shape)
    with n_head = num_attention_heads for q and num_key_value_heads for k;
  - qwen2: no permutation (NEOX rope = HF rotate-half), q/k/v biases kept as attn_*.bias.

Usable without transformers: config is a plain dict of config.json fields, the state
dict maps HF names to numpy arrays. make_hf_fixtures.py calls this on the GPU machine;
test_hf_convert.py checks it locally.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import gguf_io as G  # noqa: E402

HF_TO_GGUF_LAYER = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
HF_TO_GGUF_GLOBAL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def permute_rows(w, n_head):
    """HF rotate-half row order -> interleaved (llama.cpp LlamaModel.permute).

    w: (n_head*head_dim, in) or (n_head*head_dim,). Within each head, HF rows
    [0..h/2) and [h/2..h) become rows 0,2,4,... and 1,3,5,...
    """
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
             .swapaxes(1, 2)
             .reshape(w.shape))


def rope_theta(cfg):
    """rope_theta from a config dict, old style (rope_theta) or transformers 5 (rope_parameters)."""
    rp = cfg.get("rope_parameters") or {}
    if "rope_theta" in rp:
        return float(rp["rope_theta"])
    return float(cfg.get("rope_theta", 10000.0))


def convert(arch, cfg, state_dict, out_path, name):
    """Write out_path (GGUF, F32). arch: "llama" or "qwen2"; cfg: config.json fields;
    state_dict: HF name -> numpy array (any float dtype). Returns the GGUF tensor names."""
    if arch not in ("llama", "qwen2"):
        raise ValueError("arch must be llama or qwen2")
    n_head = int(cfg["num_attention_heads"])
    n_head_kv = int(cfg.get("num_key_value_heads") or n_head)
    d_model = int(cfg["hidden_size"])
    head_dim = int(cfg.get("head_dim") or d_model // n_head)
    tied = bool(cfg.get("tie_word_embeddings", False))
    p = arch + "."
    meta = {
        "general.architecture": G.string(arch),
        "general.name": G.string(name),
        "general.file_type": G.u32(0),                       # ALL_F32
        p + "vocab_size": G.u32(cfg["vocab_size"]),
        p + "context_length": G.u32(cfg["max_position_embeddings"]),
        p + "embedding_length": G.u32(d_model),
        p + "block_count": G.u32(cfg["num_hidden_layers"]),
        p + "feed_forward_length": G.u32(cfg["intermediate_size"]),
        p + "attention.head_count": G.u32(n_head),
        p + "attention.head_count_kv": G.u32(n_head_kv),
        p + "rope.freq_base": G.f32(rope_theta(cfg)),
        p + "attention.layer_norm_rms_epsilon": G.f32(cfg["rms_norm_eps"]),
        p + "attention.key_length": G.u32(head_dim),
        p + "attention.value_length": G.u32(head_dim),
    }
    if arch == "llama":
        meta[p + "rope.dimension_count"] = G.u32(head_dim)
    tensors = []
    for hf_name, w in state_dict.items():
        w = np.asarray(w, dtype=np.float32)
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        if hf_name == "lm_head.weight" and tied:
            continue
        if hf_name in HF_TO_GGUF_GLOBAL:
            gg = HF_TO_GGUF_GLOBAL[hf_name]
        else:
            parts = hf_name.split(".")
            if parts[:2] != ["model", "layers"]:
                raise ValueError("unexpected tensor %s" % hf_name)
            rest = ".".join(parts[3:])
            if rest not in HF_TO_GGUF_LAYER:
                raise ValueError("unexpected tensor %s" % hf_name)
            gg = "blk.%s.%s" % (parts[2], HF_TO_GGUF_LAYER[rest])
            if arch == "llama" and rest.startswith("self_attn.q_proj"):
                w = permute_rows(w, n_head)
            elif arch == "llama" and rest.startswith("self_attn.k_proj"):
                w = permute_rows(w, n_head_kv)
        tensors.append((gg, w, G.GGML_F32))
    G.write_gguf(out_path, meta, tensors)
    return [t[0] for t in tensors]
