// Gemma BPE tokenizer (the SentencePiece-derived BPE that HF tokenizers runs for Gemma 3/4 and
// llama.cpp runs as `tokenizer.ggml.model = gemma4`), loaded from GGUF metadata or an HF
// tokenizer.json. ref: huggingface/tokenizers tokenizers/src/models/bpe/{model.rs,word.rs};
// llama.cpp src/llama-vocab.cpp (llm_tokenizer_bpe_session, tokenizer_st_partition).
//
// Encoding, in order:
//   1. Added tokens (control and user-defined pieces) are cut out of the raw text as whole strings,
//      leftmost-longest (HF AddedVocabulary, aho-corasick LeftmostLongest). User-defined pieces
//      (HF `special: false`, e.g. "\n\n", "<unused0>") are always matched; control pieces (HF
//      `special: true`, e.g. "<bos>", "<|turn>") only when EncodeOptions::parse_special is set —
//      HF `split_special_tokens` and llama.cpp `parse_special` semantics.
//   2. Each remaining span is normalised (' ' -> U+2581 '▁'; no prefix space is added), split into
//      Unicode characters, and each character not in the vocabulary falls back to its UTF-8 bytes
//      as `<0xXX>` pieces. Bytes that are not valid UTF-8 are single-byte characters that are never
//      in the vocabulary, so they always become their `<0xXX>` piece (and decode back to the same
//      byte: decode(encode(x)) == x for any byte string x).
//   3. Adjacent symbols are merged by merge rank (lowest first, leftmost on ties) with a binary heap
//      over a linked list: O(n log n) per span, no quadratic rescans.
//   4. BOS is prepended when EncodeOptions::add_bos is set.
// Decoding maps '▁' back to ' ' and byte pieces to raw bytes; the result is exact bytes (invalid
// UTF-8 is passed through rather than replaced by U+FFFD as HF's ByteFallback decoder would).
//
// A Tokenizer is immutable after loading and safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace gemma12b {

class GgufFile;

// llama.cpp's token types (gguf `tokenizer.ggml.token_type`).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct EncodeOptions {
  bool add_bos = true;        // prepend the BOS id
  bool parse_special = true;  // match control-token strings ("<|turn>") in the text
};

class Tokenizer {
 public:
  // GGUF metadata: tokenizer.ggml.{model,tokens,token_type,merges,bos_token_id,...}.
  static StatusOr<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  // HF tokenizer.json text (model.type BPE; merges as "a b" strings or [a, b] pairs).
  static StatusOr<std::unique_ptr<Tokenizer>> from_hf_json(std::string_view json_text);
  // A .gguf file or a tokenizer.json, told apart by the GGUF magic.
  static StatusOr<std::unique_ptr<Tokenizer>> load(const std::string& path);
  ~Tokenizer();

  int32_t n_vocab() const;       // highest id + 1
  size_t n_merges() const;
  int32_t bos_id() const;        // -1 if the vocabulary has none
  int32_t eos_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;
  bool add_bos_default() const;  // what the file asks for (GGUF add_bos_token / HF post-processor)

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt = {}) const;
  // Exact UTF-8 (or the raw bytes the ids stand for). skip_control drops control tokens (<bos>...).
  std::string decode(std::span<const int32_t> ids, bool skip_control = false) const;
  // The bytes one token contributes to decode() ('▁' -> ' ', <0xXX> -> one byte). Empty if out of range.
  const std::string& token_bytes(int32_t id) const;

  // Vocabulary access. id_of() finds any piece (ordinary or special) by its exact string, so special
  // tokens are looked up by name ("<turn|>") rather than by a hard-coded id.
  std::optional<int32_t> id_of(std::string_view piece) const;
  const std::string& piece(int32_t id) const;  // empty string if out of range
  TokenType type(int32_t id) const;
  bool is_control(int32_t id) const { return type(id) == TokenType::kControl; }

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Incremental detokenizer for streaming output: push() returns the text that is complete so far and
// holds back the bytes of a UTF-8 character whose remaining bytes may still arrive in later tokens
// (byte-fallback pieces split one character over several tokens). Bytes that can no longer become a
// valid character are released as they are, so the concatenation of every push() plus flush() is
// exactly decode() of all ids.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool skip_control = false);
  std::string push(int32_t id);
  std::string flush();  // whatever is still held (an incomplete sequence at the end of the stream)

 private:
  const Tokenizer& tokenizer_;
  bool skip_control_;
  std::string pending_;
};

// Length of the longest prefix of `bytes` that does not end inside an incomplete-but-still-
// completable UTF-8 sequence.
size_t utf8_complete_prefix(std::string_view bytes);

}  // namespace gemma12b
