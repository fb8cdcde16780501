//! What the API gateway does before the action runs: collect the parameters (query ∪ form body), require the
//! common ones, route (`Action`, `Version`) to a [`Route`], find the AccessKey, check the `Timestamp` against
//! the real clock, verify signature v1 with the project's one signer, and refuse a reused `SignatureNonce`.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;
use secrecy::SecretString;

use super::AccessKey;
use super::response::ApiError;

use ccc_signature::{canonical_query, sign, string_to_sign};

/// The agent workbench's action, and the CCC 1.0 API version it belongs to.
pub const ACTION: &str = "ListRecentCallRecords";
pub const API_VERSION: &str = "2017-07-05";
/// The CCC 2.0 API version.
pub const CCC2_API_VERSION: &str = "2020-07-01";
/// The whole-instance list, in both versions (`docs/ccc-whole-instance.md` §1, §2).
pub const LIST_CALL_DETAIL_RECORDS: &str = "ListCallDetailRecords";
/// One call's detail with its events (CCC 2.0).
pub const GET_CALL_DETAIL_RECORD: &str = "GetCallDetailRecord";
/// One call's recording files with download links (CCC 2.0).
pub const LIST_MONO_RECORDINGS: &str = "ListMonoRecordings";
/// One recording file's download link by its name (CCC 1.0).
pub const DOWNLOAD_RECORDING: &str = "DownloadRecording";
/// A call's (first) recording file with its download link (CCC 2.0).
pub const GET_MONO_RECORDING: &str = "GetMonoRecording";

/// An action of one API version the simulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// `ListRecentCallRecords` 2017-07-05: the signing agent's calls (or all, for an unbound key).
    RecentCallRecords,
    /// `ListCallDetailRecords` 2017-07-05: every call of the instance, CCC 1.0 records.
    InstanceCallRecords,
    /// `ListCallDetailRecords` 2020-07-01: every call of the instance, CCC 2.0 records.
    CallDetailRecords,
    /// `GetCallDetailRecord` 2020-07-01.
    CallDetailRecord,
    /// `ListMonoRecordings` 2020-07-01.
    MonoRecordings,
    /// `DownloadRecording` 2017-07-05.
    DownloadRecording,
    /// `GetMonoRecording` 2020-07-01.
    MonoRecording,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::RecentCallRecords,
        Route::InstanceCallRecords,
        Route::CallDetailRecords,
        Route::CallDetailRecord,
        Route::MonoRecordings,
        Route::DownloadRecording,
        Route::MonoRecording,
    ];

    pub fn action(self) -> &'static str {
        match self {
            Route::RecentCallRecords => ACTION,
            Route::InstanceCallRecords | Route::CallDetailRecords => LIST_CALL_DETAIL_RECORDS,
            Route::CallDetailRecord => GET_CALL_DETAIL_RECORD,
            Route::MonoRecordings => LIST_MONO_RECORDINGS,
            Route::DownloadRecording => DOWNLOAD_RECORDING,
            Route::MonoRecording => GET_MONO_RECORDING,
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Route::RecentCallRecords | Route::InstanceCallRecords | Route::DownloadRecording => {
                API_VERSION
            }
            Route::CallDetailRecords
            | Route::CallDetailRecord
            | Route::MonoRecordings
            | Route::MonoRecording => CCC2_API_VERSION,
        }
    }

    /// The route of (`action`, `version`): an unknown version is `InvalidVersion`, an action that version
    /// does not have is `InvalidAction.NotFound`, as the POP gateway answers.
    pub fn find(action: Option<&str>, version: Option<&str>) -> Result<Route, ApiError> {
        if !Route::ALL.iter().any(|r| Some(r.version()) == version) {
            return Err(ApiError::invalid_version());
        }
        Route::ALL
            .into_iter()
            .find(|r| Some(r.action()) == action && Some(r.version()) == version)
            .ok_or_else(ApiError::action_not_found)
    }

    /// Whether only an instance admin (a key bound to no agent) may call it.
    pub fn admin_only(self) -> bool {
        self != Route::RecentCallRecords
    }
}

