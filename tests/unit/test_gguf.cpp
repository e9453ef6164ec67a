// GGUF reader: golden tiny-gemma4 files, hand-built edge cases, and corruption fuzz (truncation
// grid and seeded random mutations must give a Status, never a crash, hang or huge allocation).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/mapped_file.h"

namespace gemma12b {
namespace {

const std::string kGolden = GEMMA12B_GOLDEN_DIR;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put_u32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& s, const std::string& v) {
  put_u64(s, v.size());
  s += v;
}

// Builds small GGUF files in memory.
struct GgufBuilder {
  uint32_t version = 3;
  size_t alignment = 32;
  std::string kvs, infos, data;
  uint64_t n_kv = 0, n_tensors = 0;

  GgufBuilder& kv_raw(const std::string& key, GgufType t, const std::string& value_bytes) {
    put_str(kvs, key);
    put_u32(kvs, static_cast<uint32_t>(t));
    kvs += value_bytes;
    ++n_kv;
    return *this;
  }
  GgufBuilder& kv_u32(const std::string& key, uint32_t v) {
    std::string b;
    put_u32(b, v);
    return kv_raw(key, GgufType::kU32, b);
  }
  GgufBuilder& kv_u64(const std::string& key, uint64_t v) {
    std::string b;
    put_u64(b, v);
    return kv_raw(key, GgufType::kU64, b);
  }
  GgufBuilder& kv_f32(const std::string& key, float v) {
    std::string b(reinterpret_cast<const char*>(&v), 4);
    return kv_raw(key, GgufType::kF32, b);
  }
  GgufBuilder& kv_bool(const std::string& key, bool v) {
    return kv_raw(key, GgufType::kBool, std::string(1, v ? '\1' : '\0'));
  }
  GgufBuilder& kv_str(const std::string& key, const std::string& v) {
    std::string b;
    put_str(b, v);
    return kv_raw(key, GgufType::kString, b);
  }
  GgufBuilder& kv_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    std::string b;
    put_u32(b, static_cast<uint32_t>(GgufType::kI32));
    put_u64(b, v.size());
    for (int32_t x : v) put_u32(b, static_cast<uint32_t>(x));
    return kv_raw(key, GgufType::kArray, b);
  }
  GgufBuilder& kv_str_array(const std::string& key, const std::vector<std::string>& v) {
    std::string b;
    put_u32(b, static_cast<uint32_t>(GgufType::kString));
    put_u64(b, v.size());
    for (const std::string& x : v) put_str(b, x);
    return kv_raw(key, GgufType::kArray, b);
  }
  // ne: innermost first (GGUF order). Data of `nbytes` bytes is appended at an aligned offset
  // unless `offset` is given.
  GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t ggml_type,
                      size_t nbytes, int64_t offset = -1) {
    while (data.size() % alignment != 0) data += '\0';
    const uint64_t off = offset >= 0 ? static_cast<uint64_t>(offset) : data.size();
    for (size_t i = 0; i < nbytes; ++i) data += static_cast<char>(i * 7 + 1);
    put_str(infos, name);
    put_u32(infos, static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put_u64(infos, d);
    put_u32(infos, ggml_type);
    put_u64(infos, off);
    ++n_tensors;
    return *this;
  }
  std::string build() const {
    std::string s = "GGUF";
    put_u32(s, version);
    put_u64(s, n_tensors);
    put_u64(s, n_kv);
    s += kvs;
    s += infos;
    if (!data.empty()) {
      while (s.size() % alignment != 0) s += '\0';
      s += data;
    }
    return s;
  }
};

StatusOr<std::unique_ptr<GgufFile>> parse_bytes(std::string bytes, std::string name = "mem.gguf") {
  return GgufFile::parse(MappedFile::from_bytes(std::move(bytes), std::move(name)));
}

bool contains(const Status& s, const std::string& needle) {
  return std::string(s.message()).find(needle) != std::string::npos;
}

