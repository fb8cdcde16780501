-- The business time zone, which decides the calendar day a call is reported on, and a stored
-- ccc.calls.business_date derived from it. The date is stored, not computed in the views, so that a date
-- range on a daily view can use an index: the zone is a setting, and an expression over a setting cannot
-- be indexed. Triggers keep the column right when a call is written and when the zone changes.

CREATE FUNCTION ccc.is_time_zone_name(zone text) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN EXISTS (SELECT FROM pg_catalog.pg_timezone_names AS z WHERE z.name = zone);

COMMENT ON FUNCTION ccc.is_time_zone_name(text) IS
    'Whether the text is an IANA time zone name PostgreSQL knows (Asia/Shanghai, UTC, ...). Abbreviations and POSIX strings are refused: ''UTC+8'' would mean UTC-8.';

CREATE TABLE ccc.settings (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    business_time_zone text    NOT NULL DEFAULT 'Asia/Shanghai' CHECK (ccc.is_time_zone_name(business_time_zone))
);
INSERT INTO ccc.settings DEFAULT VALUES;

COMMENT ON TABLE ccc.settings IS
    'Warehouse settings, one row. ccc-sync writes it at start-up from its configuration; edit the configuration, not this row.';
COMMENT ON COLUMN ccc.settings.singleton IS 'Always true: keeps the table to one row.';
COMMENT ON COLUMN ccc.settings.business_time_zone IS
    'IANA time zone whose calendar days and hours the views report in. Configuration key [warehouse] business_time_zone, default Asia/Shanghai. Changing it moves the calls and legs whose day differs in the new zone (ccc.calls.business_date, ccc.agent_legs.business_date).';

CREATE FUNCTION ccc.business_time_zone() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce((SELECT s.business_time_zone FROM ccc.settings AS s), 'Asia/Shanghai');

COMMENT ON FUNCTION ccc.business_time_zone() IS
    'The business time zone of ccc.settings, or Asia/Shanghai when the row is missing.';

CREATE FUNCTION ccc.business_today() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (now() AT TIME ZONE ccc.business_time_zone())::date;

COMMENT ON FUNCTION ccc.business_today() IS
    'Today in the business time zone, for relative filters that still use the indexes: business_date >= ccc.business_today() - 30.';

ALTER TABLE ccc.calls ADD COLUMN business_date date;

CREATE FUNCTION ccc.calls_set_business_date() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.business_date := (NEW.start_time AT TIME ZONE ccc.business_time_zone())::date;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION ccc.calls_set_business_date() IS
    'Trigger function: sets ccc.calls.business_date from start_time in the business time zone.';

CREATE TRIGGER calls_business_date
    BEFORE INSERT OR UPDATE OF start_time, business_date ON ccc.calls
    FOR EACH ROW EXECUTE FUNCTION ccc.calls_set_business_date();

-- Dates the calls already stored: the trigger replaces the NULL with the computed day.
UPDATE ccc.calls SET business_date = NULL;
ALTER TABLE ccc.calls ALTER COLUMN business_date SET NOT NULL;

COMMENT ON COLUMN ccc.calls.business_date IS
    'Calendar day of start_time in the business time zone (ccc.settings.business_time_zone): the day every view reports the call on. Kept by a trigger; not from the API, do not write it.';

CREATE FUNCTION ccc.settings_redate_calls() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    zone text := ccc.business_time_zone();
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.business_time_zone IS NOT DISTINCT FROM NEW.business_time_zone THEN
        RETURN NULL;
    END IF;
    UPDATE ccc.calls AS c
       SET business_date = NULL
     WHERE c.business_date IS DISTINCT FROM (c.start_time AT TIME ZONE zone)::date;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.settings_redate_calls() IS
    'Trigger function: when the business time zone changes, re-dates the calls whose business_date differs in the new zone (the calls trigger computes the value).';

CREATE TRIGGER settings_redate_calls
    AFTER INSERT OR UPDATE OR DELETE ON ccc.settings
    FOR EACH ROW EXECUTE FUNCTION ccc.settings_redate_calls();
