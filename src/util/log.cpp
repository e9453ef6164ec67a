#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace gemma12b {
namespace {

struct SinkState {
  LogSink sink = nullptr;
  void* user_data = nullptr;
};
std::mutex g_mutex;
SinkState g_sink;
thread_local SinkState t_sink;  // a ScopedLogSink's, when set

}  // namespace

ScopedLogSink::ScopedLogSink(LogSink sink, void* user_data)
    : prev_sink_(t_sink.sink), prev_user_data_(t_sink.user_data) {
  if (sink != nullptr) t_sink = {sink, user_data};
}

ScopedLogSink::~ScopedLogSink() { t_sink = {prev_sink_, prev_user_data_}; }

void set_log_sink(LogSink sink, void* user_data) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sink = {sink, user_data};
}

void log_message(LogLevel level, std::string_view message) {
  SinkState s = t_sink;
  if (s.sink == nullptr) {
    std::lock_guard<std::mutex> lock(g_mutex);
    s = g_sink;
  }
  if (s.sink) {
    s.sink(level, message, s.user_data);
    return;
  }
  if (level >= LogLevel::kWarn) {
    std::fprintf(stderr, "gemma12b: %.*s\n", static_cast<int>(message.size()), message.data());
  }
}

}  // namespace gemma12b
