//! What the simulator answers: the wrapped list body of the CCC 1.0 actions, the flat `Data` body of the
//! CCC 2.0 actions, the error bodies with their real codes and statuses, and their JSON or XML encoding.
//!
//! `Format=JSON` (any case) gets JSON; without `Format` (or with any other value) the service answers XML,
//! and so does the simulator, with a straightforward rendering: an object is an element per field, a list
//! repeats the element of its field name, the root is `<Action>Response` or `Error`.
//!
//! A 2020-07-01 error body also carries `HttpStatusCode`, as CCC 2.0's bodies do; it keeps the gateway's
//! `HostId` and `Recommend` too, so a parser of either shape finds its fields (a guess: no 2.0 error body
//! was captured).

use std::borrow::Cow;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::data::{Listed, Shape};

/// The body encoding a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn from_param(format: Option<&str>) -> Format {
        match format {
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Xml,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=utf-8",
            Format::Xml => "text/xml;charset=utf-8",
        }
    }
}

/// An answer other than a page: status, code and message as the gateway or the service sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Sent as `x-acs-retry-after` (milliseconds).
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Missing{param}"),
            format!("{param} is mandatory for this action."),
        )
    }

    pub fn invalid_parameter(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The specified parameter {param} is not valid."),
        )
    }

    /// `InvalidParameter` with the rule `param` broke, so the message names the parameter and the limit.
    pub fn invalid_parameter_because(param: &str, rule: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The specified parameter {param} is not valid: {rule}"),
        )
    }

    /// An agent-bound key calling an instance admin's action. A guess: the code and text are modelled on
    /// Alibaba Cloud's `Forbidden.*` codes; CCC's own answer was never captured.
    pub fn no_permission(action: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden.NoPermission",
            format!(
                "The AccessKey is bound to an agent, who may not call {action}; it needs an instance administrator's AccessKey."
            ),
        )
    }

    /// A `ContactId` the instance has no visible call for. A guess modelled on `NotExists.InstanceId`.
    pub fn contact_not_found(contact_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotExists.ContactId",
            format!("The specified contact {contact_id} does not exist."),
        )
    }

    /// `DownloadRecording` of a file the instance does not have (or the service deleted): the documented
    /// code; the message is a guess.
    pub fn record_not_found(file_name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotExist.Record",
            format!("The specified record {file_name} does not exist."),
        )
    }

    /// `GetMonoRecording` of a call without a recording file (or whose file the service deleted). A
    /// guess modelled on `NotExists.ContactId`: no such 2.0 answer was captured.
    pub fn recording_not_found(contact_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotExists.Recording",
            format!("The specified contact {contact_id} has no recording."),
        )
    }

    pub fn invalid_version() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    }

    pub fn action_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    pub fn key_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    }

    pub fn signature_mismatch(server_string_to_sign: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{server_string_to_sign}"
            ),
        )
    }

    /// An unsupported `SignatureMethod` or `SignatureVersion`.
    pub fn incomplete_signature(server_string_to_sign: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            format!(
                "The request signature does not conform to Aliyun standards. server string to sign is:{server_string_to_sign}"
            ),
        )
    }

    pub fn timestamp_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        )
    }

    pub fn timestamp_format() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    }

    pub fn nonce_used() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    }

    /// A `SecurityToken` past its expiry (the scripted mode's expired tokens).
    pub fn token_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        )
    }

    /// Unknown `InstanceId`. A guess: the code and text are those the 2020-07-01 CCC API documents.
    pub fn instance_not_found(instance_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotExists.InstanceId",
            format!("The specified instance {instance_id} does not exist."),
        )
    }

    pub fn throttling(retry_after_ms: Option<u64>) -> Self {
        ApiError {
            retry_after_ms,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "Throttling.User",
                "Request was denied due to user flow control.",
            )
        }
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }

    /// The gateway's error body.
    pub fn body<'a>(&'a self, request_id: &'a str, host_id: &'a str) -> ErrorBody<'a> {
        ErrorBody {
            request_id,
            host_id,
            code: &self.code,
            message: &self.message,
            recommend: format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=CCC&requestId={request_id}",
                self.code
            ),
            http_status_code: None,
        }
    }

    /// The error body of a 2020-07-01 request: the gateway's fields plus `HttpStatusCode`.
    pub fn ccc2_body<'a>(&'a self, request_id: &'a str, host_id: &'a str) -> ErrorBody<'a> {
        ErrorBody {
            http_status_code: Some(self.status.as_u16()),
            ..self.body(request_id, host_id)
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody<'a> {
    request_id: &'a str,
    host_id: &'a str,
    code: &'a str,
    message: &'a str,
    recommend: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status_code: Option<u16>,
}

/// A CCC 2.0 success body: not wrapped, everything under `Data`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataBody<'a, D> {
    code: &'static str,
    data: D,
    http_status_code: u16,
    message: &'static str,
    request_id: &'a str,
}

