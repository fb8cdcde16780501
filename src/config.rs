//! Typed settings: a TOML file, then `DATABASE_URL`, then `CCC_SYNC__…` environment overrides, validated
//! into ready values. Every error names the key, the value and the fix, and all of them are reported at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

use crate::ccc::credentials::chain::{self, Found, NotFound};
use crate::ccc::{ClientSettings, CredentialProvider, Credentials};
use crate::pii::{PhoneNumberMode, PhoneNumbers};

/// The prefix of environment overrides: `CCC_SYNC__SOURCES__0__LOOKBACK=3h` sets `sources[0].lookback`.
pub const ENV_PREFIX: &str = "CCC_SYNC__";

/// Everything the daemon needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub sources: Vec<SourceSettings>,
    /// Where `/livez`, `/readyz` and `/metrics` are served; off when absent.
    pub server_listen: Option<std::net::SocketAddr>,
    /// The IANA zone whose days the BI views count in; written to `ccc.settings` at start-up.
    pub business_time_zone: String,
}

#[derive(Clone)]
pub struct DatabaseSettings {
    /// Parsed connection options; the password inside never prints.
    pub connect: PgConnectOptions,
    /// The URL with any password replaced, for logs.
    pub display_url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// `PgConnectOptions` prints its password in `Debug`; this shows the redacted URL instead.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.display_url)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// One stream of call records: an instance seen through one set of credentials.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Names the source in logs, metrics and `ccc.sync_state`.
    pub name: String,
    pub instance_id: String,
    pub client: ClientSettings,
    pub credentials: CredentialProvider,
    /// Where the watermark starts before the first pass.
    pub start_from: StartFrom,
    /// How far before the watermark each pass starts again, to catch calls written late.
    pub lookback: Duration,
    /// Time between two passes in `run`.
    pub interval: Duration,
    /// The longest window fetched and committed as one unit; longer spans are split, oldest first.
    pub chunk: Duration,
    pub page_size: u32,
    /// The ceiling of the source's adaptive request rate ([`crate::rate`]), never exceeded.
    pub max_requests_per_second: f64,
    /// How long one request may keep being retried before the window fails.
    pub retry_for: Duration,
    /// How often to re-sync `reconcile_span` to catch changes later than the lookback; `None` turns it off.
    pub reconcile_every: Option<Duration>,
    pub reconcile_span: Duration,
    /// What happens to phone numbers before anything is written (`[warehouse] phone_numbers`).
    pub phone_numbers: PhoneNumbers,
}

/// The watermark of a source that has never synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    Ago(Duration),
    At(DateTime<Utc>),
}

impl StartFrom {
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            StartFrom::Ago(d) => {
                now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
            }
            StartFrom::At(t) => t.min(now),
        }
    }
}

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    /// Already redacted where the key holds a secret.
    pub value: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {}: {}. Fix: {}",
            self.key, self.value, self.problem, self.fix
        )
    }
}

/// Why the configuration cannot be used; lists every problem found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {detail}. Fix: {fix}")]
    Load {
        path: String,
        detail: String,
        fix: String,
    },
    #[error("invalid configuration in {path}:\n  {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid {
        path: String,
        problems: Vec<ConfigProblem>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    warehouse: RawWarehouse,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarehouse {
    business_time_zone: Option<String>,
    phone_numbers: Option<String>,
    phone_number_hash_key_file: Option<PathBuf>,
    phone_number_hash_key: Option<SecretString>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<SecretString>,
    max_connections: Option<u32>,
    acquire_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Option<String>,
    instance_id: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    start_from: Option<String>,
    lookback: Option<String>,
    interval: Option<String>,
    chunk: Option<String>,
    page_size: Option<u32>,
    max_requests_per_second: Option<f64>,
    retry_for: Option<String>,
    connect_timeout: Option<String>,
    read_timeout: Option<String>,
    reconcile_every: Option<String>,
    reconcile_span: Option<String>,
    access_key_id: Option<String>,
    access_key_secret: Option<SecretString>,
    access_key_secret_file: Option<PathBuf>,
    security_token_file: Option<PathBuf>,
}

/// The default ceiling of a source's adaptive request rate; README.md's `[[sources]]` table says why.
pub const DEFAULT_MAX_REQUESTS_PER_SECOND: f64 = 200.0;

const DURATION_FIX: &str =
    "write a duration with its unit, like \"90s\", \"15m\", \"2h\" or \"7d\"";

