//! Keeps the AccessKey secret and the STS `SecurityToken` out of every text the client hands on: error
//! messages (the service's own included), strings to sign, the detail of unreadable answers.
//!
//! Two layers. [`redact_security_token`] is pure and needs no credentials: it blanks the value of any
//! `SecurityToken` parameter, whether the text holds it raw, in a query (percent-encoded once) or inside a
//! string to sign (encoded twice, `SecurityToken%3D…%2526…`). [`Redactor`] knows the credentials a request
//! was signed with and blanks their values wherever they appear, in each of those encodings, so a token the
//! service quotes some other way is caught too. The AccessKey id is an identifier, not a secret: it stays.

use secrecy::ExposeSecret;

use super::credentials::Credentials;
use ccc_signature::percent_encode;

/// What a credential is replaced with.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The parameter that carries the STS token, matched regardless of ASCII case.
const TOKEN_PARAM: &str = "securitytoken";

/// Values shorter than this are not searched for: no real AccessKey secret (30 characters) or STS token
/// (hundreds) is this short, and blanking every `a` of a message because a test used `a` as its secret would
/// leave errors unreadable without protecting anything.
const MIN_SECRET_LEN: usize = 8;

/// Blanks the value of every `SecurityToken` parameter in `text`, at any percent-encoding level:
/// `SecurityToken=v&`, `SecurityToken%3Dv%26`, `SecurityToken%253Dv%2526`, … and the JSON field
/// `"SecurityToken": "v"`. A bare mention ("the answer has no SecurityToken") is left alone. Idempotent.
pub(crate) fn redact_security_token(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(TOKEN_PARAM) {
        let after_key = from + found + TOKEN_PARAM.len();
        from = after_key;
        let Some((assign_len, value)) = assignment(&lower[after_key..]) else {
            continue;
        };
        let start = after_key + assign_len;
        let len = value.len_in(&lower[start..]);
        if len == 0 {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = start + len;
        from = copied;
    }
    out.push_str(&text[copied..]);
    out
}

/// How a parameter's value is written, which decides where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    /// After `=`: a raw or once-encoded value, ending at `&`, white space or a quote.
    Plain,
    /// After `=` encoded `level` times (`%3D`, `%253D`, …): only unreserved characters and `%`, ending at
    /// `&` encoded as often.
    Encoded { level: usize },
    /// A JSON string after `"SecurityToken":`, ending at its closing quote.
    Json,
}

impl Value {
    /// The length in bytes of the value at the start of `rest` (lower-cased).
    fn len_in(self, rest: &str) -> usize {
        match self {
            Value::Plain => rest
                .find(|c: char| c == '&' || c.is_whitespace() || "\"'<>,;\\".contains(c))
                .unwrap_or(rest.len()),
            Value::Encoded { level } => {
                let separator = format!("%{}26", "25".repeat(level - 1));
                let mut len = 0;
                for (i, c) in rest.char_indices() {
                    let in_value = c.is_ascii_alphanumeric() || "-_.~%".contains(c);
                    if !in_value || rest[i..].starts_with(&separator) {
                        break;
                    }
                    len = i + 1;
                }
                len
            }
            Value::Json => rest.find('"').unwrap_or(rest.len()),
        }
    }
}

/// What follows the parameter name, if it assigns a value: its length and how the value is written.
fn assignment(rest: &str) -> Option<(usize, Value)> {
    if rest.starts_with('=') {
        return Some((1, Value::Plain));
    }
    if let Some(escaped) = rest.strip_prefix('%') {
        let extra = escaped.len() - escaped.trim_start_matches("25").len();
        return escaped[extra..].starts_with("3d").then_some((
            1 + extra + 2,
            Value::Encoded {
                level: extra / 2 + 1,
            },
        ));
    }
    let json = rest.strip_prefix('"')?.trim_start().strip_prefix(':')?;
    let value = json.trim_start().strip_prefix('"')?;
    Some((rest.len() - value.len(), Value::Json))
}

/// The secret values of one set of credentials, as the text a request produced may carry them.
pub(crate) struct Redactor {
    /// Each secret raw, percent-encoded once and twice; lower-cased, longest first.
    needles: Vec<String>,
}

impl Redactor {
    /// Searches for the AccessKey secret and the STS token; the AccessKey id may be shown.
    pub(crate) fn new(credentials: &Credentials) -> Redactor {
        let secrets = std::iter::once(credentials.access_key_secret.expose_secret()).chain(
            credentials
                .security_token
                .as_ref()
                .map(|t| t.expose_secret()),
        );
        let mut needles: Vec<String> = secrets
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .flat_map(|s| {
                let once = percent_encode(s);
                let twice = percent_encode(&once);
                [s.to_owned(), once, twice]
            })
            .map(|n| n.to_ascii_lowercase())
            .collect();
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Redactor { needles }
    }