impl<'a, D: Serialize> DataBody<'a, D> {
    pub fn new(request_id: &'a str, data: D) -> Self {
        DataBody {
            code: "OK",
            data,
            http_status_code: 200,
            message: "Success",
            request_id,
        }
    }
}

/// `DownloadRecording`'s answer, shaped like `tests/fixtures/download-recording-2017.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DownloadBody<'a> {
    code: &'static str,
    http_status_code: u16,
    media_download_param: MediaDownloadParam,
    request_id: &'a str,
    success: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MediaDownloadParam {
    file_name: String,
    signature_url: String,
}

impl<'a> DownloadBody<'a> {
    /// The link arrives wrapped in an extra pair of double quotes, as the service sends it.
    pub fn new(request_id: &'a str, file_name: String, link: &str) -> Self {
        DownloadBody {
            code: "OK",
            http_status_code: 200,
            media_download_param: MediaDownloadParam {
                file_name,
                signature_url: format!("\"{link}\""),
            },
            request_id,
            success: true,
        }
    }
}

/// The `Data` of a CCC 2.0 list: a plain `List` array.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PagedData<R> {
    pub list: Vec<R>,
    pub page_number: u32,
    pub page_size: u32,
    pub total_count: usize,
}

/// The success body, shaped like `tests/fixtures/response-wrapped.json` (or the flat docs sample).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBody<'a, R> {
    call_detail_records: CallDetailRecords<R>,
    code: &'static str,
    http_status_code: u16,
    request_id: &'a str,
    success: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CallDetailRecords<R> {
    list: Listed<R>,
    page_number: u32,
    page_size: u32,
    total_count: usize,
}

impl<'a, R: Serialize> ListBody<'a, R> {
    /// `records` are the generated `Record`s, or scripted JSON values.
    pub fn new(
        request_id: &'a str,
        shape: Shape,
        records: Vec<R>,
        page_number: u32,
        page_size: u32,
        total_count: usize,
    ) -> Self {
        ListBody {
            call_detail_records: CallDetailRecords {
                list: Listed {
                    shape,
                    inner: "CallDetailRecord",
                    items: records,
                },
                page_number,
                page_size,
                total_count,
            },
            code: "OK",
            http_status_code: 200,
            request_id,
            success: true,
        }
    }
}

/// Encodes a body in the asked format; `xml_root` names the XML document element.
pub fn encode(format: Format, xml_root: &str, body: &impl Serialize) -> Vec<u8> {
    match format {
        Format::Json => serde_json::to_vec(body).expect("bodies serialise to JSON"),
        Format::Xml => {
            let value = serde_json::to_value(body).expect("bodies serialise to JSON values");
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            write_xml(&mut out, xml_root, &value);
            out.into_bytes()
        }
    }
}

fn write_xml(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| write_xml(out, name, item)),
        Value::Object(fields) => {
            out.push_str(&format!("<{name}>"));
            for (key, field) in fields {
                write_xml(out, key, field);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_json_in_any_case_is_json_and_anything_else_is_xml() {
        assert_eq!(Format::from_param(Some("JSON")), Format::Json);
        assert_eq!(Format::from_param(Some("json")), Format::Json);
        assert_eq!(Format::from_param(Some("XML")), Format::Xml);
        assert_eq!(Format::from_param(None), Format::Xml);
    }

    #[test]
    fn error_bodies_match_the_fixture_samples() {
        let fixture: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/error-samples.json"))
                .expect("json");
        let ours = [
            ApiError::key_not_found(),
            ApiError::timestamp_expired(),
            ApiError::nonce_used(),
            ApiError::missing("PageSize"),
            ApiError::throttling(None),
            ApiError::internal(),
            ApiError::unavailable(),
        ];
        for e in ours {
            let sample = fixture["samples"]
                .as_array()
                .expect("samples")
                .iter()
                .find(|s| s["body"]["Code"] == *e.code)
                .unwrap_or_else(|| panic!("no sample for {}", e.code));
            let rid = sample["body"]["RequestId"].as_str().expect("id");
            let body =
                serde_json::to_value(e.body(rid, "ccc.cn-shanghai.aliyuncs.com")).expect("json");
            assert_eq!(body, sample["body"], "{}", e.code);
            assert_eq!(u64::from(e.status.as_u16()), sample["http_status"]);
        }
    }

    #[test]
    fn xml_repeats_list_elements_and_escapes_text() {
        let body = serde_json::json!({"A": {"Item": [{"X": "a<b&\"c\""}, {"X": 2}]}, "N": null});
        let xml = String::from_utf8(encode(Format::Xml, "Root", &body)).expect("utf-8");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Root><A><Item><X>a&lt;b&amp;&quot;c&quot;</X></Item><Item><X>2</X></Item></A><N/></Root>"
        );
    }
}
