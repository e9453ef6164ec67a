#include "core/dtype.h"

#include <array>
#include <cctype>
#include <cstring>
#include <limits>
#include <string>

namespace gemma12b {
namespace {

constexpr std::array<DTypeTraits, static_cast<size_t>(DType::kCount)> kTraits = {{
    {"f32", 1, 4, false},
    {"f16", 1, 2, false},
    {"bf16", 1, 2, false},
    {"q8_0", 32, 34, true},
    {"q4_0", 32, 18, true},
    {"q4_k", 256, 144, true},
    {"q6_k", 256, 210, true},
    {"i32", 1, 4, false},
}};

// ggml_type ids (ref: ggml.h enum ggml_type).
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8, kGgmlQ4_K = 12,
                   kGgmlQ6_K = 14, kGgmlI32 = 26, kGgmlBF16 = 30;

}  // namespace

const DTypeTraits& dtype_traits(DType t) { return kTraits[static_cast<size_t>(t)]; }

std::optional<size_t> row_size_checked(DType t, int64_t n) {
  const DTypeTraits& tr = dtype_traits(t);
  if (n < 0 || n % tr.block_size != 0) return std::nullopt;
  const uint64_t blocks = static_cast<uint64_t>(n / tr.block_size);
  if (blocks > std::numeric_limits<uint64_t>::max() / tr.block_bytes) return std::nullopt;
  return static_cast<size_t>(blocks * tr.block_bytes);
}

size_t row_size(DType t, int64_t n) { return row_size_checked(t, n).value_or(0); }

std::optional<DType> dtype_from_ggml(uint32_t g) {
  switch (g) {
    case kGgmlF32: return DType::kF32;
    case kGgmlF16: return DType::kF16;
    case kGgmlBF16: return DType::kBF16;
    case kGgmlQ8_0: return DType::kQ8_0;
    case kGgmlQ4_0: return DType::kQ4_0;
    case kGgmlQ4_K: return DType::kQ4_K;
    case kGgmlQ6_K: return DType::kQ6_K;
    case kGgmlI32: return DType::kI32;
    default: return std::nullopt;
  }
}

uint32_t dtype_to_ggml(DType t) {
  switch (t) {
    case DType::kF32: return kGgmlF32;
    case DType::kF16: return kGgmlF16;
    case DType::kBF16: return kGgmlBF16;
    case DType::kQ8_0: return kGgmlQ8_0;
    case DType::kQ4_0: return kGgmlQ4_0;
    case DType::kQ4_K: return kGgmlQ4_K;
    case DType::kQ6_K: return kGgmlQ6_K;
    case DType::kI32: return kGgmlI32;
    case DType::kCount: break;
  }
  return kGgmlF32;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t i = 0; i < kTraits.size(); ++i) {
    if (kTraits[i].name == lower) return static_cast<DType>(i);
  }
  return std::nullopt;
}

// IEEE 754 binary16 conversions with round-to-nearest-even (matches F16C / ggml's fp32->fp16).
float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      mant &= 0x3FFu;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + (127 - 15)) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u); // rounds to inf
  if (abs < 0x38800000u) {  // result is subnormal or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // < half the smallest subnormal
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
    // value = m * 2^(e-150); in units of the smallest subnormal 2^-24 that is m * 2^(e-126).
    const uint32_t s = 126 - e;  // right shift, >= 14 here
    uint32_t r = m >> s;
    const uint32_t rem = m & ((1u << s) - 1);
    const uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent (127 -> 15)
  const uint32_t rem = r & 0x1FFFu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // NaN
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace gemma12b
