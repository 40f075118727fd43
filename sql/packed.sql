-- Packed batches (docs/architecture.md, "Packed batches"): a statement of
-- many series with few points each is kept as one row of
-- aegis.packed_points; every read lays it over the stored points, a later
-- batch winning; writes of rows or blocks, deletes and maintenance merge it
-- into blocks first. Runs after retention, on a store of its own.
SET client_min_messages = warning;
CREATE EXTENSION aegis_timeseries;
SET aegis.packed_write_series = 2;

-- The same points in a plain table, to compare every read with.
CREATE TABLE pk_plain (host text, ts timestamptz, value float8, PRIMARY KEY (host, ts));
CREATE FUNCTION pk_put(h text, t timestamptz, v float8) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO pk_plain VALUES (h, t, v) ON CONFLICT (host, ts) DO UPDATE SET value = EXCLUDED.value $$;
CREATE VIEW pk_diff AS
  SELECT count(*) AS differ FROM (
    (SELECT tags ->> 'h', ts, value FROM aegis.read('pk') EXCEPT SELECT host, ts, value FROM pk_plain)
    UNION ALL
    (SELECT host, ts, value FROM pk_plain EXCEPT SELECT tags ->> 'h', ts, value FROM aegis.read('pk'))) d;

-- Three series, three points each: one batch row, no recent row.
INSERT INTO aegis.points (metric, tags, ts, value)
  SELECT 'pk', jsonb_build_object('h', 'h' || i), '2024-01-01'::timestamptz + j * interval '1 minute', i * 10 + j
    FROM generate_series(1, 3) i, generate_series(0, 2) j;
SELECT count(pk_put('h' || i, '2024-01-01'::timestamptz + j * interval '1 minute', i * 10 + j)) AS put
  FROM generate_series(1, 3) i, generate_series(0, 2) j;
SELECT count(*) AS batches, sum(points) AS points FROM aegis.packed_points;
SELECT count(*) AS recent_rows FROM aegis.recent_points;
SELECT * FROM pk_diff;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.latest('pk') ORDER BY 1;
SELECT tags ->> 'h' AS h, value FROM aegis.aggregate('pk', 'sum', '2024-01-01', '2024-01-02') ORDER BY 1;
SELECT tags ->> 'h' AS h, count(*), sum(value) FROM aegis.points WHERE metric = 'pk' GROUP BY 1 ORDER BY 1;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.points WHERE metric = 'pk' ORDER BY ts DESC, 1 LIMIT 2;
SELECT metric, series, points, compressed_points FROM aegis.stats WHERE metric = 'pk';

-- A later batch wins over an earlier one, and a batch over a recent row.
SET aegis.packed_write_series = 0;
SELECT aegis.write('pk', '{"h": "h1"}', '2024-01-01 00:05', 15);  -- a recent row (nothing packed holds 00:05)
SELECT count(*) AS batches_left FROM aegis.packed_points;         -- h1 was in a batch: merged first
SELECT pk_put('h1', '2024-01-01 00:05', 15);
SET aegis.packed_write_series = 2;
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('pk', '{"h": "h1"}', '2024-01-01 00:05', 105), ('pk', '{"h": "h2"}', '2024-01-01 00:01', 201),
  ('pk', '{"h": "h3"}', '2024-01-01 00:09', 309);
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('pk', '{"h": "h2"}', '2024-01-01 00:01', 202), ('pk', '{"h": "h3"}', '2024-01-01 00:02', 302);
SELECT count(pk_put(h, t, v)) AS put FROM (VALUES ('h1', '2024-01-01 00:05'::timestamptz, 105::float8),
  ('h2', '2024-01-01 00:01', 202), ('h3', '2024-01-01 00:09', 309), ('h3', '2024-01-01 00:02', 302)) x(h, t, v);
SELECT count(*) AS batches FROM aegis.packed_points;
SELECT * FROM pk_diff;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.latest('pk') ORDER BY 1;
SELECT tags ->> 'h' AS h, value FROM aegis.aggregate('pk', 'max', '2024-01-01', '2024-01-02') ORDER BY 1;
SELECT metric, series, points FROM aegis.stats WHERE metric = 'pk';

