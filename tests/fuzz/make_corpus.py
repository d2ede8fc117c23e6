#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_gguf into tests/fuzz/corpus/ (small valid and invalid GGUF
files, a few KB in all). Independent of the C++ writer on purpose. Run: python3 make_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def s(x: bytes) -> bytes:
    return struct.pack("<Q", len(x)) + x


def kv(key: str, vtype: int, payload: bytes) -> bytes:
    return s(key.encode()) + struct.pack("<I", vtype) + payload


def tinfo(name: str, ne, gtype: int, offset: int) -> bytes:
    return s(name.encode()) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne) + \
        struct.pack("<I", gtype) + struct.pack("<Q", offset)


def gguf(kvs, tensors, datas, version=3, align=32) -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(tensors)
    if not tensors:
        return head
    head += b"\0" * ((-len(head)) % align)
    body = b""
    for d in datas:
        body += d + b"\0" * ((-len(d)) % align)
    return head + body


BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18), 12: (256, 144), 13: (256, 176), 14: (256, 210)}


def tensors_of(specs):
    infos, datas, off = [], [], 0
    for name, ne, t in specs:
        n = 1
        for d in ne:
            n *= d
        bs, bb = BLOCK[t]
        size = n // bs * bb
        data = bytes((i * 37 + 11) & 0xFF for i in range(size))
        if t in (8, 2):  # keep fp16 scales small and finite
            data = b"".join(struct.pack("<H", 0x2C00) + data[i * bb + 2:(i + 1) * bb] for i in range(size // bb))
        infos.append(tinfo(name, ne, t, off))
        datas.append(data)
        off += size + (-size) % 32
    return infos, datas


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = [
        kv("general.architecture", 8, s(b"sigma")),
        kv("sigma.block_count", 4, struct.pack("<I", 2)),
        kv("sigma.rope.freq_base", 6, struct.pack("<f", 50000.0)),
        kv("t.bool", 7, b"\x01"),
        kv("t.i64", 11, struct.pack("<q", -3)),
        kv("t.f64", 12, struct.pack("<d", 0.5)),
        kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + s(b"a") + s(b"bc") + s(b"")),
        kv("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 2) + struct.pack("<ff", 0.0, -1.0)),
        kv("t.nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 5, 2) + struct.pack("<ii", 1, 2)),
    ]
    files = {}
    infos, datas = tensors_of([("w.f32", [8, 2], 0), ("w.f16", [16], 1), ("w.bf16", [16], 30), ("w.q8", [32, 2], 8)])
    files["valid_small.gguf"] = gguf(meta, infos, datas)
    infos, datas = tensors_of([("k.q4_0", [32], 2), ("k.q4k", [256], 12)])
    files["valid_q4.gguf"] = gguf(meta[:2], infos, datas)
    infos, datas = tensors_of([("k.q5k", [256], 13), ("k.q6k", [256], 14)])
    files["valid_k.gguf"] = gguf(meta[:1], infos, datas, version=2)
    files["valid_meta_only.gguf"] = gguf(meta, [], [])
    files["valid_align64.gguf"] = gguf([kv("general.alignment", 4, struct.pack("<I", 64))],
                                       [tinfo("a", [4], 0, 0), tinfo("b", [4], 0, 64)],
                                       [b"\1" * 16 + b"\0" * 48, b"\2" * 16], align=64)
    good = files["valid_small.gguf"]
    files["bad_truncated.gguf"] = good[: len(good) // 2]
    files["bad_magic.gguf"] = b"GGJT" + good[4:64]
    files["bad_v1.gguf"] = b"GGUF" + struct.pack("<IIIxxxx", 1, 0, 0)
    files["bad_huge_string.gguf"] = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"k"
    files["bad_huge_array.gguf"] = gguf([kv("a", 9, struct.pack("<IQ", 4, 1 << 60))], [], [])
    files["bad_ndims.gguf"] = gguf([], [tinfo("t", [1, 1, 1, 1, 1], 0, 0)], [b"\0" * 4])
    files["bad_offset.gguf"] = gguf([], [tinfo("t", [4], 0, 4096)], [b"\0" * 16])
    files["bad_type.gguf"] = gguf([], [tinfo("t", [4], 99, 0)], [b"\0" * 16])
    files["bad_dup_key.gguf"] = gguf([kv("a", 4, b"\0" * 4), kv("a", 4, b"\0" * 4)], [], [])
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(files)} files, {sum(map(len, files.values()))} bytes to {OUT}")


if __name__ == "__main__":
    main()
