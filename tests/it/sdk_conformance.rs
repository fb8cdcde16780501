//! Conformance with the official SDKs: they talk to the simulator through `tests/sdk/conformance.py`, which
//! checks that the simulator accepts their signed requests and that their own models parse its answers as
//! its ground truth says:
//! - the Tea SDK `alibabacloud_ccc20170705` 1.0.3: `ListRecentCallRecords` (wrong secret included) and the
//!   whole-instance `ListCallDetailRecords` 2017-07-05;
//! - the Tea SDK `alibabacloud_ccc20200701` 2.35.0 with `signature_algorithm='v2'` (so it signs with v1):
//!   `ListCallDetailRecords`, `GetCallDetailRecord` and `ListMonoRecordings` 2020-07-01, an agent-bound key
//!   refused with 403 and page 101 with 400;
//! - the classic core SDK `aliyun-python-sdk-core` 2.16.1: `CommonRequest` GET and POST (wrong secret
//!   included);
//! - the classic request classes of `aliyun-python-sdk-ccc` 2.10.3 (`v20200701`: the three 2.0 actions, an
//!   agent-bound key refused) and 1.0.30 (`v20170705`: `ListCallDetailRecords`), sent by the core SDK. No
//!   release carries both versions under their one package name, so 1.0.30 is installed into a directory of
//!   its own in the virtualenv, which the script imports from.
//!
//! [`CHECKS`] checks, one `PASS`/`FAIL` line each (15 on `ListRecentCallRecords` and signatures, 42 on the
//! whole-instance actions, some per call), among them that the simulator sends no field a model does not
//! read. The expected records are the simulator's truth views of the window, passed as a JSON file.
//!
//! The SDKs live in a virtualenv under `<target>/sdk-venv`, made on first use with `python3 -m venv` and
//! `pip install` (PyPI must be reachable then) and reused afterwards; it is made again when the pins change.
//! If it cannot be made, the test fails and says why: it is never skipped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};

use ccc_simulator::{
    self as simulator, AccessKey, GET_CALL_DETAIL_RECORD, LIST_CALL_DETAIL_RECORDS,
    LIST_MONO_RECORDINGS, SimulatorConfig, TruthView,
};
use serde_json::{Value, json};

use crate::support::ccc::{self, key};
use crate::support::venv;

/// The versions ccc-api.md and ccc-whole-instance.md were checked against.
const REQUIREMENTS: [&str; 4] = [
    "alibabacloud_ccc20170705==1.0.3",
    "aliyun-python-sdk-core==2.16.1",
    "alibabacloud_ccc20200701==2.35.0",
    "aliyun-python-sdk-ccc==2.10.3",
];
/// The last classic CCC SDK with the 2017-07-05 request classes (2.x has only 2020-07-01's, under the same
/// package name), installed without dependencies into [`CLASSIC_CCC_2017_DIR`] inside the virtualenv.
const CLASSIC_CCC_2017: &str = "aliyun-python-sdk-ccc==1.0.30";
const CLASSIC_CCC_2017_DIR: &str = "classic-ccc-2017";
/// How many checks the script makes, so that one silently not made fails the test.
const CHECKS: usize = 57;

/// What the virtualenv must hold: every pin, and where the 1.x classic SDK goes.
fn wanted() -> String {
    format!(
        "{}\n{CLASSIC_CCC_2017} --target {CLASSIC_CCC_2017_DIR}",
        REQUIREMENTS.join("\n")
    )
}

/// The virtualenv with the SDKs (its python is `bin/python`), made if needed.
fn sdk_venv() -> Result<PathBuf, String> {
    venv::ensure("sdk-venv", &wanted(), |dir| {
        venv::pip_install(dir, "install the official SDKs from PyPI", REQUIREMENTS)?;
        venv::pip_install(
            dir,
            "install the 1.x classic CCC SDK beside the 2.x one",
            [
                OsStr::new("--no-deps"),
                OsStr::new("--target"),
                dir.join(CLASSIC_CCC_2017_DIR).as_os_str(),
                OsStr::new(CLASSIC_CCC_2017),
            ],
        )
    })
}

