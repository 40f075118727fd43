// The one boundary between PostgreSQL and the C++ core.
//
// Every SQL-callable function is declared with AEGIS_PG_FUNCTION. Its body
// runs inside CallWithBoundary, which catches every C++ exception and raises
// the matching ereport(ERROR) only after all C++ frames have unwound. Inside a
// body, PostgreSQL calls that may raise an ERROR while C++ objects are alive
// go through PgCall, which turns the ERROR into a PgError exception (the
// pg_duckdb PostgresFunctionGuard pattern) so destructors run; the boundary
// re-raises the original error with its SQLSTATE.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "pg/postgres_headers.h"

namespace aegis::pg {

using PgFunction = Datum (*)(FunctionCallInfo);

// A PostgreSQL ERROR caught by PgCall, carried across C++ frames.
class PgError : public std::exception {
 public:
  explicit PgError(ErrorData* data) : data_(data) {}
  ErrorData* data() const noexcept { return data_; }
  const char* what() const noexcept override;

 private:
  ErrorData* data_;
};

// The SQLSTATE the boundary raises for a C++ exception (a core::Error's
// category, else internal_error).
int SqlStateOf(const std::exception& e);

// Runs impl and turns whatever C++ exception escapes it into ereport(ERROR).
Datum CallWithBoundary(PgFunction impl, FunctionCallInfo fcinfo);

// Runs fn(arg) and turns whatever C++ exception escapes it into
// ereport(ERROR), raised after every C++ frame of fn has unwound.
void RunWithBoundary(void (*fn)(void*), void* arg);

// The boundary for C++ code that PostgreSQL calls through a callback other
// than a SQL function (a foreign-data wrapper's, a hook's):
// `Guarded([&] { ... });`.
template <typename Fn>
void Guarded(Fn&& fn) {
  using Body = std::remove_reference_t<Fn>;
  RunWithBoundary([](void* body) { (*static_cast<Body*>(body))(); }, &fn);
}

// Copies the current PostgreSQL error out of the error context (after a
// longjmp into PG_CATCH) and clears the error state.
ErrorData* TakeCurrentError(MemoryContext context);

// Runs fn (PostgreSQL code) so that an ERROR it raises becomes a PgError
// exception. fn must hold no C++ object with a destructor across a call that
// can raise, since the longjmp skips its own frames.
template <typename Fn>
auto PgCall(Fn&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  if constexpr (std::is_void_v<Result>) {
    MemoryContext context = CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    PG_TRY();
    { fn(); }
    PG_CATCH();
    { error = TakeCurrentError(context); }
    PG_END_TRY();
    if (error != nullptr) throw PgError(error);
  } else {
    // The result lives in this frame, which never calls setjmp itself.
    Result result{};
    PgCall([&] { result = fn(); });
    return result;
  }
}

// Lets a long C++ loop honour query cancel and termination.
inline void CheckForInterrupts() {
  if (unlikely(InterruptPending)) PgCall([] { ProcessInterrupts(); });
}

}  // namespace aegis::pg

// Declares a SQL-callable function `name` whose body is C++ run inside the
// boundary: `AEGIS_PG_FUNCTION(aegis_write) { ... return ...; }`.
#define AEGIS_PG_FUNCTION(name)                                            \
  static Datum name##_body(FunctionCallInfo fcinfo);                       \
  extern "C" {                                                             \
  PG_FUNCTION_INFO_V1(name);                                               \
  }                                                                        \
  extern "C" Datum name(PG_FUNCTION_ARGS) {                                \
    return aegis::pg::CallWithBoundary(name##_body, fcinfo);               \
  }                                                                        \
  static Datum name##_body(FunctionCallInfo fcinfo)
