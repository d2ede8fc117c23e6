"""GGUF v3 reader and writer in pure Python + numpy.

Purpose: the reference side of the engine tests. This module is written from the
GGUF v3 file layout and ggml's reference quantizers, without importing or copying
gguf-py or the engine's C++ loader, so a bug in either is not mirrored here.

Scope: every metadata value type (incl. nested arrays and arrays of strings),
alignment from `general.alignment` (default 32), tensors in F32, F16, BF16 and
Q8_0, and dequantization of those to float32. Tuned for small test files
(everything is read into memory).

Shapes: a tensor's `ne` is in GGUF order, ne[0] the contiguous dimension. A torch
weight W of shape (out, in) has ne = [in, out] and its bytes are W row-major;
`read_gguf` returns arrays in numpy order, i.e. shape = reversed(ne).
"""

import struct
from dataclasses import dataclass, field

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
DEFAULT_ALIGNMENT = 32

# Metadata value types (gguf_type).
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL = range(8)
T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = 8, 9, 10, 11, 12

_SCALAR_FMT = {
    T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h",
    T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?",
    T_UINT64: "<Q", T_INT64: "<q", T_FLOAT64: "<d",
}

# Tensor types (ggml_type) this module handles.
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30
TYPE_NAMES = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q8_0: "Q8_0", GGML_BF16: "BF16"}
TYPE_BY_NAME = {v: k for k, v in TYPE_NAMES.items()}
QK8_0 = 32                      # Q8_0 block size (elements)
Q8_0_BLOCK_BYTES = 2 + QK8_0    # fp16 scale + 32 int8


class GGUFError(Exception):
    pass


@dataclass
class Meta:
    """A metadata value with its explicit GGUF type (needed to write exact types).

    For arrays, `type` is T_ARRAY and `item_type` is the element type; nested
    arrays hold Meta items.
    """
    type: int
    value: object
    item_type: int = None


def u32(v): return Meta(T_UINT32, int(v))
def i32(v): return Meta(T_INT32, int(v))
def u64(v): return Meta(T_UINT64, int(v))
def f32(v): return Meta(T_FLOAT32, float(v))
def f64(v): return Meta(T_FLOAT64, float(v))
def boolean(v): return Meta(T_BOOL, bool(v))
def string(v): return Meta(T_STRING, str(v))
def array(item_type, values): return Meta(T_ARRAY, list(values), item_type)


# ---------------------------------------------------------------------------
# Element conversions (ggml reference semantics)

