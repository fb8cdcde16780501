//! The HTTP side: the API on `/` (GET, POST with a query, POST with a form body) for every action the
//! gateway routes, who may call what, injected and scripted faults, the recording links `/_oss/<key>`
//! (signed, expiring, streamed in chunks, with their own faults), and the unsigned ground-truth endpoint
//! `/_sim/truth` (`?at=&agent=&view=agent|instance|ccc2|files`) for loopback peers.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::actions::{ActionQuery, Limits};
use super::ccc2;
use super::faults::{Faults, Outcome};
use super::gateway::{CCC2_API_VERSION, Gateway, Params, Route};
use super::instance;
use super::limit::RateLimit;
use super::oss::{self, CHUNK_BYTES, Content, LinkError};
use super::response::{ApiError, DataBody, DownloadBody, Format, ListBody, PagedData, encode};
use super::script::Script;
use super::stats::RequestStats;
use super::world::{TruthView, World};

/// Named in error bodies when the request has no `Host` header.
const DEFAULT_HOST_ID: &str = "ccc.cn-shanghai.aliyuncs.com";
/// The bucket host OSS errors name.
const OSS_HOST_ID: &str = "ccc-record-cn-shanghai.oss-cn-shanghai.aliyuncs.com";
/// How long a reset answer waits between its partial body and dropping the connection, so the client
/// really receives the headers and the first bytes.
const RESET_AFTER: Duration = Duration::from_millis(50);

/// What every request handler shares.
pub struct Shared {
    pub world: World,
    pub gateway: Gateway,
    pub faults: Faults,
    pub script: Script,
    /// `--max-rps`, if set.
    pub limit: Option<RateLimit>,
    /// The paging limits of the whole-instance lists.
    pub limits: Limits,
    /// `http://host:port`: recording links point here.
    pub endpoint: String,
    pub stats: Mutex<RequestStats>,
    /// Files whose first link was handed out: a file's first link may be expired, never a later one.
    pub linked: Mutex<std::collections::HashSet<String>>,
}

impl Shared {
    fn count(&self, update: impl FnOnce(&mut RequestStats)) {
        update(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The `Expires` of a link to `file_name` made now that lives `lifetime`: already past for the first
    /// link of a file [`crate::RecordingArchive::first_link_expired`] picks.
    fn link_expires(&self, file_name: &str, lifetime: Duration) -> i64 {
        let first = self
            .linked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file_name.to_owned());
        if first && self.world.archive.first_link_expired(file_name) {
            self.count(|s| s.downloads.expired_links_issued += 1);
            return Utc::now().timestamp() - 1;
        }
        expires_in(lifetime)
    }

    /// Draws whether a download is slow and whether it is reset, counted.
    fn archive_faults(&self) -> (bool, bool) {
        let (slow, reset) = self.world.archive.faults.draw(&mut rand::rng());
        self.count(|s| {
            s.downloads.slow += u64::from(slow);
            s.downloads.resets += u64::from(reset);
        });
        (slow, reset)
    }
}

/// Counts a request in flight from its arrival until its answer is built, however the handler returns.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn start(shared: &'a Shared) -> Self {
        shared.count(|s| {
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
        });
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.count(|s| s.in_flight -= 1);
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(api).post(api))
        .route("/_sim/truth", get(truth))
        .route("/_oss/{*key}", get(oss_file))
        .with_state(shared)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}

