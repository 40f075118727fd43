// Selector -> SQL over aegis.series, and aegis.find_series().
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/names.h"
#include "core/selector.h"

#include "pg/boundary.h"
#include "pg/series_query.h"
#include "pg/series_scan.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/pg_collation.h"
#include "commands/explain.h"
#include "nodes/params.h"
#include "regex/regex.h"
#include "utils/plancache.h"
}

namespace aegis::pg {

namespace {

// Appends s as a JSON string literal.
void AppendJsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(hex[c >> 4]);
          out->push_back(hex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Query parameters: text values (or one jsonb/text[] value), in $n order.
struct QueryParameters {
  std::vector<std::string> texts;
  std::vector<Oid> types;
  std::vector<Datum> datums;  // non-text parameters, by index (0 for text)

  // Adds a text parameter and returns its "$n".
  std::string AddText(std::string value, Oid type = TEXTOID) {
    texts.push_back(std::move(value));
    types.push_back(type);
    datums.push_back(0);
    return "$" + std::to_string(texts.size());
  }
  // Adds a ready Datum parameter of the given type and returns its "$n".
  std::string AddDatum(Datum value, Oid type) {
    texts.emplace_back();
    types.push_back(type);
    datums.push_back(value);
    return "$" + std::to_string(texts.size());
  }
};

// The regex as the selector means it: anchored at both ends.
std::string AnchoredRegex(const std::string& re) { return "^(?:" + re + ")$"; }

// Compiles a regex with PostgreSQL's flavour, raising 2201B that names the
// matcher's position when it is invalid.
void CheckRegex(const core::Matcher& m) {
  std::string anchored = AnchoredRegex(m.value);
  bool back_reference = false;
  try {
    PgCall([&] {
      text* re = cstring_to_text_with_len(anchored.data(), static_cast<int>(anchored.size()));
      back_reference = (RE_compile_and_cache(re, REG_ADVANCED, DEFAULT_COLLATION_OID)->re_info & REG_UBACKREF) != 0;
    });
  } catch (const PgError& e) {
    // Only a bad regex is the selector's fault; a cancel or out-of-memory
    // keeps its own SQLSTATE.
    if (e.data()->sqlerrcode != ERRCODE_INVALID_REGULAR_EXPRESSION) throw;
    throw core::Error(core::ErrorCategory::InvalidRegex,
                      "invalid regular expression in selector at character " + std::to_string(m.position),
                      std::string(e.what()) + " in " + core::QuoteForMessage(m.label) + core::MatchOpText(m.op) +
                          core::QuoteForMessage(m.value));
  }
  // Matching a back-reference can take exponential time (PostgreSQL's
  // engine backtracks for them, and checks for cancel only between rows);
  // Prometheus' RE2 syntax has none.
  if (back_reference)
    throw core::Error(core::ErrorCategory::InvalidRegex,
                      "invalid regular expression in selector at character " + std::to_string(m.position),
                      "Back-references are not supported in selectors: " + core::QuoteForMessage(m.label) +
                          core::MatchOpText(m.op) + core::QuoteForMessage(m.value),
                      "Selectors use Prometheus (RE2) regular expressions, which have no back-references.");
}

// Checks that a label or value of the selector (escapes such as \x00 or
// \xff give raw bytes) is text in the server encoding without NUL bytes:
// otherwise the selector is malformed (42601) at the matcher's position.
void CheckMatcherText(const std::string& text, const core::Matcher& m, const char* what) {
  if (pg_verify_mbstr(GetDatabaseEncoding(), text.data(), static_cast<int>(text.size()), true)) return;
  throw core::Error(core::ErrorCategory::Syntax, "syntax error in selector at character " + std::to_string(m.position),
                    std::string("The ") + what + " of the matcher holds a NUL byte or a byte sequence that is not " +
                        "valid " + GetDatabaseEncodingName() + ".");
}

// A text[] Datum of texts (in the current memory context).
Datum TextArray(const std::vector<std::string>& texts) {
  return PgCall([&] {
    Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (texts.size() + 1)));
    for (size_t i = 0; i < texts.size(); ++i)
      elements[i] = PointerGetDatum(cstring_to_text_with_len(texts[i].data(), static_cast<int>(texts[i].size())));
    return PointerGetDatum(construct_array(elements, static_cast<int>(texts.size()), TEXTOID, -1, false, TYPALIGN_INT));
  });
}

// The SQL condition that value_expr matches a regex matcher: set membership
// when the regex is an alternation of literal texts, a prefix test when it
// is a literal text followed by ".*", else the regex.
std::string RegexCondition(const std::string& value_expr, const core::Matcher& m, QueryParameters* params) {
  const bool match = m.op == core::MatchOp::kRegexMatch;
  std::vector<std::string> texts;
  if (core::LiteralAlternatives(m.value, &texts))
    return value_expr + (match ? " = ANY (" : " <> ALL (") + params->AddDatum(TextArray(texts), TEXTARRAYOID) + ")";
  std::string prefix;
  if (core::LiteralPrefix(m.value, &prefix))
    return std::string(match ? "" : "NOT ") + "starts_with(" + value_expr + ", " + params->AddText(prefix) + ")";
  return value_expr + (match ? " ~ " : " !~ ") + params->AddText(AnchoredRegex(m.value));
}

// The one-tag JSON objects {label: text} of texts.
std::vector<std::string> ContainmentObjects(const std::string& label, const std::vector<std::string>& texts) {
  std::vector<std::string> objects;
  for (const std::string& t : texts) {
    std::string object = "{";
    AppendJsonString(&object, label);
    object.push_back(':');
    AppendJsonString(&object, t);
    object.push_back('}');
    objects.push_back(std::move(object));
  }
  return objects;
}

// Whether a regex matcher's literal alternatives (texts) can be asked as
// containment of any of them: none is empty (a missing tag matches the
// empty one). Tag values are strings, so the two conditions agree.
bool AlternativesContained(const std::vector<std::string>& texts) {
  return !texts.empty() && std::none_of(texts.begin(), texts.end(), [](const std::string& t) { return t.empty(); });
}

// A jsonb[] Datum of the one-tag objects {label: text} of texts (in the
// current memory context).
Datum ContainmentArray(const std::string& label, const std::vector<std::string>& texts) {
  const std::vector<std::string> objects = ContainmentObjects(label, texts);
  return PgCall([&] {
    Datum* elements = static_cast<Datum*>(palloc(sizeof(Datum) * (objects.size() + 1)));
    for (size_t i = 0; i < objects.size(); ++i)
      elements[i] = DirectFunctionCall1(jsonb_in, CStringGetDatum(objects[i].c_str()));
    return PointerGetDatum(
        construct_array(elements, static_cast<int>(objects.size()), JSONBOID, -1, false, TYPALIGN_INT));
  });
}

// The SQL condition for one tag matcher. A missing tag compares as the empty
// string, as in Prometheus.
std::string TagCondition(const core::Matcher& m, QueryParameters* params) {
  const std::string value_expr = "coalesce(s.tags ->> " + params->AddText(m.label) + ", '')";
  switch (m.op) {
    case core::MatchOp::kEqual: return value_expr + " = " + params->AddText(m.value);
    case core::MatchOp::kNotEqual: return value_expr + " <> " + params->AddText(m.value);
    case core::MatchOp::kRegexMatch: {
      // Literal alternatives none of which is empty (a missing tag matches
      // the empty one) also as containment of any of them, which the GIN
      // index on tags answers (one scan per alternative, OR-ed in a bitmap);
      // tag values are strings, so the two conditions agree.
      std::vector<std::string> texts;
      if (core::LiteralAlternatives(m.value, &texts) && AlternativesContained(texts))
        return "s.tags @> ANY (" + params->AddDatum(ContainmentArray(m.label, texts), JSONBARRAYOID) + ") AND " +
               RegexCondition(value_expr, m, params);
      return RegexCondition(value_expr, m, params);
    }
    case core::MatchOp::kRegexNoMatch: return RegexCondition(value_expr, m, params);
  }
  return "true";
}

// The SQL condition for one __name__ matcher.
std::string NameCondition(const core::Matcher& m, QueryParameters* params) {
  switch (m.op) {
    case core::MatchOp::kEqual: return "s.metric = " + params->AddText(m.value);
    case core::MatchOp::kNotEqual: return "s.metric <> " + params->AddText(m.value);
    case core::MatchOp::kRegexMatch:
    case core::MatchOp::kRegexNoMatch: return RegexCondition("s.metric", m, params);
  }
  return "true";
}

// A regex matcher of one non-empty literal text, as the equality matcher it
// is (which the GIN index on tags answers); other matchers as they are.
core::Matcher Simplified(const core::Matcher& m) {
  std::vector<std::string> texts;
  if (m.op == core::MatchOp::kRegexMatch && core::LiteralAlternatives(m.value, &texts) && texts.size() == 1 &&
      !texts[0].empty())
    return core::Matcher{m.label, core::MatchOp::kEqual, texts[0], m.position};
  return m;
}

// The non-NULL texts of a text[] Datum.
std::vector<std::string> TextArrayElements(Datum array) {
  Datum* elements = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  PgCall([&] {
    deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &n);
  });
  // Built outside PgCall: a std::bad_alloc must not cross PG_TRY.
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i) {
    if (nulls[i]) continue;
    text* t = reinterpret_cast<text*>(DatumGetPointer(elements[i]));
    if (VARATT_IS_EXTENDED(t)) t = PgCall([&] { return DatumGetTextPP(elements[i]); });
    texts.emplace_back(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
  }
  return texts;
}

