//! `ccc-sync simulate`: the command-line arguments, the start-up banner, and running until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;

use super::{
    AccessKey, DEFAULT_MAX_PAGE_NUMBER, DEMO_INSTANCE_ID, DownloadFaults, Faults, RecordingArchive,
    SimulatorConfig, endpoint, parse_access_key, roster_range, start,
};

/// Serve simulated CCC call records on a local HTTP endpoint.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Calls in the history, over all instances.
    #[arg(long, value_name = "N", default_value_t = 3_000)]
    pub calls: usize,
    /// Days of history, ending at the anchor.
    #[arg(long, value_name = "D", default_value_t = 3)]
    pub days: u32,
    /// Seed of the generated calls: the same flags and anchor give the same calls.
    #[arg(long, value_name = "S", default_value_t = 1912)]
    pub seed: u64,
    /// End of the history and start of live arrivals (RFC 3339); default now.
    #[arg(long, value_name = "RFC3339")]
    pub anchor: Option<DateTime<Utc>>,
    /// An accepted AccessKey, optionally bound to an agent such as 1912@ccctest (repeatable).
    /// Default: the built-in demo key.
    #[arg(long = "access-key", value_name = "ID:SECRET[:AGENT]", value_parser = key_arg)]
    pub access_keys: Vec<AccessKey>,
    /// A served instance id (repeatable). Default: the demo instance.
    #[arg(long = "instance-id", value_name = "ID")]
    pub instance_ids: Vec<String>,
    /// Serve the docs' flat lists instead of the wrapped lists the service sends.
    #[arg(long)]
    pub flat: bool,
    /// New calls per second arriving as time passes.
    #[arg(long, value_name = "RATE")]
    pub live: Option<f64>,
    /// How long after its end a call becomes visible.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = humantime::parse_duration)]
    pub write_delay: Duration,
    /// Probability of 400 Throttling.User.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub throttle: f64,
    /// Probability of 503 ServiceUnavailable.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub unavailable: f64,
    /// Probability of 500 InternalError.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub internal_error: f64,
    /// Probability of an answer held back for --slow-for.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub slow: f64,
    /// How long a slow answer takes.
    #[arg(long, value_name = "DUR", default_value = "15s", value_parser = humantime::parse_duration)]
    pub slow_for: Duration,
    /// Probability of a connection dropped mid-body.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub reset: f64,
    /// Probability of a 200 with a truncated body.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub truncate: f64,
    /// A true rate limit: requests over N per second per access key get 400 Throttling.User.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rps: Option<u32>,
    /// The highest PageNumber ListCallDetailRecords 2020-07-01 accepts (the service: 100).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PAGE_NUMBER,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub max_page_number: u32,
    /// The longest StartTime..StopTime window ListCallDetailRecords 2017-07-05 accepts (the service: 7 days).
    #[arg(long, value_name = "DUR", default_value = "7days", value_parser = humantime::parse_duration)]
    pub max_window: Duration,
    /// The recording archive behind the links (boxed: it keeps the `ccc-sync` command enum small).
    #[command(flatten)]
    pub archive: Box<ArchiveArgs>,
}

/// `ccc-sync simulate`'s recording-archive flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveArgs {
    /// How long a DownloadRecording (2017-07-05) link is valid (the service: 1 hour).
    #[arg(long, value_name = "DUR", default_value = "1h", value_parser = humantime::parse_duration)]
    pub download_link_lifetime: Duration,
    /// How long a GetMonoRecording or ListMonoRecordings (2020-07-01) link is valid unless the request
    /// says (the service: 1 day).
    #[arg(long, value_name = "DUR", default_value = "1day", value_parser = humantime::parse_duration)]
    pub mono_link_lifetime: Duration,
    /// Share of recording files the service has deleted (their links answer 404).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub deleted_recordings: f64,
    /// The largest recording file served, in bytes; longer recordings are cut.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024,
        value_parser = clap::value_parser!(u64).range(44..))]
    pub max_file_size: u64,
    /// Probability of a recording download dropped mid-body.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub download_reset: f64,
    /// Probability of a recording download whose body waits --slow-for.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub download_slow: f64,
    /// Share of recording files whose first link is handed out already expired.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub download_expired: f64,
}

fn key_arg(spec: &str) -> Result<AccessKey, String> {
    parse_access_key(spec).map_err(|e| e.to_string())
}

fn probability(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("a probability is a number from 0 to 1, not {text:?}"))
}

