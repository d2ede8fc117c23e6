// gguf.h - the GGUF file format and ggml tensor types: the one public header of engine/src/gguf.
//
// Purpose: read GGUF model files (v2 and v3) zero-copy from a memory map, write GGUF v3 files
// atomically, and convert between F32 and the ggml storage types (F16, BF16, Q8_0, Q4_0, and
// dequantization of the K-quants Q4_K, Q5_K, Q6_K).
//
// Load: the reader is tuned for multi-GB files with a few hundred tensors and a 128K-token
// vocabulary; parsing touches only the header, tensor data is never copied. Every count, length,
// offset and size in the header is checked against the file length before it is used, so a
// truncated, corrupt or hostile file gives a sigma::Exception (ErrorCode::BadFile) naming the
// file and the problem, never a crash and never an allocation larger than the file justifies.
//
// Tensor shapes are in GGUF order: ne[0] is the contiguous dimension; unused dimensions are 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sigma::gguf {

// ----------------------------------------------------------------------------------------------
// Tensor types

// ggml's tensor type ids, as stored in GGUF files. Ids 4 and 5 (Q4_2, Q4_3) were removed by ggml.
enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

// True when `id` is one of the GgmlType values above (the reader rejects other ids).
bool type_known(uint32_t id);
// "F32", "Q8_0", ...; "unknown" for an id outside the enum.
const char* type_name(GgmlType type);
// True for the types dequantize_row() handles: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K.
bool type_readable(GgmlType type);
// Elements per block: 1 for F32/F16/BF16, 32 for the legacy quants, 256 for the K-quants.
// Throws sigma::Exception(Unsupported) for an unknown type.
int64_t block_size(GgmlType type);
// Bytes per block. Throws sigma::Exception(Unsupported) for an unknown type.
int64_t block_bytes(GgmlType type);
// Bytes used by `n` elements of `type`. Throws sigma::Exception(InvalidArgument) when n < 0 or
// n is not a multiple of block_size(type), or when the size overflows uint64.
uint64_t row_bytes(GgmlType type, int64_t n);

// IEEE 754 binary16 <-> binary32. fp32_to_fp16 rounds to nearest, ties to even; handles
// subnormals, overflow to inf, and keeps NaN a NaN (quiet).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
// bfloat16 <-> binary32. fp32_to_bf16 rounds to nearest, ties to even; NaN stays NaN (quiet),
// exactly like ggml_compute_fp32_to_bf16.
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

// Converts `n` elements of `type` at `src` to F32 at `dst`, exactly as ggml's dequantize_row_*.
// Caller guarantees: type_readable(type), n is a multiple of block_size(type), `src` holds
// row_bytes(type, n) bytes (any alignment), `dst` holds n floats.
// Throws sigma::Exception(Unsupported / InvalidArgument) when the first two do not hold.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// Converts `n` floats at `src` to `type` at `dst` (row_bytes(type, n) bytes).
// Supported: F32, F16, BF16, Q8_0 and Q4_0, each with ggml's reference (quantize_row_*_ref)
// rounding. Throws sigma::Exception(Unsupported / InvalidArgument) otherwise.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// One Q8_0 block as ggml stores it: 32 values q * fp16(d).
struct Q8_0Block {
    uint16_t d;      // scale, IEEE half
    int8_t qs[32];   // quants
};
static_assert(sizeof(Q8_0Block) == 34, "Q8_0Block must match ggml's block_q8_0");

// ----------------------------------------------------------------------------------------------
// Metadata

// GGUF metadata value types, as stored in the file.
enum class ValueType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8,
    ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
// "u32", "string", "array", ...; "unknown" outside the enum.
const char* value_type_name(ValueType type);

