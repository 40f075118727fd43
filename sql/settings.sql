-- Settings (API.md section 6). With the library in shared_preload_libraries
-- (the supported set-up) every aegis.* setting exists from a session's first
-- statement, before any extension function ran: this file must start with it.
SHOW aegis.block_max_points;
SELECT name, setting, unit, context, short_desc FROM pg_settings WHERE name LIKE 'aegis.%' ORDER BY name;

-- Settings that protect the server are superuser-only: a writer must not be
-- able to lift the cardinality guard for itself.
CREATE ROLE aegis_settings_user LOGIN;
SET ROLE aegis_settings_user;
SET aegis.max_series_per_metric = 1000000000;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SHOW aegis.max_series_per_metric;
-- Settings a query may tune for itself stay per-session.
SET aegis.block_max_points = 500;
SET aegis.compress_after = '1 hour';
SHOW aegis.block_max_points;
RESET ROLE;
DROP ROLE aegis_settings_user;
SET aegis.max_series_per_metric = 5;
SHOW aegis.max_series_per_metric;
RESET aegis.max_series_per_metric;
