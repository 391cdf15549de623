//! Self-service setup links: a one-time, expiring URL the admin hands to the customer's IT
//! administrator. Opening it shows the connection's SCIM base URL and the steps for its identity
//! provider; its "Generate token" button issues one token, and the link is dead from then on.
//!
//! - The URL is `{origin}/setup/{connection_id}#{secret}`: the secret is the fragment, which a
//!   browser never sends (RFC 3986 §3.5), so it is in no request line and no access log. The
//!   page reads it from `location.hash` and sends it in a POST body (`api::setup`).
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

use super::identity::connection_id;
use super::{settings, token};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::event::Origin;
use crate::service::store::{opt_text, text, transact, Store};

/// Link lifetimes, in seconds: 7 days unless asked, 5 minutes to 30 days.
pub const DEFAULT_EXPIRES_IN: i64 = 7 * 24 * 3600;
pub const MIN_EXPIRES_IN: i64 = 5 * 60;
pub const MAX_EXPIRES_IN: i64 = 30 * 24 * 3600;

/// Random bytes in a link's secret; base64url makes them 43 characters.
const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = 43;

/// What every dead link answers.
pub const INVALID_LINK: &str = "This setup link is invalid or has expired.";

/// `POST /admin/v1/connections/{id}/setup-links`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    /// Seconds, [`MIN_EXPIRES_IN`] to [`MAX_EXPIRES_IN`]; [`DEFAULT_EXPIRES_IN`] when absent.
    pub expires_in: Option<i64>,
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
pub fn well_formed(secret: &str) -> bool {
    secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates a link for the connection, replacing any older one not yet used; its URL is
/// `{public_origin}/setup/{connection_id}#{secret}` (the secret in the fragment, never in the
/// path or query).
pub fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    public_origin: &str,
    body: &CreateLink,
) -> Result<CreatedLink, ScimError> {
    let seconds = body.expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    if !(MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&seconds) {
        return Err(ScimError::invalid_value(format!(
            "expires_in must be between {MIN_EXPIRES_IN} seconds (5 minutes) and {MAX_EXPIRES_IN} seconds (30 days)."
        )));
    }
    let id = connection_id(store).ok_or_else(|| ScimError::not_found("Connection not found."))?;
    let origin = public_origin.trim_end_matches('/');
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
        url: format!("{origin}/setup/{id}#{secret}"),
        expires_at,
    })
}

/// What the page of a live link shows (`POST /setup/{connection_id}/details`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveLink {
    pub connection_name: String,
    /// The connection's `idp` setting, for the walkthrough.
    pub idp: String,
    /// RFC 3339, as stored.
    pub expires_at: String,
}

/// The live link with this secret, or `None` for an unknown, expired or used one.
pub fn live(
    store: &dyn Store,
    now: Timestamp,
    secret: &str,
) -> Result<Option<LiveLink>, ScimError> {
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
    let Some(connection) = store.query_one("SELECT name FROM connection", &[])? else {
        return Ok(None);
    };
    Ok(Some(LiveLink {
        connection_name: opt_text(&connection, 0).unwrap_or_default(),
        idp: settings::load(store)?.idp,
        expires_at,
    }))
}

/// Claims the link and issues a token with every scope and no expiry, in one transaction:
/// `{token, scim_base_url}`. An unknown, expired or used link is a 404 that says nothing more.
pub fn redeem(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    scim_base_url: &str,
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
        token::record_created(store, random, now, origin, &issued)?;
        Ok(json!({"token": issued.token, "scim_base_url": scim_base_url}))
    })
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
}
