//! AccessKey credentials and where they come from: keys fixed at start-up, secret files re-read for each
//! request, or temporary STS credentials (`sts` for OIDC / RRSA, `ecs` for an ECS RAM role) cached and
//! fetched again [`REFRESH_MARGIN`] before they expire. [`chain`] finds them the way the official SDKs do
//! when a source names no keys.
//!
//! The secret and the STS token are [`SecretString`]s: their `Debug` prints `[REDACTED]`, and the only
//! place they are exposed is the signer and the request builder. Errors never carry them either.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::time::Instant;

pub(crate) mod chain;
mod ecs;
mod profiles;
mod sts;

pub(crate) use ecs::EcsRamRole;
pub(crate) use sts::OidcRole;

/// Temporary credentials are replaced this long before they expire, as the official SDKs do.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(15 * 60);

/// One set of credentials, ready to sign with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: SecretString,
    /// Present with STS credentials; sent as `SecurityToken`.
    pub security_token: Option<SecretString>,
}

/// Where a source's credentials are read from, each time a request is signed. Cheap to clone; clones of
/// a [`CredentialProvider::Temporary`] share one cache.
#[derive(Debug, Clone)]
pub enum CredentialProvider {
    /// Fixed at start-up (from the config, the environment or a profile file).
    Static(Credentials),
    /// Files re-read for each request, so a rotated Kubernetes secret or systemd credential is picked up.
    Files {
        access_key_id: String,
        secret_file: PathBuf,
        token_file: Option<PathBuf>,
    },
    /// Temporary credentials from a token service, fetched on first use and again before they expire.
    Temporary(Arc<Temporary>),
}

impl CredentialProvider {
    /// A provider of temporary credentials from `service`, fetched on first use.
    pub(crate) fn temporary(service: TokenService) -> Self {
        CredentialProvider::Temporary(Arc::new(Temporary {
            service,
            http: tokio::sync::OnceCell::new(),
            cached: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    /// The credentials to sign the next request with.
    pub async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        match self {
            CredentialProvider::Static(c) => Ok(c.clone()),
            CredentialProvider::Files {
                access_key_id,
                secret_file,
                token_file,
            } => Ok(Credentials {
                access_key_id: access_key_id.clone(),
                access_key_secret: read_secret(secret_file)?,
                security_token: token_file.as_deref().map(read_secret).transpose()?,
            }),
            CredentialProvider::Temporary(t) => t.credentials().await,
        }
    }

    /// Forgets cached temporary credentials, so the next request fetches new ones; called when the
    /// service answers `InvalidSecurityToken.Expired`. Fixed keys and files have nothing cached.
    pub(crate) fn invalidate(&self) {
        if let CredentialProvider::Temporary(t) = self {
            *t.cached.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    /// The AccessKey id when it is known before the first request (an identifier, not a secret).
    pub(crate) fn access_key_id(&self) -> Option<&str> {
        match self {
            CredentialProvider::Static(c) => Some(&c.access_key_id),
            CredentialProvider::Files { access_key_id, .. } => Some(access_key_id),
            CredentialProvider::Temporary(_) => None,
        }
    }
}

/// For `ccc-sync check` and logs: which key, or which service hands it out. Never a secret.
impl fmt::Display for CredentialProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialProvider::Static(c) => write!(f, "AccessKey {}", c.access_key_id),
            CredentialProvider::Files {
                access_key_id,
                secret_file,
                ..
            } => write!(
                f,
                "AccessKey {access_key_id}, secret read from {}",
                secret_file.display()
            ),
            CredentialProvider::Temporary(t) => write!(f, "{}", t.service),
        }
    }
}

/// A service that hands out temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenService {
    Oidc(OidcRole),
    EcsRamRole(EcsRamRole),
}

impl TokenService {
    fn provider_name(&self) -> &'static str {
        match self {
            TokenService::Oidc(_) => sts::PROVIDER,
            TokenService::EcsRamRole(_) => ecs::PROVIDER,
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Fetched, CredentialsError> {
        match self {
            TokenService::Oidc(role) => role.fetch(http).await,
            TokenService::EcsRamRole(role) => role.fetch(http).await,
        }
    }

    /// Its own client: the metadata service wants 1 s timeouts and no proxy. Connections are not kept,
    /// as the next fetch is most of an hour away.
    fn http_client(&self) -> Result<reqwest::Client, CredentialsError> {
        let builder = reqwest::Client::builder()
            .user_agent(super::identity::user_agent())
            .pool_max_idle_per_host(0);
        let builder = match self {
            TokenService::Oidc(_) => builder
                .connect_timeout(sts::CONNECT_TIMEOUT)
                .read_timeout(sts::READ_TIMEOUT),
            TokenService::EcsRamRole(_) => builder
                .connect_timeout(ecs::TIMEOUT)
                .read_timeout(ecs::TIMEOUT)
                .no_proxy(),
        };
        builder.build().map_err(|e| CredentialsError {
            provider: self.provider_name(),
            endpoint: self.to_string(),
            detail: format!("cannot build an HTTP client: {}", error_chain(&e)),
            fix: "check the TLS set-up of this machine (CA certificates)".into(),
            transient: false,
        })
    }
}

impl fmt::Display for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenService::Oidc(role) => write!(
                f,
                "OIDC role {} via {}",
                role.role_arn,
                role.endpoint.as_str().trim_end_matches('/')
            ),
            TokenService::EcsRamRole(role) => write!(
                f,
                "ECS RAM role {} via {}",
                role.role.as_deref().unwrap_or("(attached to the instance)"),
                role.endpoint.as_str().trim_end_matches('/')
            ),
        }
    }
}

