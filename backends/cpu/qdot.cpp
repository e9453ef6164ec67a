#include "cpu/qdot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/quant.h"

namespace gemma12b::cpu {

void quantize_block32(const float* x, int8_t* q, float* dx) {
  float amax = 0.0f;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d > 0.0f ? 1.0f / d : 0.0f;
  // Round to nearest even without libm: adding 1.5·2^23 leaves the rounded value in the low
  // mantissa bits (|x·id| ≤ 127 after the scaling, far inside the trick's range).
  constexpr float kMagic = 12582912.0f;
  for (int i = 0; i < 32; ++i) {
    const float r = (x[i] * id + kMagic) - kMagic;
    q[i] = static_cast<int8_t>(static_cast<int>(r));
  }
  *dx = d;
}

void QActs::resize(int64_t M, int64_t K, bool nibble_order) {
  M_ = M;
  K_ = K;
  nibble_ = nibble_order;
  const size_t n = static_cast<size_t>(M * K);
  if (q_.size() < n) {
    q_.resize(n);
    dl_.resize(n / 4);
    ns4_.resize(n / 4);
    ns16_.resize(n / 16);
    ds_.resize(n / 32);
  }
  const size_t lanes = static_cast<size_t>(M * 16 * ((K + 127) / 128));
  if (nibble_order && qn_.size() < n) qn_.resize(n);
  if (nibble_order && dln_.size() < lanes) {
    dln_.resize(lanes);
    nsn_.resize(lanes);
  }
}

void QActs::quantize_row(int64_t m, const float* xr) {
  {
    int8_t* q = q_.data() + m * K_;
    float* dl = dl_.data() + m * K_ / 4;
    int32_t* ns4 = ns4_.data() + m * K_ / 4;
    float* ds = ds_.data() + m * K_ / 32;
    int32_t* ns16 = ns16_.data() + m * K_ / 16;
    for (int64_t b = 0; b < K_ / 32; ++b) {
      float d;
      quantize_block32(xr + 32 * b, q + 32 * b, &d);
      int32_t total = 0;
      for (int l = 0; l < 8; ++l) {
        const int8_t* ql = q + 32 * b + 4 * l;
        const int32_t s = ql[0] + ql[1] + ql[2] + ql[3];
        ns4[8 * b + l] = -s;
        dl[8 * b + l] = d;
        total += s;
      }
      ds[b] = d * static_cast<float>(total);
      ns16[2 * b] = ns4[8 * b] + ns4[8 * b + 1] + ns4[8 * b + 2] + ns4[8 * b + 3];
      ns16[2 * b + 1] = ns4[8 * b + 4] + ns4[8 * b + 5] + ns4[8 * b + 6] + ns4[8 * b + 7];
    }
  }
  if (!nibble_) return;
  // Nibble order, group by group (see QRow::qn).
  const int8_t* q = q_.data() + m * K_;
  const float* dl = dl_.data() + m * K_ / 4;
  const int64_t lanes = 16 * ((K_ + 127) / 128);
  int8_t* qn = qn_.data() + m * K_;
  float* dln = dln_.data() + m * lanes;
  int32_t* nsn = nsn_.data() + m * lanes;
  for (int64_t base = 0, g = 0; base < K_; base += 128, ++g) {
    const int nbk = static_cast<int>(std::min<int64_t>(4, (K_ - base) / 32));
    for (int l = 0; l < 16; ++l) {
      dln[16 * g + l] = 0.0f;
      nsn[16 * g + l] = 0;
    }
    for (int b = 0; b < nbk; ++b) {
      const int8_t* qb = q + base + 32 * b;
      for (int i = 0; i < 16; ++i) {
        qn[base + 16 * b + i] = qb[i];
        qn[base + 16 * nbk + 16 * b + i] = qb[16 + i];
      }
      for (int j = 0; j < 4; ++j) {
        int32_t s = 0;
        for (int t = 0; t < 4; ++t) s += qb[4 * j + t] + qb[16 + 4 * j + t];
        nsn[16 * g + 4 * b + j] = -8 * s;
        dln[16 * g + 4 * b + j] = dl[(base + 32 * b) / 4];
      }
    }
  }
}

QRow QActs::row(int64_t m) const {
  const int64_t lanes = 16 * ((K_ + 127) / 128);
  QRow r{q_.data() + m * K_, dl_.data() + m * K_ / 4, ns4_.data() + m * K_ / 4, ds_.data() + m * K_ / 32,
         ns16_.data() + m * K_ / 16, nullptr, nullptr, nullptr};
  if (nibble_) {
    r.qn = qn_.data() + m * K_;
    r.dln = dln_.data() + m * lanes;
    r.nsn = nsn_.data() + m * lanes;
  }
  return r;
}

void q4_k_scales(const void* block, float* dsc, float* dmn) {
  const BlockQ4_K& b = *static_cast<const BlockQ4_K*>(block);
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  const uint8_t* q = b.scales;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    if (j < 4) {
      sc = q[j] & 63;
      mn = q[j + 4] & 63;
    } else {
      sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
      mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
    dsc[j] = d * static_cast<float>(sc);
    dmn[j] = dmin * static_cast<float>(mn);
  }
}

bool has_int8_kernel(DType t) {
  return t == DType::kQ4_0 || t == DType::kQ8_0 || t == DType::kQ4_K || t == DType::kQ6_K;
}

RowDotFn Kernels::int8(DType t) const {
  switch (t) {
    case DType::kQ4_0: return q4_0;
    case DType::kQ8_0: return q8_0;
    case DType::kQ4_K: return q4_k;
    case DType::kQ6_K: return q6_k;
    default: return nullptr;
  }
}

GemmFn Kernels::gemm(DType t) const {
  switch (t) {
    case DType::kQ4_0: return gemm_q4_0;
    case DType::kQ8_0: return gemm_q8_0;
    case DType::kQ4_K: return gemm_q4_k;
    case DType::kQ6_K: return gemm_q6_k;
    default: return nullptr;
  }
}

namespace {

// x16 tiles of blocks with an f16 scale `d` and QB quant bytes `qs` (qdot.h): per pair of blocks
// (b, b + 1), the 16 rows' scales of b, those of b + 1, then the quant bytes of b as QB/4 vectors
// of 64 bytes (vector c, dword j: row j's qs[4c..4c+3]) and those of b + 1.
template <class Block, int QB>
void pack_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile) {
  constexpr int64_t kPair = 2 * 32 + 2 * kX16Rows * QB;
  const int64_t nb = K / 32;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* pair = tile + (b / 2) * kPair;
    uint8_t* scales = pair + 32 * (b % 2);
    uint8_t* quants = pair + 64 + kX16Rows * QB * (b % 2);
    for (int64_t j = 0; j < kX16Rows; ++j) {
      const auto* blk = reinterpret_cast<const Block*>(w + j * ldw) + b;
      std::memcpy(scales + 2 * j, &blk->d, 2);
      for (int c = 0; c < QB / 4; ++c) std::memcpy(quants + 64 * c + 4 * j, blk->qs + 4 * c, 4);
    }
  }
}

}  // namespace