// Touches everything a successfully parsed file exposes; ASan/UBSan catch any stray read.
uint64_t exercise(const GgufFile& g) {
  uint64_t h = 0;
  const size_t size = g.file()->size();
  for (const std::string& k : g.keys()) {
    h += g.value_summary(k).size();
    if (auto v = g.get_int(k); v.ok()) h += static_cast<uint64_t>(*v);
    if (auto v = g.get_float(k); v.ok()) h += static_cast<uint64_t>(*v != 0);
    if (auto v = g.get_string(k); v.ok()) h += v->size();
    if (auto v = g.get_bool(k); v.ok()) h += *v;
    if (auto v = g.get_int_array(k); v.ok()) h += v->size();
    if (auto v = g.get_float_array(k); v.ok()) h += v->size();
    if (auto v = g.get_string_array(k); v.ok()) h += v->size();
    (void)g.array_type_of(k);
  }
  for (const TensorInfo& t : g.tensors()) {
    REQUIRE(t.rank >= 1);
    REQUIRE(t.rank <= kMaxDims);
    REQUIRE(t.offset <= size);
    REQUIRE(t.nbytes <= size - t.offset);
    REQUIRE(t.offset % g.alignment() == 0);
    REQUIRE(row_size(t.dtype, t.shape[t.rank - 1]) * static_cast<size_t>(t.numel() / t.shape[t.rank - 1]) == t.nbytes);
    REQUIRE(g.find_tensor(t.name) == &t);
    if (t.nbytes > 0) h += t.data()[0] + t.data()[t.nbytes - 1];
  }
  return h;
}

}  // namespace

TEST_CASE("gguf: tiny-gemma4 f32 metadata and tensors") {
  auto r = GgufFile::open(kGolden + "/text/tiny-gemma4.gguf");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const GgufFile& g = **r;
  CHECK(g.version() == 3);
  CHECK(g.alignment() == 32);
  CHECK(g.tensors().size() == 86);
  CHECK(*g.get_string("general.architecture") == "gemma4");
  CHECK(*g.get_int("gemma4.block_count") == 6);
  CHECK(*g.get_int_array("gemma4.attention.head_count_kv") == std::vector<int64_t>{2, 2, 2, 2, 2, 1});
  CHECK(*g.array_type_of("gemma4.attention.sliding_window_pattern") == GgufType::kBool);
  CHECK(*g.get_int_array("gemma4.attention.sliding_window_pattern") ==
        std::vector<int64_t>{1, 1, 1, 1, 1, 0});
  CHECK(*g.get_float("gemma4.rope.freq_base") == doctest::Approx(1e6));
  auto tokens = g.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.ok());
  CHECK(tokens->size() == 373);
  CHECK(g.value_summary("gemma4.attention.head_count_kv") == "[2, 2, 2, ... 6 items]");
  CHECK(g.value_summary("general.architecture") == "\"gemma4\"");
  CHECK(g.value_summary("gemma4.block_count") == "6");
  CHECK(g.value_summary("no.such.key") == "<missing>");
  CHECK(g.has("general.architecture"));
  CHECK_FALSE(g.has("general.nope"));

  const TensorInfo* emb = g.find_tensor("token_embd.weight");
  REQUIRE(emb != nullptr);
  CHECK(emb->rank == 2);
  CHECK(emb->shape[0] == 373);
  CHECK(emb->shape[1] == 256);
  CHECK(emb->dtype == DType::kF32);
  CHECK(emb->nbytes == 373u * 256u * 4u);
  CHECK(emb->shape_string() == "[373, 256]");
  CHECK(emb->offset % 32 == 0);
  const TensorInfo* q = g.find_tensor("blk.5.attn_q.weight");
  REQUIRE(q != nullptr);
  CHECK(q->rank == 2);
  CHECK(q->shape[0] == 512);
  CHECK(q->shape[1] == 256);
  CHECK(g.find_tensor("blk.5.attn_v.weight") == nullptr);

  // Errors name the file and the key.
  Status s = g.get_int("general.architecture").status();
  CHECK(absl::IsInvalidArgument(s));
  CHECK(contains(s, "tiny-gemma4.gguf"));
  CHECK(contains(s, "general.architecture"));
  s = g.get_string("gemma4.missing").status();
  CHECK(absl::IsNotFound(s));
  CHECK(contains(s, "gemma4.missing"));
  CHECK(absl::IsInvalidArgument(g.get_string_array("gemma4.attention.head_count_kv").status()));
  CHECK(absl::IsInvalidArgument(g.array_type_of("gemma4.block_count").status()));
  CHECK(exercise(g) > 0);
}

TEST_CASE("gguf: tiny-gemma4 q4_k tensor sizes") {
  auto r = GgufFile::open(kGolden + "/text/tiny-gemma4-q4_k.gguf");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const TensorInfo* up = (*r)->find_tensor("blk.0.ffn_up.weight");
  REQUIRE(up != nullptr);
  CHECK(up->dtype == DType::kQ4_K);
  CHECK(up->shape[0] == 512);
  CHECK(up->shape[1] == 256);
  CHECK(up->nbytes == 512u * 256u / 256u * 144u);
  for (const char* f : {"tiny-gemma4-q4_0.gguf", "tiny-gemma4-q8_0.gguf", "tiny-gemma4-q4_k_m.gguf"}) {
    auto g = GgufFile::open(kGolden + "/text/" + f);
    CHECK_MESSAGE(g.ok(), g.status().ToString());
    if (g.ok()) CHECK((*g)->tensors().size() == 86);
  }
}

