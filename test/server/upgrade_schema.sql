-- Every object of extension aegis_timeseries with what defines it, one line
-- each, sorted: two databases whose outputs are equal have the same schema
-- (test/server/upgrade.sh compares an upgraded database with a fresh one).
-- Column order is left out (ALTER TABLE ADD COLUMN appends).
\pset format unaligned
\pset tuples_only on
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'aegis_timeseries'),
members AS (
  SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
)
SELECT line FROM (
  -- every member object
  SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
  UNION ALL
  -- functions and procedures: definition, comment, privileges, settings
  SELECT 'function ' || p.oid::regprocedure || ' ' ||
         CASE WHEN p.prokind IN ('f', 'p') THEN md5(pg_get_functiondef(p.oid)) ELSE p.prokind::text END ||
         ' volatility=' || p.provolatile::text || ' parallel=' || p.proparallel::text || ' strict=' || p.proisstrict ||
         ' secdef=' || p.prosecdef || ' config=' || coalesce(array_to_string(p.proconfig, ','), '') ||
         ' acl=' || coalesce(p.proacl::text, 'default') ||
         ' comment=' || coalesce(md5(obj_description(p.oid, 'pg_proc')), 'none')
    FROM pg_proc p WHERE p.pronamespace = 'aegis'::regnamespace
  UNION ALL
  -- aggregates
  SELECT 'aggregate ' || a.aggfnoid::regprocedure || ' ' || a.aggtransfn::regproc || ' ' || a.aggfinalfn::regproc ||
         ' ' || coalesce(a.aggcombinefn::regproc::text, '-') || ' ' || a.aggtranstype::regtype
    FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE p.pronamespace = 'aegis'::regnamespace
  UNION ALL
  -- relations: kind, options, privileges, row security, comment
  SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' options=' ||
         coalesce(array_to_string(c.reloptions, ','), '') || ' acl=' || coalesce(c.relacl::text, 'default') ||
         ' rls=' || c.relrowsecurity || ' force_rls=' || c.relforcerowsecurity ||
         ' comment=' || coalesce(md5(obj_description(c.oid, 'pg_class')), 'none')
    FROM pg_class c WHERE c.relnamespace = 'aegis'::regnamespace
  UNION ALL
  -- columns: type, nullability, default, storage, privileges, comment
  SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
         ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '') ||
         ' storage=' || a.attstorage::text || ' identity=' || a.attidentity::text || ' acl=' || coalesce(a.attacl::text, 'default') ||
         ' comment=' || coalesce(md5(col_description(a.attrelid, a.attnum)), 'none')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE c.relnamespace = 'aegis'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'view ' || c.oid::regclass || ' ' || md5(pg_get_viewdef(c.oid))
    FROM pg_class c WHERE c.relnamespace = 'aegis'::regnamespace AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'aegis'::regnamespace
  UNION ALL
  SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'aegis'::regnamespace
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = 'aegis'::regnamespace AND NOT t.tgisinternal
  UNION ALL
  SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive || ' ' ||
         array_to_string(roles, ',') || ' ' || cmd || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
    FROM pg_policies WHERE schemaname = 'aegis'
  UNION ALL
  SELECT 'sequence ' || seqrelid::regclass || ' ' || seqtypid::regtype || ' ' || seqincrement || ' ' || seqcache
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = 'aegis'::regnamespace
  UNION ALL
  SELECT 'schema aegis acl=' || coalesce(nspacl::text, 'default') FROM pg_namespace WHERE nspname = 'aegis'
  UNION ALL
  SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text
    FROM pg_type t WHERE t.typnamespace = 'aegis'::regnamespace AND t.typrelid = 0 AND t.typelem = 0
) lines
-- The partitions of aegis.blocks (and their keys and constraints) are data:
-- created on demand, and by the upgrade for the 0.1.0 blocks.
WHERE line !~ 'aegis\.blocks_(legacy|first|[0-9bc_]+)(_pkey)?\M'
ORDER BY line COLLATE "C";
