// The session part of the C ABI: a chat of text and media parts over the runtime's Session.
#include <nlohmann/json.hpp>

#include "capi_internal.h"
#include "io/audio.h"

using gemma12b::capi::fail;
using gemma12b::capi::ok;
using gemma12b::capi::read_params;

namespace {

bool role_from(int32_t role, gemma12b::ChatRole* out) {
  switch (role) {
    case GEMMA12B_ROLE_SYSTEM: *out = gemma12b::ChatRole::kSystem; return true;
    case GEMMA12B_ROLE_USER: *out = gemma12b::ChatRole::kUser; return true;
    case GEMMA12B_ROLE_MODEL: *out = gemma12b::ChatRole::kModel; return true;
    default: return false;
  }
}

// Forgets the last reply's parts (a new reply starts, or the conversation is cleared).
void reset_reply(gemma12b_session* s) {
  s->content.clear();
  s->reasoning.clear();
  s->tool_calls_json = "[]";
  s->last_reused = 0;
  s->has_reply = false;
}

// Takes the runtime's last reply (it just joined the conversation) for the reply_* queries.
void take_reply(gemma12b_session* s) {
  const gemma12b::SessionReply& reply = s->session->last_reply();
  s->content = reply.parsed.content;
  s->reasoning = reply.parsed.reasoning;
  nlohmann::json calls = nlohmann::json::array();
  for (const auto& c : reply.parsed.tool_calls) {
    nlohmann::json args = nlohmann::json::parse(c.arguments_json, nullptr, false);
    calls.push_back({{"name", c.name}, {"arguments", args.is_discarded() ? nlohmann::json(c.arguments_json) : args}});
  }
  s->tool_calls_json = calls.dump();
  s->last_reused = reply.reused_rows;
  s->reason = static_cast<gemma12b_stop_reason>(reply.reason);
  s->has_reply = true;
}

// The caller's generate params (NULL: defaults) as sampling params and a token limit.
bool generate_params_from(const gemma12b_session* s, const gemma12b_generate_params* params, const char* fn,
                          gemma12b::SamplingParams* sp, int64_t* max_tokens) {
  gemma12b_generate_params p;
  gemma12b_generate_params_init(&p);
  if (!read_params(params, &p)) {
    fail(GEMMA12B_ERR_INVALID_ARGUMENT,
         std::string(fn) + ": params->struct_size is not set (use gemma12b_generate_params_init)");
    return false;
  }
  if (p.max_tokens <= 0) {
    fail(GEMMA12B_ERR_INVALID_ARGUMENT, std::string(fn) + ": max_tokens must be > 0");
    return false;
  }
  *sp = gemma12b::capi::sampling_from(p, *s->model->model);
  *max_tokens = p.max_tokens;
  return true;
}

#define SESSION_ROLE(fn)                                                                               \
  GEMMA12B_CHECK_ARG(s != nullptr, fn ": session is NULL");                                           \
  gemma12b::ChatRole r;                                                                                \
  GEMMA12B_CHECK_ARG(role_from(role, &r), fn ": role must be GEMMA12B_ROLE_SYSTEM, _USER or _MODEL"); \
  auto log_scope = s->model->log_scope();

}  // namespace

extern "C" {

void gemma12b_session_params_init(gemma12b_session_params* p) {
  if (p == nullptr) return;
  std::memset(p, 0, sizeof(*p));
  p->struct_size = sizeof(*p);
  const gemma12b::SessionOptions d;
  p->n_ctx = d.n_ctx;
  p->kv_type = GEMMA12B_KV_F16;
  p->image_tokens = d.media.image_tokens;
  p->video_frame_tokens = d.media.video_frame_tokens;
  p->video_fps = static_cast<float>(d.media.video_fps);
  p->video_max_frames = d.media.video_max_frames;
  p->video_audio = 0;
  p->max_audio_seconds = static_cast<float>(d.media.max_audio_seconds);
  p->enable_thinking = 0;
  p->tools_json = nullptr;
}

gemma12b_status gemma12b_session_create(gemma12b_model* model, const gemma12b_session_params* params,
                                        gemma12b_session** out_session) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && out_session != nullptr, "gemma12b_session_create: model and out_session must not be NULL");
    if (!gemma12b::capi::require_tokenizer(model, "gemma12b_session_create")) return GEMMA12B_ERR_NOT_FOUND;
    gemma12b_session_params p;
    gemma12b_session_params_init(&p);
    GEMMA12B_CHECK_ARG(read_params(params, &p), "gemma12b_session_create: params->struct_size is not set (use gemma12b_session_params_init)");
    gemma12b::SessionOptions o;
    o.n_ctx = p.n_ctx;
    switch (p.kv_type) {
      case GEMMA12B_KV_F16: o.kv_dtype = gemma12b::DType::kF16; break;
      case GEMMA12B_KV_F32: o.kv_dtype = gemma12b::DType::kF32; break;
      case GEMMA12B_KV_Q8_0: o.kv_dtype = gemma12b::DType::kQ8_0; break;
      default: return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_session_create: unknown kv_type");
    }
    o.media.image_tokens = p.image_tokens;
    o.media.video_frame_tokens = p.video_frame_tokens;
    o.media.video_fps = p.video_fps;
    o.media.video_max_frames = p.video_max_frames;
    o.media.video_audio = p.video_audio != 0;
    GEMMA12B_CHECK_ARG(p.max_audio_seconds > 0.0f, "gemma12b_session_create: max_audio_seconds must be > 0");
    o.media.max_audio_seconds = p.max_audio_seconds;
    o.enable_thinking = p.enable_thinking != 0;
    if (p.tools_json != nullptr) {
      const nlohmann::json tools = nlohmann::json::parse(p.tools_json, nullptr, false);
      GEMMA12B_CHECK_ARG(tools.is_array(), "gemma12b_session_create: tools_json is not a JSON array");
      for (const auto& t : tools) o.tools_json.push_back(t.dump());
    }
    auto log_scope = model->log_scope();
    auto session = gemma12b::Session::create(*model->model, *model->tokenizer, model->embedders.get(), o);
    if (!session.ok()) return fail(session.status());
    auto s = std::make_unique<gemma12b_session>();
    s->model = model;
    s->session = std::move(*session);
    *out_session = s.release();
    return ok();
  })
}