/// The cache in front of a [`TokenService`].
pub struct Temporary {
    service: TokenService,
    /// Built on first use, so loading the configuration does no network set-up.
    http: tokio::sync::OnceCell<reqwest::Client>,
    cached: Mutex<Option<Cached>>,
    /// Held while fetching: requests that find the cache stale together wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

/// Shows the service only; the cached credentials stay out of logs even though they are redacted.
impl fmt::Debug for Temporary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Temporary")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

struct Cached {
    credentials: Credentials,
    /// On tokio's clock, so a test can move time forward and a wall-clock step cannot.
    refresh_at: Instant,
}

impl Temporary {
    async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let _one_fetch = self.fetching.lock().await;
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let http = self
            .http
            .get_or_try_init(|| async { self.service.http_client() })
            .await?;
        let fetched = self.service.fetch(http).await?;
        tracing::info!(
            credentials = %self.service, access_key_id = %fetched.credentials.access_key_id,
            expires_at = %fetched.expiration.to_rfc3339(), "Fetched temporary credentials"
        );
        let refresh_at = refresh_at(fetched.expiration, Utc::now(), Instant::now());
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            credentials: fetched.credentials.clone(),
            refresh_at,
        });
        Ok(fetched.credentials)
    }

    fn fresh(&self) -> Option<Credentials> {
        let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.credentials.clone())
    }
}

/// When credentials expiring at `expiration` are replaced: [`REFRESH_MARGIN`] before then, carried over
/// from the wall clock (`now_wall`) to the monotonic one (`now`). Pure.
fn refresh_at(expiration: DateTime<Utc>, now_wall: DateTime<Utc>, now: Instant) -> Instant {
    let left = (expiration - now_wall).to_std().unwrap_or_default();
    now + left.saturating_sub(REFRESH_MARGIN)
}

/// Temporary credentials as a token service answered them.
#[derive(Debug)]
struct Fetched {
    credentials: Credentials,
    expiration: DateTime<Utc>,
}

/// The four keys STS (under `Credentials`) and the metadata service (at the top) answer with. Every field
/// is optional so a missing one is named in the error, rather than echoed by serde.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TemporaryKeys {
    access_key_id: Option<String>,
    access_key_secret: Option<SecretString>,
    security_token: Option<SecretString>,
    expiration: Option<String>,
}

impl TemporaryKeys {
    fn into_fetched(self) -> Result<Fetched, String> {
        let missing = |name: &str| format!("the answer has no {name}");
        let access_key_id = self
            .access_key_id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("AccessKeyId"))?;
        let access_key_secret = self
            .access_key_secret
            .ok_or_else(|| missing("AccessKeySecret"))?;
        let security_token = self
            .security_token
            .ok_or_else(|| missing("SecurityToken"))?;
        let expiration = self.expiration.ok_or_else(|| missing("Expiration"))?;
        let expiration = DateTime::parse_from_rfc3339(&expiration)
            .map_err(|e| format!("Expiration {expiration:?} is not an RFC 3339 time ({e})"))?
            .to_utc();
        Ok(Fetched {
            credentials: Credentials {
                access_key_id,
                access_key_secret,
                security_token: Some(security_token),
            },
            expiration,
        })
    }
}

/// Why credentials could not be had: which provider, where it looked, and what to do. Holds no secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider} failed ({endpoint}): {detail}. Fix: {fix}")]
pub struct CredentialsError {
    pub provider: &'static str,
    /// The URL without its query (which may carry an OIDC token), or the file that was read.
    pub endpoint: String,
    pub detail: String,
    pub fix: String,
    /// A network failure or a server fault: the same fetch may succeed later.
    pub transient: bool,
}

impl CredentialsError {
    /// Whether the same fetch may succeed later (a network failure or a server fault).
    pub fn is_retryable(&self) -> bool {
        self.transient
    }
}