async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = Params::default();
    params.extend_from_encoded(uri.query().unwrap_or(""));
    if is_form(&headers) {
        params.extend_from_encoded(&String::from_utf8_lossy(&body));
    }
    let reply = Reply {
        shared: &shared,
        format: Format::from_param(params.get("Format")),
        ccc2: params.get("Version") == Some(CCC2_API_VERSION),
        request_id: new_request_id(),
        host_id: headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(DEFAULT_HOST_ID),
    };
    let action = params.get("Action").unwrap_or_default().to_owned();
    shared.count(|s| {
        s.total += 1;
        *s.by_action.entry(action).or_default() += 1;
    });
    let _in_flight = InFlight::start(&shared);
    shared
        .script
        .note_signer(params.get("AccessKeyId"), params.get("SecurityToken"));
    let admitted = shared
        .gateway
        .admit(method.as_str(), &params, Utc::now())
        .and_then(|a| {
            if shared.script.is_expired(params.get("SecurityToken")) {
                Err(ApiError::token_expired())
            } else {
                Ok(a)
            }
        })
        .and_then(|a| {
            if a.route.admin_only() && a.agent.is_some() {
                Err(ApiError::no_permission(a.route.action()))
            } else {
                Ok(a)
            }
        })
        .and_then(|a| {
            let now_ms = shared.world.clock.now_ms();
            let query =
                ActionQuery::parse(a.route, &params, &shared.world, &shared.limits, now_ms)?;
            Ok((a, query))
        });
    let (admitted, query) = match admitted {
        Ok(ok) => ok,
        Err(e) => {
            tracing::debug!(code = %e.code, status = e.status.as_u16(), request_id = %reply.request_id, "Request refused");
            return reply.error(&e);
        }
    };
    let key = admitted.access_key_id.as_str();
    if let Some(limit) = &shared.limit
        && !limit.admit(key, std::time::Instant::now())
    {
        shared.count(|s| s.rate_limited += 1);
        tracing::debug!(access_key_id = key, request_id = %reply.request_id, "Over the rate limit");
        return reply.error(&ApiError::throttling(None));
    }
    if let Some(page) = query.page_number()
        && let Some((status, body)) = shared.script.take_page_fault(page)
    {
        tracing::debug!(status, page, request_id = %reply.request_id, "Scripted fault served");
        return reply.verbatim(status, body);
    }
    let (slow, outcome) = shared.faults.draw(&mut rand::rng());
    if slow {
        shared.count(|s| s.faults.slow += 1);
        tokio::time::sleep(shared.faults.slow_for).await;
    }
    if let Some(e) = injected_error(&shared, outcome) {
        tracing::debug!(code = %e.code, access_key_id = key, request_id = %reply.request_id, "Fault injected");
        return reply.error(&e);
    }

    let now_ms = shared.world.clock.now_ms();
    let (body, served) = match reply.answer(admitted.agent.as_deref(), &query, now_ms) {
        Ok(answer) => answer,
        Err(e) => {
            tracing::debug!(code = %e.code, request_id = %reply.request_id, "Request refused");
            return reply.error(&e);
        }
    };
    let route = admitted.route;
    match outcome {
        Outcome::Reset => {
            shared.count(|s| s.faults.reset += 1);
            tracing::debug!(access_key_id = key, request_id = %reply.request_id, "Fault injected: reset mid-body");
            reply.reset(body)
        }
        Outcome::Truncate => {
            shared.count(|s| s.faults.truncate += 1);
            tracing::debug!(access_key_id = key, request_id = %reply.request_id, "Fault injected: truncated body");
            let mut body = body;
            body.truncate(body.len() / 2);
            reply.ok(Body::from(body))
        }
        _ => {
            shared.count(|s| {
                s.ok += 1;
                s.records += served as u64;
            });
            tracing::debug!(access_key_id = key, action = route.action(), version = route.version(), records = served, page = query.page_number(), request_id = %reply.request_id, "Answer served");
            reply.ok(Body::from(body))
        }
    }
}

/// The error an injected fault answers with, counted; `None` when the page is served (perhaps damaged).
fn injected_error(shared: &Shared, outcome: Outcome) -> Option<ApiError> {
    let (error, counter): (ApiError, fn(&mut RequestStats)) = match outcome {
        Outcome::Throttle { retry_after_ms } => (ApiError::throttling(retry_after_ms), |s| {
            s.faults.throttle += 1
        }),
        Outcome::Unavailable => (ApiError::unavailable(), |s| s.faults.unavailable += 1),
        Outcome::InternalError => (ApiError::internal(), |s| s.faults.internal_error += 1),
        Outcome::Normal | Outcome::Reset | Outcome::Truncate => return None,
    };
    shared.count(counter);
    Some(error)
}

