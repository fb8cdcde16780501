//! CCC 1.0's whole-instance record (`ListCallDetailRecords`, 2017-07-05): the agent action's record with
//! the differences `docs/ccc-whole-instance.md` §1 and `tests/fixtures/list-call-detail-records-2017.json`
//! show. The record adds `SkillGroupIdList`; an agent item carries only `AgentId`, `Satisfaction` and
//! `Feedback` (where the leg has one); a recording carries the agent action's `AgentId`, `AgentName`,
//! `ContactId`, `Duration`, `FileDescription`, `FileName` and `StartTime`, adds `QualityCheckTaskId` and
//! `QualityCheckTid`, and has no `FilePath`, `Channel`, numbers, `ContactType` or `InstanceId` (the
//! `alibabacloud_ccc20170705` 1.0.3 model declares exactly these nine fields).
//!
//! Guesses: `ExtraAttr` is left out (the fixture has none); about a third of recordings carry quality-check
//! ids, the rest empty strings; the skill-group ids are the CCC 2.0 ones, so the versions agree.

use rand::Rng;
use rand::rngs::SmallRng;
use serde::Serialize;

use super::data::{self, Listed, Record, RecordingOut, RenderContext, Slot, Stream};

/// One `CallDetailRecord` of the whole-instance list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceRecord {
    pub agent_names: String,
    pub agents: Listed<InstanceAgent>,
    pub called_number: String,
    pub calling_number: String,
    pub contact_disposition: &'static str,
    pub contact_id: String,
    pub contact_type: &'static str,
    pub duration: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    pub instance_id: String,
    /// Absent when the request said `WithRecording=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recordings: Option<Listed<InstanceRecording>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    pub satisfaction_desc: &'static str,
    pub skill_group_id_list: String,
    pub skill_group_names: String,
    pub start_time: i64,
}

/// One `CallDetailAgent` of the whole-instance list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceAgent {
    pub agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<&'static str>,
    pub satisfaction: &'static str,
}

/// One `Recording` of the whole-instance list: exactly the fields `alibabacloud_ccc20170705`'s model
/// declares, the leg's agent and the agent action's file description among them; unlike the agent
/// action's, no `FilePath`, `Channel`, numbers, `ContactType` or `InstanceId`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceRecording {
    pub agent_id: String,
    pub agent_name: &'static str,
    pub contact_id: String,
    pub duration: u32,
    pub file_description: &'static str,
    pub file_name: String,
    pub quality_check_task_id: String,
    pub quality_check_tid: String,
    pub start_time: i64,
}

/// Renders `slot` as the whole-instance list serves it at `at_ms`.
pub fn record(
    ctx: &RenderContext<'_>,
    slot: &Slot,
    at_ms: i64,
    with_recording: bool,
) -> InstanceRecord {
    let Record {
        agent_names,
        agents,
        called_number,
        calling_number,
        contact_disposition,
        contact_id,
        contact_type,
        duration,
        extra_attr: _,
        feedback,
        instance_id,
        recordings,
        satisfaction,
        satisfaction_desc,
        skill_group_names,
        start_time,
    } = data::record(ctx, slot, at_ms);
    let mut rng = data::rng(ctx.seed, Stream::Quality, u64::from(slot.ordinal));
    let recordings = with_recording.then(|| Listed {
        shape: recordings.shape,
        inner: recordings.inner,
        items: recordings
            .items
            .into_iter()
            .map(|recording| {
                let (task, tid) = if rng.random_bool(0.35) {
                    (uuid(&mut rng).to_uppercase(), uuid(&mut rng))
                } else {
                    (String::new(), String::new())
                };
                let RecordingOut {
                    agent_id,
                    agent_name,
                    contact_id,
                    duration,
                    file_description,
                    file_name,
                    start_time,
                    ..
                } = recording;
                InstanceRecording {
                    agent_id,
                    agent_name,
                    contact_id,
                    duration,
                    file_description,
                    file_name,
                    quality_check_task_id: task,
                    quality_check_tid: tid,
                    start_time,
                }
            })
            .collect(),
    });
    InstanceRecord {
        agent_names,
        agents: Listed {
            shape: agents.shape,
            inner: agents.inner,
            items: agents
                .items
                .into_iter()
                .map(|leg| InstanceAgent {
                    agent_id: leg.agent_id,
                    feedback: leg.feedback,
                    satisfaction: leg.satisfaction,
                })
                .collect(),
        },
        called_number,
        calling_number,
        contact_disposition,
        contact_id,
        contact_type,
        duration,
        feedback,
        skill_group_id_list: data::skill_group_ids(&instance_id, &skill_group_names),
        instance_id,
        recordings,
        satisfaction,
        satisfaction_desc,
        skill_group_names,
        start_time,
    }
}