// A group_by's group of a series: jsonb_build_object calls over the keys
// (50 pairs each, FUNC_MAX_ARGS being 100, joined by ||), the key "__name__"
// taking the metric and every other key the series' tag; keys the series has
// no tag for are left out (tags are flat strings, so the only JSON nulls
// jsonb_strip_nulls removes are the missing tags'). keys is not empty
// (group_by '{}' is Mode::kAll).
std::string GroupByKeysExpression(Datum keys_array, QueryParameters* params) {
  constexpr size_t kPairsPerCall = 50;
  const std::vector<std::string> keys = TextArrayElements(keys_array);
  std::string calls;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i % kPairsPerCall == 0) calls += (i == 0 ? "jsonb_build_object(" : ") || jsonb_build_object(");
    else calls += ", ";
    const std::string name = params->AddText(keys[i]);
    calls += name + ", " + (keys[i] == "__name__" ? std::string("to_jsonb(s.metric)") : "s.tags -> " + name);
  }
  return calls.empty() ? "'{}'::jsonb" : "jsonb_strip_nulls(" + calls + "))";
}

// The SQL text and parameters of a selector's series query.
struct SeriesQuery {
  std::string sql;
  QueryParameters params;
};

// A selector parsed and checked: its matchers (regexes of one literal text
// as the equality they are), and the equality matchers folded into one
// containment object (a JSON object text; empty when there is none).
struct CheckedSelector {
  std::vector<core::Matcher> matchers;  // those not folded into containment
  std::string containment;
};

