//! The CCC simulator over real HTTP, driven by the project's own client.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::Value;

use ccc_signature::{percent_encode, sign_params};
use ccc_simulator::{self as simulator, AccessKey, Faults, SimulatorConfig, SimulatorHandle};
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
    let mut params = action_params;
    params.extend([
        ("Action", ACTION.to_owned()),
        ("Version", API_VERSION.to_owned()),
        ("RegionId", "cn-shanghai".to_owned()),
        ("SignatureType", String::new()),
        ("SignatureMethod", "HMAC-SHA1".to_owned()),
        ("SignatureVersion", "1.0".to_owned()),
        ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
        (
            "Timestamp",
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
        ("AccessKeyId", simulator::DEMO_ACCESS_KEY_ID.to_owned()),
    ]);
    if let Some(format) = format {
        params.push(("Format", format.to_owned()));
    }
    let secret = SecretString::from(simulator::DEMO_ACCESS_KEY_SECRET);
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
