// Shared by the C ABI's translation units: handle structs, error recording and the guard that
// keeps exceptions from crossing the boundary.
#pragma once

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "gemma12b.h"
#include "model/decoder.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "util/status.h"

struct gemma12b_model {
  std::unique_ptr<gemma12b::Device> device;
  std::unique_ptr<gemma12b::Model> model;
};

struct gemma12b_context {
  gemma12b_model* model = nullptr;
  gemma12b::KvCacheOptions kv_options;
  std::unique_ptr<gemma12b::KvCache> kv;
  std::unique_ptr<gemma12b::Decoder> decoder;
  gemma12b::DecodeOutput last;
};

namespace gemma12b::capi {

// Records `s` as the thread's last error and returns its C status (GEMMA12B_OK when ok).
gemma12b_status fail(const Status& s);
gemma12b_status fail(gemma12b_status code, const std::string& message);
gemma12b_status ok();

}  // namespace gemma12b::capi

// Runs a body returning gemma12b_status; any exception becomes an error status.
#define GEMMA12B_CAPI_GUARD(body)                                                              \
  try {                                                                                        \
    body                                                                                       \
  } catch (const std::bad_alloc&) {                                                            \
    return ::gemma12b::capi::fail(GEMMA12B_ERR_OUT_OF_MEMORY, "out of memory");                \
  } catch (const std::exception& e) {                                                          \
    return ::gemma12b::capi::fail(GEMMA12B_ERR_INTERNAL, std::string("internal error: ") + e.what()); \
  } catch (...) {                                                                              \
    return ::gemma12b::capi::fail(GEMMA12B_ERR_INTERNAL, "internal error");                    \
  }

#define GEMMA12B_CHECK_ARG(cond, msg) \
  if (!(cond)) return ::gemma12b::capi::fail(GEMMA12B_ERR_INVALID_ARGUMENT, msg)
