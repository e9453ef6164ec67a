#include "model/config.h"

#include <cmath>

#include "absl/strings/str_format.h"  // absl::StrFormat
#include "io/gguf.h"                  // GgufFile
#include "io/hf_config.h"             // JsonConfig

namespace gemma12b {

float ModelConfig::embed_scale() const { return std::sqrt(static_cast<float>(d_model)); }

std::vector<float> ModelConfig::full_rope_freq_factors() const {
  // Proportional RoPE: inv_freq[i] = theta^(-2i/head_dim) for i < rope_angles, else 0, with
  // rope_angles = int(partial_rotary_factor * head_dim / 2) (ref: HF modeling_rope_utils
  // _compute_proportional_rope_parameters). A 1e30 divisor makes the angle vanish.
  const int n = n_rot_full / 2;
  const int rotating = static_cast<int>(partial_rotary_factor_full * static_cast<float>(head_dim_full) / 2.0f);
  std::vector<float> f(n, 1e30f);
  for (int i = 0; i < rotating && i < n; ++i) f[i] = 1.0f;
  return f;
}

ModelConfig config_gemma4_12b() {
  ModelConfig c;
  c.layer_types.resize(c.n_layers);
  c.n_kv_heads.resize(c.n_layers);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const bool full = (i + 1) % 6 == 0 || i == c.n_layers - 1;
    c.layer_types[i] = full ? LayerType::kFull : LayerType::kSliding;
    c.n_kv_heads[i] = full ? 1 : 8;
  }
  c.suppress_tokens = {258882, 258883};
  return c;
}

Status validate_config(const ModelConfig& c) {
  if (c.n_vocab <= 0 || c.d_model <= 0 || c.n_layers <= 0 || c.d_ff <= 0 || c.n_heads <= 0) {
    return InvalidArgument("model config has a non-positive size (vocab %d, d_model %d, layers %d, ff %d, heads %d)",
                           c.n_vocab, c.d_model, c.n_layers, c.d_ff, c.n_heads);
  }
  if (c.n_layers > 4096 || c.n_heads > 4096 || c.d_model > (1 << 20) || c.d_ff > (1 << 22) ||
      c.n_vocab > (1 << 24)) {
    return InvalidArgument("model config sizes are implausibly large");
  }
  if (static_cast<int64_t>(c.layer_types.size()) != c.n_layers ||
      static_cast<int64_t>(c.n_kv_heads.size()) != c.n_layers) {
    return InvalidArgument("per-layer arrays have %d / %d entries for %d layers",
                           c.layer_types.size(), c.n_kv_heads.size(), c.n_layers);
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    if (c.n_kv_heads[l] <= 0 || c.n_heads % c.n_kv_heads[l] != 0) {
      return InvalidArgument("layer %d: %d query heads not divisible by %d kv heads", l, c.n_heads, c.n_kv_heads[l]);
    }
  }
  for (int64_t d : {c.head_dim_sliding, c.head_dim_full}) {
    if (d <= 0 || d % 2 != 0 || d > 4096) return InvalidArgument("invalid head dim %d", d);
  }
  if (c.n_rot_sliding <= 0 || c.n_rot_sliding > c.head_dim_sliding || c.n_rot_sliding % 2 ||
      c.n_rot_full <= 0 || c.n_rot_full > c.head_dim_full || c.n_rot_full % 2) {
    return InvalidArgument("invalid RoPE dims %d / %d", c.n_rot_sliding, c.n_rot_full);
  }
  if (c.sliding_window <= 0) return InvalidArgument("sliding window must be positive");
  if (!(c.rms_eps > 0) || !(c.rope_theta_full > 0) || !(c.rope_theta_sliding > 0) ||
      !(c.final_softcap >= 0)) {
    return InvalidArgument("invalid eps / RoPE base / softcap");
  }
  if (c.max_context <= 0) return InvalidArgument("context length must be positive");
  for (int32_t t : c.suppress_tokens) {
    if (t < 0 || t >= c.n_vocab) return InvalidArgument("suppressed token %d outside the vocabulary", t);
  }
  return OkStatus();
}

