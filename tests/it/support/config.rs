//! `ccc-sync.toml` for the tests: typed fields rendered as the TOML the daemon reads, so no test writes the
//! file by hand, and settings and sources built from it through the real config loader.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use ccc_simulator::AccessKey;
use ccc_sync::config::ConfigError;
use ccc_sync::scheduler::Source;
use ccc_sync::startup::{self, Ready};

/// The database of configs whose database is never reached: nothing listens on port 9.
pub const UNUSED_DATABASE: &str = "postgres://unused@127.0.0.1:9/unused";

/// A whole configuration file. Unset fields are left out, so the daemon's defaults apply.
#[derive(Clone)]
pub struct Config {
    database_url: String,
    acquire_timeout: Option<String>,
    listen: Option<String>,
    phone_numbers: Option<String>,
    phone_number_hash_key: Option<String>,
    sources: Vec<SourceConfig>,
    /// `[recordings]`, rendered in order: `(key, text)`.
    recordings: Vec<(&'static str, String)>,
}

/// One `[[sources]]` entry.
#[derive(Clone)]
pub struct SourceConfig {
    name: String,
    instance_id: String,
    endpoint: Option<String>,
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    access_key_secret_file: Option<PathBuf>,
    security_token_file: Option<PathBuf>,
    start_from: Option<String>,
    lookback: Option<String>,
    interval: Option<String>,
    chunk: Option<String>,
    page_size: Option<u32>,
    max_requests_per_second: Option<f64>,
    retry_for: Option<String>,
    read_timeout: Option<String>,
    reconcile_every: Option<String>,
    reconcile_span: Option<String>,
    /// Further settings, rendered in order: `(key, TOML value)`.
    others: Vec<(&'static str, String)>,
}

impl Config {
    pub fn new(database_url: &str) -> Config {
        Config {
            database_url: database_url.to_owned(),
            acquire_timeout: None,
            listen: None,
            phone_numbers: None,
            phone_number_hash_key: None,
            sources: Vec::new(),
            recordings: Vec::new(),
        }
    }

    pub fn acquire_timeout(mut self, timeout: &str) -> Config {
        self.acquire_timeout = Some(timeout.to_owned());
        self
    }

    /// `[server] listen` on loopback.
    pub fn listen(mut self, port: u16) -> Config {
        self.listen = Some(format!("127.0.0.1:{port}"));
        self
    }

    pub fn phone_numbers(mut self, mode: &str) -> Config {
        self.phone_numbers = Some(mode.to_owned());
        self
    }

    pub fn phone_number_hash_key(mut self, key: &str) -> Config {
        self.phone_number_hash_key = Some(key.to_owned());
        self
    }

    /// Sets `[recordings] key = "value"` (numbers too: the daemon reads them from text).
    pub fn recordings(mut self, key: &'static str, value: &str) -> Config {
        self.recordings.push((key, value.to_owned()));
        self
    }

    /// Adds a source after those already there.
    pub fn source(mut self, source: SourceConfig) -> Config {
        self.sources.push(source);
        self
    }

    /// The file's text.
    pub fn toml(&self) -> String {
        let mut out = Table::new("[database]");
        out.text("url", Some(&self.database_url));
        out.text("acquire_timeout", self.acquire_timeout.as_deref());
        if self.listen.is_some() {
            out.header("[server]");
            out.text("listen", self.listen.as_deref());
        }
        if self.phone_numbers.is_some() || self.phone_number_hash_key.is_some() {
            out.header("[warehouse]");
            out.text("phone_numbers", self.phone_numbers.as_deref());
            out.text(
                "phone_number_hash_key",
                self.phone_number_hash_key.as_deref(),
            );
        }
        if !self.recordings.is_empty() {
            out.header("[recordings]");
            for (key, value) in &self.recordings {
                out.text(key, Some(value));
            }
        }
        for source in &self.sources {
            out.header("[[sources]]");
            source.render(&mut out);
        }
        out.0
    }

    /// Writes the file as `dir/file_name`; returns its path.
    pub fn write(&self, dir: &Path, file_name: &str) -> PathBuf {
        let path = dir.join(file_name);
        std::fs::write(&path, self.toml()).expect("write the config");
        path
    }

    /// What the daemon's start-up step (validation, then credentials and key files) makes of this file,
    /// with `env` as the environment.
    pub fn load_with(&self, env: &[(String, String)]) -> Result<Ready, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        startup::load(&self.write(dir.path(), "ccc-sync.toml"), env)
    }

    /// The start-up of a valid file, in an empty environment.
    pub fn load(&self) -> Ready {
        self.load_with(&[]).expect("a valid config")
    }

    /// The first source, ready to sync, as the daemon builds it from this file.
    pub fn load_source(&self) -> Source {
        let ready = self.load().sources.into_iter().next().expect("a source");
        Source::new(ready).expect("a client for the source")
    }
}

impl SourceConfig {
    pub fn new(name: &str, instance_id: &str) -> SourceConfig {
        SourceConfig {
            name: name.to_owned(),
            instance_id: instance_id.to_owned(),
            endpoint: None,
            access_key_id: None,
            access_key_secret: None,
            access_key_secret_file: None,
            security_token_file: None,
            start_from: None,
            lookback: None,
            interval: None,
            chunk: None,
            page_size: None,
            max_requests_per_second: None,
            retry_for: None,
            read_timeout: None,
            reconcile_every: None,
            reconcile_span: None,
            others: Vec::new(),
        }
    }

    /// `api`, the list action the source pages through.
    pub fn api(self, api: &str) -> SourceConfig {
        self.text("api", api)
    }