/// How far a request's `Timestamp` may be from the real clock.
pub const TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(15 * 60);
/// How long a nonce is remembered: as long as its request could still pass the timestamp check.
const NONCE_TTL: Duration = Duration::from_secs(15 * 60);
/// At most this many nonces are remembered; past it the oldest are forgotten early.
const NONCE_CAPACITY: usize = 500_000;

/// The common parameters every request must carry, in the order they are checked.
const COMMON: [&str; 8] = [
    "Action",
    "Version",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "Signature",
];

/// A request's parameters, query and form body together, in arrival order, empty values kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Adds `a=1&b=&c` pairs decoded as `application/x-www-form-urlencoded` (`+` is a space).
    pub fn extend_from_encoded(&mut self, encoded: &str) {
        let decode = |s: &str| {
            let spaced = s.replace('+', " ");
            percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
        };
        for pair in encoded.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            self.0.push((decode(k), decode(v)));
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-empty value of `name`, or `Missing<name>`.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::missing(name))
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// A request the gateway let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub access_key_id: String,
    /// The agent the key is bound to, if any.
    pub agent: Option<String>,
    /// The action it asks for.
    pub route: Route,
}

struct Key {
    id: String,
    secret: SecretString,
    agent: Option<String>,
}

/// The gateway's state: the keys it knows and the nonces it has seen.
pub struct Gateway {
    keys: Vec<Key>,
    nonces: Mutex<NonceCache>,
}

impl Gateway {
    pub fn new(keys: &[AccessKey]) -> Gateway {
        Gateway {
            keys: keys
                .iter()
                .map(|k| Key {
                    id: k.id.clone(),
                    secret: SecretString::from(k.secret.clone()),
                    agent: k.agent.clone(),
                })
                .collect(),
            nonces: Mutex::new(NonceCache::new(NONCE_TTL, NONCE_CAPACITY)),
        }
    }

