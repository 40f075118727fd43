// aegis.points as a foreign table of the extension's own foreign-data
// wrapper, so that ordinary SQL over it reaches the engine.
//
// Why a foreign-data wrapper: aegis.points is a relation whose storage is not
// a heap (series catalog rows, compressed blocks, recent rows). The wrapper
// API is PostgreSQL's interface for exactly that: the planner hands it the
// WHERE conditions (GetForeignRelSize/GetForeignPlan), EXPLAIN asks it what
// it did, and INSERT, COPY FROM and DELETE call it row by row, with no
// trigger in between. (docs/architecture.md, "SQL over aegis.points".)
//
// Scan. The conditions of a query are sorted into three kinds:
// - series conditions reference only metric and tags (and no volatile
//   function): they are properties of a series, so they are evaluated once per
//   series on its catalog row, never per point. Equalities among them
//   (metric = x, metric = ANY(...), tags ->> 'k' = x, tags @> x) also narrow
//   the catalog query, so it goes through the catalog's indexes;
// - time bounds, ts compared with an expression that has no column in it and
//   no volatile function (constants, parameters, now() - interval '1 hour'):
//   evaluated when the scan starts, they become the read's [since, until), so
//   blocks outside are never read;
// - everything else (value conditions, conditions mixing columns) stays with
//   PostgreSQL, evaluated on each row.
// The rows of the chosen series are read a group of series at a time, inside
// one SPI connection per group (recent rows with one query, blocks through
// one cursor, as aegis.aggregate reads them), into a buffer the scan then
// returns row by row: no SPI connection or portal stays open between calls.
//
// Writes. INSERT and COPY FROM buffer rows per series (points_buffer.cpp)
// and write them when the statement ends; DELETE removes the point each row
// of its scan shows.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "core/aggregate.h"
#include "core/error.h"
#include "core/series_points.h"
#include "core/time_bucket.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/catalog.h"
#include "pg/engine_stats.h"
#include "pg/guc.h"
#include "pg/interval.h"
#include "pg/packed.h"
#include "pg/privileges.h"
#include "pg/series_data.h"
#include "pg/series_scan.h"
#include "pg/shard_summaries.h"
#include "pg/spi.h"
#include "pg/store.h"
#include "pg/write.h"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/clauses.h"
#include "optimizer/tlist.h"
#include "parser/parse_func.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "rewrite/rewriteManip.h"
#include "access/table.h"
#include "catalog/pg_aggregate_d.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_opfamily_d.h"
#include "utils/syscache.h"
#include "access/stratnum.h"
#include "commands/defrem.h"
#include "utils/lsyscache.h"
#include "optimizer/appendinfo.h"
#include "parser/scansup.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/ruleutils.h"
#include "utils/tuplesort.h"
}

namespace aegis::pg {

namespace {

// The columns of aegis.points.
constexpr AttrNumber kMetric = 1;
constexpr AttrNumber kTags = 2;
constexpr AttrNumber kTs = 3;
constexpr AttrNumber kValue = 4;
constexpr int kColumns = 4;

// What a pushed-down expression (an entry of the plan's fdw_exprs) is.
enum ExprKind : int {
  kSeriesCondition = 0,  // a series condition (evaluated on catalog rows)
  kMetricIs = 1,         // text: metric = it
  kMetricIn = 2,         // text[]: metric = ANY(it)
  kTagIs = 3,            // text: tags ->> key = it (the key is in the kinds list)
  kTagsContain = 4,      // jsonb: tags @> it
  kTsAtLeast = 5,        // timestamptz: ts >= it
  kTsAfter = 6,          // ts > it
  kTsBefore = 7,         // ts < it
  kTsAtMost = 8,         // ts <= it
  kTsIs = 9,             // ts = it
  kValueAtLeast = 10,    // float8: value >= it
  kValueAbove = 11,      // value > it
  kValueBelow = 12,      // value < it
  kValueAtMost = 13,     // value <= it
  kValueIs = 14,         // value = it
  kValueIsNot = 15,      // value <> it
};

bool IsValueKind(int kind) { return kind >= kValueAtLeast; }

// The conditions of a scan, sorted (from the relation's restriction clauses).
struct Conditions {
  List* series = NIL;     // Expr: series conditions
  List* hints = NIL;      // Expr: operands that narrow the catalog query
  List* hint_kinds = NIL; // int: their ExprKind
  List* hint_keys = NIL;  // String: the tag key of a kTagIs hint, "" otherwise
  List* bounds = NIL;     // Expr: the other side of a time bound or value condition
  List* bound_kinds = NIL;
  List* time_clauses = NIL;   // Expr: the time bounds' clauses (EXPLAIN)
  List* value_clauses = NIL;  // Expr: the value conditions' clauses (EXPLAIN)
  List* local = NIL;      // RestrictInfo: left to PostgreSQL
  List* pushed = NIL;     // RestrictInfo: taken by the engine (series and time conditions)
};

bool IsColumn(Node* node, Index relid, AttrNumber column) {
  while (node != nullptr && IsA(node, RelabelType)) node = reinterpret_cast<Node*>(castNode(RelabelType, node)->arg);
  if (node == nullptr || !IsA(node, Var)) return false;
  Var* var = castNode(Var, node);
  return var->varno == static_cast<int>(relid) && var->varlevelsup == 0 && var->varattno == column;
}

// An operand the scan can evaluate once at its start: no column of any
// relation, no volatile function, no subquery.
bool IsRunConstant(Node* node) {
  return !contain_var_clause(node) && !contain_volatile_functions(node) && !contain_subplans(node);
}

// tags ->> 'key' with a constant key: the key, else nullptr.
const char* TagFieldKey(Node* node, Index relid) {
  List* args = NIL;
  if (IsA(node, OpExpr) && castNode(OpExpr, node)->opfuncid == F_JSONB_OBJECT_FIELD_TEXT)
    args = castNode(OpExpr, node)->args;
  else if (IsA(node, FuncExpr) && castNode(FuncExpr, node)->funcid == F_JSONB_OBJECT_FIELD_TEXT)
    args = castNode(FuncExpr, node)->args;
  if (list_length(args) != 2 || !IsColumn(static_cast<Node*>(linitial(args)), relid, kTags)) return nullptr;
  Node* key = static_cast<Node*>(lsecond(args));
  if (!IsA(key, Const) || castNode(Const, key)->constisnull) return nullptr;
  return TextDatumGetCString(castNode(Const, key)->constvalue);
}

// Adds a narrowing hint when a series condition is one of the shapes the
// catalog's indexes answer.
void AddHint(Conditions* c, Expr* clause, Index relid) {
  // The catalog query compares with the default collation.
  const Oid collation = exprInputCollation(reinterpret_cast<Node*>(clause));
  if (OidIsValid(collation) && !get_collation_isdeterministic(collation)) return;
  auto add = [&](ExprKind kind, Node* operand, const char* key) {
    c->hints = lappend(c->hints, operand);
    c->hint_kinds = lappend_int(c->hint_kinds, kind);
    c->hint_keys = lappend(c->hint_keys, makeString(pstrdup(key)));
  };
  if (IsA(clause, OpExpr) && list_length(castNode(OpExpr, clause)->args) == 2) {
    OpExpr* op = castNode(OpExpr, clause);
    for (int side = 0; side < 2; ++side) {
      Node* column = static_cast<Node*>(list_nth(op->args, side));
      Node* other = static_cast<Node*>(list_nth(op->args, 1 - side));
      if (!IsRunConstant(other)) continue;
      if (op->opfuncid == F_TEXTEQ && IsColumn(column, relid, kMetric)) return add(kMetricIs, other, "");
      if (op->opfuncid == F_TEXTEQ) {
        if (const char* key = TagFieldKey(column, relid)) return add(kTagIs, other, key);
      }
      if (op->opfuncid == F_JSONB_CONTAINS && side == 0 && IsColumn(column, relid, kTags))
        return add(kTagsContain, other, "");
    }
  } else if (IsA(clause, ScalarArrayOpExpr)) {
    ScalarArrayOpExpr* op = castNode(ScalarArrayOpExpr, clause);
    if (op->useOr && op->opfuncid == F_TEXTEQ && list_length(op->args) == 2 &&
        IsColumn(static_cast<Node*>(linitial(op->args)), relid, kMetric) &&
        IsRunConstant(static_cast<Node*>(lsecond(op->args))))
      add(kMetricIn, static_cast<Node*>(lsecond(op->args)), "");
  }
}

// A time bound (ts <op> x or x <op> ts, op one of timestamptz's
// comparisons) or a value condition (the same with value and float8's).
bool AddBound(Conditions* c, Expr* clause, Index relid) {
  if (!IsA(clause, OpExpr) || list_length(castNode(OpExpr, clause)->args) != 2) return false;
  OpExpr* op = castNode(OpExpr, clause);
  ExprKind kind;
  switch (op->opfuncid) {
    case F_TIMESTAMPTZ_GE: kind = kTsAtLeast; break;
    case F_TIMESTAMPTZ_GT: kind = kTsAfter; break;
    case F_TIMESTAMPTZ_LT: kind = kTsBefore; break;
    case F_TIMESTAMPTZ_LE: kind = kTsAtMost; break;
    case F_TIMESTAMPTZ_EQ: kind = kTsIs; break;
    case F_FLOAT8GE: kind = kValueAtLeast; break;
    case F_FLOAT8GT: kind = kValueAbove; break;
    case F_FLOAT8LT: kind = kValueBelow; break;
    case F_FLOAT8LE: kind = kValueAtMost; break;
    case F_FLOAT8EQ: kind = kValueIs; break;
    case F_FLOAT8NE: kind = kValueIsNot; break;
    default: return false;
  }
  const AttrNumber column = IsValueKind(kind) ? kValue : kTs;
  Node* left = static_cast<Node*>(linitial(op->args));
  Node* right = static_cast<Node*>(lsecond(op->args));
  if (IsColumn(right, relid, column) && IsRunConstant(left)) {
    // x < ts is ts > x.
    static const ExprKind mirrored[] = {kSeriesCondition, kMetricIs, kMetricIn, kTagIs, kTagsContain,
                                        kTsAtMost, kTsBefore, kTsAfter, kTsAtLeast, kTsIs,
                                        kValueAtMost, kValueBelow, kValueAbove, kValueAtLeast, kValueIs, kValueIsNot};
    kind = mirrored[kind];
    std::swap(left, right);
  }
  if (!IsColumn(left, relid, column) || !IsRunConstant(right)) return false;
  c->bounds = lappend(c->bounds, right);
  c->bound_kinds = lappend_int(c->bound_kinds, kind);
  if (IsValueKind(kind)) {
    c->value_clauses = lappend(c->value_clauses, clause);
  } else {
    c->time_clauses = lappend(c->time_clauses, clause);
  }
  return true;
}

Conditions Classify(List* restrictinfos, RelOptInfo* rel, Index relid) {
  Conditions c;
  ListCell* cell;
  foreach (cell, restrictinfos) {
    RestrictInfo* ri = lfirst_node(RestrictInfo, cell);
    if (ri->pseudoconstant) continue;  // the planner gates the scan on it
    Expr* clause = ri->clause;
    Bitmapset* columns = nullptr;
    pull_varattnos(reinterpret_cast<Node*>(clause), relid, &columns);
    const int offset = FirstLowInvalidHeapAttributeNumber;
    Bitmapset* series_columns = bms_add_member(bms_make_singleton(kMetric - offset), kTags - offset);
    const bool safe = !contain_volatile_functions(reinterpret_cast<Node*>(clause)) &&
                      !contain_subplans(reinterpret_cast<Node*>(clause));
    // A condition is evaluated on catalog rows before the others: only one
    // that leaks nothing, or that no security barrier's condition precedes.
    const bool promotable = rel == nullptr || restriction_is_securely_promotable(ri, rel);
    if (safe && promotable && !bms_is_empty(columns) && bms_is_subset(columns, series_columns)) {
      c.series = lappend(c.series, clause);
      c.pushed = lappend(c.pushed, ri);
      AddHint(&c, clause, relid);
    } else if (AddBound(&c, clause, relid)) {
      c.pushed = lappend(c.pushed, ri);
    } else {
      c.local = lappend(c.local, ri);
    }
  }
  return c;
}

// The text of conditions for EXPLAIN, with the columns' names.
char* Deparse(List* clauses, Index relid, Oid table) {
  if (clauses == NIL) return nullptr;
  Node* expr = static_cast<Node*>(copyObjectImpl(make_ands_explicit(clauses)));
  if (relid != 1) ChangeVarNodes(expr, relid, 1, 0);
  return deparse_expression(expr, deparse_context_for("points", table), false, false);
}

// Raises unless the relation has aegis.points' columns: (metric text, tags
// jsonb, ts timestamptz, value double precision).
void CheckPointsShape(Relation rel) {
  static const Oid types[] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, FLOAT8OID};
  TupleDesc desc = RelationGetDescr(rel);
  bool ok = desc->natts == kColumns;
  for (int i = 0; ok && i < kColumns; ++i)
    ok = !TupleDescAttr(desc, i)->attisdropped && TupleDescAttr(desc, i)->atttypid == types[i];
  if (!ok)
    ereport(ERROR, (errcode(ERRCODE_FDW_INVALID_COLUMN_NUMBER),
                    errmsg("foreign table \"%s\" does not have the columns of aegis.points", RelationGetRelationName(rel)),
                    errdetail("The aegis_points wrapper serves (metric text, tags jsonb, ts timestamptz, value double "
                              "precision).")));
}

void GetRelSize(PlannerInfo* /*root*/, RelOptInfo* baserel, Oid table) {
  Relation rel = table_open(table, NoLock);
  CheckPointsShape(rel);
  table_close(rel, NoLock);
  baserel->fdw_private = list_make1_int(1);  // this wrapper planned it (GetUpperPaths checks)
  const Conditions c = Classify(baserel->baserestrictinfo, baserel, baserel->relid);
  // No statistics: a guess that ranks a narrowed scan below a full one.
  double rows = 1e6;
  if (c.hints != NIL) rows /= 100;
  if (c.bounds != NIL) rows /= 10;
  baserel->rows = rows;
  baserel->tuples = 1e6;
}

// The operator family of a built-in type's default btree operator class,
// looked up once into *cache (GetDefaultOpClass scans pg_opclass, and a
// built-in type's family never changes).
Oid DefaultBtreeFamily(Oid type, Oid* cache) {
  if (!OidIsValid(*cache)) {
    const Oid opclass = GetDefaultOpClass(type, BTREE_AM_OID);
    if (OidIsValid(opclass)) *cache = get_opclass_family(opclass);
  }
  return *cache;
}

Oid TimestamptzBtreeFamily() {
  static Oid family = InvalidOid;
  return DefaultBtreeFamily(TIMESTAMPTZOID, &family);
}

Oid JsonbBtreeFamily() {
  static Oid family = InvalidOid;
  return DefaultBtreeFamily(JSONBOID, &family);
}

// The order a scan's points come in (fdw_private's counts, and a path's
// fdw_private).
enum TimeOrder : int { kOrderAny = 0, kOrderNewestFirst = 1, kOrderOldestFirst = 2 };

// The query's ORDER BY when it is `ts DESC` (strategy BTGreaterStrategyNumber)
// or `ts` (BTLessStrategyNumber) alone, as pathkeys the scan can produce;
// else NIL.
List* TimeOrderPathkeys(PlannerInfo* root, RelOptInfo* baserel, int strategy) {
  if (list_length(root->query_pathkeys) != 1) return NIL;
  PathKey* key = linitial_node(PathKey, root->query_pathkeys);
  if (key->pk_strategy != strategy || !OidIsValid(TimestamptzBtreeFamily()) ||
      key->pk_opfamily != TimestamptzBtreeFamily())
    return NIL;
  ListCell* cell;
  foreach (cell, key->pk_eclass->ec_members) {
    Node* expr = reinterpret_cast<Node*>(lfirst_node(EquivalenceMember, cell)->em_expr);
    while (IsA(expr, RelabelType)) expr = reinterpret_cast<Node*>(castNode(RelabelType, expr)->arg);
    if (IsColumn(expr, baserel->relid, kTs)) return root->query_pathkeys;
  }
  return NIL;
}

void GetPaths(PlannerInfo* root, RelOptInfo* baserel, Oid /*table*/) {
  const Cost startup = 10;
  const Cost total = startup + baserel->rows * (cpu_tuple_cost + 0.001);
  add_path(baserel, reinterpret_cast<Path*>(create_foreignscan_path(root, baserel, nullptr, baserel->rows, startup,
                                                                    total, NIL, nullptr, nullptr, NIL)));
  // Newest first: time windows read from the newest back, so a LIMIT stops
  // the reading early; a little dearer in total than reading in any order.
  if (List* pathkeys = TimeOrderPathkeys(root, baserel, BTGreaterStrategyNumber))
    add_path(baserel, reinterpret_cast<Path*>(create_foreignscan_path(
                          root, baserel, nullptr, baserel->rows, startup + 1, total * 1.05, pathkeys, nullptr,
                          nullptr, list_make1_int(kOrderNewestFirst))));
  // Oldest first: one series' points come in time order as they are read;
  // several series' go through a tuplesort inside the scan (as a Sort node
  // would do with them), so a one-series read needs no Sort node. Costed as
  // the full sort it may be (every point read before the first row, and no
  // LIMIT bounds it), a tenth of the sort cheaper: without a LIMIT the
  // scan's own order wins over a Sort node; with a small LIMIT a Sort node's
  // bounded top-N sort does.
  if (List* pathkeys = TimeOrderPathkeys(root, baserel, BTLessStrategyNumber)) {
    Path sorted;
    cost_sort(&sorted, root, pathkeys, total, baserel->rows, baserel->reltarget->width, 0.0, work_mem, -1.0);
    const Cost sort_startup = total + 0.9 * (sorted.startup_cost - total);
    add_path(baserel, reinterpret_cast<Path*>(create_foreignscan_path(
                          root, baserel, nullptr, baserel->rows, sort_startup,
                          sort_startup + (sorted.total_cost - sorted.startup_cost), pathkeys, nullptr, nullptr,
                          list_make1_int(kOrderOldestFirst))));
  }
}

// What a scan returns (fdw_private's counts).
enum ScanMode : int {
  kModePoints = 0,           // the points (of aegis.points' base relation)
  kModeAggregate = 1,        // GROUP BY rows the engine computes
  kModeNewestPerSeries = 2,  // DISTINCT ON (metric, tags) ... ORDER BY ..., ts DESC
  kModeNewestPerSeriesByName = 3,  // the same, the rows in ORDER BY metric, tags order
};

// What a column of an aggregating scan's tuple holds.
enum ColumnKind : int {
  kColSeries = 0,     // a GROUP BY expression of metric and tags: per series
  kColBucket = 1,     // the GROUP BY's aegis.time_bucket(width, ts): the bucket start
  kColAggregate = 2,  // an aggregate (its code in the plan's aggregate list)
  kColJunk = 3,       // metric or tags, there for the planner's references
};

// An aggregate the engine computes: core::AggregateKind, plus kAsCount when
// the SQL aggregate returns bigint (count), plus kSampleForm for stddev and
// variance's sample forms.
constexpr int kAsCount = 100;
constexpr int kSampleForm = 1000;
constexpr int kFillForm = 10000;  // times the fill (kFillPrevious, kFillLinear) of aegis.locf/interpolate

// The engine's function for an aggregate code, whether the SQL aggregate
// returns bigint, and the fill of its gaps.
core::AggregateFn FnOfCode(int code, bool* as_count = nullptr, int* fill = nullptr) {
  if (fill != nullptr) *fill = code / kFillForm;
  code %= kFillForm;
  core::AggregateFn fn;
  fn.sample = code >= kSampleForm;
  code %= kSampleForm;
  if (as_count != nullptr) *as_count = code >= kAsCount;
  fn.kind = static_cast<core::AggregateKind>(code % kAsCount);
  return fn;
}

// The extension's functions the planner integration recognises, by OID.
// Looked up once per backend and again after any change to pg_proc (a
// CREATE, DROP or ALTER EXTENSION may give them new OIDs): every query over
// aegis.points asks for them while it is planned.
enum class Known : int {
  kFirst, kLast, kRate, kIncrease, kDelta,  // aegis.<name>(double precision, timestamptz)
  kGapfill,                                 // aegis.time_bucket_gapfill(interval, timestamptz x 3)
  kLocf,                                    // aegis.locf(anyelement)
  kInterpolate,                             // aegis.interpolate(double precision)
  kTimeBucket,                              // aegis.time_bucket(interval, timestamptz)
  kTimeBucketOrigin,                        // aegis.time_bucket(interval, timestamptz, timestamptz)
  kCount
};

bool known_valid = false;
uint64 known_generation = 0;  // pg_proc invalidations seen
Oid known_oids[static_cast<int>(Known::kCount)];

void ForgetKnownFunctions(Datum /*arg*/, int /*cache_id*/, uint32 /*hash*/) {
  known_valid = false;
  ++known_generation;
}

// The OID of a known function, InvalidOid if it does not exist.
Oid KnownFunction(Known which) {
  if (!known_valid) {
    static bool registered = false;
    if (!registered) {
      CacheRegisterSyscacheCallback(PROCOID, ForgetKnownFunctions, PointerGetDatum(nullptr));
      registered = true;
    }
    auto lookup = [](const char* name, int nargs, const Oid* args) {
      return LookupFuncName(list_make2(makeString(pstrdup("aegis")), makeString(pstrdup(name))), nargs, args, true);
    };
    const Oid sample[] = {FLOAT8OID, TIMESTAMPTZOID};
    const Oid gapfill[] = {INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    const Oid any[] = {ANYELEMENTOID};
    const Oid float8[] = {FLOAT8OID};
    const Oid bucket[] = {INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    const uint64 generation = known_generation;
    known_oids[static_cast<int>(Known::kFirst)] = lookup("first", 2, sample);
    known_oids[static_cast<int>(Known::kLast)] = lookup("last", 2, sample);
    known_oids[static_cast<int>(Known::kRate)] = lookup("rate", 2, sample);
    known_oids[static_cast<int>(Known::kIncrease)] = lookup("increase", 2, sample);
    known_oids[static_cast<int>(Known::kDelta)] = lookup("delta", 2, sample);
    known_oids[static_cast<int>(Known::kGapfill)] = lookup("time_bucket_gapfill", 4, gapfill);
    known_oids[static_cast<int>(Known::kLocf)] = lookup("locf", 1, any);
    known_oids[static_cast<int>(Known::kInterpolate)] = lookup("interpolate", 1, float8);
    known_oids[static_cast<int>(Known::kTimeBucket)] = lookup("time_bucket", 2, bucket);
    known_oids[static_cast<int>(Known::kTimeBucketOrigin)] = lookup("time_bucket", 3, bucket);
    // Kept unless pg_proc changed during the lookups (or one of them failed).
    known_valid = generation == known_generation;
  }
  return known_oids[static_cast<int>(which)];
}

// The engine's code for an aggregate over aegis.points' columns, -1 when it
// cannot compute it exactly as PostgreSQL does. per_series: every group holds
// one series (the GROUP BY has metric and tags), so aegis.rate, increase and
// delta (value, ts), the change across a group's samples, are the engine's
// per-series sample_rate, sample_increase and sample_delta.
int AggregateCode(Aggref* aggref, Index relid, bool per_series) {
  if (aggref->aggorder != NIL || aggref->aggdistinct != NIL || aggref->aggfilter != nullptr ||
      aggref->aggkind != AGGKIND_NORMAL || aggref->aggsplit != AGGSPLIT_SIMPLE || aggref->agglevelsup != 0)
    return -1;
  auto arg = [&](int i) { return reinterpret_cast<Node*>(lfirst_node(TargetEntry, list_nth_cell(aggref->args, i))->expr); };
  const int nargs = list_length(aggref->args);
  using K = core::AggregateKind;
  if (aggref->aggfnoid == F_COUNT_) return static_cast<int>(K::kCount) + kAsCount;
  if (aggref->aggfnoid == F_COUNT_ANY) {
    // Every column of a point is non-NULL: count(column) is count(*).
    Node* a = nargs == 1 ? arg(0) : nullptr;
    const bool column = a != nullptr && (IsColumn(a, relid, kMetric) || IsColumn(a, relid, kTags) ||
                                         IsColumn(a, relid, kTs) || IsColumn(a, relid, kValue));
    return column ? static_cast<int>(K::kCount) + kAsCount : -1;
  }
  if (nargs == 1 && IsColumn(arg(0), relid, kValue)) {
    switch (aggref->aggfnoid) {
      case F_SUM_FLOAT8: return static_cast<int>(K::kSum);
      case F_MIN_FLOAT8: return static_cast<int>(K::kMin);
      case F_MAX_FLOAT8: return static_cast<int>(K::kMax);
      case F_AVG_FLOAT8: return static_cast<int>(K::kAvg);
      case F_STDDEV_POP_FLOAT8: return static_cast<int>(K::kStddev);
      case F_VAR_POP_FLOAT8: return static_cast<int>(K::kVariance);
      case F_STDDEV_FLOAT8:
      case F_STDDEV_SAMP_FLOAT8: return static_cast<int>(K::kStddev) + kSampleForm;
      case F_VARIANCE_FLOAT8:
      case F_VAR_SAMP_FLOAT8: return static_cast<int>(K::kVariance) + kSampleForm;
      default: return -1;
    }
  }
  if (nargs == 2 && IsColumn(arg(0), relid, kValue) && IsColumn(arg(1), relid, kTs)) {
    if (aggref->aggfnoid == KnownFunction(Known::kFirst)) return static_cast<int>(K::kFirst);
    if (aggref->aggfnoid == KnownFunction(Known::kLast)) return static_cast<int>(K::kLast);
    if (per_series && aggref->aggfnoid == KnownFunction(Known::kRate)) return static_cast<int>(K::kSampleRate);
    if (per_series && aggref->aggfnoid == KnownFunction(Known::kIncrease)) return static_cast<int>(K::kSampleIncrease);
    if (per_series && aggref->aggfnoid == KnownFunction(Known::kDelta)) return static_cast<int>(K::kSampleDelta);
  }
  return -1;
}

// Whether expr holds a parameter of an outer plan (a correlated subquery's or
// a lateral reference): its value changes between rescans, and only
// fdw_exprs' parameters are tracked for those.
bool ContainsExecParam(Node* node, void* /*context*/) {
  if (node == nullptr) return false;
  if (IsA(node, Param) && castNode(Param, node)->paramkind == PARAM_EXEC) return true;
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(ContainsExecParam)),
                                nullptr);
}

// How the engine buckets points by the GROUP BY's expression of ts. The
// named kinds have operands the scan evaluates once; with them the engine
// buckets by its own arithmetic (and from summaries) where that is provably
// what the function computes, else it evaluates the expression per point.
enum BucketKind : int {
  kBucketNone = 0,
  kBucketTimeBucket,        // aegis.time_bucket(width, ts): width
  kBucketTimeBucketOrigin,  // aegis.time_bucket(width, ts, origin): width, origin
  kBucketDateBin,           // date_bin(stride, ts, origin): stride, origin
  kBucketDateTrunc,         // date_trunc(unit, ts), in the session's time zone: unit
  kBucketExpression,        // any other expression of ts alone: per point
  kBucketGapfill,           // aegis.time_bucket_gapfill(width, ts, start, finish): width, start, finish
  kBucketEpochFloor,        // floor(extract(epoch from ts) / n) * n (Grafana's $__timeGroup): n seconds
};

// The fill an aegis.locf or aegis.interpolate call asks for, kFillNone for
// any other function.
constexpr int kFillNone = 0;
constexpr int kFillPrevious = 1;  // aegis.locf(aggregate)
constexpr int kFillLinear = 2;    // aegis.interpolate(aggregate)
int FillOfCall(Oid funcid) {
  if (!OidIsValid(funcid)) return kFillNone;
  if (funcid == KnownFunction(Known::kLocf)) return kFillPrevious;
  if (funcid == KnownFunction(Known::kInterpolate)) return kFillLinear;
  return kFillNone;
}

// floor(extract(epoch from ts) / n) * n with the same constant n > 0, a whole
// number of microseconds (what Grafana's PostgreSQL data source writes for
// $__timeGroup(ts, interval)): n as an interval constant, else nullptr.
// Its value is constant over time_bucket(n seconds, ts) with the Unix
// epoch as origin.
Const* EpochFloorSeconds(Node* expr, Index relid) {
  auto call_args = [](Node* node, Oid function, int nargs) -> List* {
    if (IsA(node, OpExpr) && castNode(OpExpr, node)->opfuncid == function &&
        list_length(castNode(OpExpr, node)->args) == nargs)
      return castNode(OpExpr, node)->args;
    if (IsA(node, FuncExpr) && castNode(FuncExpr, node)->funcid == function &&
        list_length(castNode(FuncExpr, node)->args) == nargs)
      return castNode(FuncExpr, node)->args;
    return NIL;
  };
  List* product = call_args(expr, F_NUMERIC_MUL, 2);
  if (product == NIL) return nullptr;
  List* floor = call_args(static_cast<Node*>(linitial(product)), F_FLOOR_NUMERIC, 1);
  if (floor == NIL) return nullptr;
  List* quotient = call_args(static_cast<Node*>(linitial(floor)), F_NUMERIC_DIV, 2);
  if (quotient == NIL) return nullptr;
  List* extract = call_args(static_cast<Node*>(linitial(quotient)), F_EXTRACT_TEXT_TIMESTAMPTZ, 2);
  if (extract == NIL || !IsColumn(static_cast<Node*>(lsecond(extract)), relid, kTs)) return nullptr;
  Node* field = static_cast<Node*>(linitial(extract));
  Node* divisor = static_cast<Node*>(lsecond(quotient));
  Node* factor = static_cast<Node*>(lsecond(product));
  if (!IsA(field, Const) || castNode(Const, field)->constisnull || !IsA(divisor, Const) || !IsA(factor, Const) ||
      castNode(Const, divisor)->constisnull || castNode(Const, factor)->constisnull ||
      pg_strcasecmp(TextDatumGetCString(castNode(Const, field)->constvalue), "epoch") != 0)
    return nullptr;
  const Datum n = castNode(Const, divisor)->constvalue;
  if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n, castNode(Const, factor)->constvalue)) != 0 ||
      DatumGetInt32(DirectFunctionCall2(numeric_cmp, n, DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) <= 0)
    return nullptr;
  // n seconds in microseconds, when whole and below 100,000 years.
  const Datum micros = DirectFunctionCall2(numeric_mul, n, DirectFunctionCall1(int4_numeric, Int32GetDatum(1000000)));
  const Datum limit = DirectFunctionCall1(int8_numeric, Int64GetDatum(3155760000000000000LL));
  if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, micros, limit)) >= 0 ||
      DatumGetInt32(DirectFunctionCall2(numeric_cmp, micros,
                                        DirectFunctionCall1(numeric_floor, micros))) != 0)
    return nullptr;
  auto* width = static_cast<Interval*>(palloc0(sizeof(Interval)));
  width->time = DatumGetInt64(DirectFunctionCall1(numeric_int8, micros));
  return makeConst(INTERVALOID, -1, InvalidOid, sizeof(Interval), PointerGetDatum(width), false, false);
}