/// Loads `path`, applies the environment, validates. `env` is passed in so tests need not touch the process.
pub fn load(path: &Path, env: &[(String, String)]) -> Result<Settings, ConfigError> {
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(ConfigError::Load {
            path: shown,
            detail: "no such file".into(),
            fix: "pass --config PATH (or set CCC_SYNC_CONFIG) to a TOML file; README.md shows a minimal one".into(),
        });
    }
    let mut builder = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml));
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(url) = lookup("DATABASE_URL") {
        builder = builder
            .set_override("database.url", url)
            .map_err(|e| load_error(&shown, e))?;
    }
    for (name, value) in env {
        if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
            builder = builder
                .set_override(env_key(rest), value.clone())
                .map_err(|e| load_error(&shown, e))?;
        }
    }
    let raw: RawSettings = builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| load_error(&shown, e))?;
    validate(raw, &lookup).map_err(|problems| ConfigError::Invalid {
        path: shown,
        problems,
    })
}

fn load_error(path: &str, e: config::ConfigError) -> ConfigError {
    ConfigError::Load {
        path: path.to_owned(),
        detail: e.to_string(),
        fix: "correct the TOML (keys are listed in README.md; unknown keys are refused so typos surface)".into(),
    }
}

/// `SOURCES__0__LOOKBACK` becomes `sources[0].lookback`.
fn env_key(rest: &str) -> String {
    let mut key = String::new();
    for part in rest.split("__").map(str::to_ascii_lowercase) {
        if part.chars().all(|c| c.is_ascii_digit()) && !key.is_empty() {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&part);
        }
    }
    key
}

struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn add(
        &mut self,
        key: impl Into<String>,
        value: impl fmt::Display,
        problem: &str,
        fix: impl Into<String>,
    ) {
        self.0.push(ConfigProblem {
            key: key.into(),
            value: value.to_string(),
            problem: problem.to_owned(),
            fix: fix.into(),
        });
    }

    fn duration(
        &mut self,
        key: String,
        value: Option<&str>,
        default: &str,
        min: Duration,
    ) -> Duration {
        let text = value.unwrap_or(default);
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d >= min => d,
            Ok(_) => {
                self.add(
                    key,
                    format!("{text:?}"),
                    "is too short",
                    format!("use at least {}", humantime::format_duration(min)),
                );
                min
            }
            Err(_) => {
                self.add(key, format!("{text:?}"), "is not a duration", DURATION_FIX);
                min
            }
        }
    }
}

fn validate(
    raw: RawSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Vec<ConfigProblem>> {
    let mut p = Problems(Vec::new());
    let database = validate_database(raw.database, &mut p);
    if raw.sources.is_empty() {
        p.add(
            "sources",
            "[]",
            "no source is configured",
            "add a [[sources]] table with name and instance_id",
        );
    }
    // Resolved once, when a source first needs it, so keyless sources share one cache of STS credentials.
    let default_chain = std::cell::OnceCell::new();
    let default_chain = || {
        default_chain.get_or_init(|| {
            let resolved = chain::resolve(env);
            if let Ok(found) = &resolved {
                tracing::info!(
                    credentials = %found.origin,
                    access_key_id = found.provider.access_key_id().unwrap_or("(fetched on first use)"),
                    "Credentials found by the default chain"
                );
            }
            resolved
        })
    };
    let phone_numbers = validate_phone_numbers(&raw.warehouse, &mut p);
    let business_time_zone = raw
        .warehouse
        .business_time_zone
        .clone()
        .unwrap_or_else(|| "Asia/Shanghai".to_owned());
    let mut sources = Vec::new();
    for (i, s) in raw.sources.into_iter().enumerate() {
        let mut source = validate_source(i, s, &default_chain, &mut p);
        source.phone_numbers = phone_numbers.clone();
        if sources
            .iter()
            .any(|o: &SourceSettings| o.name == source.name)
        {
            p.add(
                format!("sources[{i}].name"),
                format!("{:?}", source.name),
                "is used by another source",
                "give every source its own name",
            );
        }
        sources.push(source);
    }
    let server_listen = raw.server.listen.and_then(|text| match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            p.add(
                "server.listen",
                format!("{text:?}"),
                "is not an address and port",
                "write it like \"0.0.0.0:9187\" or \"127.0.0.1:9187\"",
            );
            None
        }
    });
    match (p.0.is_empty(), database) {
        (true, Some(database)) => Ok(Settings {
            database,
            sources,
            server_listen,
            business_time_zone,
        }),
        _ => Err(p.0),
    }
}

