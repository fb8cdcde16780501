-- Describes every base table and column, so that a BI tool browsing schema `ccc` shows what each one means,
-- its unit and the API field it comes from. API names are those of `ListRecentCallRecords` /
-- `ListCallDetailRecords` (CCC 2017-07-05); epoch-millisecond fields are stored as timestamptz, durations
-- as integer seconds.

COMMENT ON SCHEMA ccc IS
    'Alibaba Cloud Contact Center (CCC) call records kept by ccc-sync. Start with the views calls_enriched, daily_calls, agent_daily and skill_group_daily; docs/warehouse.md defines every measure.';

COMMENT ON TABLE ccc._sqlx_migrations IS
    'Which schema migrations of ccc-sync have been applied (kept by sqlx). Not business data.';
COMMENT ON COLUMN ccc._sqlx_migrations.version IS 'Migration number, the prefix of its file name in migrations/.';
COMMENT ON COLUMN ccc._sqlx_migrations.description IS 'Migration file name without the number.';
COMMENT ON COLUMN ccc._sqlx_migrations.installed_on IS 'When the migration was applied.';
COMMENT ON COLUMN ccc._sqlx_migrations.success IS 'Whether the migration completed.';
COMMENT ON COLUMN ccc._sqlx_migrations.checksum IS 'SHA-384 of the migration file; a mismatch means an applied migration was edited.';
COMMENT ON COLUMN ccc._sqlx_migrations.execution_time IS 'How long the migration took, in nanoseconds.';

COMMENT ON TABLE ccc.calls IS
    'One row per call (CallDetailRecord), deduplicated across sources and updated when the service changes the record (for example a survey answered later). For reporting use ccc.calls_enriched.';
COMMENT ON COLUMN ccc.calls.instance_id IS 'CCC instance the call belongs to. CallDetailRecord.InstanceId, or the instance of the configured source when the record omits it.';
COMMENT ON COLUMN ccc.calls.contact_id IS 'Call id, unique across CCC. CallDetailRecord.ContactId (digits, kept as text).';
COMMENT ON COLUMN ccc.calls.start_time IS 'When the call started: inbound calls when they entered the IVR, outbound calls when they connected. CallDetailRecord.StartTime, epoch ms → timestamptz.';
COMMENT ON COLUMN ccc.calls.duration IS 'Length of the whole call in seconds. CallDetailRecord.Duration. NULL when the service did not send it.';
COMMENT ON COLUMN ccc.calls.contact_type IS 'Direction/kind of call as a code (Inbound, Outbound, ...); labels in ccc.contact_types. CallDetailRecord.ContactType.';
COMMENT ON COLUMN ccc.calls.contact_disposition IS 'How the call ended as a code (Success, AbandonedInQueue, ...); labels and answered/abandoned flags in ccc.contact_dispositions. CallDetailRecord.ContactDisposition.';
COMMENT ON COLUMN ccc.calls.calling_number IS 'Number of the calling party, leading zeros kept. Personal data: stored raw, masked (138****5678) or hashed (hmac:<hex>) according to the [privacy] phone_numbers setting in force when the row was written. CallDetailRecord.CallingNumber.';
COMMENT ON COLUMN ccc.calls.called_number IS 'Number of the called party, leading zeros kept. Personal data, stored per the [privacy] phone_numbers setting like calling_number. CallDetailRecord.CalledNumber.';
COMMENT ON COLUMN ccc.calls.agent_names IS 'Names of the agents on the call, comma-separated, as the service sent them. CallDetailRecord.AgentNames. Per-agent figures come from ccc.agent_legs.';
COMMENT ON COLUMN ccc.calls.skill_group_names IS 'Skill groups (queues) the call passed through, comma-separated. CallDetailRecord.SkillGroupNames.';
COMMENT ON COLUMN ccc.calls.satisfaction IS 'Survey answer key the customer chose; NULL unless the customer rated the call. CallDetailRecord.Satisfaction (integer).';
COMMENT ON COLUMN ccc.calls.satisfaction_desc IS 'Survey outcome as text, e.g. 满意 (satisfied), 未评价 (survey sent, not rated), 未发送 (survey not sent). CallDetailRecord.SatisfactionDesc.';
COMMENT ON COLUMN ccc.calls.feedback IS 'Free-text feedback on the call; may be empty. CallDetailRecord.Feedback.';
COMMENT ON COLUMN ccc.calls.extra_attr IS 'Custom attributes attached to the call by the contact flow, as sent. CallDetailRecord.ExtraAttr.';
COMMENT ON COLUMN ccc.calls.raw IS 'The whole CallDetailRecord JSON as the service sent it, unknown fields included, with phone numbers rewritten per the [privacy] phone_numbers setting.';
COMMENT ON COLUMN ccc.calls.first_synced_at IS 'When ccc-sync first stored this call (not from the API).';
COMMENT ON COLUMN ccc.calls.last_changed_at IS 'When ccc-sync last changed this row because the service sent different data (not from the API).';

