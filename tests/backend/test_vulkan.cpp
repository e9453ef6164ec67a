// Vulkan-only cases: what the op-conformance suite (which runs every case on Vulkan as one more
// target) does not cover. Device memory limits, device selection, supports_op for every op
// kind, and many ops recorded before one synchronize (barriers between dependent dispatches).
//
// Every case here names "vulkan" and reports as skipped in ctest (tests/CMakeLists.txt) when the
// build has no Vulkan backend or the machine no Vulkan device; on lavapipe (Mesa's CPU Vulkan
// driver) they all run.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/ops.h"
#include "op_test_util.h"

namespace gemma12b {
namespace {

using namespace optest;

// The Vulkan device under test (created once per process), or nullptr when there is none (the
// skip line is printed). A device that exists but fails to open fails the test.
const Target* vulkan_or_skip() {
  struct Holder {
    Status status;
    std::unique_ptr<Device> device;
    std::unique_ptr<Stream> stream;
    Target target;
  };
  static Holder* h = [] {
    auto* v = new Holder;
    auto dev = vulkan_device_or_skip(DeviceOptions{});
    if (!dev.ok()) {
      v->status = dev.status();
      return v;
    }
    if (*dev == nullptr) return v;
    auto stream = (*dev)->create_stream();
    if (!stream.ok()) {
      v->status = stream.status();
      return v;
    }
    v->device = std::move(*dev);
    v->stream = std::move(*stream);
    v->target = Target{"vulkan", v->device.get(), v->stream.get(), false, true};
    return v;
  }();
  REQUIRE_MESSAGE(h->status.ok(), "vulkan: ", h->status.ToString());
  return h->device ? &h->target : nullptr;
}

// Sets (or unsets, for nullptr) an environment variable for the scope, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// ops::add on 37 floats through t's stream: exact, and no guard byte touched.
void check_small_add(const Target& t, const std::string& what) {
  std::mt19937 rng(7);
  const std::vector<float> a = random_f32(rng, 37, -4.0f, 4.0f), b = random_f32(rng, 37, -4.0f, 4.0f);
  Env env(t);
  const TensorView dv = env.alloc(DType::kF32, {37});
  const Outcome o = env.finish(
      ops::add(env.stream(), dv, env.upload(f32_tensor({37}, a)), env.upload(f32_tensor({37}, b))), dv);
  REQUIRE_MESSAGE(o.status.ok(), what, ": ", o.status.ToString());
  const std::vector<float> got = bytes_to_f32(o.bytes);
  bool exact = true;
  for (size_t i = 0; i < a.size(); ++i) exact &= got[i] == a[i] + b[i];
  CHECK_MESSAGE(exact, what, ": a + b is wrong");
  CHECK_MESSAGE(env.guard_damage().empty(), what, ": ", env.guard_damage());
}

TEST_CASE("vulkan: allocations larger than the device are ResourceExhausted and leave it usable") {
  const Target* t = vulkan_or_skip();
  if (t == nullptr) return;
  Device& dev = *t->device;
  const MemoryInfo mi = dev.memory_info();
  MESSAGE("vulkan device ", std::string(dev.name()), ": ", mi.total_bytes, " bytes device-local");
  CHECK(mi.total_bytes > 0);
  CHECK_FALSE(dev.caps().host_memory);
  {
    auto small = dev.create_buffer(4096);
    REQUIRE_MESSAGE(small.ok(), small.status().ToString());
    CHECK_MESSAGE((*small)->map() == nullptr, "Vulkan buffers are device memory, not mappable");
    CHECK((*small)->size() == 4096);
  }
  const size_t sizes[] = {static_cast<size_t>(mi.total_bytes) + 1, (size_t{1} << 40) + 1,
                          std::numeric_limits<size_t>::max()};
  for (size_t bytes : sizes) {
    auto buf = dev.create_buffer(bytes);
    CHECK_MESSAGE(!buf.ok(), "create_buffer(", bytes, ") succeeded");
    if (!buf.ok()) {
      CHECK_MESSAGE(buf.status().code() == absl::StatusCode::kResourceExhausted, "create_buffer(", bytes,
                    "): ", buf.status().ToString());
    }
  }
  check_small_add(*t, "add after failed allocations");
}

TEST_CASE("vulkan: a lost device answers Unavailable to every call and the process goes on") {
  const Target* t = vulkan_or_skip();
  if (t == nullptr) return;
  // No driver loses a device on demand: the backend's testing switch makes the second stream
  // submission report VK_ERROR_DEVICE_LOST, and everything after runs the real recovery path.
  std::unique_ptr<Device> dev;
  {
    ScopedEnv lose("GEMMA12B_VULKAN_LOSE_DEVICE_AFTER", "1");
    auto d = create_device("vulkan", DeviceOptions{});
    REQUIRE_MESSAGE(d.ok(), d.status().ToString());
    dev = std::move(*d);
  }
  auto made = dev->create_stream();
  REQUIRE_MESSAGE(made.ok(), made.status().ToString());
  std::unique_ptr<Stream> stream = std::move(*made);
  const Target lost{"vulkan/lost", dev.get(), stream.get(), false, true};
  {
    Env env(lost);
    std::mt19937 rng(11);
    const std::vector<float> a = random_f32(rng, 37, -4.0f, 4.0f), b = random_f32(rng, 37, -4.0f, 4.0f);
    const TensorView av = env.upload(f32_tensor({37}, a)), bv = env.upload(f32_tensor({37}, b));
    const TensorView dv = env.alloc(DType::kF32, {37});
    REQUIRE(ops::add(*stream, dv, av, bv).ok());
    REQUIRE_MESSAGE(stream->synchronize().ok(), "the first submission is real");
    REQUIRE(ops::add(*stream, dv, dv, bv).ok());  // recorded; lost at submission
    const Status st = stream->synchronize();
    CHECK_MESSAGE(absl::IsUnavailable(st), st.ToString());
    const Status again = ops::add(*stream, dv, av, bv);
    CHECK_MESSAGE(absl::IsUnavailable(again), again.ToString());
    std::vector<uint8_t> bytes(37 * 4);
    const Status down = dv.buffer->download(dv.offset, bytes.data(), bytes.size());
    CHECK_MESSAGE(absl::IsUnavailable(down), down.ToString());
    const Status up = dv.buffer->upload(dv.offset, bytes.data(), bytes.size());
    CHECK_MESSAGE(absl::IsUnavailable(up), up.ToString());
    CHECK(absl::IsUnavailable(stream->synchronize()));
  }  // buffers of the lost device are freed without a crash
  stream.reset();
  dev.reset();
  // Another device in the same process is untouched.
  check_small_add(*t, "another device after a device loss");
}

// One matmul [3, 256] x [16, 256]^T with weights of dtype wt on dev.
std::vector<float> small_matmul(Device& dev, DType wt) {
  auto made = dev.create_stream();
  REQUIRE_MESSAGE(made.ok(), made.status().ToString());
  const Target t{"vulkan/probe", &dev, made->get(), false, true};
  Env env(t);
  std::mt19937 rng(21);
  const TensorView xv = env.upload(f32_tensor({3, 256}, random_f32(rng, 3 * 256, -1.0f, 1.0f)));
  const TensorView wv = env.upload(typed_tensor(wt, {16, 256}, random_f32(rng, 16 * 256, -1.0f, 1.0f)));
  const TensorView dv = env.alloc(DType::kF32, {3, 16});
  const Outcome o = env.finish(ops::matmul(env.stream(), dv, xv, wv, TensorView{}), dv);
  REQUIRE_MESSAGE(o.status.ok(), o.status.ToString());
  return bytes_to_f32(o.bytes);
}

TEST_CASE("vulkan: exact_matmul and GEMMA12B_VULKAN_NO_FP16 / _NO_INT_DOT switch the fast paths off") {
  const Target* t = vulkan_or_skip();
  if (t == nullptr) return;
  const DeviceCaps caps = t->device->caps();
  MESSAGE(std::string(t->device->name()), ": f16 arithmetic ", caps.fp16, ", integer dot products ",
          caps.int_dot);
  auto make = [](bool exact) {
    DeviceOptions o;
    o.exact_matmul = exact;
    auto d = create_device("vulkan", o);
    REQUIRE_MESSAGE(d.ok(), d.status().ToString());
    return std::move(*d);
  };
  const std::unique_ptr<Device> exact = make(true);
  CHECK_FALSE(exact->caps().fp16);
  CHECK_FALSE(exact->caps().int_dot);
  {
    ScopedEnv off("GEMMA12B_VULKAN_NO_FP16", "1");
    const std::unique_ptr<Device> d = make(false);
    CHECK_FALSE(d->caps().fp16);
    CHECK(d->caps().int_dot == caps.int_dot);
  }
  {
    ScopedEnv off("GEMMA12B_VULKAN_NO_INT_DOT", "1");
    const std::unique_ptr<Device> d = make(false);
    CHECK_FALSE(d->caps().int_dot);
    CHECK(d->caps().fp16 == caps.fp16);
  }
  // A path the caps report is the one that runs: its rounding differs from the exact f32 path
  // (how much is the conformance suite's business), and a path they deny leaves results exact.
  for (DType wt : {DType::kQ8_0, DType::kF16}) {
    const bool fast = wt == DType::kF16 ? caps.fp16 : caps.int_dot;
    const std::vector<float> a = small_matmul(*t->device, wt), b = small_matmul(*exact, wt);
    CHECK_MESSAGE((a != b) == fast, dtype_name(wt), ": default and exact results ",
                  a != b ? "differ" : "agree", " but the fast path is ", fast ? "on" : "off");
  }
}

TEST_CASE("vulkan: device selection by GEMMA12B_VULKAN_DEVICE and DeviceOptions::device_index") {
  {
    ScopedEnv unset("GEMMA12B_VULKAN_DEVICE", nullptr);
    if (vulkan_or_skip() == nullptr) return;
  }
  // A bad choice is a clear error of the caller's kind, not Unavailable (which means "no Vulkan
  // device at all" and makes the tests skip) and not a crash.
  auto expect_bad_choice = [](const std::string& what, const DeviceOptions& o) {
    auto d = create_device("vulkan", o);
    CHECK_MESSAGE(!d.ok(), what, ": expected an error");
    if (d.ok()) return;
    const absl::StatusCode c = d.status().code();
    CHECK_MESSAGE((c == absl::StatusCode::kInvalidArgument || c == absl::StatusCode::kNotFound ||
                   c == absl::StatusCode::kOutOfRange),
                  what, ": ", d.status().ToString());
    CHECK_MESSAGE(!d.status().message().empty(), what);
    MESSAGE(what, ": ", d.status().ToString());
  };
  auto expect_usable = [](const std::string& what, const DeviceOptions& o) {
    auto d = create_device("vulkan", o);
    REQUIRE_MESSAGE(d.ok(), what, ": ", d.status().ToString());
    auto s = (*d)->create_stream();
    REQUIRE_MESSAGE(s.ok(), what, ": ", s.status().ToString());
    check_small_add(Target{"vulkan", d->get(), s->get(), false, true}, what);
  };
  DeviceOptions index0, index99;
  index0.device_index = 0;
  index99.device_index = 99;
  {
    ScopedEnv e("GEMMA12B_VULKAN_DEVICE", nullptr);
    expect_usable("device_index 0", index0);
    expect_bad_choice("device_index 99", index99);
  }
  {
    ScopedEnv e("GEMMA12B_VULKAN_DEVICE", "0");
    expect_usable("GEMMA12B_VULKAN_DEVICE=0", DeviceOptions{});
    expect_usable("GEMMA12B_VULKAN_DEVICE=0 overrides device_index 99", index99);
  }
  {
    ScopedEnv e("GEMMA12B_VULKAN_DEVICE", "99");
    expect_bad_choice("GEMMA12B_VULKAN_DEVICE=99", DeviceOptions{});
  }
  {
    ScopedEnv e("GEMMA12B_VULKAN_DEVICE", "no-such-gpu-xyzzy");
    expect_bad_choice("GEMMA12B_VULKAN_DEVICE=no-such-gpu-xyzzy", DeviceOptions{});
  }
}

TEST_CASE("vulkan: supports_op for every op kind and every dtype the contract allows, and runs it") {
  const Target* t = vulkan_or_skip();
  if (t == nullptr) return;
  Env env(*t);
  std::mt19937 rng(11);
  auto f32 = [&](std::vector<int64_t> shape, float lo = -1.0f, float hi = 1.0f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return env.upload(f32_tensor(shape, random_f32(rng, n, lo, hi)));
  };
  auto typed = [&](DType dt, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return env.upload(typed_tensor(dt, shape, random_f32(rng, n, -1.0f, 1.0f)));
  };
  std::set<OpKind> kinds;
  auto check = [&](const std::string& what, const Op& op) {
    REQUIRE_MESSAGE(validate_op(op).ok(), what, " (test bug): ", validate_op(op).ToString());
    kinds.insert(op.kind);
    CHECK_MESSAGE(t->device->supports_op(op), what, ": supports_op is false");
    const Status st = t->stream->execute(op);
    CHECK_MESSAGE(st.ok(), what, ": ", st.ToString());
  };
  const DType all[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                       DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};
  const int64_t K = 256;  // a whole k-quant block
  const TensorView x = f32({3, K});
  for (DType dt : all) {
    const std::string n(dtype_name(dt));
    check("matmul w=" + n,
          Op{OpKind::kMatmul, env.alloc(DType::kF32, {3, 8}), {x, typed(dt, {8, K}), f32({8})}, {}});
    Op gr{OpKind::kGetRows,
          env.alloc(DType::kF32, {2, K}),
          {typed(dt, {5, K}), env.upload(i32_tensor({2}, {4, 0}))},
          {}};
    gr.params.scale = 2.0f;
    check("get_rows " + n, gr);
    check("dequantize " + n,
          Op{OpKind::kDequantize, env.alloc(DType::kF32, {2, K}), {typed(dt, {2, K})}, {}});
  }
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
    const std::string n(dtype_name(dt));
    check("copy f32->" + n, Op{OpKind::kCopy, env.alloc(dt, {2, 64}), {f32({2, 64})}, {}});
    check("copy " + n + "->f32",
          Op{OpKind::kCopy, env.alloc(DType::kF32, {2, 64}), {typed(dt, {2, 64})}, {}});
  }
  check("copy i32->i32", Op{OpKind::kCopy,
                            env.alloc(DType::kI32, {2, 8}),
                            {env.upload(i32_tensor({2, 8}, std::vector<int32_t>(16, 3)))},
                            {}});
  const TensorView a = f32({2, 64});
  check("rms_norm", Op{OpKind::kRmsNorm, env.alloc(DType::kF32, {2, 64}), {a, f32({64})}, {}});
  check("layer_norm", Op{OpKind::kLayerNorm, env.alloc(DType::kF32, {2, 64}), {a, f32({64}), f32({64})}, {}});
  const TensorView pos = env.upload(i32_tensor({2}, {0, 7}));
  Op rope{
      OpKind::kRope, env.alloc(DType::kF32, {2, 2, 64}), {f32({2, 2, 64}), pos, f32({16}, 1.0f, 4.0f)}, {}};
  rope.params.n_rot = 32;
  check("rope", rope);
  for (DType kv : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    Op at{OpKind::kAttention,
          env.alloc(DType::kF32, {2, 4, 64}),
          {f32({2, 4, 64}), typed(kv, {5, 2, 64}), typed(kv, {5, 2, 64}), pos,
           env.upload(i32_tensor({5}, {0, 1, 2, -1, 7})), env.upload(i32_tensor({2}, {-1, 3})),
           env.upload(i32_tensor({5}, {-1, -1, -1, -1, 3}))},
          {}};
    at.params.scale = 0.125f;
    at.params.window = 4;
    check("attention kv=" + std::string(dtype_name(kv)), at);
  }
  check("geglu", Op{OpKind::kGeglu, env.alloc(DType::kF32, {2, 64}), {a, f32({2, 64})}, {}});
  check("add", Op{OpKind::kAdd, env.alloc(DType::kF32, {2, 64}), {a, f32({64})}, {}});
  check("mul", Op{OpKind::kMul, env.alloc(DType::kF32, {2, 64}), {a, f32({1})}, {}});
  Op sc{OpKind::kScale, env.alloc(DType::kF32, {2, 64}), {a}, {}};
  sc.params.scale = 3.0f;
  check("scale", sc);
  Op cap{OpKind::kSoftcap, env.alloc(DType::kF32, {2, 64}), {a}, {}};
  cap.params.cap = 30.0f;
  check("softcap", cap);
  check("softmax", Op{OpKind::kSoftmax, env.alloc(DType::kF32, {2, 64}), {a}, {}});
  CHECK(kinds.size() == static_cast<size_t>(OpKind::kCount));
  const Status sync = t->stream->synchronize();
  CHECK_MESSAGE(sync.ok(), sync.ToString());
  CHECK_MESSAGE(env.guard_damage().empty(), env.guard_damage());
}

// ---- many ops before one synchronize --------------------------------------------------------

struct SeqResult {
  Status status;
  std::vector<float> x, kcache, out;  // residual stream, K cache (as f32), final softmax
  int n_ops = 0;
};

// A decoder-like chain over scratch tensors that are read, written in place and overwritten
// again (read-after-write, write-after-read and write-after-write hazards between dispatches), KV
// cache rows written by copies and read back by attention at the end. sync_each: synchronize
// after every op instead of once at the end.
SeqResult run_sequence(const Target& t, bool sync_each) {
  constexpr int64_t R = 4, D = 64, H = 2, Dh = D / H, kIters = 8, S = kIters * R, V = 9;
  std::mt19937 rng(1234);
  Env env(t);
  const TensorView emb = env.upload(typed_tensor(DType::kQ8_0, {V, D}, random_f32(rng, V * D, -1.0f, 1.0f)));
  const TensorView ids = env.upload(i32_tensor({R}, {3, 0, 8, 3}));
  const TensorView wn = env.upload(f32_tensor({D}, random_f32(rng, D, 0.5f, 1.5f)));
  const TensorView bn = env.upload(f32_tensor({D}, random_f32(rng, D, -0.1f, 0.1f)));
  const TensorView wg = env.upload(typed_tensor(DType::kQ8_0, {D, D}, random_f32(rng, D * D, -0.3f, 0.3f)));
  const TensorView wu = env.upload(typed_tensor(DType::kF16, {D, D}, random_f32(rng, D * D, -0.3f, 0.3f)));
  const TensorView bu = env.upload(f32_tensor({D}, random_f32(rng, D, -0.1f, 0.1f)));
  const TensorView wd_q = env.upload(typed_tensor(DType::kQ4_0, {D, D}, random_f32(rng, D * D, -0.3f, 0.3f)));
  const TensorView pos = env.upload(i32_tensor({R}, {S - 4, S - 3, S - 2, S - 1}));
  std::vector<int32_t> kp(S);
  for (int64_t s = 0; s < S; ++s) kp[s] = static_cast<int32_t>(s);
  const TensorView kpos = env.upload(i32_tensor({S}, kp));
  const TensorView wd = env.alloc(DType::kF32, {D, D});
  const TensorView x = env.alloc(DType::kF32, {R, D});
  const TensorView h = env.alloc(DType::kF32, {R, D});
  const TensorView g = env.alloc(DType::kF32, {R, D});
  const TensorView u = env.alloc(DType::kF32, {R, D});
  const TensorView kc = env.alloc(DType::kF16, {S, H, Dh}, 0x00);
  const TensorView vc = env.alloc(DType::kF16, {S, H, Dh}, 0x00);
  const TensorView att = env.alloc(DType::kF32, {R, H, Dh});
  const TensorView out = env.alloc(DType::kF32, {R, D});
  const TensorView x3 = x.reshape({R, H, Dh}), h3 = h.reshape({R, H, Dh});

  SeqResult r;
  auto step = [&](const Status& st) {
    if (!r.status.ok()) return;
    ++r.n_ops;
    r.status = st;
    if (r.status.ok() && sync_each) r.status = env.stream().synchronize();
  };
  Stream& s = env.stream();
  step(ops::get_rows(s, x, emb, ids, 8.0f));
  step(ops::dequantize(s, wd, wd_q));
  for (int64_t i = 0; i < kIters; ++i) {
    step(i % 2 == 0 ? ops::rms_norm(s, h, x, wn, 1e-6f) : ops::layer_norm(s, h, x, wn, bn, 1e-5f));
    step(ops::matmul(s, g, h, wg));
    step(ops::matmul(s, u, h, wu, bu));
    step(ops::geglu(s, g, g, u));
    step(ops::matmul(s, h, g, i % 2 == 0 ? wd : wd_q));  // h is overwritten after being read
    step(ops::scale(s, h, h, 0.5f));
    step(ops::add(s, x, x, h));
    step(ops::rope(s, x3, x3, pos, {}, 10000.0f, 0));
    step(ops::copy(s, kc.slice(0, i * R, R), x3));
    step(ops::copy(s, vc.slice(0, i * R, R), h3));
  }
  ops::AttentionArgs a;
  a.q = x3;
  a.k = kc;
  a.v = vc;
  a.qpos = pos;
  a.kpos = kpos;
  a.scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  step(ops::attention(s, att, a));
  step(ops::softcap(s, out, att.reshape({R, D}), 5.0f));
  step(ops::mul(s, out, out, wn));
  step(ops::softmax(s, out, out, 1.0f));
  if (r.status.ok()) r.status = s.synchronize();
  if (!r.status.ok()) return r;
  r.x = bytes_to_f32(env.download(x));
  r.kcache = to_f32(HostTensor{DType::kF16, {S, H, Dh}, env.download(kc)});
  r.out = bytes_to_f32(env.download(out));
  const std::string damage = env.guard_damage();
  CHECK_MESSAGE(damage.empty(), "op sequence on ", t.name, ": ", damage);
  return r;
}

TEST_CASE("vulkan: ~90 ops recorded before one synchronize equal synchronizing after each op") {
  const Target* t = vulkan_or_skip();
  if (t == nullptr) return;
  const SeqResult batched = run_sequence(*t, /*sync_each=*/false);
  REQUIRE_MESSAGE(batched.status.ok(), "batched: ", batched.status.ToString());
  const SeqResult each = run_sequence(*t, /*sync_each=*/true);
  REQUIRE_MESSAGE(each.status.ok(), "synchronized after each op: ", each.status.ToString());
  MESSAGE(batched.n_ops, " ops");
  CHECK(batched.n_ops >= 50);
  // The same dispatches on the same data: bit-identical unless a barrier is missing.
  CHECK_MESSAGE(batched.x == each.x, "residual stream differs between batched and synchronized runs");
  CHECK_MESSAGE(batched.kcache == each.kcache, "K cache differs between batched and synchronized runs");
  CHECK_MESSAGE(batched.out == each.out, "output differs between batched and synchronized runs");
  // And the chain is computed right: in exact mode (f32 matmuls; the default above rounds
  // activations to int8 for the q8_0/q4_0 weights) the reference backend's result to f32
  // accumulation error.
  DeviceOptions exact_options;
  exact_options.exact_matmul = true;
  auto exact_dev = create_device("vulkan", exact_options);
  REQUIRE_MESSAGE(exact_dev.ok(), exact_dev.status().ToString());
  auto exact_stream = (*exact_dev)->create_stream();
  REQUIRE_MESSAGE(exact_stream.ok(), exact_stream.status().ToString());
  const Target exact_target{"vulkan/exact", exact_dev->get(), exact_stream->get(), false, true};
  const SeqResult exact = run_sequence(exact_target, /*sync_each=*/false);
  REQUIRE_MESSAGE(exact.status.ok(), "exact: ", exact.status.ToString());
  const SeqResult ref = run_sequence(targets().front(), /*sync_each=*/false);
  REQUIRE_MESSAGE(ref.status.ok(), ref.status.ToString());
  auto rms_of = [](const std::vector<float>& v) {
    double s2 = 0.0;
    for (float e : v) s2 += static_cast<double>(e) * e;
    return std::sqrt(s2 / static_cast<double>(v.size()));
  };
  check_close("op sequence x", "vulkan/exact", exact.x, std::vector<double>(ref.x.begin(), ref.x.end()),
              rel_tol(1e-4, 1e-4 * rms_of(ref.x)));
  check_close("op sequence K cache", "vulkan/exact", exact.kcache,
              std::vector<double>(ref.kcache.begin(), ref.kcache.end()),
              rel_tol(2e-3, 1e-4 * rms_of(ref.kcache)));  // f16 rounding of nearby values
  check_close("op sequence output", "vulkan/exact", exact.out,
              std::vector<double>(ref.out.begin(), ref.out.end()), rel_tol(1e-4, 1e-4 * rms_of(ref.out)));
}

}  // namespace
}  // namespace gemma12b

