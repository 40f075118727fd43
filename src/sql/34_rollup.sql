-------------------------------------------------------------------------------
-- Roll-up and roll-off (API.md section 6; docs/operations.md "Roll-ups").
-- New in 0.2.0 (the upgrade from 0.1.0 runs this file).
-------------------------------------------------------------------------------

-- A metric's downsampling tiers, as aegis.set_downsampling stored them.
ALTER TABLE aegis.metric_catalog ADD COLUMN downsampling jsonb;

-- Rolled-up steps: per series and tier, blocks of per-step summaries
-- (docs/block-format.md section 10). Within a series the blocks never
-- overlap in time, and no step overlaps the raw points the roll-up replaced.
CREATE TABLE aegis.rollups (
    series_id   bigint NOT NULL,
    ts_min      timestamptz NOT NULL,
    ts_max      timestamptz NOT NULL,
    step        interval NOT NULL CONSTRAINT rollups_step_check CHECK (step > interval '0'),
    step_count  integer NOT NULL CONSTRAINT rollups_step_count_check CHECK (step_count > 0),
    point_count bigint NOT NULL CONSTRAINT rollups_point_count_check CHECK (point_count > 0),
    data        bytea NOT NULL,
    PRIMARY KEY (series_id, ts_min),
    CONSTRAINT rollups_check CHECK (ts_min <= ts_max)
);
ALTER TABLE aegis.rollups ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE aegis.rollups IS
  'Rolled-up points (aegis.set_downsampling): per series, blocks of per-step summaries starting at ts_min up to '
  'the step starting at ts_max; aegis.aggregate reads them with the raw points.';
SELECT pg_catalog.pg_extension_config_dump('aegis.rollups', '');
ALTER TABLE aegis.rollups ENABLE ROW LEVEL SECURITY;
CREATE POLICY series_visible ON aegis.rollups
    USING (EXISTS (SELECT 1 FROM aegis.series s WHERE s.series_id = rollups.series_id));

CREATE FUNCTION aegis.downsampling_preset(name text)
    RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    CASE name
        WHEN 'monitoring' THEN
            RETURN '[{"after": "1 day", "step": "5 minutes"}, {"after": "7 days", "step": "1 hour"},
                     {"after": "30 days", "step": "1 day"}, {"after": "365 days", "drop": true}]';
        WHEN 'iot' THEN
            RETURN '[{"after": "1 hour", "step": "1 minute"}, {"after": "1 day", "step": "15 minutes"},
                     {"after": "7 days", "step": "1 hour"}, {"after": "90 days", "drop": true}]';
        ELSE
            RAISE EXCEPTION 'downsampling preset "%" does not exist', name
                USING ERRCODE = 'undefined_object', HINT = 'The presets are ''monitoring'' and ''iot''.';
    END CASE;
END
$$;
COMMENT ON FUNCTION aegis.downsampling_preset(text) IS
  'The tiers of a downsampling preset, for aegis.set_downsampling: ''monitoring'' (raw for 1 day, then 5-minute '
  'steps to 7 days, hourly to 30 days, daily to 365 days, then dropped) or ''iot'' (raw for 1 hour, then 1-minute '
  'steps to 1 day, 15-minute to 7 days, hourly to 90 days, then dropped).';

