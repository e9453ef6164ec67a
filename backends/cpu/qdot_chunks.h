// Scalar decoding of the weight block layouts into the 64-element chunk form of qdot.h (u bytes,
// per-lane scales ws, offset o, q4_k mins). The scalar path computes with these directly; the
// SIMD paths decode the same layouts in registers and are tested against the scalar path.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/quant.h"
#include "cpu/qdot.h"

namespace gemma12b::cpu::chunks {

inline float h2f(uint16_t h) { return f16_to_f32(h); }

struct Chunk {
  uint8_t u[64];
  float ws[16];  // weight scale of each 4-element lane
};

// q4_0: a "super" is two blocks (64 elements, one chunk); w = d·(u − 8).
struct Q4_0 {
  static constexpr int kSuper = 64, kOffset = 8;
  static constexpr bool kMins = false;
  static void decode(const uint8_t* row, int64_t s, int c, Chunk& o) {
    (void)c;
    const BlockQ4_0* b = reinterpret_cast<const BlockQ4_0*>(row) + 2 * s;
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 16; ++j) {
        o.u[32 * h + j] = b[h].qs[j] & 0x0F;
        o.u[32 * h + 16 + j] = b[h].qs[j] >> 4;
      }
      const float d = h2f(b[h].d);
      for (int l = 0; l < 8; ++l) o.ws[8 * h + l] = d;
    }
  }
};

// q8_0: two blocks per chunk; u = q + 128 (the byte with its sign bit flipped), w = d·(u − 128).
struct Q8_0 {
  static constexpr int kSuper = 64, kOffset = 128;
  static constexpr bool kMins = false;
  static void decode(const uint8_t* row, int64_t s, int c, Chunk& o) {
    (void)c;
    const BlockQ8_0* b = reinterpret_cast<const BlockQ8_0*>(row) + 2 * s;
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 32; ++j) o.u[32 * h + j] = static_cast<uint8_t>(b[h].qs[j]) ^ 0x80;
      const float d = h2f(b[h].d);
      for (int l = 0; l < 8; ++l) o.ws[8 * h + l] = d;
    }
  }
};

// q4_k: 256-element super-blocks, 4 chunks; chunk c = low nibbles of qs[32c..] (sub-block 2c)
// then high nibbles (2c+1); w = d·sc·u − dmin·m (offset 0, the mins go to the min term).
struct Q4_K {
  static constexpr int kSuper = 256, kOffset = 0;
  static constexpr bool kMins = true;
  static void decode(const uint8_t* row, int64_t s, int c, Chunk& o) {
    const BlockQ4_K& b = reinterpret_cast<const BlockQ4_K*>(row)[s];
    float dsc[8], dmn[8];
    q4_k_scales(&b, dsc, dmn);
    for (int j = 0; j < 32; ++j) {
      o.u[j] = b.qs[32 * c + j] & 0x0F;
      o.u[32 + j] = b.qs[32 * c + j] >> 4;
    }
    for (int l = 0; l < 8; ++l) {
      o.ws[l] = dsc[2 * c];
      o.ws[8 + l] = dsc[2 * c + 1];
    }
  }
  static void mins(const uint8_t* row, int64_t s, float* dmn) {
    float dsc[8];
    q4_k_scales(reinterpret_cast<const BlockQ4_K*>(row) + s, dsc, dmn);
  }
};

// q6_k: 256-element super-blocks, 4 chunks; half h = c / 2, part p = c % 2: elements
// 128h + 64p + [0, 64) are ql[64h + 0..63] (low nibbles for p = 0, high for p = 1) with 2 bits of
// qh[32h + 0..31] (shifts 4p and 4p + 2 for the two 32-element quarters); 16-element groups
// scaled by d·scales[8h + 4p + g]; w = d·sc·(u − 32).
struct Q6_K {
  static constexpr int kSuper = 256, kOffset = 32;
  static constexpr bool kMins = false;
  static void decode(const uint8_t* row, int64_t s, int c, Chunk& o) {
    const BlockQ6_K& b = reinterpret_cast<const BlockQ6_K*>(row)[s];
    const int h = c / 2, p = c % 2;
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    for (int l = 0; l < 64; ++l) {
      const int lo = p == 0 ? (ql[l] & 0x0F) : (ql[l] >> 4);
      const int shift = 4 * p + (l < 32 ? 0 : 2);
      const int hi = (qh[l % 32] >> shift) & 3;
      o.u[l] = static_cast<uint8_t>(lo | (hi << 4));
    }
    const float d = h2f(b.d);
    for (int l = 0; l < 16; ++l) o.ws[l] = d * static_cast<float>(b.scales[8 * h + 4 * p + l / 4]);
  }
};

}  // namespace gemma12b::cpu::chunks
