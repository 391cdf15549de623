//! The public setup page of a one-time link (service::connection::setup), below
//! `/setup/{connection_id}`: `GET /{secret}` (the page) and `POST /{secret}/token` (issue the
//! token, once). No admin token: the secret is the credential. Unknown, expired and used links
//! get the same answer.

use super::http::{HttpRequest, HttpResponse};
use super::json::admin_error;
use super::setup_page::{self, PageData};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::setup::{self, INVALID_LINK};
use crate::service::store::Store;

/// The public setup routes below `/setup/{connection_id}`: `GET /{secret}` (the page) and
/// `POST /{secret}/token` (issue the token, once). `scim_base_url` is the connection's, from the
/// Worker. No admin token: the secret is the credential.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    scim_base_url: &str,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method.to_ascii_uppercase();
    match (method.as_str(), segments.as_slice()) {
        ("GET" | "HEAD", [secret]) => match page(store, now, scim_base_url, secret) {
            Ok(Some(html)) => html_response(200, html),
            Ok(None) => invalid_page(),
            Err(e) => {
                let mut response = html_response(500, setup_page::error_page());
                response.log = Some(e.cause.unwrap_or(e.detail));
                response
            }
        },
        ("POST", [secret, "token"]) => {
            let origin = request.origin("setup_link");
            match setup::redeem(store, random, now, origin, scim_base_url, secret) {
                Ok(body) => json_response(HttpResponse::plain_json(200, &body)),
                Err(e) => json_response(admin_error(&e)),
            }
        }
        _ => invalid_link(&method, &request.path),
    }
}

/// The answer for a link that cannot be live (unknown connection, malformed path): the invalid
/// page, or for the token call the same JSON 404 as a used link.
pub fn invalid_link(method: &str, path: &str) -> HttpResponse {
    if method.eq_ignore_ascii_case("POST") && path.trim_end_matches('/').ends_with("/token") {
        json_response(admin_error(&ScimError::not_found(INVALID_LINK)))
    } else {
        invalid_page()
    }
}

fn invalid_page() -> HttpResponse {
    html_response(404, setup_page::invalid_page())
}

/// The page of a live link, or `None` for an unknown, expired or used one.
fn page(
    store: &dyn Store,
    now: Timestamp,
    scim_base_url: &str,
    secret: &str,
) -> Result<Option<String>, ScimError> {
    if !setup::well_formed(secret) {
        return Ok(None);
    }
    let Some(link) = setup::live(store, now, secret)? else {
        return Ok(None);
    };
    Ok(Some(setup_page::setup_page(&PageData {
        connection_name: &link.connection_name,
        scim_base_url,
        idp: &link.idp,
        token_path: &format!("/setup/{}/{secret}/token", link.connection_id),
        expires_at: &link.expires_at,
    })))
}

/// Headers every setup response carries: never cached, never framed, no referrer (the URL holds
/// the secret).
fn secured(response: HttpResponse) -> HttpResponse {
    response
        .with_header("cache-control", "no-store")
        .with_header("referrer-policy", "no-referrer")
        .with_header("x-content-type-options", "nosniff")
        .with_header("x-frame-options", "DENY")
        .with_header("x-robots-tag", "noindex, nofollow")
}

fn html_response(status: u16, html: String) -> HttpResponse {
    let response = HttpResponse {
        status,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: html.into_bytes(),
        log: None,
    };
    secured(response).with_header(
        "content-security-policy",
        setup_page::content_security_policy(),
    )
}

fn json_response(response: HttpResponse) -> HttpResponse {
    secured(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_posts_get_json() {
        let json = invalid_link("POST", "/abc/token");
        assert_eq!(json.status, 404);
        assert_eq!(json.json()["error"], "not_found");
        let html = invalid_link("GET", "/abc");
        assert_eq!(html.status, 404);
        assert!(html
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(html.header("content-security-policy").is_some());
    }
}
