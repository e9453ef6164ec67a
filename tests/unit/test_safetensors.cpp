// Safetensors reader: golden hf-tiny-gemma4 (same weights as the GGUF), hand-built edge cases,
// shard directories, and corruption fuzz (truncation grid and seeded header mutations).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

namespace gemma12b {
namespace {

const std::string kGolden = GEMMA12B_GOLDEN_DIR;
const std::string kHfDir = kGolden + "/hf-tiny-gemma4";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string make_st(const std::string& header, const std::string& data) {
  std::string s;
  const uint64_t n = header.size();
  s.append(reinterpret_cast<const char*>(&n), 8);
  s += header;
  s += data;
  return s;
}

StatusOr<std::unique_ptr<SafetensorsSet>> parse_bytes(std::string bytes, std::string name = "mem.safetensors") {
  return SafetensorsSet::parse(MappedFile::from_bytes(std::move(bytes), std::move(name)));
}

bool contains(const Status& s, const std::string& needle) {
  return std::string(s.message()).find(needle) != std::string::npos;
}

uint64_t exercise(const SafetensorsSet& st) {
  uint64_t h = 0;
  for (const TensorInfo& t : st.tensors()) {
    REQUIRE(t.rank >= 1);
    REQUIRE(t.rank <= kMaxDims);
    const size_t size = t.mapping->size();
    REQUIRE(t.offset <= size);
    REQUIRE(t.nbytes <= size - t.offset);
    REQUIRE(static_cast<size_t>(t.numel()) * dtype_traits(t.dtype).block_bytes == t.nbytes);
    REQUIRE(st.find_tensor(t.name) == &t);
    if (t.nbytes > 0) h += t.data()[0] + t.data()[t.nbytes - 1];
  }
  return h;
}

// Position right after the JSON header, and the largest tensor end (absolute).
void layout(const SafetensorsSet& st, const std::string& bytes, size_t* header_end, size_t* data_end) {
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  *header_end = 8 + n;
  *data_end = *header_end;
  for (const TensorInfo& t : st.tensors()) *data_end = std::max(*data_end, t.offset + t.nbytes);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("gemma12b-st-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
  void write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path / name, std::ios::binary) << bytes;
  }
};

}  // namespace

TEST_CASE("safetensors: hf-tiny-gemma4 directory matches the GGUF weights") {
  auto r = SafetensorsSet::open(kHfDir);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  const SafetensorsSet& st = **r;
  CHECK(st.directory() == kHfDir);
  CHECK(st.tensors().size() > 50);
  const TensorInfo* emb = st.find_tensor("model.language_model.embed_tokens.weight");
  REQUIRE(emb != nullptr);
  CHECK(emb->dtype == DType::kF32);
  CHECK(emb->rank == 2);
  CHECK(emb->shape[0] == 373);
  CHECK(emb->shape[1] == 256);
  CHECK(emb->shape_string() == "[373, 256]");
  CHECK(emb->nbytes == 373u * 256u * 4u);
  CHECK(st.find_tensor("no.such.tensor") == nullptr);
  // File order is kept (the header's first entry comes first).
  CHECK(st.tensors().front().name == "model.embed_audio.embedding_projection.weight");
  CHECK(exercise(st) > 0);

  auto g = GgufFile::open(kGolden + "/text/tiny-gemma4.gguf");
  REQUIRE_MESSAGE(g.ok(), g.status().ToString());
  const TensorInfo* ge = (*g)->find_tensor("token_embd.weight");
  REQUIRE(ge != nullptr);
  REQUIRE(ge->nbytes == emb->nbytes);
  CHECK(std::memcmp(ge->data(), emb->data(), emb->nbytes) == 0);

  // The single file opens too; its directory is the parent.
  auto f = SafetensorsSet::open(kHfDir + "/model.safetensors");
  REQUIRE_MESSAGE(f.ok(), f.status().ToString());
  CHECK((*f)->tensors().size() == st.tensors().size());
  CHECK((*f)->directory() == kHfDir);
}

TEST_CASE("safetensors: open errors") {
  CHECK(absl::IsNotFound(SafetensorsSet::open(kGolden + "/nope").status()));
  auto r = SafetensorsSet::open(kGolden + "/text");  // a directory without .safetensors
  CHECK(absl::IsNotFound(r.status()));
  CHECK(contains(r.status(), "text"));
  r = SafetensorsSet::open(kHfDir + "/config.json");
  CHECK_FALSE(r.ok());
  CHECK(contains(r.status(), "config.json"));
}

