// Reference (de)quantization: hand-built blocks, round-trip bounds, and byte-exact agreement with
// the blocks llama-quantize wrote into the golden GGUF files.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/quant.h"

namespace {

using namespace gemma12b;

// ---- a tiny self-contained GGUF tensor locator (independent of src/io) ----------------------
struct GgufTensor {
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  const uint8_t* data = nullptr;
  int64_t numel() const {
    int64_t n = 1;
    for (uint64_t e : ne) n *= static_cast<int64_t>(e);
    return n;
  }
};

class MiniGguf {
 public:
  explicit MiniGguf(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    bytes_.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (take(4) != "GGUF") throw std::runtime_error("bad magic in " + path);
    const uint32_t version = get<uint32_t>();
    if (version != 3) throw std::runtime_error("unsupported gguf version");
    const uint64_t n_tensors = get<uint64_t>();
    const uint64_t n_kv = get<uint64_t>();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key = str();
      const uint32_t type = get<uint32_t>();
      if (key == "general.alignment" && type == 4) {
        alignment = get<uint32_t>();
      } else {
        skip_value(type);
      }
    }
    std::vector<std::pair<std::string, uint64_t>> offsets;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      std::string name = str();
      GgufTensor t;
      t.ne.resize(get<uint32_t>());
      for (auto& e : t.ne) e = get<uint64_t>();
      t.type = get<uint32_t>();
      offsets.emplace_back(name, get<uint64_t>());
      tensors_[name] = t;
    }
    const uint64_t data_start = (pos_ + alignment - 1) / alignment * alignment;
    for (auto& [name, off] : offsets) {
      GgufTensor& t = tensors_[name];
      const auto dt = dtype_from_ggml(t.type);
      if (!dt) throw std::runtime_error("unsupported ggml type in " + name);
      if (data_start + off + row_size(*dt, t.numel()) > bytes_.size()) {
        throw std::runtime_error("tensor data out of range: " + name);
      }
      t.data = bytes_.data() + data_start + off;
    }
  }
  const std::map<std::string, GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor& at(const std::string& name) const { return tensors_.at(name); }

 private:
  void need(uint64_t n) const {
    if (n > bytes_.size() - pos_) throw std::runtime_error("truncated gguf");
  }
  std::string take(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() { return take(get<uint64_t>()); }
  void skip_value(uint32_t type) {
    static constexpr uint64_t kScalarSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {  // string
      str();
    } else if (type == 9) {  // array: element type, count, elements
      const uint32_t et = get<uint32_t>();
      const uint64_t count = get<uint64_t>();
      for (uint64_t i = 0; i < count; ++i) skip_value(et);
    } else if (type < 13) {
      take(kScalarSize[type]);
    } else {
      throw std::runtime_error("bad gguf value type");
    }
  }

  std::vector<uint8_t> bytes_;
  uint64_t pos_ = 0;
  std::map<std::string, GgufTensor> tensors_;
};

std::string golden(const char* file) { return std::string(GEMMA12B_GOLDEN_DIR) + "/text/" + file; }

