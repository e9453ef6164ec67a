// Every GGUF fixture loads with the right config and tensor table; corrupted copies of a fixture
// load or fail cleanly, and what loads can run.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/backend.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/weights.h"
#include "support/npy.h"

using namespace gemma12b;
using gemma12b::test::golden_path;

namespace {

std::unique_ptr<Device> cpu() {
  DeviceOptions o;
  o.n_threads = 2;
  auto d = create_device("cpu", o);
  REQUIRE(d.ok());
  return std::move(*d);
}

}  // namespace

TEST_CASE("model files: every tiny GGUF gives the tiny Gemma 4 config and the full tensor table") {
  auto dev = cpu();
  for (const char* name : {"tiny-gemma4.gguf", "tiny-gemma4-q8_0.gguf", "tiny-gemma4-q4_0.gguf",
                           "tiny-gemma4-q4_k.gguf", "tiny-gemma4-q4_k_m.gguf"}) {
    CAPTURE(name);
    auto m = Model::load(golden_path(std::string("text/") + name), *dev);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    const ModelConfig& c = (*m)->config();
    CHECK(c.n_vocab == 373);
    CHECK(c.d_model == 256);
    CHECK(c.n_layers == 6);
    CHECK(c.d_ff == 512);
    CHECK(c.n_heads == 4);
    for (int l = 0; l < 6; ++l) {
      CHECK(c.is_full(l) == (l == 5));
      CHECK(c.kv_heads(l) == (l == 5 ? 1 : 2));
    }
    CHECK(c.head_dim_sliding == 64);
    CHECK(c.head_dim_full == 128);
    CHECK(c.sliding_window == 16);
    CHECK(c.rope_theta_sliding == 10000.0f);
    CHECK(c.rope_theta_full == 1000000.0f);
    CHECK(c.n_rot_full == 128);
    CHECK(c.rms_eps == doctest::Approx(1e-6));
    CHECK(c.final_softcap == 30.0f);
    CHECK(c.bos_id == 2);
    CHECK(c.eos_id == 1);
    // Only the q4_k_m file (from a newer converter) declares suppressed tokens, under
    // tokenizer.ggml.suppress_tokens: <audio|> 269 and <image|> 266.
    if (std::string(name) == "tiny-gemma4-q4_k_m.gguf") {
      CHECK(c.suppress_tokens == std::vector<int32_t>{269, 266});
    } else {
      CHECK(c.suppress_tokens.empty());
    }
    // token_embd, output_norm, rope_freqs + 14 per layer, less blk.5.attn_v (K == V).
    CHECK((*m)->tensor_table().size() == 3 + 6 * 14 - 1);
    // rope_freqs: 16 rotating pairs of 64, the rest 1e30 (golden README).
    const float* ff = (*m)->weights().rope_freqs.data<float>();
    REQUIRE(ff != nullptr);
    CHECK(ff[15] == 1.0f);
    CHECK(ff[16] == 1e30f);
  }
}

TEST_CASE("model files: on the CPU device, vectors and scalars are copies, not the file's pages") {
  // A norm read in place keeps the page cache's folio around it mapped (2 MB on some kernels,
  // 130 MB over the 12B's norms), undoing the release of the copied matrices next to it.
  auto dev = cpu();
  for (const char* name : {"tiny-gemma4.gguf", "tiny-gemma4-q4_0.gguf"}) {
    CAPTURE(name);
    auto m = Model::load(golden_path(std::string("text/") + name), *dev);
    REQUIRE_MESSAGE(m.ok(), m.status().ToString());
    const MappedFile& file = *(*m)->gguf()->file();
    const uint8_t *lo = file.data(), *hi = file.data() + file.size();
    Weights w = (*m)->weights();
    int vectors = 0;
    for_each_tensor((*m)->config(), w, [&](TensorSpec& s) {
      if (s.shape.size() == 2 || !s.slot->valid()) return;
      ++vectors;
      const uint8_t* p = s.slot->host_data();
      CHECK_MESSAGE((p < lo || p >= hi), s.gguf_name, " is read from the file's mapping");
    });
    CHECK(vectors > 6 * 4);
  }
}

TEST_CASE("model files: HF config synthesises the same rope_freqs the GGUF stores") {
  auto dev = cpu();
  auto g = Model::load(golden_path("text/tiny-gemma4.gguf"), *dev);
  auto h = Model::load(golden_path("hf-tiny-gemma4"), *dev);
  REQUIRE(g.ok());
  REQUIRE_MESSAGE(h.ok(), h.status().ToString());
  const TensorView a = (*g)->weights().rope_freqs, b = (*h)->weights().rope_freqs;
  REQUIRE(a.numel() == b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data<float>()[i] == b.data<float>()[i]);
  CHECK((*h)->config().n_layers == 6);
  CHECK((*h)->config().is_full(5));
}

