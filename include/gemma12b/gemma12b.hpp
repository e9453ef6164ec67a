// gemma12b C++ API: header-only, move-only RAII classes over the C ABI (gemma12b.h).
// Results are expected-style: Result<T> holds a value or an Error {status, message}; nothing
// throws unless GEMMA12B_CPP_EXCEPTIONS is defined (then value() on an error throws).
//
//   auto model = gemma12b::Model::load("tiny-gemma4.gguf").value();
//   auto ctx = model.context({.n_ctx = 2048}).value();
//   for (int32_t tok : ctx.generate(prompt, {.temperature = 0.0f, .max_tokens = 32}).value().tokens) ...
//
//   auto chat = model.session().value();
//   chat.add_text(gemma12b::Role::kUser, "Hello");  // returns a Status to check
//   auto reply = chat.stream({.max_tokens = 64});
//   for (const gemma12b::Piece& p : reply) std::cout << p.text;
//   if (!reply.ok()) std::cerr << reply.error().message;
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
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
// Versioned inline namespace: users write gemma12b::Model; the mangled names carry v0, so they
// never collide with the library's internal gemma12b:: classes in a static link.
inline namespace v0 {

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

// kAuto is the CPU backend; kVulkan a Vulkan GPU (lavapipe where there is none; see gemma12b.h).
enum class Backend {
  kAuto = GEMMA12B_BACKEND_AUTO,
  kCpu = GEMMA12B_BACKEND_CPU,
  kReference = GEMMA12B_BACKEND_REFERENCE,
  kVulkan = GEMMA12B_BACKEND_VULKAN
};
enum class KvType { kF16 = GEMMA12B_KV_F16, kF32 = GEMMA12B_KV_F32, kQ8_0 = GEMMA12B_KV_Q8_0 };
enum class StopReason { kStopToken = GEMMA12B_STOP_TOKEN, kMaxTokens = GEMMA12B_STOP_MAX_TOKENS,
                        kContextFull = GEMMA12B_STOP_CONTEXT_FULL, kCancelled = GEMMA12B_STOP_CANCELLED };

struct ModelOptions {
  Backend backend = Backend::kAuto;
  int32_t n_threads = 0;
  std::function<bool(float)> progress;  // return false to cancel loading
  std::string mmproj;  // "" = text only; a projector path; "auto" = found next to the model
  // GPU backends: device index; -1 = the first discrete GPU (GEMMA12B_VULKAN_DEVICE overrides it).
  int32_t device_index = -1;
  // CPU: read q4_0 matrices (and q8_0, q4_k ones on AVX2) in the file's layout (instant load) instead of
  // copying them once into the faster x16 layout (a few seconds for the 12B; same resident memory).
  bool cpu_file_layout = false;
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

enum class Role { kSystem = GEMMA12B_ROLE_SYSTEM, kUser = GEMMA12B_ROLE_USER, kModel = GEMMA12B_ROLE_MODEL };
enum class PieceKind { kContent = GEMMA12B_PIECE_CONTENT, kThought = GEMMA12B_PIECE_THOUGHT,
                       kToolCall = GEMMA12B_PIECE_TOOL_CALL };

struct SessionOptions {
  int64_t n_ctx = 4096;
  KvType kv_type = KvType::kF16;
  int32_t image_tokens = 280;
  int32_t video_frame_tokens = 70;
  float video_fps = 1.0f;
  int32_t video_max_frames = 32;
  bool video_audio = false;
  float max_audio_seconds = 30.0f;
  bool enable_thinking = false;
  std::string tools_json;  // "" or a JSON array of tool declarations
};

struct Reply {
  std::string content, reasoning;
  std::string tool_calls_json = "[]";  // [{"name": ..., "arguments": {...}}]
  StopReason reason = StopReason::kMaxTokens;
};

// A piece of a streamed reply. `text` (UTF-8, never half a character) belongs to the session and
// is valid until the stream moves on.
struct Piece {
  PieceKind kind = PieceKind::kContent;
  std::string_view text;
};

// Options of Model::embed_video (the C gemma12b_video_params).
struct VideoOptions {
  float fps = 1.0f;           // frames sampled per second, in (0, 60]
  int32_t max_frames = 32;    // spread evenly over longer videos
  int32_t frame_tokens = 70;  // per frame: 70, 140, 280, 560 or 1120
  bool with_audio = false;    // also the audio track (when the file has one)
  float max_audio_seconds = 30.0f;
};

// One block of an embedded video: a frame (bidirectional) or the audio track (causal).
struct VideoBlock {
  bool audio = false;
  double t_seconds = 0.0;  // a frame's timestamp
  int64_t first_row = 0, n_rows = 0;
};

struct VideoEmbedding {
  int32_t n_embd = 0;
  std::vector<float> rows;  // every block's rows in order, n_embd floats each
  std::vector<VideoBlock> blocks;
  std::span<const float> rows_of(const VideoBlock& b) const {
    return std::span<const float>(rows).subspan(static_cast<size_t>(b.first_row) * static_cast<size_t>(n_embd),
                                                static_cast<size_t>(b.n_rows) * static_cast<size_t>(n_embd));
  }
};

namespace detail {
// The sampling fields of GenerateOptions as C params (stop tokens and callbacks not included).
inline gemma12b_generate_params to_params(const GenerateOptions& o) {
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
  return p;
}
}  // namespace detail

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
  Status save(const std::string& path) const { return detail::check(gemma12b_kv_save(ctx_, path.c_str())); }
  Status load(const std::string& path) { return detail::check(gemma12b_kv_load(ctx_, path.c_str())); }
  // Multimodal rows (from Model::embed_*), framed by the caller with the marker tokens.
  Result<std::vector<float>> decode_embeddings(std::span<const float> rows, int64_t n_rows, bool bidirectional) {
    if (auto s = detail::check(gemma12b_decode_embeddings(ctx_, rows.data(), static_cast<size_t>(n_rows),
                                                          bidirectional ? 1 : 0, 0));
        !s) {
      return s.error();
    }
    const float* logits = nullptr;
    int64_t n = 0;
    if (auto s = detail::check(gemma12b_context_logits(ctx_, &logits, &n)); !s) return s.error();
    return std::vector<float>(logits, logits + n * n_vocab_);
  }
  // Final-normed hidden state of the last decode's output rows.
  Result<std::span<const float>> hidden() const {
    const float* h = nullptr;
    int64_t n = 0;
    if (auto s = detail::check(gemma12b_context_hidden(ctx_, &h, &n)); !s) return s.error();
    return std::span<const float>(h, static_cast<size_t>(n) * static_cast<size_t>(n_embd_));
  }

  Result<Generation> generate(std::span<const int32_t> prompt, const GenerateOptions& o = {}) {
    gemma12b_generate_params p = detail::to_params(o);
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
  Context(gemma12b_context* c, int32_t n_vocab, int32_t n_embd) : ctx_(c), n_vocab_(n_vocab), n_embd_(n_embd) {}
  gemma12b_context* ctx_;
  int32_t n_vocab_, n_embd_;
};

// A reply generated step by step (gemma12b_session_begin / _next_piece / _finish): a move-only
// input range of pieces. Nothing throws: an error ends the loop and is kept for ok() / error().
//
//   auto stream = session.stream({.temperature = 0.0f, .max_tokens = 64});
//   for (const gemma12b::Piece& p : stream) ...
//   auto reply = stream.finish();  // Result<Reply>: the error, or the parts and the stop reason
//
// Leaving the loop early and calling finish() (or destroying the stream) stops generating there:
// the reply so far joins the conversation with StopReason::kCancelled. The Session must outlive
// the stream; while the stream is open the conversation cannot change (add_*, generate and
// another stream fail with GEMMA12B_ERR_INVALID_ARGUMENT).
class ReplyStream {
 public:
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = Piece;
    using difference_type = std::ptrdiff_t;
    using reference = const Piece&;
    using pointer = const Piece*;
    iterator() = default;
    reference operator*() const { return s_->piece_; }
    pointer operator->() const { return &s_->piece_; }
    iterator& operator++() {
      s_->advance();
      return *this;
    }
    void operator++(int) { s_->advance(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.at_end(); }

   private:
    friend class ReplyStream;
    explicit iterator(ReplyStream* s) : s_(s) {}
    bool at_end() const { return s_ == nullptr || !s_->has_piece_; }
    ReplyStream* s_ = nullptr;
  };

  ReplyStream(ReplyStream&& o) noexcept { *this = std::move(o); }
  ReplyStream& operator=(ReplyStream&& o) noexcept {
    if (this != &o) {
      close();
      s_ = std::exchange(o.s_, nullptr);
      open_ = std::exchange(o.open_, false);
      started_ = o.started_;
      has_piece_ = std::exchange(o.has_piece_, false);
      failed_ = o.failed_;
      piece_ = o.piece_;
      error_ = std::move(o.error_);
    }
    return *this;
  }
  ReplyStream(const ReplyStream&) = delete;
  ReplyStream& operator=(const ReplyStream&) = delete;
  ~ReplyStream() { close(); }

  // The first call generates the first piece; the range is single-pass.
  iterator begin() {
    if (!started_) {
      started_ = true;
      advance();
    }
    return iterator(this);
  }
  std::default_sentinel_t end() const { return {}; }

  // False once starting or generating failed (error() says why); true while running and after a
  // complete reply.
  bool ok() const { return !failed_; }
  const Error& error() const { return error_; }
  Status status() const {
    if (failed_) return error_;
    return Ok{};
  }

  // Closes the reply (stopping it if the loop left early) and returns it; the error instead when
  // the stream failed.
  Result<Reply> finish() {
    if (failed_) return error_;
    if (s_ == nullptr) return Error{GEMMA12B_ERR_INVALID_ARGUMENT, "ReplyStream::finish: the stream was moved from"};
    gemma12b_stop_reason reason = GEMMA12B_STOP_MAX_TOKENS;
    open_ = false;
    has_piece_ = false;
    if (gemma12b_status st = gemma12b_session_finish(s_, &reason); st != GEMMA12B_OK) return detail::last_error(st);
    Reply r;
    r.content = gemma12b_session_reply_content(s_);
    r.reasoning = gemma12b_session_reply_reasoning(s_);
    r.tool_calls_json = gemma12b_session_reply_tool_calls(s_);
    r.reason = static_cast<StopReason>(reason);
    return r;
  }

 private:
  friend class Session;
  ReplyStream(gemma12b_session* s, gemma12b_status begun) : s_(s), open_(begun == GEMMA12B_OK) {
    if (begun != GEMMA12B_OK) {
      failed_ = true;
      error_ = detail::last_error(begun);
    }
  }
  void advance() {
    has_piece_ = false;
    if (!open_) return;
    int32_t kind = 0;
    const char* text = nullptr;
    size_t len = 0;
    const gemma12b_status st = gemma12b_session_next_piece(s_, &kind, &text, &len);
    if (st == GEMMA12B_OK) {
      piece_ = Piece{static_cast<PieceKind>(kind), std::string_view(text, len)};
      has_piece_ = true;
      return;
    }
    open_ = false;  // GEMMA12B_END and errors both close the reply
    if (st != GEMMA12B_END) {
      failed_ = true;
      error_ = detail::last_error(st);
    }
  }
  void close() {
    if (open_) gemma12b_session_finish(s_, nullptr);
    open_ = false;
  }

  gemma12b_session* s_ = nullptr;
  bool open_ = false;  // begun and not yet at the end, failed or finished
  bool started_ = false;
  bool has_piece_ = false;
  bool failed_ = false;
  Piece piece_;
  Error error_{GEMMA12B_OK, ""};
};

// A chat: role-tagged text and media parts in, the model's reply streamed out. Move-only; one
// thread at a time.
class Session {
 public:
  Session(Session&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Session& operator=(Session&& o) noexcept {
    if (this != &o) {
      gemma12b_session_free(s_);
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { gemma12b_session_free(s_); }

  Status add_text(Role r, const std::string& text) {
    return detail::check(gemma12b_session_add_text(s_, static_cast<int32_t>(r), text.c_str()));
  }
  Status add_image(const std::string& path, Role r = Role::kUser) {
    return detail::check(gemma12b_session_add_image_file(s_, static_cast<int32_t>(r), path.c_str()));
  }
  Status add_image_rgb(std::span<const uint8_t> rgb, int32_t width, int32_t height, Role r = Role::kUser) {
    if (rgb.size() != static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
      return Error{GEMMA12B_ERR_INVALID_ARGUMENT, "add_image_rgb: rgb.size() != width * height * 3"};
    }
    return detail::check(gemma12b_session_add_image_rgb(s_, static_cast<int32_t>(r), rgb.data(), width, height));
  }
  Status add_audio(const std::string& path, Role r = Role::kUser) {
    return detail::check(gemma12b_session_add_audio_file(s_, static_cast<int32_t>(r), path.c_str()));
  }
  Status add_audio_pcm(std::span<const float> samples, int32_t sample_rate, Role r = Role::kUser) {
    return detail::check(
        gemma12b_session_add_audio_pcm(s_, static_cast<int32_t>(r), samples.data(), samples.size(), sample_rate));
  }
  Status add_video(const std::string& path, Role r = Role::kUser) {
    return detail::check(gemma12b_session_add_video_file(s_, static_cast<int32_t>(r), path.c_str()));
  }
  Status add_tool_response(const std::string& name, const std::string& response_json) {
    return detail::check(gemma12b_session_add_tool_response(s_, name.c_str(), response_json.c_str()));
  }
  Status clear() { return detail::check(gemma12b_session_clear(s_)); }
  int64_t n_rows() const { return gemma12b_session_n_rows(s_); }
  int64_t reused_rows() const { return gemma12b_session_reused_rows(s_); }

  // Generates the reply; on_piece (optional) sees it stream, and may return false to stop.
  // o.stop_tokens and o.on_token are not used (a session stops at the chat's end-of-turn).
  Result<Reply> generate(const GenerateOptions& o = {},
                         const std::function<bool(PieceKind, std::string_view)>& on_piece = {}) {
    gemma12b_generate_params p = detail::to_params(o);
    using Fn = std::function<bool(PieceKind, std::string_view)>;
    auto thunk = [](int32_t kind, const char* text, size_t len, void* fn) -> int {
      return (*static_cast<const Fn*>(fn))(static_cast<PieceKind>(kind), std::string_view(text, len)) ? 1 : 0;
    };
    gemma12b_stop_reason reason = GEMMA12B_STOP_MAX_TOKENS;
    if (auto s = detail::check(gemma12b_session_generate(s_, &p, on_piece ? +thunk : nullptr,
                                                         const_cast<Fn*>(&on_piece), &reason));
        !s) {
      return s.error();
    }
    Reply r;
    r.content = gemma12b_session_reply_content(s_);
    r.reasoning = gemma12b_session_reply_reasoning(s_);
    r.tool_calls_json = gemma12b_session_reply_tool_calls(s_);
    r.reason = static_cast<StopReason>(reason);
    return r;
  }

  // The reply as a range of pieces, pulled one at a time (see ReplyStream). o.stop_tokens and
  // o.on_token are not used. A failure to start shows in the stream's ok() / error().
  ReplyStream stream(const GenerateOptions& o = {}) {
    const gemma12b_generate_params p = detail::to_params(o);
    return ReplyStream(s_, gemma12b_session_begin(s_, &p));
  }

  gemma12b_session* handle() const { return s_; }

 private:
  friend class Model;
  explicit Session(gemma12b_session* s) : s_(s) {}
  gemma12b_session* s_;
};

// A loaded model (immutable, shareable across threads). Move-only.
class Model {
 public:
  static Result<Model> load(const std::string& path, const ModelOptions& o = {}) {
    gemma12b_model_params p;
    gemma12b_model_params_init(&p);
    p.backend = static_cast<int32_t>(o.backend);
    p.n_threads = o.n_threads;
    p.mmproj = o.mmproj.empty() ? nullptr : o.mmproj.c_str();
    p.device_index = o.device_index;
    p.cpu_file_layout = o.cpu_file_layout ? 1 : 0;
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
    return Context(c, n_vocab(), n_embd());
  }

  Result<Session> session(const SessionOptions& o = {}) {
    gemma12b_session_params p;
    gemma12b_session_params_init(&p);
    p.n_ctx = o.n_ctx;
    p.kv_type = static_cast<int32_t>(o.kv_type);
    p.image_tokens = o.image_tokens;
    p.video_frame_tokens = o.video_frame_tokens;
    p.video_fps = o.video_fps;
    p.video_max_frames = o.video_max_frames;
    p.video_audio = o.video_audio ? 1 : 0;
    p.max_audio_seconds = o.max_audio_seconds;
    p.enable_thinking = o.enable_thinking ? 1 : 0;
    p.tools_json = o.tools_json.empty() ? nullptr : o.tools_json.c_str();
    gemma12b_session* s = nullptr;
    if (auto st = detail::check(gemma12b_session_create(m_, &p, &s)); !st) return st.error();
    return Session(s);
  }

  // ---- tokenizer ----
  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos = true, bool parse_special = false) const {
    const int32_t flags = (add_bos ? GEMMA12B_TOKENIZE_ADD_BOS : 0) | (parse_special ? GEMMA12B_TOKENIZE_PARSE_SPECIAL : 0);
    size_t n = 0;
    gemma12b_status st = gemma12b_tokenize(m_, text.data(), text.size(), flags, nullptr, 0, &n);
    if (st != GEMMA12B_OK && st != GEMMA12B_ERR_BUFFER_TOO_SMALL) return detail::last_error(st);
    std::vector<int32_t> ids(n);
    if (auto s = detail::check(gemma12b_tokenize(m_, text.data(), text.size(), flags, ids.data(), ids.size(), &n)); !s) {
      return s.error();
    }
    return ids;
  }
  Result<std::string> detokenize(std::span<const int32_t> ids, bool skip_special = false) const {
    size_t n = 0;
    gemma12b_status st = gemma12b_detokenize(m_, ids.data(), ids.size(), skip_special, nullptr, 0, &n);
    if (st != GEMMA12B_OK && st != GEMMA12B_ERR_BUFFER_TOO_SMALL) return detail::last_error(st);
    std::string text(n, '\0');
    if (auto s = detail::check(gemma12b_detokenize(m_, ids.data(), ids.size(), skip_special, text.data(), n, &n)); !s) {
      return s.error();
    }
    return text;
  }
  Result<int32_t> token_id(const std::string& piece) const {
    int32_t id = -1;
    if (auto s = detail::check(gemma12b_token_id(m_, piece.c_str(), &id)); !s) return s.error();
    return id;
  }

  // ---- embedders: rows for Context::decode_embeddings ----
  Result<std::vector<float>> embed_image(const std::string& path, int32_t image_tokens = 280) const {
    return embed([&](float* out, size_t cap, int64_t* rows) {
      return gemma12b_embed_image_file(m_, path.c_str(), image_tokens, out, cap, rows);
    });
  }
  Result<std::vector<float>> embed_audio(const std::string& path, float max_seconds = 30.0f) const {
    return embed([&](float* out, size_t cap, int64_t* rows) {
      return gemma12b_embed_audio_file(m_, path.c_str(), max_seconds, out, cap, rows);
    });
  }

  // A video's frames (and optionally its audio track) as rows, with the block layout and frame
  // timestamps (gemma12b_embed_video_file).
  Result<VideoEmbedding> embed_video(const std::string& path, const VideoOptions& o = {}) const {
    gemma12b_video_params p;
    gemma12b_video_params_init(&p);
    p.fps = o.fps;
    p.max_frames = o.max_frames;
    p.frame_tokens = o.frame_tokens;
    p.with_audio = o.with_audio ? 1 : 0;
    p.max_audio_seconds = o.max_audio_seconds;
    VideoEmbedding v;
    v.n_embd = n_embd();
    const size_t embd = static_cast<size_t>(v.n_embd);
    // Buffers of the header's bound take the video in one call (one decode); past 64 Mi floats,
    // or with options the call refuses anyway, ask for the size first.
    size_t rows_cap = 0, blocks_cap = 0;
    if (o.max_frames > 0 && o.max_frames <= 4096 && o.frame_tokens > 0 && o.frame_tokens <= 1120 &&
        o.max_audio_seconds > 0.0f && o.max_audio_seconds <= 3600.0f && embd > 0) {
      const size_t bound = static_cast<size_t>(o.max_frames) * static_cast<size_t>(o.frame_tokens) +
                           (o.with_audio ? static_cast<size_t>(25.0f * o.max_audio_seconds) + 1 : 0);
      if (bound * embd <= (size_t{64} << 20)) {
        rows_cap = bound;
        blocks_cap = static_cast<size_t>(o.max_frames) + 1;
      }
    }
    std::vector<gemma12b_video_block> blocks;
    for (int attempt = 0; attempt < 2; ++attempt) {
      v.rows.resize(rows_cap * embd);
      blocks.resize(blocks_cap);
      int64_t rows = 0;
      size_t n_blocks = 0;
      const gemma12b_status st = gemma12b_embed_video_file(m_, path.c_str(), &p, v.rows.data(), v.rows.size(), &rows,
                                                           blocks.data(), blocks.size(), &n_blocks);
      if (st == GEMMA12B_ERR_BUFFER_TOO_SMALL && attempt == 0) {
        rows_cap = static_cast<size_t>(rows);
        blocks_cap = n_blocks;
        continue;
      }
      if (st != GEMMA12B_OK) return detail::last_error(st);
      v.rows.resize(static_cast<size_t>(rows) * embd);
      v.rows.shrink_to_fit();
      for (size_t i = 0; i < n_blocks; ++i) {
        v.blocks.push_back(VideoBlock{blocks[i].kind == GEMMA12B_VIDEO_BLOCK_AUDIO, blocks[i].t_seconds,
                                      blocks[i].first_row, blocks[i].n_rows});
      }
      return v;
    }
    return Error{GEMMA12B_ERR_INTERNAL, "embed_video: the video's size changed between two calls"};
  }

  gemma12b_model* handle() const { return m_; }

 private:
  explicit Model(gemma12b_model* m) : m_(m) {}
  template <typename Call>
  Result<std::vector<float>> embed(const Call& call) const {
    int64_t rows = 0;
    gemma12b_status st = call(nullptr, 0, &rows);
    if (st != GEMMA12B_OK && st != GEMMA12B_ERR_BUFFER_TOO_SMALL) return detail::last_error(st);
    std::vector<float> out(static_cast<size_t>(rows) * static_cast<size_t>(n_embd()));
    if (auto s = detail::check(call(out.data(), out.size(), &rows)); !s) return s.error();
    return out;
  }
  gemma12b_model* m_;
};

inline std::string_view version() { return gemma12b_version(); }

}  // namespace v0
}  // namespace gemma12b
