// Loads a golden case manifest (shared/golden/*/X.json, see its README) for the model tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"

#include "support/npy.h"

namespace gemma12b::test {

struct Segment {
  std::string type;             // "tokens", "image", "audio"
  std::vector<int32_t> ids;     // tokens
  int64_t n_tokens = 0;         // media rows
  bool bidirectional = false;
  std::string file;             // media file (absolute)
};

struct GoldenCase {
  std::string dir;              // absolute directory of the manifest
  std::string model;            // absolute path
  std::string mmproj;           // absolute path or ""
  std::vector<Segment> layout;
  std::vector<int32_t> greedy_tokens;
  std::string logits, greedy_logits, logits_dequant_f32, image_embeddings, audio_embeddings;  // absolute or ""
  std::vector<int32_t> prompt_tokens() const;  // all token ids when the layout is text only
};

// Parses `relative` (e.g. "text/text-f32-8.json") under the golden directory. Fails the test
// with a message when the file is missing or malformed.
GoldenCase load_case(const std::string& relative);

NpyArray load_npy_or_fail(const std::string& path);

// max |a - b| over rows [row0, row0 + rows) of b against a's rows [0, rows).
float max_abs_diff(const float* a, const float* b, size_t n);
int32_t argmax(const float* row, int64_t n);

// The Vulkan device, or nullptr after printing the line that makes ctest report the case as
// skipped (tests/CMakeLists.txt): the build has no Vulkan backend (NotFound) or the machine no
// Vulkan device (Unavailable). Any other failure fails the case.
std::unique_ptr<Device> vulkan_or_skip(const DeviceOptions& options = DeviceOptions{});

}  // namespace gemma12b::test