TEST_CASE("gguf: open errors") {
  auto r = GgufFile::open(kGolden + "/text/does-not-exist.gguf");
  CHECK(absl::IsNotFound(r.status()));
  CHECK(contains(r.status(), "does-not-exist.gguf"));
  r = GgufFile::open(kGolden + "/text");
  CHECK(absl::IsInvalidArgument(r.status()));
  r = GgufFile::open(kGolden + "/text/text-f32-8.json");
  CHECK(absl::IsInvalidArgument(r.status()));
  CHECK(contains(r.status(), "magic"));
  CHECK(absl::IsInvalidArgument(parse_bytes("").status()));
  CHECK(absl::IsInvalidArgument(parse_bytes("GGU").status()));
}

TEST_CASE("gguf: hand-built valid file") {
  GgufBuilder b;
  b.version = 2;
  b.alignment = 64;
  b.kv_u32("general.alignment", 64)
      .kv_str("general.architecture", "test")
      .kv_f32("x.eps", 1e-6f)
      .kv_bool("x.flag", true)
      .kv_u64("x.big", std::numeric_limits<uint64_t>::max())
      .kv_u64("x.small", 7)
      .kv_i32_array("x.ints", {-1, 2})
      .kv_str_array("x.strs", {"a", "", "ccc", "d"});
  // Nested array (array of two u8 arrays): parsed, but not an int array.
  std::string nested;
  put_u32(nested, static_cast<uint32_t>(GgufType::kArray));
  put_u64(nested, 2);
  for (int i = 0; i < 2; ++i) {
    put_u32(nested, static_cast<uint32_t>(GgufType::kU8));
    put_u64(nested, 3);
    nested += "abc";
  }
  b.kv_raw("x.nested", GgufType::kArray, nested);
  b.tensor("a", {4, 3}, 0, 48).tensor("b", {32, 2}, 8, 2 * 34).tensor("c", {5}, 0, 20);
  auto r = parse_bytes(b.build());
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const GgufFile& g = **r;
  CHECK(g.version() == 2);
  CHECK(g.alignment() == 64);
  CHECK(g.keys() == std::vector<std::string>{"general.alignment", "general.architecture", "x.eps",
                                             "x.flag", "x.big", "x.small", "x.ints", "x.strs",
                                             "x.nested"});
  CHECK(*g.get_float("x.eps") == doctest::Approx(1e-6));
  CHECK(*g.get_float("x.small") == 7.0);
  CHECK(*g.get_int("x.small") == 7);
  CHECK(*g.get_int("x.flag") == 1);
  CHECK(*g.get_bool("x.flag"));
  CHECK(absl::IsInvalidArgument(g.get_int("x.big").status()));
  CHECK(absl::IsInvalidArgument(g.get_bool("x.small").status()));
  CHECK(absl::IsInvalidArgument(g.get_float("x.flag").status()));
  CHECK(*g.get_int_array("x.ints") == std::vector<int64_t>{-1, 2});
  CHECK(*g.get_float_array("x.ints") == std::vector<float>{-1.f, 2.f});
  CHECK(*g.get_string_array("x.strs") == std::vector<std::string>{"a", "", "ccc", "d"});
  CHECK(g.value_summary("x.strs") == "[\"a\", \"\", \"ccc\", ... 4 items]");
  CHECK(g.value_summary("x.ints") == "[-1, 2]");
  CHECK(g.value_summary("x.flag") == "true");
  CHECK(*g.type_of("x.nested") == GgufType::kArray);
  CHECK(*g.array_type_of("x.nested") == GgufType::kArray);
  CHECK(absl::IsInvalidArgument(g.get_int_array("x.nested").status()));
  REQUIRE(g.tensors().size() == 3);
  const TensorInfo& a = g.tensors()[0];
  CHECK(a.name == "a");
  CHECK(a.shape_string() == "[3, 4]");
  CHECK(a.offset % 64 == 0);
  CHECK(a.data()[0] == 1);
  CHECK(a.data()[1] == 8);
  const TensorInfo& t1 = g.tensors()[1];
  CHECK(t1.dtype == DType::kQ8_0);
  CHECK(t1.nbytes == 68);
  CHECK(t1.offset == a.offset + 64);
  CHECK(g.tensors()[2].shape_string() == "[5]");
  CHECK(exercise(g) > 0);

  // No tensors and no data section.
  GgufBuilder e;
  e.kv_str("general.architecture", "x");
  auto re = parse_bytes(e.build());
  REQUIRE(re.ok());
  CHECK((*re)->tensors().empty());
}

