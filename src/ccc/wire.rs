//! What the list actions answer (`ListRecentCallRecords` and 2017 `ListCallDetailRecords` wrapped, 2020
//! `ListCallDetailRecords` flat), and the 2.0 per-call actions, parsed as tolerantly as the official Go SDK
//! does.
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
    /// What CCC 2.0's record adds (`None` from the 2017 actions, but `SkillGroupIdList`).
    pub established_time_ms: Option<i64>,
    pub release_time_ms: Option<i64>,
    pub release_initiator: Option<String>,
    pub release_reason: Option<String>,
    pub early_media_state: Option<String>,
    pub caller_location: Option<String>,
    pub callee_location: Option<String>,
    pub broker: Option<String>,
    pub agent_ids: Option<String>,
    pub skill_group_ids: Option<String>,
    pub dialing_time: Option<i32>,
    pub ivr_time: Option<i32>,
    pub wait_time: Option<i32>,
    pub recording_duration: Option<i32>,
    pub recording_ready: Option<bool>,
    pub satisfaction_survey_offered: Option<bool>,
    pub satisfaction_survey_channel: Option<String>,
    /// The call's own queue, ring, talk and hold seconds, where the record has them (2.0), rather than the
    /// totals over its legs.
    pub call_times: Option<CallTimes>,
    pub agents: Vec<AgentLeg>,
    pub recordings: Vec<Recording>,
    /// The record exactly as the service sent it, unknown fields included.
    pub raw: Value,
}

/// A 2.0 record's call-level seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTimes {
    pub queue_time: Option<i32>,
    pub ring_time: Option<i32>,
    pub talk_time: Option<i32>,
    pub hold_time: Option<i32>,
}

/// One agent's part in a call (`CallDetailAgent`).
#[derive(Debug, Clone, Default, PartialEq)]
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
#[derive(Debug, Clone, Default, PartialEq)]
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
    records_page(
        request_id,
        cdr,
        "CallDetailRecord",
        "CallDetailRecords",
        call_fields,
    )
}

/// The records of `container`'s `List` (items under `inner` when wrapped) and its `TotalCount`, each record
/// read by `fields` and taken out of the document to become its call's `raw` without a copy.
fn records_page(
    request_id: String,
    container: &mut Value,
    inner: &str,
    what: &str,
    fields: fn(&Value) -> Result<CallRecord, String>,
) -> Result<ListPage, BodyError> {
    let total_count = int(container, "TotalCount");
    let items = owned_list(container.get_mut("List").map(Value::take), inner)
        .map_err(|e| BodyError::Malformed(format!("{what}.List {e}")))?;
    let mut page = ListPage {
        request_id,
        total_count,
        records: Vec::with_capacity(items.len()),
        invalid: Vec::new(),
    };
    for item in items {
        match fields(&item) {
            Ok(record) => page.records.push(CallRecord {
                raw: item,
                ..record
            }),
            Err(reason) => page.invalid.push(InvalidRecord { reason, raw: item }),
        }
    }
    Ok(page)
}

/// Parses the body of an HTTP 200 answer of 2020-07-01 `ListCallDetailRecords`: not wrapped, the records in
/// `Data.List[]`, `CallDuration` a string. Its records carry no legs and no recordings: each call gets one
/// leg per id of `AgentIds` (named from `AgentNames`), which the call's details replace when fetched.
pub fn parse_list_body_2020(body: &[u8]) -> Result<ListPage, BodyError> {
    let (request_id, data) = success_data(body)?;
    let Some(mut data) = data else {
        return Ok(empty_page(request_id));
    };
    if !data.is_object() {
        return Err(BodyError::Malformed(format!(
            "Data is {}, not an object",
            kind(&data)
        )));
    }
    records_page(request_id, &mut data, "List", "Data", call_fields_2020)
}

/// A successful answer's `RequestId` and its `Data`, taken out of the document (`None` when absent).
fn success_data(body: &[u8]) -> Result<(String, Option<Value>), BodyError> {
    success_field(body, "Data")
}

