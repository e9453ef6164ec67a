#include "op_test_util.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"
#include "core/quant.h"
#include "cpu/isa.h"

namespace gemma12b::optest {

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

double rms(const std::vector<float>& v) {
  double s = 0.0;
  for (float e : v) s += static_cast<double>(e) * e;
  return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float e : v) m = std::max(m, std::fabs(static_cast<double>(e)));
  return m;
}

std::string dname(DType t) { return std::string(dtype_name(t)); }

std::vector<float> random_f32(std::mt19937& rng, int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& e : v) e = dist(rng);
  return v;
}

HostTensor f32_tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
  return typed_tensor(DType::kF32, std::move(shape), values);
}

HostTensor i32_tensor(std::vector<int64_t> shape, const std::vector<int32_t>& values) {
  HostTensor t{DType::kI32, std::move(shape), {}};
  REQUIRE(static_cast<int64_t>(values.size()) == t.numel());
  t.bytes.resize(values.size() * sizeof(int32_t));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

HostTensor typed_tensor(DType dtype, std::vector<int64_t> shape, const std::vector<float>& values) {
  HostTensor t{dtype, std::move(shape), {}};
  REQUIRE(static_cast<int64_t>(values.size()) == t.numel());
  const size_t rb = row_size(dtype, t.row_len());
  REQUIRE(rb > 0);
  t.bytes.resize(rb * static_cast<size_t>(t.n_rows()));
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    quantize_row(dtype, values.data() + r * t.row_len(), t.bytes.data() + r * rb, t.row_len());
  }
  return t;
}

std::vector<float> to_f32(const HostTensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const size_t rb = row_size(t.dtype, t.row_len());
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    dequantize_row(t.dtype, t.bytes.data() + r * rb, out.data() + r * t.row_len(), t.row_len());
  }
  return out;
}

