//! What `ListRecentCallRecords` answers, parsed as tolerantly as the official Go SDK does.
//!
//! The body is read into a `serde_json::Value` first and typed fields are taken from it, so that: both the
//! wrapped shape the service sends (`List.CallDetailRecord[]`) and the flat shape of the docs are accepted;
//! absent and `null` lists are empty; numbers may arrive as strings and strings as numbers; unknown fields
//! survive in [`CallRecord::raw`]. A record without the fields that identify it (`ContactId`, `StartTime`)
//! is not dropped: it becomes an [`InvalidRecord`] for the quarantine table.

use serde_json::{Map, Value};

/// One page of a successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The service's id for this request; Alibaba support asks for it.
    pub request_id: String,
    /// Only a hint: new calls shift pages while we read them, so paging stops on a short page instead.
    pub total_count: Option<i64>,
    /// Records in the order the service sent them (newest first).
    pub records: Vec<CallRecord>,
    /// Records that lack an identity or have a malformed structure, with the reason.
    pub invalid: Vec<InvalidRecord>,
}

impl ListPage {
    /// How many records the page held, valid or not: what decides whether the page was short.
    pub fn len(&self) -> usize {
        self.records.len() + self.invalid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A call as the warehouse stores it. Epoch fields are milliseconds, durations seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub contact_id: String,
    pub instance_id: Option<String>,
    pub start_time_ms: i64,
    pub duration: Option<i32>,
    pub contact_type: Option<String>,
    pub contact_disposition: Option<String>,
    pub calling_number: Option<String>,
    pub called_number: Option<String>,
    pub agent_names: Option<String>,
    pub skill_group_names: Option<String>,
    /// The survey key; absent unless the customer rated the call.
    pub satisfaction: Option<i32>,
    pub satisfaction_desc: Option<String>,
    pub feedback: Option<String>,
    pub extra_attr: Option<String>,
    pub agents: Vec<AgentLeg>,
    pub recordings: Vec<Recording>,
    /// The record exactly as the service sent it, unknown fields included.
    pub raw: Value,
}

/// One agent's part in a call (`CallDetailAgent`).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentLeg {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub skill_group_name: Option<String>,
    pub start_time_ms: Option<i64>,
    pub queue_time: Option<i32>,
    pub ring_time: Option<i32>,
    pub talk_time: Option<i32>,
    pub hold_time: Option<i32>,
    pub work_time: Option<i32>,
    /// Text here (`未评价`), unlike the record's integer.
    pub satisfaction: Option<String>,
    pub feedback: Option<String>,
}

/// One recording of a call (`Recording`).
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub contact_type: Option<String>,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub calling_number: Option<String>,
    pub called_number: Option<String>,
    pub channel: Option<String>,
    pub file_name: Option<String>,
    pub file_description: Option<String>,
    pub file_path: Option<String>,
    pub start_time_ms: Option<i64>,
    pub duration: Option<i32>,
}

/// A record that cannot be stored as a call; kept whole for the quarantine table.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRecord {
    pub reason: String,
    pub raw: Value,
}

/// The body of a gateway or service error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorBody {
    pub request_id: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub recommend: Option<String>,
}

/// Why a 200 body is not a page.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyError {
    /// Not JSON (truncated, XML, an HTML error page from a proxy).
    Malformed(String),
    /// JSON, but `Success: false` or a `Code` other than `OK`.
    NotSuccess(ErrorBody),
}

/// Parses the body of an HTTP 200 answer.
pub fn parse_list_body(body: &[u8]) -> Result<ListPage, BodyError> {
    let mut doc = parse_json(body).map_err(BodyError::Malformed)?;
    if !is_success(&doc) {
        return Err(BodyError::NotSuccess(error_body(&doc)));
    }
    let request_id = text(&doc, "RequestId").unwrap_or_default();
    let cdr = match doc.get_mut("CallDetailRecords") {
        None | Some(Value::Null) => return Ok(empty_page(request_id)),
        Some(v @ Value::Object(_)) => v,
        Some(other) => {
            return Err(BodyError::Malformed(format!(
                "CallDetailRecords is {}, not an object",
                kind(other)
            )));
        }
    };
    let total_count = int(cdr, "TotalCount");
    // The records are taken out of the document, so that each keeps its own JSON without a copy.
    let items = owned_list(cdr.get_mut("List").map(Value::take), "CallDetailRecord")
        .map_err(|e| BodyError::Malformed(format!("CallDetailRecords.List {e}")))?;
    let mut page = ListPage {
        request_id,
        total_count,
        records: Vec::with_capacity(items.len()),
        invalid: Vec::new(),
    };
    for item in items {
        match call_record(item) {
            Ok(record) => page.records.push(record),
            Err(invalid) => page.invalid.push(invalid),
        }
    }
    Ok(page)
}

