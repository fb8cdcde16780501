//! OIDC / RRSA (Kubernetes on ACK): a service-account token traded at STS for temporary credentials with
//! `AssumeRoleWithOIDC`, an unsigned GET whose query carries the token. The token file is read again for
//! every fetch, as the kubelet rotates it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{CredentialsError, Failure, Fetched, TemporaryKeys, json_error, send};

pub(super) const PROVIDER: &str = "OIDC role (STS AssumeRoleWithOIDC)";
/// The central STS endpoint; `sts.<region>.aliyuncs.com` when `ALIBABA_CLOUD_STS_REGION` is set.
pub(crate) const DEFAULT_ENDPOINT: &str = "https://sts.aliyuncs.com";
/// What the official SDKs ask for: one hour, replaced after 45 minutes.
pub(crate) const DURATION_SECONDS: u32 = 3600;
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A RAM role assumed with the OIDC token in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OidcRole {
    pub role_arn: String,
    pub oidc_provider_arn: String,
    pub token_file: PathBuf,
    /// Shows in ActionTrail as who acted.
    pub session_name: String,
    /// STS, or a test server or proxy; any path and query are replaced.
    pub endpoint: reqwest::Url,
}

/// `https://sts.<region>.aliyuncs.com`, or the central endpoint without a region.
pub(crate) fn regional_endpoint(region: Option<&str>) -> String {
    region.map_or_else(
        || DEFAULT_ENDPOINT.to_owned(),
        |r| format!("https://sts.{r}.aliyuncs.com"),
    )
}

impl OidcRole {
    pub(super) async fn fetch(&self, http: &reqwest::Client) -> Result<Fetched, CredentialsError> {
        let token = std::fs::read_to_string(&self.token_file)
            .map_err(|e| CredentialsError {
                provider: PROVIDER,
                endpoint: self.token_file.display().to_string(),
                detail: format!("cannot read the OIDC token file: {e}"),
                fix: "mount the service-account token where ALIBABA_CLOUD_OIDC_TOKEN_FILE points (ack-pod-identity-webhook does this for annotated pods)".into(),
                transient: false,
            })?;
        let url = self.request_url(token.trim(), Utc::now());
        let (status, body) = send(http.get(url)).await.map_err(|f| self.error(f))?;
        parse_answer(status, &body).map_err(|f| self.error(f))
    }

    /// The `AssumeRoleWithOIDC` request. Pure: the token and the clock are arguments.
    pub(super) fn request_url(&self, token: &str, now: DateTime<Utc>) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        url.set_path("/");
        url.query_pairs_mut()
            .clear()
            .append_pair("Action", "AssumeRoleWithOIDC")
            .append_pair("Format", "JSON")
            .append_pair("Version", "2015-04-01")
            .append_pair("DurationSeconds", &DURATION_SECONDS.to_string())
            .append_pair("RoleArn", &self.role_arn)
            .append_pair("OIDCProviderArn", &self.oidc_provider_arn)
            .append_pair("OIDCToken", token)
            .append_pair("RoleSessionName", &self.session_name)
            .append_pair("Timestamp", &now.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        url
    }

    fn error(&self, failure: Failure) -> CredentialsError {
        let mut endpoint = self.endpoint.clone();
        endpoint.set_path("/");
        endpoint.set_query(None);
        CredentialsError {
            provider: PROVIDER,
            endpoint: endpoint.to_string(),
            fix: if failure.transient {
                "make sure STS is reachable from here (network, proxy, ALIBABA_CLOUD_STS_REGION); ccc-sync keeps trying".into()
            } else {
                format!(
                    "check ALIBABA_CLOUD_ROLE_ARN ({}) and ALIBABA_CLOUD_OIDC_PROVIDER_ARN, and that the role's trust policy admits this service account",
                    self.role_arn
                )
            },
            detail: failure.detail,
            transient: failure.transient,
        }
    }
}

