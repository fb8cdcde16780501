-- ccc-sync's writer computes each call's and each leg's business_date in its own set-based statements, with
-- the same expression the triggers use, and says so for its transaction (ccc.dates_from_writer), as it
-- already does for the leg totals. The per-row PL/pgSQL triggers then stand aside without being called: a
-- trigger's WHEN condition is evaluated by the executor, so a bulk write pays no function call per row
-- (it cost four times the plain insert). Any other writer leaves the setting unset and keeps the triggers,
-- so the columns stay exact whoever writes; a change of business time zone still re-dates stored rows
-- (settings_redate_calls and calls_redate_legs are unchanged).

DROP TRIGGER calls_business_date ON ccc.calls;
CREATE TRIGGER calls_business_date
    BEFORE INSERT OR UPDATE OF start_time, business_date ON ccc.calls
    FOR EACH ROW
    WHEN (current_setting('ccc.dates_from_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION ccc.calls_set_business_date();

DROP TRIGGER agent_legs_business_date ON ccc.agent_legs;
CREATE TRIGGER agent_legs_business_date
    BEFORE INSERT OR UPDATE ON ccc.agent_legs
    FOR EACH ROW
    WHEN (current_setting('ccc.dates_from_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION ccc.agent_legs_set_business_date();

COMMENT ON COLUMN ccc.calls.business_date IS
    'Calendar day of start_time in the business time zone (ccc.settings.business_time_zone): the day every view reports the call on. Written by ccc-sync with the call, or kept by a trigger for other writers; not from the API.';
COMMENT ON COLUMN ccc.agent_legs.business_date IS
    'The business_date of the leg''s call (ccc.calls.business_date), so that a leg counts on the day its call started. Written by ccc-sync with the leg, or kept by a trigger for other writers; not from the API.';
