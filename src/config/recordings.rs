//! `[recordings]`: where recording files are archived, and how fast. Off unless `archive` names a target.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{DAY, duration};
use crate::problem::Problems;

/// The recording archive, when it is on.
#[derive(Debug, Clone)]
pub struct RecordingsSettings {
    pub target: TargetSettings,
    /// Object key prefix (no leading or trailing `/`); may be empty.
    pub prefix: String,
    /// Files downloaded and uploaded at once.
    pub concurrency: usize,
    /// The most files started per second, over all sources (the service's API calls are paced by each
    /// source's own request rate as well).
    pub max_files_per_second: f64,
    /// How often `run` looks for recordings not yet archived.
    pub interval: Duration,
    /// How long one file's transient failures (a reset download, a 5xx) are retried before it is set
    /// aside until a later pass.
    pub retry_for: Duration,
}

/// Where archived files go.
#[derive(Debug, Clone)]
pub enum TargetSettings {
    /// A local (or mounted) directory.
    Directory(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Settings),
}

/// An S3-compatible bucket (AWS S3, Alibaba OSS's S3-compatible endpoint, MinIO, …). Keys not set here
/// come from the usual `AWS_*` environment (and, for the secret, never from this file itself).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `None`: AWS S3 in `region` (or `AWS_ENDPOINT`).
    pub endpoint: Option<reqwest::Url>,
    pub region: Option<String>,
    pub bucket: String,
    /// Path-style (`endpoint/bucket/key`: MinIO) rather than virtual-hosted (`bucket.endpoint/key`).
    pub path_style: bool,
    pub access_key_id: Option<String>,
    /// Read at start-up; the secret itself is never part of the settings.
    pub secret_access_key_file: Option<PathBuf>,
    pub session_token_file: Option<PathBuf>,
}

