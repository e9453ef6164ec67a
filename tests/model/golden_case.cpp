#include "model/golden_case.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace gemma12b::test {

std::vector<int32_t> GoldenCase::prompt_tokens() const {
  std::vector<int32_t> ids;
  for (const Segment& s : layout) ids.insert(ids.end(), s.ids.begin(), s.ids.end());
  return ids;
}

GoldenCase load_case(const std::string& relative) {
  const std::string path = golden_path(relative);
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "golden manifest missing: " << path);
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "malformed manifest " << path);
  GoldenCase c;
  c.dir = path.substr(0, path.rfind('/'));
  auto abs = [&](const nlohmann::json& v) { return v.is_string() ? c.dir + "/" + v.get<std::string>() : std::string(); };
  c.model = abs(j.at("model"));
  if (j.contains("mmproj")) c.mmproj = abs(j["mmproj"]);
  for (const auto& s : j.at("layout")) {
    Segment seg;
    seg.type = s.at("type").get<std::string>();
    if (s.contains("ids")) seg.ids = s["ids"].get<std::vector<int32_t>>();
    if (s.contains("n_tokens")) seg.n_tokens = s["n_tokens"].get<int64_t>();
    if (s.contains("bidirectional")) seg.bidirectional = s["bidirectional"].get<bool>();
    if (s.contains("file")) seg.file = abs(s["file"]);
    c.layout.push_back(seg);
  }
  const auto& o = j.at("outputs");
  if (o.contains("greedy_tokens")) c.greedy_tokens = o["greedy_tokens"].get<std::vector<int32_t>>();
  auto opt = [&](const char* k) { return o.contains(k) ? abs(o[k]) : std::string(); };
  c.logits = opt("logits");
  c.greedy_logits = opt("greedy_logits");
  c.logits_dequant_f32 = opt("logits_dequant_f32");
  c.image_embeddings = opt("image_embeddings");
  c.audio_embeddings = opt("audio_embeddings");
  return c;
}

NpyArray load_npy_or_fail(const std::string& path) {
  NpyArray a;
  std::string err;
  REQUIRE_MESSAGE(load_npy(path, &a, &err), err);
  return a;
}

float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (!(d <= m)) m = d;  // NaN propagates as a failure
  }
  return m;
}

int32_t argmax(const float* row, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (row[i] > row[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

std::unique_ptr<Device> vulkan_or_skip(const DeviceOptions& options) {
  auto d = create_device("vulkan", options);
  if (d.ok()) return std::move(*d);
  bool built = false;
  for (const BackendFactory& f : registered_backends()) built |= std::string(f.name) == "vulkan";
  const absl::StatusCode none = built ? absl::StatusCode::kUnavailable : absl::StatusCode::kNotFound;
  REQUIRE_MESSAGE(d.status().code() == none, "vulkan: ", d.status().ToString());
  std::printf("SKIPPED: no Vulkan device: %s\n", d.status().ToString().c_str());
  std::fflush(stdout);
  return nullptr;
}

}  // namespace gemma12b::test
