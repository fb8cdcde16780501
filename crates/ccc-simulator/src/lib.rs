//! The built-in CCC service: a real HTTP server that serves one world of calls through every action a
//! call-record warehouse needs, the way Alibaba Cloud Contact Center does (signature v1), for the demo, the
//! tests and the benchmarks:
//! - `ListRecentCallRecords` 2017-07-05: the signing agent's calls (`docs/ccc-api.md`);
//! - `ListCallDetailRecords` 2017-07-05: every call of the instance, CCC 1.0 records, at most a 7-day
//!   window (`docs/ccc-whole-instance.md` §1);
//! - `ListCallDetailRecords`, `GetCallDetailRecord`, `ListMonoRecordings` 2020-07-01: CCC 2.0 records, at
//!   most page 100 (§2, §3);
//! - `DownloadRecording` 2017-07-05 and `GetMonoRecording` 2020-07-01: a recording file's signed link
//!   (§3), served by the simulator itself on `/_oss/<instance>/<file>` ([`RecordingArchive`]).
//!
//! Layout:
//! - `data`: deterministic calls from a seed: the agent roster, a 24-byte skeleton per call, and the full
//!   record rendered on demand (Chinese names and skill groups, legs, recordings, late surveys).
//! - `instance`: the CCC 1.0 whole-instance record, derived from the `data` record.
//! - `ccc2`: the CCC 2.0 list record, detail (events) and recording files, derived from the same record.
//! - `oss`: the recording archive: signed links (made and checked against the real clock), each file's
//!   deterministic WAV bytes, which files the service deleted, download faults.
//! - `store`: per instance, calls sorted by start time with per-agent position lists; a page is two binary
//!   searches plus the calls still in progress. Live calls are appended lazily as the data clock moves.
//! - `world`: the instances, the index behind a lock, the data clock, pages and the ground truth (one view
//!   per rendering).
//! - `gateway`: parameters, common-parameter checks, routing (`Action`, `Version`), signature v1 (the
//!   `ccc-signature` crate the client signs with), timestamp window against the real clock, nonce replay.
//! - `actions`: each action's own parameters and the paging limits ([`SimulatorConfig::max_page_number`],
//!   [`SimulatorConfig::max_window`]).
//! - `response`: success and error bodies, JSON or XML.
//! - `faults`: injected throttling, 503, 500, slow answers, resets mid-body and truncated bodies.
//! - `script`: the scripted mode for tests: a record set the test controls, chosen pages failed a given
//!   number of times, STS tokens declared expired, and who signed each request.
//! - `limit`: a true rate limit per AccessKey (`--max-rps`), answered `Throttling.User`.
//! - `server`: the axum routes, `/`, the recording links `/_oss/...` (streamed in chunks) and the
//!   loopback-only `/_sim/truth`; who may call what.
//! - `cli`: `ccc-sync simulate` arguments and the banner.
//!
//! It is its own crate so that the sync library does not carry it: the `ccc-sync` binary serves it
//! (`simulate`, `demo`, `bench`) and the integration tests start it in-process.
//!
//! Where ccc-api.md is silent the simulator guesses, and says so: an unknown `InstanceId` gets 404
//! `NotExists.InstanceId` (the 2020-07-01 API's code); a malformed `Timestamp` gets 400
//! `InvalidTimeStamp.Format`; an unsupported `SignatureMethod`/`SignatureVersion` gets
//! `IncompleteSignature`; no `Format` gets XML; `Criteria` is accepted and signed but not applied;
//! survey keys 1..=5 read `非常满意` .. `非常不满意`; a recording's `Channel` is `left` or `right`.
//! A key bound to an agent may call only `ListRecentCallRecords`; the instance admin's actions answer it
//! 403 `Forbidden.NoPermission`. A `ContactId` with no visible call gets 404 `NotExists.ContactId`.
//! Recording links point at `/_oss/<instance>/<file>` on the simulator itself, valid for an hour
//! (`DownloadRecording`) or a day (2.0, unless `ExpireSeconds` says), checked against the real clock like
//! the `Timestamp`. A file the service deleted ([`RecordingArchive::deleted_fraction`]) is `NotExist.Record`
//! (404) to `DownloadRecording`, `NotExists.Recording` (404, a guess) to `GetMonoRecording`, and 404
//! `NoSuchKey` on its link; `ListMonoRecordings` still lists it. `DownloadRecording` finds a file by the
//! `ContactId` its name starts with. The module `oss` lists its own guesses. A scripted simulator scripts only `ListRecentCallRecords`; the other actions answer
//! from its (empty) generated history. The modules `instance`, `ccc2` and `actions` list their own guesses.