StatusOr<ModelConfig> config_from_gguf(const GgufFile& f) {
  ModelConfig c;
  G12_ASSIGN_OR_RETURN(c.architecture, f.get_string("general.architecture"));
  if (c.architecture != "gemma4") {
    return InvalidArgument("general.architecture is '%s', expected 'gemma4'", c.architecture);
  }
  const std::string p = "gemma4.";
  auto get_int = [&](const char* key) { return f.get_int(p + key); };
  G12_ASSIGN_OR_RETURN(c.d_model, get_int("embedding_length"));
  G12_ASSIGN_OR_RETURN(c.n_layers, get_int("block_count"));
  G12_ASSIGN_OR_RETURN(c.d_ff, get_int("feed_forward_length"));
  G12_ASSIGN_OR_RETURN(c.n_heads, get_int("attention.head_count"));
  G12_ASSIGN_OR_RETURN(c.head_dim_full, get_int("attention.key_length"));
  G12_ASSIGN_OR_RETURN(c.head_dim_sliding, get_int("attention.key_length_swa"));
  G12_ASSIGN_OR_RETURN(c.sliding_window, get_int("attention.sliding_window"));
  if (f.has(p + "context_length")) {
    G12_ASSIGN_OR_RETURN(c.max_context, get_int("context_length"));
  }
  if (c.n_layers <= 0 || c.n_layers > 4096) return InvalidArgument("gemma4.block_count %d out of range", c.n_layers);
  // Value length must equal key length (K==V on full layers, same width on sliding ones).
  for (const char* k : {"attention.value_length", "attention.value_length_swa"}) {
    if (f.has(p + k)) {
      G12_ASSIGN_OR_RETURN(int64_t vl, get_int(k));
      const int64_t kl = std::string(k).find("swa") != std::string::npos ? c.head_dim_sliding : c.head_dim_full;
      if (vl != kl) return InvalidArgument("gemma4.%s = %d differs from the key length %d", k, vl, kl);
    }
  }
  // Layer pattern: bool per layer, true = sliding.
  G12_ASSIGN_OR_RETURN(std::vector<int64_t> pattern, f.get_int_array(p + "attention.sliding_window_pattern"));
  if (static_cast<int64_t>(pattern.size()) != c.n_layers) {
    return InvalidArgument("gemma4.attention.sliding_window_pattern has %d entries for %d layers", pattern.size(), c.n_layers);
  }
  c.layer_types.resize(c.n_layers);
  for (int64_t i = 0; i < c.n_layers; ++i) c.layer_types[i] = pattern[i] ? LayerType::kSliding : LayerType::kFull;
  // KV heads: per-layer array (or a single value).
  const std::string kv_key = p + "attention.head_count_kv";
  if (f.array_type_of(kv_key).ok()) {
    G12_ASSIGN_OR_RETURN(c.n_kv_heads, f.get_int_array(kv_key));
    if (static_cast<int64_t>(c.n_kv_heads.size()) != c.n_layers) {
      return InvalidArgument("%s has %d entries for %d layers", kv_key, c.n_kv_heads.size(), c.n_layers);
    }
  } else {
    G12_ASSIGN_OR_RETURN(int64_t kv, f.get_int(kv_key));
    c.n_kv_heads.assign(c.n_layers, kv);
  }
  G12_ASSIGN_OR_RETURN(double eps, f.get_float(p + "attention.layer_norm_rms_epsilon"));
  G12_ASSIGN_OR_RETURN(double theta_full, f.get_float(p + "rope.freq_base"));
  G12_ASSIGN_OR_RETURN(double theta_swa, f.get_float(p + "rope.freq_base_swa"));
  c.rms_eps = static_cast<float>(eps);
  c.rope_theta_full = static_cast<float>(theta_full);
  c.rope_theta_sliding = static_cast<float>(theta_swa);
  c.n_rot_full = static_cast<int32_t>(c.head_dim_full);
  c.n_rot_sliding = static_cast<int32_t>(c.head_dim_sliding);
  if (f.has(p + "rope.dimension_count")) {
    G12_ASSIGN_OR_RETURN(int64_t n, get_int("rope.dimension_count"));
    c.n_rot_full = static_cast<int32_t>(n);
  }
  if (f.has(p + "rope.dimension_count_swa")) {
    G12_ASSIGN_OR_RETURN(int64_t n, get_int("rope.dimension_count_swa"));
    c.n_rot_sliding = static_cast<int32_t>(n);
  }
  c.final_softcap = 0.0f;
  if (f.has(p + "final_logit_softcapping")) {
    G12_ASSIGN_OR_RETURN(double cap, f.get_float(p + "final_logit_softcapping"));
    c.final_softcap = static_cast<float>(cap);
  }
  if (f.has(p + "attention.shared_kv_layers")) {
    G12_ASSIGN_OR_RETURN(int64_t shared, get_int("attention.shared_kv_layers"));
    if (shared != 0) return Unimplemented("gemma4.attention.shared_kv_layers = %d (KV sharing is not part of the 12B)", shared);
  }
  if (f.has(p + "embedding_length_per_layer_input")) {
    G12_ASSIGN_OR_RETURN(int64_t ple, get_int("embedding_length_per_layer_input"));
    if (ple != 0) return Unimplemented("per-layer embeddings (embedding_length_per_layer_input = %d) are not part of the 12B", ple);
  }
  // Vocabulary size from the embedding table (the tokenizer array may be absent).
  const TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return InvalidArgument("tensor token_embd.weight is missing");
  c.n_vocab = embd->shape[0];
  // The proportional RoPE is carried by the rope_freqs tensor in GGUF; the fraction below is only
  // used when synthesising factors (HF files). Derive it from the canonical 1/4.
  c.partial_rotary_factor_full = 0.25f;
  auto id = [&](const char* key, int32_t& out) -> Status {
    if (!f.has(key)) {
      out = -1;
      return OkStatus();
    }
    G12_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
    out = static_cast<int32_t>(v);
    return OkStatus();
  };
  G12_RETURN_IF_ERROR(id("tokenizer.ggml.bos_token_id", c.bos_id));
  G12_RETURN_IF_ERROR(id("tokenizer.ggml.eos_token_id", c.eos_id));
  G12_RETURN_IF_ERROR(id("tokenizer.ggml.padding_token_id", c.pad_id));
  if (c.pad_id < 0) c.pad_id = 0;
  // Suppressed tokens (spec 1.2 item 5). The GGUF key name is not standardised yet; accept the
  // names converters use and otherwise leave the list empty (the tiny files carry none).
  for (const char* key : {"tokenizer.ggml.suppress_tokens", "gemma4.suppress_tokens"}) {
    if (f.has(key)) {
      G12_ASSIGN_OR_RETURN(std::vector<int64_t> ids, f.get_int_array(key));
      for (int64_t t : ids) c.suppress_tokens.push_back(static_cast<int32_t>(t));
    }
  }
  G12_RETURN_IF_ERROR(validate_config(c));
  return c;
}

