//! The one error type at the SCIM boundary (RFC 7644 §3.12).
//!
//! Every failure a client can cause becomes a [`ScimError`]: an HTTP status, an optional RFC
//! `scimType` and a `detail` written for the person reading the IdP's provisioning log.

use serde_json::{json, Value};

/// URN of the SCIM error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` values of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A SCIM error response: status, `scimType` and `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Why an internal error happened: for the log, never sent to the client.
    pub cause: Option<String>,
    /// Headers the response must carry: `Allow` on a 405 (RFC 9110 §15.5.6), `Retry-After` on
    /// a 429.
    pub headers: Vec<(&'static str, String)>,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
            headers: Vec::new(),
        }
    }

    /// 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }

    /// 409 `uniqueness` (RFC 7644 §3.3).
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// 401. The detail never says whether the connection exists.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            None,
            "Authentication failed: a valid bearer token is required.",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 405 naming the methods that are allowed.
    pub fn method_not_allowed(detail: impl Into<String>, allow: &'static str) -> Self {
        ScimError {
            headers: vec![("allow", allow.to_owned())],
            ..Self::new(405, None, detail)
        }
    }

    /// 429 with `Retry-After` in whole seconds.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        ScimError {
            headers: vec![("retry-after", retry_after_seconds.to_string())],
            ..Self::new(
                429,
                None,
                format!(
                    "Too many requests for this connection; retry after {retry_after_seconds} s."
                ),
            )
        }
    }

    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            None,
            format!("The request body exceeds the maximum payload size of {limit} bytes."),
        )
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(415, None, detail)
    }

    /// 500 with a generic detail; the cause is logged by the caller, never sent.
    pub fn internal() -> Self {
        Self::new(500, None, "Internal error; the request was not applied.")
    }

    /// 500 carrying its cause for the log.
    pub fn internal_because(cause: impl Into<String>) -> Self {
        ScimError {
            cause: Some(cause.into()),
            ..Self::internal()
        }
    }

    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }

    /// The RFC 7644 §3.12 JSON body: `status` is a string.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        body
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {}: {}", self.status, t.as_str(), self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7644_3_12_error_body_has_string_status_and_scim_type() {
        let body = ScimError::uniqueness("userName taken").to_json();
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["detail"], "userName taken");
    }

    #[test]
    fn errors_without_scim_type_omit_the_member() {
        let body = ScimError::unauthorized().to_json();
        assert_eq!(body["status"], "401");
        assert!(body.get("scimType").is_none());
    }
}
