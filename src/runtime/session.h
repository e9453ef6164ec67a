// A chat session: a conversation of role-tagged parts (text, image, audio, video) kept as
// history, rendered with the Gemma 4 chat format, assembled into token and media rows, and run
// through one KV cache. Each generate() re-renders the whole conversation exactly as the chat
// template would (earlier thoughts stripped) and decodes only the rows that differ from what the
// cache already holds, so multi-turn use costs what llama.cpp's prompt cache costs while staying
// exact to the template. Replies stream as pieces tagged content / thought / tool call.
//
// A Session is used by one thread at a time; the Model, Tokenizer and Embedders it uses may be
// shared with other sessions (the embedders are used only inside add_* calls).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/multimodal/embedders.h"
#include "runtime/generate.h"
#include "runtime/media_input.h"
#include "runtime/prompt.h"
#include "runtime/sampler.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace gemma12b {

struct SessionOptions {
  int64_t n_ctx = 4096;
  DType kv_dtype = DType::kF16;
  int64_t max_ubatch = 0;       // 0: 512, raised to the largest media block the options allow
  MediaOptions media;
  bool enable_thinking = false;  // <|think|> in the system turn
  std::vector<std::string> tools_json;  // tool declarations (see ChatOptions)
};

enum class PieceKind { kContent, kThought, kToolCall };

// A piece of the reply as it streams; return false to stop generating.
using PieceFn = std::function<bool(PieceKind kind, std::string_view text)>;

// A piece from Session::next_piece; `text` (UTF-8, never half a character) is owned by the
// session and valid until its next call.
struct SessionPiece {
  PieceKind kind = PieceKind::kContent;
  std::string_view text;
};

struct SessionReply {
  std::string raw;          // the generated text with special tokens rendered
  ParsedReply parsed;       // content, reasoning, tool calls
  std::vector<int32_t> tokens;
  StopReason reason = StopReason::kMaxTokens;
  int64_t prompt_rows = 0;   // rows of the whole rendered conversation
  int64_t reused_rows = 0;   // of them, already in the KV cache
  double prefill_ms = 0.0, decode_ms = 0.0;
};

class Session {
 public:
  // `embedders` may be null (text only); all three must outlive the session.
  static StatusOr<std::unique_ptr<Session>> create(const Model& model, const Tokenizer& tokenizer,
                                                   Embedders* embedders, const SessionOptions& options);
  ~Session();

  // Parts are appended to the last message if it has the same role and no reply came after it,
  // otherwise they start a new message. Media parts are embedded here (errors surface here, and
  // the session is unchanged by a failed call); media are accepted in user messages only.
  Status add_text(ChatRole role, std::string_view text);
  Status add_image(ChatRole role, const RgbImage& image);
  Status add_audio(ChatRole role, const MonoAudio& audio);  // any sample rate
  Status add_video(ChatRole role, const DecodedVideo& video);
  Status add_media_file(ChatRole role, ChatPart::Kind kind, const std::string& path);
  // A tool's result after the model called it (generation then continues in the same turn).
  Status add_tool_response(std::string name, std::string response_json);

  // Renders, prefills what is new and generates the model's reply, which joins the history
  // (begin + next_piece until the end; on_piece returning false is stop()).
  StatusOr<SessionReply> generate(const SamplingParams& sampling, int64_t max_tokens, const PieceFn& on_piece = {});

  // Step-wise generation, the machinery generate() runs on. begin() renders the conversation,
  // prefills what the cache lacks and opens the reply; next_piece() generates until the next
  // piece of text (true) or the end of the reply (false: the reply joined the history and
  // last_reply() holds it); stop() ends an open reply early: what was generated joins the history
  // with reason kCancelled, as when a piece callback returns false. While a reply is open the
  // conversation cannot change (add_*, begin, generate fail with FailedPrecondition); clear()
  // drops it. An error from next_piece() closes the reply without adding it to the history.
  Status begin(const SamplingParams& sampling, int64_t max_tokens);
  StatusOr<bool> next_piece(SessionPiece* piece);
  Status stop();
  bool generating() const { return gen_ != nullptr; }
  // The last reply that joined the history (empty before the first).
  const SessionReply& last_reply() const { return last_reply_; }

  // The prompt generate() would run now (assembled with the generation prompt).
  StatusOr<AssembledPrompt> assemble() const;
  StatusOr<std::string> render() const;

  const std::vector<ChatMessage>& history() const { return history_; }
  const SessionOptions& options() const { return options_; }
  KvCache& kv() { return *kv_; }
  // Forgets the conversation and the cache.
  Status clear();

 private:
  Session(const Model& m, const Tokenizer& t, Embedders* e, const SessionOptions& o);
  Status add_part(ChatRole role, ChatPart part, std::shared_ptr<EmbeddedMedia> media);
  Status embedders_ready() const;
  Status prefill(const AssembledPrompt& p, SessionReply* reply, std::vector<float>* logits);
  Status not_generating(const char* what) const;
  void record_generated_keys();
  Status finish_reply();

  struct Generation;  // an open reply: sampler, token stream, piece router (session.cpp)

  const Model& model_;
  const Tokenizer& tokenizer_;
  Embedders* embedders_;
  SessionOptions options_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<ChatMessage> history_;
  std::vector<std::shared_ptr<EmbeddedMedia>> media_;  // in placeholder order
  bool last_message_open_ = false;                     // parts may still join history_.back()
  std::vector<uint64_t> kv_keys_;                      // row keys of what kv_ holds
  std::vector<int32_t> stop_tokens_;
  std::unique_ptr<Generation> gen_;  // non-null between begin() and the end of the reply
  SessionReply last_reply_;
};

}  // namespace gemma12b
