"""Reference forward pass for Sigma (DiffQKV), llama and qwen2 GGUF files.

Purpose: golden logits for the engine tests. Written straight from
/work/shared/SIGMA-GGUF.md section 2 in float64 PyTorch, reading weights through
tools/ref/gguf_io.py (dequantized to float), so it shares no code with the C++
engine or with llama.cpp. Tuned for clarity on tiny models, not speed.

Two independent computations are offered:
  forward_full(model, ids)        whole sequence at once, causal mask
  forward_incremental(model, ids) one position at a time with an explicit K/V cache
Both must agree (see self_check); fixtures are made with forward_full.

Architectures:
  sigma  n_q/n_k/n_v, d_qk != d_v, optional augmented Q, RoPE rotate-half (NEOX pairing
         i, i+d_rot/2) on the first d_rot dims of each head, no weight permutation.
  llama  n_k == n_v = head_count_kv, RoPE interleaved pairing (2i, 2i+1), as
         llama.cpp's LLAMA_ROPE_TYPE_NORM (q/k weights in the file are already permuted).
  qwen2  like llama but RoPE rotate-half (LLAMA_ROPE_TYPE_NEOX) and Q/K/V biases.

Dimension letters: T tokens, D d_model, V vocab, F d_ff, A d_aug,
Hq/Hk/Hv head counts, Eqk/Ev head sizes, R d_rot.

CLI: python3 tools/ref/sigma_ref.py model.gguf 1 2 3 ...   prints logits stats and
     the self-check; --out logits.bin writes float32 [T][V].
"""

import argparse
import math
import sys
from dataclasses import dataclass

import numpy as np
import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
import gguf_io  # noqa: E402

DTYPE = torch.float64
ROPE_NEOX, ROPE_NORM = "neox", "norm"


@dataclass
class HParams:
    arch: str
    n_vocab: int
    n_ctx: int
    d_model: int
    n_layer: int
    d_ff: int
    n_q: int
    n_k: int
    n_v: int
    d_qk: int
    d_v: int
    d_aug: int          # 0 = no augmented Q
    d_rot: int          # rotated dims per head (<= d_qk)
    freq_base: float
    eps: float
    rope_mode: str      # ROPE_NEOX or ROPE_NORM
    has_qkv_bias: bool


def _req(g, key):
    if key not in g.metadata:
        raise gguf_io.GGUFError("%s: loading hyperparameters: key %s missing" % (g.path, key))
    return g.metadata[key]


