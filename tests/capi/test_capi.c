/* The C ABI from C11: load, decode, generate, KV control, and every error path leaves the
 * library usable. Usage: test_capi MODEL.gguf */
#include <math.h>
#include <stdio.h>
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

static int count_tokens(int32_t token, void* user_data) {
  (void)token;
  int* n = (int*)user_data;
  return ++*n < 3; /* cancel after the third token */
}

static int progress_calls = 0;
static int on_progress(float f, void* user_data) {
  (void)user_data;
  ++progress_calls;
  return f >= 0.0f && f <= 1.0f;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
    return 2;
  }
  CHECK(gemma12b_abi_version() == GEMMA12B_ABI_VERSION);
  CHECK(strlen(gemma12b_version()) > 0);
  CHECK(strcmp(gemma12b_status_string(GEMMA12B_ERR_NOT_FOUND), "not found") == 0);

  /* Errors: NULL arguments, a missing file, a non-model file, a bad struct_size. */
  gemma12b_model* model = NULL;
  CHECK(gemma12b_model_load(NULL, NULL, &model) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_model_load(argv[1], NULL, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_model_load("/nonexistent/model.gguf", NULL, &model) == GEMMA12B_ERR_NOT_FOUND);
  CHECK(strstr(gemma12b_last_error(), "/nonexistent/model.gguf") != NULL);
  CHECK(model == NULL);
  gemma12b_model_params mp;
  memset(&mp, 0, sizeof(mp));
  CHECK(gemma12b_model_load(argv[1], &mp, &model) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_model_params_init(&mp);
  mp.backend = 42;
  CHECK(gemma12b_model_load(argv[1], &mp, &model) == GEMMA12B_ERR_INVALID_ARGUMENT);

  /* The CPU backend's file-layout switch (no x16 copy of q4_0 matrices) loads as well. */
  gemma12b_model_params_init(&mp);
  CHECK(mp.cpu_file_layout == 0);
  mp.cpu_file_layout = 1;
  CHECK(gemma12b_model_load(argv[1], &mp, &model) == GEMMA12B_OK);
  if (model != NULL) CHECK(gemma12b_model_n_vocab(model) == 373);
  gemma12b_model_free(model);
  model = NULL;

  gemma12b_model_params_init(&mp);
  mp.n_threads = 2;
  mp.progress = on_progress;
  CHECK(gemma12b_model_load(argv[1], &mp, &model) == GEMMA12B_OK);
  if (model == NULL) return 1;
  CHECK(progress_calls > 0);
  CHECK(strlen(gemma12b_last_error()) == 0);
  const int32_t n_vocab = gemma12b_model_n_vocab(model);
  CHECK(n_vocab == 373);
  CHECK(gemma12b_model_n_embd(model) == 256);
  CHECK(gemma12b_model_n_layers(model) == 6);
  CHECK(gemma12b_model_bos(model) == 2);

  gemma12b_context_params cp;
  gemma12b_context_params_init(&cp);
  cp.n_ctx = 64;
  cp.kv_type = GEMMA12B_KV_F32;
  gemma12b_context* ctx = NULL;
  CHECK(gemma12b_context_create(model, &cp, &ctx) == GEMMA12B_OK);
  if (ctx == NULL) return 1;

  /* Decode the golden 8-token prompt; its greedy continuation is token 247 (golden README). */
  const int32_t prompt[8] = {2, 126, 308, 283, 71, 194, 314, 247};
  CHECK(gemma12b_decode_tokens(ctx, prompt, 8, 1) == GEMMA12B_OK);
  const float* logits = NULL;
  int64_t rows = 0;
  CHECK(gemma12b_context_logits(ctx, &logits, &rows) == GEMMA12B_OK);
  CHECK(rows == 8);
  int best = 0;
  for (int i = 1; i < n_vocab; ++i) {
    if (logits[7 * n_vocab + i] > logits[7 * n_vocab + best]) best = i;
  }
  CHECK(best == 247);
  for (int i = 0; i < 8 * n_vocab; ++i) CHECK(fabsf(logits[i]) <= 30.0f); /* soft-capped */
  CHECK(gemma12b_context_n_past(ctx) == 8);

  /* Bad token: an error, the context unchanged and still usable. */
  const int32_t bad[2] = {2, 100000};
  CHECK(gemma12b_decode_tokens(ctx, bad, 2, 0) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_context_n_past(ctx) == 8);
  CHECK(gemma12b_decode_tokens(ctx, NULL, 1, 0) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_kv_truncate(ctx, 100) == GEMMA12B_ERR_INVALID_ARGUMENT);

  /* Generation, greedy, from a cleared context. */
  CHECK(gemma12b_kv_clear(ctx) == GEMMA12B_OK);
  gemma12b_generate_params gp;
  gemma12b_generate_params_init(&gp);
  gp.temperature = 0.0f;
  gp.max_tokens = 16;
  int32_t out[16];
  size_t n_out = 0;
  gemma12b_stop_reason reason = GEMMA12B_STOP_TOKEN;
  CHECK(gemma12b_generate(ctx, prompt, 8, &gp, NULL, NULL, out, 16, &n_out, &reason) == GEMMA12B_OK);
  CHECK(n_out == 16);
  CHECK(reason == GEMMA12B_STOP_MAX_TOKENS);
  for (size_t i = 0; i < n_out; ++i) CHECK(out[i] == 247);

  /* A callback that cancels after three tokens. */
  CHECK(gemma12b_kv_clear(ctx) == GEMMA12B_OK);
  int seen = 0;
  CHECK(gemma12b_generate(ctx, prompt, 8, &gp, count_tokens, &seen, NULL, 0, &n_out, &reason) == GEMMA12B_OK);
  CHECK(seen == 3);
  CHECK(n_out == 3);
  CHECK(reason == GEMMA12B_STOP_CANCELLED);

  /* The context fills up: generation stops with a reason, a further decode is out of range. */
  CHECK(gemma12b_kv_clear(ctx) == GEMMA12B_OK);
  gp.max_tokens = 1000;
  CHECK(gemma12b_generate(ctx, prompt, 8, &gp, NULL, NULL, NULL, 0, &n_out, &reason) == GEMMA12B_OK);
  CHECK(reason == GEMMA12B_STOP_CONTEXT_FULL);
  CHECK(gemma12b_context_n_past(ctx) == 64);
  CHECK(gemma12b_decode_tokens(ctx, prompt, 1, 0) == GEMMA12B_ERR_OUT_OF_RANGE);

  /* KV copy into a second context continues identically. */
  gemma12b_context* ctx2 = NULL;
  CHECK(gemma12b_context_create(model, &cp, &ctx2) == GEMMA12B_OK);
  CHECK(gemma12b_kv_truncate(ctx, 8) == GEMMA12B_OK);
  CHECK(gemma12b_context_n_past(ctx) == 8);
  CHECK(gemma12b_kv_clear(ctx) == GEMMA12B_OK);
  CHECK(gemma12b_decode_tokens(ctx, prompt, 7, 0) == GEMMA12B_OK);
  CHECK(gemma12b_kv_copy(ctx2, ctx) == GEMMA12B_OK);
  CHECK(gemma12b_decode_tokens(ctx, prompt + 7, 1, 0) == GEMMA12B_OK);
  CHECK(gemma12b_decode_tokens(ctx2, prompt + 7, 1, 0) == GEMMA12B_OK);
  const float *l1 = NULL, *l2 = NULL;
  int64_t r1 = 0, r2 = 0;
  CHECK(gemma12b_context_logits(ctx, &l1, &r1) == GEMMA12B_OK);
  CHECK(gemma12b_context_logits(ctx2, &l2, &r2) == GEMMA12B_OK);
  CHECK(r1 == 1 && r2 == 1 && memcmp(l1, l2, sizeof(float) * (size_t)n_vocab) == 0);

  gemma12b_context_free(ctx2);
  gemma12b_context_free(ctx);
  gemma12b_model_free(model);
  gemma12b_model_free(NULL);
  gemma12b_context_free(NULL);
  printf("test_capi: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
