// COPY aegis.points FROM STDIN, text or CSV: read by the engine itself.
//
// PostgreSQL's COPY into a foreign table converts every field with its
// type's input function before the wrapper sees the row: jsonb_in parses the
// same tag text again for each of a series' points, and it costs more than the
// rest of the row together. This ProcessUtility hook takes such a COPY over,
// and each distinct tag text of the statement is parsed once; timestamps in
// the ISO form collectors write (2024-01-01 00:00:10+00, with a fraction or
// 'T' or 'Z') are read by a small exact parser, any other form by
// timestamptz_in; values by std::from_chars where it reads the whole field
// (what strtod reads, so what float8in gives), else by float8in. Rows go into
// the same per-series buffer as INSERT's.
//
// Text and CSV are read by CopyDataReader straight from the client's CopyData
// messages: PostgreSQL's reader copies every byte twice and tests it against
// each special character one at a time, which for rows of ten tags costs more
// than the plain table's whole COPY. The reader finds each field's extent
// with one table lookup per byte, unescapes a quoted (CSV) or backslashed
// (text) field only when its value is needed (the tag cache is keyed by the
// field as written), checks the bytes are valid in the server encoding, and
// keeps PostgreSQL 15's rules (quotes, escapes, backslash sequences, the NULL
// string, HEADER, line endings, the \. end marker, errors naming the line).
// Data needing transcoding, and HEADER MATCH, go through PostgreSQL's reader
// (BeginCopyFrom, NextCopyFromRawFields). A COPY from a file or program, in binary,
// with WHERE, FREEZE, FORCE_NULL or FORCE_NOT_NULL, into a table with
// triggers or column defaults, or that the caller may not INSERT into, takes
// PostgreSQL's path (the wrapper's ExecForeignInsert).
//
// The same hook extends a TRUNCATE of aegis.series to the tables keyed by
// its ids (WithSeriesDataTruncated, src/pg/catalog.cpp) and drops the Citus
// shards before DROP EXTENSION (DropShardsBeforeDropExtension).
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/write.h"

extern "C" {
#include "access/table.h"
#include "commands/copy.h"
#include "commands/defrem.h"
#include "commands/copyfrom_internal.h"
#include "commands/progress.h"
#include "foreign/fdwapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/backend_progress.h"
#include "parser/parse_node.h"
#include "tcop/utility.h"
#include "utils/acl.h"
}

