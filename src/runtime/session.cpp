#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>

namespace gemma12b {

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

int32_t id_or(const Tokenizer& t, std::string_view piece) {
  auto id = t.id_of(piece);
  return id ? *id : -1;
}

// Splits the generated token stream into content, thought and tool-call pieces as it arrives:
// <|channel>NAME\n ... <channel|> is a thought, <|tool_call> ... <tool_call|> a tool call; the
// marker tokens themselves are not shown. Pieces queue up until taken.
class PieceRouter {
 public:
  explicit PieceRouter(const Tokenizer& t)
      : decoder_(t, /*skip_control=*/true),
        channel_open_(id_or(t, "<|channel>")),
        channel_close_(id_or(t, "<channel|>")),
        call_open_(id_or(t, "<|tool_call>")),
        call_close_(id_or(t, "<tool_call|>")) {}

  void push(int32_t id, bool is_stop) {
    if (is_stop) return flush();
    if (id >= 0 && (id == channel_open_ || id == channel_close_ || id == call_open_ || id == call_close_)) {
      flush();
      state_ = id == channel_open_ ? State::kThoughtHeader : id == call_open_ ? State::kToolCall : State::kContent;
      return;
    }
    emit(decoder_.push(id));
  }
  void flush() { emit(decoder_.flush()); }
  bool empty() const { return pending_.empty(); }
  // Moves the oldest queued piece to *kind / *text.
  void pop(PieceKind* kind, std::string* text) {
    *kind = pending_.front().first;
    *text = std::move(pending_.front().second);
    pending_.pop_front();
  }

 private:
  enum class State { kContent, kThoughtHeader, kThought, kToolCall };
  void emit(std::string text) {
    if (state_ == State::kThoughtHeader) {  // drop the channel name line ("thought\n")
      const size_t nl = text.find('\n');
      if (nl == std::string::npos) return;
      text.erase(0, nl + 1);
      state_ = State::kThought;
    }
    if (text.empty()) return;
    const PieceKind kind = state_ == State::kThought     ? PieceKind::kThought
                           : state_ == State::kToolCall ? PieceKind::kToolCall
                                                        : PieceKind::kContent;
    pending_.emplace_back(kind, std::move(text));
  }

  StreamingDecoder decoder_;
  int32_t channel_open_, channel_close_, call_open_, call_close_;
  State state_ = State::kContent;
  std::deque<std::pair<PieceKind, std::string>> pending_;
};

}  // namespace

// An open reply (between begin() and its end): the sampler, the token stream over the session's
// decoder and cache, and the router that turns tokens into pieces.
struct Session::Generation {
  explicit Generation(const Tokenizer& t) : router(t) {}
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<TokenStream> tokens;  // uses *sampler
  PieceRouter router;
  bool drained = false;  // the token stream ended and the router was flushed
  std::string piece;     // the text next_piece() handed out last
  SessionReply reply;
};

StatusOr<std::unique_ptr<Session>> Session::create(const Model& model, const Tokenizer& tokenizer,
                                                   Embedders* embedders, const SessionOptions& options) {
  const MediaOptions& mo = options.media;
  if (!valid_image_budget(mo.image_tokens)) {
    return InvalidArgument("session: image_tokens %d is not one of 70, 140, 280, 560, 1120", mo.image_tokens);
  }
  if (!valid_image_budget(mo.video_frame_tokens)) {
    return InvalidArgument("session: video_frame_tokens %d is not one of 70, 140, 280, 560, 1120",
                           mo.video_frame_tokens);
  }
  if (!(mo.video_fps > 0.0) || mo.video_fps > 60.0) return InvalidArgument("session: video_fps must be in (0, 60]");
  if (mo.video_max_frames <= 0) return InvalidArgument("session: video_max_frames must be > 0");
  if (options.n_ctx <= 0) return InvalidArgument("session: n_ctx must be > 0");
  if (options.max_ubatch < 0) return InvalidArgument("session: max_ubatch must be >= 0");
  if (embedders != nullptr && embedders->n_embd() != model.config().d_model) {
    return InvalidArgument("session: the projector makes rows of %d but the model's width is %d",
                           embedders->n_embd(), model.config().d_model);
  }
  std::unique_ptr<Session> s(new Session(model, tokenizer, embedders, options));
  int64_t ub = options.max_ubatch;
  if (ub == 0) {
    ub = 512;
    // Each image / frame must be one ubatch (its bidirectional block).
    if (embedders != nullptr) ub = std::max<int64_t>({ub, mo.image_tokens, mo.video_frame_tokens});
  }
  KvCacheOptions ko;
  ko.n_ctx = std::min<int64_t>(options.n_ctx, model.config().max_context);
  ko.max_ubatch = ub;
  ko.dtype = options.kv_dtype;
  G12_ASSIGN_OR_RETURN(s->kv_, KvCache::create(model.config(), model.device(), ko));
  G12_ASSIGN_OR_RETURN(s->decoder_, Decoder::create(model, ub));
  for (std::string_view stop : {"<eos>", "<turn|>", "<|tool_response>"}) {
    if (int32_t id = id_or(tokenizer, stop); id >= 0) s->stop_tokens_.push_back(id);
  }
  if (model.config().eos_id >= 0) s->stop_tokens_.push_back(model.config().eos_id);
  return s;
}