fn validate_phone_numbers(w: &RawWarehouse, p: &mut Problems) -> PhoneNumbers {
    let text = w.phone_numbers.as_deref().unwrap_or("raw");
    let mode = match text.parse::<PhoneNumberMode>() {
        Ok(mode) => mode,
        Err(e) => {
            p.add(
                "warehouse.phone_numbers",
                format!("{text:?}"),
                &e.to_string(),
                "choose \"raw\", \"masked\" or \"hashed\"",
            );
            return PhoneNumbers::Raw;
        }
    };
    let key = match (&w.phone_number_hash_key, &w.phone_number_hash_key_file) {
        (Some(key), None) => Some(key.clone()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => Some(SecretString::from(text.trim())),
            Err(e) => {
                p.add(
                    "warehouse.phone_number_hash_key_file",
                    path.display(),
                    &format!("cannot be read ({e})"),
                    "point it at a readable file holding the key",
                );
                return PhoneNumbers::Raw;
            }
        },
        (Some(_), Some(_)) => {
            p.add(
                "warehouse.phone_number_hash_key",
                "[REDACTED]",
                "is set together with phone_number_hash_key_file",
                "keep only the file",
            );
            return PhoneNumbers::Raw;
        }
        (None, None) => None,
    };
    PhoneNumbers::new(mode, key).unwrap_or_else(|e| {
        p.add(
            "warehouse.phone_number_hash_key_file",
            "[REDACTED]",
            &e.to_string(),
            "write a random key of at least 32 bytes to a file, e.g. `openssl rand -hex 32`",
        );
        PhoneNumbers::Raw
    })
}

fn validate_database(raw: RawDatabase, p: &mut Problems) -> Option<DatabaseSettings> {
    let acquire_timeout = p.duration(
        "database.acquire_timeout".into(),
        raw.acquire_timeout.as_deref(),
        "10s",
        Duration::from_millis(100),
    );
    let max_connections = raw.max_connections.unwrap_or(4);
    if !(1..=100).contains(&max_connections) {
        p.add(
            "database.max_connections",
            max_connections,
            "must be between 1 and 100",
            "4 suits one daemon",
        );
    }
    let Some(url) = raw.url else {
        p.add("database.url", "(missing)", "no database is configured", "set database.url, DATABASE_URL or CCC_SYNC__DATABASE__URL to postgres://user@host:5432/db");
        return None;
    };
    match PgConnectOptions::from_str(url.expose_secret()) {
        Ok(connect) => Some(DatabaseSettings {
            connect,
            display_url: redact_url(url.expose_secret()),
            max_connections,
            acquire_timeout,
        }),
        Err(e) => {
            p.add(
                "database.url",
                redact_url(url.expose_secret()),
                &format!("is not a PostgreSQL URL ({e})"),
                "write it as postgres://user[:password]@host:5432/database[?sslmode=verify-full]",
            );
            None
        }
    }
}

/// Replaces the password of a URL with `[REDACTED]`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

/// The default credential chain's verdict, resolved on first call.
type DefaultChain<'a> = &'a dyn Fn() -> &'a Result<Found, NotFound>;

