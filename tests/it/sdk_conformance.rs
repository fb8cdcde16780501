//! Conformance with the official SDKs: the Python Tea SDK (`alibabacloud_ccc20170705`) and the classic core
//! SDK (`aliyun-python-sdk-core`) talk to the simulator through `tests/sdk/conformance.py`.
//!
//! The SDKs live in a virtualenv under `<target>/sdk-venv`, made on first use with `python3 -m venv` and
//! `pip install` (PyPI must be reachable then) and reused afterwards. If it cannot be made, the test fails
//! and says why: it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};

use ccc_simulator::{self as simulator, SimulatorConfig};

use crate::support::ccc;

/// The versions ccc-api.md was checked against.
const REQUIREMENTS: [&str; 2] = [
    "alibabacloud_ccc20170705==1.0.3",
    "aliyun-python-sdk-core==2.16.1",
];
/// Written into the virtualenv once the install succeeded; holds the requirements it satisfies.
const MARKER: &str = ".ccc-sync-requirements";

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR sits inside the target directory")
        .to_path_buf()
}

fn run(what: &str, command: &mut Command) -> Result<(), String> {
    println!("sdk-venv: {what}: {command:?}");
    let output = command
        .output()
        .map_err(|e| format!("{what}: cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The virtualenv's python, creating the virtualenv and installing the SDKs if needed.
///
/// It is built beside its final place and renamed into it, so a half-made one is never reused and two test
/// runs at once do not build into the same directory.
fn sdk_python() -> Result<PathBuf, String> {
    let venv = target_dir().join("sdk-venv");
    let wanted = REQUIREMENTS.join("\n");
    if std::fs::read_to_string(venv.join(MARKER)).is_ok_and(|m| m == wanted) {
        println!("sdk-venv: reusing {}", venv.display());
        return Ok(venv.join("bin/python"));
    }
    let staging = target_dir().join(format!("sdk-venv.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    if let Err(e) = build_venv(&staging, &wanted) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&venv);
    if std::fs::rename(&staging, &venv).is_err() {
        // Another run finished first; use its virtualenv if it is complete.
        let _ = std::fs::remove_dir_all(&staging);
        if !std::fs::read_to_string(venv.join(MARKER)).is_ok_and(|m| m == wanted) {
            return Err(format!(
                "could not move the virtualenv into {}",
                venv.display()
            ));
        }
    }
    println!("sdk-venv: ready at {}", venv.display());
    Ok(venv.join("bin/python"))
}

/// Creates a virtualenv at `dir` with the SDKs installed and the marker written.
fn build_venv(dir: &Path, marker: &str) -> Result<(), String> {
    run(
        "create the virtualenv",
        Command::new("python3").args(["-m", "venv"]).arg(dir),
    )?;
    run(
        "install the official SDKs from PyPI (is PyPI reachable?)",
        Command::new(dir.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .args(["--timeout", "30", "--retries", "2"])
            .args(REQUIREMENTS),
    )?;
    std::fs::write(dir.join(MARKER), marker).map_err(|e| format!("write the marker: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdks_are_accepted_and_parse_our_answers() {
    let python = tokio::task::spawn_blocking(sdk_python)
        .await
        .expect("the set-up thread")
        .unwrap_or_else(|e| {
            panic!("the official SDKs are not available, so conformance cannot be checked: {e}")
        });
    let anchor: DateTime<Utc> = DateTime::parse_from_rfc3339("2024-03-01T04:00:00Z")
        .expect("time")
        .to_utc();
    let sim = ccc::simulator(SimulatorConfig {
        anchor,
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(anchor + TimeDelta::hours(1));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/conformance.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .env("SIM_HOST", sim.addr().to_string())
        .env("SIM_KEY_ID", simulator::DEMO_ACCESS_KEY_ID)
        .env("SIM_KEY_SECRET", simulator::DEMO_ACCESS_KEY_SECRET)
        .env("SIM_INSTANCE_ID", simulator::DEMO_INSTANCE_ID)
        .env(
            "SIM_START_MS",
            (anchor - TimeDelta::hours(8))
                .timestamp_millis()
                .to_string(),
        )
        .env("SIM_STOP_MS", anchor.timestamp_millis().to_string());

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
    let stats = sim.requests();
    assert!(stats.ok >= 4, "{stats:?}");
    assert_eq!(stats.errors_with("SignatureDoesNotMatch"), 3, "{stats:?}");
    sim.shutdown().await;
}
