/* gemma12b C ABI (C99). The one boundary other languages link against.
 *
 * Conventions
 * - Every function returns a gemma12b_status (0 = GEMMA12B_OK) unless it is a plain query.
 *   On failure, gemma12b_last_error() gives a message for the calling thread; outputs are left
 *   untouched. No function aborts, exits or lets a C++ exception escape. One non-zero status is
 *   not a failure: GEMMA12B_END, the end of a step-wise reply (gemma12b_session_next_piece).
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
  GEMMA12B_ERR_INTERNAL = 8,
  GEMMA12B_ERR_BUFFER_TOO_SMALL = 9, /* an output buffer is too small; the size needed is reported */
  GEMMA12B_END = 10                  /* not an error: a step-wise reply has no more pieces */
};

typedef enum {
  GEMMA12B_BACKEND_AUTO = 0, /* the CPU backend (AUTO never picks a GPU) */
  GEMMA12B_BACKEND_CPU = 1,
  GEMMA12B_BACKEND_REFERENCE = 2, /* plain loops; slow; for testing */
  /* A Vulkan GPU (gemma12b_model_params.device_index or the environment variable
   * GEMMA12B_VULKAN_DEVICE choose which); on a machine without one, Mesa's lavapipe (a CPU
   * Vulkan driver: correct but slow). gemma12b_model_load fails with GEMMA12B_ERR_NOT_FOUND when
   * the library was built without the Vulkan backend, GEMMA12B_ERR_UNSUPPORTED when the machine
   * has no Vulkan device at all. */
  GEMMA12B_BACKEND_VULKAN = 3
} gemma12b_backend;