TEST_CASE("safetensors: hand-built files") {
  const std::string data(64, '\x11');
  SUBCASE("valid dtypes, scalar, metadata") {
    auto r = parse_bytes(make_st(
        R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
        R"("h":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},)"
        R"("b":{"dtype":"BF16","shape":[1,1,2,2],"data_offsets":[32,40]},)"
        R"("s":{"dtype":"F32","shape":[],"data_offsets":[40,44]}}   )",
        data));
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    const SafetensorsSet& st = **r;
    REQUIRE(st.tensors().size() == 4);
    CHECK(st.tensors()[0].name == "w");  // file order
    CHECK(st.tensors()[3].name == "s");
    CHECK(st.find_tensor("w")->shape_string() == "[2, 3]");
    CHECK(st.find_tensor("h")->dtype == DType::kF16);
    CHECK(st.find_tensor("b")->dtype == DType::kBF16);
    CHECK(st.find_tensor("b")->rank == 4);
    const TensorInfo* s = st.find_tensor("s");
    CHECK(s->rank == 1);
    CHECK(s->shape[0] == 1);
    CHECK(s->offset == st.find_tensor("w")->offset + 40);
    CHECK(st.directory().empty());
    CHECK(exercise(st) > 0);
  }
  SUBCASE("errors") {
    auto expect_error = [&](const std::string& header, absl::StatusCode code, const std::string& needle) {
      auto r = parse_bytes(make_st(header, data), "bad.safetensors");
      REQUIRE_FALSE(r.ok());
      CHECK_MESSAGE(r.status().code() == code, header, " -> ", r.status().ToString());
      CHECK_MESSAGE(contains(r.status(), needle), r.status().ToString());
      CHECK_MESSAGE(contains(r.status(), "bad.safetensors"), r.status().ToString());
    };
    const auto kInv = absl::StatusCode::kInvalidArgument;
    const auto kUnimpl = absl::StatusCode::kUnimplemented;
    expect_error(R"({"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", kUnimpl, "'i'");
    expect_error(R"({"r5":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", kUnimpl, "'r5'");
    expect_error(R"({"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}})", kUnimpl, "'z'");
    expect_error(R"({"m":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", kInv, "'m'");
    expect_error(R"({"e":{"dtype":"F32","shape":[2],"data_offsets":[60,68]}})", kInv, "'e'");
    expect_error(R"({"o":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kInv, "'o'");
    expect_error(R"({"n":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kInv, "'n'");
    expect_error(R"({"f":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kInv, "'f'");
    expect_error(R"({"f":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}})", kInv, "'f'");
    expect_error(R"({"u":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", kInv, "'u'");
    expect_error(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", kInv, "'x'");
    expect_error(R"({"d":{"dtype":"F32","shape":[2]}})", kInv, "'d'");
    expect_error(R"({"d":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", kInv, "'d'");
    expect_error(R"({"d":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", kInv, "'d'");
    expect_error(R"({"d":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}})", kInv, "'d'");
    expect_error(R"({"d":[1,2]})", kInv, "'d'");
    expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 kInv, "duplicate header entry 'a'");
    expect_error(R"({"__metadata__":[1]})", kInv, "__metadata__");
    expect_error(R"([1,2,3])", kInv, "not a JSON object");
    expect_error(R"({"a":{"dtype":"F32",)", kInv, "not valid JSON");
    expect_error("{\"a\xff\":1}", kInv, "not valid JSON");
  }
  SUBCASE("framing errors") {
    CHECK(absl::IsInvalidArgument(parse_bytes("").status()));
    CHECK(absl::IsInvalidArgument(parse_bytes("1234567").status()));
    std::string s = make_st("{}", "");
    CHECK(parse_bytes(s).ok());  // an empty but well-formed file
    uint64_t n = std::numeric_limits<uint64_t>::max();
    std::memcpy(&s[0], &n, 8);
    auto r = parse_bytes(s);
    CHECK(absl::IsInvalidArgument(r.status()));
    CHECK(contains(r.status(), "header length"));
    n = 3;
    std::memcpy(&s[0], &n, 8);
    CHECK(absl::IsInvalidArgument(parse_bytes(s).status()));
  }
  SUBCASE("overlapping tensors are allowed") {
    auto r = parse_bytes(make_st(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                 R"("b":{"dtype":"F16","shape":[8],"data_offsets":[0,16]}})",
                                 data));
    CHECK_MESSAGE(r.ok(), r.status().ToString());
  }
}

TEST_CASE("safetensors: shard directories") {
  const std::string d8(8, '\0');
  TempDir dir;
  dir.write("model-00002-of-00002.safetensors",
            make_st(R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8));
  dir.write("model-00001-of-00002.safetensors",
            make_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8));
  dir.write("config.json", "{}");
  auto r = SafetensorsSet::open(dir.path.string());
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  REQUIRE((*r)->tensors().size() == 2);
  CHECK((*r)->tensors()[0].name == "a");  // shards in sorted order
  CHECK((*r)->tensors()[1].name == "b");
  CHECK((*r)->find_tensor("b")->mapping->path().find("00002-of") != std::string::npos);

  dir.write("model-extra.safetensors", make_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8));
  r = SafetensorsSet::open(dir.path.string());
  REQUIRE_FALSE(r.ok());
  CHECK(absl::IsInvalidArgument(r.status()));
  CHECK(contains(r.status(), "duplicate tensor 'a'"));
  CHECK(contains(r.status(), "model-extra.safetensors"));

  dir.write("model-extra.safetensors", "garbage");
  r = SafetensorsSet::open(dir.path.string());
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.status(), "model-extra.safetensors"));
}

