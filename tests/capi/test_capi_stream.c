/* Step-wise session generation (gemma12b_session_begin / _next_piece / _finish) and the video
 * embedder (gemma12b_embed_video_file), from C11, with their error paths.
 * Usage: test_capi_stream MODEL.gguf MMPROJ.gguf VIDEO.mp4 AUDIO.wav
 * The video is tests/fixtures/media/rgb-3s.mp4: 64x48 at 10 fps, 3 s, with a stereo AAC track. */
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

static void check_video(gemma12b_model* model, gemma12b_model* text_only, const char* mp4, const char* wav) {
  const int32_t n_embd = gemma12b_model_n_embd(model);
  int64_t rows = -1;
  size_t n_blocks = 0;
  /* Size query: 3 s at 1 fps = 3 frames of a 64x48 video, 9x7 = 63 rows each at 70 tokens. */
  CHECK(gemma12b_embed_video_file(model, mp4, NULL, NULL, 0, &rows, NULL, 0, &n_blocks) ==
        GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(rows == 3 * 63 && n_blocks == 3);
  gemma12b_video_params vp;
  gemma12b_video_params_init(&vp);
  CHECK(vp.struct_size == sizeof vp && vp.fps == 1.0f && vp.max_frames == 32 && vp.frame_tokens == 70 &&
        vp.with_audio == 0 && vp.max_audio_seconds == 30.0f);
  vp.with_audio = 1;
  /* One call with buffers of the header's bound. */
  const size_t bound = (size_t)vp.max_frames * (size_t)vp.frame_tokens + (size_t)(25.0f * vp.max_audio_seconds) + 1;
  float* out = (float*)malloc(sizeof(float) * bound * (size_t)n_embd);
  gemma12b_video_block blocks[33];
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, out, bound * (size_t)n_embd, &rows, blocks, 33, &n_blocks) ==
        GEMMA12B_OK);
  CHECK(n_blocks == 4);
  int64_t next_row = 0;
  for (size_t i = 0; i < n_blocks && i < 4; ++i) {
    CHECK(blocks[i].first_row == next_row);
    next_row += blocks[i].n_rows;
    if (i < 3) {
      CHECK(blocks[i].kind == GEMMA12B_VIDEO_BLOCK_FRAME);
      CHECK(blocks[i].n_rows == 63);
      CHECK(blocks[i].t_seconds > (double)i - 0.06 && blocks[i].t_seconds < (double)i + 0.06);
    } else {
      CHECK(blocks[i].kind == GEMMA12B_VIDEO_BLOCK_AUDIO);
      CHECK(blocks[i].t_seconds == 0.0);
      CHECK(blocks[i].n_rows >= 74 && blocks[i].n_rows <= 77); /* 3 s at 25 rows per second */
    }
  }
  CHECK(next_row == rows);
  /* The frames are red, green and blue: different rows; the same call again gives the same rows. */
  CHECK(memcmp(out, out + 63 * (size_t)n_embd, sizeof(float) * 63 * (size_t)n_embd) != 0);
  float* again = (float*)malloc(sizeof(float) * (size_t)rows * (size_t)n_embd);
  int64_t rows2 = 0;
  size_t n_blocks2 = 0;
  gemma12b_video_block blocks2[4];
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, again, (size_t)rows * (size_t)n_embd, &rows2, blocks2, 4,
                                  &n_blocks2) == GEMMA12B_OK);
  CHECK(rows2 == rows && n_blocks2 == 4 && memcmp(out, again, sizeof(float) * (size_t)rows * (size_t)n_embd) == 0);

  /* Too few blocks (rows would fit): both sizes reported, nothing written. */
  memset(again, 0, sizeof(float) * (size_t)n_embd);
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, again, (size_t)rows * (size_t)n_embd, &rows2, blocks2, 3,
                                  &n_blocks2) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(rows2 == rows && n_blocks2 == 4 && again[0] == 0.0f);

  /* Options: more frames per second, fewer frames, a bigger budget per frame. */
  gemma12b_video_params_init(&vp);
  vp.fps = 2.0f;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(n_blocks == 6 && rows == 6 * 63);
  vp.max_frames = 2;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(n_blocks == 2);
  gemma12b_video_params_init(&vp);
  vp.frame_tokens = 140;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(n_blocks == 3 && rows > 3 * 63 && rows <= 3 * 140);
  /* An older caller's struct without frame_tokens: the default (70) applies. */
  gemma12b_video_params_init(&vp);
  vp.struct_size = offsetof(gemma12b_video_params, frame_tokens);
  vp.frame_tokens = 1120;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_BUFFER_TOO_SMALL);
  CHECK(rows == 3 * 63);

  /* Bad options, arguments and files. */
  gemma12b_video_params_init(&vp);
  vp.fps = 0.0f;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "fps") != NULL);
  vp.fps = 61.0f;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_video_params_init(&vp);
  vp.max_frames = 0;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_video_params_init(&vp);
  vp.frame_tokens = 71;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_video_params_init(&vp);
  vp.max_audio_seconds = 0.0f;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_video_params_init(&vp);
  vp.with_audio = 1;
  vp.max_audio_seconds = 1.0f; /* the 3 s track is refused */
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  gemma12b_video_params_init(&vp);
  vp.struct_size = 0;
  CHECK(gemma12b_embed_video_file(model, mp4, &vp, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(NULL, mp4, NULL, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(model, NULL, NULL, NULL, 0, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(model, mp4, NULL, NULL, 0, NULL, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(model, mp4, NULL, NULL, 0, &rows, NULL, 0, NULL) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(model, mp4, NULL, NULL, 10, &rows, NULL, 0, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(model, mp4, NULL, NULL, 0, &rows, NULL, 2, &n_blocks) == GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(gemma12b_embed_video_file(model, "/nonexistent/video.mp4", NULL, NULL, 0, &rows, NULL, 0, &n_blocks) ==
        GEMMA12B_ERR_NOT_FOUND);
  CHECK(gemma12b_embed_video_file(model, wav, NULL, NULL, 0, &rows, NULL, 0, &n_blocks) != GEMMA12B_OK);
  CHECK(gemma12b_embed_video_file(text_only, mp4, NULL, NULL, 0, &rows, NULL, 0, &n_blocks) ==
        GEMMA12B_ERR_INVALID_ARGUMENT);
  CHECK(strstr(gemma12b_last_error(), "projector") != NULL);
  gemma12b_video_params_init(NULL); /* ignored */
  free(out);
  free(again);
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s MODEL.gguf MMPROJ.gguf VIDEO.mp4 AUDIO.wav\n", argv[0]);
    return 2;
  }
  gemma12b_model_params mp;
  gemma12b_model_params_init(&mp);
  mp.mmproj = argv[2];
  mp.n_threads = 2;
  gemma12b_model* model = NULL;
  CHECK(gemma12b_model_load(argv[1], &mp, &model) == GEMMA12B_OK);
  gemma12b_model* text_only = NULL;
  CHECK(gemma12b_model_load(argv[1], NULL, &text_only) == GEMMA12B_OK);
  if (model == NULL || text_only == NULL) return 1;

  check_step_equals_callback(model, 0.0f, 12); /* greedy */
  check_step_equals_callback(model, 1.0f, 24); /* seeded sampling: more varied pieces */
  check_step_errors(model);
  check_video(model, text_only, argv[3], argv[4]);

  gemma12b_model_free(text_only);
  gemma12b_model_free(model);
  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
