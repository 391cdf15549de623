//! Self-service setup links: a one-time, expiring URL the admin hands to the customer's IT
//! administrator. Opening it shows the connection's SCIM base URL and the steps for its identity
//! provider; its "Generate token" button issues one token, and the link is dead from then on.
//!
//! - The secret is 32 random bytes in base64url, stored only as its SHA-256 hash.
//! - Opening the page (`GET`) never uses the link up, so mail scanners and link previews that
//!   fetch it do no harm; only the `POST` that issues the token does.
//! - Single use: the link is claimed by one conditional `UPDATE … WHERE used_at IS NULL` in the
//!   same transaction as the token's `INSERT`. A second claim finds no row; a failed issue (the
//!   connection already has two live tokens) rolls the claim back, so the link stays usable.
//! - A new link replaces any older link not yet used: the admin can kill a link sent to the wrong
//!   person by creating another, and a connection has at most one live link.
//! - Unknown, expired and used links get the same answer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::clock::{Random, Timestamp};
use super::connection::{admin_error, connection_id, parse};
use super::http::{HttpRequest, HttpResponse};
use super::settings;
use super::setup_page::{self, PageData};
use super::store::{opt_text, text, transact, Store};
use super::token;
use crate::scim::ScimError;

/// Header carrying the Worker's public origin (`https://host`) to the object, which builds the
/// link's URL from it.
pub const ORIGIN_HEADER: &str = "x-scim-edge-origin";

/// Link lifetimes, in seconds: 7 days unless asked, 5 minutes to 30 days.
pub const DEFAULT_EXPIRES_IN: i64 = 7 * 24 * 3600;
pub const MIN_EXPIRES_IN: i64 = 5 * 60;
pub const MAX_EXPIRES_IN: i64 = 30 * 24 * 3600;

/// Random bytes in a link's secret; base64url makes them 43 characters.
const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = 43;

const INVALID_LINK: &str = "This setup link is invalid or has expired.";

/// `POST /admin/v1/connections/{id}/setup-links`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateLink {
    expires_in: Option<i64>,
}

/// A new link: the only time its secret exists outside the recipient's mail.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedLink {
    pub url: String,
    pub expires_at: String,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `secret` has the shape of a link secret; anything else is never looked up.
fn well_formed(secret: &str) -> bool {
    secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates a link for the connection, replacing any older one not yet used. The origin comes
/// from [`ORIGIN_HEADER`], set by the Worker.
pub fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    request: &HttpRequest,
) -> Result<CreatedLink, ScimError> {
    let body: CreateLink = parse(request)?;
    let seconds = body.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    if !(MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&seconds) {
        return Err(ScimError::invalid_value(format!(
            "expires_in must be between {MIN_EXPIRES_IN} seconds (5 minutes) and {MAX_EXPIRES_IN} seconds (30 days)."
        )));
    }
    let id = connection_id(store).ok_or_else(|| ScimError::not_found("Connection not found."))?;
    let origin = request
        .header(ORIGIN_HEADER)
        .unwrap_or_default()
        .trim_end_matches('/');
    let mut bytes = [0u8; SECRET_BYTES];
    random.fill(&mut bytes)?;
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = now.plus_seconds(seconds).to_rfc3339();
    transact(store, || {
        // Used links stay as the record of which token each one issued.
        store.execute("DELETE FROM setup_link WHERE used_at IS NULL", &[])?;
        store.execute(
            "INSERT INTO setup_link (hash, created_at, expires_at) VALUES (?, ?, ?)",
            &[
                hash(&secret).into(),
                now.to_rfc3339().into(),
                expires_at.clone().into(),
            ],
        )?;
        Ok::<(), ScimError>(())
    })?;
    Ok(CreatedLink {
        url: format!("{origin}/setup/{id}/{secret}"),
        expires_at,
    })
}

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
            match redeem(store, random, now, scim_base_url, request, secret) {
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
    if !well_formed(secret) {
        return Ok(None);
    }
    let Some(link) = store.query_one(
        "SELECT expires_at FROM setup_link WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
        &[hash(secret).into(), now.to_rfc3339().into()],
    )?
    else {
        return Ok(None);
    };
    let expires_at = text(&link, 0)?;
    let Some(connection) = store.query_one("SELECT id, name FROM connection", &[])? else {
        return Ok(None);
    };
    let id = text(&connection, 0)?;
    let name = opt_text(&connection, 1).unwrap_or_default();
    let idp = settings::load(store)?.idp;
    Ok(Some(setup_page::setup_page(&PageData {
        connection_name: &name,
        scim_base_url,
        idp: &idp,
        token_path: &format!("/setup/{id}/{secret}/token"),
        expires_at: &expires_at,
    })))
}

/// Claims the link and issues a token with every scope and no expiry, in one transaction.
fn redeem(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    scim_base_url: &str,
    request: &HttpRequest,
    secret: &str,
) -> Result<serde_json::Value, ScimError> {
    if !well_formed(secret) {
        return Err(ScimError::not_found(INVALID_LINK));
    }
    let link_hash = hash(secret);
    let now_text = now.to_rfc3339();
    transact(store, || {
        // The claim: only one request can turn `used_at` from NULL, and it does so before
        // anything is issued; an error below rolls it back with the token.
        let claimed = store.query(
            "UPDATE setup_link SET used_at = ?
             WHERE hash = ? AND used_at IS NULL AND expires_at > ?
             RETURNING hash",
            &[
                now_text.clone().into(),
                link_hash.clone().into(),
                now_text.clone().into(),
            ],
        )?;
        if claimed.is_empty() {
            return Err(ScimError::not_found(INVALID_LINK));
        }
        let issued = token::issue(store, random, now, None, None)?;
        store.execute(
            "UPDATE setup_link SET token_id = ? WHERE hash = ?",
            &[issued.id.clone().into(), link_hash.clone().into()],
        )?;
        super::event::record(
            store,
            random,
            now,
            "token.created",
            super::event::Origin::new("setup_link", request),
            json!({"token_id": issued.id, "scopes": issued.scopes, "expires_at": issued.expires_at}),
        )?;
        Ok(json!({"token": issued.token, "scim_base_url": scim_base_url}))
    })
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
    fn secrets_are_43_base64url_characters() {
        assert!(well_formed(&URL_SAFE_NO_PAD.encode([7u8; SECRET_BYTES])));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&"a".repeat(44)));
        assert!(!well_formed(&format!("{}+", "a".repeat(42))));
        assert!(!well_formed(&format!("{}%", "a".repeat(42))));
    }

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