// From libpq/libpq.h, whose libpq-be.h needs the GSSAPI headers: the
// protocol reads CopyGetData makes.
extern "C" {
void pq_startmsgread(void);
int pq_getbyte(void);
int pq_getmessage(StringInfo s, int maxlen);
}
constexpr int kSmallMessageLimit = 10000;            // PQ_SMALL_MESSAGE_LIMIT
constexpr int kLargeMessageLimit = MaxAllocSize - 1;  // PQ_LARGE_MESSAGE_LIMIT

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
bool ParseIsoTimestamp(std::string_view text, TimestampTz* out) {
  const char* s = text.data();
  const size_t n = text.size();
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

// A float8 field as float8in reads it, where std::from_chars reads the whole
// field and nothing is out of range (false: ask float8in).
bool ParseFloat8(std::string_view text, double* out) {
  if (text.empty() || text.front() == ' ' || text.back() == ' ') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Reads text or CSV COPY data from the client itself (see the file comment).
class CopyDataReader {
 public:
  explicit CopyDataReader(CopyFromState cstate)
      : cstate_(cstate),
        text_(!cstate->opts.csv_mode),
        delim_(cstate->opts.delim[0]),
        quote_(text_ ? '\\' : cstate->opts.quote[0]),
        escape_(text_ ? '\\' : cstate->opts.escape[0]),
        null_(cstate->opts.null_print, static_cast<size_t>(cstate->opts.null_print_len)),
        skip_header_(cstate->opts.header_line == COPY_HEADER_TRUE),
        encoding_(GetDatabaseEncoding()) {
    // Text: the delimiter, backslash and line ends; CSV: also the quote and
    // escape characters.
    for (unsigned c : {static_cast<unsigned char>(delim_), static_cast<unsigned char>(quote_),
                       static_cast<unsigned char>(escape_), static_cast<unsigned char>('\n'),
                       static_cast<unsigned char>('\r')})
      special_[c] = true;
  }

  // The next record; false at the end of the data (then the rest of the
  // client's data has been read).
  bool Next() {
    record_valid_ = false;
    for (;;) {
      const Scan scan = ScanRecord();
      if (scan == Scan::kNeedMore) {
        // The record goes on into bytes that are not valid in the encoding.
        if (bad_encoding_) RaiseBadEncoding();
        if (!Fill()) eof_ = true;
        CheckForInterrupts();
        continue;
      }
      if (scan == Scan::kEnd) {
        record_valid_ = false;
        Drain();
        return false;
      }
      ++line_;
      record_valid_ = true;
      if (skip_header_) {
        skip_header_ = false;
        continue;
      }
      return true;
    }
  }

  size_t fields() const { return starts_.size(); }
  // Field k as written (quotes and backslashes included); whether it is
  // NULL (in text, the field as written is the NULL string, whatever its
  // backslashes; in CSV, an unquoted one).
  std::string_view Raw(size_t k) const { return {buffer_.data() + starts_[k], ends_[k] - starts_[k]}; }
  bool IsNull(size_t k) const { return (text_ || !quoted_[k]) && Raw(k) == null_; }
  // Field k's value (quotes and escapes removed); valid until the next call
  // of Value.
  std::string_view Value(size_t k) {
    if (!quoted_[k]) return Raw(k);
    Unescape(Raw(k), &scratch_);
    return scratch_;
  }
  // Field k's value as a C string (for PostgreSQL's input functions); valid
  // until the next call of CString.
  const char* CString(size_t k) {
    if (quoted_[k]) {
      Unescape(Raw(k), &c_string_);
    } else {
      const std::string_view raw = Raw(k);
      c_string_.assign(raw.data(), raw.size());
    }
    return c_string_.c_str();
  }

  // The record the error context shows (empty when none is being read), and
  // its line.
  std::string_view Record() const {
    if (!record_valid_ || record_end_ < record_start_ || record_end_ > buffer_.size()) return {};
    return {buffer_.data() + record_start_, record_end_ - record_start_};
  }
  uint64 line() const { return line_; }

 private:
  enum class Scan { kRecord, kNeedMore, kEnd };
  enum class Eol { kUnknown, kNl, kCr, kCrNl };

  // Finds the extent of the record at pos_ and of its fields. A record the
  // buffer ends inside is resumed where the scan stopped once more data
  // came, so a long record is scanned once.
  Scan ScanRecord() {
    const char* b = buffer_.data();
    // Only the bytes checked against the encoding: an invalid byte is an
    // error once a record reaches it (what a \. before it ends is ignored,
    // as PostgreSQL ignores it).
    const size_t n = verified_;
    const bool eof = eof_ && !bad_encoding_;
    size_t i = scan_i_;
    size_t start = scan_start_;
    bool quoted = scan_quoted_;
    bool in_quote = scan_in_quote_;
    if (ended_) return Scan::kEnd;
    if (!resuming_) {
      i = pos_;
      if (i == n) return eof ? Scan::kEnd : Scan::kNeedMore;
      // \. alone on a line ends the data (in CSV, only with a line end after
      // it; else it is data; text looks for it at every backslash, below).
      if (!text_ && b[i] == '\\') {
        const int end = EndMarker(b, n, i, eof);
        if (end < 0) return Scan::kNeedMore;
        if (end > 0) return Scan::kEnd;
      }
      starts_.clear();
      ends_.clear();
      quoted_.clear();
      record_start_ = i;
      start = i;
      quoted = false;
      in_quote = false;
    }
    const auto need_more = [&](size_t at) {
      resuming_ = true;
      scan_i_ = at;
      scan_start_ = start;
      scan_quoted_ = quoted;
      scan_in_quote_ = in_quote;
      if (n - pos_ >= static_cast<size_t>(MaxAllocSize)) {
        record_end_ = std::min(n, record_start_ + 200);
        RaiseLimit();
      }
      return Scan::kNeedMore;
    };
    for (;;) {
      while (i < n && !special_[static_cast<unsigned char>(b[i])]) ++i;
      if (i == n) {
        if (!eof) return need_more(i);
        resuming_ = false;
        if (in_quote) {
          record_end_ = std::min(n, record_start_ + 200);
          RaiseBadFormat("unterminated CSV quoted field");
        }
        EndField(start, i, quoted);
        record_end_ = pos_ = i;
        return Scan::kRecord;
      }
      const char c = b[i];
      if (text_ && c == '\\') {
        // A backslash makes the next character data (its field is
        // unescaped when read), except \. which ends the data.
        if (i + 1 == n) {
          if (!eof) return need_more(i);
          // A backslash that ends the data is dropped, as PostgreSQL does.
          resuming_ = false;
          EndField(start, i, quoted);
          record_end_ = pos_ = n;
          return Scan::kRecord;
        }
        if (b[i + 1] == '.') {
          const int end = EndMarker(b, n, i, eof);
          if (end < 0) return need_more(i);
          // The line's data before the marker is the last record.
          resuming_ = false;
          ended_ = true;
          if (i == record_start_) return Scan::kEnd;
          EndField(start, i, quoted);
          record_end_ = pos_ = i;
          return Scan::kRecord;
        }
        quoted = true;
        i += 2;
        continue;
      }
      if (in_quote) {
        if (c == escape_ && escape_ != quote_) {
          if (i + 1 == n && !eof) return need_more(i);
          if (i + 1 < n && (b[i + 1] == quote_ || b[i + 1] == escape_)) {
            i += 2;
            continue;
          }
        }
        if (c == quote_) in_quote = false;
        ++i;  // newlines and delimiters inside quotes are data
        continue;
      }
      if (c == quote_) {
        in_quote = quoted = true;
        ++i;
      } else if (c == delim_) {
        EndField(start, i, quoted);
        start = ++i;
        quoted = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && i + 1 == n && !eof) return need_more(i);  // \r\n or \r?
        resuming_ = false;
        EndField(start, i, quoted);
        record_end_ = i;
        pos_ = i + LineEnd(b, n, i);
        return Scan::kRecord;
      } else {
        ++i;  // the escape character outside quotes is data
      }
    }
  }

  void EndField(size_t start, size_t end, bool quoted) {
    starts_.push_back(start);
    ends_.push_back(end);
    quoted_.push_back(quoted);
  }

  void Unescape(std::string_view raw, std::string* out) const {
    if (text_) {
      UnescapeText(raw, out);
    } else {
      UnescapeCsv(raw, out);
    }
  }

  // A text field's value, as CopyReadAttributesText makes it: \b \f \n \r
  // \t \v, up to three octal digits, \x and one or two hex digits, any other
  // character after a backslash as it is. Bytes an escape made that are NUL
  // or not ASCII must leave the value valid in the server encoding.
  void UnescapeText(std::string_view raw, std::string* out) const {
    out->clear();
    bool non_ascii = false;
    const auto octal = [](char c) { return c >= '0' && c <= '7'; };
    const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    const auto hex_value = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (c == '\\' && i + 1 < raw.size()) {
        c = raw[++i];
        if (octal(c)) {
          int value = c - '0';
          for (int more = 0; more < 2 && i + 1 < raw.size() && octal(raw[i + 1]); ++more) value = value * 8 + (raw[++i] - '0');
          c = static_cast<char>(value & 0xff);
          non_ascii = non_ascii || c == '\0' || IS_HIGHBIT_SET(c);
        } else if (c == 'x' && i + 1 < raw.size() && hex(raw[i + 1])) {
          int value = hex_value(raw[++i]);
          if (i + 1 < raw.size() && hex(raw[i + 1])) value = value * 16 + hex_value(raw[++i]);
          c = static_cast<char>(value & 0xff);
          non_ascii = non_ascii || c == '\0' || IS_HIGHBIT_SET(c);
        } else {
          switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'v': c = '\v'; break;
            default: break;
          }
        }
      } else if (c == '\\') {
        break;  // a backslash ending the field is dropped
      }
      out->push_back(c);
    }
    if (non_ascii) {
      const char* data = out->data();
      const int length = static_cast<int>(out->size());
      PgCall([&] { pg_verifymbstr(data, length, false); });
    }
  }

  // A quoted field's value, as CopyReadAttributesCSV makes it.
  void UnescapeCsv(std::string_view raw, std::string* out) const {
    out->clear();
    bool in_quote = false;
    for (size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      if (!in_quote) {
        if (c == quote_) in_quote = true;
        else out->push_back(c);
      } else if (c == escape_ && i + 1 < raw.size() && (raw[i + 1] == quote_ || raw[i + 1] == escape_) &&
                 (escape_ != quote_ || raw[i + 1] == quote_)) {
        out->push_back(raw[++i]);
      } else if (c == quote_) {
        in_quote = false;
      } else {
        out->push_back(c);
      }
    }
  }

  // The length of the line end at i, checked against the first one's kind,
  // as PostgreSQL does.
  size_t LineEnd(const char* b, size_t n, size_t i) {
    const bool crnl = b[i] == '\r' && i + 1 < n && b[i + 1] == '\n';
    const Eol eol = b[i] == '\n' ? Eol::kNl : crnl ? Eol::kCrNl : Eol::kCr;
    if (eol_ == Eol::kUnknown) eol_ = eol;
    if (eol != eol_) {
      if (eol == Eol::kNl || (eol_ == Eol::kCr && crnl)) {
        if (text_) RaiseBadFormat("literal newline found in data", "Use \"\\n\" to represent newline.");
        RaiseBadFormat("unquoted newline found in data", "Use quoted CSV field to represent newline.");
      }
      if (text_) RaiseBadFormat("literal carriage return found in data", "Use \"\\r\" to represent carriage return.");
      RaiseBadFormat("unquoted carriage return found in data", "Use quoted CSV field to represent carriage return.");
    }
    return crnl ? 2 : 1;
  }

  // Whether the backslash at i (at a line's start in CSV, anywhere in text)
  // is the end-of-copy marker, as CopyReadLineText decides it, reading only
  // the bytes it reads: "\." then a line end of the data's kind ("\r\n" when
  // that is the kind). 1 if it is, 0 if it is data, -1 when more data is
  // needed. A line end of another kind after it is an error; in text, where
  // "\." cannot be data, so is anything else after it.
  int EndMarker(const char* b, size_t n, size_t i, bool eof) {
    // The character at k, NUL past the end of the data, -1 if not here yet.
    const auto at = [&](size_t k) -> int { return k < n ? static_cast<unsigned char>(b[k]) : eof ? 0 : -1; };
    // What an error's context shows: the line up to the marker.
    if (!text_) record_start_ = i;
    record_end_ = i + 2;
    const int dot = at(i + 1);
    if (dot != '.') return dot < 0 ? -1 : 0;
    size_t k = i + 2;
    if (eol_ == Eol::kCrNl) {
      const int c = at(k++);
      if (c < 0) return -1;
      if (c != '\r') {
        if (!text_) return 0;
        RaiseBadFormat(c == '\n' ? "end-of-copy marker does not match previous newline style"
                                  : "end-of-copy marker corrupt");
      }
    }
    const int c = at(k);
    if (c < 0) return -1;
    if (c != '\r' && c != '\n') {
      if (!text_) return 0;
      RaiseBadFormat("end-of-copy marker corrupt");
    }
    if ((eol_ == Eol::kNl && c != '\n') || (eol_ == Eol::kCrNl && c != '\n') || (eol_ == Eol::kCr && c != '\r'))
      RaiseBadFormat("end-of-copy marker does not match previous newline style");
    return 1;
  }

  [[noreturn]] void RaiseBadFormat(const char* message, const char* hint = nullptr) {
    ++line_;  // the line being read
    record_valid_ = true;
    PgCall([&] {
      ereport(ERROR, (errcode(ERRCODE_BAD_COPY_FILE_FORMAT), errmsg("%s", message), hint ? errhint("%s", hint) : 0));
    });
    pg_unreachable();
  }

  [[noreturn]] void RaiseLimit() {
    ++line_;
    record_valid_ = true;
    PgCall([&] {
      ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("COPY record is too long"),
                      errdetail("A record may hold at most %d bytes.", static_cast<int>(MaxAllocSize) - 1)));
    });
    pg_unreachable();
  }

  // Reads the next message of the COPY into cstate_->fe_msgbuf: true for
  // CopyData, false for CopyDone; CopyFail raises, as PostgreSQL's reader
  // does (Flush and Sync are skipped).
  bool ReadMessage() {
    StringInfo message = cstate_->fe_msgbuf;
    bool data = false;
    PgCall([&] {
      for (;;) {
        HOLD_CANCEL_INTERRUPTS();
        pq_startmsgread();
        const int type = pq_getbyte();
        if (type == EOF)
          ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
                          errmsg("unexpected EOF on client connection with an open transaction")));
        if (type != 'd' && type != 'c' && type != 'f' && type != 'H' && type != 'S')
          ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION),
                          errmsg("unexpected message type 0x%02X during COPY from stdin", type)));
        if (pq_getmessage(message, type == 'd' ? kLargeMessageLimit : kSmallMessageLimit))
          ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
                          errmsg("unexpected EOF on client connection with an open transaction")));
        RESUME_CANCEL_INTERRUPTS();
        if (type == 'd') {
          data = true;
          break;
        }
        if (type == 'c') break;
        if (type == 'f')
          ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED),
                          errmsg("COPY from stdin failed: %s", pq_getmsgstring(message))));
      }
    });
    return data;
  }

  // Appends the next CopyData message to the buffer (dropping what was
  // read); false at CopyDone.
  bool Fill() {
    if (eof_) return false;
    if (pos_ > 0) {
      // Offsets into the buffer move with its start.
      buffer_.erase(0, pos_);
      verified_ -= pos_;
      record_start_ = record_start_ >= pos_ ? record_start_ - pos_ : 0;
      record_end_ = record_end_ >= pos_ ? record_end_ - pos_ : 0;
      if (resuming_) {
        scan_i_ -= pos_;
        scan_start_ -= pos_;
        for (size_t& at : starts_) at -= pos_;
        for (size_t& at : ends_) at -= pos_;
      }
      pos_ = 0;
    }
    if (!ReadMessage()) {
      eof_ = true;
      Verify(true);
      return false;
    }
    const StringInfo message = cstate_->fe_msgbuf;
    buffer_.append(message->data, static_cast<size_t>(message->len));
    bytes_ += static_cast<uint64>(message->len);
    Verify(false);
    PgCall([&] { pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, static_cast<int64>(bytes_)); });
    return true;
  }

  // After \., the rest of the client's data is read and ignored.
  void Drain() {
    while (!eof_) eof_ = !ReadMessage();
  }

  // Checks that the bytes read are valid in the server encoding (a
  // character may continue in the next message); verified_ stops before the
  // first invalid one, which is reported when a record reaches it.
  void Verify(bool at_end) {
    while (!bad_encoding_ && verified_ < buffer_.size()) {
      const char* from = buffer_.data() + verified_;
      const int length = static_cast<int>(buffer_.size() - verified_);
      const int valid = PgCall([&] { return pg_encoding_verifymbstr(encoding_, from, length); });
      verified_ += static_cast<size_t>(valid);
      if (valid == length) return;
      const int rest = length - valid;
      if (!at_end && from[valid] != '\0' && rest < pg_encoding_max_length(encoding_) &&
          pg_encoding_mblen(encoding_, from + valid) > rest)
        return;  // a character cut by the message's end
      bad_encoding_ = true;
    }
  }

  // The invalid byte at verified_, named with its line.
  [[noreturn]] void RaiseBadEncoding() {
    // The line of the bad byte: the lines before it, and its text so far.
    const size_t bad = verified_;
    size_t line_start = pos_;
    for (size_t i = pos_; i < bad; ++i) {
      if (buffer_[i] == '\n') {
        ++line_;
        line_start = i + 1;
      }
    }
    ++line_;
    record_start_ = line_start;
    record_end_ = bad;
    record_valid_ = true;
    const char* from = buffer_.data() + bad;
    const int rest = static_cast<int>(buffer_.size() - bad);
    PgCall([&] { report_invalid_encoding(encoding_, from, rest); });
    pg_unreachable();
  }

  CopyFromState cstate_;
  const bool text_;  // text format (else CSV)
  const char delim_;
  const char quote_;
  const char escape_;
  const std::string null_;
  bool skip_header_;
  const int encoding_;
  bool special_[256] = {};
  std::string buffer_;
  size_t pos_ = 0;        // the next record starts here
  size_t verified_ = 0;   // bytes checked against the encoding
  bool eof_ = false;      // CopyDone came
  bool bad_encoding_ = false;  // the byte at verified_ is not valid in the encoding
  bool ended_ = false;    // text: the end-of-copy marker was read
  Eol eol_ = Eol::kUnknown;
  uint64 line_ = 0;
  uint64 bytes_ = 0;
  // The record being read or last read, for the error context.
  size_t record_start_ = 0;
  size_t record_end_ = 0;
  bool record_valid_ = false;
  // A record the buffer ended inside: where its scan stopped.
  bool resuming_ = false;
  size_t scan_i_ = 0;
  size_t scan_start_ = 0;
  bool scan_quoted_ = false;
  bool scan_in_quote_ = false;
  std::vector<size_t> starts_;
  std::vector<size_t> ends_;
  std::vector<bool> quoted_;
  std::string scratch_;
  std::string c_string_;
};

