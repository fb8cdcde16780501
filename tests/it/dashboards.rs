//! The Grafana dashboards in `deploy/grafana/`, proven with real parts: every SQL panel runs against a
//! warehouse synced from the simulator, every PromQL panel is evaluated by a real Prometheus scraping a
//! running daemon.
//!
//! Prometheus is Debian's `prometheus` package; when it is missing the harness installs it with `apt-get`
//! (root and a reachable Debian mirror are needed then). If it cannot, the test fails and says why: it is
//! never skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;
use sqlx::{Column, Row};
use tokio_util::sync::CancellationToken;

use ccc_simulator::{AccessKey, DEMO_INSTANCE_ID, Faults, SimulatorConfig, SimulatorHandle};
use ccc_sync::scheduler;

use crate::support::config::{Config, SourceConfig, UNUSED_DATABASE};
use crate::support::daemon::{Daemon, free_port};
use crate::support::{TestDb, ccc};

fn dashboard(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("deploy/grafana/{name}.json"));
    let text = std::fs::read_to_string(&path).expect("dashboard file");
    serde_json::from_str(&text).expect("dashboard JSON")
}

/// Every (panel title, query target) of a dashboard.
fn targets(dashboard: &Value) -> Vec<(String, Value)> {
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().expect("title").to_owned();
            p["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(move |t| (title.clone(), t.clone()))
        })
        .collect()
}

fn grafana_time(t: DateTime<Utc>) -> String {
    format!("'{}'", t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// What Grafana's PostgreSQL data source sends for `sql` over `[from, to]` with one instance selected.
fn expand_sql(sql: &str, from: DateTime<Utc>, to: DateTime<Utc>, instance: &str) -> String {
    let mut out = sql
        .replace("$__timeFrom()", &grafana_time(from))
        .replace("$__timeTo()", &grafana_time(to))
        .replace("$instance_id", &format!("'{instance}'"))
        .replace("$sl_seconds", "20");
    while let Some(at) = out.find("$__timeFilter(") {
        let rest = &out[at + "$__timeFilter(".len()..];
        let close = rest.find(')').expect("closing parenthesis");
        let column = &rest[..close];
        let filter = format!(
            "{column} BETWEEN {} AND {}",
            grafana_time(from),
            grafana_time(to)
        );
        out = format!("{}{filter}{}", &out[..at], &rest[close + 1..]);
    }
    assert!(!out.contains('$'), "a macro is left: {out}");
    out
}

/// What Grafana substitutes in a PromQL expression with every source selected.
fn expand_promql(expr: &str) -> String {
    let out = expr
        .replace("$source", ".*")
        .replace("$__rate_interval", "16s");
    assert!(!out.contains('$'), "a variable is left: {out}");
    out
}

#[test]
fn both_dashboards_import_as_they_are_with_a_placeholder_for_each_data_source() {
    for (name, input, plugin) in [
        ("operations", "DS_PROMETHEUS", "prometheus"),
        (
            "contact-center",
            "DS_POSTGRESQL",
            "grafana-postgresql-datasource",
        ),
    ] {
        let d = dashboard(name);
        let inputs = d["__inputs"].as_array().expect("__inputs");
        assert_eq!(inputs.len(), 1, "{name}");
        assert_eq!(inputs[0]["name"], input, "{name}");
        assert_eq!(inputs[0]["type"], "datasource", "{name}");
        assert_eq!(inputs[0]["pluginId"], plugin, "{name}");
        assert!(
            d["uid"]
                .as_str()
                .is_some_and(|u| u.starts_with("ccc-sync-"))
        );
        let placeholder = serde_json::json!({ "type": plugin, "uid": format!("${{{input}}}") });
        let panels = d["panels"].as_array().expect("panels");
        assert!(panels.len() >= 8, "{name} has {} panels", panels.len());
        for p in panels {
            assert_eq!(p["datasource"], placeholder, "{name}: {}", p["title"]);
            for t in p["targets"].as_array().expect("targets") {
                assert_eq!(t["datasource"], placeholder, "{name}: {}", p["title"]);
            }
        }
        let ids: std::collections::BTreeSet<_> =
            panels.iter().filter_map(|p| p["id"].as_u64()).collect();
        assert_eq!(ids.len(), panels.len(), "{name}: panel ids are unique");
    }
}

/// The columns each SQL panel returns, by panel title.
fn expected_columns() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        (
            "Offered, answered, abandoned per day",
            vec!["time", "offered", "answered", "abandoned"],
        ),
        (
            "Answer rate per day",
            vec!["time", "answer_rate", "abandon_rate"],
        ),
        (
            "Service level: answered within $sl_seconds s",
            vec!["time", "service_level"],
        ),
        (
            "Totals over the range",
            vec!["offered", "answered", "abandoned", "answer_rate"],
        ),
        (
            "Average handle, talk, hold and after-call work per day",
            vec![
                "time",
                "avg_handle_time",
                "avg_talk_time",
                "avg_hold_time",
                "avg_work_time",
            ],
        ),
        (
            "Top agents",
            vec![
                "agent_id",
                "agent_name",
                "calls_offered",
                "calls_handled",
                "avg_talk_time",
                "avg_handle_time",
            ],
        ),
        (
            "Skill groups",
            vec![
                "skill_group_name",
                "offered",
                "answered",
                "abandoned",
                "answer_rate",
                "avg_queue_time",
                "avg_handle_time",
            ],
        ),
        ("Satisfaction", vec!["answer", "calls"]),
        (
            "Rated calls and average score per day",
            vec!["time", "rated", "average_score"],
        ),
    ])
}