void gemma12b_session_free(gemma12b_session* s) { delete s; }

gemma12b_status gemma12b_session_add_text(gemma12b_session* s, int32_t role, const char* text) {
  GEMMA12B_CAPI_GUARD({
    SESSION_ROLE("gemma12b_session_add_text");
    GEMMA12B_CHECK_ARG(text != nullptr, "gemma12b_session_add_text: text is NULL");
    const size_t n = std::strlen(text);
    GEMMA12B_CHECK_ARG(gemma12b::capi::valid_utf8(text, n), "gemma12b_session_add_text: text is not valid UTF-8");
    return fail(s->session->add_text(r, std::string_view(text, n)));
  })
}

gemma12b_status gemma12b_session_add_image_file(gemma12b_session* s, int32_t role, const char* path) {
  GEMMA12B_CAPI_GUARD({
    SESSION_ROLE("gemma12b_session_add_image_file");
    GEMMA12B_CHECK_ARG(path != nullptr, "gemma12b_session_add_image_file: path is NULL");
    return fail(s->session->add_media_file(r, gemma12b::ChatPart::Kind::kImage, path));
  })
}

gemma12b_status gemma12b_session_add_image_rgb(gemma12b_session* s, int32_t role, const uint8_t* rgb, int32_t width,
                                               int32_t height) {
  GEMMA12B_CAPI_GUARD({
    SESSION_ROLE("gemma12b_session_add_image_rgb");
    gemma12b::RgbImage img;
    if (!gemma12b::capi::rgb_image_from(rgb, width, height, "gemma12b_session_add_image_rgb", &img)) {
      return GEMMA12B_ERR_INVALID_ARGUMENT;
    }
    return fail(s->session->add_image(r, img));
  })
}

gemma12b_status gemma12b_session_add_audio_file(gemma12b_session* s, int32_t role, const char* path) {
  GEMMA12B_CAPI_GUARD({
    SESSION_ROLE("gemma12b_session_add_audio_file");
    GEMMA12B_CHECK_ARG(path != nullptr, "gemma12b_session_add_audio_file: path is NULL");
    return fail(s->session->add_media_file(r, gemma12b::ChatPart::Kind::kAudio, path));
  })
}

gemma12b_status gemma12b_session_add_audio_pcm(gemma12b_session* s, int32_t role, const float* samples, size_t n,
                                               int32_t sample_rate) {
  GEMMA12B_CAPI_GUARD({
    SESSION_ROLE("gemma12b_session_add_audio_pcm");
    gemma12b::MonoAudio a;
    if (!gemma12b::capi::mono_audio_from(samples, n, sample_rate, "gemma12b_session_add_audio_pcm", &a)) {
      return GEMMA12B_ERR_INVALID_ARGUMENT;
    }
    return fail(s->session->add_audio(r, a));
  })
}

gemma12b_status gemma12b_session_add_video_file(gemma12b_session* s, int32_t role, const char* path) {
  GEMMA12B_CAPI_GUARD({
    SESSION_ROLE("gemma12b_session_add_video_file");
    GEMMA12B_CHECK_ARG(path != nullptr, "gemma12b_session_add_video_file: path is NULL");
    return fail(s->session->add_media_file(r, gemma12b::ChatPart::Kind::kVideo, path));
  })
}

