//! The recording archive against the simulator's files and a real target (a local directory here; an S3
//! server in `archive_s3`), compared with the simulator's ground truth: every file's bytes by SHA-256.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, ObjectStoreExt as _};
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

use ccc_simulator::{
    AccessKey, DEMO_INSTANCE_ID, DownloadFaults, RecordingArchive, RecordingFile, SimulatorConfig,
    SimulatorHandle,
};
use ccc_sync::app::App;
use ccc_sync::archive::{ArchiveStats, Span};

use crate::metrics::scrape_until;
use crate::support::TestDb;
use crate::support::ccc;
use crate::support::config::{Config, SourceConfig};
use crate::support::daemon::{Daemon, free_port};
use crate::support::s3::{self, S3Server};

/// A simulator of `calls` calls over two days whose files are small, with `archive`'s deletions and faults.
pub async fn simulator(
    calls: usize,
    archive: RecordingArchive,
) -> (SimulatorHandle, DateTime<Utc>) {
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = ccc::simulator(SimulatorConfig {
        calls,
        days: 2,
        anchor: at,
        archive: RecordingArchive {
            max_file_bytes: 64 * 1024,
            ..archive
        },
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    (sim, at)
}

/// A source of `api` on the demo instance with its admin key, covering the whole history.
pub fn source(sim: &SimulatorHandle, api: &str) -> SourceConfig {
    SourceConfig::new("inst", DEMO_INSTANCE_ID)
        .endpoint(&sim.endpoint())
        .key(&AccessKey::demo())
        .api(api)
        .start_from("3d")
        .max_requests_per_second(10_000.0)
}

/// `config` with the archive into `dir`, fast enough for a test.
pub fn into_directory(config: Config, dir: &std::path::Path) -> Config {
    config
        .recordings("archive", "directory")
        .recordings("directory", &dir.display().to_string())
        .recordings("max_files_per_second", "10000")
        .recordings("retry_for", "30s")
}

/// Syncs once, then archives every recording; what the archive did.
pub async fn sync_and_archive(config: &Config) -> (App, ArchiveStats) {
    let app = App::new(config.load()).expect("app");
    let cancel = CancellationToken::new();
    app.once(&cancel).await.expect("sync");
    let stats = archive(&app).await;
    (app, stats)
}

/// One `recordings archive` pass over every source.
pub async fn archive(app: &App) -> ArchiveStats {
    let done = app
        .archive_recordings(None, Span::default(), &CancellationToken::new())
        .await
        .expect("archive");
    assert_eq!(done.len(), 1, "one instance, one archiving source");
    done[0].1.expect("no other process holds the archive lock")
}

/// Every object of `store`: key → SHA-256 of its bytes.
pub async fn objects(store: &dyn ObjectStore) -> BTreeMap<String, String> {
    let metas: Vec<_> = store
        .list(None)
        .try_collect()
        .await
        .expect("list the target");
    let mut out = BTreeMap::new();
    for meta in metas {
        let bytes = store
            .get(&meta.location)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        out.insert(
            meta.location.to_string(),
            hex::encode(Sha256::digest(&bytes)),
        );
    }
    out
}

/// One row of `ccc.recording_archive`, as the checks read it.
#[derive(sqlx::FromRow)]
struct Row {
    contact_id: String,
    file_name: String,
    state: String,
    object_key: Option<String>,
    sha256: Option<String>,
    size_bytes: Option<i64>,
}

/// The archive's rows by (contact_id, file_name).
async fn rows(db: &TestDb) -> BTreeMap<(String, String), Row> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT contact_id, file_name, state, object_key, sha256, size_bytes
         FROM ccc.recording_archive",
    )
    .fetch_all(&db.pool)
    .await
    .expect("archive rows");
    rows.into_iter()
        .map(|r| ((r.contact_id.clone(), r.file_name.clone()), r))
        .collect()
}

