-- The warehouse: calls, their agent legs and recordings, and the sync bookkeeping.
-- Column names are the API field names in snake_case; epoch-ms fields are timestamptz; durations stay
-- integer seconds; each call keeps the record exactly as the service sent it in `raw`.
-- Schema ccc itself is created by ccc-sync before the first migration (or by deploy/sql/roles.sql).

CREATE TABLE ccc.calls (
    instance_id         text        NOT NULL,
    contact_id          text        NOT NULL,
    start_time          timestamptz NOT NULL,
    duration            integer,
    contact_type        text,
    contact_disposition text,
    calling_number      text,
    called_number       text,
    agent_names         text,
    skill_group_names   text,
    satisfaction        integer,
    satisfaction_desc   text,
    feedback            text,
    extra_attr          text,
    raw                 jsonb       NOT NULL,
    first_synced_at     timestamptz NOT NULL DEFAULT now(),
    last_changed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, contact_id)
);
CREATE INDEX calls_start_time_idx ON ccc.calls (start_time);

CREATE TABLE ccc.agent_legs (
    instance_id      text        NOT NULL,
    contact_id       text        NOT NULL,
    leg_no           smallint    NOT NULL CHECK (leg_no >= 1),
    agent_id         text,
    agent_name       text,
    skill_group_name text,
    start_time       timestamptz,
    queue_time       integer,
    ring_time        integer,
    talk_time        integer,
    hold_time        integer,
    work_time        integer,
    satisfaction     text,
    feedback         text,
    PRIMARY KEY (instance_id, contact_id, leg_no),
    FOREIGN KEY (instance_id, contact_id) REFERENCES ccc.calls ON DELETE CASCADE
);

CREATE TABLE ccc.recordings (
    instance_id      text        NOT NULL,
    contact_id       text        NOT NULL,
    recording_no     smallint    NOT NULL CHECK (recording_no >= 1),
    contact_type     text,
    agent_id         text,
    agent_name       text,
    calling_number   text,
    called_number    text,
    channel          text,
    file_name        text,
    file_description text,
    file_path        text,
    start_time       timestamptz,
    duration         integer,
    PRIMARY KEY (instance_id, contact_id, recording_no),
    FOREIGN KEY (instance_id, contact_id) REFERENCES ccc.calls ON DELETE CASCADE
);

CREATE TABLE ccc.sync_state (
    source             text        PRIMARY KEY,
    instance_id        text        NOT NULL,
    watermark          timestamptz NOT NULL,
    last_success_at    timestamptz,
    last_reconciled_at timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ccc.sync_runs (
    id                 bigserial   PRIMARY KEY,
    source             text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('incremental', 'reconcile', 'backfill')),
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    status             text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
    pages              integer     NOT NULL DEFAULT 0,
    records            integer     NOT NULL DEFAULT 0,
    duplicates         integer     NOT NULL DEFAULT 0,
    quarantined        integer     NOT NULL DEFAULT 0,
    calls_written      integer     NOT NULL DEFAULT 0,
    legs_written       integer     NOT NULL DEFAULT 0,
    recordings_written integer     NOT NULL DEFAULT 0,
    error_code         text,
    request_id         text,
    error              text,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL
);
CREATE INDEX sync_runs_source_finished_idx ON ccc.sync_runs (source, finished_at DESC);

CREATE TABLE ccc.quarantined_records (
    id            bigserial   PRIMARY KEY,
    source        text        NOT NULL,
    request_id    text,
    reason        text        NOT NULL,
    raw           jsonb       NOT NULL,
    raw_md5       text        GENERATED ALWAYS AS (md5(raw::text)) STORED UNIQUE,
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
