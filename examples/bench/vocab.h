// A synthetic 262,144-entry Gemma 4 vocabulary for the bench's synthetic GGUF: the real special
// tokens at their spec ids (MODEL.md 5.2), byte-fallback pieces <0x00>..<0xFF>, whitespace runs,
// single characters, then seeded filler pieces each built by one BPE merge of two earlier pieces
// (so the merge list is consistent and every piece is reachable). Not the real Gemma pieces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemma12b::bench {

// llama.cpp token types (gguf tokenizer.ggml.token_type).
enum : int32_t { kTokNormal = 1, kTokUnknown = 2, kTokControl = 3, kTokUserDefined = 4, kTokByte = 6 };

struct SyntheticVocab {
  std::vector<std::string> tokens;  // [n], all distinct
  std::vector<float> scores;        // [n]
  std::vector<int32_t> types;       // [n]
  std::vector<std::string> merges;  // "left right", in rank order
};

SyntheticVocab make_gemma4_vocab(int64_t n_vocab, uint64_t seed);

}  // namespace gemma12b::bench