// Parses the selector and checks its texts and regexes (the selector's
// errors, raised before any catalog is read).
CheckedSelector CheckSelector(const std::string& selector_text) {
  if (!pg_verify_mbstr(GetDatabaseEncoding(), selector_text.data(), static_cast<int>(selector_text.size()), true))
    throw core::Error(core::ErrorCategory::Syntax, "syntax error in selector",
                      std::string("The selector is not valid ") + GetDatabaseEncodingName() + ".");
  core::Selector selector = core::ParseSelector(selector_text);
  CheckedSelector checked;
  // Equality matchers with a non-empty value become one containment test,
  // which the GIN index on tags answers.
  std::vector<std::string> contained_labels;
  for (const core::Matcher& given : selector.matchers) {
    CheckMatcherText(given.label, given, "label");
    CheckMatcherText(given.value, given, "value");
    const core::Matcher m = Simplified(given);
    if (m.op == core::MatchOp::kRegexMatch || m.op == core::MatchOp::kRegexNoMatch) CheckRegex(m);
    if (m.label != "__name__" && m.op == core::MatchOp::kEqual && !m.value.empty() &&
        std::find(contained_labels.begin(), contained_labels.end(), m.label) == contained_labels.end()) {
      // A label repeated with another value stays a matcher: a JSON object
      // keeps only one value per key.
      contained_labels.push_back(m.label);
      checked.containment += checked.containment.empty() ? "{" : ",";
      AppendJsonString(&checked.containment, m.label);
      checked.containment.push_back(':');
      AppendJsonString(&checked.containment, m.value);
    } else {
      checked.matchers.push_back(m);
    }
  }
  if (!checked.containment.empty()) checked.containment.push_back('}');
  return checked;
}

