// Minimal leveled logging with a replaceable sink. The library never writes to stdout; without a
// sink, warnings and errors go to stderr.
#pragma once

#include <string_view>

#include "absl/strings/str_format.h"  // absl::StrFormat

namespace gemma12b {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// A sink receives one complete message (no trailing newline). user_data is passed back as given.
using LogSink = void (*)(LogLevel level, std::string_view message, void* user_data);

// Sets the process-wide default sink (atomic; nullptr restores the stderr default).
void set_log_sink(LogSink sink, void* user_data);
void log_message(LogLevel level, std::string_view message);

// While alive, messages logged by this thread go to `sink` instead of the process-wide one (a
// per-model sink set for the duration of a call on that model). Nests; a null sink is a no-op.
class ScopedLogSink {
 public:
  ScopedLogSink(LogSink sink, void* user_data);
  ~ScopedLogSink();
  ScopedLogSink(const ScopedLogSink&) = delete;
  ScopedLogSink& operator=(const ScopedLogSink&) = delete;

 private:
  LogSink prev_sink_;
  void* prev_user_data_;
};

template <typename... Args>
void log_info(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  log_message(LogLevel::kInfo, absl::StrFormat(fmt, args...));
}
template <typename... Args>
void log_warn(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  log_message(LogLevel::kWarn, absl::StrFormat(fmt, args...));
}

}  // namespace gemma12b