// The error context of a row CopyDataReader read: "COPY points, line N:
// "..."" as PostgreSQL's (the record cut to 100 bytes).
struct CopyContext {
  const char* relname;
  const CopyDataReader* reader;
};

void CopyErrorContext(void* arg) {
  const auto* context = static_cast<const CopyContext*>(arg);
  const std::string_view record = context->reader->Record();
  const auto line = static_cast<unsigned long long>(context->reader->line());
  if (record.empty()) {
    errcontext("COPY %s, line %llu", context->relname, line);
    return;
  }
  // At most 100 bytes, cut at a character's end (the bytes were verified).
  const int shown = pg_mbcliplen(record.data(), static_cast<int>(std::min<size_t>(record.size(), 1000)), 100);
  char* text = pnstrdup(record.data(), static_cast<Size>(shown));
  if (static_cast<size_t>(shown) < record.size()) text = psprintf("%s...", text);
  errcontext("COPY %s, line %llu: \"%s\"", context->relname, line, text);
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

// Turns a COPY's fields into points in the points buffer: each distinct tag
// text parsed once (by the field as written), timestamps and values by the
// fast parsers where they apply.
class PointRows {
 public:
  // One row. tags_key identifies the tag text (the field as written);
  // the *_text callables give a field's value as a C string for
  // PostgreSQL's input functions.
  template <typename TagsText, typename TsText, typename ValueText>
  void Add(std::string_view metric, std::string_view tags_key, TagsText tags_text, std::string_view ts,
           TsText ts_text, std::string_view value_field, ValueText value_text) {
    // Rows usually come a series at a time: the last row's tags first.
    if (last_tags_ == nullptr || last_key_ != tags_key) {
      last_key_.assign(tags_key.data(), tags_key.size());
      Jsonb*& parsed = tags_of_[last_key_];
      if (parsed == nullptr) {
        const char* text = tags_text();
        PgCall([&] { parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text))); });
      }
      last_tags_ = parsed;
    }
    TimestampTz t = 0;
    if (!ParseIsoTimestamp(ts, &t)) {
      const char* text = ts_text();
      PgCall([&] {
        t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
                                                    ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
      });
    }
    double value = 0;
    if (!ParseFloat8(value_field, &value)) {
      const char* text = value_text();
      value = PgCall([&] { return DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(text))); });
    }
    if (TIMESTAMP_NOT_FINITE(t)) PgCall([&] { CheckPointTimestamp(t); });
    try {
      AppendPoint(metric, last_tags_, t, value);
    } catch (const core::Error& e) {
      RaiseRowError(SqlStateOf(e), e.what(), e.detail());
    }
    if ((++rows_ & 4095) == 0) {
      CheckForInterrupts();
      PgCall([&] { pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, static_cast<int64>(rows_)); });
    }
  }

  uint64 rows() const { return rows_; }

 private:
  // The tags of each distinct text (palloc'd in the statement's memory).
  std::unordered_map<std::string, Jsonb*> tags_of_;
  std::string last_key_;
  Jsonb* last_tags_ = nullptr;
  uint64 rows_ = 0;
};