TEST_CASE("safetensors: corruption fuzz, truncation grid (hf-tiny-gemma4)") {
  const std::string orig = read_bytes(kHfDir + "/model.safetensors");
  auto full = parse_bytes(orig);
  REQUIRE_MESSAGE(full.ok(), full.status().ToString());
  size_t header_end = 0, data_end = 0;
  layout(**full, orig, &header_end, &data_end);
  // Every byte through the header, every 997 bytes through the first MiB of data, then ~1 MiB
  // steps (each case copies the prefix, and the file is 25 MB), plus the exact boundaries.
  std::vector<size_t> lens;
  for (size_t n = 0; n <= header_end + 64; ++n) lens.push_back(n);
  for (size_t n = header_end + 64; n < std::min(orig.size(), header_end + (1u << 20)); n += 997) lens.push_back(n);
  for (size_t n = header_end + (1u << 20); n < orig.size(); n += (1u << 20) + 997) lens.push_back(n);
  for (size_t n : {data_end - 1, data_end, orig.size() - 1}) lens.push_back(n);
  const auto t0 = std::chrono::steady_clock::now();
  size_t n_ok = 0;
  for (size_t n : lens) {
    auto r = parse_bytes(orig.substr(0, n));
    CHECK_MESSAGE(r.ok() == (n >= data_end), "truncated to " << n << ": " << r.status().ToString());
    if (r.ok()) {
      ++n_ok;
      exercise(**r);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("safetensors truncation: " << lens.size() << " lengths (header ends at " << header_end
                                     << "), " << n_ok << " ok, " << s << " s");
}

namespace {

// Mutates a safetensors file's header (same length or not; the length field is kept in sync
// unless a mutation targets it) and returns the new file.
std::string mutate_st(const std::string& file, std::mt19937_64& rng) {
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  std::string header = file.substr(8, n);
  const std::string data = file.substr(8 + n);
  static const char kAlphabet[] = "{}[]\":,0123456789-+.eE \\ntrufalsFBI\x00\xff";
  static const char* kNumbers[] = {"18446744073709551615", "18446744073709551616", "-1", "0",
                                   "1e300", "9223372036854775807", "4294967296", "2.5", "-0", "1"};
  bool length_override = false;
  uint64_t new_len = 0;
  const int n_mut = 1 + static_cast<int>(rng() % 3);
  for (int k = 0; k < n_mut && !header.empty(); ++k) {
    const size_t pos = rng() % header.size();
    switch (rng() % 8) {
      case 0: header[pos] = kAlphabet[rng() % (sizeof(kAlphabet) - 1)]; break;
      case 1: header[pos] = static_cast<char>(rng()); break;
      case 2: header[pos] ^= static_cast<char>(1u << (rng() % 8)); break;
      case 3: header.erase(pos, 1 + rng() % 4); break;
      case 4: header.insert(pos, 1, kAlphabet[rng() % (sizeof(kAlphabet) - 1)]); break;
      case 5: {  // replace a number with an extreme one
        size_t b = header.find_first_of("0123456789", pos);
        if (b == std::string::npos) break;
        size_t e = header.find_first_not_of("0123456789", b);
        if (e == std::string::npos) e = header.size();
        header.replace(b, e - b, kNumbers[rng() % std::size(kNumbers)]);
        break;
      }
      case 6: {  // swap a dtype
        static const char* kDtypes[] = {"\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"", "\"F64\"", "\"\"", "1"};
        size_t b = header.find("\"dtype\":", pos);
        if (b == std::string::npos) break;
        b += 8;
        const size_t e = header.find_first_of(",}", b);
        if (e == std::string::npos) break;
        header.replace(b, e - b, kDtypes[rng() % std::size(kDtypes)]);
        break;
      }
      default: {  // the length field itself
        length_override = true;
        const uint64_t vals[] = {std::numeric_limits<uint64_t>::max(), 1ull << 63, n + 1, n - 1,
                                 file.size(), file.size() - 7, 0, 1, rng()};
        new_len = vals[rng() % std::size(vals)];
        break;
      }
    }
  }
  std::string out;
  const uint64_t len = length_override ? new_len : header.size();
  out.append(reinterpret_cast<const char*>(&len), 8);
  out += header;
  out += data;
  return out;
}

// A small safetensors file made of the real file's small tensors (header in the same style).
std::string compact_real_file(const SafetensorsSet& st, size_t max_tensor_bytes, size_t max_tensors) {
  std::string header = R"({"__metadata__":{"format":"pt"})";
  std::string data;
  size_t count = 0;
  for (const TensorInfo& t : st.tensors()) {
    if (t.nbytes > max_tensor_bytes || count >= max_tensors) continue;
    header += ",\"" + t.name + "\":{\"dtype\":\"" +
              (t.dtype == DType::kF32 ? "F32" : t.dtype == DType::kF16 ? "F16" : "BF16") +
              "\",\"shape\":[";
    for (int d = 0; d < t.rank; ++d) header += (d ? "," : "") + std::to_string(t.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
              std::to_string(data.size() + t.nbytes) + "]}";
    data.append(reinterpret_cast<const char*>(t.data()), t.nbytes);
    ++count;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  return make_st(header, data);
}

}  // namespace

TEST_CASE("safetensors: corruption fuzz, seeded header mutations") {
  const std::string orig = read_bytes(kHfDir + "/model.safetensors");
  auto full = parse_bytes(orig);
  REQUIRE(full.ok());
  const std::string compact = compact_real_file(**full, 8192, 48);
  auto c = parse_bytes(compact);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  REQUIRE((*c)->tensors().size() >= 10);

  std::mt19937_64 rng(7771);
  const auto t0 = std::chrono::steady_clock::now();
  std::map<int, int> codes;
  int n_ok = 0;
  // 2000 mutations of a compact file built from the real tensors (cheap to rebuild each time) ...
  for (int it = 0; it < 2000; ++it) {
    auto r = parse_bytes(mutate_st(compact, rng));
    ++codes[static_cast<int>(r.status().code())];
    if (r.ok()) {
      ++n_ok;
      exercise(**r);
    }
  }
  // ... and 100 in-place mutations of the real 25 MB file's header.
  uint64_t n;
  std::memcpy(&n, orig.data(), 8);
  for (int it = 0; it < 100; ++it) {
    std::string m = orig;
    for (int k = 0; k < 2; ++k) {
      const size_t pos = 8 + rng() % n;
      m[pos] = rng() % 2 ? static_cast<char>(rng()) : "0123456789,:[]{}\""[rng() % 17];
    }
    auto r = parse_bytes(std::move(m));
    ++codes[static_cast<int>(r.status().code())];
    if (r.ok()) {
      ++n_ok;
      exercise(**r);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string dist;
  for (auto [code, k] : codes) dist += absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) + "=" + std::to_string(k) + " ";
  MESSAGE("safetensors mutations: 2100 runs (compact file " << compact.size() << " bytes, "
          << (*c)->tensors().size() << " tensors), " << n_ok << " ok, " << dist << s << " s");
}

}  // namespace gemma12b

TEST_CASE("safetensors: a sharded directory with model.safetensors.index.json") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "gemma12b-shard-test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Two shards written by hand: a [2] f32 tensor in each.
  auto write_shard = [&](const std::string& file, const std::string& name, float a, float b) {
    const std::string header = "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    std::ofstream f(dir / file, std::ios::binary);
    const uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header;
    f.write(reinterpret_cast<const char*>(&a), 4);
    f.write(reinterpret_cast<const char*>(&b), 4);
  };
  write_shard("model-00001-of-00002.safetensors", "a", 1.0f, 2.0f);
  write_shard("model-00002-of-00002.safetensors", "b", 3.0f, 4.0f);
  auto write_index = [&](const std::string& body) { std::ofstream(dir / "model.safetensors.index.json") << body; };
  write_index(R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
  auto set = gemma12b::SafetensorsSet::open(dir.string());
  REQUIRE_MESSAGE(set.ok(), set.status().ToString());
  REQUIRE((*set)->find_tensor("b") != nullptr);
  float b1 = 0.0f;  // the data is not 4-byte aligned in this hand-made file
  std::memcpy(&b1, (*set)->find_tensor("b")->data() + 4, 4);
  CHECK(b1 == 4.0f);
  // The index disagrees with the shards: a clear error.
  write_index(R"({"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
  CHECK(!gemma12b::SafetensorsSet::open(dir.string()).ok());
  write_index(R"({"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00003-of-00003.safetensors"}})");
  CHECK(gemma12b::SafetensorsSet::open(dir.string()).status().code() == absl::StatusCode::kNotFound);
  write_index("not json");
  CHECK(!gemma12b::SafetensorsSet::open(dir.string()).ok());
  fs::remove_all(dir);
}