TEST_CASE("gguf: hand-built corrupt files") {
  auto expect_error = [](const std::string& bytes, absl::StatusCode code, const std::string& needle) {
    auto r = parse_bytes(bytes, "bad.gguf");
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.status().code() == code, r.status().ToString());
    CHECK_MESSAGE(contains(r.status(), needle), r.status().ToString());
    CHECK_MESSAGE(contains(r.status(), "bad.gguf"), r.status().ToString());
  };
  const auto kInv = absl::StatusCode::kInvalidArgument;
  {
    std::string s = GgufBuilder().build();
    s[0] = 'X';
    expect_error(s, kInv, "magic");
  }
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
    GgufBuilder b;
    b.version = v;
    expect_error(b.build(), kInv, "version");
  }
  {
    std::string s = GgufBuilder().kv_u32("a", 1).build();
    std::memset(&s[16], 0xff, 8);  // n_kv
    expect_error(s, kInv, "metadata count");
    s = GgufBuilder().kv_u32("a", 1).build();
    std::memset(&s[8], 0xff, 8);  // n_tensors
    expect_error(s, kInv, "tensor count");
  }
  expect_error(GgufBuilder().kv_u32("k", 1).kv_u32("k", 2).build(), kInv, "duplicate GGUF key 'k'");
  expect_error(GgufBuilder().kv_raw("k", static_cast<GgufType>(13), "abcd").build(), kInv, "'k'");
  {
    std::string v;
    put_u64(v, 1ull << 40);  // string longer than the file
    expect_error(GgufBuilder().kv_raw("k.str", GgufType::kString, v).build(), kInv, "k.str");
    std::string a;
    put_u32(a, static_cast<uint32_t>(GgufType::kU64));
    put_u64(a, 1ull << 61);  // count * 8 overflows
    expect_error(GgufBuilder().kv_raw("k.arr", GgufType::kArray, a).build(), kInv, "k.arr");
    std::string deep;
    for (int i = 0; i < 6; ++i) {
      put_u32(deep, static_cast<uint32_t>(GgufType::kArray));
      put_u64(deep, 1);
    }
    put_u32(deep, static_cast<uint32_t>(GgufType::kU8));
    put_u64(deep, 0);
    expect_error(GgufBuilder().kv_raw("k.deep", GgufType::kArray, deep).build(), kInv, "k.deep");
  }
  expect_error(GgufBuilder().kv_u32("general.alignment", 48).build(), kInv, "power of 2");
  expect_error(GgufBuilder().kv_u32("general.alignment", 0).build(), kInv, "power of 2");
  expect_error(GgufBuilder().kv_u64("general.alignment", 32).build(), kInv, "general.alignment");
  expect_error(GgufBuilder().tensor("t", {4}, 0, 16).tensor("t", {4}, 0, 16).build(), kInv,
               "duplicate tensor name 't'");
  expect_error(GgufBuilder().tensor("q41", {32}, 3, 20).build(), absl::StatusCode::kUnimplemented,
               "'q41' has unsupported ggml type id 3");
  expect_error(GgufBuilder().tensor("t", {32}, 1000, 20).build(), kInv, "'t'");
  expect_error(GgufBuilder().tensor("t0", {}, 0, 4).build(), kInv, "'t0' has 0 dimensions");
  expect_error(GgufBuilder().tensor("t5", {1, 1, 1, 1, 1}, 0, 4).build(), kInv, "'t5' has 5 dimensions");
  expect_error(GgufBuilder().tensor("z", {4, 0}, 0, 0).build(), kInv, "'z'");
  expect_error(GgufBuilder().tensor("q", {33}, 2, 18).build(), kInv, "not a multiple");
  expect_error(GgufBuilder().tensor("m", {4}, 0, 16, 4).build(), kInv, "'m': data offset 4");
  expect_error(GgufBuilder().tensor("p", {4}, 0, 16, 64).build(), kInv, "'p'");
  expect_error(GgufBuilder().tensor("big", {1ull << 40, 1ull << 40}, 0, 16).build(), kInv, "'big'");
  {
    // Data section cut short by one byte.
    std::string s = GgufBuilder().tensor("last", {4}, 0, 16).build();
    s.pop_back();
    expect_error(s, kInv, "'last'");
  }
  {
    // Overlapping tensors are allowed.
    auto r = parse_bytes(GgufBuilder().tensor("x", {4}, 0, 16, 0).tensor("y", {2}, 0, 0, 0).build());
    CHECK_MESSAGE(r.ok(), r.status().ToString());
  }
}