mod actions;
mod ccc2;
mod cli;
mod data;
mod faults;
mod gateway;
mod instance;
mod limit;
mod oss;
mod response;
mod script;
mod server;
mod stats;
mod store;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use axum::serve::ListenerExt as _;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use cli::{ArchiveArgs, SimulateArgs, run};
pub use data::{ROSTER_SIZE, agent_ids};
pub use faults::Faults;
pub use gateway::{
    ACTION, API_VERSION, CCC2_API_VERSION, DOWNLOAD_RECORDING, GET_CALL_DETAIL_RECORD,
    GET_MONO_RECORDING, LIST_CALL_DETAIL_RECORDS, LIST_MONO_RECORDINGS,
};
pub use oss::{DownloadFaults, RecordingArchive, RecordingFile};
pub use script::{PageFault, SignedWith};
pub use stats::{DownloadStats, FaultCounts, RequestStats};
pub use store::MAX_LIVE_CALLS;
pub use world::TruthView;

use actions::Limits;
use data::Shape;
use gateway::Gateway;
use script::Script;
use server::Shared;
use store::Dataset;
use world::World;

/// The instance the demo configuration serves.
pub const DEMO_INSTANCE_ID: &str = "9cfad875-6260-4a53-ab6e-b13e3fb31f7d";
/// The AccessKey id of the demo configuration.
pub const DEMO_ACCESS_KEY_ID: &str = "LTAI5tDemoKey00000000001";
/// The demo key's secret: public on purpose, it protects nothing but simulated data.
pub const DEMO_ACCESS_KEY_SECRET: &str = "SimulatorDemoSecretNotForProduction";

/// The highest `PageNumber` CCC 2.0's `ListCallDetailRecords` accepts.
pub const DEFAULT_MAX_PAGE_NUMBER: u32 = 100;
/// The longest window CCC 1.0's `ListCallDetailRecords` accepts.
pub const DEFAULT_MAX_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// How long shutdown waits for answers in flight (a slow fault may hold one) before it stops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// An AccessKey the simulator accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// An agent-bound key sees only the calls that agent has a leg in (`1912@ccctest`); `None` sees all.
    pub agent: Option<String>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .field("agent", &self.agent)
            .finish()
    }
}

impl AccessKey {
    /// The built-in demo key, bound to no agent.
    pub fn demo() -> AccessKey {
        AccessKey {
            id: DEMO_ACCESS_KEY_ID.to_owned(),
            secret: DEMO_ACCESS_KEY_SECRET.to_owned(),
            agent: None,
        }
    }

    /// Whether this is the built-in demo key, whose secret may be printed.
    pub fn is_demo(&self) -> bool {
        self.id == DEMO_ACCESS_KEY_ID && self.secret == DEMO_ACCESS_KEY_SECRET
    }
}

/// Everything that decides what the simulator serves.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Calls in the history, over all instances.
    pub calls: usize,
    /// The history covers `[anchor - days, anchor]`.
    pub days: u32,
    /// Same seed, counts and anchor: same calls.
    pub seed: u64,
    pub keys: Vec<AccessKey>,
    pub instance_ids: Vec<String>,
    /// The docs' flat list shape instead of the wrapped shape the service sends.
    pub flat: bool,
    /// New calls per second arriving after the anchor as the data clock advances.
    pub live_rate: Option<f64>,
    /// A call becomes visible at its end plus this delay.
    pub write_delay: Duration,
    /// The end of the history and the start of live arrivals.
    pub anchor: DateTime<Utc>,
    pub faults: Faults,
    /// Serve the records a test sets ([`SimulatorHandle::set_records`]) instead of generated calls; see
    /// [`SimulatorConfig::scripted`].
    pub scripted: bool,
    /// At most this many requests per AccessKey in any trailing second; the rest get `Throttling.User`.
    pub max_rps: Option<u32>,
    /// `ListCallDetailRecords` 2020-07-01 refuses a `PageNumber` over this (the service: 100, so at most
    /// 10,000 records per window).
    pub max_page_number: u32,
    /// `ListCallDetailRecords` 2017-07-05 refuses a window longer than this (the service: 7 days).
    pub max_window: Duration,
    /// The recording files behind the links: lifetimes, deletions, sizes and download faults.
    pub archive: RecordingArchive,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            calls: 3_000,
            days: 3,
            seed: 1912,
            keys: vec![AccessKey::demo()],
            instance_ids: vec![DEMO_INSTANCE_ID.to_owned()],
            flat: false,
            live_rate: None,
            write_delay: Duration::from_secs(5),
            anchor: Utc::now(),
            faults: Faults::default(),
            scripted: false,
            max_rps: None,
            max_page_number: DEFAULT_MAX_PAGE_NUMBER,
            max_window: DEFAULT_MAX_WINDOW,
            archive: RecordingArchive::default(),
        }
    }
}