// Builds the query over aegis.series that answers a selector.
SeriesQuery BuildSeriesQuery(const CheckedSelector& selector, const SeriesGrouping& grouping) {
  QueryParameters params;
  std::vector<std::string> conditions;
  for (const core::Matcher& m : selector.matchers)
    conditions.push_back(m.label == "__name__" ? NameCondition(m, &params) : TagCondition(m, &params));
  if (!selector.containment.empty())
    conditions.push_back("s.tags @> " + params.AddText(selector.containment) + "::jsonb");

  std::string group_expr = "NULL::jsonb";
  switch (grouping.mode) {
    case SeriesGrouping::Mode::kNone: break;
    case SeriesGrouping::Mode::kPerSeries: group_expr = "s.tags"; break;
    case SeriesGrouping::Mode::kAll: group_expr = "'{}'::jsonb"; break;
    case SeriesGrouping::Mode::kByKeys:
      // __name__ groups by the metric name, as in Prometheus's by (__name__).
      group_expr = GroupByKeysExpression(grouping.keys, &params);
      break;
  }
  // Grouped into all-series or by-key groups, the rows' own metric and tags
  // are not wanted (only the group), and copying them out costs.
  const bool rows_wanted = grouping.mode != SeriesGrouping::Mode::kAll && grouping.mode != SeriesGrouping::Mode::kByKeys;
  std::string sql = std::string("SELECT s.series_id, ") +
                    (rows_wanted ? "s.metric, s.tags, " : "NULL::text, NULL::jsonb, ") + group_expr +
                    " AS grp FROM aegis.series s";
  for (size_t i = 0; i < conditions.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + conditions[i];
  // By series_id: the groups are put in order by OrderByGroup, which
  // compares each distinct group once rather than jsonb values per row.
  sql += " ORDER BY s.series_id";
  return SeriesQuery{std::move(sql), std::move(params)};
}

// Prepared selector queries, by SQL text (the text names every parameter
// and its type, so equal texts take the same plan). A dashboard asks the
// same few selector shapes again and again; parsing and planning them anew
// was a fifth of a small aggregate's time. The plan cache chooses between
// custom and generic plans as for any prepared statement: a generic plan
// does not see the values, and for a containment test it estimates a
// sequential scan of the catalog where the GIN index answers (the
// selectors regression test shows the plan taken), so the cache keeps
// planning with the values unless the generic plan is as cheap. It replans
// them when the catalog changes.
constexpr size_t kKeptSeriesQueries = 64;

std::unordered_map<std::string, SPIPlanPtr>& KeptSeriesQueries() {
  static std::unordered_map<std::string, SPIPlanPtr> plans;
  return plans;
}

// The kept plan of sql, preparing it on first use.
SPIPlanPtr SeriesQueryPlan(const std::string& sql, const QueryParameters& params) {
  auto& plans = KeptSeriesQueries();
  auto found = plans.find(sql);
  if (found != plans.end()) return found->second;
  if (plans.size() >= kKeptSeriesQueries) {
    // Forgotten before they are freed, so that the map never holds a freed plan.
    std::vector<SPIPlanPtr> evicted;
    for (auto& entry : plans) evicted.push_back(entry.second);
    plans.clear();
    for (SPIPlanPtr old : evicted) PgCall([&] { SPI_freeplan(old); });
  }
  SPIPlanPtr plan = nullptr;
  PgCall([&] {
    plan = PrepareKept(sql.c_str(), static_cast<int>(params.types.size()), params.types.data(),
                         UnderCitus() ? CURSOR_OPT_CUSTOM_PLAN : 0);
  });
  plans.emplace(sql, plan);
  return plan;
}

// The parameter values of a query, palloc'd.
Datum* ParameterValues(const QueryParameters& params) {
  const size_t n = params.texts.size();
  Datum* values = static_cast<Datum*>(palloc0(sizeof(Datum) * (n + 1)));
  for (size_t i = 0; i < n; ++i)
    values[i] = params.types[i] == TEXTOID ? CStringGetTextDatum(params.texts[i].c_str()) : params.datums[i];
  return values;
}

// Runs sql with the query's parameters through its kept plan (read-only);
// rows in SPI_tuptable.
void RunWithParameters(const std::string& sql, const QueryParameters& params) {
  SPIPlanPtr plan = SeriesQueryPlan(sql, params);
  PgCall([&] { CheckSpiResult(SPI_execute_plan(plan, ParameterValues(params), nullptr, true, 0), "series query"); });
}

// The EXPLAIN (COSTS OFF) text of the plan the kept statement of sql runs
// with these values (custom or generic, as the plan cache chooses; a
// palloc'd string).
const char* ExplainKeptPlan(const std::string& sql, const QueryParameters& params) {
  SPIPlanPtr plan = SeriesQueryPlan(sql, params);
  return PgCall([&] {
    const int n = static_cast<int>(params.types.size());
    Datum* values = ParameterValues(params);
    ParamListInfo bound = makeParamList(n);
    for (int i = 0; i < n; ++i) {
      bound->params[i].value = values[i];
      bound->params[i].isnull = false;
      bound->params[i].pflags = PARAM_FLAG_CONST;
      bound->params[i].ptype = params.types[static_cast<size_t>(i)];
    }
    CachedPlanSource* source = static_cast<CachedPlanSource*>(linitial(SPI_plan_get_plan_sources(plan)));
    CachedPlan* cached = GetCachedPlan(source, bound, CurrentResourceOwner, nullptr);
    ExplainState* es = NewExplainState();
    es->costs = false;
    ExplainBeginOutput(es);
    ListCell* cell;
    foreach (cell, cached->stmt_list)
      ExplainOnePlan(lfirst_node(PlannedStmt, cell), nullptr, es, sql.c_str(), bound, nullptr, nullptr, nullptr);
    ExplainEndOutput(es);
    ReleaseCachedPlan(cached, CurrentResourceOwner);
    return static_cast<const char*>(es->str->data);
  });
}

}  // namespace