std::vector<float> bytes_to_f32(const std::vector<uint8_t>& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

bool vulkan_built() {
  for (const BackendFactory& f : registered_backends()) {
    if (std::string(f.name) == "vulkan") return true;
  }
  return false;
}

StatusOr<std::unique_ptr<Device>> vulkan_device_or_skip(const DeviceOptions& options) {
  auto dev = create_device("vulkan", options);
  if (dev.ok()) return dev;
  // Not built: create_device says NotFound. Built but no device: Unavailable. Anything else (a
  // bad GEMMA12B_VULKAN_DEVICE, a driver failure) is an error the caller must report.
  const absl::StatusCode code = dev.status().code();
  const bool none = vulkan_built() ? code == absl::StatusCode::kUnavailable
                                   : code == absl::StatusCode::kNotFound;
  if (!none) return dev.status();
  static bool printed = false;
  if (!printed) {
    printed = true;
    std::printf("%s %s\n", kNoVulkanLine, dev.status().ToString().c_str());
    std::fflush(stdout);
  }
  return std::unique_ptr<Device>();
}

namespace {

// GEMMA12B_TEST_TARGETS: comma-separated prefixes of target names to keep ("" keeps all).
bool target_selected(const std::string& label) {
  const char* env = std::getenv("GEMMA12B_TEST_TARGETS");
  if (env == nullptr || *env == '\0') return true;
  const std::string list(env);
  for (size_t b = 0; b <= list.size();) {
    size_t e = list.find(',', b);
    if (e == std::string::npos) e = list.size();
    const std::string prefix = list.substr(b, e - b);
    if (!prefix.empty() && label.compare(0, prefix.size(), prefix) == 0) return true;
    b = e + 1;
  }
  return false;
}

}  // namespace

const std::vector<Target>& targets() {
  struct Holder {
    std::vector<std::unique_ptr<Device>> devices;
    std::vector<std::unique_ptr<Stream>> streams;
    std::vector<Target> targets;
    void add(const std::string& label, const char* backend, int threads, const char* isa = nullptr,
             bool exact = false) {
      if (!targets.empty() && !target_selected(label)) return;  // the reference always stays
      if (isa != nullptr) setenv("GEMMA12B_CPU_ISA", isa, 1);
      DeviceOptions options;
      options.n_threads = threads;
      options.exact_matmul = exact;
      auto dev = create_device(backend, options);
      if (isa != nullptr) unsetenv("GEMMA12B_CPU_ISA");
      REQUIRE_MESSAGE(dev.ok(), dev.status().ToString());
      push(label, std::move(*dev), std::string(backend) == "cpu" && !exact, /*gpu=*/false);
      targets.back().int8_attention = std::string(backend) == "cpu" && !exact;
    }
    void push(const std::string& label, std::unique_ptr<Device> dev, bool int8, bool gpu, bool fp16 = false) {
      auto stream = dev->create_stream();
      REQUIRE_MESSAGE(stream.ok(), label, ": ", stream.status().ToString());
      targets.push_back(Target{label, dev.get(), stream->get(), int8, gpu, fp16});
      devices.push_back(std::move(dev));
      streams.push_back(std::move(*stream));
    }
  };
  static Holder* holder = [] {
    auto* h = new Holder;
    h->add("reference", "reference", 1);
    const cpu::Isa best = cpu::detect_isa();
    const std::string b(cpu::isa_name(best));
    h->add("cpu/" + b + "/2t", "cpu", 2);
    h->add("cpu/" + b + "/1t", "cpu", 1);
    // Every slower path this processor can run, forced through the environment as a user would.
    for (cpu::Isa isa : {cpu::Isa::kAvx2, cpu::Isa::kScalar}) {
      if (isa >= best) continue;
      const std::string n(cpu::isa_name(isa));
      h->add("cpu/" + n + "/2t", "cpu", 2, n.c_str());
    }
    h->add("cpu/exact/2t", "cpu", 2, nullptr, /*exact=*/true);
    // The Vulkan device chosen as a user's would be (GEMMA12B_VULKAN_DEVICE, else the first
    // discrete GPU, else lavapipe), with its default paths, then in exact mode, then with every
    // optional feature off (forced through the environment as a user would).
    if (target_selected("vulkan")) {
      auto dev = vulkan_device_or_skip(DeviceOptions{});
      REQUIRE_MESSAGE(dev.ok(), "vulkan: ", dev.status().ToString());
      if (*dev != nullptr) {
        const DeviceCaps caps = (*dev)->caps();
        h->push("vulkan", std::move(*dev), /*int8=*/caps.int_dot, /*gpu=*/true, /*fp16=*/caps.fp16);
        DeviceOptions exact;
        exact.exact_matmul = true;
        auto ex = create_device("vulkan", exact);
        REQUIRE_MESSAGE(ex.ok(), "vulkan/exact: ", ex.status().ToString());
        h->push("vulkan/exact", std::move(*ex), /*int8=*/false, /*gpu=*/true);
        const char* vars[] = {"GEMMA12B_VULKAN_NO_SUBGROUPS", "GEMMA12B_VULKAN_NO_FP16", "GEMMA12B_VULKAN_NO_INT_DOT"};
        for (const char* v : vars) setenv(v, "1", 1);
        auto plain = create_device("vulkan", DeviceOptions{});
        for (const char* v : vars) unsetenv(v);
        REQUIRE_MESSAGE(plain.ok(), "vulkan/no-features: ", plain.status().ToString());
        REQUIRE((*plain)->caps().int_dot == false);
        REQUIRE((*plain)->caps().fp16 == false);
        h->push("vulkan/no-features", std::move(*plain), /*int8=*/false, /*gpu=*/true);
      }
    }
    return h;
  }();
  return holder->targets;
}

// ---- Env ------------------------------------------------------------------------------------

TensorView Env::place(DType dtype, const std::vector<int64_t>& shape, const uint8_t* data,
                      uint8_t fill) {
  TensorView probe = TensorView::contiguous(nullptr, 0, dtype, static_cast<int>(shape.size()),
                                            shape.data());
  const size_t n = probe.nbytes();
  std::vector<uint8_t> host(n + 2 * kGuard, kGuardByte);
  if (data != nullptr) {
    std::memcpy(host.data() + kGuard, data, n);
  } else {
    std::memset(host.data() + kGuard, fill, n);
  }
  auto buf = target_.device->create_buffer(host.size());
  REQUIRE_MESSAGE(buf.ok(), buf.status().ToString());
  REQUIRE((*buf)->upload(0, host.data(), host.size()).ok());
  TensorView v = TensorView::contiguous(buf->get(), kGuard, dtype, static_cast<int>(shape.size()),
                                        shape.data());
  slots_.push_back(Slot{std::move(*buf), kGuard, kGuard + n});
  return v;
}

TensorView Env::upload(const HostTensor& t) {
  REQUIRE(t.bytes.size() == row_size(t.dtype, t.row_len()) * static_cast<size_t>(t.n_rows()));
  return place(t.dtype, t.shape, t.bytes.data(), 0);
}

TensorView Env::wrap_weight(const HostTensor& t, bool scribble_copied) {
  REQUIRE(t.shape.size() == 2);
  if (!target_.device->caps().host_memory) return upload(t);
  wrapped_.push_back(std::make_unique<std::vector<uint8_t>>(t.bytes));
  std::vector<uint8_t>& host = *wrapped_.back();
  auto buf = target_.device->wrap_weight(host.data(), host.size(), t.dtype, t.shape[0], t.shape[1]);
  REQUIRE_MESSAGE(buf.ok(), buf.status().ToString());
  if (scribble_copied && (*buf)->holds_copy()) {
    const size_t copied = static_cast<size_t>(t.shape[0] / 16 * 16) * row_size(t.dtype, t.shape[1]);
    for (size_t i = 0; i < copied; ++i) host[i] = static_cast<uint8_t>(0x5A ^ (i * 131));
  }
  TensorView v = TensorView::contiguous(buf->get(), 0, t.dtype, 2, t.shape.data());
  slots_.push_back(Slot{std::move(*buf), 0, host.size()});  // no guards: the device only reads it
  return v;
}

TensorView Env::alloc(DType dtype, std::vector<int64_t> shape, uint8_t fill) {
  return place(dtype, shape, nullptr, fill);
}

std::vector<uint8_t> Env::download(const TensorView& v) {
  const size_t rb = v.row_bytes();
  std::vector<uint8_t> out(rb * static_cast<size_t>(v.n_rows()));
  for (int64_t r = 0; r < v.n_rows(); ++r) {
    REQUIRE(v.buffer->download(v.row_offset(r), out.data() + r * rb, rb).ok());
  }
  return out;
}

Outcome Env::finish(const Status& st, const TensorView& dst) {
  if (!st.ok()) return Outcome{st, {}};
  Status sync = stream().synchronize();
  if (!sync.ok()) return Outcome{sync, {}};
  return Outcome{OkStatus(), download(dst)};
}

std::string Env::guard_damage() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    std::vector<uint8_t> all(s.buffer->size());
    REQUIRE(s.buffer->download(0, all.data(), all.size()).ok());
    for (size_t b = 0; b < all.size(); ++b) {
      if ((b < s.begin || b >= s.end) && all[b] != kGuardByte) {
        return absl::StrFormat("tensor #%d: guard byte %d (payload [%d, %d)) overwritten", i, b,
                               s.begin, s.end);
      }
    }
  }
  return {};
}