fn validate_source(
    i: usize,
    s: RawSource,
    default_chain: DefaultChain<'_>,
    p: &mut Problems,
) -> SourceSettings {
    let key = |k: &str| format!("sources[{i}].{k}");
    let name = s.name.clone().unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        p.add(
            key("name"),
            format!("{name:?}"),
            "must be a non-empty name of letters, digits, '-', '_' or '.'",
            "name the source, e.g. \"agent-1912\"",
        );
    }
    let instance_id = s.instance_id.clone().unwrap_or_default();
    if instance_id.trim().is_empty() {
        p.add(
            key("instance_id"),
            format!("{instance_id:?}"),
            "is required",
            "copy the instance id from the CCC console",
        );
    }
    let endpoint_text = s
        .endpoint
        .clone()
        .unwrap_or_else(|| default_endpoint(s.region.as_deref()));
    let endpoint = match reqwest::Url::parse(&endpoint_text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            p.add(key("endpoint"), format!("{endpoint_text:?}"), "is not an http(s) URL", "use e.g. \"https://ccc.cn-shanghai.aliyuncs.com\", or omit it to derive it from region");
            reqwest::Url::parse("https://ccc.cn-shanghai.aliyuncs.com")
                .expect("a valid literal URL")
        }
    };
    let start_from = match s.start_from.as_deref().unwrap_or("1d") {
        t if DateTime::parse_from_rfc3339(t).is_ok() => StartFrom::At(
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.to_utc())
                .unwrap_or_default(),
        ),
        t => match humantime::parse_duration(t.trim()) {
            Ok(d) => StartFrom::Ago(d),
            Err(_) => {
                p.add(key("start_from"), format!("{t:?}"), "is neither a timestamp nor a duration", "write an RFC 3339 time like \"2026-11-01T00:00:00+08:00\" or a duration ago like \"7d\"");
                StartFrom::Ago(Duration::ZERO)
            }
        },
    };
    let lookback = p.duration(key("lookback"), s.lookback.as_deref(), "2h", Duration::ZERO);
    let interval = p.duration(
        key("interval"),
        s.interval.as_deref(),
        "1m",
        Duration::from_secs(1),
    );
    let chunk = p.duration(
        key("chunk"),
        s.chunk.as_deref(),
        "6h",
        Duration::from_secs(60),
    );
    let retry_for = p.duration(
        key("retry_for"),
        s.retry_for.as_deref(),
        "2m",
        Duration::ZERO,
    );
    let connect_timeout = p.duration(
        key("connect_timeout"),
        s.connect_timeout.as_deref(),
        "5s",
        Duration::from_millis(100),
    );
    let read_timeout = p.duration(
        key("read_timeout"),
        s.read_timeout.as_deref(),
        "10s",
        Duration::from_millis(100),
    );
    let reconcile_span = p.duration(
        key("reconcile_span"),
        s.reconcile_span.as_deref(),
        "48h",
        Duration::from_secs(60),
    );
    let reconcile_every = match s.reconcile_every.as_deref() {
        Some("off") => None,
        other => Some(p.duration(
            key("reconcile_every"),
            other,
            "24h",
            Duration::from_secs(60),
        )),
    };
    let page_size = s.page_size.unwrap_or(100);
    if !(1..=100).contains(&page_size) {
        p.add(
            key("page_size"),
            page_size,
            "must be between 1 and 100 (the service's maximum)",
            "use 100",
        );
    }
    let max_requests_per_second = s
        .max_requests_per_second
        .unwrap_or(DEFAULT_MAX_REQUESTS_PER_SECOND);
    if !(max_requests_per_second.is_finite() && max_requests_per_second > 0.0) {
        p.add(
            key("max_requests_per_second"),
            max_requests_per_second,
            "must be a positive number",
            "use e.g. 50 (the ceiling of the adaptive rate; 0.5 means one request every 2 s at most)",
        );
    }
    let credentials = source_credentials(&key, &s, default_chain, p);
    SourceSettings {
        name,
        instance_id,
        client: ClientSettings {
            endpoint,
            connect_timeout,
            read_timeout,
        },
        credentials,
        start_from,
        lookback,
        interval,
        chunk,
        page_size,
        max_requests_per_second,
        retry_for,
        reconcile_every,
        reconcile_span,
        phone_numbers: PhoneNumbers::Raw,
    }
}

/// `cn-shanghai` has its own host; the other regions are served by the central endpoint.
fn default_endpoint(region: Option<&str>) -> String {
    match region.unwrap_or("cn-shanghai") {
        "cn-shanghai" => "https://ccc.cn-shanghai.aliyuncs.com".to_owned(),
        _ => "https://ccc.aliyuncs.com".to_owned(),
    }
}