void pack_q4_0_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile) {
  static_assert(2 * 32 + 2 * kX16Rows * 16 == kX16PairBytes, "q4_0 x16 pair size");
  pack_x16<BlockQ4_0, 16>(w, ldw, K, tile);
}

void pack_q8_0_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile) {
  static_assert(2 * 32 + 2 * kX16Rows * 32 == kX16PairBytesQ8, "q8_0 x16 pair size");
  pack_x16<BlockQ8_0, 32>(w, ldw, K, tile);
}

void pack_q4_k_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile) {
  static_assert(32 + 32 + 3 * 64 + 8 * 256 == kX16SuperBytesQ4K && kX16SuperBytesQ4K == kX16Rows * sizeof(BlockQ4_K),
                "q4_k x16 super-block size");
  for (int64_t s = 0; s < K / 256; ++s) {
    uint8_t* sb = tile + s * kX16SuperBytesQ4K;
    for (int64_t j = 0; j < kX16Rows; ++j) {
      const BlockQ4_K& blk = reinterpret_cast<const BlockQ4_K*>(w + j * ldw)[s];
      std::memcpy(sb + 2 * j, &blk.d, 2);
      std::memcpy(sb + 32 + 2 * j, &blk.dmin, 2);
      for (int word = 0; word < 3; ++word) std::memcpy(sb + 64 + 64 * word + 4 * j, blk.scales + 4 * word, 4);
      // Sub-block sb_i: element e is the low (even sb_i) or high (odd) nibble of qs[32·(sb_i/2) + e].
      // Four bytes at a time (elements 4c..4c+3 and 16+4c..19+4c of a row make one dword).
      for (int sub = 0; sub < 8; ++sub) {
        const uint8_t* qs = blk.qs + 32 * (sub / 2);
        const int shift = 4 * (sub % 2);
        uint8_t* v = sb + 256 + 256 * sub + 4 * j;
        for (int c = 0; c < 4; ++c) {
          uint32_t a, b;
          std::memcpy(&a, qs + 4 * c, 4);
          std::memcpy(&b, qs + 16 + 4 * c, 4);
          const uint32_t d = ((a >> shift) & 0x0F0F0F0Fu) | ((b >> shift) & 0x0F0F0F0Fu) << 4;
          std::memcpy(v + 64 * c, &d, 4);
        }
      }
    }
  }
}

