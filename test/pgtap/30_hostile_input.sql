-- pgTAP: hostile input for every SQL-callable object of schema aegis (the
-- public functions, the aggregates aegis.first/aegis.last, INSERT and COPY
-- into aegis.points). Each hostile call must succeed or fail with a
-- documented SQLSTATE: never crash the backend (the last tests prove the
-- session that made every call still answers), never run past
-- statement_timeout (a 57014 fails that call's test), never raise an
-- undocumented SQLSTATE such as XX000.
--
-- How it runs: every call is a row of hostile_calls; psql's \gexec runs one
-- top-level statement per call, so each call has its own statement_timeout,
-- and pg_temp.check() runs the call in a subtransaction (rolled back unless
-- the row says keep) and reports one pgTAP test. A row lists the SQLSTATEs
-- it accepts (allowed); it may demand an error (must_fail), a result
-- (expected: the first column of the first row, as text) or that the call
-- ends within some time whatever its outcome (within, with a shorter
-- statement_timeout in before: a call that cannot be cancelled overruns it).
-- Two calls that take seconds when correct and hours when not run under a
-- 10 s statement_timeout, so that a regression costs 10 s, not 30.
--
-- SQLSTATEs accepted (API.md and the code): 22004 null, 22023 invalid
-- parameter, 2202E array subscript, 22008 datetime out of range, 22003
-- numeric out of range, 42601 selector syntax, 2201B invalid regex, 54000
-- program limit exceeded, 0A000 not supported, 42704 undefined object, 42710
-- duplicate object; PostgreSQL's own input errors for a literal or a COPY
-- line: 22P02 invalid text representation, 22021 invalid byte sequence,
-- 22P04 bad COPY file format, 22P03 invalid binary representation and 08P01
-- (binary COPY field shorter than its type), 22P05 untranslatable character
-- (\u0000 in JSON); 54001 statement too complex (nesting beyond the stack).
BEGIN;
SET statement_timeout = '30s';
SET TIME ZONE 'UTC';
SET client_min_messages = warning;

CREATE TEMP TABLE hostile_backend AS SELECT pg_backend_pid() AS pid;

CREATE TEMP TABLE hostile_calls (
  id       serial PRIMARY KEY,
  label    text NOT NULL,               -- the test's description
  call     text NOT NULL,               -- one SQL statement
  allowed  text[] NOT NULL DEFAULT '{}',  -- SQLSTATEs accepted instead of success
  must_fail boolean NOT NULL DEFAULT false, -- success is wrong: one of allowed must be raised
  expected text,                        -- on success: first column of the first row, as text
  keep     boolean NOT NULL DEFAULT false,  -- keep the call's effects (data for later calls)
  before   text,                        -- statement(s) run before the call, undone after it
  within   interval                     -- the call must end within this, whatever its outcome
);
CREATE TEMP TABLE hostile_made (id int PRIMARY KEY, outcome text NOT NULL, seconds numeric NOT NULL);

-------------------------------------------------------------------------------
-- Hostile values, looked up by their description: pg_temp.ht (text),
-- pg_temp.hj (jsonb), pg_temp.hs (selectors).
-------------------------------------------------------------------------------

CREATE TEMP TABLE hostile_text (note text PRIMARY KEY, v text NOT NULL, valid_name boolean NOT NULL DEFAULT false);
INSERT INTO hostile_text (note, v, valid_name) VALUES
  ('empty string', '', false),
  ('a space', ' ', false),
  ('name in spaces', '  h_ws  ', false),
  ('1 MB of a', repeat('a', 1048576), false),
  ('1 MB of é', repeat('é', 524288), false),
  ('1 MB of {', repeat('{', 1048576), false),
  ('200-byte name', 'h' || repeat('x', 199), true),
  ('201-byte name', 'h' || repeat('x', 200), false),
  ('single quote', 'h''q', false),
  ('double quote', 'h"q', false),
  ('backslash', 'h\q', false),
  ('trailing backslash', 'h\', false),
  ('SQL fragment', '''; DROP TABLE aegis.series; --', false),
  ('SQL fragment 2', 'h"); DROP TABLE aegis.series; --', false),
  ('SQL fragment 3', 'h_x''); DROP TABLE aegis.series; --', false),
  ('format specifiers', '%s%n%x%p%%', false),
  ('newline and tab', E'h\n\tq', false),
  ('control byte', E'h\x01q', false),
  ('DEL byte', E'h\x7fq', false),
  ('zero-width space', E'h\u200bq', false),
  ('right-to-left override', E'h\u202eq', false),
  ('emoji', E'h\U0001F600', false),
  ('JSON text', '{"a":"b"}', false),
  ('selector text', 'h{a="b"}', false),
  ('regex text', '.*', false),
  ('NaN', 'NaN', true),
  ('Infinity', 'Infinity', true),
  ('leading digit', '1h', false),
  ('__name__', '__name__', true),
  ('dots, colons and dashes', 'h.a:b-c', true);
CREATE FUNCTION pg_temp.ht(text) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT v FROM hostile_text WHERE note = $1 $$;

CREATE TEMP TABLE hostile_json (note text PRIMARY KEY, v jsonb NOT NULL, valid boolean NOT NULL DEFAULT false);
INSERT INTO hostile_json (note, v, valid) VALUES
  ('empty array', '[]', false),
  ('array', '["a", "b"]', false),
  ('array of an object', '[{"a": "b"}]', false),
  ('number', '1', false),
  ('huge number', '1e1000', false),
  ('string', '"a"', false),
  ('JSON null', 'null', false),
  ('boolean', 'true', false),
  ('number value', '{"a": 1}', false),
  ('NaN-like string value', '{"a": "NaN"}', true),
  ('null value', '{"a": null}', false),
  ('boolean value', '{"a": true}', false),
  ('object value', '{"a": {}}', false),
  ('array value', '{"a": []}', false),
  ('nested object value', '{"a": {"b": "c"}}', false),
  ('empty key', '{"": "v"}', false),
  ('empty value', '{"a": ""}', true),
  ('duplicate key', '{"a": "1", "a": "2"}', true),
  ('key order and spaces', '{ "b" : "2" ,"a":"1" }', true),
  ('quotes and backslashes', '{"a\"b\\c": "d\"e\\f"}', true),
  ('SQL fragment key and value', '{"''; DROP TABLE aegis.series; --": "''); DROP TABLE aegis.series; --"}', true),
  ('control characters', '{"a\u0001": "\u0002\n\t"}', true),
  ('unicode', '{"ключ": "значение 😀", "\u200b": "\u202e"}', true),
  ('__name__ key', '{"__name__": "other"}', true),
  ('10,000-level nested array', (repeat('[', 10000) || repeat(']', 10000))::jsonb, false),
  ('10,000-level nested array value', ('{"a": ' || repeat('[', 10000) || repeat(']', 10000) || '}')::jsonb, false),
  ('10,000-level nested object', (repeat('{"a": ', 10000) || '"v"' || repeat('}', 10000))::jsonb, false),
  ('10,000 keys', (SELECT jsonb_object_agg('k' || i, 'v' || i) FROM generate_series(1, 10000) i), true),
  ('10,000 keys, one a number', (SELECT jsonb_object_agg('k' || i, CASE WHEN i = 9999 THEN to_jsonb(i) ELSE to_jsonb('v' || i) END)
                                   FROM generate_series(1, 10000) i), false),
  ('1 MB key', jsonb_build_object(repeat('k', 1048576), 'v'), true),
  ('1 MB value', jsonb_build_object('k', repeat('v', 1048576)), true),
  ('64 kB incompressible value', jsonb_build_object('k', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 2048) i)), true);
CREATE FUNCTION pg_temp.hj(text) RETURNS jsonb LANGUAGE sql STABLE
  AS $$ SELECT v FROM hostile_json WHERE note = $1 $$;

-- Selectors. bad: true when the selector is malformed (42601 or 2201B is
-- required), false when it is valid (an answer is required), NULL when
-- either is right. heavy: slow to build or run, so only find_series and read
-- take them (heavy = 2: only find_series).
CREATE TEMP TABLE hostile_sel (note text PRIMARY KEY, v text NOT NULL, heavy int NOT NULL DEFAULT 0, bad boolean);
INSERT INTO hostile_sel (note, v) VALUES
  ('empty selector', ''),
  ('only spaces', '   '),
  ('only braces', '{}'),
  ('open brace', '{'),
  ('close brace', '}'),
  ('unbalanced open brace', 'h_re{'),
  ('unbalanced close brace', 'h_re}'),
  ('unterminated matcher list', 'h_re{v="a"'),
  ('unterminated double quote', 'h_re{v="a}'),
  ('unterminated single quote', 'h_re{v=''a}'),
  ('unterminated backtick', 'h_re{v=`a}'),
  ('extra closing brace', 'h_re{v="a"}}'),
  ('nested braces', 'h_re{{v="a"}}'),
  ('unquoted value', 'h_re{v=a}'),
  ('empty label', 'h_re{="a"}'),
  ('label without operator', 'h_re{v}'),
  ('double equals', 'h_re{v=="a"}'),
  ('operator =~~', 'h_re{v=~~"a"}'),
  ('lone comma', 'h_re{,}'),
  ('trailing comma', 'h_re{v="a",}'),
  ('leading comma', 'h_re{,v="a"}'),
  ('quoted metric name in braces', '{"h_re"}'),
  ('metric name twice', 'h_re{"h_re"}'),
  ('metric name and __name__', 'h_re{__name__="h_re"}'),
  ('__name__ matches everything', '{__name__=~".*"}'),
  ('__name__ not empty', '{__name__!=""}'),
  ('__name__ invalid metric name', '{__name__="1bad"}'),
  ('only a negative matcher', '{v!="a"}'),
  ('only an empty matcher', '{v=""}'),
  ('quoted label with dots', 'h_re{"a.b"="c"}'),
  ('quoted empty label', 'h_re{""="c"}'),
  ('space in metric name', 'h re'),
  ('metric name starting with a digit', '1h'),
  ('non-ASCII metric name', 'hé'),
  ('SQL fragment', '''; DROP TABLE aegis.series; --'),
  ('SQL fragment after a selector', 'h_re{v="a"}; DROP TABLE aegis.series; --'),
  ('SQL fragment in a value', 'h_re{v="''; DROP TABLE aegis.series; --"}'),
  ('SQL fragment in a label', 'h_re{"a'') OR true --"="x"}'),
  ('SQL fragment in a regex', 'h_re{v=~"''); DROP TABLE aegis.series; --"}'),
  ('parameter marker in a value', 'h_re{v="$1"}'),
  ('format specifiers in a value', 'h_re{v="%s%n%x"}'),
  ('single quote in a value', 'h_re{v="it''s"}'),
  ('double quotes in a single-quoted value', 'h_re{v=''say "hi"''}'),
  ('escaped double quote', 'h_re{v="a\"b"}'),
  ('escaped backslash', 'h_re{v="a\\b"}'),
  ('backslash at the end', 'h_re{v="a\'),
  ('escaped closing quote', 'h_re{v="a\"}'),
  ('escape \x without digits', 'h_re{v="\x"}'),
  ('escape \x with one digit', 'h_re{v="\x4"}'),
  ('escape \x with non-hex digits', 'h_re{v="\xZZ"}'),
  ('escape \u12', 'h_re{v="\u12"}'),
  ('escape \u with non-hex digits', 'h_re{v="\uZZZZ"}'),
  ('escape \U beyond U+10FFFF', 'h_re{v="\U00110000"}'),
  ('escape \U of U+10FFFF', 'h_re{v="\U0010FFFF"}'),
  ('escape \u of a surrogate', 'h_re{v="\uD800"}'),
  ('escape \x00 (NUL)', 'h_re{v="\x00"}'),
  ('escape \000 (NUL)', 'h_re{v="\000"}'),
  ('escape \u0000 (NUL)', 'h_re{v="\u0000"}'),
  ('escape \xff', 'h_re{v="\xff"}'),
  ('escape \377', 'h_re{v="\377"}'),
  ('escape \400', 'h_re{v="\400"}'),
  ('unknown escape \q', 'h_re{v="\q"}'),
  ('escape \xff in a label', 'h_re{"\xff"="a"}'),
  ('truncated UTF-8 by escape', 'h_re{v="\xc3"}'),
  ('overlong UTF-8 by escapes', 'h_re{v="\xc0\xaf"}'),
  ('backslashes in a backtick string', 'h_re{v=`\x\u12\`}'),
  ('raw control characters', E'h_re{v="\x01\x02"}'),
  ('newlines between tokens', E'h_re\n{\nv\n=\n"a"\n}'),
  ('vertical tab and form feed', E'h_re{\x0bv="a"\x0c}'),
  ('no-break space as whitespace', E'h_re{\u00a0v="a"}'),
  ('label repeated with two values', 'h_re{v="a",v="b"}'),
  ('label repeated with =~ and !~', 'h_re{v=~"a+",v!~"a+"}'),
  ('regex (a+)+$', 'h_re{v=~"(a+)+$"}'),
  ('regex (a|a)*b', 'h_re{v=~"(a|a)*b"}'),
  ('regex ((((((a*)*)*)*)*)*)b', 'h_re{v=~"((((((a*)*)*)*)*)*)b"}'),
  ('negated regex (a|a)*b', 'h_re{v!~"(a|a)*b"}'),
  ('regex a{1000}{1000}', 'h_re{v=~"a{1000}{1000}"}'),
  ('regex (a{0,255}){0,255}', 'h_re{v=~"(a{0,255}){0,255}"}'),
  ('regex with a backreference (a*)*\1', 'h_re{v=~"(a*)*\\1"}'),
  ('regex with a backreference (a|aa)+\1b', 'h_re{v=~"(a|aa)+\\1b"}'),
  ('regex with 1,000 alternatives', 'h_re{v=~"' || (SELECT string_agg('a' || i, '|') FROM generate_series(1, 1000) i) || '"}'),
  ('regex [[:alpha:]', 'h_re{v=~"[[:alpha:]"}'),
  ('regex (', 'h_re{v=~"("}'),
  ('regex )', 'h_re{v=~")"}'),
  ('regex [', 'h_re{v=~"["}'),
  ('regex *a', 'h_re{v=~"*a"}'),
  ('regex a**', 'h_re{v=~"a**"}'),
  ('regex x{2,1}', 'h_re{v=~"x{2,1}"}'),
  ('regex of one backslash', 'h_re{v=~"\\"}'),
  ('regex (?i)A+', 'h_re{v=~"(?i)A+"}'),
  ('regex director ***:', 'h_re{v=~"***:a+"}'),
  ('regex lookarounds', 'h_re{v=~"(?=a)a+(?<!b)"}'),
  ('regex ((?=a)*)*', 'h_re{v=~"((?=a)*)*"}'),
  ('regex $^', 'h_re{v=~"$^"}'),
  ('regex that matches everything', 'h_re{v=~".*"}'),
  ('empty regex', 'h_re{v=~""}'),
  ('regex \d{0,255}', 'h_re{v=~"\\d{0,255}"}'),
  ('regex with a NUL escape', 'h_re{v=~"a\x00"}'),
  ('regex escape \u00', 'h_re{v=~"\\u00"}'),
  ('regex class of all bytes', 'h_re{v=~"[^\\x01-\\xff]*"}'),
  ('pathological regex on __name__', '{__name__=~"(h+)+_re"}'),
  ('invalid regex on __name__', '{__name__=~"(("}'),
  ('100 __name__ matchers', '{' || (SELECT string_agg('__name__=~"h.*"', ',') FROM generate_series(1, 100)) || '}');
INSERT INTO hostile_sel (note, v, heavy) VALUES
  ('1 MB metric name', 'h' || repeat('a', 1048575), 1),
  ('1 MB value', 'h_re{v="' || repeat('a', 1048576) || '"}', 1),
  ('1 MB label', 'h_re{' || repeat('a', 1048576) || '="x"}', 1),
  ('1 MB quoted label', 'h_re{"' || repeat('é', 524288) || '"="x"}', 1),
  ('1 MB of whitespace', repeat(' ', 1048576) || 'h_re', 1),
  ('1 MB of open braces', repeat('{', 1048576), 1),
  ('1 MB of escapes', 'h_re{v="' || repeat('\n', 524288) || '"}', 1),
  ('1 MB regex', 'h_re{v=~"' || repeat('a', 1048576) || '"}', 1),
  ('1 MB regex of dots', 'h_re{v=~"' || repeat('.', 1048576) || '"}', 1),
  ('1 MB unterminated value', 'h_re{v="' || repeat('a', 1048576), 1),
  ('regex with 100,000 alternatives', 'h_re{v=~"' || (SELECT string_agg('a' || i, '|') FROM generate_series(1, 100000) i) || '"}', 2),
  ('100,000 distinct != matchers', 'h_re{' || (SELECT string_agg(format('k%s!="v"', i), ',') FROM generate_series(1, 100000) i) || '}', 2),
  ('100,000 regex matchers', 'h_re{' || (SELECT string_agg(format('k%s=~"v"', i), ',') FROM generate_series(1, 100000) i) || '}', 2),
  ('one matcher repeated 100,000 times', 'h_re{' || (SELECT string_agg('v="a"', ',') FROM generate_series(1, 100000)) || '}', 2);
UPDATE hostile_sel SET bad = true WHERE note IN (
  'regex with a backreference (a*)*\1', 'regex with a backreference (a|aa)+\1b',
  'empty selector', 'only spaces', 'only braces', 'open brace', 'close brace', 'unbalanced open brace',
  'unbalanced close brace', 'unterminated matcher list', 'unterminated double quote', 'unterminated single quote',
  'unterminated backtick', 'extra closing brace', 'nested braces', 'unquoted value', 'empty label',
  'label without operator', 'double equals', 'operator =~~', 'lone comma', 'leading comma', 'metric name twice',
  'metric name and __name__', '__name__ invalid metric name', 'quoted empty label', 'space in metric name',
  'metric name starting with a digit', 'non-ASCII metric name', 'SQL fragment', 'SQL fragment after a selector',
  'SQL fragment in a regex', 'backslash at the end', 'escaped closing quote', 'escape \x without digits',
  'escape \x with one digit', 'escape \x with non-hex digits', 'escape \u12', 'escape \u with non-hex digits',
  'escape \U beyond U+10FFFF', 'escape \u of a surrogate', 'escape \x00 (NUL)', 'escape \000 (NUL)',
  'escape \u0000 (NUL)', 'escape \xff', 'escape \377', 'escape \400', 'unknown escape \q', 'escape \xff in a label',
  'truncated UTF-8 by escape', 'overlong UTF-8 by escapes', 'no-break space as whitespace', 'regex a{1000}{1000}',
  'regex [[:alpha:]', 'regex (', 'regex [', 'regex x{2,1}', 'regex of one backslash', 'regex with a NUL escape',
  'regex escape \u00', 'invalid regex on __name__', '1 MB metric name', '1 MB of open braces', '1 MB unterminated value');
UPDATE hostile_sel SET bad = false WHERE note IN (
  'trailing comma', 'quoted metric name in braces', '__name__ matches everything', '__name__ not empty',
  'quoted label with dots', 'SQL fragment in a value', 'SQL fragment in a label', 'parameter marker in a value',
  'format specifiers in a value', 'single quote in a value', 'double quotes in a single-quoted value',
  'escaped double quote', 'escaped backslash', 'escape \U of U+10FFFF', 'backslashes in a backtick string',
  'raw control characters', 'newlines between tokens', 'vertical tab and form feed', 'label repeated with two values',
  'label repeated with =~ and !~', 'regex (a+)+$', 'regex (a|a)*b', 'regex ((((((a*)*)*)*)*)*)b', 'negated regex (a|a)*b',
  'regex lookarounds', 'regex $^', 'regex that matches everything', 'empty regex',
  'regex \d{0,255}', 'regex class of all bytes', 'pathological regex on __name__', '100 __name__ matchers',
  '1 MB value', '1 MB label', '1 MB quoted label', '1 MB of whitespace', '1 MB of escapes',
  '100,000 distinct != matchers', '100,000 regex matchers', 'one matcher repeated 100,000 times');
CREATE FUNCTION pg_temp.hs(text) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT v FROM hostile_sel WHERE note = $1 $$;

-- Float8 values that must round-trip bit for bit (API.md section 1).
CREATE FUNCTION pg_temp.specials() RETURNS float8[] LANGUAGE sql IMMUTABLE AS $$
  SELECT '{NaN,-NaN,Infinity,-Infinity,-0,0,5e-324,-5e-324,2.2250738585072014e-308,1.7976931348623157e308,-1.7976931348623157e308,1}'::float8[] $$;
-- The bit patterns of a float8[] (or of a column read back), comma-separated.
CREATE FUNCTION pg_temp.bits(float8[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(encode(float8send(v), 'hex'), ',' ORDER BY i) FROM unnest($1) WITH ORDINALITY u(v, i) $$;

-- The extreme timestamps PostgreSQL accepts.
CREATE FUNCTION pg_temp.tmin() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ SELECT '4714-11-24 00:00:00+00 BC'::timestamptz $$;
CREATE FUNCTION pg_temp.tmax() RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ SELECT '294276-12-31 23:59:59.999999+00'::timestamptz $$;

-- A COPY ... FROM PROGRAM statement whose program prints exactly these bytes
-- (each as an octal escape of printf, so any byte, NUL included, gets through).
CREATE FUNCTION pg_temp.copy_bytes(bytes bytea, options text DEFAULT '') RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('COPY aegis.points FROM PROGRAM %L %s', 'printf ''' ||
           (SELECT string_agg('\' || (b / 64) || (b / 8 % 8) || (b % 8), '' ORDER BY i)
              FROM (SELECT i, get_byte(bytes, i) AS b FROM generate_series(0, length(bytes) - 1) i) x) || '''', options) $$;
-- A binary COPY stream of (metric, tags, ts as microseconds since 2000, float8 bits as hex) rows.
CREATE FUNCTION pg_temp.copy_binary(rows text[][]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT '\x5047434f50590aff0d0a00'::bytea || int4send(0) || int4send(0) ||
         coalesce((SELECT string_agg(int2send(4::int2) ||
                                     int4send(length(convert_to(rows[r][1], 'UTF8'))) || convert_to(rows[r][1], 'UTF8') ||
                                     int4send(1 + length(convert_to(rows[r][2], 'UTF8'))) || '\x01'::bytea || convert_to(rows[r][2], 'UTF8') ||
                                     int4send(8) || int8send(rows[r][3]::bigint) ||
                                     int4send(length(decode(rows[r][4], 'hex'))) || decode(rows[r][4], 'hex'), '' ORDER BY r)
                     FROM generate_subscripts(rows, 1) r), '') ||
         int2send(-1::int2) $$;

-------------------------------------------------------------------------------
-- Data the later calls read (keep): special values through every write path,
-- extreme timestamps, long tag values for the regexes, big batches.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, keep) VALUES
  ('write: NaN, -NaN, ±Infinity, -0, subnormals and extremes one point at a time',
   $$SELECT count(aegis.write('h_vals', '{"p": "single"}', '2024-01-01'::timestamptz + i * interval '1 second', v))
       FROM unnest(pg_temp.specials()) WITH ORDINALITY u(v, i)$$, true),
  ('write batch: the special values', $$SELECT aegis.write('h_vals', '{"p": "batch"}',
       ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 12) i), pg_temp.specials())$$, true),
  ('write batch: 1,200 special values (straight into blocks)', $$SELECT aegis.write('h_vals', '{"p": "block"}',
       ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 1200) i),
       ARRAY(SELECT (pg_temp.specials())[1 + i % 12] FROM generate_series(1, 1200) i))$$, true),
  ('INSERT INTO aegis.points: the special values', $$INSERT INTO aegis.points
       SELECT 'h_vals', '{"p": "insert"}', '2024-01-01'::timestamptz + i * interval '1 second', v
         FROM unnest(pg_temp.specials()) WITH ORDINALITY u(v, i)$$, true),
  ('write_now: NaN', $$SELECT aegis.write_now('h_vals', '{"p": "now"}', 'NaN')$$, true),
  ('write_now: -0', $$SELECT aegis.write_now('h_vals', '{"p": "now0"}', '-0')$$, true),
  ('write: the smallest timestamp (4714-11-24 BC)', $$SELECT aegis.write('h_ext', '{"p": "single"}', pg_temp.tmin(), 1)$$, true),
  ('write: 4713-01-01 BC', $$SELECT aegis.write('h_ext', '{"p": "single"}', '4713-01-01 00:00:00+00 BC', 2)$$, true),
  ('write: 0001-01-01 BC', $$SELECT aegis.write('h_ext', '{"p": "single"}', '0001-01-01 00:00:00+00 BC', 3)$$, true),
  ('write: the largest timestamp (294276-12-31 23:59:59.999999)', $$SELECT aegis.write('h_ext', '{"p": "single"}', pg_temp.tmax(), 4)$$, true),
  ('write batch: 1,000 points from the smallest timestamp (a block)', $$SELECT aegis.write('h_ext', '{"p": "low"}',
       ARRAY(SELECT pg_temp.tmin() + i * interval '1 microsecond' FROM generate_series(0, 999) i),
       ARRAY(SELECT i::float8 FROM generate_series(0, 999) i))$$, true),
  ('write batch: 1,000 points up to the largest timestamp (a block)', $$SELECT aegis.write('h_ext', '{"p": "high"}',
       ARRAY(SELECT pg_temp.tmax() - i * interval '1 microsecond' FROM generate_series(0, 999) i),
       ARRAY(SELECT i::float8 FROM generate_series(0, 999) i))$$, true),
  ('write batch: a block spanning the whole timestamp range (deltas beyond int64)', $$SELECT aegis.write('h_ext', '{"p": "span"}',
       ARRAY[pg_temp.tmin(), pg_temp.tmin() + interval '1 microsecond'] ||
       ARRAY(SELECT pg_temp.tmax() - i * interval '1 microsecond' FROM generate_series(0, 997) i) ||
       ARRAY['2000-01-01'::timestamptz, '1999-12-31 23:59:59.999999'],
       ARRAY(SELECT i::float8 FROM generate_series(1, 1002) i))$$, true),
  ('write: long tag values for the regexes', $$SELECT count(aegis.write('h_re', jsonb_build_object('v', repeat('a', n) || s), '2024-01-01', n))
       FROM (VALUES (30), (1000), (2500)) a(n), (VALUES (''), ('!')) b(s)$$, true),
  ('write: a short tag value for the regexes', $$SELECT aegis.write('h_re', '{"v": "a", "k1": "v"}', '2024-01-01', 1)$$, true);

-- Special values through COPY (text and binary): NaN payloads, signalling
-- NaNs and negative NaNs only binary COPY can carry.
INSERT INTO hostile_calls (label, call, keep) VALUES
  ('COPY aegis.points (text): the special values',
   pg_temp.copy_bytes(convert_to((SELECT string_agg(format(E'h_vals\t{"p": "copy"}\t2024-01-01 00:00:%s+00\t%s\n', lpad(i::text, 2, '0'), v::text), '' ORDER BY i)
                                   FROM unnest(pg_temp.specials()) WITH ORDINALITY u(v, i)), 'UTF8')), true),
  ('COPY aegis.points (binary): NaN payloads, signalling and negative NaNs, -0, subnormals',
   pg_temp.copy_bytes(pg_temp.copy_binary(ARRAY[
     ['h_vals', '{"p": "binary"}', '757382400000000', '7ff0000000000001'],
     ['h_vals', '{"p": "binary"}', '757382401000000', '7ff8000000000001'],
     ['h_vals', '{"p": "binary"}', '757382402000000', 'fff0000000000001'],
     ['h_vals', '{"p": "binary"}', '757382403000000', '7fffffffffffffff'],
     ['h_vals', '{"p": "binary"}', '757382404000000', 'ffffffffffffffff'],
     ['h_vals', '{"p": "binary"}', '757382405000000', '7ff4000000000000'],
     ['h_vals', '{"p": "binary"}', '757382406000000', '8000000000000000'],
     ['h_vals', '{"p": "binary"}', '757382407000000', '0000000000000001'],
     ['h_vals', '{"p": "binary"}', '757382408000000', '800fffffffffffff']]), 'WITH (FORMAT binary)'), true);

-- Round trips, before and after compression.
CREATE FUNCTION pg_temp.add_round_trips(stage text) RETURNS void LANGUAGE sql AS $f$
  INSERT INTO hostile_calls (label, call, expected) VALUES
    (format('read %s: single writes keep every bit of NaN, -NaN, ±Infinity, -0, subnormals', stage),
     $$SELECT pg_temp.bits(array_agg(value ORDER BY ts)) FROM aegis.read('h_vals{p="single"}')$$, pg_temp.bits(pg_temp.specials())),
    (format('read %s: a batch keeps every bit', stage),
     $$SELECT pg_temp.bits(array_agg(value ORDER BY ts)) FROM aegis.read('h_vals{p="batch"}')$$, pg_temp.bits(pg_temp.specials())),
    (format('read %s: a 1,200-point batch (blocks) keeps every bit', stage),
     $$SELECT md5(pg_temp.bits(array_agg(value ORDER BY ts))) FROM aegis.read('h_vals{p="block"}')$$,
     (SELECT md5(pg_temp.bits(array_agg((pg_temp.specials())[1 + i % 12] ORDER BY i))) FROM generate_series(1, 1200) i)),
    (format('read %s: INSERT keeps every bit', stage),
     $$SELECT pg_temp.bits(array_agg(value ORDER BY ts)) FROM aegis.read('h_vals{p="insert"}')$$, pg_temp.bits(pg_temp.specials())),
    (format('read %s: COPY (text) keeps every value its text form carries', stage),
     $$SELECT pg_temp.bits(array_agg(value ORDER BY ts)) FROM aegis.read('h_vals{p="copy"}')$$,
     pg_temp.bits(ARRAY(SELECT v::text::float8 FROM unnest(pg_temp.specials()) WITH ORDINALITY u(v, i) ORDER BY i))),
    (format('read %s: COPY (binary) keeps NaN payloads and signalling NaNs', stage),
     $$SELECT string_agg(encode(float8send(value), 'hex'), ',' ORDER BY ts) FROM aegis.read('h_vals{p="binary"}')$$,
     '7ff0000000000001,7ff8000000000001,fff0000000000001,7fffffffffffffff,ffffffffffffffff,7ff4000000000000,8000000000000000,0000000000000001,800fffffffffffff'),
    (format('read %s: write_now keeps NaN and -0', stage),
     $$SELECT string_agg(encode(float8send(value), 'hex'), ',' ORDER BY tags::text) FROM aegis.read('h_vals{p=~"now.*"}')$$,
     '7ff8000000000000,8000000000000000'),
    (format('read %s: extreme single timestamps come back', stage),
     $$SELECT string_agg(ts::text || '=' || value, ',' ORDER BY ts) FROM aegis.read('h_ext{p="single"}')$$,
     '4714-11-24 00:00:00+00 BC=1,4713-01-01 00:00:00+00 BC=2,0001-01-01 00:00:00+00 BC=3,294276-12-31 23:59:59.999999+00=4'),
    (format('read %s: a block from the smallest timestamp comes back exactly', stage),
     $$SELECT md5(string_agg(ts::text || '=' || value, ',' ORDER BY ts)) FROM aegis.read('h_ext{p="low"}')$$,
     (SELECT md5(string_agg((pg_temp.tmin() + i * interval '1 microsecond')::text || '=' || i, ',' ORDER BY i)) FROM generate_series(0, 999) i)),
    (format('read %s: a block up to the largest timestamp comes back exactly', stage),
     $$SELECT md5(string_agg(ts::text || '=' || value, ',' ORDER BY ts)) FROM aegis.read('h_ext{p="high"}')$$,
     (SELECT md5(string_agg((pg_temp.tmax() - i * interval '1 microsecond')::text || '=' || i, ',' ORDER BY i DESC)) FROM generate_series(0, 999) i)),
    (format('read %s: a block spanning the whole timestamp range comes back exactly', stage),
     $$SELECT md5(string_agg(ts::text || '=' || value, ',' ORDER BY ts)) FROM aegis.read('h_ext{p="span"}')$$,
     (SELECT md5(string_agg(t::text || '=' || v, ',' ORDER BY t)) FROM unnest(
        ARRAY[pg_temp.tmin(), pg_temp.tmin() + interval '1 microsecond'] ||
        ARRAY(SELECT pg_temp.tmax() - i * interval '1 microsecond' FROM generate_series(0, 997) i) ||
        ARRAY['2000-01-01'::timestamptz, '1999-12-31 23:59:59.999999'],
        ARRAY(SELECT i::float8 FROM generate_series(1, 1002) i)) u(t, v))),
    (format('latest %s: the newest point at the largest timestamp', stage),
     $$SELECT string_agg(tags ->> 'p' || '@' || ts::text, ',' ORDER BY tags ->> 'p') FROM aegis.latest('h_ext')$$,
     'high@294276-12-31 23:59:59.999999+00,low@4714-11-24 00:00:00.000999+00 BC,single@294276-12-31 23:59:59.999999+00,span@294276-12-31 23:59:59.999999+00')
$f$;
DO $$ BEGIN PERFORM pg_temp.add_round_trips('from recent rows'); END $$;
INSERT INTO hostile_calls (label, call, keep) VALUES
  ('compress(''-292000 years''): packs the recent points (the special values too) into blocks',
   $$SELECT aegis.compress('-292000 years') > 0$$, true);
DO $$ BEGIN PERFORM pg_temp.add_round_trips('from blocks'); END $$;

-- The 10-million-point batch (2030 on: selectors that match everything read
-- until 2029), and 1,000,001 rows through INSERT (the row buffer is written
-- once mid-statement, at 1,000,000 rows).
INSERT INTO hostile_calls (label, call, allowed, expected, keep) VALUES
  ('write batch: 10,000,000 points', $$SELECT aegis.write('h_batch10m', '{}',
       ARRAY(SELECT '2030-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, 10000000) i),
       ARRAY(SELECT i::float8 FROM generate_series(1, 10000000) i))$$, '{54000}', NULL, true),
  ('the 10,000,000-point batch is all there (or it was refused)',
   $$SELECT coalesce((SELECT value FROM aegis.aggregate('h_batch10m', 'count', '-infinity', 'infinity')), 10000000)::text
            || '/' || coalesce((SELECT ts::text FROM aegis.latest('h_batch10m')), '2030-04-26 17:46:40+00')$$,
   '{}', '10000000/2030-04-26 17:46:40+00', false),
  ('INSERT INTO aegis.points: 1,000,001 rows', $$INSERT INTO aegis.points
       SELECT 'h_ins1m', '{}', '2030-01-01'::timestamptz + i * interval '1 second', i FROM generate_series(1, 1000001) i$$,
   '{}', NULL, true),
  ('the 1,000,001 inserted rows are all there',
   $$SELECT count(*) || '/' || sum(value) FROM aegis.read('h_ins1m')$$, '{}', '1000001/500001500001', false),
  ('INSERT INTO aegis.points: 1,000,001 rows, the last one infinite',
   $$INSERT INTO aegis.points SELECT 'h_ins_bad', '{}',
       CASE WHEN i > 1000000 THEN 'infinity' ELSE '2030-01-01'::timestamptz + i * interval '1 second' END, i
       FROM generate_series(1, 1000001) i$$, '{22008}', NULL, true),
  ('the failed 1,000,001-row INSERT left no series and no metric',
   $$SELECT (SELECT count(*) FROM aegis.series WHERE metric = 'h_ins_bad') + (SELECT count(*) FROM aegis.metrics WHERE name = 'h_ins_bad')$$,
   '{}', '0', false);

-- Scale-out without Citus (docs/scale-out.md): refused with 55000 whatever
-- the shard count, and nothing is distributed.
INSERT INTO hostile_calls (label, call, allowed, expected, must_fail)
SELECT format('distribute(%s) without Citus', n), format('SELECT aegis.distribute(%s)', n), '{55000}', NULL, true
  FROM unnest(ARRAY['NULL', '0', '-1', '1', '2147483647', '-2147483648']) n
UNION ALL
VALUES ('distribute_series_ids() without Citus', 'SELECT aegis.distribute_series_ids()', '{55000}'::text[], NULL, true),
       ('undistribute() without Citus', 'SELECT aegis.undistribute()', '{55000}'::text[], NULL, true),
       ('is_distributed() without Citus', 'SELECT aegis.is_distributed()', '{}', 'false', false);

-------------------------------------------------------------------------------
-- Catalog and write functions × hostile text.
-------------------------------------------------------------------------------

-- strict: 'name' = must fail unless the text is a valid metric name, 'all' =
-- must fail for every text here, 'fill' = unless it is a number, '' = either.
INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('%s: %s', f.what, t.note), format(f.call, quote_literal(t.note)), f.allowed,
       CASE f.strict WHEN 'name' THEN NOT t.valid_name WHEN 'all' THEN true
                     WHEN 'fill' THEN t.v NOT IN ('NaN', 'Infinity') ELSE false END
  FROM hostile_text t,
       (VALUES ('create_metric(name)', 'SELECT aegis.create_metric(pg_temp.ht(%s))', '{22023}'::text[], 'name'),
               ('create_metric(kind)', 'SELECT aegis.create_metric(''h_kind'', pg_temp.ht(%s))', '{22023}', 'all'),
               ('create_metric(unit, description)', 'SELECT aegis.create_metric(''h_unit'', ''gauge'', pg_temp.ht(%1$s), pg_temp.ht(%1$s))', '{}', ''),
               ('drop_metric(name)', 'SELECT aegis.drop_metric(pg_temp.ht(%s))', '{22023,42704}', 'all'),
               ('describe_metric(name)', 'SELECT aegis.describe_metric(pg_temp.ht(%s), ''counter'', ''u'', ''d'')', '{22023}', 'name'),
               ('describe_metric(kind)', 'SELECT aegis.describe_metric(''h_kind'', pg_temp.ht(%s))', '{22023}', 'all'),
               ('describe_metric(unit, description)', 'SELECT aegis.describe_metric(''h_unit'', NULL, pg_temp.ht(%1$s), pg_temp.ht(%1$s))', '{}', ''),
               ('write(metric)', 'SELECT aegis.write(pg_temp.ht(%s), ''{}'', ''2024-01-01'', 1)', '{22023}', 'name'),
               ('write batch(metric)', 'SELECT aegis.write(pg_temp.ht(%s), ''{}'', ARRAY[''2024-01-01''::timestamptz], ARRAY[1.0::float8])', '{22023}', 'name'),
               ('empty write batch(metric)', 'SELECT aegis.write(pg_temp.ht(%s), ''{}'', ''{}''::timestamptz[], ''{}''::float8[])', '{22023}', 'name'),
               ('write_now(metric)', 'SELECT aegis.write_now(pg_temp.ht(%s), ''{}'', 1)', '{22023}', 'name'),
               ('INSERT INTO aegis.points(metric)', 'INSERT INTO aegis.points VALUES (pg_temp.ht(%s), ''{}'', ''2024-01-01'', 1)', '{22023}', 'name'),
               ('write(tag key)', 'SELECT aegis.write(''h_tags'', jsonb_build_object(pg_temp.ht(%s), ''v''), ''2024-01-01'', 1)', '{22023,54000}', ''),
               ('write(tag value)', 'SELECT aegis.write(''h_tags'', jsonb_build_object(''k'', pg_temp.ht(%s)), ''2024-01-01'', 1)', '{22023,54000}', ''),
               ('tag_values(key)', 'SELECT count(*) FROM aegis.tag_values(pg_temp.ht(%s))', '{}', ''),
               ('tag_values(key, selector)', 'SELECT count(*) FROM aegis.tag_values(pg_temp.ht(%1$s), pg_temp.ht(%1$s))', '{42601,2201B,54000}', ''),
               ('aggregate(fn)', 'SELECT count(*) FROM aegis.aggregate(''h_vals'', pg_temp.ht(%s), ''-infinity'', ''infinity'')', '{22023}', 'all'),
               ('aggregate(fill)', 'SELECT count(*) FROM aegis.aggregate(''h_vals'', ''avg'', ''2024-01-01'', ''2024-01-02'', ''1 hour'', NULL, pg_temp.ht(%s))', '{22023}', 'fill'),
               ('aggregate(group_by key)', 'SELECT count(*) FROM aegis.aggregate(''h_vals'', ''sum'', ''-infinity'', ''infinity'', ''1 day'', ARRAY[pg_temp.ht(%s)])', '{22003}', ''),
               ('time_bucket(timezone)', 'SELECT aegis.time_bucket(''1 day'', ''2024-03-31 01:30+00'', pg_temp.ht(%s))', '{22023}', ''),
               ('time_bucket(timezone, origin, offset)', 'SELECT aegis.time_bucket(''1 month'', pg_temp.tmax(), pg_temp.ht(%s), pg_temp.tmin(), ''-1 day'')', '{22023,22008}', '')
       ) f(what, call, allowed, strict);
-- A valid name must be accepted by every write path (the others must be 22023).
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('write of valid name "%s" succeeds', t.note),
       format('SELECT aegis.write(pg_temp.ht(%L), ''{}'', ''2024-01-01'', 1), aegis.write_now(pg_temp.ht(%1$L), ''{}'', 1)', t.note), '{}'
  FROM hostile_text t WHERE t.valid_name;
-- The error message of a 1 MB name must stay bounded (it quotes at most 200 bytes).
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('a 1 MB metric name: the 22023 message stays short',
   $c$DO $d$ BEGIN PERFORM aegis.write(pg_temp.ht('1 MB of a'), '{}', '2024-01-01', 1);
      RAISE EXCEPTION 'a 1 MB metric name was accepted';
      EXCEPTION WHEN invalid_parameter_value THEN
        IF length(SQLERRM) > 1000 THEN RAISE EXCEPTION 'message of % bytes', length(SQLERRM); END IF; END $d$$c$, NULL);

-------------------------------------------------------------------------------
-- Tags × every write path.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('%s: tags %s', f.what, j.note), format(f.call, quote_literal(j.note)),
       CASE WHEN j.valid OR f.what LIKE 'SELECT%' THEN '{54000}'::text[] ELSE '{22023}' END,
       NOT j.valid AND f.what NOT LIKE 'SELECT%'
  FROM hostile_json j,
       (VALUES ('write', 'SELECT aegis.write(''h_tags'', pg_temp.hj(%s), ''2024-01-01'', 1)'),
               ('write batch', 'SELECT aegis.write(''h_tags'', pg_temp.hj(%s), ARRAY[''2024-01-01''::timestamptz], ARRAY[1.0::float8])'),
               ('empty write batch', 'SELECT aegis.write(''h_tags'', pg_temp.hj(%s), ''{}''::timestamptz[], ''{}''::float8[])'),
               ('write_now', 'SELECT aegis.write_now(''h_tags'', pg_temp.hj(%s), 1)'),
               ('INSERT INTO aegis.points', 'INSERT INTO aegis.points VALUES (''h_tags'', pg_temp.hj(%s), ''2024-01-01'', 1)'),
               ('SELECT FROM aegis.points WHERE tags @>', 'SELECT count(*) FROM aegis.points WHERE tags @> pg_temp.hj(%s)')
       ) f(what, call)
 WHERE NOT (f.what = 'empty write batch' AND j.valid);
-- jsonb literals PostgreSQL itself rejects before the call.
INSERT INTO hostile_calls (label, call, allowed) VALUES
  ('write: tags with \u0000 (PostgreSQL rejects the literal)', $$SELECT aegis.write('h_tags', '{"a": "\u0000"}', '2024-01-01', 1)$$, '{22P05}'),
  ('write: tags with a lone surrogate (PostgreSQL rejects the literal)', $$SELECT aegis.write('h_tags', '{"a": "\ud800"}', '2024-01-01', 1)$$, '{22P02}'),
  ('write: tags that are not JSON', $$SELECT aegis.write('h_tags', '{a: b}', '2024-01-01', 1)$$, '{22P02}'),
  ('write: tags 100,000 levels deep (PostgreSQL''s own limit)', $$SELECT aegis.write('h_tags', (repeat('[', 100000) || repeat(']', 100000))::jsonb, '2024-01-01', 1)$$, '{22023,54001}'),
  ('write: the same tags with reordered keys and spaces',
   $$SELECT aegis.write('h_tagorder', '{"a": "1", "b": "2"}', '2024-01-01', 1), aegis.write('h_tagorder', '{ "b":"2",  "a" : "1" }', '2024-01-02', 2)$$, '{}');
UPDATE hostile_calls SET keep = true WHERE label = 'write: the same tags with reordered keys and spaces';
UPDATE hostile_calls SET must_fail = true WHERE label ~ '^write: tags (with \\u0000|with a lone|that are not|100,000 levels)';
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('read: tags with reordered keys and spaces are one series',
   $$SELECT count(DISTINCT series_id) || '/' || count(*) FROM aegis.read('h_tagorder')$$, '1/2');

-------------------------------------------------------------------------------
-- Values and timestamps.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('%s: ts %s', f.what, t.note), format(f.call, t.ts),
       CASE WHEN f.writes THEN t.allowed ELSE '{22008,22003,22023}' END, f.writes AND t.allowed <> '{}'
  FROM (VALUES ('infinity', '''infinity''::timestamptz', '{22008}'::text[]),
               ('-infinity', '''-infinity''::timestamptz', '{22008}'),
               ('the smallest', 'pg_temp.tmin()', '{}'),
               ('the largest', 'pg_temp.tmax()', '{}'),
               ('one past the largest', '''294277-01-01 00:00:00+00''::timestamptz', '{22008}'),
               ('one before the smallest', '''4714-11-23 23:59:59.999999+00 BC''::timestamptz', '{22008}')) t(note, ts, allowed),
       (VALUES ('write', 'SELECT aegis.write(''h_ts'', ''{}'', %s, ''NaN'')', true),
               ('write batch', 'SELECT aegis.write(''h_ts'', ''{}'', ARRAY[%s, ''2024-01-01''], ARRAY[''-0''::float8, ''Infinity''])', true),
               ('1,000-point write batch', 'SELECT aegis.write(''h_ts'', ''{}'', ARRAY[%s] || ARRAY(SELECT ''2024-01-01''::timestamptz + i * interval ''1 s'' FROM generate_series(1, 999) i), ARRAY(SELECT ''-Infinity''::float8 FROM generate_series(1, 1000)))', true),
               ('INSERT INTO aegis.points', 'INSERT INTO aegis.points VALUES (''h_ts'', ''{}'', %s, ''-Infinity'')', true),
               ('read(since)', 'SELECT count(*) FROM aegis.read(''h_ext'', %s)', false),
               ('read(until)', 'SELECT count(*) FROM aegis.read(''h_ext'', ''-infinity'', %s)', false),
               ('series_points(since)', 'SELECT count(*) FROM aegis.series_points((SELECT min(series_id) FROM aegis.series WHERE metric = ''h_ext''), %s)', false),
               ('aggregate(since)', 'SELECT count(*) FROM aegis.aggregate(''h_ext'', ''count'', %s, ''infinity'', ''1000 years'')', false),
               ('aggregate(until)', 'SELECT count(*) FROM aegis.aggregate(''h_ext'', ''last'', ''-infinity'', %s, ''1 month'')', false),
               ('aggregate(since = until)', 'SELECT count(*) FROM aegis.aggregate(''h_ext'', ''count'', %1$s, %1$s, ''1 day'', NULL, ''linear'')', false),
               ('first/last', 'SELECT aegis.first(v, t)::text || aegis.last(v, t)::text FROM (VALUES (''NaN''::float8, %s), (1, ''2024-01-01'')) x(v, t)', false),
               ('time_bucket', 'SELECT aegis.time_bucket(''1 hour'', %s)', false),
               ('time_bucket(origin)', 'SELECT aegis.time_bucket(''1 hour'', ''2024-01-01'', %s)', false),
               ('time_bucket(timezone)', 'SELECT aegis.time_bucket(''1 day'', %s, ''Pacific/Kiritimati'')', false)
       ) f(what, call, writes);
-- Infinite bounds are valid for reads.
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('read(''-infinity'', ''infinity'') of the extreme series', $$SELECT count(*) FROM aegis.read('h_ext', '-infinity', 'infinity')$$, '3006'),
  ('read(''infinity'', ''-infinity'') is empty', $$SELECT count(*) FROM aegis.read('h_ext', 'infinity', '-infinity')$$, '0'),
  ('read(since > until) is empty', $$SELECT count(*) FROM aegis.read('h_ext', '2024-01-02', '2024-01-01')$$, '0'),
  ('read(the smallest, the largest) excludes the largest (half-open)', $$SELECT count(*) FROM aegis.read('h_ext', pg_temp.tmin(), pg_temp.tmax())$$, '3003'),
  ('aggregate count over the whole timestamp range', $$SELECT value FROM aegis.aggregate('h_ext', 'count', '-infinity', 'infinity', NULL, '{}')$$, '3006'),
  ('first/last: NaN at -infinity, -0 at infinity',
   $$SELECT aegis.first(v, t)::text || ' ' || encode(float8send(aegis.last(v, t)), 'hex') FROM (VALUES ('NaN'::float8, '-infinity'::timestamptz), ('-0', 'infinity'), (1, '2024-01-01')) x(v, t)$$,
   'NaN 8000000000000000'),
  ('first/last: -NaN bits survive', $$SELECT encode(float8send(aegis.first(v, t)), 'hex') FROM (VALUES ('-NaN'::float8, now())) x(v, t)$$, 'fff8000000000000'),
  ('first/last: a NULL value at the earliest ts wins', $$SELECT coalesce(aegis.first(v, t)::text, 'NULL') FROM (VALUES (NULL::float8, '-infinity'::timestamptz), (1, '2024-01-01')) x(v, t)$$, 'NULL'),
  ('first/last: only NULL timestamps', $$SELECT coalesce(aegis.last(v, t)::text, 'NULL') FROM (VALUES ('Infinity'::float8, NULL::timestamptz)) x(v, t)$$, 'NULL'),
  ('first/last over the extreme series', $$SELECT aegis.first(value, ts) || ' ' || aegis.last(value, ts) FROM aegis.points WHERE metric = 'h_ext' AND tags @> '{"p": "single"}'$$, '1 4'),
  ('first/last in a moving window frame', $$SELECT sum(f) FROM (SELECT aegis.first(v, t) OVER w + aegis.last(v, t) OVER w AS f FROM
       (SELECT i::float8, '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(1, 10000) i) x(v, t)
       WINDOW w AS (ORDER BY t ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)) y$$, NULL),
  ('first/last with DISTINCT and FILTER', $$SELECT aegis.first(DISTINCT v, t) FILTER (WHERE v <> 'NaN') FROM (VALUES ('NaN'::float8, '-infinity'::timestamptz), (2, pg_temp.tmin())) x(v, t)$$, '2'),
  ('first/last over 1,000,000 rows of NaN and ±Infinity', $$SELECT aegis.last(v, t)::text FROM (SELECT (ARRAY['NaN', 'Infinity', '-Infinity']::float8[])[1 + i % 3], pg_temp.tmin() + i * interval '1 day' FROM generate_series(1, 1000000) i) x(v, t)$$, 'Infinity');
-- aegis.rolling and the counter aggregates aegis.rate/increase/delta.
INSERT INTO hostile_calls (label, call, allowed, must_fail, expected) VALUES
  ('rolling over the extreme series, every fn, a 365,000-day window',
   $$SELECT count(*) FROM hostile_fn f, aegis.rolling('h_ext', f.fn, '365000 days') WHERE f.valid$$, '{}', false, NULL),
  ('rolling over the extreme series, every fn, a 1-microsecond window',
   $$SELECT count(*) FROM hostile_fn f, aegis.rolling('h_ext', f.fn, '1 microsecond') WHERE f.valid$$, '{}', false, NULL),
  ('rolling with the largest width an interval holds',
   $$SELECT count(value) FROM aegis.rolling('h_ext', 'rate', interval '2147483647 days' + interval '2562047788 hours')$$, '{}', false, NULL),
  ('rolling between the smallest and largest timestamps',
   $$SELECT count(*) FROM aegis.rolling('h_ext', 'increase', '1 day', pg_temp.tmin(), pg_temp.tmax())$$, '{}', false, '3003'),
  ('rolling with a month width', $$SELECT count(*) FROM aegis.rolling('h_ext', 'sum', '1 month')$$, '{22023}', true, NULL),
  ('rolling with a zero width', $$SELECT count(*) FROM aegis.rolling('h_ext', 'sum', '0')$$, '{22023}', true, NULL),
  ('rolling with a width of -1 day +25 hours (positive)', $$SELECT count(*) FROM aegis.rolling('h_ext', 'sum', '-1 day 25 hours')$$, '{}', false, '3006'),
  ('rolling with since = until', $$SELECT count(*) FROM aegis.rolling('h_ext', 'sum', '1 day', 'infinity', 'infinity')$$, '{}', false, '0'),
  ('rolling with an unknown fn', $$SELECT count(*) FROM aegis.rolling('h_ext', 'sum(', '1 day')$$, '{22023}', true, NULL),
  ('counter aggregates over NaN, ±Infinity and -0 at extreme timestamps',
   $$SELECT concat_ws(' ', aegis.rate(v, t), aegis.increase(v, t), aegis.delta(v, t)) FROM (VALUES ('NaN'::float8, pg_temp.tmin()), ('Infinity', '2024-01-01'), ('-Infinity', pg_temp.tmax()), ('-0', '2024-01-02')) x(v, t)$$, '{}', false, NULL),
  ('counter aggregates with an infinite window',
   $$SELECT concat_ws(' ', aegis.rate(v, t, '-infinity', 'infinity'), aegis.increase(v, t, '-infinity', 'infinity'), aegis.delta(v, t, '-infinity', 'infinity')) FROM (VALUES (1::float8, pg_temp.tmin()), (5, pg_temp.tmax())) x(v, t)$$, '{}', false, NULL),
  ('counter aggregates with the widest finite window',
   $$SELECT concat_ws(' ', aegis.rate(v, t, pg_temp.tmin(), pg_temp.tmax()), aegis.increase(v, t, pg_temp.tmin(), pg_temp.tmax())) FROM (VALUES (1::float8, pg_temp.tmin()), (5, pg_temp.tmax() - interval '1 microsecond')) x(v, t)$$, '{}', false, NULL),
  ('counter aggregates in moving and growing window frames', $$SELECT round(sum(x)::numeric, 6)::text FROM (SELECT aegis.increase(v, t) OVER (ORDER BY t ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) + aegis.rate(v, t) OVER (ORDER BY t) AS x FROM (SELECT (i % 7)::float8, '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(1, 2000) i) s(v, t)) y$$, '{}', false, NULL),
  ('counter aggregates over samples at one timestamp', $$SELECT coalesce(aegis.rate(v, t)::text, 'NULL') FROM (VALUES (1::float8, '2024-01-01'::timestamptz), (2, '2024-01-01')) x(v, t)$$, '{}', false, 'NULL'),
  ('counter aggregates: a window that changes within the group', $$SELECT aegis.rate(v, t, t, t + interval '1 s') FROM (VALUES (1::float8, now()), (2, now() + interval '1 s')) x(v, t)$$, '{22023}', true, NULL),
  ('counter aggregates: an empty window', $$SELECT aegis.increase(1, now(), 'infinity', '-infinity')$$, '{22023}', true, NULL),
  ('counter aggregates over 1,000,000 rows of NaN and ±Infinity', $$SELECT aegis.increase(v, t)::text FROM (SELECT (ARRAY['NaN', 'Infinity', '-Infinity']::float8[])[1 + i % 3], pg_temp.tmin() + i * interval '1 day' FROM generate_series(1, 1000000) i) x(v, t)$$, '{}', false, 'NaN'),
  ('counter final functions refuse a malformed state', $$SELECT aegis._rate_finalfn('\x414301000300000000000000000000000000000000000000000000000000'::bytea)$$, '{22023}', true, NULL),
  ('counter combine refuses a state of another window', $$SELECT aegis._counter_combinefn('\x414301010000000000000000000000000000000000000000'::bytea, '\x414301000000000000000000000000000000000000000000'::bytea)$$, '{22023}', true, NULL);
-- Partial aggregation with combine functions (parallel workers when they start).
INSERT INTO hostile_calls (label, call, expected, before) VALUES
  ('first/last in parallel: combine functions over NaN and extreme timestamps',
   $$SELECT aegis.first(v, t)::text || ' ' || aegis.last(v, t)::text FROM hostile_ff$$, '-Infinity NaN',
   'SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2'),
  ('counter aggregates in parallel: combine functions over NaN and extreme timestamps',
   $$SELECT concat_ws(' ', aegis.increase(v, t), aegis.delta(v, t, pg_temp.tmin(), pg_temp.tmax())) FROM hostile_ff$$, 'NaN Infinity',
   'SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2');
CREATE TABLE hostile_ff AS
  SELECT CASE WHEN i = 1 THEN '-Infinity'::float8 WHEN i = 200000 THEN 'NaN' ELSE i END AS v,
         CASE WHEN i = 1 THEN pg_temp.tmin() WHEN i = 200000 THEN pg_temp.tmax() ELSE '2024-01-01'::timestamptz + i * interval '1 s' END AS t
    FROM generate_series(1, 200000) i;
ANALYZE hostile_ff;

-------------------------------------------------------------------------------
-- Batch arrays.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('write batch: 1 ts, 2 values', $$SELECT aegis.write('h_arr', '{}', ARRAY['2024-01-01'::timestamptz], ARRAY[1, 2]::float8[])$$, '{2202E}', NULL),
  ('write batch: 2 ts, 1 value', $$SELECT aegis.write('h_arr', '{}', ARRAY['2024-01-01', '2024-01-02']::timestamptz[], ARRAY[1]::float8[])$$, '{2202E}', NULL),
  ('write batch: 0 ts, 1 value', $$SELECT aegis.write('h_arr', '{}', '{}'::timestamptz[], ARRAY['NaN']::float8[])$$, '{2202E}', NULL),
  ('write batch: 1,000 ts, 999 values', $$SELECT aegis.write('h_arr', '{}', ARRAY(SELECT '2024-01-01'::timestamptz + i * interval '1 s' FROM generate_series(1, 1000) i), ARRAY(SELECT 1::float8 FROM generate_series(1, 999)))$$, '{2202E}', NULL),
  ('write batch: 2-D ts', $$SELECT aegis.write('h_arr', '{}', '{{2024-01-01,2024-01-02},{2024-01-03,2024-01-04}}'::timestamptz[], '{1,2,3,4}'::float8[])$$, '{2202E}', NULL),
  ('write batch: 2-D values', $$SELECT aegis.write('h_arr', '{}', '{2024-01-01,2024-01-02,2024-01-03,2024-01-04}'::timestamptz[], '{{1,2},{3,4}}'::float8[])$$, '{2202E}', NULL),
  ('write batch: both 2-D of one shape', $$SELECT aegis.write('h_arr', '{}', '{{2024-01-01,2024-01-02},{2024-01-03,2024-01-04}}'::timestamptz[], '{{1,2},{3,4}}'::float8[])$$, '{2202E}', NULL),
  ('write batch: 3-D empty-ish arrays', $$SELECT aegis.write('h_arr', '{}', '{{{2024-01-01}}}'::timestamptz[], '{{{1}}}'::float8[])$$, '{2202E}', NULL),
  ('write batch: NULL element in ts', $$SELECT aegis.write('h_arr', '{}', ARRAY['2024-01-01', NULL]::timestamptz[], ARRAY[1, 2]::float8[])$$, '{22004}', NULL),
  ('write batch: NULL element in values', $$SELECT aegis.write('h_arr', '{}', ARRAY['2024-01-01', '2024-01-02']::timestamptz[], ARRAY[1, NULL]::float8[])$$, '{22004}', NULL),
  ('write batch: all elements NULL', $$SELECT aegis.write('h_arr', '{}', ARRAY[NULL, NULL]::timestamptz[], ARRAY[NULL, NULL]::float8[])$$, '{22004}', NULL),
  ('write batch: NULL element 5,000 of 10,000', $$SELECT aegis.write('h_arr', '{}', ARRAY(SELECT CASE WHEN i = 5000 THEN NULL ELSE '2024-01-01'::timestamptz + i * interval '1 s' END FROM generate_series(1, 10000) i), ARRAY(SELECT i::float8 FROM generate_series(1, 10000) i))$$, '{22004}', NULL),
  ('write batch: NULL element and unequal lengths', $$SELECT aegis.write('h_arr', '{}', ARRAY[NULL]::timestamptz[], ARRAY[1, NULL]::float8[])$$, '{22004,2202E}', NULL),
  ('write batch: infinity inside', $$SELECT aegis.write('h_arr', '{}', ARRAY['2024-01-01', 'infinity']::timestamptz[], ARRAY[1, 2]::float8[])$$, '{22008}', NULL),
  ('write batch: -infinity in a 1,000-point batch', $$SELECT aegis.write('h_arr', '{}', ARRAY(SELECT CASE WHEN i = 999 THEN '-infinity' ELSE '2024-01-01'::timestamptz + i * interval '1 s' END FROM generate_series(1, 1000) i), ARRAY(SELECT i::float8 FROM generate_series(1, 1000) i))$$, '{22008}', NULL),
  ('write batch: lower bounds 5 and -3', $$SELECT aegis.write('h_arr', '{}', '[5:6]={2024-01-01,2024-01-02}'::timestamptz[], '[-3:-2]={NaN,-0}'::float8[])$$, '{}', '2'),
  ('write batch: empty arrays', $$SELECT aegis.write('h_arr', '{}', '{}'::timestamptz[], '{}'::float8[])$$, '{}', '0'),
  ('write batch: ARRAY[]-style empty arrays', $$SELECT aegis.write('h_arr', '{}', ARRAY[]::timestamptz[], ARRAY[]::float8[])$$, '{}', '0'),
  ('write batch: 10,000 copies of one ts (last wins)', $$SELECT aegis.write('h_arr_dup', '{}', array_fill('2024-01-01'::timestamptz, ARRAY[10000]), ARRAY(SELECT i::float8 FROM generate_series(1, 10000) i))$$, '{}', '1'),
  ('write batch: 2,000 timestamps in descending order', $$SELECT aegis.write('h_arr', '{}', ARRAY(SELECT '2024-01-01'::timestamptz - i * interval '1 s' FROM generate_series(1, 2000) i), ARRAY(SELECT i::float8 FROM generate_series(1, 2000) i))$$, '{}', '2000'),
  ('write batch: NULL arrays with hostile tags', $$SELECT aegis.write('h_arr', '[]', NULL::timestamptz[], ARRAY[NULL]::float8[])$$, '{22004,22023}', NULL),
  ('write batch: arrays of 1 MB metric and 2-D arrays', $$SELECT aegis.write(pg_temp.ht('1 MB of a'), '{}', '{{2024-01-01}}'::timestamptz[], '{{1}}'::float8[])$$, '{22023,2202E}', NULL);
UPDATE hostile_calls SET must_fail = true
 WHERE label LIKE 'write batch: %' AND allowed <> '{}' AND label <> 'write batch: 10,000,000 points'
   AND label NOT LIKE 'write batch: tags %' AND label NOT LIKE 'write batch: ts %';
UPDATE hostile_calls SET keep = true WHERE label = 'write batch: 10,000 copies of one ts (last wins)';
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('read: of 10,000 copies of one ts the last was kept', $$SELECT count(*) || '/' || max(value) FROM aegis.read('h_arr_dup')$$, '1/10000');

-------------------------------------------------------------------------------
-- Selectors × every function that takes one.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('%s: selector %s', f.what, s.note), format(f.call, quote_literal(s.note)),
       CASE WHEN s.bad IS FALSE AND s.heavy = 0 THEN '{}'::text[] ELSE '{42601,2201B,54000,54001}' END, coalesce(s.bad, false)
  FROM hostile_sel s,
       (VALUES ('find_series', 'SELECT count(*) FROM aegis.find_series(pg_temp.hs(%s))', 2),
               ('read', 'SELECT count(*) FROM aegis.read(pg_temp.hs(%s), ''-infinity'', ''2029-01-01'')', 1),
               ('latest', 'SELECT count(*) FROM aegis.latest(pg_temp.hs(%s))', 0),
               ('tag_keys', 'SELECT count(*) FROM aegis.tag_keys(pg_temp.hs(%s))', 0),
               ('tag_values', 'SELECT count(*) FROM aegis.tag_values(''v'', pg_temp.hs(%s))', 0),
               ('explain_selector', 'SELECT count(*) FROM aegis.explain_selector(pg_temp.hs(%s))', 0),
               ('aggregate', 'SELECT count(*) FROM aegis.aggregate(pg_temp.hs(%s), ''count'', ''-infinity'', ''infinity'', ''1 day'')', 0)
       ) f(what, call, takes_heavy)
 WHERE s.heavy <= f.takes_heavy
 ORDER BY s.heavy, s.note, f.what;
-- What some selectors must match (the h_re series: values a×30, a×1000,
-- a×10000, each with and without a trailing '!', and "a").
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('find_series: regexes are anchored', $$SELECT count(*) FROM aegis.find_series('h_re{v=~"a"}')$$, '1'),
  ('find_series: (a+)+$ matches the four all-a values', $$SELECT count(*) FROM aegis.find_series('h_re{v=~"(a+)+$"}')$$, '4'),
  ('find_series: (a|a)*b matches nothing', $$SELECT count(*) FROM aegis.find_series('h_re{v=~"(a|a)*b"}')$$, '0'),
  ('find_series: ((((((a*)*)*)*)*)*)! matches the three values ending in !', $$SELECT count(*) FROM aegis.find_series('h_re{v=~"((((((a*)*)*)*)*)*)!"}')$$, '3'),
  ('find_series: a label repeated with two values matches nothing', $$SELECT count(*) FROM aegis.find_series('h_re{v="a",v="b"}')$$, '0'),
  ('find_series: one matcher repeated 1,000 times matches its series', $$SELECT count(*) FROM aegis.find_series('h_re{' || (SELECT string_agg('v="a"', ',') FROM generate_series(1, 1000)) || '}')$$, '1'),
  ('find_series: the SQL fragments dropped nothing', $$SELECT count(*) > 0 FROM aegis.find_series('{__name__=~".*"}')$$, 'true'),
  ('find_series: \U0010FFFF decodes to U+10FFFF', $$SELECT count(*) FROM aegis.find_series('h_re{v!="\U0010FFFF"}')$$, '7');
-- Backreferences make PostgreSQL's regex engine super-polynomial in the
-- value's length: against a 2,500-character tag value (about the longest a
-- series key allows) this ran for hours (800 characters: 7 s); selectors now
-- refuse back-references (2201B). A statement_timeout of 10 s is plenty.
INSERT INTO hostile_calls (label, call, allowed, before) VALUES
  ('find_series: backreference regex (.*)(.*)(.*)\3\2\1! against 2,500-character values (10 s timeout)',
   $$SELECT count(*) FROM aegis.find_series('h_re{v=~"(.*)(.*)(.*)\\3\\2\\1!"}')$$, '{2201B}', 'SET statement_timeout = ''10s''');
-- A selector must be cancellable: under a 2-second statement_timeout, these
-- must end (an answer, a documented error, or the cancel) within 5 s. Before
-- the 1,000-matcher limit, 100,000 distinct equality matchers were parsed in
-- quadratic time without a cancel check (200,000: 22 s under a 5 s timeout),
-- and 100,000 k="" matchers kept the planner busy for minutes, deaf even to a
-- fast shutdown's SIGTERM.
INSERT INTO hostile_calls (label, call, allowed, before, within) VALUES
  ('find_series: 100,000 distinct equality matchers end within 5 s under a 2 s statement_timeout',
   $$SELECT count(*) FROM aegis.find_series((SELECT 'h_re{' || string_agg(format('k%s="v"', i), ',') || '}' FROM generate_series(1, 100000) i))$$,
   '{42601,54000,54001,57014}', 'SET statement_timeout = ''2s''', '5 seconds'),
  ('find_series: 16,000 matchers k="" end within 5 s under a 2 s statement_timeout',
   $$SELECT count(*) FROM aegis.find_series((SELECT 'h_re{' || string_agg(format('k%s=""', i), ',') || '}' FROM generate_series(1, 16000) i))$$,
   '{42601,54000,54001,57014}', 'SET statement_timeout = ''2s''', '5 seconds'),
  ('find_series: 1,000 matchers k="" end within 5 s under a 2 s statement_timeout',
   $$SELECT count(*) FROM aegis.find_series((SELECT 'h_re{' || string_agg(format('k%s=""', i), ',') || '}' FROM generate_series(1, 1000) i))$$,
   '{54000,57014}', 'SET statement_timeout = ''2s''', '5 seconds'),
  ('find_series: 1,000 distinct equality matchers end within 5 s under a 2 s statement_timeout',
   $$SELECT count(*) FROM aegis.find_series((SELECT 'h_re{' || string_agg(format('k%s="v"', i), ',') || '}' FROM generate_series(1, 1000) i))$$,
   '{54000,57014}', 'SET statement_timeout = ''2s''', '5 seconds');

-------------------------------------------------------------------------------
-- aegis.aggregate: fn, fill, step, group_by, since/until.
-------------------------------------------------------------------------------

CREATE TEMP TABLE hostile_fn (fn text NOT NULL, valid boolean);
INSERT INTO hostile_fn VALUES
  ('count', true), ('sum', true), ('min', true), ('max', true), ('avg', true), ('first', true), ('last', true),
  ('median', true), ('stddev', true), ('variance', true), ('delta', true), ('rate', true), ('increase', true),
  ('sample_delta', true), ('sample_rate', true), ('sample_increase', true), ('irate', true), ('resets', true),
  ('changes', true),
  ('quantile(0)', true), ('quantile(1)', true), ('quantile(0.99)', true), ('quantile(-0)', true), ('quantile( 0.5 )', true),
  (' count ', true),
  ('quantile(2)', false), ('quantile(-0.1)', false), ('quantile(1.0000000000000002)', false), ('quantile(NaN)', false),
  ('quantile(Infinity)', false), ('quantile(-Infinity)', false), ('quantile(', false), ('quantile()', false),
  ('quantile(0.5', false), ('quantile0.5)', false), ('quantile(0.5)(0.5)', false), ('quantile((0.5))', false),
  ('quantile(0.5,0.9)', false), ('quantile(1e-400)', false), ('quantile(1e400)', false), ('quantile(0x1p-1)', false),
  ('quantile(''0.5'')', false), ('quantile', false), ('quantiles(0.5)', false), ('COUNT', false), ('Count', false),
  ('count()', false), ('count(*)', false), ('sum(value)', false), ('avg; DROP TABLE aegis.series; --', false),
  ('percentile(0.5)', false), ('p99', false), ('median(0.5)', false), (E'count\n', false), ('rate(5m)', false),
  ('idelta', false), ('topk(3)', false), ('', false), ('quantile(0.' || repeat('0', 1048576) || '1)', false),
  ('quantile(' || repeat('9', 1048576) || ')', false), (repeat('a', 1048576), false);
UPDATE hostile_fn SET valid = NULL WHERE fn IN ('quantile(-0)', 'quantile( 0.5 )', ' count ', 'quantile(1e-400)', 'quantile(0x1p-1)',
                                              E'count\n', 'quantile(0.' || repeat('0', 1048576) || '1)');
CREATE FUNCTION pg_temp.fn_note(fn text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN length(fn) > 60 THEN left(fn, 20) || '... (' || length(fn) || ' bytes)' ELSE quote_literal(fn) END $$;
INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('aggregate(fn %s) over %s', pg_temp.fn_note(f.fn), d.note),
       format('SELECT count(*) FROM aegis.aggregate(%s, (SELECT fn FROM hostile_fn WHERE md5(fn) = %L), %s)', d.args1, md5(f.fn), d.args2),
       CASE WHEN f.valid IS FALSE THEN '{22023}'::text[] ELSE '{22003}' END
         || CASE WHEN f.valid IS NULL THEN '{22023}'::text[] ELSE '{}' END
         || CASE WHEN d.args1 = '''h_ext''' AND f.valid IS NOT FALSE THEN '{22008}'::text[] ELSE '{}' END,
       f.valid IS FALSE
  FROM hostile_fn f,
       (VALUES ('the special values, one bucket', '''h_vals''', '''-infinity'', ''infinity'''),
               ('the special values, grouped, 1-hour buckets', '''h_vals''', '''2024-01-01'', ''2024-01-02'', ''1 hour'', ''{}'''),
               ('the extreme timestamps, 1000-year buckets', '''h_ext''', '''-infinity'', ''infinity'', ''1000 years'''),
               ('the extreme timestamps, 1-microsecond buckets', '''h_ext''', '''-infinity'', ''infinity'', ''1 microsecond'''),
               ('the extreme timestamps, 1000-year buckets, fill previous', '''h_ext''', 'pg_temp.tmin(), pg_temp.tmax(), ''1000 years'', ''{}'', ''previous''')
       ) d(note, args1, args2)
 WHERE f.valid IS NOT FALSE OR d.note = 'the special values, one bucket';
-- Exact results over the special values.
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('aggregate: count of the single-write specials', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'count', '-infinity', 'infinity')$$, '12'),
  ('aggregate: max of the specials is NaN (float8 order)', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'max', '-infinity', 'infinity')$$, 'NaN'),
  ('aggregate: min of the specials is -Infinity', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'min', '-infinity', 'infinity')$$, '-Infinity'),
  ('aggregate: sum with NaN is NaN', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'sum', '-infinity', 'infinity')$$, 'NaN'),
  ('aggregate: -0 alone sums to -0', $$SELECT encode(float8send(value), 'hex') FROM aegis.aggregate('h_vals{p="single"}', 'sum', '2024-01-01 00:00:05', '2024-01-01 00:00:06')$$, '8000000000000000'),
  ('aggregate: median of the special values equals percentile_cont(0.5)', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'median', '-infinity', 'infinity')$$,
   (SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY v))::text FROM unnest(pg_temp.specials()) v)),
  ('aggregate: stddev of the special values is NaN', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'stddev', '-infinity', 'infinity')$$, 'NaN'),
  ('aggregate: quantile(1) of the special values is NaN (float8 order)', $$SELECT value FROM aegis.aggregate('h_vals{p="single"}', 'quantile(1)', '-infinity', 'infinity')$$, 'NaN');
INSERT INTO hostile_calls (label, call, keep) VALUES
  ('write: two float8 maxima', $$SELECT aegis.write('h_ovf', '{}', ARRAY['2024-01-01', '2024-01-02']::timestamptz[], ARRAY[1.7976931348623157e308, 1.7976931348623157e308]::float8[])$$, true);
INSERT INTO hostile_calls (label, call, allowed, must_fail) VALUES
  ('aggregate: the sum of two float8 maxima overflows (22003)', $$SELECT value FROM aegis.aggregate('h_ovf', 'sum', '-infinity', 'infinity')$$, '{22003}', true),
  ('aggregate: the avg of two float8 maxima overflows (22003)', $$SELECT value FROM aegis.aggregate('h_ovf', 'avg', '-infinity', 'infinity')$$, '{22003}', true);
INSERT INTO hostile_calls (label, call, allowed) VALUES
  ('aggregate: sum of 1,200 values with float8 maxima (blocks)', $$SELECT value FROM aegis.aggregate('h_vals{p="block"}', 'sum', '-infinity', 'infinity', '1 minute', '{}')$$, '{22003}'),
  ('aggregate: avg of 1,200 values with float8 maxima (blocks)', $$SELECT value FROM aegis.aggregate('h_vals{p="block"}', 'avg', '-infinity', 'infinity', NULL, '{}')$$, '{22003}'),
  ('aggregate: quantile(1) of 10,000,000 points (exact quantiles are bounded by work_mem)',
   $$SELECT value FROM aegis.aggregate('h_batch10m', 'quantile(1)', '-infinity', 'infinity')$$, '{54000}');

-- fill: valid true = an answer is required, false = 22023 is, NULL = either.
INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('aggregate(fill %s)', pg_temp.fn_note(f.fill)),
       format('SELECT count(*) FROM aegis.aggregate(''h_vals'', ''avg'', ''2024-01-01'', ''2024-01-02'', ''1 hour'', ''{}'', %L)', f.fill),
       CASE WHEN f.valid THEN '{}'::text[] ELSE '{22023}' END, f.valid IS FALSE
  FROM (VALUES ('none', true), ('null', true), ('previous', true), ('linear', true), ('0', true), ('-1.5', true), ('NaN', true),
               ('Infinity', true), ('-Infinity', true), ('1e308', true), ('  linear  ', true), ('1e309', false), ('-1e309', false),
               ('1e-400', false), ('0x10', NULL), ('LINEAR', false), ('Null', false), ('', false), ('  ', false),
               ('none; DROP TABLE aegis.series; --', false), ('1,5', false), ('1.5.5', false), ('previous()', false),
               (repeat('9', 1048576), false), (repeat(' ', 1048576) || '0', true), ('NULL', false), ('nan', NULL),
               ('-0', true), ('4.9e-324', true)) f(fill, valid);

-- step.
CREATE TEMP TABLE hostile_interval (note text PRIMARY KEY, v interval NOT NULL);
INSERT INTO hostile_interval VALUES
  ('0', '0'), ('-1 hour', '-1 hour'), ('-1 microsecond', '-1 microsecond'), ('1 month 1 day', '1 month 1 day'),
  ('1 month -1 day', '1 month -1 day'), ('1 month 1 microsecond', '1 month 1 microsecond'), ('-1 month', '-1 month'),
  ('1 day -24 hours', '1 day -24 hours'), ('1 day -23 hours', '1 day -23 hours'), ('-1 day 25 hours', '-1 day 25 hours'),
  ('1 microsecond', '1 microsecond'), ('1 day', '1 day'), ('1 month', '1 month'), ('1000 years', '1000 years'),
  ('178000000 years', '178000000 years'), ('-178000000 years', '-178000000 years'), ('2147483647 days', '2147483647 days'),
  ('-2147483648 days', '-2147483648 days'), ('2147483647 days 2562047788 hours', '2147483647 days 2562047788 hours'),
  ('the smallest interval', '-178000000 years -2147483648 days'::interval + ('-2562047788:00:54.775807'::interval - '1 microsecond')),
  ('the largest interval', '178000000 years 2147483647 days 2562047788:00:54.775807'),
  ('-2562047788:00:54.775808', '-2562047788:00:54.775807'::interval - '1 microsecond'), ('2562047788:00:54.775807', '2562047788:00:54.775807');
CREATE FUNCTION pg_temp.hi(text) RETURNS interval LANGUAGE sql STABLE AS $$ SELECT v FROM hostile_interval WHERE note = $1 $$;
INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('aggregate(step %s) %s', i.note, d.note), format(d.call, quote_literal(i.note)), d.allowed,
       i.note IN ('0', '-1 hour', '-1 microsecond', '1 month 1 day', '1 month -1 day', '1 month 1 microsecond', '-1 month',
                  '1 day -24 hours', '-178000000 years', '-2147483648 days', '-2562047788:00:54.775808', 'the smallest interval')
  FROM hostile_interval i,
       (VALUES ('over a day of specials', 'SELECT count(*) FROM aegis.aggregate(''h_vals'', ''avg'', ''2024-01-01'', ''2024-01-02'', pg_temp.hi(%s))', '{22023,0A000,22008,22003}'::text[]),
               ('over the extreme timestamps', 'SELECT count(*) FROM aegis.aggregate(''h_ext'', ''last'', ''-infinity'', ''infinity'', pg_temp.hi(%s), ''{}'')', '{22023,0A000,22008,22003}'),
               ('over 100 years, fill null', 'SELECT count(*) FROM aegis.aggregate(''h_vals'', ''count'', ''1924-01-01'', ''2024-01-02'', pg_temp.hi(%s), ''{}'', ''null'')', '{22023,0A000,22008,22003,54000}'),
               ('over the whole range, fill linear', 'SELECT count(*) FROM aegis.aggregate(''h_ext'', ''max'', pg_temp.tmin(), pg_temp.tmax(), pg_temp.hi(%s), ''{}'', ''linear'')', '{22023,0A000,22008,22003,54000}')
       ) d(note, call, allowed);
INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('aggregate: 1-microsecond buckets over 100 years of sparse data give a result', $$SELECT count(*) FROM aegis.aggregate('h_vals{p="single"}', 'count', '1924-01-01', '2024-01-02', '1 microsecond')$$, '{}', '12'),
  ('aggregate: 1-microsecond buckets over 100 years, fill null, is 54000', $$SELECT count(*) FROM aegis.aggregate('h_vals{p="single"}', 'count', '1924-01-01', '2024-01-02', '1 microsecond', NULL, 'null')$$, '{54000}', NULL),
  ('aggregate: 1-month buckets over the whole timestamp range, fill previous', $$SELECT count(*) FROM aegis.aggregate('h_ext{p="single"}', 'last', pg_temp.tmin(), pg_temp.tmax(), '1 month', NULL, 'previous')$$, '{54000,22008}', NULL),
  ('aggregate: fill over an infinite range is 22023', $$SELECT count(*) FROM aegis.aggregate('h_vals', 'count', '-infinity', 'infinity', '1 day', NULL, 'linear')$$, '{22023}', NULL);
UPDATE hostile_calls SET must_fail = true
 WHERE label IN ('aggregate: 1-microsecond buckets over 100 years, fill null, is 54000', 'aggregate: fill over an infinite range is 22023');
-- One bucket per point over 1,000,001 points (1-microsecond buckets): a
-- correct answer takes about a second (1,000,001 rows) or is a 54000; the
-- statement_timeout here is 10 s.
INSERT INTO hostile_calls (label, call, allowed, before) VALUES
  ('aggregate: 1-microsecond buckets over 1,000,001 points give a result or 54000 (10 s timeout)',
   $$SELECT count(*) FROM aegis.aggregate('h_ins1m', 'count', '2000-01-01', '2100-01-01', '1 microsecond')$$, '{54000}', 'SET statement_timeout = ''10s''');

-- group_by.
INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('aggregate(group_by %s)', g.note),
       format('SELECT count(*) FROM aegis.aggregate(''h_vals'', ''count'', ''-infinity'', ''infinity'', ''1 day'', %s)', g.expr), g.allowed,
       g.allowed && '{22004,2202E}'
  FROM (VALUES ('{NULL}', '''{NULL}''::text[]', '{22004}'::text[]),
               ('{p,NULL}', '''{p,NULL}''::text[]', '{22004}'),
               ('2-D', '''{{p,q},{r,s}}''::text[]', '{2202E}'),
               ('2-D with NULL', '''{{NULL}}''::text[]', '{2202E,22004}'),
               ('10,000 keys', 'ARRAY(SELECT ''k'' || i FROM generate_series(1, 10000) i)', '{54000}'),
               ('10,000 keys and p', 'ARRAY(SELECT ''k'' || i FROM generate_series(1, 10000) i) || ''{p}''', '{54000}'),
               ('100,000 copies of p', 'array_fill(''p''::text, ARRAY[100000])', '{54000}'),
               ('{""}', '''{""}''::text[]', '{}'),
               ('{__name__}', '''{__name__}''::text[]', '{}'),
               ('{p,p}', '''{p,p}''::text[]', '{}'),
               ('lower bound 0', '''[0:1]={p,q}''::text[]', '{}'),
               ('empty', '''{}''::text[]', '{}'),
               ('1 MB key', 'ARRAY[repeat(''k'', 1048576)]', '{54000}'),
               ('SQL fragment key', 'ARRAY[''p''''); DROP TABLE aegis.series; --'']', '{}'),
               ('NULL and the 1 MB fn', 'ARRAY[NULL]::text[]', '{22004}')) g(note, expr, allowed);
UPDATE hostile_calls SET call = replace(call, '''count''', 'pg_temp.ht(''1 MB of a'')'), allowed = '{22004,22023}', must_fail = true
 WHERE label = 'aggregate(group_by NULL and the 1 MB fn)';

-- since / until.
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('aggregate(%s, step %s, fill %s)', r.note, coalesce(s.step, 'NULL'), f.fill),
       format('SELECT count(*) FROM aegis.aggregate(''h_ext'', ''count'', %s, %L, NULL, %L)', r.args, s.step, f.fill),
       '{22023,22008,0A000,54000}'
  FROM (VALUES ('since > until', '''2024-01-02'', ''2024-01-01'''), ('since = until', '''2024-01-01'', ''2024-01-01'''),
               ('infinity to -infinity', '''infinity'', ''-infinity'''), ('-infinity to -infinity', '''-infinity'', ''-infinity'''),
               ('infinity to infinity', '''infinity'', ''infinity'''), ('the largest to infinity', 'pg_temp.tmax(), ''infinity'''),
               ('the smallest to the largest', 'pg_temp.tmin(), pg_temp.tmax()'), ('-infinity to the smallest', '''-infinity'', pg_temp.tmin()')) r(note, args),
       (VALUES (NULL), ('1 day'), ('1000 years')) s(step),
       (VALUES ('none'), ('null'), ('linear')) f(fill);

-------------------------------------------------------------------------------
-- time_bucket, all four forms.
-------------------------------------------------------------------------------

CREATE TEMP TABLE hostile_ts (note text PRIMARY KEY, v timestamptz NOT NULL);
INSERT INTO hostile_ts VALUES
  ('infinity', 'infinity'), ('-infinity', '-infinity'), ('the smallest', pg_temp.tmin()),
  ('the smallest + 1 us', pg_temp.tmin() + interval '1 microsecond'), ('4713-01-01 BC', '4713-01-01 00:00:00+00 BC'),
  ('0001-01-01 BC', '0001-01-01 00:00:00+00 BC'), ('2000-01-03', '2000-01-03'), ('the largest', pg_temp.tmax()),
  ('the largest - 1 day', pg_temp.tmax() - interval '1 day');
CREATE FUNCTION pg_temp.hts(text) RETURNS timestamptz LANGUAGE sql STABLE AS $$ SELECT v FROM hostile_ts WHERE note = $1 $$;
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('time_bucket(%s, %s)', w.note, t.note),
       format('SELECT aegis.time_bucket(pg_temp.hi(%L), pg_temp.hts(%L))', w.note, t.note), '{22023,0A000,22008,22003}'
  FROM hostile_interval w, hostile_ts t;
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('time_bucket(%s, %s, origin %s)', w.note, t.note, o.note),
       format('SELECT aegis.time_bucket(pg_temp.hi(%L), pg_temp.hts(%L), pg_temp.hts(%L))', w.note, t.note, o.note), '{22023,0A000,22008,22003}'
  FROM hostile_interval w, hostile_ts t, hostile_ts o
 WHERE w.note IN ('0', '-1 hour', '1 month 1 day', '1 microsecond', '1 day', '1 month', '178000000 years', 'the smallest interval', '1 day -23 hours')
   AND t.note IN ('the smallest', 'the largest', '2000-01-03', 'infinity')
   AND o.note IN ('infinity', '-infinity', 'the smallest', 'the largest');
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('time_bucket(%s, %s, offset %s)', w.note, t.note, o.note),
       format('SELECT aegis.time_bucket(pg_temp.hi(%L), pg_temp.hts(%L), pg_temp.hi(%L))', w.note, t.note, o.note), '{22023,0A000,22008,22003}'
  FROM hostile_interval w, hostile_ts t, hostile_interval o
 WHERE w.note IN ('0', '-1 hour', '1 month 1 day', '1 microsecond', '1 day', '1 month', '178000000 years', '1 day -23 hours')
   AND t.note IN ('the smallest', 'the largest', '2000-01-03', '-infinity')
   AND o.note IN ('178000000 years', '-178000000 years', '1 month', '-1 microsecond', 'the smallest interval', '2147483647 days');
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('time_bucket(%s, %s, %s, origin %s, offset %s)', w.note, t.note, z.zone, coalesce(o.note, 'NULL'), coalesce(f.note, 'NULL')),
       format('SELECT aegis.time_bucket(pg_temp.hi(%L), pg_temp.hts(%L), %L, pg_temp.hts(%L), pg_temp.hi(%L))', w.note, t.note, z.zone, o.note, f.note),
       '{22023,0A000,22008,22003}'
  FROM hostile_interval w, hostile_ts t,
       (VALUES ('Pacific/Kiritimati'), ('Pacific/Apia'), ('Australia/Lord_Howe'), ('UTC+99999'), ('+14:59'), ('Nowhere/Zone'),
               ('EST5EDT,M3.2.0,M11.1.0')) z(zone),
       (VALUES (NULL), ('the smallest'), ('infinity')) o(note),
       (VALUES (NULL), ('-178000000 years'), ('1 month')) f(note)
 WHERE w.note IN ('1 microsecond', '1 month', '1 day -23 hours', '178000000 years', '0')
   AND t.note IN ('the smallest', 'the largest', 'infinity')
   AND (o.note IS NULL OR f.note IS NULL);
-- Daylight-saving transitions with widths whose day and time parts differ in sign.
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('time_bucket(%s) in %s around its transitions', w.width, z.zone),
       format('SELECT count(DISTINCT aegis.time_bucket(%L, t, %L)) FROM generate_series(%L::timestamptz, %L, ''7 minutes'') t',
              w.width, z.zone, z.since, z.since::timestamptz + interval '3 days'),
       '{22023,0A000}'
  FROM (VALUES ('Europe/Berlin', '2024-10-26'), ('Europe/Berlin', '2024-03-30'), ('Pacific/Apia', '2011-12-28'),
               ('Australia/Lord_Howe', '2024-04-06'), ('America/Santiago', '2024-09-07')) z(zone, since),
       (VALUES ('1 day'), ('1 day -23 hours'), ('-1 day 25 hours'), ('2 days -47 hours'), ('1 day -1 microsecond'), ('1 month'), ('30 minutes')) w(width);

-------------------------------------------------------------------------------
-- series_points, delete_series, compress, metric_names, the views.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed)
SELECT format('%s(series_id %s)', f.what, i.id), format(f.call, i.id), '{}'
  FROM (VALUES ('-1'), ('0'), ('9223372036854775807'), ('''-9223372036854775808''::bigint'), ('(SELECT max(series_id) + 1 FROM aegis.series)')) i(id),
       (VALUES ('series_points', 'SELECT count(*) FROM aegis.series_points(%s)'),
               ('series_points with infinite bounds reversed', 'SELECT count(*) FROM aegis.series_points(%s, ''infinity'', ''-infinity'')'),
               ('delete_series', 'SELECT aegis.delete_series(%s)')) f(what, call);
INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('series_points of the extreme series, the smallest to the largest', $$SELECT count(*) FROM aegis.series_points((SELECT series_id FROM aegis.series WHERE metric = 'h_ext' AND tags ->> 'p' = 'span'), pg_temp.tmin(), pg_temp.tmax())$$, '{}', '1001'),
  ('delete_series of the block spanning the whole range', $$SELECT aegis.delete_series((SELECT series_id FROM aegis.series WHERE metric = 'h_ext' AND tags ->> 'p' = 'span'))::text$$, '{}', 'true'),
  ('read of the deleted series', $$SELECT count(*) FROM aegis.read('h_ext{p="span"}')$$, '{}', '0'),
  ('delete_series of the 10,000,000-point series', $$SELECT aegis.delete_series((SELECT series_id FROM aegis.series WHERE metric = 'h_batch10m'))::text$$, '{}', 'true'),
  ('drop_metric of the 10,000,000-point metric', $$SELECT aegis.drop_metric('h_batch10m')$$, '{}', '10000000'),
  ('metric_names after the hostile writes', $$SELECT count(*) > 0 FROM aegis.metric_names()$$, '{}', 'true'),
  ('aegis.metrics after the hostile writes', $$SELECT count(*) > 0 FROM aegis.metrics$$, '{}', 'true'),
  ('aegis.stats after the hostile writes', $$SELECT count(*) > 0 FROM aegis.stats WHERE points IS NOT NULL$$, '{}', 'true'),
  ('tag_keys of every series', $$SELECT count(*) > 0 FROM aegis.tag_keys()$$, '{}', 'true'),
  ('tag_values(NULL key, bad selector)', $$SELECT count(*) FROM aegis.tag_values(NULL, '(((')$$, '{22004,42601}', NULL);
UPDATE hostile_calls SET keep = true WHERE label = 'delete_series of the block spanning the whole range';
INSERT INTO hostile_calls (label, call, allowed)
SELECT format('compress(%s)', i.note), format('SELECT aegis.compress(pg_temp.hi(%L))', i.note), '{22008}'
  FROM hostile_interval i;
INSERT INTO hostile_calls (label, call, allowed) VALUES
  ('compress(''-292000 years'') again', $$SELECT aegis.compress('-292000 years')$$, '{}'),
  ('compress(''-300000 years'') (now() + 300,000 years is out of range)', $$SELECT aegis.compress('-300000 years')$$, '{22008}');
-- aegis.delete: NULLs, malformed selectors, inverted and infinite ranges,
-- and a delete of everything in the hostile data written so far (special
-- values, extreme timestamps) that must then read as empty.
INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('delete(NULL)', $$SELECT aegis.delete(NULL)$$, '{22004}', NULL),
  ('delete(selector, NULL, NULL)', $$SELECT aegis.delete('h_vals', NULL, NULL)$$, '{22004}', NULL),
  ('delete with a malformed selector', $$SELECT aegis.delete('h_vals{')$$, '{42601}', NULL),
  ('delete with a back-reference regex', $$SELECT aegis.delete('h_vals{p=~"(a)\\1"}')$$, '{2201B}', NULL),
  ('delete over an inverted range', $$SELECT aegis.delete('h_vals', 'infinity', '-infinity')$$, '{}', '0'),
  ('delete of every point of h_ext (extreme timestamps)', $$SELECT aegis.delete('h_ext') > 0$$, '{}', 'true'),
  ('read of h_ext after its delete', $$SELECT count(*) FROM aegis.read('h_ext')$$, '{}', '0');
UPDATE hostile_calls SET keep = true WHERE label = 'delete of every point of h_ext (extreme timestamps)';
-- A maintenance round over everything written so far (special values,
-- extreme timestamps): one row per job, no failed job; under a 1 ms
-- statement_timeout it ends (a cancel ends the whole round, rolled back).
INSERT INTO hostile_calls (label, call, allowed, expected, before, within) VALUES
  ('run_maintenance over the hostile data, compress_after 0',
   $$SELECT count(*) FILTER (WHERE points IS NOT NULL) || '/' || count(*) FROM aegis.run_maintenance()$$, '{}', '4/4',
   'SET aegis.compress_after = ''0''', NULL),
  ('run_maintenance under a 1 ms statement_timeout ends within 5 s',
   $$SELECT count(*) FROM aegis.run_maintenance()$$, '{57014}', NULL, 'SET statement_timeout = ''1ms''', '5 seconds');
-- Retention and merging: NULLs, unknown metrics, non-positive and
-- out-of-range retentions, then retention and merging over the hostile
-- data (extreme timestamps included).
INSERT INTO hostile_calls (label, call, allowed, expected, before, within) VALUES
  ('set_retention(NULL, NULL)', $$SELECT aegis.set_retention(NULL, NULL)$$, '{22004}', NULL, NULL, NULL),
  ('set_retention of an unknown metric', $$SELECT aegis.set_retention('h_no_such_metric', '1 day')$$, '{42704}', NULL, NULL, NULL),
  ('set_retention(-1 day)', $$SELECT aegis.set_retention('h_vals', '-1 day')$$, '{22023}', NULL, NULL, NULL),
  ('set_retention(0)', $$SELECT aegis.set_retention('h_vals', '0')$$, '{22023}', NULL, NULL, NULL),
  ('set_retention(1 month -40 days)', $$SELECT aegis.set_retention('h_vals', '1 month -40 days')$$, '{22023}', NULL, NULL, NULL),
  ('set_retention(300,000 years): the cutoff is out of range', $$SELECT aegis.set_retention('h_vals', '300000 years')$$, '{22008}', NULL, NULL, NULL),
  ('set_retention(the largest interval)', $$SELECT aegis.set_retention('h_vals', '178000000 years')$$, '{22008}', NULL, NULL, NULL),
  ('apply_retention with 1,000 years kept for every metric',
   $$SELECT count(aegis.set_retention(name, '1000 years')) >= 0 AND aegis.apply_retention() >= 0 FROM aegis.metric_catalog$$, '{}', 'true', NULL, NULL),
  ('apply_retention under a 1 ms statement_timeout ends within 5 s',
   $$SELECT aegis.apply_retention()$$, '{57014}', NULL, 'SET statement_timeout = ''1ms''', '5 seconds'),
  ('merge_blocks over the hostile data', $$SELECT aegis.merge_blocks() >= 0$$, '{}', 'true', NULL, NULL),
  ('merge_blocks with aegis.block_max_points 1', $$SELECT aegis.merge_blocks() >= 0$$, '{}', 'true', 'SET aegis.block_max_points = 1', NULL),
  ('merge_blocks with aegis.block_max_points 100,000', $$SELECT aegis.merge_blocks() >= 0$$, '{}', 'true', 'SET aegis.block_max_points = 100000', NULL);
-- The gateway's call (core/write_request.h), open to any role with INSERT
-- on aegis.points: NULL, garbage, counts the bytes cannot hold, a version
-- from the future.
INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('_write_request(NULL)', $$SELECT aegis._write_request(NULL)$$, '{22004}', NULL),
  ('_write_request of an empty bytea', $$SELECT aegis._write_request(''::bytea)$$, '{22023}', NULL),
  ('_write_request of 100 0xff bytes', $$SELECT aegis._write_request(decode(repeat('ff', 100), 'hex'))$$, '{22023}', NULL),
  ('_write_request announcing 4 billion series and samples',
   $$SELECT aegis._write_request('\x414557520200000001000000000000000100000000000000ffffffffffffffff'::bytea)$$, '{22023}', NULL),
  ('_write_request of version 3', $$SELECT aegis._write_request('\x41455752030000000000000000000000'::bytea)$$, '{22023}', NULL),
  ('_write_request of slots past a billion',
   $$SELECT aegis._write_request('\x414557520200000001000000000000000000000000ffffff0000000000000000'::bytea)$$, '{22023}', NULL),
  ('_write_request of a dictionary the connection lacks',
   $$SELECT aegis._write_request('\x4145575202000000090000000000000000000000000000000000000000000000'::bytea)$$, '{55000}', NULL),
  ('_write_request of no series and no samples',
   $$SELECT aegis._write_request('\x4145575202000000010000000000000001000000000000000000000000000000'::bytea)$$, '{}', '0');
UPDATE hostile_calls SET must_fail = true WHERE call LIKE '%_write_request(%' AND allowed <> '{}';
-- aegis.drain_packed(), then (each statement with its own snapshot) the
-- batches left and the metric's points and NaN points.
CREATE FUNCTION pg_temp.drained(metric text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM aegis.drain_packed();
    RETURN (SELECT count(*) FROM aegis.packed_points) || ' ' ||
           (SELECT count(*) || ' ' || count(*) FILTER (WHERE value = 'NaN') FROM aegis.read(metric));
END $f$;
-- Packed batches (docs/architecture.md, "Packed batches") of special values
-- at the extreme timestamps: read back, drained into blocks, and a drain
-- under a 1 ms statement_timeout ends.
INSERT INTO hostile_calls (label, call, allowed, expected, before, within) VALUES
  ('a packed batch of NaN and infinities at the extreme timestamps reads back',
   $$SELECT count(*) || ' ' || count(*) FILTER (WHERE value = 'NaN') FROM aegis.read('h_packed')$$, '{}', '3 1',
   $b$SET aegis.packed_write_series = 2; INSERT INTO aegis.points (metric, tags, ts, value) VALUES
      ('h_packed', '{"k": "a"}', '4714-11-24 00:00:00+00 BC', 'NaN'),
      ('h_packed', '{"k": "b"}', '294276-12-31 23:59:59.999999+00', '-Infinity'),
      ('h_packed', '{"k": "a"}', '2000-01-01 00:00:00+00', 'Infinity')$b$, NULL),
  ('drain_packed of NaN and infinities at the extreme timestamps: no batch left, the points read back',
   $$SELECT pg_temp.drained('h_packed')$$, '{}', '0 3 1',
   $b$SET aegis.packed_write_series = 2; INSERT INTO aegis.points (metric, tags, ts, value) VALUES
      ('h_packed', '{"k": "a"}', '4714-11-24 00:00:00+00 BC', 'NaN'),
      ('h_packed', '{"k": "b"}', '294276-12-31 23:59:59.999999+00', '-Infinity'),
      ('h_packed', '{"k": "a"}', '2000-01-01 00:00:00+00', 'Infinity')$b$, NULL),
  ('drain_packed under a 1 ms statement_timeout ends within 5 s',
   $$SELECT aegis.drain_packed()$$, '{57014}', NULL,
   $b$SET aegis.packed_write_series = 2; INSERT INTO aegis.points (metric, tags, ts, value)
      SELECT 'h_packed', jsonb_build_object('k', (i % 500)::text), '2000-01-01'::timestamptz + i * interval '1 s', i
        FROM generate_series(1, 100000) i; SET statement_timeout = '1ms'$b$, '5 seconds');
-- Roll-ups: malformed tiers, and a roll-up of everything written so far
-- (special values, extreme timestamps) that aggregate then reads.
INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('set_downsampling(NULL, NULL)', $$SELECT aegis.set_downsampling(NULL, NULL)$$, '{22004}', NULL),
  ('set_downsampling of an unknown metric', $$SELECT aegis.set_downsampling('h_no_such_metric', NULL)$$, '{42704}', NULL),
  ('set_downsampling with a JSON string', $$SELECT aegis.set_downsampling('h_vals', '"1 day"')$$, '{22023}', NULL),
  ('set_downsampling with an array of numbers', $$SELECT aegis.set_downsampling('h_vals', '[1, 2]')$$, '{22023}', NULL),
  ('set_downsampling with nested arrays', $$SELECT aegis.set_downsampling('h_vals', '[[{"after": "1 day", "step": "1 hour"}]]')$$, '{22023}', NULL),
  ('set_downsampling with a NULL after', $$SELECT aegis.set_downsampling('h_vals', '[{"after": null, "step": "1 hour"}]')$$, '{22023}', NULL),
  ('set_downsampling with an object step', $$SELECT aegis.set_downsampling('h_vals', '[{"after": "1 day", "step": {"a": 1}}]')$$, '{22023}', NULL),
  ('set_downsampling with the largest interval', $$SELECT aegis.set_downsampling('h_vals', '[{"after": "178000000 years", "step": "1 hour"}]')$$, '{22008,22023}', NULL),
  ('set_downsampling with a step of mixed signs', $$SELECT aegis.set_downsampling('h_vals', '[{"after": "1 day", "step": "1 day -1 hour"}]')$$, '{22023}', NULL),
  ('set_downsampling with an after of mixed signs', $$SELECT aegis.set_downsampling('h_vals', '[{"after": "2 days -1 hour", "step": "1 hour"}]')$$, '{22023}', NULL),
  ('set_downsampling with an after in months', $$SELECT aegis.set_downsampling('h_vals', '[{"after": "1 mon", "step": "1 hour"}]')$$, '{22023}', NULL),
  ('set_downsampling with a 1-microsecond step', $$SELECT aegis.set_downsampling('h_vals', '[{"after": "1 second", "step": "1 microsecond"}]')$$, '{}', ''),
  ('set_downsampling with 10,000 tiers', $$SELECT aegis.set_downsampling('h_vals', (SELECT jsonb_agg(jsonb_build_object('after', g || ' seconds', 'step', (2 ^ least(g, 40))::bigint || ' microseconds')) FROM generate_series(1, 10000) g))$$, '{22023}', NULL),
  ('downsampling_preset(NULL)', $$SELECT aegis.downsampling_preset(NULL) IS NULL$$, '{}', 'true'),
  ('downsampling_preset of an unknown name', $$SELECT aegis.downsampling_preset('')$$, '{42704}', NULL),
  ('apply_downsampling with the iot preset on every metric',
   $$SELECT count(aegis.set_downsampling(name, aegis.downsampling_preset('iot'))) >= 0 AND aegis.apply_downsampling() >= 0 FROM aegis.metric_catalog$$, '{}', 'true'),
  ('apply_downsampling with 1-microsecond steps after 1 second on every metric',
   $$SELECT count(aegis.set_downsampling(name, '[{"after": "1 second", "step": "1 microsecond"}, {"after": "2 seconds", "step": "1 second"}]')) >= 0 AND aegis.apply_downsampling() >= 0 FROM aegis.metric_catalog$$, '{}', 'true'),
  ('aggregate of every fn over rolled-up hostile data',
   $$SELECT count(*) >= 0 FROM aegis.metric_catalog m, unnest(ARRAY['count','sum','min','max','avg','first','last','stddev','variance','delta','rate','increase','sample_delta','sample_rate','sample_increase','irate','resets','changes']) f, aegis.aggregate(m.name || '{}', f, '-infinity', 'infinity', '1 day')$$, '{22003}', NULL);
UPDATE hostile_calls SET keep = true WHERE label = 'apply_downsampling with the iot preset on every metric';
INSERT INTO hostile_calls (label, call, allowed, expected, before, within) VALUES
  ('apply_downsampling under a 1 ms statement_timeout ends within 5 s',
   $$SELECT aegis.apply_downsampling()$$, '{57014}', NULL, 'SET statement_timeout = ''1ms''', '5 seconds');

-------------------------------------------------------------------------------
-- INSERT and COPY into aegis.points.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed, expected) VALUES
  ('INSERT DEFAULT VALUES', $$INSERT INTO aegis.points DEFAULT VALUES$$, '{22004}', NULL),
  ('INSERT NULL metric, array tags, infinite ts, NaN', $$INSERT INTO aegis.points VALUES (NULL, '[]', 'infinity', 'NaN')$$, '{22004,22023,22008}', NULL),
  ('INSERT 1 MB metric, NULL tags', $$INSERT INTO aegis.points VALUES (pg_temp.ht('1 MB of a'), NULL, now(), 1)$$, '{22004,22023}', NULL),
  ('INSERT a good row then a bad one', $$INSERT INTO aegis.points VALUES ('h_ins', '{}', '2024-01-01', 1), ('h_ins', '{"a": [1]}', '2024-01-01', 2)$$, '{22023}', NULL),
  ('INSERT ... RETURNING *', $$WITH i AS (INSERT INTO aegis.points VALUES ('h_ins', '{"a": "b"}', '2024-01-01', '-0') RETURNING *) SELECT encode(float8send(value), 'hex') FROM i$$, '{}', '8000000000000000'),
  ('INSERT ... ON CONFLICT DO NOTHING', $$INSERT INTO aegis.points VALUES ('h_ins', '{}', '2024-01-01', 1) ON CONFLICT DO NOTHING$$, '{0A000}', NULL),
  ('INSERT 10,000 distinct series in one statement', $$INSERT INTO aegis.points SELECT 'h_ins', jsonb_build_object('i', i::text), '2024-01-01', i FROM generate_series(1, 10000) i$$, '{}', NULL),
  ('INSERT the same point 10,000 times', $$INSERT INTO aegis.points SELECT 'h_ins_dup', '{}', '2024-01-01', i FROM generate_series(1, 10000) i$$, '{}', NULL),
  ('read: of the same point inserted 10,000 times the last was kept', $$SELECT count(*) || '/' || max(value) FROM aegis.read('h_ins_dup')$$, '{}', '1/10000'),
  ('SELECT FROM aegis.points WHERE metric = 1 MB', $$SELECT count(*) FROM aegis.points WHERE metric = pg_temp.ht('1 MB of a')$$, '{}', '0'),
  ('SELECT FROM aegis.points WHERE ts is infinite', $$SELECT count(*) FROM aegis.points WHERE metric = 'h_ext' AND ts IN ('infinity', '-infinity')$$, '{}', '0');
UPDATE hostile_calls SET keep = true WHERE label = 'INSERT the same point 10,000 times';
UPDATE hostile_calls SET must_fail = true WHERE label IN ('INSERT DEFAULT VALUES', 'INSERT NULL metric, array tags, infinite ts, NaN',
                                                          'INSERT 1 MB metric, NULL tags', 'INSERT a good row then a bad one');
-- COPY lines, as the bytes a client sends.
INSERT INTO hostile_calls (label, call, allowed, must_fail)
SELECT format('COPY aegis.points: %s', c.note), pg_temp.copy_bytes(c.bytes, c.options), c.allowed, c.allowed <> '{}'
  FROM (VALUES ('an infinite ts', convert_to(E'h_copy\t{}\tinfinity\t1\n', 'UTF8'), '', '{22008}'::text[]),
               ('array tags', convert_to(E'h_copy\t[]\t2024-01-01\t1\n', 'UTF8'), '', '{22023}'),
               ('a number tag', convert_to(E'h_copy\t{"a": 1}\t2024-01-01\t1\n', 'UTF8'), '', '{22023}'),
               ('an empty metric', convert_to(E'\t{}\t2024-01-01\t1\n', 'UTF8'), '', '{22023}'),
               ('a NULL metric', convert_to(E'\\N\t{}\t2024-01-01\t1\n', 'UTF8'), '', '{22004}'),
               ('a NULL ts', convert_to(E'h_copy\t{}\t\\N\tNaN\n', 'UTF8'), '', '{22004}'),
               ('malformed JSON', convert_to(E'h_copy\t{\t2024-01-01\t1\n', 'UTF8'), '', '{22P02}'),
               ('a missing column', convert_to(E'h_copy\t{}\t2024-01-01\n', 'UTF8'), '', '{22P04}'),
               ('an extra column', convert_to(E'h_copy\t{}\t2024-01-01\t1\t2\n', 'UTF8'), '', '{22P04}'),
               ('an escaped NUL in the metric', convert_to(E'h\\0c\t{}\t2024-01-01\t1\n', 'UTF8'), '', '{22021}'),
               ('a raw 0xff byte in the metric', '\x68ff63097b7d09323032342d30312d303109310a'::bytea, '', '{22021}'),
               ('a raw NUL byte in the tags', '\x685f636f7079097b007d09323032342d30312d303109310a'::bytea, '', '{22021,22P02}'),
               ('a tab escape inside a JSON string', convert_to(E'h_copy\t{"k": "a\\tb"}\t2024-01-01\t1\n', 'UTF8'), '', '{22P02}'),
               ('a value that is not a number', convert_to(E'h_copy\t{}\t2024-01-01\tNaNa\n', 'UTF8'), '', '{22P02}'),
               ('a value out of range', convert_to(E'h_copy\t{}\t2024-01-01\t1e309\n', 'UTF8'), '', '{22003}'),
               ('SQL fragments everywhere', convert_to(E'h_copy\t{"''; DROP TABLE aegis.series; --": "x"}\t2024-01-01\t1\n', 'UTF8'), '', '{}'),
               ('CSV with quotes and a newline in the tags', convert_to(E'h_copy,"{""k"": ""a,\nb""}",2024-01-01,-Infinity\n', 'UTF8'), 'WITH (FORMAT csv)', '{22P02}'),
               ('CSV with quoted commas', convert_to(E'h_copy,"{""k"": ""a,b""}",2024-01-01,-0\n', 'UTF8'), 'WITH (FORMAT csv)', '{}'),
               ('binary with an infinite ts', pg_temp.copy_binary(ARRAY[['h_copy', '{}', '9223372036854775807', '3ff0000000000000']]), 'WITH (FORMAT binary)', '{22008}'),
               ('binary with a ts past the largest', pg_temp.copy_binary(ARRAY[['h_copy', '{}', '9223371331200000000', '3ff0000000000000']]), 'WITH (FORMAT binary)', '{22008}'),
               ('binary with a ts before the smallest', pg_temp.copy_binary(ARRAY[['h_copy', '{}', '-211813488000000001', '3ff0000000000000']]), 'WITH (FORMAT binary)', '{22008}'),
               ('binary with a 4-byte float8', pg_temp.copy_binary(ARRAY[['h_copy', '{}', '0', '3ff00000']]), 'WITH (FORMAT binary)', '{22P03,08P01}'),
               ('binary with array tags', pg_temp.copy_binary(ARRAY[['h_copy', '[1]', '0', '3ff0000000000000']]), 'WITH (FORMAT binary)', '{22023}'),
               ('a truncated binary stream', substring(pg_temp.copy_binary(ARRAY[['h_copy', '{}', '0', '3ff0000000000000']]) FROM 1 FOR 40), 'WITH (FORMAT binary)', '{22P04}')
       ) c(note, bytes, options, allowed);
INSERT INTO hostile_calls (label, call, allowed) VALUES
  ('COPY aegis.points: a 1 MB metric name',
   format('COPY aegis.points FROM PROGRAM %L', $p$head -c 1048576 /dev/zero | tr '\000' a; printf '\t{}\t2024-01-01\t1\n'$p$), '{22023}'),
  ('COPY aegis.points: a 1 MB tag value',
   format('COPY aegis.points FROM PROGRAM %L', $p$printf 'h_copy\t{"k": "'; head -c 1048576 /dev/zero | tr '\000' a; printf '"}\t2024-01-01\t1\n'$p$), '{54000}'),
  ('COPY aegis.points: 200,000 lines of NaN, ±Infinity and -0',
   format('COPY aegis.points FROM PROGRAM %L', $p$awk 'BEGIN { split("NaN Infinity -Infinity -0", v, " "); for (i = 0; i < 200000; i++) printf "h_copy_many\t{}\t2024-01-01 00:00:00.%06d+00\t%s\n", i, v[i % 4 + 1] }'$p$), '{}');
UPDATE hostile_calls SET must_fail = true WHERE label = 'COPY aegis.points: a 1 MB metric name';
UPDATE hostile_calls SET keep = true WHERE label = 'COPY aegis.points: 200,000 lines of NaN, ±Infinity and -0';
-- aegis.load, and the gap-filling functions outside a query the engine takes.
INSERT INTO hostile_calls (label, call, allowed, must_fail) VALUES
  ('load: a SQL fragment as the time column', $$SELECT aegis.load('aegis.series', pg_temp.ht('SQL fragment'))$$, '{42703}', true),
  ('load: a SQL fragment as a metric column', $$SELECT aegis.load('aegis.series', 'series_id', ARRAY[pg_temp.ht('SQL fragment')]::name[])$$, '{42703,42804}', true),
  ('load: a 1 MB tag column name', $$SELECT aegis.load('aegis.series', 'series_id', NULL, ARRAY[pg_temp.ht('1 MB of a')]::name[])$$, '{42703,42804}', true),
  ('locf outside a gap-filling query', $$SELECT aegis.locf(pg_temp.ht('SQL fragment'))$$, '{0A000}', true),
  ('interpolate outside a gap-filling query', $$SELECT aegis.interpolate('NaN')$$, '{0A000}', true),
  ('time_bucket_gapfill outside aegis.points', $$SELECT aegis.time_bucket_gapfill('1 hour', 'infinity', NULL, pg_temp.tmin())$$, '{0A000}', true),
  ('time_bucket_gapfill over aegis.points, start after finish', $$SELECT count(*) FROM (SELECT aegis.time_bucket_gapfill('1 hour', ts, '2024-01-02', '2024-01-01'), count(*) FROM aegis.points WHERE metric = 'h_copy_many' GROUP BY 1) g$$, '{22023}', false);
INSERT INTO hostile_calls (label, call, expected) VALUES
  ('read: the 200,000 copied lines keep their bits', $$SELECT count(*) || '/' || count(DISTINCT encode(float8send(value), 'hex')) FROM aegis.read('h_copy_many')$$, '200000/4');

-------------------------------------------------------------------------------
-- NULL together with other hostile values.
-------------------------------------------------------------------------------

INSERT INTO hostile_calls (label, call, allowed) VALUES
  ('create_metric(NULL, 1 MB kind)', $$SELECT aegis.create_metric(NULL, pg_temp.ht('1 MB of a'))$$, '{22004,22023}'),
  ('create_metric(SQL fragment, NULL)', $$SELECT aegis.create_metric(pg_temp.ht('SQL fragment'), NULL)$$, '{22004,22023}'),
  ('write(NULL, array tags, infinity, NaN)', $$SELECT aegis.write(NULL::text, '[]'::jsonb, 'infinity'::timestamptz, 'NaN'::float8)$$, '{22004,22023,22008}'),
  ('write(1 MB metric, NULL, -infinity, NULL)', $$SELECT aegis.write(pg_temp.ht('1 MB of a'), NULL::jsonb, '-infinity'::timestamptz, NULL::float8)$$, '{22004,22023,22008}'),
  ('write(valid, 10,000-level tags, NULL, -0)', $$SELECT aegis.write('h_null', pg_temp.hj('10,000-level nested array'), NULL::timestamptz, '-0')$$, '{22004,22023}'),
  ('write batch(NULL ts[], 2-D values)', $$SELECT aegis.write('h_null', '{}', NULL::timestamptz[], '{{1}}'::float8[])$$, '{22004,2202E}'),
  ('write batch(NULL and infinity in ts, unequal lengths)', $$SELECT aegis.write('h_null', '{}', ARRAY[NULL, 'infinity']::timestamptz[], ARRAY[1]::float8[])$$, '{22004,2202E,22008}'),
  ('write_now(NULL, 1 MB value tags, NaN)', $$SELECT aegis.write_now(NULL, pg_temp.hj('1 MB value'), 'NaN')$$, '{22004,54000}'),
  ('read(bad selector, NULL, infinity)', $$SELECT count(*) FROM aegis.read(pg_temp.hs('unbalanced open brace'), NULL, 'infinity')$$, '{22004,42601}'),
  ('read(NULL, infinity, -infinity)', $$SELECT count(*) FROM aegis.read(NULL, 'infinity', '-infinity')$$, '{22004}'),
  ('latest(NULL)', $$SELECT count(*) FROM aegis.latest(NULL)$$, '{22004}'),
  ('find_series(NULL)', $$SELECT count(*) FROM aegis.find_series(NULL)$$, '{22004}'),
  ('aggregate(NULL, quantile(2), infinity, -infinity, -1 hour, {NULL}, bogus)', $$SELECT count(*) FROM aegis.aggregate(NULL, 'quantile(2)', 'infinity', '-infinity', '-1 hour', '{NULL}', 'bogus')$$, '{22004,22023,0A000,2202E}'),
  ('aggregate(valid, NULL fn, bad range, month+day step)', $$SELECT count(*) FROM aegis.aggregate('h_vals', NULL, 'infinity', '-infinity', '1 month 1 day')$$, '{22004,0A000}'),
  ('aggregate(valid, count, NULL since, 2-D group_by)', $$SELECT count(*) FROM aegis.aggregate('h_vals', 'count', NULL, 'infinity', NULL, '{{a}}')$$, '{22004,2202E}'),
  ('aggregate(valid, count, -infinity, infinity, NULL step, NULL group_by, NULL fill)', $$SELECT count(*) FROM aegis.aggregate('h_vals', 'count', '-infinity', 'infinity', NULL, NULL, NULL)$$, '{22004}'),
  ('time_bucket(NULL, infinity)', $$SELECT coalesce(aegis.time_bucket(NULL, 'infinity'::timestamptz)::text, 'NULL')$$, '{}'),
  ('time_bucket(0, NULL)', $$SELECT coalesce(aegis.time_bucket('0', NULL::timestamptz)::text, 'NULL')$$, '{}'),
  ('time_bucket(1 month 1 day, the largest, NULL origin)', $$SELECT coalesce(aegis.time_bucket('1 month 1 day', pg_temp.tmax(), NULL::timestamptz)::text, 'NULL')$$, '{}'),
  ('time_bucket(-1 day, infinity, NULL timezone, infinity, 178000000 years)', $$SELECT coalesce(aegis.time_bucket('-1 day', 'infinity', NULL::text, 'infinity', '178000000 years')::text, 'NULL')$$, '{22023}'),
  ('time_bucket(0, the smallest, 1 MB timezone, NULL, NULL)', $$SELECT aegis.time_bucket('0', pg_temp.tmin(), pg_temp.ht('1 MB of a'), NULL, NULL)$$, '{22023}'),
  ('series_points(NULL, infinity, -infinity)', $$SELECT count(*) FROM aegis.series_points(NULL, 'infinity', '-infinity')$$, '{22004}'),
  ('series_points(-1, NULL, NULL)', $$SELECT count(*) FROM aegis.series_points(-1, NULL, NULL)$$, '{22004}'),
  ('delete_series(NULL)', $$SELECT aegis.delete_series(NULL)$$, '{22004}'),
  ('compress(NULL) uses aegis.compress_after', $$SELECT aegis.compress(NULL) >= 0$$, '{}'),
  ('drop_metric(NULL)', $$SELECT aegis.drop_metric(NULL)$$, '{22004}'),
  ('tag_values(1 MB key, NULL)', $$SELECT count(*) FROM aegis.tag_values(pg_temp.ht('1 MB of a'), NULL)$$, '{}'),
  ('explain_selector(NULL)', $$SELECT count(*) FROM aegis.explain_selector(NULL)$$, '{22004}'),
  ('first(NULL, infinity) and last(NaN, NULL)', $$SELECT aegis.first(NULL::float8, 'infinity'::timestamptz)::text || aegis.last('NaN'::float8, NULL::timestamptz)::text$$, '{}'),
  ('reset_stats() twice in one statement', $$SELECT aegis.reset_stats() <= aegis.reset_stats()$$, '{}'),
  ('aegis.points: hostile bounds and keys pushed down', $$SELECT count(*) FROM aegis.points WHERE ts > 'infinity' OR ts < '-infinity'$$, '{}'),
  ('aegis.points: a NULL bucket width and NaN comparisons', $$SELECT count(*) FROM (SELECT aegis.time_bucket(NULL::interval, ts), max(value) FROM aegis.points WHERE tags ->> repeat('k', 100000) = 'NaN' GROUP BY 1) g$$, '{}'),
  ('aegis.points: a zero bucket width', $$SELECT count(*) FROM (SELECT aegis.time_bucket('0', ts), count(*) FROM aegis.points GROUP BY 1) g$$, '{22023}');
UPDATE hostile_calls SET must_fail = true
 WHERE allowed @> '{22004}' AND label ~ '(NULL|^write.*\(NULL)' AND label NOT LIKE 'time_bucket%' AND label NOT LIKE 'tag_values%'
   AND label NOT LIKE 'aggregate(group_by%';

-------------------------------------------------------------------------------
-- Run every call, one top-level statement each.
-------------------------------------------------------------------------------

CREATE FUNCTION pg_temp.shorten(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN length(s) > 200 THEN left(s, 200) || '...' ELSE s END
    FROM (SELECT regexp_replace(coalesce($1, 'NULL'), '[[:space:]#]+', ' ', 'g') AS s) x $$;

-- Runs call_id in a subtransaction (undone unless the row says keep) and
-- reports it as one test: the outcome, and what was expected when it failed.
CREATE FUNCTION pg_temp.check(call_id int, attempt int DEFAULT 3) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  c hostile_calls;
  result text;
  outcome text;
  started timestamptz := clock_timestamp();
  took interval;
  passed boolean;
  message text;
  done boolean;
BEGIN
  -- A call's own statement_timeout (a 1 ms one, say) may fire before or
  -- after the call, in this function's bookkeeping, on a loaded machine. It
  -- fires once per statement, so that step is simply done again: a cancel
  -- outside the call must not abort the whole run. A cancel before the call
  -- means the call did not run: the next attempt (the next statement, with
  -- its own timeout; calls with settings get three) runs it, and when the
  -- last one is cancelled before the call too, the test fails. An attempt
  -- after the one that ran the call returns NULL (no test line).
  BEGIN
    SELECT * INTO STRICT c FROM hostile_calls WHERE id = call_id;
    done := EXISTS (SELECT FROM hostile_made m WHERE m.id = call_id);
  EXCEPTION WHEN query_canceled THEN
    SELECT * INTO STRICT c FROM hostile_calls WHERE id = call_id;
    done := EXISTS (SELECT FROM hostile_made m WHERE m.id = call_id);
    IF NOT done AND attempt < 3 THEN
      RETURN NULL;
    END IF;
    outcome := 'not run: the statement_timeout fired before the call in every attempt';
  END;
  IF done THEN
    RETURN NULL;
  END IF;
  -- The outer block catches a statement_timeout that fires in the inner
  -- block's handler, after the call (the call's outcome is kept: a
  -- variable's value survives the rollback).
  IF outcome IS NULL THEN BEGIN BEGIN
    IF c.call ~* '^\s*(select|with|values|table)\M' THEN
      EXECUTE c.call INTO result;
    ELSE
      EXECUTE c.call;
    END IF;
    outcome := 'ok';
    IF NOT c.keep THEN
      RAISE EXCEPTION 'undo the call' USING ERRCODE = 'AEOK0';
    END IF;
  EXCEPTION
    WHEN query_canceled THEN
      outcome := SQLSTATE || ' ' || SQLERRM;
    WHEN OTHERS THEN
      IF SQLSTATE <> 'AEOK0' THEN
        outcome := SQLSTATE || ' ' || SQLERRM;
      END IF;
  END;
  EXCEPTION WHEN query_canceled THEN
    outcome := coalesce(outcome, SQLSTATE || ' ' || SQLERRM);
  END; END IF;
  FOR attempt IN 1..2 LOOP
    BEGIN
      took := coalesce(took, clock_timestamp() - started);
      passed := CASE WHEN outcome = 'ok' THEN NOT c.must_fail AND (c.expected IS NULL OR result IS NOT DISTINCT FROM c.expected)
                     ELSE left(outcome, 5) = ANY (c.allowed) END
                AND (c.within IS NULL OR took <= c.within);
      message := pg_temp.shorten(c.label) || ' -> ' ||
                CASE WHEN outcome = 'ok' THEN 'ok' || CASE WHEN c.expected IS NOT NULL THEN ' ' || pg_temp.shorten(result) ELSE '' END
                     ELSE pg_temp.shorten(outcome) END ||
                CASE WHEN passed THEN ''
                     ELSE format(' (accepted: %s%s%s)',
                                 CASE WHEN c.must_fail THEN '' WHEN c.expected IS NOT NULL THEN 'success with ' || pg_temp.shorten(c.expected)
                                      ELSE 'success' END,
                                 CASE WHEN c.allowed = '{}' THEN '' WHEN c.must_fail THEN array_to_string(c.allowed, ', ')
                                      ELSE ' or ' || array_to_string(c.allowed, ', ') END,
                                 CASE WHEN c.within IS NOT NULL THEN format(', within %s; took %s s', c.within, round(extract(epoch FROM took), 1)) ELSE '' END)
                END;
      -- The statement after this one (the RESETs of the settings) must not
      -- run under a 1 ms timeout: it could be cancelled outside any block.
      -- Set here, a cancel rolls it back with the block and the next
      -- attempt sets it again.
      IF c.before IS NOT NULL THEN
        PERFORM set_config('statement_timeout', '30s', false);
      END IF;
      INSERT INTO hostile_made VALUES (call_id, outcome, round(extract(epoch FROM took), 3));
      RETURN ok(passed, message);
    EXCEPTION WHEN query_canceled THEN
      NULL;  -- the timeout fired here, after the call; the second attempt runs without it
    END;
  END LOOP;
  RAISE EXCEPTION 'check(%) was cancelled twice', call_id;
END $$;

SELECT plan((SELECT count(*)::int + 4 FROM hostile_calls));

-- Every public function and aggregate of schema aegis is attacked (a new one
-- fails this test until it has hostile calls here).
SELECT is((SELECT string_agg(DISTINCT p.proname, ', ' ORDER BY p.proname)
             FROM pg_proc p
            WHERE p.pronamespace = 'aegis'::regnamespace AND p.proname NOT LIKE '\_%'
              AND NOT EXISTS (SELECT FROM hostile_calls c WHERE c.call ~ ('aegis\.' || p.proname || '\('))),
          NULL, 'every public function and aggregate of schema aegis has hostile calls');

-- One statement per call (each with its own statement_timeout); a call with
-- settings gets them before and has them undone after.
SELECT before,
       CASE WHEN before IS NULL THEN format('SELECT pg_temp.check(%s)', id) ELSE format('SELECT pg_temp.check(%s, 1)', id) END,
       CASE WHEN before IS NOT NULL THEN format('SELECT pg_temp.check(%s, 2)', id) END,
       CASE WHEN before IS NOT NULL THEN format('SELECT pg_temp.check(%s, 3)', id) END,
       CASE WHEN before IS NOT NULL THEN 'RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size; '
                                         'RESET max_parallel_workers_per_gather; SET statement_timeout = ''30s''' END
  FROM hostile_calls ORDER BY id
\gexec

SELECT ok((SELECT count(*) FROM hostile_made) = (SELECT count(*) FROM hostile_calls)
          AND (SELECT count(*) FROM hostile_calls) >= 1500,
          format('%s hostile calls were made, every one of the list', (SELECT count(*) FROM hostile_made)));
SELECT ok(to_regclass('aegis.series') IS NOT NULL AND to_regclass('aegis.metric_catalog') IS NOT NULL
          AND to_regclass('aegis.recent_points') IS NOT NULL AND to_regclass('aegis.blocks') IS NOT NULL,
          'the SQL fragments dropped no table');
SELECT is(pg_backend_pid(), (SELECT pid FROM hostile_backend),
          'the backend that made every hostile call is still alive and answering');

-- For the record: outcomes by SQLSTATE, and the slowest calls.
SELECT diag('outcomes: ' || string_agg(format('%s %s', n, s), ', ' ORDER BY n DESC, s))
  FROM (SELECT left(outcome, 5) AS s, count(*) AS n FROM hostile_made GROUP BY 1) x;
SELECT diag(format('slowest: %s s  %s', m.seconds, pg_temp.shorten(c.label)))
  FROM hostile_made m JOIN hostile_calls c USING (id) ORDER BY m.seconds DESC LIMIT 8;

SELECT * FROM finish();
ROLLBACK;
