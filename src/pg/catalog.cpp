// Series resolution and the cache behind it, plus the catalog's C functions.
#include <algorithm>
#include <iterator>
#include <string>
#include <unordered_map>

#include "core/error.h"
#include "core/names.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/guc.h"
#include "pg/privileges.h"
#include "pg/spi.h"
#include "pg/store.h"

extern "C" {
#include "commands/extension.h"
#include "nodes/makefuncs.h"
}

namespace aegis::pg {

namespace {

// (metric, tags) -> series_id for this backend. The key is the metric name, a
// NUL, then the jsonb's binary form (canonical: keys sorted and unique). A
// miss falls back to the catalog, so the cache only ever saves a lookup.
std::unordered_map<std::string, int64_t> series_cache;

// The OID of aegis.series once looked up; reset when it is invalidated.
Oid series_relid = InvalidOid;

SPIPlanPtr find_series_plans[2] = {nullptr, nullptr};
SPIPlanPtr insert_series_plans[2] = {nullptr, nullptr};

// Whether aegis.series is kept by the series_key constraint (0.2.0) rather
// than 0.1.0's UNIQUE (metric, tags), not yet updated: 1 or 0, the index of
// the statements' form. PostgreSQL code.
int SeriesKeyForm() {
  const Oid aegis = get_namespace_oid("aegis", true);
  return OidIsValid(aegis) && OidIsValid(get_relname_relid("series_key", aegis)) ? 1 : 0;
}
SPIPlanPtr count_series_plan = nullptr;

// Series per metric, counted once per transaction under the lock on the
// metric's catalog row (taken after the previous holder committed) and then
// kept up to date as this transaction creates series (nobody else can while
// the lock is held).
std::unordered_map<std::string, int64_t> series_counts;

// Whether the writer is under row-level security on aegis.series (set by
// HideSeriesCounts for each write).
bool series_counts_hidden = false;

// Series whose row this transaction holds a lock on, and in which mode.
std::unordered_map<int64_t, SeriesLock> locked_series;

// Whether this transaction has locked any series row (to write or delete);
// stays true until the transaction ends, also after a savepoint's rollback,
// since the rows locked before the savepoint stay locked.
bool holds_series_rows = false;

// Set by the relcache callback, which can run inside any lock acquisition,
// i.e. in the middle of ResolveSeries: the maps are cleared at the start of
// the next ResolveSeries, never under an iterator.
bool cache_stale = false;

// How long a creator that must not wait waits for a concurrent insert of the
// same series (lock_timeout, in milliseconds).
constexpr const char* kNoWaitInsertTimeout = "1";

// Beyond this many entries the cache starts over (it only saves lookups).
constexpr size_t kMaxCachedSeries = 200000;

// Bumped whenever series_cache is emptied (SeriesCacheGeneration).
uint64_t series_cache_generation = 1;

// Forgets every cached series and count.
void ClearSeriesCache() {
  series_cache.clear();
  series_counts.clear();
  ++series_cache_generation;
}

// Transaction callback: a rolled-back (or prepared, which may yet roll back)
// transaction may have cached series whose rows are gone; series counts are
// only exact while this transaction holds its locks. No C++ code of ours runs
// at transaction end, so clearing here is safe.
void SeriesCacheXactCallback(XactEvent event, void* /*arg*/) {
  switch (event) {
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      ClearSeriesCache();
      locked_series.clear();
      holds_series_rows = false;
      break;
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_PARALLEL_COMMIT:
      series_counts.clear();
      locked_series.clear();
      holds_series_rows = false;
      break;
    default:
      break;
  }
}

// Subtransaction callback: the same for a rolled-back savepoint.
void SeriesCacheSubXactCallback(SubXactEvent event, SubTransactionId /*sub*/, SubTransactionId /*parent*/,
                                void* /*arg*/) {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    ClearSeriesCache();
    // The savepoint's locks are released, but not those taken before it:
    // forget which are held (they are taken again, without waiting), keep
    // holds_series_rows.
    locked_series.clear();
  }
}

// Relcache callback: aegis.series changed (series deleted by the functions,
// which send the invalidation, or the table truncated or dropped).
void SeriesRelcacheCallback(Datum /*arg*/, Oid relid) {
  if (relid == InvalidOid || relid == series_relid) {
    cache_stale = true;
    series_relid = InvalidOid;
  }
}

// Looks up the series id by its key (the series_key constraint of
// src/sql/00_tables.sql, whose hash index answers; in a 0.1.0 database its
// UNIQUE (metric, tags)); -1 when there is none.
// PostgreSQL code.
int64_t LookupSeries(Datum metric, Datum tags) {
  static const Oid types[] = {TEXTOID, JSONBOID};
  static const char* const sql[2] = {
      "SELECT series_id FROM aegis.series WHERE metric = $1 AND tags = $2",
      "SELECT series_id FROM aegis.series WHERE (metric || ' ' || tags::text) = ($1 || ' ' || $2::text)"};
  const int form = SeriesKeyForm();
  SPIPlanPtr plan = KeptPlan(&find_series_plans[form], sql[form], 2, types);
  Datum values[] = {metric, tags};
  ExecuteWithLatestSnapshot(plan, values, nullptr, 1);
  if (SPI_processed == 0) return -1;
  bool isnull = false;
  return DatumGetInt64(ResultValue(0, 1, &isnull));
}


// Locks the metric's catalog row FOR UPDATE (waiting when wait) and says
// whether it got it: one transaction at a time creates series of a metric,
// so its count of the metric's series is exact (aegis.max_series_per_metric
// holds under concurrency), and drop_metric's FOR UPDATE waits for it and
// keeps new creators out. PostgreSQL code.
bool LockMetricRow(Datum metric, bool wait) {
  static const Oid metric_type[] = {TEXTOID};
  Datum metric_arg[] = {metric};
  ExecuteCatalogLock(CatalogLock::kMetricUpdate, wait, 1, metric_type, metric_arg);
  return SPI_processed == 1;
}

// Takes the advisory lock that serialises the creation of the metric's
// catalog row, so that a transaction that must not wait can tell that
// another one is inserting the row (an INSERT would wait for it).
// PostgreSQL code.
bool LockMetricCreation(Datum metric, bool wait) {
  static const Oid types[] = {TEXTOID};
  static SPIPlanPtr plans[2] = {};
  static const char* const sql[2] = {
      "SELECT pg_catalog.pg_try_advisory_xact_lock(1095059277, pg_catalog.hashtext($1))",  // "AEGM"
      "SELECT pg_catalog.pg_advisory_xact_lock(1095059277, pg_catalog.hashtext($1))"};
  Datum values[] = {metric};
  ExecutePlan(KeptPlan(&plans[wait ? 1 : 0], sql[wait ? 1 : 0], 1, types), values, nullptr, false, 0);
  if (wait) return true;
  bool isnull = false;
  return DatumGetBool(ResultValue(0, 1, &isnull));
}

// Takes the lock on the metric's catalog row that serialises the creation of
// its series (and keeps drop_metric out), creating the metric
// (as a gauge) when it is new, and returns the number of series the metric
// has now. When wait is false nothing waits: returns -1 when another
// transaction holds the row (creating series, or dropping the metric) or is
// creating the metric.
// PostgreSQL code.
int64_t LockMetricAndCountSeries(Datum metric, bool wait) {
  static const Oid metric_type[] = {TEXTOID};
  static SPIPlanPtr insert_plan = nullptr;
  Datum metric_arg[] = {metric};
  if (!LockMetricRow(metric, wait)) {
    if (!wait && MetricExists(metric)) return -1;  // another transaction holds it
    // A new metric (or one dropped meanwhile). Every insert of a metric row
    // holds the creation lock, so without waiting for it no insert below
    // can wait either.
    if (!LockMetricCreation(metric, wait)) return -1;
    ExecutePlan(KeptPlan(&insert_plan, "INSERT INTO aegis.metric_catalog (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                         1, metric_type),
                metric_arg, nullptr, false, 0);
    if (!LockMetricRow(metric, wait)) return -1;  // dropped again meanwhile
  }
  return CountSeries(metric);
}

// Runs a write plan with lock_timeout set to timeout (milliseconds) for it
// alone. On an error the setting goes with the (sub)transaction's abort, as
// for a function's SET clause (fmgr_security_definer). PostgreSQL code.
void ExecuteWithLockTimeout(SPIPlanPtr plan, Datum* args, const char* timeout) {
  const int guc_level = NewGUCNestLevel();
  (void)set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  ExecutePlan(plan, args, nullptr, false, 0);
  AtEOXact_GUC(true, guc_level);
}

// Inserts the series, or raises 54000 when the metric already has
// series_count >= aegis.max_series_per_metric series. PostgreSQL code.
int64_t InsertSeries(const char* metric_name, int64_t series_count, Datum metric, Datum tags, bool wait) {
  static const Oid series_types[] = {TEXTOID, JSONBOID};
  if (series_count >= guc_max_series_per_metric) {
    // A writer under row-level security does not learn how many series it
    // cannot see.
    if (series_counts_hidden)
      ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("too many series for metric \"%s\"", metric_name),
                      errdetail("Metric \"%s\" has reached the limit set by aegis.max_series_per_metric (%d).",
                                metric_name, guc_max_series_per_metric),
                      errhint("Ask an administrator to raise aegis.max_series_per_metric.")));
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("too many series for metric \"%s\"", metric_name),
                    errdetail("Metric \"%s\" already has " INT64_FORMAT
                              " series, the limit set by aegis.max_series_per_metric (%d).",
                              metric_name, series_count, guc_max_series_per_metric),
                    errhint("Raise aegis.max_series_per_metric, or write fewer distinct tag sets.")));
  }
  Datum series_args[] = {metric, tags};
  bool isnull = false;
  // Creators of series of one metric run at the same time: one that creates
  // the same series waits for the other and then finds its row. A creator
  // that must not wait gives up after kNoWaitInsertTimeout (lock_timeout,
  // 55P03): a cycle it closed is broken long before deadlock_timeout.
  static const char* const sql[2] = {
      "INSERT INTO aegis.series (metric, tags) VALUES ($1, $2) ON CONFLICT (metric, tags) DO NOTHING RETURNING series_id",
      "INSERT INTO aegis.series (metric, tags) VALUES ($1, $2) "
      "ON CONFLICT ON CONSTRAINT series_key DO NOTHING RETURNING series_id"};
  const int form = SeriesKeyForm();
  SPIPlanPtr plan = KeptPlan(&insert_series_plans[form], sql[form], 2, series_types);
  if (wait) {
    ExecutePlan(plan, series_args, nullptr, false, 0);
  } else {
    ExecuteWithLockTimeout(plan, series_args, kNoWaitInsertTimeout);
  }
  if (SPI_processed == 1) return DatumGetInt64(ResultValue(0, 1, &isnull));
  return LookupSeries(metric, tags);
}

}  // namespace