// Whether expr is a timestamp computed from ts (of relid) alone, with nothing
// volatile: a bucket the engine can compute per point. Its kind, and the
// operands of the named kinds in *operands.
BucketKind AnalyzeBucket(Node* expr, Index relid, List** operands) {
  const Oid type = exprType(expr);
  if ((type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != NUMERICOID) || contain_volatile_functions(expr) ||
      contain_subplans(expr) || contain_agg_clause(expr) || contain_window_function(expr) ||
      expression_returns_set(expr) || ContainsExecParam(expr, nullptr))
    return kBucketNone;
  List* vars = pull_var_clause(expr, PVC_RECURSE_PLACEHOLDERS);
  if (vars == NIL) return kBucketNone;  // a constant: PostgreSQL's
  ListCell* cell;
  foreach (cell, vars) {
    Var* var = lfirst_node(Var, cell);
    if (var->varno != static_cast<int>(relid) || var->varlevelsup != 0 || var->varattno != kTs) return kBucketNone;
  }
  *operands = NIL;
  if (Const* seconds = EpochFloorSeconds(expr, relid)) {
    *operands = list_make1(seconds);
    return kBucketEpochFloor;
  }
  if (type == NUMERICOID) return kBucketNone;  // only that shape: the engine's keys are timestamps
  // ts itself, or cast: a bucket per point, which PostgreSQL's hash
  // aggregate (spilling to disk) does better than the engine's buckets.
  Node* stripped = expr;
  while (IsA(stripped, RelabelType)) stripped = reinterpret_cast<Node*>(castNode(RelabelType, stripped)->arg);
  if (IsColumn(stripped, relid, kTs) ||
      (IsA(stripped, FuncExpr) && castNode(FuncExpr, stripped)->funcformat != COERCE_EXPLICIT_CALL &&
       list_length(castNode(FuncExpr, stripped)->args) == 1 &&
       IsColumn(static_cast<Node*>(linitial(castNode(FuncExpr, stripped)->args)), relid, kTs)))
    return kBucketNone;
  if (!IsA(expr, FuncExpr)) return kBucketExpression;
  FuncExpr* call = castNode(FuncExpr, expr);
  const int nargs = list_length(call->args);
  auto arg = [&](int i) { return static_cast<Node*>(list_nth(call->args, i)); };
  // The named functions with ts as their second argument and the other
  // arguments evaluated once.
  if (nargs < 2 || !IsColumn(arg(1), relid, kTs)) return kBucketExpression;
  for (int i = 0; i < nargs; ++i)
    if (i != 1 && !IsRunConstant(arg(i))) return kBucketExpression;
  BucketKind kind = kBucketExpression;
  if (nargs == 2 && call->funcid == KnownFunction(Known::kTimeBucket)) kind = kBucketTimeBucket;
  else if (nargs == 3 && call->funcid == KnownFunction(Known::kTimeBucketOrigin)) kind = kBucketTimeBucketOrigin;
  else if (nargs == 3 && call->funcid == F_DATE_BIN_INTERVAL_TIMESTAMPTZ_TIMESTAMPTZ) kind = kBucketDateBin;
  else if (nargs == 2 && call->funcid == F_DATE_TRUNC_TEXT_TIMESTAMPTZ) kind = kBucketDateTrunc;
  else if (nargs == 4 && call->funcid == KnownFunction(Known::kGapfill)) kind = kBucketGapfill;
  if (kind == kBucketExpression) return kind;
  for (int i = 0; i < nargs; ++i)
    if (i != 1) *operands = lappend(*operands, arg(i));
  return kind;
}

// Only metric and tags (of relid) in expr, and nothing volatile.
bool IsSeriesExpression(Node* expr, Index relid) {
  if (contain_volatile_functions(expr) || contain_subplans(expr) || contain_agg_clause(expr) ||
      ContainsExecParam(expr, nullptr))
    return false;
  Bitmapset* columns = nullptr;
  pull_varattnos(expr, relid, &columns);
  const int offset = FirstLowInvalidHeapAttributeNumber;
  int column = -1;
  while ((column = bms_next_member(columns, column)) >= 0)
    if (column + offset != kMetric && column + offset != kTags) return false;
  // No Var of another relation or level either.
  List* vars = pull_var_clause(expr, PVC_RECURSE_PLACEHOLDERS);
  ListCell* cell;
  foreach (cell, vars) {
    Var* var = lfirst_node(Var, cell);
    if (var->varno != static_cast<int>(relid) || var->varlevelsup != 0) return false;
  }
  return true;
}

