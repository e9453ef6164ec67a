// Golden multimodal cases (shared/golden/multimodal): image and audio embeddings from the mmproj
// GGUF and from the HF checkpoint, and the decoder's logits over text + media + text layouts.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "core/backend.h"
#include "io/image.h"
#include "io/wav.h"
#include "model/decoder.h"
#include "model/golden_case.h"
#include "model/multimodal/embedders.h"

using namespace gemma12b;
using namespace gemma12b::test;

namespace {

std::unique_ptr<Device> cpu() {
  auto d = create_device("cpu", DeviceOptions{2});
  REQUIRE(d.ok());
  return std::move(*d);
}


// Media rows of a layout segment.
std::vector<float> embed_segment(Embedders& e, const Segment& seg) {
  if (seg.type == "image") {
    auto img = decode_image_file(seg.file);
    REQUIRE_MESSAGE(img.ok(), img.status().ToString());
    auto patches = image_to_patches(*img, 70);  // the case's image_tokens_budget
    REQUIRE_MESSAGE(patches.ok(), patches.status().ToString());
    REQUIRE(patches->n == seg.n_tokens);
    auto rows = e.embed_image(*patches);
    REQUIRE_MESSAGE(rows.ok(), rows.status().ToString());
    return *rows;
  }
  REQUIRE(seg.type == "audio");
  auto wav = decode_wav_file(seg.file);
  REQUIRE_MESSAGE(wav.ok(), wav.status().ToString());
  REQUIRE(wav->sample_rate == 16000);
  int64_t n = 0;
  auto frames = audio_to_frames(wav->samples, &n);
  REQUIRE(frames.ok());
  REQUIRE(n == seg.n_tokens);
  auto rows = e.embed_audio(*frames, n);
  REQUIRE_MESSAGE(rows.ok(), rows.status().ToString());
  return *rows;
}

void check_case(const std::string& manifest, const std::string& projector,
                const std::string& backend = "cpu") {
  const GoldenCase gc = load_case(manifest);
  auto dev = backend == "vulkan" ? vulkan_or_skip() : cpu();
  if (dev == nullptr) return;
  auto model = Model::load(gc.model, *dev);
  REQUIRE(model.ok());
  auto emb = Embedders::load(projector, *dev);
  REQUIRE_MESSAGE(emb.ok(), emb.status().ToString());
  CHECK((*emb)->n_embd() == (*model)->config().d_model);
  const int64_t V = (*model)->config().n_vocab;
  KvCacheOptions ko;
  ko.n_ctx = 256;
  ko.dtype = DType::kF32;
  auto kv = KvCache::create((*model)->config(), *dev, ko);
  auto dec = Decoder::create(**model);
  REQUIRE((kv.ok() && dec.ok()));
  std::vector<float> logits;
  for (const Segment& seg : gc.layout) {
    DecodeInput in;
    in.all_logits = true;
    std::vector<float> rows;
    if (seg.type == "tokens") {
      in.tokens = seg.ids;
    } else {
      rows = embed_segment(**emb, seg);
      const NpyArray want = load_npy_or_fail(seg.type == "image" ? gc.image_embeddings : gc.audio_embeddings);
      REQUIRE(want.data.size() == rows.size());
      const float d = max_abs_diff(want.data.data(), rows.data(), rows.size());
      MESSAGE(manifest << " " << seg.type << " embeddings from " << projector << " on " << backend
                       << ": max |diff| " << d);
      CHECK(d <= 1e-4f);
      in.embeddings = rows;
      in.bidirectional = seg.bidirectional;
    }
    DecodeOutput out;
    Status s = (*dec)->decode(**kv, in, &out);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    logits.insert(logits.end(), out.logits.begin(), out.logits.end());
  }
  const NpyArray want = load_npy_or_fail(gc.logits);
  REQUIRE(want.data.size() == logits.size());
  const float d_prompt = max_abs_diff(want.data.data(), logits.data(), logits.size());
  // Greedy steps.
  std::vector<int32_t> greedy = {argmax(&logits[logits.size() - V], V)};
  std::vector<float> greedy_logits;
  for (size_t k = 0; k + 1 < gc.greedy_tokens.size(); ++k) {
    DecodeInput in;
    in.tokens = std::span<const int32_t>(&gc.greedy_tokens[k], 1);
    DecodeOutput out;
    REQUIRE((*dec)->decode(**kv, in, &out).ok());
    greedy_logits.insert(greedy_logits.end(), out.logits.begin(), out.logits.end());
    greedy.push_back(argmax(out.logits.data(), V));
  }
  const NpyArray want_g = load_npy_or_fail(gc.greedy_logits);
  REQUIRE(want_g.data.size() == greedy_logits.size());
  const float d_greedy = max_abs_diff(want_g.data.data(), greedy_logits.data(), greedy_logits.size());
  MESSAGE(manifest << " with " << projector << " on " << backend << ": max |diff| prompt " << d_prompt
                   << ", greedy " << d_greedy);
  CHECK(d_prompt <= 1e-3f);
  CHECK(d_greedy <= 1e-3f);
  CHECK(greedy == gc.greedy_tokens);
}

}  // namespace

