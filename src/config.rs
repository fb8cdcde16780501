//! Typed settings: a TOML file, then `DATABASE_URL`, then `CCC_SYNC__…` environment overrides, validated
//! into ready values. Every error names the key, the value and the fix, and all of them are reported at once.
//!
//! Validation is pure: it reads the file and the environment it is given, and nothing else. What needs
//! more (secret and key files, the default credential chain) is [`crate::startup`]'s, which every command
//! runs after this.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

use crate::ccc::api::CCC2_MAX_PAGE_NUMBER;
use crate::ccc::{Api, ClientSettings, CredentialProvider, Credentials};
use crate::pii::{PhoneNumberMode, PhoneNumbers};
pub(crate) use crate::problem::ConfigProblem;
use crate::problem::Problems;

mod recordings;
pub use recordings::{RecordingsSettings, S3Settings, TargetSettings};

/// The prefix of environment overrides: `CCC_SYNC__SOURCES__0__LOOKBACK=3h` sets `sources[0].lookback`.
pub(crate) const ENV_PREFIX: &str = "CCC_SYNC__";

/// Everything the daemon needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub sources: Vec<SourceSettings>,
    /// Where `/livez`, `/readyz` and `/metrics` are served; off when absent.
    pub server_listen: Option<std::net::SocketAddr>,
    pub warehouse: WarehouseSettings,
    /// The recording archive (`[recordings]`); `None` when it is off, the default.
    pub recordings: Option<RecordingsSettings>,
}

/// What the warehouse keeps and how it counts days (`[warehouse]`): one for all sources.
#[derive(Debug, Clone)]
pub struct WarehouseSettings {
    /// The IANA zone whose days the BI views count in; written to `ccc.settings` at start-up.
    pub business_time_zone: Tz,
    /// What happens to phone numbers before anything is written.
    pub phone_numbers: PhoneNumberMode,
    /// The key of `hashed`; start-up reads a key file and checks its length.
    pub phone_number_hash_key: Option<HashKey>,
    /// How long `ccc.sync_runs` keeps a row before the daemon deletes it; `None` keeps them all.
    pub sync_runs_retention: Option<Duration>,
}

/// Where the phone-number hash key is.
#[derive(Debug, Clone)]
pub enum HashKey {
    /// `phone_number_hash_key`, already checked for length.
    Inline(SecretString),
    /// `phone_number_hash_key_file`, read at start-up.
    File(PathBuf),
}

#[derive(Clone)]
pub struct DatabaseSettings {
    /// Parsed connection options; the password inside never prints.
    pub connect: PgConnectOptions,
    /// The URL with any password replaced, for logs.
    pub display_url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// `database.password_file`: start-up reads the password from it into `connect`.
    pub password_file: Option<PathBuf>,
}

/// `PgConnectOptions` prints its password in `Debug`; this shows the redacted URL instead.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.display_url)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("password_file", &self.password_file)
            .finish()
    }
}

/// One stream of call records: an instance seen through one set of credentials.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// Names the source in logs, metrics and `ccc.sync_state`.
    pub name: String,
    /// What it syncs: one agent's calls or the whole instance, on CCC 1.0 or 2.0.
    pub api: Api,
    pub instance_id: String,
    pub client: ClientSettings,
    pub credentials: SourceCredentials,
    /// Where the watermark starts before the first pass.
    pub start_from: StartFrom,
    /// How far before the watermark each pass starts again, to catch calls written late.
    pub lookback: Duration,
    /// Time between two passes in `run`.
    pub interval: Duration,
    /// The longest window fetched and committed as one unit; longer spans are split, oldest first.
    pub chunk: Duration,
    pub page_size: u32,
    /// How the service limits one query, and how far a window may be split to fit them.
    pub limits: QueryLimits,
    /// Whether each new or changed call's agent events and recording files are fetched (`ccc2`: a request
    /// each per call).
    pub call_details: bool,
    /// The ceiling of the source's adaptive request rate ([`crate::rate`]), never exceeded.
    pub max_requests_per_second: f64,
    /// How long one request may keep being retried before the window fails.
    pub retry_for: Duration,
    /// How often to re-sync `reconcile_span` to catch changes later than the lookback; `None` turns it off.
    pub reconcile_every: Option<Duration>,
    pub reconcile_span: Duration,
}

/// What one query of a source's list action may reach; a window beyond them is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The highest `PageNumber` the service serves (`None`: no limit), so at most this many pages of
    /// `page_size` records per query.
    pub max_page_number: Option<u32>,
    /// The longest window one query may span (`None`: no limit).
    pub max_window: Option<Duration>,
    /// No window is split shorter than this; one still over the limits fails, naming it and its count.
    pub min_window: Duration,
}

impl QueryLimits {
    /// The limits the service documents for `api`, splitting down to a second.
    pub fn documented(api: Api) -> QueryLimits {
        QueryLimits {
            max_page_number: api.default_max_page_number(),
            max_window: api.default_max_window(),
            min_window: Duration::from_secs(1),
        }
    }
}

/// Where a source's credentials come from, as configured. Start-up turns it into a provider.
#[derive(Debug, Clone)]
pub enum SourceCredentials {
    /// `access_key_id` and `access_key_secret` in the file.
    Keys {
        access_key_id: String,
        access_key_secret: SecretString,
    },
    /// `access_key_id` and `access_key_secret_file` (and `security_token_file`), re-read for each request.
    Files {
        access_key_id: String,
        secret_file: PathBuf,
        token_file: Option<PathBuf>,
    },
    /// The source names none: the default chain (environment, OIDC, profiles, ECS role) finds them.
    DefaultChain,
}