-- compress merges every batch into blocks; the points stay the same.
SELECT aegis.compress('0') AS compressed;
SELECT count(*) AS batches_left FROM aegis.packed_points;
SELECT * FROM pk_diff;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.latest('pk') ORDER BY 1;

-- Deletes merge the batches that hold their series first.
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('pk', '{"h": "h1"}', '2024-01-01 00:20', 120), ('pk', '{"h": "h2"}', '2024-01-01 00:20', 220);
DELETE FROM aegis.points WHERE metric = 'pk' AND tags ->> 'h' = 'h1' AND ts >= '2024-01-01 00:10';
DELETE FROM aegis.points WHERE metric = 'pk' AND value = 220 RETURNING tags ->> 'h' AS h, ts, value;
SELECT count(*) AS batches_left FROM aegis.packed_points;
SELECT * FROM pk_diff;

-- Row-level security: a batch holds many series, so no role but the owner
-- reads the table, and reads show a batch's points only of series the
-- reader sees.
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('pk', '{"h": "h1"}', '2024-01-01 00:30', 130), ('pk', '{"h": "h2"}', '2024-01-01 00:30', 230);
CREATE ROLE pk_reader;
GRANT USAGE ON SCHEMA aegis TO pk_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA aegis TO pk_reader;
ALTER TABLE aegis.series ENABLE ROW LEVEL SECURITY;
CREATE POLICY pk_h1 ON aegis.series TO pk_reader USING (tags ->> 'h' = 'h1');
SELECT series_id AS h2_id FROM aegis.series WHERE metric = 'pk' AND tags ->> 'h' = 'h2' \gset
SET ROLE pk_reader;
SELECT count(*) AS batch_rows_seen FROM aegis.packed_points;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('pk', '2024-01-01 00:25', '2024-01-01 00:35');
SELECT tags ->> 'h' AS h, ts, value FROM aegis.latest('pk');
SELECT count(*) AS other_series_points FROM aegis.series_points(:h2_id);
SELECT count(*) AS other_series_points FROM aegis._packed_points(ARRAY[:h2_id]::bigint[]);
RESET ROLE;
DROP POLICY pk_h1 ON aegis.series;
ALTER TABLE aegis.series DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON ALL TABLES IN SCHEMA aegis FROM pk_reader;
REVOKE USAGE ON SCHEMA aegis FROM pk_reader;
DROP ROLE pk_reader;

-- A series deleted while a batch holds its points: they are gone from
-- every read, and the merge drops them.
SELECT aegis.delete_series(:h2_id) AS deleted;
SELECT count(*) AS h2_points FROM aegis._packed_points(ARRAY[:h2_id]::bigint[]);
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('pk', '2024-01-01 00:25', '2024-01-01 00:35');
SELECT aegis.drain_packed();
SELECT count(*) AS batches_left FROM aegis.packed_points;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('pk', '2024-01-01 00:25', '2024-01-01 00:35');

-- A damaged batch is an error that names it (XX001), never wrong points;
-- deleting its row loses its points and nothing else.
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('pk', '{"h": "h1"}', '2024-01-01 00:40', 140), ('pk', '{"h": "h3"}', '2024-01-01 00:40', 340);
UPDATE aegis.packed_points SET data = overlay(data PLACING '\xff'::bytea FROM 40 FOR 1);
\set VERBOSITY default
SELECT count(*) FROM aegis.read('pk');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM aegis.points WHERE metric = 'pk';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE aegis.packed_points SET data = substr(data, 1, 20);
SELECT count(*) FROM aegis.read('pk');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM aegis.packed_points;
SELECT count(*) AS points FROM aegis.read('pk');