void pack_q6_k_x16(const uint8_t* w, size_t ldw, int64_t K, uint8_t* tile) {
  static_assert(32 + 256 + 8 * (256 + 128) == kX16SuperBytesQ6K && kX16SuperBytesQ6K == kX16Rows * sizeof(BlockQ6_K),
                "q6_k x16 super-block size");
  for (int64_t s = 0; s < K / 256; ++s) {
    uint8_t* sb = tile + s * kX16SuperBytesQ6K;
    for (int64_t j = 0; j < kX16Rows; ++j) {
      const BlockQ6_K& blk = reinterpret_cast<const BlockQ6_K*>(w + j * ldw)[s];
      std::memcpy(sb + 2 * j, &blk.d, 2);
      for (int g = 0; g < 16; ++g) sb[32 + 16 * g + j] = static_cast<uint8_t>(blk.scales[g]);
      // Sub-block sub (elements 32·sub + l, l < 32) is quarter k = sub % 4 of half sub / 4 of the
      // file's block: its low 4 bits are those of ql[64·half + 32·(k % 2) + l] (the high nibble
      // for k ≥ 2), its top 2 bits bits 2k, 2k + 1 of qh[32·half + l].
      for (int sub = 0; sub < 8; ++sub) {
        const int half = sub / 4, k = sub % 4;
        const uint8_t* ql = blk.ql + 64 * half + 32 * (k % 2);
        const uint8_t* qh = blk.qh + 32 * half;
        // Four bytes (elements l..l+3) at a time.
        auto word = [](const uint8_t* p, int l) {
          uint32_t v;
          std::memcpy(&v, p + l, 4);
          return v;
        };
        auto lo = [&](int l) { return (word(ql, l) >> (4 * (k / 2))) & 0x0F0F0F0Fu; };
        auto hi = [&](int l) { return (word(qh, l) >> (2 * k)) & 0x03030303u; };
        uint8_t* nib = sb + 288 + 384 * sub;
        uint8_t* top = nib + 256 + 64 * (j / 8) + 4 * (j % 8);
        for (int c = 0; c < 4; ++c) {
          const uint32_t v = lo(4 * c) | lo(16 + 4 * c) << 4;
          std::memcpy(nib + 64 * c + 4 * j, &v, 4);
        }
        for (int part = 0; part < 2; ++part) {
          uint32_t v = 0;
          for (int c = 0; c < 4; ++c) v |= hi(16 * part + 4 * c) << (2 * c);
          std::memcpy(top + 32 * part, &v, 4);
        }
      }
    }
  }
}

