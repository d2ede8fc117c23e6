"""Make the golden model fixtures in tests/fixtures/models/ (deterministic).

For every fixture: a random tiny model (fixed seed) is written as GGUF with
gguf_io, read back, run through sigma_ref.forward_full on fixed token ids (the
reference sees the *dequantized* weights of that very file), and the float32
logits [n_tokens][n_vocab] are written beside it. manifest.json lists them all.
Each fixture is also self-checked: the incremental K/V-cache decode must match the
full causal pass within 1e-5.

Run (from the repo root, Debian python with torch):
    /usr/bin/python3 tools/ref/make_fixtures.py [--out tests/fixtures/models]
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import gguf_io as G  # noqa: E402
import sigma_ref  # noqa: E402

N_CTX = 64
EPS = 1e-5
N_TOKENS = 32
SELF_CHECK_TOL = 1e-5
TOLERANCE = {"F32": 1e-4, "F16": 2e-2, "BF16": 2e-2, "Q8_0": 2e-2}
FILE_TYPE = {"F32": 0, "F16": 1, "Q8_0": 7, "BF16": 32}   # llama_ftype, for general.file_type


# Each spec: name, arch, seed, sizes, weight_type. Sizes are small (the folder stays near 3 MB)
# but chosen so that d_model, n_q*d_qk and d_ff differ, so a transposed weight cannot pass a
# shape check; d_ff = 48 (not a multiple of 32) exercises kernel tails in the F32 models, while
# the augmented-Q model, also stored as Q8_0, keeps every row a multiple of 32.
SPECS = [
    dict(name="sigma_basic_f32", arch="sigma", seed=101, n_vocab=256, d_model=64, n_layer=2,
         d_ff=48, n_q=8, n_k=2, n_v=4, d_qk=16, d_v=16, d_aug=0, d_rot=None,
         freq_base=50000.0, tied=False, weight_type="F32",
         about="DiffQKV 8/2/4, d_qk = d_v = 16, no augmented Q, untied output"),
    dict(name="sigma_augq_f32", arch="sigma", seed=202, n_vocab=256, d_model=64, n_layer=2,
         d_ff=32, n_q=8, n_k=1, n_v=4, d_qk=16, d_v=32, d_aug=96, d_rot=None,
         freq_base=50000.0, tied=False, weight_type="F32",
         about="8/1/4, d_qk 16 != d_v 32, augmented Q (d_aug = 1.5*d_model), untied"),
    dict(name="sigma_tied_f32", arch="sigma", seed=303, n_vocab=320, d_model=64, n_layer=2,
         d_ff=48, n_q=6, n_k=2, n_v=3, d_qk=16, d_v=16, d_aug=0, d_rot=None,
         freq_base=50000.0, tied=True, weight_type="F32",
         about="6/2/3, tied output (no output.weight), vocab 320"),
    dict(name="sigma_gqa_f32", arch="sigma", seed=404, n_vocab=256, d_model=64, n_layer=3,
         d_ff=48, n_q=4, n_k=2, n_v=2, d_qk=24, d_v=24, d_aug=0, d_rot=None,
         freq_base=10000.0, tied=True, weight_type="F32",
         about="GQA special case 4/2/2 (n_k == n_v, d_qk == d_v = 24), 3 layers, tied"),
    dict(name="sigma_mha_f32", arch="sigma", seed=505, n_vocab=256, d_model=64, n_layer=2,
         d_ff=48, n_q=4, n_k=4, n_v=4, d_qk=20, d_v=20, d_aug=0, d_rot=None,
         freq_base=10000.0, tied=True, weight_type="F32",
         about="MHA special case 4/4/4, head size 20, tied"),
    dict(name="sigma_partial_rope_f32", arch="sigma", seed=606, n_vocab=256, d_model=64,
         n_layer=2, d_ff=48, n_q=4, n_k=1, n_v=2, d_qk=32, d_v=16, d_aug=0, d_rot=16,
         freq_base=10000.0, tied=True, weight_type="F32",
         about="4/1/2, d_qk 32, rope.dimension_count 16 (partial rotary), d_v 16, tied"),
    # The augmented-Q model again with the same weights, stored in other types.
    dict(name="sigma_augq_f16", base="sigma_augq_f32", weight_type="F16",
         about="sigma_augq_f32 weights stored as F16 (norms F32)"),
    dict(name="sigma_augq_bf16", base="sigma_augq_f32", weight_type="BF16",
         about="sigma_augq_f32 weights stored as BF16 (round to nearest even; norms F32)"),
    dict(name="sigma_augq_q8_0", base="sigma_augq_f32", weight_type="Q8_0",
         about="sigma_augq_f32 weights stored as Q8_0 (ggml reference quantizer; norms F32)"),
    dict(name="llama_f32", arch="llama", seed=707, n_vocab=256, d_model=64, n_layer=2,
         d_ff=48, n_q=4, n_k=2, n_v=2, d_qk=16, d_v=16, d_aug=0, d_rot=None,
         freq_base=10000.0, tied=False, weight_type="F32",
         about="llama arch, 4 heads / 2 kv heads, interleaved (NORM) RoPE, untied"),
    dict(name="qwen2_f32", arch="qwen2", seed=808, n_vocab=288, d_model=64, n_layer=2,
         d_ff=48, n_q=4, n_k=2, n_v=2, d_qk=16, d_v=16, d_aug=0, d_rot=None,
         freq_base=1000000.0, tied=True, weight_type="F32",
         about="qwen2 arch, 4/2 heads, Q/K/V bias, rotate-half (NEOX) RoPE, tied output"),
]


def random_weights(s):
    """Dict name -> float32 numpy array (numpy order = torch (out, in)), deterministic in seed.

    Scales: matrices ~N(0, 0.1) (Q and K 0.15 so attention is clearly non-uniform; the
    augmented-Q MLP 0.1 keeps scores O(1), so attention is not near-argmax and small
    weight/rounding differences are not amplified), embeddings 0.5 (0.1 when tied), norms
    1 + N(0, 0.1), biases N(0, 0.1); with d_model 64 this gives logits of std ~0.8.
    """
    rng = np.random.default_rng(s["seed"])
    D, V, F, A = s["d_model"], s["n_vocab"], s["d_ff"], s["d_aug"]
    QK, KK, VV, O = s["n_q"] * s["d_qk"], s["n_k"] * s["d_qk"], s["n_v"] * s["d_v"], s["n_q"] * s["d_v"]

    def mat(out, inp, std=0.1):
        return (rng.standard_normal((out, inp)) * std).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = {"token_embd.weight": mat(V, D, 0.1 if s["tied"] else 0.5)}
    for i in range(s["n_layer"]):
        b = "blk.%d." % i
        w[b + "attn_norm.weight"] = norm(D)
        w[b + "attn_q.weight"] = mat(QK, D, 0.15)
        if s["arch"] == "qwen2":
            w[b + "attn_q.bias"] = (0.1 * rng.standard_normal(QK)).astype(np.float32)
        if A:
            w[b + "attn_q_gate.weight"] = mat(A, QK)
            w[b + "attn_q_up.weight"] = mat(A, QK)
            w[b + "attn_q_down.weight"] = mat(QK, A)
        w[b + "attn_k.weight"] = mat(KK, D, 0.15)
        w[b + "attn_v.weight"] = mat(VV, D)
        if s["arch"] == "qwen2":
            w[b + "attn_k.bias"] = (0.1 * rng.standard_normal(KK)).astype(np.float32)
            w[b + "attn_v.bias"] = (0.1 * rng.standard_normal(VV)).astype(np.float32)
        w[b + "attn_output.weight"] = mat(D, O)
        w[b + "ffn_norm.weight"] = norm(D)
        w[b + "ffn_gate.weight"] = mat(F, D)
        w[b + "ffn_up.weight"] = mat(F, D)
        w[b + "ffn_down.weight"] = mat(D, F)
    w["output_norm.weight"] = norm(D)
    if not s["tied"]:
        w["output.weight"] = mat(V, D)
    return w


def metadata(s):
    a = s["arch"]
    m = {"general.architecture": G.string(a), "general.name": G.string(s["name"])}
    if a != "sigma":
        m["general.file_type"] = G.u32(FILE_TYPE[s["weight_type"]])
    p = a + "."
    m[p + "context_length"] = G.u32(N_CTX)
    m[p + "embedding_length"] = G.u32(s["d_model"])
    m[p + "block_count"] = G.u32(s["n_layer"])
    m[p + "feed_forward_length"] = G.u32(s["d_ff"])
    m[p + "attention.head_count"] = G.u32(s["n_q"])
    if a == "sigma":
        m[p + "attention.head_count_k"] = G.u32(s["n_k"])
        m[p + "attention.head_count_v"] = G.u32(s["n_v"])
    else:
        assert s["n_k"] == s["n_v"]
        m[p + "attention.head_count_kv"] = G.u32(s["n_k"])
    m[p + "attention.key_length"] = G.u32(s["d_qk"])
    m[p + "attention.value_length"] = G.u32(s["d_v"])
    if a == "sigma" and s["d_aug"]:
        m[p + "attention.augmented_q_length"] = G.u32(s["d_aug"])
    m[p + "attention.layer_norm_rms_epsilon"] = G.f32(EPS)
    m[p + "rope.freq_base"] = G.f32(s["freq_base"])
    if s["d_rot"] is not None or a != "sigma":
        m[p + "rope.dimension_count"] = G.u32(s["d_rot"] or s["d_qk"])
    if a != "sigma":
        m[p + "vocab_size"] = G.u32(s["n_vocab"])
    return m


def tensor_list(w, weight_type):
    """Norms and biases (1-D) stay F32; every matrix gets weight_type."""
    t = G.TYPE_BY_NAME[weight_type]
    return [(n, a, G.GGML_F32 if a.ndim == 1 else t) for n, a in w.items()]


def token_ids(s):
    rng = np.random.default_rng(10_000 + s["seed"])
    ids = rng.integers(0, s["n_vocab"], N_TOKENS)
    ids[3] = s["n_vocab"] - 1        # last vocab row
    ids[7] = 0
    ids[20] = ids[4]                 # a repeated token at another position
    return [int(i) for i in ids]


def resolve(spec):
    if "base" not in spec:
        return dict(spec)
    base = next(x for x in SPECS if x["name"] == spec["base"])
    s = dict(base)
    s.update(spec)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/models")
    ap.add_argument("--only", nargs="*", help="names to make (default all); manifest lists only these")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest, worst = [], 0.0
    for spec in SPECS:
        s = resolve(spec)
        if args.only and s["name"] not in args.only:
            continue
        gguf_name, logits_name = s["name"] + ".gguf", s["name"] + ".logits.bin"
        G.write_gguf(os.path.join(args.out, gguf_name), metadata(s),
                     tensor_list(random_weights(s), s["weight_type"]))
        model = sigma_ref.Model(os.path.join(args.out, gguf_name))
        ids = token_ids(s)
        logits = sigma_ref.forward_full(model, ids).numpy()
        sigma_ref.write_logits(os.path.join(args.out, logits_name), logits)
        diff = sigma_ref.self_check(model, ids)
        worst = max(worst, diff)
        status = "ok" if diff <= SELF_CHECK_TOL else "FAIL"
        print("%-24s %-5s %-4s logits std %.3f  full vs incremental max|diff| %.2e %s"
              % (s["name"], s["arch"], s["weight_type"], logits.std(), diff, status))
        manifest.append(dict(name=s["name"], gguf=gguf_name, logits=logits_name, tokens=ids,
                             n_vocab=s["n_vocab"], tolerance=TOLERANCE[s["weight_type"]],
                             arch=s["arch"], weight_type=s["weight_type"], about=s["about"]))
    with open(os.path.join(args.out, "manifest.json"), "w") as f:   # one fixture per line
        f.write("[\n" + ",\n".join(json.dumps(e) for e in manifest) + "\n]\n")
    print("self-check worst max|diff| = %.2e (limit %.0e)" % (worst, SELF_CHECK_TOL))
    if worst > SELF_CHECK_TOL:
        sys.exit(1)


if __name__ == "__main__":
    main()