def fp32_to_bf16_bits(x):
    """float32 -> bf16 bit patterns, round to nearest even; NaN stays a quiet NaN."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16) | 64).astype(np.uint16)
    return rounded


def bf16_bits_to_fp32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def quantize_q8_0(x):
    """float32 (n elements, n % 32 == 0) -> Q8_0 bytes, as ggml's quantize_row_q8_0_ref.

    Per block of 32: amax = max|x|, d = amax/127, id = 1/d (0 if d == 0),
    q = roundf(x*id) (half away from zero), d stored as fp16.
    """
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if x.size % QK8_0:
        raise GGUFError("Q8_0 needs a multiple of 32 elements, got %d" % x.size)
    blocks = x.reshape(-1, QK8_0)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / np.float32(127.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0)).astype(np.float32)
    scaled = (blocks * inv[:, None]).astype(np.float32).astype(np.float64)  # x*id in float32, as C
    q = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int8)   # roundf: half away from 0
    out = np.empty((blocks.shape[0], Q8_0_BLOCK_BYTES), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def dequantize_q8_0(raw, n):
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // QK8_0) * Q8_0_BLOCK_BYTES)
    blocks = blocks.reshape(-1, Q8_0_BLOCK_BYTES)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n_blocks, 1)
    q = blocks[:, 2:].copy().view(np.int8).astype(np.float32)
    return (q * d).reshape(-1)


def tensor_nbytes(ggml_type, n):
    if ggml_type == GGML_F32: return 4 * n
    if ggml_type in (GGML_F16, GGML_BF16): return 2 * n
    if ggml_type == GGML_Q8_0: return (n // QK8_0) * Q8_0_BLOCK_BYTES
    raise GGUFError("unsupported tensor type %d" % ggml_type)


def encode_tensor(arr, ggml_type):
    """float array -> raw bytes of the given ggml type (row-major numpy order)."""
    a = np.ascontiguousarray(arr, dtype=np.float32)
    if ggml_type == GGML_F32: return a.tobytes()
    if ggml_type == GGML_F16: return a.astype(np.float16).tobytes()
    if ggml_type == GGML_BF16: return fp32_to_bf16_bits(a).tobytes()
    if ggml_type == GGML_Q8_0:
        if a.shape[-1] % QK8_0:
            raise GGUFError("Q8_0 rows must be a multiple of 32, got ne[0]=%d" % a.shape[-1])
        return quantize_q8_0(a)
    raise GGUFError("unsupported tensor type %d" % ggml_type)


def decode_tensor(raw, ggml_type, n):
    """raw bytes -> float32 flat array of n elements."""
    if ggml_type == GGML_F32: return np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
    if ggml_type == GGML_F16: return np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    if ggml_type == GGML_BF16: return bf16_bits_to_fp32(np.frombuffer(raw, dtype="<u2", count=n))
    if ggml_type == GGML_Q8_0: return dequantize_q8_0(raw, n)
    raise GGUFError("unsupported tensor type %d" % ggml_type)


# ---------------------------------------------------------------------------
# Writer

def _pack_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _pack_value(vtype, value, item_type=None):
    if vtype == T_STRING:
        return _pack_string(value)
    if vtype == T_ARRAY:
        out = [struct.pack("<IQ", item_type, len(value))]
        for v in value:
            if item_type == T_ARRAY:
                if not isinstance(v, Meta):
                    raise GGUFError("nested array items must be Meta(T_ARRAY, ...)")
                out.append(_pack_value(T_ARRAY, v.value, v.item_type))
            else:
                out.append(_pack_value(item_type, v))
        return b"".join(out)
    if vtype in _SCALAR_FMT:
        return struct.pack(_SCALAR_FMT[vtype], value)
    raise GGUFError("unknown metadata type %d" % vtype)


def _as_meta(v):
    if isinstance(v, Meta): return v
    if isinstance(v, str): return string(v)
    if isinstance(v, bool): return boolean(v)
    if isinstance(v, int): return u32(v) if 0 <= v < 2**32 else i32(v) if -2**31 <= v < 2**31 else u64(v)
    if isinstance(v, float): return f32(v)
    raise GGUFError("give an explicit Meta type for %r" % (v,))


def write_gguf(path, metadata, tensors, alignment=DEFAULT_ALIGNMENT):
    """Write a GGUF v3 file.

    metadata: ordered dict key -> Meta (or plain str/bool/int/float, see _as_meta).
    tensors:  list of (name, numpy float array in numpy order, ggml_type); the GGUF
              ne is the reversed numpy shape. Each tensor's data starts on an
              `alignment` boundary relative to the data section, which itself
              starts on an alignment boundary in the file.
    """
    metadata = dict(metadata)
    if alignment != DEFAULT_ALIGNMENT:
        metadata["general.alignment"] = u32(alignment)
    head = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(tensors), len(metadata))]
    for key, v in metadata.items():
        m = _as_meta(v)
        head.append(_pack_string(key) + struct.pack("<I", m.type) + _pack_value(m.type, m.value, m.item_type))
    blobs, offset = [], 0
    for name, arr, ggml_type in tensors:
        arr = np.asarray(arr)
        ne = list(reversed(arr.shape)) or [1]
        raw = encode_tensor(arr, ggml_type)
        head.append(_pack_string(name) + struct.pack("<I", len(ne)) +
                    struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", ggml_type, offset))
        pad = (-len(raw)) % alignment
        blobs.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    header = b"".join(head)
    header += b"\0" * ((-len(header)) % alignment)
    with open(path, "wb") as f:
        f.write(header)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# Reader

@dataclass
class TensorInfo:
    name: str
    ne: list            # GGUF order, ne[0] contiguous
    type: int
    offset: int         # relative to the data section
    raw: bytes = field(repr=False, default=b"")

    @property
    def shape(self):    # numpy order
        return tuple(reversed(self.ne))

    @property
    def n_elements(self):
        n = 1
        for d in self.ne: n *= d
        return n

    def to_float(self):
        """Dequantized float32 array in numpy order."""
        return decode_tensor(self.raw, self.type, self.n_elements).reshape(self.shape)


class GGUFFile:
    """A parsed GGUF file: .metadata (key -> python value), .types (key -> gguf type),
    .tensors (name -> TensorInfo, in file order), .version, .alignment."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self._buf = f.read()
        self._pos = 0
        self.path = path
        self._parse()

    def _take(self, n):
        if self._pos + n > len(self._buf):
            raise GGUFError("%s: truncated at byte %d (need %d more); the file is cut short"
                            % (self.path, self._pos, n))
        b = self._buf[self._pos:self._pos + n]
        self._pos += n
        return b

    def _unpack(self, fmt):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _string(self):
        return self._take(self._unpack("<Q")).decode("utf-8")

    def _value(self, vtype):
        if vtype == T_STRING: return self._string()
        if vtype == T_ARRAY:
            item_type, n = self._unpack("<I"), self._unpack("<Q")
            return [self._value(item_type) for _ in range(n)]
        if vtype in _SCALAR_FMT: return self._unpack(_SCALAR_FMT[vtype])
        raise GGUFError("%s: unknown metadata type %d at byte %d" % (self.path, vtype, self._pos))

    def _parse(self):
        if self._take(4) != GGUF_MAGIC:
            raise GGUFError("%s: not a GGUF file (bad magic)" % self.path)
        self.version = self._unpack("<I")
        if self.version != GGUF_VERSION:
            raise GGUFError("%s: GGUF version %d, only 3 is supported" % (self.path, self.version))
        n_tensors, n_kv = self._unpack("<Q"), self._unpack("<Q")
        self.metadata, self.types = {}, {}
        for _ in range(n_kv):
            key = self._string()
            vtype = self._unpack("<I")
            self.types[key] = vtype
            self.metadata[key] = self._value(vtype)
        self.alignment = int(self.metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._unpack("<I")
            ne = [self._unpack("<Q") for _ in range(n_dims)]
            ttype, offset = self._unpack("<I"), self._unpack("<Q")
            infos.append(TensorInfo(name, ne, ttype, offset))
        data_start = self._pos + ((-self._pos) % self.alignment)
        self.tensors = {}
        for t in infos:
            if t.type not in TYPE_NAMES:
                raise GGUFError("%s: tensor %s has unsupported type %d" % (self.path, t.name, t.type))
            if t.offset % self.alignment:
                raise GGUFError("%s: tensor %s offset %d not aligned to %d"
                                % (self.path, t.name, t.offset, self.alignment))
            nbytes = tensor_nbytes(t.type, t.n_elements)
            begin = data_start + t.offset
            if begin + nbytes > len(self._buf):
                raise GGUFError("%s: tensor %s [%d, %d) runs past the end of the file (%d bytes)"
                                % (self.path, t.name, begin, begin + nbytes, len(self._buf)))
            t.raw = self._buf[begin:begin + nbytes]
            self.tensors[t.name] = t

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def tensor(self, name):
        """Dequantized float32 numpy array (numpy order) of a named tensor."""
        if name not in self.tensors:
            raise GGUFError("%s: tensor %s missing" % (self.path, name))
        return self.tensors[name].to_float()


def read_gguf(path):
    return GGUFFile(path)
