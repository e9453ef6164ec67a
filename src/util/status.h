// Status and StatusOr for fallible paths inside the library (Abseil's, since the toolchain has no
// std::expected). Nothing below the C ABI throws on bad input; the C ABI maps these to codes.
#pragma once

#include "absl/status/status.h"      // absl::Status
#include "absl/status/statusor.h"    // absl::StatusOr
#include "absl/strings/str_format.h" // absl::StrFormat

namespace gemma12b {

using Status = absl::Status;
template <typename T>
using StatusOr = absl::StatusOr<T>;

inline Status OkStatus() { return absl::OkStatus(); }

template <typename... Args>
Status InvalidArgument(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrFormat(fmt, args...));
}
template <typename... Args>
Status DataLoss(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  return absl::DataLossError(absl::StrFormat(fmt, args...));
}
template <typename... Args>
Status Unimplemented(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  return absl::UnimplementedError(absl::StrFormat(fmt, args...));
}
template <typename... Args>
Status NotFound(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  return absl::NotFoundError(absl::StrFormat(fmt, args...));
}
template <typename... Args>
Status Internal(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  return absl::InternalError(absl::StrFormat(fmt, args...));
}

}  // namespace gemma12b

// Propagate a non-OK Status to the caller.
#define G12_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status g12_status_ = (expr);           \
    if (!g12_status_.ok()) return g12_status_;     \
  } while (0)

#define G12_CONCAT_INNER_(a, b) a##b
#define G12_CONCAT_(a, b) G12_CONCAT_INNER_(a, b)
// `G12_ASSIGN_OR_RETURN(auto x, Foo());` assigns the value or propagates the error.
#define G12_ASSIGN_OR_RETURN(lhs, rexpr) \
  G12_ASSIGN_OR_RETURN_IMPL_(G12_CONCAT_(g12_statusor_, __LINE__), lhs, rexpr)
#define G12_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
