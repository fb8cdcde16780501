//! A real S3-compatible server on loopback for the archive's tests: moto's server mode (`python -m
//! moto.server`, from PyPI), in a virtualenv under `<target>/moto-venv` made on first use like the SDKs'
//! (see [`super::venv`]; ~25 s, once per target directory, while the other tests of the process that want
//! a server wait for it). If it cannot be made (no python3, no PyPI), the test that asked for a server
//! fails and says why: it is never skipped.
//!
//! One server per test ([`S3Server::start`]): it answers about 0.3 s after it is spawned and holds ~50 MB,
//! so a test gets an empty server of its own (no bucket names to share out, nothing left over from another
//! test, a test may stop it) at a cost well below a test's own run time. The kernel picks its port (`-p
//! 0`), which the server names on stderr once it listens; one ListBuckets then confirms it answers. It is
//! killed (and reaped) when dropped.
//!
//! moto takes any credentials and checks no signature (it even takes unsigned requests), so a wrong secret
//! cannot be tested against it; the tests configure ccc-sync with [`ACCESS_KEY_ID`],
//! [`SECRET_ACCESS_KEY`] and [`REGION`], path-style addressing and plain HTTP, as [`S3Server::store`] does.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest as _, Sha256};

use super::venv;

pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing-secret";
pub const REGION: &str = "us-east-1";

/// moto with its server's dependencies, and the packages its S3 path runs through pinned too: botocore's
/// service models shape its answers, and Werkzeug prints the line [`RUNNING_ON`] is read from.
const REQUIREMENTS: [&str; 5] = [
    "moto[server]==5.2.5",
    "boto3==1.44.8",
    "botocore==1.44.8",
    "Flask==3.1.3",
    "Werkzeug==3.1.9",
];
/// Werkzeug's line, once the socket listens, naming the port it picked for `-p 0`.
const RUNNING_ON: &str = "Running on http://127.0.0.1:";
/// How long the server may take to say where it listens (it takes well under a second).
const STARTUP: Duration = Duration::from_secs(30);

/// The virtualenv with moto, made once per test process (and once per target directory).
fn moto_venv() -> Result<PathBuf, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        venv::ensure("moto-venv", &REQUIREMENTS.join("\n"), |dir| {
            venv::pip_install(dir, "install moto from PyPI", REQUIREMENTS)
        })
    })
    .clone()
}

/// A running moto server on `127.0.0.1`, killed when dropped.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
    /// Everything the server wrote to stderr so far (one line per request).
    log: Arc<Mutex<String>>,
}

impl S3Server {
    /// Starts a server on a port the kernel picks and returns once it answers an S3 request. Panics,
    /// saying why, if it cannot (the virtualenv cannot be made, the server exits or stays silent).
    pub async fn start() -> S3Server {
        let server = tokio::task::spawn_blocking(S3Server::spawn)
            .await
            .expect("the set-up thread")
            .unwrap_or_else(|e| panic!("the S3 server (moto) cannot be started: {e}"));
        let response = reqwest::Client::new()
            .get(format!("{}/", server.endpoint))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("{} does not answer: {e}\n{}", server.endpoint, server.log())
            });
        assert!(
            response.status().is_success(),
            "ListBuckets on {} answered {}\n{}",
            server.endpoint,
            response.status(),
            server.log()
        );
        server
    }

    /// Spawns moto's server on port 0 and waits for the line saying which port it listens on.
    ///
    /// It runs as `python -m moto.server`: the `bin/moto_server` script names the python of the staging
    /// directory the virtualenv was built in, which is gone once it is renamed into place.
    fn spawn() -> Result<S3Server, String> {
        let venv = moto_venv()?;
        let program = venv.join("bin/python");
        let mut child = Command::new(&program)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {} -m moto.server: {e}", program.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        // Reads stderr to its end, so the server never blocks on a full pipe; it ends with the server.
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || {
                let mut port_tx = Some(port_tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let port = line
                        .split_once(RUNNING_ON)
                        .and_then(|(_, port)| port.trim().parse::<u16>().ok());
                    if let Some(port) = port
                        && let Some(tx) = port_tx.take()
                    {
                        let _ = tx.send(port);
                    }
                    let mut log = log.lock().expect("the log lock");
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let mut server = S3Server {
            endpoint: String::new(),
            child,
            log,
        };
        match port_rx.recv_timeout(STARTUP) {
            Ok(port) => {
                server.endpoint = format!("http://127.0.0.1:{port}");
                Ok(server)
            }
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "moto.server ({}) did not say where it listens within {STARTUP:?}; its output:\n{}",
                program.display(),
                server.log()
            )),
            Err(RecvTimeoutError::Disconnected) => Err(format!(
                "moto.server ({}) ended ({:?}) before it listened; its output:\n{}",
                program.display(),
                server.child.wait(),
                server.log()
            )),
        }
    }

    /// What the server wrote to stderr so far: its start-up lines and one line per request.
    pub fn log(&self) -> String {
        self.log.lock().expect("the log lock").clone()
    }

    /// An `object_store` client for `bucket` on this server, configured as ccc-sync will be.
    pub fn store(&self, bucket: &str) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY_ID)
            .with_secret_access_key(SECRET_ACCESS_KEY)
            .with_region(REGION)
            .build()
            .expect("an S3 client for the test server")
    }

    /// Creates `bucket`, which must not exist yet (moto, like us-east-1, would answer 200 again). Bucket
    /// names are S3's: 3 to 63 lower-case letters, digits, dots and hyphens.
    pub async fn create_bucket(&self, bucket: &str) {
        let http = reqwest::Client::new();
        let url = format!("{}/{bucket}", self.endpoint);
        let head = http.head(&url).send().await.expect("HeadBucket");
        assert_eq!(
            head.status(),
            reqwest::StatusCode::NOT_FOUND,
            "bucket {bucket} should not exist yet"
        );
        // moto takes an unsigned CreateBucket.
        let created = http.put(&url).send().await.expect("CreateBucket");
        let status = created.status();
        let body = created.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "CreateBucket {bucket}: {status}\n{body}"
        );
    }

    /// Every object in `bucket`, key to content, read back through `object_store`: the truth the tests
    /// compare with. Panics if the bucket does not exist.
    pub async fn objects(&self, bucket: &str) -> BTreeMap<String, Vec<u8>> {
        let store = self.store(bucket);
        let listed: Vec<_> = store
            .list(None)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("list bucket {bucket}: {e}"));
        let mut objects = BTreeMap::new();
        for meta in listed {
            let got = store.get(&meta.location).await;
            let bytes = match got {
                Ok(got) => got.bytes().await,
                Err(e) => Err(e),
            }
            .unwrap_or_else(|e| panic!("get {bucket}/{}: {e}", meta.location));
            objects.insert(meta.location.to_string(), bytes.to_vec());
        }
        objects
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