    /// Runs every gateway check on a request made with `method`, at the real time `real_now`.
    pub fn admit(
        &self,
        method: &str,
        params: &Params,
        real_now: DateTime<Utc>,
    ) -> Result<Admitted, ApiError> {
        for name in COMMON {
            params.required(name)?;
        }
        let route = Route::find(params.get("Action"), params.get("Version"))?;
        let key_id = params.required("AccessKeyId")?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(ApiError::key_not_found)?;
        let server_string_to_sign = string_to_sign(method, &canonical_query(params.pairs()));
        if params.get("SignatureMethod") != Some("HMAC-SHA1")
            || params.get("SignatureVersion") != Some("1.0")
        {
            return Err(ApiError::incomplete_signature(&server_string_to_sign));
        }
        let timestamp = parse_timestamp(params.required("Timestamp")?)?;
        let skew = (real_now - timestamp)
            .abs()
            .to_std()
            .unwrap_or(Duration::MAX);
        if skew > TIMESTAMP_TOLERANCE {
            return Err(ApiError::timestamp_expired());
        }
        if params.get("Signature") != Some(sign(&key.secret, &server_string_to_sign).as_str()) {
            return Err(ApiError::signature_mismatch(&server_string_to_sign));
        }
        let nonce = params.required("SignatureNonce")?;
        let fresh = self
            .nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(format!("{key_id}\n{nonce}"), Instant::now());
        if !fresh {
            return Err(ApiError::nonce_used());
        }
        Ok(Admitted {
            access_key_id: key.id.clone(),
            agent: key.agent.clone(),
            route,
        })
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` as the SDKs send it; full RFC 3339 is accepted too.
fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, ApiError> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| t.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(text).map(|t| t.to_utc()))
        .map_err(|_| ApiError::timestamp_format())
}

/// Nonces seen in the last `ttl`, bounded to `capacity` entries.
pub struct NonceCache {
    ttl: Duration,
    capacity: usize,
    seen: HashSet<Arc<str>>,
    order: VecDeque<(Instant, Arc<str>)>,
}

impl NonceCache {
    pub fn new(ttl: Duration, capacity: usize) -> NonceCache {
        NonceCache {
            ttl,
            capacity,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Records `nonce` as used at `now`; false if it was already used within the ttl.
    pub fn insert(&mut self, nonce: String, now: Instant) -> bool {
        while let Some((at, oldest)) = self.order.front() {
            let expired = now.duration_since(*at) > self.ttl;
            if !expired && self.order.len() < self.capacity {
                break;
            }
            self.seen.remove(oldest);
            self.order.pop_front();
        }
        let nonce: Arc<str> = nonce.into();
        if !self.seen.insert(Arc::clone(&nonce)) {
            return false;
        }
        self.order.push_back((now, nonce));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn key() -> AccessKey {
        AccessKey {
            id: "testid".into(),
            secret: "testsecret".into(),
            agent: None,
        }
    }

    /// The official SDK wire captures from the signature vectors, as (method, query, body, timestamp).
    fn captures() -> Vec<(String, Params, DateTime<Utc>)> {
        let doc: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/signature-vectors.json"
        ))
        .expect("json");
        doc["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .filter(|v| v["query"].is_string())
            .map(|v| {
                let mut params = Params::default();
                params.extend_from_encoded(v["query"].as_str().expect("query"));
                params.extend_from_encoded(v["body"].as_str().unwrap_or(""));
                let ts = parse_timestamp(params.get("Timestamp").expect("ts")).expect("ts");
                (v["method"].as_str().expect("method").to_owned(), params, ts)
            })
            .collect()
    }

    #[test]
    fn the_official_sdk_captures_are_admitted_with_their_extra_params() {
        let caps = captures();
        assert_eq!(caps.len(), 2, "the Tea and the classic capture");
        for (method, params, ts) in caps {
            let gateway = Gateway::new(&[key()]);
            let admitted = gateway.admit(&method, &params, ts).expect("admitted");
            assert_eq!(admitted.access_key_id, "testid");
        }
    }

    #[test]
    fn a_replayed_nonce_is_refused_but_another_key_may_use_it() {
        let (method, params, ts) = captures().remove(0);
        let gateway = Gateway::new(&[key()]);
        gateway.admit(&method, &params, ts).expect("first");
        let again = gateway.admit(&method, &params, ts).expect_err("replay");
        assert_eq!(again.code, "SignatureNonceUsed");
        let mut cache = NonceCache::new(NONCE_TTL, 10);
        let now = Instant::now();
        assert!(cache.insert("a\nn".into(), now));
        assert!(cache.insert("b\nn".into(), now));
        assert!(!cache.insert("a\nn".into(), now));
    }

    #[test]
    fn the_timestamp_is_checked_against_the_real_clock_within_fifteen_minutes() {
        let (method, params, ts) = captures().remove(0);
        let gateway = Gateway::new(&[key()]);
        let late = ts + chrono::Duration::minutes(16);
        assert_eq!(
            gateway
                .admit(&method, &params, late)
                .expect_err("expired")
                .code,
            "InvalidTimeStamp.Expired"
        );
        let early = ts - chrono::Duration::minutes(14);
        assert!(gateway.admit(&method, &params, early).is_ok());
    }

    #[test]
    fn a_changed_method_or_param_is_a_mismatch_that_shows_the_servers_string_to_sign() {
        let (_, params, ts) = captures().remove(0);
        let e = Gateway::new(&[key()])
            .admit("GET", &params, ts)
            .expect_err("mismatch");
        assert_eq!(e.code, "SignatureDoesNotMatch");
        let expected = string_to_sign("GET", &canonical_query(params.pairs()));
        assert!(
            e.message
                .ends_with(&format!("server string to sign is:{expected}"))
        );
    }

    #[test]
    fn gateway_errors_use_the_real_codes() {
        let (method, params, ts) = captures().remove(0);
        let unknown = Gateway::new(&[AccessKey {
            id: "other".into(),
            ..key()
        }]);
        let e = unknown
            .admit(&method, &params, ts)
            .expect_err("unknown key");
        assert_eq!(
            (e.status.as_u16(), e.code.as_ref()),
            (404, "InvalidAccessKeyId.NotFound")
        );

        let with = |name: &str, value: &str| {
            let mut p = Params::default();
            for (k, v) in params.pairs() {
                p.0.push((
                    k.to_owned(),
                    if k == name {
                        value.to_owned()
                    } else {
                        v.to_owned()
                    },
                ));
            }
            Gateway::new(&[key()])
                .admit(&method, &p, ts)
                .expect_err("refused")
        };
        assert_eq!(with("Version", "2019-01-01").code, "InvalidVersion");
        let action = with("Action", "DescribeInstance");
        assert_eq!(
            (action.status.as_u16(), action.code.as_ref()),
            (404, "InvalidAction.NotFound")
        );
        let other_version = with("Version", "2020-07-01");
        assert_eq!(
            other_version.code, "InvalidAction.NotFound",
            "ListRecentCallRecords is not a 2020-07-01 action"
        );
        assert_eq!(
            with("Timestamp", "yesterday").code,
            "InvalidTimeStamp.Format"
        );
        assert_eq!(
            with("SignatureMethod", "HMAC-SHA256").code,
            "IncompleteSignature"
        );
        let missing = with("SignatureNonce", "");
        assert_eq!(missing.code, "MissingSignatureNonce");
        assert_eq!(
            missing.message,
            "SignatureNonce is mandatory for this action."
        );
    }

    #[test]
    fn every_route_is_found_by_its_action_and_version() {
        for route in Route::ALL {
            assert_eq!(
                Route::find(Some(route.action()), Some(route.version())),
                Ok(route)
            );
        }
        let get_1_0 = Route::find(Some(GET_CALL_DETAIL_RECORD), Some(API_VERSION));
        assert_eq!(
            get_1_0.expect_err("no such pair").code,
            "InvalidAction.NotFound"
        );
        assert_eq!(
            Route::find(Some(LIST_CALL_DETAIL_RECORDS), Some(CCC2_API_VERSION)),
            Ok(Route::CallDetailRecords)
        );
        assert!(!Route::RecentCallRecords.admin_only());
        assert!(Route::MonoRecordings.admin_only());
        assert!(Route::DownloadRecording.admin_only() && Route::MonoRecording.admin_only());
    }

    #[test]
    fn the_nonce_cache_forgets_expired_nonces_and_stays_bounded() {
        let mut cache = NonceCache::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        assert!(cache.insert("a".into(), t0));
        assert!(!cache.insert("a".into(), t0 + Duration::from_secs(59)));
        assert!(
            cache.insert("a".into(), t0 + Duration::from_secs(61)),
            "expired"
        );
        let t1 = t0 + Duration::from_secs(62);
        for n in ["b", "c", "d", "e"] {
            assert!(cache.insert(n.into(), t1));
        }
        assert!(!cache.insert("e".into(), t1), "the newest are kept");
        assert!(
            cache.insert("b".into(), t1),
            "the oldest was forgotten to stay at 3"
        );
    }

    #[test]
    fn form_decoding_keeps_empty_values_and_reads_plus_as_space() {
        let mut p = Params::default();
        p.extend_from_encoded("SignatureType=&a=b+c%2B&flag");
        assert_eq!(p.get("SignatureType"), Some(""));
        assert_eq!(p.get("a"), Some("b c+"));
        assert_eq!(p.get("flag"), Some(""));
    }
}
