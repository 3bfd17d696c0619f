// Early-return helpers for absl::Status / absl::StatusOr.
//
// Debian's Abseil (20220623) ships neither ABSL_RETURN_IF_ERROR nor
// ABSL_ASSIGN_OR_RETURN, so sslab defines them once, here.
#ifndef SSLAB_COMMON_STATUS_MACROS_H_
#define SSLAB_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SSLAB_STATUS_CONCAT_INNER_(a, b) a##b
#define SSLAB_STATUS_CONCAT_(a, b) SSLAB_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function if it is not OK.
#define SSLAB_RETURN_IF_ERROR(expr)                        \
  do {                                                     \
    ::absl::Status sslab_status_ = (expr);                 \
    if (!sslab_status_.ok()) return sslab_status_;         \
  } while (false)

// `SSLAB_ASSIGN_OR_RETURN(lhs, rexpr)`: evaluates `rexpr` (an
// absl::StatusOr<T>); on error returns its status, otherwise move-assigns the
// value to `lhs`, which may be a declaration (`auto x`) or an lvalue.
#define SSLAB_ASSIGN_OR_RETURN(lhs, rexpr) \
  SSLAB_ASSIGN_OR_RETURN_IMPL_(            \
      SSLAB_STATUS_CONCAT_(sslab_statusor_, __LINE__), lhs, rexpr)

#define SSLAB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // SSLAB_COMMON_STATUS_MACROS_H_