Session::Session(const Model& m, const Tokenizer& t, Embedders* e, const SessionOptions& o)
    : model_(m), tokenizer_(t), embedders_(e), options_(o) {}

Session::~Session() = default;

Status Session::embedders_ready() const {
  if (embedders_ == nullptr) {
    return InvalidArgument("session: no multimodal projector loaded (give an mmproj file) for media input");
  }
  return OkStatus();
}

Status Session::not_generating(const char* what) const {
  if (gen_ == nullptr) return OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "session: %s while a reply is being generated (take next_piece to the end, or stop it)", what));
}

Status Session::add_part(ChatRole role, ChatPart part, std::shared_ptr<EmbeddedMedia> media) {
  G12_RETURN_IF_ERROR(not_generating("cannot add to the conversation"));
  if (media && role != ChatRole::kUser) return InvalidArgument("session: media parts belong in user messages");
  if (role == ChatRole::kTool) return InvalidArgument("session: use add_tool_response for tool results");
  if (!last_message_open_ || history_.empty() || history_.back().role != role) {
    ChatMessage m;
    m.role = role;
    history_.push_back(std::move(m));
    last_message_open_ = true;
  }
  history_.back().content.push_back(std::move(part));
  if (media) media_.push_back(std::move(media));
  return OkStatus();
}

Status Session::add_text(ChatRole role, std::string_view text) {
  ChatPart p;
  p.kind = ChatPart::Kind::kText;
  p.text = std::string(text);
  return add_part(role, std::move(p), nullptr);
}

Status Session::add_image(ChatRole role, const RgbImage& image) {
  G12_RETURN_IF_ERROR(not_generating("cannot add to the conversation"));
  G12_RETURN_IF_ERROR(embedders_ready());
  G12_ASSIGN_OR_RETURN(EmbeddedMedia m, embed_image(*embedders_, image, options_.media.image_tokens));
  return add_part(role, ChatPart{ChatPart::Kind::kImage, {}}, std::make_shared<EmbeddedMedia>(std::move(m)));
}

Status Session::add_audio(ChatRole role, const MonoAudio& audio) {
  G12_RETURN_IF_ERROR(not_generating("cannot add to the conversation"));
  G12_RETURN_IF_ERROR(embedders_ready());
  G12_ASSIGN_OR_RETURN(EmbeddedMedia m, embed_audio(*embedders_, audio, options_.media.max_audio_seconds));
  return add_part(role, ChatPart{ChatPart::Kind::kAudio, {}}, std::make_shared<EmbeddedMedia>(std::move(m)));
}

Status Session::add_video(ChatRole role, const DecodedVideo& video) {
  G12_RETURN_IF_ERROR(not_generating("cannot add to the conversation"));
  G12_RETURN_IF_ERROR(embedders_ready());
  G12_ASSIGN_OR_RETURN(EmbeddedMedia m, embed_video(*embedders_, video, options_.media));
  return add_part(role, ChatPart{ChatPart::Kind::kVideo, {}}, std::make_shared<EmbeddedMedia>(std::move(m)));
}

Status Session::add_media_file(ChatRole role, ChatPart::Kind kind, const std::string& path) {
  if (kind == ChatPart::Kind::kText) return InvalidArgument("add_media_file: kind must be image, audio or video");
  G12_RETURN_IF_ERROR(not_generating("cannot add to the conversation"));
  G12_RETURN_IF_ERROR(embedders_ready());
  G12_ASSIGN_OR_RETURN(EmbeddedMedia m, embed_media_file(*embedders_, kind, path, options_.media));
  return add_part(role, ChatPart{kind, {}}, std::make_shared<EmbeddedMedia>(std::move(m)));
}

