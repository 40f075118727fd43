// COPY aegis.points FROM STDIN, text or CSV: read by the engine itself.
//
// PostgreSQL's COPY into a foreign table converts every field with its
// type's input function before the wrapper sees the row: jsonb_in parses the
// same tag text again for each of a series' points, and it costs more than the
// rest of the row together. This ProcessUtility hook takes such a COPY over:
// PostgreSQL's own COPY reader splits and unescapes the lines
// (BeginCopyFrom, NextCopyFromRawFields), and each distinct tag text of the
// statement is parsed once; timestamps in the ISO form collectors write
// (2024-01-01 00:00:10+00, with a fraction or 'T' or 'Z') are read by a small
// exact parser, any other form by timestamptz_in. Rows go into the same
// per-series buffer as INSERT's. A COPY from a file or program, in binary,
// with WHERE, FREEZE, FORCE_NULL or FORCE_NOT_NULL, into a table with
// triggers or column defaults, or that the caller may not INSERT into, takes
// PostgreSQL's path (the wrapper's ExecForeignInsert).
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/write.h"

extern "C" {
#include "access/table.h"
#include "commands/copy.h"
#include "commands/defrem.h"
#include "commands/copyfrom_internal.h"
#include "foreign/fdwapi.h"
#include "parser/parse_node.h"
#include "tcop/utility.h"
#include "utils/acl.h"
}

namespace aegis::pg {

bool IsPointsRoutine(const FdwRoutine* routine);

namespace {

ProcessUtility_hook_type previous_utility = nullptr;

// The fast path reads text and CSV; other options are PostgreSQL's.
bool FastOptions(List* options) {
  ListCell* cell;
  foreach (cell, options) {
    DefElem* option = lfirst_node(DefElem, cell);
    if (strcmp(option->defname, "format") == 0) {
      const char* format = defGetString(option);
      if (strcmp(format, "text") != 0 && strcmp(format, "csv") != 0) return false;
    } else if (strcmp(option->defname, "freeze") == 0 || strcmp(option->defname, "force_null") == 0 ||
               strcmp(option->defname, "force_not_null") == 0) {
      return false;  // applied by NextCopyFrom, which this path does not use
    }
  }
  return true;
}

// n decimal digits at p (all digits), else -1.
int Digits(const char* p, int n) {
  int value = 0;
  for (int i = 0; i < n; ++i) {
    if (p[i] < '0' || p[i] > '9') return -1;
    value = value * 10 + (p[i] - '0');
  }
  return value;
}

// Days from 2000-01-01 to y-m-d (proleptic Gregorian).
int64_t DaysSince2000(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 - 10957;  // 719468: 0000-03-01 to 1970-01-01; 10957: to 2000-01-01
}

// YYYY-MM-DD[ T]HH:MM:SS[.ffffff](Z|+HH|+HH:MM|+HHMM), exactly as
// timestamptz_in reads it; false for anything else (timestamptz_in then
// reads it: other forms, a zone name, no zone at all, leap seconds, 24:00).
bool ParseIsoTimestamp(const char* s, TimestampTz* out) {
  const size_t n = strlen(s);
  if (n < 20) return false;
  const int year = Digits(s, 4), month = Digits(s + 5, 2), day = Digits(s + 8, 2);
  const int hour = Digits(s + 11, 2), minute = Digits(s + 14, 2), second = Digits(s + 17, 2);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 59 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
      s[16] != ':')
    return false;
  static const int kMonthDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kMonthDays[month - 1] + (month == 2 && leap ? 1 : 0)) return false;
  size_t i = 19;
  int64_t micros = 0;
  if (s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (++digits > 6) return false;  // rounded by timestamptz_in
      micros = micros * 10 + (s[i] - '0');
      ++i;
    }
    if (digits == 0) return false;
    for (int k = digits; k < 6; ++k) micros *= 10;
  }
  int64_t offset = 0;  // seconds east of UTC
  if (i < n && s[i] == 'Z') {
    ++i;
  } else if (i < n && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i] == '-' ? -1 : 1;
    ++i;
    const int oh = Digits(s + i, 2);
    if (oh < 0 || oh > 15 || i + 2 > n) return false;
    i += 2;
    int om = 0;
    if (i < n && s[i] == ':') ++i;
    if (i < n) {
      om = i + 2 <= n ? Digits(s + i, 2) : -1;
      if (om < 0 || om > 59) return false;
      i += 2;
    }
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return false;  // the session's time zone
  }
  if (i != n) return false;
  const int64_t seconds = DaysSince2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  *out = seconds * USECS_PER_SEC + micros;
  return true;
}

// Raises a row's error as PostgreSQL's, so that the COPY's error context
// (the line) is attached to it.
[[noreturn]] void RaiseRowError(int sqlstate, const std::string& message, const std::string& detail = {}) {
  PgCall([&] {
    ereport(ERROR, (errcode(sqlstate), errmsg_internal("%s", message.c_str()),
                    detail.empty() ? 0 : errdetail_internal("%s", detail.c_str())));
  });
  pg_unreachable();
}

// Keeps an error context callback on the stack while alive.
class ErrorContext {
 public:
  ErrorContext(void (*callback)(void*), void* arg) {
    context_.callback = callback;
    context_.arg = arg;
    context_.previous = error_context_stack;
    error_context_stack = &context_;
  }
  ~ErrorContext() { error_context_stack = context_.previous; }
  ErrorContext(const ErrorContext&) = delete;
  ErrorContext& operator=(const ErrorContext&) = delete;

