-- aegis_timeseries 0.1.0 -> 0.2.0 (issue 9: lifecycle), the hand-written part.
--
-- The upgrade script is this file followed by the pieces of src/sql that are
-- new in 0.2.0 (Makefile: PIECES_NEW_IN_0.2.0). Changes to objects that 0.1.0
-- already had go here, as ALTER statements, and into their piece; the
-- upgraded database must equal a fresh 0.2.0 install (test/server/upgrade.sh
-- compares them object by object).
\echo Use "ALTER EXTENSION aegis_timeseries UPDATE TO '0.2.0'" to load this file. \quit