TEST_CASE("model files: corrupted copies of a fixture load cleanly or fail with an error") {
  std::ifstream f(golden_path("text/tiny-gemma4-q4_0.gguf"), std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  REQUIRE(original.size() > 100000);
  const std::string path = (std::filesystem::temp_directory_path() / "gemma12b-corrupt-test.gguf").string();
  auto dev = cpu();
  std::mt19937_64 rng(1234);
  int loaded = 0, failed = 0;
  const std::vector<int32_t> tokens = {2, 100, 200};
  for (int seed = 0; seed < 300; ++seed) {
    std::string bytes = original;
    const int n_flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n_flips; ++i) {
      // Mostly the header and tensor table (first 16 KiB), sometimes anywhere.
      const size_t limit = rng() % 4 == 0 ? bytes.size() : std::min<size_t>(bytes.size(), 16384);
      bytes[rng() % limit] = static_cast<char>(rng());
    }
    if (seed % 10 == 0) bytes.resize(rng() % bytes.size());  // truncation
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    auto m = Model::load(path, *dev);
    if (!m.ok()) {
      ++failed;
      CHECK(!m.status().message().empty());
      continue;
    }
    ++loaded;
    // A file that loads is structurally valid: running it must not crash (values may be junk).
    KvCacheOptions ko;
    ko.n_ctx = 8;
    auto kv = KvCache::create((*m)->config(), *dev, ko);
    auto dec = Decoder::create(**m);
    if (kv.ok() && dec.ok()) {
      DecodeInput in;
      std::vector<int32_t> ids;
      for (int32_t t : tokens) ids.push_back(t % static_cast<int32_t>((*m)->config().n_vocab));
      in.tokens = ids;
      DecodeOutput out;
      (void)(*dec)->decode(**kv, in, &out);
    }
  }
  std::remove(path.c_str());
  MESSAGE("corrupted fixtures: " << loaded << " loaded, " << failed << " rejected");
  CHECK(loaded + failed == 300);
  CHECK(failed > 0);
}

TEST_CASE("kv cache: copy_from makes an independent continuation point") {
  auto dev = cpu();
  auto m = Model::load(golden_path("text/tiny-gemma4.gguf"), *dev);
  REQUIRE(m.ok());
  KvCacheOptions ko;
  ko.n_ctx = 64;
  ko.max_ubatch = 4;
  ko.dtype = DType::kF32;
  auto a = KvCache::create((*m)->config(), *dev, ko);
  auto b = KvCache::create((*m)->config(), *dev, ko);
  auto dec = Decoder::create(**m, 4);
  REQUIRE((a.ok() && b.ok() && dec.ok()));
  const std::vector<int32_t> prompt = {2, 126, 308, 283, 71, 194, 314, 247, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110};
  DecodeInput in;
  in.tokens = prompt;
  DecodeOutput out;
  REQUIRE((*dec)->decode(**a, in, &out).ok());
  REQUIRE((*b)->copy_from(**a).ok());
  CHECK((*b)->n_past() == (*a)->n_past());
  const std::vector<int32_t> next = {123};
  in.tokens = next;
  DecodeOutput oa, ob;
  REQUIRE((*dec)->decode(**a, in, &oa).ok());
  REQUIRE((*dec)->decode(**b, in, &ob).ok());
  CHECK(oa.logits == ob.logits);
  // Diverging a does not touch b.
  const std::vector<int32_t> other = {7};
  in.tokens = other;
  REQUIRE((*dec)->decode(**a, in, &oa).ok());
  in.tokens = other;
  REQUIRE((*dec)->decode(**b, in, &ob).ok());
  CHECK(oa.logits == ob.logits);
  // Truncating further back than the sliding ring holds is refused, not silently wrong.
  CHECK(!(*a)->truncate(2).ok());
  CHECK((*a)->truncate((*a)->n_past() - 2).ok());
}

TEST_CASE("kv cache: each KV head's slots are one contiguous run (what the CPU attention streams)") {
  auto dev = cpu();
  auto m = Model::load(golden_path("text/tiny-gemma4.gguf"), *dev);
  REQUIRE(m.ok());
  const ModelConfig& c = (*m)->config();
  KvCacheOptions ko;
  ko.n_ctx = 64;
  ko.max_ubatch = 4;
  for (DType t : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    ko.dtype = t;
    auto kv = KvCache::create(c, *dev, ko);
    REQUIRE(kv.ok());
    bool multi_head = false;
    for (int64_t l = 0; l < c.n_layers; ++l) {
      for (const TensorView& v : {(*kv)->k(l), (*kv)->v(l)}) {
        const int64_t slots = (*kv)->n_slots(l), nkv = c.kv_heads(l);
        CHECK(v.shape[0] == slots);
        CHECK(v.shape[1] == nkv);
        CHECK(v.stride[0] == v.row_bytes());          // slot s + 1 follows slot s of the same head
        CHECK(v.stride[1] == slots * v.row_bytes());  // head hk + 1 starts after head hk's slots
        CHECK(v.row_offset(slots * nkv - 1) + v.row_bytes() == v.buffer->size());
        multi_head |= nkv > 1;
      }
    }
    CHECK(multi_head);  // the tiny model's sliding layers have several KV heads
  }
}
