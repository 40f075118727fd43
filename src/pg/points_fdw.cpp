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
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/series_points.h"

#include "pg/arguments.h"
#include "pg/boundary.h"
#include "pg/privileges.h"
#include "pg/series_data.h"
#include "pg/spi.h"
#include "pg/store.h"
#include "pg/write.h"

extern "C" {
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "rewrite/rewriteManip.h"
#include "catalog/pg_collation_d.h"
#include "optimizer/appendinfo.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/ruleutils.h"
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
};

// The conditions of a scan, sorted (from the relation's restriction clauses).
struct Conditions {
  List* series = NIL;     // Expr: series conditions
  List* hints = NIL;      // Expr: operands that narrow the catalog query
  List* hint_kinds = NIL; // int: their ExprKind
  List* hint_keys = NIL;  // String: the tag key of a kTagIs hint, "" otherwise
  List* bounds = NIL;     // Expr: the other side of a time bound
  List* bound_kinds = NIL;
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

// A time bound: ts <op> x or x <op> ts, op one of timestamptz's comparisons.
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
    default: return false;
  }
  Node* left = static_cast<Node*>(linitial(op->args));
  Node* right = static_cast<Node*>(lsecond(op->args));
  if (IsColumn(right, relid, kTs) && IsRunConstant(left)) {
    // x < ts is ts > x.
    static const ExprKind mirrored[] = {kSeriesCondition, kMetricIs, kMetricIn, kTagIs, kTagsContain,
                                        kTsAtMost, kTsBefore, kTsAfter, kTsAtLeast, kTsIs};
    kind = mirrored[kind];
    std::swap(left, right);
  }
  if (!IsColumn(left, relid, kTs) || !IsRunConstant(right)) return false;
  c->bounds = lappend(c->bounds, right);
  c->bound_kinds = lappend_int(c->bound_kinds, kind);
  return true;
}

