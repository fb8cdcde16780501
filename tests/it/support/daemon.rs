//! The real `ccc-sync` binary: one-shot commands run off the test's runtime thread (so servers on that
//! runtime keep answering), a daemon handle killed when dropped, and what the daemon tests poll it with.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `ccc-sync --config <config>`, without the caller's `DATABASE_URL` (it would override the file's).
pub fn ccc_sync(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ccc-sync"));
    command
        .args(["--config", config.to_str().expect("utf-8")])
        .env_remove("DATABASE_URL");
    command
}

/// Runs `command` to its end and collects its output.
pub async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run ccc-sync"))
        .await
        .expect("join")
}

/// Everything the process printed: stdout, then stderr.
pub fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A running daemon, killed when dropped.
pub struct Daemon {
    pub child: Child,
    /// Its `[server] listen` port on loopback.
    pub port: u16,
}

impl Daemon {
    /// `ccc-sync --config <config> run`, its output discarded; `port` is the config's `[server] listen`.
    pub fn spawn(config: &Path, port: u16) -> Daemon {
        let mut command = ccc_sync(config);
        command
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Daemon::start(command, port)
    }

    /// Starts `command`, a `run` whose `[server] listen` port is `port`.
    pub fn start(mut command: Command, port: u16) -> Daemon {
        let child = command.spawn().expect("spawn ccc-sync");
        Daemon { child, port }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `GET http://127.0.0.1:<port><path>`: status and body, or `None` while nothing answers.
pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

/// Polls `check` until it holds or `limit` passes, for states a separate process reaches with no signal to
/// wait on.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
