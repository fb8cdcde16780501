-- Each call carries the totals of its agent legs, and each leg carries its call's business_date, both kept
-- by triggers. Without them every daily view joins calls to legs call by call (about 3 µs a call, never in
-- parallel: a month of 800,000 calls would take seconds); with them each view reads one table over an
-- indexed date range. Other writers need not know: they write calls and legs as before, at the cost of a
-- second version of each call row. ccc-sync's writer writes the totals with the call instead and sets
-- ccc.leg_totals_from_writer for its transaction, which skips the recomputation.

ALTER TABLE ccc.calls
    ADD COLUMN leg_count  integer NOT NULL DEFAULT 0,
    ADD COLUMN queue_time integer,
    ADD COLUMN ring_time  integer,
    ADD COLUMN talk_time  integer,
    ADD COLUMN hold_time  integer,
    ADD COLUMN work_time  integer;

COMMENT ON COLUMN ccc.calls.leg_count IS 'Number of agent legs of the call (rows in ccc.agent_legs); 0 when it reached no agent. Kept by a trigger (or written by ccc-sync with the call); not from the API.';
COMMENT ON COLUMN ccc.calls.queue_time IS 'Seconds the call waited in skill group queues: sum of CallDetailAgent.QueueTime over its legs, a NULL leg value counting as 0; NULL when the call has no legs. Kept by a trigger.';
COMMENT ON COLUMN ccc.calls.ring_time IS 'Seconds agents'' phones rang: sum of CallDetailAgent.RingTime over its legs (NULL leg value as 0); NULL without legs. Kept by a trigger.';
COMMENT ON COLUMN ccc.calls.talk_time IS 'Seconds agents talked with the customer: sum of CallDetailAgent.TalkTime over its legs (NULL leg value as 0); NULL without legs. Kept by a trigger.';
COMMENT ON COLUMN ccc.calls.hold_time IS 'Seconds on hold: sum of CallDetailAgent.HoldTime over its legs (NULL leg value as 0); NULL without legs. Kept by a trigger.';
COMMENT ON COLUMN ccc.calls.work_time IS 'Seconds of after-call work: sum of CallDetailAgent.WorkTime over its legs (NULL leg value as 0); NULL without legs. Kept by a trigger.';

-- Recomputes the leg totals of the given calls from ccc.agent_legs, writing only the calls that change.
-- The calls are locked first, in key order, so that the recomputation (a statement of its own, with a fresh
-- snapshot) sees the legs of any concurrent writer of the same call that committed meanwhile.
CREATE FUNCTION ccc.refresh_call_leg_totals(instance_ids text[], contact_ids text[]) RETURNS void
    LANGUAGE sql
BEGIN ATOMIC
    SELECT c.contact_id
      FROM ccc.calls AS c
      JOIN unnest(instance_ids, contact_ids) AS u(instance_id, contact_id)
        ON c.instance_id = u.instance_id AND c.contact_id = u.contact_id
     ORDER BY c.instance_id, c.contact_id
       FOR UPDATE OF c;
    UPDATE ccc.calls AS c
       SET leg_count = t.leg_count,
           queue_time = t.queue_time,
           ring_time = t.ring_time,
           talk_time = t.talk_time,
           hold_time = t.hold_time,
           work_time = t.work_time
      FROM (
          SELECT k.instance_id,
                 k.contact_id,
                 count(a.leg_no)::integer AS leg_count,
                 sum(coalesce(a.queue_time, 0)) FILTER (WHERE a.leg_no IS NOT NULL)::integer AS queue_time,
                 sum(coalesce(a.ring_time, 0)) FILTER (WHERE a.leg_no IS NOT NULL)::integer AS ring_time,
                 sum(coalesce(a.talk_time, 0)) FILTER (WHERE a.leg_no IS NOT NULL)::integer AS talk_time,
                 sum(coalesce(a.hold_time, 0)) FILTER (WHERE a.leg_no IS NOT NULL)::integer AS hold_time,
                 sum(coalesce(a.work_time, 0)) FILTER (WHERE a.leg_no IS NOT NULL)::integer AS work_time
            FROM (SELECT DISTINCT u.instance_id, u.contact_id
                    FROM unnest(instance_ids, contact_ids) AS u(instance_id, contact_id)) AS k
            LEFT JOIN ccc.agent_legs AS a ON a.instance_id = k.instance_id AND a.contact_id = k.contact_id
           GROUP BY k.instance_id, k.contact_id
      ) AS t
     WHERE c.instance_id = t.instance_id
       AND c.contact_id = t.contact_id
       AND (c.leg_count, c.queue_time, c.ring_time, c.talk_time, c.hold_time, c.work_time)
           IS DISTINCT FROM (t.leg_count, t.queue_time, t.ring_time, t.talk_time, t.hold_time, t.work_time);
