//! The one fake CCC service: the built-in simulator on a loopback port, generating its calls or scripted by
//! the test, and the wire-shaped records and error bodies scripted tests serve.

use ccc_simulator::{self as simulator, AccessKey, SimulatorConfig, SimulatorHandle};
use serde_json::{Value, json};

/// The instance scripted simulators serve.
pub const INSTANCE: &str = "inst-1";
/// The `RequestId` in [`error_body`]'s bodies.
pub const FAULT_REQUEST_ID: &str = "SCRIPTED-REQ-1";

/// A simulator on a free loopback port.
pub async fn simulator(config: SimulatorConfig) -> SimulatorHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    simulator::start(config, listener)
        .await
        .expect("the simulator starts")
}

/// A scripted simulator for `keys` on [`INSTANCE`], serving no records until the test sets them.
pub async fn scripted(keys: Vec<AccessKey>) -> SimulatorHandle {
    simulator(SimulatorConfig::scripted(keys, vec![INSTANCE.to_owned()])).await
}

pub fn key(id: &str, secret: &str, agent: Option<&str>) -> AccessKey {
    AccessKey {
        id: id.into(),
        secret: secret.into(),
        agent: agent.map(str::to_owned),
    }
}

/// The service's error body for `code`, under [`FAULT_REQUEST_ID`].
pub fn error_body(code: &str, message: &str) -> String {
    json!({"RequestId": FAULT_REQUEST_ID, "HostId": "ccc.cn-shanghai.aliyuncs.com", "Code": code, "Message": message})
        .to_string()
}

/// A wire-shaped record: a leg for each agent in `legs`, and `recordings` recordings.
pub fn record(contact_id: &str, start_ms: i64, legs: &[&str], recordings: usize) -> Value {
    let agents: Vec<Value> = legs
        .iter()
        .enumerate()
        .map(|(i, a)| json!({"AgentId": a, "AgentName": format!("坐席{i}"), "SkillGroupName": "售后技能组",
            "StartTime": start_ms + 1000, "QueueTime": 3, "RingTime": 4, "TalkTime": 60 + i, "HoldTime": 0,
            "WorkTime": 10, "Satisfaction": "未评价", "ContactId": contact_id}))
        .collect();
    let recs: Vec<Value> = (0..recordings)
        .map(|i| json!({"ContactId": contact_id, "FileName": format!("{contact_id}-{i}.wav"),
            "FilePath": format!("oss://ccc-rec/2026/{contact_id}-{i}.wav"), "StartTime": start_ms + 2000,
            "Duration": 58, "Channel": "mix", "CallingNumber": "02566806658", "CalledNumber": "13621078901"}))
        .collect();
    json!({
        "ContactId": contact_id, "InstanceId": INSTANCE, "StartTime": start_ms, "Duration": 75,
        "ContactType": "Inbound", "ContactDisposition": "Success", "CallingNumber": "013621078901",
        "CalledNumber": "02566806658", "AgentNames": legs.join(","), "SkillGroupNames": "售后技能组",
        "SatisfactionDesc": "未评价", "Feedback": "",
        "Agents": {"CallDetailAgent": agents}, "Recordings": {"Recording": recs}
    })
}