StatusOr<ModelConfig> config_from_hf(const JsonConfig& j) {
  ModelConfig c;
  const std::string p = j.has("text_config.hidden_size") ? "text_config." : "";
  auto key = [&](const char* k) { return p + k; };
  G12_ASSIGN_OR_RETURN(c.d_model, j.get_int(key("hidden_size")));
  G12_ASSIGN_OR_RETURN(c.n_layers, j.get_int(key("num_hidden_layers")));
  G12_ASSIGN_OR_RETURN(c.d_ff, j.get_int(key("intermediate_size")));
  G12_ASSIGN_OR_RETURN(c.n_heads, j.get_int(key("num_attention_heads")));
  G12_ASSIGN_OR_RETURN(c.n_vocab, j.get_int(key("vocab_size")));
  G12_ASSIGN_OR_RETURN(c.head_dim_sliding, j.get_int(key("head_dim")));
  G12_ASSIGN_OR_RETURN(c.head_dim_full, j.get_int(key("global_head_dim")));
  G12_ASSIGN_OR_RETURN(c.sliding_window, j.get_int(key("sliding_window")));
  G12_ASSIGN_OR_RETURN(int64_t kv_sliding, j.get_int(key("num_key_value_heads")));
  int64_t kv_full = kv_sliding;
  if (j.has(key("num_global_key_value_heads"))) {
    G12_ASSIGN_OR_RETURN(kv_full, j.get_int(key("num_global_key_value_heads")));
  }
  if (c.n_layers <= 0 || c.n_layers > 4096) return InvalidArgument("num_hidden_layers %d out of range", c.n_layers);
  c.layer_types.resize(c.n_layers);
  if (j.has(key("layer_types"))) {
    G12_ASSIGN_OR_RETURN(std::vector<std::string> types, j.get_string_array(key("layer_types")));
    if (static_cast<int64_t>(types.size()) != c.n_layers) {
      return InvalidArgument("layer_types has %d entries for %d layers", types.size(), c.n_layers);
    }
    for (int64_t i = 0; i < c.n_layers; ++i) {
      if (types[i] == "sliding_attention") c.layer_types[i] = LayerType::kSliding;
      else if (types[i] == "full_attention") c.layer_types[i] = LayerType::kFull;
      else return InvalidArgument("layer_types[%d] = '%s' is not sliding_attention/full_attention", i, types[i]);
    }
  } else {  // default rule (spec 1.1): full iff (i+1) % 6 == 0, last layer forced full
    for (int64_t i = 0; i < c.n_layers; ++i) {
      c.layer_types[i] = ((i + 1) % 6 == 0 || i == c.n_layers - 1) ? LayerType::kFull : LayerType::kSliding;
    }
  }
  c.n_kv_heads.resize(c.n_layers);
  for (int64_t i = 0; i < c.n_layers; ++i) c.n_kv_heads[i] = c.is_full(i) ? kv_full : kv_sliding;
  if (j.has(key("attention_k_eq_v"))) {
    G12_ASSIGN_OR_RETURN(c.k_eq_v_full, j.get_bool(key("attention_k_eq_v")));
  }
  G12_ASSIGN_OR_RETURN(double eps, j.get_float(key("rms_norm_eps")));
  c.rms_eps = static_cast<float>(eps);
  c.final_softcap = 0.0f;
  if (j.has(key("final_logit_softcapping"))) {
    G12_ASSIGN_OR_RETURN(double cap, j.get_float(key("final_logit_softcapping")));
    c.final_softcap = static_cast<float>(cap);
  }
  const std::string rs = key("rope_parameters.sliding_attention.");
  const std::string rf = key("rope_parameters.full_attention.");
  G12_ASSIGN_OR_RETURN(double theta_s, j.get_float(rs + "rope_theta"));
  G12_ASSIGN_OR_RETURN(double theta_f, j.get_float(rf + "rope_theta"));
  c.rope_theta_sliding = static_cast<float>(theta_s);
  c.rope_theta_full = static_cast<float>(theta_f);
  c.partial_rotary_factor_full = 1.0f;
  if (j.has(rf + "partial_rotary_factor")) {
    G12_ASSIGN_OR_RETURN(double prf, j.get_float(rf + "partial_rotary_factor"));
    c.partial_rotary_factor_full = static_cast<float>(prf);
  }
  c.n_rot_sliding = static_cast<int32_t>(c.head_dim_sliding);
  c.n_rot_full = static_cast<int32_t>(c.head_dim_full);
  if (j.has(key("max_position_embeddings"))) {
    G12_ASSIGN_OR_RETURN(c.max_context, j.get_int(key("max_position_embeddings")));
  }
  for (auto [name, out] : {std::pair{"bos_token_id", &c.bos_id}, {"eos_token_id", &c.eos_id}, {"pad_token_id", &c.pad_id}}) {
    if (j.has(key(name))) {
      G12_ASSIGN_OR_RETURN(std::vector<int64_t> ids, j.get_int_array(key(name)));
      if (!ids.empty()) *out = static_cast<int32_t>(ids[0]);
    }
  }
  if (c.n_vocab == 262144) c.suppress_tokens = {258882, 258883};  // spec section 10
  G12_RETURN_IF_ERROR(validate_config(c));
  return c;
}

std::string config_summary(const ModelConfig& c) {
  int n_full = 0;
  for (auto t : c.layer_types) n_full += t == LayerType::kFull;
  return absl::StrFormat(
      "%s: vocab %d, d_model %d, %d layers (%d sliding, %d full), ff %d, %d heads, head dim %d/%d "
      "(sliding/full), kv heads %d/%d, window %d, rope %g/%g, eps %g, softcap %g, ctx %d",
      c.architecture, c.n_vocab, c.d_model, c.n_layers, c.n_layers - n_full, n_full, c.d_ff, c.n_heads,
      c.head_dim_sliding, c.head_dim_full, c.n_kv_heads.front(), c.n_kv_heads.back(),
      c.sliding_window, c.rope_theta_sliding, c.rope_theta_full, c.rms_eps, c.final_softcap,
      c.max_context);
}

}  // namespace gemma12b
