-------------------------------------------------------------------------------
-- Maintenance (API.md section 6): one round of the background work, by hand,
-- from cron or from the worker, and what each job last did. New in 0.2.0: the
-- upgrade from 0.1.0 runs this file too (Makefile).
-------------------------------------------------------------------------------

-- One row per job: what its last round did. Written by run_maintenance (as
-- the table owner); runtime state, so not dumped.
CREATE TABLE aegis.job_state (
    job            text PRIMARY KEY,
    last_start     timestamptz NOT NULL,
    last_duration  interval NOT NULL,
    points         bigint,
    last_error     text,
    last_error_at  timestamptz,
    next_start     timestamptz
);
COMMENT ON TABLE aegis.job_state IS
  'What each maintenance job last did (written by aegis.run_maintenance and the background worker); read it '
  'through aegis.jobs.';

CREATE VIEW aegis.jobs WITH (security_invoker = true) AS
    SELECT j.job, pg_catalog.current_database() AS database, j.last_start, j.last_duration,
           j.points, j.next_start, j.last_error, j.last_error_at
      FROM aegis.job_state j
     ORDER BY j.job;
COMMENT ON VIEW aegis.jobs IS
  'Maintenance jobs of this database: last start, duration, points processed (NULL when it failed), when the '
  'background worker runs it next (NULL without the worker), last error and when it happened.';

-- Each job runs in a subtransaction of its own: a job that fails is
-- recorded (and raised as a WARNING) and the round goes on with the next.
-- A cancel (statement_timeout, pg_cancel_backend) is not caught: it ends the
-- round, and what the round did and recorded is rolled back.
-- SECURITY DEFINER to record job state as the owner; it reads nothing for
-- the caller, and EXECUTE is revoked from PUBLIC (20_privileges.sql).
CREATE FUNCTION aegis.run_maintenance()
    RETURNS TABLE (job text, points bigint, duration interval)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    started timestamptz;
    error text;
BEGIN
    -- A distributed database is maintained from the Citus coordinator
    -- (aegis._maintained_here(), docs/scale-out.md).
    IF NOT aegis._maintained_here() THEN
        RAISE EXCEPTION 'maintenance of a distributed database runs on the Citus coordinator'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call aegis.run_maintenance() on the coordinator: its rounds cover every shard.';
    END IF;
    -- One round at a time per database: a second one returns no rows rather
    -- than wait (for the job rows) while it holds what its jobs locked.
    IF NOT pg_try_advisory_xact_lock(1095059274, 0) THEN  -- "AEGJ"
        RAISE NOTICE 'another aegis maintenance round is running in this database; nothing done';
        RETURN;
    END IF;
    FOREACH job IN ARRAY ARRAY['compress', 'rollup', 'merge', 'retention'] LOOP
        started := clock_timestamp();
        error := NULL;
        BEGIN
            CASE job
                WHEN 'compress' THEN points := aegis.compress();
                WHEN 'rollup' THEN points := aegis.apply_downsampling();
                WHEN 'merge' THEN points := aegis.merge_blocks();
                WHEN 'retention' THEN points := aegis.apply_retention();
            END CASE;
        EXCEPTION WHEN OTHERS THEN
            points := NULL;
            error := SQLSTATE || ': ' || SQLERRM;
            RAISE WARNING 'aegis maintenance job "%" failed: %', job, SQLERRM;
        END;
        duration := clock_timestamp() - started;
        INSERT INTO aegis.job_state AS s (job, last_start, last_duration, points, last_error, last_error_at)
        VALUES (job, started, duration, points, error, CASE WHEN error IS NOT NULL THEN started END)
        ON CONFLICT (job) DO UPDATE
           SET last_start = EXCLUDED.last_start, last_duration = EXCLUDED.last_duration,
               points = EXCLUDED.points,
               last_error = coalesce(EXCLUDED.last_error, s.last_error),
               last_error_at = coalesce(EXCLUDED.last_error_at, s.last_error_at);
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION aegis.run_maintenance() IS
  'Runs one round of maintenance in this database, as the background worker does: compress (recent points '
  'older than aegis.compress_after into blocks), rollup (aegis.apply_downsampling), merge (small blocks into '
  'full ones), retention '
  '(aegis.apply_retention). Returns one row per job: points processed (NULL if it failed) and duration. '
  'A failed job is recorded in aegis.jobs and the round goes on; a round already running elsewhere in this '
  'database makes it return no rows.';
REVOKE EXECUTE ON FUNCTION aegis.run_maintenance() FROM PUBLIC;
