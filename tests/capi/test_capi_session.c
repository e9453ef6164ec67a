/* The C ABI's tokenizer, chat formatting, embedders, KV save/load, hidden states and session,
 * from C11, with their error paths. Usage: test_capi_session MODEL.gguf MMPROJ.gguf IMAGE.png
 * AUDIO.wav VIDEO.mp4 TMPDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemma12b.h"

static int failures = 0, checks = 0;
#define CHECK(cond)                                                                \
  do {                                                                             \
    ++checks;                                                                      \
    if (!(cond)) {                                                                 \
      ++failures;                                                                  \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #cond, \
              gemma12b_last_error());                                              \
    }                                                                              \
  } while (0)

typedef struct {
  int pieces;
  size_t bytes;
  int stop_after;
  char text[4096];
} Stream;

static int on_piece(int32_t kind, const char* text, size_t len, void* user_data) {
  Stream* s = (Stream*)user_data;
  if (kind < GEMMA12B_PIECE_CONTENT || kind > GEMMA12B_PIECE_TOOL_CALL) return 0;
  if (kind == GEMMA12B_PIECE_CONTENT && s->bytes + len < sizeof s->text) {
    memcpy(s->text + s->bytes, text, len);
    s->bytes += len;
    s->text[s->bytes] = '\0';
  }
  ++s->pieces;
  return s->stop_after == 0 || s->pieces < s->stop_after;
}

static int log_lines = 0;
static void on_log(gemma12b_log_level level, const char* message, void* user_data) {
  (void)level;
  (void)user_data;
  if (message != NULL) ++log_lines;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf IMAGE.png AUDIO.wav VIDEO.mp4 TMPDIR\n", argv[0]);
    return 2;
  }
  const char *model_path = argv[1], *mmproj = argv[2], *png = argv[3], *wav = argv[4], *mp4 = argv[5];
  gemma12b_model_params mp;
  gemma12b_model_params_init(&mp);
  mp.mmproj = mmproj;
  mp.log = on_log;
  gemma12b_model* model = NULL;
  CHECK(gemma12b_model_load(model_path, &mp, &model) == GEMMA12B_OK);
  if (model == NULL) return 1;
  CHECK(gemma12b_model_has_vision(model) && gemma12b_model_has_audio(model));
  const int32_t n_embd = gemma12b_model_n_embd(model);

  /* A model without a projector: no media, a clear error. A bad projector path fails the load. */
  gemma12b_model* text_only = NULL;
  CHECK(gemma12b_model_load(model_path, NULL, &text_only) == GEMMA12B_OK);
  CHECK(!gemma12b_model_has_vision(text_only));
  int64_t rows = 0;
  CHECK(gemma12b_embed_image_file(text_only, png, 70, NULL, 0, &rows) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "projector") != NULL);
  gemma12b_model_params bad;
  gemma12b_model_params_init(&bad);
  bad.mmproj = "/nonexistent/mmproj.gguf";
  gemma12b_model* none = NULL;
  CHECK(gemma12b_model_load(model_path, &bad, &none) == GEMMA12B_ERR_NOT_FOUND && none == NULL);

  /* ---- tokenizer: size query, round trip, special ids, invalid UTF-8 ---- */
  const char* text = "the cat sat";
  size_t n = 0;
  CHECK(gemma12b_tokenize(model, text, strlen(text), GEMMA12B_TOKENIZE_ADD_BOS, NULL, 0, &n) ==
        GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(n > 1);
  int32_t ids[64];
  size_t n2 = 0;
  CHECK(gemma12b_tokenize(model, text, strlen(text), GEMMA12B_TOKENIZE_ADD_BOS, ids, 64, &n2) == GEMMA12B_OK);
  CHECK(n2 == n && ids[0] == gemma12b_model_bos(model));
  char back[256];
  size_t len = 0;
  CHECK(gemma12b_detokenize(model, ids + 1, n2 - 1, 0, back, sizeof back, &len) == GEMMA12B_OK);
  CHECK(len == strlen(text) && strcmp(back, text) == 0);
  CHECK(gemma12b_detokenize(model, ids, n2, 0, back, 3, &len) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  const int32_t bad_id = 1 << 30;
  CHECK(gemma12b_detokenize(model, &bad_id, 1, 0, back, sizeof back, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_tokenize(model, "\xff\xfe", 2, 0, ids, 64, &n2) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "UTF-8") != NULL);
  CHECK(gemma12b_tokenize(model, text, 3, 99, ids, 64, &n2) == GEMMA12B_ERR_INVALID_ARGUMENT);
  int32_t turn_end = -1;
  CHECK(gemma12b_token_id(model, "<turn|>", &turn_end) == GEMMA12B_OK && turn_end >= 0);
  CHECK(gemma12b_token_id(model, "<no such piece>", &turn_end) == GEMMA12B_ERR_NOT_FOUND);
  CHECK(gemma12b_tokenize(NULL, text, 3, 0, ids, 64, &n2) == GEMMA12B_ERR_INVALID_ARGUMENT);

  /* ---- chat formatting ---- */
  char chat[1024];
  CHECK(gemma12b_chat_format(model,
                             "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"image\"}]}]",
                             NULL, GEMMA12B_CHAT_ADD_GENERATION_PROMPT, chat, sizeof chat, &len) == GEMMA12B_OK);
  CHECK(strcmp(chat, "<bos><|turn>user\nhi\n\n<|image|>\n\n<turn|>\n<|turn>model\n<|channel>thought\n<channel|>") == 0);
  CHECK(gemma12b_chat_format(model, "{not json", NULL, 0, chat, sizeof chat, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_chat_format(model, "[{\"role\":\"wizard\",\"content\":\"x\"}]", NULL, 0, chat, sizeof chat, &len) ==
        GEMMA12B_ERR_INVALID_ARGUMENT);

  /* ---- embedders: size query then fill; memory buffers match files ---- */
  CHECK(gemma12b_embed_image_file(model, png, 70, NULL, 0, &rows) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(rows == 70);
  float* img_rows = (float*)malloc(sizeof(float) * (size_t)(rows * n_embd));
  CHECK(gemma12b_embed_image_file(model, png, 70, img_rows, (size_t)(rows * n_embd), &rows) == GEMMA12B_OK);
  CHECK(gemma12b_embed_image_file(model, png, 71, img_rows, (size_t)(rows * n_embd), &rows) ==
        GEMMA12B_ERR_INVALID_ARGUMENT); /* not a budget */
  CHECK(gemma12b_embed_image_file(model, wav, 70, img_rows, (size_t)(rows * n_embd), &rows) != GEMMA12B_OK);
  uint8_t gray[96 * 48 * 3];
  memset(gray, 128, sizeof gray);
  int64_t gray_rows = 0;
  float* gray_out = (float*)malloc(sizeof(float) * 70 * (size_t)n_embd);
  CHECK(gemma12b_embed_image_rgb(model, gray, 96, 48, 70, gray_out, 70 * (size_t)n_embd, &gray_rows) == GEMMA12B_OK);
  CHECK(gray_rows > 0);
  CHECK(gemma12b_embed_image_rgb(model, gray, 0, 48, 70, gray_out, 70 * (size_t)n_embd, &gray_rows) ==
        GEMMA12B_ERR_INVALID_ARGUMENT);
  int64_t audio_rows = 0;
  CHECK(gemma12b_embed_audio_file(model, wav, 0, NULL, 0, &audio_rows) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(audio_rows == 50);
  float pcm[16000];
  for (int i = 0; i < 16000; ++i) pcm[i] = 0.25f * sinf(6.2831853f * 440.0f * (float)i / 16000.0f);
  float* audio_out = (float*)malloc(sizeof(float) * 25 * (size_t)n_embd);
  CHECK(gemma12b_embed_audio_pcm(model, pcm, 16000, 16000, 0, audio_out, 25 * (size_t)n_embd, &audio_rows) == GEMMA12B_OK);
  CHECK(audio_rows == 25);
  CHECK(gemma12b_embed_audio_pcm(model, pcm, 16000, 16000, 0.5f, audio_out, 25 * (size_t)n_embd, &audio_rows) ==
        GEMMA12B_ERR_INVALID_ARGUMENT); /* 1 s over a 0.5 s limit */
  CHECK(gemma12b_embed_audio_pcm(model, pcm, 0, 16000, 0, audio_out, 25 * (size_t)n_embd, &audio_rows) ==
        GEMMA12B_ERR_INVALID_ARGUMENT);

  /* ---- decoder: embeddings between marker tokens, hidden states, KV save / load ---- */
  gemma12b_context* ctx = NULL;
  gemma12b_context_params cp;
  gemma12b_context_params_init(&cp);
  cp.n_ctx = 256;
  cp.kv_type = GEMMA12B_KV_F32;
  CHECK(gemma12b_context_create(model, &cp, &ctx) == GEMMA12B_OK);
  int32_t boi = -1, eoi = -1;
  CHECK(gemma12b_token_id(model, "<|image>", &boi) == GEMMA12B_OK && gemma12b_token_id(model, "<image|>", &eoi) == GEMMA12B_OK);
  int32_t head[2] = {gemma12b_model_bos(model), boi};
  CHECK(gemma12b_decode_tokens(ctx, head, 2, 0) == GEMMA12B_OK);
  CHECK(gemma12b_decode_embeddings(ctx, img_rows, 70, 1, 0) == GEMMA12B_OK);
  CHECK(gemma12b_decode_tokens(ctx, &eoi, 1, 0) == GEMMA12B_OK);
  const float* hidden = NULL;
  int64_t hrows = 0;
  CHECK(gemma12b_context_hidden(ctx, &hidden, &hrows) == GEMMA12B_OK && hrows == 1 && hidden != NULL);
  char kv_path[1024];
  snprintf(kv_path, sizeof kv_path, "%s/capi-kv.bin", argv[6]);
  CHECK(gemma12b_kv_save(ctx, kv_path) == GEMMA12B_OK);
  const float* logits = NULL;
  int64_t lrows = 0;
  int32_t next = 300;
  CHECK(gemma12b_decode_tokens(ctx, &next, 1, 0) == GEMMA12B_OK);
  CHECK(gemma12b_context_logits(ctx, &logits, &lrows) == GEMMA12B_OK);
  const int32_t V = gemma12b_model_n_vocab(model);
  float* first = (float*)malloc(sizeof(float) * (size_t)V);
  memcpy(first, logits, sizeof(float) * (size_t)V);
  gemma12b_context* ctx2 = NULL;
  CHECK(gemma12b_context_create(model, &cp, &ctx2) == GEMMA12B_OK);
  CHECK(gemma12b_kv_load(ctx2, kv_path) == GEMMA12B_OK);
  CHECK(gemma12b_context_n_past(ctx2) == 73);
  CHECK(gemma12b_decode_tokens(ctx2, &next, 1, 0) == GEMMA12B_OK);
  CHECK(gemma12b_context_logits(ctx2, &logits, &lrows) == GEMMA12B_OK);
  CHECK(memcmp(first, logits, sizeof(float) * (size_t)V) == 0);
  CHECK(gemma12b_kv_load(ctx2, png) == GEMMA12B_ERR_CORRUPT); /* not a KV file */
  CHECK(gemma12b_context_n_past(ctx2) == 0);
  gemma12b_context* other = NULL;
  CHECK(gemma12b_context_create(text_only, &cp, &other) == GEMMA12B_OK);
  gemma12b_context_free(other);
  CHECK(gemma12b_kv_save(NULL, kv_path) == GEMMA12B_ERR_INVALID_ARGUMENT);
  remove(kv_path);

  /* ---- session: text + image + audio + video, streamed, reused, cancelled, bad input ---- */
  gemma12b_session_params sp;
  gemma12b_session_params_init(&sp);
  sp.image_tokens = 70;
  sp.n_ctx = 2048;
  sp.kv_type = GEMMA12B_KV_F32;
  gemma12b_session* s = NULL;
  CHECK(gemma12b_session_create(model, &sp, &s) == GEMMA12B_OK);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "describe these") == GEMMA12B_OK);
  CHECK(gemma12b_session_add_image_file(s, GEMMA12B_ROLE_USER, png) == GEMMA12B_OK);
  CHECK(gemma12b_session_add_audio_file(s, GEMMA12B_ROLE_USER, wav) == GEMMA12B_OK);
  CHECK(gemma12b_session_add_video_file(s, GEMMA12B_ROLE_USER, mp4) == GEMMA12B_OK);
  CHECK(gemma12b_session_add_image_rgb(s, GEMMA12B_ROLE_USER, gray, 96, 48) == GEMMA12B_OK);
  CHECK(gemma12b_session_add_audio_pcm(s, GEMMA12B_ROLE_USER, pcm, 16000, 16000) == GEMMA12B_OK);
  /* bad input changes nothing */
  CHECK(gemma12b_session_add_text(s, 7, "x") == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "\xc3\x28") == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_add_image_file(s, GEMMA12B_ROLE_USER, wav) != GEMMA12B_OK);
  CHECK(gemma12b_session_add_audio_file(s, GEMMA12B_ROLE_USER, png) != GEMMA12B_OK);
  CHECK(gemma12b_session_add_video_file(s, GEMMA12B_ROLE_USER, wav) != GEMMA12B_OK); /* no video stream */
  CHECK(gemma12b_session_add_image_file(s, GEMMA12B_ROLE_SYSTEM, png) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_add_tool_response(s, "f", "{}") == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_generate_params gp;
  gemma12b_generate_params_init(&gp);
  gp.temperature = 1.0f; /* seeded sampling: the tiny model's greedy path emits only markers */
  gp.seed = 7;
  gp.max_tokens = 12;
  Stream st;
  memset(&st, 0, sizeof st);
  gemma12b_stop_reason reason = GEMMA12B_STOP_TOKEN;
  CHECK(gemma12b_session_generate(s, &gp, on_piece, &st, &reason) == GEMMA12B_OK);
  CHECK(reason == GEMMA12B_STOP_MAX_TOKENS || reason == GEMMA12B_STOP_TOKEN);
  CHECK(st.pieces > 0);
  const int64_t rows1 = gemma12b_session_n_rows(s);
  CHECK(rows1 > 70 + 50 + 25);
  CHECK(gemma12b_session_reused_rows(s) == 0);
  CHECK(strcmp(gemma12b_session_reply_tool_calls(s), "[]") == 0);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "more") == GEMMA12B_OK);
  memset(&st, 0, sizeof st);
  st.stop_after = 2;
  CHECK(gemma12b_session_generate(s, &gp, on_piece, &st, &reason) == GEMMA12B_OK);
  CHECK(reason == GEMMA12B_STOP_CANCELLED);
  CHECK(gemma12b_session_reused_rows(s) > 70 + 50 + 25);
  CHECK(gemma12b_session_clear(s) == GEMMA12B_OK);
  CHECK(gemma12b_session_n_rows(s) == 0);
  CHECK(gemma12b_session_generate(s, &gp, NULL, NULL, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT); /* empty */
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "hi") == GEMMA12B_OK);
  CHECK(gemma12b_session_generate(s, &gp, NULL, NULL, NULL) == GEMMA12B_OK);
  gemma12b_session_params sp_bad;
  gemma12b_session_params_init(&sp_bad);
  sp_bad.image_tokens = 100;
  gemma12b_session* s_bad = NULL;
  CHECK(gemma12b_session_create(model, &sp_bad, &s_bad) == GEMMA12B_ERR_INVALID_ARGUMENT && s_bad == NULL);
  sp_bad.image_tokens = 280;
  sp_bad.kv_type = 42;
  CHECK(gemma12b_session_create(model, &sp_bad, &s_bad) == GEMMA12B_ERR_INVALID_ARGUMENT);
  /* An older caller's smaller params struct: the missing fields keep their defaults. */
  gemma12b_session_params old;
  gemma12b_session_params_init(&old);
  old.struct_size = offsetof(gemma12b_session_params, video_frame_tokens);
  old.image_tokens = 70;
  CHECK(gemma12b_session_create(model, &old, &s_bad) == GEMMA12B_OK);
  gemma12b_session_free(s_bad);
  CHECK(gemma12b_session_create(NULL, &sp, &s_bad) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_generate(NULL, &gp, NULL, NULL, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_add_text(NULL, GEMMA12B_ROLE_USER, "x") == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(log_lines >= 0);

  gemma12b_session_free(s);
  gemma12b_session_free(NULL);
  gemma12b_context_free(ctx);
  gemma12b_context_free(ctx2);
  gemma12b_model_free(text_only);
  gemma12b_model_free(model);
  free(img_rows);
  free(gray_out);
  free(audio_out);
  free(first);
  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