typedef enum {
  GEMMA12B_KV_F16 = 0, /* default */
  GEMMA12B_KV_F32 = 1,
  /* Half of f16's memory. On the CPU its attention is faster at long context: the queries are
   * rounded to int8 per 32 values (as llama.cpp does for a q8_0 cache) and scored in integers,
   * and on processors with AVX-512 BF16 the values are summed with bf16 weights (rounding of
   * the order of the cache's own). */
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
typedef struct gemma12b_session gemma12b_session;

typedef enum { GEMMA12B_ROLE_SYSTEM = 0, GEMMA12B_ROLE_USER = 1, GEMMA12B_ROLE_MODEL = 2 } gemma12b_role;

/* What a streamed piece of a reply is: the answer, the model's thinking, or a tool call
 * (`call:NAME{...}` in Gemma's syntax; the parsed calls come from gemma12b_session_reply_tool_calls). */
typedef enum { GEMMA12B_PIECE_CONTENT = 0, GEMMA12B_PIECE_THOUGHT = 1, GEMMA12B_PIECE_TOOL_CALL = 2 } gemma12b_piece_kind;

/* Return nonzero to continue, 0 to cancel. fraction is in [0, 1]. */
typedef int (*gemma12b_progress_fn)(float fraction, void* user_data);
/* Return nonzero to continue generating, 0 to stop. */
typedef int (*gemma12b_token_fn)(int32_t token, void* user_data);
typedef void (*gemma12b_log_fn)(gemma12b_log_level level, const char* message, void* user_data);
/* A piece of streamed reply text (UTF-8, never half a character; not NUL-terminated: use len).
 * kind is a gemma12b_piece_kind. Return nonzero to continue, 0 to stop. */
typedef int (*gemma12b_piece_fn)(int32_t kind, const char* text, size_t len, void* user_data);

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
  /* Multimodal projector: NULL = none (text only); a path to an mmproj .gguf or an HF
   * directory; or "auto" = one found next to the model (none found is not an error). */
  const char* mmproj;
  /* Messages about this model (loading, fallbacks) go here instead of the process-wide sink,
   * from the thread that made the call. NULL = the process-wide sink. */
  gemma12b_log_fn log;
  void* log_user_data;
  /* GPU backends: which device, an index into the backend's device list. -1 (the default) =
   * the first discrete GPU, else the first integrated one, else any (lavapipe). The environment
   * variable GEMMA12B_VULKAN_DEVICE (an index or part of a device name) overrides it. The CPU
   * and reference backends ignore it. */
  int32_t device_index;
  /* CPU backend: 0 (the default) copies q4_0 matrices (on AVX2-only processors q8_0, q4_k
   * and q6_k ones as well) once, at load, into a layout its kernels
   * decode faster (interleaved rows; a few seconds for the 12B; resident memory stays one copy
   * of the weights); 1 reads every matrix in the file's layout, in place (load takes
   * milliseconds). Other backends ignore it. */
  int32_t cpu_file_layout;
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
/* Nonzero when the model has a projector with an image (vision) / audio embedder. */
GEMMA12B_API int32_t gemma12b_model_has_vision(const gemma12b_model* model);
GEMMA12B_API int32_t gemma12b_model_has_audio(const gemma12b_model* model);

/* ---- tokenizer (the model's own) ------------------------------------------------------ */
/* Outputs that are arrays or strings follow one rule: the size needed is stored in *out_n
 * (tokens, or bytes without the NUL); when it exceeds the capacity, nothing is written and
 * GEMMA12B_ERR_BUFFER_TOO_SMALL is returned, so a call with capacity 0 asks for the size.
 * Strings are NUL-terminated when capacity > size. */
enum { GEMMA12B_TOKENIZE_ADD_BOS = 1, GEMMA12B_TOKENIZE_PARSE_SPECIAL = 2 };
/* text: len bytes of UTF-8 (invalid UTF-8 is an error). flags: GEMMA12B_TOKENIZE_*. */
GEMMA12B_API gemma12b_status gemma12b_tokenize(const gemma12b_model* model, const char* text, size_t len,
                                               int32_t flags, int32_t* out_tokens, size_t capacity, size_t* out_n);
/* Exact bytes of the tokens; skip_special != 0 leaves out control tokens (<bos>, <turn|>, ...). */
GEMMA12B_API gemma12b_status gemma12b_detokenize(const gemma12b_model* model, const int32_t* tokens, size_t n,
                                                 int32_t skip_special, char* out_text, size_t capacity, size_t* out_n);
/* The id of a piece by its exact string ("<turn|>", "<|image|>"): special ids are looked up,
 * never hard-coded. GEMMA12B_ERR_NOT_FOUND when the vocabulary lacks it. */
GEMMA12B_API gemma12b_status gemma12b_token_id(const gemma12b_model* model, const char* piece, int32_t* out_id);
/* Renders a conversation in the Gemma 4 chat format. messages_json: a JSON array of
 * {"role": "system"|"user"|"model"|"assistant"|"tool", "content": "text" or
 *  [{"type": "text", "text": "..."}, {"type": "image"}, {"type": "audio"}, {"type": "video"}],
 *  "reasoning": "...", "tool_calls": [{"name": "...", "arguments": {...}}],
 *  "tool_responses": [{"name": "...", "response": ...}]}.
 * tools_json: NULL or a JSON array of tool declarations. Media items become the template's
 * placeholders (a session expands them). */
enum { GEMMA12B_CHAT_ADD_GENERATION_PROMPT = 1, GEMMA12B_CHAT_ENABLE_THINKING = 2 };
GEMMA12B_API gemma12b_status gemma12b_chat_format(const gemma12b_model* model, const char* messages_json,
                                                  const char* tools_json, int32_t flags, char* out_text,
                                                  size_t capacity, size_t* out_n);

/* ---- embedders: media -> decoder rows (needs a projector) ---------------------------- */
/* Each writes *out_rows rows of gemma12b_model_n_embd floats to out (capacity in floats; the
 * BUFFER_TOO_SMALL rule above applies with *out_rows as the size in rows). The rows go to
 * gemma12b_decode_embeddings, framed by the marker tokens (<|image> ... <image|>, <|audio> ...
 * <audio|>): images bidirectional, audio not. image_tokens: 70, 140, 280, 560 or 1120 (0 = 280). */
GEMMA12B_API gemma12b_status gemma12b_embed_image_file(const gemma12b_model* model, const char* path,
                                                       int32_t image_tokens, float* out, size_t capacity,
                                                       int64_t* out_rows);
/* rgb: height rows of width x 3 bytes (R, G, B), row-major, no padding. */
GEMMA12B_API gemma12b_status gemma12b_embed_image_rgb(const gemma12b_model* model, const uint8_t* rgb, int32_t width,
                                                      int32_t height, int32_t image_tokens, float* out,
                                                      size_t capacity, int64_t* out_rows);
/* max_seconds: longer audio is refused (0 = 30 s). */
GEMMA12B_API gemma12b_status gemma12b_embed_audio_file(const gemma12b_model* model, const char* path,
                                                       float max_seconds, float* out, size_t capacity,
                                                       int64_t* out_rows);
/* samples: n mono floats at sample_rate Hz (resampled to 16 kHz here). */
GEMMA12B_API gemma12b_status gemma12b_embed_audio_pcm(const gemma12b_model* model, const float* samples, size_t n,
                                                      int32_t sample_rate, float max_seconds, float* out,
                                                      size_t capacity, int64_t* out_rows);

/* A video: frames sampled at fps (at most max_frames, spread evenly over longer videos), each one
 * bidirectional block of frame_tokens rows or fewer, then, with with_audio and when the file has
 * an audio track, that track (16 kHz mono, refused past max_audio_seconds) as one causal block of
 * 25 rows per second. A session's gemma12b_session_add_video_file inserts exactly these blocks:
 * "MM:SS <|image>" frame rows "<image|>" per frame (joined by spaces), then "<|audio>" rows
 * "<audio|>". */
typedef struct {
  size_t struct_size;
  float fps;                /* frames sampled per second of video, in (0, 60]; default 1 */
  int32_t max_frames;       /* default 32; at most 100000 */
  int32_t frame_tokens;     /* per frame: 70 (default), 140, 280, 560 or 1120 */
  int32_t with_audio;       /* nonzero: also embed the audio track; default 0 */
  float max_audio_seconds;  /* default 30 */
} gemma12b_video_params;

typedef enum { GEMMA12B_VIDEO_BLOCK_FRAME = 0, GEMMA12B_VIDEO_BLOCK_AUDIO = 1 } gemma12b_video_block_kind;

/* Where one block of a video's rows lies in the output (a fixed layout: this struct never grows). */
typedef struct {
  int64_t first_row; /* the block's first row in out */
  int64_t n_rows;
  double t_seconds;  /* a frame's timestamp (the prompt's "MM:SS" is its whole seconds); audio: 0 */
  int32_t kind;      /* a gemma12b_video_block_kind: a frame is bidirectional, the audio causal */
} gemma12b_video_block;

GEMMA12B_API void gemma12b_video_params_init(gemma12b_video_params* params);
/* Decodes and embeds a video file (params may be NULL: the defaults). out gets the rows of every
 * block in order (*out_rows rows of gemma12b_model_n_embd floats) and out_blocks one entry per
 * block (*out_n_blocks). The BUFFER_TOO_SMALL rule applies to both: when either capacity is too
 * small, both sizes are reported and nothing is written. The rows never exceed
 * max_frames * frame_tokens + (with_audio ? 25 * max_audio_seconds + 1 : 0), and the blocks
 * max_frames + 1, so buffers of those sizes take any video in one call. */
GEMMA12B_API gemma12b_status gemma12b_embed_video_file(const gemma12b_model* model, const char* path,
                                                       const gemma12b_video_params* params, float* out,
                                                       size_t capacity, int64_t* out_rows,
                                                       gemma12b_video_block* out_blocks, size_t block_capacity,
                                                       size_t* out_n_blocks);

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
/* Saves the sequence to a file / restores it into a context of the same model and params (a
 * failed load leaves the context empty). */
GEMMA12B_API gemma12b_status gemma12b_kv_save(const gemma12b_context* ctx, const char* path);
GEMMA12B_API gemma12b_status gemma12b_kv_load(gemma12b_context* ctx, const char* path);
/* Final-normed hidden states of the rows that got logits in the last decode: *out_rows rows of
 * n_embd floats (the MTP drafter's input). */
GEMMA12B_API gemma12b_status gemma12b_context_hidden(const gemma12b_context* ctx, const float** out_hidden,
                                                     int64_t* out_rows);

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

/* ---- session: a chat with text, image, audio and video parts ---------------------------- */
/* A session keeps the conversation and one KV cache. Each generate re-renders the whole
 * conversation in the chat format (earlier thoughts stripped, as the template does) and decodes
 * only what the cache does not already hold. Media are embedded when added (errors surface
 * there; a failed add changes nothing). Used by one thread at a time. */
typedef struct {
  size_t struct_size;
  int64_t n_ctx;              /* default 4096 */
  int32_t kv_type;            /* a gemma12b_kv_type; default f16 */
  int32_t image_tokens;       /* per image: 70, 140, 280 (default), 560, 1120 */
  int32_t video_frame_tokens; /* per video frame; default 70 */
  float video_fps;            /* frames sampled per second of video; default 1 */
  int32_t video_max_frames;   /* default 32 (spread evenly over longer videos) */
  int32_t video_audio;        /* nonzero: the video's audio track follows its frames; default 0 */
  float max_audio_seconds;    /* longer audio is refused; default 30 */
  int32_t enable_thinking;    /* nonzero: the model thinks first (streamed as THOUGHT pieces) */
  const char* tools_json;     /* NULL or a JSON array of tool declarations (copied) */
} gemma12b_session_params;

GEMMA12B_API void gemma12b_session_params_init(gemma12b_session_params* params);
GEMMA12B_API gemma12b_status gemma12b_session_create(gemma12b_model* model, const gemma12b_session_params* params,
                                                     gemma12b_session** out_session);
GEMMA12B_API void gemma12b_session_free(gemma12b_session* session);
/* Parts join the last message when it has the same role and no reply followed it. role: a
 * gemma12b_role. Media are accepted in user messages only. */
GEMMA12B_API gemma12b_status gemma12b_session_add_text(gemma12b_session* s, int32_t role, const char* text);
GEMMA12B_API gemma12b_status gemma12b_session_add_image_file(gemma12b_session* s, int32_t role, const char* path);
GEMMA12B_API gemma12b_status gemma12b_session_add_image_rgb(gemma12b_session* s, int32_t role, const uint8_t* rgb,
                                                            int32_t width, int32_t height);
GEMMA12B_API gemma12b_status gemma12b_session_add_audio_file(gemma12b_session* s, int32_t role, const char* path);
GEMMA12B_API gemma12b_status gemma12b_session_add_audio_pcm(gemma12b_session* s, int32_t role, const float* samples,
                                                            size_t n, int32_t sample_rate);
GEMMA12B_API gemma12b_status gemma12b_session_add_video_file(gemma12b_session* s, int32_t role, const char* path);
/* The result of a tool the model called (response_json: any JSON value). */
GEMMA12B_API gemma12b_status gemma12b_session_add_tool_response(gemma12b_session* s, const char* name,
                                                                const char* response_json);
/* Generates the model's reply (params: sampling and max_tokens; stop tokens are the chat's),
 * streaming pieces to on_piece (may be NULL). The reply joins the conversation. */
GEMMA12B_API gemma12b_status gemma12b_session_generate(gemma12b_session* s, const gemma12b_generate_params* params,
                                                       gemma12b_piece_fn on_piece, void* user_data,
                                                       gemma12b_stop_reason* out_reason);
/* Step-wise (pull-based) generation of the reply; gemma12b_session_generate runs on the same
 * machinery, so both give the same pieces for the same params.
 * - gemma12b_session_begin renders the conversation, decodes what the cache lacks and opens the
 *   reply (params as for gemma12b_session_generate; NULL = defaults).
 * - gemma12b_session_next_piece generates until the next piece: GEMMA12B_OK with *out_kind (a
 *   gemma12b_piece_kind) and *out_text / *out_len (UTF-8, never half a character, not
 *   NUL-terminated; owned by the session and valid until the next call on it); or GEMMA12B_END
 *   once the reply is complete: it has joined the conversation and the reply_* queries below give
 *   its parts. Any other status is an error that closes the reply without adding it (the session
 *   stays usable). Without an open reply: GEMMA12B_ERR_INVALID_ARGUMENT.
 * - gemma12b_session_finish closes the reply and reports why it stopped (out_reason may be NULL).
 *   Before GEMMA12B_END it stops generating: what was generated so far joins the conversation with
 *   GEMMA12B_STOP_CANCELLED, as when a piece callback returns 0. After GEMMA12B_END it only
 *   reports the reason (calling it then is optional). Without a reply since begin (a failed
 *   begin or next_piece, or none begun): GEMMA12B_ERR_INVALID_ARGUMENT.
 * While a reply is open the conversation cannot change: add_*, begin and generate fail with
 * GEMMA12B_ERR_INVALID_ARGUMENT and change nothing; gemma12b_session_clear drops the reply.
 *
 *   gemma12b_status st = gemma12b_session_begin(s, &gp);
 *   int32_t kind; const char* text; size_t len;
 *   while (st == GEMMA12B_OK && (st = gemma12b_session_next_piece(s, &kind, &text, &len)) == GEMMA12B_OK)
 *     if (kind == GEMMA12B_PIECE_CONTENT) fwrite(text, 1, len, stdout);
 *   if (st != GEMMA12B_END) fprintf(stderr, "%s\n", gemma12b_last_error());
 *   gemma12b_session_finish(s, &reason); */
GEMMA12B_API gemma12b_status gemma12b_session_begin(gemma12b_session* s, const gemma12b_generate_params* params);
GEMMA12B_API gemma12b_status gemma12b_session_next_piece(gemma12b_session* s, int32_t* out_kind, const char** out_text,
                                                         size_t* out_len);
GEMMA12B_API gemma12b_status gemma12b_session_finish(gemma12b_session* s, gemma12b_stop_reason* out_reason);
/* The last reply's parts, valid until the next call on the session: the answer text, the
 * thinking text, and the tool calls as a JSON array [{"name": ..., "arguments": {...}}]. While a
 * step-wise reply is open they are empty. */
GEMMA12B_API const char* gemma12b_session_reply_content(const gemma12b_session* s);
GEMMA12B_API const char* gemma12b_session_reply_reasoning(const gemma12b_session* s);
GEMMA12B_API const char* gemma12b_session_reply_tool_calls(const gemma12b_session* s);
/* Rows of the conversation so far / of them reused from the cache by the last generate. */
GEMMA12B_API int64_t gemma12b_session_n_rows(const gemma12b_session* s);
GEMMA12B_API int64_t gemma12b_session_reused_rows(const gemma12b_session* s);
/* Forgets the conversation and the cache. */
GEMMA12B_API gemma12b_status gemma12b_session_clear(gemma12b_session* s);

#ifdef __cplusplus
}
#endif

#endif /* GEMMA12B_H_ */
