-- Metric metadata from clients (the gateway applies Prometheus's remote-write
-- metadata with it): sets a metric's kind, unit and description, creating
-- the metric when it is new. NULL leaves a field as it is.
CREATE FUNCTION aegis.describe_metric(name text, kind text DEFAULT NULL, unit text DEFAULT NULL,
                                      description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'metric name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind IS NOT NULL AND kind NOT IN ('gauge', 'counter', 'histogram', 'summary') THEN
        RAISE EXCEPTION 'invalid metric kind "%"', left(kind, 200)
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Valid kinds are gauge, counter, histogram and summary.';
    END IF;
    FOR attempt IN 1..2 LOOP
        UPDATE aegis.metric_catalog m
           SET kind = coalesce(describe_metric.kind, m.kind),
               unit = coalesce(describe_metric.unit, m.unit),
               description = coalesce(describe_metric.description, m.description)
         WHERE m.name = describe_metric.name;
        IF FOUND THEN
            RETURN;
        END IF;
        BEGIN
            -- Validates the name as every write does.
            PERFORM aegis.create_metric(name, coalesce(kind, 'gauge'), unit, description);
            RETURN;
        EXCEPTION WHEN duplicate_object THEN
            NULL;  -- created meanwhile (a write, another describe): update it
        END;
    END LOOP;
    -- Created and dropped again between the two attempts: say so rather
    -- than return as if described.
    RAISE EXCEPTION 'metric "%" was dropped while it was described', left(name, 200)
        USING ERRCODE = 'serialization_failure', HINT = 'Retry.';
END $$;
COMMENT ON FUNCTION aegis.describe_metric(text, text, text, text) IS
  'Sets a metric''s kind, unit and description (NULL keeps the field), creating the metric when it is new.';
REVOKE EXECUTE ON FUNCTION aegis.describe_metric(text, text, text, text) FROM PUBLIC;