// Whether two values of expr's type are equal exactly when their bytes are:
// the engine groups series by the bytes of their GROUP BY values.
bool BytesEqualMeansEqual(Node* expr, Index relid) {
  switch (exprType(expr)) {
    case JSONBOID:
      return IsColumn(expr, relid, kTags);  // strings only (a number's bytes depend on its scale)
    case TEXTOID:
    case VARCHAROID:
    case NAMEOID: {
      const Oid collation = exprCollation(expr);
      return !OidIsValid(collation) || get_collation_isdeterministic(collation);
    }
    case BOOLOID:
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case OIDOID:
    case DATEOID:
    case TIMESTAMPTZOID:
      return true;
    default:
      return false;
  }
}

// The analysis of a GROUP BY query over aegis.points alone that the engine
// can answer: the scan tuple's columns and what each holds.
struct AggregatePlan {
  List* scan_tlist = NIL;  // TargetEntry
  List* column_kinds = NIL;
  List* aggregate_codes = NIL;  // per kColAggregate column, in order
  BucketKind bucket_kind = kBucketNone;  // the GROUP BY's bucket of ts, if any
  List* bucket_operands = NIL;           // its operands evaluated once
};

// Appends a column to the scan tuple of an aggregating plan.
void AddColumn(AggregatePlan* plan, int* resno, Expr* expr, ColumnKind kind) {
  plan->scan_tlist =
      lappend(plan->scan_tlist, makeTargetEntry(expr, static_cast<AttrNumber>(++*resno), nullptr, false));
  plan->column_kinds = lappend_int(plan->column_kinds, kind);
}

// Whether an output expression can be computed from an aggregating scan's
// columns: a group expression, an aggregate the engine computes (added to
// the scan's columns), or an expression of those. Returns true to stop at
// something it cannot.
struct ComputableContext {
  List* group_exprs;
  AggregatePlan* plan;
  Index relid;
  int* resno;
  bool per_series;  // every group is one series
};

bool NotComputable(Node* node, void* arg) {
  auto* context = static_cast<ComputableContext*>(arg);
  if (node == nullptr || list_member(context->group_exprs, node)) return false;
  if (IsA(node, Var) || IsA(node, SubPlan) || IsA(node, SubLink) || IsA(node, WindowFunc) ||
      IsA(node, GroupingFunc) || IsA(node, PlaceHolderVar))
    return true;
  // aegis.locf(aggregate) and aegis.interpolate(aggregate) of a gap-filling
  // query: the aggregate with its gaps filled is one column.
  int fill = kFillNone;
  Aggref* aggref = nullptr;
  if (IsA(node, FuncExpr) && list_length(castNode(FuncExpr, node)->args) == 1 &&
      (fill = FillOfCall(castNode(FuncExpr, node)->funcid)) != kFillNone) {
    Node* arg = static_cast<Node*>(linitial(castNode(FuncExpr, node)->args));
    if (!IsA(arg, Aggref) || context->plan->bucket_kind != kBucketGapfill) return true;
    aggref = castNode(Aggref, arg);
  } else if (IsA(node, Aggref)) {
    aggref = castNode(Aggref, node);
  }
  if (aggref != nullptr) {
    const int code = AggregateCode(aggref, context->relid, context->per_series);
    if (code < 0) return true;
    AggregatePlan* plan = context->plan;
    if (tlist_member(reinterpret_cast<Expr*>(node), plan->scan_tlist) == nullptr) {
      AddColumn(plan, context->resno, reinterpret_cast<Expr*>(node), kColAggregate);
      plan->aggregate_codes = lappend_int(plan->aggregate_codes, code + fill * kFillForm);
    }
    return false;
  }
  // PostgreSQL 15 declares the walker without its parameters.
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(NotComputable)), arg);
}

bool AnalyzeAggregate(PlannerInfo* root, Index relid, PathTarget* target, AggregatePlan* plan) {
  Query* parse = root->parse;
  if (parse->groupingSets != NIL || parse->havingQual != nullptr || parse->hasTargetSRFs ||
      (!parse->hasAggs && parse->groupClause == NIL))
    return false;
  int resno = 0;
  auto add_column = [&](Expr* expr, ColumnKind kind) { AddColumn(plan, &resno, expr, kind); };
  ListCell* cell;
  foreach (cell, parse->groupClause) {
    SortGroupClause* clause = lfirst_node(SortGroupClause, cell);
    Expr* expr = reinterpret_cast<Expr*>(get_sortgroupclause_expr(clause, parse->targetList));
    List* operands = NIL;
    if (const BucketKind kind = AnalyzeBucket(reinterpret_cast<Node*>(expr), relid, &operands)) {
      if (plan->bucket_kind != kBucketNone) return false;  // one bucket of ts at most
      plan->bucket_kind = kind;
      plan->bucket_operands = operands;
      add_column(expr, kColBucket);
    } else if (IsSeriesExpression(reinterpret_cast<Node*>(expr), relid) &&
               BytesEqualMeansEqual(reinterpret_cast<Node*>(expr), relid)) {
      add_column(expr, kColSeries);
    } else {
      return false;
    }
  }
  List* group_exprs = NIL;
  bool has_metric = false;
  bool has_tags = false;
  foreach (cell, plan->scan_tlist) {
    Expr* expr = lfirst_node(TargetEntry, cell)->expr;
    group_exprs = lappend(group_exprs, expr);
    has_metric = has_metric || IsColumn(reinterpret_cast<Node*>(expr), relid, kMetric);
    has_tags = has_tags || IsColumn(reinterpret_cast<Node*>(expr), relid, kTags);
  }
  ComputableContext context{group_exprs, plan, relid, &resno, has_metric && has_tags};
  foreach (cell, target->exprs) {
    if (NotComputable(static_cast<Node*>(lfirst(cell)), &context)) return false;
  }
  // The series conditions may name metric and tags: the planner finds them
  // here.
  add_column(reinterpret_cast<Expr*>(makeVar(relid, kMetric, TEXTOID, -1, DEFAULT_COLLATION_OID, 0)), kColJunk);
  add_column(reinterpret_cast<Expr*>(makeVar(relid, kTags, JSONBOID, -1, InvalidOid, 0)), kColJunk);
  return true;
}

// Whether a sort operator orders timestamptz descending (ts DESC).
bool IsTimestampDescending(Oid sortop) {
  Oid opfamily = InvalidOid;
  Oid input_type = InvalidOid;
  int16 strategy = 0;
  return get_ordering_op_properties(sortop, &opfamily, &input_type, &strategy) &&
         strategy == BTGreaterStrategyNumber && OidIsValid(TimestamptzBtreeFamily()) &&
         opfamily == TimestamptzBtreeFamily();
}

// The position in pathkeys of the key whose equivalence class holds the
// points column `column`, -1 when none does.
int PathkeyPosition(List* pathkeys, Index relid, AttrNumber column) {
  int position = 0;
  ListCell* cell;
  foreach (cell, pathkeys) {
    ListCell* member;
    foreach (member, lfirst_node(PathKey, cell)->pk_eclass->ec_members) {
      Node* expr = reinterpret_cast<Node*>(lfirst_node(EquivalenceMember, member)->em_expr);
      while (IsA(expr, RelabelType)) expr = reinterpret_cast<Node*>(castNode(RelabelType, expr)->arg);
      if (IsColumn(expr, relid, column)) return position;
    }
    ++position;
  }
  return -1;
}

// Whether one row per series, in the order `ORDER BY metric, tags` gives
// aegis.series' rows, is in the order of the query's ORDER BY
// (root->sort_pathkeys of a DISTINCT ON (metric, tags) query, whose ORDER BY
// starts with metric and tags): the keys of metric and tags must lead, metric
// first, ascending under the default btree operator families, metric under
// the default collation (the columns' own). A key PostgreSQL left out is
// redundant (the column equals a constant); the keys after them hold for any
// order, each row being a series of its own.
bool SeriesOrderSatisfies(PlannerInfo* root, Index relid) {
  List* keys = root->sort_pathkeys;
  const int metric = PathkeyPosition(keys, relid, kMetric);
  const int tags = PathkeyPosition(keys, relid, kTags);
  if (metric > 0) return false;                                 // metric's key, when kept, leads
  if (tags >= 0 && tags != (metric == 0 ? 1 : 0)) return false;  // and tags' key follows it
  if (metric == 0) {
    PathKey* key = list_nth_node(PathKey, keys, 0);
    if (key->pk_strategy != BTLessStrategyNumber || key->pk_opfamily != TEXT_BTREE_FAM_OID ||
        key->pk_eclass->ec_collation != DEFAULT_COLLATION_OID)
      return false;
  }
  if (tags >= 0) {
    PathKey* key = list_nth_node(PathKey, keys, tags);
    if (key->pk_strategy != BTLessStrategyNumber || !OidIsValid(JsonbBtreeFamily()) ||
        key->pk_opfamily != JsonbBtreeFamily())
      return false;
  }
  return true;
}

// DISTINCT ON (metric, tags) ... ORDER BY metric, tags, ts DESC over the
// points relation alone, every condition with the engine: each series'
// newest point, as aegis.latest finds it (PostgreSQL sorts the rows after).
void AddNewestPerSeriesPath(PlannerInfo* root, RelOptInfo* input_rel, RelOptInfo* output_rel) {
  Query* parse = root->parse;
  const Index relid = input_rel->relid;
  if (!parse->hasDistinctOn || parse->hasAggs || parse->groupClause != NIL || parse->groupingSets != NIL ||
      parse->hasWindowFuncs || parse->hasTargetSRFs || parse->havingQual != nullptr ||
      list_length(parse->distinctClause) != 2 || list_length(parse->sortClause) < 3)
    return;
  bool metric = false;
  bool tags = false;
  ListCell* cell;
  // The columns themselves (a COLLATE would make other series equal).
  auto is_column = [&](Node* expr, AttrNumber column) {
    return IsA(expr, Var) && IsColumn(expr, relid, column) &&
           (!OidIsValid(exprCollation(expr)) || get_collation_isdeterministic(exprCollation(expr)));
  };
  foreach (cell, parse->distinctClause) {
    Node* expr = get_sortgroupclause_expr(lfirst_node(SortGroupClause, cell), parse->targetList);
    metric = metric || is_column(expr, kMetric);
    tags = tags || is_column(expr, kTags);
  }
  // PostgreSQL made the ORDER BY start with the DISTINCT ON expressions.
  SortGroupClause* third = list_nth_node(SortGroupClause, parse->sortClause, 2);
  if (!metric || !tags || !IsColumn(get_sortgroupclause_expr(third, parse->targetList), relid, kTs) ||
      !IsTimestampDescending(third->sortop))
    return;
  PathTarget* target = root->upper_targets[UPPERREL_DISTINCT];
  foreach (cell, target->exprs) {
    Node* expr = static_cast<Node*>(lfirst(cell));
    if (contain_volatile_functions(expr) || contain_subplans(expr) || contain_agg_clause(expr) ||
        contain_window_function(expr) || expression_returns_set(expr))
      return;
    List* vars = pull_var_clause(expr, PVC_RECURSE_PLACEHOLDERS);
    ListCell* var_cell;
    foreach (var_cell, vars) {
      Var* var = lfirst_node(Var, var_cell);
      if (var->varno != static_cast<int>(relid) || var->varlevelsup != 0 || var->varattno < kMetric ||
          var->varattno > kValue)
        return;  // no system column: the scan tuple has aegis.points' columns only
    }
  }
  if (Classify(input_rel->baserestrictinfo, input_rel, relid).local != NIL) return;
  // The scan tuple: aegis.points' columns.
  List* scan_tlist = NIL;
  const Oid types[] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, FLOAT8OID};
  const Oid collations[] = {DEFAULT_COLLATION_OID, InvalidOid, InvalidOid, InvalidOid};
  for (int column = kMetric; column <= kValue; ++column)
    scan_tlist = lappend(scan_tlist, makeTargetEntry(reinterpret_cast<Expr*>(makeVar(relid, column, types[column - 1], -1,
                                                                                     collations[column - 1], 0)),
                                                     static_cast<AttrNumber>(column), nullptr, false));
  output_rel->fdw_private = scan_tlist;  // marks the rel as done
  const double rows = 100;
  const Cost startup = 10 + rows * 0.01;
  // The series in ORDER BY metric, tags order where that is the query's
  // order: no Sort over the rows (its jsonb comparisons cost more than
  // finding the points; the catalog's (metric, tags) index gives the order).
  const bool by_name = SeriesOrderSatisfies(root, relid);
  List* priv = list_make5(
      list_make3_int(static_cast<int>(relid), kBucketNone, by_name ? kModeNewestPerSeriesByName : kModeNewestPerSeries),
      scan_tlist, NIL, NIL, NIL);
  add_path(output_rel, reinterpret_cast<Path*>(create_foreign_upper_path(
                           root, output_rel, target, rows, startup, startup + rows * cpu_tuple_cost,
                           by_name ? root->sort_pathkeys : NIL, nullptr, priv)));
}

void GetUpperPaths(PlannerInfo* root, UpperRelationKind stage, RelOptInfo* input_rel, RelOptInfo* output_rel,
                   void* /*extra*/) {
  // Not for conditions without a column (PostgreSQL gates a base scan on
  // them, not an upper one), nor for a relation this wrapper did not size
  // (an inheritance parent).
  if (!guc_aggregate_pushdown || input_rel->reloptkind != RELOPT_BASEREL || output_rel->fdw_private != nullptr ||
      input_rel->fdw_private == nullptr || root->hasPseudoConstantQuals)
    return;
  if (stage == UPPERREL_DISTINCT) {
    AddNewestPerSeriesPath(root, input_rel, output_rel);
    return;
  }
  if (stage != UPPERREL_GROUP_AGG) return;
  const Conditions c = Classify(input_rel->baserestrictinfo, input_rel, input_rel->relid);
  if (c.local != NIL) return;  // a condition PostgreSQL must check on each point
  PathTarget* target = root->upper_targets[UPPERREL_GROUP_AGG];
  AggregatePlan plan;
  if (!AnalyzeAggregate(root, input_rel->relid, target, &plan)) return;
  output_rel->fdw_private = plan.scan_tlist;  // marks the rel as done
  // Far cheaper than reading the points: fewer rows, summaries.
  const double groups = list_length(root->parse->groupClause) == 0 ? 1 : 100;
  const Cost startup = 10 + input_rel->rows * 0.0005;
  List* priv = list_make5(list_make3_int(static_cast<int>(input_rel->relid), plan.bucket_kind, kModeAggregate),
                          plan.scan_tlist, plan.column_kinds, plan.aggregate_codes, plan.bucket_operands);
  add_path(output_rel, reinterpret_cast<Path*>(create_foreign_upper_path(
                           root, output_rel, target, groups, startup, startup + groups * cpu_tuple_cost, NIL,
                           nullptr, priv)));
}

// The plan. fdw_exprs: the series conditions (only so that the planner
// tracks their parameters; the ones evaluated are fdw_private's copy), the
// hints, the bounds, then the bucket width. fdw_private: see PlanPart.
enum PlanPart : int {
  kPartCounts = 0,   // int: series conditions, hints, bounds, bucket operands, ScanMode, BucketKind,
                     // newest first
  kPartHintKinds,    // int per hint
  kPartHintKeys,     // String per hint
  kPartBoundKinds,   // int per bound
  kPartTexts,        // for EXPLAIN: series conditions, time range, groups, aggregates, value conditions
                     // (expressions, deparsed by ExplainScan), the relation's index and OID (Integer)
  kPartSeries,       // the series conditions, evaluated on catalog rows
  kPartColumnKinds,  // aggregating: ColumnKind per scan column
  kPartAggregates,   // aggregating: code per aggregate column
  kPartOperands,     // the hints, the bounds and the bucket operands, evaluated (fdw_exprs' copies may be
                     // rewritten against the scan tuple by setrefs when they match a group key)
  kPartCount
};

// Deparsed expressions, comma-separated.
char* DeparseList(List* exprs, Index relid, Oid table) {
  StringInfoData text;
  initStringInfo(&text);
  ListCell* cell;
  foreach (cell, exprs) {
    Node* expr = static_cast<Node*>(copyObjectImpl(lfirst(cell)));
    if (relid != 1) ChangeVarNodes(expr, relid, 1, 0);
    if (text.len > 0) appendStringInfoString(&text, ", ");
    appendStringInfoString(&text, deparse_expression(expr, deparse_context_for("points", table), false, false));
  }
  return text.data;
}

