-------------------------------------------------------------------------------
-- Rolling windows and the counter aggregates (API.md section 5;
-- docs/queries.md). New in 0.2.0 (the upgrade from 0.1.0 runs this file).
-------------------------------------------------------------------------------

CREATE FUNCTION aegis.rolling(selector text, fn text, width interval,
                              since timestamptz DEFAULT '-infinity', until timestamptz DEFAULT 'infinity')
    RETURNS TABLE (series_id bigint, tags jsonb, ts timestamptz, value double precision)
    LANGUAGE c STABLE PARALLEL UNSAFE ROWS 1000
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_rolling';
COMMENT ON FUNCTION aegis.rolling(text, text, interval, timestamptz, timestamptz) IS
  'For every point of the matching series with since <= ts < until, fn (any fn of aegis.aggregate) over the '
  'trailing window (ts - width, ts] of its series; rows ordered by series_id, then ts.';

-- rate(value, ts), increase(value, ts), delta(value, ts): the change across
-- the group's samples (counter resets handled for rate and increase);
-- with (value, ts, since, until): Prometheus's extrapolated value over the
-- window [since, until). The state keeps the samples (bytea, 16 bytes per
-- sample) and is sorted at the end, so the result does not depend on the
-- order of the rows.
CREATE FUNCTION aegis._counter_transfn(state bytea, value double precision, ts timestamptz) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_counter_transfn';
CREATE FUNCTION aegis._counter_transfn(state bytea, value double precision, ts timestamptz,
                                       since timestamptz, until timestamptz) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_counter_window_transfn';
CREATE FUNCTION aegis._counter_combinefn(a bytea, b bytea) RETURNS bytea
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_counter_combinefn';
CREATE FUNCTION aegis._rate_finalfn(state bytea) RETURNS double precision
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_rate_finalfn';
CREATE FUNCTION aegis._increase_finalfn(state bytea) RETURNS double precision
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_increase_finalfn';
CREATE FUNCTION aegis._delta_finalfn(state bytea) RETURNS double precision
    LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'aegis_delta_finalfn';
COMMENT ON FUNCTION aegis._counter_transfn(bytea, double precision, timestamptz) IS
  'Transition of aegis.rate, aegis.increase and aegis.delta: keeps the sample.';
COMMENT ON FUNCTION aegis._counter_transfn(bytea, double precision, timestamptz, timestamptz, timestamptz) IS
  'Transition of the windowed aegis.rate, aegis.increase and aegis.delta: keeps the sample when it lies in the window.';
COMMENT ON FUNCTION aegis._counter_combinefn(bytea, bytea) IS
  'Combines two partial states of aegis.rate, aegis.increase or aegis.delta.';
COMMENT ON FUNCTION aegis._rate_finalfn(bytea) IS 'Final function of aegis.rate.';
COMMENT ON FUNCTION aegis._increase_finalfn(bytea) IS 'Final function of aegis.increase.';
COMMENT ON FUNCTION aegis._delta_finalfn(bytea) IS 'Final function of aegis.delta.';

CREATE AGGREGATE aegis.rate(value double precision, ts timestamptz) (
    SFUNC = aegis._counter_transfn, STYPE = bytea, COMBINEFUNC = aegis._counter_combinefn,
    FINALFUNC = aegis._rate_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.rate(double precision, timestamptz) IS
  'Per-second increase of a counter across the samples (resets handled), over the seconds between the first and last sample.';
CREATE AGGREGATE aegis.increase(value double precision, ts timestamptz) (
    SFUNC = aegis._counter_transfn, STYPE = bytea, COMBINEFUNC = aegis._counter_combinefn,
    FINALFUNC = aegis._increase_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.increase(double precision, timestamptz) IS
  'Increase of a counter across the samples: last - first plus the value before each reset.';
CREATE AGGREGATE aegis.delta(value double precision, ts timestamptz) (
    SFUNC = aegis._counter_transfn, STYPE = bytea, COMBINEFUNC = aegis._counter_combinefn,
    FINALFUNC = aegis._delta_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.delta(double precision, timestamptz) IS
  'Change of a gauge across the samples: the last value minus the first.';
CREATE AGGREGATE aegis.rate(value double precision, ts timestamptz, since timestamptz, until timestamptz) (
    SFUNC = aegis._counter_transfn, STYPE = bytea, COMBINEFUNC = aegis._counter_combinefn,
    FINALFUNC = aegis._rate_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.rate(double precision, timestamptz, timestamptz, timestamptz) IS
  'Prometheus''s rate over the window [since, until): the extrapolated increase per second of the window.';
CREATE AGGREGATE aegis.increase(value double precision, ts timestamptz, since timestamptz, until timestamptz) (
    SFUNC = aegis._counter_transfn, STYPE = bytea, COMBINEFUNC = aegis._counter_combinefn,
    FINALFUNC = aegis._increase_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.increase(double precision, timestamptz, timestamptz, timestamptz) IS
  'Prometheus''s increase over the window [since, until): extrapolated towards the window''s edges.';
CREATE AGGREGATE aegis.delta(value double precision, ts timestamptz, since timestamptz, until timestamptz) (
    SFUNC = aegis._counter_transfn, STYPE = bytea, COMBINEFUNC = aegis._counter_combinefn,
    FINALFUNC = aegis._delta_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE aegis.delta(double precision, timestamptz, timestamptz, timestamptz) IS
  'Prometheus''s delta over the window [since, until): extrapolated towards the window''s edges.';