/// How one request is answered: its format, its request id and the host it addressed.
struct Reply<'a> {
    shared: &'a Shared,
    format: Format,
    /// A 2020-07-01 request: its error bodies carry `HttpStatusCode`.
    ccc2: bool,
    request_id: String,
    host_id: &'a str,
}

impl Reply<'_> {
    /// The encoded answer to `query` as of `now_ms`, and how many call records it holds.
    fn answer(
        &self,
        agent: Option<&str>,
        query: &ActionQuery,
        now_ms: i64,
    ) -> Result<(Vec<u8>, usize), ApiError> {
        let world = &self.shared.world;
        Ok(match query {
            ActionQuery::Recent(q) => {
                let window = q.window(now_ms);
                let (skip, take) = (q.skip(), q.page_size as usize);
                match self.shared.script.page(agent, window, skip, take) {
                    Some(page) => self.list(
                        Route::RecentCallRecords,
                        q.page_number,
                        q.page_size,
                        page.records,
                        page.total,
                    ),
                    None => {
                        let page = world.page(q.instance, agent, window, now_ms, skip, take);
                        self.list(
                            Route::RecentCallRecords,
                            q.page_number,
                            q.page_size,
                            page.records,
                            page.total,
                        )
                    }
                }
            }
            ActionQuery::Instance(q) => {
                let (total, records) =
                    world.admin_page(q.instance, q.wanted(now_ms), now_ms, |ctx, slot| {
                        instance::record(ctx, slot, now_ms, q.with_recording)
                    });
                let total = q.page.total_count(total);
                self.list(
                    Route::InstanceCallRecords,
                    q.page.number,
                    q.page.size,
                    records,
                    total,
                )
            }
            ActionQuery::Ccc2List(q) => {
                let (total, list) =
                    world.admin_page(q.instance, q.wanted(now_ms), now_ms, |ctx, slot| {
                        ccc2::Call::new(ctx, slot, now_ms).list_item()
                    });
                let served = list.len();
                let data = PagedData {
                    list,
                    page_number: q.page.number,
                    page_size: q.page.size,
                    total_count: q.page.total_count(total),
                };
                (self.data(Route::CallDetailRecords, data), served)
            }
            ActionQuery::Detail(q) => {
                let slot = world
                    .call(q.instance, &q.contact_id, now_ms)
                    .ok_or_else(|| ApiError::contact_not_found(&q.contact_id))?;
                let ctx = world.context(q.instance);
                let detail = ccc2::Call::new(&ctx, &slot, now_ms).detail();
                (self.data(Route::CallDetailRecord, detail), 1)
            }
            ActionQuery::Mono(q) => {
                let slot = world
                    .call(q.instance, &q.contact_id, now_ms)
                    .ok_or_else(|| ApiError::contact_not_found(&q.contact_id))?;
                let ctx = world.context(q.instance);
                let lifetime = world.archive.link_lifetime_ccc2;
                let files: Vec<ccc2::MonoRecording> = ccc2::Call::new(&ctx, &slot, now_ms)
                    .mono_recordings()
                    .into_iter()
                    .map(|m| ccc2::MonoRecording {
                        file_url: Some(oss::oss_link(
                            &self.shared.endpoint,
                            ctx.instance_id,
                            &m.file_name,
                            self.shared.link_expires(&m.file_name, lifetime),
                        )),
                        ..m
                    })
                    .collect();
                (self.data(Route::MonoRecordings, files), 0)
            }
            ActionQuery::Download(q) => {
                let file = world
                    .recording(q.instance, &q.file_name, now_ms)
                    .filter(|f| !f.deleted)
                    .ok_or_else(|| ApiError::record_not_found(&q.file_name))?;
                let link = oss::oss_link(
                    &self.shared.endpoint,
                    &file.instance_id,
                    &file.file_name,
                    self.shared
                        .link_expires(&file.file_name, world.archive.link_lifetime_ccc1),
                );
                let body = DownloadBody::new(&self.request_id, file.file_name, &link);
                (
                    encode(self.format, &root(Route::DownloadRecording), &body),
                    0,
                )
            }
            ActionQuery::OneMono(q) => {
                let contact_id = &q.call.contact_id;
                let slot = world
                    .call(q.call.instance, contact_id, now_ms)
                    .ok_or_else(|| ApiError::contact_not_found(contact_id))?;
                let ctx = world.context(q.call.instance);
                let first = ccc2::Call::new(&ctx, &slot, now_ms)
                    .mono_recordings()
                    .into_iter()
                    .next()
                    .filter(|m| !world.archive.is_deleted(&m.file_name))
                    .ok_or_else(|| ApiError::recording_not_found(contact_id))?;
                let lifetime = q
                    .expire_seconds
                    .map_or(world.archive.link_lifetime_ccc2, |s| {
                        Duration::from_secs(u64::from(s))
                    });
                let data = MonoRecording {
                    duration: first.duration.parse().unwrap_or_default(),
                    file_url: oss::oss_link(
                        &self.shared.endpoint,
                        ctx.instance_id,
                        &first.file_name,
                        self.shared.link_expires(&first.file_name, lifetime),
                    ),
                    file_name: first.file_name,
                };
                (self.data(Route::MonoRecording, data), 0)
            }
        })
    }

    /// A CCC 1.0 list body (wrapped or flat, as configured), with how many records it holds.
    fn list<R: Serialize>(
        &self,
        route: Route,
        page_number: u32,
        page_size: u32,
        records: Vec<R>,
        total_count: usize,
    ) -> (Vec<u8>, usize) {
        let served = records.len();
        let body = ListBody::new(
            &self.request_id,
            self.shared.world.shape,
            records,
            page_number,
            page_size,
            total_count,
        );
        (encode(self.format, &root(route), &body), served)
    }

    /// A CCC 2.0 body with `data` under `Data`.
    fn data<D: Serialize>(&self, route: Route, data: D) -> Vec<u8> {
        encode(
            self.format,
            &root(route),
            &DataBody::new(&self.request_id, data),
        )
    }

    fn ok(&self, body: Body) -> Response {
        let mut r = (StatusCode::OK, body).into_response();
        decorate(&mut r, self.format, &self.request_id);
        r
    }

    /// Promises the whole body, sends half, pauses so the client really receives it, then fails the
    /// stream, which makes the server drop the connection.
    fn reset(&self, body: Vec<u8>) -> Response {
        let full_length = body.len();
        let head = Bytes::copy_from_slice(&body[..full_length / 2]);
        let cut = futures::stream::iter([Ok(head)]).chain(futures::stream::once(async {
            tokio::time::sleep(RESET_AFTER).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated connection reset",
            ))
        }));
        let mut r = self.ok(Body::from_stream(cut));
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(full_length));
        r
    }

    /// A scripted answer: `status` and `body` as given, labelled JSON.
    fn verbatim(&self, status: u16, body: String) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(Format::Json.content_type()),
        );
        r
    }

    fn error(&self, e: &ApiError) -> Response {
        self.shared
            .count(|s| *s.errors.entry(e.code.to_string()).or_default() += 1);
        let body = if self.ccc2 {
            e.ccc2_body(&self.request_id, self.host_id)
        } else {
            e.body(&self.request_id, self.host_id)
        };
        let body = encode(self.format, "Error", &body);
        let mut r = (e.status, body).into_response();
        decorate(&mut r, self.format, &self.request_id);
        if let Some(ms) = e.retry_after_ms {
            r.headers_mut()
                .insert("x-acs-retry-after", HeaderValue::from(ms));
        }
        r
    }
}

