// Tokenizer, chat formatting and the media embedders of the C ABI.
#include <nlohmann/json.hpp>

#include "capi_internal.h"
#include "io/audio.h"
#include "io/image.h"
#include "model/multimodal/preprocess.h"
#include "runtime/generate.h"
#include "runtime/media_input.h"
#include "tokenizer/chat_format.h"

using gemma12b::capi::fail;
using gemma12b::capi::ok;

namespace gemma12b::capi {

gemma12b_status write_string(const std::string& s, char* out, size_t capacity, size_t* out_n) {
  *out_n = s.size();
  if (capacity < s.size()) {
    return fail(GEMMA12B_ERR_BUFFER_TOO_SMALL, "output needs " + std::to_string(s.size()) + " bytes, capacity is " +
                                                   std::to_string(capacity));
  }
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  if (capacity > s.size()) out[s.size()] = '\0';
  return ok();
}

bool require_tokenizer(const gemma12b_model* m, const char* fn) {
  if (m->tokenizer) return true;
  fail(GEMMA12B_ERR_NOT_FOUND, std::string(fn) + ": the model has no tokenizer");
  return false;
}

bool valid_utf8(const char* s, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

bool rgb_image_from(const uint8_t* rgb, int32_t width, int32_t height, const char* fn, RgbImage* out) {
  if (rgb == nullptr || width <= 0 || height <= 0 || int64_t{width} * height > kMaxImagePixels) {
    fail(GEMMA12B_ERR_INVALID_ARGUMENT, std::string(fn) + ": rgb must be non-NULL and width and height positive "
                                                          "(and the image not absurdly large)");
    return false;
  }
  out->width = width;
  out->height = height;
  out->pixels.assign(rgb, rgb + static_cast<size_t>(width) * height * 3);
  return true;
}

bool mono_audio_from(const float* samples, size_t n, int32_t sample_rate, const char* fn, MonoAudio* out) {
  if (samples == nullptr || n == 0) {
    fail(GEMMA12B_ERR_INVALID_ARGUMENT, std::string(fn) + ": empty audio (0 samples)");
    return false;
  }
  if (sample_rate < 1000 || sample_rate > 768000) {
    fail(GEMMA12B_ERR_INVALID_ARGUMENT, std::string(fn) + ": sample_rate outside [1000, 768000]");
    return false;
  }
  out->sample_rate = sample_rate;
  out->samples.assign(samples, samples + n);
  return true;
}

SamplingParams sampling_from(const gemma12b_generate_params& p, const Model& model) {
  SamplingParams sp = default_sampling(model);
  sp.temperature = p.temperature;
  sp.top_k = p.top_k;
  sp.top_p = p.top_p;
  sp.min_p = p.min_p;
  sp.repetition_penalty = p.repetition_penalty;
  sp.presence_penalty = p.presence_penalty;
  sp.frequency_penalty = p.frequency_penalty;
  sp.penalty_last_n = p.penalty_last_n;
  sp.seed = p.seed;
  return sp;
}

}  // namespace gemma12b::capi

namespace {

using gemma12b::capi::require_tokenizer;
using gemma12b::capi::valid_utf8;
using gemma12b::capi::write_string;
using nlohmann::json;

gemma12b::StatusOr<gemma12b::ChatMessage> message_from_json(const json& j) {
  using gemma12b::ChatPart;
  if (!j.is_object() || !j.contains("role") || !j["role"].is_string()) {
    return gemma12b::InvalidArgument("chat: each message needs a \"role\" string");
  }
  gemma12b::ChatMessage m;
  G12_ASSIGN_OR_RETURN(m.role, gemma12b::chat_role_from_name(j["role"].get<std::string>()));
  if (j.contains("content")) {
    const json& c = j["content"];
    if (c.is_string()) {
      m.content.push_back(ChatPart{ChatPart::Kind::kText, c.get<std::string>()});
    } else if (c.is_array()) {
      for (const json& part : c) {
        const std::string type = part.is_object() ? part.value("type", "") : "";
        if (type == "text") {
          m.content.push_back(ChatPart{ChatPart::Kind::kText, part.value("text", "")});
        } else if (type == "image" || type == "image_url") {
          m.content.push_back(ChatPart{ChatPart::Kind::kImage, {}});
        } else if (type == "audio" || type == "input_audio") {
          m.content.push_back(ChatPart{ChatPart::Kind::kAudio, {}});
        } else if (type == "video") {
          m.content.push_back(ChatPart{ChatPart::Kind::kVideo, {}});
        } else {
          return gemma12b::InvalidArgument("chat: unknown content part type '%s'", type);
        }
      }
    } else if (!c.is_null()) {
      return gemma12b::InvalidArgument("chat: \"content\" must be a string or an array of parts");
    }
  }
  if (j.contains("reasoning") && j["reasoning"].is_string()) m.reasoning = j["reasoning"].get<std::string>();
  if (j.contains("tool_calls") && j["tool_calls"].is_array()) {
    for (const json& tc : j["tool_calls"]) {
      const json& f = tc.contains("function") ? tc["function"] : tc;
      if (!f.is_object() || !f.contains("name") || !f["name"].is_string()) {
        return gemma12b::InvalidArgument("chat: a tool call needs a \"name\"");
      }
      gemma12b::ToolCall call;
      call.name = f["name"].get<std::string>();
      if (f.contains("arguments")) {
        const json& a = f["arguments"];
        call.arguments_json = a.is_string() ? a.get<std::string>() : a.dump();
      }
      m.tool_calls.push_back(std::move(call));
    }
  }
  if (j.contains("tool_responses") && j["tool_responses"].is_array()) {
    for (const json& r : j["tool_responses"]) {
      if (!r.is_object() || !r.contains("name") || !r["name"].is_string()) {
        return gemma12b::InvalidArgument("chat: a tool response needs a \"name\"");
      }
      m.tool_responses.push_back(gemma12b::ToolResponse{r["name"].get<std::string>(),
                                                        r.contains("response") ? r["response"].dump() : "{}"});
    }
  }
  return m;
}

// Rows of an embedded item into the caller's buffer (BUFFER_TOO_SMALL rule, size in rows).
gemma12b_status write_rows(const gemma12b::StatusOr<gemma12b::EmbeddedMedia>& m, int64_t n_embd, float* out,
                           size_t capacity, int64_t* out_rows) {
  if (!m.ok()) return fail(m.status());
  const int64_t rows = m->n_rows();
  *out_rows = rows;
  if (capacity < static_cast<size_t>(rows * n_embd)) {
    return fail(GEMMA12B_ERR_BUFFER_TOO_SMALL, "output needs " + std::to_string(rows) + " rows of " +
                                                   std::to_string(n_embd) + " floats");
  }
  size_t off = 0;
  for (const auto& b : m->blocks) {
    std::memcpy(out + off, b.rows.data(), b.rows.size() * sizeof(float));
    off += b.rows.size();
  }
  return ok();
}

bool require_embedders(const gemma12b_model* m, const char* fn) {
  if (m->embedders) return true;
  fail(GEMMA12B_ERR_INVALID_ARGUMENT, std::string(fn) + ": the model was loaded without a projector (set params.mmproj)");
  return false;
}

int budget_or_default(int32_t b) { return b == 0 ? 280 : b; }
double seconds_or_default(float s) { return s == 0.0f ? 30.0 : static_cast<double>(s); }

}  // namespace

extern "C" {

gemma12b_status gemma12b_tokenize(const gemma12b_model* model, const char* text, size_t len, int32_t flags,
                                  int32_t* out_tokens, size_t capacity, size_t* out_n) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && (text != nullptr || len == 0) && out_n != nullptr &&
                           (out_tokens != nullptr || capacity == 0),
                       "gemma12b_tokenize: NULL argument");
    GEMMA12B_CHECK_ARG((flags & ~3) == 0, "gemma12b_tokenize: unknown flags");
    if (!require_tokenizer(model, "gemma12b_tokenize")) return GEMMA12B_ERR_NOT_FOUND;
    GEMMA12B_CHECK_ARG(valid_utf8(text, len), "gemma12b_tokenize: text is not valid UTF-8");
    gemma12b::EncodeOptions eo;
    eo.add_bos = (flags & GEMMA12B_TOKENIZE_ADD_BOS) != 0;
    eo.parse_special = (flags & GEMMA12B_TOKENIZE_PARSE_SPECIAL) != 0;
    const std::vector<int32_t> ids = model->tokenizer->encode(std::string_view(text ? text : "", len), eo);
    *out_n = ids.size();
    if (capacity < ids.size()) {
      return fail(GEMMA12B_ERR_BUFFER_TOO_SMALL, "gemma12b_tokenize: needs " + std::to_string(ids.size()) + " tokens");
    }
    std::copy(ids.begin(), ids.end(), out_tokens);
    return ok();
  })
}