-- aegis._write_request, the gateway's call (core/write_request.h): the
-- series the connection's dictionary lacks are defined (metric and tags),
-- then the samples name series by slot, all little-endian. pk_dict builds
-- one; pk_request one that starts dictionary 1 anew and defines every
-- series it names.
CREATE FUNCTION pk_le(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS
  $$ SELECT decode(string_agg(lpad(to_hex(get_byte(b, length(b) - 1 - i)), 2, '0'), '' ORDER BY i), 'hex')
       FROM generate_series(0, length(b) - 1) i $$;
CREATE FUNCTION pk_dict(dict bigint, reset bool, first int, metrics text[], tags text[], slots int[], ts timestamptz[],
                        vals float8[]) RETURNS bytea
  LANGUAGE sql IMMUTABLE AS $$
  SELECT '\x41455752'::bytea || pk_le(int4send(2)) || pk_le(int8send(dict)) || pk_le(int4send(reset::int))
         || pk_le(int4send(first)) || pk_le(int4send(cardinality(metrics))) || pk_le(int4send(cardinality(slots)))
         || coalesce((SELECT string_agg(pk_le(int4send(octet_length(m))) || convert_to(m, 'UTF8')
                                        || pk_le(int4send(octet_length(t))) || convert_to(t, 'UTF8'), ''::bytea ORDER BY o)
                        FROM unnest(metrics, tags) WITH ORDINALITY x (m, t, o)), '')
         || coalesce((SELECT string_agg(pk_le(int4send(i)) || pk_le(int8send(((extract(epoch FROM t) - 946684800) * 1000000)::bigint))
                                        || pk_le(float8send(v)), ''::bytea ORDER BY o)
                        FROM unnest(slots, ts, vals) WITH ORDINALITY y (i, t, v, o)), '') $$;
CREATE FUNCTION pk_request(metrics text[], tags text[], slots int[], ts timestamptz[], vals float8[]) RETURNS bytea
  LANGUAGE sql IMMUTABLE AS $$ SELECT pk_dict(1, true, 0, metrics, tags, slots, ts, vals) $$;
SELECT aegis._write_request(pk_request(ARRAY['wr', 'wr'], ARRAY['{"h": "x"}', '{"h": "y"}'], ARRAY[0, 1, 0],
                                       ARRAY['2024-01-02 00:00', '2024-01-02 00:00', '2024-01-02 00:01']::timestamptz[],
                                       ARRAY[1, 2, 3])) AS written;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('wr', '2024-01-02', '2024-01-03') ORDER BY 1, 2;
-- Later requests name the series by slot alone. The connection remembers
-- their ids; a series deleted after an invalidation of the catalog that
-- reset that memory (ANALYZE) is written to anew, never to its old id.
ANALYZE aegis.series;
SELECT aegis._write_request(pk_dict(1, false, 2, ARRAY[]::text[], ARRAY[]::text[], ARRAY[0, 1],
                                    ARRAY['2024-01-02 00:02', '2024-01-02 00:02']::timestamptz[], ARRAY[4, 5])) AS written;
SELECT aegis.delete_series(series_id) AS deleted FROM aegis.series WHERE metric = 'wr' AND tags ->> 'h' = 'y';
SELECT aegis._write_request(pk_dict(1, false, 2, ARRAY[]::text[], ARRAY[]::text[], ARRAY[0, 1],
                                    ARRAY['2024-01-02 00:03', '2024-01-02 00:03']::timestamptz[], ARRAY[6, 7])) AS written;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('wr', '2024-01-02', '2024-01-03') ORDER BY 1, 2;
-- A request adds slot 2 (series z) to the dictionary, and writes x and z.
SELECT aegis._write_request(pk_dict(1, false, 2, ARRAY['wr'], ARRAY['{"h": "z"}'], ARRAY[2, 0],
                                    ARRAY['2024-01-02 00:04', '2024-01-02 00:04']::timestamptz[], ARRAY[8, 8])) AS written;
-- A request of another dictionary, or one that starts at another slot than
-- the dictionary's size (the gateway and the connection disagree), is
-- refused with 55000, the gateway's cue to start again; nothing is written.
SELECT aegis._write_request(pk_dict(2, false, 3, ARRAY[]::text[], ARRAY[]::text[], ARRAY[0],
                                    ARRAY['2024-01-02 00:05']::timestamptz[], ARRAY[9]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_dict(1, false, 2, ARRAY['wr'], ARRAY['{"h": "w"}'], ARRAY[2],
                                    ARRAY['2024-01-02 00:05']::timestamptz[], ARRAY[9]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A slot past the dictionary: 22023.
SELECT aegis._write_request(pk_dict(1, false, 3, ARRAY[]::text[], ARRAY[]::text[], ARRAY[3],
                                    ARRAY['2024-01-02 00:05']::timestamptz[], ARRAY[9]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The dictionary still stands after refusals that changed nothing.
SELECT aegis._write_request(pk_dict(1, false, 3, ARRAY[]::text[], ARRAY[]::text[], ARRAY[1, 2],
                                    ARRAY['2024-01-02 00:05', '2024-01-02 00:05']::timestamptz[], ARRAY[10, 10])) AS written;
-- A request that fails half-way (its second definition is not a tag set)
-- may have defined some series: the dictionary is unusable until a request
-- starts it again.
SELECT aegis._write_request(pk_dict(1, false, 3, ARRAY['wr', 'wr'], ARRAY['{"h": "v"}', '{"h": 1}'], ARRAY[3, 4],
                                    ARRAY['2024-01-02 00:06', '2024-01-02 00:06']::timestamptz[], ARRAY[11, 11]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_dict(1, false, 3, ARRAY[]::text[], ARRAY[]::text[], ARRAY[0],
                                    ARRAY['2024-01-02 00:06']::timestamptz[], ARRAY[11]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_dict(5, true, 0, ARRAY['wr'], ARRAY['{"h": "x"}'], ARRAY[0],
                                    ARRAY['2024-01-02 00:06']::timestamptz[], ARRAY[11])) AS written;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('wr', '2024-01-02 00:04', '2024-01-03') ORDER BY 1, 2;
-- A slot keeps its write between requests, but not how it was locked: a
-- straight write into blocks (3 points of series a, at most 3 points a
-- block), then a packed batch of series a under another slot (other tag
-- text, same series), then a packed batch under the first slot. The last
-- write is a batch too, newer than the one before it: a reads 2, also
-- after the drain (written into blocks under the older batch instead, it
-- read 1).
SET aegis.block_max_points = 3;
SELECT aegis._write_request(pk_dict(7, true, 0, ARRAY['wr2', 'wr2'], ARRAY['{"h": "a"}', '{"h": "b"}'], ARRAY[0, 0, 0, 1],
                                    ARRAY['2024-01-02 00:01', '2024-01-02 00:02', '2024-01-02 00:03', '2024-01-02 00:01']::timestamptz[],
                                    ARRAY[0, 0, 0, 0])) AS written;
SELECT aegis._write_request(pk_dict(7, false, 2, ARRAY['wr2', 'wr2'], ARRAY['{"h":"a"}', '{"h": "c"}'], ARRAY[2, 3],
                                    ARRAY['2024-01-02 00:09', '2024-01-02 00:09']::timestamptz[], ARRAY[1, 1])) AS written;
SELECT aegis._write_request(pk_dict(7, false, 4, ARRAY[]::text[], ARRAY[]::text[], ARRAY[0, 1],
                                    ARRAY['2024-01-02 00:09', '2024-01-02 00:09']::timestamptz[], ARRAY[2, 2])) AS written;
RESET aegis.block_max_points;
SELECT tags ->> 'h' AS h, value FROM aegis.read('wr2', '2024-01-02 00:09', '2024-01-02 00:10') ORDER BY 1;
SELECT aegis.drain_packed();
SELECT count(*) AS batches_left FROM aegis.packed_points;
SELECT tags ->> 'h' AS h, value FROM aegis.read('wr2', '2024-01-02 00:09', '2024-01-02 00:10') ORDER BY 1;
-- Bad requests: each a clear error, nothing written.
SELECT aegis._write_request('\x00'::bytea);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(substr(pk_request(ARRAY['wr'], ARRAY['{}'], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1]), 1, 40));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_request(ARRAY['wr'], ARRAY['{}'], ARRAY[1], ARRAY['2024-01-02']::timestamptz[], ARRAY[1]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_request(ARRAY['wr', 'wr'], ARRAY['{}', '{}'], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_request(ARRAY['wr'], ARRAY['{"h": 1}'], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_request(ARRAY['wr'], ARRAY['{"h": '], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_request(ARRAY['9wr'], ARRAY['{}'], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Tag text that is not UTF-8 (a lone 0xff byte) and a timestamp past the
-- range: patched into a valid request.
SELECT aegis._write_request(overlay(pk_request(ARRAY['wr'], ARRAY['{"h": "z"}'], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1])
                                    PLACING '\xff'::bytea FROM 49 FOR 1));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(overlay(pk_request(ARRAY['wr'], ARRAY['{}'], ARRAY[0], ARRAY['2024-01-02']::timestamptz[], ARRAY[1])
                                    PLACING '\xffffffffffffff7f'::bytea FROM 49 FOR 8));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS wr_points FROM aegis.read('wr', '-infinity', 'infinity');
-- It needs INSERT on aegis.points, as COPY does; row-level security on
-- aegis.series decides which series a role may write.
CREATE ROLE pk_writer;
GRANT USAGE ON SCHEMA aegis TO pk_writer;
SET ROLE pk_writer;
SELECT aegis._write_request(pk_request(ARRAY['wr'], ARRAY['{"h": "x"}'], ARRAY[0], ARRAY['2024-01-02 00:09']::timestamptz[], ARRAY[9]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT INSERT ON aegis.points TO pk_writer;
GRANT SELECT ON aegis.series TO pk_writer;
ALTER TABLE aegis.series ENABLE ROW LEVEL SECURITY;
CREATE POLICY pk_x ON aegis.series TO pk_writer USING (tags ->> 'h' = 'x');
SET ROLE pk_writer;
SELECT aegis._write_request(pk_request(ARRAY['wr', 'wr'], ARRAY['{"h": "x"}', '{"h": "y"}'], ARRAY[0, 1],
                                       ARRAY['2024-01-02 00:09', '2024-01-02 00:09']::timestamptz[], ARRAY[9, 9]));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT aegis._write_request(pk_request(ARRAY['wr', 'wr'], ARRAY['{"h": "x"}', '{"h": "x"}'], ARRAY[0, 1],
                                       ARRAY['2024-01-02 00:09', '2024-01-02 00:10']::timestamptz[], ARRAY[9, 10])) AS written;
RESET ROLE;
DROP POLICY pk_x ON aegis.series;
ALTER TABLE aegis.series DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON aegis.points, aegis.series FROM pk_writer;
REVOKE USAGE ON SCHEMA aegis FROM pk_writer;
DROP ROLE pk_writer;
SELECT tags ->> 'h' AS h, ts, value FROM aegis.read('wr', '2024-01-02 00:04', '2024-01-03') ORDER BY 1, 2;
DROP FUNCTION pk_request(text[], text[], int[], timestamptz[], float8[]);
DROP FUNCTION pk_dict(bigint, bool, int, text[], text[], int[], timestamptz[], float8[]);
DROP FUNCTION pk_le(bytea);

-- TRUNCATE of the catalog empties the batches too.
INSERT INTO aegis.points (metric, tags, ts, value) VALUES
  ('pk', '{"h": "h1"}', '2024-01-01 00:50', 150), ('pk', '{"h": "h3"}', '2024-01-01 00:50', 350);
TRUNCATE aegis.series;
SELECT count(*) AS batches_left FROM aegis.packed_points;

DROP VIEW pk_diff;
DROP FUNCTION pk_put(text, timestamptz, float8);
DROP TABLE pk_plain;
DROP EXTENSION aegis_timeseries;