/// A successful answer's `RequestId` and its top-level `field` (absent when missing or `null`).
fn success_field(body: &[u8], field: &str) -> Result<(String, Option<Value>), BodyError> {
    let mut doc = parse_json(body).map_err(BodyError::Malformed)?;
    if !is_success(&doc) {
        return Err(BodyError::NotSuccess(error_body(&doc)));
    }
    let request_id = text(&doc, "RequestId").unwrap_or_default();
    let data = doc.get_mut(field).map(Value::take).filter(|d| !d.is_null());
    Ok((request_id, data))
}

/// Every field of a 2.0 call but its `raw`.
fn call_fields_2020(item: &Value) -> Result<CallRecord, String> {
    let Value::Object(_) = item else {
        return Err(format!("record is {}, not an object", kind(item)));
    };
    let contact_id = text(item, "ContactId")
        .filter(|s| !s.trim().is_empty())
        .ok_or("record has no ContactId")?;
    let start_time_ms = epoch_ms(item, "StartTime").ok_or("record has no valid StartTime")?;
    let agent_ids = text(item, "AgentIds");
    let agent_names = text(item, "AgentNames");
    let agents = comma_list(agent_ids.as_deref())
        .enumerate()
        .map(|(i, id)| AgentLeg {
            agent_id: Some(id.to_owned()),
            agent_name: comma_list(agent_names.as_deref()).nth(i).map(str::to_owned),
            ..AgentLeg::default()
        })
        .collect();
    Ok(CallRecord {
        instance_id: text(item, "InstanceId"),
        duration: int32(item, "CallDuration"),
        contact_type: text(item, "ContactType"),
        contact_disposition: text(item, "ContactDisposition"),
        calling_number: text(item, "CallingNumber"),
        called_number: text(item, "CalledNumber"),
        agent_names,
        skill_group_names: text(item, "SkillGroupNames"),
        satisfaction: int32(item, "SatisfactionIndex"),
        satisfaction_desc: text(item, "SatisfactionDescription"),
        established_time_ms: epoch_ms(item, "EstablishedTime"),
        release_time_ms: epoch_ms(item, "ReleaseTime"),
        release_initiator: text(item, "ReleaseInitiator"),
        release_reason: text(item, "ReleaseReason"),
        early_media_state: text(item, "EarlyMediaState"),
        caller_location: text(item, "CallerLocation"),
        callee_location: text(item, "CalleeLocation"),
        broker: text(item, "Broker"),
        agent_ids,
        skill_group_ids: text(item, "SkillGroupIds"),
        dialing_time: int32(item, "DialingTime"),
        ivr_time: int32(item, "IvrTime"),
        wait_time: int32(item, "WaitTime"),
        recording_duration: int32(item, "RecordingDuration"),
        recording_ready: flag(item, "RecordingReady"),
        satisfaction_survey_offered: flag(item, "SatisfactionSurveyOffered"),
        satisfaction_survey_channel: text(item, "SatisfactionSurveyChannel"),
        call_times: Some(CallTimes {
            queue_time: int32(item, "QueueTime"),
            ring_time: int32(item, "RingTime"),
            talk_time: int32(item, "TalkTime"),
            hold_time: int32(item, "HeldTime"),
        }),
        agents,
        ..CallRecord::empty(contact_id, start_time_ms)
    })
}

/// The items of a comma list, trimmed, empty ones skipped.
fn comma_list(list: Option<&str>) -> impl Iterator<Item = &str> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// What `GetCallDetailRecord` (2020-07-01) says of one call: its agents' events, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDetail {
    pub request_id: String,
    pub agents: Vec<AgentEvents>,
    /// The call's waits in skill group queues: `(QueueId, Enqueue, Dequeue)`, epoch ms.
    pub queues: Vec<(Option<String>, i64, i64)>,
}

/// One agent's events in a call, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvents {
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub skill_group_id: Option<String>,
    /// `(Event, EventTime)` in epoch ms.
    pub events: Vec<(String, i64)>,
}