std::vector<float> random_normal(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename Block>
std::vector<float> dequant_blocks(DType t, const std::vector<Block>& blocks) {
  std::vector<float> y(blocks.size() * static_cast<size_t>(dtype_traits(t).block_size));
  dequantize_row(t, blocks.data(), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

}  // namespace

// ---- hand-built blocks ------------------------------------------------------------------------

TEST_CASE("quant: f32/f16/bf16 rows convert exactly") {
  const std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 0.1f, 65504.0f, 3.0e-5f, -1e-8f};
  std::vector<float> y(x.size());
  dequantize_row(DType::kF32, x.data(), y.data(), static_cast<int64_t>(x.size()));
  CHECK(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
  std::vector<uint16_t> h(x.size());
  for (DType t : {DType::kF16, DType::kBF16}) {
    quantize_row(t, x.data(), h.data(), static_cast<int64_t>(x.size()));
    dequantize_row(t, h.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      const uint16_t expect = t == DType::kF16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
      CHECK(h[i] == expect);
      CHECK(y[i] == (t == DType::kF16 ? f16_to_f32(expect) : bf16_to_f32(expect)));
    }
  }
  CHECK(h[2] == 0x3F80);  // bf16(1.0)
  quantize_row(DType::kF16, x.data(), h.data(), 3);
  CHECK(h[2] == 0x3C00);  // f16(1.0)
}

TEST_CASE("quant: hand-built q8_0 block dequantizes exactly") {
  BlockQ8_0 b{};
  b.d = 0x3800;  // f16 0.5
  for (int i = 0; i < kQK8_0; ++i) b.qs[i] = static_cast<int8_t>(i * 8 - 127);  // -127..121
  float y[kQK8_0];
  dequantize_row(DType::kQ8_0, &b, y, kQK8_0);
  for (int i = 0; i < kQK8_0; ++i) CHECK(y[i] == 0.5f * static_cast<float>(i * 8 - 127));
}

TEST_CASE("quant: hand-built q4_0 block dequantizes exactly") {
  BlockQ4_0 b[2]{};
  b[0].d = 0x3800;  // 0.5
  b[1].d = 0xC000;  // -2.0
  for (int j = 0; j < 16; ++j) {
    b[0].qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));  // low nibble j, high nibble 15-j
    b[1].qs[j] = 0x80;                                       // low 0 -> -8, high 8 -> 0
  }
  float y[64];
  dequantize_row(DType::kQ4_0, b, y, 64);
  for (int j = 0; j < 16; ++j) {
    CHECK(y[j] == 0.5f * static_cast<float>(j - 8));       // x[j] from the low nibble
    CHECK(y[16 + j] == 0.5f * static_cast<float>(7 - j));  // x[16+j] from the high nibble
    CHECK(y[32 + j] == 16.0f);
    CHECK(y[48 + j] == 0.0f);
  }
}

TEST_CASE("quant: hand-built q4_K block dequantizes exactly") {
  // Element e lies in sub-block s = e/32 with value d*sc[s]*q - dmin*m[s]. Within 64-element
  // chunk c = e/64, elements 0..31 are the low nibbles of qs[32c..32c+31], 32..63 the high ones.
  const uint8_t sc[8] = {1, 63, 17, 0, 33, 48, 5, 62};
  const uint8_t mn[8] = {0, 2, 63, 9, 47, 16, 31, 60};
  BlockQ4_K b{};
  b.d = 0x3800;     // 0.5
  b.dmin = 0x3400;  // 0.25
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      b.scales[j] |= sc[j];
      b.scales[j + 4] |= mn[j];
    } else {
      b.scales[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      b.scales[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      b.scales[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
  auto q_of = [](int e) { return (e * 7 + 3) % 16; };
  for (int e = 0; e < kQK_K; ++e) {
    const int c = e / 64, r = e % 64;
    uint8_t& byte = b.qs[32 * c + (r % 32)];
    byte |= static_cast<uint8_t>(r < 32 ? q_of(e) : q_of(e) << 4);
  }
  float y[kQK_K];
  dequantize_row(DType::kQ4_K, &b, y, kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    const int s = e / 32;
    const float expect = 0.5f * sc[s] * static_cast<float>(q_of(e)) - 0.25f * mn[s];
    CHECK(y[e] == expect);
  }
}

TEST_CASE("quant: hand-built q6_K block dequantizes exactly") {
  // Element e: scale index e/16; half h = e/128, quarter qd = (e%128)/32, lane l = e%32. Low 4 bits
  // in ql[64h + l + 32*(qd&1)] (low nibble for qd<2, high for qd>=2); high 2 bits in
  // qh[32h + l] at bit 2*qd. Value d * scale * (q - 32).
  BlockQ6_K b{};
  b.d = 0x3400;  // 0.25
  for (int k = 0; k < 16; ++k) b.scales[k] = static_cast<int8_t>(k * 17 - 128);  // -128..127
  auto q_of = [](int e) { return (e * 37 + 11) % 64; };
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, qd = (e % 128) / 32, l = e % 32, q = q_of(e);
    uint8_t& lo = b.ql[64 * h + l + 32 * (qd & 1)];
    lo |= static_cast<uint8_t>(qd < 2 ? (q & 0xF) : (q & 0xF) << 4);
    b.qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * qd));
  }
  float y[kQK_K];
  dequantize_row(DType::kQ6_K, &b, y, kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    const float expect =
        0.25f * static_cast<float>(b.scales[e / 16]) * static_cast<float>(q_of(e) - 32);
    CHECK(y[e] == expect);
  }
}