/// `GetMonoRecording`'s `Data`, shaped like `tests/fixtures/get-mono-recording-2020.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MonoRecording {
    /// Milliseconds, as an integer here.
    duration: u64,
    file_name: String,
    file_url: String,
}

/// The `Expires` of a link made now (real clock) that lives `lifetime`, in epoch seconds.
fn expires_in(lifetime: Duration) -> i64 {
    Utc::now().timestamp() + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2)
}

/// The XML document element of an action's answer.
fn root(route: Route) -> String {
    format!("{}Response", route.action())
}

fn decorate(response: &mut Response, format: Format, request_id: &str) {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", id);
    }
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(Format::Json.content_type()),
    );
    r
}

/// Whether `ip` is this machine talking to itself (IPv4-mapped IPv6 included).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

#[derive(Debug, Deserialize)]
struct TruthQuery {
    at: Option<String>,
    agent: Option<String>,
    view: Option<String>,
}

/// `at` as epoch milliseconds or RFC 3339.
fn parse_at(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

async fn truth(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<TruthQuery>,
) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        json(
            status,
            &serde_json::json!({"Code": status.canonical_reason(), "Message": message}),
        )
    };
    if !is_loopback(peer.ip()) {
        tracing::warn!(%peer, "Ground truth refused to a non-loopback peer");
        return refuse(
            StatusCode::FORBIDDEN,
            "the ground truth is served to loopback peers only",
        );
    }
    let at_ms = match q.at.as_deref() {
        None | Some("") => shared.world.clock.now_ms(),
        Some(text) => match parse_at(text) {
            Some(ms) => ms,
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "at must be epoch milliseconds or RFC 3339",
                );
            }
        },
    };
    let view = match q.view.as_deref() {
        None | Some("") => TruthView::default(),
        Some(name) => match TruthView::parse(name) {
            Some(view) => view,
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "view must be agent, instance, ccc2 or files",
                );
            }
        },
    };
    let world = Arc::clone(&shared);
    let records = tokio::task::spawn_blocking(move || {
        world.world.truth_view(at_ms, q.agent.as_deref(), view)
    })
    .await;
    match records {
        Ok(records) => json(
            StatusCode::OK,
            &serde_json::json!({"at": at_ms, "records": records}),
        ),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// An OSS error: XML, `Content-Type: application/xml`, `x-oss-request-id`.
fn oss_error(status: StatusCode, code: &str, message: &str, extra: &[(&str, String)]) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let mut fields = serde_json::Map::new();
    fields.insert("Code".into(), code.into());
    fields.insert("Message".into(), message.into());
    fields.insert("RequestId".into(), request_id.clone().into());
    fields.insert("HostId".into(), OSS_HOST_ID.into());
    for (name, value) in extra {
        fields.insert((*name).into(), value.clone().into());
    }
    let body = encode(Format::Xml, "Error", &serde_json::Value::Object(fields));
    let mut r = (status, body).into_response();
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-oss-request-id", id);
    }
    r
}