impl SimulatorConfig {
    /// A simulator for tests that script what it serves: no generated calls, only the records the test
    /// sets, to `keys` (an agent-bound key sees the records with a leg of its agent, whoever that is) on
    /// `instance_ids`. It remembers who signed each request ([`SimulatorHandle::signed_with`]).
    pub fn scripted(keys: Vec<AccessKey>, instance_ids: Vec<String>) -> SimulatorConfig {
        SimulatorConfig {
            calls: 0,
            keys,
            instance_ids,
            scripted: true,
            ..SimulatorConfig::default()
        }
    }

    /// Refuses configurations that cannot be served, naming the setting and the fix.
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            !self.keys.is_empty(),
            "at least one access key is needed (--access-key ID:SECRET[:AGENT])"
        );
        ensure!(
            !self.instance_ids.is_empty(),
            "at least one instance id is needed (--instance-id ID)"
        );
        ensure!(self.days >= 1, "days must be at least 1, not {}", self.days);
        ensure!(
            !self.scripted || (self.calls == 0 && self.live_rate.is_none()),
            "a scripted simulator serves only the records a test sets; calls must be 0 and live rate off"
        );
        ensure!(
            u32::try_from(self.calls).is_ok_and(|c| c <= u32::MAX - MAX_LIVE_CALLS),
            "calls must be at most {}, not {}",
            u32::MAX - MAX_LIVE_CALLS,
            self.calls
        );
        for (i, key) in self.keys.iter().enumerate() {
            ensure!(
                !key.id.is_empty() && !key.secret.is_empty(),
                "access key #{} needs an id and a secret",
                i + 1
            );
            ensure!(
                !self.keys[..i].iter().any(|k| k.id == key.id),
                "access key {} is configured twice",
                key.id
            );
            if let Some(agent) = key.agent.as_ref().filter(|_| !self.scripted) {
                let known = (0..self.instance_ids.len()).any(|n| agent_ids(n).contains(agent));
                ensure!(
                    known,
                    "access key {} is bound to agent {agent}, who is not on any roster; agents are {} (instance 1), {} (instance 2), ...",
                    key.id,
                    roster_range(0),
                    roster_range(1)
                );
            }
        }
        for (i, id) in self.instance_ids.iter().enumerate() {
            ensure!(!id.is_empty(), "instance id #{} is empty", i + 1);
            ensure!(
                !self.instance_ids[..i].contains(id),
                "instance id {id} is configured twice"
            );
        }
        if let Some(rate) = self.live_rate {
            ensure!(
                rate.is_finite() && rate > 0.0,
                "live rate must be a positive number of calls per second, not {rate}"
            );
        }
        ensure!(
            self.max_rps != Some(0),
            "max rps must be at least 1 request per second"
        );
        ensure!(
            self.max_page_number >= 1,
            "max page number must be at least 1"
        );
        ensure!(
            self.max_window >= Duration::from_secs(1),
            "max window must be at least 1s, not {}",
            humantime::format_duration(self.max_window)
        );
        let archive = &self.archive;
        for (name, lifetime) in [
            ("1.0 link lifetime", archive.link_lifetime_ccc1),
            ("2.0 link lifetime", archive.link_lifetime_ccc2),
        ] {
            ensure!(
                lifetime >= Duration::from_secs(1),
                "{name} must be at least 1s, not {}",
                humantime::format_duration(lifetime)
            );
        }
        ensure!(
            archive.max_file_bytes >= oss::WAV_HEADER_BYTES,
            "max file size must be at least {} bytes (a WAV header), not {}",
            oss::WAV_HEADER_BYTES,
            archive.max_file_bytes
        );
        let deleted = [("deleted recordings", archive.deleted_fraction)];
        for (name, p) in self
            .faults
            .probabilities()
            .into_iter()
            .chain(archive.faults.probabilities())
            .chain(deleted)
        {
            ensure!(
                (0.0..=1.0).contains(&p),
                "fault probability {name} must be between 0 and 1, not {p}"
            );
        }
        Ok(())
    }
}

/// `1912@ccctest..1935@ccctest`: the agent ids of one instance, for messages.
fn roster_range(instance_index: usize) -> String {
    let ids = agent_ids(instance_index);
    format!("{}..{}", ids[0], ids[ids.len() - 1])
}

