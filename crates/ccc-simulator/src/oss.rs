//! The recording archive: OSS-style signed links on the simulator's own address, what they serve, and which
//! files the service has deleted (`docs/ccc-whole-instance.md` §3).
//!
//! A link is `<endpoint>/_oss/<instance>/<file name>?Expires=<epoch s>&OSSAccessKeyId=..&Signature=..`,
//! signed like an OSS V1 query-string URL (`GET\n\n\n<Expires>\n/<key>`, HMAC-SHA1, base64). Its file is a
//! WAV file: a 44-byte RIFF/WAVE header (8 kHz, 16-bit, mono: 16,000 bytes a second) and PCM bytes drawn
//! from a hash of the file name, as long as the recording lasts but at most
//! [`RecordingArchive::max_file_bytes`] in all, so the same name always has the same bytes.
//!
//! Expiry is checked against the real clock, not the data clock: OSS checks its own clock, the gateway
//! checks `Timestamp` against the real clock too, and a client that compares `Expires` with its own clock
//! before downloading sees a sensible link even while a test holds the data clock in the past.
//!
//! Guesses: the signature is checked before the expiry (a tampered expired link is
//! `SignatureDoesNotMatch`); an unknown `OSSAccessKeyId` is 403 `InvalidAccessKeyId`, a link without
//! `Expires` or `Signature` 403 `AccessDenied`; a deleted, unknown or not yet visible file is 404
//! `NoSuchKey`; a `.mp3` name is served as `audio/mpeg`, but its bytes are the same WAV file; a deleted
//! file is still listed by `ListMonoRecordings` (only its link answers 404).

use std::ops::Range;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The key id in recording links; the links are signed with [`OSS_SECRET`].
pub const OSS_ACCESS_KEY_ID: &str = "LTAI5tSimulatorOssKey01";
const OSS_SECRET: &str = "SimulatorOssSecretNotForProduction";

/// A RIFF/WAVE header with one `fmt ` and one `data` chunk.
pub const WAV_HEADER_BYTES: u64 = 44;
/// 8 kHz, 16-bit, mono.
const SAMPLE_RATE: u32 = 8_000;
const BYTES_PER_SECOND: u64 = 16_000;
/// The most bytes one chunk of a download body holds.
pub const CHUNK_BYTES: u64 = 16 * 1024;

/// Where the recording files live and how they are served. `Default` is the service as documented, with
/// no file deleted and no download failing.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingArchive {
    /// How long a `DownloadRecording` (2017-07-05) link is valid (the docs: 1 hour).
    pub link_lifetime_ccc1: Duration,
    /// How long a `GetMonoRecording` or `ListMonoRecordings` (2020-07-01) link is valid when the request
    /// does not say (`GetMonoRecording`'s documented default: 1 day).
    pub link_lifetime_ccc2: Duration,
    /// The share (0..=1) of recording files the service has deleted, chosen by a hash of the file name.
    pub deleted_fraction: f64,
    /// The largest file served, header included; longer recordings are cut to this (at least 44).
    pub max_file_bytes: u64,
    pub faults: DownloadFaults,
}

impl Default for RecordingArchive {
    fn default() -> Self {
        RecordingArchive {
            link_lifetime_ccc1: Duration::from_secs(3_600),
            link_lifetime_ccc2: Duration::from_secs(86_400),
            deleted_fraction: 0.0,
            max_file_bytes: 1024 * 1024,
            faults: DownloadFaults::default(),
        }
    }
}

/// Probabilities (0..=1) of a download failing, drawn per valid link. `Default` injects nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownloadFaults {
    /// Headers and the first half of the body, then the connection is dropped.
    pub reset: f64,
    /// The body starts only after [`crate::Faults::slow_for`].
    pub slow: f64,
    /// The share of files (chosen by a hash of the name) whose first link is handed out already expired,
    /// as if it had waited in a queue past its lifetime; every later link of the file is good.
    pub expired_first: f64,
}

impl DownloadFaults {
    /// Each probability's name and value, for validation and the banner.
    pub fn probabilities(&self) -> [(&'static str, f64); 3] {
        [
            ("download-reset", self.reset),
            ("download-slow", self.slow),
            ("download-expired", self.expired_first),
        ]
    }

    /// Draws whether this download is slow and whether it is reset.
    pub fn draw(&self, rng: &mut impl rand::Rng) -> (bool, bool) {
        let mut hit = |p: f64| p > 0.0 && rng.random::<f64>() < p;
        (hit(self.slow), hit(self.reset))
    }
}

/// One recording file as the archive holds it: the ground truth a downloader is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordingFile {
    pub instance_id: String,
    pub contact_id: String,
    /// The name `ListCallDetailRecords` 2017-07-05 and `ListMonoRecordings` give it.
    pub file_name: String,
    /// The recording's length in seconds (the file may be cut shorter, see `size`).
    pub duration_s: u32,
    pub content_type: String,
    /// Bytes the link serves, header included.
    pub size: u64,
    /// SHA-256 of those bytes, lowercase hex.
    pub sha256: String,
    /// Deleted by the service: its actions answer not-found and its link 404.
    pub deleted: bool,
}