namespace {

// Whether the one-parameter query (SELECT 1 ... WHERE key = $1) finds a row,
// with a snapshot taken now. PostgreSQL code.
bool RowExists(SPIPlanPtr* slot, const char* sql, Oid type, Datum key) {
  const Oid types[] = {type};
  Datum values[] = {key};
  ExecuteWithLatestSnapshot(KeptPlan(slot, sql, 1, types), values, nullptr, 0);
  const bool exists = SPI_processed == 1;
  SPI_freetuptable(SPI_tuptable);
  return exists;
}

}  // namespace

bool SeriesExists(int64_t series_id) {
  static SPIPlanPtr plan = nullptr;
  return RowExists(&plan, "SELECT 1 FROM aegis.series WHERE series_id = $1", INT8OID, Int64GetDatum(series_id));
}

bool MetricExists(Datum metric) {
  static SPIPlanPtr plan = nullptr;
  return RowExists(&plan, "SELECT 1 FROM aegis.metric_catalog WHERE name = $1", TEXTOID, metric);
}

int64_t CountSeries(Datum metric) {
  static const Oid metric_type[] = {TEXTOID};
  Datum metric_arg[] = {metric};
  bool isnull = false;
  ExecuteWithLatestSnapshot(KeptPlan(&count_series_plan, "SELECT count(*) FROM aegis.series WHERE metric = $1", 1,
                                     metric_type),
                            metric_arg, nullptr, 0);
  return DatumGetInt64(ResultValue(0, 1, &isnull));
}

