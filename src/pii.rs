//! Phone-number privacy: what the warehouse keeps of the calling and called numbers, as a pure function
//! applied to each record before it is written.
//!
//! Three modes ([`PhoneNumbers`]): `raw` keeps the numbers; `masked` keeps a prefix and the last four
//! characters (`138****5678`); `hashed` replaces each number with a keyed HMAC-SHA256 (`hmac:<64 hex>`), so
//! that distinct callers can still be counted and one caller's calls found (by hashing the number with the
//! same key), but no number can be read back. A mode rewrites `CallingNumber`/`CalledNumber` of the record
//! and of each recording, in the typed fields and in the raw JSON, and also every other place in the record
//! where one of those numbers appears as a run of digits of its own (a file path, `ExtraAttr`, feedback), so
//! that the stored record holds no original number. Numbers shorter than [`MIN_SCRUBBED_LEN`] characters
//! (extensions, short service codes) are rewritten in their own fields only, since elsewhere they would
//! match unrelated digits.

use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::ccc::CallRecord;

/// Numbers at least this long are also replaced wherever they appear in other text of the record.
pub(crate) const MIN_SCRUBBED_LEN: usize = 7;

/// The prefix of a hashed number, so that a reader of the warehouse knows what they are looking at.
pub(crate) const HASH_PREFIX: &str = "hmac:";

/// The phone-number mode as the configuration names it: `"raw"`, `"masked"` or `"hashed"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneNumberMode {
    Raw,
    Masked,
    Hashed,
}

impl FromStr for PhoneNumberMode {
    type Err = UnknownMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "raw" => Ok(PhoneNumberMode::Raw),
            "masked" => Ok(PhoneNumberMode::Masked),
            "hashed" => Ok(PhoneNumberMode::Hashed),
            other => Err(UnknownMode(other.to_owned())),
        }
    }
}

/// A mode name that is none of `raw`, `masked`, `hashed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a phone number mode; use \"raw\", \"masked\" or \"hashed\"")]
pub struct UnknownMode(pub String);

/// Why a mode and key do not make a usable [`PhoneNumbers`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HashKeyError {
    #[error("hashed phone numbers need a secret key, and none is set")]
    Missing,
    #[error(
        "the phone number hash key is {len} bytes long; it needs at least {min} (e.g. `openssl rand -hex 32`)"
    )]
    TooShort { len: usize, min: usize },
}

/// What the writer does to phone numbers before they reach the warehouse.
///
/// `Debug` prints the key as `[REDACTED]`.
#[derive(Debug, Clone)]
pub enum PhoneNumbers {
    /// Numbers are stored as the service sent them.
    Raw,
    /// Numbers of 11 characters or more keep their first 3 and last 4 (`138****5678`), numbers of 8 to 10
    /// keep their last 4 (`****6658`), shorter ones are masked whole (`*****`), so that no number is ever
    /// shown whole. The length is kept. Masking a masked number changes nothing.
    Masked,
    /// Numbers become `hmac:` and the hex HMAC-SHA256 of the number under `key`. The number is hashed as
    /// sent (no normalisation), so `+8613812345678` and `13812345678` hash differently.
    Hashed { key: SecretString },
}

impl PhoneNumbers {
    /// The mode, for tests that check what start-up built.
    #[cfg(test)]
    pub(crate) fn mode(&self) -> PhoneNumberMode {
        match self {
            PhoneNumbers::Raw => PhoneNumberMode::Raw,
            PhoneNumbers::Masked => PhoneNumberMode::Masked,
            PhoneNumbers::Hashed { .. } => PhoneNumberMode::Hashed,
        }
    }

    /// The shortest key accepted for `hashed`: phone numbers are few enough to try them all, so the
    /// hashes are only as safe as the key is hard to guess.
    pub(crate) const MIN_KEY_BYTES: usize = 32;