/// `GET /_oss/<instance>/<file name>?Expires=&OSSAccessKeyId=&Signature=`: checks the link against the
/// real clock, then serves the file's bytes in chunks (or 404 `NoSuchKey` if the service deleted it).
async fn oss_file(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    shared.count(|s| s.downloads.total += 1);
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let path = uri.path().strip_prefix("/_oss/").unwrap_or_default();
    let (instance_id, file_name) = path
        .split_once('/')
        .map(|(i, f)| (decode(i), decode(f)))
        .unwrap_or_default();
    let key = oss::object_key(&instance_id, &file_name);
    let mut params = Params::default();
    params.extend_from_encoded(uri.query().unwrap_or(""));
    let checked = oss::check_link(
        &key,
        params.get("Expires"),
        params.get("OSSAccessKeyId"),
        params.get("Signature"),
        Utc::now().timestamp(),
    );
    if let Err(e) = checked {
        let (code, message, extra) = match e {
            LinkError::Expired { expires_s } => {
                shared.count(|s| s.downloads.expired += 1);
                let at = |t: i64| {
                    DateTime::<Utc>::from_timestamp(t, 0)
                        .unwrap_or_default()
                        .format("%Y-%m-%dT%H:%M:%S.000Z")
                        .to_string()
                };
                (
                    "AccessDenied",
                    "Request has expired.",
                    vec![
                        ("Expires", at(expires_s)),
                        ("ServerTime", at(Utc::now().timestamp())),
                    ],
                )
            }
            LinkError::SignatureMismatch { string_to_sign } => {
                shared.count(|s| s.downloads.tampered += 1);
                (
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                    vec![
                        ("OSSAccessKeyId", oss::OSS_ACCESS_KEY_ID.to_owned()),
                        ("StringToSign", string_to_sign),
                    ],
                )
            }
            LinkError::UnknownKey(id) => {
                shared.count(|s| s.downloads.tampered += 1);
                (
                    "InvalidAccessKeyId",
                    "The OSS Access Key Id you provided does not exist in our records.",
                    vec![("OSSAccessKeyId", id)],
                )
            }
            LinkError::Incomplete => {
                shared.count(|s| s.downloads.tampered += 1);
                (
                    "AccessDenied",
                    "Expires and Signature are both needed to access this object.",
                    Vec::new(),
                )
            }
        };
        tracing::debug!(code, key, "Recording link refused");
        return oss_error(StatusCode::FORBIDDEN, code, message, &extra);
    }
    let world = &shared.world;
    let file = world
        .instance_index(&instance_id)
        .and_then(|i| world.recording(i, &file_name, world.clock.now_ms()))
        .filter(|f| !f.deleted);
    let Some(file) = file else {
        shared.count(|s| s.downloads.not_found += 1);
        tracing::debug!(key, "Recording file not found or deleted");
        return oss_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            &[("Key", key)],
        );
    };
    let (slow, reset) = shared.archive_faults();
    let content = world.archive.content(&file.file_name, file.duration_s);
    let slow_for = slow.then_some(shared.faults.slow_for);
    tracing::debug!(
        key,
        size = content.size(),
        slow,
        reset,
        "Recording file served"
    );
    let mut r = (
        StatusCode::OK,
        Body::from_stream(file_body(Arc::clone(&shared), content, slow_for, reset)),
    )
        .into_response();
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(oss::content_type(&file.file_name)),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(content.size()));
    r
}