END;

COMMENT ON FUNCTION ccc.refresh_call_leg_totals(text[], text[]) IS
    'Recomputes ccc.calls.leg_count and the leg time totals of the calls given as parallel arrays of instance and contact ids; used by the agent_legs triggers.';

CREATE FUNCTION ccc.agent_legs_refresh_calls() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    instance_ids text[];
    contact_ids  text[];
BEGIN
    -- ccc-sync's writer computes the totals from the record it upserts, in the same statement as the call,
    -- and says so for its transaction; recomputing them here would write every call row a second time.
    IF current_setting('ccc.leg_totals_from_writer', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(n.instance_id), array_agg(n.contact_id) INTO instance_ids, contact_ids
          FROM new_legs AS n;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.instance_id), array_agg(k.contact_id) INTO instance_ids, contact_ids
          FROM (SELECT n.instance_id, n.contact_id FROM new_legs AS n
                UNION SELECT o.instance_id, o.contact_id FROM old_legs AS o) AS k;
    ELSE
        SELECT array_agg(o.instance_id), array_agg(o.contact_id) INTO instance_ids, contact_ids
          FROM old_legs AS o;
    END IF;
    PERFORM ccc.refresh_call_leg_totals(instance_ids, contact_ids);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.agent_legs_refresh_calls() IS
    'Trigger function: after legs are inserted, updated or deleted, recomputes the leg totals of their calls, unless the transaction set ccc.leg_totals_from_writer (ccc-sync writes them with the call).';

CREATE TRIGGER agent_legs_refresh_calls_insert
    AFTER INSERT ON ccc.agent_legs REFERENCING NEW TABLE AS new_legs
    FOR EACH STATEMENT EXECUTE FUNCTION ccc.agent_legs_refresh_calls();
CREATE TRIGGER agent_legs_refresh_calls_update
    AFTER UPDATE ON ccc.agent_legs REFERENCING OLD TABLE AS old_legs NEW TABLE AS new_legs
    FOR EACH STATEMENT EXECUTE FUNCTION ccc.agent_legs_refresh_calls();
CREATE TRIGGER agent_legs_refresh_calls_delete
    AFTER DELETE ON ccc.agent_legs REFERENCING OLD TABLE AS old_legs
    FOR EACH STATEMENT EXECUTE FUNCTION ccc.agent_legs_refresh_calls();

CREATE FUNCTION ccc.agent_legs_truncated() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE ccc.calls
       SET leg_count = 0, queue_time = NULL, ring_time = NULL, talk_time = NULL, hold_time = NULL, work_time = NULL
     WHERE leg_count <> 0;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.agent_legs_truncated() IS
    'Trigger function: after ccc.agent_legs is truncated, sets every call back to no legs.';

CREATE TRIGGER agent_legs_truncated
    AFTER TRUNCATE ON ccc.agent_legs
    FOR EACH STATEMENT EXECUTE FUNCTION ccc.agent_legs_truncated();

ALTER TABLE ccc.agent_legs ADD COLUMN business_date date;

CREATE FUNCTION ccc.agent_legs_set_business_date() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.business_date := (SELECT c.business_date
                            FROM ccc.calls AS c
                           WHERE c.instance_id = NEW.instance_id AND c.contact_id = NEW.contact_id);
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION ccc.agent_legs_set_business_date() IS
    'Trigger function: copies the business_date of the leg''s call onto the leg.';

CREATE TRIGGER agent_legs_business_date
    BEFORE INSERT OR UPDATE ON ccc.agent_legs
    FOR EACH ROW EXECUTE FUNCTION ccc.agent_legs_set_business_date();

CREATE FUNCTION ccc.calls_redate_legs() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE ccc.agent_legs AS a
       SET business_date = NEW.business_date
     WHERE a.instance_id = NEW.instance_id AND a.contact_id = NEW.contact_id;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.calls_redate_legs() IS
    'Trigger function: when a call''s business_date changes (new start_time or new business time zone), moves its legs to the same day.';

CREATE TRIGGER calls_redate_legs
    AFTER UPDATE ON ccc.calls
    FOR EACH ROW WHEN (OLD.business_date IS DISTINCT FROM NEW.business_date)
    EXECUTE FUNCTION ccc.calls_redate_legs();

-- Fills both for rows already stored: the legs trigger copies the date, and the statement trigger then
-- computes the totals of every call that has legs (a call without legs already has the right defaults).
UPDATE ccc.agent_legs SET business_date = NULL;
ALTER TABLE ccc.agent_legs ALTER COLUMN business_date SET NOT NULL;

COMMENT ON COLUMN ccc.agent_legs.business_date IS
    'The business_date of the leg''s call (ccc.calls.business_date), so that a leg counts on the day its call started. Kept by a trigger; not from the API, do not write it.';
