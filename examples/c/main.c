/* A C11 consumer of the installed gemma12b package:
 *   cc main.c $(pkg-config --cflags --libs gemma12b) -o gemma12b-c-example
 *   ./gemma12b-c-example MODEL.gguf 2,105,2364    (prompt as token ids) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gemma12b.h>

static int print_token(int32_t token, void* user_data) {
  (void)user_data;
  printf(" %d", token);
  fflush(stdout);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.gguf TOKEN,TOKEN,...\n", argv[0]);
    return 2;
  }
  int32_t prompt[256];
  size_t n = 0;
  for (char* tok = strtok(argv[2], ","); tok != NULL && n < 256; tok = strtok(NULL, ",")) prompt[n++] = (int32_t)atoi(tok);

  /* readme:begin */
  gemma12b_model* model = NULL;
  if (gemma12b_model_load(argv[1], NULL, &model) != GEMMA12B_OK) {
    fprintf(stderr, "load failed: %s\n", gemma12b_last_error());
    return 1;
  }
  gemma12b_context* ctx = NULL;
  if (gemma12b_context_create(model, NULL, &ctx) != GEMMA12B_OK) {
    fprintf(stderr, "context failed: %s\n", gemma12b_last_error());
    gemma12b_model_free(model);
    return 1;
  }
  gemma12b_generate_params gp;
  gemma12b_generate_params_init(&gp);
  gp.temperature = 0.0f;
  gp.max_tokens = 16;
  printf("gemma12b %s, generated:", gemma12b_version());
  const gemma12b_status s = gemma12b_generate(ctx, prompt, n, &gp, print_token, NULL, NULL, 0, NULL, NULL);
  /* readme:end */
  printf("\n");
  if (s != GEMMA12B_OK) fprintf(stderr, "generate failed: %s\n", gemma12b_last_error());
  gemma12b_context_free(ctx);
  gemma12b_model_free(model);
  return s == GEMMA12B_OK ? 0 : 1;
}
