// Shared by the C ABI's translation units: handle structs, error recording and the guard that
// keeps exceptions from crossing the boundary.
#pragma once

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "gemma12b.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/multimodal/embedders.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "util/log.h"
#include "util/status.h"

namespace gemma12b::capi {
struct LogTarget {
  gemma12b_log_fn fn;
  void* user_data;
};
// A LogSink that calls a C log callback (user_data: a LogTarget).
void forward_log(LogLevel level, std::string_view message, void* user_data);
}  // namespace gemma12b::capi

struct gemma12b_model {
  std::unique_ptr<gemma12b::Device> device;
  std::unique_ptr<gemma12b::Model> model;
  std::unique_ptr<gemma12b::Tokenizer> tokenizer;  // null when the files carry none
  std::unique_ptr<gemma12b::Embedders> embedders;  // null without a projector
  gemma12b::capi::LogTarget log{nullptr, nullptr};
  uint64_t fingerprint = 0;  // tags saved KV files
  // Routes this thread's log messages to the model's callback for the scope of a call.
  gemma12b::ScopedLogSink log_scope() const {
    return gemma12b::ScopedLogSink(log.fn ? &gemma12b::capi::forward_log : nullptr, const_cast<gemma12b::capi::LogTarget*>(&log));
  }
};

struct gemma12b_session {
  gemma12b_model* model = nullptr;
  std::unique_ptr<gemma12b::Session> session;
  // The last reply's parts as the reply_* queries return them; has_reply is false while a
  // step-wise reply is open, after a failed one and before the first.
  std::string content, reasoning, tool_calls_json = "[]";
  int64_t last_reused = 0;
  bool has_reply = false;
  gemma12b_stop_reason reason = GEMMA12B_STOP_MAX_TOKENS;
};

struct gemma12b_context {
  gemma12b_model* model = nullptr;
  gemma12b::KvCacheOptions kv_options;
  std::unique_ptr<gemma12b::KvCache> kv;
  std::unique_ptr<gemma12b::Decoder> decoder;
  gemma12b::DecodeOutput last;
};

namespace gemma12b::capi {
// The BUFFER_TOO_SMALL rule of the header: *out_n = size; copy when it fits (plus a NUL for
// strings when there is room).
gemma12b_status write_string(const std::string& s, char* out, size_t capacity, size_t* out_n);
// A tokenizer or fails with NOT_FOUND.
bool require_tokenizer(const gemma12b_model* m, const char* fn);
bool valid_utf8(const char* s, size_t n);

// Copies caller params over the defaults in *out (which init() filled). A caller built against an
// older header passes a smaller struct_size: its missing trailing fields keep their defaults.
template <typename Params>
bool read_params(const Params* in, Params* out) {
  if (in == nullptr) return true;
  if (in->struct_size < sizeof(size_t) || in->struct_size > sizeof(Params)) return false;
  std::memcpy(out, in, in->struct_size);
  out->struct_size = sizeof(Params);
  return true;
}

// Caller pixels (height x width x 3 bytes) / PCM as the runtime's types, after checking them;
// the length limit of audio is checked later by the runtime (one place, one message).
bool rgb_image_from(const uint8_t* rgb, int32_t width, int32_t height, const char* fn, RgbImage* out);
bool mono_audio_from(const float* samples, size_t n, int32_t sample_rate, const char* fn, MonoAudio* out);

// The file's sampling defaults (suppressed tokens) with the caller's values.
SamplingParams sampling_from(const gemma12b_generate_params& p, const Model& model);
}  // namespace gemma12b::capi

namespace gemma12b::capi {

// Records `s` as the thread's last error and returns its C status (GEMMA12B_OK when ok).
gemma12b_status fail(const Status& s);
gemma12b_status fail(gemma12b_status code, const std::string& message);
gemma12b_status ok();

}  // namespace gemma12b::capi

// Runs a body returning gemma12b_status; any exception becomes an error status.
#define GEMMA12B_CAPI_GUARD(body)                                                              \
  try {                                                                                        \
    body                                                                                       \
  } catch (const std::bad_alloc&) {                                                            \
    return ::gemma12b::capi::fail(GEMMA12B_ERR_OUT_OF_MEMORY, "out of memory");                \
  } catch (const std::exception& e) {                                                          \
    return ::gemma12b::capi::fail(GEMMA12B_ERR_INTERNAL, std::string("internal error: ") + e.what()); \
  } catch (...) {                                                                              \
    return ::gemma12b::capi::fail(GEMMA12B_ERR_INTERNAL, "internal error");                    \
  }

#define GEMMA12B_CHECK_ARG(cond, msg) \
  if (!(cond)) return ::gemma12b::capi::fail(GEMMA12B_ERR_INVALID_ARGUMENT, msg)
