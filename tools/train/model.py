"""Sigma (DiffQKV) model in PyTorch for training, written from /work/shared/SIGMA-GGUF.md.

Parameter names map 1:1 to the GGUF tensor names (state_dict key == GGUF name), and each
nn.Linear weight (out, in) is exactly the numpy-order array the GGUF stores (ne = [in, out]):
  token_embd.weight, blk.N.attn_norm.weight, blk.N.attn_q.weight, blk.N.attn_q_gate.weight,
  blk.N.attn_q_up.weight, blk.N.attn_q_down.weight, blk.N.attn_k.weight, blk.N.attn_v.weight,
  blk.N.attn_output.weight, blk.N.ffn_norm.weight, blk.N.ffn_gate.weight, blk.N.ffn_up.weight,
  blk.N.ffn_down.weight, output_norm.weight, output.weight (absent when tied).

Attention: query head h reads key head h // (n_q/n_k) and value head h // (n_q/n_v)
(contiguous groups, as repeat_interleave). F.scaled_dot_product_attention is used when
present (torch >= 2.0), a manual causal softmax otherwise (torch 1.13 on the CPU machine).

Selective V (eval only, forward(..., selective_v=k)): per query head and position, the
softmax runs over all keys, then only the k largest probabilities are summed with their V
rows and NOT renormalized -- exactly engine/src/forward.cpp CpuForward::attention.
"""

