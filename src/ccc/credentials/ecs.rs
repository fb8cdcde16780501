//! The ECS RAM role: temporary credentials from the instance metadata service. A session token first
//! (`PUT /latest/api/token`), then, with it, the role's credentials; the role is named or, when not,
//! asked of the service. Every request gets 1 s, as the official SDKs allow.

use std::time::Duration;

use serde::Deserialize;

use super::{CredentialsError, Failure, Fetched, TemporaryKeys, json_error, send};

pub(super) const PROVIDER: &str = "ECS RAM role (instance metadata)";
/// The metadata service every ECS instance reaches.
pub(crate) const DEFAULT_ENDPOINT: &str = "http://100.100.100.200";
pub(super) const TIMEOUT: Duration = Duration::from_secs(1);
/// How long the metadata session token lives, in seconds: the most the service allows.
const TOKEN_TTL_SECONDS: &str = "21600";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/ram/security-credentials/";

/// The RAM role attached to this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcsRamRole {
    /// `None`: ask the metadata service which role is attached.
    pub role: Option<String>,
    /// The metadata service, or a test server; any path is replaced.
    pub endpoint: reqwest::Url,
}

impl EcsRamRole {
    pub(super) async fn fetch(&self, http: &reqwest::Client) -> Result<Fetched, CredentialsError> {
        let token_url = self.url(TOKEN_PATH, None);
        let token = self
            .text(
                http.put(token_url.clone())
                    .header("X-aliyun-ecs-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS),
                &token_url,
            )
            .await?;
        let with_token = |url: &reqwest::Url| {
            http.get(url.clone())
                .header("X-aliyun-ecs-metadata-token", token.trim())
        };
        let role = match &self.role {
            Some(role) => role.clone(),
            None => {
                let roles_url = self.url(ROLES_PATH, None);
                let listed = self.text(with_token(&roles_url), &roles_url).await?;
                first_role(&listed).ok_or_else(|| {
                    self.error(
                        &roles_url,
                        Failure {
                            detail: "no RAM role is attached to this instance".into(),
                            transient: false,
                        },
                    )
                })?
            }
        };
        let role_url = self.url(ROLES_PATH, Some(&role));
        let body = self.text(with_token(&role_url), &role_url).await?;
        parse_answer(body.as_bytes()).map_err(|f| self.error(&role_url, f))
    }

    /// `path` on the metadata service, with `role` as a last, encoded segment.
    fn url(&self, path: &str, role: Option<&str>) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        url.set_path(path);
        url.set_query(None);
        if let (Some(role), Ok(mut segments)) = (role, url.path_segments_mut()) {
            segments.pop_if_empty().push(role);
        }
        url
    }

    /// The body of a 200 answer, as text.
    async fn text(
        &self,
        request: reqwest::RequestBuilder,
        url: &reqwest::Url,
    ) -> Result<String, CredentialsError> {
        let (status, body) = send(request).await.map_err(|f| self.error(url, f))?;
        if status != 200 {
            let detail = match status {
                404 => "HTTP 404: not found (is a RAM role attached to this instance, under this name?)".to_owned(),
                _ => format!("HTTP {status}"),
            };
            return Err(self.error(url, Failure::status(status, detail)));
        }
        String::from_utf8(body).map_err(|_| {
            self.error(
                url,
                Failure {
                    detail: "the answer is not UTF-8 text".into(),
                    transient: true,
                },
            )
        })
    }

    fn error(&self, url: &reqwest::Url, failure: Failure) -> CredentialsError {
        CredentialsError {
            provider: PROVIDER,
            endpoint: url.to_string(),
            fix: if failure.transient {
                "run ccc-sync on an ECS instance, or choose other credentials (ALIBABA_CLOUD_ECS_METADATA_DISABLED=true skips this one); ccc-sync keeps trying".into()
            } else {
                "attach a RAM role to this instance in the ECS console, and name it in ALIBABA_CLOUD_ECS_METADATA (or leave the name out to use the attached one)".into()
            },
            detail: failure.detail,
            transient: failure.transient,
        }
    }
}

/// The first role the listing names (the service lists one per line; an instance has at most one).
fn first_role(listing: &str) -> Option<String> {
    listing
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
}

/// Reads the role's credentials: `Code` must be `Success`. Pure.
fn parse_answer(body: &[u8]) -> Result<Fetched, Failure> {
    let unreadable = |e: serde_json::Error| Failure {
        detail: json_error(&e),
        transient: true,
    };
    let answer: Answer = serde_json::from_slice(body).map_err(unreadable)?;
    match answer.code.as_deref() {
        Some("Success") => {}
        code => {
            // The service answers like this while it rotates the role's keys; the next try may succeed.
            return Err(Failure {
                detail: format!("Code is {:?}, not \"Success\"", code.unwrap_or("(none)")),
                transient: true,
            });
        }
    }
    let keys: TemporaryKeys = serde_json::from_slice(body).map_err(unreadable)?;
    keys.into_fetched().map_err(|detail| Failure {
        detail,
        transient: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_answer_yields_the_role_credentials() {
        let body = br#"{"AccessKeyId":"STS.ecs-id","AccessKeySecret":"ecs-secret",
            "Expiration":"2026-11-24T12:00:00Z","SecurityToken":"CAIS-ecs","LastUpdated":"2026-11-24T06:00:00Z",
            "Code":"Success"}"#;
        let fetched = parse_answer(body).expect("credentials");
        assert_eq!(fetched.credentials.access_key_id, "STS.ecs-id");
        assert!(fetched.credentials.security_token.is_some());
        assert_eq!(fetched.expiration.to_rfc3339(), "2026-11-24T12:00:00+00:00");
    }

    #[test]
    fn an_answer_that_is_not_success_is_transient_and_says_its_code() {
        let f = parse_answer(br#"{"Code":"Failed"}"#).expect_err("failed");
        assert!(f.transient);
        assert!(f.detail.contains("Failed"), "{}", f.detail);
        assert!(parse_answer(b"<html>").expect_err("html").transient);
    }

    #[test]
    fn a_success_answer_missing_a_key_is_fatal() {
        let f = parse_answer(
            br#"{"Code":"Success","AccessKeyId":"STS.x","AccessKeySecret":"s","Expiration":"2026-11-24T12:00:00Z"}"#,
        )
        .expect_err("no token");
        assert!(!f.transient);
        assert!(f.detail.contains("SecurityToken"));
    }

    #[test]
    fn the_role_listing_names_the_first_role() {
        assert_eq!(
            first_role("ccc-sync-role\n").as_deref(),
            Some("ccc-sync-role")
        );
        assert_eq!(first_role("\n  \n"), None);
    }

    #[test]
    fn urls_keep_the_endpoint_host_and_encode_the_role() {
        let role = EcsRamRole {
            role: None,
            endpoint: reqwest::Url::parse("http://127.0.0.1:8080/ignored?q").expect("url"),
        };
        assert_eq!(
            role.url(ROLES_PATH, Some("my role")).as_str(),
            "http://127.0.0.1:8080/latest/meta-data/ram/security-credentials/my%20role"
        );
        assert_eq!(
            role.url(TOKEN_PATH, None).as_str(),
            "http://127.0.0.1:8080/latest/api/token"
        );
    }
}
