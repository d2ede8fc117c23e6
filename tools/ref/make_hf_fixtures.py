"""Make the transformers-anchored fixtures (run on the GPU machine, which has transformers).

Builds a LlamaForCausalLM and a Qwen2ForCausalLM from tiny configs with random weights
(fixed seed, float32, CPU, eager attention), saves transformers' own float32 logits for
fixed token ids, converts each model with hf_to_gguf.py (llama.cpp conventions: q/k
permutation for llama, biases kept for qwen2) and writes a manifest. As a cross-check it
runs sigma_ref on the converted GGUF and compares with transformers' logits in float32
and in float64; a mismatch exits 1 (files are still written, with the report).

Usage (repo root):  python3 tools/ref/make_hf_fixtures.py OUT_DIR
Writes 6 files into OUT_DIR: {llama,qwen2}_hf_f32.gguf, {llama,qwen2}_hf_f32.logits.bin,
manifest_hf.json, hf_report.txt. Copy the first five into tests/fixtures/models/.
"""

import inspect
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_to_gguf  # noqa: E402
import sigma_ref  # noqa: E402

# vocab 384 rather than 512 keeps tests/fixtures/models/ small; ids cover 0 and the last row.
TOKENS = [1, 17, 300, 42, 383, 0, 8, 8, 129, 64, 255, 256, 371, 77, 3, 201,
          222, 13, 90, 350, 2, 333, 128, 19, 260, 7, 365, 44, 100, 299, 31, 6]
TOL_REF_VS_HF32 = 1e-4     # float64 reference vs transformers float32 logits
TOL_REF_VS_HF64 = 2e-5     # vs transformers in float64 (HF still builds cos/sin in float32)

SPECS = [
    dict(name="llama_hf_f32", arch="llama", seed=1234, tied=False, theta=10000.0, head_dim=16),
    dict(name="qwen2_hf_f32", arch="qwen2", seed=5678, tied=True, theta=1000000.0, head_dim=None),
]
COMMON = dict(vocab_size=384, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
              max_position_embeddings=64)


def make_config(cls, spec):
    kw = dict(COMMON, tie_word_embeddings=spec["tied"])
    if spec["head_dim"]:
        kw["head_dim"] = spec["head_dim"]
    if "rope_parameters" in inspect.signature(cls.__init__).parameters:   # transformers >= 5
        kw["rope_parameters"] = {"rope_type": "default", "rope_theta": spec["theta"]}
    else:
        kw["rope_theta"] = spec["theta"]
    cfg = cls(**kw)
    try:
        cfg._attn_implementation = "eager"
    except Exception:
        pass
    return cfg


def config_dict(cfg, spec):
    """The config.json fields hf_to_gguf needs, read back from the live config."""
    d = cfg.to_dict()
    got_theta = hf_to_gguf.rope_theta(d)
    if got_theta != spec["theta"]:
        raise RuntimeError("config kept rope theta %r, wanted %r" % (got_theta, spec["theta"]))
    if (d.get("rope_parameters") or {}).get("rope_type", "default") != "default" or d.get("rope_scaling"):
        raise RuntimeError("unexpected rope scaling in config: %r" % d.get("rope_parameters"))
    d["tie_word_embeddings"] = spec["tied"]     # verified against the live model in main()
    return d


def randomize(model, spec):
    """Deterministic re-init: matrices N(0, 0.1) (q/k 0.15), embeddings 0.5 (0.1 if tied),
    norms 1 + N(0, 0.1), biases N(0, 0.1); logits come out O(1)."""
    g = torch.Generator().manual_seed(spec["seed"])
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if name.endswith("norm.weight"):
                v = 1 + 0.1 * r
            elif name.endswith(".bias"):
                v = 0.1 * r
            elif "embed_tokens" in name:
                v = (0.1 if spec["tied"] else 0.5) * r
            elif "q_proj" in name or "k_proj" in name:
                v = 0.15 * r
            else:
                v = 0.1 * r
            p.copy_(v)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    classes = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM)}
    torch.manual_seed(0)
    report, manifest, ok = [], [], True
    report.append("torch %s, transformers %s, numpy %s"
                  % (torch.__version__, transformers.__version__, np.__version__))
    for spec in SPECS:
        cfg_cls, model_cls = classes[spec["arch"]]
        cfg = make_config(cfg_cls, spec)
        model = model_cls(cfg).to(torch.float32).eval()
        randomize(model, spec)
        emb, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
        if (emb.data_ptr() == head.data_ptr()) != spec["tied"]:
            raise RuntimeError("%s: tie_word_embeddings not honoured" % spec["name"])
        ids = torch.tensor([TOKENS])
        with torch.no_grad():
            logits32 = model(ids).logits[0].float().numpy()
            logits64 = model.to(torch.float64)(ids).logits[0].numpy()
        model.to(torch.float32)
        sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        gguf_name, logits_name = spec["name"] + ".gguf", spec["name"] + ".logits.bin"
        names = hf_to_gguf.convert(spec["arch"], config_dict(cfg, spec), sd,
                                   os.path.join(out, gguf_name), spec["name"])
        np.asarray(logits32, dtype="<f4").tofile(os.path.join(out, logits_name))
        ref_model = sigma_ref.Model(os.path.join(out, gguf_name))
        ref = sigma_ref.forward_full(ref_model, TOKENS).numpy()
        d32, d64 = float(np.abs(ref - logits32).max()), float(np.abs(ref - logits64).max())
        inc = sigma_ref.self_check(ref_model, TOKENS)
        good = d32 <= TOL_REF_VS_HF32 and d64 <= TOL_REF_VS_HF64 and inc <= 1e-5
        ok &= good
        report.append("%s: %d tensors, logits std %.3f; sigma_ref vs HF fp32 max|diff| %.2e, "
                      "vs HF fp64 %.2e, ref full vs incremental %.2e -> %s"
                      % (spec["name"], len(names), logits32.std(), d32, d64, inc,
                         "ok" if good else "MISMATCH"))
        manifest.append(dict(
            name=spec["name"], gguf=gguf_name, logits=logits_name, tokens=TOKENS,
            n_vocab=COMMON["vocab_size"], tolerance=1e-4, arch=spec["arch"], weight_type="F32",
            about="%s from transformers %s (random weights, seed %d, %s), converted by "
                  "tools/ref/hf_to_gguf.py; logits are transformers' own float32 output"
                  % (model_cls.__name__, transformers.__version__, spec["seed"],
                     "tied" if spec["tied"] else "untied")))
    with open(os.path.join(out, "manifest_hf.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(e) for e in manifest) + "\n]\n")
    report.append("overall: %s" % ("ok" if ok else "MISMATCH"))
    with open(os.path.join(out, "hf_report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
