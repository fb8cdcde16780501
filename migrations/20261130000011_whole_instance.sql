-- Whole-instance sources: ListCallDetailRecords of CCC 1.0 (2017-07-05) and CCC 2.0 (2020-07-01) write the
-- same ccc.calls as ListRecentCallRecords, keyed as before. Fields with a common meaning share the existing
-- columns (2.0's CallDuration is duration, SatisfactionIndex is satisfaction, SatisfactionDescription is
-- satisfaction_desc); 2.0's own fields get typed columns here; the record stays in raw. Each row says which
-- API wrote it, and a whole-instance record is never replaced by an agent's view of the same call.

ALTER TABLE ccc.calls
    ADD COLUMN api                         text    NOT NULL DEFAULT 'agent'
        CHECK (api IN ('agent', 'instance', 'ccc2')),
    ADD COLUMN established_time            timestamptz,
    ADD COLUMN release_time                timestamptz,
    ADD COLUMN release_initiator           text,
    ADD COLUMN release_reason              text,
    ADD COLUMN early_media_state           text,
    ADD COLUMN caller_location             text,
    ADD COLUMN callee_location             text,
    ADD COLUMN broker                      text,
    ADD COLUMN agent_ids                   text,
    ADD COLUMN skill_group_ids             text,
    ADD COLUMN dialing_time                integer,
    ADD COLUMN ivr_time                    integer,
    ADD COLUMN wait_time                   integer,
    ADD COLUMN recording_duration          integer,
    ADD COLUMN recording_ready             boolean,
    ADD COLUMN satisfaction_survey_offered boolean,
    ADD COLUMN satisfaction_survey_channel text,
    ADD COLUMN details_pending             boolean NOT NULL DEFAULT false;

-- The calls whose details a ccc2 source still has to fetch, oldest first.
CREATE INDEX calls_details_pending_idx ON ccc.calls (instance_id, start_time) WHERE details_pending;

COMMENT ON COLUMN ccc.calls.api IS 'Which API wrote the row: agent (ListRecentCallRecords, one agent''s calls, 2017-07-05), instance (ListCallDetailRecords 2017-07-05, a CCC 1.0 instance) or ccc2 (ListCallDetailRecords 2020-07-01, a CCC 2.0 instance). A whole-instance row is not replaced by an agent source''s view of the same call.';
COMMENT ON COLUMN ccc.calls.established_time IS 'When the call was connected (2.0 EstablishedTime); NULL when it never was, and from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.release_time IS 'When the call ended (2.0 ReleaseTime); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.release_initiator IS 'Who hung up (2.0 ReleaseInitiator, e.g. customer, agent); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.release_reason IS 'Why the call ended, as SIP status and text (2.0 ReleaseReason, e.g. "200 - Normal call clearing"); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.early_media_state IS 'What the far end played before answering (2.0 EarlyMediaState, e.g. NoAnswer, Busy, PowerOff); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.caller_location IS 'Region of the calling number (2.0 CallerLocation, e.g. 浙江杭州); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.callee_location IS 'Region of the called number (2.0 CalleeLocation); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.broker IS 'The contact center''s own number that carried the call (2.0 Broker); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.agent_ids IS 'Comma list of the ids of the agents on the call (2.0 AgentIds), in the order of agent_names; NULL from the 2017 APIs (see ccc.agent_legs).';
COMMENT ON COLUMN ccc.calls.skill_group_ids IS 'Comma list of the skill group ids of the call (2.0 SkillGroupIds, 1.0 ListCallDetailRecords SkillGroupIdList), in the order of skill_group_names.';
COMMENT ON COLUMN ccc.calls.dialing_time IS 'Seconds spent dialling before the far end rang (2.0 DialingTime); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.ivr_time IS 'Seconds in the IVR (2.0 IvrTime); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.wait_time IS 'Seconds the customer waited for an agent, queue and ringing together (2.0 WaitTime); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.recording_duration IS 'Seconds of recording (2.0 RecordingDuration); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.recording_ready IS 'Whether the call''s recording files can be fetched (2.0 RecordingReady); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.satisfaction_survey_offered IS 'Whether the customer was offered the satisfaction survey (2.0 SatisfactionSurveyOffered); NULL from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.satisfaction_survey_channel IS 'How the survey was offered (2.0 SatisfactionSurveyChannel, e.g. IVR, SMS); NULL when not offered and from the 2017 APIs.';
COMMENT ON COLUMN ccc.calls.details_pending IS 'True while a ccc2 source with call_details on has yet to fetch this new or changed call''s agent events (GetCallDetailRecord) and recordings (ListMonoRecordings); until then its legs are one per agent id and it has no recordings.';
COMMENT ON COLUMN ccc.calls.duration IS 'Call duration in seconds (CallDetailRecord.Duration; 2.0 CallDuration, sent as text).';
COMMENT ON COLUMN ccc.calls.satisfaction IS 'Survey key the customer pressed (CallDetailRecord.Satisfaction; 2.0 SatisfactionIndex); NULL unless the customer rated the call.';
COMMENT ON COLUMN ccc.calls.satisfaction_desc IS 'Text of the survey answer (CallDetailRecord.SatisfactionDesc; 2.0 SatisfactionDescription).';
COMMENT ON COLUMN ccc.calls.queue_time IS 'Seconds the call waited in skill group queues: from the 2017 APIs the sum of CallDetailAgent.QueueTime over its legs (a NULL leg value as 0; NULL without legs), kept by a trigger; from ccc2 the record''s own QueueTime.';
COMMENT ON COLUMN ccc.calls.ring_time IS 'Seconds agents'' phones rang: from the 2017 APIs the sum of CallDetailAgent.RingTime over its legs (NULL leg value as 0; NULL without legs); from ccc2 the record''s RingTime.';
COMMENT ON COLUMN ccc.calls.talk_time IS 'Seconds agents talked with the customer: from the 2017 APIs the sum of CallDetailAgent.TalkTime over its legs (NULL leg value as 0; NULL without legs); from ccc2 the record''s TalkTime.';
COMMENT ON COLUMN ccc.calls.hold_time IS 'Seconds on hold: from the 2017 APIs the sum of CallDetailAgent.HoldTime over its legs (NULL leg value as 0; NULL without legs); from ccc2 the record''s HeldTime.';
COMMENT ON COLUMN ccc.calls.work_time IS 'Seconds of after-call work: the sum of the legs'' WorkTime (NULL leg value as 0; NULL without legs); from ccc2 the sum over the legs its agent events give, NULL until they are fetched.';

