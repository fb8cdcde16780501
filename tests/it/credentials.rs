//! The default credential chain against local token services: a mock STS (`AssumeRoleWithOIDC`) and a mock
//! ECS metadata service on loopback, reached through the documented endpoint overrides. Providers are built
//! by the real config loader from an environment slice; the process environment is never touched.
//!
//! Time-dependent tests move tokio's clock with [`jump`] while no request is in flight, so refreshes are
//! checked at the minute without sleeping.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use ccc_simulator::{AccessKey, SimulatorHandle};
use ccc_sync::ccc::credentials::CredentialsError;
use ccc_sync::ccc::{CredentialProvider, Credentials};
use ccc_sync::config::ConfigError;
use ccc_sync::fetcher::FetchError;
use ccc_sync::scheduler::Source;
use ccc_sync::startup::Ready;
use ccc_sync::window::Window;

use crate::support::ccc;
use crate::support::config::{Config, SourceConfig, UNUSED_DATABASE};
use crate::support::daemon::{self, printed};

/// Temporary keys a mock token service hands out.
#[derive(Clone, Copy)]
struct Issue {
    id: &'static str,
    secret: &'static str,
    token: &'static str,
    lifetime: TimeDelta,
}

const STS_ONE: Issue = Issue {
    id: "STS.one",
    secret: "sts-secret-ONE",
    token: "sts-token-ONE",
    lifetime: TimeDelta::hours(1),
};
const STS_TWO: Issue = Issue {
    id: "STS.two",
    secret: "sts-secret-TWO",
    token: "sts-token-TWO",
    lifetime: TimeDelta::hours(1),
};
const ECS_ONE: Issue = Issue {
    id: "STS.ecs-one",
    secret: "ecs-secret-ONE",
    token: "ecs-token-ONE",
    lifetime: TimeDelta::hours(6),
};
const ECS_TWO: Issue = Issue {
    id: "STS.ecs-two",
    secret: "ecs-secret-TWO",
    token: "ecs-token-TWO",
    lifetime: TimeDelta::hours(6),
};

const ROLE_ARN: &str = "acs:ram::1234567890:role/ccc-sync";
const OIDC_PROVIDER_ARN: &str = "acs:ram::1234567890:oidc-provider/ack-rrsa-c1";
const JWT_ONE: &str = "eyJhbGciOiJSUzI1NiJ9.JWT-ONE.sig";
const JWT_TWO: &str = "eyJhbGciOiJSUzI1NiJ9.JWT-TWO.sig";
const ROLE: &str = "ccc-sync-role";

/// Serves `issues` in order (the last one again once they run out).
#[derive(Default)]
struct Issuer {
    issues: Vec<Issue>,
    served: usize,
}

impl Issuer {
    fn next(&mut self) -> Issue {
        let issue = self.issues[self.served.min(self.issues.len() - 1)];
        self.served += 1;
        issue
    }
}

