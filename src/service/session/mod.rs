//! Sessions and refresh tokens the app registers for a user of this connection, so that the
//! IdP's deactivation or deletion of the user ends them: the app asks `POST /introspect` (answers
//! in the style of RFC 7662 §2.2) and gets `{"active": false}` from the moment the SCIM change
//! commits, and a `user.sessions_revoked` event drives back-channel logout.
//!
//! Only the SHA-256 of a refresh token is stored; the hash is the lookup key, so no secret is
//! ever compared in code. Nothing is deleted: revoked rows keep when and why.
//!
//! The app's own changes are events in the caller's transaction: `session.created`,
//! `session.ended`, `refresh_token.created` and `refresh_token.revoked` (ids only, never a
//! token or its hash). A request that fails, or a revocation that changes nothing, records none.
//!
//! Each deactivation or deletion also gets a deprovisioning [`receipt`]: what was revoked, each
//! back-channel logout sent for it, and the time it all took.

pub mod receipt;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::directory::user;
use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::event::{self, kind, Event, Origin};
use crate::service::store::{int, opt_text, text, Row, Store};

/// Longest `sid`, `client_id` or `user_id` accepted.
pub const MAX_ID_LEN: usize = 255;
/// Longest refresh token accepted (it is hashed, never stored).
pub const MAX_TOKEN_LEN: usize = 8192;

/// Why a session or refresh token was revoked.
pub const LOGOUT: &str = "logout";
pub const REVOKED: &str = "revoked";
pub const DEACTIVATED: &str = "deactivated";
pub const DELETED: &str = "deleted";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub sid: String,
    pub user_id: String,
    pub client_id: String,
    pub expires_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRefreshToken {
    pub refresh_token: Option<String>,
    pub token_hash: Option<String>,
    pub user_id: String,
    pub client_id: String,
    pub sid: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    pub sid: Option<String>,
    pub refresh_token: Option<String>,
    pub token_hash: Option<String>,
}

/// 1 to 255 visible ASCII characters (no spaces, no control characters).
fn check_id(field: &str, value: &str) -> Result<(), ScimError> {
    let visible = value.bytes().all(|b| b.is_ascii_graphic());
    if value.is_empty() || value.len() > MAX_ID_LEN || !visible {
        return Err(ScimError::invalid_value(format!(
            "{field} must be 1 to {MAX_ID_LEN} visible ASCII characters (no spaces)."
        )));
    }
    Ok(())
}

/// An RFC 3339 date-time as milliseconds since the epoch.
pub fn parse_time(value: &str) -> Option<Timestamp> {
    let t = OffsetDateTime::parse(value, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp)
}

/// `expires_at` as sent: RFC 3339, in the future; stored in the fixed-width form of
/// [`Timestamp::to_rfc3339`], so it compares as text.
fn expiry(now: Timestamp, value: Option<&str>) -> Result<Option<String>, ScimError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let at = parse_time(value).ok_or_else(|| {
        ScimError::invalid_value(format!(
            "expires_at must be an RFC 3339 date-time such as 2030-01-01T00:00:00Z, got '{value}'."
        ))
    })?;
    if at <= now {
        return Err(ScimError::invalid_value(format!(
            "expires_at {value} is not in the future."
        )));
    }
    Ok(Some(at.to_rfc3339()))
}

fn expired(now: Timestamp, expires_at: Option<&str>) -> bool {
    expires_at.is_some_and(|e| e <= now.to_rfc3339().as_str())
}