def read_hparams(g):
    arch = _req(g, "general.architecture")
    p = arch + "."
    d_model = int(_req(g, p + "embedding_length"))
    n_q = int(_req(g, p + "attention.head_count"))
    if arch == "sigma":
        n_k = int(_req(g, p + "attention.head_count_k"))
        n_v = int(_req(g, p + "attention.head_count_v"))
        d_qk = int(_req(g, p + "attention.key_length"))
        d_v = int(_req(g, p + "attention.value_length"))
        d_aug = int(g.get(p + "attention.augmented_q_length", 0))
        rope_mode, bias = ROPE_NEOX, False
    elif arch in ("llama", "qwen2"):
        n_k = n_v = int(g.get(p + "attention.head_count_kv", n_q))
        d_qk = int(g.get(p + "attention.key_length", d_model // n_q))
        d_v = int(g.get(p + "attention.value_length", d_model // n_q))
        d_aug = 0
        rope_mode = ROPE_NORM if arch == "llama" else ROPE_NEOX
        bias = arch == "qwen2"
    else:
        raise gguf_io.GGUFError("%s: architecture %r not handled by the reference" % (g.path, arch))
    token_embd = g.tensors["token_embd.weight"]
    hp = HParams(
        arch=arch, n_vocab=token_embd.ne[1], n_ctx=int(_req(g, p + "context_length")),
        d_model=d_model, n_layer=int(_req(g, p + "block_count")),
        d_ff=int(_req(g, p + "feed_forward_length")), n_q=n_q, n_k=n_k, n_v=n_v,
        d_qk=d_qk, d_v=d_v, d_aug=d_aug,
        d_rot=int(g.get(p + "rope.dimension_count", d_qk)),
        freq_base=float(g.get(p + "rope.freq_base", 10000.0)),
        eps=float(_req(g, p + "attention.layer_norm_rms_epsilon")),
        rope_mode=rope_mode, has_qkv_bias=bias)
    if n_q % n_k or n_q % n_v:
        raise gguf_io.GGUFError("n_k=%d and n_v=%d must divide n_q=%d" % (n_k, n_v, n_q))
    if hp.d_rot > d_qk or hp.d_rot % 2:
        raise gguf_io.GGUFError("rope.dimension_count %d must be even and <= d_qk %d" % (hp.d_rot, d_qk))
    return hp


class Model:
    """hp + weights as float64 torch tensors in torch orientation (out, in)."""

    def __init__(self, path):
        g = gguf_io.read_gguf(path)
        self.path = path
        self.hp = hp = read_hparams(g)
        self.file = g

        def t(name, shape, optional=False):
            if name not in g.tensors:
                if optional: return None
                raise gguf_io.GGUFError("%s: tensor %s missing" % (path, name))
            w = torch.from_numpy(g.tensor(name).astype(np.float64))
            if tuple(w.shape) != tuple(shape):
                raise gguf_io.GGUFError("%s: tensor %s has numpy shape %s, expected %s"
                                        % (path, name, tuple(w.shape), tuple(shape)))
            return w

        D, V, F = hp.d_model, hp.n_vocab, hp.d_ff
        QK, KK, VV, A = hp.n_q * hp.d_qk, hp.n_k * hp.d_qk, hp.n_v * hp.d_v, hp.d_aug
        self.token_embd = t("token_embd.weight", (V, D))                # (V, D)
        self.output_norm = t("output_norm.weight", (D,))
        out = t("output.weight", (V, D), optional=True)
        self.output = out if out is not None else self.token_embd       # tied if absent
        self.tied = out is None
        self.layers = []
        for i in range(hp.n_layer):
            b = "blk.%d." % i
            L = dict(
                attn_norm=t(b + "attn_norm.weight", (D,)),
                wq=t(b + "attn_q.weight", (QK, D)),
                wk=t(b + "attn_k.weight", (KK, D)),
                wv=t(b + "attn_v.weight", (VV, D)),
                wo=t(b + "attn_output.weight", (D, hp.n_q * hp.d_v)),
                ffn_norm=t(b + "ffn_norm.weight", (D,)),
                w_gate=t(b + "ffn_gate.weight", (F, D)),
                w_up=t(b + "ffn_up.weight", (F, D)),
                w_down=t(b + "ffn_down.weight", (D, F)))
            if A > 0:
                L.update(wq_gate=t(b + "attn_q_gate.weight", (A, QK)),
                         wq_up=t(b + "attn_q_up.weight", (A, QK)),
                         wq_down=t(b + "attn_q_down.weight", (QK, A)))
            if hp.has_qkv_bias:
                L.update(bq=t(b + "attn_q.bias", (QK,)), bk=t(b + "attn_k.bias", (KK,)),
                         bv=t(b + "attn_v.bias", (VV,)))
            self.layers.append(L)


# ---------------------------------------------------------------------------
# Shared pieces

def rmsnorm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def silu(z):
    return z / (1.0 + torch.exp(-z))


def rope(x, pos, hp):
    """Rotate x (..., T, H, Eqk) at positions pos (T,). Only the first d_rot dims move.

    neox: pair (i, i + R/2); norm: pair (2i, 2i+1); angle pos * base^(-2i/R), i < R/2.
    """
    R = hp.d_rot
    half = R // 2
    i = torch.arange(half, dtype=DTYPE)
    inv_freq = hp.freq_base ** (-2.0 * i / R)                        # (R/2)
    ang = pos.to(DTYPE)[:, None] * inv_freq[None, :]                 # (T, R/2)
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]  # (T, 1, R/2)
    rot, keep = x[..., :R], x[..., R:]
    if hp.rope_mode == ROPE_NEOX:
        a, b = rot[..., :half], rot[..., half:]
        rot = torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    else:
        a, b = rot[..., 0::2], rot[..., 1::2]
        rot = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)
    return torch.cat([rot, keep], dim=-1)


def project_qkv(L, a, pos, hp):
    """a (T, D) normed input -> q (T, Hq, Eqk), k (T, Hk, Eqk), v (T, Hv, Ev), RoPE applied."""
    T = a.shape[0]
    q = a @ L["wq"].T                                                # (T, Hq*Eqk)
    k = a @ L["wk"].T                                                # (T, Hk*Eqk)
    v = a @ L["wv"].T                                                # (T, Hv*Ev)
    if hp.has_qkv_bias:
        q, k, v = q + L["bq"], k + L["bk"], v + L["bv"]
    if hp.d_aug > 0:
        q = (silu(q @ L["wq_gate"].T) * (q @ L["wq_up"].T)) @ L["wq_down"].T
    q = rope(q.view(T, hp.n_q, hp.d_qk), pos, hp)
    k = rope(k.view(T, hp.n_k, hp.d_qk), pos, hp)
    return q, k, v.view(T, hp.n_v, hp.d_v)


def ffn_and_residual(L, x, hp):
    f = rmsnorm(x, L["ffn_norm"], hp.eps)
    return x + (silu(f @ L["w_gate"].T) * (f @ L["w_up"].T)) @ L["w_down"].T


def head_logits(model, x):
    hp = model.hp
    return rmsnorm(x, model.output_norm, hp.eps) @ model.output.T     # (T, V)


# ---------------------------------------------------------------------------
# Path 1: whole sequence, causal mask, heads expanded by gather

def forward_full(model, ids):
    """ids: list of token ids -> logits (T, V) float64, every position."""
    hp = model.hp
    ids = torch.tensor(ids, dtype=torch.long)
    T = ids.shape[0]
    pos = torch.arange(T)
    x = model.token_embd[ids]                                        # (T, D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = future
    h = torch.arange(hp.n_q)
    k_of_q = h // (hp.n_q // hp.n_k)                                 # (Hq) key head per query head
    v_of_q = h // (hp.n_q // hp.n_v)                                 # (Hq) value head per query head
    for L in model.layers:
        a = rmsnorm(x, L["attn_norm"], hp.eps)
        q, k, v = project_qkv(L, a, pos, hp)
        kq = k[:, k_of_q, :]                                         # (T, Hq, Eqk)
        vq = v[:, v_of_q, :]                                         # (T, Hq, Ev)
        s = torch.einsum("thd,uhd->htu", q, kq) / math.sqrt(hp.d_qk)  # (Hq, T, T)
        s = s.masked_fill(mask, float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.einsum("htu,uhd->thd", p, vq)                      # (T, Hq, Ev)
        x = x + o.reshape(T, hp.n_q * hp.d_v) @ L["wo"].T
        x = ffn_and_residual(L, x, hp)
    return head_logits(model, x)


# ---------------------------------------------------------------------------
# Path 2: token by token with a K/V cache and explicit per-head loops

def forward_incremental(model, ids):
    """Same result as forward_full, computed one position at a time (decode loop)."""
    hp = model.hp
    cache_k = [[] for _ in model.layers]    # per layer: list over t of (Hk, Eqk)
    cache_v = [[] for _ in model.layers]    # per layer: list over t of (Hv, Ev)
    rows = []
    for p_i, tok in enumerate(ids):
        x = model.token_embd[tok][None, :]                           # (1, D)
        pos = torch.tensor([p_i])
        for l, L in enumerate(model.layers):
            a = rmsnorm(x, L["attn_norm"], hp.eps)
            q, k, v = project_qkv(L, a, pos, hp)
            cache_k[l].append(k[0])
            cache_v[l].append(v[0])
            K = torch.stack(cache_k[l])                              # (t+1, Hk, Eqk)
            Vc = torch.stack(cache_v[l])                             # (t+1, Hv, Ev)
            outs = []
            for h in range(hp.n_q):
                kh = K[:, h // (hp.n_q // hp.n_k), :]
                vh = Vc[:, h // (hp.n_q // hp.n_v), :]
                s = (kh @ q[0, h]) / math.sqrt(hp.d_qk)              # (t+1)
                s = torch.exp(s - s.max())
                outs.append((s / s.sum()) @ vh)                      # (Ev)
            x = x + torch.cat(outs)[None, :] @ L["wo"].T
            x = ffn_and_residual(L, x, hp)
        rows.append(head_logits(model, x)[0])
    return torch.stack(rows)


def self_check(model, ids):
    """Max abs difference between the two paths."""
    a = forward_full(model, ids)
    b = forward_incremental(model, ids)
    return float((a - b).abs().max())


def write_logits(path, logits):
    np.asarray(logits, dtype="<f4").tofile(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("ids", nargs="+", type=int)
    ap.add_argument("--out", help="write float32 logits [T][V] here")
    args = ap.parse_args()
    m = Model(args.gguf)
    logits = forward_full(m, args.ids)
    print("arch %s, %s" % (m.hp.arch, m.hp))
    print("logits shape %s, std %.4f, argmax %s" % (tuple(logits.shape), float(logits.std()),
                                                    logits.argmax(-1).tolist()))
    print("self-check full vs incremental: max |diff| = %.3g" % self_check(m, args.ids))
    if args.out:
        write_logits(args.out, logits.numpy())


if __name__ == "__main__":
    main()