gemma12b_status gemma12b_detokenize(const gemma12b_model* model, const int32_t* tokens, size_t n, int32_t skip_special,
                                    char* out_text, size_t capacity, size_t* out_n) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && (tokens != nullptr || n == 0) && out_n != nullptr &&
                           (out_text != nullptr || capacity == 0),
                       "gemma12b_detokenize: NULL argument");
    if (!require_tokenizer(model, "gemma12b_detokenize")) return GEMMA12B_ERR_NOT_FOUND;
    const int32_t V = model->tokenizer->n_vocab();
    for (size_t i = 0; i < n; ++i) {
      if (tokens[i] < 0 || tokens[i] >= V) {
        return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_detokenize: token " + std::to_string(tokens[i]) +
                                                       " outside the vocabulary of " + std::to_string(V));
      }
    }
    const std::string text = model->tokenizer->decode(std::span<const int32_t>(tokens, n), skip_special != 0);
    return write_string(text, out_text, capacity, out_n);
  })
}

gemma12b_status gemma12b_token_id(const gemma12b_model* model, const char* piece, int32_t* out_id) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && piece != nullptr && out_id != nullptr, "gemma12b_token_id: NULL argument");
    if (!require_tokenizer(model, "gemma12b_token_id")) return GEMMA12B_ERR_NOT_FOUND;
    auto id = model->tokenizer->id_of(piece);
    if (!id) return fail(GEMMA12B_ERR_NOT_FOUND, std::string("gemma12b_token_id: no piece '") + piece + "' in the vocabulary");
    *out_id = *id;
    return ok();
  })
}

