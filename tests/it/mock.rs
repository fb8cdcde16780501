//! A scripted CCC endpoint on loopback for the spine's tests: it verifies signatures with the project's
//! signer, serves a test-controlled record set newest first with real paging, scopes keys to agents,
//! fails chosen pages on demand, and refuses STS tokens declared expired.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ccc_signature as signer;
use serde_json::{Value, json};

/// A failure served instead of a page.
#[derive(Clone)]
pub struct Fault {
    pub page: u32,
    /// How many times it is served before the page answers normally (`u32::MAX`: always).
    pub times: u32,
    pub status: u16,
    pub body: String,
}

#[derive(Default)]
struct Script {
    records: Vec<Value>,
    faults: Vec<Fault>,
    requests: u32,
    /// `SecurityToken`s answered with `InvalidSecurityToken.Expired`.
    expired_tokens: Vec<String>,
    /// `(AccessKeyId, SecurityToken)` of each request, in order.
    signed_with: Vec<(String, Option<String>)>,
}

/// An access key the mock accepts; with an agent, it sees only calls in which that agent has a leg.
pub struct Key {
    pub id: &'static str,
    pub secret: &'static str,
    pub agent: Option<&'static str>,
}

#[derive(Clone)]
pub struct MockCcc {
    script: Arc<Mutex<Script>>,
    keys: Arc<Vec<Key>>,
    pub endpoint: String,
}

impl MockCcc {
    pub async fn start(keys: Vec<Key>) -> MockCcc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let mock = MockCcc {
            script: Arc::default(),
            keys: Arc::new(keys),
            endpoint,
        };
        let app = axum::Router::new()
            .route("/", axum::routing::any(serve))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        mock
    }

    pub fn set_records(&self, records: Vec<Value>) {
        self.script.lock().expect("lock").records = records;
    }

    pub fn fail(&self, fault: Fault) {
        self.script.lock().expect("lock").faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.script.lock().expect("lock").faults.clear();
    }

    pub fn requests(&self) -> u32 {
        self.script.lock().expect("lock").requests
    }

    /// From now on, requests carrying `token` are refused as the service refuses an expired STS token.
    pub fn expire_token(&self, token: &str) {
        self.script
            .lock()
            .expect("lock")
            .expired_tokens
            .push(token.to_owned());
    }

    /// The AccessKey id and `SecurityToken` of every request so far.
    pub fn signed_with(&self) -> Vec<(String, Option<String>)> {
        self.script.lock().expect("lock").signed_with.clone()
    }
}

async fn serve(
    State(mock): State<MockCcc>,
    method: Method,
    Query(query): Query<BTreeMap<String, String>>,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = query.clone();
    for (k, v) in url_pairs(&body) {
        params.insert(k, v);
    }
    {
        let mut script = mock.script.lock().expect("lock");
        script.requests += 1;
        script.signed_with.push((
            params.get("AccessKeyId").cloned().unwrap_or_default(),
            params.get("SecurityToken").cloned(),
        ));
    }
    let Some(key) = mock
        .keys
        .iter()
        .find(|k| params.get("AccessKeyId").map(String::as_str) == Some(k.id))
    else {
        return error(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        );
    };
    let sts = signer::string_to_sign(
        method.as_str(),
        &signer::canonical_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    let expected = signer::sign(&key.secret.to_owned().into(), &sts);
    if params.get("Signature") != Some(&expected) {
        return error(
            400,
            "SignatureDoesNotMatch",
            &format!("server string to sign is:{sts}"),
        );
    }
    let token = params.get("SecurityToken");
    if token.is_some_and(|t| mock.script.lock().expect("lock").expired_tokens.contains(t)) {
        return error(
            400,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        );
    }
    let num = |k: &str| {
        params
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (page, size, start, stop) = (
        num("PageNumber") as u32,
        num("PageSize"),
        num("StartTime"),
        num("StopTime"),
    );
    let mut script = mock.script.lock().expect("lock");
    if let Some(fault) = script
        .faults
        .iter_mut()
        .find(|f| f.page == page && f.times > 0)
    {
        fault.times = fault.times.saturating_sub(1);
        let status = StatusCode::from_u16(fault.status).expect("status");
        return (status, fault.body.clone()).into_response();
    }
    let mut visible: Vec<&Value> = script
        .records
        .iter()
        .filter(|r| {
            r["StartTime"]
                .as_i64()
                .is_none_or(|t| (start..=stop).contains(&t))
        })
        .filter(|r| {
            key.agent.is_none_or(|a| {
                r["Agents"]["CallDetailAgent"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|l| l["AgentId"] == a)
            })
        })
        .collect();
    visible.sort_by_key(|r| std::cmp::Reverse(r["StartTime"].as_i64()));
    let from = ((page.max(1) - 1) as usize) * size as usize;
    let list: Vec<&Value> = visible
        .iter()
        .skip(from)
        .take(size as usize)
        .copied()
        .collect();
    let body = json!({
        "RequestId": uuid::Uuid::new_v4().to_string().to_uppercase(),
        "Success": true, "Code": "OK", "HttpStatusCode": 200,
        "CallDetailRecords": {"TotalCount": visible.len(), "PageNumber": page, "PageSize": size,
            "List": {"CallDetailRecord": list}}
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    std::str::from_utf8(body)
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn error(status: u16, code: &str, message: &str) -> Response {
    let body = error_body(code, message);
    (StatusCode::from_u16(status).expect("status"), body).into_response()
}

pub fn error_body(code: &str, message: &str) -> String {
    json!({"RequestId": "MOCK-REQ-1", "HostId": "ccc.cn-shanghai.aliyuncs.com", "Code": code, "Message": message})
        .to_string()
}

/// A wire-shaped record: `legs` agent ids with their times, `recordings` recordings.
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
        "ContactId": contact_id, "InstanceId": "inst-1", "StartTime": start_ms, "Duration": 75,
        "ContactType": "Inbound", "ContactDisposition": "Success", "CallingNumber": "013621078901",
        "CalledNumber": "02566806658", "AgentNames": legs.join(","), "SkillGroupNames": "售后技能组",
        "SatisfactionDesc": "未评价", "Feedback": "",
        "Agents": {"CallDetailAgent": agents}, "Recordings": {"Recording": recs}
    })
}