/// Reads what an error body says; any field may be missing, and the body may not be JSON at all.
pub fn parse_error_body(body: &[u8]) -> Option<ErrorBody> {
    parse_json(body).ok().map(|doc| error_body(&doc))
}

fn empty_page(request_id: String) -> ListPage {
    ListPage {
        request_id,
        total_count: None,
        records: Vec::new(),
        invalid: Vec::new(),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!("body is a JSON {}, not an object", kind(&other))),
        Err(e) if body.trim_ascii_start().starts_with(b"<") => Err(format!(
            "body is XML or HTML, not JSON ({e}); was Format=JSON sent?"
        )),
        Err(e) => Err(format!(
            "body is not valid JSON ({} bytes): {e}",
            body.len()
        )),
    }
}

fn is_success(doc: &Value) -> bool {
    let success = match doc.get("Success") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => false,
    };
    let code_ok = text(doc, "Code").is_none_or(|c| c.eq_ignore_ascii_case("OK"));
    let status_ok = int(doc, "HttpStatusCode").is_none_or(|s| s == 200);
    success && code_ok && status_ok
}

fn error_body(doc: &Value) -> ErrorBody {
    ErrorBody {
        request_id: text(doc, "RequestId"),
        code: text(doc, "Code"),
        message: text(doc, "Message"),
        recommend: text(doc, "Recommend"),
    }
}

/// A call from one record, which becomes its `raw`; or the record kept whole with why it cannot be one.
fn call_record(item: Value) -> Result<CallRecord, InvalidRecord> {
    match call_fields(&item) {
        Ok(record) => Ok(CallRecord {
            raw: item,
            ..record
        }),
        Err(reason) => Err(InvalidRecord { reason, raw: item }),
    }
}

/// Every field of a call but its `raw` (left `null`).
fn call_fields(item: &Value) -> Result<CallRecord, String> {
    let Value::Object(_) = item else {
        return Err(format!("record is {}, not an object", kind(item)));
    };
    let contact_id = text(item, "ContactId")
        .filter(|s| !s.trim().is_empty())
        .ok_or("record has no ContactId")?;
    let start_time_ms = epoch_ms(item, "StartTime").ok_or("record has no valid StartTime")?;
    let agents = list(item.get("Agents"), "CallDetailAgent")
        .map_err(|e| format!("Agents {e}"))?
        .into_iter()
        .map(agent_leg)
        .collect::<Result<_, _>>()?;
    let recordings = list(item.get("Recordings"), "Recording")
        .map_err(|e| format!("Recordings {e}"))?
        .into_iter()
        .map(recording)
        .collect::<Result<_, _>>()?;
    Ok(CallRecord {
        contact_id,
        instance_id: text(item, "InstanceId"),
        start_time_ms,
        duration: int32(item, "Duration"),
        contact_type: text(item, "ContactType"),
        contact_disposition: text(item, "ContactDisposition"),
        calling_number: text(item, "CallingNumber"),
        called_number: text(item, "CalledNumber"),
        agent_names: text(item, "AgentNames"),
        skill_group_names: text(item, "SkillGroupNames"),
        satisfaction: int32(item, "Satisfaction"),
        satisfaction_desc: text(item, "SatisfactionDesc"),
        feedback: text(item, "Feedback"),
        extra_attr: text(item, "ExtraAttr"),
        agents,
        recordings,
        raw: Value::Null,
    })
}

fn agent_leg(v: &Value) -> Result<AgentLeg, String> {
    object(v, "agent leg")?;
    Ok(AgentLeg {
        agent_id: text(v, "AgentId"),
        agent_name: text(v, "AgentName"),
        skill_group_name: text(v, "SkillGroupName"),
        start_time_ms: epoch_ms(v, "StartTime"),
        queue_time: int32(v, "QueueTime"),
        ring_time: int32(v, "RingTime"),
        talk_time: int32(v, "TalkTime"),
        hold_time: int32(v, "HoldTime"),
        work_time: int32(v, "WorkTime"),
        satisfaction: text(v, "Satisfaction"),
        feedback: text(v, "Feedback"),
    })
}