/// What must hold after any kill: every row that says archived names an object in the store with its
/// SHA-256. Returns how many rows say archived.
pub async fn assert_no_row_claims_a_missing_object(db: &TestDb, store: &dyn ObjectStore) -> usize {
    let objects = objects(store).await;
    let rows = rows(db).await;
    let archived: Vec<&Row> = rows.values().filter(|r| r.state == "archived").collect();
    for row in &archived {
        let key = row
            .object_key
            .as_deref()
            .expect("an archived row has a key");
        assert_eq!(
            objects.get(key),
            row.sha256.as_ref(),
            "the row of {key} claims an object the store does not hold with its bytes"
        );
    }
    archived.len()
}

/// The archive is exact: every file of the truth is archived with its bytes (by SHA-256) and size, in the
/// store and in its row, or recorded as gone when the service deleted it; nothing else is there.
pub async fn assert_archive_matches(db: &TestDb, files: &[RecordingFile], store: &dyn ObjectStore) {
    assert!(!files.is_empty(), "the truth has recording files");
    let objects = objects(store).await;
    let rows = rows(db).await;
    for f in files {
        let id = (f.contact_id.clone(), f.file_name.clone());
        let row = rows
            .get(&id)
            .unwrap_or_else(|| panic!("no archive row for {id:?}"));
        if f.deleted {
            assert_eq!(row.state, "gone", "{id:?} was deleted by the service");
            continue;
        }
        assert_eq!(row.state, "archived", "{id:?}");
        assert_eq!(
            row.sha256.as_deref(),
            Some(f.sha256.as_str()),
            "{id:?}'s row"
        );
        assert_eq!(row.size_bytes, Some(f.size as i64), "{id:?}'s size");
        let key = row.object_key.as_deref().expect("key");
        assert_eq!(
            objects.get(key).map(String::as_str),
            Some(f.sha256.as_str()),
            "{id:?}'s object {key}"
        );
    }
    assert_eq!(rows.len(), files.len(), "a row per file, no more");
    let archived = files.iter().filter(|f| !f.deleted).count();
    assert_eq!(
        objects.len(),
        archived,
        "an object per archived file, no more"
    );
}