ForeignScan* GetPlan(PlannerInfo* root, RelOptInfo* rel, Oid /*table*/, ForeignPath* path, List* tlist,
                     List* scan_clauses, Plan* outer_plan) {
  const bool upper = IS_UPPER_REL(rel);
  const Index relid = upper ? static_cast<Index>(linitial_int(static_cast<List*>(linitial(path->fdw_private))))
                            : rel->relid;
  RelOptInfo* base = root->simple_rel_array[relid];
  const Oid table = root->simple_rte_array[relid]->relid;
  const Conditions c = Classify(upper ? base->baserestrictinfo : scan_clauses, base, relid);
  List* local = upper ? NIL : extract_actual_clauses(c.local, false);
  ListCell* cell;
  List* scan_tlist = NIL;
  List* column_kinds = NIL;
  List* aggregate_codes = NIL;
  int bucket_kind = kBucketNone;
  int mode = kModePoints;
  List* bucket_operands = NIL;
  List* group_exprs = NIL;
  List* aggregates = NIL;
  if (upper) {
    scan_tlist = static_cast<List*>(lsecond(path->fdw_private));
    column_kinds = static_cast<List*>(lthird(path->fdw_private));
    aggregate_codes = static_cast<List*>(lfourth(path->fdw_private));
    bucket_kind = lsecond_int(static_cast<List*>(linitial(path->fdw_private)));
    mode = lthird_int(static_cast<List*>(linitial(path->fdw_private)));
    bucket_operands = static_cast<List*>(list_nth(path->fdw_private, 4));
    ListCell* kind_cell;
    forboth (cell, scan_tlist, kind_cell, column_kinds) {
      Expr* expr = lfirst_node(TargetEntry, cell)->expr;
      if (lfirst_int(kind_cell) == kColSeries || lfirst_int(kind_cell) == kColBucket)
        group_exprs = lappend(group_exprs, expr);
      else if (lfirst_int(kind_cell) == kColAggregate)
        aggregates = lappend(aggregates, expr);
    }
  }
  List* operands = list_concat(list_concat(list_copy(c.hints), c.bounds), bucket_operands);
  List* exprs = list_concat(list_copy(c.series), operands);
  List* priv = NIL;
  const int time_order = !upper && path->fdw_private != NIL ? linitial_int(path->fdw_private) : kOrderAny;
  priv = lappend(priv, lappend_int(lappend_int(list_make5_int(list_length(c.series), list_length(c.hints),
                                                              list_length(c.bounds), list_length(bucket_operands),
                                                              mode),
                                               bucket_kind),
                                   time_order));
  priv = lappend(priv, c.hint_kinds);
  priv = lappend(priv, c.hint_keys);
  priv = lappend(priv, c.bound_kinds);
  const bool aggregating = mode == kModeAggregate;
  // The conditions and expressions EXPLAIN shows, deparsed only when it
  // does (deparsing them was a tenth of a short query's planning): the
  // relation's index and OID after them.
  List* shown = list_make5(copyObjectImpl(c.series), copyObjectImpl(c.time_clauses),
                           aggregating ? copyObjectImpl(group_exprs) : NIL,
                           aggregating ? copyObjectImpl(aggregates) : NIL, copyObjectImpl(c.value_clauses));
  priv = lappend(priv, lappend(lappend(shown, makeInteger(static_cast<int>(relid))),
                               makeInteger(static_cast<int>(table))));
  priv = lappend(priv, copyObjectImpl(c.series));
  priv = lappend(priv, column_kinds);
  priv = lappend(priv, aggregate_codes);
  priv = lappend(priv, copyObjectImpl(operands));
  return make_foreignscan(tlist, local, upper ? 0 : relid, exprs, priv, scan_tlist, NIL, outer_plan);
}

// ---------------------------------------------------------------------------
// Execution.

// One chosen series: its catalog row's metric and tags (copied into the
// scan's memory).
struct ChosenSeries {
  int64_t id;
  Datum metric;
  Datum tags;
};

// float8's comparison: NaN equals NaN and sorts above every other value.
int CompareFloat8(double a, double b) {
  if (std::isnan(a)) return std::isnan(b) ? 0 : 1;
  if (std::isnan(b)) return -1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

// The value conditions of a scan, evaluated.
struct ValueConditions {
  int n = 0;
  int* kinds = nullptr;  // ExprKind (kValue...), palloc'd
  double* args = nullptr;
};

// Kinds of a value condition whose operand is not NaN, in float8's order
// (NaN equal to NaN and above every other value), and the tests a NaN
// operand leaves.
enum MeetKind : int { kMeetAtLeast, kMeetAbove, kMeetBelow, kMeetAtMost, kMeetIs, kMeetIsNot, kMeetNaN, kMeetNumber };

// Whether value meets the condition (a is not NaN); branch-free.
template <int Kind>
inline bool Meets(double value, double a) {
  const bool nan = value != value;
  if constexpr (Kind == kMeetAtLeast) return (value >= a) | nan;
  if constexpr (Kind == kMeetAbove) return (value > a) | nan;
  if constexpr (Kind == kMeetBelow) return value < a;
  if constexpr (Kind == kMeetAtMost) return value <= a;
  if constexpr (Kind == kMeetIs) return value == a;
  if constexpr (Kind == kMeetIsNot) return value != a;
  if constexpr (Kind == kMeetNaN) return nan;
  return !nan;  // kMeetNumber
}

// Keeps, of the `count` positions in `selected` (all of [0, count) when
// every_position), those whose value meets the condition; returns how many.
template <int Kind>
size_t KeepMeeting(const double* values, double a, uint32_t* selected, size_t count, bool every_position) {
  size_t kept = 0;
  if (every_position) {
    for (size_t i = 0; i < count; ++i) {
      selected[kept] = static_cast<uint32_t>(i);
      kept += Meets<Kind>(values[i], a) ? 1 : 0;
    }
  } else {
    for (size_t k = 0; k < count; ++k) {
      const uint32_t i = selected[k];
      selected[kept] = i;
      kept += Meets<Kind>(values[i], a) ? 1 : 0;
    }
  }
  return kept;
}

// The test of a value condition: what CompareFloat8(value, a) says of it.
// -1: no value meets it; -2: every value does.
int MeetKindOf(int kind, double a) {
  if (std::isnan(a)) {
    switch (kind) {
      case kValueAtLeast: case kValueIs: return kMeetNaN;
      case kValueAbove: return -1;
      case kValueAtMost: return -2;
      default: return kMeetNumber;  // below NaN, or not NaN
    }
  }
  switch (kind) {
    case kValueAtLeast: return kMeetAtLeast;
    case kValueAbove: return kMeetAbove;
    case kValueBelow: return kMeetBelow;
    case kValueAtMost: return kMeetAtMost;
    case kValueIs: return kMeetIs;
    default: return kMeetIsNot;
  }
}

// The positions i < n whose values meet every value condition, into
// `selected` (room for n), in order; returns how many. A condition is a
// loop of its own, over the positions the ones before kept.
size_t SelectPassing(const ValueConditions& v, const double* values, size_t n, uint32_t* selected) {
  size_t count = n;
  bool every = true;  // selected is not filled yet: every position so far
  for (int c = 0; c < v.n && count > 0; ++c) {
    const double a = v.args[c];
    switch (MeetKindOf(v.kinds[c], a)) {
      case -1: count = 0; break;
      case -2: continue;
      case kMeetAtLeast: count = KeepMeeting<kMeetAtLeast>(values, a, selected, count, every); break;
      case kMeetAbove: count = KeepMeeting<kMeetAbove>(values, a, selected, count, every); break;
      case kMeetBelow: count = KeepMeeting<kMeetBelow>(values, a, selected, count, every); break;
      case kMeetAtMost: count = KeepMeeting<kMeetAtMost>(values, a, selected, count, every); break;
      case kMeetIs: count = KeepMeeting<kMeetIs>(values, a, selected, count, every); break;
      case kMeetIsNot: count = KeepMeeting<kMeetIsNot>(values, a, selected, count, every); break;
      case kMeetNaN: count = KeepMeeting<kMeetNaN>(values, a, selected, count, every); break;
      default: count = KeepMeeting<kMeetNumber>(values, a, selected, count, every); break;
    }
    every = false;
  }
  if (every)
    for (size_t i = 0; i < count; ++i) selected[i] = static_cast<uint32_t>(i);
  return count;
}

// Appends to *out the points of (ts, values)[0, n) that meet every value
// condition, in order; returns how many (selected: scratch).
size_t AppendPassing(const ValueConditions& v, const core::Timestamp* ts, const double* values, size_t n,
                     std::vector<uint32_t>* selected, core::SeriesPoints* out) {
  selected->resize(n);
  const size_t kept = SelectPassing(v, values, n, selected->data());
  const size_t at = out->size();
  out->ts.resize(at + kept);
  out->values.resize(at + kept);
  for (size_t k = 0; k < kept; ++k) {
    out->ts[at + k] = ts[(*selected)[k]];
    out->values[at + k] = values[(*selected)[k]];
  }
  return kept;
}

// Whether no value in [min, max] (float8's order, which a summary's minimum
// and maximum follow: NaN above every other value) meets every value
// condition: some condition fails for all of them.
bool NoneBetweenPasses(const ValueConditions& v, double min, double max) {
  for (int i = 0; i < v.n; ++i) {
    const double a = v.args[i];
    bool none = false;
    switch (v.kinds[i]) {
      case kValueAtLeast: none = CompareFloat8(max, a) < 0; break;
      case kValueAbove: none = CompareFloat8(max, a) <= 0; break;
      case kValueBelow: none = CompareFloat8(min, a) >= 0; break;
      case kValueAtMost: none = CompareFloat8(min, a) > 0; break;
      case kValueIs: none = CompareFloat8(a, min) < 0 || CompareFloat8(a, max) > 0; break;
      default: none = CompareFloat8(min, a) == 0 && CompareFloat8(max, a) == 0; break;  // value <> a
    }
    if (none) return true;
  }
  return false;
}

// Collects the points SeriesData folds in. With value conditions, a block
// or segment whose summary shows that none of its values meets them is
// taken as answered (nothing to add) instead of decoded; segments of any
// span serve.
class PointSink {
 public:
  void BeginSeries() {}
  void AddSeriesPoints(const core::Timestamp* ts, const double* values, size_t n) {
    if (values_ != nullptr && values_->n > 0) {  // only the points that meet the value conditions
      const size_t kept = AppendPassing(*values_, ts, values, n, &selected_, points_);
      owners_->insert(owners_->end(), kept, current_);
      return;
    }
    points_->ts.insert(points_->ts.end(), ts, ts + n);
    points_->values.insert(points_->values.end(), values, values + n);
    owners_->insert(owners_->end(), n, current_);
  }
  bool TryAddBlockSummary(const core::BlockSummary& summary) { return TakesBlockSummary(summary); }
  bool TakesBlockSummary(const core::BlockSummary& summary) const {
    return values_ != nullptr && values_->n > 0 && NoneBetweenPasses(*values_, summary.min, summary.max);
  }
  core::Timestamp WidestSummary() const {
    return values_ != nullptr && values_->n > 0 ? core::kTimestampInfinity : 0;
  }
  void AddStep(const core::StepSummary&) {}

  core::SeriesPoints* points_ = nullptr;
  std::vector<uint32_t>* owners_ = nullptr;
  uint32_t current_ = 0;
  const ValueConditions* values_ = nullptr;

 private:
  std::vector<uint32_t> selected_;
};

// Folds the same points into one aggregator per SQL aggregate. A summary is
// taken only when every aggregator takes it (the answer depends on the
// summary, the buckets and the range, which they share).
class MultiSink {
 public:
  void BeginSeries() {
    for (core::BucketAggregator& a : aggregators_) a.BeginSeries();
  }
  void AddSeriesPoints(const core::Timestamp* ts, const double* values, size_t n) {
    if (values_.n > 0) {
      // Only the points that meet the value conditions.
      kept_.clear();
      AppendPassing(values_, ts, values, n, &selected_, &kept_);
      ts = kept_.ts.data();
      values = kept_.values.data();
      n = kept_.size();
      if (n == 0) return;
    }
    for (core::BucketAggregator& a : aggregators_) a.AddSeriesPoints(ts, values, n);
  }
  bool TryAddBlockSummary(const core::BlockSummary& summary) {
    if (!summaries_ || values_.n > 0 || !aggregators_[0].TryAddBlockSummary(summary)) return false;
    for (size_t i = 1; i < aggregators_.size(); ++i)
      if (!aggregators_[i].TryAddBlockSummary(summary))
        throw core::Error(core::ErrorCategory::Internal, "aggregators disagree on a block summary");
    return true;
  }
  bool TakesBlockSummary(const core::BlockSummary& summary) const {
    return summaries_ && values_.n == 0 && aggregators_[0].TakesBlockSummary(summary);
  }
  core::Timestamp WidestSummary() const {
    if (values_.n > 0) return 0;
    core::Timestamp widest = core::kTimestampInfinity;
    for (const core::BucketAggregator& a : aggregators_) widest = std::min(widest, a.WidestSummary());
    return widest;
  }
  void AddStep(const core::StepSummary&) {}

  std::vector<core::BucketAggregator> aggregators_;
  bool summaries_ = true;  // every function takes summaries
  ValueConditions values_;  // points must meet them (no summary then)

 private:
  core::SeriesPoints kept_;
  std::vector<uint32_t> selected_;
};

// A buffer this size (points) is enough: the next group of series is not
// made larger.
constexpr size_t kBufferTarget = 65536;

// A point's bucket as its expression gave it.
struct BucketMemo {
  core::Timestamp ts = 0;
  core::Timestamp bucket = 0;
  bool valid = false;
};
constexpr size_t kBucketMemo = 1024;  // a power of two

// The bucket of a point whose bucket expression is NULL: no timestamp is
// this value (finite ones start at kTimestampMinValid, -infinity is
// INT64_MIN).
constexpr core::Timestamp kNullBucket = std::numeric_limits<int64_t>::min() + 1;

// The state of one scan. Lives in the scan's memory context, whose reset
// callback destroys it (also when the query fails), so it may hold only
// memory: no PostgreSQL resource is open between calls.
struct ScanState {
  // Planned.
  int n_series = 0, n_hints = 0, n_bounds = 0;
  bool aggregating = false;
  List* hint_kinds = NIL;
  List* hint_keys = NIL;
  List* bound_kinds = NIL;
  ExprState* series_conditions = nullptr;  // all of them, ANDed
  bool conditions_on_metric = false;       // they read metric alone, and are not volatile
  List* hints = NIL;                       // ExprState
  List* bounds = NIL;                      // ExprState
  ValueConditions values;                  // evaluated when the scan starts
  int bucket_kind = kBucketNone;           // aggregating: the GROUP BY's bucket of ts
  List* bucket_operands = NIL;             // ExprState per operand of a named bucket kind
  ExprState* bucket_expr = nullptr;        // the bucket expression, for BucketOfPoint
  TupleTableSlot* bucket_slot = nullptr;   // a point's ts, for bucket_expr
  ExprContext* bucket_context = nullptr;
  Interval width_value;                    // the operands' values: a width or stride,
  core::Timestamp origin_value = 0;        //   an origin,
  char* unit_value = nullptr;              //   date_trunc's unit (in run_memory)
  core::Timestamp gap_start = 0;           //   time_bucket_gapfill's start and finish
  core::Timestamp gap_finish = 0;
  bool gap_start_given = false;
  bool gap_finish_given = false;
  List* column_kinds = NIL;                // aggregating
  List* group_states = NIL;                // ExprState per kColSeries column
  int group_columns = 0;
  int16* group_typlen = nullptr;           // per kColSeries column
  bool* group_typbyval = nullptr;
  std::vector<int> aggregate_codes;
  bool summaries = true;                   // every aggregate takes block summaries
  bool grouped = false;                    // the query has a GROUP BY
  TupleTableSlot* series_slot = nullptr;   // a catalog row as aegis.points' columns
  MemoryContext memory = nullptr;
  MemoryContext run_memory = nullptr;       // a child of memory, reset by a rescan

  // Run.
  bool started = false;
  bool counted = false;  // in aegis.engine_stats' queries
  bool empty = false;  // a condition can hold for no row
  core::Timestamp since = core::kTimestampMinusInfinity;
  core::Timestamp until = core::kTimestampInfinity;
  ChosenSeries* series = nullptr;  // palloc'd in memory
  size_t n_chosen = 0;
  size_t next_series = 0;  // the first series not read yet
  std::optional<core::Timestamp> resume_since;  // it was read up to here (ReadGroup)
  size_t group = 1;        // series per read
  core::SeriesPoints points;
  std::vector<uint32_t> owners;  // index into series of each point
  size_t next_point = 0;

  // Run, newest first: the points are read a time window at a time, from
  // the newest back, each window's points sorted newest first.
  bool newest_first = false;
  bool newest_per_series = false;  // one row per DISTINCT ON (metric, tags) group
  bool series_by_name = false;     // the series (so the rows) in ORDER BY metric, tags order
  std::vector<size_t> window_series;  // the series the windows read
  bool windows_ready = false;
  bool oldest_known = false;   // window_low is past the oldest stored point
  core::Timestamp window_top = 0;  // the next window ends here (exclusive)
  core::Timestamp window_low = 0;  // no chosen point is older
  int64_t window_width = 0;

  // Run, oldest first: one series' points as read; several series' points
  // through a tuplesort by ts (every point read before the first row).
  bool oldest_first = false;
  Tuplesortstate* sort = nullptr;
  TupleTableSlot* sort_input = nullptr;   // (ts, value, owner), virtual
  TupleTableSlot* sort_output = nullptr;  // the same, minimal tuples

  // Run, aggregating.
  std::optional<core::TimeBucketer> bucketer;
  bool bucket_null = false;    // the width is NULL: so is every bucket
  bool has_bucket = false;     // the bucket's operands are known (none NULL)
  std::vector<BucketMemo> bucket_memo;  // BucketOfPoint's recent answers
  uint64_t bucket_calls = 0;   // evaluations of bucket_expr (EXPLAIN ANALYZE)
  Datum* group_values = nullptr;  // n_chosen x group_columns, palloc'd
  bool* group_nulls = nullptr;
  std::vector<size_t> order;      // series in group order
  std::vector<size_t> group_of;   // group of each series
  size_t next_in_order = 0;
  std::optional<MultiSink> sink;  // the current group's aggregators
  int from_shards = -1;           // the shards summarise (ShardSummaries): 1, 0, -1 not known yet
  size_t current_group = 0;
  size_t current_first = 0;       // a series of the current group
  std::vector<Datum> out_values;  // finished rows, row-major
  std::vector<char> out_nulls;
  size_t out_rows = 0;
  size_t next_out = 0;
  bool emitted = false;           // a row was produced

  // EXPLAIN ANALYZE.
  uint64_t candidates = 0;  // catalog rows the narrowed query returned
  uint64_t reads = 0;       // groups read
  uint64_t shard_reads = 0;  // runs of series the shards summarised
  ReadStats stats;
};

void DestroyScanState(void* arg) { static_cast<ScanState*>(arg)->~ScanState(); }

// Evaluates the time bounds into [since, until) and the value conditions'
// operands; false when they exclude every row.
bool EvaluateBounds(ScanState* s, ExprContext* econtext) {
  s->values.n = 0;
  ListCell* kind_cell = list_head(s->bound_kinds);
  ListCell* cell;
  foreach (cell, s->bounds) {
    ExprState* state = static_cast<ExprState*>(lfirst(cell));
    const int kind = lfirst_int(kind_cell);
    kind_cell = lnext(s->bound_kinds, kind_cell);
    bool isnull = false;
    const Datum value = ExecEvalExprSwitchContext(state, econtext, &isnull);
    if (isnull) return false;
    if (IsValueKind(kind)) {
      s->values.kinds[s->values.n] = kind;
      s->values.args[s->values.n] = DatumGetFloat8(value);
      ++s->values.n;
      continue;
    }
    const core::Timestamp t = DatumGetTimestampTz(value);
    // The first instant after t (t itself when nothing follows it).
    const core::Timestamp next = t == core::kTimestampInfinity ? t : t + 1;
    switch (kind) {
      case kTsAtLeast: s->since = std::max(s->since, t); break;
      case kTsAfter:
        if (t == core::kTimestampInfinity) return false;
        s->since = std::max(s->since, next);
        break;
      case kTsBefore: s->until = std::min(s->until, t); break;
      case kTsAtMost:
        if (t != core::kTimestampInfinity) s->until = std::min(s->until, next);
        break;
      case kTsIs:
        if (t == core::kTimestampInfinity || t == core::kTimestampMinusInfinity) return false;
        s->since = std::max(s->since, t);
        s->until = std::min(s->until, next);
        break;
      default: break;
    }
  }
  return s->since < s->until;
}

// The catalog query's parameters from the hints: the metrics (NULL: any),
// and the tags every series must have (keys and values; empty: any). False
// when the hints exclude every series.
struct CatalogFilter {
  Datum metrics = 0;  // text[]
  bool any_metric = true;
  Datum* keys = nullptr;    // palloc'd, n_keys of them
  Datum* values = nullptr;
  int n_keys = 0;
  Datum contains = 0;  // jsonb
  bool any_tags = true;
};

bool EvaluateHints(ScanState* s, ExprContext* econtext, CatalogFilter* f) {
  ListCell* kind_cell = list_head(s->hint_kinds);
  ListCell* key_cell = list_head(s->hint_keys);
  f->keys = static_cast<Datum*>(palloc(sizeof(Datum) * (list_length(s->hints) + 1)));
  f->values = static_cast<Datum*>(palloc(sizeof(Datum) * (list_length(s->hints) + 1)));
  ListCell* cell;
  foreach (cell, s->hints) {
    ExprState* state = static_cast<ExprState*>(lfirst(cell));
    const int kind = lfirst_int(kind_cell);
    const char* key = strVal(lfirst(key_cell));
    kind_cell = lnext(s->hint_kinds, kind_cell);
    key_cell = lnext(s->hint_keys, key_cell);
    bool isnull = false;
    const Datum value = ExecEvalExprSwitchContext(state, econtext, &isnull);
    if (isnull) {
      if (kind == kMetricIn) continue;  // = ANY(NULL) is NULL: the series condition says no row
      return false;
    }
    switch (kind) {
      case kMetricIs:
      case kMetricIn:
        if (f->any_metric) {
          Datum element = value;
          f->metrics = kind == kMetricIn
                           ? value
                           : PointerGetDatum(construct_array(&element, 1, TEXTOID, -1, false, TYPALIGN_INT));
          f->any_metric = false;
        }
        break;
      case kTagIs: {
        const Datum key_text = CStringGetTextDatum(key);
        bool clash = false;
        for (int i = 0; i < f->n_keys; ++i) {
          if (DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, f->keys[i], key_text)))
            clash = clash || !DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, f->values[i], value));
        }
        if (clash) return false;
        f->keys[f->n_keys] = key_text;
        f->values[f->n_keys] = value;
        ++f->n_keys;
        break;
      }
      case kTagsContain:
        if (f->any_tags) {
          f->contains = value;
          f->any_tags = false;
        }
        break;
      default: break;
    }
  }
  return true;
}

