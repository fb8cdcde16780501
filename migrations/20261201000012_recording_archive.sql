-- The recording archive: which recording files were copied into the customer's own storage, where, and
-- which the service no longer has. One row per file ever tried; a file without a row is not archived yet.
-- Kept apart from ccc.recordings, which the sync rewrites whenever a call changes.

CREATE TABLE ccc.recording_archive (
    instance_id  text        NOT NULL,
    contact_id   text        NOT NULL,
    file_name    text        NOT NULL,
    state        text        NOT NULL CHECK (state IN ('archived', 'gone', 'failing')),
    target       text,
    object_key   text,
    size_bytes   bigint      CHECK (size_bytes >= 0),
    sha256       text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_type text,
    archived_at  timestamptz,
    gone_reason  text,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    retry_after  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, contact_id, file_name),
    CONSTRAINT recording_archive_archived_complete CHECK (
        state <> 'archived'
        OR (target IS NOT NULL AND object_key IS NOT NULL AND size_bytes IS NOT NULL
            AND sha256 IS NOT NULL AND archived_at IS NOT NULL)
    ),
    CONSTRAINT recording_archive_gone_has_reason CHECK (state <> 'gone' OR gone_reason IS NOT NULL)
);

-- The archiver's backlog query walks recordings by call; failing files wait for their retry time.
CREATE INDEX recording_archive_failing_idx ON ccc.recording_archive (retry_after) WHERE state = 'failing';

COMMENT ON TABLE ccc.recording_archive IS
    'Recording files copied by ccc-sync into the customer''s own storage ([recordings] archive), or found gone from the service. One row per file tried; no row means not archived yet. The object is always written before its row says archived.';
COMMENT ON COLUMN ccc.recording_archive.instance_id IS 'CCC instance of the call (ccc.recordings.instance_id).';
COMMENT ON COLUMN ccc.recording_archive.contact_id IS 'The call recorded (ccc.recordings.contact_id).';
COMMENT ON COLUMN ccc.recording_archive.file_name IS 'The file, as the service names it (ccc.recordings.file_name).';
COMMENT ON COLUMN ccc.recording_archive.state IS 'archived: the object is in the target with this size and SHA-256. gone: the service no longer has the file (gone_reason says how it answered); never retried. failing: the last attempt failed transiently (last_error); tried again after retry_after.';
COMMENT ON COLUMN ccc.recording_archive.target IS 'Where the object was written: s3://bucket or file:///directory ([recordings] settings at the time).';
COMMENT ON COLUMN ccc.recording_archive.object_key IS 'The object''s key in the target: <prefix>/<instance>/<yyyy>/<mm>/<dd>/<contact_id>/<file_name>, the date the call''s start in UTC.';
COMMENT ON COLUMN ccc.recording_archive.size_bytes IS 'Bytes downloaded and written.';
COMMENT ON COLUMN ccc.recording_archive.sha256 IS 'SHA-256 of those bytes, lowercase hex: compare it with the object to prove the copy.';
COMMENT ON COLUMN ccc.recording_archive.content_type IS 'Content-Type the service served the file with.';
COMMENT ON COLUMN ccc.recording_archive.archived_at IS 'When the object was written and this row committed.';
COMMENT ON COLUMN ccc.recording_archive.gone_reason IS 'For gone files: what the service answered, e.g. NotExist.Record or OSS 404 NoSuchKey after a fresh link.';
COMMENT ON COLUMN ccc.recording_archive.attempts IS 'Failed attempts so far (each itself retried with backoff for [recordings] retry_for).';
COMMENT ON COLUMN ccc.recording_archive.last_error IS 'For failing files: the last error, with the service''s RequestId where there is one.';
COMMENT ON COLUMN ccc.recording_archive.retry_after IS 'For failing files: not tried again before this time.';
COMMENT ON COLUMN ccc.recording_archive.updated_at IS 'When the row last changed.';

CREATE VIEW ccc.recording_files AS
SELECT r.instance_id,
       r.contact_id,
       r.recording_no,
       r.file_name,
       r.agent_id,
       r.agent_name,
       r.start_time,
       r.duration,
       c.start_time AS call_start_time,
       coalesce(a.state, 'pending') AS archive_state,
       a.target,
       a.object_key,
       CASE WHEN a.state = 'archived' THEN a.target || '/' || a.object_key END AS object_url,
       a.size_bytes,
       a.sha256,
       a.content_type,
       a.archived_at,
       a.gone_reason
FROM ccc.recordings AS r
JOIN ccc.calls AS c USING (instance_id, contact_id)
LEFT JOIN ccc.recording_archive AS a USING (instance_id, contact_id, file_name)
WHERE r.file_name IS NOT NULL AND r.file_name <> '';

COMMENT ON VIEW ccc.recording_files IS
    'Each recording file with its archive status, so a dashboard can link a call to its audio in the customer''s own storage. Join on (instance_id, contact_id) to ccc.calls_enriched.';
COMMENT ON COLUMN ccc.recording_files.instance_id IS 'CCC instance of the call.';
COMMENT ON COLUMN ccc.recording_files.contact_id IS 'The call recorded.';
COMMENT ON COLUMN ccc.recording_files.recording_no IS 'Position of the recording in the call''s list, from 1.';
COMMENT ON COLUMN ccc.recording_files.file_name IS 'The file, as the service names it.';
COMMENT ON COLUMN ccc.recording_files.agent_id IS 'Agent on the recording.';
COMMENT ON COLUMN ccc.recording_files.agent_name IS 'Agent display name.';
COMMENT ON COLUMN ccc.recording_files.start_time IS 'When the recording started.';
COMMENT ON COLUMN ccc.recording_files.duration IS 'Length of the recording in seconds.';
COMMENT ON COLUMN ccc.recording_files.call_start_time IS 'When the call started (ccc.calls.start_time).';
COMMENT ON COLUMN ccc.recording_files.archive_state IS 'pending (not archived yet), archived, gone (the service no longer has it) or failing (to be tried again).';
COMMENT ON COLUMN ccc.recording_files.target IS 'Where the copy is: s3://bucket or file:///directory.';
COMMENT ON COLUMN ccc.recording_files.object_key IS 'The copy''s key in the target.';
COMMENT ON COLUMN ccc.recording_files.object_url IS 'target/object_key of an archived file, e.g. s3://bucket/ccc-recordings/...; NULL otherwise.';
COMMENT ON COLUMN ccc.recording_files.size_bytes IS 'Size of the copy in bytes.';
COMMENT ON COLUMN ccc.recording_files.sha256 IS 'SHA-256 of the copy, lowercase hex.';
COMMENT ON COLUMN ccc.recording_files.content_type IS 'Content-Type of the file.';
COMMENT ON COLUMN ccc.recording_files.archived_at IS 'When the copy was made.';
COMMENT ON COLUMN ccc.recording_files.gone_reason IS 'For gone files: what the service answered.';