/// Generates the calls and serves them on `listener` until [`SimulatorHandle::shutdown`].
pub async fn start(
    config: SimulatorConfig,
    listener: TcpListener,
) -> anyhow::Result<SimulatorHandle> {
    config.validate()?;
    let addr = listener
        .local_addr()
        .context("the listener has no local address")?;
    let (seed, calls, days, anchor_ms, instances, live) = (
        config.seed,
        config.calls,
        config.days,
        config.anchor.timestamp_millis(),
        config.instance_ids.len(),
        config.live_rate,
    );
    let dataset = tokio::task::spawn_blocking(move || {
        Dataset::generate(seed, calls, days, anchor_ms, instances, live)
    })
    .await
    .context("generating the calls failed")?;
    let shape = if config.flat {
        Shape::Flat
    } else {
        Shape::Wrapped
    };
    let write_delay_ms = i64::try_from(config.write_delay.as_millis()).unwrap_or(i64::MAX / 4);
    let shared = Arc::new(Shared {
        world: World::new(
            config.seed,
            shape,
            write_delay_ms,
            &config.instance_ids,
            dataset,
            config.archive.clone(),
        ),
        gateway: Gateway::new(&config.keys),
        faults: config.faults.clone(),
        script: Script::new(config.scripted),
        limit: config.max_rps.map(limit::RateLimit::new),
        limits: Limits {
            max_page_number: config.max_page_number,
            max_window_ms: i64::try_from(config.max_window.as_millis()).unwrap_or(i64::MAX),
        },
        endpoint: endpoint(addr),
        stats: Mutex::new(RequestStats::default()),
        linked: Mutex::default(),
    });
    let app =
        server::router(Arc::clone(&shared)).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    // Without TCP_NODELAY a response written in pieces waits on the peer's delayed ACK: ~40 ms a page.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(
        %addr,
        calls = shared.world.call_count(),
        instances,
        keys = config.keys.len(),
        flat = config.flat,
        faults = config.faults.any(),
        max_rps = config.max_rps,
        "CCC simulator started"
    );
    Ok(SimulatorHandle {
        addr,
        shared,
        stop,
        task,
    })
}

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`SimulatorHandle::shutdown`] to stop it.
pub struct SimulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl SimulatorHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (a wildcard listen address is reached through loopback).
    pub fn endpoint(&self) -> String {
        endpoint(self.addr)
    }

    /// Stops the data clock at `t` (tests); until called, the data follows the real clock.
    pub fn set_now(&self, t: DateTime<Utc>) {
        self.shared.world.clock.set(t);
    }

    /// The data clock.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.shared.world.clock.now_ms()).unwrap_or_default()
    }

    /// Every record visible at `at` in every instance (only `agent`'s calls if given), newest first, each
    /// exactly the JSON object the API would serve for it at that instant, in the configured shape. The
    /// generated calls only: a scripted simulator's records are the test's own.
    pub fn truth(&self, at: DateTime<Utc>, agent: Option<&str>) -> Vec<serde_json::Value> {
        self.shared.world.truth(at.timestamp_millis(), agent)
    }

    /// [`SimulatorHandle::truth`] as another action renders it (`/_sim/truth?view=`): the whole-instance
    /// records of 2017-07-05 with recordings, or per call the 2020-07-01 list record, detail and recording
    /// files (without links). Same order and visibility.
    pub fn truth_view(
        &self,
        at: DateTime<Utc>,
        agent: Option<&str>,
        view: TruthView,
    ) -> Vec<serde_json::Value> {
        self.shared
            .world
            .truth_view(at.timestamp_millis(), agent, view)
    }

    /// Every recording file of the calls visible at `at` in every instance, newest call first, as the
    /// links serve them: size, SHA-256, content type, and whether the service deleted it. The same file
    /// names as the recordings of [`TruthView::Instance`] and [`TruthView::Ccc2`]. It reads every byte, so
    /// keep [`RecordingArchive::max_file_bytes`] small in tests.
    pub fn recording_files(&self, at: DateTime<Utc>) -> Vec<RecordingFile> {
        self.shared
            .world
            .recording_files(at.timestamp_millis(), None)
    }

    /// What the API has answered so far.
    pub fn requests(&self) -> RequestStats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the records a scripted simulator serves; requests from now on see only these.
    ///
    /// # Panics
    /// If the simulator was not started with [`SimulatorConfig::scripted`].
    pub fn set_records(&self, records: Vec<serde_json::Value>) {
        self.shared.script.set_records(records);
    }

    /// Answers page `fault.page` with the fault's status and body, `fault.times` times, before any
    /// injected fault; faults on the same page are served in the order they were added.
    pub fn fail_page(&self, fault: PageFault) {
        self.shared.script.fail_page(fault);
    }

    /// Forgets the page faults not yet served.
    pub fn clear_page_faults(&self) {
        self.shared.script.clear_page_faults();
    }

    /// From now on, requests carrying `token` as `SecurityToken` are refused with 400
    /// `InvalidSecurityToken.Expired`, as the service refuses an expired STS token.
    pub fn expire_token(&self, token: &str) {
        self.shared.script.expire_token(token);
    }

    /// The `AccessKeyId` and `SecurityToken` of every request so far, in order, refused ones included
    /// (scripted simulators only: others remember nothing).
    pub fn signed_with(&self) -> Vec<SignedWith> {
        self.shared.script.signed_with()
    }

    /// Stops accepting, lets answers in flight finish for a moment, then stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "CCC simulator stopped with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "CCC simulator task failed"),
            Err(_) => {
                task.abort();
                tracing::debug!("CCC simulator stopped with answers still in flight");
            }
        }
        tracing::info!(addr = %self.addr, "CCC simulator stopped");
    }
}