gemma12b_status gemma12b_chat_format(const gemma12b_model* model, const char* messages_json, const char* tools_json,
                                     int32_t flags, char* out_text, size_t capacity, size_t* out_n) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && messages_json != nullptr && out_n != nullptr &&
                           (out_text != nullptr || capacity == 0),
                       "gemma12b_chat_format: NULL argument");
    GEMMA12B_CHECK_ARG((flags & ~3) == 0, "gemma12b_chat_format: unknown flags");
    const json msgs = json::parse(messages_json, nullptr, /*allow_exceptions=*/false);
    GEMMA12B_CHECK_ARG(msgs.is_array(), "gemma12b_chat_format: messages_json is not a JSON array");
    std::vector<gemma12b::ChatMessage> messages;
    for (const json& j : msgs) {
      auto m = message_from_json(j);
      if (!m.ok()) return fail(m.status());
      messages.push_back(std::move(*m));
    }
    gemma12b::ChatOptions co;
    co.add_bos = !model->tokenizer || model->tokenizer->bos_id() >= 0;
    co.add_generation_prompt = (flags & GEMMA12B_CHAT_ADD_GENERATION_PROMPT) != 0;
    co.enable_thinking = (flags & GEMMA12B_CHAT_ENABLE_THINKING) != 0;
    if (tools_json != nullptr) {
      const json tools = json::parse(tools_json, nullptr, false);
      GEMMA12B_CHECK_ARG(tools.is_array(), "gemma12b_chat_format: tools_json is not a JSON array");
      for (const json& t : tools) co.tools_json.push_back(t.dump());
    }
    auto text = gemma12b::render_chat(messages, co);
    if (!text.ok()) return fail(text.status());
    return write_string(*text, out_text, capacity, out_n);
  })
}

