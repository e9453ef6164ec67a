// gemma12b C++ API: header-only, move-only RAII classes over the C ABI (gemma12b.h).
// Results are expected-style: Result<T> holds a value or an Error {status, message}; nothing
// throws unless GEMMA12B_CPP_EXCEPTIONS is defined (then value() on an error throws).
//
//   auto model = gemma12b::Model::load("tiny-gemma4.gguf").value();
//   auto ctx = model.context({.n_ctx = 2048}).value();
//   for (int32_t tok : ctx.generate(prompt, {.temperature = 0.0f, .max_tokens = 32}).value().tokens) ...
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "gemma12b.h"

#if defined(GEMMA12B_CPP_EXCEPTIONS)
#include <stdexcept>
#endif

namespace gemma12b {

struct Error {
  gemma12b_status status = GEMMA12B_ERR_INTERNAL;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // The value; calling it on an error is a programming error (throws with exceptions enabled,
  // otherwise terminates).
  T& value() & { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (ok()) return;
#if defined(GEMMA12B_CPP_EXCEPTIONS)
    throw std::runtime_error(std::get<1>(v_).message);
#else
    std::terminate();
#endif
  }
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

namespace detail {
inline Error last_error(gemma12b_status s) { return Error{s, gemma12b_last_error()}; }
inline Status check(gemma12b_status s) {
  if (s == GEMMA12B_OK) return Ok{};
  return last_error(s);
}
}  // namespace detail

enum class Backend { kAuto = GEMMA12B_BACKEND_AUTO, kCpu = GEMMA12B_BACKEND_CPU, kReference = GEMMA12B_BACKEND_REFERENCE };
enum class KvType { kF16 = GEMMA12B_KV_F16, kF32 = GEMMA12B_KV_F32, kQ8_0 = GEMMA12B_KV_Q8_0 };
enum class StopReason { kStopToken = GEMMA12B_STOP_TOKEN, kMaxTokens = GEMMA12B_STOP_MAX_TOKENS,
                        kContextFull = GEMMA12B_STOP_CONTEXT_FULL, kCancelled = GEMMA12B_STOP_CANCELLED };

struct ModelOptions {
  Backend backend = Backend::kAuto;
  int32_t n_threads = 0;
  std::function<bool(float)> progress;  // return false to cancel loading
};

struct ContextOptions {
  int64_t n_ctx = 4096;
  int32_t max_ubatch = 512;
  KvType kv_type = KvType::kF16;
};

struct GenerateOptions {
  float temperature = 1.0f;
  int32_t top_k = 64;
  float top_p = 0.95f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
  int64_t max_tokens = 256;
  std::vector<int32_t> stop_tokens;      // empty: the file's stop tokens
  std::function<bool(int32_t)> on_token;  // streaming; return false to stop
};

struct Generation {
  std::vector<int32_t> tokens;
  StopReason reason = StopReason::kMaxTokens;
};

class Model;

// One sequence: KV cache + decoder state. Move-only.
class Context {
 public:
  Context(Context&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)), n_vocab_(o.n_vocab_) {}
  Context& operator=(Context&& o) noexcept {
    if (this != &o) {
      gemma12b_context_free(ctx_);
      ctx_ = std::exchange(o.ctx_, nullptr);
      n_vocab_ = o.n_vocab_;
    }
    return *this;
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() { gemma12b_context_free(ctx_); }

  int64_t n_past() const { return gemma12b_context_n_past(ctx_); }
  int64_t n_ctx() const { return gemma12b_context_n_ctx(ctx_); }

  // Appends tokens; returns the logits of every row (all_logits) or of the last, row-major.
  Result<std::vector<float>> decode(std::span<const int32_t> tokens, bool all_logits = false) {
    if (auto s = detail::check(gemma12b_decode_tokens(ctx_, tokens.data(), tokens.size(), all_logits)); !s) return s.error();
    const float* p = nullptr;
    int64_t rows = 0;
    if (auto s = detail::check(gemma12b_context_logits(ctx_, &p, &rows)); !s) return s.error();
    return std::vector<float>(p, p + rows * n_vocab_);
  }
  Status clear() { return detail::check(gemma12b_kv_clear(ctx_)); }
  Status truncate(int64_t n_keep) { return detail::check(gemma12b_kv_truncate(ctx_, n_keep)); }
  Status copy_from(const Context& other) { return detail::check(gemma12b_kv_copy(ctx_, other.ctx_)); }

  Result<Generation> generate(std::span<const int32_t> prompt, const GenerateOptions& o = {}) {
    gemma12b_generate_params p;
    gemma12b_generate_params_init(&p);
    p.temperature = o.temperature;
    p.top_k = o.top_k;
    p.top_p = o.top_p;
    p.min_p = o.min_p;
    p.repetition_penalty = o.repetition_penalty;
    p.presence_penalty = o.presence_penalty;
    p.frequency_penalty = o.frequency_penalty;
    p.seed = o.seed;
    p.max_tokens = o.max_tokens;
    if (!o.stop_tokens.empty()) {
      p.stop_tokens = o.stop_tokens.data();
      p.n_stop_tokens = o.stop_tokens.size();
    }
    Generation g;
    struct Thunk {
      Generation* g;
      const std::function<bool(int32_t)>* fn;
      static int call(int32_t tok, void* self) {
        auto* t = static_cast<Thunk*>(self);
        t->g->tokens.push_back(tok);
        return !*t->fn || (*t->fn)(tok) ? 1 : 0;
      }
    } thunk{&g, &o.on_token};
    gemma12b_stop_reason reason = GEMMA12B_STOP_MAX_TOKENS;
    if (auto s = detail::check(gemma12b_generate(ctx_, prompt.data(), prompt.size(), &p, &Thunk::call, &thunk,
                                                 nullptr, 0, nullptr, &reason));
        !s) {
      return s.error();
    }
    g.reason = static_cast<StopReason>(reason);
    return g;
  }

  gemma12b_context* handle() const { return ctx_; }

 private:
  friend class Model;
  Context(gemma12b_context* c, int32_t n_vocab) : ctx_(c), n_vocab_(n_vocab) {}
  gemma12b_context* ctx_;
  int32_t n_vocab_;
};

// A loaded model (immutable, shareable across threads). Move-only.
class Model {
 public:
  static Result<Model> load(const std::string& path, const ModelOptions& o = {}) {
    gemma12b_model_params p;
    gemma12b_model_params_init(&p);
    p.backend = static_cast<int32_t>(o.backend);
    p.n_threads = o.n_threads;
    if (o.progress) {
      p.progress = [](float f, void* fn) { return (*static_cast<const std::function<bool(float)>*>(fn))(f) ? 1 : 0; };
      p.progress_user_data = const_cast<std::function<bool(float)>*>(&o.progress);
    }
    gemma12b_model* m = nullptr;
    if (auto s = detail::check(gemma12b_model_load(path.c_str(), &p, &m)); !s) return s.error();
    return Model(m);
  }
  Model(Model&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Model& operator=(Model&& o) noexcept {
    if (this != &o) {
      gemma12b_model_free(m_);
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  ~Model() { gemma12b_model_free(m_); }

  int32_t n_vocab() const { return gemma12b_model_n_vocab(m_); }
  int32_t n_embd() const { return gemma12b_model_n_embd(m_); }
  int32_t n_layers() const { return gemma12b_model_n_layers(m_); }
  int32_t bos() const { return gemma12b_model_bos(m_); }
  int32_t eos() const { return gemma12b_model_eos(m_); }

  Result<Context> context(const ContextOptions& o = {}) {
    gemma12b_context_params p;
    gemma12b_context_params_init(&p);
    p.n_ctx = o.n_ctx;
    p.max_ubatch = o.max_ubatch;
    p.kv_type = static_cast<int32_t>(o.kv_type);
    gemma12b_context* c = nullptr;
    if (auto s = detail::check(gemma12b_context_create(m_, &p, &c)); !s) return s.error();
    return Context(c, n_vocab());
  }

  gemma12b_model* handle() const { return m_; }

 private:
  explicit Model(gemma12b_model* m) : m_(m) {}
  gemma12b_model* m_;
};

inline std::string_view version() { return gemma12b_version(); }

}  // namespace gemma12b