/// The demo instance's source on `sim`, with the demo key.
fn demo_source(sim: &SimulatorHandle) -> SourceConfig {
    SourceConfig::new("demo", DEMO_INSTANCE_ID)
        .endpoint(&sim.endpoint())
        .key(&AccessKey::demo())
        .max_requests_per_second(10_000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sql_panel_returns_rows_with_its_columns_from_a_synced_warehouse() {
    let db = TestDb::new().await;
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = ccc::simulator(SimulatorConfig {
        calls: 2_000,
        days: 3,
        anchor: at,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let source = Config::new(UNUSED_DATABASE)
        .source(demo_source(&sim).start_from("4d").chunk("1d"))
        .load_source();
    scheduler::sync_source(&db.pool, &source, at, &CancellationToken::new())
        .await
        .expect("pass");
    let expected = expected_columns();
    let sql_panels = targets(&dashboard("contact-center"));
    let mut titles: Vec<&str> = sql_panels.iter().map(|(t, _)| t.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        expected.keys().copied().collect::<Vec<_>>(),
        "each SQL panel, and only those, has its columns listed here"
    );

    for (title, target) in sql_panels {
        let sql = expand_sql(
            target["rawSql"].as_str().expect("rawSql"),
            at - TimeDelta::days(7),
            at,
            DEMO_INSTANCE_ID,
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{title}: {e}\n{sql}"));
        assert!(!rows.is_empty(), "{title} returns rows:\n{sql}");
        let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
        assert_eq!(columns, expected[title.as_str()], "{title}");
    }
}

/// Debian's Prometheus, installed with apt-get when missing.
fn prometheus_binary() -> Result<PathBuf, String> {
    let installed = || {
        ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    };
    if let Some(found) = installed() {
        return Ok(found);
    }
    println!("prometheus: not installed; installing Debian's package");
    for args in [
        vec!["update", "-qq"],
        vec![
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "prometheus",
        ],
    ] {
        let output = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| format!("cannot run apt-get {args:?}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "apt-get {args:?} failed ({}); install Debian's prometheus package (root is needed):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    installed().ok_or_else(|| {
        "apt-get installed prometheus, but no binary is at /usr/bin/prometheus".into()
    })
}

/// A Prometheus on a free loopback port scraping `target` every second, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: u16) -> Prometheus {
        let binary = prometheus_binary().unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: ccc-sync\n    \
                 static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .expect("prometheus.yml");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn prometheus");
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }

    /// The instant vector `expr` evaluates to now; `None` while Prometheus is not answering in JSON.
    async fn query(&self, expr: &str) -> Option<Vec<Value>> {
        let url = reqwest::Url::parse_with_params(
            &format!("http://127.0.0.1:{}/api/v1/query", self.port),
            [("query", expr)],
        )
        .expect("url");
        let response = reqwest::get(url).await.ok()?;
        // While its storage opens, Prometheus answers in plain text ("Service Unavailable").
        let body: Value = serde_json::from_str(&response.text().await.ok()?).ok()?;
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"].as_array().cloned()
    }

    /// Polls `expr` until it returns a series or `limit` passes; the last answer.
    async fn series(&self, expr: &str, limit: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let result = self.query(expr).await.unwrap_or_default();
            if !result.is_empty() || tokio::time::Instant::now() > deadline {
                return result;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_promql_panel_returns_a_series_from_a_real_prometheus_scraping_the_daemon() {
    let db = TestDb::new().await;
    let at = Utc::now();
    // Throttled now and then, so the retry and throttle panels have something to show.
    let sim = ccc::simulator(SimulatorConfig {
        calls: 500,
        days: 1,
        anchor: at,
        faults: Faults {
            throttle: 0.3,
            ..Faults::default()
        },
        ..SimulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = Config::new(&db.url)
        .listen(port)
        .source(
            demo_source(&sim)
                .start_from("1d")
                .chunk("2h")
                .interval("1s"),
        )
        .write(dir.path(), "ccc-sync.toml");
    let _daemon = Daemon::spawn(&config, port);
    let prometheus = Prometheus::start(port);

    let up = prometheus
        .series("up{job=\"ccc-sync\"} == 1", Duration::from_secs(60))
        .await;
    assert_eq!(up.len(), 1, "Prometheus scrapes the daemon");

    let mut empty = Vec::new();
    let mut evaluated = 0;
    for (title, target) in targets(&dashboard("operations")) {
        let expr = expand_promql(target["expr"].as_str().expect("expr"));
        let result = prometheus.series(&expr, Duration::from_secs(60)).await;
        evaluated += 1;
        if result.is_empty() {
            empty.push(format!("{title}: {expr}"));
        }
    }
    assert!(evaluated >= 10, "{evaluated} expressions");
    assert!(
        empty.is_empty(),
        "expressions without a series:\n{}",
        empty.join("\n")
    );
}