namespace gemma12b {
namespace {

std::vector<char> read_file(const std::string& path) {
  std::vector<char> out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.insert(out.end(), buf, buf + n);
    std::fclose(f);
  }
  return out;
}

void write_file(const std::string& path, const std::vector<char>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

TEST_CASE("vulkan: the pipeline cache file is written, reused, and a damaged one is only a cache miss") {
  if (vulkan_or_skip() == nullptr) return;
  const std::string path = absl::StrFormat("/tmp/gemma12b-test-pipelines-%d.bin", static_cast<int>(getpid()));
  std::remove(path.c_str());
  ScopedEnv env("GEMMA12B_VULKAN_PIPELINE_CACHE", path.c_str());
  // A fresh device runs one op; destroying it writes the cache.
  auto run_once = [](const std::string& what) {
    auto d = create_device("vulkan", DeviceOptions{});
    REQUIRE_MESSAGE(d.ok(), what, ": ", d.status().ToString());
    auto s = (*d)->create_stream();
    REQUIRE_MESSAGE(s.ok(), what, ": ", s.status().ToString());
    check_small_add(Target{"vulkan", d->get(), s->get(), false, true}, what);
  };
  run_once("no cache file yet");
  const std::vector<char> good = read_file(path);
  // At least the 32-byte header the driver writes (lavapipe stores no pipelines in it; GPU
  // drivers add the compiled pipelines after it).
  REQUIRE_MESSAGE(good.size() >= 32, "pipeline cache ", path, " has ", good.size(), " bytes");
  MESSAGE("pipeline cache: ", good.size(), " bytes");
  run_once("with the cache file");
  CHECK(read_file(path).size() >= 32);

  // Damaged files: truncated, random bytes, and a valid header followed by garbage.
  std::mt19937 rng(11);
  std::vector<char> junk(5000);
  for (char& c : junk) c = static_cast<char>(rng());
  std::vector<char> header_then_junk(good.begin(), good.begin() + std::min<size_t>(good.size(), 32));
  header_then_junk.insert(header_then_junk.end(), junk.begin(), junk.end());
  const std::vector<std::pair<std::string, std::vector<char>>> damaged = {
      {"a 10-byte cache file", std::vector<char>(good.begin(), good.begin() + std::min<size_t>(good.size(), 10))},
      {"a cache file of random bytes", junk},
      {"a valid header with a random body", header_then_junk}};
  for (const auto& [what, bytes] : damaged) {
    write_file(path, bytes);
    run_once(what);
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace gemma12b