/// The user must be a user of this connection (404) and active (409).
fn check_live_user(store: &dyn Store, user_id: &str) -> Result<(), ScimError> {
    let row = store.query_one("SELECT active FROM user WHERE id = ?", &[user_id.into()])?;
    match row {
        None => Err(ScimError::not_found(format!(
            "User {user_id} is not a user of this connection."
        ))),
        Some(row) if int(&row, 0)? == 0 => Err(ScimError::new(
            409,
            None,
            format!(
                "User {user_id} is deactivated in the identity provider; no session or refresh token can be registered for them."
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// A path segment as the app sent it: a `sid` may hold any visible ASCII character, so `/`, `?`,
/// `#` and `%` arrive percent-encoded (RFC 3986 §2.1). A malformed escape is taken literally.
pub fn decode_segment(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

/// The SHA-256 of a refresh token, or the one the app computed (64 hex digits).
fn token_hash(token: Option<&str>, hash: Option<&str>) -> Result<Vec<u8>, ScimError> {
    match (token, hash) {
        (Some(token), None) => {
            if token.is_empty() || token.len() > MAX_TOKEN_LEN {
                return Err(ScimError::invalid_value(format!(
                    "refresh_token must be 1 to {MAX_TOKEN_LEN} characters."
                )));
            }
            Ok(Sha256::digest(token.as_bytes()).to_vec())
        }
        (None, Some(hash)) => decode_hash(hash),
        _ => Err(ScimError::invalid_value(
            "Send exactly one of refresh_token or token_hash.",
        )),
    }
}

fn decode_hash(hash: &str) -> Result<Vec<u8>, ScimError> {
    let malformed = || {
        ScimError::invalid_value(
            "token_hash must be the SHA-256 of the refresh token as 64 hexadecimal digits.",
        )
    };
    if hash.len() != 64 || !hash.is_ascii() {
        return Err(malformed());
    }
    (0..64)
        .step_by(2)
        .map(|i| {
            hash.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(malformed)
        })
        .collect()
}

const SESSION_COLUMNS: &str =
    "sid, user_id, client_id, created_at, expires_at, revoked_at, revoked_reason";

fn session_json(now: Timestamp, row: &Row) -> Result<Value, ScimError> {
    let expires_at = opt_text(row, 4);
    let revoked_at = opt_text(row, 5);
    Ok(json!({
        "sid": text(row, 0)?,
        "user_id": text(row, 1)?,
        "client_id": text(row, 2)?,
        "created_at": text(row, 3)?,
        "expires_at": expires_at,
        "revoked_at": revoked_at,
        "revoked_reason": opt_text(row, 6),
        "active": revoked_at.is_none() && !expired(now, expires_at.as_deref()),
    }))
}

const TOKEN_COLUMNS: &str =
    "id, user_id, client_id, sid, created_at, expires_at, revoked_at, revoked_reason";

fn token_json(now: Timestamp, row: &Row) -> Result<Value, ScimError> {
    let expires_at = opt_text(row, 5);
    let revoked_at = opt_text(row, 6);
    Ok(json!({
        "id": text(row, 0)?,
        "user_id": text(row, 1)?,
        "client_id": text(row, 2)?,
        "sid": opt_text(row, 3),
        "created_at": text(row, 4)?,
        "expires_at": expires_at,
        "revoked_at": revoked_at,
        "revoked_reason": opt_text(row, 7),
        "active": revoked_at.is_none() && !expired(now, expires_at.as_deref()),
    }))
}

fn one_session(store: &dyn Store, now: Timestamp, sid: &str) -> Result<Value, ScimError> {
    let row = store
        .query_one(
            &format!("SELECT {SESSION_COLUMNS} FROM session WHERE sid = ?"),
            &[sid.into()],
        )?
        .ok_or_else(|| ScimError::not_found(format!("Session {sid} not found.")))?;
    session_json(now, &row)
}

/// `POST /sessions` `{"sid", "user_id", "client_id", "expires_at"?}`; records `session.created`.
pub fn register_session(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    body: NewSession,
) -> Result<Value, ScimError> {
    check_id("sid", &body.sid)?;
    check_id("user_id", &body.user_id)?;
    check_id("client_id", &body.client_id)?;
    let expires_at = expiry(now, body.expires_at.as_deref())?;
    check_live_user(store, &body.user_id)?;
    if store
        .query_one(
            "SELECT 1 FROM session WHERE sid = ?",
            &[body.sid.clone().into()],
        )?
        .is_some()
    {
        return Err(ScimError::new(
            409,
            None,
            format!("Session {} is already registered.", body.sid),
        ));
    }
    store.execute(
        "INSERT INTO session (sid, user_id, client_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        &[
            body.sid.clone().into(),
            body.user_id.into(),
            body.client_id.into(),
            now.to_rfc3339().into(),
            expires_at.into(),
        ],
    )?;
    let session = one_session(store, now, &body.sid)?;
    let event = Event::SessionCreated(kind::SessionCreated {
        sid: session["sid"].clone(),
        user_id: session["user_id"].clone(),
        client_id: session["client_id"].clone(),
        expires_at: session["expires_at"].clone(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(session)
}

/// `DELETE /sessions/{sid}`: the app logged the session out. Refresh tokens bound to it end
/// with it; `session.ended` names them. Logging out a session already revoked changes nothing
/// and records nothing.
pub fn logout_session(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    sid: &str,
) -> Result<(), ScimError> {
    let session = one_session(store, now, sid)?;
    let at = now.to_rfc3339();
    let ended = store.query(
        "UPDATE session SET revoked_at = ?, revoked_reason = ? WHERE sid = ? AND revoked_at IS NULL
         RETURNING sid",
        &[at.clone().into(), LOGOUT.into(), sid.into()],
    )?;
    let mut tokens = store.query(
        "UPDATE refresh_token SET revoked_at = ?, revoked_reason = ? WHERE sid = ? AND revoked_at IS NULL
         RETURNING created_at, id",
        &[at.into(), LOGOUT.into(), sid.into()],
    )?;
    if ended.is_empty() && tokens.is_empty() {
        return Ok(());
    }
    // RETURNING gives no order: oldest first, as the app registered them.
    tokens.sort_by_key(|row| (opt_text(row, 0), opt_text(row, 1)));
    let ids = tokens
        .iter()
        .map(|row| text(row, 1))
        .collect::<Result<Vec<_>, _>>()?;
    let event = Event::SessionEnded(kind::SessionEnded {
        sid: session["sid"].clone(),
        user_id: session["user_id"].clone(),
        client_id: session["client_id"].clone(),
        refresh_tokens: ids,
    });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

fn one_token(store: &dyn Store, now: Timestamp, id: &str) -> Result<Value, ScimError> {
    let row = store
        .query_one(
            &format!("SELECT {TOKEN_COLUMNS} FROM refresh_token WHERE id = ?"),
            &[id.into()],
        )?
        .ok_or_else(|| ScimError::not_found(format!("Refresh token {id} not found.")))?;
    token_json(now, &row)
}

/// `POST /refresh-tokens` `{"refresh_token" | "token_hash", "user_id", "client_id", "sid"?,
/// "expires_at"?}`. A `sid` that names a registered session must be a live session of the same
/// user; an unregistered `sid` is kept as given. Records `refresh_token.created` (its id, never
/// the token or its hash).
pub fn register_refresh_token(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    body: NewRefreshToken,
) -> Result<Value, ScimError> {
    let hash = token_hash(body.refresh_token.as_deref(), body.token_hash.as_deref())?;
    check_id("user_id", &body.user_id)?;
    check_id("client_id", &body.client_id)?;
    if let Some(sid) = &body.sid {
        check_id("sid", sid)?;
    }
    let expires_at = expiry(now, body.expires_at.as_deref())?;
    check_live_user(store, &body.user_id)?;
    if let Some(sid) = &body.sid {
        let session = store.query_one(
            "SELECT user_id, revoked_at FROM session WHERE sid = ?",
            &[sid.clone().into()],
        )?;
        if let Some(row) = session {
            if text(&row, 0)? != body.user_id {
                return Err(ScimError::new(
                    409,
                    None,
                    format!("Session {sid} belongs to another user."),
                ));
            }
            if opt_text(&row, 1).is_some() {
                return Err(ScimError::new(
                    409,
                    None,
                    format!("Session {sid} is revoked; a refresh token cannot be bound to it."),
                ));
            }
        }
    }
    if store
        .query_one(
            "SELECT 1 FROM refresh_token WHERE hash = ?",
            &[hash.clone().into()],
        )?
        .is_some()
    {
        return Err(ScimError::new(
            409,
            None,
            "This refresh token is already registered.",
        ));
    }
    let id = random_id(random, "rt_", 12)?;
    store.execute(
        "INSERT INTO refresh_token (id, hash, user_id, client_id, sid, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            id.clone().into(),
            hash.into(),
            body.user_id.into(),
            body.client_id.into(),
            body.sid.into(),
            now.to_rfc3339().into(),
            expires_at.into(),
        ],
    )?;
    let token = one_token(store, now, &id)?;
    let event = Event::RefreshTokenCreated(token_event(&token));
    event::record(store, random, now, origin, &event)?;
    Ok(token)
}

/// What `refresh_token.created` and `refresh_token.revoked` say of a token: who holds it, never
/// the token or its hash.
fn token_event(token: &Value) -> kind::RefreshToken {
    kind::RefreshToken {
        id: token["id"].clone(),
        user_id: token["user_id"].clone(),
        client_id: token["client_id"].clone(),
        sid: token["sid"].clone(),
    }
}

/// `DELETE /refresh-tokens/{id}`: the app revoked it (RFC 7009); records
/// `refresh_token.revoked`. Revoking it again changes nothing and records nothing.
pub fn revoke_refresh_token(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    id: &str,
) -> Result<(), ScimError> {
    let token = one_token(store, now, id)?;
    let revoked = store.query(
        "UPDATE refresh_token SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL
         RETURNING id",
        &[now.to_rfc3339().into(), REVOKED.into(), id.into()],
    )?;
    if revoked.is_empty() {
        return Ok(());
    }
    let event = Event::RefreshTokenRevoked(token_event(&token));
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// `GET /users/{id}/sessions`: every session and refresh token of the user, revoked ones
/// included, oldest first; never a hash. 404 when the id names no user and nothing was ever
/// registered for it (a deleted user's revoked sessions stay listed).
pub fn of_user(
    store: &dyn Store,
    now: Timestamp,
    user_id: &str,
    user_exists: bool,
) -> Result<Value, ScimError> {
    let sessions = store
        .query(
            &format!(
                "SELECT {SESSION_COLUMNS} FROM session WHERE user_id = ? ORDER BY created_at, sid"
            ),
            &[user_id.into()],
        )?
        .iter()
        .map(|row| session_json(now, row))
        .collect::<Result<Vec<_>, _>>()?;
    let tokens = store
        .query(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM refresh_token WHERE user_id = ? ORDER BY created_at, id"
            ),
            &[user_id.into()],
        )?
        .iter()
        .map(|row| token_json(now, row))
        .collect::<Result<Vec<_>, _>>()?;
    if !user_exists && sessions.is_empty() && tokens.is_empty() {
        return Err(ScimError::not_found(format!("User {user_id} not found.")));
    }
    Ok(json!({"sessions": sessions, "refresh_tokens": tokens}))
}

/// What an introspected session or refresh token is, before the user is checked.
struct Found {
    user_id: String,
    client_id: String,
    sid: Option<String>,
    expires_at: Option<String>,
}

/// A session that is not revoked.
fn find_session(store: &dyn Store, sid: &str) -> Result<Option<Found>, ScimError> {
    if sid.is_empty() {
        return Err(ScimError::invalid_value("sid must not be empty."));
    }
    let row = store.query_one(
        "SELECT user_id, client_id, expires_at FROM session WHERE sid = ? AND revoked_at IS NULL",
        &[sid.into()],
    )?;
    row.map(|row| {
        Ok(Found {
            user_id: text(&row, 0)?,
            client_id: text(&row, 1)?,
            sid: Some(sid.to_owned()),
            expires_at: opt_text(&row, 2),
        })
    })
    .transpose()
}

/// A refresh token that is not revoked, by the SHA-256 it is stored under.
fn find_token(store: &dyn Store, hash: Vec<u8>) -> Result<Option<Found>, ScimError> {
    let row = store.query_one(
        "SELECT user_id, client_id, sid, expires_at FROM refresh_token
         WHERE hash = ? AND revoked_at IS NULL",
        &[hash.into()],
    )?;
    row.map(|row| {
        Ok(Found {
            user_id: text(&row, 0)?,
            client_id: text(&row, 1)?,
            sid: opt_text(&row, 2),
            expires_at: opt_text(&row, 3),
        })
    })
    .transpose()
}

fn inactive() -> Value {
    json!({"active": false})
}

/// `POST /introspect` `{"sid"}`, `{"refresh_token"}` or `{"token_hash"}` (exactly one): RFC 7662
/// §2.2 style. Active: `{"active": true, "user_id", "client_id", "sid"?, "exp"?, "sub"}`, where
/// `sub` is the user's identifier in the app (`subject`). Unknown, revoked, expired, or of a user
/// who is deactivated or deleted: exactly `{"active": false}`.
pub fn introspect(
    store: &dyn Store,
    now: Timestamp,
    body: IntrospectRequest,
    subject: &dyn Fn(&user::StoredUser) -> Result<String, ScimError>,
) -> Result<Value, ScimError> {
    let found = match (&body.sid, &body.refresh_token, &body.token_hash) {
        (Some(sid), None, None) => find_session(store, sid)?,
        (None, Some(token), None) => find_token(store, token_hash(Some(token), None)?)?,
        (None, None, Some(hash)) => find_token(store, token_hash(None, Some(hash))?)?,
        _ => {
            return Err(ScimError::invalid_value(
                "Send exactly one of sid, refresh_token or token_hash.",
            ))
        }
    };
    let Some(found) = found else {
        return Ok(inactive());
    };
    if expired(now, found.expires_at.as_deref()) {
        return Ok(inactive());
    }
    let user = match user::get(store, &found.user_id) {
        Ok(u) => u,
        Err(e) if e.status == 404 => return Ok(inactive()),
        Err(e) => return Err(e),
    };
    let active = user
        .resource
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !active {
        return Ok(inactive());
    }
    let mut out = json!({
        "active": true,
        "user_id": found.user_id,
        "client_id": found.client_id,
        "sub": subject(&user)?,
    });
    if let Some(sid) = found.sid {
        out["sid"] = Value::String(sid);
    }
    if let Some(exp) = found.expires_at.as_deref().and_then(parse_time) {
        out["exp"] = json!(exp.0.div_euclid(1000));
    }
    Ok(out)
}

/// What [`revoke_user`] revoked, as the `user.sessions_revoked` event lists it.
pub struct Revoked {
    pub sessions: Vec<Value>,
    pub refresh_tokens: Vec<Value>,
}

/// Revokes every live session and refresh token of a user, in the caller's transaction; `reason`
/// is [`DEACTIVATED`] or [`DELETED`]. Expired and already revoked ones are left as they are.
pub fn revoke_user(
    store: &dyn Store,
    now: Timestamp,
    user_id: &str,
    reason: &str,
) -> Result<Revoked, ScimError> {
    let at = now.to_rfc3339();
    let mut sessions = store.query(
        "UPDATE session SET revoked_at = ?, revoked_reason = ?
         WHERE user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         RETURNING created_at, sid, client_id",
        &[
            at.clone().into(),
            reason.into(),
            user_id.into(),
            at.clone().into(),
        ],
    )?;
    let mut tokens = store.query(
        "UPDATE refresh_token SET revoked_at = ?, revoked_reason = ?
         WHERE user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         RETURNING created_at, id, client_id, sid",
        &[at.clone().into(), reason.into(), user_id.into(), at.into()],
    )?;
    // RETURNING gives no order: oldest first, as the app registered them.
    let key = |row: &Row| (opt_text(row, 0), opt_text(row, 1));
    sessions.sort_by_key(key);
    tokens.sort_by_key(key);
    Ok(Revoked {
        sessions: sessions
            .iter()
            .map(|row| Ok(json!({"sid": text(row, 1)?, "client_id": text(row, 2)?})))
            .collect::<Result<_, ScimError>>()?,
        refresh_tokens: tokens
            .iter()
            .map(|row| {
                Ok(json!({
                    "id": text(row, 1)?,
                    "client_id": text(row, 2)?,
                    "sid": opt_text(row, 3),
                }))
            })
            .collect::<Result<_, ScimError>>()?,
    })
}
