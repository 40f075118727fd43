-- Prometheus-style selectors (API.md section 3).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS aegis_timeseries CASCADE;
CREATE EXTENSION aegis_timeseries;
RESET client_min_messages;
\set SHOW_CONTEXT never

SELECT aegis.write('cpu', '{"host": "web-1", "dc": "eu"}', '2024-01-01', 1);
SELECT aegis.write('cpu', '{"host": "web-2", "dc": "us"}', '2024-01-01', 2);
SELECT aegis.write('cpu', '{"host": "myweb01"}', '2024-01-01', 3);
SELECT aegis.write('cpu', '{"host": "db-1", "dc": "eu", "my.key": "x"}', '2024-01-01', 4);
SELECT aegis.write('cpu_temp', '{"host": "web-1"}', '2024-01-01', 5);
SELECT aegis.write('mem', '{}', '2024-01-01', 6);

SELECT series_id, metric, tags FROM aegis.find_series('cpu');
SELECT series_id FROM aegis.find_series('cpu{}');
SELECT series_id FROM aegis.find_series('cpu{host="web-1"}');
SELECT series_id FROM aegis.find_series('cpu{host="web-1", dc="eu"}');
SELECT series_id FROM aegis.find_series('cpu{dc!="eu"}');         -- lacks dc: matches
SELECT series_id FROM aegis.find_series('cpu{host=~"web-.*"}');    -- anchored: not myweb01
SELECT series_id FROM aegis.find_series('cpu{host=~"web"}');       -- anchored: nothing
SELECT series_id FROM aegis.find_series('cpu{host!~"web-.*"}');
SELECT series_id FROM aegis.find_series('cpu{dc!~"e.*"}');          -- lacks dc: matches
SELECT series_id FROM aegis.find_series('cpu{dc=""}');              -- empty = lacks the key
SELECT series_id FROM aegis.find_series('{__name__=~"cpu.*", host="web-1"}');
SELECT series_id FROM aegis.find_series('{__name__!="cpu"}');
SELECT series_id FROM aegis.find_series('{__name__!~"cpu.*"}');
SELECT series_id FROM aegis.find_series('{"my.key"="x"}');
SELECT series_id FROM aegis.find_series('{"cpu", host=''web-2''}');
SELECT series_id FROM aegis.find_series('  cpu { host = `web-1` , } ');
SELECT series_id FROM aegis.find_series('cpu{host=~"WEB-1|db-1"}');  -- case-sensitive
-- Grafana's ${host:regex} of web-1 and db-1 is (web\-1|db\-1): a backslash
-- before punctuation in a regex value is kept for the expression.
SELECT series_id FROM aegis.find_series('cpu{host=~"(web\-1|db\-1)"}');
SELECT series_id FROM aegis.find_series('cpu{host="web\-1"}');  -- not in an equality
SELECT series_id FROM aegis.find_series('nosuchmetric');
SELECT series_id FROM aegis.find_series('cpu{host="web-1", host="web-2"}');   -- both must hold: nothing
SELECT series_id FROM aegis.find_series('cpu{host="web-1", host="web-1"}');
-- Regexes that are alternations of literal texts are asked as set
-- membership; they must match exactly what the regex matches.
SELECT series_id FROM aegis.find_series('cpu{host=~"web-1|web-2|db-1"}');
SELECT series_id FROM aegis.find_series('cpu{host=~"web-1"}');        -- one literal: an equality
SELECT series_id FROM aegis.find_series('cpu{dc=~"|us"}');            -- lacks dc, or us
SELECT series_id FROM aegis.find_series('cpu{dc!~"eu|"}');            -- has dc, not eu
SELECT series_id FROM aegis.find_series('cpu{host!~"web-1|db-1"}');
SELECT series_id FROM aegis.find_series('{__name__=~"cpu_temp|mem"}');
SELECT series_id FROM aegis.find_series('{__name__!~"cpu|cpu_temp"}');
SELECT series_id FROM aegis.find_series('{__name__=~"cpu"}');
-- A literal text followed by .* is asked as a prefix test.
SELECT series_id FROM aegis.find_series('{__name__=~"cpu_.*"}');
SELECT series_id FROM aegis.find_series('{__name__!~"cpu.*"}');
SELECT series_id FROM aegis.find_series('cpu{host=~"web-.*"}');
SELECT series_id FROM aegis.find_series('cpu{dc=~".*"}');            -- every series, with dc or not
SELECT series_id FROM aegis.find_series('cpu{dc!~"e.*"}');           -- lacks dc, or not e...

