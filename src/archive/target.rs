//! Where archived files go, through `object_store`: an S3-compatible bucket or a local directory. Writes
//! are multipart, so a file is never whole in memory, and an object becomes visible only once complete
//! (S3's CompleteMultipartUpload; a local staging file renamed into place).

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attribute, ObjectStore, ObjectStoreExt as _, PutMultipartOptions, WriteMultipart,
};
use secrecy::ExposeSecret as _;

use crate::ccc::credentials::read_secret;
use crate::config::{RecordingsSettings, S3Settings, TargetSettings};
use crate::problem::Problems;

/// A part of an S3 multipart upload: the smallest S3 allows, so the least held in memory per file.
const S3_PART_BYTES: usize = 5 * 1024 * 1024;

/// A part written to a local staging file.
const LOCAL_PART_BYTES: usize = 1024 * 1024;

/// An open archive target. Its `Debug` shows the address only: the store's own holds credentials.
#[derive(Clone)]
pub struct Target {
    store: Arc<dyn ObjectStore>,
    address: String,
    prefix: Vec<String>,
    /// Whether the store keeps a Content-Type (a directory does not).
    content_types: bool,
    part_bytes: usize,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("address", &self.address)
            .field("prefix", &self.prefix.join("/"))
            .finish()
    }
}

impl Target {
    /// Opens the configured target: reads the S3 secret files and applies the `AWS_*` variables of `env`
    /// (configured keys win), or creates the directory. Contacts nothing. Problems are reported under
    /// their `recordings.` key.
    pub(crate) fn open(
        settings: &RecordingsSettings,
        env: &[(String, String)],
        p: &mut Problems,
    ) -> Option<Target> {
        let prefix = settings
            .prefix
            .split('/')
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect();
        let address = settings.target.address();
        let (store, content_types, part_bytes): (Arc<dyn ObjectStore>, _, _) =
            match &settings.target {
                TargetSettings::Directory(dir) => {
                    (Arc::new(directory(dir, p)?), false, LOCAL_PART_BYTES)
                }
                TargetSettings::S3(s3) => (Arc::new(bucket(s3, env, p)?), true, S3_PART_BYTES),
            };
        Some(Target {
            store,
            address,
            prefix,
            content_types,
            part_bytes,
        })
    }

    /// `s3://bucket` or `file:///directory`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `<prefix>/<instance>/<yyyy>/<mm>/<dd>/<contact_id>/<file_name>`, the date the call's start in UTC: the
    /// same file always gets the same key. Each part is escaped, so no name can climb out of its place.
    pub fn key(
        &self,
        instance_id: &str,
        call_start: DateTime<Utc>,
        contact_id: &str,
        file_name: &str,
    ) -> Path {
        let date = call_start.format("%Y/%m/%d").to_string();
        Path::from_iter(
            self.prefix
                .iter()
                .map(String::as_str)
                .chain([instance_id])
                .chain(date.split('/'))
                .chain([contact_id, file_name]),
        )
    }

    /// Writes a small object under the prefix and removes it: can files be archived here? Its key.
    pub(crate) async fn probe(&self) -> object_store::Result<Path> {
        let key = Path::from_iter(
            self.prefix
                .iter()
                .map(String::as_str)
                .chain([".ccc-sync-check"]),
        );
        self.store
            .put(
                &key,
                "ccc-sync check: this object is removed at once".into(),
            )
            .await?;
        self.store.delete(&key).await?;
        Ok(key)
    }

    /// Starts writing `key`; nothing is visible there until the writer finishes.
    pub(crate) async fn writer(
        &self,
        key: &Path,
        content_type: Option<&str>,
    ) -> object_store::Result<WriteMultipart> {
        let mut options = PutMultipartOptions::default();
        if let (true, Some(content_type)) = (self.content_types, content_type) {
            options
                .attributes
                .insert(Attribute::ContentType, content_type.to_owned().into());
        }
        let upload = self.store.put_multipart_opts(key, options).await?;
        Ok(WriteMultipart::new_with_chunk_size(upload, self.part_bytes))
    }
}

fn directory(dir: &std::path::Path, p: &mut Problems) -> Option<LocalFileSystem> {
    let shown = format!("{:?}", dir.display().to_string());
    if let Err(e) = std::fs::create_dir_all(dir) {
        p.add(
            "recordings.directory",
            shown,
            &format!("cannot be created ({e})"),
            "create it and make it writable by the user ccc-sync runs as, or choose another directory",
        );
        return None;
    }
    match LocalFileSystem::new_with_prefix(dir) {
        Ok(fs) => Some(fs.with_automatic_cleanup(true)),
        Err(e) => {
            p.add(
                "recordings.directory",
                shown,
                &format!("cannot be used ({e})"),
                "point it at a writable directory",
            );
            None
        }
    }
}

fn bucket(
    s3: &S3Settings,
    env: &[(String, String)],
    p: &mut Problems,
) -> Option<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::new();
    for (name, value) in env.iter().filter(|(name, _)| name.starts_with("AWS_")) {
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    builder = builder
        .with_bucket_name(&s3.bucket)
        .with_virtual_hosted_style_request(!s3.path_style);
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &s3.endpoint {
        let text = endpoint.as_str().trim_end_matches('/');
        builder = builder
            .with_endpoint(text)
            .with_allow_http(endpoint.scheme() == "http");
    }
    if let Some(id) = &s3.access_key_id {
        builder = builder.with_access_key_id(id);
    }
    let mut secret = |key: &str, path: &Option<std::path::PathBuf>| {
        let path = path.as_ref()?;
        match read_secret(path) {
            Ok(secret) => Some(secret),
            Err(e) => {
                p.add(
                    format!("recordings.{key}"),
                    format!("{:?}", path.display().to_string()),
                    &format!("cannot be read ({})", e.detail),
                    "make the file readable by the user ccc-sync runs as and non-empty",
                );
                None
            }
        }
    };
    if let Some(secret) = secret("secret_access_key_file", &s3.secret_access_key_file) {
        builder = builder.with_secret_access_key(secret.expose_secret());
    }
    if let Some(token) = secret("session_token_file", &s3.session_token_file) {
        builder = builder.with_token(token.expose_secret());
    }
    match builder.build() {
        Ok(store) => Some(store),
        Err(e) => {
            p.add(
                "recordings.bucket",
                format!("{:?}", s3.bucket),
                &format!("cannot be used ({e})"),
                "check recordings.endpoint, region and the AWS_* variables",
            );
            None
        }
    }
}