-- CCC 2.0's codes. The same call has the same meaning under either version: a 1.0 PredictiveDial is a 2.0
-- Predictive, AbandonedRing is AbandonedInRing, AbandonedInContactFlow is AbandonedInIVR, QueueOverflow is
-- QueuingOverflow, Rejected is Reject, so the daily views count calls the same way whichever API wrote them.
INSERT INTO ccc.contact_types (code, label_en, label_zh, direction, description) VALUES
    ('Predictive', 'Predictive dialling', '预测式外呼', 'outbound', 'CCC 2.0''s code for an automatic outbound campaign call passed to an agent once answered (1.0 PredictiveDial).'),
    ('Conference', 'Conference',          '多方通话',   'internal', 'CCC 2.0: a call joining several parties, started inside the contact center.');

INSERT INTO ccc.contact_dispositions (code, label_en, label_zh, is_answered, is_abandoned, description) VALUES
    ('AbandonedInRing',        'Abandoned while ringing', '振铃中放弃',   false, true,
     'CCC 2.0 (1.0 AbandonedRing): the caller hung up while an agent''s phone was ringing.'),
    ('AbandonedInIVR',         'Ended in IVR',            'IVR中挂机',    false, false,
     'CCC 2.0 (1.0 AbandonedInContactFlow): the caller hung up in the IVR before asking for an agent. Not counted as abandoned, as for 1.0.'),
    ('QueuingOverflow',        'Queue overflow',          '排队溢出',     false, false,
     'CCC 2.0 (1.0 QueueOverflow): the queue was full and the flow ended or rerouted the call. Not abandoned: the system ended the wait.'),
    ('QueuingTimeout',         'Queue timeout',           '排队超时',     false, false,
     'CCC 2.0: the wait limit of the queue was reached. Not abandoned: the system, not the caller, ended the wait.'),
    ('QueuingFailed',          'Queuing failed',          '排队失败',     false, false,
     'CCC 2.0: the call could not be queued (no agent of the skill group logged in, for example). Not abandoned.'),
    ('Reject',                 'Rejected',                '拒接',         false, false,
     'CCC 2.0 (1.0 Rejected): the called side declined the call. Not abandoned.'),
    ('Voicemail',              'Voicemail',               '留言',         false, false,
     'CCC 2.0: the caller left a voicemail. Neither answered by an agent nor abandoned.'),
    ('IVRException',           'IVR error',               'IVR异常',      false, false,
     'CCC 2.0: the contact flow failed. Neither answered nor abandoned; worth its own alert.'),
    ('ForwardToOutsideNumber', 'Forwarded outside',       '转外线',       false, false,
     'CCC 2.0: the flow forwarded the call to a number outside the contact center. Not answered by an agent here.');