namespace {

// Puts rows (in series_id order) in the order ORDER BY grp, series_id
// gives: groups sorted by jsonb's order, rows of equal groups in the order
// they came. Groups with equal bytes are equal, so each distinct byte
// string is compared once; distinct bytes that jsonb still finds equal
// (numbers written differently, which the catalog's series_key_exact keeps
// out of tags since 0.2.0) share a rank. Groups are never NULL (tags is NOT
// NULL, and jsonb_build_object returns an object).
void OrderByGroup(std::vector<SeriesRow>* rows) {
  const size_t n = rows->size();
  if (n < 2) return;
  std::vector<Datum> groups;  // distinct, detoasted
  std::vector<size_t> group_of(n);
  std::unordered_map<std::string_view, size_t> known;
  for (size_t r = 0; r < n; ++r) {
    if ((*rows)[r].group == 0) throw core::Error(core::ErrorCategory::Internal, "a series query returned no group");
    const Datum group = PgCall([&] { return PointerGetDatum(PG_DETOAST_DATUM_PACKED((*rows)[r].group)); });
    const std::string_view bytes(VARDATA_ANY(DatumGetPointer(group)), VARSIZE_ANY_EXHDR(DatumGetPointer(group)));
    const auto [it, inserted] = known.emplace(bytes, groups.size());
    if (inserted) groups.push_back(group);
    group_of[r] = it->second;
  }
  std::vector<size_t> order(groups.size());
  for (size_t g = 0; g < order.size(); ++g) order[g] = g;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return PgCall([&] { return DatumGetInt32(DirectFunctionCall2(jsonb_cmp, groups[a], groups[b])); }) < 0;
  });
  std::vector<size_t> rank(groups.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const bool same = k > 0 && PgCall([&] {
      return DatumGetInt32(DirectFunctionCall2(jsonb_cmp, groups[order[k - 1]], groups[order[k]])) == 0;
    });
    rank[order[k]] = same ? rank[order[k - 1]] : k;
  }
  std::vector<size_t> row_order(n);
  for (size_t r = 0; r < n; ++r) row_order[r] = r;
  std::stable_sort(row_order.begin(), row_order.end(),
                   [&](size_t a, size_t b) { return rank[group_of[a]] < rank[group_of[b]]; });
  std::vector<SeriesRow> sorted;
  sorted.reserve(n);
  for (size_t r : row_order) sorted.push_back((*rows)[r]);
  rows->swap(sorted);
}

// One remaining matcher of a selector as the direct catalog scan checks it:
// the condition NameCondition or TagCondition writes in SQL.
struct DirectCondition {
  enum class Kind { kEqual, kNotEqual, kIn, kNotIn, kPrefix, kNotPrefix, kRegex, kNotRegex };
  bool on_metric = false;
  std::string label;  // the tag's key
  Kind kind = Kind::kEqual;
  std::string value;             // kEqual, kNotEqual, kPrefix, kNotPrefix
  std::vector<std::string> set;  // kIn, kNotIn
  Datum pattern = 0;             // kRegex, kNotRegex: the anchored regex (a text)
};

