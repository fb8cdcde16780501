//! Everything a CCC request can fail with, and whether trying again can help.
//!
//! Every variant carries what Alibaba support asks for (`RequestId`, `Code`, HTTP status) where the service
//! gave one. Retry decisions are [`CccError::is_retryable`], never string matching at the call site. No
//! credential leaves the client inside one: its texts pass through [`CccError::redact_with`] first.

use std::time::Duration;

use super::credentials::CredentialsError;

/// A failed `ListRecentCallRecords` request.
#[derive(Debug, thiserror::Error)]
pub enum CccError {
    /// The service answered with an error code (HTTP 4xx/5xx, or 200 with `Success: false`).
    #[error("CCC answered HTTP {http_status} {code}: {message} (RequestId {})", request_id.as_deref().unwrap_or("none"))]
    Api {
        code: String,
        message: String,
        http_status: u16,
        request_id: Option<String>,
        /// What `x-acs-retry-after` asked for.
        retry_after: Option<Duration>,
        /// For signature mismatches: the string we signed, to set beside the server's (which `message`
        /// quotes), both with the `SecurityToken` value redacted.
        our_string_to_sign: Option<String>,
    },
    /// The request never got a complete answer: connect, timeout, reset.
    #[error("request to CCC failed: {}", chain(.0))]
    Transport(#[source] reqwest::Error),
    /// An answer arrived but is not a readable page: truncated, not JSON, an unexpected shape.
    #[error("CCC answered HTTP {http_status} with a body that cannot be read (RequestId {}): {detail}", request_id.as_deref().unwrap_or("unknown"))]
    Decode {
        http_status: u16,
        request_id: Option<String>,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// No usable credentials: a missing or unreadable secret file, a token service that is unreachable
    /// or refuses; retried when the cause may pass.
    #[error("credentials unavailable: {0}")]
    Credentials(#[from] CredentialsError),
}

/// An error and its causes on one line: reqwest's own message ("error sending request") hides the cause.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl CccError {
    /// The same error with `redact` applied to every text that came from the request or the service: the
    /// message, our string to sign, the detail of an unreadable answer or of a credentials failure. Codes,
    /// statuses and the `RequestId` stay as they are, so the error still says what support asks for. A
    /// transport error's text is reqwest's, already without the URL and its query.
    pub(crate) fn redact_with(self, redact: impl Fn(&str) -> String) -> CccError {
        match self {
            CccError::Api {
                code,
                message,
                http_status,
                request_id,
                retry_after,
                our_string_to_sign,
            } => CccError::Api {
                code,
                message: redact(&message),
                http_status,
                request_id,
                retry_after,
                our_string_to_sign: our_string_to_sign.as_deref().map(&redact),
            },
            CccError::Decode {
                http_status,
                request_id,
                detail,
                retry_after,
            } => CccError::Decode {
                http_status,
                request_id,
                detail: redact(&detail),
                retry_after,
            },
            CccError::Credentials(mut e) => {
                e.detail = redact(&e.detail);
                CccError::Credentials(e)
            }
            transport @ CccError::Transport(_) => transport,
        }
    }

    /// Whether the same request, signed afresh, may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            CccError::Api {
                code,
                http_status,
                retry_after,
                ..
            } => {
                retry_after.is_some()
                    || *http_status >= 500
                    || *http_status == 429
                    || code.starts_with("Throttling")
                    || matches!(
                        code.as_str(),
                        "ServiceUnavailable" | "InternalError" | "SignatureNonceUsed"
                    )
            }
            CccError::Transport(e) => !e.is_builder(),
            CccError::Decode {
                http_status,
                retry_after,
                ..
            } => {
                *http_status == 200
                    || *http_status == 429
                    || *http_status >= 500
                    || retry_after.is_some()
            }
            CccError::Credentials(e) => e.transient,
        }
    }

    /// The parameter an `InvalidParameter` answer names among those a query's limits decide (`PageNumber`,
    /// `PageSize`, `StartTime`, `StopTime`, `EndTime`), when it names one.
    pub fn refused_parameter(&self) -> Option<&'static str> {
        let CccError::Api { code, message, .. } = self else {
            return None;
        };
        if !code.starts_with("InvalidParameter") {
            return None;
        }
        let said = format!("{code} {message}");
        ["PageNumber", "PageSize", "StartTime", "StopTime", "EndTime"]
            .into_iter()
            .find(|p| said.contains(p))
    }

    /// Whether the service asked us to slow down.
    pub fn is_throttling(&self) -> bool {
        matches!(self, CccError::Api { code, .. } if code.starts_with("Throttling"))
    }

    /// The least time the service asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CccError::Api { retry_after, .. } | CccError::Decode { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether fresh credentials may fix it (an expired STS token).
    pub fn is_expired_token(&self) -> bool {
        matches!(self, CccError::Api { code, .. } if code == "InvalidSecurityToken.Expired")
    }

    /// The service's request id, when it sent one.
    pub(crate) fn request_id(&self) -> Option<&str> {
        match self {
            CccError::Api { request_id, .. } | CccError::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// The error code for logs and metrics: the service's, or a stable name of our own.
    pub fn code(&self) -> &str {
        match self {
            CccError::Api { code, .. } => code,
            CccError::Transport(e) if e.is_timeout() => "Timeout",
            CccError::Transport(e) if e.is_connect() => "ConnectError",
            CccError::Transport(_) => "TransportError",
            CccError::Decode { .. } => "BadResponse",
            CccError::Credentials(_) => "CredentialsUnavailable",
        }
    }

    /// An operator's next step for the fatal errors whose cause is known.
    pub fn hint(&self) -> Option<&'static str> {
        let CccError::Api { code, .. } = self else {
            return None;
        };
        Some(match code.as_str() {
            "SignatureDoesNotMatch" | "IncompleteSignature" => {
                "the AccessKey secret does not match the AccessKey id; check the secret (compare our string to sign with the server's)"
            }
            "InvalidAccessKeyId.NotFound" => "the AccessKey id does not exist; check access_key_id",
            "InvalidAccessKeyId.Inactive" => "the AccessKey is disabled; enable it or use another",
            "InvalidTimeStamp.Expired" => {
                "this machine's clock is more than 15 minutes off; fix time sync (NTP)"
            }
            c if c.starts_with("InvalidSecurityToken") => {
                "the STS security token is expired or does not match the AccessKey; refresh the credentials"
            }
            "Forbidden.RAM" | "Forbidden.NoPermission" | "NoPermission" => {
                "the RAM identity lacks permission for this action on the instance: api = \"agent\" needs an agent's keys allowed ccc:ListRecentCallRecords; api = \"instance\" and \"ccc2\" need a RAM user or role allowed ccc:ListCallDetailRecords (and, with call_details, ccc:GetCallDetailRecord and ccc:ListMonoRecordings) on the whole instance"
            }
            c if c.starts_with("NotExists.InstanceId")
                || c.starts_with("InvalidInstance")
                || c == "NotExists.Instance" =>
            {
                "instance_id names no instance these credentials can see; copy it from the CCC console, and check api: a CCC 2.0 instance (ids like \"ccc-test\") needs api = \"ccc2\""
            }
            c if c.starts_with("Missing") || c == "InvalidParameter" => {
                "ccc-sync sent a bad request; please report this as a bug with the RequestId"
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, http_status: u16) -> CccError {
        CccError::Api {
            code: code.into(),
            message: String::new(),
            http_status,
            request_id: Some("R".into()),
            retry_after: None,
            our_string_to_sign: None,
        }
    }

    #[test]
    fn the_sheets_retryable_codes_are_retried_and_the_fatal_ones_are_not() {
        for (code, status) in [
            ("Throttling", 400),
            ("Throttling.User", 403),
            ("Throttling.Api", 503),
            ("ServiceUnavailable", 503),
            ("InternalError", 500),
            ("SignatureNonceUsed", 400),
            ("SomethingNew", 502),
        ] {
            assert!(api(code, status).is_retryable(), "{code} should be retried");
        }
        for (code, status) in [
            ("SignatureDoesNotMatch", 400),
            ("IncompleteSignature", 400),
            ("InvalidAccessKeyId.NotFound", 404),
            ("InvalidAccessKeyId.Inactive", 400),
            ("InvalidTimeStamp.Expired", 400),
            ("MissingPageSize", 400),
            ("InvalidParameter", 400),
            ("Forbidden.RAM", 403),
            ("InvalidAction.NotFound", 404),
        ] {
            assert!(!api(code, status).is_retryable(), "{code} should be fatal");
        }
    }

    #[test]
    fn a_retry_after_header_makes_any_error_retryable() {
        let mut e = api("Forbidden.RAM", 403);
        if let CccError::Api { retry_after, .. } = &mut e {
            *retry_after = Some(Duration::from_millis(1500));
        }
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn unreadable_bodies_are_retried_and_name_the_request() {
        let e = CccError::Decode {
            http_status: 200,
            request_id: Some("ABC-1".into()),
            detail: "truncated".into(),
            retry_after: None,
        };
        assert!(e.is_retryable());
        assert!(e.to_string().contains("ABC-1"));
    }

    #[test]
    fn credential_failures_are_retried_only_when_transient() {
        let failure = |transient| {
            CccError::from(CredentialsError {
                provider: "ECS RAM role (instance metadata)",
                endpoint: "http://100.100.100.200/latest/api/token".into(),
                detail: "operation timed out".into(),
                fix: "run on ECS".into(),
                transient,
            })
        };
        assert!(failure(true).is_retryable());
        assert!(!failure(false).is_retryable());
        assert_eq!(failure(true).code(), "CredentialsUnavailable");
        let shown = failure(false).to_string();
        assert!(
            shown.contains("ECS RAM role")
                && shown.contains("100.100.100.200")
                && shown.contains("Fix: run on ECS"),
            "{shown}"
        );
    }

    #[test]
    fn redaction_reaches_every_text_and_keeps_the_code_and_the_request_id() {
        let blank = |text: &str| text.replace("tok", "***");
        let errors = [
            CccError::Api {
                code: "SignatureDoesNotMatch".into(),
                message: "server string to sign is:tok".into(),
                http_status: 400,
                request_id: Some("R-9".into()),
                retry_after: None,
                our_string_to_sign: Some("ours tok".into()),
            },
            CccError::Decode {
                http_status: 502,
                request_id: Some("R-9".into()),
                detail: "body tok".into(),
                retry_after: None,
            },
            CccError::from(CredentialsError {
                provider: "secret file",
                endpoint: "/run/secrets/sts".into(),
                detail: "said tok".into(),
                fix: "fix it".into(),
                transient: false,
            }),
        ];
        for e in errors {
            let (code, request_id) = (e.code().to_owned(), e.request_id().map(str::to_owned));
            let redacted = e.redact_with(blank);
            let shown = format!("{redacted} {redacted:?}");
            assert!(!shown.contains("tok") && shown.contains("***"), "{shown}");
            assert_eq!(redacted.code(), code);
            assert_eq!(redacted.request_id().map(str::to_owned), request_id);
        }
    }

    #[test]
    fn fatal_errors_tell_the_operator_what_to_do() {
        assert!(
            api("InvalidTimeStamp.Expired", 400)
                .hint()
                .expect("hint")
                .contains("clock")
        );
        assert!(api("SignatureDoesNotMatch", 400).hint().is_some());
        assert!(api("InternalError", 500).hint().is_none());
    }
}
