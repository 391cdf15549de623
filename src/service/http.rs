//! Plain request and response values: the edge adapter converts the platform's types into these,
//! so the service can be driven the same way from host tests.

use serde_json::Value;

use crate::scim::ScimError;

/// `application/scim+json` (RFC 7644 §3.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// The largest request body accepted, advertised as `bulk.maxPayloadSize` (RFC 7644 §3.7.4).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The path below the SCIM base URL, e.g. `/Users/2819c223`.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter; names compare case-insensitively.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, after the media type and size checks.
    pub fn json_body(&self) -> Result<Value, ScimError> {
        if let Some(content_type) = self.header("content-type") {
            let media = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !(media == SCIM_JSON || media == "application/json" || media.is_empty()) {
                return Err(ScimError::unsupported_media_type(format!(
                    "Content-Type '{media}' is not supported; send application/scim+json."
                )));
            }
        }
        if self.body.len() > MAX_BODY_BYTES {
            return Err(ScimError::payload_too_large(MAX_BODY_BYTES));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimError::invalid_syntax("The request body is empty."));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ScimError::invalid_syntax(format!(
                "The request body is not valid JSON: {e} (line {}, column {}).",
                e.line(),
                e.column()
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The cause of an internal error, for the operator's log only.
    pub log: Option<String>,
}

impl HttpResponse {
    pub fn scim_json(status: u16, body: &Value) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), SCIM_JSON.into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
            log: None,
        }
    }

    pub fn plain_json(status: u16, body: &Value) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
            log: None,
        }
    }

    pub fn empty(status: u16) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            log: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl From<ScimError> for HttpResponse {
    fn from(e: ScimError) -> Self {
        let mut response = HttpResponse::scim_json(e.status, &e.to_json());
        response.log = e.cause.clone();
        for (name, value) in &e.headers {
            response = response.with_header(name, value.clone());
        }
        if e.status == 401 {
            response.with_header("www-authenticate", "Bearer realm=\"scim\"")
        } else {
            response
        }
    }
}