std::vector<DirectCondition> DirectConditions(const CheckedSelector& selector) {
  using Kind = DirectCondition::Kind;
  std::vector<DirectCondition> conditions;
  for (const core::Matcher& m : selector.matchers) {
    DirectCondition c;
    c.on_metric = m.label == "__name__";
    c.label = m.label;
    const bool match = m.op == core::MatchOp::kRegexMatch;
    if (m.op == core::MatchOp::kEqual || m.op == core::MatchOp::kNotEqual) {
      c.kind = m.op == core::MatchOp::kEqual ? Kind::kEqual : Kind::kNotEqual;
      c.value = m.value;
    } else if (core::LiteralAlternatives(m.value, &c.set)) {
      c.kind = match ? Kind::kIn : Kind::kNotIn;
    } else if (core::LiteralPrefix(m.value, &c.value)) {
      c.kind = match ? Kind::kPrefix : Kind::kNotPrefix;
    } else {
      c.kind = match ? Kind::kRegex : Kind::kNotRegex;
      const std::string anchored = AnchoredRegex(m.value);
      c.pattern = PgCall(
          [&] { return PointerGetDatum(cstring_to_text_with_len(anchored.data(), static_cast<int>(anchored.size()))); });
    }
    conditions.push_back(std::move(c));
  }
  return conditions;
}

// Whether the text [data, data + len) passes c, as the SQL condition
// decides: texts compare bytewise under the default collation (a
// deterministic one), regexes as ~ does. PostgreSQL code.
bool Passes(const DirectCondition& c, const char* data, size_t len) {
  using Kind = DirectCondition::Kind;
  const auto equal = [&](const std::string& s) { return s.size() == len && memcmp(s.data(), data, len) == 0; };
  switch (c.kind) {
    case Kind::kEqual: return equal(c.value);
    case Kind::kNotEqual: return !equal(c.value);
    case Kind::kIn:
    case Kind::kNotIn: return std::any_of(c.set.begin(), c.set.end(), equal) == (c.kind == Kind::kIn);
    case Kind::kPrefix:
    case Kind::kNotPrefix:
      return (len >= c.value.size() && memcmp(data, c.value.data(), c.value.size()) == 0) == (c.kind == Kind::kPrefix);
    case Kind::kRegex:
    case Kind::kNotRegex: {
      const Datum value = PointerGetDatum(cstring_to_text_with_len(data, static_cast<int>(len)));
      return DatumGetBool(DirectFunctionCall2Coll(textregexeq, DEFAULT_COLLATION_OID, value, c.pattern)) ==
             (c.kind == Kind::kRegex);
    }
  }
  return false;
}

// The tag `key` of a tags object as ->> gives it: found (a string),
// missing or JSON null (*data null), or neither (false: a number, say, which
// only a 0.1.0 catalog may hold). PostgreSQL code.
bool TagText(const Jsonb* tags, const std::string& key, JsonbValue* buffer, const char** data, size_t* len) {
  const JsonbValue* v = getKeyJsonValueFromContainer(const_cast<JsonbContainer*>(&tags->root), key.data(),
                                                     static_cast<int>(key.size()), buffer);
  *data = nullptr;
  *len = 0;
  if (v == nullptr || v->type == jbvNull) return true;
  if (v->type != jbvString) return false;
  *data = v->val.string.val;
  *len = static_cast<size_t>(v->val.string.len);
  return true;
}

// What the direct scan's filter needs.
struct DirectArguments {
  const std::vector<DirectCondition>* conditions = nullptr;
  const std::vector<std::string>* group_keys = nullptr;  // group_by keys, checked to be strings or missing
};

