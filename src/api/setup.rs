//! The public setup page of a one-time link (service::connection::setup), below
//! `/setup/{connection_id}`. The link is `/setup/{connection_id}#{secret}`: the secret is in the
//! fragment, which browsers never send, so it is in no request line and no log. No admin token:
//! the secret is the credential, and it travels only in POST bodies.
//!
//! - `GET /` (and `HEAD`): the page. The same static page for every connection: no name, no
//!   URL, no secret in it; its script reads the secret from `location.hash`, removes it from the
//!   address bar (`history.replaceState`) and POSTs it to the two routes below.
//! - `POST /details` `{"secret"}`: 200 `{connection_name, scim_base_url, idp, expires_at}`,
//!   what the page shows of a live link. Does not use the link up.
//! - `POST /token` `{"secret"}`: 200 `{token, scim_base_url}`, the token, once.
//!
//! Unknown, expired and used links, and connections that do not exist, get the same answer:
//! the invalid page for a GET, 404 `not_found` "This setup link is invalid or has expired." for
//! a POST. So does a secret in the path (`/setup/{id}/{secret}`, links made before the secret
//! moved to the fragment). A POST body that is not `{"secret": "<text>"}` is a 400.

use serde::Deserialize;

use super::http::{HttpRequest, HttpResponse};
use super::json::{admin_error, parse};
use super::setup_page;
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::setup::{self, INVALID_LINK};
use crate::service::store::Store;

/// The body of both POST routes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    /// The link's secret: the URL's fragment, without the `#`.
    secret: String,
}

/// What a request below `/setup/{connection_id}` asks for.
enum Route {
    /// `GET /` or `HEAD /`: the page.
    Page,
    /// `POST /details` with this secret.
    Details(String),
    /// `POST /token` with this secret.
    Token(String),
    /// Anything else, answered without looking at any link: a bad body, an unknown path.
    Answer(HttpResponse),
}

fn route(request: &HttpRequest) -> Route {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method.to_ascii_uppercase();
    match (method.as_str(), segments.as_slice()) {
        ("GET" | "HEAD", []) => Route::Page,
        ("POST", ["details" | "token"]) => match parse::<SecretBody>(request) {
            Ok(body) if segments[0] == "details" => Route::Details(body.secret),
            Ok(body) => Route::Token(body.secret),
            Err(e) => Route::Answer(json_response(admin_error(&ScimError::invalid_value(
                format!(
                    "{} Expected {{\"secret\": \"<the link's secret>\"}}.",
                    e.detail
                ),
            )))),
        },
        _ => Route::Answer(invalid_link(&method)),
    }
}

/// The public setup routes below `/setup/{connection_id}` of a connection that exists (see the
/// module's documentation). `scim_base_url` is the connection's, from the Worker.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    scim_base_url: &str,
    request: &HttpRequest,
) -> HttpResponse {
    match route(request) {
        Route::Page => page(),
        Route::Details(secret) => match setup::live(store, now, &secret) {
            Ok(Some(link)) => {
                let body = serde_json::json!({
                    "connection_name": link.connection_name,
                    "scim_base_url": scim_base_url,
                    "idp": link.idp,
                    "expires_at": link.expires_at,
                });
                json_response(HttpResponse::plain_json(200, &body))
            }
            Ok(None) => dead_link(),
            Err(e) => json_response(admin_error(&e)),
        },
        Route::Token(secret) => {
            let origin = request.origin("setup_link");
            match setup::redeem(store, random, now, origin, scim_base_url, &secret) {
                Ok(body) => json_response(HttpResponse::plain_json(200, &body)),
                Err(e) => json_response(admin_error(&e)),
            }
        }
        Route::Answer(response) => response,
    }
}

/// The same routes where there is no connection (never created, deleted, or an id the Worker
/// did not make): the page, the same 400 for a bad body, and the dead link's 404 for any
/// secret. Byte for byte what [`handle`] answers a wrong secret.
pub fn without_link(request: &HttpRequest) -> HttpResponse {
    match route(request) {
        Route::Page => page(),
        Route::Details(_) | Route::Token(_) => dead_link(),
        Route::Answer(response) => response,
    }
}

/// The answer for a request that cannot reach a live link (unknown connection, a path that is
/// no route, a secret in the path): the invalid page, or for a POST the JSON 404 of a dead link.
pub fn invalid_link(method: &str) -> HttpResponse {
    if method.eq_ignore_ascii_case("POST") {
        dead_link()
    } else {
        invalid_page()
    }
}

/// 404 `not_found` "This setup link is invalid or has expired."
fn dead_link() -> HttpResponse {
    json_response(admin_error(&ScimError::not_found(INVALID_LINK)))
}

fn page() -> HttpResponse {
    html_response(200, setup_page::setup_page())
}

fn invalid_page() -> HttpResponse {
    html_response(404, setup_page::invalid_page())
}

/// Headers every setup response carries: never cached, never framed, no referrer.
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

    fn request(method: &str, path: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
            ..HttpRequest::default()
        }
    }

    #[test]
    fn posts_get_json_and_everything_else_the_invalid_page() {
        let json = invalid_link("POST");
        assert_eq!(json.status, 404);
        assert_eq!(json.json()["error"], "not_found");
        let html = invalid_link("GET");
        assert_eq!(html.status, 404);
        assert!(html
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(html.header("content-security-policy").is_some());
    }

    #[test]
    fn without_a_link_the_page_is_served_and_every_secret_is_dead() {
        let page = without_link(&request("GET", "/", ""));
        assert_eq!(page.status, 200);
        assert_eq!(page.body, setup_page::setup_page().into_bytes());
        for path in ["/details", "/token", "/token/"] {
            let r = without_link(&request("POST", path, r#"{"secret": "x"}"#));
            assert_eq!(r.status, 404, "{path}");
            assert_eq!(r.json()["message"], INVALID_LINK);
        }
    }

    #[test]
    fn bodies_without_a_secret_are_400_and_never_echo_it() {
        for body in [
            "",
            "{}",
            "not json",
            r#"{"secret": 7}"#,
            r#"["s"]"#,
            r#"{"secret": "s", "extra": 1}"#,
        ] {
            let r = without_link(&request("POST", "/token", body));
            assert_eq!(r.status, 400, "{body}");
            assert_eq!(r.json()["error"], "invalid_request");
            assert!(r.json()["message"].as_str().unwrap().contains("secret"));
        }
    }

    #[test]
    fn secrets_in_the_path_are_refused() {
        let secret = "A".repeat(43);
        let get = without_link(&request("GET", &format!("/{secret}"), ""));
        assert_eq!(get.status, 404);
        assert!(!String::from_utf8_lossy(&get.body).contains(&secret));
        let post = without_link(&request("POST", &format!("/{secret}/token"), ""));
        assert_eq!(post.status, 404);
        assert_eq!(post.json()["message"], INVALID_LINK);
    }
}