-- Errors point at the bad character.
SELECT * FROM aegis.find_series('');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{host~"a"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{host="a}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{host="a"} x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('{}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{__name__="mem"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{host=~"web-(.*"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('{__name__=~"*"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A back-reference can take exponential time to match (this one ran past any
-- statement_timeout on a long tag value): refused, as RE2 has none.
SELECT * FROM aegis.find_series('cpu{host=~"(.*)(.*)(.*)\\3\\2\\1!"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{host!~"(a)\\1"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Escapes that give a NUL byte or bytes that are not UTF-8 make a malformed
-- selector (42601), not an encoding error of the server.
SELECT * FROM aegis.find_series('cpu{host="\x00"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM aegis.find_series('cpu{host=~"\xff"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A bad regex of 3,000 two-byte characters: the detail quotes it cut on a
-- character boundary, so the message stays valid UTF-8.
DO $$
DECLARE detail text;
BEGIN
  PERFORM * FROM aegis.find_series('cpu{host=~"' || repeat('é', 3000) || '("}');
EXCEPTION WHEN invalid_regular_expression THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'detail of % bytes, valid UTF-8: %, ends with: %', octet_length(detail),
    convert_from(convert_to(detail, 'UTF8'), 'UTF8') = detail, right(detail, 8);
END $$;

-- Equality matchers are answered from the GIN index on tags.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT series_id FROM aegis.series s WHERE s.tags @> '{"host": "web-1"}'::jsonb;
RESET enable_seqscan;
-- ... and so are the selector's own queries, at a realistic catalog size.
SELECT count(aegis.write('big', jsonb_build_object('host', 'h' || i, 'dc', 'dc' || (i % 3)), '2024-01-01', i))
  FROM generate_series(1, 3000) i;
ANALYZE aegis.series;
SELECT * FROM aegis.explain_selector('big{host="h42"}');
SELECT * FROM aegis.explain_selector('{host="h42", dc="dc0"}');
SELECT * FROM aegis.explain_selector('big{host=~"h4.*"}');
SELECT * FROM aegis.explain_selector('big{host=~"h42|h43"}');
SELECT * FROM aegis.explain_selector('big{host=~"h42"}');
SELECT series_id, tags FROM aegis.find_series('big{host="h42"}');
-- Literal alternatives none of which is empty also go through the GIN index
-- (containment of any of them, rechecked by set membership); with an empty
-- alternative (matching a missing tag) they cannot.
SELECT * FROM aegis.explain_selector('{host=~"h42|h43"}');
SELECT * FROM aegis.explain_selector('big{host=~"h42|"}');
SELECT series_id, tags FROM aegis.find_series('big{host=~"h42|h43|nosuch"}');
SELECT count(*) FROM aegis.find_series('big{dc=~"dc1|dc2"}');
-- Texts that JSON must escape in the containment objects.
SELECT aegis.write('esc', '{"host": "q\"uote"}', '2024-01-01', 1);
SELECT aegis.write('esc', '{"host": "ünï"}', '2024-01-01', 3);
SELECT aegis.write('esc', '{}', '2024-01-01', 4);
SELECT tags FROM aegis.find_series('esc{host=~"q\"uote|ünï"}') ORDER BY series_id;
SELECT tags FROM aegis.find_series('esc{host=~"ünï|"}') ORDER BY series_id;
-- A selector reads aegis.series straight from the table and the one index
-- its candidates come from (no statement to parse and plan, which would
-- also open every index of the table): only those are locked.
-- Each call is a statement of its own: the locks are the selector's alone.
CREATE FUNCTION pg_temp.selector_locks(selector text, OUT series bigint, OUT locks text) LANGUAGE plpgsql AS $$
BEGIN
  SELECT count(*) INTO series FROM aegis.find_series(selector);
  SELECT string_agg(c.relname, ', ' ORDER BY c.relname) INTO locks FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
   WHERE l.pid = pg_backend_pid() AND c.relnamespace = 'aegis'::regnamespace AND c.relname LIKE 'series%';
END $$;
SELECT * FROM pg_temp.selector_locks('big{host="h42"}');
SELECT * FROM pg_temp.selector_locks('big');
SELECT * FROM pg_temp.selector_locks('{__name__=~"big|esc", host=~"h4.*2|q.*"}');
SELECT * FROM pg_temp.selector_locks('{host=~"h4.*2"}');
-- Tags that are not strings (only a catalog from before 0.2.0's
-- series_key_exact can hold them): ->> turns them into text, which the
-- direct read leaves to the statement, so the answers stay the statement's.
ALTER TABLE aegis.series DROP CONSTRAINT series_key_exact;
INSERT INTO aegis.series (metric, tags) VALUES ('num', '{"n": 5}'), ('num', '{"n": "5"}'), ('num', '{"n": null}');
SELECT tags FROM aegis.find_series('num{n!="7"}') ORDER BY series_id;
SELECT tags FROM aegis.find_series('num{n=~"5|6"}') ORDER BY series_id;
SELECT tags FROM aegis.find_series('num{n=""}') ORDER BY series_id;
SELECT tags FROM aegis.find_series('num{n="5"}') ORDER BY series_id;
DELETE FROM aegis.series WHERE metric = 'num';
ALTER TABLE aegis.series ADD CONSTRAINT series_key_exact CHECK (strpos(metric, ' ') = 0 AND jsonb_typeof(tags) = 'object'
  AND NOT jsonb_path_exists(tags, 'strict $.* ? (@.type() != "string")'));