fn expiration(issue: &Issue) -> String {
    (Utc::now() + issue.lifetime)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[derive(Default)]
struct StsState {
    issuer: Issuer,
    requests: Vec<(Method, BTreeMap<String, String>)>,
    /// Answered instead of credentials: status and error code.
    refusal: Option<(u16, &'static str)>,
}

/// Serves `app` on a loopback port of its own; returns its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    endpoint
}

/// A mock STS answering `AssumeRoleWithOIDC` as the service does.
struct MockSts {
    state: Arc<Mutex<StsState>>,
    endpoint: String,
}

impl MockSts {
    async fn start(issues: Vec<Issue>) -> MockSts {
        let state = Arc::new(Mutex::new(StsState {
            issuer: Issuer { issues, served: 0 },
            ..StsState::default()
        }));
        let app = axum::Router::new()
            .route("/", axum::routing::any(sts_answer))
            .with_state(state.clone());
        MockSts {
            state,
            endpoint: serve(app).await,
        }
    }

    fn requests(&self) -> Vec<(Method, BTreeMap<String, String>)> {
        self.state.lock().expect("lock").requests.clone()
    }

    fn refuse(&self, status: u16, code: &'static str) {
        self.state.lock().expect("lock").refusal = Some((status, code));
    }
}

async fn sts_answer(
    State(state): State<Arc<Mutex<StsState>>>,
    method: Method,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("lock");
    state.requests.push((method, params));
    if let Some((status, code)) = state.refusal {
        let body = json!({"RequestId": "STS-REQ-9", "HostId": "sts.aliyuncs.com", "Code": code,
            "Message": "refused by the mock"});
        return (
            StatusCode::from_u16(status).expect("status"),
            body.to_string(),
        )
            .into_response();
    }
    let issue = state.issuer.next();
    json_response(json!({
        "RequestId": "STS-REQ-1",
        "AssumedRoleUser": {"Arn": format!("{ROLE_ARN}/s"), "AssumedRoleId": "3:s"},
        "Credentials": {"SecurityToken": issue.token, "Expiration": expiration(&issue),
            "AccessKeySecret": issue.secret, "AccessKeyId": issue.id}
    }))
}

#[derive(Default)]
struct MetadataState {
    issuer: Issuer,
    tokens_issued: u32,
    /// One line per request: method, path, and the token header it carried.
    log: Vec<String>,
}

/// A mock ECS metadata service with one role attached, demanding a session token on every read.
struct MockMetadata {
    state: Arc<Mutex<MetadataState>>,
    endpoint: String,
}

type Metadata = State<Arc<Mutex<MetadataState>>>;

impl MockMetadata {
    async fn start(issues: Vec<Issue>) -> MockMetadata {
        let state = Arc::new(Mutex::new(MetadataState {
            issuer: Issuer { issues, served: 0 },
            ..MetadataState::default()
        }));
        let credentials = "/latest/meta-data/ram/security-credentials/";
        let app = axum::Router::new()
            .route("/latest/api/token", axum::routing::put(metadata_token))
            .route(credentials, axum::routing::get(metadata_roles))
            .route(
                &format!("{credentials}{{role}}"),
                axum::routing::get(metadata_credentials),
            )
            .with_state(state.clone());
        MockMetadata {
            state,
            endpoint: serve(app).await,
        }
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().expect("lock").log.clone()
    }
}

async fn metadata_token(State(state): Metadata, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("lock");
    let ttl = header(&headers, "x-aliyun-ecs-metadata-token-ttl-seconds");
    state.log.push(format!("PUT /latest/api/token ttl={ttl}"));
    if ttl != "21600" {
        return (StatusCode::BAD_REQUEST, "ttl required").into_response();
    }
    state.tokens_issued += 1;
    format!("imds-token-{}", state.tokens_issued).into_response()
}

/// Whether `headers` carry the last session token issued; logs the request either way.
fn token_ok(state: &mut MetadataState, what: String, headers: &HeaderMap) -> bool {
    let token = header(headers, "x-aliyun-ecs-metadata-token");
    state.log.push(format!("{what} token={token}"));
    state.tokens_issued > 0 && token == format!("imds-token-{}", state.tokens_issued)
}

async fn metadata_roles(State(state): Metadata, headers: HeaderMap) -> Response {
    let mut state = state.lock().expect("lock");
    let listing = "GET /latest/meta-data/ram/security-credentials/".to_owned();
    if !token_ok(&mut state, listing, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    format!("{ROLE}\n").into_response()
}

async fn metadata_credentials(
    State(state): Metadata,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().expect("lock");
    let what = format!("GET /latest/meta-data/ram/security-credentials/{role}");
    if !token_ok(&mut state, what, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if role != ROLE {
        return (StatusCode::NOT_FOUND, "<html>404 Not Found</html>").into_response();
    }
    let issue = state.issuer.next();
    json_response(json!({
        "AccessKeyId": issue.id, "AccessKeySecret": issue.secret, "SecurityToken": issue.token,
        "Expiration": expiration(&issue), "LastUpdated": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "Code": "Success"
    }))
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .to_owned()
}

fn json_response(body: serde_json::Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Moves tokio's clock forward by `by` between requests: paused only for the step, so no timeout of
/// real network I/O can fire early.
async fn jump(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

const MINUTE: Duration = Duration::from_secs(60);

/// A home directory, a token file and an environment slice, for one test.
struct Env {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().display().to_string();
        Env {
            dir,
            vars: vec![("HOME".into(), home)],
        }
    }

    fn set(&mut self, name: &str, value: &str) -> &mut Env {
        self.unset(name);
        self.vars.push((name.into(), value.into()));
        self
    }

    fn unset(&mut self, name: &str) -> &mut Env {
        self.vars.retain(|(n, _)| n != name);
        self
    }

    fn write(&self, relative: &str, text: &str) -> String {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    }

    /// The OIDC variables, the token file holding `jwt`, and STS pointed at `sts`.
    fn oidc(&mut self, sts: &MockSts, jwt: &str) -> &mut Env {
        let token_file = self.write("oidc-token", &format!("{jwt}\n"));
        self.set("ALIBABA_CLOUD_ROLE_ARN", ROLE_ARN)
            .set("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", OIDC_PROVIDER_ARN)
            .set("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &token_file)
            .set("ALIBABA_CLOUD_ROLE_SESSION_NAME", "ccc-sync-test")
            .set("ALIBABA_CLOUD_STS_ENDPOINT", &sts.endpoint)
    }

    /// A config with one source without keys, reading call records from `endpoint`.
    fn config(endpoint: &str) -> Config {
        let source = SourceConfig::new("agent-1", ccc::INSTANCE)
            .endpoint(endpoint)
            .max_requests_per_second(1000.0)
            .retry_for("5s");
        Config::new(UNUSED_DATABASE)
            .acquire_timeout("1s")
            .source(source)
    }

    /// [`Env::config`] as a file in the home directory; returns its path.
    fn write_config(&self, ccc: &str) -> std::path::PathBuf {
        Env::config(ccc).write(self.dir.path(), "ccc-sync.toml")
    }

    fn load(&self, ccc: &str) -> Result<Ready, ConfigError> {
        Env::config(ccc).load_with(&self.vars)
    }

    fn provider(&self) -> CredentialProvider {
        self.load("http://127.0.0.1:9")
            .expect("valid config")
            .sources
            .remove(0)
            .credentials
    }
}

fn token_of(c: &Credentials) -> &str {
    c.security_token
        .as_ref()
        .expect("STS credentials carry a token")
        .expose_secret()
}

#[tokio::test]
async fn an_oidc_role_is_assumed_with_an_unsigned_get_carrying_the_token_file() {
    let sts = MockSts::start(vec![STS_ONE]).await;
    let mut env = Env::new();
    env.oidc(&sts, JWT_ONE);
    let provider = env.provider();

    let c = provider.credentials().await.expect("credentials");

    assert_eq!(c.access_key_id, "STS.one");
    assert_eq!(c.access_key_secret.expose_secret(), "sts-secret-ONE");
    assert_eq!(token_of(&c), "sts-token-ONE");
    let requests = sts.requests();
    assert_eq!(requests.len(), 1);
    let (method, params) = &requests[0];
    assert_eq!(method, Method::GET);
    let timestamp = params.get("Timestamp").cloned().unwrap_or_default();
    assert!(
        chrono::NaiveDateTime::parse_from_str(&timestamp, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "{timestamp:?}"
    );
    let expected: BTreeMap<String, String> = [
        ("Action", "AssumeRoleWithOIDC"),
        ("Format", "JSON"),
        ("Version", "2015-04-01"),
        ("DurationSeconds", "3600"),
        ("RoleArn", ROLE_ARN),
        ("OIDCProviderArn", OIDC_PROVIDER_ARN),
        ("OIDCToken", JWT_ONE),
        ("RoleSessionName", "ccc-sync-test"),
        ("Timestamp", &timestamp),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(params, &expected, "unsigned: no AccessKeyId, no Signature");
}

#[tokio::test]
async fn oidc_credentials_are_refreshed_fifteen_minutes_before_expiry_with_the_token_file_read_again()
 {
    let sts = MockSts::start(vec![STS_ONE, STS_TWO]).await;
    let mut env = Env::new();
    env.oidc(&sts, JWT_ONE);
    let provider = env.provider();
    let first = provider.credentials().await.expect("credentials");
    env.write("oidc-token", JWT_TWO);

    jump(44 * MINUTE).await;
    let at_44 = provider.credentials().await.expect("credentials");
    jump(2 * MINUTE).await;
    let at_46 = provider.credentials().await.expect("credentials");

    assert_eq!(first.access_key_id, "STS.one");
    assert_eq!(
        at_44.access_key_id, "STS.one",
        "an hour's keys last 45 minutes"
    );
    assert_eq!(at_46.access_key_id, "STS.two");
    assert_eq!(token_of(&at_46), "sts-token-TWO");
    let tokens: Vec<String> = sts
        .requests()
        .into_iter()
        .map(|(_, p)| p.get("OIDCToken").cloned().unwrap_or_default())
        .collect();
    assert_eq!(tokens, [JWT_ONE, JWT_TWO], "the token file is read again");
}

#[tokio::test]
async fn requests_that_find_no_credentials_together_share_one_fetch() {
    let sts = MockSts::start(vec![STS_ONE, STS_TWO]).await;
    let mut env = Env::new();
    env.oidc(&sts, JWT_ONE);
    let provider = env.provider();

    let all = futures::future::join_all((0..8).map(|_| provider.credentials())).await;

    assert_eq!(sts.requests().len(), 1);
    assert!(
        all.iter()
            .all(|c| c.as_ref().is_ok_and(|c| c.access_key_id == "STS.one"))
    );
}

#[tokio::test]
async fn an_ecs_role_is_read_with_a_metadata_session_token_and_refreshed_before_expiry() {
    let metadata = MockMetadata::start(vec![ECS_ONE, ECS_TWO]).await;
    let mut env = Env::new();
    env.set("ALIBABA_CLOUD_ECS_METADATA", ROLE)
        .set("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", &metadata.endpoint);
    let provider = env.provider();

    let first = provider.credentials().await.expect("credentials");
    jump(5 * 60 * MINUTE + 44 * MINUTE).await;
    let at_5h44 = provider.credentials().await.expect("credentials");
    jump(2 * MINUTE).await;
    let at_5h46 = provider.credentials().await.expect("credentials");

    assert_eq!(first.access_key_id, "STS.ecs-one");
    assert_eq!(token_of(&first), "ecs-token-ONE");
    assert_eq!(at_5h44.access_key_id, "STS.ecs-one");
    assert_eq!(at_5h46.access_key_id, "STS.ecs-two");
    let role = format!("GET /latest/meta-data/ram/security-credentials/{ROLE}");
    assert_eq!(
        metadata.log(),
        [
            "PUT /latest/api/token ttl=21600".to_owned(),
            format!("{role} token=imds-token-1"),
            "PUT /latest/api/token ttl=21600".to_owned(),
            format!("{role} token=imds-token-2"),
        ]
    );
}

#[tokio::test]
async fn an_ecs_role_a_profile_leaves_unnamed_is_asked_of_the_metadata_service() {
    let metadata = MockMetadata::start(vec![ECS_ONE]).await;
    let mut env = Env::new();
    env.write(
        ".aliyun/config.json",
        r#"{"current": "ecs", "profiles": [{"name": "ecs", "mode": "EcsRamRole", "ram_role_name": ""}]}"#,
    );
    env.set("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", &metadata.endpoint);

    let c = env.provider().credentials().await.expect("credentials");

    assert_eq!(c.access_key_id, "STS.ecs-one");
    assert_eq!(
        metadata.log(),
        [
            "PUT /latest/api/token ttl=21600".to_owned(),
            "GET /latest/meta-data/ram/security-credentials/ token=imds-token-1".to_owned(),
            format!("GET /latest/meta-data/ram/security-credentials/{ROLE} token=imds-token-1"),
        ]
    );
}

#[tokio::test]
async fn the_chain_takes_the_environment_then_oidc_then_the_cli_profile_then_the_ini_file_then_the_ecs_role()
 {
    let sts = MockSts::start(vec![STS_ONE]).await;
    let metadata = MockMetadata::start(vec![ECS_ONE]).await;
    let mut env = Env::new();
    env.set("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-env")
        .set("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
        .oidc(&sts, JWT_ONE)
        .set("ALIBABA_CLOUD_ECS_METADATA", ROLE)
        .set("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", &metadata.endpoint);
    let cli = env.write(
        ".aliyun/config.json",
        r#"{"current": "default", "profiles": [{"name": "default", "mode": "AK",
            "access_key_id": "LTAI-cli", "access_key_secret": "cli-secret"}]}"#,
    );
    let ini = env.write(
        ".alibabacloud/credentials.ini",
        "[default]\ntype = access_key\naccess_key_id = LTAI-ini\naccess_key_secret = ini-secret\n",
    );

    let mut winners = Vec::new();
    for take_away in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ROLE_ARN",
        cli.as_str(),
        ini.as_str(),
        "ALIBABA_CLOUD_ECS_METADATA",
    ] {
        let c = env.provider().credentials().await.expect("credentials");
        winners.push(c.access_key_id);
        match take_away {
            "ALIBABA_CLOUD_ACCESS_KEY_ID" => {
                env.unset(take_away)
                    .unset("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
            }
            "ALIBABA_CLOUD_ROLE_ARN" => {
                env.unset(take_away)
                    .unset("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
                    .unset("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
            }
            "ALIBABA_CLOUD_ECS_METADATA" => {
                env.unset(take_away);
            }
            file => std::fs::remove_file(file).expect("remove"),
        }
    }

    assert_eq!(
        winners,
        ["LTAI-env", "STS.one", "LTAI-cli", "LTAI-ini", "STS.ecs-one"]
    );
    let Err(ConfigError::Invalid { problems, .. }) = env.load("http://127.0.0.1:9") else {
        panic!("with nothing left, the config is refused")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "sources[0].access_key_id");
    assert!(
        problems[0].fix.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "{}",
        problems[0]
    );
}

/// The CCC key of the temporary keys `issue`.
fn ccc_key(issue: Issue) -> AccessKey {
    ccc::key(issue.id, issue.secret, None)
}

/// A keyless source on the scripted CCC with three calls in the last hour, its credentials from OIDC.
async fn oidc_source(sts: &MockSts, ccc: &SimulatorHandle) -> (Source, Window, Env) {
    let now = ccc_sync::window::to_ms(Utc::now());
    ccc.set_records(
        (1..=3)
            .map(|i| {
                let start = (now - TimeDelta::minutes(i)).timestamp_millis();
                ccc::record(&format!("C{i}"), start, &["1001@ccctest"], 0)
            })
            .collect(),
    );
    let mut env = Env::new();
    env.oidc(sts, JWT_ONE);
    let settings = env.load(&ccc.endpoint()).expect("valid config");
    let source = Source::new(settings.sources.into_iter().next().expect("source")).expect("client");
    let window = Window {
        start: now - TimeDelta::hours(1),
        end: now,
    };
    (source, window, env)
}

#[tokio::test]
async fn an_expired_security_token_answer_leads_to_one_refresh_and_the_page_succeeds() {
    let sts = MockSts::start(vec![STS_ONE, STS_TWO]).await;
    let ccc = ccc::scripted(vec![ccc_key(STS_ONE), ccc_key(STS_TWO)]).await;
    let (source, window, _env) = oidc_source(&sts, &ccc).await;
    ccc.expire_token(STS_ONE.token);

    let page = source
        .fetcher
        .page(&window, 1, &CancellationToken::new())
        .await
        .expect("the page arrives with fresh credentials");

    assert_eq!(page.records.len(), 3);
    assert_eq!(sts.requests().len(), 2, "one fetch, one refresh");
    assert_eq!(
        ccc.signed_with(),
        [
            ("STS.one".to_owned(), Some(STS_ONE.token.to_owned())),
            ("STS.two".to_owned(), Some(STS_TWO.token.to_owned())),
        ]
    );
}

#[tokio::test]
async fn a_token_still_expired_after_the_refresh_fails_the_page_without_looping() {
    let sts = MockSts::start(vec![STS_ONE, STS_TWO]).await;
    let ccc = ccc::scripted(vec![ccc_key(STS_ONE), ccc_key(STS_TWO)]).await;
    let (source, window, _env) = oidc_source(&sts, &ccc).await;
    ccc.expire_token(STS_ONE.token);
    ccc.expire_token(STS_TWO.token);

    let err = source
        .fetcher
        .page(&window, 1, &CancellationToken::new())
        .await
        .expect_err("fresh keys did not help");

    let FetchError::Request {
        attempts, source, ..
    } = err
    else {
        panic!("a request error: {err:?}")
    };
    assert_eq!(attempts, 1);
    assert!(source.is_expired_token(), "{source}");
    assert_eq!(sts.requests().len(), 2);
    assert_eq!(ccc.requests().total, 2);
}

/// An address on which nothing listens.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    format!("http://{}", listener.local_addr().expect("addr"))
}

#[tokio::test]
async fn an_unreachable_metadata_service_is_a_retryable_error_naming_provider_endpoint_and_fix() {
    let nowhere = closed_port().await;
    let mut env = Env::new();
    env.set("ALIBABA_CLOUD_ECS_METADATA", ROLE)
        .set("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", &nowhere);

    let err = env.provider().credentials().await.expect_err("unreachable");

    assert!(err.is_retryable(), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("ECS RAM role"), "{shown}");
    assert!(
        shown.contains(&format!("{nowhere}/latest/api/token")),
        "{shown}"
    );
    assert!(shown.contains("Fix:"), "{shown}");
}

#[tokio::test]
async fn a_role_the_instance_does_not_have_is_a_fatal_error() {
    let metadata = MockMetadata::start(vec![ECS_ONE]).await;
    let mut env = Env::new();
    env.set("ALIBABA_CLOUD_ECS_METADATA", "some-other-role")
        .set("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", &metadata.endpoint);

    let err = env
        .provider()
        .credentials()
        .await
        .expect_err("no such role");

    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("some-other-role"), "{err}");
    assert!(err.to_string().contains("HTTP 404"), "{err}");
}

/// Every form of `e`, for looking for secrets in.
fn shown(e: &CredentialsError) -> String {
    format!("{e} {e:?}")
}

#[tokio::test]
async fn oidc_failures_name_provider_endpoint_and_fix_and_never_the_token() {
    let sts = MockSts::start(vec![STS_ONE]).await;
    let mut env = Env::new();
    env.oidc(&sts, JWT_ONE);

    sts.refuse(400, "AuthenticationFail.OIDCToken.Invalid");
    let refused = env.provider().credentials().await.expect_err("refused");
    sts.refuse(503, "ServiceUnavailable");
    let busy = env.provider().credentials().await.expect_err("busy");
    let nowhere = closed_port().await;
    env.set("ALIBABA_CLOUD_STS_ENDPOINT", &nowhere);
    let unreachable = env.provider().credentials().await.expect_err("unreachable");

    assert!(!refused.is_retryable());
    assert!(busy.is_retryable());
    assert!(unreachable.is_retryable());
    for (e, endpoint) in [
        (&refused, &sts.endpoint),
        (&busy, &sts.endpoint),
        (&unreachable, &nowhere),
    ] {
        let text = shown(e);
        assert!(text.contains("OIDC role"), "{text}");
        assert!(text.contains(endpoint.as_str()), "{text}");
        assert!(text.contains("Fix:"), "{text}");
        assert!(!text.contains("JWT-ONE"), "the OIDC token leaked: {text}");
    }
    assert!(shown(&refused).contains("AuthenticationFail.OIDCToken.Invalid"));
    assert!(shown(&refused).contains(ROLE_ARN), "the fix names the role");
}

#[tokio::test]
async fn fetched_secrets_never_show_in_debug_or_display() {
    let sts = MockSts::start(vec![STS_ONE]).await;
    let mut env = Env::new();
    env.oidc(&sts, JWT_ONE)
        .set("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-env")
        .set("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-SECRET-value");
    let from_env = env.load("http://127.0.0.1:9").expect("valid config");
    env.unset("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .unset("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    let from_sts = env.load("http://127.0.0.1:9").expect("valid config");
    let provider = &from_sts.sources[0].credentials;
    let c = provider.credentials().await.expect("credentials");

    let text = format!(
        "{from_env:?} {from_sts:?} {provider} {provider:?} {c:?} {}",
        from_env.sources[0].credentials
    );

    assert!(
        text.contains("LTAI-env") && text.contains(ROLE_ARN),
        "{text}"
    );
    for secret in ["env-SECRET-value", STS_ONE.secret, STS_ONE.token, "JWT-ONE"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn ccc_sync_check_logs_the_credentials_it_uses_and_never_a_secret_even_at_trace() {
    let sts = MockSts::start(vec![STS_ONE]).await;
    let ccc = ccc::scripted(vec![ccc_key(STS_ONE)]).await;
    let mut env = Env::new();
    env.oidc(&sts, JWT_ONE).set("RUST_LOG", "trace");
    let config = env.write_config(&ccc.endpoint());

    // The child gets exactly `vars`.
    let mut check = daemon::ccc_sync(&config);
    check.arg("check").env_clear().envs(env.vars.clone());
    let out = daemon::output(check).await;

    let text = printed(&out);
    assert!(
        text.contains("Credentials found by the default chain") && text.contains(ROLE_ARN),
        "{text}"
    );
    assert!(
        text.contains("Fetched temporary credentials") && text.contains("STS.one"),
        "{text}"
    );
    assert!(text.contains("source agent-1: ok"), "{text}");
    for secret in [STS_ONE.secret, STS_ONE.token, "JWT-ONE"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}
