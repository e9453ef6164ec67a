// Op builders: the functions model code calls. Each validates shapes and dtypes (so every backend
// sees only well-formed ops) and hands the op to the stream.
#pragma once

#include "core/backend.h"
#include "core/op.h"
#include "util/status.h"

namespace gemma12b {

// Checks an op's shapes and dtypes against the contract in op.h. Backends may call it too.
Status validate_op(const Op& op);

namespace ops {

Status matmul(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& w,
              const TensorView& bias = {});
Status get_rows(Stream& s, const TensorView& dst, const TensorView& table, const TensorView& ids,
                float scale);
Status rms_norm(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& weight,
                float eps);
Status layer_norm(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& weight,
                  const TensorView& bias, float eps);
Status rope(Stream& s, const TensorView& dst, const TensorView& x, const TensorView& positions,
            const TensorView& freq_factors, float theta, int32_t n_rot);
struct AttentionArgs {
  TensorView q, k, v, qpos, kpos, qblock, kblock;
  float scale = 1.0f;
  int32_t window = 0;
};
Status attention(Stream& s, const TensorView& dst, const AttentionArgs& a);
Status geglu(Stream& s, const TensorView& dst, const TensorView& gate, const TensorView& up);
Status add(Stream& s, const TensorView& dst, const TensorView& a, const TensorView& b);
Status mul(Stream& s, const TensorView& dst, const TensorView& a, const TensorView& b);
Status scale(Stream& s, const TensorView& dst, const TensorView& x, float factor);
Status softcap(Stream& s, const TensorView& dst, const TensorView& x, float cap);
Status softmax(Stream& s, const TensorView& dst, const TensorView& x, float scale = 1.0f);
Status copy(Stream& s, const TensorView& dst, const TensorView& src);
Status dequantize(Stream& s, const TensorView& dst, const TensorView& src);

}  // namespace ops
}  // namespace gemma12b