gemma12b_status gemma12b_embed_image_file(const gemma12b_model* model, const char* path, int32_t image_tokens,
                                          float* out, size_t capacity, int64_t* out_rows) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && path != nullptr && out_rows != nullptr && (out != nullptr || capacity == 0),
                       "gemma12b_embed_image_file: NULL argument");
    if (!require_embedders(model, "gemma12b_embed_image_file")) return GEMMA12B_ERR_INVALID_ARGUMENT;
    auto scope = model->log_scope();
    gemma12b::MediaOptions mo;
    mo.image_tokens = budget_or_default(image_tokens);
    return write_rows(gemma12b::embed_media_file(*model->embedders, gemma12b::ChatPart::Kind::kImage, path, mo),
                      model->model->config().d_model, out, capacity, out_rows);
  })
}

gemma12b_status gemma12b_embed_image_rgb(const gemma12b_model* model, const uint8_t* rgb, int32_t width, int32_t height,
                                         int32_t image_tokens, float* out, size_t capacity, int64_t* out_rows) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && out_rows != nullptr && (out != nullptr || capacity == 0),
                       "gemma12b_embed_image_rgb: NULL argument");
    if (!require_embedders(model, "gemma12b_embed_image_rgb")) return GEMMA12B_ERR_INVALID_ARGUMENT;
    gemma12b::RgbImage img;
    if (!gemma12b::capi::rgb_image_from(rgb, width, height, "gemma12b_embed_image_rgb", &img)) {
      return GEMMA12B_ERR_INVALID_ARGUMENT;
    }
    return write_rows(gemma12b::embed_image(*model->embedders, img, budget_or_default(image_tokens)),
                      model->model->config().d_model, out, capacity, out_rows);
  })
}

gemma12b_status gemma12b_embed_audio_file(const gemma12b_model* model, const char* path, float max_seconds, float* out,
                                          size_t capacity, int64_t* out_rows) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && path != nullptr && out_rows != nullptr && (out != nullptr || capacity == 0),
                       "gemma12b_embed_audio_file: NULL argument");
    GEMMA12B_CHECK_ARG(max_seconds >= 0.0f, "gemma12b_embed_audio_file: max_seconds must be >= 0");
    if (!require_embedders(model, "gemma12b_embed_audio_file")) return GEMMA12B_ERR_INVALID_ARGUMENT;
    gemma12b::MediaOptions mo;
    mo.max_audio_seconds = seconds_or_default(max_seconds);
    return write_rows(gemma12b::embed_media_file(*model->embedders, gemma12b::ChatPart::Kind::kAudio, path, mo),
                      model->model->config().d_model, out, capacity, out_rows);
  })
}

gemma12b_status gemma12b_embed_audio_pcm(const gemma12b_model* model, const float* samples, size_t n,
                                         int32_t sample_rate, float max_seconds, float* out, size_t capacity,
                                         int64_t* out_rows) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && out_rows != nullptr && (out != nullptr || capacity == 0),
                       "gemma12b_embed_audio_pcm: NULL argument");
    GEMMA12B_CHECK_ARG(max_seconds >= 0.0f, "gemma12b_embed_audio_pcm: max_seconds must be >= 0");
    if (!require_embedders(model, "gemma12b_embed_audio_pcm")) return GEMMA12B_ERR_INVALID_ARGUMENT;
    gemma12b::MonoAudio a;
    if (!gemma12b::capi::mono_audio_from(samples, n, sample_rate, "gemma12b_embed_audio_pcm", &a)) {
      return GEMMA12B_ERR_INVALID_ARGUMENT;
    }
    return write_rows(gemma12b::embed_audio(*model->embedders, a, seconds_or_default(max_seconds)),
                      model->model->config().d_model, out, capacity, out_rows);
  })
}