/// The calls of `view` that started in `[from, to]`, newest first, as the simulator's truth renders them.
fn truth_in(
    sim: &simulator::SimulatorHandle,
    view: TruthView,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Value> {
    let window = from.timestamp_millis()..=to.timestamp_millis();
    sim.truth_view(sim.now(), None, view)
        .into_iter()
        .filter(|c| {
            let record = if view == TruthView::Ccc2 {
                &c["Record"]
            } else {
                c
            };
            window.contains(&record["StartTime"].as_i64().expect("StartTime in ms"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdks_are_accepted_and_parse_our_answers() {
    let venv = tokio::task::spawn_blocking(sdk_venv)
        .await
        .expect("the set-up thread")
        .unwrap_or_else(|e| {
            panic!("the official SDKs are not available, so conformance cannot be checked: {e}")
        });
    let anchor: DateTime<Utc> = DateTime::parse_from_rfc3339("2024-03-01T04:00:00Z")
        .expect("time")
        .to_utc();
    let agent_key: AccessKey = key(
        "LTAI5tSdkAgentKey0001",
        "sdk-agent-secret",
        Some("1912@ccctest"),
    );
    let sim = ccc::simulator(SimulatorConfig {
        anchor,
        keys: vec![AccessKey::demo(), agent_key.clone()],
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(anchor + TimeDelta::hours(1));
    let (from, to) = (anchor - TimeDelta::hours(8), anchor);
    let truth = json!({
        "instance": truth_in(&sim, TruthView::Instance, from, to),
        "ccc2": truth_in(&sim, TruthView::Ccc2, from, to),
    });
    let calls = truth["ccc2"].as_array().expect("calls").len();
    assert!(
        calls > 100,
        "the window should take several pages: {calls} calls"
    );
    assert_eq!(
        truth["instance"].as_array().expect("calls").len(),
        calls,
        "both views hold the same calls"
    );
    let mut truth_file = tempfile::Builder::new()
        .prefix("sdk-truth-")
        .suffix(".json")
        .tempfile_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary file");
    serde_json::to_writer(&mut truth_file, &truth).expect("write the truth");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/conformance.py");
    let mut command = Command::new(venv.join("bin/python"));
    command
        .arg(script)
        .env("SIM_HOST", sim.addr().to_string())
        .env("SIM_KEY_ID", simulator::DEMO_ACCESS_KEY_ID)
        .env("SIM_KEY_SECRET", simulator::DEMO_ACCESS_KEY_SECRET)
        .env("SIM_AGENT_KEY_ID", &agent_key.id)
        .env("SIM_AGENT_KEY_SECRET", &agent_key.secret)
        .env("SIM_INSTANCE_ID", simulator::DEMO_INSTANCE_ID)
        .env("SIM_START_MS", from.timestamp_millis().to_string())
        .env("SIM_STOP_MS", to.timestamp_millis().to_string())
        .env("SIM_TRUTH", truth_file.path())
        .env("SIM_CLASSIC_CCC_2017", venv.join(CLASSIC_CCC_2017_DIR));

    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the script thread")
        .expect("python runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "the SDK checks failed:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("all checks passed"));
    let checks = stdout.lines().filter(|l| l.starts_with("PASS ")).count();
    assert_eq!(checks, CHECKS, "checks made:\n{stdout}");
    let stats = sim.requests();
    assert!(stats.ok >= 4, "{stats:?}");
    assert_eq!(stats.errors_with("SignatureDoesNotMatch"), 3, "{stats:?}");
    // Two agent-bound refusals (Tea list, classic detail) and page 101; two calls each looked up in detail
    // and for recordings by the Tea and the classic SDK, plus the refused detail.
    assert_eq!(stats.errors_with("Forbidden.NoPermission"), 2, "{stats:?}");
    assert_eq!(stats.errors_with("InvalidParameter"), 1, "{stats:?}");
    assert_eq!(stats.requests_for(GET_CALL_DETAIL_RECORD), 5, "{stats:?}");
    assert_eq!(stats.requests_for(LIST_MONO_RECORDINGS), 4, "{stats:?}");
    assert!(
        stats.requests_for(LIST_CALL_DETAIL_RECORDS) >= 4 * calls.div_ceil(100) as u64,
        "{stats:?}"
    );
    sim.shutdown().await;
}