const char* const kColumnNames[] = {"metric", "tags", "ts", "value"};

// Reads a text or CSV COPY FROM STDIN with CopyDataReader; returns the rows.
uint64 CopyDataPoints(CopyFromState cstate, const int (&columns)[4], int nfields_expected) {
  CopyDataReader reader(cstate);
  CopyContext context_arg{cstate->cur_relname, &reader};
  ErrorContext context(CopyErrorContext, &context_arg);
  PointRows rows;
  while (reader.Next()) {
    if (static_cast<int>(reader.fields()) > nfields_expected)
      RaiseRowError(ERRCODE_BAD_COPY_FILE_FORMAT, "extra data after last expected column");
    if (static_cast<int>(reader.fields()) < nfields_expected)
      RaiseRowError(ERRCODE_BAD_COPY_FILE_FORMAT, "missing data for a column");
    for (int c = 0; c < 4; ++c)
      if (columns[c] < 0 || reader.IsNull(static_cast<size_t>(columns[c])))
        RaiseRowError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(kColumnNames[c]) + " must not be NULL");
    const auto field = [&](int c) { return static_cast<size_t>(columns[c]); };
    // The metric's value is kept while the others are read: copy it when
    // it had to be unescaped.
    std::string_view metric = reader.Value(field(0));
    std::string metric_copy;
    if (metric.data() != reader.Raw(field(0)).data()) {
      metric_copy.assign(metric.data(), metric.size());
      metric = metric_copy;
    }
    const size_t ts_field = field(2);
    const size_t value_field = field(3);
    const std::string_view ts = reader.Value(ts_field);
    std::string ts_copy;
    std::string_view ts_view = ts;
    if (ts.data() != reader.Raw(ts_field).data()) {
      ts_copy.assign(ts.data(), ts.size());
      ts_view = ts_copy;
    }
    rows.Add(
        metric, reader.Raw(field(1)), [&] { return reader.CString(field(1)); }, ts_view,
        [&] { return reader.CString(ts_field); }, reader.Value(value_field), [&] { return reader.CString(value_field); });
  }
  return rows.rows();
}

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
  uint64 count = 0;
  if (!cstate->opts.binary && cstate->copy_src == COPY_FRONTEND && cstate->file_encoding == GetDatabaseEncoding() &&
      cstate->opts.header_line != COPY_HEADER_MATCH) {
    count = CopyDataPoints(cstate, columns, nfields_expected);
  } else {
    std::optional<ErrorContext> context(std::in_place, CopyFromErrorCallback, cstate);
    PointRows rows;
    for (;;) {
      char** fields = nullptr;
      int nfields = 0;
      const bool more = PgCall([&] { return NextCopyFromRawFields(cstate, &fields, &nfields); });
      if (!more) break;
      if (nfields > nfields_expected)
        RaiseRowError(ERRCODE_BAD_COPY_FILE_FORMAT, "extra data after last expected column");
      if (nfields < nfields_expected) RaiseRowError(ERRCODE_BAD_COPY_FILE_FORMAT, "missing data for a column");
      const char* value_of[4];
      for (int c = 0; c < 4; ++c) {
        value_of[c] = columns[c] >= 0 ? fields[columns[c]] : nullptr;
        if (value_of[c] == nullptr)
          RaiseRowError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(kColumnNames[c]) + " must not be NULL");
      }
      rows.Add(
          value_of[0], value_of[1], [&] { return value_of[1]; }, value_of[2], [&] { return value_of[2]; }, value_of[3],
          [&] { return value_of[3]; });
    }
    context.reset();
    count = rows.rows();
  }
  PgCall([&] { EndCopyFrom(cstate); });
  FlushPoints();
  return count;
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
  if (IsA(parsetree, DropStmt)) DropShardsBeforeDropExtension(parsetree);
  if (IsA(parsetree, TruncateStmt)) {
    PlannedStmt* extended = WithSeriesDataTruncated(pstmt, read_only_tree);
    read_only_tree = read_only_tree && extended == pstmt;
    pstmt = extended;
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
