// The C++/PostgreSQL error boundary: maps core error categories to SQLSTATEs
// and raises them only after the C++ frames are gone.
#include <cstring>
#include <new>
#include <string>

#include "core/error.h"

#include "pg/boundary.h"
#include "pg/spi.h"

extern "C" {
#include "utils/float.h"
#include "utils/guc.h"
}

namespace aegis::pg {

namespace {

// The message of the exception being converted is copied here inside the
// catch block (no allocation that could fail there) and raised after it.
char error_message[1024];
char error_detail[2048];
char error_hint[512];

// Copies text into a fixed buffer, truncating at a UTF-8 character boundary
// (never in the middle of a multibyte character); never allocates.
void CopyText(char* buffer, size_t size, const char* text) {
  size_t n = std::strlen(text);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(buffer, text, n);
  buffer[n] = '\0';
}

}  // namespace

// The SQLSTATE for each core error category.
int SqlStateFor(core::ErrorCategory category) {
  switch (category) {
    case core::ErrorCategory::InvalidParameter: return ERRCODE_INVALID_PARAMETER_VALUE;
    case core::ErrorCategory::NullValue: return ERRCODE_NULL_VALUE_NOT_ALLOWED;
    case core::ErrorCategory::ArrayLength: return ERRCODE_ARRAY_SUBSCRIPT_ERROR;
    case core::ErrorCategory::DatetimeOverflow: return ERRCODE_DATETIME_VALUE_OUT_OF_RANGE;
    case core::ErrorCategory::NumericOutOfRange: return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
    case core::ErrorCategory::Syntax: return ERRCODE_SYNTAX_ERROR;
    case core::ErrorCategory::InvalidRegex: return ERRCODE_INVALID_REGULAR_EXPRESSION;
    case core::ErrorCategory::LimitExceeded: return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
    case core::ErrorCategory::NotSupported: return ERRCODE_FEATURE_NOT_SUPPORTED;
    case core::ErrorCategory::UndefinedObject: return ERRCODE_UNDEFINED_OBJECT;
    case core::ErrorCategory::InsufficientPrivilege: return ERRCODE_INSUFFICIENT_PRIVILEGE;
    case core::ErrorCategory::DataCorrupted: return ERRCODE_DATA_CORRUPTED;
    case core::ErrorCategory::SerializationFailure: return ERRCODE_T_R_SERIALIZATION_FAILURE;
    case core::ErrorCategory::Internal: return ERRCODE_INTERNAL_ERROR;
  }
  return ERRCODE_INTERNAL_ERROR;
}

const char* PgError::what() const noexcept {
  return data_ != nullptr && data_->message != nullptr ? data_->message : "PostgreSQL error";
}

ErrorData* TakeCurrentError(MemoryContext context) {
  MemoryContextSwitchTo(context);
  ErrorData* data = CopyErrorData();
  FlushErrorState();
  return data;
}

Datum CallWithBoundary(PgFunction impl, FunctionCallInfo fcinfo) {
  Datum result = 0;
  Guarded([&] { result = impl(fcinfo); });
  return result;
}

void RunWithBoundary(void (*fn)(void*), void* arg) {
  ErrorData* pg_error = nullptr;
  int sqlstate = ERRCODE_INTERNAL_ERROR;
  error_detail[0] = '\0';
  error_hint[0] = '\0';
  // Under Citus the parameters of the engine's statements travel to the
  // workers as text (float8out): with extra_float_digits below 1 that text
  // is rounded. The engine runs with 1 (the shortest exact form) until it
  // returns; an ERROR restores the setting with the (sub)transaction.
  const int guc_level = UnderCitus() && extra_float_digits < 1 ? NewGUCNestLevel() : -1;
  if (guc_level >= 0)
    (void)set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  try {
    fn(arg);
    if (guc_level >= 0) AtEOXact_GUC(true, guc_level);
    return;
  } catch (const PgError& e) {
    pg_error = e.data();
  } catch (const core::Error& e) {
    sqlstate = SqlStateFor(e.category());
    CopyText(error_message, sizeof error_message, e.what());
    CopyText(error_detail, sizeof error_detail, e.detail().c_str());
    CopyText(error_hint, sizeof error_hint, e.hint().c_str());
  } catch (const std::bad_alloc&) {
    sqlstate = ERRCODE_OUT_OF_MEMORY;
    CopyText(error_message, sizeof error_message, "out of memory in the aegis engine");
  } catch (const std::exception& e) {
    CopyText(error_message, sizeof error_message, e.what());
  } catch (...) {
    CopyText(error_message, sizeof error_message, "unknown C++ exception in the aegis engine");
  }
  // Every C++ frame below this one has unwound; raising is safe now.
  if (pg_error != nullptr) ReThrowError(pg_error);
  ereport(ERROR, (errcode(sqlstate), errmsg_internal("%s", error_message),
                  error_detail[0] != '\0' ? errdetail_internal("%s", error_detail) : 0,
                  error_hint[0] != '\0' ? errhint("%s", error_hint) : 0));
  pg_unreachable();
}

int SqlStateOf(const std::exception& e) {
  const auto* error = dynamic_cast<const core::Error*>(&e);
  return error != nullptr ? SqlStateFor(error->category()) : ERRCODE_INTERNAL_ERROR;
}

}  // namespace aegis::pg