/// Files of the truth whose first link the simulator hands out expired, among those it has.
pub fn expired_first(archive: &RecordingArchive, files: &[RecordingFile]) -> u64 {
    files
        .iter()
        .filter(|f| !f.deleted && archive.first_link_expired(&f.file_name))
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_archive_holds_every_file_byte_for_byte_through_resets_expired_links_and_deletions()
 {
    let db = TestDb::new().await;
    let archive = RecordingArchive {
        deleted_fraction: 0.1,
        faults: DownloadFaults {
            reset: 0.2,
            expired_first: 0.2,
            ..DownloadFaults::default()
        },
        ..RecordingArchive::default()
    };
    let (sim, at) = simulator(300, archive.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = into_directory(
        Config::new(&db.url).source(source(&sim, "instance")),
        dir.path(),
    );
    let (app, stats) = sync_and_archive(&config).await;

    let files = sim.recording_files(at);
    let store = LocalFileSystem::new_with_prefix(dir.path()).expect("dir");
    assert_archive_matches(&db, &files, &store).await;
    let deleted = files.iter().filter(|f| f.deleted).count() as u64;
    assert!(deleted > 0, "some files were deleted by the service");
    assert_eq!(stats.gone, deleted);
    assert_eq!(stats.archived, files.len() as u64 - deleted);
    let expired = expired_first(&archive, &files);
    assert!(expired > 0, "some first links were expired");
    assert_eq!(
        stats.links_refreshed, expired,
        "each expired link was refreshed once"
    );
    let downloads = sim.requests().downloads;
    assert!(downloads.resets > 0, "some downloads were reset");
    assert_eq!(
        downloads.expired, expired,
        "OSS refused each expired link once"
    );

    let viewed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ccc.recording_files
         WHERE archive_state = 'archived' AND object_url LIKE 'file://%' AND sha256 IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .expect("view");
    assert_eq!(viewed as u64, stats.archived, "the BI view shows each copy");

    let again = archive_again(&app, &sim).await;
    assert_eq!(again, ArchiveStats::default(), "nothing is archived twice");
}

/// A second pass: what it did, checking it downloaded nothing.
async fn archive_again(app: &App, sim: &SimulatorHandle) -> ArchiveStats {
    let before = sim.requests().downloads.total;
    let stats = archive(app).await;
    assert_eq!(
        sim.requests().downloads.total,
        before,
        "no file downloaded again"
    );
    stats
}

#[tokio::test]
async fn an_agent_key_without_permission_stops_the_archive_with_the_fix_and_marks_nothing() {
    let db = TestDb::new().await;
    let agent = ccc::key(
        "LTAI5tAgentKey0000000001",
        "agent-secret",
        Some("1912@ccctest"),
    );
    let at = ccc_sync::window::to_ms(Utc::now());
    let sim = ccc::simulator(SimulatorConfig {
        calls: 200,
        days: 1,
        anchor: at,
        keys: vec![AccessKey::demo(), agent.clone()],
        ..SimulatorConfig::default()
    })
    .await;
    sim.set_now(at);
    let dir = tempfile::tempdir().expect("tempdir");
    // The warehouse gets the instance's recordings through an admin source, then only the agent archives.
    let admin = Config::new(&db.url).source(source(&sim, "instance"));
    App::new(admin.load())
        .expect("app")
        .once(&CancellationToken::new())
        .await
        .expect("sync");
    let agent_source = source(&sim, "agent").key(&agent);
    let config = into_directory(Config::new(&db.url).source(agent_source), dir.path());
    let app = App::new(config.load()).expect("app");
    let error = app
        .archive_recordings(None, Span::default(), &CancellationToken::new())
        .await
        .expect_err("the agent's key may not download recordings");
    let text = error.to_string();
    assert!(
        text.contains("Forbidden.NoPermission")
            && text.contains("Fix:")
            && text.contains("ccc:DownloadRecording"),
        "{text}"
    );
    assert!(rows(&db).await.is_empty(), "no file was marked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ccc2_source_archives_every_file_into_an_s3_bucket_and_records_deleted_ones_as_gone() {
    let db = TestDb::new().await;
    let s3 = S3Server::start().await;
    s3.create_bucket("call-recordings").await;
    let archive = RecordingArchive {
        deleted_fraction: 0.1,
        faults: DownloadFaults {
            reset: 0.1,
            ..DownloadFaults::default()
        },
        ..RecordingArchive::default()
    };
    let (sim, at) = simulator(200, archive).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("s3-secret");
    std::fs::write(&secret_file, s3::SECRET_ACCESS_KEY).expect("secret");
    let config = Config::new(&db.url)
        .source(source(&sim, "ccc2"))
        .recordings("archive", "s3")
        .recordings("endpoint", &s3.endpoint)
        .recordings("bucket", "call-recordings")
        .recordings("region", s3::REGION)
        .recordings("addressing", "path")
        .recordings("prefix", "cc/recordings")
        .recordings("access_key_id", s3::ACCESS_KEY_ID)
        .recordings("secret_access_key_file", &secret_file.display().to_string())
        .recordings("max_files_per_second", "10000")
        .recordings("retry_for", "30s");
    let shown = format!("{:?}", config.load());
    assert!(
        !shown.contains(s3::SECRET_ACCESS_KEY),
        "the secret is in Debug: {shown}"
    );
    let (app, stats) = sync_and_archive(&config).await;

    let files = sim.recording_files(at);
    let bucket = s3.store("call-recordings");
    assert_archive_matches(&db, &files, &bucket).await;
    let deleted = files.iter().filter(|f| f.deleted).count() as u64;
    assert!(deleted > 0 && stats.archived > 0, "{stats:?}");
    // ListMonoRecordings still lists a deleted file: its link answers 404, a fresh one too.
    assert_eq!(stats.links_refreshed, deleted, "{stats:?}");
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT gone_reason FROM ccc.recording_archive WHERE state = 'gone'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("reasons");
    assert_eq!(reasons, ["OSS 404 NoSuchKey after a fresh link"]);
    let keys: Vec<(String, String)> = sqlx::query_as(
        "SELECT object_key, content_type FROM ccc.recording_archive WHERE state = 'archived'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("keys");
    for (key, content_type) in &keys {
        assert!(
            key.starts_with(&format!("cc/recordings/{DEMO_INSTANCE_ID}/20")),
            "{key}"
        );
        assert_eq!(content_type, "audio/wav", "{key}");
    }

    let (ready, report) = app.check().await;
    assert!(ready, "{report}");
    assert!(
        report.contains(
            "recordings: ok (s3://call-recordings, wrote and removed cc/recordings/.ccc-sync-check)"
        ),
        "{report}"
    );
    assert!(!report.contains(s3::SECRET_ACCESS_KEY));
    assert_eq!(
        objects(&bucket).await.len() as u64,
        stats.archived,
        "the probe object is gone again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_archives_beside_the_sync_and_exposes_progress_and_backlog_as_metrics() {
    let db = TestDb::new().await;
    let archive = RecordingArchive {
        deleted_fraction: 0.1,
        ..RecordingArchive::default()
    };
    let (sim, at) = simulator(150, archive).await;
    let files = sim.recording_files(at);
    let kept = files.iter().filter(|f| !f.deleted).count();
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("archive");
    let port = free_port();
    let config = into_directory(
        Config::new(&db.url)
            .listen(port)
            .source(source(&sim, "instance").interval("1s")),
        &target,
    )
    .recordings("interval", "1s");
    let daemon = Daemon::spawn(&config.write(dir.path(), "c.toml"), port);

    let done = |m: &str| {
        m.contains(&format!(
            "ccc_sync_recordings_archived_total{{source=\"inst\"}} {kept}\n"
        )) && m.contains("ccc_sync_recording_backlog{source=\"inst\"} 0\n")
    };
    let metrics = scrape_until(daemon.port, done).await;
    assert!(
        done(&metrics),
        "every kept file archived, none waiting:\n{metrics}"
    );
    for family in [
        "ccc_sync_recordings_archived_total",
        "ccc_sync_recording_bytes_archived_total",
        "ccc_sync_recording_failures_total",
        "ccc_sync_recording_backlog",
        "ccc_sync_recording_backlog_oldest_seconds",
    ] {
        assert!(
            metrics.contains(&format!("# HELP {family} ")),
            "{family} is described:\n{metrics}"
        );
    }
    let gone = files.len() - kept;
    assert!(
        metrics.contains(&format!(
            "ccc_sync_recording_failures_total{{source=\"inst\",reason=\"gone\"}} {gone}\n"
        )),
        "{metrics}"
    );
    drop(daemon);
    let store = LocalFileSystem::new_with_prefix(&target).expect("target");
    assert_archive_matches(&db, &files, &store).await;
}

#[tokio::test]
async fn a_one_off_archive_from_to_covers_only_the_calls_that_started_in_its_span() {
    let db = TestDb::new().await;
    let (sim, at) = simulator(150, RecordingArchive::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = into_directory(
        Config::new(&db.url).source(source(&sim, "instance")),
        dir.path(),
    );
    let app = App::new(config.load()).expect("app");
    app.once(&CancellationToken::new()).await.expect("sync");
    let span = Span {
        from: Some(at - chrono::TimeDelta::hours(30)),
        to: Some(at - chrono::TimeDelta::hours(6)),
    };
    let done = app
        .archive_recordings(Some("inst"), span, &CancellationToken::new())
        .await
        .expect("archive");
    let stats = done[0].1.expect("not held elsewhere");
    let (inside, outside): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE c.start_time >= $1 AND c.start_time < $2),
                count(*) FILTER (WHERE c.start_time < $1 OR c.start_time >= $2)
         FROM ccc.recording_archive AS a JOIN ccc.calls AS c USING (instance_id, contact_id)",
    )
    .bind(span.from)
    .bind(span.to)
    .fetch_one(&db.pool)
    .await
    .expect("counts");
    assert!(inside > 0, "the span holds recordings");
    assert_eq!(inside as u64, stats.archived);
    assert_eq!(outside, 0, "nothing outside the span was touched");
    let error = app
        .archive_recordings(Some("nope"), Span::default(), &CancellationToken::new())
        .await
        .expect_err("an unknown source");
    assert!(error.to_string().contains("configured: inst"), "{error}");
}
