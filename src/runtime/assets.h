// Finding the files that go with a model: its tokenizer (inside the GGUF, or tokenizer.json next
// to an HF checkpoint) and its multimodal projector (an mmproj GGUF next to the model, or the HF
// checkpoint itself when it holds the embedders).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace gemma12b {

StatusOr<std::unique_ptr<Tokenizer>> load_model_tokenizer(const Model& model);

// The projector to use for `model` when none is named: for a GGUF, a file next to it whose name
// contains "mmproj" and ends in .gguf (the one sharing the longest name prefix with the model if
// several); for an HF checkpoint, its own directory. nullopt when there is none.
std::optional<std::string> find_mmproj(const Model& model);

}  // namespace gemma12b