gemma12b_status gemma12b_session_add_tool_response(gemma12b_session* s, const char* name, const char* response_json) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(s != nullptr && name != nullptr && response_json != nullptr,
                       "gemma12b_session_add_tool_response: NULL argument");
    return fail(s->session->add_tool_response(name, response_json));
  })
}

gemma12b_status gemma12b_session_generate(gemma12b_session* s, const gemma12b_generate_params* params,
                                          gemma12b_piece_fn on_piece, void* user_data, gemma12b_stop_reason* out_reason) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(s != nullptr, "gemma12b_session_generate: session is NULL");
    gemma12b::SamplingParams sp;
    int64_t max_tokens = 0;
    if (!generate_params_from(s, params, "gemma12b_session_generate", &sp, &max_tokens)) {
      return GEMMA12B_ERR_INVALID_ARGUMENT;
    }
    auto log_scope = s->model->log_scope();
    if (s->session->generating()) {  // the open reply keeps its state (reply_* stay empty)
      return fail(GEMMA12B_ERR_INVALID_ARGUMENT,
                  "gemma12b_session_generate: a step-wise reply is open (gemma12b_session_finish it first)");
    }
    reset_reply(s);
    gemma12b::PieceFn fn;
    if (on_piece != nullptr) {
      fn = [&](gemma12b::PieceKind kind, std::string_view text) {
        return on_piece(static_cast<int32_t>(kind), text.data(), text.size(), user_data) != 0;
      };
    }
    auto reply = s->session->generate(sp, max_tokens, fn);
    if (!reply.ok()) return fail(reply.status());
    take_reply(s);
    if (out_reason) *out_reason = s->reason;
    return ok();
  })
}

gemma12b_status gemma12b_session_begin(gemma12b_session* s, const gemma12b_generate_params* params) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(s != nullptr, "gemma12b_session_begin: session is NULL");
    gemma12b::SamplingParams sp;
    int64_t max_tokens = 0;
    if (!generate_params_from(s, params, "gemma12b_session_begin", &sp, &max_tokens)) {
      return GEMMA12B_ERR_INVALID_ARGUMENT;
    }
    auto log_scope = s->model->log_scope();
    if (s->session->generating()) {
      return fail(GEMMA12B_ERR_INVALID_ARGUMENT,
                  "gemma12b_session_begin: a reply is already open (take gemma12b_session_next_piece to "
                  "GEMMA12B_END or call gemma12b_session_finish)");
    }
    reset_reply(s);
    return fail(s->session->begin(sp, max_tokens));
  })
}

gemma12b_status gemma12b_session_next_piece(gemma12b_session* s, int32_t* out_kind, const char** out_text,
                                            size_t* out_len) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(s != nullptr && out_kind != nullptr && out_text != nullptr && out_len != nullptr,
                       "gemma12b_session_next_piece: NULL argument");
    if (!s->session->generating()) {
      return fail(GEMMA12B_ERR_INVALID_ARGUMENT,
                  "gemma12b_session_next_piece: no reply is open (call gemma12b_session_begin first)");
    }
    auto log_scope = s->model->log_scope();
    gemma12b::SessionPiece piece;
    auto more = s->session->next_piece(&piece);
    if (!more.ok()) return fail(more.status());
    if (!*more) {
      take_reply(s);
      ok();
      return GEMMA12B_END;
    }
    *out_kind = static_cast<int32_t>(piece.kind);
    *out_text = piece.text.data();
    *out_len = piece.text.size();
    return ok();
  })
}

gemma12b_status gemma12b_session_finish(gemma12b_session* s, gemma12b_stop_reason* out_reason) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(s != nullptr, "gemma12b_session_finish: session is NULL");
    auto log_scope = s->model->log_scope();
    if (s->session->generating()) {
      if (auto st = s->session->stop(); !st.ok()) return fail(st);
      take_reply(s);
    }
    if (!s->has_reply) {
      return fail(GEMMA12B_ERR_INVALID_ARGUMENT,
                  "gemma12b_session_finish: no reply to finish (none begun since the last clear, or it failed)");
    }
    if (out_reason) *out_reason = s->reason;
    return ok();
  })
}

const char* gemma12b_session_reply_content(const gemma12b_session* s) { return s ? s->content.c_str() : ""; }
const char* gemma12b_session_reply_reasoning(const gemma12b_session* s) { return s ? s->reasoning.c_str() : ""; }
const char* gemma12b_session_reply_tool_calls(const gemma12b_session* s) { return s ? s->tool_calls_json.c_str() : "[]"; }
int64_t gemma12b_session_n_rows(const gemma12b_session* s) { return s ? s->session->kv().n_past() : 0; }
int64_t gemma12b_session_reused_rows(const gemma12b_session* s) { return s ? s->last_reused : 0; }

gemma12b_status gemma12b_session_clear(gemma12b_session* s) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(s != nullptr, "gemma12b_session_clear: session is NULL");
    reset_reply(s);
    return fail(s->session->clear());
  })
}

}  // extern "C"
