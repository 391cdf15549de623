//! The admin and app planes' JSON: request bodies parsed into the service's typed inputs, and
//! the error body `{"error": "<stable code>", "message": "<human text>"}`.

use serde_json::{json, Value};

use super::http::{HttpRequest, HttpResponse};
use crate::scim::ScimError;

/// Parses an admin JSON body; unknown fields and wrong types are a 400 naming the problem.
pub fn parse<T: serde::de::DeserializeOwned>(request: &HttpRequest) -> Result<T, ScimError> {
    let body: &[u8] = if request.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &request.body
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_value(format!("Invalid JSON body: {e}.")))?;
    if !value.is_object() {
        return Err(ScimError::invalid_value(
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ScimError::invalid_value(format!("Invalid request body: {e}.")))
}

/// What a connection's object answers on the admin and app planes when it holds no connection
/// (never created, or deleted): 404 `not_found`, "Connection not found.". The Worker gives the
/// same answer to an id it did not make, without asking any object.
pub fn connection_not_found() -> HttpResponse {
    admin_error(&ScimError::not_found("Connection not found."))
}

/// The admin plane's error body: a stable `error` code and a human `message`.
pub fn admin_error(e: &ScimError) -> HttpResponse {
    let code = match e.status {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        429 => "rate_limited",
        413 => "payload_too_large",
        _ => "internal_error",
    };
    let mut response =
        HttpResponse::plain_json(e.status, &json!({"error": code, "message": e.detail}));
    response.log = e.cause.clone();
    for (name, value) in &e.headers {
        response = response.with_header(name, value.clone());
    }
    response
}