    /// `text` with every form of the secrets, and every `SecurityToken` value, replaced by [`REDACTED`].
    /// Hex escapes are matched in either case.
    pub(crate) fn redact(&self, text: &str) -> String {
        let scrubbed = self.needles.iter().fold(text.to_owned(), |text, needle| {
            replace_ignoring_case(&text, needle)
        });
        redact_security_token(&scrubbed)
    }
}

/// `text` with each ASCII-case-insensitive occurrence of `needle` (lower-case) replaced by [`REDACTED`].
fn replace_ignoring_case(text: &str, needle: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in lower.match_indices(needle) {
        out.push_str(&text[copied..at]);
        out.push_str(REDACTED);
        copied = at + needle.len();
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const TOKEN: &str = "CAIS+sts/Tok=n";

    #[test]
    fn a_security_token_parameter_is_blanked_at_every_encoding_level() {
        for (text, expected) in [
            ("SecurityToken=CAIS+sts/Tok=n", "SecurityToken=[REDACTED]"),
            (
                "a=1&SecurityToken=CAIS%2Bsts%2FTok%3Dn&b=2",
                "a=1&SecurityToken=[REDACTED]&b=2",
            ),
            (
                "POST&%2F&PageSize%3D1%26SecurityToken%3DCAIS%252Bsts%252FTok%253Dn%26SignatureMethod%3DHMAC-SHA1",
                "POST&%2F&PageSize%3D1%26SecurityToken%3D[REDACTED]%26SignatureMethod%3DHMAC-SHA1",
            ),
            (
                "x%26SecurityToken%253DCAIS%25252Bsts%2526y%253D1",
                "x%26SecurityToken%253D[REDACTED]%2526y%253D1",
            ),
            (
                "securitytoken%3dcais%252bsts%26next",
                "securitytoken%3d[REDACTED]%26next",
            ),
            (
                r#"{"SecurityToken": "CAIS+sts/Tok=n", "Code":"Success"}"#,
                r#"{"SecurityToken": "[REDACTED]", "Code":"Success"}"#,
            ),
            (
                "server string to sign is:POST&%2F&SecurityToken%3DCAIS%252B",
                "server string to sign is:POST&%2F&SecurityToken%3D[REDACTED]",
            ),
            (
                "SecurityToken=a b SecurityToken%3Dc%26",
                "SecurityToken=[REDACTED] b SecurityToken%3D[REDACTED]%26",
            ),
        ] {
            assert_eq!(redact_security_token(text), expected, "{text}");
            assert_eq!(redact_security_token(expected), expected, "idempotent");
        }
    }

    #[test]
    fn text_that_only_mentions_the_token_is_left_alone() {
        for text in [
            "the answer has no SecurityToken",
            "SecurityToken",
            "SecurityTokenFile%3Dx",
            "SecurityToken%3D",
            "SecurityToken%2",
            "",
            "技术 SecurityToken: 中",
        ] {
            assert_eq!(redact_security_token(text), text);
        }
    }

    fn credentials(secret: &str, token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "LTAI-visible".into(),
            access_key_secret: SecretString::from(secret),
            security_token: token.map(SecretString::from),
        }
    }

    #[test]
    fn the_secret_and_the_token_are_blanked_in_every_encoding_and_either_hex_case() {
        let redactor = Redactor::new(&credentials("Wrong/Secret+1", Some(TOKEN)));
        for text in [
            "CAIS+sts/Tok=n",
            "CAIS%2Bsts%2FTok%3Dn",
            "CAIS%252Bsts%252FTok%253Dn",
            "cais%2bsts%2ftok%3dn",
            "Wrong/Secret+1",
            "Wrong%2FSecret%2B1",
            "Wrong%252FSecret%252B1",
        ] {
            let shown = redactor.redact(&format!("key LTAI-visible said <{text}> twice: {text}."));
            assert_eq!(
                shown, "key LTAI-visible said <[REDACTED]> twice: [REDACTED].",
                "{text}"
            );
        }
    }

    #[test]
    fn short_values_are_not_searched_for_and_no_token_means_none_to_find() {
        let redactor = Redactor::new(&credentials("a", None));
        assert!(redactor.needles.is_empty());
        assert_eq!(redactor.redact("a message about a"), "a message about a");
    }
}