/// A failed exchange with a token service, before the service adds its name, endpoint and fix.
#[derive(Debug)]
struct Failure {
    detail: String,
    transient: bool,
}

impl Failure {
    /// 5xx and 429 may pass; other statuses will not.
    fn status(status: u16, detail: String) -> Failure {
        Failure {
            detail,
            transient: status >= 500 || status == 429,
        }
    }
}

/// Sends a request and reads the whole answer. A failure to get one is transient; its text comes
/// without the URL, whose query may hold an OIDC token.
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), Failure> {
    let failed = |e: reqwest::Error| Failure {
        detail: error_chain(&e.without_url()),
        transient: true,
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(failed)?;
    Ok((status, body.to_vec()))
}

/// An error and its causes on one line: reqwest's own text alone says only "error sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Where a JSON text went wrong, without serde's description, which can quote the value it read.
fn json_error(e: &serde_json::Error) -> String {
    format!(
        "not the expected JSON ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// Reads a secret file, trimming the trailing newline editors and `echo` leave.
pub(crate) fn read_secret(path: &Path) -> Result<SecretString, CredentialsError> {
    let failed = |detail: String| CredentialsError {
        provider: "secret file",
        endpoint: path.display().to_string(),
        detail,
        fix: "make access_key_secret_file / security_token_file readable by ccc-sync and non-empty"
            .into(),
        transient: false,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot read it: {e}")))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(failed("it is empty".into()));
    }
    Ok(SecretString::from(trimmed))
}

/// True when the two secrets are equal, for the tests.
#[cfg(test)]
pub(crate) fn same_secret(a: &SecretString, b: &str) -> bool {
    secrecy::ExposeSecret::expose_secret(a) == b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").to_utc()
    }

    #[test]
    fn debug_output_never_shows_the_secret_or_token() {
        let c = Credentials {
            access_key_id: "LTAI-id".into(),
            access_key_secret: SecretString::from("s3cr3t-VALUE"),
            security_token: Some(SecretString::from("sts-TOKEN")),
        };
        let shown = format!("{:?}", CredentialProvider::Static(c));
        assert!(shown.contains("LTAI-id"));
        assert!(!shown.contains("s3cr3t-VALUE"));
        assert!(!shown.contains("sts-TOKEN"));
    }

    #[tokio::test]
    async fn secret_files_are_trimmed_and_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "first\n").expect("write");
        let p = CredentialProvider::Files {
            access_key_id: "id".into(),
            secret_file: path.clone(),
            token_file: None,
        };
        assert!(same_secret(
            &p.credentials().await.expect("creds").access_key_secret,
            "first"
        ));
        std::fs::write(&path, "second").expect("write");
        assert!(same_secret(
            &p.credentials().await.expect("creds").access_key_secret,
            "second"
        ));
        std::fs::write(&path, "\n").expect("write");
        let err = p.credentials().await.expect_err("empty");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn credentials_are_replaced_fifteen_minutes_before_they_expire() {
        let now = Instant::now();
        let wall = at("2026-11-24T06:00:00Z");
        assert_eq!(
            refresh_at(at("2026-11-24T07:00:00Z"), wall, now),
            now + Duration::from_secs(45 * 60)
        );
        assert_eq!(
            refresh_at(at("2026-11-24T06:10:00Z"), wall, now),
            now,
            "inside the margin: replaced at once"
        );
        assert_eq!(
            refresh_at(at("2026-11-24T05:00:00Z"), wall, now),
            now,
            "already expired"
        );
    }

    #[test]
    fn temporary_keys_need_all_four_fields() {
        let keys: TemporaryKeys = serde_json::from_str(
            r#"{"AccessKeyId":"STS.id","AccessKeySecret":"sec","SecurityToken":"tok","Expiration":"2026-11-24T07:00:00Z"}"#,
        )
        .expect("json");
        let fetched = keys.into_fetched().expect("complete");
        assert_eq!(fetched.credentials.access_key_id, "STS.id");
        assert_eq!(fetched.expiration, at("2026-11-24T07:00:00Z"));
        let partial: TemporaryKeys =
            serde_json::from_str(r#"{"AccessKeyId":"STS.id","AccessKeySecret":"sec"}"#)
                .expect("json");
        assert_eq!(
            partial.into_fetched().expect_err("partial"),
            "the answer has no SecurityToken"
        );
    }

    #[test]
    fn json_errors_do_not_quote_what_they_read() {
        let e = serde_json::from_str::<TemporaryKeys>(r#"{"AccessKeySecret": 12345678}"#)
            .expect_err("a number is not a secret");
        let shown = json_error(&e);
        assert!(!shown.contains("12345678"), "{shown}");
        assert!(shown.contains("line 1"), "{shown}");
    }
}