    /// Builds the mode from configuration. `key` is required for `hashed` and ignored otherwise, so that
    /// a key kept in the environment of every deployment does not stop one from choosing `masked`.
    pub(crate) fn new(
        mode: PhoneNumberMode,
        key: Option<SecretString>,
    ) -> Result<PhoneNumbers, HashKeyError> {
        match mode {
            PhoneNumberMode::Raw => Ok(PhoneNumbers::Raw),
            PhoneNumberMode::Masked => Ok(PhoneNumbers::Masked),
            PhoneNumberMode::Hashed => {
                let key = key.ok_or(HashKeyError::Missing)?;
                let len = key.expose_secret().len();
                if len < Self::MIN_KEY_BYTES {
                    return Err(HashKeyError::TooShort {
                        len,
                        min: Self::MIN_KEY_BYTES,
                    });
                }
                Ok(PhoneNumbers::Hashed { key })
            }
        }
    }

    /// What the warehouse stores for `number`. An empty number stays empty: it hides nothing, and hashing
    /// it would make every missing number look like the same caller.
    pub(crate) fn protect(&self, number: &str) -> String {
        if number.is_empty() {
            return String::new();
        }
        match self {
            PhoneNumbers::Raw => number.to_owned(),
            PhoneNumbers::Masked => mask(number),
            PhoneNumbers::Hashed { key } => hash(key, number),
        }
    }

    /// Rewrites the numbers of a call record, its recordings and its raw JSON, and every other occurrence
    /// of those numbers in the record's text.
    pub fn apply(&self, record: &mut CallRecord) {
        if let PhoneNumbers::Raw = self {
            return;
        }
        let mut originals = Vec::new();
        let mut numbers = vec![&mut record.calling_number, &mut record.called_number];
        for r in &mut record.recordings {
            numbers.push(&mut r.calling_number);
            numbers.push(&mut r.called_number);
        }
        for n in numbers.into_iter().flatten() {
            let protected = self.protect(n);
            originals.push((std::mem::replace(n, protected.clone()), protected));
        }
        originals.extend(self.rewrite_number_fields(&mut record.raw));

        let replacements = scrub_list(originals);
        let mut texts = vec![&mut record.feedback, &mut record.extra_attr];
        for leg in &mut record.agents {
            texts.push(&mut leg.feedback);
        }
        for r in &mut record.recordings {
            texts.push(&mut r.file_name);
            texts.push(&mut r.file_description);
            texts.push(&mut r.file_path);
        }
        for text in texts.into_iter().flatten() {
            *text = scrub(text, &replacements);
        }
        scrub_json(&mut record.raw, &replacements);
    }

    /// Does to a record's JSON alone what [`apply`](Self::apply) does, for records that could not be
    /// parsed into a [`CallRecord`] and are kept whole in quarantine.
    pub(crate) fn apply_to_json(&self, raw: &mut Value) {
        if let PhoneNumbers::Raw = self {
            return;
        }
        let replacements = scrub_list(self.rewrite_number_fields(raw));
        scrub_json(raw, &replacements);
    }

    /// Rewrites `CallingNumber`/`CalledNumber` of the record object and of each recording, in both
    /// shapes of `Recordings` (`{"Recording": [..]}` or `[..]`, or a lone object where a converter
    /// collapsed a one-element list). Returns each original with what replaced it.
    fn rewrite_number_fields(&self, raw: &mut Value) -> Vec<(String, String)> {
        let mut rewritten = Vec::new();
        let Value::Object(record) = raw else {
            return rewritten;
        };
        self.rewrite_numbers_of(record, &mut rewritten);
        let recordings = match record.get_mut("Recordings") {
            Some(Value::Object(wrapper)) => wrapper.get_mut("Recording"),
            other => other,
        };
        match recordings {
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(recording) = item {
                        self.rewrite_numbers_of(recording, &mut rewritten);
                    }
                }
            }
            Some(Value::Object(recording)) => self.rewrite_numbers_of(recording, &mut rewritten),
            _ => {}
        }
        rewritten
    }

    fn rewrite_numbers_of(
        &self,
        object: &mut serde_json::Map<String, Value>,
        rewritten: &mut Vec<(String, String)>,
    ) {
        for key in NUMBER_KEYS {
            let original = match object.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            let protected = self.protect(&original);
            object.insert(key.to_owned(), Value::String(protected.clone()));
            rewritten.push((original, protected));
        }
    }
}

/// The keys of the record and of a recording that hold phone numbers.
const NUMBER_KEYS: [&str; 2] = ["CallingNumber", "CalledNumber"];

fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let len = chars.len();
    let (head, tail) = match len {
        0..=7 => (0, 0),
        8..=10 => (0, 4),
        _ => (3, 4),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= len - tail { *c } else { '*' })
        .collect()
}

