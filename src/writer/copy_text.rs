//! Rows in PostgreSQL's COPY text format: tab-separated fields, `\N` for NULL, and backslash escapes for
//! the characters the format gives a meaning to.

use std::io::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// A buffer of COPY text rows, written a field at a time.
#[derive(Default)]
pub(super) struct CopyText {
    text: Vec<u8>,
    fields: usize,
}

impl CopyText {
    pub(super) fn text(&mut self, value: Option<&str>) -> &mut Self {
        self.separate();
        match value {
            None => self.text.extend_from_slice(b"\\N"),
            Some(v) => escape_into(&mut self.text, v.as_bytes()),
        }
        self
    }

    /// A JSON value as its text, escaped as it is written.
    pub(super) fn json(&mut self, value: &Value) -> &mut Self {
        self.separate();
        // Writing into memory cannot fail, and a `Value` always serializes.
        let _ = serde_json::to_writer(Escaping(&mut self.text), value);
        self
    }

    pub(super) fn int(&mut self, value: Option<impl Into<i64>>) -> &mut Self {
        self.separate();
        match value {
            None => self.text.extend_from_slice(b"\\N"),
            Some(v) => {
                let _ = write!(self.text, "{}", v.into());
            }
        }
        self
    }

    pub(super) fn flag(&mut self, value: Option<bool>) -> &mut Self {
        self.text(value.map(|b| if b { "t" } else { "f" }))
    }

    /// An instant, to the millisecond, in UTC.
    pub(super) fn time(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        let text = value.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.text(text.as_deref())
    }

    pub(super) fn end_row(&mut self) {
        self.text.push(b'\n');
        self.fields = 0;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            self.text.push(b'\t');
        }
        self.fields += 1;
    }
}

/// Appends `bytes` with the characters COPY gives a meaning to escaped; the runs between them are copied
/// whole. All four are ASCII, so UTF-8 text is cut only between characters.
fn escape_into(out: &mut Vec<u8>, mut bytes: &[u8]) {
    // The next backslash, newline or tab, or a carriage return before it: each byte is scanned once.
    let special = |bytes: &[u8]| {
        let end = memchr::memchr3(b'\\', b'\n', b'\t', bytes).unwrap_or(bytes.len());
        memchr::memchr(b'\r', &bytes[..end]).or((end < bytes.len()).then_some(end))
    };
    while let Some(at) = special(bytes) {
        out.extend_from_slice(&bytes[..at]);
        out.extend_from_slice(match bytes[at] {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\t",
        });
        bytes = &bytes[at + 1..];
    }
    out.extend_from_slice(bytes);
}

/// A writer that escapes what is written through it into the buffer.
struct Escaping<'a>(&'a mut Vec<u8>);

impl std::io::Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        escape_into(self.0, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_characters_copy_gives_a_meaning_to_are_escaped_and_null_is_distinct_from_empty() {
        let mut rows = CopyText::default();
        rows.text(Some("a\tb\nc\rd\\e \\N"))
            .text(None)
            .text(Some(""))
            .int(Some(-7))
            .int(None::<i32>)
            .time(DateTime::from_timestamp_millis(1_772_382_600_123))
            .json(&serde_json::json!({"a": "x\\y\n"}));
        rows.end_row();
        rows.text(Some("second"));
        rows.end_row();

        assert_eq!(
            String::from_utf8_lossy(rows.as_bytes()),
            "a\\tb\\nc\\rd\\\\e \\\\N\t\\N\t\t-7\t\\N\t2026-03-01T16:30:00.123Z\t{\"a\":\"x\\\\\\\\y\\\\n\"}\nsecond\n"
        );
    }
}