TEST_CASE("golden multimodal: image case, mmproj GGUF (CHW weights)") {
  check_case("multimodal/image-480x336.json", golden_path("multimodal/tiny-gemma4-mmproj.gguf"));
}
TEST_CASE("golden multimodal: image case, HF checkpoint (HWC weights)") {
  check_case("multimodal/image-480x336.json", golden_path("hf-tiny-gemma4"));
}
TEST_CASE("golden multimodal: audio case, mmproj GGUF") {
  check_case("multimodal/audio-2s.json", golden_path("multimodal/tiny-gemma4-mmproj.gguf"));
}
TEST_CASE("golden multimodal: audio case, HF checkpoint") {
  check_case("multimodal/audio-2s.json", golden_path("hf-tiny-gemma4"));
}
TEST_CASE("golden multimodal: image case, mmproj GGUF, vulkan backend") {
  check_case("multimodal/image-480x336.json", golden_path("multimodal/tiny-gemma4-mmproj.gguf"), "vulkan");
}
TEST_CASE("golden multimodal: image case, HF checkpoint, vulkan backend") {
  check_case("multimodal/image-480x336.json", golden_path("hf-tiny-gemma4"), "vulkan");
}
TEST_CASE("golden multimodal: audio case, mmproj GGUF, vulkan backend") {
  check_case("multimodal/audio-2s.json", golden_path("multimodal/tiny-gemma4-mmproj.gguf"), "vulkan");
}

TEST_CASE("multimodal: a causal instead of bidirectional image block changes the logits") {
  // Guards against the block mask silently not applying: the golden README measures 10.8.
  const GoldenCase gc = load_case("multimodal/image-480x336.json");
  auto dev = cpu();
  auto model = Model::load(gc.model, *dev);
  auto emb = Embedders::load(golden_path("multimodal/tiny-gemma4-mmproj.gguf"), *dev);
  REQUIRE((model.ok() && emb.ok()));
  std::vector<float> last[2];
  for (int causal = 0; causal < 2; ++causal) {
    KvCacheOptions ko;
    ko.n_ctx = 256;
    ko.dtype = DType::kF32;
    auto kv = KvCache::create((*model)->config(), *dev, ko);
    auto dec = Decoder::create(**model);
    REQUIRE((kv.ok() && dec.ok()));
    for (const Segment& seg : gc.layout) {
      DecodeInput in;
      std::vector<float> rows;
      if (seg.type == "tokens") {
        in.tokens = seg.ids;
      } else {
        rows = embed_segment(**emb, seg);
        in.embeddings = rows;
        in.bidirectional = causal == 0;
      }
      DecodeOutput out;
      REQUIRE((*dec)->decode(**kv, in, &out).ok());
      last[causal] = out.logits;
    }
  }
  CHECK(max_abs_diff(last[0].data(), last[1].data(), last[0].size()) > 0.1f);
}

TEST_CASE("multimodal: bad media is an error") {
  CHECK(decode_image_file(golden_path("README.md")).status().code() == absl::StatusCode::kDataLoss);
  CHECK(decode_image_file("/nonexistent.png").status().code() == absl::StatusCode::kNotFound);
  const uint8_t junk[16] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E', 0, 0, 0, 0};
  CHECK(!decode_wav_memory(junk, sizeof(junk)).ok());
  CHECK(!decode_wav_memory(nullptr, 0).ok());
  int64_t n = 0;
  CHECK(!audio_to_frames({}, &n).ok());
  CHECK(!image_target_size(100, 100, 100).ok());  // not a trained budget
  // The HF size rule (spec 2.2 examples).
  CHECK(*image_target_size(1024, 768, 280) == std::pair<int, int>(912, 672));
  CHECK(*image_target_size(1024, 768, 70) == std::pair<int, int>(432, 336));
  CHECK(*image_target_size(1024, 768, 1120) == std::pair<int, int>(1824, 1344));
  CHECK(*image_target_size(1920, 1080, 280) == std::pair<int, int>(1056, 576));
  CHECK(*image_target_size(512, 512, 280) == std::pair<int, int>(768, 768));  // upscaled
  // A 20x4000 strip: factor sqrt(2520 * 256 / 80000) = 2.84 -> width floor(56.8 / 48) = 1 patch,
  // height floor(11359 / 48) = 236 patches.
  CHECK(*image_target_size(20, 4000, 280) == std::pair<int, int>(48, 236 * 48));
  // A 1x1 image is upscaled to the budget: factor 803 -> floor(803 / 48) = 16 patches a side.
  CHECK(*image_target_size(1, 1, 280) == std::pair<int, int>(768, 768));
  CHECK(!image_target_size(0, 0, 280).ok());
}