void HideSeriesCounts(bool hidden) { series_counts_hidden = hidden; }

void ForgetCachedSeries() {
  ClearSeriesCache();
  cache_stale = false;
}

// The OID of aegis.series; InvalidOid when the extension is not there.
Oid SeriesRelid() {
  const Oid schema = get_namespace_oid("aegis", true);
  return OidIsValid(schema) ? get_relname_relid("series", schema) : InvalidOid;
}

void InvalidateSeriesCaches() {
  const Oid relid = SeriesRelid();
  if (OidIsValid(relid)) CacheInvalidateRelcacheByRelid(relid);
}

// TRUNCATE of aegis.series truncates the tables keyed by its ids in the same
// statement: with RESTART IDENTITY the ids are given out again, and points
// of the old series must not appear under the new ones. A statement that
// does not name aegis.series, or runs without the extension, is returned
// as it is. PostgreSQL code.
PlannedStmt* WithSeriesDataTruncated(PlannedStmt* pstmt, bool read_only_tree) {
  auto* stmt = castNode(TruncateStmt, pstmt->utilityStmt);
  const Oid series = SeriesRelid();
  if (!OidIsValid(series)) return pstmt;
  bool names_series = false;
  ListCell* cell;
  foreach (cell, stmt->relations) {
    if (RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true) == series) names_series = true;
  }
  if (!names_series) return pstmt;
  if (read_only_tree) {
    pstmt = static_cast<PlannedStmt*>(copyObjectImpl(pstmt));
    stmt = castNode(TruncateStmt, pstmt->utilityStmt);
  }
  static const char* const kDataTables[] = {"recent_points", "blocks", "rollups", "last_points", "packed_points"};
  for (const char* table : kDataTables) {
    const Oid relid = get_relname_relid(table, get_rel_namespace(series));
    if (!OidIsValid(relid)) continue;
    bool listed = false;
    foreach (cell, stmt->relations) {
      if (RangeVarGetRelid(lfirst_node(RangeVar, cell), NoLock, true) == relid) listed = true;
    }
    if (!listed) stmt->relations = lappend(stmt->relations, makeRangeVar(pstrdup("aegis"), pstrdup(table), -1));
  }
  return pstmt;
}