-- The rules aegis.set_downsampling enforces; `now` checks that every cutoff
-- is in range, and the metric's steps already rolled up must combine with
-- every new step (one width a multiple of the other).
CREATE FUNCTION aegis._check_downsampling(tiers jsonb, now timestamptz, metric_name text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tier jsonb;
    position int := 0;
    after interval;
    step interval;
    previous_after interval;
    previous_step interval;
    steps int := 0;
    stored interval;
    new_micros numeric;
    dropped boolean := false;
    cutoff timestamptz;
BEGIN
    IF jsonb_typeof(tiers) <> 'array' OR jsonb_array_length(tiers) = 0 THEN
        RAISE EXCEPTION 'downsampling tiers must be a non-empty JSON array'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Write [{"after": "1 day", "step": "5 minutes"}, ...], or pass NULL to turn roll-ups off.';
    END IF;
    FOR tier IN SELECT e FROM jsonb_array_elements(tiers) e LOOP
        position := position + 1;
        IF dropped THEN
            RAISE EXCEPTION 'downsampling tier % follows a drop tier', position
                USING ERRCODE = 'invalid_parameter_value', HINT = 'A {"drop": true} tier must be the last.';
        END IF;
        IF jsonb_typeof(tier) <> 'object' OR NOT tier ? 'after'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(tier) k WHERE k NOT IN ('after', 'step', 'drop')) THEN
            RAISE EXCEPTION 'downsampling tier % must be an object with "after" and either "step" or "drop"', position
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', tier);
        END IF;
        BEGIN
            after := (tier->>'after')::interval;
            step := (tier->>'step')::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            RAISE EXCEPTION 'downsampling tier % has an "after" or "step" that is not an interval', position
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', tier);
        END;
        IF after IS NULL OR after <= interval '0' THEN
            RAISE EXCEPTION 'downsampling tier % must have a positive "after"', position
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', tier);
        END IF;
        IF extract(month FROM after) <> 0 OR extract(year FROM after) <> 0 OR after::text LIKE '%-%' THEN
            RAISE EXCEPTION 'downsampling tier % must have an "after" of fixed length', position
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Got "%s"; months and years have no fixed length.', after),
                      HINT = 'Write days, e.g. "365 days".';
        END IF;
        IF after <= previous_after THEN
            RAISE EXCEPTION 'downsampling tier % must start after tier %', position, position - 1
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('"after" %s is not longer than %s.', after, previous_after);
        END IF;
        IF tier ? 'drop' THEN
            IF tier->'drop' <> 'true'::jsonb OR tier ? 'step' THEN
                RAISE EXCEPTION 'downsampling tier % must have "drop": true and no "step"', position
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', tier);
            END IF;
            IF steps = 0 THEN
                RAISE EXCEPTION 'a drop tier needs a step tier before it'
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'To remove old points without rolling them up, use aegis.set_retention.';
            END IF;
            dropped := true;
        ELSE
            IF step IS NULL THEN
                RAISE EXCEPTION 'downsampling tier % needs a "step" or "drop": true', position
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', tier);
            END IF;
            IF extract(month FROM step) <> 0 OR extract(year FROM step) <> 0 OR step <= interval '0'
               OR step::text LIKE '%-%' OR step > interval '3650 days' THEN
                RAISE EXCEPTION 'downsampling tier % must have a positive step of fixed length, at most 3650 days',
                                position
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('Got "%s"; months and years have no fixed length.', step);
            END IF;
            IF previous_step IS NOT NULL AND (step <= previous_step
               OR (extract(epoch FROM step) * 1000000)::numeric
                  % (extract(epoch FROM previous_step) * 1000000)::numeric <> 0) THEN
                RAISE EXCEPTION 'downsampling tier % must have a step that is a larger whole multiple of tier %''s',
                                position, position - 1
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('"%s" is not a multiple of "%s" larger than it.', step, previous_step);
            END IF;
            new_micros := (extract(epoch FROM step) * 1000000)::numeric;
            SELECT u.width INTO stored
              FROM (SELECT DISTINCT r.step AS width FROM aegis.series s JOIN aegis.rollups r USING (series_id)
                     WHERE s.metric = metric_name) u
             WHERE (extract(epoch FROM u.width) * 1000000)::numeric % new_micros <> 0
               AND new_micros % (extract(epoch FROM u.width) * 1000000)::numeric <> 0
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'downsampling tier % has a step that cannot combine with steps already rolled up',
                                position
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('The metric holds steps of "%s"; "%s" is neither a multiple nor a divisor '
                                          'of it.', stored, step),
                          HINT = 'Choose steps that are multiples or divisors of the stored ones (aegis.rollup_stats '
                                 'lists them), or remove the rolled-up data with aegis.delete first.';
            END IF;
            previous_step := step;
            steps := steps + 1;
        END IF;
        BEGIN
            -- The cutoff the roll-up computes (in the same C++ code), which
            -- only moves forward from here.
            cutoff := aegis.time_bucket(previous_step, now - after);
        EXCEPTION WHEN datetime_field_overflow OR numeric_value_out_of_range THEN
            RAISE EXCEPTION 'downsampling tier % reaches past the oldest timestamp', position
                USING ERRCODE = 'datetime_field_overflow', DETAIL = format('"after" is %s.', after);
        END;
        previous_after := after;
    END LOOP;
END
$$;
COMMENT ON FUNCTION aegis._check_downsampling(jsonb, timestamptz, text) IS
  'Raises the error aegis.set_downsampling gives for tiers that break its rules.';
REVOKE EXECUTE ON FUNCTION aegis._check_downsampling(jsonb, timestamptz, text) FROM PUBLIC;

CREATE FUNCTION aegis.set_downsampling(metric text, tiers jsonb)
    RETURNS void
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_set_downsampling';
COMMENT ON FUNCTION aegis.set_downsampling(text, jsonb) IS
  'Sets the metric''s roll-up tiers: a JSON array of {"after": interval, "step": interval}, after rising, each '
  'step a whole multiple of the one before (fixed lengths, no months), and optionally last {"after": interval, '
  '"drop": true}. Points older than a tier''s after are replaced by per-step summaries (the next maintenance '
  'round or aegis.apply_downsampling does it) that aegis.aggregate reads with the raw points; past the drop '
  'tier they are removed. NULL turns roll-ups off (steps already rolled up stay).';
REVOKE EXECUTE ON FUNCTION aegis.set_downsampling(text, jsonb) FROM PUBLIC;

CREATE FUNCTION aegis.apply_downsampling()
    RETURNS bigint
    LANGUAGE c VOLATILE PARALLEL UNSAFE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'aegis_apply_downsampling';
COMMENT ON FUNCTION aegis.apply_downsampling() IS
  'Rolls up what the metrics'' downsampling tiers say (aegis.set_downsampling): raw points older than the first '
  'tier become per-step summaries, steps older than the next tier are combined into its coarser steps, steps '
  'past a drop tier are removed; each series in one step, so a crash leaves either the points or the summaries. '
  'Returns the points rolled up or dropped. A series another session is rewriting is left to the next call.';
REVOKE EXECUTE ON FUNCTION aegis.apply_downsampling() FROM PUBLIC;

CREATE VIEW aegis.rollup_stats WITH (security_invoker = true) AS
    SELECT s.metric, u.step, count(DISTINCT u.series_id) AS series, sum(u.point_count)::bigint AS points,
           sum(u.step_count)::bigint AS steps, count(*) AS blocks,
           sum(pg_catalog.pg_column_size(u.data))::bigint AS bytes, min(u.ts_min) AS oldest,
           max(u.ts_max + u.step) AS newest
      FROM aegis.rollups u JOIN aegis.series s USING (series_id)
     GROUP BY s.metric, u.step
     ORDER BY s.metric, u.step;
COMMENT ON VIEW aegis.rollup_stats IS
  'Rolled-up data per metric and step width: series, points summarized, steps, rollup blocks, bytes stored, and '
  'the time range the steps cover.';