impl SourceCredentials {
    /// The provider for keys the source names itself; `None` for the default chain, which start-up walks.
    pub(crate) fn named(&self) -> Option<CredentialProvider> {
        match self {
            SourceCredentials::Keys {
                access_key_id,
                access_key_secret,
            } => Some(CredentialProvider::Static(Credentials {
                access_key_id: access_key_id.clone(),
                access_key_secret: access_key_secret.clone(),
                security_token: None,
            })),
            SourceCredentials::Files {
                access_key_id,
                secret_file,
                token_file,
            } => Some(CredentialProvider::Files {
                access_key_id: access_key_id.clone(),
                secret_file: secret_file.clone(),
                token_file: token_file.clone(),
            }),
            SourceCredentials::DefaultChain => None,
        }
    }
}

/// The watermark of a source that has never synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    Ago(Duration),
    At(DateTime<Utc>),
}

impl StartFrom {
    pub(crate) fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            StartFrom::Ago(d) => {
                now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
            }
            StartFrom::At(t) => t.min(now),
        }
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
    #[serde(default)]
    recordings: recordings::RawRecordings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarehouse {
    business_time_zone: Option<String>,
    phone_numbers: Option<String>,
    phone_number_hash_key_file: Option<PathBuf>,
    phone_number_hash_key: Option<SecretString>,
    sync_runs_retention: Option<String>,
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
    /// The password in a file of its own (a mounted Secret), for a `url` without one.
    password_file: Option<PathBuf>,
    max_connections: Option<u32>,
    acquire_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: Option<String>,
    api: Option<String>,
    instance_id: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    start_from: Option<String>,
    lookback: Option<String>,
    interval: Option<String>,
    chunk: Option<String>,
    page_size: Option<u32>,
    max_page_number: Option<u32>,
    max_window: Option<String>,
    min_window: Option<String>,
    call_details: Option<String>,
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
///
/// The file and the overrides are first read as a tree, so that every unknown key and every value of the
/// wrong type is reported at once, each under the variable that set it when it came from the environment,
/// before the typed validation reports the rest.
pub(crate) fn load(path: &Path, env: &[(String, String)]) -> Result<Settings, ConfigError> {
    let shown = path.display().to_string();
    let unreadable = |detail: String, fix: &str| ConfigError::Load {
        path: shown.clone(),
        detail,
        fix: fix.into(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(_) if path.is_dir() => {
            return Err(unreadable(
                "it is a directory".into(),
                "pass --config PATH (or set CCC_SYNC_CONFIG) to the TOML file itself, e.g. /etc/ccc-sync/ccc-sync.toml",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unreadable(
                "no such file".into(),
                "pass --config PATH (or set CCC_SYNC_CONFIG) to a TOML file; README.md shows a minimal one",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(unreadable(
                format!("permission denied ({e})"),
                "make the file readable by the user ccc-sync runs as (e.g. chmod 0640 and the daemon's group)",
            ));
        }
        Err(e) => {
            return Err(unreadable(
                format!("cannot be read ({e})"),
                "pass --config PATH (or set CCC_SYNC_CONFIG) to a readable TOML file",
            ));
        }
    };
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(&text, config::FileFormat::Toml));
    let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut origins = Origins::default();
    if let Some(url) = lookup("DATABASE_URL") {
        origins.set("database.url", "DATABASE_URL");
        builder = builder
            .set_override("database.url", url)
            .map_err(|e| load_error(&shown, e))?;
    }
    for (name, value) in env {
        if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
            let key = env_key(rest);
            origins.set(&key, name);
            builder = builder
                .set_override(key, value.clone())
                .map_err(|e| load_error(&shown, e))?;
        }
    }
    let mut tree: serde_json::Value = builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| load_error(&shown, e))?;
    let mut p = Problems::default();
    shape::check(&mut tree, &origins, &mut p);
    let raw: RawSettings = serde_json::from_value(tree).map_err(|e| ConfigError::Load {
        path: shown.clone(),
        detail: e.to_string(),
        fix: "correct the TOML (keys are listed in README.md)".into(),
    })?;
    let found = match validate(raw) {
        Ok(settings) if p.is_empty() => return Ok(settings),
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    };
    p.0.extend(found.into_iter().map(|problem| origins.name(problem)));
    Err(ConfigError::Invalid {
        path: shown,
        problems: p.0,
    })
}

/// Which keys the environment set, and by which variable.
#[derive(Default)]
struct Origins(std::collections::BTreeMap<String, String>);

impl Origins {
    fn set(&mut self, key: &str, variable: &str) {
        self.0.insert(key.to_owned(), variable.to_owned());
    }

    fn of(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `problem` with the variable that set its key named before the key.
    fn name(&self, mut problem: ConfigProblem) -> ConfigProblem {
        if let Some(variable) = self.of(&problem.key) {
            problem.key = format!("{variable} ({})", problem.key);
            problem.fix = format!(
                "{} (in the environment: set {variable} so, or unset it)",
                problem.fix
            );
        }
        problem
    }
}

/// The file's shape, checked before typed validation: known keys, and scalars of the kind each key takes.
/// Values are coerced the way the `config` crate would (`"100"` from the environment to a number), and
/// whatever cannot be used is reported and removed, so the typed validation can still report the rest.
mod shape {
    use serde_json::{Map, Value};

    use super::Origins;
    use crate::problem::Problems;

    #[derive(Clone, Copy)]
    enum Kind {
        Text,
        WholeNumber,
        Number,
    }

    /// The kind of value a key takes; every key not listed here is text.
    fn kind(name: &str) -> Kind {
        match name {
            "max_connections" | "page_size" | "max_page_number" | "concurrency" => {
                Kind::WholeNumber
            }
            "max_requests_per_second" | "max_files_per_second" => Kind::Number,
            _ => Kind::Text,
        }
    }

    const SECRETS: &[&str] = &["url", "phone_number_hash_key", "access_key_secret"];

    /// The field names serde knows for `T`: the raw settings structs are the one list of known keys.
    fn keys<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
        use serde::de::{self, Visitor};
        struct Probe<'a>(&'a mut &'static [&'static str]);
        impl<'de> de::Deserializer<'de> for Probe<'_> {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                *self.0 = fields;
                Err(de::Error::custom("fields read"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(Probe(&mut fields));
        fields
    }

    pub(super) fn check(tree: &mut Value, origins: &Origins, p: &mut Problems) {
        let Some(top) = tree.as_object_mut() else {
            return;
        };
        unknown(top, "", keys::<super::RawSettings>(), origins, p);
        for (table, names) in [
            ("database", keys::<super::RawDatabase>()),
            ("server", keys::<super::RawServer>()),
            ("warehouse", keys::<super::RawWarehouse>()),
            ("recordings", keys::<super::recordings::RawRecordings>()),
        ] {
            if let Some(Value::Object(fields)) = top.get_mut(table) {
                fields_of(fields, table, names, origins, p);
            }
        }
        if let Some(Value::Array(sources)) = top.get_mut("sources") {
            for (i, source) in sources.iter_mut().enumerate() {
                if let Value::Object(fields) = source {
                    let table = format!("sources[{i}]");
                    fields_of(fields, &table, keys::<super::RawSource>(), origins, p);
                }
            }
        }
    }

    fn fields_of(
        fields: &mut Map<String, Value>,
        table: &str,
        names: &[&str],
        origins: &Origins,
        p: &mut Problems,
    ) {
        unknown(fields, table, names, origins, p);
        for name in names {
            let Some(value) = fields.get_mut(*name) else {
                continue;
            };
            let key = format!("{table}.{name}");
            let kind = kind(name);
            if let Some(coerced) = coerce(value, kind) {
                *value = coerced;
                continue;
            }
            let shown = if SECRETS.contains(name) {
                "[REDACTED]".to_owned()
            } else {
                value.to_string()
            };
            let (problem, fix) = match kind {
                Kind::Text => ("is not text", "write it as a quoted string"),
                Kind::WholeNumber => ("is not a whole number", "write a number such as 100"),
                Kind::Number => ("is not a number", "write a number such as 5 or 0.5"),
            };
            p.push_once(origins.name(crate::problem::ConfigProblem {
                key,
                value: shown,
                problem: problem.into(),
                fix: fix.into(),
            }));
            fields.remove(*name);
        }
    }

    /// Reports and removes every key of `fields` that `known` does not name.
    fn unknown(
        fields: &mut Map<String, Value>,
        table: &str,
        known: &[&str],
        origins: &Origins,
        p: &mut Problems,
    ) {
        let strangers: Vec<String> = fields
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for name in strangers {
            fields.remove(&name);
            let key = if table.is_empty() {
                name.clone()
            } else {
                format!("{table}.{name}")
            };
            p.push_once(origins.name(crate::problem::ConfigProblem {
                key,
                value: "(set)".into(),
                problem: "is not a known key".into(),
                fix: format!(
                    "remove it or correct its spelling (unknown keys are refused so typos surface); {} knows: {}",
                    if table.is_empty() { "the file" } else { table },
                    known.join(", ")
                ),
            }));
        }
    }

    /// `value` as the kind wants it, or `None` when it cannot be one.
    fn coerce(value: &Value, kind: Kind) -> Option<Value> {
        match (kind, value) {
            (Kind::Text, Value::String(_)) => Some(value.clone()),
            (Kind::Text, Value::Number(n)) => Some(Value::String(n.to_string())),
            (Kind::WholeNumber, Value::Number(n))
                if n.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)) =>
            {
                Some(value.clone())
            }
            (Kind::WholeNumber, Value::String(s)) => s.trim().parse::<u32>().ok().map(Value::from),
            (Kind::Number, Value::Number(_)) => Some(value.clone()),
            (Kind::Number, Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from),
            _ => None,
        }
    }
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

/// A bound as a config value: whole days as `7d` (humantime would print `7days`, and `3650d` as years,
/// months and seconds), anything else as humantime writes it.
fn shown(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= DAY.as_secs() && secs.is_multiple_of(DAY.as_secs()) && d.subsec_nanos() == 0 {
        format!("{}d", secs / DAY.as_secs())
    } else {
        humantime::format_duration(d).to_string()
    }
}

/// A day, the unit of the longest bounds.
const DAY: Duration = Duration::from_secs(86_400);

/// How far back `start_from` may reach as a duration ago: ten years.
const START_FROM_MAX: Duration = Duration::from_secs(3650 * 86_400);

/// The duration at `key` (else `default`), at least `min` and at most `max`: a value far outside what the
/// setting means (`interval = "100000d"`) is a mistake, and would overflow date arithmetic.
fn duration(
    p: &mut Problems,
    key: String,
    value: Option<&str>,
    default: &str,
    min: Duration,
    max: Duration,
) -> Duration {
    let text = value.unwrap_or(default);
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d >= min && d <= max => d,
        Ok(d) if d > max => {
            p.add(
                key,
                format!("{text:?}"),
                "is too long",
                format!("use at most {}", shown(max)),
            );
            max
        }
        Ok(_) => {
            p.add(
                key,
                format!("{text:?}"),
                "is too short",
                format!("use at least {}", humantime::format_duration(min)),
            );
            min
        }
        Err(_) => {
            p.add(key, format!("{text:?}"), "is not a duration", DURATION_FIX);
            min
        }
    }
}

