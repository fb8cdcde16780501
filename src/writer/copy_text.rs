//! Rows in PostgreSQL's COPY text format: tab-separated fields, `\N` for NULL, and backslash escapes for
//! the characters the format gives a meaning to.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

/// A buffer of COPY text rows, written a field at a time.
#[derive(Default)]
pub(super) struct CopyText {
    text: String,
    fields: usize,
}

impl CopyText {
    pub(super) fn text(&mut self, value: Option<&str>) -> &mut Self {
        self.separate();
        match value {
            None => self.text.push_str("\\N"),
            Some(v) => {
                for c in v.chars() {
                    match c {
                        '\\' => self.text.push_str("\\\\"),
                        '\n' => self.text.push_str("\\n"),
                        '\r' => self.text.push_str("\\r"),
                        '\t' => self.text.push_str("\\t"),
                        c => self.text.push(c),
                    }
                }
            }
        }
        self
    }

    pub(super) fn int(&mut self, value: Option<impl Into<i64>>) -> &mut Self {
        self.separate();
        match value {
            None => self.text.push_str("\\N"),
            Some(v) => {
                let _ = write!(self.text, "{}", v.into());
            }
        }
        self
    }

    /// An instant, to the millisecond, in UTC.
    pub(super) fn time(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        let text = value.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.text(text.as_deref())
    }

    pub(super) fn end_row(&mut self) {
        self.text.push('\n');
        self.fields = 0;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn separate(&mut self) {
        if self.fields > 0 {
            self.text.push('\t');
        }
        self.fields += 1;
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
            .time(DateTime::from_timestamp_millis(1_772_382_600_123));
        rows.end_row();
        rows.text(Some("second"));
        rows.end_row();

        assert_eq!(
            String::from_utf8_lossy(rows.as_bytes()),
            "a\\tb\\nc\\rd\\\\e \\\\N\t\\N\t\t-7\t\\N\t2026-03-01T16:30:00.123Z\nsecond\n"
        );
    }
}