impl RecordingArchive {
    /// Whether the service has deleted `file_name`: a hash of the name against the fraction.
    pub fn is_deleted(&self, file_name: &str) -> bool {
        self.deleted_fraction > 0.0
            && (mix(name_hash(file_name) ^ 0xDE1E_7ED0) as f64 / u64::MAX as f64)
                < self.deleted_fraction
    }

    /// Whether the first link to `file_name` is handed out expired ([`DownloadFaults::expired_first`]).
    pub fn first_link_expired(&self, file_name: &str) -> bool {
        let fraction = self.faults.expired_first;
        fraction > 0.0
            && (mix(name_hash(file_name) ^ 0x0EC9_12ED) as f64 / u64::MAX as f64) < fraction
    }

    /// The bytes of a recording of `duration_s` seconds named `file_name`.
    pub fn content(&self, file_name: &str, duration_s: u32) -> Content {
        let pcm = (u64::from(duration_s) * BYTES_PER_SECOND)
            .min(self.max_file_bytes.saturating_sub(WAV_HEADER_BYTES) & !1);
        Content {
            seed: name_hash(file_name),
            size: WAV_HEADER_BYTES + pcm,
        }
    }

    /// The ground truth of one file.
    pub fn file(
        &self,
        instance_id: &str,
        contact_id: &str,
        file_name: &str,
        duration_s: u32,
    ) -> RecordingFile {
        let content = self.content(file_name, duration_s);
        RecordingFile {
            instance_id: instance_id.to_owned(),
            contact_id: contact_id.to_owned(),
            file_name: file_name.to_owned(),
            duration_s,
            content_type: content_type(file_name).to_owned(),
            size: content.size,
            sha256: content.sha256(),
            deleted: self.is_deleted(file_name),
        }
    }
}

/// `audio/mpeg` for a `.mp3` name, `audio/wav` for anything else.
pub fn content_type(file_name: &str) -> &'static str {
    if file_name.to_ascii_lowercase().ends_with(".mp3") {
        "audio/mpeg"
    } else {
        "audio/wav"
    }
}

/// One file's bytes, produced on demand in any range, so a body is streamed in chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Content {
    seed: u64,
    size: u64,
}

impl Content {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes at `range` (within `0..size`).
    pub fn bytes(&self, range: Range<u64>) -> Vec<u8> {
        let header = self.header();
        range
            .map(|p| match usize::try_from(p) {
                Ok(i) if i < header.len() => header[i],
                _ => {
                    let n = p - WAV_HEADER_BYTES;
                    mix(self.seed ^ (n / 8)).to_le_bytes()[(n % 8) as usize]
                }
            })
            .collect()
    }

    /// SHA-256 of the whole file, lowercase hex.
    pub fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        let mut offset = 0;
        while offset < self.size {
            let end = (offset + CHUNK_BYTES).min(self.size);
            hasher.update(self.bytes(offset..end));
            offset = end;
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// RIFF/WAVE, PCM, 8 kHz, 16-bit, mono, with this file's sizes.
    fn header(&self) -> [u8; WAV_HEADER_BYTES as usize] {
        let data = u32::try_from(self.size - WAV_HEADER_BYTES).unwrap_or(u32::MAX);
        let mut h = Vec::with_capacity(WAV_HEADER_BYTES as usize);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&data.saturating_add(36).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // PCM
        h.extend_from_slice(&1u16.to_le_bytes()); // mono
        h.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
        h.extend_from_slice(&(BYTES_PER_SECOND as u32).to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes()); // block align
        h.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data.to_le_bytes());
        h.try_into().expect("the header is 44 bytes")
    }
}