COMMENT ON TABLE ccc.agent_legs IS
    'One row per agent leg of a call (CallDetailAgent): each time an agent was offered or handled the call. A transferred call has several legs. Deleted with its call.';
COMMENT ON COLUMN ccc.agent_legs.instance_id IS 'CCC instance of the call; with contact_id, references ccc.calls.';
COMMENT ON COLUMN ccc.agent_legs.contact_id IS 'The call this leg belongs to (ccc.calls.contact_id). CallDetailAgent.ContactId.';
COMMENT ON COLUMN ccc.agent_legs.leg_no IS 'Position of the leg in the record''s Agents list, from 1, in the order the service sent them (not from the API).';
COMMENT ON COLUMN ccc.agent_legs.agent_id IS 'Agent who was offered or handled this leg. CallDetailAgent.AgentId.';
COMMENT ON COLUMN ccc.agent_legs.agent_name IS 'Agent display name at the time of the call. CallDetailAgent.AgentName.';
COMMENT ON COLUMN ccc.agent_legs.skill_group_name IS 'Skill group (queue) through which the call reached the agent. CallDetailAgent.SkillGroupName.';
COMMENT ON COLUMN ccc.agent_legs.start_time IS 'When this leg started. CallDetailAgent.StartTime, epoch ms → timestamptz; NULL when absent.';
COMMENT ON COLUMN ccc.agent_legs.queue_time IS 'Seconds the call waited in the skill group queue before this leg. CallDetailAgent.QueueTime.';
COMMENT ON COLUMN ccc.agent_legs.ring_time IS 'Seconds the agent''s phone rang. CallDetailAgent.RingTime.';
COMMENT ON COLUMN ccc.agent_legs.talk_time IS 'Seconds the agent talked with the customer; above 0 means the agent answered. CallDetailAgent.TalkTime.';
COMMENT ON COLUMN ccc.agent_legs.hold_time IS 'Seconds the agent kept the customer on hold. CallDetailAgent.HoldTime.';
COMMENT ON COLUMN ccc.agent_legs.work_time IS 'Seconds of after-call work (wrap-up) following the leg. CallDetailAgent.WorkTime.';
COMMENT ON COLUMN ccc.agent_legs.satisfaction IS 'Survey outcome of this leg as text, e.g. 未评价 (not rated); unlike ccc.calls.satisfaction this is not a key. CallDetailAgent.Satisfaction.';
COMMENT ON COLUMN ccc.agent_legs.feedback IS 'Free-text feedback on this leg. CallDetailAgent.Feedback.';

COMMENT ON TABLE ccc.recordings IS
    'One row per recording of a call (Recording); the audio stays in OSS at file_path. Deleted with its call.';
COMMENT ON COLUMN ccc.recordings.instance_id IS 'CCC instance of the call; with contact_id, references ccc.calls.';
COMMENT ON COLUMN ccc.recordings.contact_id IS 'The call recorded (ccc.calls.contact_id). Recording.ContactId.';
COMMENT ON COLUMN ccc.recordings.recording_no IS 'Position of the recording in the record''s Recordings list, from 1 (not from the API).';
COMMENT ON COLUMN ccc.recordings.contact_type IS 'Contact type code of the recorded call (see ccc.contact_types). Recording.ContactType.';
COMMENT ON COLUMN ccc.recordings.agent_id IS 'Agent on the recording. Recording.AgentId.';
COMMENT ON COLUMN ccc.recordings.agent_name IS 'Agent display name. Recording.AgentName.';
COMMENT ON COLUMN ccc.recordings.calling_number IS 'Calling number; personal data, stored per the [privacy] phone_numbers setting. Recording.CallingNumber.';
COMMENT ON COLUMN ccc.recordings.called_number IS 'Called number; personal data, stored per the [privacy] phone_numbers setting. Recording.CalledNumber.';
COMMENT ON COLUMN ccc.recordings.channel IS 'Recording channel as sent by the service. Recording.Channel.';
COMMENT ON COLUMN ccc.recordings.file_name IS 'Audio file name. Recording.FileName.';
COMMENT ON COLUMN ccc.recordings.file_description IS 'Description of the file. Recording.FileDescription.';
COMMENT ON COLUMN ccc.recordings.file_path IS 'Where the audio is stored, oss://bucket/... . Recording.FilePath.';
COMMENT ON COLUMN ccc.recordings.start_time IS 'When the recording started. Recording.StartTime, epoch ms → timestamptz.';
COMMENT ON COLUMN ccc.recordings.duration IS 'Length of the recording in seconds. Recording.Duration.';

