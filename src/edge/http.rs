//! Conversions between the platform's requests and responses and the service's plain values.

use worker::{Headers, Method, Request, RequestInit, Response, Result};

use crate::api::http::{HttpRequest, HttpResponse, RequestUrl, MAX_BODY_BYTES};

/// Reads a platform request into an [`HttpRequest`] for `path` (below whatever prefix the caller
/// stripped). Bodies over [`MAX_BODY_BYTES`] are cut short and flagged by `Err(len)`.
pub async fn to_service(
    req: &mut Request,
    path: &str,
) -> Result<std::result::Result<HttpRequest, usize>> {
    let query = request_url(req).query_pairs();
    let headers = req
        .headers()
        .entries()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect::<Vec<_>>();
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared.filter(|len| *len > MAX_BODY_BYTES) {
        return Ok(Err(len));
    }
    let body = match req.method() {
        Method::Get | Method::Head | Method::Delete => Vec::new(),
        _ => req.bytes().await.unwrap_or_default(),
    };
    if body.len() > MAX_BODY_BYTES {
        return Ok(Err(body.len()));
    }
    Ok(Ok(HttpRequest {
        method: req.method().to_string(),
        path: path.to_owned(),
        query,
        headers,
        body,
    }))
}

pub fn to_platform(response: HttpResponse) -> Result<Response> {
    let status = response.status;
    if let Some(cause) = &response.log {
        // Causes never carry request bodies or secrets: they are store and platform messages.
        worker::console_error!("internal error ({status}): {cause}");
    }
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.append(name, value)?;
    }
    let body = if response.body.is_empty() {
        None
    } else {
        Some(response.body)
    };
    let response = match body {
        Some(bytes) => Response::from_bytes(bytes)?,
        None => Response::empty()?,
    };
    Ok(response.with_status(status).with_headers(headers))
}

/// Forwards a request to a Durable Object at `url`, keeping method, headers and body.
pub fn forward(req: &Request, url: &str, extra: &[(&str, &str)]) -> Result<Request> {
    let headers = req.headers().clone();
    for (k, v) in extra {
        headers.set(k, v)?;
    }
    let mut init = RequestInit::new();
    init.with_method(req.method()).with_headers(headers);
    if !matches!(req.method(), Method::Get | Method::Head) {
        init.with_body(req.inner().body().map(Into::into));
    }
    Request::new_with_init(url, &init)
}

/// The request's URL as the runtime serialised it, split without parsing it again in the wasm.
pub fn request_url(req: &Request) -> RequestUrl {
    RequestUrl::parse(&req.inner().url())
}
