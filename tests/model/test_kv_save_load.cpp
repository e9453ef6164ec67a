// KvCache::save / load: a restored sequence continues exactly like the original; files of another
// shape, model or a truncated file are refused and leave the cache cleared and usable.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/backend.h"
#include "model/decoder.h"
#include "model/golden_case.h"

using namespace gemma12b;
using namespace gemma12b::test;

namespace {

struct Run {
  std::unique_ptr<Device> dev;
  std::unique_ptr<Model> model;
  std::unique_ptr<Decoder> dec;
  Run() {
    auto d = create_device("cpu", DeviceOptions{2});
    REQUIRE(d.ok());
    dev = std::move(*d);
    auto m = Model::load(std::string(GEMMA12B_GOLDEN_DIR) + "/text/tiny-gemma4.gguf", *dev);
    REQUIRE(m.ok());
    model = std::move(*m);
    auto dc = Decoder::create(*model, 8);
    REQUIRE(dc.ok());
    dec = std::move(*dc);
  }
  std::unique_ptr<KvCache> cache(int64_t n_ctx = 128, DType t = DType::kF16) {
    KvCacheOptions o;
    o.n_ctx = n_ctx;
    o.max_ubatch = 8;
    o.dtype = t;
    auto kv = KvCache::create(model->config(), *dev, o);
    REQUIRE(kv.ok());
    return std::move(*kv);
  }
  std::vector<float> step(KvCache& kv, std::vector<int32_t> ids) {
    DecodeInput in;
    in.tokens = ids;
    DecodeOutput out;
    auto st = dec->decode(kv, in, &out);
    REQUIRE_MESSAGE(st.ok(), st.ToString());
    return out.logits;
  }
};

std::string tmp(const char* name) { return (std::filesystem::temp_directory_path() / name).string(); }

}  // namespace

TEST_CASE("KV save/load: a restored sequence continues exactly like the original") {
  Run r;
  for (DType t : {DType::kF16, DType::kF32, DType::kQ8_0}) {
    auto a = r.cache(128, t);
    // 40 positions: past the sliding window (16) and the ring of 24 slots, so the ring has wrapped.
    std::vector<int32_t> prompt;
    for (int i = 0; i < 40; ++i) prompt.push_back(261 + (i * 7) % 100);
    r.step(*a, prompt);
    const std::string path = tmp("g12-kv-test.bin");
    REQUIRE(a->save(path, 42).ok());
    auto b = r.cache(128, t);
    r.step(*b, {300, 301});  // something to be replaced
    auto st = b->load(path, 42);
    REQUIRE_MESSAGE(st.ok(), st.ToString());
    CHECK(b->n_past() == 40);
    const std::vector<float> la = r.step(*a, {320, 321, 322});
    const std::vector<float> lb = r.step(*b, {320, 321, 322});
    CHECK(la == lb);  // bit-identical: the same bytes in the same slots
    std::remove(path.c_str());
  }
}

TEST_CASE("KV load refuses other shapes, other models and damaged files") {
  Run r;
  auto a = r.cache();
  r.step(*a, {261, 262, 263, 264, 265});
  const std::string path = tmp("g12-kv-test2.bin");
  REQUIRE(a->save(path, 7).ok());
  auto other_ctx = r.cache(64);
  CHECK_FALSE(other_ctx->load(path, 7).ok());
  auto other_type = r.cache(128, DType::kF32);
  CHECK_FALSE(other_type->load(path, 7).ok());
  auto b = r.cache();
  auto st = b->load(path, 8);
  CHECK_FALSE(st.ok());
  MESSAGE("wrong model: " << st.ToString());
  // Every truncation is refused and leaves the cache empty and usable.
  std::string bytes;
  {
    std::ifstream f(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  const std::string cut = tmp("g12-kv-test3.bin");
  int refused = 0, tried = 0;
  for (size_t n = 0; n < bytes.size(); n += std::max<size_t>(1, bytes.size() / 97)) {
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(n));
    ++tried;
    if (!b->load(cut, 7).ok()) ++refused;
    CHECK(b->n_past() == 0);
  }
  CHECK(refused == tried);
  // A file of the slot-major format version 1 (magic byte 7 = 1) is refused, not misread.
  std::string v1 = bytes;
  REQUIRE(v1.size() > 8);
  CHECK(v1[7] == 2);
  v1[7] = 1;
  std::ofstream(cut, std::ios::binary).write(v1.data(), static_cast<std::streamsize>(v1.size()));
  st = b->load(cut, 7);
  CHECK(st.code() == absl::StatusCode::kDataLoss);
  CHECK(st.message().find("format version") != std::string::npos);
  CHECK(b->n_past() == 0);
  CHECK_FALSE(b->load("/nonexistent/kv.bin", 7).ok());
  REQUIRE(b->load(path, 7).ok());
  CHECK(b->n_past() == 5);
  r.step(*b, {266});
  std::remove(path.c_str());
  std::remove(cut.c_str());
}
