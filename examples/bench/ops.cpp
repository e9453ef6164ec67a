#include "ops.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

#include "absl/strings/str_format.h"
#include "bench.h"
#include "core/backend.h"
#include "core/ops.h"
#include "core/quant.h"

namespace gemma12b::bench {
namespace {

struct Shape {
  const char* what;
  int64_t N, K;
};
// Gemma 4 12B: the FFN's up/gate (N 15360, K 3840) and down (3840, 15360) projections.
constexpr Shape kShapes[] = {{"ffn_up", 15360, 3840}, {"ffn_down", 3840, 15360}};
// Enough distinct weight copies that a pass never finds the previous one in cache.
constexpr size_t kRotateBytes = size_t{512} << 20;

}  // namespace

int run_ops_bench(const OpsOptions& o) {
  DeviceOptions dopt;
  dopt.n_threads = o.threads;
  auto dev = create_device("cpu", dopt);
  if (!dev.ok()) {
    std::fprintf(stderr, "gemma12b-bench: %s\n", std::string(dev.status().message()).c_str());
    return 1;
  }
  auto stream = (*dev)->create_stream();
  if (!stream.ok()) return 1;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::printf("| %-6s | %-9s | %-12s | %4s | %18s | %10s | %10s |\n", "type", "shape", "N x K", "M", "ms", "GB/s (w)", "GOP/s");
  std::printf("|--------|-----------|--------------|------|--------------------|------------|------------|\n");
  for (DType t : o.types) {
    for (const Shape& s : kShapes) {
      const size_t wbytes = row_size(t, s.K) * s.N;
      const int copies = static_cast<int>(std::max<size_t>(2, kRotateBytes / wbytes + 1));
      std::vector<std::unique_ptr<Buffer>> ws;
      std::vector<float> row(s.K);
      std::vector<uint8_t> qrow(row_size(t, s.K));
      for (int c = 0; c < copies; ++c) {
        auto b = (*dev)->create_buffer(wbytes);
        if (!b.ok()) return 1;
        // One random row quantized and repeated: the kernels' speed does not depend on values.
        for (float& v : row) v = uni(rng);
        quantize_row(t, row.data(), qrow.data(), s.K);
        uint8_t* p = static_cast<uint8_t*>((*b)->map());
        for (int64_t n = 0; n < s.N; ++n) std::copy(qrow.begin(), qrow.end(), p + n * qrow.size());
        ws.push_back(std::move(*b));
      }
      for (int64_t M : o.rows) {
        auto xb = (*dev)->create_buffer(M * s.K * sizeof(float));
        auto db = (*dev)->create_buffer(M * s.N * sizeof(float));
        if (!xb.ok() || !db.ok()) return 1;
        float* x = static_cast<float*>((*xb)->map());
        for (int64_t i = 0; i < M * s.K; ++i) x[i] = uni(rng);
        const TensorView xv = TensorView::contiguous(xb->get(), 0, DType::kF32, {M, s.K});
        const TensorView dv = TensorView::contiguous(db->get(), 0, DType::kF32, {M, s.N});
        Stat ms;
        // Large M runs fewer times (seconds each); one untimed warm-up call per configuration.
        const int reps = M >= 64 ? std::max(1, o.reps / 2) : o.reps * 4;
        for (int r = -1; r < reps; ++r) {
          const TensorView wv = TensorView::contiguous(ws[(r + 1) % copies].get(), 0, t, {s.N, s.K});
          const auto t0 = std::chrono::steady_clock::now();
          Status st = ops::matmul(**stream, dv, xv, wv);
          if (st.ok()) st = (*stream)->synchronize();
          const auto t1 = std::chrono::steady_clock::now();
          if (!st.ok()) {
            std::fprintf(stderr, "gemma12b-bench: %s\n", std::string(st.message()).c_str());
            return 1;
          }
          if (r >= 0) ms.v.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
        const double sec = ms.mean() / 1e3;
        std::printf("| %-6s | %-9s | %5lld x %-5lld | %4lld | %18s | %10.1f | %10.1f |\n",
                    std::string(dtype_name(t)).c_str(), s.what, static_cast<long long>(s.N),
                    static_cast<long long>(s.K), static_cast<long long>(M),
                    absl::StrFormat("%.3f ± %.3f", ms.mean(), ms.sd()).c_str(), wbytes / sec / 1e9,
                    2.0 * M * s.N * s.K / sec / 1e9);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace gemma12b::bench