// A metadata value: a scalar, a string, or an array of one element type (arrays of arrays are
// allowed by the format and kept). Values own their data (metadata is small next to tensors).
class Value {
public:
    Value() = default;
    static Value make_u8(uint8_t v);   static Value make_i8(int8_t v);
    static Value make_u16(uint16_t v); static Value make_i16(int16_t v);
    static Value make_u32(uint32_t v); static Value make_i32(int32_t v);
    static Value make_u64(uint64_t v); static Value make_i64(int64_t v);
    static Value make_f32(float v);    static Value make_f64(double v);
    static Value make_bool(bool v);    static Value make_string(std::string v);
    static Value make_string_array(std::vector<std::string> v);
    static Value make_f32_array(const std::vector<float>& v);
    static Value make_i32_array(const std::vector<int32_t>& v);
    // An array of scalars of `element_type` from their little-endian bytes (n * element size).
    static Value make_scalar_array(ValueType element_type, std::vector<uint8_t> raw, uint64_t n);
    static Value make_array_of_arrays(std::vector<Value> elements);

    ValueType type() const { return m_type; }
    bool is_integer() const;   // U8..I64 (not BOOL)
    bool is_float() const { return m_type == ValueType::F32 || m_type == ValueType::F64; }

    // Scalars. as_u64/as_i64 return nullopt when the value is not an integer or does not fit;
    // as_f64 accepts integers and floats; as_bool only BOOL. as_string throws when not a STRING.
    std::optional<uint64_t> as_u64() const;
    std::optional<int64_t> as_i64() const;
    std::optional<double> as_f64() const;
    std::optional<bool> as_bool() const;
    const std::string& as_string() const;

    // Arrays (all throw sigma::Exception(InvalidArgument) when the value is not an array or the
    // index is out of range or of the wrong element kind).
    ValueType array_type() const { return m_elem_type; }
    uint64_t array_size() const { return m_n; }
    const std::vector<std::string>& array_strings() const;   // element type STRING
    const std::vector<Value>& array_values() const;          // element type ARRAY
    Value array_element(uint64_t i) const;                   // scalar element i as a Value

    // Little-endian bytes of a scalar (or of all elements of a scalar array); used by the writer.
    const std::vector<uint8_t>& raw() const { return m_raw; }
    // A short human description ("u32 7", "array of 128256 string"), for messages and tools.
    std::string describe() const;

private:
    ValueType m_type = ValueType::U8;
    ValueType m_elem_type = ValueType::U8;   // arrays only
    uint64_t m_n = 0;                        // arrays only: element count
    std::vector<uint8_t> m_raw;              // scalar bytes / scalar array elements, little-endian
    std::string m_str;                       // STRING
    std::vector<std::string> m_strings;      // array of STRING
    std::vector<Value> m_values;             // array of ARRAY
};

// Size in bytes of a scalar value type (0 for STRING / ARRAY / unknown).
size_t value_type_size(ValueType type);

// ----------------------------------------------------------------------------------------------
// Reading

// One tensor as described in the file header. `data` points into the mapped file.
struct TensorInfo {
    std::string name;
    GgmlType type = GgmlType::F32;
    int n_dims = 0;                   // 1..4
    int64_t ne[4] = {1, 1, 1, 1};     // ne[0] contiguous; unused dimensions are 1
    uint64_t offset = 0;              // relative to the start of the data section
    uint64_t n_bytes = 0;             // row_bytes(type, n_elements())
    const uint8_t* data = nullptr;    // base() + data section start + offset
    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

// A GGUF file, validated at open. Read-only and immutable: safe to share between threads.
class File {
public:
    // Maps `path` read-only and parses it. Throws sigma::Exception: NotFound (no such file),
    // Io (cannot open/map), BadFile (not GGUF, truncated, corrupt), Unsupported (GGUF v1 or a
    // newer version); the message names the file and the problem.
    static std::unique_ptr<File> open(const std::string& path);
    // Parses a GGUF image in memory. No ownership: `data` must outlive the File. Messages say
    // "<memory>" for the file name.
    static std::unique_ptr<File> from_memory(const uint8_t* data, size_t size);

    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    uint32_t version() const { return m_version; }
    uint32_t alignment() const { return m_alignment; }
    size_t size() const { return m_size; }
    const uint8_t* base() const { return m_base; }
    uint64_t data_offset() const { return m_data_offset; }   // start of the data section
    const std::string& path() const { return m_path; }

