-- aegis_timeseries 0.1.0 -> 0.2.0 (issue 9: lifecycle).
--
-- Every change to the schema since 0.1.0 goes here as well as into the
-- pieces in src/sql/ that make the 0.2.0 install script, so that an upgraded
-- database and a fresh 0.2.0 install are the same (test/server/upgrade.sh
-- compares them object by object). Nothing has changed yet.
\echo Use "ALTER EXTENSION aegis_timeseries UPDATE TO '0.2.0'" to load this file. \quit