/// The first 8 bytes of the name's SHA-256.
fn name_hash(file_name: &str) -> u64 {
    let digest = Sha256::digest(file_name.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The object key of a file: `<instance>/<file name>`, each part percent-encoded.
pub fn object_key(instance_id: &str, file_name: &str) -> String {
    format!(
        "{}/{}",
        ccc_signature::percent_encode(instance_id),
        ccc_signature::percent_encode(file_name)
    )
}

/// The OSS V1 query-string signature of a GET of `key` until `expires_s`.
fn signature(key: &str, expires_s: i64) -> String {
    ccc_signature::sign(
        &secrecy::SecretString::from(OSS_SECRET),
        &string_to_sign(key, expires_s),
    )
}

fn string_to_sign(key: &str, expires_s: i64) -> String {
    format!("GET\n\n\n{expires_s}\n/{key}")
}

/// A download link on the simulator's own address in the shape of an OSS signed URL: the object key is
/// `<instance>/<file name>`, valid until `expires_s` (epoch seconds).
pub fn oss_link(endpoint: &str, instance_id: &str, file_name: &str, expires_s: i64) -> String {
    let key = object_key(instance_id, file_name);
    format!(
        "{endpoint}/_oss/{key}?Expires={expires_s}&OSSAccessKeyId={OSS_ACCESS_KEY_ID}&Signature={}",
        ccc_signature::percent_encode(&signature(&key, expires_s))
    )
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// 403 `AccessDenied`: no `Expires` or no `Signature`.
    Incomplete,
    /// 403 `InvalidAccessKeyId`.
    UnknownKey(String),
    /// 403 `SignatureDoesNotMatch`, with the string the server signed.
    SignatureMismatch { string_to_sign: String },
    /// 403 `AccessDenied`, "Request has expired."
    Expired { expires_s: i64 },
}

/// Checks a link to `key` as OSS does at `now_s` (epoch seconds): the key id, the signature, the expiry.
pub fn check_link(
    key: &str,
    expires: Option<&str>,
    access_key_id: Option<&str>,
    signature_given: Option<&str>,
    now_s: i64,
) -> Result<(), LinkError> {
    let (Some(expires), Some(given)) = (expires, signature_given) else {
        return Err(LinkError::Incomplete);
    };
    let id = access_key_id.unwrap_or_default();
    if id != OSS_ACCESS_KEY_ID {
        return Err(LinkError::UnknownKey(id.to_owned()));
    }
    let expires_s = expires.parse::<i64>().map_err(|_| LinkError::Incomplete)?;
    if signature(key, expires_s) != given {
        return Err(LinkError::SignatureMismatch {
            string_to_sign: string_to_sign(key, expires_s),
        });
    }
    if now_s > expires_s {
        return Err(LinkError::Expired { expires_s });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(max_file_bytes: u64) -> RecordingArchive {
        RecordingArchive {
            max_file_bytes,
            ..RecordingArchive::default()
        }
    }

    #[test]
    fn links_vary_with_their_expiry_and_escape_the_file_name() {
        let a = oss_link("http://127.0.0.1:9", "inst", "a b.wav", 100);
        let b = oss_link("http://127.0.0.1:9", "inst", "a b.wav", 200);
        assert!(
            a.starts_with("http://127.0.0.1:9/_oss/inst/a%20b.wav?Expires=100&OSSAccessKeyId=")
        );
        assert!(a.contains("&Signature="));
        assert_ne!(a, b);
    }

    #[test]
    fn a_link_is_checked_for_its_key_signature_and_expiry() {
        let key = object_key("inst", "a.wav");
        let good = signature(&key, 100);
        let check =
            |id: &str, sig: &str, now: i64| check_link(&key, Some("100"), Some(id), Some(sig), now);
        assert_eq!(check(OSS_ACCESS_KEY_ID, &good, 100), Ok(()));
        assert_eq!(
            check(OSS_ACCESS_KEY_ID, &good, 101),
            Err(LinkError::Expired { expires_s: 100 })
        );
        assert!(matches!(
            check(OSS_ACCESS_KEY_ID, "AAAA", 101),
            Err(LinkError::SignatureMismatch { .. })
        ));
        assert_eq!(
            check("other", &good, 1),
            Err(LinkError::UnknownKey("other".into()))
        );
        assert_eq!(
            check_link(&key, None, Some(OSS_ACCESS_KEY_ID), Some(&good), 1),
            Err(LinkError::Incomplete)
        );
    }

    #[test]
    fn files_are_wav_sized_by_duration_up_to_the_cap_and_the_same_for_the_same_name() {
        let small = archive(1_000).content("a.wav", 60);
        assert_eq!(small.size(), 44 + 956);
        let long = archive(10_000_000).content("a.wav", 60);
        assert_eq!(long.size(), 44 + 60 * 16_000);
        let bytes = small.bytes(0..small.size());
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(
            u32::from_le_bytes(bytes[40..44].try_into().expect("4")),
            956
        );
        assert_eq!(small.bytes(500..700), bytes[500..700]);
        assert_eq!(small.sha256(), archive(1_000).content("a.wav", 60).sha256());
        assert_ne!(small.sha256(), archive(1_000).content("b.wav", 60).sha256());
        assert_eq!(small.sha256().len(), 64);
    }

    #[test]
    fn a_fraction_of_files_is_deleted_by_name() {
        let none = RecordingArchive::default();
        let some = RecordingArchive {
            deleted_fraction: 0.3,
            ..RecordingArchive::default()
        };
        let names: Vec<String> = (0..2_000).map(|i| format!("{i}-1-x.wav")).collect();
        assert!(names.iter().all(|n| !none.is_deleted(n)));
        let deleted = names.iter().filter(|n| some.is_deleted(n)).count();
        assert!((450..750).contains(&deleted), "{deleted} of 2000");
        assert_eq!(some.is_deleted(&names[7]), some.is_deleted(&names[7]));
        assert_eq!(content_type("x.MP3"), "audio/mpeg");
        assert_eq!(content_type("x.wav"), "audio/wav");
    }
}
