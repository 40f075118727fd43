-- Maintenance (API.md section 6): aegis.run_maintenance() runs one round of
-- the background work and records each job in aegis.jobs.
SET TIME ZONE 'UTC';
SELECT aegis.write('maint', '{"k": "a"}', ARRAY(SELECT now() - i * interval '1 minute' FROM generate_series(1, 100) i),
                   ARRAY(SELECT i::float8 FROM generate_series(1, 100) i));
SELECT aegis.write('maint', '{"k": "b"}', now(), 1);   -- newer than aegis.compress_after: stays recent
SELECT job, points, duration >= '0' AS timed FROM aegis.run_maintenance();
SELECT job, database = current_database() AS this_database, points, last_duration >= '0' AS timed,
       last_start <= now() AS started, last_error FROM aegis.jobs;
SELECT count(*) AS recent_left FROM aegis.recent_points;
-- Nothing to do: 0 points, recorded again.
SELECT job, points FROM aegis.run_maintenance();
SELECT job, points FROM aegis.jobs;

-- A job that fails is recorded with its error, raised as a WARNING, and the
-- round goes on (here a trigger makes compress fail).
SELECT aegis.write('maint', '{"k": "c"}', now() - interval '1 hour', 3);
CREATE FUNCTION maint_fail() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'disk on fire' USING ERRCODE = 'XX123'; END $$;
CREATE TRIGGER maint_fail BEFORE DELETE ON aegis.recent_points FOR EACH ROW EXECUTE FUNCTION maint_fail();
SELECT job, points, duration >= '0' AS timed FROM aegis.run_maintenance();
SELECT job, points, last_error, last_error_at IS NOT NULL AS error_time FROM aegis.jobs;
SELECT count(*) AS recent_kept FROM aegis.recent_points;   -- nothing half done
DROP TRIGGER maint_fail ON aegis.recent_points;
DROP FUNCTION maint_fail();
-- The next successful round keeps the last error for the record.
SELECT job, points FROM aegis.run_maintenance();
SELECT job, points, last_error FROM aegis.jobs;

-- Only privileged roles run maintenance.
CREATE ROLE maint_nobody;
GRANT USAGE ON SCHEMA aegis TO maint_nobody;
SET ROLE maint_nobody;
SELECT * FROM aegis.run_maintenance();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE USAGE ON SCHEMA aegis FROM maint_nobody;
DROP ROLE maint_nobody;
SELECT aegis.drop_metric('maint');
