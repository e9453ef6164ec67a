// `gemma12b-cli generate --chat` and media input (--image/--audio/--video): one user turn run
// through the runtime's Session, the reply streamed with thoughts and tool calls marked.
#pragma once

#include <cstdint>

#include "args.h"
#include "core/dtype.h"
#include "model/model.h"
#include "runtime/sampler.h"

struct ChatRun {
  const gemma12b::Model& model;
  gemma12b::SamplingParams sampling;
  int64_t n_predict;
  int64_t n_ctx;
  gemma12b::DType kv_dtype;
  int64_t ubatch;  // 0: the session's choice
  double load_ms;
};

int run_chat(const Args& a, const ChatRun& run);
