/* gemma12b C ABI (C99). The one boundary other languages link against.
 *
 * Conventions
 * - Every function returns a gemma12b_status (0 = GEMMA12B_OK) unless it is a plain query.
 *   On failure, gemma12b_last_error() gives a message for the calling thread; outputs are left
 *   untouched. No function aborts, exits or lets a C++ exception escape.
 * - Parameter structs start with `struct_size`; fill them with the matching *_params_init()
 *   so that fields added in later versions get their defaults.
 * - Handles are opaque; every *_free accepts NULL.
 *
 * Thread safety
 * - A gemma12b_model is immutable after loading and may be shared by any number of threads
 *   and contexts. gemma12b_model_free must not race with other uses of that model.
 * - A gemma12b_context (one sequence: KV cache, scratch, sampler state) is used by one thread
 *   at a time; different contexts run concurrently.
 * - gemma12b_last_error() is per thread.
 */
#ifndef GEMMA12B_H_
#define GEMMA12B_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define GEMMA12B_API __declspec(dllexport)
#else
#define GEMMA12B_API __attribute__((visibility("default")))
#endif

#define GEMMA12B_ABI_VERSION 0 /* bumped on every incompatible change (SONAME follows it) */

typedef int32_t gemma12b_status;
enum {
  GEMMA12B_OK = 0,
  GEMMA12B_ERR_INVALID_ARGUMENT = 1, /* a bad parameter, handle, token id, shape */
  GEMMA12B_ERR_NOT_FOUND = 2,        /* a missing file or name */
  GEMMA12B_ERR_CORRUPT = 3,          /* a malformed or truncated file */
  GEMMA12B_ERR_UNSUPPORTED = 4,      /* valid but not supported (a tensor type, a feature) */
  GEMMA12B_ERR_OUT_OF_RANGE = 5,     /* the context is full */
  GEMMA12B_ERR_OUT_OF_MEMORY = 6,
  GEMMA12B_ERR_CANCELLED = 7,        /* a callback asked to stop */
  GEMMA12B_ERR_INTERNAL = 8
};

typedef enum {
  GEMMA12B_BACKEND_AUTO = 0, /* the fastest available */
  GEMMA12B_BACKEND_CPU = 1,
  GEMMA12B_BACKEND_REFERENCE = 2 /* plain loops; slow; for testing */
} gemma12b_backend;

typedef enum {
  GEMMA12B_KV_F16 = 0, /* default */
  GEMMA12B_KV_F32 = 1,
  GEMMA12B_KV_Q8_0 = 2
} gemma12b_kv_type;

typedef enum {
  GEMMA12B_STOP_TOKEN = 0,
  GEMMA12B_STOP_MAX_TOKENS = 1,
  GEMMA12B_STOP_CONTEXT_FULL = 2,
  GEMMA12B_STOP_CANCELLED = 3
} gemma12b_stop_reason;

typedef enum { GEMMA12B_LOG_DEBUG = 0, GEMMA12B_LOG_INFO = 1, GEMMA12B_LOG_WARN = 2, GEMMA12B_LOG_ERROR = 3 } gemma12b_log_level;

typedef struct gemma12b_model gemma12b_model;
typedef struct gemma12b_context gemma12b_context;

/* Return nonzero to continue, 0 to cancel. fraction is in [0, 1]. */
typedef int (*gemma12b_progress_fn)(float fraction, void* user_data);
/* Return nonzero to continue generating, 0 to stop. */
typedef int (*gemma12b_token_fn)(int32_t token, void* user_data);
typedef void (*gemma12b_log_fn)(gemma12b_log_level level, const char* message, void* user_data);

/* ---- version and errors --------------------------------------------------------------- */
GEMMA12B_API const char* gemma12b_version(void); /* "0.1.0" */
GEMMA12B_API int32_t gemma12b_abi_version(void); /* GEMMA12B_ABI_VERSION of the library */
/* The last error message of the calling thread ("" when none). Valid until the thread's next call. */
GEMMA12B_API const char* gemma12b_last_error(void);
GEMMA12B_API const char* gemma12b_status_string(gemma12b_status status);
/* Process-wide log sink (NULL restores stderr for warnings and errors). */
GEMMA12B_API void gemma12b_set_log_callback(gemma12b_log_fn fn, void* user_data);

/* ---- model ---------------------------------------------------------------------------- */
typedef struct {
  size_t struct_size;
  int32_t backend; /* a gemma12b_backend (fields are int32_t: enum sizes are not fixed in C) */
  int32_t n_threads; /* 0 = all cores */
  gemma12b_progress_fn progress;
  void* progress_user_data;
} gemma12b_model_params;