// Whether an expression reads a column of aegis.points other than metric
// (expression_tree_walker's callback).
bool ReadsOtherThanMetric(Node* node, void* context) {
  if (node == nullptr) return false;
  if (IsA(node, Var)) return castNode(Var, node)->varattno != kMetric;
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(ReadsOtherThanMetric)),
                                context);
}

// The series conditions of a scan evaluated on catalog rows (KeepSeries).
// Conditions on metric alone are evaluated once per run of rows with the
// same metric (the rows come grouped by metric in the by-name order; read
// directly, in the index's or the heap's order, where a metric's series
// mostly lie together): a regular expression costs more than the rest of a
// row's work.
struct SeriesConditionCache {
  ScanState* s;
  ExprContext* econtext;
  TupleTableSlot* slot;
  MemoryContext memory;  // holds last_metric
  Datum last_metric = 0;
  bool last_keep = false;

  SeriesConditionCache(ScanState* scan, ExprContext* e, TupleTableSlot* t)
      : s(scan), econtext(e), slot(t),
        memory(AllocSetContextCreate(CurrentMemoryContext, "aegis series conditions", ALLOCSET_SMALL_SIZES)) {}
};

// Whether the scan's series conditions hold on a catalog row (a
// CatalogRowFilter; PostgreSQL code).
CatalogVerdict KeepSeries(void* arg, Datum metric, Datum tags) {
  auto* c = static_cast<SeriesConditionCache*>(arg);
  ScanState* s = c->s;
  if (s->series_conditions == nullptr) return CatalogVerdict::kKeep;
  if (s->conditions_on_metric && c->last_metric != 0 && datumIsEqual(metric, c->last_metric, false, -1))
    return c->last_keep ? CatalogVerdict::kKeep : CatalogVerdict::kDrop;
  ExecClearTuple(c->slot);
  std::fill(c->slot->tts_isnull, c->slot->tts_isnull + kColumns, true);
  c->slot->tts_values[kMetric - 1] = metric;
  c->slot->tts_isnull[kMetric - 1] = false;
  c->slot->tts_values[kTags - 1] = tags;
  c->slot->tts_isnull[kTags - 1] = false;
  ExecStoreVirtualTuple(c->slot);
  c->econtext->ecxt_scantuple = c->slot;
  const bool keep = ExecQual(s->series_conditions, c->econtext);
  ResetExprContext(c->econtext);
  if (s->conditions_on_metric) {
    MemoryContextReset(c->memory);
    MemoryContext old = MemoryContextSwitchTo(c->memory);
    c->last_metric = datumCopy(metric, false, -1);
    MemoryContextSwitchTo(old);
    c->last_keep = keep;
  }
  return keep ? CatalogVerdict::kKeep : CatalogVerdict::kDrop;
}

// Chooses the series by reading aegis.series directly (ScanSeriesCatalog),
// in series_id order; false, having chosen nothing, where that does not
// apply (the catalog query runs instead).
bool ChooseSeriesDirectly(ScanState* s, ExprContext* econtext, TupleTableSlot* slot, Datum metrics,
                          const Datum* contains, int n_contains) {
  SeriesConditionCache cache(s, econtext, slot);
  CatalogScan scan;
  MemoryContext old = MemoryContextSwitchTo(s->run_memory);
  // The hints' values may live in the per-tuple memory KeepSeries resets
  // after each row (an operand evaluated at run time): the scan uses them
  // to its end.
  const Datum metrics_copy = metrics != 0 ? datumCopy(metrics, false, -1) : 0;
  Datum contains_copy = n_contains > 0 ? datumCopy(contains[0], false, -1) : 0;
  const bool read = ScanSeriesCatalog(metrics_copy, n_contains > 0 ? &contains_copy : nullptr, n_contains,
                                      KeepSeries, &cache, &scan);
  if (read) {
    s->candidates += scan.candidates;
    s->series = static_cast<ChosenSeries*>(palloc(sizeof(ChosenSeries) * (scan.n_rows + 1)));
    s->n_chosen = 0;
    for (uint64 i = 0; i < scan.n_rows; ++i)
      s->series[s->n_chosen++] = {scan.rows[i].series_id, scan.rows[i].metric, scan.rows[i].tags};
    if (scan.rows != nullptr) pfree(scan.rows);
  }
  MemoryContextSwitchTo(old);
  MemoryContextDelete(cache.memory);
  return read;
}

SPIPlanPtr catalog_plans[8] = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

// Chooses the series: the catalog rows the hints narrow to, each kept when
// the series conditions hold on it. Runs inside an SPI connection.
void ChooseSeries(ScanState* s, ExprContext* econtext, TupleTableSlot* slot, const CatalogFilter& f) {
  // The tag equalities become one containment object.
  Datum contains = f.contains;
  bool by_tags = !f.any_tags;
  if (f.n_keys > 0) {
    ArrayType* keys = construct_array(f.keys, f.n_keys, TEXTOID, -1, false, TYPALIGN_INT);
    ArrayType* values = construct_array(f.values, f.n_keys, TEXTOID, -1, false, TYPALIGN_INT);
    Datum object = DirectFunctionCall2(jsonb_object_two_arg, PointerGetDatum(keys), PointerGetDatum(values));
    // Both: the equalities narrow (they are exact), the containment is
    // checked as a series condition.
    contains = object;
    by_tags = true;
  }
  // By series_id, or by metric (under the default collation, whatever the
  // column's) and tags, with the default operator classes, as
  // SeriesOrderSatisfies requires.
  static const char* const sql[8] = {
      "SELECT series_id, metric, tags FROM aegis.series ORDER BY series_id",
      "SELECT series_id, metric, tags FROM aegis.series WHERE metric = ANY ($1) ORDER BY series_id",
      "SELECT series_id, metric, tags FROM aegis.series WHERE tags @> $2 ORDER BY series_id",
      ("SELECT series_id, metric, tags FROM aegis.series WHERE metric = ANY ($1) AND tags @> $2"
       " ORDER BY series_id"),
      "SELECT series_id, metric, tags FROM aegis.series ORDER BY metric COLLATE \"default\", tags",
      "SELECT series_id, metric, tags FROM aegis.series WHERE metric = ANY ($1) ORDER BY metric COLLATE \"default\", tags",
      "SELECT series_id, metric, tags FROM aegis.series WHERE tags @> $2 ORDER BY metric COLLATE \"default\", tags",
      ("SELECT series_id, metric, tags FROM aegis.series WHERE metric = ANY ($1) AND tags @> $2"
       " ORDER BY metric COLLATE \"default\", tags")};
  static const Oid types[] = {TEXTARRAYOID, JSONBOID};
  const int variant = (f.any_metric ? 0 : 1) + (by_tags ? 2 : 0) + (s->series_by_name ? 4 : 0);
  Datum values[] = {f.any_metric ? 0 : f.metrics, by_tags ? contains : 0};
  const char nulls[] = {f.any_metric ? 'n' : ' ', by_tags ? ' ' : 'n'};
  if (!s->series_by_name && ChooseSeriesDirectly(s, econtext, slot, f.any_metric ? 0 : f.metrics,
                                                  by_tags ? &contains : nullptr, by_tags ? 1 : 0))
    return;
  // Ordered by name, the catalog's rows are sorted: no index holds them in
  // (metric, tags) order since the series key is a hash (src/sql/00_tables.sql);
  // the jsonb comparisons cost about 2.5 ms for 1,000 series.
  SPIPlanPtr plan = KeptPlan(&catalog_plans[variant], sql[variant], 2, types);
  const int code = SPI_execute_plan(plan, values, nulls, true, 0);
  if (code != SPI_OK_SELECT) elog(ERROR, "aegis: catalog query of the points scan failed: %s",
                                  SPI_result_code_string(code));
  s->candidates += SPI_processed;
  MemoryContext old = MemoryContextSwitchTo(s->run_memory);
  s->series = static_cast<ChosenSeries*>(palloc(sizeof(ChosenSeries) * (SPI_processed + 1)));
  s->n_chosen = 0;
  SeriesConditionCache cache(s, econtext, slot);
  for (uint64 row = 0; row < SPI_processed; ++row) {
    bool isnull[3];
    Datum id = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull[0]);
    Datum metric = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull[1]);
    Datum tags = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 3, &isnull[2]);
    if (KeepSeries(&cache, metric, tags) != CatalogVerdict::kKeep) continue;
    s->series[s->n_chosen++] = {DatumGetInt64(id), datumCopy(metric, false, -1), datumCopy(tags, false, -1)};
  }
  MemoryContextSwitchTo(old);
  MemoryContextDelete(cache.memory);
  SPI_freetuptable(SPI_tuptable);
}

// Starts the scan: bounds, then the series (C++ code; PostgreSQL calls
// inside PgCall).
void StartScan(ForeignScanState* node, ScanState* s) {
  s->started = true;
  if (!s->counted) CountStat(Stat::kQueries, 1);  // a rescan is the same query
  s->counted = true;
  ExprContext* econtext = node->ss.ps.ps_ExprContext;
  CatalogFilter filter;
  const bool possible = PgCall([&] {
    MemoryContext old = MemoryContextSwitchTo(s->run_memory);
    const bool ok = EvaluateBounds(s, econtext) && EvaluateHints(s, econtext, &filter);
    MemoryContextSwitchTo(old);
    return ok;
  });
  if (!possible) {
    s->empty = true;
    return;
  }
  RequireSeriesSelect("Reading aegis.points");
  SpiConnect();
  PgCall([&] { ChooseSeries(s, econtext, s->series_slot, filter); });
  SpiFinish();
}

// Reads the next group of series into the buffer. The buffer holds about
// kBufferTarget points at most (plus one block): a series with more points
// in the range is read a piece at a time, each piece stopping after the block
// that fills the buffer, the next one read alone from there
// (s->resume_since).
void ReadGroup(ScanState* s) {
  s->points.clear();
  s->owners.clear();
  s->next_point = 0;
  const std::optional<core::Timestamp> resume = s->resume_since;
  s->resume_since.reset();
  const core::Timestamp since = resume ? *resume : s->since;
  const size_t end = resume ? s->next_series + 1 : std::min(s->n_chosen, s->next_series + s->group);
  std::vector<int64_t> ids;
  for (size_t i = s->next_series; i < end; ++i) ids.push_back(s->series[i].id);
  PointSink sink;
  sink.points_ = &s->points;
  sink.owners_ = &s->owners;
  sink.values_ = &s->values;
  size_t next = end;
  SpiConnect();
  {
    SeriesData data(ids, since, s->until, 0, false, s->values.n > 0, {}, &s->stats);
    for (size_t i = s->next_series; i < end; ++i) {
      sink.current_ = static_cast<uint32_t>(i);
      s->resume_since = data.FoldUntil(s->series[i].id, since, s->until, &sink,
                                       [s] { return s->points.size() >= kBufferTarget; });
      if (s->resume_since) {
        next = i;
        break;
      }
    }
  }
  SpiFinish();
  ++s->reads;
  s->next_series = next;
  if (!resume && !s->resume_since && s->points.size() < kBufferTarget)
    s->group = std::min(s->group * 2, kSeriesPerFetch);
}

// The first window of a newest-first read of s->window_series (all the
// chosen series when empty): it ends at top when the caller knows it, else
// after their newest point, as aegis.latest finds it (aegis.last_points, and
// this transaction's writes). The oldest point is looked up only when a
// window comes back empty.
void StartWindows(ScanState* s, std::optional<core::Timestamp> top = std::nullopt) {
  s->windows_ready = true;
  s->oldest_known = false;
  s->window_top = s->window_low = s->since;
  if (s->window_series.empty())
    for (size_t i = 0; i < s->n_chosen; ++i) s->window_series.push_back(i);
  if (s->window_series.empty()) return;
  if (top) {
    s->window_top = *top;
  } else {
    std::vector<int64_t> ids;
    for (size_t i : s->window_series) ids.push_back(s->series[i].id);
    std::sort(ids.begin(), ids.end());
    SpiConnect();
    const auto newest_of = NewestPoints(ids);
    SpiFinish();
    if (newest_of.empty()) return;  // none of them has a point
    core::Timestamp newest = core::kTimestampMinusInfinity;
    for (const auto& [id, point] : newest_of) newest = std::max<core::Timestamp>(newest, point.first);
    s->window_top = std::min(s->until, newest == core::kTimestampInfinity ? newest : newest + 1);
  }
  // An hour, shorter when many series share the windows (a LIMIT usually
  // needs few points; wider windows follow while they hold few).
  s->window_width = std::max<int64_t>(USECS_PER_SEC, USECS_PER_HOUR / static_cast<int64_t>(std::max<size_t>(
                                                                          1, s->window_series.size() / 16)));
}

// After an empty window: the windows stop at the oldest stored point of
// s->window_series (the since bound until then).
void LearnOldest(ScanState* s) {
  s->oldest_known = true;
  std::vector<int64_t> ids;
  for (size_t i : s->window_series) ids.push_back(s->series[i].id);
  static SPIPlanPtr plan = nullptr;
  bool none = true;
  core::Timestamp oldest = 0;
  SpiConnect();
  PgCall([&] {
    Oid types[] = {INT8ARRAYOID};
    Datum args[] = {Int64Array(ids.data(), ids.size(), INT8OID)};
    RunPlan(&plan,
            "SELECT min(oldest) FROM (SELECT min(ts_min) FROM aegis.blocks WHERE series_id = ANY($1) UNION ALL "
            "SELECT min(ts) FROM aegis.recent_points WHERE series_id = ANY($1)) AS e (oldest)",
            1, types, args, Snap::kReadOnly);
    oldest = DatumGetTimestampTz(ResultValue(0, 1, &none));
  });
  std::sort(ids.begin(), ids.end());
  core::Timestamp packed_oldest = 0;
  if (OldestPacked(ids, &packed_oldest)) {
    oldest = none ? packed_oldest : std::min<core::Timestamp>(oldest, packed_oldest);
    none = false;
  }
  SpiFinish();
  s->window_low = none ? s->window_top : std::max(s->window_low, oldest);
}

