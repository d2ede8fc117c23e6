"""Write a trained Sigma model (tools/train/model.py) as a GGUF file for the engine.

  general.architecture "sigma", general.name, all sigma.* keys of SIGMA-GGUF.md section 3,
  tokenizer.ggml.model "llama" with tokens/scores/token_type read from the SentencePiece
  .model file (types: normal 1, unknown 2, control 3, user-defined 4, unused 5, byte 6),
  bos/eos/unk ids, tokenizer.chat_template (Sigma format, detected by the engine through
  "<|assistant|>" and "<|end|>"), Q8_0 (or F32/F16) matrices and F32 norms.

CLI:
  python3 tools/train/export_gguf.py --ckpt model.pt --spm tokenizer.model --out m.gguf [--type Q8_0|F32]
The checkpoint is what train.py saves: {"config": {...}, "state_dict": {...}}.
"""

import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ref"))
sys.path.insert(0, HERE)
import gguf_io as G  # noqa: E402
from model import SigmaConfig  # noqa: E402

# The Sigma chat format as a Jinja template (for other tools); the engine only detects the
# markers and then renders <|role|>\n{content}<|end|>\n itself (chat_template.cpp).
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")

FILE_TYPE = {"F32": 0, "F16": 1, "Q8_0": 7}


def _varint(buf, i):
    v, shift = 0, 0
    while True:
        c = buf[i]; i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80: return v, i
        shift += 7


def _fields(buf):
    """Yield (field, wire, value) of one protobuf message (value: int, bytes or 4/8 raw bytes)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = _varint(buf, i)
        elif w == 1:
            v = buf[i:i + 8]; i += 8
        elif w == 2:
            n, i = _varint(buf, i); v = buf[i:i + n]; i += n
        elif w == 5:
            v = buf[i:i + 4]; i += 4
        else:
            raise ValueError("bad protobuf wire type %d" % w)
        yield f, w, v


def read_spm_vocab(path):
    """Pieces, scores and types from a SentencePiece .model file (ModelProto field 1) plus the
    trainer's unk/bos/eos/pad ids (TrainerSpec fields 40-43) and normalizer spec."""
    buf = open(path, "rb").read()
    tokens, scores, types = [], [], []
    trainer, normalizer = {}, {}
    for f, w, v in _fields(buf):
        if f == 1 and w == 2:
            piece, score, typ = b"", 0.0, 1
            for f2, w2, v2 in _fields(v):
                if f2 == 1: piece = v2
                elif f2 == 2: score = float(np.frombuffer(v2, "<f4")[0])
                elif f2 == 3: typ = int(v2)
            tokens.append(piece.decode("utf-8")); scores.append(score); types.append(typ)
        elif f == 2 and w == 2:
            for f2, w2, v2 in _fields(v):
                if w2 == 0: trainer[f2] = v2
        elif f == 3 and w == 2:
            for f2, w2, v2 in _fields(v):
                normalizer[f2] = v2
    ids = dict(unk=trainer.get(40, 0), bos=trainer.get(41, 1), eos=trainer.get(42, 2),
               pad=trainer.get(43, -1))
    for k in ids:   # int32 fields stored as 64-bit varints when negative
        if ids[k] >= 2**63: ids[k] -= 2**64
    return tokens, scores, types, ids, normalizer


def metadata(cfg: SigmaConfig, spm_path, name="sigma-ops-nano", file_type="Q8_0"):
    md = {
        "general.architecture": G.string("sigma"),
        "general.name": G.string(name),
        "general.file_type": G.u32(FILE_TYPE[file_type]),
        "sigma.context_length": G.u32(cfg.ctx),
        "sigma.embedding_length": G.u32(cfg.d_model),
        "sigma.block_count": G.u32(cfg.n_layer),
        "sigma.feed_forward_length": G.u32(cfg.d_ff),
        "sigma.attention.head_count": G.u32(cfg.n_q),
        "sigma.attention.head_count_k": G.u32(cfg.n_k),
        "sigma.attention.head_count_v": G.u32(cfg.n_v),
        "sigma.attention.key_length": G.u32(cfg.d_qk),
        "sigma.attention.value_length": G.u32(cfg.d_v),
        "sigma.attention.augmented_q_length": G.u32(cfg.d_aug),
        "sigma.attention.layer_norm_rms_epsilon": G.f32(cfg.eps),
        "sigma.rope.freq_base": G.f32(cfg.rope_base),
        "sigma.rope.dimension_count": G.u32(cfg.d_qk),
    }
    if spm_path:
        tokens, scores, types, ids, _ = read_spm_vocab(spm_path)
        if len(tokens) != cfg.vocab:
            raise SystemExit("tokenizer has %d pieces, model vocab is %d" % (len(tokens), cfg.vocab))
        md.update({
            "tokenizer.ggml.model": G.string("llama"),
            "tokenizer.ggml.pre": G.string("default"),
            "tokenizer.ggml.tokens": G.array(G.T_STRING, tokens),
            "tokenizer.ggml.scores": G.array(G.T_FLOAT32, scores),
            "tokenizer.ggml.token_type": G.array(G.T_INT32, types),
            "tokenizer.ggml.unknown_token_id": G.u32(ids["unk"]),
            "tokenizer.ggml.bos_token_id": G.u32(ids["bos"]),
            "tokenizer.ggml.eos_token_id": G.u32(ids["eos"]),
            "tokenizer.ggml.add_bos_token": G.boolean(True),
            "tokenizer.ggml.add_eos_token": G.boolean(False),
            "tokenizer.chat_template": G.string(CHAT_TEMPLATE),
        })
        if ids["pad"] >= 0:
            md["tokenizer.ggml.padding_token_id"] = G.u32(ids["pad"])
    return md


def tensors_from_state(cfg: SigmaConfig, state, wtype="Q8_0"):
    """[(gguf name, float32 numpy array in numpy order, ggml type)] in a stable order."""
    t = G.TYPE_BY_NAME[wtype]
    out = []

    def add(name):
        a = state[name].detach().float().cpu().numpy()
        out.append((name, a, G.GGML_F32 if a.ndim == 1 else t))

    add("token_embd.weight")
    for i in range(cfg.n_layer):
        b = "blk.%d." % i
        names = ["attn_norm", "attn_q"]
        if cfg.d_aug > 0:
            names += ["attn_q_gate", "attn_q_up", "attn_q_down"]
        names += ["attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
        for n in names:
            add(b + n + ".weight")
    add("output_norm.weight")
    if not cfg.tied:
        add("output.weight")
    return out


def export(cfg, state, spm_path, out_path, wtype="Q8_0", name="sigma-ops-nano"):
    G.write_gguf(out_path, metadata(cfg, spm_path, name, wtype), tensors_from_state(cfg, state, wtype))
    return os.path.getsize(out_path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--spm", help="SentencePiece .model to embed (omit: no tokenizer keys)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", default="Q8_0", choices=["Q8_0", "F32", "F16"])
    ap.add_argument("--name", default="sigma-ops-nano")
    a = ap.parse_args()
    ck = torch.load(a.ckpt, map_location="cpu")
    cfg = SigmaConfig.from_dict(ck["config"])
    n = export(cfg, ck["state_dict"], a.spm, a.out, a.type, a.name)
    print("wrote %s: %d bytes (%.2f MB)" % (a.out, n, n / 1e6))


if __name__ == "__main__":
    main()