Status Session::add_tool_response(std::string name, std::string response_json) {
  G12_RETURN_IF_ERROR(not_generating("cannot add to the conversation"));
  const bool after_call = !history_.empty() && ((history_.back().role == ChatRole::kModel &&
                                                  !history_.back().tool_calls.empty()) ||
                                                 history_.back().role == ChatRole::kTool);
  if (!after_call) return InvalidArgument("session: a tool response needs a model reply that called a tool just before it");
  ToolResponse r;
  r.name = std::move(name);
  r.response_json = std::move(response_json);
  // Validate now so a bad JSON fails here, not at the next generate().
  G12_RETURN_IF_ERROR(json_to_gemma_value(r.response_json).status());
  if (history_.back().role != ChatRole::kTool) {
    ChatMessage m;
    m.role = ChatRole::kTool;
    history_.push_back(std::move(m));
  }
  history_.back().tool_responses.push_back(std::move(r));
  last_message_open_ = true;
  return OkStatus();
}

StatusOr<std::string> Session::render() const {
  ChatOptions co;
  co.add_bos = tokenizer_.bos_id() >= 0;
  co.add_generation_prompt = true;
  co.enable_thinking = options_.enable_thinking;
  co.tools_json = options_.tools_json;
  return render_chat(history_, co);
}

StatusOr<AssembledPrompt> Session::assemble() const {
  G12_ASSIGN_OR_RETURN(std::string text, render());
  std::vector<const EmbeddedMedia*> media;
  for (const auto& m : media_) media.push_back(m.get());
  return assemble_prompt(tokenizer_, text, media);
}

Status Session::clear() {
  gen_.reset();
  history_.clear();
  media_.clear();
  kv_keys_.clear();
  last_message_open_ = false;
  return kv_->clear();
}

Status Session::prefill(const AssembledPrompt& p, SessionReply* reply, std::vector<float>* logits) {
  const int64_t n = p.n_rows();
  if (n == 0) return InvalidArgument("session: the prompt is empty");
  if (n >= kv_->n_ctx()) {
    return InvalidArgument("session: the conversation is %d rows but the context holds %d (raise n_ctx or clear)", n,
                           kv_->n_ctx());
  }
  // Keep the longest prefix the cache already holds, cut only at a block boundary, and always
  // recompute at least the last row (its logits start the reply).
  int64_t keep = 0;
  const int64_t have = static_cast<int64_t>(kv_keys_.size());
  while (keep < have && keep < n && kv_keys_[keep] == p.row_keys[keep]) ++keep;
  if (keep == n) --keep;
  while (keep > 0 && p.block_start[keep] != keep) keep = p.block_start[keep];
  if (keep < have) {
    if (!kv_->truncate(keep).ok()) {  // the sliding ring no longer holds that far back
      G12_RETURN_IF_ERROR(kv_->clear());
      keep = 0;
    }
    kv_keys_.resize(keep);
  }
  reply->reused_rows = keep;
  // Decode the rest, segment by segment (each media block one call; only the last row's logits).
  int64_t row = 0;
  DecodeOutput out;
  for (size_t s = 0; s < p.segments.size(); ++s) {
    const PromptSegment& seg = p.segments[s];
    const int64_t rows = seg.n_rows();
    if (row + rows <= keep) {
      row += rows;
      continue;
    }
    const int64_t skip = keep > row ? keep - row : 0;  // media blocks are never split (skip = 0)
    DecodeInput in;
    if (seg.media) {
      in.embeddings = std::span<const float>(seg.media->rows);
      in.bidirectional = seg.media->bidirectional;
    } else {
      in.tokens = std::span<const int32_t>(seg.tokens).subspan(static_cast<size_t>(skip));
    }
    Status st = decoder_->decode(*kv_, in, &out);
    if (!st.ok()) {
      kv_keys_.assign(p.row_keys.begin(), p.row_keys.begin() + kv_->n_past());
      return st;
    }
    row += rows;
  }
  kv_keys_ = p.row_keys;
  *logits = std::move(out.logits);
  return OkStatus();
}