void DropShardsBeforeDropExtension(Node* parsetree) {
  auto* stmt = castNode(DropStmt, parsetree);
  if (stmt->removeType != OBJECT_EXTENSION || !UnderCitus()) return;
  bool ours = false;
  ListCell* cell;
  foreach (cell, stmt->objects) {
    if (strcmp(strVal(lfirst(cell)), "aegis_timeseries") == 0) ours = true;
  }
  if (!ours || !OidIsValid(get_extension_oid("aegis_timeseries", true))) return;
  const Oid schema = get_namespace_oid("aegis", true);
  if (!OidIsValid(schema) || !OidIsValid(get_relname_relid("recent_points", schema))) return;
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "aegis: SPI_connect failed");
  CheckSpiResult(SPI_execute("SELECT aegis._drop_shards()", false, 0), "dropping the Citus shards");
  SPI_finish();
}

void InitSeriesCache() {
  RegisterXactCallback(SeriesCacheXactCallback, nullptr);
  RegisterSubXactCallback(SeriesCacheSubXactCallback, nullptr);
  CacheRegisterRelcacheCallback(SeriesRelcacheCallback, PointerGetDatum(nullptr));
}

void CheckTags(Jsonb* tags) {
  if (JB_ROOT_IS_SCALAR(tags) || !JB_ROOT_IS_OBJECT(tags))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("tags must be a JSON object"),
                    errdetail("Got %s.", JB_ROOT_IS_SCALAR(tags) ? "a JSON scalar" : "a JSON array"),
                    errhint("Write tags as an object of strings, for example '{\"host\": \"web-1\"}'.")));
  JsonbIterator* it = JsonbIteratorInit(&tags->root);
  JsonbValue value;
  JsonbIteratorToken token;
  char* key = nullptr;
  while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE) {
    if (token == WJB_KEY) {
      key = pnstrdup(value.val.string.val, value.val.string.len);
      if (value.val.string.len == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("tag keys must not be empty")));
    } else if (token == WJB_VALUE && value.type != jbvString) {
      const char* kind = value.type == jbvNumeric ? "a number"
                         : value.type == jbvBool  ? "a boolean"
                         : value.type == jbvNull  ? "null"
                                                  : "a nested JSON value";
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("tag \"%s\" must be a string", key),
                      errdetail("Its value is %s.", kind),
                      errhint("Tags are a flat JSON object of string keys to string values.")));
    }
  }
}

