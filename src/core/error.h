// Errors raised by the core. Each carries a category that the PostgreSQL
// boundary (src/pg/boundary.cpp) maps to one specific SQLSTATE, so a caller can
// tell a bad argument from a corrupt block without parsing the message.
#pragma once
#include "cpp_only.h"

#include <stdexcept>
#include <string>

namespace aegis::core {

enum class ErrorCategory {
  InvalidParameter,   // 22023 invalid_parameter_value
  NullValue,          // 22004 null_value_not_allowed
  ArrayLength,        // 2202E array_subscript_error
  DatetimeOverflow,   // 22008 datetime_field_overflow
  NumericOutOfRange,  // 22003 numeric_value_out_of_range
  Syntax,             // 42601 syntax_error
  InvalidRegex,       // 2201B invalid_regular_expression
  LimitExceeded,      // 54000 program_limit_exceeded
  NotSupported,       // 0A000 feature_not_supported
  UndefinedObject,    // 42704 undefined_object
  InsufficientPrivilege,  // 42501 insufficient_privilege
  DataCorrupted,      // XX001 data_corrupted
  SerializationFailure,  // 40001 serialization_failure: retry the transaction
  Internal,           // XX000 internal_error
};

// An error with a category, a primary message and an optional detail/hint, in
// PostgreSQL's style: the message says what is wrong, the detail says why.
class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, std::string message, std::string detail = {}, std::string hint = {})
      : std::runtime_error(std::move(message)),
        category_(category),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  ErrorCategory category() const noexcept { return category_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  ErrorCategory category_;
  std::string detail_;
  std::string hint_;
};

}  // namespace aegis::core