/// STS's answer, success or error.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    credentials: Option<TemporaryKeys>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// Reads STS's answer: credentials on 200; otherwise its code and message, transient for a server fault or
/// throttling. Pure.
fn parse_answer(status: u16, body: &[u8]) -> Result<Fetched, Failure> {
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => {
            let mut failure = Failure::status(
                status,
                format!("HTTP {status} with a body that is {}", json_error(&e)),
            );
            // A 200 cut short: the next answer may be whole.
            failure.transient |= status == 200;
            return Err(failure);
        }
    };
    let request_id = answer.request_id.as_deref().unwrap_or("none");
    match (status, answer.credentials) {
        (200, Some(keys)) => keys.into_fetched().map_err(|detail| Failure {
            detail: format!("{detail} (RequestId {request_id})"),
            transient: false,
        }),
        (200, None) => Err(Failure {
            detail: format!("HTTP 200 without Credentials (RequestId {request_id})"),
            transient: false,
        }),
        (status, _) => {
            let code = answer.code.as_deref().unwrap_or("no error code");
            let detail = format!(
                "HTTP {status} {code}: {} (RequestId {request_id})",
                answer.message.as_deref().unwrap_or("")
            );
            let mut failure = Failure::status(status, detail);
            failure.transient |= code.starts_with("Throttling");
            Err(failure)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn role() -> OidcRole {
        OidcRole {
            role_arn: "acs:ram::1234:role/ccc-sync".into(),
            oidc_provider_arn: "acs:ram::1234:oidc-provider/ack-rrsa-c1".into(),
            token_file: "/var/run/secrets/tokens/oidc-token".into(),
            session_name: "ccc-sync-1".into(),
            endpoint: reqwest::Url::parse("https://sts.cn-shanghai.aliyuncs.com/some/path?x=1")
                .expect("url"),
        }
    }

    #[test]
    fn the_request_is_the_documented_unsigned_get() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T06:00:00Z")
            .expect("time")
            .to_utc();
        let url = role().request_url("eyJhbGciOi.jwt+token", now);
        assert_eq!(url.host_str(), Some("sts.cn-shanghai.aliyuncs.com"));
        assert_eq!(url.path(), "/");
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let expected: HashMap<String, String> = [
            ("Action", "AssumeRoleWithOIDC"),
            ("Format", "JSON"),
            ("Version", "2015-04-01"),
            ("DurationSeconds", "3600"),
            ("RoleArn", "acs:ram::1234:role/ccc-sync"),
            ("OIDCProviderArn", "acs:ram::1234:oidc-provider/ack-rrsa-c1"),
            ("OIDCToken", "eyJhbGciOi.jwt+token"),
            ("RoleSessionName", "ccc-sync-1"),
            ("Timestamp", "2026-11-24T06:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(params, expected, "no Signature, nothing else");
    }

    #[test]
    fn regional_endpoints_follow_the_sts_region() {
        assert_eq!(regional_endpoint(None), "https://sts.aliyuncs.com");
        assert_eq!(
            regional_endpoint(Some("cn-hangzhou")),
            "https://sts.cn-hangzhou.aliyuncs.com"
        );
    }

    #[test]
    fn a_successful_answer_yields_the_credentials_and_their_expiry() {
        let body =
            br#"{"RequestId":"R-1","AssumedRoleUser":{"Arn":"acs:ram::1234:role/ccc-sync/s"},
            "Credentials":{"SecurityToken":"CAIS-token","Expiration":"2026-11-24T07:00:00Z",
            "AccessKeySecret":"sts-secret","AccessKeyId":"STS.NUgYrLnoC37mZZCNnAbez2E"}}"#;
        let fetched = parse_answer(200, body).expect("credentials");
        assert_eq!(
            fetched.credentials.access_key_id,
            "STS.NUgYrLnoC37mZZCNnAbez2E"
        );
        assert!(super::super::same_secret(
            fetched.credentials.security_token.as_ref().expect("token"),
            "CAIS-token"
        ));
        assert_eq!(fetched.expiration.to_rfc3339(), "2026-11-24T07:00:00+00:00");
    }

    #[test]
    fn refusals_are_fatal_and_server_faults_and_throttling_are_transient() {
        let refused = br#"{"RequestId":"R-2","HostId":"sts.aliyuncs.com","Code":"AuthenticationFail.OIDCToken.Invalid","Message":"The OIDCToken is invalid."}"#;
        let f = parse_answer(400, refused).expect_err("refused");
        assert!(!f.transient);
        assert!(
            f.detail.contains("AuthenticationFail.OIDCToken.Invalid") && f.detail.contains("R-2"),
            "{}",
            f.detail
        );
        let throttled = br#"{"RequestId":"R-3","Code":"Throttling.User","Message":"slow"}"#;
        assert!(
            parse_answer(400, throttled)
                .expect_err("throttled")
                .transient
        );
        assert!(
            parse_answer(503, b"<html>busy</html>")
                .expect_err("5xx")
                .transient
        );
        assert!(
            !parse_answer(404, b"<html>no</html>")
                .expect_err("404")
                .transient
        );
        assert!(
            parse_answer(200, br#"{"Credentials":{"#)
                .expect_err("cut")
                .transient
        );
    }

    #[test]
    fn an_answer_without_credentials_is_fatal_and_names_what_is_missing() {
        let f = parse_answer(
            200,
            br#"{"RequestId":"R-4","Credentials":{"AccessKeyId":"STS.x","AccessKeySecret":"s","SecurityToken":"t"}}"#,
        )
        .expect_err("no expiration");
        assert!(!f.transient);
        assert!(f.detail.contains("Expiration") && f.detail.contains("R-4"));
        let f = parse_answer(200, br#"{"RequestId":"R-5"}"#).expect_err("nothing");
        assert!(!f.transient);
    }
}