fn recording(v: &Value) -> Result<Recording, String> {
    object(v, "recording")?;
    Ok(Recording {
        contact_type: text(v, "ContactType"),
        agent_id: text(v, "AgentId"),
        agent_name: text(v, "AgentName"),
        calling_number: text(v, "CallingNumber"),
        called_number: text(v, "CalledNumber"),
        channel: text(v, "Channel"),
        file_name: text(v, "FileName"),
        file_description: text(v, "FileDescription"),
        file_path: text(v, "FilePath"),
        start_time_ms: epoch_ms(v, "StartTime"),
        duration: int32(v, "Duration"),
    })
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} is {}, not an object", kind(v)))
}

/// A list in either shape: `[..]` (docs), `{"<inner>": [..]}` (wire), a lone object where a converter
/// collapsed a one-element list, or nothing at all.
fn list<'a>(v: Option<&'a Value>, inner: &str) -> Result<Vec<&'a Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(Value::Object(map)) => match map.get(inner) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.iter().collect()),
            Some(one @ Value::Object(_)) => Ok(vec![one]),
            Some(other) => Err(format!("has {inner} as {}, not a list", kind(other))),
        },
        Some(other) => Err(format!("is {}, not a list", kind(other))),
    }
}

/// [`list`], taking the items out of `v`.
fn owned_list(v: Option<Value>, inner: &str) -> Result<Vec<Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Object(mut map)) => match map.remove(inner) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items),
            Some(one @ Value::Object(_)) => Ok(vec![one]),
            Some(other) => Err(format!("has {inner} as {}, not a list", kind(&other))),
        },
        Some(other) => Err(format!("is {}, not a list", kind(&other))),
    }
}

/// A string field; numbers and booleans are accepted and written as text, `null` is absent.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer field; numeric strings are accepted, empty strings and `null` are absent.
fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn int32(v: &Value, key: &str) -> Option<i32> {
    int(v, key).and_then(|i| i32::try_from(i).ok())
}