TEST_CASE("gguf: corruption fuzz, truncation grid (q4_0 file)") {
  const std::string orig = read_bytes(kGolden + "/text/tiny-gemma4-q4_0.gguf");
  REQUIRE(orig.size() > 1000);
  auto full = parse_bytes(orig);
  REQUIRE_MESSAGE(full.ok(), full.status().ToString());
  size_t header_end = orig.size(), data_end = 0;
  for (const TensorInfo& t : (*full)->tensors()) {
    header_end = std::min(header_end, t.offset);
    data_end = std::max(data_end, t.offset + t.nbytes);
  }
  std::vector<size_t> lens;
  for (size_t n = 0; n <= header_end + 64 && n < orig.size(); ++n) lens.push_back(n);
  for (size_t n = header_end + 64; n < orig.size(); n += 997) lens.push_back(n);
  for (size_t n : {data_end - 1, data_end, orig.size() - 1}) lens.push_back(n);
  const auto t0 = std::chrono::steady_clock::now();
  size_t n_ok = 0;
  for (size_t n : lens) {
    auto r = parse_bytes(orig.substr(0, n));
    // OK exactly when the cut only removed bytes after the last tensor.
    CHECK_MESSAGE(r.ok() == (n >= data_end), "truncated to " << n << ": " << r.status().ToString());
    if (r.ok()) {
      ++n_ok;
      exercise(**r);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("gguf truncation: " << lens.size() << " lengths (header ends at " << header_end << "), "
                              << n_ok << " ok, " << s << " s");
}

TEST_CASE("gguf: corruption fuzz, 2000 seeded mutations (q4_0 file)") {
  const std::string orig = read_bytes(kGolden + "/text/tiny-gemma4-q4_0.gguf");
  auto full = parse_bytes(orig);
  REQUIRE(full.ok());
  size_t header_end = orig.size();
  for (const TensorInfo& t : (*full)->tensors()) header_end = std::min(header_end, t.offset);
  const size_t region = std::min<size_t>(orig.size(), 64 * 1024);
  std::mt19937_64 rng(20240607);
  const uint64_t huge[] = {std::numeric_limits<uint64_t>::max(), 1ull << 63, 1ull << 62,
                           (1ull << 32) + 1, orig.size(), orig.size() + 1, orig.size() - 1, 0};
  const uint32_t u32s[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 0xffffffffu, 0x80000000u, 64, 1000};
  auto pick_off = [&](size_t width) -> size_t {
    const size_t lim = (rng() % 10 < 8 ? header_end : region);
    return lim > width ? rng() % (lim - width) : 0;
  };
  const auto t0 = std::chrono::steady_clock::now();
  int n_ok = 0;
  std::map<int, int> codes;
  for (int it = 0; it < 2000; ++it) {
    std::string m = orig;
    const int n_mut = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n_mut; ++k) {
      switch (rng() % 6) {
        case 0: m[pick_off(1)] = static_cast<char>(rng()); break;
        case 1: m[pick_off(1)] ^= static_cast<char>(1u << (rng() % 8)); break;
        case 2: {
          const uint64_t v = huge[rng() % std::size(huge)];
          std::memcpy(&m[pick_off(8)], &v, 8);
          break;
        }
        case 3: {
          const uint32_t v = u32s[rng() % std::size(u32s)];
          std::memcpy(&m[pick_off(4)], &v, 4);
          break;
        }
        case 4: {  // header counts and version
          const size_t off = (rng() % 3 == 0) ? 4 : (rng() % 2 ? 8 : 16);
          const uint64_t v = rng() % 2 ? huge[rng() % std::size(huge)] : rng() % 200;
          std::memcpy(&m[off], &v, off == 4 ? 4 : 8);
          break;
        }
        default: {  // small +-delta on a u64 (string lengths, dims, offsets)
          const size_t off = pick_off(8);
          uint64_t v;
          std::memcpy(&v, &m[off], 8);
          v += static_cast<uint64_t>(static_cast<int64_t>(rng() % 65) - 32);
          std::memcpy(&m[off], &v, 8);
          break;
        }
      }
    }
    auto r = parse_bytes(std::move(m));
    ++codes[static_cast<int>(r.status().code())];
    if (r.ok()) {
      ++n_ok;
      exercise(**r);
    } else {
      CHECK(!r.status().message().empty());
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string dist;
  for (auto [c, n] : codes) dist += absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) + "=" + std::to_string(n) + " ";
  MESSAGE("gguf mutations: 2000 runs, " << n_ok << " parsed ok, " << dist << s << " s");
}

}  // namespace gemma12b
