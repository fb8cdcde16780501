-- The phone-number setting lives in the [warehouse] section of the configuration (there is no [privacy]
-- section); the column comments written by 20261124000002_comments.sql and 20261124000006_views.sql named the
-- wrong one. Same comments, right section.

COMMENT ON COLUMN ccc.calls.calling_number IS 'Number of the calling party, leading zeros kept. Personal data: stored raw, masked (138****5678) or hashed (hmac:<hex>) according to the [warehouse] phone_numbers setting in force when the row was written. CallDetailRecord.CallingNumber.';
COMMENT ON COLUMN ccc.calls.called_number IS 'Number of the called party, leading zeros kept. Personal data, stored per the [warehouse] phone_numbers setting like calling_number. CallDetailRecord.CalledNumber.';
COMMENT ON COLUMN ccc.calls.raw IS 'The whole CallDetailRecord JSON as the service sent it, unknown fields included, with phone numbers rewritten per the [warehouse] phone_numbers setting.';
COMMENT ON COLUMN ccc.recordings.calling_number IS 'Calling number; personal data, stored per the [warehouse] phone_numbers setting. Recording.CallingNumber.';
COMMENT ON COLUMN ccc.recordings.called_number IS 'Called number; personal data, stored per the [warehouse] phone_numbers setting. Recording.CalledNumber.';
COMMENT ON COLUMN ccc.quarantined_records.raw IS 'The record JSON as the service sent it, with phone numbers rewritten per the [warehouse] phone_numbers setting.';
COMMENT ON COLUMN ccc.calls_enriched.calling_number IS 'Calling number, raw, masked or hashed per the [warehouse] phone_numbers setting.';
COMMENT ON COLUMN ccc.calls_enriched.called_number IS 'Called number, raw, masked or hashed per the [warehouse] phone_numbers setting.';
