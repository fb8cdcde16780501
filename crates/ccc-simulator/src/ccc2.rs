//! CCC 2.0 (API version 2020-07-01): a call's list record, its detail with events, and its recording
//! files, all derived from the same CCC 1.0 record [`data::record`] renders, so one call keeps its
//! `ContactId`, `StartTime`, numbers, duration, agents, skill groups and survey in both versions, and a late
//! survey changes both at once. What only 2.0 says (locations, call ids, release reasons, dialling time)
//! comes from a random stream of its own, so it never disturbs the 1.0 record.
//!
//! Shapes follow `tests/fixtures/*-2020.json`: absent optional fields are omitted; the list's
//! `CallDuration` is a string and the detail's an integer; recording durations and start times are
//! strings of milliseconds. The detail carries only fields `alibabacloud_ccc20200701`'s detail model
//! declares: the list's `SatisfactionIndex` is its `Satisfaction`, and the list's broker, call ids, time
//! split and `SatisfactionDescription` are not in it.
//!
//! Guesses (no capture says otherwise): the code mapping from 1.0 is the warehouse's (see
//! [`contact_type`], [`disposition`]); locations come from the area code (mobiles: a province drawn from
//! the number); `Broker` is the center's own number; release initiators and SIP reasons follow the
//! disposition; a survey's channel is `IVR`; event names are `Ringing`, `Established`, `Hold`, `Retrieve`,
//! `Released` (agents and customers), `Enqueue`/`Dequeue` (queues, with `QueueId`, `QueueName`) and
//! `EnterIVR`/`LeaveIVR` (IVR, with `FlowId`, `FlowType`); a recording's `RamId` is per agent.

use rand::Rng;
use serde::Serialize;

use super::data::{
    self, ContactType, Disposition, NOT_SENT, Record, RenderContext, Slot, Stream, skill_group_id,
    skill_group_ids,
};

/// Landline area codes and where they ring.
const AREA_LOCATIONS: [(&str, &str); 8] = [
    ("010", "北京"),
    ("020", "广东广州"),
    ("021", "上海"),
    ("025", "江苏南京"),
    ("0571", "浙江杭州"),
    ("0755", "广东深圳"),
    ("0411", "辽宁大连"),
    ("0512", "江苏苏州"),
];
/// Where mobiles are registered.
const MOBILE_LOCATIONS: [&str; 8] = [
    "北京",
    "上海",
    "广东广州",
    "广东深圳",
    "浙江杭州",
    "江苏南京",
    "四川成都",
    "湖北武汉",
];
/// CCC 2.0's `ContactType` for a 1.0 one: only `PredictiveDial` is renamed.
pub fn contact_type(t: ContactType) -> &'static str {
    match t {
        ContactType::PredictiveDial => "Predictive",
        other => other.as_str(),
    }
}

/// CCC 2.0's `ContactDisposition` for a 1.0 one, exactly as the warehouse's lookup tables map them.
pub fn disposition(d: Disposition) -> &'static str {
    match d {
        Disposition::Success | Disposition::OneStepTransfer => "Success",
        Disposition::NoAnswer | Disposition::Busy => "NoAnswer",
        Disposition::Rejected => "Reject",
        Disposition::AbandonedInContactFlow => "AbandonedInIVR",
        Disposition::AbandonedInQueue => "AbandonedInQueue",
        Disposition::AbandonedRing => "AbandonedInRing",
        Disposition::QueueOverflow => "QueuingOverflow",
    }
}

/// The fields the list record and the detail share; `CallDuration` differs in type, so each adds its own.
/// Only fields `alibabacloud_ccc20200701`'s detail model (`GetCallDetailRecordResponseBodyData`) declares
/// are here; what only the list carries is in [`ListOnly`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_ids: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_names: Option<String>,
    pub called_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callee_location: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_location: Option<&'static str>,
    pub calling_number: String,
    pub contact_disposition: &'static str,
    pub contact_id: String,
    pub contact_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_media_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub established_time: Option<i64>,
    pub instance_id: String,
    pub recording_ready: bool,
    pub release_initiator: &'static str,
    pub release_reason: &'static str,
    pub release_time: i64,
    pub satisfaction_survey_offered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction_survey_channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_group_ids: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_group_names: Option<String>,
    pub start_time: i64,
}