// The inverses: row j of a tile back into the file's layout (a bit permutation each way).
namespace {

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <class Block, int QB>
void unpack_x16_row(const uint8_t* tile, int64_t K, int j, uint8_t* row) {
  constexpr int64_t kPair = 2 * 32 + 2 * kX16Rows * QB;
  auto* out = reinterpret_cast<Block*>(row);
  for (int64_t b = 0; b < K / 32; ++b) {
    const uint8_t* pair = tile + (b / 2) * kPair;
    const uint8_t* quants = pair + 64 + kX16Rows * QB * (b % 2);
    std::memcpy(&out[b].d, pair + 32 * (b % 2) + 2 * j, 2);
    for (int c = 0; c < QB / 4; ++c) std::memcpy(out[b].qs + 4 * c, quants + 64 * c + 4 * j, 4);
  }
}

void unpack_q4_0_x16_row(const uint8_t* tile, int64_t K, int j, uint8_t* row) {
  unpack_x16_row<BlockQ4_0, 16>(tile, K, j, row);
}

void unpack_q8_0_x16_row(const uint8_t* tile, int64_t K, int j, uint8_t* row) {
  unpack_x16_row<BlockQ8_0, 32>(tile, K, j, row);
}

void unpack_q4_k_x16_row(const uint8_t* tile, int64_t K, int j, uint8_t* row) {
  for (int64_t s = 0; s < K / 256; ++s) {
    const uint8_t* sb = tile + s * kX16SuperBytesQ4K;
    BlockQ4_K& blk = reinterpret_cast<BlockQ4_K*>(row)[s];
    std::memcpy(&blk.d, sb + 2 * j, 2);
    std::memcpy(&blk.dmin, sb + 32 + 2 * j, 2);
    for (int word = 0; word < 3; ++word) std::memcpy(blk.scales + 4 * word, sb + 64 + 64 * word + 4 * j, 4);
    std::memset(blk.qs, 0, sizeof(blk.qs));
    for (int sub = 0; sub < 8; ++sub) {
      uint8_t* qs = blk.qs + 32 * (sub / 2);
      const int shift = 4 * (sub % 2);
      for (int c = 0; c < 4; ++c) {
        const uint32_t d = load32(sb + 256 + 256 * sub + 64 * c + 4 * j);
        const uint32_t a = load32(qs + 4 * c) | (d & 0x0F0F0F0Fu) << shift;
        const uint32_t b = load32(qs + 16 + 4 * c) | (d >> 4 & 0x0F0F0F0Fu) << shift;
        std::memcpy(qs + 4 * c, &a, 4);
        std::memcpy(qs + 16 + 4 * c, &b, 4);
      }
    }
  }
}

void unpack_q6_k_x16_row(const uint8_t* tile, int64_t K, int j, uint8_t* row) {
  for (int64_t s = 0; s < K / 256; ++s) {
    const uint8_t* sb = tile + s * kX16SuperBytesQ6K;
    BlockQ6_K& blk = reinterpret_cast<BlockQ6_K*>(row)[s];
    std::memcpy(&blk.d, sb + 2 * j, 2);
    for (int g = 0; g < 16; ++g) blk.scales[g] = static_cast<int8_t>(sb[32 + 16 * g + j]);
    std::memset(blk.ql, 0, sizeof(blk.ql));
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int sub = 0; sub < 8; ++sub) {
      const int half = sub / 4, k = sub % 4;
      uint8_t* ql = blk.ql + 64 * half + 32 * (k % 2);
      uint8_t* qh = blk.qh + 32 * half;
      const uint8_t* nib = sb + 288 + 384 * sub;
      const uint8_t* top = nib + 256 + 64 * (j / 8) + 4 * (j % 8);
      auto add = [](uint8_t* p, int l, uint32_t bits) {
        const uint32_t v = load32(p + l) | bits;
        std::memcpy(p + l, &v, 4);
      };
      for (int c = 0; c < 4; ++c) {
        const uint32_t v = load32(nib + 64 * c + 4 * j);
        add(ql, 4 * c, (v & 0x0F0F0F0Fu) << (4 * (k / 2)));
        add(ql, 16 + 4 * c, (v >> 4 & 0x0F0F0F0Fu) << (4 * (k / 2)));
      }
      for (int part = 0; part < 2; ++part) {
        const uint32_t v = load32(top + 32 * part);
        for (int c = 0; c < 4; ++c) add(qh, 16 * part + 4 * c, (v >> (2 * c) & 0x03030303u) << (2 * k));
      }
    }
  }
}

}  // namespace

X16UnpackFn x16_unpack(DType t) {
  switch (t) {
    case DType::kQ4_0: return &unpack_q4_0_x16_row;
    case DType::kQ8_0: return &unpack_q8_0_x16_row;
    case DType::kQ4_K: return &unpack_q4_k_x16_row;
    case DType::kQ6_K: return &unpack_q6_k_x16_row;
    default: return nullptr;
  }
}

X16PackFn x16_pack(DType t) {
  switch (t) {
    case DType::kQ4_0: return &pack_q4_0_x16;
    case DType::kQ8_0: return &pack_q8_0_x16;
    case DType::kQ4_K: return &pack_q4_k_x16;
    case DType::kQ6_K: return &pack_q6_k_x16;
    default: return nullptr;
  }
}

X16DotFn Kernels::x16(DType t) const {
  switch (t) {
    case DType::kQ4_0: return q4_0_x16;
    case DType::kQ8_0: return q8_0_x16;
    case DType::kQ4_K: return q4_k_x16;
    case DType::kQ6_K: return q6_k_x16;
    default: return nullptr;
  }
}

X16GemmFn Kernels::gemm_x16(DType t) const {
  switch (t) {
    case DType::kQ4_0: return gemm_q4_0_x16;
    case DType::kQ8_0: return gemm_q8_0_x16;
    case DType::kQ4_K: return gemm_q4_k_x16;
    case DType::kQ6_K: return gemm_q6_k_x16;
    default: return nullptr;
  }
}

// Packed tile: per 32-block, 512 bytes (8 groups x 16 rows x 4 bytes), 16 scales for each
// 16-element half, 16 mins.
// Two packed tiles (X16GemmFn), each K/32 blocks of 512 bytes of weights and 3 · 64 of scales and mins.
size_t gemm_scratch_bytes(int64_t K) { return 2 * static_cast<size_t>(K / 32) * (512 + 3 * 64) + 64; }

FloatDotFn Kernels::fp(DType t) const {
  switch (t) {
    case DType::kF32: return f32;
    case DType::kF16: return f16;
    case DType::kBF16: return bf16;
    default: return nullptr;
  }
}

const Kernels& kernels(Isa isa) {
#if defined(GEMMA12B_CPU_X86_KERNELS)
  if (isa == Isa::kAvx512) return kernels_avx512();
  if (isa == Isa::kAvx2) return kernels_avx2();
#else
  (void)isa;
#endif
  return kernels_scalar();
}

}  // namespace gemma12b::cpu