// ---- drivers --------------------------------------------------------------------------------

TolFn rel_tol(double rtol, double atol) {
  return [rtol, atol](size_t, double ref) { return rtol * std::fabs(ref) + atol; };
}

std::vector<Outcome> run_all(const std::string& what, const Body& body) {
  std::vector<Outcome> outs;
  for (const Target& t : targets()) {
    Env env(t);
    outs.push_back(body(env));
    const std::string damage = env.guard_damage();
    CHECK_MESSAGE(damage.empty(), what, " on ", t.name, ": ", damage);
  }
  return outs;
}

void check_close(const std::string& what, const std::string& target, const std::vector<float>& got,
                 const std::vector<double>& ref, const TolFn& tol) {
  REQUIRE(got.size() == ref.size());
  size_t n_bad = 0, worst = 0;
  double worst_ratio = -1.0, max_abs = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const double t = tol(i, ref[i]);
    const bool bad = !(diff <= t);  // NaN counts as bad
    if (bad) ++n_bad;
    const double ratio = std::isnan(diff) ? INFINITY : diff / std::max(t, 1e-300);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
    if (!std::isnan(diff)) max_abs = std::max(max_abs, diff);
  }
  CHECK_MESSAGE(n_bad == 0,
                absl::StrFormat("%s on %s: %d of %d elements out of tolerance; worst [%d] "
                                "expected %.9g got %.9g (diff %.3g, tol %.3g); max |diff| %.3g",
                                what, target, n_bad, ref.size(), worst, ref[worst], got[worst],
                                std::fabs(static_cast<double>(got[worst]) - ref[worst]),
                                tol(worst, ref[worst]), max_abs));
}

