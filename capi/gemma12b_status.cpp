// Version, status strings, the per-thread last error and the log callback.
#include <string>

#include "capi_internal.h"
#include "util/log.h"

namespace gemma12b::capi {
namespace {
thread_local std::string g_last_error;
}

gemma12b_status fail(gemma12b_status code, const std::string& message) {
  g_last_error = message;
  return code;
}

gemma12b_status ok() {
  g_last_error.clear();
  return GEMMA12B_OK;
}

gemma12b_status fail(const Status& s) {
  if (s.ok()) return ok();
  gemma12b_status code = GEMMA12B_ERR_INTERNAL;
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition: code = GEMMA12B_ERR_INVALID_ARGUMENT; break;
    case absl::StatusCode::kNotFound: code = GEMMA12B_ERR_NOT_FOUND; break;
    case absl::StatusCode::kDataLoss: code = GEMMA12B_ERR_CORRUPT; break;
    case absl::StatusCode::kUnimplemented: code = GEMMA12B_ERR_UNSUPPORTED; break;
    case absl::StatusCode::kOutOfRange: code = GEMMA12B_ERR_OUT_OF_RANGE; break;
    case absl::StatusCode::kResourceExhausted: code = GEMMA12B_ERR_OUT_OF_MEMORY; break;
    case absl::StatusCode::kCancelled: code = GEMMA12B_ERR_CANCELLED; break;
    default: break;
  }
  return fail(code, std::string(s.message()));
}

void forward_log(LogLevel level, std::string_view message, void* user_data) {
  auto* t = static_cast<LogTarget*>(user_data);
  const std::string m(message);
  t->fn(static_cast<gemma12b_log_level>(level), m.c_str(), t->user_data);
}

}  // namespace gemma12b::capi

extern "C" {

const char* gemma12b_version(void) { return GEMMA12B_VERSION_STRING; }
int32_t gemma12b_abi_version(void) { return GEMMA12B_ABI_VERSION; }
const char* gemma12b_last_error(void) { return gemma12b::capi::g_last_error.c_str(); }

const char* gemma12b_status_string(gemma12b_status status) {
  switch (status) {
    case GEMMA12B_OK: return "ok";
    case GEMMA12B_ERR_INVALID_ARGUMENT: return "invalid argument";
    case GEMMA12B_ERR_NOT_FOUND: return "not found";
    case GEMMA12B_ERR_CORRUPT: return "corrupt file";
    case GEMMA12B_ERR_UNSUPPORTED: return "unsupported";
    case GEMMA12B_ERR_OUT_OF_RANGE: return "out of range";
    case GEMMA12B_ERR_OUT_OF_MEMORY: return "out of memory";
    case GEMMA12B_ERR_CANCELLED: return "cancelled";
    case GEMMA12B_ERR_INTERNAL: return "internal error";
    case GEMMA12B_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case GEMMA12B_END: return "end of reply";
    default: return "unknown status";
  }
}

namespace {
gemma12b::capi::LogTarget g_log_target{nullptr, nullptr};
}  // namespace

void gemma12b_set_log_callback(gemma12b_log_fn fn, void* user_data) {
  if (fn == nullptr) {
    gemma12b::set_log_sink(nullptr, nullptr);
    return;
  }
  g_log_target = gemma12b::capi::LogTarget{fn, user_data};
  gemma12b::set_log_sink(&gemma12b::capi::forward_log, &g_log_target);
}

}  // extern "C"
