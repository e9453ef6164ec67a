/* Step-wise session generation (gemma12b_session_begin / _next_piece / _finish) from C11, with
 * its error paths. Usage: test_capi_stream MODEL.gguf MMPROJ.gguf */
#include <stddef.h>
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

/* Every piece of a reply in order: kinds and the bytes, with a separator after each piece so that
 * two streams compare equal only when they were cut into the same pieces. */
typedef struct {
  int pieces;
  size_t bytes;
  char text[8192];
} Transcript;

static void append(Transcript* t, int32_t kind, const char* text, size_t len) {
  if (t->bytes + len + 3 >= sizeof t->text) return;
  t->text[t->bytes++] = (char)('0' + kind);
  memcpy(t->text + t->bytes, text, len);
  t->bytes += len;
  t->text[t->bytes++] = '|';
  t->text[t->bytes] = '\0';
  ++t->pieces;
}

static int on_piece(int32_t kind, const char* text, size_t len, void* user_data) {
  append((Transcript*)user_data, kind, text, len);
  return 1;
}

static gemma12b_session* new_session(gemma12b_model* model) {
  gemma12b_session_params sp;
  gemma12b_session_params_init(&sp);
  sp.n_ctx = 512;
  sp.kv_type = GEMMA12B_KV_F32;
  gemma12b_session* s = NULL;
  CHECK(gemma12b_session_create(model, &sp, &s) == GEMMA12B_OK);
  return s;
}

/* Pulls pieces to the end; returns the last status (GEMMA12B_END when all went well). */
static gemma12b_status pull_all(gemma12b_session* s, Transcript* t) {
  int32_t kind = -1;
  const char* text = NULL;
  size_t len = 0;
  gemma12b_status st;
  while ((st = gemma12b_session_next_piece(s, &kind, &text, &len)) == GEMMA12B_OK) {
    CHECK(kind >= GEMMA12B_PIECE_CONTENT && kind <= GEMMA12B_PIECE_TOOL_CALL);
    CHECK(text != NULL && len > 0);
    append(t, kind, text, len);
  }
  return st;
}

/* The same conversation through the callback and step by step gives the same pieces, reply and
 * stop reason. */
static void check_step_equals_callback(gemma12b_model* model, float temperature, int64_t max_tokens) {
  gemma12b_generate_params gp;
  gemma12b_generate_params_init(&gp);
  gp.temperature = temperature;
  gp.seed = 7;
  gp.max_tokens = max_tokens;
  gemma12b_session* a = new_session(model);
  gemma12b_session* b = new_session(model);
  for (int turn = 0; turn < 2; ++turn) { /* the second turn reuses the cache */
    const char* say = turn == 0 ? "the cat sat on the mat" : "and then";
    CHECK(gemma12b_session_add_text(a, GEMMA12B_ROLE_USER, say) == GEMMA12B_OK);
    CHECK(gemma12b_session_add_text(b, GEMMA12B_ROLE_USER, say) == GEMMA12B_OK);
    Transcript by_callback, by_step;
    memset(&by_callback, 0, sizeof by_callback);
    memset(&by_step, 0, sizeof by_step);
    gemma12b_stop_reason ra = GEMMA12B_STOP_CANCELLED, rb = GEMMA12B_STOP_CANCELLED;
    CHECK(gemma12b_session_generate(a, &gp, on_piece, &by_callback, &ra) == GEMMA12B_OK);
    CHECK(gemma12b_session_begin(b, &gp) == GEMMA12B_OK);
    CHECK(pull_all(b, &by_step) == GEMMA12B_END);
    CHECK(strcmp(gemma12b_last_error(), "") == 0); /* the end is not an error */
    CHECK(gemma12b_session_finish(b, &rb) == GEMMA12B_OK);
    CHECK(gemma12b_session_finish(b, NULL) == GEMMA12B_OK); /* again: only reports */
    printf("temperature %.1f, turn %d: %d pieces, %zu bytes, stop reason %d\n", (double)temperature, turn,
           by_step.pieces, by_step.bytes, (int)rb);
    CHECK(ra == rb);
    CHECK(by_step.pieces > 0);
    CHECK(by_callback.pieces == by_step.pieces);
    CHECK(by_callback.bytes == by_step.bytes && strcmp(by_callback.text, by_step.text) == 0);
    CHECK(strcmp(gemma12b_session_reply_content(a), gemma12b_session_reply_content(b)) == 0);
    CHECK(strcmp(gemma12b_session_reply_reasoning(a), gemma12b_session_reply_reasoning(b)) == 0);
    CHECK(strcmp(gemma12b_session_reply_tool_calls(a), gemma12b_session_reply_tool_calls(b)) == 0);
    CHECK(gemma12b_session_n_rows(a) == gemma12b_session_n_rows(b));
    CHECK(gemma12b_session_reused_rows(a) == gemma12b_session_reused_rows(b));
    if (turn == 1) CHECK(gemma12b_session_reused_rows(b) > 0);
  }
  gemma12b_session_free(a);
  gemma12b_session_free(b);
}