// The direct scan's filter (a CatalogRowFilter): the selector's remaining
// matchers, a missing tag compared as the empty string. It gives up on a
// tag it reads that is not a string (or on tags that are not an object),
// which the statement's ->> and jsonb_build_object would turn into text
// and JSON of their own. PostgreSQL code.
CatalogVerdict DirectFilter(void* arg, Datum metric, Datum tags) {
  const auto* args = static_cast<const DirectArguments*>(arg);
  const Jsonb* object = nullptr;
  if (args->group_keys != nullptr || std::any_of(args->conditions->begin(), args->conditions->end(),
                                                 [](const DirectCondition& c) { return !c.on_metric; })) {
    object = DatumGetJsonbP(tags);
    if (!JB_ROOT_IS_OBJECT(object) || JB_ROOT_IS_SCALAR(object)) return CatalogVerdict::kGiveUp;
  }
  JsonbValue buffer;
  const char* data = nullptr;
  size_t len = 0;
  if (args->group_keys != nullptr) {
    for (const std::string& key : *args->group_keys)
      if (key != "__name__" && !TagText(object, key, &buffer, &data, &len)) return CatalogVerdict::kGiveUp;
  }
  for (const DirectCondition& c : *args->conditions) {
    if (c.on_metric) {
      const text* m = reinterpret_cast<const text*>(DatumGetPointer(metric));
      data = VARDATA_ANY(m);
      len = VARSIZE_ANY_EXHDR(m);
    } else if (!TagText(object, c.label, &buffer, &data, &len)) {
      return CatalogVerdict::kGiveUp;
    }
    if (!Passes(c, data != nullptr ? data : "", len)) return CatalogVerdict::kDrop;
  }
  return CatalogVerdict::kKeep;
}

// A by-keys group of a series, the jsonb GroupByKeysExpression's SQL builds:
// the keys the series has a tag for (DirectFilter checked they are strings),
// "__name__" taking the metric; a key given twice keeps one pair. PostgreSQL
// code.
Datum GroupOfKeys(const std::vector<std::string>& keys, Datum metric, Datum tags) {
  const Jsonb* object = DatumGetJsonbP(tags);
  JsonbParseState* state = nullptr;
  pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
  for (const std::string& key : keys) {
    JsonbValue value;
    value.type = jbvString;
    if (key == "__name__") {
      const text* m = reinterpret_cast<const text*>(DatumGetPointer(metric));
      value.val.string.val = const_cast<char*>(VARDATA_ANY(m));
      value.val.string.len = static_cast<int>(VARSIZE_ANY_EXHDR(m));
    } else {
      JsonbValue buffer;
      const char* data = nullptr;
      size_t len = 0;
      if (!TagText(object, key, &buffer, &data, &len) || data == nullptr) continue;
      value.val.string.val = const_cast<char*>(data);
      value.val.string.len = static_cast<int>(len);
    }
    JsonbValue name;
    name.type = jbvString;
    name.val.string.val = const_cast<char*>(key.data());
    name.val.string.len = static_cast<int>(key.size());
    pushJsonbValue(&state, WJB_KEY, &name);
    pushJsonbValue(&state, WJB_VALUE, &value);
  }
  return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, nullptr)));
}