GEMMA12B_API void gemma12b_model_params_init(gemma12b_model_params* params);
/* path: a .gguf file or an HF directory (config.json + *.safetensors). params may be NULL. */
GEMMA12B_API gemma12b_status gemma12b_model_load(const char* path, const gemma12b_model_params* params,
                                                 gemma12b_model** out_model);
GEMMA12B_API void gemma12b_model_free(gemma12b_model* model);
GEMMA12B_API int32_t gemma12b_model_n_vocab(const gemma12b_model* model);
GEMMA12B_API int32_t gemma12b_model_n_embd(const gemma12b_model* model);
GEMMA12B_API int32_t gemma12b_model_n_layers(const gemma12b_model* model);
GEMMA12B_API int64_t gemma12b_model_max_context(const gemma12b_model* model);
GEMMA12B_API int32_t gemma12b_model_bos(const gemma12b_model* model);
GEMMA12B_API int32_t gemma12b_model_eos(const gemma12b_model* model);

/* ---- context: one sequence (KV cache + decoder) ----------------------------------------- */
typedef struct {
  size_t struct_size;
  int64_t n_ctx;      /* positions; default 4096 (capped by the model) */
  int32_t max_ubatch; /* rows per forward step; default 512 */
  int32_t kv_type; /* a gemma12b_kv_type */
} gemma12b_context_params;

GEMMA12B_API void gemma12b_context_params_init(gemma12b_context_params* params);
GEMMA12B_API gemma12b_status gemma12b_context_create(gemma12b_model* model, const gemma12b_context_params* params,
                                                     gemma12b_context** out_ctx);
GEMMA12B_API void gemma12b_context_free(gemma12b_context* ctx);
GEMMA12B_API int64_t gemma12b_context_n_past(const gemma12b_context* ctx);
GEMMA12B_API int64_t gemma12b_context_n_ctx(const gemma12b_context* ctx);

/* Appends n tokens at the next positions and computes logits: for every row (all_logits != 0)
 * or the last. The logits stay readable through gemma12b_context_logits until the next call. */
GEMMA12B_API gemma12b_status gemma12b_decode_tokens(gemma12b_context* ctx, const int32_t* tokens, size_t n,
                                                    int all_logits);
/* Appends n_rows rows of n_embd floats (multimodal soft tokens, inserted unscaled);
 * bidirectional != 0 makes them one block (an image) that must fit one ubatch. */
GEMMA12B_API gemma12b_status gemma12b_decode_embeddings(gemma12b_context* ctx, const float* rows, size_t n_rows,
                                                        int bidirectional, int all_logits);
/* Logits of the last decode: *out_rows rows of n_vocab floats, soft-capped. */
GEMMA12B_API gemma12b_status gemma12b_context_logits(const gemma12b_context* ctx, const float** out_logits,
                                                     int64_t* out_rows);
GEMMA12B_API gemma12b_status gemma12b_kv_clear(gemma12b_context* ctx);
GEMMA12B_API gemma12b_status gemma12b_kv_truncate(gemma12b_context* ctx, int64_t n_keep);
/* dst becomes a copy of src's sequence (same model and context params). */
GEMMA12B_API gemma12b_status gemma12b_kv_copy(gemma12b_context* dst, const gemma12b_context* src);

/* ---- sampling and generation ---------------------------------------------------------- */
typedef struct {
  size_t struct_size;
  float temperature; /* 0 = greedy; default 1.0 */
  int32_t top_k;     /* default 64; <= 0 off */
  float top_p;       /* default 0.95 */
  float min_p;       /* default 0 */
  float repetition_penalty, presence_penalty, frequency_penalty; /* defaults 1, 0, 0 */
  int32_t penalty_last_n; /* default 64 */
  uint64_t seed;
  int64_t max_tokens;         /* default 256 */
  const int32_t* stop_tokens; /* NULL: the file's (<eos>, <turn|>, <|tool_response>) */
  size_t n_stop_tokens;
} gemma12b_generate_params;

GEMMA12B_API void gemma12b_generate_params_init(gemma12b_generate_params* params);
/* Decodes the prompt (after what the context holds) and generates, calling on_token for every
 * token (may be NULL). Generated tokens are also written to out_tokens (capacity
 * out_capacity, may be NULL); *out_n_tokens gets the count and *out_reason why it stopped
 * (either may be NULL). */
GEMMA12B_API gemma12b_status gemma12b_generate(gemma12b_context* ctx, const int32_t* prompt, size_t n_prompt,
                                               const gemma12b_generate_params* params, gemma12b_token_fn on_token,
                                               void* user_data, int32_t* out_tokens, size_t out_capacity,
                                               size_t* out_n_tokens, gemma12b_stop_reason* out_reason);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA12B_H_ */