impl SimulateArgs {
    /// The configuration these arguments describe; the defaults fill what is not given.
    pub fn config(&self) -> SimulatorConfig {
        let defaults = SimulatorConfig::default();
        SimulatorConfig {
            calls: self.calls,
            days: self.days,
            seed: self.seed,
            keys: if self.access_keys.is_empty() {
                defaults.keys
            } else {
                self.access_keys.clone()
            },
            instance_ids: if self.instance_ids.is_empty() {
                vec![DEMO_INSTANCE_ID.to_owned()]
            } else {
                self.instance_ids.clone()
            },
            flat: self.flat,
            live_rate: self.live,
            write_delay: self.write_delay,
            anchor: self.anchor.unwrap_or(defaults.anchor),
            faults: Faults {
                throttle: self.throttle,
                unavailable: self.unavailable,
                internal_error: self.internal_error,
                slow: self.slow,
                slow_for: self.slow_for,
                reset: self.reset,
                truncate: self.truncate,
            },
            scripted: false,
            max_rps: self.max_rps,
            max_page_number: self.max_page_number,
            max_window: self.max_window,
            archive: RecordingArchive {
                link_lifetime_ccc1: self.archive.download_link_lifetime,
                link_lifetime_ccc2: self.archive.mono_link_lifetime,
                deleted_fraction: self.archive.deleted_recordings,
                max_file_bytes: self.archive.max_file_size,
                faults: DownloadFaults {
                    reset: self.archive.download_reset,
                    slow: self.archive.download_slow,
                    expired_first: self.archive.download_expired,
                },
            },
        }
    }
}

