"""Self-tests for gguf_io: metadata and tensor round trips, and the quantizers checked
against slow element-by-element versions written from ggml's reference semantics.

Run: /usr/bin/python3 tools/ref/test_gguf_io.py     (exit 0 = all passed)
"""

import math
import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import gguf_io as G  # noqa: E402


def slow_q8_0(x):
    """One element at a time, float32 arithmetic as in C (quantize_row_q8_0_ref)."""
    out = []
    for b in range(len(x) // 32):
        blk = [np.float32(v) for v in x[32 * b:32 * b + 32]]
        amax = max(abs(v) for v in blk)
        d = np.float32(amax / np.float32(127))
        inv = np.float32(1) / d if d != 0 else np.float32(0)
        qs = []
        for v in blk:
            s = float(np.float32(v * inv))
            qs.append(int(math.copysign(math.floor(abs(s) + 0.5), s)))   # roundf
        out.append(struct.pack("<e", float(d)) + struct.pack("<32b", *qs))
    return b"".join(out)


def slow_bf16(v):
    u = struct.unpack("<I", struct.pack("<f", v))[0]
    if math.isnan(v):
        return (u >> 16) | 64
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def main():
    rng = np.random.default_rng(1)
    # Quantizers against the slow versions, incl. ties, zeros and an all-zero block.
    x = (rng.standard_normal(32 * 40) * 0.3).astype(np.float32)
    x[:32] = 0
    x[32:64] = np.arange(32) - 16            # exact halves after scaling
    assert G.quantize_q8_0(x) == slow_q8_0(x), "Q8_0 differs from the slow reference"
    deq = G.dequantize_q8_0(G.quantize_q8_0(x), x.size)
    assert np.abs(deq - x).max() <= np.abs(x).max() / 127 * 0.51 + 1e-3
    edge = np.array([1.0, 1.00390625, 1.01171875, -2.00390625, 3.4e38, 1e-40, 0.0, -0.0,
                     np.inf, -np.inf, np.nan] + list(rng.standard_normal(200)), dtype=np.float32)
    assert [int(b) for b in G.fp32_to_bf16_bits(edge)] == [slow_bf16(float(v)) for v in edge]
    assert G.fp32_to_bf16_bits(np.array([1.00390625], np.float32))[0] == 0x3F80   # tie -> even
    assert G.fp32_to_bf16_bits(np.array([1.01171875], np.float32))[0] == 0x3F82   # tie -> even (up)

    # Metadata round trip, every type, nested arrays and arrays of strings.
    meta = {
        "general.architecture": G.string("sigma"), "u8": G.Meta(G.T_UINT8, 200),
        "i8": G.Meta(G.T_INT8, -5), "u16": G.Meta(G.T_UINT16, 60000), "i16": G.Meta(G.T_INT16, -300),
        "u32": G.u32(4000000000), "i32": G.i32(-7), "f32": G.f32(0.5), "bool": G.boolean(True),
        "str": G.string("héllo"), "u64": G.u64(2**40), "i64": G.Meta(G.T_INT64, -2**40),
        "f64": G.f64(1e-300), "strs": G.array(G.T_STRING, ["a", "", "ünï", "<s>"]),
        "f32s": G.array(G.T_FLOAT32, [0.25, -1.5]), "i32s": G.array(G.T_INT32, [1, -2, 3]),
        "nested": G.array(G.T_ARRAY, [G.array(G.T_UINT8, [1, 2]), G.array(G.T_STRING, ["x"])]),
    }
    w = {t: (rng.standard_normal((3, 64)) * 0.1).astype(np.float32) for t in G.TYPE_NAMES}
    with tempfile.TemporaryDirectory() as d:
        for align in (32, 64):
            p = os.path.join(d, "t%d.gguf" % align)
            G.write_gguf(p, meta, [("t%d" % t, w[t], t) for t in G.TYPE_NAMES] +
                         [("v", np.arange(5, dtype=np.float32), G.GGML_F32)], alignment=align)
            g = G.read_gguf(p)
            for k, m in meta.items():
                got = g.metadata[k]
                want = m.value if m.type != G.T_ARRAY else (
                    [v.value for v in m.value] if m.item_type == G.T_ARRAY else m.value)
                if m.type == G.T_FLOAT32:
                    want = float(np.float32(want))
                assert got == want, (k, got, want)
                assert g.types[k] == m.type
            assert g.alignment == align
            assert g.tensors["t%d" % G.GGML_F32].ne == [64, 3]
            assert np.array_equal(g.tensor("t%d" % G.GGML_F32), w[G.GGML_F32])
            assert np.array_equal(g.tensor("t%d" % G.GGML_F16), w[G.GGML_F16].astype(np.float16).astype(np.float32))
            assert np.array_equal(g.tensor("t%d" % G.GGML_BF16),
                                  G.bf16_bits_to_fp32(G.fp32_to_bf16_bits(w[G.GGML_BF16])).reshape(3, 64))
            assert np.array_equal(g.tensor("t%d" % G.GGML_Q8_0).reshape(-1),
                                  G.dequantize_q8_0(slow_q8_0(w[G.GGML_Q8_0].reshape(-1)), 192))
            assert np.array_equal(g.tensor("v"), np.arange(5, dtype=np.float32))
            for t in g.tensors.values():
                assert t.offset % align == 0
            # A cut file must fail with a clear message.
            with open(p, "rb") as f:
                data = f.read()
            cut = len(data) - ((-20) % align) - 10      # inside the last tensor ("v", 20 bytes)
            with open(p, "wb") as f:
                f.write(data[:cut])
            try:
                G.read_gguf(p)
                raise AssertionError("truncated file was accepted")
            except G.GGUFError as e:
                assert "past the end" in str(e) or "truncated" in str(e)
    print("gguf_io self-tests passed")


if __name__ == "__main__":
    main()
