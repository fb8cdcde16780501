-- The foreign keys from ccc.agent_legs and ccc.recordings to ccc.calls checked every leg and recording
-- written with a per-row trigger that also locked the row of its call: about half of a bulk write's time
-- (measured in docs/performance.md). ccc-sync's writer only writes a call's legs and recordings in the
-- statement after the call itself, in the same transaction, so the check can never fail for it; it says so
-- for its transaction (ccc.children_from_writer), as it does for business dates and leg totals.
--
-- For every other writer the schema stays as exact as the keys made it, with triggers that stand aside
-- only for ccc-sync's transactions:
-- - a leg or recording must have its call (refused with foreign_key_violation, like the key);
-- - deleting or truncating calls deletes their legs and recordings (the keys' ON DELETE CASCADE);
-- - a call's key cannot change while it has legs or recordings (the keys' NO ACTION).

ALTER TABLE ccc.agent_legs DROP CONSTRAINT agent_legs_instance_id_contact_id_fkey;
ALTER TABLE ccc.recordings DROP CONSTRAINT recordings_instance_id_contact_id_fkey;

CREATE FUNCTION ccc.require_call() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM ccc.calls AS c
     WHERE c.instance_id = NEW.instance_id AND c.contact_id = NEW.contact_id
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('ccc.%s row (%s, %s) has no call in ccc.calls',
                             TG_TABLE_NAME, NEW.instance_id, NEW.contact_id),
            HINT = 'Insert the call first, in the same transaction.';
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION ccc.require_call() IS
    'Trigger function: refuses a leg or recording whose call is not in ccc.calls (what the foreign key did), for writers other than ccc-sync.';

CREATE TRIGGER agent_legs_require_call
    BEFORE INSERT OR UPDATE OF instance_id, contact_id ON ccc.agent_legs
    FOR EACH ROW
    WHEN (current_setting('ccc.children_from_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION ccc.require_call();

CREATE TRIGGER recordings_require_call
    BEFORE INSERT OR UPDATE OF instance_id, contact_id ON ccc.recordings
    FOR EACH ROW
    WHEN (current_setting('ccc.children_from_writer', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION ccc.require_call();

CREATE FUNCTION ccc.calls_deleted() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM ccc.agent_legs AS a USING old_calls AS o
     WHERE a.instance_id = o.instance_id AND a.contact_id = o.contact_id;
    DELETE FROM ccc.recordings AS r USING old_calls AS o
     WHERE r.instance_id = o.instance_id AND r.contact_id = o.contact_id;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.calls_deleted() IS
    'Trigger function: deletes the legs and recordings of deleted calls (what ON DELETE CASCADE did).';

CREATE TRIGGER calls_deleted
    AFTER DELETE ON ccc.calls REFERENCING OLD TABLE AS old_calls
    FOR EACH STATEMENT EXECUTE FUNCTION ccc.calls_deleted();

CREATE FUNCTION ccc.calls_truncated() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    TRUNCATE ccc.agent_legs, ccc.recordings;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.calls_truncated() IS
    'Trigger function: empties ccc.agent_legs and ccc.recordings when ccc.calls is truncated.';

CREATE TRIGGER calls_truncated
    AFTER TRUNCATE ON ccc.calls
    FOR EACH STATEMENT EXECUTE FUNCTION ccc.calls_truncated();

CREATE FUNCTION ccc.calls_key_kept() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ccc.agent_legs AS a
                WHERE a.instance_id = OLD.instance_id AND a.contact_id = OLD.contact_id)
       OR EXISTS (SELECT 1 FROM ccc.recordings AS r
                   WHERE r.instance_id = OLD.instance_id AND r.contact_id = OLD.contact_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('call (%s, %s) still has legs or recordings; its key cannot change',
                             OLD.instance_id, OLD.contact_id);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION ccc.calls_key_kept() IS
    'Trigger function: refuses to change the key of a call that has legs or recordings (what the foreign key did).';

CREATE TRIGGER calls_key_kept
    AFTER UPDATE OF instance_id, contact_id ON ccc.calls
    FOR EACH ROW
    WHEN (OLD.instance_id IS DISTINCT FROM NEW.instance_id OR OLD.contact_id IS DISTINCT FROM NEW.contact_id)
    EXECUTE FUNCTION ccc.calls_key_kept();