/// The list record's fields the detail model does not declare: the broker, call ids, the time split and
/// the survey as `SatisfactionIndex`/`SatisfactionDescription` (the detail says `Satisfaction`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOnly {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_ids: Option<String>,
    pub dialing_time: u32,
    pub held_time: u32,
    pub ivr_time: u32,
    pub queue_time: u32,
    pub recording_duration: u32,
    pub ring_time: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction_description: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction_index: Option<u8>,
    pub talk_time: u32,
    pub wait_time: u32,
}

/// One item of `ListCallDetailRecords`' `Data.List`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListItem {
    #[serde(flatten)]
    pub fields: Fields,
    #[serde(flatten)]
    pub list_only: ListOnly,
    /// Seconds, as a string.
    pub call_duration: String,
}

/// `GetCallDetailRecord`'s `Data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Detail {
    #[serde(flatten)]
    pub fields: Fields,
    /// Seconds, as an integer here.
    pub call_duration: u32,
    /// The list's `SatisfactionIndex`, under the name the detail model reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    pub agent_events: Vec<AgentEvents>,
    pub analytics_report_ready: bool,
    pub customer_events: Vec<CustomerEvents>,
    pub ivr_events: Vec<IvrEvents>,
    pub queue_events: Vec<QueueEvents>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    pub event: &'static str,
    pub event_time: i64,
}

/// One agent leg's events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentEvents {
    pub agent_id: String,
    pub agent_name: &'static str,
    pub event_sequence: Vec<Event>,
    pub skill_group_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomerEvents {
    pub customer_id: String,
    pub event_sequence: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IvrEvents {
    pub event_sequence: Vec<Event>,
    pub flow_id: String,
    pub flow_type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueEvents {
    pub event_sequence: Vec<Event>,
    pub queue_id: String,
    pub queue_name: String,
}

/// One item of `ListMonoRecordings`' `Data`; the ground truth leaves `FileUrl` out (links expire).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonoRecording {
    pub agent_id: String,
    pub agent_name: &'static str,
    pub contact_id: String,
    /// Milliseconds, as a string.
    pub duration: String,
    pub file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    pub ram_id: String,
    pub skill_group_id: String,
    /// Epoch milliseconds, as a string.
    pub start_time: String,
}

/// A call as CCC 2.0 sees it at one instant: the 1.0 record it derives from, and what 2.0 adds.
pub struct Call<'a> {
    ctx: &'a RenderContext<'a>,
    slot: &'a Slot,
    record: Record,
    fields: Fields,
    list_only: ListOnly,
    ivr_s: u32,
    queued_alone_s: u32,
}

