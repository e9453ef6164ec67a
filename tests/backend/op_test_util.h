// Helpers for the op-conformance suite: host-side tensors, a per-device environment that places
// every tensor between guard bytes, and "run the same op on every backend and compare with the
// reference" drivers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "util/status.h"

namespace gemma12b::optest {

// Unit roundoff of f32 (2^-24).
constexpr double kU = 5.960464477539063e-08;

// A tensor's bytes on the host, in its dtype's layout (contiguous, rows of row_size bytes).
struct HostTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
  int64_t row_len() const { return shape.back(); }
  int64_t n_rows() const { return numel() / row_len(); }
};

std::vector<float> random_f32(std::mt19937& rng, int64_t n, float lo, float hi);
double rms(const std::vector<float>& v);      // 0 for an empty vector
double max_abs(const std::vector<float>& v);
std::string dname(DType t);                   // dtype_name as a string
HostTensor f32_tensor(std::vector<int64_t> shape, const std::vector<float>& values);
HostTensor i32_tensor(std::vector<int64_t> shape, const std::vector<int32_t>& values);
// Quantizes/converts f32 values row by row into dtype (any dtype but i32).
HostTensor typed_tensor(DType dtype, std::vector<int64_t> shape, const std::vector<float>& values);
// The f32 values a backend sees for t (dequantized with core/quant).
std::vector<float> to_f32(const HostTensor& t);
std::vector<float> bytes_to_f32(const std::vector<uint8_t>& bytes);

// One backend under test (or the oracle).
struct Target {
  std::string name;  // "reference", "cpu/avx512/2t", "vulkan", ...
  Device* device;
  Stream* stream;
  bool int8_matmul = false;  // quantized weights meet int8 activations (cpu/qdot.h)
  // Buffers are device memory (Buffer::map() is nullptr; data moves through upload/download) and
  // execution is asynchronous (errors may surface at synchronize()).
  bool gpu = false;
  // f16-weight matmuls use f16 arithmetic (Vulkan's fp16 path; its error bound is in
  // test_op_conformance.cpp). Every other op keeps the f32 contract.
  bool fp16_matmul = false;
  // Attention over a q8_0 K rounds the queries per 32-block like int8 activations (the CPU
  // backend unless exact; its bound is in test_op_attention.cpp).
  bool int8_attention = false;
};
// [reference, cpu (best ISA) with 2 and 1 threads, cpu with each slower ISA path this processor
// has (forced with GEMMA12B_CPU_ISA), cpu with exact (f32-activation) matmuls, and when this
// build has the Vulkan backend and the machine a Vulkan device: vulkan (default: the device's
// fast paths, f16 arithmetic and int8 integer-dot matmuls where it reports them), vulkan/exact
// (exact_matmul: f32 throughout) and vulkan/no-features (the path of a device without subgroup
// arithmetic, f16 or integer dot products, forced with GEMMA12B_VULKAN_NO_*=1)]; created once.
// The environment variable GEMMA12B_TEST_TARGETS (comma-separated name prefixes, e.g. "vulkan")
// keeps only the matching targets besides the reference, which is always first (the oracle).
const std::vector<Target>& targets();

// ---- Vulkan -------------------------------------------------------------------------------------
// Tests that exercise Vulkan specifically report as skipped in ctest (SKIP_REGULAR_EXPRESSION,
// tests/CMakeLists.txt) when the build has no Vulkan backend (create_device gives NotFound) or
// the machine no Vulkan device (Unavailable): they print kNoVulkanLine plus the status.
inline constexpr char kNoVulkanLine[] = "SKIPPED: no Vulkan device:";
// Whether this build registered a backend named "vulkan".
bool vulkan_built();
// A Vulkan device made with `options`; an OK status holding nullptr when there is none to test
// (not built, or no device: the skip line is printed once per process). Any other failure to
// create it is returned as the error.
StatusOr<std::unique_ptr<Device>> vulkan_device_or_skip(const DeviceOptions& options);

// The result of running an op body on one target: its status and, when OK, the dst bytes.
struct Outcome {
  Status status;
  std::vector<uint8_t> bytes;
};

// Allocates tensors on one target. Every tensor gets its own buffer with kGuard guard bytes on
// both sides (filled with a pattern checked by guards_intact()), so out-of-bounds writes show.
class Env {
 public:
  static constexpr size_t kGuard = 64;
  static constexpr uint8_t kGuardByte = 0xA5;

  explicit Env(const Target& target) : target_(target) {}
  Stream& stream() { return *target_.stream; }
  const Target& target() const { return target_; }

  TensorView upload(const HostTensor& t);
  // A matmul weight as models load them (Device::wrap_weight over host memory this Env keeps
  // alive); an upload on devices without host memory. With `scribble_copied`, once the device
  // reports a copy (Buffer::holds_copy) the source bytes of its full 16-row tiles (cpu/qdot.h) are
  // overwritten with garbage, as if the file's released pages were gone: whatever still reads them
  // shows up as wrong values.
  TensorView wrap_weight(const HostTensor& t, bool scribble_copied = false);
  // A fresh tensor whose bytes are all `fill` (0xFF: f32 NaN, so unwritten outputs show).
  TensorView alloc(DType dtype, std::vector<int64_t> shape, uint8_t fill = 0xFF);
  // The view's rows, packed (works for strided views).
  std::vector<uint8_t> download(const TensorView& v);
  // {st, {}} if st is an error, else synchronizes and downloads dst.
  Outcome finish(const Status& st, const TensorView& dst);
  // Empty if every guard is intact, else a description of the first damaged one.
  std::string guard_damage();

 private:
  TensorView place(DType dtype, const std::vector<int64_t>& shape, const uint8_t* data,
                   uint8_t fill);
  const Target& target_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> wrapped_;  // outlives the buffers in slots_
  struct Slot {
    std::unique_ptr<Buffer> buffer;
    size_t begin, end;  // payload range
  };
  std::vector<Slot> slots_;
};

using Body = std::function<Outcome(Env&)>;
// Tolerance for output element i whose reference value is ref.
using TolFn = std::function<double(size_t i, double ref)>;
// |got - ref| <= rtol·|ref| + atol.
TolFn rel_tol(double rtol, double atol);

// Runs body on every target (guards checked), returns the outcomes in targets() order.
std::vector<Outcome> run_all(const std::string& what, const Body& body);
// Runs body everywhere; requires the reference to succeed and every other target to succeed and
// produce f32 output within tol of the reference's. Returns the reference output.
std::vector<float> expect_close(const std::string& what, const Body& body, const TolFn& tol);
// One CHECK that got[i] is within tol(i, expected[i]) of expected[i] for every i (NaN fails),
// naming the worst element.
void check_close(const std::string& what, const std::string& target, const std::vector<float>& got,
                 const std::vector<double>& expected, const TolFn& tol);
// As expect_close but every target's dst bytes must equal the reference's exactly.
std::vector<uint8_t> expect_bytes_equal(const std::string& what, const Body& body);
// Runs body everywhere and requires a non-OK status from each target (of `code` unless kOk).
void expect_error(const std::string& what, const Body& body,
                  absl::StatusCode code = absl::StatusCode::kOk);

}  // namespace gemma12b::optest