 private:
  ErrorContextCallback context_;
};

// Reads the COPY's rows into the points buffer; returns how many.
uint64 CopyPoints(ParseState* pstate, CopyStmt* stmt, Relation rel) {
  // PostgreSQL code first: the reader, the column order.
  CopyFromState cstate = nullptr;
  int columns[4] = {-1, -1, -1, -1};  // input field of metric, tags, ts, value
  int nfields_expected = 0;
  PgCall([&] {
    cstate = BeginCopyFrom(pstate, rel, nullptr, nullptr, false, nullptr, stmt->attlist, stmt->options);
    List* attnums = CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist);
    ListCell* cell;
    int field = 0;
    foreach (cell, attnums) columns[lfirst_int(cell) - 1] = field++;
    nfields_expected = field;
  });
  std::optional<ErrorContext> context(std::in_place, CopyFromErrorCallback, cstate);
  // The tags of each distinct text, parsed once (palloc'd in the statement's
  // memory, as the reader's own allocations).
  std::unordered_map<std::string, Jsonb*> tags_of;
  std::string last_tags_text;
  Jsonb* last_tags = nullptr;
  static const char* const names[] = {"metric", "tags", "ts", "value"};
  uint64 rows = 0;
  for (;;) {
    char** fields = nullptr;
    int nfields = 0;
    const bool more = PgCall([&] { return NextCopyFromRawFields(cstate, &fields, &nfields); });
    if (!more) break;
    if (nfields > nfields_expected) RaiseRowError(ERRCODE_BAD_COPY_FILE_FORMAT, "extra data after last expected column");
    if (nfields < nfields_expected) RaiseRowError(ERRCODE_BAD_COPY_FILE_FORMAT, "missing data for a column");
    const char* value_of[4];
    for (int c = 0; c < 4; ++c) {
      value_of[c] = columns[c] >= 0 ? fields[columns[c]] : nullptr;
      if (value_of[c] == nullptr) RaiseRowError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(names[c]) + " must not be NULL");
    }
    // Rows usually come a series at a time: the last row's tags first.
    if (last_tags == nullptr || last_tags_text != value_of[1]) {
      Jsonb*& parsed = tags_of[value_of[1]];
      if (parsed == nullptr) {
        PgCall([&] { parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(value_of[1]))); });
      }
      last_tags = parsed;
      last_tags_text = value_of[1];
    }
    Jsonb* tags = last_tags;
    TimestampTz ts = 0;
    if (!ParseIsoTimestamp(value_of[2], &ts)) {
      PgCall([&] {
        ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(value_of[2]),
                                                     ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
      });
    }
    const double value =
        PgCall([&] { return DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(value_of[3]))); });
    PgCall([&] { CheckPointTimestamp(ts); });
    try {
      AppendPoint(std::string_view(value_of[0]), tags, ts, value);
    } catch (const core::Error& e) {
      RaiseRowError(SqlStateOf(e), e.what(), e.detail());
    }
    if ((++rows & 4095) == 0) CheckForInterrupts();
  }
  context.reset();
  PgCall([&] { EndCopyFrom(cstate); });
  FlushPoints();
  return rows;
}

void PointsUtility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                   ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
  Node* parsetree = pstmt->utilityStmt;
  if (IsA(parsetree, CopyStmt)) {
    CopyStmt* stmt = castNode(CopyStmt, parsetree);
    if (stmt->is_from && stmt->relation != nullptr && stmt->filename == nullptr && !stmt->is_program &&
        stmt->whereClause == nullptr && FastOptions(stmt->options)) {
      const Oid relid = RangeVarGetRelid(stmt->relation, RowExclusiveLock, true);
      if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE &&
          pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) == ACLCHECK_OK) {
        Relation rel = table_open(relid, NoLock);
        // The foreign table as the extension made it: no trigger or column
        // default of the owner's (PostgreSQL's COPY applies them).
        if (IsPointsRoutine(GetFdwRoutineForRelation(rel, false)) && rel->trigdesc == nullptr &&
            (RelationGetDescr(rel)->constr == nullptr || RelationGetDescr(rel)->constr->num_defval == 0) &&
            RelationGetDescr(rel)->natts == 4) {
          // What standard_ProcessUtility checks before a COPY FROM.
          PreventCommandIfReadOnly("COPY FROM");
          PreventCommandIfParallelMode("COPY FROM");
          PreventCommandDuringRecovery("COPY FROM");
          ParseState* pstate = make_parsestate(nullptr);
          pstate->p_sourcetext = query;
          uint64 rows = 0;
          Guarded([&] { rows = CopyPoints(pstate, stmt, rel); });
          table_close(rel, NoLock);
          free_parsestate(pstate);
          if (qc != nullptr) SetQueryCompletion(qc, CMDTAG_COPY, rows);
          return;
        }
        table_close(rel, NoLock);
      }
    }
  }
  if (previous_utility != nullptr) {
    previous_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  } else {
    standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  }
}

}  // namespace

void InitPointsCopy() {
  previous_utility = ProcessUtility_hook;
  ProcessUtility_hook = PointsUtility;
}

}  // namespace aegis::pg
