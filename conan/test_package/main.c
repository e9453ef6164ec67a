/* The packaged library from C: with a model (argv[1] or $GEMMA12B_TEST_MODEL) a short greedy
 * generation runs; without one, a load error comes back as a status. */
#include <stdio.h>
#include <stdlib.h>

#include <gemma12b.h>

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : getenv("GEMMA12B_TEST_MODEL");
  gemma12b_model* model = NULL;
  int ok = gemma12b_model_load("/nonexistent.gguf", NULL, &model) == GEMMA12B_ERR_NOT_FOUND;
  if (ok && path != NULL) {
    ok = gemma12b_model_load(path, NULL, &model) == GEMMA12B_OK;
    gemma12b_context* ctx = NULL;
    if (ok) ok = gemma12b_context_create(model, NULL, &ctx) == GEMMA12B_OK;
    const int32_t prompt[8] = {2, 126, 308, 283, 71, 194, 314, 247};
    int32_t out[4];
    size_t n = 0;
    gemma12b_generate_params gp;
    gemma12b_generate_params_init(&gp);
    gp.temperature = 0.0f;
    gp.max_tokens = 4;
    if (ok) ok = gemma12b_generate(ctx, prompt, 8, &gp, NULL, NULL, out, 4, &n, NULL) == GEMMA12B_OK && n == 4;
    gemma12b_context_free(ctx);
    gemma12b_model_free(model);
  }
  printf("gemma12b %s from the Conan package (C): %s\n", gemma12b_version(), ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
