// ggml block layouts and the scalar (reference) quantize/dequantize routines for them.
// These are the bit-exact definitions every backend is tested against.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace gemma12b {

constexpr int kQK8_0 = 32;
constexpr int kQK4_0 = 32;
constexpr int kQK_K = 256;
constexpr int kKScaleSize = 12;

// ref: ggml-common.h
struct BlockQ8_0 {
  uint16_t d;            // f16 scale
  int8_t qs[kQK8_0];     // x[i] = d * qs[i]
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  uint16_t d;                // f16 scale
  uint8_t qs[kQK4_0 / 2];    // low nibbles: x[0..15], high nibbles: x[16..31]; x = d * (q - 8)
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_K {
  uint16_t d;                    // f16 super-block scale for the 6-bit scales
  uint16_t dmin;                 // f16 super-block scale for the 6-bit mins
  uint8_t scales[kKScaleSize];   // 8 (scale, min) pairs, 6 bits each, packed
  uint8_t qs[kQK_K / 2];         // 4-bit quants
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // 8-bit scales of 16-element groups
  uint16_t d;                 // f16 super-block scale
};
static_assert(sizeof(BlockQ6_K) == 210);

// Dequantizes n elements (n a multiple of the type's block size) of type t at src into dst.
// Works for every DType except kI32 (f32 is a copy).
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// Quantizes n f32 values into type t (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k) with the
// reference (round-to-nearest) rules of ggml's *_ref quantizers.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace gemma12b