/// The probabilities that are set, as `name p` for the banner.
fn active(probabilities: &[(&'static str, f64)]) -> Vec<String> {
    probabilities
        .iter()
        .filter(|(_, p)| *p > 0.0)
        .map(|(name, p)| format!("{name} {p}"))
        .collect()
}

/// What the operator needs to point a client at the simulator. Secrets appear only for the demo key.
pub fn banner(config: &SimulatorConfig, addr: SocketAddr) -> String {
    let endpoint = endpoint(addr);
    let mut lines = vec![
        format!("CCC simulator listening on {endpoint}"),
        format!(
            "  calls:        {} over {} day(s) up to {} (seed {}), {}, write delay {}",
            config.calls,
            config.days,
            config.anchor.format("%Y-%m-%dT%H:%M:%SZ"),
            config.seed,
            config
                .live_rate
                .map_or("no live arrivals".to_owned(), |r| format!(
                    "{r} new call(s)/s"
                )),
            humantime::format_duration(config.write_delay),
        ),
    ];
    for (i, id) in config.instance_ids.iter().enumerate() {
        lines.push(format!("  instance id:  {id} (agents {})", roster_range(i)));
    }
    for key in &config.keys {
        let scope = key
            .agent
            .as_deref()
            .map_or("every call".to_owned(), |a| format!("agent {a}"));
        if key.is_demo() {
            lines.push(format!(
                "  access key:   {} secret {} (built-in demo key; sees {scope})",
                key.id, key.secret
            ));
        } else {
            lines.push(format!("  access key:   {} (sees {scope})", key.id));
        }
    }
    let faults = active(&config.faults.probabilities());
    if faults.is_empty() {
        lines.push("  faults:       none".to_owned());
    } else {
        lines.push(format!(
            "  faults:       {} (slow answers take {})",
            faults.join(", "),
            humantime::format_duration(config.faults.slow_for)
        ));
    }
    lines.push(match config.max_rps {
        Some(n) => format!("  rate limit:   {n} request(s)/s per access key, then Throttling.User"),
        None => "  rate limit:   none".to_owned(),
    });
    let archive = &config.archive;
    let download_faults = active(&archive.faults.probabilities());
    lines.push(format!(
        "  recordings:   {endpoint}/_oss/<instance>/<file>, links valid {} (1.0) / {} (2.0), files at most {} bytes, {} deleted, download faults {}",
        humantime::format_duration(archive.link_lifetime_ccc1),
        humantime::format_duration(archive.link_lifetime_ccc2),
        archive.max_file_bytes,
        archive.deleted_fraction,
        if download_faults.is_empty() {
            "none".to_owned()
        } else {
            download_faults.join(", ")
        }
    ));
    lines.push(format!(
        "  actions:      ListRecentCallRecords, ListCallDetailRecords (2017-07-05, window at most {}), DownloadRecording; ListCallDetailRecords (page at most {}), GetCallDetailRecord, ListMonoRecordings, GetMonoRecording (2020-07-01)",
        humantime::format_duration(config.max_window),
        config.max_page_number
    ));
    lines.push(format!(
        "  shape:        {}",
        if config.flat {
            "flat lists (docs)"
        } else {
            "wrapped lists (wire)"
        }
    ));
    lines.push(format!(
        "  ground truth: {endpoint}/_sim/truth?at=<epoch ms|RFC3339>&agent=<agent id>&view=<agent|instance|ccc2|files>"
    ));
    lines.join("\n")
}

/// Runs the simulator described by `args` until `shutdown` completes.
pub async fn run(args: SimulateArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let config = args.config();
    config.validate()?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener
        .local_addr()
        .context("the listener has no local address")?;
    let banner = banner(&config, addr);
    let handle = start(config, listener).await?;
    println!("{banner}");
    shutdown.await;
    handle.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn parse(args: &[&str]) -> Result<SimulateArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("simulate").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn the_issue_flags_parse_and_repeat() {
        let args = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--calls",
            "50",
            "--days",
            "2",
            "--seed",
            "9",
            "--access-key",
            "A:sa",
            "--access-key",
            "B:sb:1912@ccctest",
            "--instance-id",
            "i1",
            "--instance-id",
            "i2",
            "--flat",
            "--live",
            "0.5",
            "--write-delay",
            "3s",
            "--throttle",
            "0.1",
            "--unavailable",
            "0.2",
            "--internal-error",
            "0.3",
            "--slow",
            "0.4",
            "--reset",
            "0.5",
            "--truncate",
            "0.6",
            "--anchor",
            "2024-01-01T00:00:00Z",
            "--max-rps",
            "20",
            "--max-page-number",
            "3",
            "--max-window",
            "2h",
            "--download-link-lifetime",
            "2s",
            "--mono-link-lifetime",
            "3s",
            "--deleted-recordings",
            "0.25",
            "--max-file-size",
            "4096",
            "--download-reset",
            "0.1",
            "--download-slow",
            "0.2",
        ])
        .expect("parses");
        let config = args.config();
        config.validate().expect("valid");
        assert_eq!((config.calls, config.days, config.seed), (50, 2, 9));
        assert_eq!(config.keys.len(), 2);
        assert_eq!(config.keys[1].agent.as_deref(), Some("1912@ccctest"));
        assert_eq!(config.instance_ids, ["i1", "i2"]);
        assert!(config.flat);
        assert_eq!(config.live_rate, Some(0.5));
        assert_eq!(config.write_delay, Duration::from_secs(3));
        assert_eq!(config.faults.truncate, 0.6);
        assert_eq!(config.anchor.timestamp(), 1_704_067_200);
        assert_eq!(config.max_rps, Some(20));
        assert_eq!(config.max_page_number, 3);
        assert_eq!(config.max_window, Duration::from_secs(7_200));
        let archive = &config.archive;
        assert_eq!(
            (archive.link_lifetime_ccc1, archive.link_lifetime_ccc2),
            (Duration::from_secs(2), Duration::from_secs(3))
        );
        assert_eq!(
            (archive.deleted_fraction, archive.max_file_bytes),
            (0.25, 4096)
        );
        assert_eq!((archive.faults.reset, archive.faults.slow), (0.1, 0.2));
        let shown = banner(&config, "127.0.0.1:8080".parse().expect("addr"));
        assert!(
            shown.contains("0.25 deleted") && shown.contains("download-reset 0.1"),
            "{shown}"
        );
    }

    #[test]
    fn a_dense_day_that_forces_splitting_is_a_valid_configuration() {
        let config = parse(&["--calls", "50000", "--days", "1"])
            .expect("parses")
            .config();
        config.validate().expect("valid");
        assert_eq!(config.max_page_number, 100);
        assert_eq!(config.max_window, Duration::from_secs(7 * 86_400));
        assert_eq!(config.archive, RecordingArchive::default());
        let shown = banner(&config, "127.0.0.1:8080".parse().expect("addr"));
        assert!(
            shown.contains("GetCallDetailRecord") && shown.contains("7days"),
            "{shown}"
        );
    }

    #[test]
    fn defaults_serve_the_demo_and_the_banner_shows_only_the_demo_secret() {
        let config = parse(&[]).expect("parses").config();
        assert_eq!(config.instance_ids, [DEMO_INSTANCE_ID]);
        let addr: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let shown = banner(&config, addr);
        assert!(
            shown.contains(super::super::DEMO_ACCESS_KEY_SECRET),
            "{shown}"
        );
        assert!(shown.contains("http://127.0.0.1:8080/_sim/truth"));

        let mine = parse(&["--access-key", "MyKey:TopSecretValue"])
            .expect("parses")
            .config();
        let shown = banner(&mine, addr);
        assert!(shown.contains("MyKey"));
        assert!(!shown.contains("TopSecretValue"), "{shown}");
    }

    #[test]
    fn a_probability_outside_zero_to_one_is_refused() {
        assert!(parse(&["--throttle", "1.5"]).is_err());
        assert!(parse(&["--reset", "x"]).is_err());
        assert!(parse(&["--access-key", "nosecret"]).is_err());
        assert!(parse(&["--max-rps", "0"]).is_err());
        assert!(parse(&["--max-page-number", "0"]).is_err());
        assert!(parse(&["--deleted-recordings", "2"]).is_err());
        assert!(parse(&["--max-file-size", "43"]).is_err());
    }
}