impl TargetSettings {
    /// The target as an address, for logs, `status` and the warehouse: `s3://bucket` or `file:///dir`.
    pub fn address(&self) -> String {
        match self {
            TargetSettings::Directory(dir) => format!("file://{}", dir.display()),
            TargetSettings::S3(s3) => format!("s3://{}", s3.bucket),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecordings {
    archive: Option<String>,
    directory: Option<PathBuf>,
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    addressing: Option<String>,
    access_key_id: Option<String>,
    secret_access_key_file: Option<PathBuf>,
    session_token_file: Option<PathBuf>,
    concurrency: Option<u32>,
    max_files_per_second: Option<f64>,
    interval: Option<String>,
    retry_for: Option<String>,
}

const ARCHIVE_FIX: &str = "write \"off\", \"s3\" (an S3-compatible bucket: AWS S3, OSS, MinIO) or \"directory\" (a local or mounted directory)";

/// `None` when the archive is off or a problem was found (and reported).
pub(super) fn validate(r: &RawRecordings, p: &mut Problems) -> Option<RecordingsSettings> {
    let key = |k: &str| format!("recordings.{k}");
    let target = match r.archive.as_deref().unwrap_or("off") {
        "off" => return unused_keys(r, p),
        "directory" => match &r.directory {
            Some(dir) if dir.is_absolute() => Some(TargetSettings::Directory(dir.clone())),
            Some(dir) => {
                p.add(
                    key("directory"),
                    format!("{:?}", dir.display().to_string()),
                    "is not an absolute path",
                    "write the directory's full path, e.g. \"/var/lib/ccc-sync/recordings\"",
                );
                None
            }
            None => {
                p.add(
                    key("directory"),
                    "(missing)",
                    "is required with archive = \"directory\"",
                    "set it to the directory the files go to, e.g. \"/var/lib/ccc-sync/recordings\"",
                );
                None
            }
        },
        "s3" => s3(r, p).map(TargetSettings::S3),
        other => {
            p.add(
                key("archive"),
                format!("{other:?}"),
                "is not an archive target",
                ARCHIVE_FIX,
            );
            None
        }
    };
    let prefix = r
        .prefix
        .as_deref()
        .unwrap_or("ccc-recordings")
        .trim_matches('/')
        .to_owned();
    if prefix.split('/').any(|part| part == "." || part == "..")
        || prefix.contains("//")
        || prefix.chars().any(char::is_control)
    {
        p.add(
            key("prefix"),
            format!("{prefix:?}"),
            "is not a usable key prefix",
            "use names joined by '/', without '.', '..' or empty parts, e.g. \"ccc-recordings\"",
        );
    }
    let concurrency = r.concurrency.unwrap_or(4);
    if !(1..=64).contains(&concurrency) {
        p.add(
            key("concurrency"),
            concurrency,
            "must be between 1 and 64",
            "use 4 (files downloaded and uploaded at once)",
        );
    }
    let max_files_per_second = r.max_files_per_second.unwrap_or(10.0);
    if !(max_files_per_second.is_finite() && max_files_per_second > 0.0) {
        p.add(
            key("max_files_per_second"),
            max_files_per_second,
            "must be a positive number",
            "use e.g. 10 (0.5 means one file every 2 s at most)",
        );
    }
    let interval = duration(
        p,
        key("interval"),
        r.interval.as_deref(),
        "1m",
        Duration::from_secs(1),
        DAY,
    );
    let retry_for = duration(
        p,
        key("retry_for"),
        r.retry_for.as_deref(),
        "5m",
        Duration::ZERO,
        DAY,
    );
    Some(RecordingsSettings {
        target: target?,
        prefix,
        concurrency: concurrency as usize,
        max_files_per_second,
        interval,
        retry_for,
    })
}

/// With the archive off, a target key is a sign the operator meant to turn it on.
fn unused_keys(r: &RawRecordings, p: &mut Problems) -> Option<RecordingsSettings> {
    let set = [
        ("directory", r.directory.is_some()),
        ("bucket", r.bucket.is_some()),
        ("endpoint", r.endpoint.is_some()),
    ];
    for (name, _) in set.iter().filter(|(_, set)| *set) {
        p.add(
            format!("recordings.{name}"),
            "(set)",
            "has no effect while recordings.archive is \"off\" (the default)",
            "set recordings.archive = \"s3\" or \"directory\" to archive recording files, or remove the key",
        );
    }
    None
}

fn s3(r: &RawRecordings, p: &mut Problems) -> Option<S3Settings> {
    let key = |k: &str| format!("recordings.{k}");
    let bucket = r.bucket.clone().unwrap_or_default();
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c));
    if !bucket_ok {
        p.add(
            key("bucket"),
            format!("{bucket:?}"),
            "is not a bucket name",
            "name an existing bucket: 3 to 63 lowercase letters, digits, '-' or '.'",
        );
    }
    let endpoint = match r.endpoint.as_deref() {
        None => Ok(None),
        Some(text) => match reqwest::Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(Some(u)),
            _ => {
                p.add(
                    key("endpoint"),
                    format!("{text:?}"),
                    "is not an http(s) URL",
                    "use e.g. \"https://s3.oss-cn-shanghai.aliyuncs.com\" (OSS's S3-compatible endpoint) or \"http://minio:9000\", or omit it for AWS S3",
                );
                Err(())
            }
        },
    };
    let path_style = match r.addressing.as_deref() {
        None | Some("virtual-hosted") => false,
        Some("path") => true,
        Some(other) => {
            p.add(
                key("addressing"),
                format!("{other:?}"),
                "is neither \"virtual-hosted\" nor \"path\"",
                "use \"virtual-hosted\" (AWS S3, OSS) or \"path\" (MinIO and most self-hosted servers)",
            );
            false
        }
    };
    if r.secret_access_key_file.is_some() && r.access_key_id.is_none() {
        p.add(
            key("access_key_id"),
            "(missing)",
            "is required with secret_access_key_file",
            "set the access key id the secret belongs to (or leave both to the AWS_* environment)",
        );
    }
    let endpoint = endpoint.ok()?;
    if !bucket_ok {
        return None;
    }
    Some(S3Settings {
        endpoint,
        region: r.region.clone(),
        bucket,
        path_style,
        access_key_id: r.access_key_id.clone(),
        secret_access_key_file: r.secret_access_key_file.clone(),
        session_token_file: r.session_token_file.clone(),
    })
}