/// The URL clients use for a listen address: wildcards become loopback.
fn endpoint(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Parses `ID:SECRET[:AGENT]`.
pub fn parse_access_key(spec: &str) -> anyhow::Result<AccessKey> {
    let mut parts = spec.splitn(3, ':');
    let (Some(id), Some(secret)) = (parts.next(), parts.next()) else {
        bail!("an access key is ID:SECRET[:AGENT]; this one has no ':'");
    };
    ensure!(
        !id.is_empty() && !secret.is_empty(),
        "an access key is ID:SECRET[:AGENT]; the id and the secret may not be empty"
    );
    Ok(AccessKey {
        id: id.to_owned(),
        secret: secret.to_owned(),
        agent: parts.next().filter(|a| !a.is_empty()).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_parse_with_and_without_an_agent_and_never_show_the_secret() {
        let k = parse_access_key("LTAIx:s3cret:1912@ccctest").expect("key");
        assert_eq!(
            (k.id.as_str(), k.secret.as_str(), k.agent.as_deref()),
            ("LTAIx", "s3cret", Some("1912@ccctest"))
        );
        assert_eq!(parse_access_key("a:b").expect("key").agent, None);
        assert!(parse_access_key("nosecret").is_err());
        assert!(parse_access_key(":b").is_err());
        assert!(!format!("{k:?}").contains("s3cret"));
    }

    #[test]
    fn the_default_configuration_is_valid_and_bad_ones_say_why() {
        SimulatorConfig::default().validate().expect("valid");
        let unknown_agent = SimulatorConfig {
            keys: vec![AccessKey {
                agent: Some("7@nowhere".into()),
                ..AccessKey::demo()
            }],
            ..SimulatorConfig::default()
        };
        let e = unknown_agent.validate().expect_err("invalid").to_string();
        assert!(e.contains("7@nowhere") && e.contains("1912@ccctest"), "{e}");
        let bad_fault = SimulatorConfig {
            faults: Faults {
                reset: 1.5,
                ..Faults::default()
            },
            ..SimulatorConfig::default()
        };
        assert!(
            bad_fault
                .validate()
                .expect_err("invalid")
                .to_string()
                .contains("reset")
        );
    }

    #[test]
    fn a_scripted_simulator_binds_keys_to_any_agent_but_generates_nothing() {
        let agent_key = AccessKey {
            agent: Some("1001@ccctest".into()),
            ..AccessKey::demo()
        };
        let scripted = SimulatorConfig::scripted(vec![agent_key.clone()], vec!["inst-1".into()]);
        scripted.validate().expect("any agent in scripted mode");
        let generating = SimulatorConfig {
            calls: 10,
            ..scripted.clone()
        };
        let e = generating.validate().expect_err("invalid").to_string();
        assert!(e.contains("scripted") && e.contains("calls"), "{e}");
        let unscripted = SimulatorConfig {
            keys: vec![agent_key],
            ..SimulatorConfig::default()
        };
        assert!(
            unscripted.validate().is_err(),
            "1001@ccctest is on no roster"
        );
    }

    #[test]
    fn a_wildcard_listen_address_is_reached_through_loopback() {
        assert_eq!(
            endpoint("0.0.0.0:8080".parse().expect("addr")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            endpoint("[::]:8080".parse().expect("addr")),
            "http://[::1]:8080"
        );
        assert_eq!(
            endpoint("127.0.0.1:9".parse().expect("addr")),
            "http://127.0.0.1:9"
        );
    }
}