void gemma12b_video_params_init(gemma12b_video_params* p) {
  if (p == nullptr) return;
  std::memset(p, 0, sizeof(*p));
  p->struct_size = sizeof(*p);
  const gemma12b::MediaOptions d;
  p->fps = static_cast<float>(d.video_fps);
  p->max_frames = d.video_max_frames;
  p->frame_tokens = d.video_frame_tokens;
  p->with_audio = d.video_audio ? 1 : 0;
  p->max_audio_seconds = static_cast<float>(d.max_audio_seconds);
}

gemma12b_status gemma12b_embed_video_file(const gemma12b_model* model, const char* path,
                                          const gemma12b_video_params* params, float* out, size_t capacity,
                                          int64_t* out_rows, gemma12b_video_block* out_blocks, size_t block_capacity,
                                          size_t* out_n_blocks) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && path != nullptr && out_rows != nullptr && out_n_blocks != nullptr &&
                           (out != nullptr || capacity == 0) && (out_blocks != nullptr || block_capacity == 0),
                       "gemma12b_embed_video_file: NULL argument");
    gemma12b_video_params p;
    gemma12b_video_params_init(&p);
    GEMMA12B_CHECK_ARG(gemma12b::capi::read_params(params, &p),
                       "gemma12b_embed_video_file: params->struct_size is not set (use gemma12b_video_params_init)");
    GEMMA12B_CHECK_ARG(p.fps > 0.0f && p.fps <= 60.0f, "gemma12b_embed_video_file: fps must be in (0, 60]");
    GEMMA12B_CHECK_ARG(p.max_frames > 0, "gemma12b_embed_video_file: max_frames must be > 0");
    GEMMA12B_CHECK_ARG(gemma12b::valid_image_budget(p.frame_tokens),
                       "gemma12b_embed_video_file: frame_tokens must be 70, 140, 280, 560 or 1120");
    GEMMA12B_CHECK_ARG(p.max_audio_seconds > 0.0f, "gemma12b_embed_video_file: max_audio_seconds must be > 0");
    if (!require_embedders(model, "gemma12b_embed_video_file")) return GEMMA12B_ERR_INVALID_ARGUMENT;
    auto scope = model->log_scope();
    gemma12b::MediaOptions mo;
    mo.video_fps = p.fps;
    mo.video_max_frames = p.max_frames;
    mo.video_frame_tokens = p.frame_tokens;
    mo.video_audio = p.with_audio != 0;
    mo.max_audio_seconds = p.max_audio_seconds;
    auto m = gemma12b::embed_media_file(*model->embedders, gemma12b::ChatPart::Kind::kVideo, path, mo);
    if (!m.ok()) return fail(m.status());
    const int64_t n_embd = model->model->config().d_model;
    const int64_t rows = m->n_rows();
    const size_t n_blocks = m->blocks.size();
    *out_rows = rows;
    *out_n_blocks = n_blocks;
    if (capacity < static_cast<size_t>(rows * n_embd) || block_capacity < n_blocks) {
      return fail(GEMMA12B_ERR_BUFFER_TOO_SMALL, "gemma12b_embed_video_file: output needs " + std::to_string(rows) +
                                                     " rows of " + std::to_string(n_embd) + " floats and " +
                                                     std::to_string(n_blocks) + " blocks");
    }
    int64_t row = 0;
    for (size_t i = 0; i < n_blocks; ++i) {
      const gemma12b::MediaBlock& b = m->blocks[i];
      std::memcpy(out + row * n_embd, b.rows.data(), b.rows.size() * sizeof(float));
      gemma12b_video_block vb;
      std::memset(&vb, 0, sizeof vb);
      vb.first_row = row;
      vb.n_rows = b.n_rows;
      vb.t_seconds = b.audio ? 0.0 : b.t_seconds;
      vb.kind = b.audio ? GEMMA12B_VIDEO_BLOCK_AUDIO : GEMMA12B_VIDEO_BLOCK_FRAME;
      out_blocks[i] = vb;
      row += b.n_rows;
    }
    return ok();
  })
}

}  // extern "C"