static void check_step_errors(gemma12b_model* model) {
  gemma12b_session* s = new_session(model);
  int32_t kind = -1;
  const char* text = NULL;
  size_t len = 0;
  gemma12b_stop_reason reason = GEMMA12B_STOP_TOKEN;
  gemma12b_generate_params gp;
  gemma12b_generate_params_init(&gp);
  gp.temperature = 1.0f;
  gp.seed = 7;
  gp.max_tokens = 16;

  /* Nothing open: next and finish say so; begin on an empty conversation fails and opens nothing. */
  CHECK(gemma12b_session_next_piece(s, &kind, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "begin") != NULL);
  CHECK(gemma12b_session_finish(s, &reason) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_begin(s, &gp) == GEMMA12B_ERR_INVALID_ARGUMENT); /* empty conversation */
  CHECK(gemma12b_session_next_piece(s, &kind, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);

  /* Bad arguments. */
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "the cat sat on the mat") == GEMMA12B_OK);
  CHECK(gemma12b_session_begin(NULL, &gp) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_generate_params bad = gp;
  bad.struct_size = 0;
  CHECK(gemma12b_session_begin(s, &bad) == GEMMA12B_ERR_INVALID_ARGUMENT);
  bad = gp;
  bad.max_tokens = 0;
  CHECK(gemma12b_session_begin(s, &bad) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_next_piece(NULL, &kind, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_finish(NULL, &reason) == GEMMA12B_ERR_INVALID_ARGUMENT);

  /* Open: a second begin, changes to the conversation and generate are refused; the reply goes on. */
  CHECK(gemma12b_session_begin(s, &gp) == GEMMA12B_OK);
  CHECK(gemma12b_session_next_piece(s, NULL, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_next_piece(s, &kind, NULL, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_next_piece(s, &kind, &text, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_begin(s, &gp) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "already open") != NULL);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "more") == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "being generated") != NULL);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_MODEL, "more") == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_generate(s, &gp, NULL, NULL, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(gemma12b_session_reply_content(s), "") == 0);
  CHECK(gemma12b_session_next_piece(s, &kind, &text, &len) == GEMMA12B_OK);
  CHECK(len > 0);

  /* Finishing early stops there: the reply so far joins the conversation as cancelled. */
  CHECK(gemma12b_session_finish(s, &reason) == GEMMA12B_OK);
  CHECK(reason == GEMMA12B_STOP_CANCELLED);
  CHECK(gemma12b_session_next_piece(s, &kind, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  const int64_t rows = gemma12b_session_n_rows(s);
  CHECK(rows > 0);

  /* The session goes on: a new turn, generated to its end, reuses what the cache holds. */
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "and then") == GEMMA12B_OK);
  CHECK(gemma12b_session_begin(s, &gp) == GEMMA12B_OK);
  Transcript t;
  memset(&t, 0, sizeof t);
  CHECK(pull_all(s, &t) == GEMMA12B_END);
  CHECK(gemma12b_session_reused_rows(s) > 0);
  CHECK(gemma12b_session_next_piece(s, &kind, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_finish(s, &reason) == GEMMA12B_OK);
  CHECK(reason == GEMMA12B_STOP_TOKEN || reason == GEMMA12B_STOP_MAX_TOKENS);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "again") == GEMMA12B_OK);
  CHECK(gemma12b_session_generate(s, &gp, NULL, NULL, &reason) == GEMMA12B_OK);

  /* An older caller's smaller generate params still work (the missing fields keep defaults). */
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "once more") == GEMMA12B_OK);
  gemma12b_generate_params old = gp;
  old.struct_size = offsetof(gemma12b_generate_params, max_tokens);
  CHECK(gemma12b_session_begin(s, &old) == GEMMA12B_OK);

  /* clear drops an open reply. */
  CHECK(gemma12b_session_clear(s) == GEMMA12B_OK);
  CHECK(gemma12b_session_next_piece(s, &kind, &text, &len) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_finish(s, &reason) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_session_n_rows(s) == 0);
  CHECK(gemma12b_session_add_text(s, GEMMA12B_ROLE_USER, "hi") == GEMMA12B_OK);
  CHECK(gemma12b_session_begin(s, NULL) == GEMMA12B_OK); /* NULL params: the defaults */
  gemma12b_session_free(s); /* freeing with a reply open is fine */
  CHECK(strcmp(gemma12b_status_string(GEMMA12B_END), "end of reply") == 0);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf\n", argv[0]);
    return 2;
  }
  gemma12b_model_params mp;
  gemma12b_model_params_init(&mp);
  mp.mmproj = argv[2];
  mp.n_threads = 2;
  gemma12b_model* model = NULL;
  CHECK(gemma12b_model_load(argv[1], &mp, &model) == GEMMA12B_OK);
  if (model == NULL) return 1;

  check_step_equals_callback(model, 0.0f, 12); /* greedy */
  check_step_equals_callback(model, 1.0f, 24); /* seeded sampling: more varied pieces */
  check_step_errors(model);

  gemma12b_model_free(model);
  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