impl CallDetail {
    /// The call's agent legs, one per agent event list, in the order the service lists them. A leg's times
    /// are the spans between its events: in its skill group's queue until it rang (the queue wait that
    /// ends as it rings: the leg starts on `Enqueue`, else on its first event), ringing until established
    /// (or released), established until released less the holds, on hold between each `Hold` and its
    /// `Retrieve`. After-call work has no event: unknown. Skill groups are named from the call's
    /// `SkillGroupIds`/`SkillGroupNames`.
    pub fn agent_legs(
        &self,
        skill_group_ids: Option<&str>,
        skill_group_names: Option<&str>,
    ) -> Vec<AgentLeg> {
        let names: Vec<(&str, &str)> = comma_list(skill_group_ids)
            .zip(comma_list(skill_group_names))
            .collect();
        self.agents
            .iter()
            .map(|a| {
                let at = |name: &str| a.events.iter().find(|(e, _)| e == name).map(|(_, t)| *t);
                let seconds = |from: Option<i64>, to: Option<i64>| {
                    let (from, to) = (from?, to?);
                    i32::try_from((to - from).max(0) / 1000).ok()
                };
                let mut hold_ms = None;
                let mut held_since = None;
                for (event, t) in &a.events {
                    match event.as_str() {
                        "Hold" => held_since = Some(*t),
                        "Retrieve" => {
                            if let Some(since) = held_since.take() {
                                *hold_ms.get_or_insert(0) += (t - since).max(0);
                            }
                        }
                        _ => {}
                    }
                }
                let established = at("Established");
                let released = at("Released");
                let queued = self
                    .queues
                    .iter()
                    .find(|(group, _, dequeue)| {
                        *group == a.skill_group_id && Some(*dequeue) == at("Ringing")
                    })
                    .map(|(_, enqueue, _)| *enqueue);
                let hold_time = hold_ms.and_then(|ms| i32::try_from(ms / 1000).ok());
                AgentLeg {
                    agent_id: a.agent_id.clone(),
                    agent_name: a.agent_name.clone(),
                    skill_group_name: a.skill_group_id.as_deref().and_then(|id| {
                        names
                            .iter()
                            .find(|(i, _)| *i == id)
                            .map(|(_, n)| (*n).to_owned())
                    }),
                    start_time_ms: queued.or(a.events.first().map(|(_, t)| *t)),
                    queue_time: seconds(queued, at("Ringing")),
                    ring_time: seconds(at("Ringing"), established.or(released)),
                    talk_time: seconds(established, released)
                        .map(|talk| talk - hold_time.unwrap_or(0)),
                    hold_time,
                    work_time: None,
                    satisfaction: None,
                    feedback: None,
                }
            })
            .collect()
    }
}

/// Parses the body of an HTTP 200 answer of `GetCallDetailRecord` (2020-07-01).
pub fn parse_call_detail_body(body: &[u8]) -> Result<CallDetail, BodyError> {
    let (request_id, data) = success_data(body)?;
    let data = data.unwrap_or(Value::Null);
    let agents = list(data.get("AgentEvents"), "AgentEvent")
        .map_err(|e| BodyError::Malformed(format!("Data.AgentEvents {e}")))?
        .into_iter()
        .map(|a| {
            let mut events: Vec<(String, i64)> = list(a.get("EventSequence"), "Event")
                .map_err(|e| format!("AgentEvents.EventSequence {e}"))?
                .into_iter()
                .filter_map(|e| Some((text(e, "Event")?, epoch_ms(e, "EventTime")?)))
                .collect();
            events.sort_by_key(|(_, t)| *t);
            Ok(AgentEvents {
                agent_id: text(a, "AgentId"),
                agent_name: text(a, "AgentName"),
                skill_group_id: text(a, "SkillGroupId"),
                events,
            })
        })
        .collect::<Result<_, String>>()
        .map_err(BodyError::Malformed)?;
    let queues = list(data.get("QueueEvents"), "QueueEvent")
        .map_err(|e| BodyError::Malformed(format!("Data.QueueEvents {e}")))?
        .into_iter()
        .filter_map(|q| {
            let events = list(q.get("EventSequence"), "Event").ok()?;
            let time = |name: &str| {
                events
                    .iter()
                    .find(|e| text(e, "Event").as_deref() == Some(name))
                    .and_then(|e| epoch_ms(e, "EventTime"))
            };
            Some((text(q, "QueueId"), time("Enqueue")?, time("Dequeue")?))
        })
        .collect();
    Ok(CallDetail {
        request_id,
        agents,
        queues,
    })
}