uint64_t SeriesCacheGeneration() {
  if (cache_stale || series_cache.size() >= kMaxCachedSeries) {
    ClearSeriesCache();
    cache_stale = false;
  }
  // The relcache callback recognises aegis.series by this: without it an
  // invalidation of the catalog (a series deleted) would go unnoticed.
  if (series_relid == InvalidOid) series_relid = PgCall([] { return SeriesRelid(); });
  return series_cache_generation;
}

int64_t ResolveSeries(const std::string& metric, Jsonb* tags, bool create, bool may_wait) {
  (void)SeriesCacheGeneration();  // empties a stale cache
  std::string key;
  key.reserve(metric.size() + 1 + VARSIZE_ANY_EXHDR(tags));
  key.append(metric).push_back('\0');
  key.append(VARDATA_ANY(tags), VARSIZE_ANY_EXHDR(tags));
  auto hit = series_cache.find(key);
  if (hit != series_cache.end()) return hit->second;

  if (create) core::ValidateMetricName(metric);
  const char* metric_name = metric.c_str();
  Datum metric_datum = PgCall([&] {
    if (series_relid == InvalidOid) series_relid = SeriesRelid();
    return CStringGetTextDatum(metric_name);
  });
  int64_t series_id = PgCall([&] { return LookupSeries(metric_datum, PointerGetDatum(tags)); });
  if (series_id < 0 && create) {
    // A series key stays small: it is printed and hashed on every lookup,
    // and kept in every writer's series cache.
    const size_t key_bytes = metric.size() + VARSIZE_ANY(tags);
    if (key_bytes > kMaxSeriesKeyBytes)
      throw core::Error(core::ErrorCategory::LimitExceeded,
                        "tag set of metric " + core::QuoteForMessage(metric) + " is too large",
                        "The metric name and tags of a series take " + std::to_string(key_bytes) +
                            " bytes; at most " + std::to_string(kMaxSeriesKeyBytes) +
                            " are allowed.",
                        "Keep large values out of tags.");
    // The metric's row is locked (FOR UPDATE) once per transaction;
    // after that this transaction keeps the count. A transaction that
    // already holds series rows must not wait for a metric row (metric rows
    // come first in the lock order, docs/architecture.md "Locks"): a
    // conflict (a drop_metric, or another transaction creating the metric)
    // is 40001.
    auto counted = series_counts.find(metric);
    if (counted == series_counts.end()) {
      const bool wait = may_wait;
      int64_t series_count = 0;
      series_id = PgCall([&] {
        series_count = LockMetricAndCountSeries(metric_datum, wait);
        // Another writer may have created it while we waited for the lock.
        return series_count < 0 ? -1 : LookupSeries(metric_datum, PointerGetDatum(tags));
      });
      if (series_count < 0)
        throw core::Error(core::ErrorCategory::SerializationFailure,
                          "could not create a series of metric " + core::QuoteForMessage(metric) +
                              " without waiting",
                          "This transaction already writes to other series, and another session is dropping "
                          "the metric or creating it.",
                          "Retry the transaction.");
      if (series_id < 0) counted = series_counts.emplace(metric, series_count).first;
    }
    if (series_id < 0) {
      const int64_t series_count = counted->second;
      const bool wait = may_wait;
      try {
        series_id = PgCall(
            [&] { return InsertSeries(metric_name, series_count, metric_datum, PointerGetDatum(tags), wait); });
      } catch (const PgError& e) {
        if (wait || e.data()->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE) throw;
        throw core::Error(core::ErrorCategory::SerializationFailure,
                          "could not create a series of metric " + core::QuoteForMessage(metric) +
                              " without waiting",
                          "This transaction already writes to other series, and another session is creating the "
                          "same series.",
                          "Retry the transaction.");
      }
      series_counts[metric] = series_count + 1;
    }
  }
  if (series_id >= 0) series_cache.emplace(std::move(key), series_id);
  return series_id;
}

namespace {

// Locks the series' row in `mode`; when wait is false, a row another
// transaction holds in a conflicting mode counts as not locked. Returns
// whether the row exists and is now locked. PostgreSQL code.
bool LockSeriesRow(int64_t series_id, SeriesLock mode, bool wait) {
  static const Oid types[] = {INT8OID};
  Datum values[] = {Int64GetDatum(series_id)};
  ExecuteCatalogLock(mode == SeriesLock::kRewrite ? CatalogLock::kSeriesNoKeyUpdate : CatalogLock::kSeriesShare, wait,
                     1, types, values);
  const bool found = SPI_processed == 1;
  SPI_freetuptable(SPI_tuptable);
  return found;
}

}  // namespace