/// A random (version 4) UUID drawn from the call's own stream, so it is the same on every render.
fn uuid(rng: &mut SmallRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The field names of a JSON object.
    fn field_names(v: &serde_json::Value) -> Vec<&str> {
        v.as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }
    use crate::data::{Shape, skeleton};

    const T0: i64 = 1_700_000_000_000;
    /// The recording item of `alibabacloud_ccc20170705` 1.0.3's `ListCallDetailRecords` model.
    const RECORDING_FIELDS: [&str; 9] = [
        "AgentId",
        "AgentName",
        "ContactId",
        "Duration",
        "FileDescription",
        "FileName",
        "QualityCheckTaskId",
        "QualityCheckTid",
        "StartTime",
    ];

    #[test]
    fn records_carry_the_fixtures_fields_and_only_the_agent_fields_it_shows() {
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/list-call-detail-records-2017.json"
        ))
        .expect("json");
        let samples = fixture["CallDetailRecords"]["List"]["CallDetailRecord"]
            .as_array()
            .expect("records");
        let ctx = RenderContext {
            seed: 1912,
            instance_index: 0,
            instance_id: "ccc-test",
            write_delay_ms: 5_000,
            shape: Shape::Wrapped,
        };
        let (mut with_ids, mut without_ids) = (0, 0);
        for ordinal in 0..400 {
            let slot = skeleton(1912, ordinal, T0 + i64::from(ordinal) * 1000);
            let ours =
                serde_json::to_value(record(&ctx, &slot, T0 + 86_400_000, true)).expect("json");
            for sample in samples {
                for (k, v) in sample.as_object().expect("object") {
                    if let Some(mine) = ours.get(k) {
                        assert_eq!(
                            std::mem::discriminant(mine),
                            std::mem::discriminant(v),
                            "{k}"
                        );
                    }
                }
            }
            for k in [
                "SkillGroupIdList",
                "SkillGroupNames",
                "Agents",
                "Recordings",
                "StartTime",
            ] {
                assert!(ours.get(k).is_some(), "{k}");
            }
            for agent in ours["Agents"]["CallDetailAgent"]
                .as_array()
                .expect("agents")
            {
                let keys = field_names(agent);
                assert!(
                    keys.iter()
                        .all(|k| ["AgentId", "Satisfaction", "Feedback"].contains(k)),
                    "{keys:?}"
                );
            }
            for rec in ours["Recordings"]["Recording"]
                .as_array()
                .expect("recordings")
            {
                let keys = field_names(rec);
                assert_eq!(keys.len(), RECORDING_FIELDS.len(), "{keys:?}");
                assert!(
                    keys.iter().all(|k| RECORDING_FIELDS.contains(k)),
                    "{keys:?}"
                );
                match rec["QualityCheckTaskId"].as_str().expect("a string") {
                    "" => without_ids += 1,
                    _ => with_ids += 1,
                }
            }
            let bare =
                serde_json::to_value(record(&ctx, &slot, T0 + 86_400_000, false)).expect("json");
            assert!(bare.get("Recordings").is_none());
        }
        assert!(
            with_ids > 0 && without_ids > 0,
            "{with_ids} / {without_ids}"
        );
    }
}
