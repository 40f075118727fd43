-- make bench: the benchmark database's own objects (run once, in a fresh
-- aegis_bench database). Everything of the benchmark itself lives in schema
-- bench, apart from the extension's tables, so it never counts in the
-- extension's sizes.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION aegis_timeseries;
CREATE SCHEMA bench;

-- Points of the data set being loaded, in file order (rn = line number of
-- <ds>.points.csv). Unlogged: it is scratch space, rebuilt for each data set.
CREATE UNLOGGED TABLE bench.staging (
    rn        bigint GENERATED ALWAYS AS IDENTITY,
    series_id int4 NOT NULL,
    ts        timestamptz NOT NULL,
    value     float8 NOT NULL
);