impl<'a> Call<'a> {
    /// Renders `slot` as of `at_ms`.
    pub fn new(ctx: &'a RenderContext<'a>, slot: &'a Slot, at_ms: i64) -> Call<'a> {
        let record = data::record(ctx, slot, at_ms);
        let mut rng = data::rng(ctx.seed, Stream::Ccc2, u64::from(slot.ordinal));
        let legs = &record.agents.items;
        let inbound = slot.contact_type == ContactType::Inbound;
        let duration = slot.duration_s;
        // Inbound calls start in the IVR: until the first leg, or for the whole of a call that never
        // reached an agent (abandoned in the IVR, or after some IVR in the queue).
        let (ivr_s, queued_alone_s) = match (inbound, legs.first()) {
            (false, _) => (0, 0),
            (true, Some(first)) => (((first.start_time - slot.start_ms) / 1000) as u32, 0),
            (true, None) if slot.disposition == Disposition::AbandonedInContactFlow => {
                (duration, 0)
            }
            (true, None) => {
                let ivr = rng.random_range(3..=40).min(duration / 4);
                (ivr, duration - ivr)
            }
        };
        let dialing_time = match slot.contact_type {
            ContactType::Inbound | ContactType::Internal => 0,
            _ if legs.is_empty() => duration,
            _ => rng.random_range(1..=4).min(duration),
        };
        let queue_time = legs.iter().map(|l| l.queue_time).sum::<u32>() + queued_alone_s;
        let ring_time = legs.iter().map(|l| l.ring_time).sum();
        let established_time = legs
            .iter()
            .filter(|l| l.talk_time > 0)
            .map(|l| l.start_time + i64::from(l.queue_time + l.ring_time) * 1000)
            .min();
        let call_ids = (!legs.is_empty()).then(|| {
            legs.iter()
                .map(|_| {
                    format!(
                        "{:016x}-{:08x}@ccc",
                        rng.random::<u64>(),
                        rng.random::<u32>()
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        });
        let release_initiator = match slot.disposition {
            Disposition::Success | Disposition::OneStepTransfer => {
                if rng.random_bool(0.6) {
                    "customer"
                } else {
                    "agent"
                }
            }
            Disposition::QueueOverflow => "system",
            Disposition::NoAnswer if !inbound => "agent",
            _ => "customer",
        };
        let offered = record.satisfaction_desc != NOT_SENT;
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let fields = Fields {
            agent_ids: non_empty(&join(legs.iter().map(|l| l.agent_id.as_str()))),
            agent_names: non_empty(&record.agent_names),
            called_number: record.called_number.clone(),
            callee_location: location(ctx.seed, &record.called_number),
            caller_location: location(ctx.seed, &record.calling_number),
            calling_number: record.calling_number.clone(),
            contact_disposition: disposition(slot.disposition),
            contact_id: record.contact_id.clone(),
            contact_type: contact_type(slot.contact_type),
            early_media_state: match (slot.contact_type, slot.disposition) {
                (ContactType::Inbound | ContactType::Internal, _) => None,
                (_, Disposition::NoAnswer) => Some("NoAnswer"),
                (_, Disposition::Busy) => Some("Busy"),
                (_, Disposition::Rejected) => Some("Reject"),
                _ => None,
            },
            established_time,
            instance_id: record.instance_id.clone(),
            recording_ready: !record.recordings.items.is_empty(),
            release_initiator,
            release_reason: release_reason(slot.disposition),
            release_time: slot.start_ms + i64::from(duration) * 1000,
            satisfaction_survey_offered: offered,
            satisfaction_survey_channel: offered.then_some("IVR"),
            skill_group_ids: non_empty(&skill_group_ids(
                ctx.instance_id,
                &record.skill_group_names,
            )),
            skill_group_names: non_empty(&record.skill_group_names),
            start_time: slot.start_ms,
        };
        let list_only = ListOnly {
            broker: match slot.contact_type {
                ContactType::Inbound => Some(record.called_number.clone()),
                ContactType::Internal => None,
                _ => Some(record.calling_number.clone()),
            },
            call_ids,
            dialing_time,
            held_time: legs.iter().map(|l| l.hold_time).sum(),
            ivr_time: ivr_s,
            queue_time,
            recording_duration: record.recordings.items.iter().map(|r| r.duration).sum(),
            ring_time,
            satisfaction_description: offered.then_some(record.satisfaction_desc),
            satisfaction_index: record.satisfaction,
            talk_time: legs.iter().map(|l| l.talk_time).sum(),
            wait_time: queue_time + ring_time,
        };
        Call {
            ctx,
            slot,
            record,
            fields,
            list_only,
            ivr_s,
            queued_alone_s,
        }
    }

    /// The record `ListCallDetailRecords` (2020-07-01) lists.
    pub fn list_item(&self) -> ListItem {
        ListItem {
            fields: self.fields.clone(),
            list_only: self.list_only.clone(),
            call_duration: self.slot.duration_s.to_string(),
        }
    }

    /// `GetCallDetailRecord`'s `Data`: the fields and the call's events, consistent with its leg times.
    pub fn detail(&self) -> Detail {
        let legs = &self.record.agents.items;
        let agent_events = legs
            .iter()
            .map(|leg| {
                let ringing = leg.start_time + i64::from(leg.queue_time) * 1000;
                let established = ringing + i64::from(leg.ring_time) * 1000;
                let mut events = vec![Event {
                    event: "Ringing",
                    event_time: ringing,
                }];
                let mut released = established;
                if leg.talk_time > 0 {
                    events.push(Event {
                        event: "Established",
                        event_time: established,
                    });
                    released += i64::from(leg.talk_time) * 1000;
                    if leg.hold_time > 0 {
                        events.push(Event {
                            event: "Hold",
                            event_time: released,
                        });
                        released += i64::from(leg.hold_time) * 1000;
                        events.push(Event {
                            event: "Retrieve",
                            event_time: released,
                        });
                    }
                }
                events.push(Event {
                    event: "Released",
                    event_time: released,
                });
                AgentEvents {
                    agent_id: leg.agent_id.clone(),
                    agent_name: leg.agent_name,
                    event_sequence: events,
                    skill_group_id: skill_group_id(self.ctx.instance_id, leg.skill_group_name),
                }
            })
            .collect();
        let inbound = self.slot.contact_type == ContactType::Inbound;
        let start = self.slot.start_ms;
        let release = self.fields.release_time;
        let queue = |name: &str, from: i64, seconds: u32| QueueEvents {
            event_sequence: vec![
                Event {
                    event: "Enqueue",
                    event_time: from,
                },
                Event {
                    event: "Dequeue",
                    event_time: from + i64::from(seconds) * 1000,
                },
            ],
            queue_id: skill_group_id(self.ctx.instance_id, name),
            queue_name: name.to_owned(),
        };
        let mut queue_events: Vec<QueueEvents> = legs
            .iter()
            .filter(|l| inbound && l.queue_time > 0)
            .map(|l| queue(l.skill_group_name, l.start_time, l.queue_time))
            .collect();
        if self.queued_alone_s > 0 {
            let entered = start + i64::from(self.ivr_s) * 1000;
            queue_events.push(queue(
                &self.record.skill_group_names,
                entered,
                self.queued_alone_s,
            ));
        }
        let ivr_events = if inbound && self.ivr_s > 0 {
            vec![IvrEvents {
                event_sequence: vec![
                    Event {
                        event: "EnterIVR",
                        event_time: start,
                    },
                    Event {
                        event: "LeaveIVR",
                        event_time: start + i64::from(self.ivr_s) * 1000,
                    },
                ],
                flow_id: format!("flow-main@{}", self.ctx.instance_id),
                flow_type: "MAIN",
            }]
        } else {
            Vec::new()
        };
        let customer = match self.slot.contact_type {
            ContactType::Internal => None,
            ContactType::Inbound => Some(&self.record.calling_number),
            _ => Some(&self.record.called_number),
        };
        let customer_events = customer
            .map(|number| {
                let mut events = vec![Event {
                    event: "Ringing",
                    event_time: start,
                }];
                if let Some(t) = self.fields.established_time {
                    events.push(Event {
                        event: "Established",
                        event_time: t,
                    });
                }
                events.push(Event {
                    event: "Released",
                    event_time: release,
                });
                CustomerEvents {
                    customer_id: number.clone(),
                    event_sequence: events,
                }
            })
            .into_iter()
            .collect();
        Detail {
            fields: self.fields.clone(),
            call_duration: self.slot.duration_s,
            satisfaction: self.list_only.satisfaction_index,
            agent_events,
            analytics_report_ready: false,
            customer_events,
            ivr_events,
            queue_events,
        }
    }

    /// `ListMonoRecordings`' `Data`, one per recording of the call, without links.
    pub fn mono_recordings(&self) -> Vec<MonoRecording> {
        let legs = &self.record.agents.items;
        self.record
            .recordings
            .items
            .iter()
            .map(|r| {
                let leg = legs.iter().position(|l| l.agent_id == r.agent_id);
                let roster = leg.map_or(0, |i| u64::from(self.slot.legs()[i]));
                MonoRecording {
                    agent_id: r.agent_id.clone(),
                    agent_name: r.agent_name,
                    contact_id: r.contact_id.clone(),
                    duration: (u64::from(r.duration) * 1000).to_string(),
                    file_name: r.file_name.clone(),
                    file_url: None,
                    ram_id: (3_249_741_406_365_800
                        + self.ctx.instance_index as u64 * 1_000
                        + roster)
                        .to_string(),
                    skill_group_id: leg.map_or_else(String::new, |i| {
                        skill_group_id(self.ctx.instance_id, legs[i].skill_group_name)
                    }),
                    start_time: r.start_time.to_string(),
                }
            })
            .collect()
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts.collect::<Vec<_>>().join(",")
}

/// Where a number rings: a landline by its area code, a mobile by a province drawn from the number; an
/// extension or a service number has no location.
fn location(seed: u64, number: &str) -> Option<&'static str> {
    let national = number.strip_prefix('0').unwrap_or(number);
    if national.starts_with('1') && national.len() == 11 {
        let digits: u64 = national.parse().ok()?;
        let draw = data::stream_seed(seed, Stream::Ccc2, digits);
        return Some(MOBILE_LOCATIONS[(draw % MOBILE_LOCATIONS.len() as u64) as usize]);
    }
    AREA_LOCATIONS
        .iter()
        .find(|(code, _)| number.len() > 6 && number.starts_with(code))
        .map(|(_, place)| *place)
}

fn release_reason(d: Disposition) -> &'static str {
    match d {
        Disposition::Success | Disposition::OneStepTransfer => "200 - Normal call clearing",
        Disposition::NoAnswer => "480 - Temporarily Unavailable",
        Disposition::Busy => "486 - Busy Here",
        Disposition::Rejected => "603 - Decline",
        Disposition::QueueOverflow => "503 - Service Unavailable",
        Disposition::AbandonedInContactFlow
        | Disposition::AbandonedInQueue
        | Disposition::AbandonedRing => "487 - Request Terminated",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::data::{Shape, skeleton};

    const SEED: u64 = 1912;
    const T0: i64 = 1_700_000_000_000;
    /// Long after every call ended and every late survey was answered.
    const LATER: i64 = T0 + 86_400_000;

    fn ctx() -> RenderContext<'static> {
        RenderContext {
            seed: SEED,
            instance_index: 0,
            instance_id: "ccc-test",
            write_delay_ms: 5_000,
            shape: Shape::Wrapped,
        }
    }

    fn slots(n: u32) -> Vec<Slot> {
        (0..n)
            .map(|o| skeleton(SEED, o, T0 + i64::from(o) * 1000))
            .collect()
    }

    fn fixture(name: &str) -> Value {
        let text = match name {
            "list" => include_str!("../../../tests/fixtures/list-call-detail-records-2020.json"),
            "get" => include_str!("../../../tests/fixtures/get-call-detail-record-2020.json"),
            _ => include_str!("../../../tests/fixtures/list-mono-recordings-2020.json"),
        };
        serde_json::from_str(text).expect("fixture json")
    }

    fn kind(v: &Value) -> &'static str {
        match v {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Null => "null",
        }
    }

    /// Every field the `required` objects always carry is in ours (but those `except` names), and every
    /// field ours shares with a sample has the sample's type.
    #[track_caller]
    fn assert_shaped_like(ours: &Value, samples: &[&Value], required: &[&Value], except: &[&str]) {
        let ours = ours.as_object().expect("an object");
        for sample in samples {
            for (k, v) in sample.as_object().expect("an object") {
                if let Some(mine) = ours.get(k) {
                    assert_eq!(kind(mine), kind(v), "{k}");
                }
            }
        }
        let always = required[0]
            .as_object()
            .expect("object")
            .keys()
            .filter(|k| required.iter().all(|s| s.get(k.as_str()).is_some()))
            .filter(|k| !except.contains(&k.as_str()));
        for k in always {
            assert!(ours.contains_key(k), "{k} missing");
        }
    }

    /// What the list record carries and `alibabacloud_ccc20200701`'s detail model does not declare.
    const LIST_ONLY: [&str; 12] = [
        "Broker",
        "CallIds",
        "DialingTime",
        "HeldTime",
        "IvrTime",
        "QueueTime",
        "RecordingDuration",
        "RingTime",
        "SatisfactionDescription",
        "SatisfactionIndex",
        "TalkTime",
        "WaitTime",
    ];

    #[test]
    fn records_details_and_recordings_have_the_fixtures_fields_and_types() {
        let (list, get, mono) = (fixture("list"), fixture("get"), fixture("mono"));
        let list_samples: Vec<&Value> = list["Data"]["List"]
            .as_array()
            .expect("list")
            .iter()
            .collect();
        let mono_samples: Vec<&Value> = mono["Data"].as_array().expect("data").iter().collect();
        let mut recordings = 0;
        for slot in slots(400) {
            let ctx = ctx();
            let call = Call::new(&ctx, &slot, LATER);
            let item = serde_json::to_value(call.list_item()).expect("json");
            assert_shaped_like(&item, &list_samples, &list_samples, &[]);
            assert!(item["CallDuration"].is_string());
            let detail = serde_json::to_value(call.detail()).expect("json");
            assert_shaped_like(&detail, &[&get["Data"]], &list_samples, &LIST_ONLY);
            for events in ["AgentEvents", "QueueEvents", "IvrEvents", "CustomerEvents"] {
                assert!(detail[events].is_array(), "{events}");
            }
            assert!(detail["CallDuration"].is_u64());
            assert_eq!(detail.get("Satisfaction"), item.get("SatisfactionIndex"));
            for list_only in LIST_ONLY {
                assert!(detail.get(list_only).is_none(), "{list_only} in the detail");
            }
            for m in call.mono_recordings() {
                let mut m = serde_json::to_value(m).expect("json");
                m["FileUrl"] = Value::from("http://x/_oss/a/b?Expires=1");
                assert_shaped_like(&m, &mono_samples, &mono_samples, &[]);
                recordings += 1;
            }
        }
        assert!(recordings > 20, "{recordings} recordings");
    }

    #[test]
    fn codes_map_from_ccc_1_0_exactly_as_the_warehouse_expects() {
        use Disposition as D;
        let dispositions = [
            (D::Success, "Success"),
            (D::OneStepTransfer, "Success"),
            (D::NoAnswer, "NoAnswer"),
            (D::Rejected, "Reject"),
            (D::Busy, "NoAnswer"),
            (D::AbandonedInContactFlow, "AbandonedInIVR"),
            (D::AbandonedInQueue, "AbandonedInQueue"),
            (D::AbandonedRing, "AbandonedInRing"),
            (D::QueueOverflow, "QueuingOverflow"),
        ];
        for (d, expected) in dispositions {
            assert_eq!(disposition(d), expected, "{}", d.as_str());
        }
        assert_eq!(contact_type(ContactType::PredictiveDial), "Predictive");
        for t in [
            ContactType::Inbound,
            ContactType::Outbound,
            ContactType::Internal,
            ContactType::Back2Back,
            ContactType::PrivacyDial,
        ] {
            assert_eq!(contact_type(t), t.as_str());
        }
    }

    #[test]
    fn both_versions_describe_the_same_call() {
        for slot in slots(400) {
            let ctx = ctx();
            let one = data::record(&ctx, &slot, LATER);
            let two = Call::new(&ctx, &slot, LATER).list_item();
            let f = &two.fields;
            assert_eq!(f.contact_id, one.contact_id);
            assert_eq!(f.start_time, one.start_time);
            assert_eq!(
                (&f.calling_number, &f.called_number),
                (&one.calling_number, &one.called_number)
            );
            assert_eq!(two.call_duration, one.duration.to_string());
            assert_eq!(f.agent_names.as_deref().unwrap_or(""), one.agent_names);
            assert_eq!(
                f.skill_group_names.as_deref().unwrap_or(""),
                one.skill_group_names
            );
            assert_eq!(two.list_only.satisfaction_index, one.satisfaction);
            assert_eq!(
                f.established_time.is_some(),
                one.contact_disposition == "Success"
                    || one.contact_disposition == "OneStepTransfer"
            );
            assert_eq!(f.recording_ready, !one.recordings.items.is_empty());
            let ids = f.agent_ids.as_deref().unwrap_or("");
            let legs: Vec<&str> = one
                .agents
                .items
                .iter()
                .map(|l| l.agent_id.as_str())
                .collect();
            assert_eq!(ids, legs.join(","));
        }
    }

    #[test]
    fn agent_events_follow_each_legs_times_inside_the_call() {
        for slot in slots(600) {
            let ctx = ctx();
            let call = Call::new(&ctx, &slot, LATER);
            let detail = call.detail();
            let end = slot.start_ms + i64::from(slot.duration_s) * 1000;
            assert_eq!(detail.agent_events.len(), slot.legs().len());
            for (events, leg) in detail.agent_events.iter().zip(&call.record.agents.items) {
                let seq = &events.event_sequence;
                assert_eq!(seq.first().map(|e| e.event), Some("Ringing"));
                assert_eq!(seq.last().map(|e| e.event), Some("Released"));
                assert_eq!(
                    seq.iter().any(|e| e.event == "Established"),
                    leg.talk_time > 0
                );
                assert!(seq.windows(2).all(|w| w[0].event_time <= w[1].event_time));
                assert!(seq[0].event_time >= slot.start_ms);
                assert!(seq[seq.len() - 1].event_time <= end);
                assert_eq!(
                    seq[0].event_time,
                    leg.start_time + i64::from(leg.queue_time) * 1000
                );
            }
        }
    }
}