/// Parses the body of an HTTP 200 answer of `ListMonoRecordings` (2020-07-01): the call's recording files,
/// durations in milliseconds made seconds (rounded). The download link is not kept: it expires.
pub fn parse_mono_recordings_body(body: &[u8]) -> Result<(String, Vec<Recording>), BodyError> {
    let (request_id, data) = success_data(body)?;
    let recordings = list(data.as_ref(), "MonoRecording")
        .map_err(|e| BodyError::Malformed(format!("Data {e}")))?
        .into_iter()
        .map(|r| {
            object(r, "recording").map_err(BodyError::Malformed)?;
            Ok(Recording {
                agent_id: text(r, "AgentId"),
                agent_name: text(r, "AgentName"),
                file_name: text(r, "FileName"),
                start_time_ms: epoch_ms(r, "StartTime"),
                duration: int(r, "Duration").and_then(|ms| i32::try_from((ms + 500) / 1000).ok()),
                ..Recording::default()
            })
        })
        .collect::<Result<_, BodyError>>()?;
    Ok((request_id, recordings))
}

/// A recording file's download link. It expires (an hour on 1.0, a day on 2.0), so it is used at once and
/// never stored or logged: its query signs the download.
#[derive(Clone, PartialEq, Eq)]
pub struct FileLink {
    pub file_name: String,
    pub url: String,
}

/// The link without its signing query.
impl std::fmt::Debug for FileLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("FileLink")
            .field("file_name", &self.file_name)
            .field("url", &format_args!("{shown}?[REDACTED]"))
            .finish()
    }
}

/// `DownloadRecording` (2017-07-05): `MediaDownloadParam.SignatureUrl`, which arrives wrapped in an extra
/// pair of double quotes (removed here).
pub fn parse_download_recording_body(body: &[u8]) -> Result<(String, FileLink), BodyError> {
    let (request_id, param) = success_field(body, "MediaDownloadParam")?;
    let param = param.ok_or_else(|| BodyError::Malformed("no MediaDownloadParam".into()))?;
    let url = text(&param, "SignatureUrl")
        .map(|u| u.trim().trim_matches('"').to_owned())
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .ok_or_else(|| {
            BodyError::Malformed("MediaDownloadParam.SignatureUrl is not an http(s) link".into())
        })?;
    let file_name = text(&param, "FileName").unwrap_or_default();
    Ok((request_id, FileLink { file_name, url }))
}

/// `ListMonoRecordings` (2020-07-01): each file's link (`FileUrl`); an item without one is left out.
pub fn parse_mono_links_body(body: &[u8]) -> Result<(String, Vec<FileLink>), BodyError> {
    let (request_id, data) = success_data(body)?;
    let links = list(data.as_ref(), "MonoRecording")
        .map_err(|e| BodyError::Malformed(format!("Data {e}")))?
        .into_iter()
        .filter_map(|r| {
            Some(FileLink {
                file_name: text(r, "FileName")?,
                url: text(r, "FileUrl").filter(|u| !u.is_empty())?,
            })
        })
        .collect();
    Ok((request_id, links))
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
        instance_id: text(item, "InstanceId"),
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
        skill_group_ids: text(item, "SkillGroupIdList"),
        agents,
        recordings,
        ..CallRecord::empty(contact_id, start_time_ms)
    })
}

