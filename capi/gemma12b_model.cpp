// Model, context (KV cache + decoder) and generation entry points of the C ABI.
#include <algorithm>
#include <cstring>

#include "capi_internal.h"
#include <optional>

#include "runtime/assets.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"

using gemma12b::capi::fail;
using gemma12b::capi::ok;

using gemma12b::capi::read_params;

extern "C" {

void gemma12b_model_params_init(gemma12b_model_params* p) {
  if (p == nullptr) return;
  std::memset(p, 0, sizeof(*p));
  p->struct_size = sizeof(*p);
  p->backend = GEMMA12B_BACKEND_AUTO;
  p->device_index = -1;
}

gemma12b_status gemma12b_model_load(const char* path, const gemma12b_model_params* params,
                                    gemma12b_model** out_model) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(path != nullptr && out_model != nullptr, "gemma12b_model_load: path and out_model must not be NULL");
    gemma12b_model_params p;
    gemma12b_model_params_init(&p);
    GEMMA12B_CHECK_ARG(read_params(params, &p), "gemma12b_model_load: params->struct_size is not set (use gemma12b_model_params_init)");
    const char* backend = nullptr;
    switch (p.backend) {
      case GEMMA12B_BACKEND_AUTO:
      case GEMMA12B_BACKEND_CPU: backend = "cpu"; break;
      case GEMMA12B_BACKEND_REFERENCE: backend = "reference"; break;
      case GEMMA12B_BACKEND_VULKAN: backend = "vulkan"; break;
      default: return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_model_load: unknown backend");
    }
    GEMMA12B_CHECK_ARG(p.n_threads >= 0, "gemma12b_model_load: n_threads must be >= 0");
    GEMMA12B_CHECK_ARG(p.device_index >= -1, "gemma12b_model_load: device_index must be >= -1");
    auto m = std::make_unique<gemma12b_model>();
    gemma12b::DeviceOptions dopt;
    dopt.n_threads = p.n_threads;
    dopt.device_index = p.device_index;
    dopt.cpu_file_layout = p.cpu_file_layout != 0;
    auto device = gemma12b::create_device(backend, dopt);
    if (!device.ok() && device.status().code() == absl::StatusCode::kUnavailable) {
      // A backend without a device here (no Vulkan driver): valid but not supported, not internal.
      return fail(GEMMA12B_ERR_UNSUPPORTED, std::string(device.status().message()));
    }
    if (!device.ok()) return fail(device.status());
    m->device = std::move(*device);
    m->log.fn = p.log;
    m->log.user_data = p.log_user_data;
    auto log_scope = m->log_scope();
    gemma12b::LoadOptions lopt;
    if (p.progress != nullptr) {
      lopt.progress = [&p](float f) { return p.progress(f, p.progress_user_data) != 0; };
    }
    auto model = gemma12b::Model::load(path, *m->device, lopt);
    if (!model.ok()) return fail(model.status());
    m->model = std::move(*model);
    // The tokenizer (inside a GGUF, tokenizer.json next to an HF checkpoint) is optional: a
    // model without one still decodes token ids.
    if (auto t = gemma12b::load_model_tokenizer(*m->model); t.ok()) {
      m->tokenizer = std::move(*t);
    } else {
      gemma12b::log_info("%s: no tokenizer (%s); token-id input only", path, std::string(t.status().message()));
    }
    if (p.mmproj != nullptr) {
      std::optional<std::string> mmproj;
      if (std::string(p.mmproj) == "auto") {
        mmproj = gemma12b::find_mmproj(*m->model);
      } else {
        mmproj = std::string(p.mmproj);
      }
      if (mmproj) {
        auto e = gemma12b::Embedders::load(*mmproj, *m->device);
        if (!e.ok()) return fail(e.status());
        m->embedders = std::move(*e);
        if (m->embedders->n_embd() != m->model->config().d_model) {
          return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_model_load: the projector " + *mmproj +
                                                         " does not match the model's width");
        }
      }
    }
    const std::string summary = gemma12b::config_summary(m->model->config());
    m->fingerprint = std::hash<std::string>{}(summary) ^ (m->model->weight_bytes() * 0x9e3779b97f4a7c15ull);
    *out_model = m.release();
    return ok();
  })
}

void gemma12b_model_free(gemma12b_model* model) { delete model; }

