//! Python virtualenvs under the target directory, for tests that need a tool from PyPI (the official SDKs,
//! the S3 server): made on first use with `python3 -m venv` and `pip install` (PyPI must be reachable
//! then), reused afterwards, and made again when what they should hold changes.
//!
//! A virtualenv is built beside its final place and renamed into it, so a half-made one is never reused;
//! a lock file beside it makes test processes that want it at the same time build it once, one after the
//! other. Whoever cannot get one gets an error that says why: callers fail with it, they never skip.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Written into a virtualenv once its install succeeded; holds what it was built to satisfy.
const MARKER: &str = ".ccc-sync-requirements";

/// The target directory (`CARGO_TARGET_DIR` or `target/`), where the virtualenvs live.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR sits inside the target directory")
        .to_path_buf()
}

/// Runs `command` to its end; the error says `what` failed and holds its output.
pub fn run(what: &str, command: &mut Command) -> Result<(), String> {
    println!("venv: {what}: {command:?}");
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

/// `pip install` into the virtualenv at `venv`, quietly and with a bounded wait on PyPI.
pub fn pip_install(
    venv: &Path,
    what: &str,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
) -> Result<(), String> {
    run(
        &format!("{what} (is PyPI reachable?)"),
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .args(["--timeout", "30", "--retries", "2"])
            .args(args),
    )
}

/// The virtualenv `<target>/<name>` (its python is `bin/python`). When it is missing or was built for
/// something other than `wanted` (every pin, say), it is created and `install` fills it.
pub fn ensure(
    name: &str,
    wanted: &str,
    install: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let target = target_dir();
    let venv = target.join(name);
    let lock_path = target.join(format!("{name}.lock"));
    let lock = File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    // Held until `lock` is dropped on return.
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if std::fs::read_to_string(venv.join(MARKER)).is_ok_and(|m| m == wanted) {
        println!("venv: reusing {}", venv.display());
        return Ok(venv);
    }
    let staging = target.join(format!("{name}.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let built = run(
        "create the virtualenv",
        Command::new("python3").args(["-m", "venv"]).arg(&staging),
    )
    .and_then(|()| install(&staging))
    .and_then(|()| {
        std::fs::write(staging.join(MARKER), wanted).map_err(|e| format!("write the marker: {e}"))
    });
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&staging, &venv).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staging);
        format!("could not move the virtualenv into {}: {e}", venv.display())
    })?;
    println!("venv: ready at {}", venv.display());
    Ok(venv)
}