// Reads the next window of a newest-first scan into the buffer, newest
// first; false when no window is left.
bool ReadWindow(ScanState* s) {
  if (!s->windows_ready) StartWindows(s);
  if (s->window_top <= s->window_low) return false;
  const core::Timestamp top = s->window_top;
  const core::Timestamp low =
      static_cast<core::Timestamp>(std::max<__int128>(s->window_low, static_cast<__int128>(top) - s->window_width));
  core::SeriesPoints points;
  std::vector<uint32_t> owners;
  PointSink sink;
  sink.points_ = &points;
  sink.owners_ = &owners;
  sink.values_ = &s->values;
  const size_t n = s->window_series.size();
  for (size_t first = 0; first < n; first += kSeriesPerFetch) {
    const size_t end = std::min(n, first + kSeriesPerFetch);
    std::vector<int64_t> ids;
    for (size_t k = first; k < end; ++k) ids.push_back(s->series[s->window_series[k]].id);
    SpiConnect();
    {
      SeriesData data(ids, low, top, 0, false, s->values.n > 0, {}, &s->stats);
      for (size_t k = first; k < end; ++k) {
        const size_t i = s->window_series[k];
        sink.current_ = static_cast<uint32_t>(i);
        data.Fold(s->series[i].id, low, top, &sink);
      }
    }
    SpiFinish();
    ++s->reads;
  }
  std::vector<uint32_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return points.ts[a] > points.ts[b]; });
  s->points.clear();
  s->owners.clear();
  s->next_point = 0;
  for (uint32_t i : order) {
    s->points.push_back(points.ts[i], points.values[i]);
    s->owners.push_back(owners[i]);
  }
  s->window_top = low;
  if (points.size() == 0 && !s->oldest_known) LearnOldest(s);
  // Wider windows while they hold few points, narrower when many.
  if (points.size() < kBufferTarget / 4 && s->window_width < std::numeric_limits<int64_t>::max() / 4)
    s->window_width *= 4;
  else if (points.size() > 2 * kBufferTarget && s->window_width > 1)
    s->window_width /= 2;
  return true;
}

// DISTINCT ON (metric, tags) ... ts DESC: the buffer gets the newest point
// (passing the value conditions) of each chosen series. The newest
// point of each series comes from aegis.last_points, as aegis.latest reads
// it, when no value condition applies and it lies in the time range; other
// series are read newest first, a time window at a time, until each has
// its point or no window is left.
void NewestPerSeries(ScanState* s) {
  s->points.clear();
  s->owners.clear();
  s->next_point = 0;
  struct Best {
    core::Timestamp ts = 0;
    double value = 0;
    bool found = false;
  };
  std::vector<Best> best(s->n_chosen);
  s->window_series.clear();
  bool read = true;  // some series' point is not known yet
  if (s->values.n == 0) {
    std::vector<int64_t> ids;
    for (size_t i = 0; i < s->n_chosen; ++i) ids.push_back(s->series[i].id);
    std::sort(ids.begin(), ids.end());
    SpiConnect();
    const auto newest = NewestPoints(ids);
    SpiFinish();
    for (size_t i = 0; i < s->n_chosen; ++i) {
      const auto it = newest.find(s->series[i].id);
      if (it == newest.end() || it->second.first < s->since) continue;  // no point in the range
      if (it->second.first < s->until)
        best[i] = Best{it->second.first, it->second.second, true};
      else
        s->window_series.push_back(i);
    }
    read = !s->window_series.empty();
  }
  if (read) {
    // The series left have a point at or after until (no value condition):
    // their windows start there, without asking for their newest points
    // again.
    StartWindows(s, s->values.n == 0 ? std::optional<core::Timestamp>(s->until) : std::nullopt);
    while (ReadWindow(s)) {
      for (size_t k = 0; k < s->points.size(); ++k) {
        Best& b = best[s->owners[k]];
        if (b.found) continue;  // the sink kept only points that meet the value conditions
        b = Best{s->points.ts[k], s->points.values[k], true};
      }
      std::vector<size_t> left;
      for (size_t i : s->window_series)
        if (!best[i].found) left.push_back(i);
      if (left.empty()) break;
      s->window_series.swap(left);
      CheckForInterrupts();
    }
  }
  // One row per series: aegis.series holds each (metric, tags) once (its
  // series_key constraint) under the equality DISTINCT ON uses (text under
  // the default collation, jsonb), so every series is a group of its own.
  s->points.clear();
  s->owners.clear();
  s->next_point = 0;
  for (size_t i = 0; i < s->n_chosen; ++i) {
    if (!best[i].found) continue;
    s->points.push_back(best[i].ts, best[i].value);
    s->owners.push_back(static_cast<uint32_t>(i));
  }
}

// Puts a point of series `owner` into the scan's slot.
void StorePoint(ForeignScanState* node, ScanState* s, size_t owner, core::Timestamp ts, double value) {
  TupleTableSlot* slot = node->ss.ss_ScanTupleSlot;
  const ChosenSeries& series = s->series[owner];
  // No boundary: clearing the scan slot (a heap-tuple slot: at most it frees
  // a copy a consumer materialized) and storing a virtual tuple of by-value
  // and run-memory datums raise no error, and this is every row's path.
  static_assert(FLOAT8PASSBYVAL, "float8 and timestamptz datums are stored without allocating");
  ExecClearTuple(slot);
  slot->tts_values[kMetric - 1] = series.metric;
  slot->tts_values[kTags - 1] = series.tags;
  slot->tts_values[kTs - 1] = TimestampTzGetDatum(ts);
  slot->tts_values[kValue - 1] = Float8GetDatum(value);
  for (int c = 0; c < kColumns; ++c) slot->tts_isnull[c] = false;
  ExecStoreVirtualTuple(slot);
}

// Oldest first over several series: every point of the scan that meets the
// value conditions into a tuplesort by ts (work_mem, then temporary files,
// as a Sort node), read a group of series at a time.
void SortAllPoints(ScanState* s) {
  PgCall([&] {
    MemoryContext old = MemoryContextSwitchTo(s->run_memory);
    TupleDesc desc = CreateTemplateTupleDesc(3);
    TupleDescInitEntry(desc, 1, "ts", TIMESTAMPTZOID, -1, 0);
    TupleDescInitEntry(desc, 2, "value", FLOAT8OID, -1, 0);
    TupleDescInitEntry(desc, 3, "owner", INT4OID, -1, 0);
    AttrNumber key = 1;
    Oid less = get_opfamily_member(TimestamptzBtreeFamily(), TIMESTAMPTZOID, TIMESTAMPTZOID, BTLessStrategyNumber);
    Oid collation = InvalidOid;
    bool nulls_first = false;
    s->sort_input = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
    s->sort_output = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
    s->sort = tuplesort_begin_heap(desc, 1, &key, &less, &collation, &nulls_first, work_mem, nullptr, TUPLESORT_NONE);
    MemoryContextSwitchTo(old);
  });
  while (s->next_series < s->n_chosen) {
    ReadGroup(s);
    PgCall([&] {
      TupleTableSlot* in = s->sort_input;
      for (size_t i = 0; i < s->points.size(); ++i) {
        ExecClearTuple(in);
        in->tts_values[0] = TimestampTzGetDatum(s->points.ts[i]);
        in->tts_values[1] = Float8GetDatum(s->points.values[i]);
        in->tts_values[2] = Int32GetDatum(static_cast<int32>(s->owners[i]));
        in->tts_isnull[0] = in->tts_isnull[1] = in->tts_isnull[2] = false;
        ExecStoreVirtualTuple(in);
        tuplesort_puttupleslot(s->sort, in);
      }
    });
    CheckForInterrupts();
  }
  s->points.clear();
  s->owners.clear();
  s->next_point = 0;
  PgCall([&] { tuplesort_performsort(s->sort); });
}

// The next point of an oldest-first scan of several series; false at the end.
bool NextSortedPoint(ForeignScanState* node, ScanState* s) {
  if (s->sort == nullptr) SortAllPoints(s);
  bool found = false;
  core::Timestamp ts = 0;
  double value = 0;
  size_t owner = 0;
  PgCall([&] {
    found = tuplesort_gettupleslot(s->sort, true, false, s->sort_output, nullptr);
    if (!found) return;
    slot_getallattrs(s->sort_output);
    ts = DatumGetTimestampTz(s->sort_output->tts_values[0]);
    value = DatumGetFloat8(s->sort_output->tts_values[1]);
    owner = static_cast<size_t>(DatumGetInt32(s->sort_output->tts_values[2]));
  });
  if (!found) return false;
  StorePoint(node, s, owner, ts, value);
  return true;
}

// Ends an oldest-first scan's tuplesort (its temporary files with it).
void EndSort(ScanState* s) {
  if (s->sort == nullptr) return;
  PgCall([&] { tuplesort_end(s->sort); });
  s->sort = nullptr;
}

// Whether the next row of a started points scan is a point in the buffer
// (not read yet, nor sorted).
bool HasBufferedPoint(const ScanState* s) {
  return s->started && !s->empty && !(s->oldest_first && s->n_chosen > 1) && s->next_point < s->points.size();
}

// Puts the next buffered point into the slot. Neither throws nor raises.
void StoreBufferedPoint(ForeignScanState* node, ScanState* s) {
  const size_t i = s->next_point++;
  StorePoint(node, s, s->owners[i], s->points.ts[i], s->points.values[i]);
}

// The next point into the slot; false at the end.
bool NextPoint(ForeignScanState* node, ScanState* s) {
  if (!s->started) {
    StartScan(node, s);
    if (!s->empty && s->newest_per_series) NewestPerSeries(s);
  }
  if (s->empty) return false;
  if (s->oldest_first && s->n_chosen > 1) return NextSortedPoint(node, s);
  // The buffer holds only points that meet the value conditions (PointSink).
  while (!HasBufferedPoint(s)) {
    if (s->newest_per_series) return false;
    if (s->newest_first) {
      if (!ReadWindow(s)) return false;
    } else {
      if (s->next_series == s->n_chosen) return false;
      ReadGroup(s);
    }
    CheckForInterrupts();
  }
  StoreBufferedPoint(node, s);
  return true;
}

// The bucket's operands and every series' GROUP BY values (PostgreSQL
// code). False when an operand is NULL (the named bucket functions are
// strict: every bucket is NULL).
bool EvaluateGroups(ScanState* s, ExprContext* econtext) {
  bool bucket_null = false;
  int operand = 0;
  ListCell* operand_cell;
  s->gap_start_given = s->gap_finish_given = false;
  foreach (operand_cell, s->bucket_operands) {
    bool isnull = false;
    const Datum value = ExecEvalExprSwitchContext(static_cast<ExprState*>(lfirst(operand_cell)), econtext, &isnull);
    if (s->bucket_kind == kBucketGapfill && operand > 0) {
      // start and finish: NULL is taken from the time range.
      if (!isnull) (operand == 1 ? s->gap_start : s->gap_finish) = DatumGetTimestampTz(value);
      (operand == 1 ? s->gap_start_given : s->gap_finish_given) = !isnull;
      ++operand;
      continue;
    }
    bucket_null = isnull;
    if (bucket_null) break;
    if (operand == 0 && s->bucket_kind == kBucketDateTrunc) {
      MemoryContext old = MemoryContextSwitchTo(s->run_memory);
      s->unit_value = TextDatumGetCString(value);
      MemoryContextSwitchTo(old);
    } else if (operand == 0) {
      s->width_value = *DatumGetIntervalP(value);
    } else {
      s->origin_value = DatumGetTimestampTz(value);
    }
    ++operand;
  }
  const size_t columns = static_cast<size_t>(s->group_columns);
  s->group_values = static_cast<Datum*>(MemoryContextAllocZero(s->run_memory, sizeof(Datum) * (s->n_chosen * columns + 1)));
  s->group_nulls = static_cast<bool*>(MemoryContextAllocZero(s->run_memory, sizeof(bool) * (s->n_chosen * columns + 1)));
  for (size_t r = 0; r < s->n_chosen; ++r) {
    ExecClearTuple(s->series_slot);
    std::fill(s->series_slot->tts_isnull, s->series_slot->tts_isnull + kColumns, true);
    s->series_slot->tts_values[kMetric - 1] = s->series[r].metric;
    s->series_slot->tts_isnull[kMetric - 1] = false;
    s->series_slot->tts_values[kTags - 1] = s->series[r].tags;
    s->series_slot->tts_isnull[kTags - 1] = false;
    ExecStoreVirtualTuple(s->series_slot);
    econtext->ecxt_scantuple = s->series_slot;
    size_t j = 0;
    ListCell* cell;
    foreach (cell, s->group_states) {
      bool isnull = false;
      Datum value = ExecEvalExprSwitchContext(static_cast<ExprState*>(lfirst(cell)), econtext, &isnull);
      if (!isnull && s->group_typlen[j] == -1) value = PointerGetDatum(PG_DETOAST_DATUM_PACKED(value));
      MemoryContext old = MemoryContextSwitchTo(s->run_memory);
      s->group_values[r * columns + j] = isnull ? 0 : datumCopy(value, s->group_typbyval[j], s->group_typlen[j]);
      MemoryContextSwitchTo(old);
      s->group_nulls[r * columns + j] = isnull;
      ++j;
    }
    ResetExprContext(econtext);
  }
  return !bucket_null;
}