COMMENT ON TABLE ccc.sync_state IS
    'Progress of each configured source (one instance seen through one set of credentials): how far the warehouse is complete. Bookkeeping of ccc-sync, not business data.';
COMMENT ON COLUMN ccc.sync_state.source IS 'Name of the source in the ccc-sync configuration.';
COMMENT ON COLUMN ccc.sync_state.instance_id IS 'CCC instance the source reads.';
COMMENT ON COLUMN ccc.sync_state.watermark IS 'Call start time up to which this source has synced every call; the next pass starts at this time minus the configured lookback.';
COMMENT ON COLUMN ccc.sync_state.last_success_at IS 'When a pass of this source last completed; a dashboard can alert when it is old.';
COMMENT ON COLUMN ccc.sync_state.last_reconciled_at IS 'When this source last re-read an older span to catch late changes (reconcile pass).';
COMMENT ON COLUMN ccc.sync_state.updated_at IS 'When this row last changed.';

COMMENT ON TABLE ccc.sync_runs IS
    'One row per committed or failed sync window: what was fetched and written. Bookkeeping of ccc-sync, for operations dashboards.';
COMMENT ON COLUMN ccc.sync_runs.id IS 'Run number, increasing.';
COMMENT ON COLUMN ccc.sync_runs.source IS 'Name of the source in the ccc-sync configuration (ccc.sync_state.source).';
COMMENT ON COLUMN ccc.sync_runs.kind IS 'incremental (new calls after the watermark), reconcile (re-reading an older span for late changes) or backfill (history).';
COMMENT ON COLUMN ccc.sync_runs.window_start IS 'Start of the StartTime window requested from the service (inclusive).';
COMMENT ON COLUMN ccc.sync_runs.window_end IS 'End of the StartTime window requested from the service.';
COMMENT ON COLUMN ccc.sync_runs.status IS 'succeeded (the window was committed) or failed (nothing of it was committed).';
COMMENT ON COLUMN ccc.sync_runs.pages IS 'Pages fetched from the service.';
COMMENT ON COLUMN ccc.sync_runs.records IS 'Records received, duplicates included.';
COMMENT ON COLUMN ccc.sync_runs.duplicates IS 'Records received more than once within the window (pages shift while new calls arrive).';
COMMENT ON COLUMN ccc.sync_runs.quarantined IS 'Records that could not be stored as calls and went to ccc.quarantined_records.';
COMMENT ON COLUMN ccc.sync_runs.calls_written IS 'Calls inserted or changed in ccc.calls.';
COMMENT ON COLUMN ccc.sync_runs.legs_written IS 'Agent legs written to ccc.agent_legs.';
COMMENT ON COLUMN ccc.sync_runs.recordings_written IS 'Recordings written to ccc.recordings.';
COMMENT ON COLUMN ccc.sync_runs.error_code IS 'For a failed run: the service''s error Code (e.g. Throttling) or ccc-sync''s own classification.';
COMMENT ON COLUMN ccc.sync_runs.request_id IS 'For a failed run: the RequestId of the failing request, which Alibaba Cloud support asks for.';
COMMENT ON COLUMN ccc.sync_runs.error IS 'For a failed run: the error message.';
COMMENT ON COLUMN ccc.sync_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN ccc.sync_runs.finished_at IS 'When the run finished.';

COMMENT ON TABLE ccc.quarantined_records IS
    'Records the service sent that could not be stored as calls (no ContactId, no valid StartTime, malformed lists), kept whole for inspection. Each distinct record once.';
COMMENT ON COLUMN ccc.quarantined_records.id IS 'Row number, increasing.';
COMMENT ON COLUMN ccc.quarantined_records.source IS 'Name of the source that received the record.';
COMMENT ON COLUMN ccc.quarantined_records.request_id IS 'RequestId of the response that carried the record.';
COMMENT ON COLUMN ccc.quarantined_records.reason IS 'Why the record could not be stored, e.g. "record has no ContactId".';
COMMENT ON COLUMN ccc.quarantined_records.raw IS 'The record JSON as the service sent it, with phone numbers rewritten per the [privacy] phone_numbers setting.';
COMMENT ON COLUMN ccc.quarantined_records.raw_md5 IS 'MD5 of raw, so that a record seen again is stored once (computed).';
COMMENT ON COLUMN ccc.quarantined_records.first_seen_at IS 'When ccc-sync first received this record.';