// ---- quantizer properties on random data -------------------------------------------------------

TEST_CASE("quant: q8_0 round trip error and fixed point") {
  const auto x = random_normal(32 * 64, 1234);
  std::vector<BlockQ8_0> q(64), q2(64);
  quantize_row(DType::kQ8_0, x.data(), q.data(), static_cast<int64_t>(x.size()));
  const auto y = dequant_blocks(DType::kQ8_0, q);
  for (size_t b = 0; b < q.size(); ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 127.0f, dh = f16_to_f32(q[b].d);
    for (int j = 0; j < 32; ++j) {
      // half a step, plus what the f16 rounding of d shifts the grid by.
      CHECK(std::fabs(x[b * 32 + j] - y[b * 32 + j]) <=
            0.5f * d + 127.0f * std::fabs(d - dh) + 1e-6f);
    }
  }
  quantize_row(DType::kQ8_0, y.data(), q2.data(), static_cast<int64_t>(y.size()));
  CHECK(std::memcmp(q.data(), q2.data(), q.size() * sizeof(BlockQ8_0)) == 0);
  // All-zero block: d = 0, all quants 0.
  std::vector<float> zeros(32, 0.0f);
  quantize_row(DType::kQ8_0, zeros.data(), q.data(), 32);
  CHECK(q[0].d == 0);
  CHECK(std::all_of(q[0].qs, q[0].qs + 32, [](int8_t v) { return v == 0; }));
}

TEST_CASE("quant: q4_0 round trip error and fixed point") {
  const auto x = random_normal(32 * 64, 99, 0.02f);
  std::vector<BlockQ4_0> q(64), q2(64);
  quantize_row(DType::kQ4_0, x.data(), q.data(), static_cast<int64_t>(x.size()));
  const auto y = dequant_blocks(DType::kQ4_0, q);
  for (size_t b = 0; b < q.size(); ++b) {
    float amax = 0, vmax = 0;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[b * 32 + j]) > amax) {
        amax = std::fabs(x[b * 32 + j]);
        vmax = x[b * 32 + j];
      }
    }
    const float d = std::fabs(vmax / 8.0f), dh = std::fabs(f16_to_f32(q[b].d));
    // The extreme value maps to -8 exactly (up to f16 rounding of d).
    for (int j = 0; j < 32; ++j) {
      const float x0 = x[b * 32 + j], err = std::fabs(x0 - y[b * 32 + j]);
      // Values on the far side of +7 steps are clipped (error up to one step); others half a step.
      const bool clipped = std::fabs(x0 / d) > 7.5f && (x0 > 0) != (vmax > 0);
      CHECK(err <= (clipped ? 1.0f : 0.5f) * d + 8.0f * std::fabs(d - dh) + 1e-7f);
    }
  }
  quantize_row(DType::kQ4_0, y.data(), q2.data(), static_cast<int64_t>(y.size()));
  CHECK(std::memcmp(q.data(), q2.data(), q.size() * sizeof(BlockQ4_0)) == 0);
}

TEST_CASE("quant: q4_K and q6_K round trip error on random data") {
  const size_t n = kQK_K * 32;
  const auto x = random_normal(n, 7, 0.05f);
  double sx2 = 0;
  for (float v : x) sx2 += static_cast<double>(v) * v;
  auto rel_rms = [&](const std::vector<float>& y) {
    double se = 0, worst = 0;
    for (size_t i = 0; i < n; ++i) {
      se += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
      worst = std::max(worst, static_cast<double>(std::fabs(x[i] - y[i])));
    }
    return std::make_pair(std::sqrt(se / sx2), worst);
  };
  std::vector<BlockQ4_K> q4(n / kQK_K);
  quantize_row(DType::kQ4_K, x.data(), q4.data(), static_cast<int64_t>(n));
  const auto [e4, max4] = rel_rms(dequant_blocks(DType::kQ4_K, q4));
  std::vector<BlockQ6_K> q6(n / kQK_K);
  quantize_row(DType::kQ6_K, x.data(), q6.data(), static_cast<int64_t>(n));
  const auto [e6, max6] = rel_rms(dequant_blocks(DType::kQ6_K, q6));
  MESSAGE("relative rms error: q4_K " << e4 << " (max " << max4 << "), q6_K " << e6 << " (max "
                                      << max6 << ")");
  CHECK(e4 < 0.12);  // 16 levels per 32 values: ~0.1 for Gaussian data
  CHECK(e6 < 0.03);  // 64 levels per 16 values
  CHECK(e6 < e4);
  // All-zero input gives all-zero output.
  std::vector<float> zeros(kQK_K, 0.0f), back(kQK_K, 1.0f);
  for (DType t : {DType::kQ4_K, DType::kQ6_K}) {
    std::vector<uint8_t> blk(dtype_traits(t).block_bytes, 0xAB);
    quantize_row(t, zeros.data(), blk.data(), kQK_K);
    dequantize_row(t, blk.data(), back.data(), kQK_K);
    CHECK(std::all_of(back.begin(), back.end(), [](float v) { return v == 0.0f; }));
  }
}