impl CallRecord {
    /// A call with nothing known but its identity.
    fn empty(contact_id: String, start_time_ms: i64) -> CallRecord {
        CallRecord {
            contact_id,
            instance_id: None,
            start_time_ms,
            duration: None,
            contact_type: None,
            contact_disposition: None,
            calling_number: None,
            called_number: None,
            agent_names: None,
            skill_group_names: None,
            satisfaction: None,
            satisfaction_desc: None,
            feedback: None,
            extra_attr: None,
            established_time_ms: None,
            release_time_ms: None,
            release_initiator: None,
            release_reason: None,
            early_media_state: None,
            caller_location: None,
            callee_location: None,
            broker: None,
            agent_ids: None,
            skill_group_ids: None,
            dialing_time: None,
            ivr_time: None,
            wait_time: None,
            recording_duration: None,
            recording_ready: None,
            satisfaction_survey_offered: None,
            satisfaction_survey_channel: None,
            call_times: None,
            agents: Vec::new(),
            recordings: Vec::new(),
            raw: Value::Null,
        }
    }
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

/// A boolean field; `"true"`/`"false"` and 1/0 are accepted.
fn flag(v: &Value, key: &str) -> Option<bool> {
    match v.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
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
    fn the_2020_list_fixture_is_flat_with_its_own_fields_and_a_leg_per_agent_id() {
        let page =
            parse_list_body_2020(&fixture("list-call-detail-records-2020.json")).expect("a page");
        assert_eq!(page.request_id, "3CE96F70-2E44-41D6-8825-40F0CB582858");
        assert_eq!(page.total_count, Some(40));
        assert_eq!(page.records.len(), 3);
        assert!(page.invalid.is_empty());
        let answered = &page.records[1];
        assert_eq!(answered.contact_id, "job-97128033845434607");
        assert_eq!(answered.duration, Some(107), "CallDuration arrives as text");
        assert_eq!(answered.established_time_ms, Some(1_795_953_034_255));
        assert_eq!(
            answered.release_reason.as_deref(),
            Some("200 - Normal call clearing")
        );
        assert_eq!(answered.callee_location.as_deref(), Some("北京"));
        assert_eq!(
            answered.skill_group_ids.as_deref(),
            Some("skg-night-shift@ccc-test")
        );
        assert_eq!(answered.recording_ready, Some(true));
        assert_eq!(answered.dialing_time, Some(2));
        assert_eq!(
            answered.call_times,
            Some(CallTimes {
                queue_time: Some(0),
                ring_time: Some(2),
                talk_time: Some(105),
                hold_time: Some(0)
            })
        );
        assert_eq!(answered.agents.len(), 1);
        assert_eq!(
            answered.agents[0].agent_id.as_deref(),
            Some("54512368852443042")
        );
        assert_eq!(answered.agents[0].agent_name.as_deref(), Some("许静"));
        assert!(answered.recordings.is_empty());
        let unanswered = &page.records[0];
        assert_eq!(unanswered.established_time_ms, None);
        assert!(unanswered.agents.is_empty());
        assert_eq!(unanswered.raw["CallerLocation"], "浙江杭州");
    }

    #[test]
    fn a_2020_error_body_and_a_2020_record_without_identity_are_not_records() {
        let error = json!({"RequestId": "r", "Code": "Forbidden.NoPermission", "HttpStatusCode": 403, "Message": "m"});
        assert!(matches!(
            parse_list_body_2020(error.to_string().as_bytes()),
            Err(BodyError::NotSuccess(ErrorBody { code: Some(c), .. })) if c == "Forbidden.NoPermission"
        ));
        let page = parse_list_body_2020(
            json!({"RequestId": "r", "Code": "OK", "HttpStatusCode": 200, "Data": {"TotalCount": 0, "List": [
                {"StartTime": 1}, {"ContactId": "c", "StartTime": 2, "CallDuration": "7"}
            ]}})
            .to_string()
            .as_bytes(),
        )
        .expect("a page");
        assert_eq!(page.records.len(), 1);
        assert_eq!(page.invalid[0].reason, "record has no ContactId");
        let empty = json!({"RequestId": "r", "Code": "OK", "Data": null});
        assert!(
            parse_list_body_2020(empty.to_string().as_bytes())
                .expect("page")
                .is_empty()
        );
    }

    #[test]
    fn agent_events_become_legs_with_the_spans_between_them() {
        let body = json!({"RequestId": "r", "Code": "OK", "Data": {"AgentEvents": [{
            "AgentId": "a1", "AgentName": "许静", "SkillGroupId": "g2",
            "EventSequence": [
                {"Event": "Released", "EventTime": 1_000_000 + 95_000},
                {"Event": "Ringing", "EventTime": 1_000_000 + 10_000},
                {"Event": "Established", "EventTime": 1_000_000 + 15_000},
                {"Event": "Hold", "EventTime": 1_000_000 + 20_000},
                {"Event": "Retrieve", "EventTime": 1_000_000 + 50_000}
            ]}, {"AgentId": "a2", "EventSequence": [{"Event": "Ringing", "EventTime": 5}, {"Event": "Released", "EventTime": 4005}]}],
            "QueueEvents": [{"QueueId": "g2", "EventSequence": [
                {"Event": "Enqueue", "EventTime": 1_000_000}, {"Event": "Dequeue", "EventTime": 1_010_000}]}]}});
        let detail = parse_call_detail_body(body.to_string().as_bytes()).expect("detail");
        let legs = detail.agent_legs(Some("g1,g2"), Some("售前,售后"));
        assert_eq!(legs.len(), 2);
        let first = &legs[0];
        assert_eq!(first.agent_id.as_deref(), Some("a1"));
        assert_eq!(first.skill_group_name.as_deref(), Some("售后"));
        assert_eq!(first.start_time_ms, Some(1_000_000));
        assert_eq!(
            (
                first.queue_time,
                first.ring_time,
                first.talk_time,
                first.hold_time,
                first.work_time
            ),
            (Some(10), Some(5), Some(50), Some(30), None)
        );
        let second = &legs[1];
        assert_eq!(
            (
                second.queue_time,
                second.ring_time,
                second.talk_time,
                second.hold_time
            ),
            (None, Some(4), None, None),
            "a span whose events are missing is unknown, not 0"
        );
    }

    #[test]
    fn mono_recordings_keep_no_link_and_their_durations_become_seconds() {
        let (request_id, recordings) =
            parse_mono_recordings_body(&fixture("list-mono-recordings-2020.json")).expect("list");
        assert_eq!(request_id, "C26C80FF-3D04-4933-9720-86C33FA7A0A8");
        assert_eq!(recordings.len(), 2);
        assert_eq!(recordings[0].duration, Some(105));
        assert_eq!(recordings[0].start_time_ms, Some(1_795_953_032_255));
        assert_eq!(
            recordings[0].file_name.as_deref(),
            Some("job-97128033845434607_1_录音.mp3")
        );
        assert!(
            recordings.iter().all(|r| r.file_path.is_none()),
            "links expire: not kept"
        );
    }

    #[test]
    fn a_download_link_loses_its_extra_quotes_and_never_prints_its_signature() {
        let (request_id, link) =
            parse_download_recording_body(&fixture("download-recording-2017.json")).expect("link");
        assert_eq!(request_id, "AFE2BC72-7CF1-4751-8B63-CFE148639CDB");
        assert_eq!(link.file_name, "job-91838104374186919-1.wav");
        assert!(
            link.url
                .starts_with("https://ccc-record-cn-shanghai.oss-cn-shanghai.aliyuncs.com/")
                && link.url.ends_with("%3D"),
            "{}",
            link.url
        );
        let shown = format!("{link:?}");
        assert!(
            !shown.contains("Signature") && !shown.contains("OSSAccessKeyId"),
            "{shown}"
        );
        let no_link = json!({"RequestId": "r", "Code": "OK", "MediaDownloadParam": {"FileName": "f.wav", "SignatureUrl": "\"\""}});
        assert!(matches!(
            parse_download_recording_body(no_link.to_string().as_bytes()),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn mono_links_name_each_file_and_skip_an_item_without_one() {
        let (_, links) =
            parse_mono_links_body(&fixture("list-mono-recordings-2020.json")).expect("links");
        let names: Vec<&str> = links.iter().map(|l| l.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "job-97128033845434607_1_录音.mp3",
                "job-97128033845434607-2.wav"
            ]
        );
        assert!(links.iter().all(|l| l.url.contains("Expires=")));
        let partial = json!({"RequestId": "r", "Code": "OK", "Data": [{"FileName": "a.wav"}, {"FileName": "b.wav", "FileUrl": "http://x/b.wav"}]});
        let (_, links) = parse_mono_links_body(partial.to_string().as_bytes()).expect("links");
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].file_name, "b.wav");
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