std::vector<float> expect_close(const std::string& what, const Body& body, const TolFn& tol) {
  const std::vector<Outcome> outs = run_all(what, body);
  const auto& ts = targets();
  REQUIRE_MESSAGE(outs[0].status.ok(), what, ": reference failed: ", outs[0].status.ToString());
  const std::vector<float> ref = bytes_to_f32(outs[0].bytes);
  for (size_t k = 1; k < outs.size(); ++k) {
    if (!outs[k].status.ok()) {
      FAIL_CHECK(what, " on ", ts[k].name, " failed: ", outs[k].status.ToString());
      continue;
    }
    const std::vector<float> got = bytes_to_f32(outs[k].bytes);
    check_close(what, ts[k].name, got, std::vector<double>(ref.begin(), ref.end()), tol);
  }
  return ref;
}

std::vector<uint8_t> expect_bytes_equal(const std::string& what, const Body& body) {
  const std::vector<Outcome> outs = run_all(what, body);
  const auto& ts = targets();
  REQUIRE_MESSAGE(outs[0].status.ok(), what, ": reference failed: ", outs[0].status.ToString());
  for (size_t k = 1; k < outs.size(); ++k) {
    if (!outs[k].status.ok()) {
      FAIL_CHECK(what, " on ", ts[k].name, " failed: ", outs[k].status.ToString());
      continue;
    }
    REQUIRE(outs[k].bytes.size() == outs[0].bytes.size());
    size_t first = outs[0].bytes.size(), n_diff = 0;
    for (size_t i = 0; i < outs[0].bytes.size(); ++i) {
      if (outs[k].bytes[i] != outs[0].bytes[i]) {
        if (n_diff++ == 0) first = i;
      }
    }
    CHECK_MESSAGE(n_diff == 0, absl::StrFormat("%s on %s: %d of %d bytes differ (first at %d)",
                                               what, ts[k].name, n_diff, outs[0].bytes.size(),
                                               first));
  }
  return outs[0].bytes;
}

void expect_error(const std::string& what, const Body& body, absl::StatusCode code) {
  const std::vector<Outcome> outs = run_all(what, body);
  const auto& ts = targets();
  for (size_t k = 0; k < outs.size(); ++k) {
    CHECK_MESSAGE(!outs[k].status.ok(), what, " on ", ts[k].name, ": expected an error, got OK");
    if (code != absl::StatusCode::kOk && !outs[k].status.ok()) {
      CHECK_MESSAGE(outs[k].status.code() == code, what, " on ", ts[k].name,
                    ": wrong status code: ", outs[k].status.ToString());
    }
  }
}

}  // namespace gemma12b::optest