    bool has(const std::string& key) const { return find(key) != nullptr; }
    const Value* find(const std::string& key) const;
    std::vector<std::string> keys() const;   // in file order

    // Typed getters: nullopt when the key is absent; throw sigma::Exception(BadFile) naming the
    // key when it is present with an incompatible type. Integers of any width convert when the
    // value fits; get_f32 also accepts F64 and integers; arrays must have the matching element
    // kind (get_i32_array accepts any integer element type that fits, get_f32_array F32/F64).
    std::optional<uint32_t> get_u32(const std::string& key) const;
    std::optional<uint64_t> get_u64(const std::string& key) const;
    std::optional<int32_t> get_i32(const std::string& key) const;
    std::optional<float> get_f32(const std::string& key) const;
    std::optional<bool> get_bool(const std::string& key) const;
    std::optional<std::string> get_string(const std::string& key) const;
    std::optional<std::vector<std::string>> get_string_array(const std::string& key) const;
    std::optional<std::vector<float>> get_f32_array(const std::string& key) const;
    std::optional<std::vector<int32_t>> get_i32_array(const std::string& key) const;

    const std::vector<TensorInfo>& tensors() const { return m_tensors; }
    const TensorInfo* find_tensor(const std::string& name) const;

private:
    File() = default;
    void parse();
    [[noreturn]] void fail(const std::string& what) const;

    std::string m_path = "<memory>";
    const uint8_t* m_base = nullptr;
    size_t m_size = 0;
    void* m_map = nullptr;            // non-null when we own an mmap
    uint32_t m_version = 0;
    uint32_t m_alignment = 32;
    uint64_t m_data_offset = 0;
    std::vector<std::pair<std::string, Value>> m_kv;     // file order
    std::vector<TensorInfo> m_tensors;                   // file order
    struct Index;
    std::unique_ptr<Index> m_index;                      // name -> position lookups
};

// ----------------------------------------------------------------------------------------------
// Writing

// Builds a GGUF v3 file in memory and writes it atomically. Keys and tensors keep insertion
// order; setting an existing key replaces its value. Tensor data is copied at add time.
class Writer {
public:
    Writer();
    ~Writer();
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) noexcept;

    void set_u32(const std::string& key, uint32_t v);
    void set_i32(const std::string& key, int32_t v);
    void set_u64(const std::string& key, uint64_t v);
    void set_f32(const std::string& key, float v);
    void set_bool(const std::string& key, bool v);
    void set_string(const std::string& key, const std::string& v);
    void set_string_array(const std::string& key, const std::vector<std::string>& v);
    void set_f32_array(const std::string& key, const std::vector<float>& v);
    void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
    // Any value, including the types without a dedicated setter (u8, i64, f64, nested arrays).
    void set(const std::string& key, Value v);

    // Adds a tensor whose `data` is already in `type` (n_bytes must equal row_bytes of the
    // shape). ne[0] is the contiguous dimension (GGUF order), 1..4 dimensions, each > 0, ne[0] a
    // multiple of block_size(type). Throws sigma::Exception(InvalidArgument) otherwise, or when
    // the name is already used.
    void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                    const void* data, size_t n_bytes);
    // Converts F32 `data` (product of ne floats) to `type` (F32, F16, BF16, Q8_0, Q4_0) row by
    // row with quantize_row, then adds it.
    void add_tensor_f32(const std::string& name, GgmlType type, const std::vector<int64_t>& ne,
                        const float* data);

    // Serializes the whole file (what write() puts on disk).
    std::vector<uint8_t> to_bytes() const;
    // Writes GGUF v3 with alignment 32, or general.alignment when set (a u32 power of two).
    // Atomic: writes a temp file in the same directory, fsyncs, renames over `path`, fsyncs the
    // directory. Throws sigma::Exception(Io) naming the path and the OS error.
    void write(const std::string& path) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m;
};

} // namespace sigma::gguf
