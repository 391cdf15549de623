//! Bearer tokens of a connection: issued once, stored only as a SHA-256 hash, compared in
//! constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::event::{self, kind, Event, Origin};
use crate::service::store::{int, opt_text, text, transact, SqlValue, Store};

/// Every token starts with this, so secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "scim_";

/// Live (unrevoked, unexpired) tokens a connection may have at once.
pub const MAX_LIVE_TOKENS: i64 = 2;
/// Shortest and longest token lifetimes, in seconds.
pub const MIN_EXPIRES_IN: i64 = 15 * 60;
pub const MAX_EXPIRES_IN: i64 = 10 * 365 * 24 * 3600;

/// Scopes a token may carry; a token without explicit scopes gets all of them.
pub const SCOPES: &[&str] = &["read:users", "write:users", "read:groups", "write:groups"];

/// What the admin sees of a token; the secret is only in [`IssuedToken`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// A freshly issued token: the only time the secret exists outside the IdP.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// `POST /admin/v1/connections/{id}/tokens` `{"scopes"?, "expires_in"?}` (seconds).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenRequest {
    pub scopes: Option<Vec<String>>,
    pub expires_in: Option<i64>,
}

/// The token that authenticated a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub token_id: String,
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether the token carries `scope`.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn parse_scopes(requested: Option<Vec<String>>) -> Result<Vec<String>, ScimError> {
    let Some(requested) = requested else {
        return Ok(SCOPES.iter().map(|s| (*s).to_owned()).collect());
    };
    if requested.is_empty() {
        return Err(ScimError::invalid_value("scopes must not be empty."));
    }
    let mut scopes = Vec::new();
    for scope in requested {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(ScimError::invalid_value(format!(
                "Unknown scope '{scope}'; known scopes are {}.",
                SCOPES.join(", ")
            )));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// Issues a token: `scim_` + 32 random bytes in base64url. Only its hash is stored.
pub fn issue(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    scopes: Option<Vec<String>>,
    expires_in: Option<i64>,
) -> Result<IssuedToken, ScimError> {
    let scopes = parse_scopes(scopes)?;
    if let Some(seconds) = expires_in {
        if !(MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&seconds) {
            return Err(ScimError::invalid_value(format!(
                "expires_in must be between {MIN_EXPIRES_IN} seconds (15 minutes) and {MAX_EXPIRES_IN} seconds (10 years)."
            )));
        }
    }
    // Two live tokens allow rotation without downtime: issue the new one, switch the IdP over,
    // revoke the old one.
    if live_count(store, now)? >= MAX_LIVE_TOKENS {
        return Err(ScimError::new(
            409,
            None,
            format!(
                "This connection already has {MAX_LIVE_TOKENS} active tokens; revoke one before issuing another."
            ),
        ));
    }
    let mut secret = [0u8; 32];
    random.fill(&mut secret)?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let id = random_id(random, "tok_", 8)?;
    let created_at = now.to_rfc3339();
    let expires_at = expires_in.map(|s| now.plus_seconds(s).to_rfc3339());
    transact(store, || {
        store.execute(
            "INSERT INTO token (id, hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            &[
                id.clone().into(),
                hash(&token).into(),
                scopes.join(" ").into(),
                created_at.clone().into(),
                expires_at.clone().into(),
            ],
        )?;
        Ok::<(), ScimError>(())
    })?;
    Ok(IssuedToken {
        id,
        token,
        scopes,
        created_at,
        expires_at,
    })
}

pub fn list(store: &dyn Store) -> Result<Vec<TokenInfo>, ScimError> {
    let rows = store.query(
        "SELECT id, scopes, created_at, expires_at, revoked_at, last_used_at FROM token ORDER BY created_at, id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(TokenInfo {
                id: text(row, 0)?,
                scopes: text(row, 1)?.split(' ').map(str::to_owned).collect(),
                created_at: text(row, 2)?,
                expires_at: opt_text(row, 3),
                revoked_at: opt_text(row, 4),
                last_used_at: opt_text(row, 5),
            })
        })
        .collect()
}

/// Revokes a token at once. Revoking twice is not an error; an unknown id is a 404.
pub fn revoke(store: &dyn Store, now: Timestamp, id: &str) -> Result<(), ScimError> {
    let found = store.query_one("SELECT revoked_at FROM token WHERE id = ?", &[id.into()])?;
    if found.is_none() {
        return Err(ScimError::not_found(format!("Token {id} not found.")));
    }
    store.execute(
        "UPDATE token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        &[now.to_rfc3339().into(), id.into()],
    )?;
    Ok(())
}

/// How often `last_used_at` is refreshed: often enough to be useful, rarely enough that reads
/// stay reads.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// Checks an `Authorization` header value against the connection's live tokens. Every live
/// token's hash is compared, each in constant time, so timing says nothing about which matched.
pub fn authenticate(
    store: &dyn Store,
    now: Timestamp,
    authorization: Option<&str>,
) -> Result<Principal, ScimError> {
    let presented = authorization
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(ScimError::unauthorized)?;
    let presented_hash = hash(presented);
    let now_text = now.to_rfc3339();
    let rows = store
        .query(
            "SELECT id, hash, scopes, last_used_at FROM token
             WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
            &[now_text.clone().into()],
        )
        // A database that was never set up (an unknown connection id) has no token table.
        .unwrap_or_default();
    let mut matched = None;
    for row in &rows {
        let stored = row.get(1).and_then(SqlValue::as_blob).unwrap_or_default();
        if bool::from(stored.ct_eq(&presented_hash)) {
            matched = Some(row);
        }
    }
    let row = matched.ok_or_else(ScimError::unauthorized)?;
    let token_id = text(row, 0)?;
    let stale = opt_text(row, 3)
        .is_none_or(|last| last < Timestamp(now.0 - LAST_USED_GRANULARITY_MS).to_rfc3339());
    if stale {
        store.execute(
            "UPDATE token SET last_used_at = ? WHERE id = ?",
            &[now_text.into(), token_id.clone().into()],
        )?;
    }
    Ok(Principal {
        token_id,
        scopes: text(row, 2)?.split(' ').map(str::to_owned).collect(),
    })
}

/// Counts live tokens.
pub fn live_count(store: &dyn Store, now: Timestamp) -> Result<i64, ScimError> {
    let row = store.query_one(
        "SELECT count(*) FROM token WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
        &[now.to_rfc3339().into()],
    )?;
    Ok(row.map(|r| int(&r, 0)).transpose()?.unwrap_or(0))
}
/// Records `token.created` for a token just issued.
pub fn record_created(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    issued: &IssuedToken,
) -> Result<(), ScimError> {
    let event = Event::TokenCreated(kind::TokenCreated {
        token_id: issued.id.clone(),
        scopes: issued.scopes.clone(),
        expires_at: issued.expires_at.clone(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}