// Finds the selector's series by reading aegis.series directly
// (ScanSeriesCatalog): candidates by the first metric equality and the
// containment object, then the remaining matchers. The rows and groups are
// those the series query returns, in its order (series_id). False, having
// found nothing, where the direct read does not apply; the statement runs
// instead.
bool FindDirectly(const CheckedSelector& selector, const SeriesGrouping& grouping, MatchedSeries* matched) {
  const std::vector<DirectCondition> conditions = DirectConditions(selector);
  std::vector<std::string> keys;
  DirectArguments args;
  args.conditions = &conditions;
  if (grouping.mode == SeriesGrouping::Mode::kByKeys) {
    keys = TextArrayElements(grouping.keys);
    args.group_keys = &keys;
  }
  // The candidates' metrics: the one an equality names, else those of the
  // first set of literal alternatives (what the btree on metric answers).
  std::optional<std::vector<std::string>> metrics;
  for (const DirectCondition& c : conditions) {
    if (c.on_metric && c.kind == DirectCondition::Kind::kEqual) {
      metrics = std::vector<std::string>{c.value};
      break;
    }
    if (c.on_metric && c.kind == DirectCondition::Kind::kIn && !metrics) metrics = c.set;
  }
  const Datum metric_array = metrics ? TextArray(*metrics) : 0;  // outside PgCall: TextArray makes its own
  // The candidates' tags: the equality matchers' containment object, else
  // containment of any of the first set of literal alternatives that allows
  // it (the index conditions the series query gives the GIN index).
  std::vector<std::string> objects;
  if (!selector.containment.empty()) {
    objects.push_back(selector.containment);
  } else {
    for (const DirectCondition& c : conditions) {
      if (!c.on_metric && c.kind == DirectCondition::Kind::kIn && AlternativesContained(c.set)) {
        objects = ContainmentObjects(c.label, c.set);
        break;
      }
    }
  }
  CatalogScan scan;
  const bool read = PgCall([&] {
    Datum* contains = static_cast<Datum*>(palloc(sizeof(Datum) * (objects.size() + 1)));
    for (size_t i = 0; i < objects.size(); ++i)
      contains[i] = DirectFunctionCall1(jsonb_in, CStringGetDatum(objects[i].c_str()));
    return ScanSeriesCatalog(metric_array, contains, static_cast<int>(objects.size()), DirectFilter, &args, &scan);
  });
  if (!read) return false;
  const bool rows_wanted = grouping.mode != SeriesGrouping::Mode::kAll && grouping.mode != SeriesGrouping::Mode::kByKeys;
  const Datum all = grouping.mode == SeriesGrouping::Mode::kAll
                        ? PgCall([] { return DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")); })
                        : 0;
  matched->rows.reserve(scan.n_rows);
  for (uint64 i = 0; i < scan.n_rows; ++i) {
    const CatalogRow& found = scan.rows[i];
    SeriesRow row{found.series_id, rows_wanted ? found.metric : 0, rows_wanted ? found.tags : 0, 0};
    switch (grouping.mode) {
      case SeriesGrouping::Mode::kNone: break;
      case SeriesGrouping::Mode::kPerSeries: row.group = found.tags; break;
      case SeriesGrouping::Mode::kAll: row.group = all; break;
      case SeriesGrouping::Mode::kByKeys:
        row.group = PgCall([&] { return GroupOfKeys(keys, found.metric, found.tags); });
        break;
    }
    matched->rows.push_back(row);
  }
  return true;
}

}  // namespace

MatchedSeries FindMatchingSeries(const std::string& selector_text, const SeriesGrouping& grouping) {
  const CheckedSelector selector = CheckSelector(selector_text);
  MatchedSeries matched;
  if (!FindDirectly(selector, grouping, &matched)) {
    SeriesQuery query = BuildSeriesQuery(selector, grouping);
    RunWithParameters(query.sql, query.params);
    matched.table = SPI_tuptable;
    matched.rows.reserve(SPI_processed);
    for (uint64 i = 0; i < SPI_processed; ++i) {
      bool isnull = false;
      SeriesRow row;
      row.series_id = DatumGetInt64(ResultValue(i, 1, &isnull));
      row.metric = ResultValue(i, 2, &isnull);
      row.tags = ResultValue(i, 3, &isnull);
      row.group = ResultValue(i, 4, &isnull);
      matched.rows.push_back(row);
    }
  }
  if (grouping.mode == SeriesGrouping::Mode::kPerSeries || grouping.mode == SeriesGrouping::Mode::kByKeys)
    OrderByGroup(&matched.rows);
  return matched;
}

void Release(MatchedSeries* matched) {
  if (matched->table != nullptr) PgCall([&] { SPI_freetuptable(matched->table); });
  matched->table = nullptr;
  matched->rows.clear();
}

}  // namespace aegis::pg

// aegis.explain_selector(selector): the plan of the catalog query a selector
// runs, to check that equality matchers use the GIN index.
AEGIS_PG_FUNCTION(aegis_explain_selector) {
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("selector must not be NULL")));
  InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  text* t = PG_GETARG_TEXT_PP(0);
  std::string selector(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
  aegis::pg::PgCall([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "aegis: SPI_connect failed");
  });
  aegis::pg::SeriesQuery query = aegis::pg::BuildSeriesQuery(aegis::pg::CheckSelector(selector), {});
  const char* plan = aegis::pg::ExplainKeptPlan(query.sql, query.params);
  aegis::pg::PgCall([&] {
    // One row per line, without the trailing newline.
    for (const char* line = plan; *line != '\0';) {
      const char* end = strchr(line, '\n');
      const size_t length = end != nullptr ? static_cast<size_t>(end - line) : strlen(line);
      Datum value = PointerGetDatum(cstring_to_text_with_len(line, static_cast<int>(length)));
      bool isnull = false;
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
      line += length + (end != nullptr ? 1 : 0);
    }
    SPI_finish();
  });
  return static_cast<Datum>(0);
}
