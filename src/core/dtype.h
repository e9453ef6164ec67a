// Element types. Quantized types use ggml's block layouts bit for bit, so GGUF tensor data is
// consumed in place (ref: ggml/src/ggml-common.h block_q8_0, block_q4_0, block_q4_K, block_q6_K).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gemma12b {

enum class DType : int32_t {
  kF32 = 0,
  kF16,
  kBF16,
  kQ8_0,
  kQ4_0,
  kQ4_K,
  kQ6_K,
  kI32,  // indices and positions (token ids, KV slot positions, block ids)
  kCount
};

struct DTypeTraits {
  std::string_view name;  // "f32", "q4_k", ...
  int64_t block_size;     // elements per block (1 for scalar types)
  size_t block_bytes;     // bytes per block
  bool quantized;
};

const DTypeTraits& dtype_traits(DType t);
inline std::string_view dtype_name(DType t) { return dtype_traits(t).name; }
inline bool is_quantized(DType t) { return dtype_traits(t).quantized; }

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers via
// row_size_checked). Returns 0 when n is not a multiple.
size_t row_size(DType t, int64_t n);
// nullopt when n is not a multiple of the block size or the size overflows.
std::optional<size_t> row_size_checked(DType t, int64_t n);

// GGUF/ggml type ids (ggml_type) <-> DType. Unsupported ggml types map to nullopt.
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
uint32_t dtype_to_ggml(DType t);
// Parses "f32", "q4_0", ... (case-insensitive).
std::optional<DType> dtype_from_name(std::string_view name);

// ---- scalar conversions (IEEE half and bfloat16, round-to-nearest-even) -------------------
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);

}  // namespace gemma12b
