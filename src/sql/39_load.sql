-- Loading a wide table (one row per time, a column per metric: the shape of
-- most CSV exports) in one statement.
CREATE FUNCTION aegis.load(source regclass, ts_column name, metric_columns name[] DEFAULT NULL,
                           tag_columns name[] DEFAULT '{}', metric_prefix text DEFAULT '')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ts_type regtype;
    col name;
    metrics text[] := '{}';
    tags text[] := '{}';
    written bigint;
BEGIN
    IF source IS NULL OR ts_column IS NULL THEN
        RAISE EXCEPTION 'source and ts_column must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.atttypid::regtype INTO ts_type FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = ts_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF ts_type IS NULL THEN
        RAISE EXCEPTION 'column "%" of % does not exist', ts_column, source USING ERRCODE = 'undefined_column';
    END IF;
    IF ts_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
        RAISE EXCEPTION 'column "%" of % is %, not a timestamp', ts_column, source, ts_type
            USING ERRCODE = 'datatype_mismatch', HINT = 'The time column must be timestamptz, timestamp or date.';
    END IF;
    FOREACH col IN ARRAY coalesce(tag_columns, '{}') LOOP
        IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = source AND attname = col AND attnum > 0
                                                  AND NOT attisdropped) THEN
            RAISE EXCEPTION 'tag column "%" of % does not exist', col, source USING ERRCODE = 'undefined_column';
        END IF;
        tags := tags || format('%L, t.%I::text', col, col);
    END LOOP;
    IF metric_columns IS NULL THEN
        -- Every numeric column that is neither the time nor a tag.
        SELECT coalesce(array_agg(a.attname ORDER BY a.attnum), '{}') INTO metric_columns FROM pg_attribute a
         WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> ts_column
           AND a.attname <> ALL (coalesce(tag_columns, '{}'))
           AND a.atttypid IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'real'::regtype,
                              'double precision'::regtype, 'numeric'::regtype);
    END IF;
    IF cardinality(metric_columns) = 0 THEN
        RAISE EXCEPTION '% has no metric column to load', source USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the metric columns, or give the table numeric columns besides the time and the tags.';
    END IF;
    FOREACH col IN ARRAY metric_columns LOOP
        IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = source AND attname = col AND attnum > 0
                                                  AND NOT attisdropped) THEN
            RAISE EXCEPTION 'metric column "%" of % does not exist', col, source USING ERRCODE = 'undefined_column';
        END IF;
        metrics := metrics || format('(%L, t.%I::double precision)', coalesce(metric_prefix, '') || col, col);
    END LOOP;
    -- One pass over the source: each row becomes a point per metric column
    -- that is not NULL (NULL tags are left out of the tag set).
    EXECUTE format('INSERT INTO aegis.points (metric, tags, ts, value) '
                   'SELECT m.metric, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(%s)), '
                   't.%I::timestamptz, m.value FROM %s t CROSS JOIN LATERAL (VALUES %s) AS m (metric, value) '
                   'WHERE m.value IS NOT NULL AND t.%I IS NOT NULL',
                   array_to_string(tags, ', '), ts_column, source, array_to_string(metrics, ', '), ts_column);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$;
COMMENT ON FUNCTION aegis.load(regclass, name, name[], name[], text) IS
  'Writes a wide table (a row per time, a column per metric) into aegis.points in one statement: each non-NULL '
  'metric column of a row becomes a point of metric metric_prefix || column, tagged with the tag columns as text. '
  'metric_columns NULL: every numeric column but the time and the tags. Returns the points written.';
