// The portable path of qdot.h: chunks decoded by qdot_chunks.h, integer lane dots, f32 sums.
#include <cmath>

#include "core/quant.h"
#include "cpu/attn_lanes_generic.h"
#include "cpu/qdot.h"
#include "cpu/qdot_chunks.h"
#include "cpu/qdot_rows.h"

namespace gemma12b::cpu {
namespace {

template <class T>
void rowdot1(const uint8_t* w, const QRow* x, int R, int64_t K, float* out) {
  float acc[kMaxRows] = {0, 0, 0, 0};
  chunks::Chunk ch;
  for (int64_t s = 0; s < K / T::kSuper; ++s) {
    for (int c = 0; c < T::kSuper / 64; ++c) {
      T::decode(w, s, c, ch);
      const int64_t e = s * T::kSuper + 64 * c;  // first element of the chunk
      for (int r = 0; r < R; ++r) {
        const int8_t* q = x[r].q + e;
        float a = 0.0f;
        for (int l = 0; l < 16; ++l) {
          int32_t dot = T::kOffset * x[r].ns4[e / 4 + l];
          for (int j = 0; j < 4; ++j) dot += static_cast<int32_t>(ch.u[4 * l + j]) * q[4 * l + j];
          a += ch.ws[l] * x[r].dl[e / 4 + l] * static_cast<float>(dot);
        }
        acc[r] += a;
      }
    }
    if constexpr (T::kMins) {
      float dmn[8];
      T::mins(w, s, dmn);
      for (int r = 0; r < R; ++r) {
        float m = 0.0f;
        for (int j = 0; j < 8; ++j) m += dmn[j] * x[r].ds[s * 8 + j];
        acc[r] -= m;
      }
    }
  }
  for (int r = 0; r < R; ++r) out[r] = acc[r];
}

template <DType kT>
void fdot1(const uint8_t* w, const float* const* x, int R, int64_t K, float* out) {
  float acc[kMaxRows][8] = {};
  float wv[8];
  for (int64_t k = 0; k < K; k += 8) {
    const int64_t n = K - k < 8 ? K - k : 8;
    for (int64_t j = 0; j < n; ++j) {
      if constexpr (kT == DType::kF32) {
        wv[j] = reinterpret_cast<const float*>(w)[k + j];
      } else if constexpr (kT == DType::kF16) {
        wv[j] = f16_to_f32(reinterpret_cast<const uint16_t*>(w)[k + j]);
      } else {
        wv[j] = bf16_to_f32(reinterpret_cast<const uint16_t*>(w)[k + j]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int64_t j = 0; j < n; ++j) acc[r][j] += wv[j] * x[r][k + j];
    }
  }
  for (int r = 0; r < R; ++r) {
    out[r] = ((acc[r][0] + acc[r][1]) + (acc[r][2] + acc[r][3])) + ((acc[r][4] + acc[r][5]) + (acc[r][6] + acc[r][7]));
  }
}

template <class T>
void rowdot(const uint8_t* w, size_t ldw, int64_t n, const QRow* x, int R, int64_t K, float* out, size_t ldo) {
  each_row(R, w, ldw, n, out, ldo, [&](const uint8_t* wj, float* o) { rowdot1<T>(wj, x, R, K, o); });
}

template <DType kT>
void fdot(const uint8_t* w, size_t ldw, int64_t n, const float* const* x, int R, int64_t K, float* out, size_t ldo) {
  each_row(R, w, ldw, n, out, ldo, [&](const uint8_t* wj, float* o) { fdot1<kT>(wj, x, R, K, o); });
}

inline float kv_at(const void* p, KvRow t, int64_t i) { return lanes::vrow<&chunks::h2f>(p, t, i); }

void attn_dot(const float* q, int G, int64_t D, const void* const* k, int n, KvRow kt, float* out, int lds,
              const AttnPrefetch& prefetch) {
  RowPrefetcher pf(prefetch, n);
  for (int j = 0; j < n; ++j) {
    pf.step();
    for (int g = 0; g < G; ++g) {
      float acc[8] = {};
      int64_t i = 0;
      for (; i + 8 <= D; i += 8) {
        for (int l = 0; l < 8; ++l) acc[l] += q[g * D + i + l] * kv_at(k[j], kt, i + l);
      }
      float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; i < D; ++i) s += q[g * D + i] * kv_at(k[j], kt, i);
      out[g * lds + j] = s;
    }
  }
}

void attn_axpy(float* acc, int G, int64_t D, const float* p, int ldp, const void* const* v, int n, KvRow vt,
               const AttnPrefetch& prefetch) {
  RowPrefetcher pf(prefetch, n);
  for (int j = 0; j < n; ++j) {
    pf.step();
    for (int g = 0; g < G; ++g) {
      for (int64_t i = 0; i < D; ++i) acc[g * D + i] += p[g * ldp + j] * kv_at(v[j], vt, i);
    }
  }
}

float exp_sum(float* x, int64_t n, float m) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += x[i] = std::exp(x[i] - m);
  return s;
}

void geglu(const float* g, const float* u, float* out, int64_t n) {
  constexpr float kC = 0.7978845608028654f;  // sqrt(2/pi)
  for (int64_t i = 0; i < n; ++i) {
    const float z = g[i];
    out[i] = 0.5f * z * (1.0f + std::tanh(kC * (z + 0.044715f * z * z * z))) * u[i];
  }
}

void softcap(const float* x, float* out, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) out[i] = cap * std::tanh(x[i] * inv);
}

}  // namespace

const Kernels& kernels_scalar() {
  static const Kernels k = [] {
    Kernels t{Isa::kScalar,
              &rowdot<chunks::Q4_0>,
              &rowdot<chunks::Q8_0>,
              &rowdot<chunks::Q4_K>,
              &rowdot<chunks::Q6_K>,
              &fdot<DType::kF32>,
              &fdot<DType::kF16>,
              &fdot<DType::kBF16>,
              &attn_dot,
              &attn_axpy,
              &exp_sum,
              &geglu,
              &softcap};
    t.attn_dot_lanes = &lanes::attn_dot_lanes<&chunks::h2f>;
    t.attn_softmax_lanes = &lanes::attn_softmax_lanes;
    t.attn_axpy_lanes = &lanes::attn_axpy_lanes<&chunks::h2f>;
    return t;
  }();
  return k;
}

}  // namespace gemma12b::cpu