fn validate(raw: RawSettings) -> Result<Settings, Vec<ConfigProblem>> {
    let mut p = Problems::default();
    let database = validate_database(raw.database, &mut p);
    if raw.sources.is_empty() {
        p.add(
            "sources",
            "[]",
            "no source is configured",
            "add a [[sources]] table with name and instance_id",
        );
    }
    let warehouse = validate_warehouse(&raw.warehouse, &mut p);
    let recordings = recordings::validate(&raw.recordings, &mut p);
    let mut names: Vec<String> = Vec::new();
    let mut sources = Vec::new();
    for (i, s) in raw.sources.into_iter().enumerate() {
        let name = s.name.clone().unwrap_or_default();
        if names.contains(&name) {
            p.add(
                format!("sources[{i}].name"),
                format!("{name:?}"),
                "is used by another source",
                "give every source its own name",
            );
        }
        names.push(name);
        sources.extend(validate_source(i, s, &mut p));
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
    match (p.is_empty(), database, warehouse) {
        (true, Some(database), Some(warehouse)) => Ok(Settings {
            database,
            sources,
            server_listen,
            warehouse,
            recordings,
        }),
        _ => Err(p.0),
    }
}

/// A month of the journal by default: enough to look back at an incident, about 43,000 rows per source at
/// a 1-minute interval.
fn validate_sync_runs_retention(w: &RawWarehouse, p: &mut Problems) -> Option<Duration> {
    match w.sync_runs_retention.as_deref() {
        Some("off") => None,
        other => Some(duration(
            p,
            "warehouse.sync_runs_retention".into(),
            other,
            "30d",
            Duration::from_secs(3600),
            3650 * DAY,
        )),
    }
}

/// The default of `warehouse.business_time_zone`.
pub(crate) const DEFAULT_BUSINESS_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// The fix for a phone-number hash key that is missing or too short.
pub(crate) const HASH_KEY_FIX: &str =
    "write a random key of at least 32 bytes to a file, e.g. `openssl rand -hex 32`";

fn validate_warehouse(w: &RawWarehouse, p: &mut Problems) -> Option<WarehouseSettings> {
    let sync_runs_retention = validate_sync_runs_retention(w, p);
    let business_time_zone = match w.business_time_zone.as_deref() {
        None => Some(DEFAULT_BUSINESS_TIME_ZONE),
        Some(text) => text.parse::<Tz>().ok().or_else(|| {
            p.add(
                "warehouse.business_time_zone",
                format!("{text:?}"),
                "is not an IANA time zone name",
                "use a name such as \"Asia/Shanghai\" or \"UTC\" (abbreviations like \"CST\" and offsets like \"UTC+8\" are ambiguous, so refused)",
            );
            None
        }),
    };
    let text = w.phone_numbers.as_deref().unwrap_or("raw");
    let phone_numbers = text.parse::<PhoneNumberMode>().map_err(|e| {
        p.add(
            "warehouse.phone_numbers",
            format!("{text:?}"),
            &e.to_string(),
            "choose \"raw\", \"masked\" or \"hashed\"",
        );
    });
    let phone_number_hash_key = match (&w.phone_number_hash_key, &w.phone_number_hash_key_file) {
        (Some(key), None) => Some(HashKey::Inline(key.clone())),
        (None, Some(path)) => Some(HashKey::File(path.clone())),
        (Some(_), Some(_)) => {
            p.add(
                "warehouse.phone_number_hash_key",
                "[REDACTED]",
                "is set together with phone_number_hash_key_file",
                "keep only the file",
            );
            return None;
        }
        (None, None) => None,
    };
    let phone_numbers = phone_numbers.ok()?;
    // A key in a file is checked once start-up has read it; a missing or inline one can be checked now.
    let key = match &phone_number_hash_key {
        Some(HashKey::File(_)) => None,
        Some(HashKey::Inline(key)) => Some(Some(key.clone())),
        None => Some(None),
    };
    if let Some(Err(e)) = key.map(|key| PhoneNumbers::new(phone_numbers, key)) {
        p.add(
            "warehouse.phone_number_hash_key_file",
            "[REDACTED]",
            &e.to_string(),
            HASH_KEY_FIX,
        );
        return None;
    }
    Some(WarehouseSettings {
        business_time_zone: business_time_zone?,
        phone_numbers,
        phone_number_hash_key,
        sync_runs_retention,
    })
}

fn validate_database(raw: RawDatabase, p: &mut Problems) -> Option<DatabaseSettings> {
    let acquire_timeout = duration(
        p,
        "database.acquire_timeout".into(),
        raw.acquire_timeout.as_deref(),
        "10s",
        Duration::from_millis(100),
        Duration::from_secs(600),
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
            password_file: raw.password_file,
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

/// The source at `sources[i]`; `None` when a problem leaves it without a value to use.
fn validate_source(i: usize, s: RawSource, p: &mut Problems) -> Option<SourceSettings> {
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
    let api = match s.api.as_deref() {
        None => Api::Agent,
        Some(name) => Api::from_name(name).unwrap_or_else(|| {
            p.add(
                key("api"),
                format!("{name:?}"),
                "is not an API ccc-sync knows",
                "use \"agent\" (one agent's calls, ListRecentCallRecords), \"instance\" (every call of a CCC 1.0 instance) or \"ccc2\" (every call of a CCC 2.0 instance)",
            );
            Api::Agent
        }),
    };
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
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        _ => {
            p.add(key("endpoint"), format!("{endpoint_text:?}"), "is not an http(s) URL", "use e.g. \"https://ccc.cn-shanghai.aliyuncs.com\", or omit it to derive it from region");
            None
        }
    };
    let start_from = match s.start_from.as_deref().unwrap_or("1d") {
        t if DateTime::parse_from_rfc3339(t).is_ok() => StartFrom::At(
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.to_utc())
                .unwrap_or_default(),
        ),
        t => match humantime::parse_duration(t.trim()) {
            Ok(d) if d <= START_FROM_MAX => StartFrom::Ago(d),
            Ok(_) => {
                p.add(
                    key("start_from"),
                    format!("{t:?}"),
                    "is too long ago",
                    "use at most 3650d, or an RFC 3339 time",
                );
                StartFrom::Ago(Duration::ZERO)
            }
            Err(_) => {
                p.add(key("start_from"), format!("{t:?}"), "is neither a timestamp nor a duration", "write an RFC 3339 time like \"2026-11-01T00:00:00+08:00\" or a duration ago like \"7d\"");
                StartFrom::Ago(Duration::ZERO)
            }
        },
    };
    let lookback = duration(
        p,
        key("lookback"),
        s.lookback.as_deref(),
        "2h",
        Duration::ZERO,
        30 * DAY,
    );
    let interval = duration(
        p,
        key("interval"),
        s.interval.as_deref(),
        "1m",
        Duration::from_secs(1),
        DAY,
    );
    let chunk = duration(
        p,
        key("chunk"),
        s.chunk.as_deref(),
        "6h",
        Duration::from_secs(60),
        7 * DAY,
    );
    let retry_for = duration(
        p,
        key("retry_for"),
        s.retry_for.as_deref(),
        "2m",
        Duration::ZERO,
        DAY,
    );
    let connect_timeout = duration(
        p,
        key("connect_timeout"),
        s.connect_timeout.as_deref(),
        "5s",
        Duration::from_millis(100),
        Duration::from_secs(600),
    );
    let read_timeout = duration(
        p,
        key("read_timeout"),
        s.read_timeout.as_deref(),
        "10s",
        Duration::from_millis(100),
        Duration::from_secs(600),
    );
    let reconcile_span = duration(
        p,
        key("reconcile_span"),
        s.reconcile_span.as_deref(),
        "48h",
        Duration::from_secs(60),
        90 * DAY,
    );
    let reconcile_every = match s.reconcile_every.as_deref() {
        Some("off") => None,
        other => Some(duration(
            p,
            key("reconcile_every"),
            other,
            "24h",
            Duration::from_secs(60),
            30 * DAY,
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
    let limits = query_limits(&key, &s, api, chunk, p);
    let call_details = match s.call_details.as_deref() {
        None => !api.has_call_details(),
        Some("on") if api.has_call_details() => {
            p.add(
                key("call_details"),
                "\"on\"",
                &format!("is only for api = \"ccc2\": the records of api = \"{api}\" carry their legs and recordings"),
                "remove it",
            );
            false
        }
        Some("on") => true,
        Some("off") => false,
        Some(other) => {
            p.add(
                key("call_details"),
                format!("{other:?}"),
                "is neither \"on\" nor \"off\"",
                "write \"on\" (fetch each new or changed call's agent events and recordings: two requests per call) or \"off\"",
            );
            false
        }
    };
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
    let credentials = source_credentials(&key, &s, p);
    Some(SourceSettings {
        name,
        api,
        instance_id,
        client: ClientSettings {
            endpoint: endpoint?,
            connect_timeout,
            read_timeout,
        },
        credentials: credentials?,
        start_from,
        lookback,
        interval,
        chunk,
        page_size,
        limits,
        call_details,
        max_requests_per_second,
        retry_for,
        reconcile_every,
        reconcile_span,
    })
}

/// A source's query limits: the API's documented ones unless configured. A `chunk` longer than
/// `max_window` is refused, as every window would have to be split.
fn query_limits(
    key: &dyn Fn(&str) -> String,
    s: &RawSource,
    api: Api,
    chunk: Duration,
    p: &mut Problems,
) -> QueryLimits {
    let max_page_number = match s.max_page_number {
        Some(0) => None,
        Some(n) if api == Api::Ccc2 && n > CCC2_MAX_PAGE_NUMBER => {
            p.add(
                key("max_page_number"),
                n,
                &format!("is over the {CCC2_MAX_PAGE_NUMBER} pages CCC 2.0 serves per query"),
                format!("use at most {CCC2_MAX_PAGE_NUMBER}, or omit it"),
            );
            api.default_max_page_number()
        }
        Some(n) => Some(n),
        None => api.default_max_page_number(),
    };
    let max_window = match s.max_window.as_deref() {
        Some("off") => None,
        None => api.default_max_window(),
        text => Some(duration(
            p,
            key("max_window"),
            text,
            "7d",
            Duration::from_secs(60),
            366 * DAY,
        )),
    };
    let min_window = duration(
        p,
        key("min_window"),
        s.min_window.as_deref(),
        "1s",
        Duration::from_millis(1),
        DAY,
    );
    if let Some(max) = max_window
        && chunk > max
    {
        p.add(
            key("chunk"),
            format!("{:?}", humantime::format_duration(chunk).to_string()),
            &format!(
                "is longer than max_window ({}), the longest span one query of api = \"{api}\" may ask for",
                humantime::format_duration(max)
            ),
            "use a chunk no longer than max_window",
        );
    }
    if let Some(max) = max_window
        && min_window > max
    {
        p.add(
            key("min_window"),
            format!("{:?}", humantime::format_duration(min_window).to_string()),
            "is longer than max_window",
            "use a min_window shorter than max_window",
        );
    }
    QueryLimits {
        max_page_number,
        max_window,
        min_window,
    }
}

/// `cn-shanghai` has its own host; the other regions are served by the central endpoint.
fn default_endpoint(region: Option<&str>) -> String {
    match region.unwrap_or("cn-shanghai") {
        "cn-shanghai" => "https://ccc.cn-shanghai.aliyuncs.com".to_owned(),
        _ => "https://ccc.aliyuncs.com".to_owned(),
    }
}

/// The source's own keys, or the default chain when it names none; `None` for a combination that cannot work.
fn source_credentials(
    key: &dyn Fn(&str) -> String,
    s: &RawSource,
    p: &mut Problems,
) -> Option<SourceCredentials> {
    match (
        &s.access_key_id,
        &s.access_key_secret,
        &s.access_key_secret_file,
    ) {
        (Some(id), None, Some(file)) => Some(SourceCredentials::Files {
            access_key_id: id.clone(),
            secret_file: file.clone(),
            token_file: s.security_token_file.clone(),
        }),
        (Some(id), Some(secret), None) if s.security_token_file.is_none() => {
            Some(SourceCredentials::Keys {
                access_key_id: id.clone(),
                access_key_secret: secret.clone(),
            })
        }
        (Some(_), Some(_), Some(_)) => {
            p.add(
                key("access_key_secret"),
                "[REDACTED]",
                "is set together with access_key_secret_file",
                "keep only access_key_secret_file",
            );
            None
        }
        (Some(_), Some(_), None) => {
            p.add(
                key("security_token_file"),
                "(set)",
                "needs access_key_secret_file",
                "read the secret from a file too, or drop the token",
            );
            None
        }
        (Some(_), None, None) => {
            p.add(key("access_key_secret_file"), "(missing)", "access_key_id is set but no secret is", "point access_key_secret_file at a file holding the secret (or set access_key_secret)");
            None
        }
        (None, Some(_), _) | (None, _, Some(_)) => {
            p.add(
                key("access_key_id"),
                "(missing)",
                "a secret is set without its AccessKey id",
                "set access_key_id",
            );
            None
        }
        (None, None, None) => Some(SourceCredentials::DefaultChain),
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    /// `pairs` as an environment.
    pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// An environment whose default credential chain finds an AccessKey.
    pub(crate) fn keys() -> Vec<(String, String)> {
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
    fn the_recording_archive_is_off_by_default_and_its_targets_load_with_defaults() {
        let off = load_text(MINIMAL, &keys()).expect("valid");
        assert!(off.recordings.is_none());
        let dir =
            format!("{MINIMAL}\n[recordings]\narchive = \"directory\"\ndirectory = \"/srv/rec\"\n");
        let r = load_text(&dir, &keys())
            .expect("valid")
            .recordings
            .expect("on");
        assert_eq!(r.target.address(), "file:///srv/rec");
        assert_eq!(r.prefix, "ccc-recordings");
        assert_eq!((r.concurrency, r.max_files_per_second), (4, 10.0));
        assert_eq!(r.interval, Duration::from_secs(60));
        assert_eq!(r.retry_for, Duration::from_secs(300));
        let s3 = format!(
            "{MINIMAL}\n[recordings]\narchive = \"s3\"\nbucket = \"cc-audio\"\nendpoint = \"http://minio:9000\"\naddressing = \"path\"\nprefix = \"/a/b/\"\n"
        );
        let r = load_text(&s3, &keys())
            .expect("valid")
            .recordings
            .expect("on");
        let TargetSettings::S3(bucket) = &r.target else {
            panic!("{r:?}");
        };
        assert!(bucket.path_style);
        assert_eq!(r.target.address(), "s3://cc-audio");
        assert_eq!(r.prefix, "a/b");
    }

    #[test]
    fn recording_archive_mistakes_name_the_key_value_and_fix() {
        let text = format!(
            "{MINIMAL}\n[recordings]\narchive = \"s3\"\nbucket = \"No_Such\"\nendpoint = \"minio:9000\"\naddressing = \"sideways\"\nprefix = \"a/../b\"\nconcurrency = 0\nmax_files_per_second = -1\ninterval = \"100000d\"\nsecret_access_key_file = \"/run/s\"\n"
        );
        let found = problems(&text, &keys());
        for key in [
            "recordings.bucket",
            "recordings.endpoint",
            "recordings.prefix",
            "recordings.concurrency",
            "recordings.max_files_per_second",
            "recordings.interval",
            "recordings.access_key_id",
        ] {
            let p = found
                .iter()
                .find(|p| p.key == key)
                .unwrap_or_else(|| panic!("{key} not named in {found:?}"));
            assert!(!p.fix.is_empty(), "{p}");
        }
        let no_dir = format!("{MINIMAL}\n[recordings]\narchive = \"directory\"\n");
        let found = problems(&no_dir, &keys());
        assert!(
            found.iter().any(|p| p.key == "recordings.directory"),
            "{found:?}"
        );
        let unknown = format!("{MINIMAL}\n[recordings]\narchive = \"ftp\"\n");
        let found = problems(&unknown, &keys());
        assert!(
            found
                .iter()
                .any(|p| p.key == "recordings.archive" && p.value == "\"ftp\""),
            "{found:?}"
        );
        let forgotten = format!("{MINIMAL}\n[recordings]\nbucket = \"cc-audio\"\n");
        let found = problems(&forgotten, &keys());
        assert!(
            found
                .iter()
                .any(|p| p.key == "recordings.bucket" && p.fix.contains("archive")),
            "a bucket without archive = \"s3\" is a mistake: {found:?}"
        );
        let env = [
            keys(),
            env(&[("CCC_SYNC__RECORDINGS__CONCURRENCY", "lots")]),
        ]
        .concat();
        let found = problems(
            &format!("{MINIMAL}\n[recordings]\narchive = \"directory\"\ndirectory = \"/srv\"\n"),
            &env,
        );
        assert!(
            found
                .iter()
                .any(|p| p.key.starts_with("CCC_SYNC__RECORDINGS__CONCURRENCY")),
            "{found:?}"
        );
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
        assert!(
            matches!(src.credentials, SourceCredentials::DefaultChain),
            "no keys in the source: start-up walks the default chain"
        );
        assert_eq!(s.database.max_connections, 4);
        assert_eq!(s.server_listen, None);
    }

    #[test]
    fn each_api_has_its_documented_limits_and_call_details_default() {
        let with = |extra: &str| {
            load_text(&with_source_lines(extra), &keys())
                .expect("valid")
                .sources
                .remove(0)
        };
        let agent = with("");
        assert_eq!(agent.api, Api::Agent);
        assert_eq!(agent.limits, QueryLimits::documented(Api::Agent));
        assert_eq!(agent.limits.max_page_number, None);
        assert!(!agent.call_details);
        let instance = with("api = \"instance\"");
        assert_eq!(instance.limits.max_window, Some(7 * DAY));
        assert!(!instance.call_details);
        let ccc2 = with("api = \"ccc2\"");
        assert_eq!(ccc2.limits.max_page_number, Some(100));
        assert_eq!(ccc2.limits.max_window, None);
        assert!(ccc2.call_details, "on by default for ccc2");
        let tuned = with(
            "api = \"ccc2\"\nmax_page_number = 3\nmax_window = \"1d\"\nmin_window = \"5m\"\ncall_details = \"off\"",
        );
        assert_eq!(
            tuned.limits,
            QueryLimits {
                max_page_number: Some(3),
                max_window: Some(DAY),
                min_window: Duration::from_secs(300)
            }
        );
        assert!(!tuned.call_details);
    }

    #[test]
    fn an_unknown_api_and_limits_out_of_range_name_the_key_and_the_fix() {
        let said = |extra: &str, needles: &[&str]| {
            let shown: Vec<String> = problems(&with_source_lines(extra), &keys())
                .iter()
                .map(ToString::to_string)
                .collect();
            assert!(
                shown.iter().any(|p| needles.iter().all(|n| p.contains(n))),
                "{needles:?} in {shown:#?}"
            );
        };
        let several = "api = \"ccc3\"\ncall_details = \"yes\"\nmax_window = \"2h\"\nchunk = \"6h\"";
        said(several, &["sources[0].api", "\"ccc3\"", "\"ccc2\""]);
        said(several, &["sources[0].call_details", "\"yes\"", "\"off\""]);
        said(several, &["sources[0].chunk", "longer than max_window"]);
        said(
            "api = \"ccc2\"\nmax_page_number = 500",
            &["sources[0].max_page_number", "at most 100"],
        );
        said(
            "api = \"instance\"\ncall_details = \"on\"",
            &["sources[0].call_details", "only for api"],
        );
    }

    /// The minimal configuration with `extra` lines in its source.
    fn with_source_lines(extra: &str) -> String {
        MINIMAL.replace("lookback = \"2h\"", &format!("lookback = \"2h\"\n{extra}"))
    }

    #[test]
    fn a_bad_environment_override_names_its_variable_key_and_fix_beside_every_other_problem() {
        let mut env = keys();
        env.push(("CCC_SYNC__SOURCES__0__PAGE_SIZE".into(), "abc".into()));
        env.push(("CCC_SYNC__SOURCES__0__LOOKBAK".into(), "3h".into()));
        env.push(("CCC_SYNC__SOURCES__0__INTERVAL".into(), "soon".into()));
        let text = MINIMAL.replace("lookback = \"2h\"", "lookback = \"2h\"\nchunck = \"1h\"");

        let found = problems(&text, &env);

        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        let has = |needles: &[&str]| shown.iter().any(|p| needles.iter().all(|n| p.contains(n)));
        assert!(
            has(&[
                "CCC_SYNC__SOURCES__0__PAGE_SIZE (sources[0].page_size)",
                "\"abc\"",
                "whole number",
                "unset it"
            ]),
            "{shown:#?}"
        );
        assert!(
            has(&[
                "CCC_SYNC__SOURCES__0__LOOKBAK (sources[0].lookbak)",
                "not a known key",
                "lookback"
            ]),
            "{shown:#?}"
        );
        assert!(
            has(&["sources[0].chunck", "not a known key", "chunk"]),
            "{shown:#?}"
        );
        assert!(
            has(&[
                "CCC_SYNC__SOURCES__0__INTERVAL (sources[0].interval)",
                "not a duration"
            ]),
            "{shown:#?}"
        );
        assert!(
            !shown.iter().any(|p| p.contains("correct the TOML")),
            "{shown:#?}"
        );
    }

    #[test]
    fn the_known_keys_are_read_from_the_raw_settings_structs() {
        let unknown = problems(&MINIMAL.replace("lookback", "lookbak"), &keys());
        let fix = &unknown[0].fix;
        for key in [
            "name",
            "lookback",
            "page_size",
            "max_requests_per_second",
            "security_token_file",
        ] {
            assert!(fix.contains(key), "{fix}");
        }
        let tables = problems(
            &format!("{MINIMAL}\n[warehous]\nphone_numbers = \"raw\"\n"),
            &keys(),
        );
        assert!(
            tables[0]
                .fix
                .contains("database, sources, server, warehouse"),
            "{tables:?}"
        );
    }

    #[test]
    fn a_directory_or_an_unreadable_config_says_which() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load(dir.path(), &[]).expect_err("a directory");
        assert!(err.to_string().contains("is a directory"), "{err}");
        let missing = load(&dir.path().join("none.toml"), &[]).expect_err("missing");
        assert!(missing.to_string().contains("no such file"), "{missing}");
    }

    #[test]
    fn oversized_durations_are_refused_with_the_bound_and_never_overflow() {
        let text = MINIMAL
            .replace("interval = \"1m\"", "interval = \"100000d\"")
            .replace("start_from = \"7d\"", "start_from = \"100000000d\"");
        let found = problems(
            &format!("{text}\n[warehouse]\nsync_runs_retention = \"20000d\"\n"),
            &keys(),
        );
        let named = |key: &str, fix: &str| {
            found
                .iter()
                .any(|p| p.key == key && p.to_string().contains(fix))
        };
        assert!(named("sources[0].interval", "at most 1d"), "{found:?}");
        assert!(named("sources[0].start_from", "at most 3650d"), "{found:?}");
        assert!(
            named("warehouse.sync_runs_retention", "at most 3650d"),
            "{found:?}"
        );
        let at_the_bound = MINIMAL.replace("interval = \"1m\"", "interval = \"1d\"");
        assert!(load_text(&at_the_bound, &keys()).is_ok());
    }

    #[test]
    fn phone_number_modes_need_their_key_and_are_named_when_wrong() {
        let masked = load_text(
            &format!("{MINIMAL}\n[warehouse]\nphone_numbers = \"masked\"\n"),
            &keys(),
        )
        .expect("valid");
        assert_eq!(masked.warehouse.phone_numbers, PhoneNumberMode::Masked);
        assert_eq!(masked.warehouse.business_time_zone.name(), "Asia/Shanghai");
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
    fn the_journal_keeps_thirty_days_unless_told_otherwise_or_off() {
        let default = load_text(MINIMAL, &keys()).expect("valid");
        assert_eq!(
            default.warehouse.sync_runs_retention,
            Some(Duration::from_secs(30 * 86400))
        );
        let week = load_text(
            &format!("{MINIMAL}\n[warehouse]\nsync_runs_retention = \"7d\"\n"),
            &keys(),
        )
        .expect("valid");
        assert_eq!(
            week.warehouse.sync_runs_retention,
            Some(Duration::from_secs(7 * 86400))
        );
        let off = load_text(
            &format!("{MINIMAL}\n[warehouse]\nsync_runs_retention = \"off\"\n"),
            &keys(),
        )
        .expect("valid");
        assert_eq!(off.warehouse.sync_runs_retention, None);
        let found = problems(
            &format!("{MINIMAL}\n[warehouse]\nsync_runs_retention = \"forever\"\n"),
            &keys(),
        );
        assert_eq!(
            (found[0].key.as_str(), found[0].value.as_str()),
            ("warehouse.sync_runs_retention", "\"forever\"")
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
    fn duplicate_source_names_are_a_problem() {
        let two = format!("{MINIMAL}\n[[sources]]\nname = \"agent-1912\"\ninstance_id = \"i\"\n");
        let found = problems(&two, &[]);
        assert!(found.iter().any(|p| p.key == "sources[1].name"));
    }

    #[test]
    fn the_business_time_zone_must_be_an_iana_name() {
        for zone in ["UTC", "Asia/Shanghai", "America/New_York", "Etc/GMT-8"] {
            let s = load_text(
                &format!("{MINIMAL}\n[warehouse]\nbusiness_time_zone = \"{zone}\"\n"),
                &keys(),
            )
            .expect(zone);
            assert_eq!(s.warehouse.business_time_zone.name(), zone);
        }
        for zone in ["CST", "UTC+8", "asia/shanghai", ""] {
            let found = problems(
                &format!("{MINIMAL}\n[warehouse]\nbusiness_time_zone = \"{zone}\"\n"),
                &keys(),
            );
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].key, "warehouse.business_time_zone");
            assert_eq!(found[0].value, format!("{zone:?}"));
            assert!(found[0].fix.contains("Asia/Shanghai"), "{}", found[0]);
        }
    }

    #[test]
    fn validation_reads_no_file_but_the_configuration() {
        let text = MINIMAL.replace(
            "interval = \"1m\"",
            "interval = \"1m\"\naccess_key_id = \"id\"\naccess_key_secret_file = \"/nonexistent/secret\"",
        ) + "\n[warehouse]\nphone_numbers = \"hashed\"\nphone_number_hash_key_file = \"/nonexistent/key\"\n";
        let s = load_text(&text, &[]).expect("files are start-up's to read");
        assert!(matches!(
            &s.sources[0].credentials,
            SourceCredentials::Files { secret_file, .. } if secret_file == Path::new("/nonexistent/secret")
        ));
        assert!(matches!(
            &s.warehouse.phone_number_hash_key,
            Some(HashKey::File(path)) if path == Path::new("/nonexistent/key")
        ));
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