bool HoldsSeriesLocks() { return holds_series_rows; }

void NoteSeriesRowsHeld() { holds_series_rows = true; }

namespace {


// Locks the row without waiting, settling for kAppend (FOR SHARE) when
// kRewrite is taken by another transaction; returns false when neither can
// be had now (or the row is gone). PostgreSQL code.
bool LockSeriesRowWithoutWaiting(int64_t series_id, SeriesLock* mode) {
  if (LockSeriesRow(series_id, *mode, false)) return true;
  if (*mode == SeriesLock::kRewrite && LockSeriesRow(series_id, SeriesLock::kAppend, false)) {
    *mode = SeriesLock::kAppend;
    return true;
  }
  return false;
}

[[noreturn]] void ThrowLockConflict(const std::string& metric) {
  throw core::Error(core::ErrorCategory::SerializationFailure,
                    "could not lock a series of metric " + core::QuoteForMessage(metric) + " without waiting",
                    "This transaction already holds series of earlier statements, and another session is "
                    "writing a batch to this series or deleting it.",
                    "Retry the transaction.");
}

}  // namespace

bool LockSeriesIfExists(int64_t series_id, SeriesLock mode, bool may_wait) {
  auto held = locked_series.find(series_id);
  if (held != locked_series.end() && held->second >= mode) return true;
  const bool wait = may_wait && held == locked_series.end();
  bool exists = true;
  const bool locked = PgCall([&] {
    if (LockSeriesRow(series_id, mode, wait)) return true;
    if (!wait) exists = SeriesExists(series_id);
    return false;
  });
  if (locked) {
    locked_series[series_id] = mode;
    holds_series_rows = true;
    return true;
  }
  if (!wait && exists)
    throw core::Error(core::ErrorCategory::SerializationFailure,
                      "could not lock series " + std::to_string(series_id) + " without waiting",
                      "This transaction already holds series, and another session is writing to this one or "
                      "deleting it.",
                      "Retry the transaction.");
  return false;  // deleted meanwhile
}

int64_t LockSeriesForWrite(const std::string& metric, Jsonb* tags, int64_t series_id, SeriesLock* mode,
                           bool* may_wait) {
  auto held = locked_series.find(series_id);
  if (held != locked_series.end()) {
    if (held->second >= *mode) return series_id;
    // Holding FOR SHARE already: waiting for FOR NO KEY UPDATE could wait
    // for another transaction that holds FOR SHARE and waits for us. Take it
    // only when it is free, else write through recent rows under the lock
    // this transaction has.
    if (PgCall([&] { return LockSeriesRow(series_id, SeriesLock::kRewrite, false); })) {
      held->second = SeriesLock::kRewrite;
    } else {
      *mode = SeriesLock::kAppend;
    }
    return series_id;
  }
  if (*may_wait) {
    if (PgCall([&] { return LockSeriesRow(series_id, *mode, true); })) {
      locked_series.emplace(series_id, *mode);
      holds_series_rows = true;
      return series_id;
    }
  } else {
    bool exists = true;
    if (PgCall([&] { return LockSeriesRowWithoutWaiting(series_id, mode) || !(exists = SeriesExists(series_id)); }) &&
        exists) {
      locked_series.emplace(series_id, *mode);
      holds_series_rows = true;
      return series_id;
    }
    if (exists) ThrowLockConflict(metric);
  }
  // Deleted after it was resolved: the write goes to the series as it is
  // now (created anew), but out of the id order, so from here on this
  // statement takes no lock it would have to wait for; a conflict is a
  // serialization failure the client retries. (Creating the series waits
  // for its metric's row only while this transaction holds no series row.)
  *may_wait = false;
  ClearSeriesCache();
  const int64_t id = ResolveSeries(metric, tags, true, false);
  if (!PgCall([&] { return LockSeriesRowWithoutWaiting(id, mode); }))
    throw core::Error(core::ErrorCategory::SerializationFailure,
                      "series of metric " + core::QuoteForMessage(metric) + " was deleted while it was written to",
                      "Another session deleted the series or dropped the metric during this write.",
                      "Retry the transaction.");
  locked_series.emplace(id, *mode);
  holds_series_rows = true;
  return id;
}

