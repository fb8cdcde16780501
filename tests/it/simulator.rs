//! The CCC simulator over real HTTP, driven by the project's own client.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::Value;

use ccc_signature::{percent_encode, sign_params};
use ccc_simulator::{
    self as simulator, AccessKey, CCC2_API_VERSION, DOWNLOAD_RECORDING, DownloadFaults, Faults,
    GET_CALL_DETAIL_RECORD, GET_MONO_RECORDING, LIST_CALL_DETAIL_RECORDS, LIST_MONO_RECORDINGS,
    RecordingArchive, RecordingFile, SimulatorConfig, SimulatorHandle, TruthView,
};
use ccc_sync::ccc::client::{ACTION, API_VERSION, SignedRequest};
use ccc_sync::ccc::wire::parse_list_body;
use ccc_sync::ccc::{
    CccClient, CccError, ClientSettings, CredentialProvider, Credentials, ListPage, PageRequest,
};

use crate::support::ccc::{self, key};

const INSTANCE: &str = simulator::DEMO_INSTANCE_ID;

fn anchor() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-01T04:00:00Z")
        .expect("time")
        .to_utc()
}

fn config() -> SimulatorConfig {
    SimulatorConfig {
        calls: 3_000,
        anchor: anchor(),
        ..SimulatorConfig::default()
    }
}

/// A simulator on a free loopback port with its data clock an hour after the anchor.
async fn start(config: SimulatorConfig) -> SimulatorHandle {
    let sim = ccc::simulator(config).await;
    sim.set_now(anchor() + TimeDelta::hours(1));
    sim
}

fn client_with(sim: &SimulatorHandle, id: &str, secret: &str, read_timeout: Duration) -> CccClient {
    let settings = ClientSettings {
        endpoint: sim.endpoint().parse().expect("url"),
        connect_timeout: Duration::from_secs(2),
        read_timeout,
    };
    let credentials = Credentials {
        access_key_id: id.into(),
        access_key_secret: SecretString::from(secret),
        security_token: None,
    };
    CccClient::new(&settings, CredentialProvider::Static(credentials)).expect("client")
}

fn client(sim: &SimulatorHandle, k: &AccessKey) -> CccClient {
    client_with(sim, &k.id, &k.secret, Duration::from_secs(5))
}

fn demo_client(sim: &SimulatorHandle) -> CccClient {
    client(sim, &AccessKey::demo())
}

fn request(
    page_number: u32,
    page_size: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> PageRequest {
    PageRequest {
        instance_id: INSTANCE.into(),
        page_number,
        page_size,
        start_time_ms: from.timestamp_millis(),
        stop_time_ms: to.timestamp_millis(),
    }
}

/// Every page of a window until a short one, as the service sent the records.
async fn all_pages(
    client: &CccClient,
    page_size: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<ListPage> {
    let mut pages = Vec::new();
    for n in 1.. {
        let page = client
            .list_recent_call_records(&request(n, page_size, from, to))
            .await
            .expect("a page");
        let short = page.len() < page_size as usize;
        pages.push(page);
        if short {
            return pages;
        }
    }
    unreachable!("the loop returns on the first short page")
}

fn raw_records(pages: &[ListPage]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.raw.clone()))
        .collect()
}

fn in_window(records: Vec<Value>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    records
        .into_iter()
        .filter(|r| (from..=to).contains(&r["StartTime"].as_i64().expect("StartTime")))
        .collect()
}

/// Compares record lists by contact id first, so a failure names the calls instead of dumping them all.
#[track_caller]
fn assert_same_records(got: &[Value], expected: &[Value], what: &str) {
    let ids = |records: &[Value]| -> Vec<String> {
        records.iter().map(|r| r["ContactId"].to_string()).collect()
    };
    assert_eq!(
        ids(got),
        ids(expected),
        "{what}: the calls or their order differ"
    );
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g, e, "{what}: call {} differs", e["ContactId"]);
    }
}

fn api_error(e: &CccError) -> (&str, u16) {
    match e {
        CccError::Api {
            code, http_status, ..
        } => (code, *http_status),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A raw HTTP exchange, for requests the client would never send.
async fn send(
    sim: &SimulatorHandle,
    method: &str,
    query: &str,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let url = format!("{}/?{query}", sim.endpoint());
    let http = reqwest::Client::new();
    let request = match method {
        "GET" => http.get(url),
        _ => http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned()),
    };
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

fn signed(action_params: &[(&str, String)], nonce: &str, at: DateTime<Utc>) -> SignedRequest {
    let credentials = Credentials {
        access_key_id: simulator::DEMO_ACCESS_KEY_ID.into(),
        access_key_secret: SecretString::from(simulator::DEMO_ACCESS_KEY_SECRET),
        security_token: None,
    };
    SignedRequest::build(ACTION, action_params, &credentials, at, nonce)
}

fn page_params(page_size: Option<u32>) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("InstanceId", INSTANCE.to_owned()),
        ("PageNumber", "1".to_owned()),
        (
            "StartTime",
            (anchor() - TimeDelta::days(1))
                .timestamp_millis()
                .to_string(),
        ),
        ("StopTime", anchor().timestamp_millis().to_string()),
    ];
    if let Some(size) = page_size {
        params.push(("PageSize", size.to_string()));
    }
    params
}