import json
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def _up(x):
    """bf16/f16 -> float32 for norms, RoPE and softmax; float32/float64 unchanged."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


@dataclass
class SigmaConfig:
    vocab: int = 16000
    ctx: int = 1024
    d_model: int = 512
    n_layer: int = 8
    d_ff: int = 1024
    n_q: int = 8
    n_k: int = 2
    n_v: int = 4
    d_qk: int = 64
    d_v: int = 64
    d_aug: int = 768          # 0 = no augmented Q
    rope_base: float = 50000.0
    eps: float = 1e-5
    tied: bool = True

    @staticmethod
    def from_dict(d):
        keys = SigmaConfig.__dataclass_fields__.keys()
        return SigmaConfig(**{k: v for k, v in d.items() if k in keys})

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = _up(x)
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.to(xf.dtype)).to(x.dtype)


def rope_tables(T, d_rot, base, device, offset=0):
    half = d_rot // 2
    i = torch.arange(half, dtype=torch.float64, device=device)
    inv = base ** (-2.0 * i / d_rot)
    pos = torch.arange(offset, offset + T, dtype=torch.float64, device=device)
    ang = pos[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)                      # (T, half), float64


def apply_rope(x, cos, sin):
    """x (B, H, T, E); rotate-half pairs (i, i + E/2); cos/sin (T, E/2)."""
    half = x.shape[-1] // 2
    a, b = _up(x[..., :half]), _up(x[..., half:])
    c, s = cos[None, None].to(a.dtype), sin[None, None].to(a.dtype)
    return torch.cat([a * c - b * s, a * s + b * c], dim=-1).to(x.dtype)


class Block(nn.Module):
    def __init__(self, c: SigmaConfig):
        super().__init__()
        self.c = c
        D, QK, KK, VV = c.d_model, c.n_q * c.d_qk, c.n_k * c.d_qk, c.n_v * c.d_v
        self.attn_norm = RMSNorm(D, c.eps)
        self.attn_q = nn.Linear(D, QK, bias=False)
        if c.d_aug > 0:
            self.attn_q_gate = nn.Linear(QK, c.d_aug, bias=False)
            self.attn_q_up = nn.Linear(QK, c.d_aug, bias=False)
            self.attn_q_down = nn.Linear(c.d_aug, QK, bias=False)
        self.attn_k = nn.Linear(D, KK, bias=False)
        self.attn_v = nn.Linear(D, VV, bias=False)
        self.attn_output = nn.Linear(c.n_q * c.d_v, D, bias=False)
        self.ffn_norm = RMSNorm(D, c.eps)
        self.ffn_gate = nn.Linear(D, c.d_ff, bias=False)
        self.ffn_up = nn.Linear(D, c.d_ff, bias=False)
        self.ffn_down = nn.Linear(c.d_ff, D, bias=False)

    def attention(self, q, k, v, selective_v=0):
        """q (B,Hq,T,Eqk), k (B,Hk,T,Eqk), v (B,Hv,T,Ev) -> (B,Hq,T,Ev), causal."""
        c = self.c
        k = k.repeat_interleave(c.n_q // c.n_k, dim=1)
        v = v.repeat_interleave(c.n_q // c.n_v, dim=1)
        if HAS_SDPA and not selective_v:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        T = q.shape[2]
        s = (_up(q) @ _up(k).transpose(-1, -2)) / math.sqrt(c.d_qk)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), diagonal=1)
        s = s.masked_fill(mask, float("-inf"))
        p = torch.softmax(s, dim=-1)
        if selective_v and selective_v < T:
            # keep the k largest probabilities per row (rows with <= k keys keep all of them);
            # masked (future) entries are 0 and never beat a real key's positive probability.
            kth = torch.topk(p, selective_v, dim=-1).values[..., -1:]
            p = torch.where(p >= kth, p, torch.zeros_like(p))
        return (p @ _up(v)).to(q.dtype)

    def forward(self, x, cos, sin, selective_v=0):
        c = self.c
        B, T, _ = x.shape
        a = self.attn_norm(x)
        q = self.attn_q(a)
        if c.d_aug > 0:
            q = self.attn_q_down(F.silu(self.attn_q_gate(q)) * self.attn_q_up(q))
        k = self.attn_k(a)
        v = self.attn_v(a)
        q = q.view(B, T, c.n_q, c.d_qk).transpose(1, 2)
        k = k.view(B, T, c.n_k, c.d_qk).transpose(1, 2)
        v = v.view(B, T, c.n_v, c.d_v).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        o = self.attention(q, k, v, selective_v)                    # (B, Hq, T, Ev)
        x = x + self.attn_output(o.transpose(1, 2).reshape(B, T, c.n_q * c.d_v))
        f = self.ffn_norm(x)
        return x + self.ffn_down(F.silu(self.ffn_gate(f)) * self.ffn_up(f))


class Sigma(nn.Module):
    def __init__(self, c: SigmaConfig):
        super().__init__()
        assert c.n_q % c.n_k == 0 and c.n_q % c.n_v == 0, "n_k and n_v must divide n_q"
        self.c = c
        self.token_embd = nn.Embedding(c.vocab, c.d_model)
        self.blk = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.output_norm = RMSNorm(c.d_model, c.eps)
        if not c.tied:
            self.output = nn.Linear(c.d_model, c.vocab, bias=False)
        self.reset_parameters()

    def reset_parameters(self, std=0.02):
        resid_std = std / math.sqrt(2 * self.c.n_layer)
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)
            elif name.endswith("attn_output.weight") or name.endswith("ffn_down.weight") \
                    or name.endswith("attn_q_down.weight"):
                nn.init.normal_(p, 0.0, resid_std)
            else:
                nn.init.normal_(p, 0.0, std)

    def out_weight(self):
        return self.token_embd.weight if self.c.tied else self.output.weight

    def hidden(self, ids, selective_v=0):
        T = ids.shape[1]
        cos, sin = rope_tables(T, self.c.d_qk, self.c.rope_base, ids.device)
        x = self.token_embd(ids)
        for b in self.blk:
            x = b(x, cos, sin, selective_v)
        return self.output_norm(x)

    def forward(self, ids, selective_v=0):
        """ids (B, T) -> logits (B, T, vocab)."""
        return F.linear(self.hidden(ids, selective_v), self.out_weight())

    def loss(self, ids, targets, mask=None, selective_v=0):
        """Mean cross entropy over positions (mask: 1 = counted). Returns (loss, n_counted)."""
        h = self.hidden(ids, selective_v)
        logits = F.linear(h, self.out_weight()).float()
        ce = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
        if mask is None:
            return ce.mean(), ce.numel()
        m = mask.reshape(-1).float()
        n = m.sum()
        return (ce * m).sum() / n.clamp(min=1), n


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def gguf_bytes_estimate(model, q8=True):
    """Bytes of tensor data in the GGUF: Q8_0 (34 bytes / 32 weights) for matrices, F32 norms."""
    total = 0
    for name, p in model.named_parameters():
        n = p.numel()
        total += 4 * n if p.dim() == 1 or not q8 else n // 32 * 34
    return total


def load_config(path):
    with open(path) as f:
        return SigmaConfig.from_dict(json.load(f))