    /// Any other text setting, e.g. `("min_window", "1m")`.
    pub fn text(mut self, key: &'static str, value: &str) -> SourceConfig {
        let quoted = serde_json::to_string(value).expect("a string serialises");
        self.others.push((key, quoted));
        self
    }

    /// Any other numeric setting, e.g. `("max_page_number", 3)`.
    pub fn number(mut self, key: &'static str, value: impl Display) -> SourceConfig {
        self.others.push((key, value.to_string()));
        self
    }

    pub fn endpoint(mut self, endpoint: &str) -> SourceConfig {
        self.endpoint = Some(endpoint.to_owned());
        self
    }

    /// The key's id and, inline, its secret.
    pub fn key(self, key: &AccessKey) -> SourceConfig {
        self.access_key_id(&key.id).access_key_secret(&key.secret)
    }

    pub fn access_key_id(mut self, id: &str) -> SourceConfig {
        self.access_key_id = Some(id.to_owned());
        self
    }

    pub fn access_key_secret(mut self, secret: &str) -> SourceConfig {
        self.access_key_secret = Some(secret.to_owned());
        self
    }

    pub fn access_key_secret_file(mut self, path: &Path) -> SourceConfig {
        self.access_key_secret_file = Some(path.to_owned());
        self
    }

    pub fn security_token_file(mut self, path: &Path) -> SourceConfig {
        self.security_token_file = Some(path.to_owned());
        self
    }

    pub fn start_from(mut self, start_from: &str) -> SourceConfig {
        self.start_from = Some(start_from.to_owned());
        self
    }

    pub fn lookback(mut self, lookback: &str) -> SourceConfig {
        self.lookback = Some(lookback.to_owned());
        self
    }

    pub fn interval(mut self, interval: &str) -> SourceConfig {
        self.interval = Some(interval.to_owned());
        self
    }

    pub fn chunk(mut self, chunk: &str) -> SourceConfig {
        self.chunk = Some(chunk.to_owned());
        self
    }

    pub fn page_size(mut self, page_size: u32) -> SourceConfig {
        self.page_size = Some(page_size);
        self
    }

    pub fn max_requests_per_second(mut self, rate: f64) -> SourceConfig {
        self.max_requests_per_second = Some(rate);
        self
    }

    pub fn retry_for(mut self, retry_for: &str) -> SourceConfig {
        self.retry_for = Some(retry_for.to_owned());
        self
    }

    pub fn read_timeout(mut self, timeout: &str) -> SourceConfig {
        self.read_timeout = Some(timeout.to_owned());
        self
    }

    pub fn reconcile_every(mut self, every: &str) -> SourceConfig {
        self.reconcile_every = Some(every.to_owned());
        self
    }

    pub fn reconcile_span(mut self, span: &str) -> SourceConfig {
        self.reconcile_span = Some(span.to_owned());
        self
    }

    fn render(&self, out: &mut Table) {
        let secret_file = self
            .access_key_secret_file
            .as_ref()
            .map(|p| p.display().to_string());
        out.text("name", Some(&self.name));
        out.text("instance_id", Some(&self.instance_id));
        out.text("endpoint", self.endpoint.as_deref());
        out.text("access_key_id", self.access_key_id.as_deref());
        out.text("access_key_secret", self.access_key_secret.as_deref());
        out.text("access_key_secret_file", secret_file.as_deref());
        let token_file = self
            .security_token_file
            .as_ref()
            .map(|p| p.display().to_string());
        out.text("security_token_file", token_file.as_deref());
        out.text("start_from", self.start_from.as_deref());
        out.text("lookback", self.lookback.as_deref());
        out.text("interval", self.interval.as_deref());
        out.text("chunk", self.chunk.as_deref());
        out.number("page_size", self.page_size);
        out.number("max_requests_per_second", self.max_requests_per_second);
        out.text("retry_for", self.retry_for.as_deref());
        out.text("read_timeout", self.read_timeout.as_deref());
        out.text("reconcile_every", self.reconcile_every.as_deref());
        out.text("reconcile_span", self.reconcile_span.as_deref());
        for (key, value) in &self.others {
            out.number(key, Some(value));
        }
    }
}

/// TOML text under construction: a header per table, a `key = value` line per set field.
struct Table(String);

impl Table {
    fn new(header: &str) -> Table {
        Table(format!("{header}\n"))
    }

    fn header(&mut self, header: &str) {
        self.0.push_str(&format!("\n{header}\n"));
    }

    /// A string value, quoted as JSON quotes it, which is also a valid TOML basic string.
    fn text(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            let quoted = serde_json::to_string(value).expect("a string serialises");
            self.0.push_str(&format!("{key} = {quoted}\n"));
        }
    }

    fn number(&mut self, key: &str, value: Option<impl Display>) {
        if let Some(value) = value {
            self.0.push_str(&format!("{key} = {value}\n"));
        }
    }
}

#[test]
fn a_config_renders_only_what_was_set_with_strings_escaped() {
    let text = Config::new("postgres://u@h/db")
        .listen(9187)
        .source(
            SourceConfig::new("s", "i")
                .access_key_secret("a\"b\\c")
                .max_requests_per_second(0.5),
        )
        .toml();

    assert_eq!(
        text,
        "[database]\nurl = \"postgres://u@h/db\"\n\n[server]\nlisten = \"127.0.0.1:9187\"\n\n\
         [[sources]]\nname = \"s\"\ninstance_id = \"i\"\naccess_key_secret = \"a\\\"b\\\\c\"\n\
         max_requests_per_second = 0.5\n"
    );
}