fn hash(key: &SecretString, number: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(number.as_bytes());
    format!("{HASH_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// The originals worth searching for in other text (long enough, changed by the mode), longest first so
/// that a number containing another is replaced whole.
fn scrub_list(mut pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.retain(|(original, protected)| {
        original.chars().count() >= MIN_SCRUBBED_LEN && original != protected
    });
    pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    pairs.dedup_by(|a, b| a.0 == b.0);
    pairs
}

/// Replaces each original that stands as a run of its own (no digit right before or after it), so that
/// the digits of a longer id or timestamp are left alone.
fn scrub(text: &str, replacements: &[(String, String)]) -> String {
    let mut text = text.to_owned();
    for (original, protected) in replacements {
        if !text.contains(original.as_str()) {
            continue;
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find(original.as_str()) {
            let end = at + original.len();
            let digit_before = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_digit());
            let digit_after = rest[end..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit());
            out.push_str(&rest[..at]);
            if digit_before || digit_after {
                out.push_str(original);
            } else {
                out.push_str(protected);
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

/// Scrubs every string in the JSON except the number fields, which already hold their protected value.
fn scrub_json(value: &mut Value, replacements: &[(String, String)]) {
    if replacements.is_empty() {
        return;
    }
    match value {
        Value::String(s) => *s = scrub(s, replacements),
        Value::Array(items) => {
            for item in items {
                scrub_json(item, replacements);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if !NUMBER_KEYS.contains(&key.as_str()) {
                    scrub_json(item, replacements);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccc::wire::parse_list_body;
    use serde_json::json;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn hashed() -> PhoneNumbers {
        PhoneNumbers::new(PhoneNumberMode::Hashed, Some(KEY.into())).expect("a valid key")
    }

    /// A record in the wire shape: recordings wrapped as `{"Recording": [..]}`.
    fn wrapped_record() -> CallRecord {
        parse_record(json!({
            "ContactId": "2029786674", "StartTime": 1534952824000_i64, "InstanceId": "i1",
            "CallingNumber": "025668067898", "CalledNumber": "13812345678",
            "ExtraAttr": "{\"callback\":\"13812345678\",\"ivr\":\"1\"}",
            "Feedback": "called back on 025668067898",
            "Agents": {"CallDetailAgent": [{"AgentId": "1059876788928509", "Feedback": "cust 13812345678"}]},
            "Recordings": {"Recording": [{
                "ContactId": "2029786674", "CallingNumber": "025668067898", "CalledNumber": "13812345678",
                "FileName": "13812345678-20180822.wav", "FilePath": "oss://bucket/2018/13812345678-20180822.wav",
                "StartTime": 1534952825000_i64, "Duration": 12
            }]}
        }))
    }

    /// The docs' shape: a flat recordings list, and a number sent as a JSON number.
    fn flat_record() -> CallRecord {
        parse_record(json!({
            "ContactId": "2029786681", "StartTime": 1534952985000_i64,
            "CallingNumber": 13621078901_i64, "CalledNumber": "02566806658",
            "Agents": [],
            "Recordings": [
                {"CallingNumber": "13621078901", "CalledNumber": "02566806658", "FileName": "a.wav"},
                {"CallingNumber": "13621078901", "CalledNumber": "8001", "FileName": "b.wav"}
            ]
        }))
    }

    fn parse_record(item: Value) -> CallRecord {
        let body =
            json!({"RequestId": "r", "Success": true, "CallDetailRecords": {"List": [item]}});
        let mut page = parse_list_body(body.to_string().as_bytes()).expect("a page");
        assert!(page.invalid.is_empty(), "{:?}", page.invalid);
        page.records.remove(0)
    }

    fn numbers(r: &CallRecord) -> Vec<Option<String>> {
        let mut all = vec![r.calling_number.clone(), r.called_number.clone()];
        for rec in &r.recordings {
            all.push(rec.calling_number.clone());
            all.push(rec.called_number.clone());
        }
        all
    }

    fn raw_recordings(r: &CallRecord) -> &Vec<Value> {
        match &r.raw["Recordings"] {
            Value::Array(items) => items,
            wrapper => wrapper["Recording"].as_array().expect("a wrapped list"),
        }
    }

    fn assert_no_original_survives(record: &CallRecord, originals: &[&str]) {
        let serialized = format!("{} {:?}", record.raw, record);
        for original in originals {
            assert!(
                !serialized.contains(original),
                "{original} survives in {serialized}"
            );
        }
    }

    #[test]
    fn raw_changes_nothing() {
        for original in [wrapped_record(), flat_record()] {
            let mut record = original.clone();
            PhoneNumbers::Raw.apply(&mut record);
            assert_eq!(record, original);
        }
    }

    #[test]
    fn masking_keeps_a_prefix_and_the_last_four_and_hides_short_numbers_whole() {
        let cases = [
            ("13812345678", "138****5678"),
            ("025668067898", "025*****7898"),
            ("+8613812345678", "+86*******5678"),
            ("4155551234", "******1234"),
            ("66806658", "****6658"),
            ("1234567", "*******"),
            ("10086", "*****"),
            ("8001", "****"),
            ("", ""),
        ];
        for (number, masked) in cases {
            assert_eq!(PhoneNumbers::Masked.protect(number), masked, "{number}");
            assert_eq!(
                PhoneNumbers::Masked.protect(masked),
                masked,
                "masking {masked} again"
            );
        }
    }

    #[test]
    fn masking_rewrites_record_recordings_and_raw_in_the_wrapped_shape() {
        let mut record = wrapped_record();
        PhoneNumbers::Masked.apply(&mut record);

        assert_eq!(
            numbers(&record),
            [
                Some("025*****7898".to_owned()),
                Some("138****5678".to_owned()),
                Some("025*****7898".to_owned()),
                Some("138****5678".to_owned()),
            ]
        );
        assert_eq!(record.raw["CallingNumber"], "025*****7898");
        assert_eq!(record.raw["CalledNumber"], "138****5678");
        let recording = &raw_recordings(&record)[0];
        assert_eq!(recording["CallingNumber"], "025*****7898");
        assert_eq!(recording["CalledNumber"], "138****5678");
        assert_eq!(
            recording["FilePath"],
            "oss://bucket/2018/138****5678-20180822.wav"
        );
        assert_eq!(
            record.recordings[0].file_path.as_deref(),
            Some("oss://bucket/2018/138****5678-20180822.wav")
        );
        assert_eq!(
            record.extra_attr.as_deref(),
            Some("{\"callback\":\"138****5678\",\"ivr\":\"1\"}")
        );
        assert_eq!(
            record.agents[0].feedback.as_deref(),
            Some("cust 138****5678")
        );
        assert_eq!(record.contact_id, "2029786674");
        assert_eq!(record.raw["ContactId"], "2029786674");
        assert_no_original_survives(&record, &["025668067898", "13812345678"]);
    }

    #[test]
    fn masking_rewrites_the_flat_shape_and_numbers_sent_as_json_numbers() {
        let mut record = flat_record();
        PhoneNumbers::Masked.apply(&mut record);

        assert_eq!(record.raw["CallingNumber"], "136****8901");
        assert_eq!(record.raw["CalledNumber"], "025****6658");
        let recordings = raw_recordings(&record);
        assert_eq!(recordings[0]["CallingNumber"], "136****8901");
        assert_eq!(recordings[1]["CalledNumber"], "****");
        assert_eq!(record.recordings[1].called_number.as_deref(), Some("****"));
        assert_no_original_survives(&record, &["13621078901", "02566806658", "8001"]);
    }

    #[test]
    fn hashing_is_keyed_hmac_sha256_in_hex() {
        // Pinned with Python's hmac module: hmac.new(KEY, b"13812345678", hashlib.sha256).hexdigest()
        assert_eq!(
            hashed().protect("13812345678"),
            "hmac:64727c7a7e107e8a0240403d14d3f0032960309afd64eb419f20e52a0946c70a"
        );
        assert_eq!(hashed().protect(""), "");
        let other_key = PhoneNumbers::new(
            PhoneNumberMode::Hashed,
            Some("another key of at least thirty-two bytes".into()),
        )
        .expect("a valid key");
        assert_ne!(
            other_key.protect("13812345678"),
            hashed().protect("13812345678")
        );
        assert_ne!(
            hashed().protect("13812345679"),
            hashed().protect("13812345678")
        );
    }

    #[test]
    fn hashing_rewrites_both_shapes_consistently_so_callers_can_be_counted() {
        let mut wrapped = wrapped_record();
        let mut flat = flat_record();
        hashed().apply(&mut wrapped);
        hashed().apply(&mut flat);

        let h = |n: &str| hashed().protect(n);
        assert_eq!(wrapped.calling_number, Some(h("025668067898")));
        assert_eq!(wrapped.raw["CallingNumber"], h("025668067898").as_str());
        assert_eq!(
            raw_recordings(&wrapped)[0]["CalledNumber"],
            h("13812345678").as_str()
        );
        assert_eq!(
            wrapped.recordings[0].file_name,
            Some(format!("{}-20180822.wav", h("13812345678")))
        );
        assert_eq!(flat.raw["CallingNumber"], h("13621078901").as_str());
        assert_eq!(raw_recordings(&flat)[1]["CalledNumber"], h("8001").as_str());
        assert_eq!(flat.recordings[0].calling_number, flat.calling_number);
        assert_no_original_survives(&wrapped, &["025668067898", "13812345678"]);
        assert_no_original_survives(&flat, &["13621078901", "02566806658", "8001"]);
    }

    #[test]
    fn digits_of_longer_ids_are_left_alone() {
        let mut record = parse_record(json!({
            "ContactId": "913812345678", "StartTime": 1534952824000_i64,
            "CallingNumber": "13812345678", "ExtraAttr": "ref 913812345678; tel 13812345678."
        }));
        PhoneNumbers::Masked.apply(&mut record);

        assert_eq!(record.raw["ContactId"], "913812345678");
        assert_eq!(
            record.extra_attr.as_deref(),
            Some("ref 913812345678; tel 138****5678.")
        );
    }

    #[test]
    fn a_quarantined_record_is_protected_through_its_json() {
        let mut raw = json!({
            "StartTime": "not a time", "CallingNumber": "13812345678",
            "Recordings": {"Recording": {"CalledNumber": "025668067898", "FilePath": "oss://b/13812345678.wav"}}
        });
        PhoneNumbers::Masked.apply_to_json(&mut raw);

        assert_eq!(raw["CallingNumber"], "138****5678");
        assert_eq!(
            raw["Recordings"]["Recording"]["CalledNumber"],
            "025*****7898"
        );
        assert_eq!(
            raw["Recordings"]["Recording"]["FilePath"],
            "oss://b/138****5678.wav"
        );
    }

    #[test]
    fn hashing_needs_a_long_enough_key_and_the_other_modes_ignore_it() {
        assert_eq!(
            PhoneNumbers::new(PhoneNumberMode::Hashed, None).map(|p| p.mode()),
            Err(HashKeyError::Missing)
        );
        assert_eq!(
            PhoneNumbers::new(PhoneNumberMode::Hashed, Some("short".into())).map(|p| p.mode()),
            Err(HashKeyError::TooShort { len: 5, min: 32 })
        );
        let masked = PhoneNumbers::new(PhoneNumberMode::Masked, Some("short".into()));
        assert_eq!(masked.map(|p| p.mode()), Ok(PhoneNumberMode::Masked));
        assert_eq!(
            PhoneNumbers::new(PhoneNumberMode::Raw, None).map(|p| p.mode()),
            Ok(PhoneNumberMode::Raw)
        );
    }

    #[test]
    fn modes_parse_from_their_configuration_names() {
        for (name, mode) in [
            ("raw", PhoneNumberMode::Raw),
            ("masked", PhoneNumberMode::Masked),
            ("hashed", PhoneNumberMode::Hashed),
        ] {
            assert_eq!(name.parse::<PhoneNumberMode>(), Ok(mode));
            let from_serde: PhoneNumberMode = serde_json::from_value(json!(name)).expect("a mode");
            assert_eq!(from_serde, mode);
        }
        assert_eq!(
            "Masked".parse::<PhoneNumberMode>(),
            Err(UnknownMode("Masked".to_owned()))
        );
        assert!(serde_json::from_value::<PhoneNumberMode>(json!("plain")).is_err());
    }

    #[test]
    fn the_key_never_prints() {
        let shown = format!("{:?}", hashed());
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }
}