// Orders the series by their GROUP BY values (equal values: equal bytes, as
// GROUP BY compares them for text and jsonb) and numbers the groups.
void PrepareGroups(ForeignScanState* node, ScanState* s) {
  const bool has_bucket = s->bucket_kind != kBucketNone;
  const bool operands_given = PgCall([&] { return EvaluateGroups(s, node->ss.ps.ps_ExprContext); });
  s->has_bucket = has_bucket && operands_given;  // the bucketer is built by the first read
  s->bucket_null = has_bucket && !operands_given;
  const size_t columns = static_cast<size_t>(s->group_columns);
  std::vector<std::string> keys(s->n_chosen);
  for (size_t r = 0; r < s->n_chosen; ++r) {
    std::string& key = keys[r];
    for (size_t j = 0; j < columns; ++j) {
      if (s->group_nulls[r * columns + j]) {
        key.push_back('\0');
        continue;
      }
      key.push_back('\1');
      const Datum value = s->group_values[r * columns + j];
      const char* bytes = reinterpret_cast<const char*>(&value);
      size_t size = sizeof(Datum);
      if (!s->group_typbyval[j]) {
        bytes = DatumGetPointer(value);
        if (s->group_typlen[j] == -1) {
          size = VARSIZE_ANY_EXHDR(bytes);
          bytes = VARDATA_ANY(bytes);
        } else if (s->group_typlen[j] == -2) {
          size = std::strlen(bytes);
        } else {
          size = static_cast<size_t>(s->group_typlen[j]);
        }
      }
      const uint64_t length = size;
      key.append(reinterpret_cast<const char*>(&length), sizeof length).append(bytes, size);
    }
  }
  s->order.resize(s->n_chosen);
  for (size_t r = 0; r < s->n_chosen; ++r) s->order[r] = r;
  std::stable_sort(s->order.begin(), s->order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  s->group_of.assign(s->n_chosen, 0);
  size_t group = 0;
  for (size_t k = 0; k < s->order.size(); ++k) {
    if (k > 0 && keys[s->order[k]] != keys[s->order[k - 1]]) ++group;
    s->group_of[s->order[k]] = group;
  }
}

// The GROUP BY's bucket expression at ts (PostgreSQL code), in the scan's
// per-tuple memory.
Datum EvaluateBucketExpr(ScanState* s, core::Timestamp ts, bool* isnull) {
  s->bucket_slot->tts_values[kTs - 1] = TimestampTzGetDatum(ts);
  s->bucket_context->ecxt_scantuple = s->bucket_slot;
  return ExecEvalExprSwitchContext(s->bucket_expr, s->bucket_context, isnull);
}

// The GROUP BY expression's value for a bucket whose points all share it
// (floor(extract(epoch from ts) / n) * n): the expression at the bucket's
// start, kept in the run's memory.
Datum BucketLabel(ScanState* s, core::Timestamp bucket) {
  ExprContext* econtext = s->bucket_context;
  return PgCall([&] {
    bool isnull = false;
    const Datum label = EvaluateBucketExpr(s, bucket, &isnull);
    MemoryContext old = MemoryContextSwitchTo(s->run_memory);
    const Datum copy = isnull ? 0 : datumCopy(label, false, -1);
    MemoryContextSwitchTo(old);
    ResetExprContext(econtext);
    return copy;
  });
}

// Appends one output row of the current group: bucket `i` of its
// aggregators, or, with no bucket, the aggregates over nothing.
void EmitAggregateRow(ScanState* s, const std::vector<std::vector<core::BucketValue>>* buckets, size_t i) {
  const size_t group_columns = static_cast<size_t>(s->group_columns);
  size_t series_column = 0;
  size_t aggregate = 0;
  size_t junk = 0;
  ListCell* cell;
  foreach (cell, s->column_kinds) {
    Datum value = 0;
    bool isnull = false;
    switch (lfirst_int(cell)) {
      case kColSeries: {
        const size_t at = s->current_first * group_columns + series_column++;
        value = s->group_values[at];
        isnull = s->group_nulls[at];
        break;
      }
      case kColBucket: {
        const core::Timestamp bucket = buckets == nullptr ? kNullBucket : (*buckets)[0][i].bucket;
        isnull = s->bucket_null || bucket == kNullBucket;
        if (!isnull) value = s->bucket_kind == kBucketEpochFloor ? BucketLabel(s, bucket) : TimestampTzGetDatum(bucket);
        break;
      }
      case kColAggregate: {
        bool as_count = false;
        FnOfCode(s->aggregate_codes[aggregate], &as_count);
        if (buckets == nullptr) {
          isnull = !as_count;  // count over nothing is 0, the others NULL
          value = Int64GetDatum(0);
        } else {
          const core::BucketValue& v = (*buckets)[aggregate][i];
          isnull = v.is_null;
          value = as_count ? Int64GetDatum(static_cast<int64>(v.value)) : Float8GetDatum(v.value);
        }
        ++aggregate;
        break;
      }
      default: {  // kColJunk: metric, then tags, of a series of the group
        const ChosenSeries* first = s->n_chosen > 0 ? &s->series[s->current_first] : nullptr;
        isnull = first == nullptr;
        if (first != nullptr) value = junk == 0 ? first->metric : first->tags;
        ++junk;
        break;
      }
    }
    s->out_values.push_back(value);
    s->out_nulls.push_back(isnull ? 1 : 0);
  }
  ++s->out_rows;
  s->emitted = true;
}

// time_bucket_gapfill's range: start and finish, or the query's time range
// where they are NULL.
std::pair<core::Timestamp, core::Timestamp> GapRange(const ScanState* s) {
  const core::Timestamp start = s->gap_start_given ? s->gap_start : s->since;
  const core::Timestamp finish = s->gap_finish_given ? s->gap_finish : s->until;
  const auto infinite = [](core::Timestamp t) {
    return t == core::kTimestampMinusInfinity || t == core::kTimestampInfinity;
  };
  if (infinite(start) || infinite(finish))
    throw core::Error(core::ErrorCategory::InvalidParameter,
                      std::string("missing time_bucket_gapfill argument: could not infer ") +
                          (infinite(start) ? "start" : "finish") + " from WHERE clause",
                      "", "Give start and finish, or bound ts in the WHERE clause (ts >= ... AND ts < ...).");
  if (start >= finish)
    throw core::Error(core::ErrorCategory::InvalidParameter,
                      "invalid time_bucket_gapfill argument: start must be before finish");
  return {start, finish};
}

// Finishes the current group: its rows go to the output buffer.
void FinishGroup(ScanState* s) {
  std::vector<std::vector<core::BucketValue>> buckets;
  const bool gapfill = s->bucket_kind == kBucketGapfill && !s->bucket_null;
  bool any_points = false;
  for (const core::BucketAggregator& a : s->sink->aggregators_) any_points = any_points || a.bucket_count() > 0;
  if (gapfill && !any_points) {  // a group with no point has no row, filled or not
    s->sink.reset();
    return;
  }
  size_t k = 0;
  for (const core::BucketAggregator& a : s->sink->aggregators_) {
    if (!gapfill) {
      buckets.push_back(a.Finish(core::Fill{}));
      continue;
    }
    int fill = kFillNone;
    if (!s->aggregate_codes.empty()) FnOfCode(s->aggregate_codes[k], nullptr, &fill);
    core::Fill mode;
    mode.mode = fill == kFillPrevious ? core::FillMode::kPrevious
                : fill == kFillLinear ? core::FillMode::kLinear
                                      : core::FillMode::kNull;
    const auto [start, finish] = GapRange(s);
    buckets.push_back(a.Finish(mode, start, finish));
    ++k;
  }
  for (size_t i = 0; i < buckets[0].size(); ++i) {
    for (const auto& b : buckets)
      if (b.size() != buckets[0].size() || b[i].bucket != buckets[0][i].bucket)
        throw core::Error(core::ErrorCategory::Internal, "aggregators disagree on the buckets of a group");
    EmitAggregateRow(s, &buckets, i);
    if ((i & 4095) == 4095) CheckForInterrupts();
  }
  s->sink.reset();
}

// The engine's functions of the scan's aggregates, in order. With no
// aggregate (GROUP BY alone), a count finds the groups' buckets.
std::vector<core::AggregateFn> ScanFunctions(const ScanState* s) {
  std::vector<core::AggregateFn> fns;
  for (int code : s->aggregate_codes) fns.push_back(FnOfCode(code));
  if (fns.empty()) fns.push_back(core::AggregateFn{core::AggregateKind::kCount});
  return fns;
}

// Starts the aggregators of the group of series r.
void StartGroup(ScanState* s, size_t r) {
  s->current_group = s->group_of[r];
  s->current_first = r;
  core::AggregateLimits limits;
  limits.progress = [] { CheckForInterrupts(); };
  s->sink.emplace();
  s->sink->summaries_ = s->summaries;
  s->sink->values_ = s->values;
  for (const core::AggregateFn& fn : ScanFunctions(s))
    s->sink->aggregators_.emplace_back(fn, s->bucketer, s->since, s->until, limits);
}

// Whether the shards summarise the scan's series (ShardSummaries): on a
// distributed database, for functions they answer, with no value condition
// (every point is then tested), in one bucket or in buckets of the engine's
// own arithmetic with no offset (time_bucket(width, ts [, origin]), as the
// shards bucket them). After the bucketer is built.
bool ShardsSummarise(const ScanState* s) {
  if (s->values.n > 0 || s->bucket_null) return false;
  if (s->bucket_kind != kBucketNone && (!s->bucketer || s->bucketer->IsFunction() || s->bucketer->HasOffset()))
    return false;
  if (!ShardSummaries::Answers(ScanFunctions(s))) return false;
  return PgCall([] { return DataDistributed(); });
}

// A point's bucket from the GROUP BY's expression (PostgreSQL evaluates it):
// kNullBucket when NULL. Each aggregator asks for the same points, so
// recent answers are kept.
core::Timestamp BucketOfPoint(ScanState* s, core::Timestamp ts) {
  const uint64_t mixed = static_cast<uint64_t>(ts) * 0x9E3779B97F4A7C15ull;
  BucketMemo& memo = s->bucket_memo[(mixed >> 32) & (kBucketMemo - 1)];
  if (memo.valid && memo.ts == ts) return memo.bucket;
  bool isnull = false;
  const Datum value = PgCall([&] { return EvaluateBucketExpr(s, ts, &isnull); });
  if ((++s->bucket_calls & 1023) == 0) PgCall([&] { ResetExprContext(s->bucket_context); });
  memo = BucketMemo{ts, isnull ? kNullBucket : DatumGetTimestampTz(value), true};
  return memo.bucket;
}

// date_trunc(unit, ts) as the engine's bucketing, when the session's time
// zone has one fixed offset from UTC: truncating the local time is then
// time_bucket of ts + offset, less the offset (weeks start on Monday, as
// time_bucket's default origin does; months, quarters and years start in
// January 2000 as its month origin does). nullopt for other zones and units
// (decade, century, millennium) and for a unit date_trunc refuses.
std::optional<core::TimeBucketer> DateTruncBucketer(const char* unit) {
  int type = 0;
  int field = 0;
  long offset = 0;
  bool fixed = false;
  PgCall([&] {
    char* lower = downcase_truncate_identifier(unit, static_cast<int>(strlen(unit)), false);
    type = DecodeUnits(0, lower, &field);
    fixed = pg_get_timezone_offset(session_timezone, &offset);
  });
  if (type != UNITS || !fixed) return std::nullopt;
  core::Interval width;
  switch (field) {
    case DTK_MICROSEC: width.micros = 1; break;
    case DTK_MILLISEC: width.micros = 1000; break;
    case DTK_SECOND: width.micros = USECS_PER_SEC; break;
    case DTK_MINUTE: width.micros = USECS_PER_MINUTE; break;
    case DTK_HOUR: width.micros = USECS_PER_HOUR; break;
    case DTK_DAY: width.days = 1; break;
    case DTK_WEEK: width.days = 7; break;
    case DTK_MONTH: width.months = 1; break;
    case DTK_QUARTER: width.months = 3; break;
    case DTK_YEAR: width.months = 12; break;
    default: return std::nullopt;
  }
  return core::TimeBucketer(width, std::nullopt, core::Interval{0, 0, -static_cast<int64_t>(offset) * USECS_PER_SEC});
}

// The bucketing of the GROUP BY's bucket of ts: the engine's arithmetic where
// it is what the SQL function computes, else the expression per point.
core::TimeBucketer MakeBucketer(ScanState* s) {
  switch (s->bucket_kind) {
    case kBucketTimeBucket:
    case kBucketGapfill:
      return core::TimeBucketer(ToCoreInterval(&s->width_value));
    case kBucketEpochFloor:  // buckets of n seconds from the Unix epoch
      return core::TimeBucketer(ToCoreInterval(&s->width_value), -static_cast<core::Timestamp>(
                                                                     (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY));
    case kBucketTimeBucketOrigin:
      return core::TimeBucketer(ToCoreInterval(&s->width_value), s->origin_value);
    case kBucketDateBin: {
      // date_bin floors ts - origin to a multiple of the stride (days as 24
      // hours): time_bucket's rule with that origin. Where a point may lie
      // before the origin (PostgreSQL 15 releases differ there), and where
      // date_bin raises, PostgreSQL's own.
      const Interval& stride = s->width_value;
      const __int128 micros = static_cast<__int128>(stride.day) * USECS_PER_DAY + stride.time;
      if (stride.month == 0 && micros > 0 && micros <= std::numeric_limits<int64_t>::max() &&
          !TIMESTAMP_NOT_FINITE(s->origin_value) && s->since >= s->origin_value)
        return core::TimeBucketer(core::Interval{0, 0, static_cast<int64_t>(micros)}, s->origin_value);
      break;
    }
    case kBucketDateTrunc:
      if (std::optional<core::TimeBucketer> bucketer = DateTruncBucketer(s->unit_value)) return *bucketer;
      break;
    default:
      break;
  }
  s->bucket_memo.assign(kBucketMemo, BucketMemo{});
  return core::TimeBucketer::FromFunction([s](core::Timestamp ts) { return BucketOfPoint(s, ts); });
}

// Aggregates the next run of series (in group order) into the buffer.
void AggregateRun(ScanState* s) {
  s->out_values.clear();
  s->out_nulls.clear();
  s->out_rows = 0;
  s->next_out = 0;
  const size_t end = std::min(s->order.size(), s->next_in_order + kSeriesPerFetch);
  std::vector<int64_t> ids;
  for (size_t k = s->next_in_order; k < end; ++k) ids.push_back(s->series[s->order[k]].id);
  // Built here, so that a width the engine refuses is an error only when
  // some series is chosen (PostgreSQL's time_bucket errs per row).
  if (s->has_bucket && !s->bucketer) s->bucketer.emplace(MakeBucketer(s));
  const bool summaries = s->summaries && s->values.n == 0;
  const bool segments = s->bucket_null ? false : (!s->bucketer || s->bucketer->IsRegular()) && summaries;
  const LeanRead lean = LeanReadFor(summaries, s->bucket_null ? std::nullopt : s->bucketer);
  SpiConnect();
  if (s->from_shards < 0) s->from_shards = ShardsSummarise(s);
  // On a distributed database the shards summarise what they hold, where
  // they can; otherwise the blocks come here.
  std::optional<ShardSummaries> shards;
  if (s->from_shards == 1) {
    Interval width{};
    std::optional<TimestampTz> origin;
    if (s->bucket_kind != kBucketNone) {
      const core::Interval& w = s->bucketer->width();
      width.month = w.months;
      width.day = w.days;
      width.time = w.micros;
      origin = s->bucketer->origin();
    }
    shards.emplace(ids, s->since, s->until, s->bucket_kind != kBucketNone ? &width : nullptr, origin,
                   ScanFunctions(s), false);
    if (shards->usable())
      ++s->shard_reads;
    else
      shards.reset();
  }
  {
    std::optional<SeriesData> data;
    if (!shards) data.emplace(ids, s->since, s->until, 0, false, segments, lean, &s->stats);
    for (size_t k = s->next_in_order; k < end; ++k) {
      const size_t r = s->order[k];
      if (s->sink && s->group_of[r] != s->current_group) FinishGroup(s);
      if (!s->sink) StartGroup(s, r);
      if (shards) {
        for (core::BucketAggregator& a : s->sink->aggregators_) shards->Fold(s->series[r].id, &a);
      } else {
        data->Fold(s->series[r].id, s->since, s->until, &*s->sink);
      }
    }
  }
  SpiFinish();
  ++s->reads;
  s->next_in_order = end;
  if (end == s->order.size() && s->sink) FinishGroup(s);
}

// The next aggregated row into the slot; false at the end.
bool NextAggregate(ForeignScanState* node, ScanState* s) {
  if (!s->started) {
    StartScan(node, s);
    if (!s->empty) PrepareGroups(node, s);
  }
  while (s->next_out == s->out_rows) {
    if (s->empty || s->next_in_order == s->order.size()) {
      // Without GROUP BY there is one row, also over no points.
      if (s->grouped || s->emitted) return false;
      s->out_values.clear();
      s->out_nulls.clear();
      s->out_rows = 0;
      s->next_out = 0;
      s->current_first = 0;
      EmitAggregateRow(s, nullptr, 0);
      break;
    }
    AggregateRun(s);
    CheckForInterrupts();
  }
  TupleTableSlot* slot = node->ss.ss_ScanTupleSlot;
  const size_t columns = static_cast<size_t>(list_length(s->column_kinds));
  const size_t row = s->next_out++;
  PgCall([&] { ExecClearTuple(slot); });
  for (size_t j = 0; j < columns; ++j) {
    slot->tts_values[j] = s->out_values[row * columns + j];
    slot->tts_isnull[j] = s->out_nulls[row * columns + j] != 0;
  }
  PgCall([&] { ExecStoreVirtualTuple(slot); });
  return true;
}

// aegis.points' columns, for catalog rows.
TupleDesc PointsDescriptor() {
  TupleDesc desc = CreateTemplateTupleDesc(kColumns);
  TupleDescInitEntry(desc, kMetric, "metric", TEXTOID, -1, 0);
  TupleDescInitEntry(desc, kTags, "tags", JSONBOID, -1, 0);
  TupleDescInitEntry(desc, kTs, "ts", TIMESTAMPTZOID, -1, 0);
  TupleDescInitEntry(desc, kValue, "value", FLOAT8OID, -1, 0);
  return desc;
}

void BeginScan(ForeignScanState* node, int eflags) {
  ForeignScan* plan = castNode(ForeignScan, node->ss.ps.plan);
  MemoryContext memory = AllocSetContextCreate(CurrentMemoryContext, "aegis points scan", ALLOCSET_DEFAULT_SIZES);
  void* place = MemoryContextAllocZero(memory, sizeof(ScanState));
  ScanState* s = nullptr;
  Guarded([&] { s = new (place) ScanState(); });
  MemoryContextCallback* callback =
      static_cast<MemoryContextCallback*>(MemoryContextAlloc(memory, sizeof(MemoryContextCallback)));
  callback->func = DestroyScanState;
  callback->arg = s;
  MemoryContextRegisterResetCallback(memory, callback);
  s->memory = memory;
  s->run_memory = AllocSetContextCreate(memory, "aegis points scan run", ALLOCSET_DEFAULT_SIZES);
  node->fdw_state = s;

  List* counts = static_cast<List*>(list_nth(plan->fdw_private, kPartCounts));
  s->n_series = linitial_int(counts);
  s->n_hints = lsecond_int(counts);
  s->n_bounds = lthird_int(counts);
  const int n_bucket_operands = lfourth_int(counts);
  const int mode = list_nth_int(counts, 4);
  s->aggregating = mode == kModeAggregate;
  s->newest_per_series = mode == kModeNewestPerSeries || mode == kModeNewestPerSeriesByName;
  s->series_by_name = mode == kModeNewestPerSeriesByName;
  s->bucket_kind = list_nth_int(counts, 5);
  s->newest_first = list_nth_int(counts, 6) == kOrderNewestFirst;
  s->oldest_first = list_nth_int(counts, 6) == kOrderOldestFirst;
  s->hint_kinds = static_cast<List*>(list_nth(plan->fdw_private, kPartHintKinds));
  s->hint_keys = static_cast<List*>(list_nth(plan->fdw_private, kPartHintKeys));
  s->bound_kinds = static_cast<List*>(list_nth(plan->fdw_private, kPartBoundKinds));
  s->column_kinds = static_cast<List*>(list_nth(plan->fdw_private, kPartColumnKinds));
  if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return;

  int i = 0;
  ListCell* cell;
  foreach (cell, static_cast<List*>(list_nth(plan->fdw_private, kPartOperands))) {
    ExprState* state = ExecInitExpr(static_cast<Expr*>(lfirst(cell)), &node->ss.ps);
    if (i < s->n_hints) s->hints = lappend(s->hints, state);
    else if (i < s->n_hints + s->n_bounds) s->bounds = lappend(s->bounds, state);
    else if (i < s->n_hints + s->n_bounds + n_bucket_operands) s->bucket_operands = lappend(s->bucket_operands, state);
    ++i;
  }
  s->values.kinds = static_cast<int*>(MemoryContextAllocZero(memory, sizeof(int) * (s->n_bounds + 1)));
  s->values.args = static_cast<double*>(MemoryContextAllocZero(memory, sizeof(double) * (s->n_bounds + 1)));
  List* series = static_cast<List*>(list_nth(plan->fdw_private, kPartSeries));
  if (series != NIL) {
    s->series_conditions = ExecInitQual(series, &node->ss.ps);
    s->conditions_on_metric = !ReadsOtherThanMetric(reinterpret_cast<Node*>(series), nullptr) &&
                              !contain_volatile_functions(reinterpret_cast<Node*>(series));
  }
  s->series_slot = ExecInitExtraTupleSlot(node->ss.ps.state, PointsDescriptor(), &TTSOpsVirtual);
  if (!s->aggregating) return;

  // The GROUP BY columns of metric and tags, evaluated per series.
  const int columns = list_length(plan->fdw_scan_tlist);
  s->group_typlen = static_cast<int16*>(MemoryContextAllocZero(memory, sizeof(int16) * (columns + 1)));
  s->group_typbyval = static_cast<bool*>(MemoryContextAllocZero(memory, sizeof(bool) * (columns + 1)));
  ListCell* kind_cell;
  forboth (cell, plan->fdw_scan_tlist, kind_cell, s->column_kinds) {
    if (lfirst_int(kind_cell) == kColBucket && s->bucket_kind != kBucketTimeBucket) {
      // Evaluated per point where the engine's arithmetic does not apply.
      s->bucket_expr = ExecInitExpr(lfirst_node(TargetEntry, cell)->expr, &node->ss.ps);
      s->bucket_context = node->ss.ps.ps_ExprContext;
      s->bucket_slot = ExecInitExtraTupleSlot(node->ss.ps.state, PointsDescriptor(), &TTSOpsVirtual);
      std::fill(s->bucket_slot->tts_isnull, s->bucket_slot->tts_isnull + kColumns, true);
      s->bucket_slot->tts_isnull[kTs - 1] = false;
      ExecStoreVirtualTuple(s->bucket_slot);
    }
    if (lfirst_int(kind_cell) != kColSeries) continue;
    Expr* expr = lfirst_node(TargetEntry, cell)->expr;
    s->group_states = lappend(s->group_states, ExecInitExpr(expr, &node->ss.ps));
    get_typlenbyval(exprType(reinterpret_cast<Node*>(expr)), &s->group_typlen[s->group_columns],
                    &s->group_typbyval[s->group_columns]);
    ++s->group_columns;
  }
  s->grouped = list_length(s->column_kinds) > 0 &&
               (s->group_columns > 0 || list_member_int(s->column_kinds, kColBucket));
  List* codes = static_cast<List*>(list_nth(plan->fdw_private, kPartAggregates));
  Guarded([&] {
    ListCell* code_cell;
    foreach (code_cell, codes) {
      const int code = lfirst_int(code_cell);
      s->aggregate_codes.push_back(code);
      s->summaries = s->summaries && FnOfCode(code).UsesSummaries();
    }
  });
}

TupleTableSlot* IterateScan(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  if (!s->aggregating && HasBufferedPoint(s)) {
    // Most rows: no boundary to set up, no read to make.
    StoreBufferedPoint(node, s);
    return node->ss.ss_ScanTupleSlot;
  }
  bool found = false;
  Guarded([&] { found = s->aggregating ? NextAggregate(node, s) : NextPoint(node, s); });
  if (!found) ExecClearTuple(node->ss.ss_ScanTupleSlot);
  return node->ss.ss_ScanTupleSlot;
}

void ReScan(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  Guarded([&] { EndSort(s); });
  MemoryContextReset(s->run_memory);
  Guarded([&] {
    s->started = false;
    s->empty = false;
    s->since = core::kTimestampMinusInfinity;
    s->until = core::kTimestampInfinity;
    s->series = nullptr;
    s->n_chosen = 0;
    s->next_series = 0;
    s->resume_since.reset();
    s->group = 1;
    s->points.clear();
    s->owners.clear();
    s->next_point = 0;
    s->bucketer.reset();
    s->bucket_null = false;
    s->has_bucket = false;
    s->from_shards = -1;
    s->bucket_memo.clear();
    s->windows_ready = false;
    s->window_series.clear();
    s->order.clear();
    s->group_of.clear();
    s->next_in_order = 0;
    s->sink.reset();
    s->out_values.clear();
    s->out_nulls.clear();
    s->out_rows = 0;
    s->next_out = 0;
    s->emitted = false;
  });
}

void EndScan(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  if (s != nullptr) Guarded([&] { EndSort(s); });
  if (s != nullptr) MemoryContextDelete(s->memory);  // its callback destroys s
  node->fdw_state = nullptr;
}

// For EXPLAIN ANALYZE: the blocks of the chosen series that no read
// fetched (outside the time range, or the windows a LIMIT left unread). One
// count of the series' blocks, made only here.
uint64_t BlocksPruned(ScanState* s) {
  if (!s->started || s->empty || s->n_chosen == 0) return 0;
  uint64_t total = 0;
  Guarded([&] {
    std::vector<int64_t> ids;
    for (size_t i = 0; i < s->n_chosen; ++i) ids.push_back(s->series[i].id);
    static SPIPlanPtr plan = nullptr;
    SpiConnect();
    PgCall([&] {
      Oid types[] = {INT8ARRAYOID};
      Datum args[] = {Int64Array(ids.data(), ids.size(), INT8OID)};
      RunPlan(&plan, "SELECT count(*) FROM aegis.blocks WHERE series_id = ANY($1)", 1, types, args, Snap::kReadOnly);
      bool isnull = false;
      total = static_cast<uint64_t>(DatumGetInt64(ResultValue(0, 1, &isnull)));
    });
    SpiFinish();
  });
  return total > s->stats.blocks ? total - s->stats.blocks : 0;
}

void ExplainScan(ForeignScanState* node, ExplainState* es) {
  ForeignScan* plan = castNode(ForeignScan, node->ss.ps.plan);
  List* shown = static_cast<List*>(list_nth(plan->fdw_private, kPartTexts));
  const Index relid = static_cast<Index>(intVal(list_nth(shown, 5)));
  const Oid table = static_cast<Oid>(intVal(list_nth(shown, 6)));
  const auto text_of = [](const char* s) { return s != nullptr ? s : ""; };
  const char* series_text = text_of(Deparse(static_cast<List*>(linitial(shown)), relid, table));
  const char* time_text = text_of(Deparse(static_cast<List*>(lsecond(shown)), relid, table));
  const char* group_text = text_of(DeparseList(static_cast<List*>(lthird(shown)), relid, table));
  const char* aggregate_text = text_of(DeparseList(static_cast<List*>(lfourth(shown)), relid, table));
  const int mode = list_nth_int(static_cast<List*>(list_nth(plan->fdw_private, kPartCounts)), 4);
  const bool aggregating = mode == kModeAggregate;
  if (aggregate_text[0] == '\0') aggregate_text = "none (groups only)";
  ExplainPropertyText("Series Conditions", series_text[0] != '\0' ? series_text : "none (every series)", es);
  ExplainPropertyText("Time Range", time_text[0] != '\0' ? time_text : "none (every point)", es);
  const int time_order = list_nth_int(static_cast<List*>(list_nth(plan->fdw_private, kPartCounts)), 6);
  if (time_order == kOrderNewestFirst)
    ExplainPropertyText("Order", "ts DESC (time windows read from the newest back)", es);
  if (time_order == kOrderOldestFirst)
    ExplainPropertyText("Order", "ts (one series as read, several sorted in the scan)", es);
  if (mode == kModeNewestPerSeries)
    ExplainPropertyText("Engine Distinct", "the newest point of each series (DISTINCT ON (metric, tags) ... ts DESC)", es);
  if (mode == kModeNewestPerSeriesByName)
    ExplainPropertyText("Engine Distinct",
                        "the newest point of each series (DISTINCT ON (metric, tags) ... ts DESC), in metric, tags order",
                        es);
  const char* value_text = text_of(Deparse(static_cast<List*>(list_nth(shown, 4)), relid, table));
  if (value_text[0] != '\0') ExplainPropertyText("Value Conditions", value_text, es);
  if (aggregating) {
    ExplainPropertyText("Engine Group Keys", group_text[0] != '\0' ? group_text : "none (one row)", es);
    ExplainPropertyText("Engine Aggregates", aggregate_text, es);
  }
  auto* s = static_cast<ScanState*>(node->fdw_state);
  if (es->analyze && s != nullptr) {
    ExplainPropertyInteger("Catalog Rows", nullptr, static_cast<int64>(s->candidates), es);
    ExplainPropertyInteger("Series", nullptr, static_cast<int64>(s->n_chosen), es);
    ExplainPropertyInteger("Series Reads", nullptr, static_cast<int64>(s->reads), es);
    if (s->shard_reads > 0)  // on a distributed database: per-bucket summaries made on the shards
      ExplainPropertyInteger("Series Reads Summarised On Shards", nullptr, static_cast<int64>(s->shard_reads), es);
    ExplainPropertyInteger("Blocks Read", nullptr, static_cast<int64>(s->stats.blocks), es);
    // (Blocks the shards summarised are neither read here nor pruned.)
    if (s->shard_reads == 0)
      ExplainPropertyInteger("Blocks Pruned", nullptr, static_cast<int64>(BlocksPruned(s)), es);
    ExplainPropertyInteger("Blocks Decoded", nullptr, static_cast<int64>(s->stats.blocks_decoded), es);
    if (aggregating || s->values.n > 0) {
      ExplainPropertyInteger("Blocks From Summaries", nullptr, static_cast<int64>(s->stats.blocks_summarized), es);
      ExplainPropertyInteger("Blocks From Segment Summaries", nullptr,
                             static_cast<int64>(s->stats.blocks_segmented), es);
    }
    ExplainPropertyInteger("Recent Rows", nullptr, static_cast<int64>(s->stats.recent_rows), es);
    if (s->bucket_calls > 0)
      ExplainPropertyInteger("Bucket Expression Calls", nullptr, static_cast<int64>(s->bucket_calls), es);
  }
}

// ---------------------------------------------------------------------------
// INSERT, COPY FROM and DELETE.

void AddUpdateTargets(PlannerInfo* root, Index rtindex, RangeTblEntry* target_rte, Relation /*target*/) {
  // A row is identified by its metric, tags and ts: the whole row.
  Var* var = makeWholeRowVar(target_rte, rtindex, 0, false);
  add_row_identity_var(root, var, rtindex, "wholerow");
}

List* PlanModify(PlannerInfo* /*root*/, ModifyTable* /*plan*/, Index /*rti*/, int /*subplan_index*/) { return NIL; }

// The modify state: the operation, and for DELETE where the scan's whole row
// is among the subplan's columns.
struct ModifyState {
  CmdType operation;
  AttrNumber wholerow = InvalidAttrNumber;
};

void BeginModify(ModifyTableState* mtstate, ResultRelInfo* rinfo, List* /*priv*/, int /*subplan_index*/,
                 int eflags) {
  CheckPointsShape(rinfo->ri_RelationDesc);
  auto* m = static_cast<ModifyState*>(palloc0(sizeof(ModifyState)));
  m->operation = mtstate->operation;
  if (m->operation == CMD_DELETE && !(eflags & EXEC_FLAG_EXPLAIN_ONLY)) {
    Plan* subplan = outerPlanState(mtstate)->plan;
    m->wholerow = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
    if (!AttributeNumberIsValid(m->wholerow)) elog(ERROR, "aegis: the DELETE's scan has no whole-row column");
  }
  rinfo->ri_FdwState = m;
}

// The row's memory (its detoasted tags) goes with the row: the executor
// resets the per-tuple context for each one.
TupleTableSlot* Insert(EState* estate, ResultRelInfo* /*rinfo*/, TupleTableSlot* slot, TupleTableSlot* /*plan*/) {
  slot_getallattrs(slot);
  MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
  Guarded([&] { AppendPointRow(slot->tts_values, slot->tts_isnull); });
  MemoryContextSwitchTo(old);
  return slot;
}

TupleTableSlot* Delete(EState* estate, ResultRelInfo* rinfo, TupleTableSlot* slot, TupleTableSlot* plan_slot) {
  auto* m = static_cast<ModifyState*>(rinfo->ri_FdwState);
  bool isnull = false;
  Datum row = ExecGetJunkAttribute(plan_slot, m->wholerow, &isnull);
  if (isnull) return nullptr;
  HeapTupleHeader header = DatumGetHeapTupleHeader(row);
  HeapTupleData tuple;
  tuple.t_len = HeapTupleHeaderGetDatumLength(header);
  ItemPointerSetInvalid(&tuple.t_self);
  tuple.t_tableOid = InvalidOid;
  tuple.t_data = header;
  ExecClearTuple(slot);
  heap_deform_tuple(&tuple, RelationGetDescr(rinfo->ri_RelationDesc), slot->tts_values, slot->tts_isnull);
  ExecStoreVirtualTuple(slot);
  bool removed = false;
  MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
  Guarded([&] { removed = DeletePointRow(slot->tts_values, slot->tts_isnull); });
  MemoryContextSwitchTo(old);
  return removed ? slot : nullptr;
}

void EndModify(EState* /*estate*/, ResultRelInfo* rinfo) {
  auto* m = static_cast<ModifyState*>(rinfo->ri_FdwState);
  if (m != nullptr && m->operation == CMD_INSERT) Guarded([] { FlushPoints(); });
}

void BeginInsert(ModifyTableState* /*mtstate*/, ResultRelInfo* rinfo) {
  CheckPointsShape(rinfo->ri_RelationDesc);
  auto* m = static_cast<ModifyState*>(palloc0(sizeof(ModifyState)));
  m->operation = CMD_INSERT;
  rinfo->ri_FdwState = m;
}

void EndInsert(EState* estate, ResultRelInfo* rinfo) { EndModify(estate, rinfo); }

// DELETE whose every condition went to the engine (series and time, no
// value or other condition, no RETURNING) is done by the engine as
// aegis.delete does it: each chosen series' points in [since, until) go at
// once, each block rewritten once, instead of once per deleted point.
bool PlanDirect(PlannerInfo* /*root*/, ModifyTable* plan, Index result_relation, int /*subplan_index*/) {
  if (plan->operation != CMD_DELETE || plan->returningLists != NIL) return false;
  Plan* subplan = outerPlan(plan);
  if (subplan == nullptr || !IsA(subplan, ForeignScan)) return false;
  ForeignScan* scan = castNode(ForeignScan, subplan);
  if (scan->scan.scanrelid != result_relation || scan->scan.plan.qual != NIL) return false;
  List* counts = static_cast<List*>(list_nth(scan->fdw_private, kPartCounts));
  if (list_nth_int(counts, 4) != 0) return false;  // aggregating
  ListCell* cell;
  foreach (cell, static_cast<List*>(list_nth(scan->fdw_private, kPartBoundKinds)))
    if (IsValueKind(lfirst_int(cell))) return false;  // a point-by-point condition
  scan->operation = CMD_DELETE;
  scan->resultRelation = result_relation;
  // Whether the deleted points count for the statement's tag (not in a CTE).
  scan->fdw_private = lappend(list_copy(scan->fdw_private), makeInteger(plan->canSetTag ? 1 : 0));
  return true;
}

void BeginDirect(ForeignScanState* node, int eflags) { BeginScan(node, eflags); }

// Deletes the chosen series' points in the range; C++ code.
uint64 DeleteChosen(ForeignScanState* node, ScanState* s) {
  StartScan(node, s);
  if (s->empty || s->n_chosen == 0) return 0;
  std::vector<int64_t> ids;
  for (size_t i = 0; i < s->n_chosen; ++i) ids.push_back(s->series[i].id);
  int64_t removed = 0;
  SpiConnect();
  {
    const bool may_wait = !HoldsSeriesLocks();
    DrainPackedOrFail(ids, may_wait);
    AsTableOwner owner;
    for (int64_t id : ids) {  // ascending: the catalog query orders by series_id
      if (LockSeriesIfExists(id, SeriesLock::kRewrite, may_wait)) removed += DeletePointsOfSeries(id, s->since, s->until);
      CheckForInterrupts();
    }
  }
  SpiFinish();
  return static_cast<uint64>(removed);
}

TupleTableSlot* IterateDirect(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  if (!s->started) {
    uint64 removed = 0;
    Guarded([&] { removed = DeleteChosen(node, s); });
    List* priv = castNode(ForeignScan, node->ss.ps.plan)->fdw_private;
    if (intVal(list_nth(priv, kPartCount)) != 0) node->ss.ps.state->es_processed += removed;
  }
  return ExecClearTuple(node->ss.ss_ScanTupleSlot);
}

void EndDirect(ForeignScanState* node) { EndScan(node); }

void ExplainDirect(ForeignScanState* node, ExplainState* es) {
  ExplainScan(node, es);
  ExplainPropertyText("Engine Delete", "every point of the chosen series in the time range, as aegis.delete", es);
}

int IsUpdatable(Relation /*rel*/) { return (1 << CMD_INSERT) | (1 << CMD_DELETE); }

}  // namespace

bool IsPointsRoutine(const FdwRoutine* routine) {
  return routine != nullptr && routine->GetForeignUpperPaths == GetUpperPaths;
}

}  // namespace aegis::pg