/// Epoch milliseconds between 1970 and 9999, the range a `timestamptz` column and chrono both hold.
fn epoch_ms(v: &Value, key: &str) -> Option<i64> {
    const MAX_MS: i64 = 253_402_300_799_999;
    int(v, key).filter(|ms| (0..=MAX_MS).contains(ms))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse(v: Value) -> ListPage {
        parse_list_body(v.to_string().as_bytes()).expect("a page")
    }

    #[test]
    fn the_wrapped_fixture_yields_every_record_with_its_legs() {
        let page = parse_list_body(&fixture("response-wrapped.json")).expect("a page");
        assert_eq!(page.request_id, "032C73C4-3A6F-4502-872B-4F5B41161C6E");
        assert_eq!(page.total_count, Some(98));
        assert_eq!(page.records.len(), 7);
        assert!(page.invalid.is_empty());
        let second = &page.records[1];
        assert_eq!(second.contact_id, "2029786674");
        assert_eq!(second.start_time_ms, 1_534_952_824_000);
        assert_eq!(second.calling_number.as_deref(), Some("025668067898"));
        assert_eq!(second.agents.len(), 1);
        assert_eq!(second.agents[0].satisfaction.as_deref(), Some("未评价"));
        assert_eq!(second.satisfaction, None);
        assert_eq!(second.feedback, None);
    }

    #[test]
    fn the_flat_docs_fixture_parses_to_the_same_records_as_the_wrapped_one() {
        let flat = parse_list_body(&fixture("response-flat-docs-sample.json")).expect("a page");
        let wrapped = parse_list_body(&fixture("response-wrapped.json")).expect("a page");
        let strip = |p: &ListPage| {
            p.records
                .iter()
                .map(|r| CallRecord {
                    raw: Value::Null,
                    ..r.clone()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&flat), strip(&wrapped));
        assert!(!flat.records.is_empty());
    }

    #[test]
    fn every_error_sample_is_read_with_its_request_id_and_code() {
        let doc: Value = serde_json::from_slice(&fixture("error-samples.json")).expect("json");
        let samples = doc["samples"].as_array().expect("samples");
        assert!(samples.len() >= 10);
        for s in samples {
            let body = s["body"].to_string();
            let parsed = parse_error_body(body.as_bytes()).expect("json error body");
            assert_eq!(
                parsed.request_id.as_deref(),
                s["body"]["RequestId"].as_str()
            );
            assert_eq!(parsed.code.as_deref(), s["body"]["Code"].as_str());
            assert!(matches!(
                parse_list_body(body.as_bytes()),
                Err(BodyError::NotSuccess(_))
            ));
        }
        let mismatch = parse_error_body(&fixture("error-signature-mismatch.json")).expect("body");
        assert!(
            mismatch
                .message
                .expect("message")
                .contains("server string to sign is:POST&%2F&")
        );
    }

    #[test]
    fn numbers_as_strings_strings_as_numbers_and_nulls_are_accepted() {
        let page = parse(json!({
            "RequestId": "r", "Success": "true", "Code": "OK",
            "CallDetailRecords": {"TotalCount": "2", "List": {"CallDetailRecord": [{
                "ContactId": 2029786681_i64, "StartTime": "1534952985000", "Duration": "16",
                "Satisfaction": "3", "CallingNumber": null, "Feedback": "", "Surprise": {"x": 1},
                "Agents": {"CallDetailAgent": {"AgentId": 1912, "TalkTime": "42"}},
                "Recordings": null
            }]}}
        }));
        let r = &page.records[0];
        assert_eq!(page.total_count, Some(2));
        assert_eq!(r.contact_id, "2029786681");
        assert_eq!(r.start_time_ms, 1_534_952_985_000);
        assert_eq!(r.duration, Some(16));
        assert_eq!(r.satisfaction, Some(3));
        assert_eq!(r.calling_number, None);
        assert_eq!(r.feedback.as_deref(), Some(""));
        assert_eq!(r.agents[0].agent_id.as_deref(), Some("1912"));
        assert_eq!(r.agents[0].talk_time, Some(42));
        assert!(r.recordings.is_empty());
        assert_eq!(r.raw["Surprise"]["x"], 1, "unknown fields are kept in raw");
    }

    #[test]
    fn absent_and_null_lists_are_empty_pages() {
        for body in [
            json!({"RequestId": "r", "Success": true, "Code": "OK"}),
            json!({"RequestId": "r", "Success": true, "CallDetailRecords": null}),
            json!({"RequestId": "r", "Success": true, "CallDetailRecords": {"List": null}}),
            json!({"RequestId": "r", "Success": true, "CallDetailRecords": {"List": {"CallDetailRecord": []}}}),
        ] {
            assert!(parse(body).is_empty());
        }
    }

    #[test]
    fn a_record_without_identity_is_kept_as_invalid_with_a_reason() {
        let page = parse(
            json!({"RequestId": "r", "Success": true, "CallDetailRecords": {"List": [
                {"StartTime": 1}, {"ContactId": "7"}, {"ContactId": "8", "StartTime": -5}, "junk",
                {"ContactId": "9", "StartTime": 1, "Agents": 3},
                {"ContactId": "10", "StartTime": 1}
            ]}}),
        );
        assert_eq!(page.records.len(), 1);
        assert_eq!(
            page.len(),
            6,
            "invalid records still count towards the page length"
        );
        let reasons: Vec<_> = page.invalid.iter().map(|i| i.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "record has no ContactId",
                "record has no valid StartTime",
                "record has no valid StartTime",
                "record is a string, not an object",
                "Agents is a number, not a list"
            ]
        );
    }

    #[test]
    fn unsuccessful_and_malformed_bodies_are_errors_not_empty_pages() {
        let not_ok = json!({"RequestId": "r", "Success": false, "Code": "Busy", "Message": "m"});
        assert!(matches!(
            parse_list_body(not_ok.to_string().as_bytes()),
            Err(BodyError::NotSuccess(ErrorBody { code: Some(c), .. })) if c == "Busy"
        ));
        let wrapped = fixture("response-wrapped.json");
        let truncated = &wrapped[..wrapped.len() / 2];
        assert!(matches!(
            parse_list_body(truncated),
            Err(BodyError::Malformed(_))
        ));
        let xml = b"<?xml version='1.0'?><Error/>";
        assert!(
            matches!(parse_list_body(xml), Err(BodyError::Malformed(m)) if m.contains("Format=JSON"))
        );
        assert!(matches!(
            parse_list_body(b"[]"),
            Err(BodyError::Malformed(_))
        ));
        let bad_list = json!({"RequestId": "r", "Success": true, "CallDetailRecords": {"List": 5}});
        assert!(matches!(
            parse_list_body(bad_list.to_string().as_bytes()),
            Err(BodyError::Malformed(_))
        ));
    }
}