int32_t gemma12b_model_n_vocab(const gemma12b_model* m) { return m ? static_cast<int32_t>(m->model->config().n_vocab) : 0; }
int32_t gemma12b_model_n_embd(const gemma12b_model* m) { return m ? static_cast<int32_t>(m->model->config().d_model) : 0; }
int32_t gemma12b_model_n_layers(const gemma12b_model* m) { return m ? static_cast<int32_t>(m->model->config().n_layers) : 0; }
int64_t gemma12b_model_max_context(const gemma12b_model* m) { return m ? m->model->config().max_context : 0; }
int32_t gemma12b_model_bos(const gemma12b_model* m) { return m ? m->model->config().bos_id : -1; }
int32_t gemma12b_model_eos(const gemma12b_model* m) { return m ? m->model->config().eos_id : -1; }
int32_t gemma12b_model_has_vision(const gemma12b_model* m) { return m && m->embedders && m->embedders->has_vision(); }
int32_t gemma12b_model_has_audio(const gemma12b_model* m) { return m && m->embedders && m->embedders->has_audio(); }

void gemma12b_context_params_init(gemma12b_context_params* p) {
  if (p == nullptr) return;
  std::memset(p, 0, sizeof(*p));
  p->struct_size = sizeof(*p);
  p->n_ctx = 4096;
  p->max_ubatch = 512;
  p->kv_type = GEMMA12B_KV_F16;
}

gemma12b_status gemma12b_context_create(gemma12b_model* model, const gemma12b_context_params* params,
                                        gemma12b_context** out_ctx) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(model != nullptr && out_ctx != nullptr, "gemma12b_context_create: model and out_ctx must not be NULL");
    gemma12b_context_params p;
    gemma12b_context_params_init(&p);
    GEMMA12B_CHECK_ARG(read_params(params, &p), "gemma12b_context_create: params->struct_size is not set (use gemma12b_context_params_init)");
    auto c = std::make_unique<gemma12b_context>();
    c->model = model;
    c->kv_options.n_ctx = std::min<int64_t>(p.n_ctx, model->model->config().max_context);
    c->kv_options.max_ubatch = p.max_ubatch;
    switch (p.kv_type) {
      case GEMMA12B_KV_F16: c->kv_options.dtype = gemma12b::DType::kF16; break;
      case GEMMA12B_KV_F32: c->kv_options.dtype = gemma12b::DType::kF32; break;
      case GEMMA12B_KV_Q8_0: c->kv_options.dtype = gemma12b::DType::kQ8_0; break;
      default: return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_context_create: unknown kv_type");
    }
    auto kv = gemma12b::KvCache::create(model->model->config(), *model->device, c->kv_options);
    if (!kv.ok()) return fail(kv.status());
    c->kv = std::move(*kv);
    auto dec = gemma12b::Decoder::create(*model->model, p.max_ubatch);
    if (!dec.ok()) return fail(dec.status());
    c->decoder = std::move(*dec);
    *out_ctx = c.release();
    return ok();
  })
}

void gemma12b_context_free(gemma12b_context* ctx) { delete ctx; }
int64_t gemma12b_context_n_past(const gemma12b_context* ctx) { return ctx ? ctx->kv->n_past() : 0; }
int64_t gemma12b_context_n_ctx(const gemma12b_context* ctx) { return ctx ? ctx->kv->n_ctx() : 0; }

gemma12b_status gemma12b_decode_tokens(gemma12b_context* ctx, const int32_t* tokens, size_t n, int all_logits) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && tokens != nullptr && n > 0, "gemma12b_decode_tokens: ctx and a non-empty token array are required");
    gemma12b::DecodeInput in;
    in.tokens = std::span<const int32_t>(tokens, n);
    in.all_logits = all_logits != 0;
    in.want_hidden = true;
    return fail(ctx->decoder->decode(*ctx->kv, in, &ctx->last));
  })
}

gemma12b_status gemma12b_decode_embeddings(gemma12b_context* ctx, const float* rows, size_t n_rows,
                                           int bidirectional, int all_logits) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && rows != nullptr && n_rows > 0, "gemma12b_decode_embeddings: ctx and non-empty rows are required");
    gemma12b::DecodeInput in;
    in.embeddings = std::span<const float>(rows, n_rows * ctx->model->model->config().d_model);
    in.bidirectional = bidirectional != 0;
    in.all_logits = all_logits != 0;
    in.want_hidden = true;
    return fail(ctx->decoder->decode(*ctx->kv, in, &ctx->last));
  })
}

gemma12b_status gemma12b_context_logits(const gemma12b_context* ctx, const float** out_logits, int64_t* out_rows) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && out_logits != nullptr && out_rows != nullptr, "gemma12b_context_logits: NULL argument");
    if (ctx->last.n_rows == 0) return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_context_logits: nothing decoded yet");
    *out_logits = ctx->last.logits.data();
    *out_rows = ctx->last.n_rows;
    return ok();
  })
}

gemma12b_status gemma12b_context_hidden(const gemma12b_context* ctx, const float** out_hidden, int64_t* out_rows) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && out_hidden != nullptr && out_rows != nullptr, "gemma12b_context_hidden: NULL argument");
    if (ctx->last.n_rows == 0 || ctx->last.hidden.empty()) {
      return fail(GEMMA12B_ERR_INVALID_ARGUMENT, "gemma12b_context_hidden: nothing decoded yet");
    }
    *out_hidden = ctx->last.hidden.data();
    *out_rows = ctx->last.n_rows;
    return ok();
  })
}