#[tokio::test]
async fn pages_parse_and_page_through_a_window_exactly() {
    let sim = start(config()).await;
    // Up to now, at the busy end of the history, so the window holds calls still in progress.
    sim.set_now(anchor());
    let (from, to) = (anchor() - TimeDelta::hours(30), sim.now());
    let expected = in_window(sim.truth(sim.now(), None), from, to);
    let started = in_window(sim.truth(sim.now() + TimeDelta::hours(3), None), from, to);
    assert!(
        started.len() > expected.len(),
        "no call is still in progress"
    );
    assert!(
        expected.len() > 500,
        "{} records in the window",
        expected.len()
    );

    let pages = all_pages(&demo_client(&sim), 47, from, to).await;

    for page in &pages {
        assert_eq!(page.total_count, Some(expected.len() as i64));
        assert!(page.invalid.is_empty(), "{:?}", page.invalid);
        assert!(!page.request_id.is_empty());
    }
    assert_same_records(
        &raw_records(&pages),
        &expected,
        "the pages are the window, newest first",
    );
    let records: Vec<_> = pages.iter().flat_map(|p| &p.records).collect();
    assert!(records.iter().any(|r| !r.agents.is_empty()));
    assert!(records.iter().any(|r| !r.recordings.is_empty()));
    assert!(records.iter().any(|r| r.satisfaction.is_some()));
    assert!(records.iter().any(|r| {
        r.calling_number
            .as_deref()
            .is_some_and(|n| n.starts_with('0'))
    }));
    let stats = sim.requests();
    assert_eq!(stats.ok, pages.len() as u64);
    assert_eq!(stats.records, expected.len() as u64);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_zero_or_absent_window_is_today_in_shanghai_up_to_now() {
    let sim = start(config()).await;
    // 04:00Z + 1h is 13:00 in Shanghai: today began at 16:00Z the day before.
    let midnight = DateTime::parse_from_rfc3339("2024-02-29T16:00:00Z")
        .expect("time")
        .to_utc();
    let expected = in_window(sim.truth(sim.now(), None), midnight, sim.now());
    let (query, body) = {
        let mut params = page_params(Some(100));
        params.retain(|(k, _)| !k.ends_with("Time"));
        params.push(("StartTime", "0".to_owned()));
        let s = signed(&params, &uuid::Uuid::new_v4().to_string(), Utc::now());
        (s.query, s.body)
    };

    let (status, _, bytes) = send(&sim, "POST", &query, &body).await;

    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(doc["CallDetailRecords"]["TotalCount"], expected.len());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_the_servers_string_to_sign_equal_to_ours() {
    let sim = start(config()).await;
    let wrong = client_with(
        &sim,
        simulator::DEMO_ACCESS_KEY_ID,
        "not-the-secret",
        Duration::from_secs(5),
    );

    let e = wrong
        .list_recent_call_records(&request(1, 10, anchor() - TimeDelta::hours(1), anchor()))
        .await
        .expect_err("refused");

    assert_eq!(api_error(&e), ("SignatureDoesNotMatch", 400));
    assert!(!e.is_retryable());
    let CccError::Api {
        message,
        our_string_to_sign: Some(ours),
        ..
    } = &e
    else {
        panic!("no string to sign kept: {e:?}");
    };
    let (_, server) = message
        .split_once("server string to sign is:")
        .expect("the message ends with the server's string to sign");
    assert_eq!(server, ours);
    assert!(ours.starts_with("POST&%2F&AccessKeyId%3D"));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_access_key_is_refused_with_404() {
    let sim = start(config()).await;
    let stranger = client_with(&sim, "LTAI-nobody", "whatever", Duration::from_secs(5));

    let e = stranger
        .list_recent_call_records(&request(1, 10, anchor() - TimeDelta::hours(1), anchor()))
        .await
        .expect_err("refused");

    assert_eq!(api_error(&e), ("InvalidAccessKeyId.NotFound", 404));
    assert!(e.hint().is_some_and(|h| h.contains("access_key_id")));
    assert_eq!(sim.requests().errors_with("InvalidAccessKeyId.NotFound"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_replayed_nonce_is_refused_and_the_client_would_retry_it() {
    let sim = start(config()).await;
    let s = signed(&page_params(Some(10)), "nonce-used-twice", Utc::now());

    let (first, _, _) = send(&sim, "POST", &s.query, &s.body).await;
    let (second, _, body) = send(&sim, "POST", &s.query, &s.body).await;

    assert_eq!(first, 200);
    let e = ccc_sync::ccc::client::classify(second, &body, None, s.string_to_sign)
        .expect_err("refused");
    assert_eq!(api_error(&e), ("SignatureNonceUsed", 400));
    assert!(e.is_retryable(), "a fresh nonce fixes it");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_without_page_size_is_refused_with_missing_page_size() {
    let sim = start(config()).await;
    let s = signed(
        &page_params(None),
        &uuid::Uuid::new_v4().to_string(),
        Utc::now(),
    );

    let (status, _, body) = send(&sim, "POST", &s.query, &s.body).await;

    assert_eq!(status, 400);
    let doc: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(doc["Code"], "MissingPageSize");
    assert_eq!(doc["Message"], "PageSize is mandatory for this action.");
    for field in ["RequestId", "HostId", "Recommend"] {
        assert!(
            doc[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_and_unknown_instances_are_refused_with_their_codes() {
    let sim = start(config()).await;
    let cases: [(&str, &str, u16, &str); 4] = [
        ("PageSize", "101", 400, "InvalidParameter"),
        ("PageNumber", "one", 400, "InvalidParameter"),
        ("StartTime", "yesterday", 400, "InvalidParameter"),
        (
            "InstanceId",
            "no-such-instance",
            404,
            "NotExists.InstanceId",
        ),
    ];
    for (name, value, status, code) in cases {
        let mut params = page_params(Some(10));
        params.retain(|(k, _)| *k != name);
        params.push((name, value.to_owned()));
        let s = signed(&params, &uuid::Uuid::new_v4().to_string(), Utc::now());

        let (got, _, body) = send(&sim, "POST", &s.query, &s.body).await;

        let doc: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            (got, doc["Code"].as_str()),
            (status, Some(code)),
            "{name}={value}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_timestamp_window_follows_the_real_clock_even_when_the_data_clock_is_manual() {
    let sim = start(config()).await;
    sim.set_now(anchor() - TimeDelta::days(400));
    let fresh = signed(&page_params(Some(10)), "n-fresh", Utc::now());
    let stale = signed(
        &page_params(Some(10)),
        "n-stale",
        Utc::now() - TimeDelta::minutes(16),
    );

    let (ok, _, _) = send(&sim, "POST", &fresh.query, &fresh.body).await;
    let (refused, _, body) = send(&sim, "POST", &stale.query, &stale.body).await;

    assert_eq!(ok, 200);
    let doc: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        (refused, doc["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );
    sim.shutdown().await;
}

/// A query carrying every parameter, signed for `method` the way the classic SDKs sign (with `RegionId`
/// and an empty `SignatureType`); `format` is left out when `None`.
fn classic_query(
    method: &str,
    action_params: Vec<(&'static str, String)>,
    format: Option<&str>,
) -> String {
    signed_query(
        method,
        &AccessKey::demo(),
        (ACTION, API_VERSION),
        action_params,
        format,
    )
}

/// [`classic_query`] for any (`Action`, `Version`), signed with `key`.
fn signed_query(
    method: &str,
    key: &AccessKey,
    (action, version): (&str, &str),
    action_params: Vec<(&'static str, String)>,
    format: Option<&str>,
) -> String {
    let mut params = action_params;
    params.extend([
        ("Action", action.to_owned()),
        ("Version", version.to_owned()),
        ("RegionId", "cn-shanghai".to_owned()),
        ("SignatureType", String::new()),
        ("SignatureMethod", "HMAC-SHA1".to_owned()),
        ("SignatureVersion", "1.0".to_owned()),
        ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
        (
            "Timestamp",
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("AccessKeyId", key.id.clone()),
    ]);
    if let Some(format) = format {
        params.push(("Format", format.to_owned()));
    }
    let secret = SecretString::from(key.secret.as_str());
    let (_, signature) = sign_params(
        method,
        params.iter().map(|(k, v)| (*k, v.as_str())),
        &secret,
    );
    params.push(("Signature", signature));
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn get_and_post_with_every_param_in_the_query_are_accepted_like_the_classic_sdks() {
    let sim = start(config()).await;
    for method in ["GET", "POST"] {
        let query = classic_query(method, page_params(Some(20)), Some("JSON"));

        let (status, _, body) = send(&sim, method, &query, "").await;

        assert_eq!(status, 200, "{method}: {}", String::from_utf8_lossy(&body));
        let page = parse_list_body(&body).expect("a page");
        assert_eq!(page.len(), 20, "{method}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn without_format_the_answer_is_xml_and_with_format_json_in_any_case_it_is_json() {
    let sim = start(config()).await;

    let (status, headers, body) = send(
        &sim,
        "GET",
        &classic_query("GET", page_params(Some(2)), None),
        "",
    )
    .await;
    let (_, _, lower) = send(
        &sim,
        "GET",
        &classic_query("GET", page_params(Some(2)), Some("json")),
        "",
    )
    .await;

    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/xml")
    );
    let xml = String::from_utf8(body).expect("utf-8");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<ListRecentCallRecordsResponse><CallDetailRecords><List><CallDetailRecord>")
    );
    assert_eq!(xml.matches("<CallDetailRecord>").count(), 2);
    assert_eq!(parse_list_body(&lower).expect("json").len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_flat_shape_parses_to_the_same_calls_as_the_wrapped_shape() {
    let wrapped = start(config()).await;
    let flat = start(SimulatorConfig {
        flat: true,
        ..config()
    })
    .await;
    let (from, to) = (anchor() - TimeDelta::hours(6), anchor());

    let from_flat = all_pages(&demo_client(&flat), 100, from, to).await;
    let from_wrapped = all_pages(&demo_client(&wrapped), 100, from, to).await;

    let raw = raw_records(&from_flat);
    assert!(
        raw.iter()
            .any(|r| r["Agents"].as_array().is_some_and(|a| !a.is_empty()))
    );
    assert_same_records(
        &raw,
        &in_window(flat.truth(flat.now(), None), from, to),
        "flat",
    );
    let typed = |pages: &[ListPage]| {
        pages
            .iter()
            .flat_map(|p| {
                p.records.iter().map(|r| ccc_sync::ccc::CallRecord {
                    raw: Value::Null,
                    ..r.clone()
                })
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(typed(&from_flat), typed(&from_wrapped));
    flat.shutdown().await;
    wrapped.shutdown().await;
}

#[tokio::test]
async fn agent_bound_keys_see_only_their_calls_and_their_scopes_overlap() {
    let lead = key("LTAI-lead", "s-lead", Some("1912@ccctest"));
    let member = key("LTAI-member", "s-member", Some("1913@ccctest"));
    let sim = start(SimulatorConfig {
        keys: vec![AccessKey::demo(), lead.clone(), member.clone()],
        ..config()
    })
    .await;
    let (from, to) = (anchor() - TimeDelta::days(3), anchor());

    let all = raw_records(&all_pages(&demo_client(&sim), 100, from, to).await);
    let mut seen = Vec::new();
    for k in [&lead, &member] {
        let agent = k.agent.as_deref().expect("bound");
        let mine = raw_records(&all_pages(&client(&sim, k), 100, from, to).await);
        let truth = in_window(sim.truth(sim.now(), Some(agent)), from, to);
        assert_same_records(&mine, &truth, agent);
        for r in &mine {
            let legs = r["Agents"]["CallDetailAgent"].as_array().expect("legs");
            assert!(
                legs.iter().any(|l| l["AgentId"] == agent),
                "{agent} sees a call it had no leg in"
            );
        }
        seen.push(
            mine.iter()
                .map(|r| r["ContactId"].clone())
                .collect::<HashSet<_>>(),
        );
    }

    let shared = seen[0].intersection(&seen[1]).count();
    assert!(shared > 0, "the two agents share no call");
    assert!(seen[0].len() + seen[1].len() - shared < all.len());
    sim.shutdown().await;
}

/// One simulator per fault, each certain to happen.
async fn faulty(faults: Faults) -> SimulatorHandle {
    start(SimulatorConfig { faults, ..config() }).await
}

#[tokio::test]
async fn every_fault_is_an_error_the_client_classifies_as_retryable() {
    let slow_for = Duration::from_secs(2);
    let cases: [(Faults, &str); 6] = [
        (
            Faults {
                throttle: 1.0,
                ..Faults::default()
            },
            "Throttling.User",
        ),
        (
            Faults {
                unavailable: 1.0,
                ..Faults::default()
            },
            "ServiceUnavailable",
        ),
        (
            Faults {
                internal_error: 1.0,
                ..Faults::default()
            },
            "InternalError",
        ),
        (
            Faults {
                slow: 1.0,
                slow_for,
                ..Faults::default()
            },
            "Timeout",
        ),
        (
            Faults {
                reset: 1.0,
                ..Faults::default()
            },
            "TransportError",
        ),
        (
            Faults {
                truncate: 1.0,
                ..Faults::default()
            },
            "BadResponse",
        ),
    ];
    for (faults, code) in cases {
        let sim = faulty(faults).await;
        let impatient = client_with(
            &sim,
            simulator::DEMO_ACCESS_KEY_ID,
            simulator::DEMO_ACCESS_KEY_SECRET,
            Duration::from_millis(300),
        );

        let e = impatient
            .list_recent_call_records(&request(1, 50, anchor() - TimeDelta::hours(6), anchor()))
            .await
            .expect_err("a fault");

        assert_eq!(e.code(), code, "{e}");
        assert!(e.is_retryable(), "{code} must be retried");
        assert_eq!(sim.requests().ok, 0);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn throttling_sends_a_retry_after_header_about_half_the_time() {
    let sim = faulty(Faults {
        throttle: 1.0,
        ..Faults::default()
    })
    .await;
    let c = demo_client(&sim);
    let mut with_header = 0;

    for _ in 0..40 {
        let e = c
            .list_recent_call_records(&request(1, 10, anchor() - TimeDelta::hours(1), anchor()))
            .await
            .expect_err("throttled");
        assert!(e.is_throttling());
        if let Some(wait) = e.retry_after() {
            assert!(wait >= Duration::from_millis(100) && wait <= Duration::from_secs(1));
            with_header += 1;
        }
    }

    assert!(
        (1..40).contains(&with_header),
        "{with_header} of 40 carried x-acs-retry-after"
    );
    let stats = sim.requests();
    assert_eq!(
        (stats.faults.throttle, stats.errors_with("Throttling.User")),
        (40, 40)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reset_sends_the_headers_and_part_of_the_body_then_drops_the_connection() {
    let sim = faulty(Faults {
        reset: 1.0,
        ..Faults::default()
    })
    .await;
    let s = signed(&page_params(Some(50)), "n-reset", Utc::now());
    let url = format!("{}/?{}", sim.endpoint(), s.query);

    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(s.body)
        .send()
        .await
        .expect("the headers arrive");
    let promised = response.content_length().expect("a Content-Length");
    let mut response = response;
    let mut received = 0;
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len() as u64,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };

    assert_eq!(response.status(), 200);
    assert!(outcome.is_err(), "the body must end in an error");
    assert!(
        received > 0 && received < promised,
        "{received} of {promised} bytes"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_ground_truth_endpoint_matches_truth() {
    let sim = start(SimulatorConfig {
        live_rate: Some(0.5),
        ..config()
    })
    .await;
    let at = sim.now() - TimeDelta::minutes(30);
    let http = reqwest::Client::new();

    for (query, agent) in [
        (format!("at={}", at.timestamp_millis()), None),
        (
            format!("at={}&agent=1912@ccctest", at.to_rfc3339()),
            Some("1912@ccctest"),
        ),
    ] {
        let answer = http
            .get(format!(
                "{}/_sim/truth?{}",
                sim.endpoint(),
                query.replace('+', "%2B")
            ))
            .send()
            .await
            .expect("answer");
        let doc: Value =
            serde_json::from_slice(&answer.bytes().await.expect("body")).expect("json");

        assert_eq!(doc["at"], at.timestamp_millis());
        let records = doc["records"].as_array().expect("records");
        assert!(!records.is_empty());
        assert_same_records(records, &sim.truth(at, agent), &query);
    }
    let bad = http
        .get(format!("{}/_sim/truth?at=soon", sim.endpoint()))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn live_calls_arrive_and_late_surveys_change_records_as_the_data_clock_advances() {
    let sim = start(SimulatorConfig {
        live_rate: Some(0.2),
        ..config()
    })
    .await;
    let t1 = anchor() + TimeDelta::hours(1);
    let t2 = t1 + TimeDelta::minutes(30);
    sim.set_now(t1);
    let c = demo_client(&sim);

    let before = raw_records(&all_pages(&c, 100, anchor(), t2).await);
    sim.set_now(t2);
    let after = raw_records(&all_pages(&c, 100, anchor(), t2).await);

    assert!(
        before.len() > 300,
        "{} live calls in the first hour at 0.2/s",
        before.len()
    );
    assert!(after.len() > before.len() + 200);
    let earlier: std::collections::HashMap<_, _> =
        before.iter().map(|r| (r["ContactId"].clone(), r)).collect();
    let rated_later = after
        .iter()
        .filter(|r| {
            earlier.get(&r["ContactId"]).is_some_and(|old| {
                old.get("Satisfaction").is_none() && r.get("Satisfaction").is_some()
            })
        })
        .count();
    assert!(
        rated_later > 0,
        "no survey was answered after its record appeared"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_same_configuration_serves_the_same_records() {
    let a = start(config()).await;
    let b = start(config()).await;
    let other = start(SimulatorConfig {
        seed: 7,
        ..config()
    })
    .await;
    let at = anchor() + TimeDelta::hours(1);

    assert_eq!(a.truth(at, None), b.truth(at, None));
    assert_ne!(a.truth(at, None), other.truth(at, None));
    for sim in [a, b, other] {
        sim.shutdown().await;
    }
}

/// An (`Action`, `Version`) pair.
type Route = (&'static str, &'static str);
/// A request's own parameters.
type Params = Vec<(&'static str, String)>;

/// `ListCallDetailRecords` of CCC 1.0.
const LIST_1_0: (&str, &str) = (LIST_CALL_DETAIL_RECORDS, API_VERSION);
/// `ListCallDetailRecords` of CCC 2.0.
const LIST_2_0: (&str, &str) = (LIST_CALL_DETAIL_RECORDS, CCC2_API_VERSION);
const GET_2_0: (&str, &str) = (GET_CALL_DETAIL_RECORD, CCC2_API_VERSION);
const MONO_2_0: (&str, &str) = (LIST_MONO_RECORDINGS, CCC2_API_VERSION);
const DOWNLOAD_1_0: (&str, &str) = (DOWNLOAD_RECORDING, API_VERSION);
const GET_MONO_2_0: (&str, &str) = (GET_MONO_RECORDING, CCC2_API_VERSION);

/// One signed JSON exchange with `key` for (`Action`, `Version`): the status and the parsed body.
async fn call_as(
    sim: &SimulatorHandle,
    key: &AccessKey,
    route: (&str, &str),
    params: Vec<(&'static str, String)>,
) -> (u16, Value) {
    let query = signed_query("POST", key, route, params, Some("JSON"));
    let (status, _, body) = send(sim, "POST", &query, "").await;
    let doc = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
    (status, doc)
}

async fn call(
    sim: &SimulatorHandle,
    route: (&str, &str),
    params: Vec<(&'static str, String)>,
) -> (u16, Value) {
    call_as(sim, &AccessKey::demo(), route, params).await
}

/// The parameters of one page of a whole-instance list over `[from, to]`; 2.0 names the end `EndTime`.
fn list_params(
    route: (&str, &str),
    page_number: u32,
    page_size: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let end = if route == LIST_2_0 {
        "EndTime"
    } else {
        "StopTime"
    };
    vec![
        ("InstanceId", INSTANCE.to_owned()),
        ("PageNumber", page_number.to_string()),
        ("PageSize", page_size.to_string()),
        ("StartTime", from.timestamp_millis().to_string()),
        (end, to.timestamp_millis().to_string()),
    ]
}

/// A page's records and `TotalCount`, whichever version's shape it came in.
fn list_of(route: (&str, &str), doc: &Value) -> (Vec<Value>, u64) {
    let (list, total) = if route == LIST_2_0 {
        (&doc["Data"]["List"], &doc["Data"]["TotalCount"])
    } else {
        (
            &doc["CallDetailRecords"]["List"]["CallDetailRecord"],
            &doc["CallDetailRecords"]["TotalCount"],
        )
    };
    (
        list.as_array().expect("a list").clone(),
        total.as_u64().expect("TotalCount"),
    )
}

/// Every page of a whole-instance list until a short one, with each page's `TotalCount`.
async fn all_admin_pages(
    sim: &SimulatorHandle,
    route: (&str, &str),
    extra: &[(&'static str, &str)],
    page_size: u32,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<Value>, Vec<u64>) {
    let (mut records, mut totals) = (Vec::new(), Vec::new());
    for n in 1.. {
        let mut params = list_params(route, n, page_size, from, to);
        params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let (status, doc) = call(sim, route, params).await;
        assert_eq!(status, 200, "page {n}: {doc}");
        let (page, total) = list_of(route, &doc);
        let short = page.len() < page_size as usize;
        records.extend(page);
        totals.push(total);
        if short {
            break;
        }
    }
    (records, totals)
}

fn keys_of<'a>(records: impl IntoIterator<Item = &'a Value>) -> Vec<(String, i64)> {
    records
        .into_iter()
        .map(|r| {
            (
                r["ContactId"].as_str().expect("ContactId").to_owned(),
                r["StartTime"].as_i64().expect("StartTime"),
            )
        })
        .collect()
}

/// The `ccc2` truth of the calls that started in `[from, to]`.
fn ccc2_truth_in(sim: &SimulatorHandle, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    sim.truth_view(sim.now(), None, TruthView::Ccc2)
        .into_iter()
        .filter(|c| (from..=to).contains(&c["Record"]["StartTime"].as_i64().expect("ms")))
        .collect()
}

#[tokio::test]
async fn both_whole_instance_lists_page_the_calls_of_the_admin_view_with_total_count_on_page_one() {
    let sim = start(config()).await;
    // At the busy end of the history, so the window holds calls still in progress.
    sim.set_now(anchor());
    let (from, to) = (anchor() - TimeDelta::hours(30), sim.now());
    let admin = in_window(sim.truth(sim.now(), None), from, to);
    assert!(admin.len() > 500, "{} calls in the window", admin.len());
    let oldest_first: Vec<(String, i64)> = keys_of(admin.iter().rev());

    let (v1, totals_1) = all_admin_pages(&sim, LIST_1_0, &[], 100, from, to).await;
    let (v2, totals_2) = all_admin_pages(&sim, LIST_2_0, &[], 100, from, to).await;

    assert_eq!(
        keys_of(&v1),
        oldest_first,
        "1.0 pages oldest first by default"
    );
    assert_eq!(
        keys_of(&v2),
        keys_of(&admin),
        "2.0 pages newest first by default"
    );
    for totals in [&totals_1, &totals_2] {
        assert_eq!(totals[0], admin.len() as u64, "TotalCount on page 1");
        assert!(totals[1..].iter().all(|t| *t == 0), "{totals:?}");
        assert!(totals.len() > 2);
    }
    let instance_truth = in_window(
        sim.truth_view(sim.now(), None, TruthView::Instance),
        from,
        to,
    );
    let reversed: Vec<Value> = instance_truth.into_iter().rev().collect();
    assert_same_records(&v1, &reversed, "1.0 records are the instance view");
    let ccc2_records: Vec<Value> = ccc2_truth_in(&sim, from, to)
        .into_iter()
        .map(|c| c["Record"].clone())
        .collect();
    assert_same_records(&v2, &ccc2_records, "2.0 records are the ccc2 view");
    let stats = sim.requests();
    assert_eq!(
        stats.requests_for(LIST_CALL_DETAIL_RECORDS),
        (totals_1.len() + totals_2.len()) as u64
    );
    assert_eq!(stats.requests_for(ACTION), 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn order_by_and_sort_order_turn_the_pages_around() {
    let sim = start(config()).await;
    let (from, to) = (anchor() - TimeDelta::hours(20), anchor());
    let admin = keys_of(&in_window(sim.truth(sim.now(), None), from, to));
    let newest: Vec<_> = admin.iter().take(50).cloned().collect();
    let oldest: Vec<_> = admin.iter().rev().take(50).cloned().collect();

    for (route, param, value, expected) in [
        (LIST_1_0, "OrderBy", "DESC", &newest),
        (LIST_1_0, "OrderBy", "ASC", &oldest),
        (LIST_2_0, "SortOrder", "ASC", &oldest),
        (LIST_2_0, "SortOrder", "DESC", &newest),
    ] {
        let mut params = list_params(route, 1, 50, from, to);
        params.push((param, value.to_owned()));

        let (status, doc) = call(&sim, route, params).await;

        assert_eq!(status, 200, "{doc}");
        assert_eq!(
            &keys_of(&list_of(route, &doc).0),
            expected,
            "{param}={value}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_paging_limits_are_refused_with_invalid_parameter_naming_the_parameter() {
    let sim = start(config()).await;
    let to = anchor();
    let week = TimeDelta::days(7);
    let with =
        |route, page: u32, size: u32, from: DateTime<Utc>| list_params(route, page, size, from, to);
    let cases: Vec<(&str, Route, Params, Option<&str>)> = vec![
        ("a week", LIST_1_0, with(LIST_1_0, 1, 10, to - week), None),
        (
            "a week and 1 ms",
            LIST_1_0,
            with(LIST_1_0, 1, 10, to - week - TimeDelta::milliseconds(1)),
            Some("StopTime"),
        ),
        (
            "1.0 PageSize 101",
            LIST_1_0,
            with(LIST_1_0, 1, 101, to - week),
            Some("PageSize"),
        ),
        (
            "2.0 page 100",
            LIST_2_0,
            with(LIST_2_0, 100, 100, to - week),
            None,
        ),
        (
            "2.0 page 101",
            LIST_2_0,
            with(LIST_2_0, 101, 10, to - week),
            Some("PageNumber"),
        ),
        (
            "2.0 PageSize 101",
            LIST_2_0,
            with(LIST_2_0, 1, 101, to - week),
            Some("PageSize"),
        ),
        (
            "2.0 PageSize 0",
            LIST_2_0,
            with(LIST_2_0, 1, 0, to - week),
            Some("PageSize"),
        ),
        (
            "2.0 has no window limit",
            LIST_2_0,
            with(LIST_2_0, 1, 10, to - TimeDelta::days(30)),
            None,
        ),
    ];
    for (what, route, params, refused) in cases {
        let (status, doc) = call(&sim, route, params).await;

        match refused {
            None => assert_eq!(status, 200, "{what}: {doc}"),
            Some(name) => {
                assert_eq!(
                    (status, doc["Code"].as_str()),
                    (400, Some("InvalidParameter")),
                    "{what}"
                );
                let message = doc["Message"].as_str().expect("Message");
                assert!(message.contains(name), "{what}: {message}");
                if name == "StopTime" {
                    assert!(
                        message.contains("7days"),
                        "{what} names the limit: {message}"
                    );
                }
                if route == LIST_2_0 {
                    assert_eq!(doc["HttpStatusCode"], 400, "{what}: the 2.0 error shape");
                    assert!(doc["RequestId"].is_string());
                }
            }
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn configured_limits_force_splitting_on_a_small_history() {
    let sim = start(SimulatorConfig {
        max_page_number: 3,
        max_window: Duration::from_secs(3_600),
        ..config()
    })
    .await;
    let to = anchor();

    let (page_4, doc_4) = call(
        &sim,
        LIST_2_0,
        list_params(LIST_2_0, 4, 10, to - TimeDelta::hours(5), to),
    )
    .await;
    let (page_3, _) = call(
        &sim,
        LIST_2_0,
        list_params(LIST_2_0, 3, 10, to - TimeDelta::hours(5), to),
    )
    .await;
    let (long, doc_long) = call(
        &sim,
        LIST_1_0,
        list_params(LIST_1_0, 1, 10, to - TimeDelta::hours(2), to),
    )
    .await;
    let (hour, _) = call(
        &sim,
        LIST_1_0,
        list_params(LIST_1_0, 1, 10, to - TimeDelta::hours(1), to),
    )
    .await;

    assert_eq!((page_4, page_3), (400, 200));
    assert!(
        doc_4["Message"]
            .as_str()
            .is_some_and(|m| m.contains("PageNumber") && m.contains('3')),
        "{doc_4}"
    );
    assert_eq!((long, hour), (400, 200));
    assert!(
        doc_long["Message"]
            .as_str()
            .is_some_and(|m| m.contains("StopTime") && m.contains("1h")),
        "{doc_long}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn with_recording_false_leaves_the_recordings_out() {
    let sim = start(config()).await;
    let (from, to) = (anchor() - TimeDelta::hours(6), anchor());
    let mut params = list_params(LIST_1_0, 1, 100, from, to);

    let (_, with) = call(&sim, LIST_1_0, params.clone()).await;
    params.push(("WithRecording", "false".to_owned()));
    let (status, without) = call(&sim, LIST_1_0, params).await;

    assert_eq!(status, 200);
    let (with, _) = list_of(LIST_1_0, &with);
    let (without, _) = list_of(LIST_1_0, &without);
    assert_eq!(keys_of(&with), keys_of(&without));
    assert!(with.iter().any(|r| {
        r["Recordings"]["Recording"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    }));
    assert!(without.iter().all(|r| r.get("Recordings").is_none()));
    for (a, b) in with.iter().zip(&without) {
        let mut a = a.clone();
        a.as_object_mut().expect("record").remove("Recordings");
        assert_eq!(&a, b, "only the recordings differ");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn an_agent_bound_key_may_call_only_the_agents_action_and_unknown_things_keep_their_codes() {
    let lead = key("LTAI-lead", "s-lead", Some("1912@ccctest"));
    let sim = start(SimulatorConfig {
        keys: vec![AccessKey::demo(), lead.clone()],
        ..config()
    })
    .await;
    let (from, to) = (anchor() - TimeDelta::hours(6), anchor());
    let one = |name: &'static str, value: &str| {
        vec![
            ("InstanceId", INSTANCE.to_owned()),
            (name, value.to_owned()),
        ]
    };
    let some_call = sim.truth(sim.now(), None)[0]["ContactId"]
        .as_str()
        .expect("id")
        .to_owned();

    for (route, params) in [
        (LIST_1_0, list_params(LIST_1_0, 1, 10, from, to)),
        (LIST_2_0, list_params(LIST_2_0, 1, 10, from, to)),
        (GET_2_0, one("ContactId", &some_call)),
        (MONO_2_0, one("ContactId", &some_call)),
        (GET_MONO_2_0, one("ContactId", &some_call)),
        (
            DOWNLOAD_1_0,
            one("FileName", &format!("{some_call}-1-x.wav")),
        ),
    ] {
        let (status, doc) = call_as(&sim, &lead, route, params).await;
        assert_eq!(
            (status, doc["Code"].as_str()),
            (403, Some("Forbidden.NoPermission")),
            "{route:?}"
        );
    }
    let (mine, _) = call_as(&sim, &lead, (ACTION, API_VERSION), page_params(Some(10))).await;
    assert_eq!(mine, 200, "the agent's own action");

    let mut elsewhere = list_params(LIST_2_0, 1, 10, from, to);
    elsewhere[0].1 = "no-such-instance".to_owned();
    let refusals = [
        (
            call(&sim, LIST_2_0, elsewhere).await,
            404,
            "NotExists.InstanceId",
        ),
        (
            call(
                &sim,
                (GET_CALL_DETAIL_RECORD, API_VERSION),
                one("ContactId", &some_call),
            )
            .await,
            404,
            "InvalidAction.NotFound",
        ),
        (
            call(&sim, (ACTION, CCC2_API_VERSION), page_params(Some(10))).await,
            404,
            "InvalidAction.NotFound",
        ),
        (
            call(&sim, GET_2_0, one("ContactId", "2030000001999")).await,
            404,
            "NotExists.ContactId",
        ),
        (
            call(&sim, MONO_2_0, one("ContactId", "job-1")).await,
            404,
            "NotExists.ContactId",
        ),
    ];
    for ((status, doc), expected_status, code) in refusals {
        assert_eq!(
            (status, doc["Code"].as_str()),
            (expected_status, Some(code)),
            "{doc}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn details_and_recordings_agree_with_the_ccc2_truth_and_are_counted_per_action() {
    let sim = start(config()).await;
    let (from, to) = (anchor() - TimeDelta::hours(24), anchor());
    let calls = ccc2_truth_in(&sim, from, to);
    let recorded: Vec<&Value> = calls
        .iter()
        .filter(|c| c["MonoRecordings"].as_array().is_some_and(|m| m.len() > 1))
        .take(4)
        .collect();
    let transferred: Vec<&Value> = calls
        .iter()
        .filter(|c| {
            c["Detail"]["AgentEvents"]
                .as_array()
                .is_some_and(|a| a.len() > 1)
        })
        .take(3)
        .collect();
    let unanswered: Vec<&Value> = calls
        .iter()
        .filter(|c| c["Record"].get("EstablishedTime").is_none())
        .take(3)
        .collect();
    let picked: Vec<&Value> = recorded
        .into_iter()
        .chain(transferred)
        .chain(unanswered)
        .collect();
    assert_eq!(picked.len(), 10, "the history has every kind of call");

    for truth in &picked {
        let id = truth["Record"]["ContactId"].as_str().expect("id");
        let params = vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("ContactId", id.to_owned()),
        ];

        let (status, detail) = call(&sim, GET_2_0, params.clone()).await;
        let (mono_status, mono) = call(&sim, MONO_2_0, params).await;

        assert_eq!((status, mono_status), (200, 200));
        assert_eq!(
            (detail["Code"].as_str(), detail["HttpStatusCode"].as_u64()),
            (Some("OK"), Some(200))
        );
        assert_eq!(detail["Data"], truth["Detail"], "detail of {id}");
        let mut files = mono["Data"].as_array().expect("Data[]").clone();
        for file in &mut files {
            let link = file
                .as_object_mut()
                .expect("a file")
                .remove("FileUrl")
                .expect("a FileUrl");
            let link = link.as_str().expect("a string");
            let name = percent_encode(file["FileName"].as_str().expect("name"));
            assert!(
                link.starts_with(&format!(
                    "{}/_oss/{INSTANCE}/{name}?Expires=",
                    sim.endpoint()
                )),
                "{link}"
            );
            assert!(
                link.contains("&OSSAccessKeyId=") && link.contains("&Signature="),
                "{link}"
            );
        }
        assert_eq!(
            Value::from(files),
            truth["MonoRecordings"],
            "recordings of {id}"
        );
    }
    let stats = sim.requests();
    assert_eq!(
        stats.requests_for(GET_CALL_DETAIL_RECORD),
        picked.len() as u64
    );
    assert_eq!(
        stats.requests_for(LIST_MONO_RECORDINGS),
        picked.len() as u64
    );
    assert_eq!(stats.requests_for(LIST_CALL_DETAIL_RECORDS), 0);
    assert_eq!(stats.ok, 2 * picked.len() as u64);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_ground_truth_endpoint_serves_every_view_like_the_handle() {
    let sim = start(config()).await;
    let at = sim.now() - TimeDelta::hours(2);
    let http = reqwest::Client::new();

    for (name, view) in [
        ("agent", TruthView::Agent),
        ("instance", TruthView::Instance),
        ("ccc2", TruthView::Ccc2),
    ] {
        let url = format!(
            "{}/_sim/truth?at={}&view={name}",
            sim.endpoint(),
            at.timestamp_millis()
        );
        let answer = http.get(url).send().await.expect("answer");
        let doc: Value =
            serde_json::from_slice(&answer.bytes().await.expect("body")).expect("json");

        let records = doc["records"].as_array().expect("records");
        assert_eq!(records, &sim.truth_view(at, None, view), "{name}");
        assert_eq!(
            records.len(),
            sim.truth(at, None).len(),
            "{name}: the same calls"
        );
    }
    let bad = http
        .get(format!("{}/_sim/truth?view=everything", sim.endpoint()))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_late_survey_changes_the_call_in_every_view_at_once() {
    let sim = start(config()).await;
    let (t1, t2) = (anchor(), anchor() + TimeDelta::hours(1));
    let rating = |at: DateTime<Utc>| -> Vec<(Value, Value, Value)> {
        let agent = sim.truth_view(at, None, TruthView::Agent);
        let instance = sim.truth_view(at, None, TruthView::Instance);
        let ccc2 = sim.truth_view(at, None, TruthView::Ccc2);
        agent
            .iter()
            .zip(&instance)
            .zip(&ccc2)
            .map(|((a, i), c)| {
                assert_eq!(a["ContactId"], c["Record"]["ContactId"]);
                assert_eq!(i["ContactId"], c["Record"]["ContactId"]);
                (
                    a["ContactId"].clone(),
                    a["Satisfaction"].clone(),
                    i["Satisfaction"].clone(),
                )
            })
            .zip(&ccc2)
            .map(|((id, a, i), c)| {
                assert_eq!(a, i, "{id}: 1.0 views disagree");
                assert_eq!(
                    a, c["Record"]["SatisfactionIndex"],
                    "{id}: 1.0 and 2.0 disagree"
                );
                assert_eq!(a, c["Detail"]["Satisfaction"], "{id}: detail disagrees");
                (id, a, i)
            })
            .collect()
    };

    let before: std::collections::HashMap<Value, Value> =
        rating(t1).into_iter().map(|(id, a, _)| (id, a)).collect();
    let after = rating(t2);

    let changed = after
        .iter()
        .filter(|(id, a, _)| before.get(id).is_some_and(|b| b.is_null() && !a.is_null()))
        .count();
    assert!(
        changed > 0,
        "no survey was answered between the two instants"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_the_ccc2_actions_in_the_ccc2_error_shape() {
    let sim = faulty(Faults {
        internal_error: 1.0,
        ..Faults::default()
    })
    .await;
    let some_call = sim.truth(sim.now(), None)[0]["ContactId"]
        .as_str()
        .expect("id")
        .to_owned();

    let (status, doc) = call(
        &sim,
        GET_2_0,
        vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("ContactId", some_call),
        ],
    )
    .await;

    assert_eq!((status, doc["Code"].as_str()), (500, Some("InternalError")));
    assert_eq!(doc["HttpStatusCode"], 500);
    assert_eq!(sim.requests().faults.internal_error, 1);
    sim.shutdown().await;
}

/// A small history whose recording files are at most `max_file_bytes` (several 16 KiB chunks), so hashing
/// every file for the truth stays cheap.
fn archive_config(archive: RecordingArchive) -> SimulatorConfig {
    SimulatorConfig {
        calls: 300,
        archive: RecordingArchive {
            max_file_bytes: 40_000,
            ..archive
        },
        ..config()
    }
}

/// A GET of a recording link: status, headers and body.
async fn download(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = reqwest::get(url).await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The text of `<name>` in an XML body.
fn xml_field(body: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{name}>");
    let start = text.find(&open).map(|i| i + open.len());
    let end = text.find(&format!("</{name}>"));
    match (start, end) {
        (Some(s), Some(e)) if s <= e => text[s..e].to_owned(),
        _ => panic!("no <{name}> in {text}"),
    }
}

/// `DownloadRecording`'s link for `file_name`, its quotes checked and stripped.
async fn download_link(sim: &SimulatorHandle, file_name: &str) -> String {
    let (status, doc) = call(
        sim,
        DOWNLOAD_1_0,
        vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("FileName", file_name.to_owned()),
        ],
    )
    .await;
    assert_eq!((status, doc["Code"].as_str()), (200, Some("OK")), "{doc}");
    let param = &doc["MediaDownloadParam"];
    assert_eq!(param["FileName"], file_name);
    let quoted = param["SignatureUrl"].as_str().expect("a SignatureUrl");
    quoted
        .strip_prefix('"')
        .and_then(|u| u.strip_suffix('"'))
        .unwrap_or_else(|| panic!("the URL arrives in quotes: {quoted}"))
        .to_owned()
}

/// A link's `Expires`, epoch seconds.
fn expires_of(link: &str) -> i64 {
    let (_, rest) = link.split_once("Expires=").expect("an Expires");
    rest.split('&')
        .next()
        .expect("a value")
        .parse()
        .expect("seconds")
}

/// The first file the truth lists that is (not) deleted and spans several chunks.
fn a_file(files: &[RecordingFile], deleted: bool) -> RecordingFile {
    files
        .iter()
        .find(|f| f.deleted == deleted && f.size > 2 * 16 * 1024)
        .expect("such a file")
        .clone()
}

#[tokio::test]
async fn a_download_link_serves_the_truths_bytes_as_a_wav_file_and_is_counted() {
    let sim = start(archive_config(RecordingArchive::default())).await;
    let files = sim.recording_files(sim.now());
    let file = a_file(&files, false);
    let named_1_0: HashSet<String> = sim
        .truth_view(sim.now(), None, TruthView::Instance)
        .iter()
        .flat_map(|r| {
            r["Recordings"]["Recording"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|r| r["FileName"].as_str().expect("name").to_owned())
        .collect();
    let named_2_0: HashSet<String> = sim
        .truth_view(sim.now(), None, TruthView::Ccc2)
        .iter()
        .flat_map(|c| c["MonoRecordings"].as_array().cloned().unwrap_or_default())
        .map(|r| r["FileName"].as_str().expect("name").to_owned())
        .collect();
    let named: HashSet<String> = files.iter().map(|f| f.file_name.clone()).collect();
    assert_eq!(named.len(), files.len(), "file names are unique");
    assert_eq!((&named, &named), (&named_1_0, &named_2_0));

    let before = Utc::now().timestamp();
    let link = download_link(&sim, &file.file_name).await;
    let (status, headers, body) = download(&link).await;

    assert!(
        link.starts_with(&format!(
            "{}/_oss/{INSTANCE}/{}?Expires=",
            sim.endpoint(),
            percent_encode(&file.file_name)
        )),
        "{link}"
    );
    let expires = expires_of(&link);
    assert!((before + 3_600..=Utc::now().timestamp() + 3_600).contains(&expires));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["content-length"], file.size.to_string().as_str());
    assert_eq!(body.len() as u64, file.size);
    assert_eq!(sha256_hex(&body), file.sha256);
    assert_eq!((&body[0..4], &body[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
    let riff_size = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
    assert_eq!(u64::from(riff_size) + 8, file.size);
    assert_eq!(file.content_type, "audio/wav");
    assert!(file.size <= 40_000);

    let answer = reqwest::get(format!("{}/_sim/truth?view=files", sim.endpoint()))
        .await
        .expect("an answer");
    let truth: Value = serde_json::from_slice(&answer.bytes().await.expect("body")).expect("json");
    let listed = truth["records"].as_array().expect("records");
    assert_eq!(listed.len(), files.len());
    assert_eq!(listed[0]["Sha256"], files[0].sha256.as_str());
    let stats = sim.requests();
    assert_eq!(stats.requests_for(DOWNLOAD_RECORDING), 1);
    assert_eq!(
        (
            stats.downloads.total,
            stats.downloads.served,
            stats.downloads.bytes
        ),
        (1, 1, file.size)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn get_mono_recording_links_the_calls_first_file_for_expire_seconds() {
    let sim = start(archive_config(RecordingArchive::default())).await;
    let calls = sim.truth_view(sim.now(), None, TruthView::Ccc2);
    let call_with_two = calls
        .iter()
        .find(|c| c["MonoRecordings"].as_array().is_some_and(|m| m.len() > 1))
        .expect("a call with two files");
    let id = call_with_two["Record"]["ContactId"].as_str().expect("id");
    let first = &call_with_two["MonoRecordings"][0];
    let params = |expire: Option<&str>| {
        let mut p = vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("ContactId", id.to_owned()),
        ];
        p.extend(expire.map(|e| ("ExpireSeconds", e.to_owned())));
        p
    };

    let before = Utc::now().timestamp();
    let (status, default) = call(&sim, GET_MONO_2_0, params(None)).await;
    let (short_status, short) = call(&sim, GET_MONO_2_0, params(Some("120"))).await;
    let (bad_status, bad) = call(&sim, GET_MONO_2_0, params(Some("0"))).await;
    let after = Utc::now().timestamp();

    assert_eq!((status, short_status), (200, 200));
    assert_eq!(
        (default["Code"].as_str(), default["HttpStatusCode"].as_u64()),
        (Some("OK"), Some(200))
    );
    let data = &default["Data"];
    assert_eq!(data["FileName"], first["FileName"]);
    let ms: u64 = first["Duration"].as_str().expect("ms").parse().expect("ms");
    assert_eq!(data["Duration"].as_u64(), Some(ms));
    let link = data["FileUrl"].as_str().expect("a FileUrl");
    assert!((before + 86_400..=after + 86_400).contains(&expires_of(link)));
    let short_link = short["Data"]["FileUrl"].as_str().expect("a FileUrl");
    assert!((before + 120..=after + 120).contains(&expires_of(short_link)));
    assert_eq!(
        (bad_status, bad["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );

    let truth = sim
        .recording_files(sim.now())
        .into_iter()
        .find(|f| f.file_name == first["FileName"])
        .expect("the file in the truth");
    let (status, _, body) = download(short_link).await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), truth.sha256);
    assert_eq!(sim.requests().requests_for(GET_MONO_RECORDING), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_link_is_access_denied_and_a_tampered_one_does_not_match() {
    let sim = start(archive_config(RecordingArchive {
        link_lifetime_ccc1: Duration::from_secs(1),
        ..RecordingArchive::default()
    }))
    .await;
    let file = a_file(&sim.recording_files(sim.now()), false);
    let link = download_link(&sim, &file.file_name).await;
    let expires = expires_of(&link);
    let (head, signature) = link.split_once("&Signature=").expect("a Signature");
    let tampered_signature = format!("{head}&Signature=A{signature}");
    let extended = link.replace(
        &format!("Expires={expires}"),
        &format!("Expires={}", expires + 3_600),
    );

    for tampered in [tampered_signature, extended] {
        let (status, headers, body) = download(&tampered).await;
        assert_eq!(status, 403, "{tampered}");
        assert_eq!(headers["content-type"], "application/xml");
        assert_eq!(xml_field(&body, "Code"), "SignatureDoesNotMatch");
        assert!(!xml_field(&body, "RequestId").is_empty());
    }
    // Links expire on the real clock, as OSS's do: wait until it has passed Expires.
    let expired_at_ms = (expires + 1) * 1_000;
    let wait_ms = expired_at_ms - Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(wait_ms.max(0).unsigned_abs())).await;
    let (status, headers, body) = download(&link).await;

    assert_eq!(status, 403);
    assert_eq!(headers["content-type"], "application/xml");
    assert!(String::from_utf8_lossy(&body).starts_with("<?xml"));
    assert_eq!(xml_field(&body, "Code"), "AccessDenied");
    assert_eq!(xml_field(&body, "Message"), "Request has expired.");
    let d = sim.requests().downloads;
    assert_eq!((d.tampered, d.expired, d.served, d.bytes), (2, 1, 0, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn deleted_files_are_not_found_by_their_actions_and_their_links_404() {
    let sim = start(archive_config(RecordingArchive {
        deleted_fraction: 0.5,
        ..RecordingArchive::default()
    }))
    .await;
    let files = sim.recording_files(sim.now());
    let deleted = a_file(&files, true);
    let kept = a_file(&files, false);
    let deleted_share = files.iter().filter(|f| f.deleted).count() as f64 / files.len() as f64;
    assert!((0.3..0.7).contains(&deleted_share), "{deleted_share}");
    let (status, gone) = call(
        &sim,
        DOWNLOAD_1_0,
        vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("FileName", deleted.file_name.clone()),
        ],
    )
    .await;
    assert_eq!(
        (status, gone["Code"].as_str()),
        (404, Some("NotExist.Record"))
    );
    let (status, unknown) = call(
        &sim,
        DOWNLOAD_1_0,
        vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("FileName", "2030000001999-1-x.wav".to_owned()),
        ],
    )
    .await;
    assert_eq!(
        (status, unknown["Code"].as_str()),
        (404, Some("NotExist.Record"))
    );
    download_link(&sim, &kept.file_name).await;

    let is_deleted = |name: &str| files.iter().any(|f| f.file_name == name && f.deleted);
    let first_deleted = sim
        .truth_view(sim.now(), None, TruthView::Ccc2)
        .into_iter()
        .find(|c| {
            c["MonoRecordings"][0]["FileName"]
                .as_str()
                .is_some_and(is_deleted)
        })
        .expect("a call whose first file is deleted")["Record"]["ContactId"]
        .as_str()
        .expect("id")
        .to_owned();
    let one = vec![
        ("InstanceId", INSTANCE.to_owned()),
        ("ContactId", deleted.contact_id.clone()),
    ];
    let (status, listed) = call(&sim, MONO_2_0, one).await;
    assert_eq!(status, 200, "a deleted file is still listed");
    let link = listed["Data"]
        .as_array()
        .expect("Data[]")
        .iter()
        .find(|m| m["FileName"] == deleted.file_name.as_str())
        .and_then(|m| m["FileUrl"].as_str())
        .expect("the deleted file's link")
        .to_owned();
    let (status, headers, body) = download(&link).await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "application/xml");
    assert_eq!(xml_field(&body, "Code"), "NoSuchKey");

    let (status, doc) = call(
        &sim,
        GET_MONO_2_0,
        vec![
            ("InstanceId", INSTANCE.to_owned()),
            ("ContactId", first_deleted),
        ],
    )
    .await;
    assert_eq!(
        (status, doc["Code"].as_str(), doc["HttpStatusCode"].as_u64()),
        (404, Some("NotExists.Recording"), Some(404))
    );
    assert_eq!(sim.requests().downloads.not_found, 1);
    sim.shutdown().await;
}

/// A simulator whose downloads reset mid-body or start 200 ms late with these probabilities.
async fn with_download_faults(reset: f64, slow: f64) -> SimulatorHandle {
    start(SimulatorConfig {
        faults: Faults {
            slow_for: Duration::from_millis(200),
            ..Faults::default()
        },
        ..archive_config(RecordingArchive {
            faults: DownloadFaults {
                reset,
                slow,
                ..DownloadFaults::default()
            },
            ..RecordingArchive::default()
        })
    })
    .await
}

#[tokio::test]
async fn a_reset_download_is_cut_short_and_a_slow_one_arrives_whole() {
    let sim = with_download_faults(1.0, 0.0).await;
    let file = a_file(&sim.recording_files(sim.now()), false);
    let link = download_link(&sim, &file.file_name).await;

    let mut response = reqwest::get(&link).await.expect("the headers arrive");
    let promised = response.content_length().expect("a Content-Length");
    let mut received = 0;
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len() as u64,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };

    assert_eq!(promised, file.size);
    assert!(outcome.is_err(), "the body must end in an error");
    assert!(
        received > 0 && received < promised,
        "{received} of {promised}"
    );
    let d = sim.requests().downloads;
    assert_eq!((d.resets, d.served), (1, 0));
    assert_eq!(
        sim.requests().faults.reset,
        0,
        "the API's own faults are apart"
    );
    sim.shutdown().await;

    let slow = with_download_faults(0.0, 1.0).await;
    let link = download_link(&slow, &file.file_name).await;
    let (status, _, body) = download(&link).await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), file.sha256);
    let d = slow.requests().downloads;
    assert_eq!((d.slow, d.served), (1, 1));
    slow.shutdown().await;
}