std::vector<int64_t> LockSeriesForAppend(const std::vector<int64_t>& ids) {
  std::vector<int64_t> wanted;
  wanted.reserve(ids.size());
  for (int64_t id : ids)
    if (locked_series.find(id) == locked_series.end()) wanted.push_back(id);
  if (wanted.empty()) return {};
  // LockRows sits above the Sort: rows are locked in ascending id.
  PgCall([&] {
    static const Oid types[] = {INT8ARRAYOID};
    Datum values[] = {Int64Array(wanted.data(), wanted.size(), INT8OID)};
    ExecuteCatalogLock(CatalogLock::kSeriesShareMany, true, 1, types, values);
    pfree(DatumGetPointer(values[0]));
  });
  std::vector<int64_t> found;
  found.reserve(SPI_processed);
  for (uint64 i = 0; i < SPI_processed; ++i) {
    bool isnull = false;
    found.push_back(DatumGetInt64(ResultValue(i, 1, &isnull)));
  }
  PgCall([] { SPI_freetuptable(SPI_tuptable); });
  std::sort(found.begin(), found.end());
  for (int64_t id : found) locked_series.emplace(id, SeriesLock::kAppend);
  if (!found.empty()) holds_series_rows = true;
  std::vector<int64_t> missing;
  std::set_difference(wanted.begin(), wanted.end(), found.begin(), found.end(), std::back_inserter(missing));
  return missing;
}

}  // namespace aegis::pg

// Statement trigger on aegis.series (on one node; aegis.distribute() drops
// it): tells every backend's series cache that series may be gone, however
// they went (raw DML included).
AEGIS_PG_FUNCTION(aegis_series_changed) {
  if (!CALLED_AS_TRIGGER(fcinfo)) ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                                                  errmsg("aegis_series_changed() must be called as a trigger")));
  auto* trigger_data = reinterpret_cast<TriggerData*>(fcinfo->context);
  CacheInvalidateRelcache(trigger_data->tg_relation);
  // Series written in this transaction may be gone.
  aegis::pg::ForgetWrittenValues();
  return PointerGetDatum(nullptr);
}

namespace {

SPIPlanPtr create_metric_plan = nullptr;

}  // namespace

// aegis.create_metric(name, kind, unit, description): registers a metric.
AEGIS_PG_FUNCTION(aegis_create_metric) {
  aegis::pg::RequireNotNull(fcinfo, 0, "metric name");
  aegis::pg::RequireNotNull(fcinfo, 1, "metric kind");
  char* name = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char* kind_text = text_to_cstring(PG_GETARG_TEXT_PP(1));
  aegis::core::ValidateMetricName(name);
  const char* kind = aegis::core::MetricKindName(aegis::core::ParseMetricKind(kind_text));
  aegis::pg::AsTableOwner owner;
  aegis::pg::PgCall([&] {
    static const Oid types[] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
    Datum values[] = {CStringGetTextDatum(name), CStringGetTextDatum(kind), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3)};
    char nulls[] = {' ', ' ', PG_ARGISNULL(2) ? 'n' : ' ', PG_ARGISNULL(3) ? 'n' : ' '};
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "aegis: SPI_connect failed");
    // Every insert of a metric row holds the metric's creation lock
    // (LockMetricCreation).
    static SPIPlanPtr creation_lock_plan = nullptr;
    aegis::pg::ExecutePlan(
        aegis::pg::KeptPlan(&creation_lock_plan,
                            "SELECT pg_catalog.pg_advisory_xact_lock(1095059277, pg_catalog.hashtext($1))", 1, types),
        values, nulls, false, 0);
    aegis::pg::ExecutePlan(aegis::pg::KeptPlan(&create_metric_plan,
                                               "INSERT INTO aegis.metric_catalog (name, kind, unit, description) "
                                               "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                                               4, types),
                           values, nulls, false, 0);
    uint64 inserted = SPI_processed;
    SPI_finish();
    // It holds the metric's creation lock now: later statements of the
    // transaction must not wait (docs/architecture.md, "Locks").
    aegis::pg::NoteSeriesRowsHeld();
    if (inserted == 0)
      ereport(ERROR, (errcode(ERRCODE_DUPLICATE_OBJECT), errmsg("metric \"%s\" already exists", name)));
  });
  PG_RETURN_VOID();
}