extern "C" {
PG_FUNCTION_INFO_V1(aegis_points_fdw_handler);
Datum aegis_points_fdw_handler(PG_FUNCTION_ARGS);
}

// The wrapper's callbacks.
Datum aegis_points_fdw_handler(PG_FUNCTION_ARGS) {
  (void)fcinfo;
  FdwRoutine* routine = makeNode(FdwRoutine);
  routine->GetForeignRelSize = aegis::pg::GetRelSize;
  routine->GetForeignPaths = aegis::pg::GetPaths;
  routine->GetForeignPlan = aegis::pg::GetPlan;
  routine->BeginForeignScan = aegis::pg::BeginScan;
  routine->IterateForeignScan = aegis::pg::IterateScan;
  routine->ReScanForeignScan = aegis::pg::ReScan;
  routine->EndForeignScan = aegis::pg::EndScan;
  routine->ExplainForeignScan = aegis::pg::ExplainScan;
  routine->GetForeignUpperPaths = aegis::pg::GetUpperPaths;
  routine->AddForeignUpdateTargets = aegis::pg::AddUpdateTargets;
  routine->PlanForeignModify = aegis::pg::PlanModify;
  routine->BeginForeignModify = aegis::pg::BeginModify;
  routine->ExecForeignInsert = aegis::pg::Insert;
  routine->ExecForeignDelete = aegis::pg::Delete;
  routine->EndForeignModify = aegis::pg::EndModify;
  routine->BeginForeignInsert = aegis::pg::BeginInsert;
  routine->EndForeignInsert = aegis::pg::EndInsert;
  routine->IsForeignRelUpdatable = aegis::pg::IsUpdatable;
  routine->PlanDirectModify = aegis::pg::PlanDirect;
  routine->BeginDirectModify = aegis::pg::BeginDirect;
  routine->IterateDirectModify = aegis::pg::IterateDirect;
  routine->EndDirectModify = aegis::pg::EndDirect;
  routine->ExplainDirectModify = aegis::pg::ExplainDirect;
  PG_RETURN_POINTER(routine);
}
