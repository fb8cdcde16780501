-- Labels for the ContactType and ContactDisposition codes, and which dispositions count as answered or
-- abandoned. The views LEFT JOIN these tables, so a code the service starts sending later still appears
-- (labelled with the code itself, neither answered nor abandoned) until a row is added for it.

CREATE TABLE ccc.contact_types (
    code        text PRIMARY KEY,
    label_en    text NOT NULL,
    label_zh    text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    description text NOT NULL
);

INSERT INTO ccc.contact_types (code, label_en, label_zh, direction, description) VALUES
    ('Inbound',        'Inbound',             '呼入',       'inbound',  'A customer called the contact center.'),
    ('Outbound',       'Outbound',            '呼出',       'outbound', 'An agent called a customer.'),
    ('Internal',       'Internal',            '内部通话',   'internal', 'A call between agents or extensions of the instance.'),
    ('Back2Back',      'Back-to-back',        '双呼',       'outbound', 'The platform called the agent, then the customer, and bridged the two.'),
    ('PredictiveDial', 'Predictive dialling', '预测式外呼', 'outbound', 'An automatic outbound campaign dialled the customer and passed answered calls to agents.'),
    ('PrivacyDial',    'Privacy-number call', '隐私号外呼', 'outbound', 'An outbound call placed through a privacy (virtual) number, so neither side sees the other''s number.');

COMMENT ON TABLE ccc.contact_types IS
    'Labels for ccc.calls.contact_type (CallDetailRecord.ContactType). A code missing here still shows in the views, labelled with the code; add a row to label it.';
COMMENT ON COLUMN ccc.contact_types.code IS 'The ContactType code exactly as the service sends it.';
COMMENT ON COLUMN ccc.contact_types.label_en IS 'English label for dashboards.';
COMMENT ON COLUMN ccc.contact_types.label_zh IS 'Chinese label for dashboards.';
COMMENT ON COLUMN ccc.contact_types.direction IS 'inbound (the customer called), outbound (the contact center called, whatever the dialling method) or internal, for charts that only split by direction.';
COMMENT ON COLUMN ccc.contact_types.description IS 'What the code means.';

CREATE TABLE ccc.contact_dispositions (
    code         text    PRIMARY KEY,
    label_en     text    NOT NULL,
    label_zh     text    NOT NULL,
    is_answered  boolean NOT NULL,
    is_abandoned boolean NOT NULL,
    description  text    NOT NULL,
    CHECK (NOT (is_answered AND is_abandoned))
);

INSERT INTO ccc.contact_dispositions (code, label_en, label_zh, is_answered, is_abandoned, description) VALUES
    ('Success',                'Answered',                '接通',         true,  false,
     'The call was connected and answered (by an agent on inbound, by the customer on outbound).'),
    ('OneStepTransfer',        'Blind transfer',          '一步转接',     true,  false,
     'The call was answered and then transferred in one step, without consultation; answered, because someone took the call before transferring it.'),
    ('NoAnswer',               'No answer',               '无人接听',     false, false,
     'The called side did not pick up before the timeout. Not abandoned: the caller did not give up.'),
    ('Rejected',               'Rejected',                '拒接',         false, false,
     'The called side declined the call. Not abandoned: the caller did not give up.'),
    ('Busy',                   'Busy',                    '占线',         false, false,
     'The called line was busy. Not abandoned: the caller did not give up.'),
    ('AbandonedInContactFlow', 'Ended in IVR',            'IVR中挂机',    false, false,
     'The caller hung up in the IVR before asking for an agent. Not counted as abandoned: many such calls are self-service completions, and counting them would inflate the abandon rate used for staffing.'),
    ('AbandonedInQueue',       'Abandoned in queue',      '排队中放弃',   false, true,
     'The caller hung up while waiting in a skill group queue for an agent.'),
    ('AbandonedRing',          'Abandoned while ringing', '振铃中放弃',   false, true,
     'The caller hung up while an agent''s phone was ringing.'),
    ('QueueOverflow',          'Queue overflow',          '排队溢出',     false, false,
     'The queue was full or the wait limit was reached, and the contact flow ended or rerouted the call. Not abandoned: the system, not the caller, ended the wait.');

COMMENT ON TABLE ccc.contact_dispositions IS
    'Labels for ccc.calls.contact_disposition (CallDetailRecord.ContactDisposition) and the rules the views use: answered = Success or OneStepTransfer; abandoned = the caller gave up while waiting for an agent (AbandonedInQueue, AbandonedRing). A code missing here counts as neither; add a row to classify it.';
COMMENT ON COLUMN ccc.contact_dispositions.code IS 'The ContactDisposition code exactly as the service sends it.';
COMMENT ON COLUMN ccc.contact_dispositions.label_en IS 'English label for dashboards.';
COMMENT ON COLUMN ccc.contact_dispositions.label_zh IS 'Chinese label for dashboards.';
COMMENT ON COLUMN ccc.contact_dispositions.is_answered IS 'Whether a call with this disposition counts as answered in the views.';
COMMENT ON COLUMN ccc.contact_dispositions.is_abandoned IS 'Whether a call with this disposition counts as abandoned in the views: the caller hung up while waiting for an agent. Never true together with is_answered.';
COMMENT ON COLUMN ccc.contact_dispositions.description IS 'What the code means, and why it is or is not answered or abandoned.';
