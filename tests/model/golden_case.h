// Loads a golden case manifest (shared/golden/*/X.json, see its README) for the model tests.
#pragma once

#include <string>
#include <vector>

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

}  // namespace gemma12b::test