// ---- golden files: byte-identical to llama-quantize (--pure, no imatrix) ----------------------

namespace {

// Quantizes every tensor of type `want` in `qfile` from the f32 model and compares bytes.
void check_file_matches(const char* qfile, uint32_t want, int min_tensors) {
  const MiniGguf ref(golden("tiny-gemma4.gguf"));
  const MiniGguf qf(golden(qfile));
  const DType dt = *dtype_from_ggml(want);
  int n_checked = 0;
  for (const auto& [name, t] : qf.tensors()) {
    if (t.type != want) continue;
    INFO(qfile << " tensor " << name);
    const GgufTensor& src = ref.at(name);
    REQUIRE(src.type == 0u);
    REQUIRE(src.ne == t.ne);
    const int64_t n = t.numel();
    const size_t bytes = row_size(dt, n);
    std::vector<uint8_t> ours(bytes);
    quantize_row(dt, reinterpret_cast<const float*>(src.data), ours.data(), n);
    const size_t bb = dtype_traits(dt).block_bytes;
    size_t bad_blocks = 0;
    for (size_t off = 0; off < bytes; off += bb) {
      bad_blocks += std::memcmp(ours.data() + off, t.data + off, bb) != 0;
    }
    CHECK(bad_blocks == 0u);
    ++n_checked;
  }
  MESSAGE(std::string(qfile) << ": " << n_checked << " tensors of " << dtype_name(dt)
                             << " compared");
  CHECK(n_checked >= min_tensors);
}

}  // namespace

TEST_CASE("quant: q8_0 matches llama-quantize byte for byte") {
  check_file_matches("tiny-gemma4-q8_0.gguf", 8, 42);
}

TEST_CASE("quant: q4_0 matches llama-quantize byte for byte") {
  check_file_matches("tiny-gemma4-q4_0.gguf", 2, 42);
}

TEST_CASE("quant: q4_K matches llama-quantize byte for byte") {
  check_file_matches("tiny-gemma4-q4_k.gguf", 12, 42);
}

TEST_CASE("quant: q4_K_M mix (q6_K token_embd, q4_K rest) matches llama-quantize byte for byte") {
  check_file_matches("tiny-gemma4-q4_k_m.gguf", 14, 5);  // token_embd, some attn_v / ffn_down
  check_file_matches("tiny-gemma4-q4_k_m.gguf", 12, 37);
}

TEST_CASE("quant: dequantized golden q8_0 weights are close to the f32 weights") {
  const MiniGguf ref(golden("tiny-gemma4.gguf"));
  const MiniGguf qf(golden("tiny-gemma4-q8_0.gguf"));
  for (const char* name : {"token_embd.weight", "blk.0.ffn_up.weight", "blk.5.ffn_down.weight"}) {
    INFO(name);
    const GgufTensor& t = qf.at(name);
    REQUIRE(t.type == 8u);
    const int64_t n = t.numel();
    std::vector<float> y(static_cast<size_t>(n));
    dequantize_row(DType::kQ8_0, t.data, y.data(), n);
    const auto* x = reinterpret_cast<const float*>(ref.at(name).data);
    size_t bad = 0;
    for (int64_t b = 0; b < n / kQK8_0; ++b) {
      float amax = 0;
      for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[b * kQK8_0 + j]));
      for (int j = 0; j < kQK8_0; ++j) {
        bad += std::fabs(x[b * kQK8_0 + j] - y[b * kQK8_0 + j]) > amax / 127.0f;
      }
    }
    CHECK(bad == 0u);
  }
}