Conditions Classify(List* restrictinfos, Index relid) {
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
    if (safe && !bms_is_empty(columns) && bms_is_subset(columns, series_columns)) {
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

void GetRelSize(PlannerInfo* /*root*/, RelOptInfo* baserel, Oid /*table*/) {
  const Conditions c = Classify(baserel->baserestrictinfo, baserel->relid);
  // No statistics: a guess that ranks a narrowed scan below a full one.
  double rows = 1e6;
  if (c.hints != NIL) rows /= 100;
  if (c.bounds != NIL) rows /= 10;
  baserel->rows = rows;
  baserel->tuples = 1e6;
}

void GetPaths(PlannerInfo* root, RelOptInfo* baserel, Oid /*table*/) {
  const Cost startup = 10;
  const Cost total = startup + baserel->rows * (cpu_tuple_cost + 0.001);
  add_path(baserel, reinterpret_cast<Path*>(create_foreignscan_path(root, baserel, nullptr, baserel->rows, startup,
                                                                    total, NIL, nullptr, nullptr, NIL)));
}

// fdw_exprs: the series conditions, the hints, then the bounds.
// fdw_private: (counts: series, hints, bounds), hint kinds, hint keys, bound
// kinds, then the EXPLAIN texts of the series conditions and the time bounds
// (NULL when none).
ForeignScan* GetPlan(PlannerInfo* /*root*/, RelOptInfo* baserel, Oid table, ForeignPath* /*path*/, List* tlist,
                     List* scan_clauses, Plan* outer_plan) {
  const Conditions c = Classify(scan_clauses, baserel->relid);
  List* local = extract_actual_clauses(c.local, false);
  List* exprs = list_concat(list_concat(list_copy(c.series), c.hints), c.bounds);
  List* time_clauses = NIL;
  ListCell* cell;
  foreach (cell, c.pushed) {
    Expr* clause = lfirst_node(RestrictInfo, cell)->clause;
    if (!list_member_ptr(c.series, clause)) time_clauses = lappend(time_clauses, clause);
  }
  char* series_text = Deparse(c.series, baserel->relid, table);
  char* time_text = Deparse(time_clauses, baserel->relid, table);
  List* counts = list_make3_int(list_length(c.series), list_length(c.hints), list_length(c.bounds));
  List* priv = list_make5(counts, c.hint_kinds, c.hint_keys, c.bound_kinds,
                          list_make2(makeString(series_text != nullptr ? series_text : pstrdup("")),
                                     makeString(time_text != nullptr ? time_text : pstrdup(""))));
  return make_foreignscan(tlist, local, baserel->relid, exprs, priv, NIL, NIL, outer_plan);
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

// Collects the points SeriesData folds in (every block decoded).
class PointSink {
 public:
  void BeginSeries() {}
  void AddSeriesPoints(const core::Timestamp* ts, const double* values, size_t n) {
    points_->ts.insert(points_->ts.end(), ts, ts + n);
    points_->values.insert(points_->values.end(), values, values + n);
    owners_->insert(owners_->end(), n, current_);
  }
  bool TryAddBlockSummary(const core::BlockSummary&) { return false; }
  core::Timestamp WidestSummary() const { return 0; }
  void AddStep(const core::StepSummary&) {}

  core::SeriesPoints* points_ = nullptr;
  std::vector<uint32_t>* owners_ = nullptr;
  uint32_t current_ = 0;
};

// A buffer this size (points) is enough: the next group of series is not
// made larger.
constexpr size_t kBufferTarget = 65536;

// The state of one scan. Lives in the scan's memory context, whose reset
// callback destroys it (also when the query fails), so it may hold only
// memory: no PostgreSQL resource is open between calls.
struct ScanState {
  // Planned.
  int n_series = 0, n_hints = 0, n_bounds = 0;
  List* hint_kinds = NIL;
  List* hint_keys = NIL;
  List* bound_kinds = NIL;
  ExprState* series_conditions = nullptr;  // all of them, ANDed
  List* hints = NIL;                       // ExprState
  List* bounds = NIL;                      // ExprState
  const char* series_text = "";
  const char* time_text = "";
  MemoryContext memory = nullptr;

  // Run.
  bool started = false;
  bool empty = false;  // a condition can hold for no row
  core::Timestamp since = core::kTimestampMinusInfinity;
  core::Timestamp until = core::kTimestampInfinity;
  ChosenSeries* series = nullptr;  // palloc'd in memory
  size_t n_chosen = 0;
  size_t next_series = 0;  // the first series not read yet
  size_t group = 1;        // series per read
  core::SeriesPoints points;
  std::vector<uint32_t> owners;  // index into series of each point
  size_t next_point = 0;

  // EXPLAIN ANALYZE.
  uint64_t candidates = 0;  // catalog rows the narrowed query returned
  uint64_t reads = 0;       // groups read
  ReadStats stats;
};

void DestroyScanState(void* arg) { static_cast<ScanState*>(arg)->~ScanState(); }

// Evaluates the time bounds into [since, until); false when they exclude
// every row.
bool EvaluateBounds(ScanState* s, ExprContext* econtext) {
  ListCell* kind_cell = list_head(s->bound_kinds);
  ListCell* cell;
  foreach (cell, s->bounds) {
    ExprState* state = static_cast<ExprState*>(lfirst(cell));
    const int kind = lfirst_int(kind_cell);
    kind_cell = lnext(s->bound_kinds, kind_cell);
    bool isnull = false;
    const Datum value = ExecEvalExprSwitchContext(state, econtext, &isnull);
    if (isnull) return false;
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

SPIPlanPtr catalog_plans[4] = {nullptr, nullptr, nullptr, nullptr};

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
  static const char* const sql[4] = {
      "SELECT series_id, metric, tags FROM aegis.series ORDER BY series_id",
      "SELECT series_id, metric, tags FROM aegis.series WHERE metric = ANY ($1) ORDER BY series_id",
      "SELECT series_id, metric, tags FROM aegis.series WHERE tags @> $2 ORDER BY series_id",
      ("SELECT series_id, metric, tags FROM aegis.series WHERE metric = ANY ($1) AND tags @> $2"
       " ORDER BY series_id")};
  static const Oid types[] = {TEXTARRAYOID, JSONBOID};
  const int variant = (f.any_metric ? 0 : 1) + (by_tags ? 2 : 0);
  Datum values[] = {f.any_metric ? 0 : f.metrics, by_tags ? contains : 0};
  const char nulls[] = {f.any_metric ? 'n' : ' ', by_tags ? ' ' : 'n'};
  SPIPlanPtr plan = KeptPlan(&catalog_plans[variant], sql[variant], 2, types);
  const int code = SPI_execute_plan(plan, values, nulls, true, 0);
  if (code != SPI_OK_SELECT) elog(ERROR, "aegis: catalog query of the points scan failed: %s",
                                  SPI_result_code_string(code));
  s->candidates += SPI_processed;
  MemoryContext old = MemoryContextSwitchTo(s->memory);
  s->series = static_cast<ChosenSeries*>(palloc(sizeof(ChosenSeries) * (SPI_processed + 1)));
  s->n_chosen = 0;
  for (uint64 row = 0; row < SPI_processed; ++row) {
    bool isnull[3];
    Datum id = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull[0]);
    Datum metric = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull[1]);
    Datum tags = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 3, &isnull[2]);
    if (s->series_conditions != nullptr) {
      ExecClearTuple(slot);
      std::fill(slot->tts_isnull, slot->tts_isnull + kColumns, true);
      slot->tts_values[kMetric - 1] = metric;
      slot->tts_isnull[kMetric - 1] = false;
      slot->tts_values[kTags - 1] = tags;
      slot->tts_isnull[kTags - 1] = false;
      ExecStoreVirtualTuple(slot);
      econtext->ecxt_scantuple = slot;
      const bool keep = ExecQual(s->series_conditions, econtext);
      ResetExprContext(econtext);
      if (!keep) continue;
    }
    s->series[s->n_chosen++] = {DatumGetInt64(id), datumCopy(metric, false, -1), datumCopy(tags, false, -1)};
  }
  MemoryContextSwitchTo(old);
  SPI_freetuptable(SPI_tuptable);
}

// Starts the scan: bounds, then the series (C++ code; PostgreSQL calls
// inside PgCall).
void StartScan(ForeignScanState* node, ScanState* s) {
  s->started = true;
  ExprContext* econtext = node->ss.ps.ps_ExprContext;
  CatalogFilter filter;
  const bool possible = PgCall([&] {
    MemoryContext old = MemoryContextSwitchTo(s->memory);
    const bool ok = EvaluateBounds(s, econtext) && EvaluateHints(s, econtext, &filter);
    MemoryContextSwitchTo(old);
    return ok;
  });
  if (!possible) {
    s->empty = true;
    return;
  }
  PgCall([] { RequireSeriesSelect(); });
  SpiConnect();
  PgCall([&] { ChooseSeries(s, econtext, node->ss.ss_ScanTupleSlot, filter); });
  SpiFinish();
}

// Reads the next group of series into the buffer.
void ReadGroup(ScanState* s) {
  s->points.clear();
  s->owners.clear();
  s->next_point = 0;
  const size_t end = std::min(s->n_chosen, s->next_series + s->group);
  std::vector<int64_t> ids;
  for (size_t i = s->next_series; i < end; ++i) ids.push_back(s->series[i].id);
  PointSink sink;
  sink.points_ = &s->points;
  sink.owners_ = &s->owners;
  SpiConnect();
  {
    SeriesData data(ids, s->since, s->until, 0, false, false, {}, &s->stats);
    for (size_t i = s->next_series; i < end; ++i) {
      sink.current_ = static_cast<uint32_t>(i);
      data.Fold(s->series[i].id, s->since, s->until, &sink);
    }
  }
  SpiFinish();
  ++s->reads;
  s->next_series = end;
  if (s->points.size() < kBufferTarget) s->group = std::min(s->group * 2, kSeriesPerFetch);
}

// The next row into the slot; false at the end.
bool NextRow(ForeignScanState* node, ScanState* s) {
  if (!s->started) StartScan(node, s);
  if (s->empty) return false;
  while (s->next_point == s->points.size()) {
    if (s->next_series == s->n_chosen) return false;
    ReadGroup(s);
    CheckForInterrupts();
  }
  TupleTableSlot* slot = node->ss.ss_ScanTupleSlot;
  const size_t i = s->next_point++;
  const ChosenSeries& series = s->series[s->owners[i]];
  PgCall([&] { ExecClearTuple(slot); });
  slot->tts_values[kMetric - 1] = series.metric;
  slot->tts_values[kTags - 1] = series.tags;
  slot->tts_values[kTs - 1] = TimestampTzGetDatum(s->points.ts[i]);
  slot->tts_values[kValue - 1] = Float8GetDatum(s->points.values[i]);
  std::fill(slot->tts_isnull, slot->tts_isnull + kColumns, false);
  PgCall([&] { ExecStoreVirtualTuple(slot); });
  return true;
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
  node->fdw_state = s;

  List* counts = static_cast<List*>(linitial(plan->fdw_private));
  s->n_series = linitial_int(counts);
  s->n_hints = lsecond_int(counts);
  s->n_bounds = lthird_int(counts);
  s->hint_kinds = static_cast<List*>(lsecond(plan->fdw_private));
  s->hint_keys = static_cast<List*>(lthird(plan->fdw_private));
  s->bound_kinds = static_cast<List*>(lfourth(plan->fdw_private));
  List* texts = static_cast<List*>(list_nth(plan->fdw_private, 4));
  s->series_text = strVal(linitial(texts));
  s->time_text = strVal(lsecond(texts));
  if (eflags & EXEC_FLAG_EXPLAIN_ONLY) return;

  List* series = NIL;
  int i = 0;
  ListCell* cell;
  foreach (cell, plan->fdw_exprs) {
    Expr* expr = static_cast<Expr*>(lfirst(cell));
    if (i < s->n_series) {
      series = lappend(series, expr);
    } else {
      ExprState* state = ExecInitExpr(expr, &node->ss.ps);
      if (i < s->n_series + s->n_hints) s->hints = lappend(s->hints, state);
      else s->bounds = lappend(s->bounds, state);
    }
    ++i;
  }
  if (series != NIL) s->series_conditions = ExecInitQual(series, &node->ss.ps);
}

TupleTableSlot* IterateScan(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  bool found = false;
  Guarded([&] { found = NextRow(node, s); });
  if (!found) ExecClearTuple(node->ss.ss_ScanTupleSlot);
  return node->ss.ss_ScanTupleSlot;
}

void ReScan(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  Guarded([&] {
    s->started = false;
    s->empty = false;
    s->since = core::kTimestampMinusInfinity;
    s->until = core::kTimestampInfinity;
    s->series = nullptr;
    s->n_chosen = 0;
    s->next_series = 0;
    s->group = 1;
    s->points.clear();
    s->owners.clear();
    s->next_point = 0;
  });
}

void EndScan(ForeignScanState* node) {
  auto* s = static_cast<ScanState*>(node->fdw_state);
  if (s != nullptr) MemoryContextDelete(s->memory);  // its callback destroys s
  node->fdw_state = nullptr;
}

void ExplainScan(ForeignScanState* node, ExplainState* es) {
  ForeignScan* plan = castNode(ForeignScan, node->ss.ps.plan);
  List* texts = static_cast<List*>(list_nth(plan->fdw_private, 4));
  const char* series_text = strVal(linitial(texts));
  const char* time_text = strVal(lsecond(texts));
  ExplainPropertyText("Series Conditions", series_text[0] != '\0' ? series_text : "none (every series)", es);
  ExplainPropertyText("Time Range", time_text[0] != '\0' ? time_text : "none (every point)", es);
  auto* s = static_cast<ScanState*>(node->fdw_state);
  if (es->analyze && s != nullptr) {
    ExplainPropertyInteger("Catalog Rows", nullptr, static_cast<int64>(s->candidates), es);
    ExplainPropertyInteger("Series", nullptr, static_cast<int64>(s->n_chosen), es);
    ExplainPropertyInteger("Series Reads", nullptr, static_cast<int64>(s->reads), es);
    ExplainPropertyInteger("Blocks Read", nullptr, static_cast<int64>(s->stats.blocks), es);
    ExplainPropertyInteger("Blocks Decoded", nullptr, static_cast<int64>(s->stats.blocks_decoded), es);
    ExplainPropertyInteger("Recent Rows", nullptr, static_cast<int64>(s->stats.recent_rows), es);
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
  auto* m = static_cast<ModifyState*>(palloc0(sizeof(ModifyState)));
  m->operation = mtstate->operation;
  if (m->operation == CMD_DELETE && !(eflags & EXEC_FLAG_EXPLAIN_ONLY)) {
    Plan* subplan = outerPlanState(mtstate)->plan;
    m->wholerow = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
    if (!AttributeNumberIsValid(m->wholerow)) elog(ERROR, "aegis: the DELETE's scan has no whole-row column");
  }
  rinfo->ri_FdwState = m;
}

TupleTableSlot* Insert(EState* /*estate*/, ResultRelInfo* /*rinfo*/, TupleTableSlot* slot, TupleTableSlot* /*plan*/) {
  slot_getallattrs(slot);
  Guarded([&] { AppendPointRow(slot->tts_values, slot->tts_isnull); });
  return slot;
}

TupleTableSlot* Delete(EState* /*estate*/, ResultRelInfo* rinfo, TupleTableSlot* slot, TupleTableSlot* plan_slot) {
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
  Guarded([&] { removed = DeletePointRow(slot->tts_values, slot->tts_isnull); });
  return removed ? slot : nullptr;
}

void EndModify(EState* /*estate*/, ResultRelInfo* rinfo) {
  auto* m = static_cast<ModifyState*>(rinfo->ri_FdwState);
  if (m != nullptr && m->operation == CMD_INSERT) Guarded([] { FlushPoints(); });
}

void BeginInsert(ModifyTableState* /*mtstate*/, ResultRelInfo* rinfo) {
  auto* m = static_cast<ModifyState*>(palloc0(sizeof(ModifyState)));
  m->operation = CMD_INSERT;
  rinfo->ri_FdwState = m;
}

void EndInsert(EState* estate, ResultRelInfo* rinfo) { EndModify(estate, rinfo); }

int IsUpdatable(Relation /*rel*/) { return (1 << CMD_INSERT) | (1 << CMD_DELETE); }

}  // namespace

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
  routine->AddForeignUpdateTargets = aegis::pg::AddUpdateTargets;
  routine->PlanForeignModify = aegis::pg::PlanModify;
  routine->BeginForeignModify = aegis::pg::BeginModify;
  routine->ExecForeignInsert = aegis::pg::Insert;
  routine->ExecForeignDelete = aegis::pg::Delete;
  routine->EndForeignModify = aegis::pg::EndModify;
  routine->BeginForeignInsert = aegis::pg::BeginInsert;
  routine->EndForeignInsert = aegis::pg::EndInsert;
  routine->IsForeignRelUpdatable = aegis::pg::IsUpdatable;
  PG_RETURN_POINTER(routine);
}