Status Session::begin(const SamplingParams& sampling, int64_t max_tokens) {
  G12_RETURN_IF_ERROR(not_generating("begin"));
  if (max_tokens <= 0) return InvalidArgument("session: max_tokens must be > 0");
  if (history_.empty()) return InvalidArgument("session: the conversation is empty (add a message first)");
  G12_ASSIGN_OR_RETURN(AssembledPrompt p, assemble());
  auto g = std::make_unique<Generation>(tokenizer_);
  g->reply.prompt_rows = p.n_rows();
  G12_ASSIGN_OR_RETURN(g->sampler, Sampler::create(sampling, model_.config().n_vocab));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits;
  G12_RETURN_IF_ERROR(prefill(p, &g->reply, &logits));
  g->reply.prefill_ms = ms_since(t0);
  for (const PromptSegment& seg : p.segments) {
    for (int32_t t : seg.tokens) g->sampler->accept(t);
  }
  GenerateParams gp;
  gp.max_tokens = std::min<int64_t>(max_tokens, kv_->n_ctx() - kv_->n_past());
  gp.stop_tokens = stop_tokens_;
  g->tokens = std::make_unique<TokenStream>(*decoder_, *kv_, *g->sampler, std::move(logits), std::move(gp));
  gen_ = std::move(g);
  return OkStatus();
}

void Session::record_generated_keys() {
  // Whatever was decoded stays in the cache: the prompt, then the generated tokens but the last.
  const int64_t prompt_rows = gen_->reply.prompt_rows;
  const std::vector<int32_t>& tokens = gen_->tokens->tokens();
  for (int64_t i = static_cast<int64_t>(kv_keys_.size()); i < kv_->n_past(); ++i) {
    const int64_t g = i - prompt_rows;
    kv_keys_.push_back(g >= 0 && g < static_cast<int64_t>(tokens.size()) ? static_cast<uint32_t>(tokens[g]) : ~0ull);
  }
}

StatusOr<bool> Session::next_piece(SessionPiece* piece) {
  if (gen_ == nullptr) return absl::FailedPreconditionError("session: next_piece without an open reply (call begin first)");
  Generation& g = *gen_;
  while (g.router.empty()) {
    if (g.drained) {
      G12_RETURN_IF_ERROR(finish_reply());
      return false;
    }
    int32_t id = 0;
    StatusOr<bool> more = g.tokens->next(&id);
    if (!more.ok()) {  // the reply is dropped; the cache keeps what was decoded
      record_generated_keys();
      gen_.reset();
      return more.status();
    }
    if (*more) {
      const bool stop = std::find(stop_tokens_.begin(), stop_tokens_.end(), id) != stop_tokens_.end();
      g.router.push(id, stop);  // a stop token flushes the router
    } else {
      if (g.tokens->reason() != StopReason::kStopToken) g.router.flush();
      g.drained = true;
    }
  }
  PieceKind kind = PieceKind::kContent;
  g.router.pop(&kind, &g.piece);
  piece->kind = kind;
  piece->text = g.piece;
  return true;
}

Status Session::stop() {
  if (gen_ == nullptr) return absl::FailedPreconditionError("session: stop without an open reply");
  gen_->tokens->cancel();  // pieces still queued are dropped, as a callback's cancel drops them
  return finish_reply();
}

Status Session::finish_reply() {
  record_generated_keys();
  std::unique_ptr<Generation> g = std::move(gen_);  // the reply is closed whatever happens below
  SessionReply& reply = g->reply;
  reply.tokens = g->tokens->tokens();
  reply.reason = g->tokens->reason();
  reply.decode_ms = g->tokens->decode_ms();
  reply.raw = tokenizer_.decode(reply.tokens);
  G12_ASSIGN_OR_RETURN(reply.parsed, parse_model_reply(reply.raw));
  // The reply joins the history (a model message; the next part starts a new message).
  ChatMessage m;
  m.role = ChatRole::kModel;
  if (!reply.parsed.content.empty()) m.content.push_back(ChatPart{ChatPart::Kind::kText, reply.parsed.content});
  m.reasoning = reply.parsed.reasoning;
  m.tool_calls = reply.parsed.tool_calls;
  history_.push_back(std::move(m));
  last_message_open_ = false;
  last_reply_ = std::move(reply);
  return OkStatus();
}

StatusOr<SessionReply> Session::generate(const SamplingParams& sampling, int64_t max_tokens, const PieceFn& on_piece) {
  G12_RETURN_IF_ERROR(begin(sampling, max_tokens));
  SessionPiece piece;
  while (true) {
    G12_ASSIGN_OR_RETURN(bool more, next_piece(&piece));
    if (!more) break;
    if (on_piece && !on_piece(piece.kind, piece.text)) {
      G12_RETURN_IF_ERROR(stop());
      break;
    }
  }
  return last_reply_;
}

}  // namespace gemma12b