/// The file's bytes in chunks of [`CHUNK_BYTES`], after `slow_for` if given; a reset one stops after half
/// of them, pauses, then fails, which drops the connection.
fn file_body(
    shared: Arc<Shared>,
    content: Content,
    slow_for: Option<Duration>,
    reset: bool,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> {
    let size = content.size();
    let cut = if reset { size / 2 } else { size };
    futures::stream::unfold(Some(0u64), move |state| {
        let shared = Arc::clone(&shared);
        async move {
            let offset = state?;
            if offset == 0
                && let Some(wait) = slow_for
            {
                tokio::time::sleep(wait).await;
            }
            if offset < cut {
                let end = (offset + CHUNK_BYTES).min(cut);
                let chunk = Bytes::from(content.bytes(offset..end));
                shared.count(|s| {
                    s.downloads.bytes += end - offset;
                    s.downloads.served += u64::from(end == size);
                });
                return Some((Ok(chunk), Some(end)));
            }
            if offset < size {
                tokio::time::sleep(RESET_AFTER).await;
                let e = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated connection reset",
                );
                return Some((Err(e), None));
            }
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_are_loopback() {
        for ip in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "192.168.1.2",
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "fe80::1",
        ] {
            assert!(!is_loopback(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn at_is_epoch_milliseconds_or_rfc3339() {
        assert_eq!(parse_at("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_at("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            parse_at("2023-11-15T06:13:20+08:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_at("yesterday"), None);
    }
}