/// Credentials from the source's keys, else from the default chain (environment, OIDC, profiles, ECS role).
fn source_credentials(
    key: &dyn Fn(&str) -> String,
    s: &RawSource,
    default_chain: DefaultChain<'_>,
    p: &mut Problems,
) -> CredentialProvider {
    let placeholder = || {
        CredentialProvider::Static(Credentials {
            access_key_id: String::new(),
            access_key_secret: SecretString::from(""),
            security_token: None,
        })
    };
    match (
        &s.access_key_id,
        &s.access_key_secret,
        &s.access_key_secret_file,
    ) {
        (Some(id), None, Some(file)) => CredentialProvider::Files {
            access_key_id: id.clone(),
            secret_file: file.clone(),
            token_file: s.security_token_file.clone(),
        },
        (Some(id), Some(secret), None) if s.security_token_file.is_none() => {
            CredentialProvider::Static(Credentials {
                access_key_id: id.clone(),
                access_key_secret: secret.clone(),
                security_token: None,
            })
        }
        (Some(_), Some(_), Some(_)) => {
            p.add(
                key("access_key_secret"),
                "[REDACTED]",
                "is set together with access_key_secret_file",
                "keep only access_key_secret_file",
            );
            placeholder()
        }
        (Some(_), Some(_), None) => {
            p.add(
                key("security_token_file"),
                "(set)",
                "needs access_key_secret_file",
                "read the secret from a file too, or drop the token",
            );
            placeholder()
        }
        (Some(_), None, None) => {
            p.add(key("access_key_secret_file"), "(missing)", "access_key_id is set but no secret is", "point access_key_secret_file at a file holding the secret (or set access_key_secret)");
            placeholder()
        }
        (None, Some(_), _) | (None, _, Some(_)) => {
            p.add(
                key("access_key_id"),
                "(missing)",
                "a secret is set without its AccessKey id",
                "set access_key_id",
            );
            placeholder()
        }
        (None, None, None) => match default_chain() {
            Ok(found) => found.provider.clone(),
            Err(NotFound::Nothing { looked_at }) => {
                p.add(
                    key("access_key_id"),
                    "(missing)",
                    &format!("no credentials in the source, and the default chain found none ({})", looked_at.join("; ")),
                    "set access_key_id + access_key_secret_file, or ALIBABA_CLOUD_ACCESS_KEY_ID + ALIBABA_CLOUD_ACCESS_KEY_SECRET, or run where an OIDC role (ALIBABA_CLOUD_ROLE_ARN), a CLI or INI profile, or an ECS RAM role (ALIBABA_CLOUD_ECS_METADATA) provides them",
                );
                placeholder()
            }
            Err(NotFound::Problem(problem)) => {
                if !p.0.contains(problem) {
                    p.0.push(problem.clone());
                }
                placeholder()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[database]
url = "postgres://postgres@127.0.0.1:5432/postgres"

[[sources]]
name = "agent-1912"
instance_id = "9cfad875-6260-4a53-ab6e-b13e3fb31f7d"
endpoint = "https://ccc.cn-shanghai.aliyuncs.com"   # optional, defaults from the region
start_from = "7d"                                   # or "2026-11-01T00:00:00+08:00"
lookback = "2h"
interval = "1m"
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys() -> Vec<(String, String)> {
        env(&[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-id"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "TOPSECRET-42"),
        ])
    }

    fn load_text(text: &str, env: &[(String, String)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ccc-sync.toml");
        std::fs::write(&path, text).expect("write");
        load(&path, env)
    }

    fn problems(text: &str, env: &[(String, String)]) -> Vec<ConfigProblem> {
        match load_text(text, env) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn the_minimal_config_from_the_issue_loads_with_documented_defaults() {
        let s = load_text(MINIMAL, &keys()).expect("valid");
        let src = &s.sources[0];
        assert_eq!(src.name, "agent-1912");
        assert_eq!(
            src.start_from,
            StartFrom::Ago(Duration::from_secs(7 * 86400))
        );
        assert_eq!(src.lookback, Duration::from_secs(7200));
        assert_eq!(src.interval, Duration::from_secs(60));
        assert_eq!(src.page_size, 100);
        assert_eq!(src.client.connect_timeout, Duration::from_secs(5));
        assert_eq!(src.client.read_timeout, Duration::from_secs(10));
        assert_eq!(src.credentials.access_key_id(), Some("LTAI-id"));
        assert_eq!(s.database.max_connections, 4);
        assert_eq!(s.server_listen, None);
    }

    #[test]
    fn phone_number_modes_need_their_key_and_are_named_when_wrong() {
        let masked = load_text(
            &format!("{MINIMAL}\n[warehouse]\nphone_numbers = \"masked\"\n"),
            &keys(),
        )
        .expect("valid");
        assert_eq!(
            masked.sources[0].phone_numbers.mode(),
            PhoneNumberMode::Masked
        );
        assert_eq!(masked.business_time_zone, "Asia/Shanghai");
        let found = problems(
            &format!("{MINIMAL}\n[warehouse]\nphone_numbers = \"hashed\"\n"),
            &keys(),
        );
        assert_eq!(found[0].key, "warehouse.phone_number_hash_key_file");
        let found = problems(
            &format!("{MINIMAL}\n[warehouse]\nphone_numbers = \"scrambled\"\n"),
            &keys(),
        );
        assert_eq!(
            (found[0].key.as_str(), found[0].value.as_str()),
            ("warehouse.phone_numbers", "\"scrambled\"")
        );
    }

    #[test]
    fn the_health_server_address_is_checked() {
        let s = load_text(
            &format!("{MINIMAL}\n[server]\nlisten = \"127.0.0.1:9187\"\n"),
            &keys(),
        )
        .expect("valid");
        assert_eq!(
            s.server_listen,
            Some("127.0.0.1:9187".parse().expect("addr"))
        );
        let found = problems(
            &format!("{MINIMAL}\n[server]\nlisten = \"9187\"\n"),
            &keys(),
        );
        assert_eq!(found[0].key, "server.listen");
    }

    #[test]
    fn environment_overrides_reach_nested_and_listed_keys() {
        let mut e = keys();
        e.extend(env(&[
            ("CCC_SYNC__SOURCES__0__LOOKBACK", "3h"),
            ("CCC_SYNC__SOURCES__0__PAGE_SIZE", "50"),
            ("DATABASE_URL", "postgres://a@db1/x"),
            ("CCC_SYNC__DATABASE__MAX_CONNECTIONS", "9"),
        ]));
        let s = load_text(MINIMAL, &e).expect("valid");
        assert_eq!(s.sources[0].lookback, Duration::from_secs(3 * 3600));
        assert_eq!(s.sources[0].page_size, 50);
        assert_eq!(s.database.max_connections, 9);
        assert_eq!(s.database.connect.get_host(), "db1");
        e.push((
            "CCC_SYNC__DATABASE__URL".into(),
            "postgres://a@db2/x".into(),
        ));
        let s = load_text(MINIMAL, &e).expect("valid");
        assert_eq!(
            s.database.connect.get_host(),
            "db2",
            "CCC_SYNC__ beats DATABASE_URL"
        );
    }

    #[test]
    fn every_bad_value_is_reported_with_key_value_and_fix() {
        let text = MINIMAL
            .replace(
                "lookback = \"2h\"",
                "lookback = \"2 hours-ish\"\npage_size = 500\nstart_from = \"yesterday\"",
            )
            .replace("start_from = \"7d\"", "");
        let found = problems(&text, &keys());
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sources[0].start_from",
                "sources[0].lookback",
                "sources[0].page_size"
            ]
        );
        let lookback = &found[1];
        assert_eq!(lookback.value, "\"2 hours-ish\"");
        assert!(lookback.fix.contains("\"2h\""));
        assert!(lookback.to_string().contains("Fix:"));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = load_text(&MINIMAL.replace("lookback", "lookbak"), &keys()).expect_err("typo");
        assert!(err.to_string().contains("lookbak"), "{err}");
    }

    #[test]
    fn missing_credentials_and_duplicate_names_are_problems() {
        let two = format!("{MINIMAL}\n[[sources]]\nname = \"agent-1912\"\ninstance_id = \"i\"\n");
        let found = problems(&two, &[]);
        assert!(found.iter().any(|p| p.key == "sources[0].access_key_id"
            && p.fix.contains("ALIBABA_CLOUD_ACCESS_KEY_ID")));
        assert!(found.iter().any(|p| p.key == "sources[1].name"));
    }

    #[test]
    fn secrets_and_database_passwords_never_appear_in_errors_or_debug() {
        let text = MINIMAL
            .replace("postgres://postgres@", "postgres://postgres:PW-hunter2@")
            .replace("interval = \"1m\"", "interval = \"1m\"\naccess_key_id = \"id\"\naccess_key_secret = \"TOPSECRET-42\"\naccess_key_secret_file = \"/x\"\npage_size = 0");
        let err = load_text(&text, &[]).expect_err("invalid");
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("TOPSECRET-42") && !shown.contains("hunter2"),
            "{shown}"
        );
        let ok = load_text(
            &MINIMAL.replace("postgres://postgres@", "postgres://postgres:PW-hunter2@"),
            &keys(),
        )
        .expect("valid");
        let shown = format!("{ok:?}");
        assert!(
            !shown.contains("TOPSECRET-42") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(
            ok.database.display_url,
            "postgres://postgres:REDACTED@127.0.0.1:5432/postgres"
        );
    }

    #[test]
    fn a_missing_file_says_how_to_point_at_one() {
        let err = load(Path::new("/nonexistent/ccc-sync.toml"), &[]).expect_err("missing");
        assert!(err.to_string().contains("--config"));
    }
}
