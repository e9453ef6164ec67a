// Prompt assembly (spec MODEL.md 2.4, 3, 4): the chat text with one placeholder per media item
// (`<|image|>`, `<|audio|>`, `<|video|>`, as the chat template emits them) is expanded the way
// the HF processor does it, before tokenization (so the text around the media tokenizes exactly
// as in the reference), then tokenized once; every run of soft tokens is replaced by the rows of
// the matching media block. Soft-token ids are looked up by string in the vocabulary.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "runtime/media_input.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace gemma12b {

// One decode call's worth of prompt: text tokens, or the rows of one media block.
struct PromptSegment {
  std::vector<int32_t> tokens;
  const MediaBlock* media = nullptr;  // points into the EmbeddedMedia given to assemble_prompt
  int64_t n_rows() const { return media ? media->n_rows : static_cast<int64_t>(tokens.size()); }
};

struct AssembledPrompt {
  std::vector<PromptSegment> segments;
  // One key per row, equal for equal rows: the token id for text rows, a hash of (block content,
  // row index) for media rows. A session compares keys to reuse what its KV cache holds.
  std::vector<uint64_t> row_keys;
  // Per row: the first row of its bidirectional block (rows outside blocks: their own index).
  // A KV cache may only be cut at a row r with block_start[r] == r.
  std::vector<int64_t> block_start;
  // The prompt as token ids with every media row shown as its soft-token id (for display/tests).
  std::vector<int32_t> display_tokens;
  int64_t n_rows() const { return static_cast<int64_t>(row_keys.size()); }
};

// `text`: the rendered chat (special tokens as strings, "<bos>" included if wanted; tokenized
// with parse_special and no extra BOS). `media`: the items in the order their placeholders appear.
StatusOr<AssembledPrompt> assemble_prompt(const Tokenizer& tokenizer, std::string_view text,
                                          std::span<const EmbeddedMedia* const> media);

}  // namespace gemma12b