gemma12b_status gemma12b_kv_save(const gemma12b_context* ctx, const char* path) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && path != nullptr, "gemma12b_kv_save: ctx and path must not be NULL");
    return fail(ctx->kv->save(path, ctx->model->fingerprint));
  })
}

gemma12b_status gemma12b_kv_load(gemma12b_context* ctx, const char* path) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && path != nullptr, "gemma12b_kv_load: ctx and path must not be NULL");
    ctx->last = {};
    return fail(ctx->kv->load(path, ctx->model->fingerprint));
  })
}

gemma12b_status gemma12b_kv_clear(gemma12b_context* ctx) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr, "gemma12b_kv_clear: ctx is NULL");
    ctx->last = {};
    return fail(ctx->kv->clear());
  })
}

gemma12b_status gemma12b_kv_truncate(gemma12b_context* ctx, int64_t n_keep) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr, "gemma12b_kv_truncate: ctx is NULL");
    return fail(ctx->kv->truncate(n_keep));
  })
}

gemma12b_status gemma12b_kv_copy(gemma12b_context* dst, const gemma12b_context* src) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(dst != nullptr && src != nullptr, "gemma12b_kv_copy: NULL context");
    if (dst == src) return ok();
    GEMMA12B_CHECK_ARG(dst->model == src->model, "gemma12b_kv_copy: the contexts belong to different models");
    return fail(dst->kv->copy_from(*src->kv));
  })
}

void gemma12b_generate_params_init(gemma12b_generate_params* p) {
  if (p == nullptr) return;
  std::memset(p, 0, sizeof(*p));
  p->struct_size = sizeof(*p);
  const gemma12b::SamplingParams d;
  p->temperature = d.temperature;
  p->top_k = d.top_k;
  p->top_p = d.top_p;
  p->min_p = d.min_p;
  p->repetition_penalty = d.repetition_penalty;
  p->presence_penalty = d.presence_penalty;
  p->frequency_penalty = d.frequency_penalty;
  p->penalty_last_n = d.penalty_last_n;
  p->seed = d.seed;
  p->max_tokens = 256;
}

gemma12b_status gemma12b_generate(gemma12b_context* ctx, const int32_t* prompt, size_t n_prompt,
                                  const gemma12b_generate_params* params, gemma12b_token_fn on_token,
                                  void* user_data, int32_t* out_tokens, size_t out_capacity,
                                  size_t* out_n_tokens, gemma12b_stop_reason* out_reason) {
  GEMMA12B_CAPI_GUARD({
    GEMMA12B_CHECK_ARG(ctx != nullptr && prompt != nullptr && n_prompt > 0, "gemma12b_generate: ctx and a non-empty prompt are required");
    GEMMA12B_CHECK_ARG(out_tokens != nullptr || out_capacity == 0, "gemma12b_generate: out_capacity > 0 with NULL out_tokens");
    gemma12b_generate_params p;
    gemma12b_generate_params_init(&p);
    GEMMA12B_CHECK_ARG(read_params(params, &p), "gemma12b_generate: params->struct_size is not set (use gemma12b_generate_params_init)");
    GEMMA12B_CHECK_ARG(p.stop_tokens != nullptr || p.n_stop_tokens == 0, "gemma12b_generate: n_stop_tokens > 0 with NULL stop_tokens");
    const gemma12b::Model& model = *ctx->model->model;
    const gemma12b::SamplingParams sp = gemma12b::capi::sampling_from(p, model);
    auto sampler = gemma12b::Sampler::create(sp, model.config().n_vocab);
    if (!sampler.ok()) return fail(sampler.status());
    gemma12b::GenerateParams gp;
    gp.max_tokens = p.max_tokens;
    gp.stop_tokens = p.stop_tokens ? std::vector<int32_t>(p.stop_tokens, p.stop_tokens + p.n_stop_tokens)
                                    : gemma12b::default_stop_tokens(model);
    size_t written = 0;
    auto result = gemma12b::generate(*ctx->decoder, *ctx->kv, **sampler, std::span<const int32_t>(prompt, n_prompt), gp,
                                      [&](int32_t tok) {
                                        if (written < out_capacity) out_tokens[written] = tok;
                                        ++written;
                                        return on_token == nullptr || on_token(tok, user_data) != 0;
                                      });
    if (!result.ok()) return fail(result.status());
    if (out_n_tokens) *out_n_tokens = result->tokens.size();
    if (out_reason) *out_reason = static_cast<gemma12b_stop_reason>(result->reason);
    return ok();
  })
}

}  // extern "C"
