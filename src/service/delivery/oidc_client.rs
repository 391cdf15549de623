//! The app's OpenID Connect clients that take back-channel logout (OpenID Connect Back-Channel
//! Logout 1.0): when a user's sessions are revoked, each client gets a logout token at its
//! `backchannel_logout_uri`. Admin routes `/clients…`; each change is recorded in the registry's
//! event log in the same transaction.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::outbound_url::{self, OutboundPolicy};
use super::target::{self, Body};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::event::{self, kind, Event, Origin};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::{int, opt_text, text, Row, Store};

/// Longest client_id accepted.
pub const MAX_CLIENT_ID_LEN: usize = 255;
/// Largest page of `GET /clients`.
pub const MAX_PAGE: i64 = 100;

const COLUMNS: &str = "id, backchannel_logout_uri, session_required, connection_ids, enabled, \
     created_at, updated_at, consecutive_failures, last_success_at, last_failure_at, last_error";

/// A client_id: 1 to [`MAX_CLIENT_ID_LEN`] characters that need no escaping in a URL path
/// (letters, digits and `-._~:@+=`).
pub fn valid_client_id(id: &str) -> Result<&str, ScimError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CLIENT_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:@+=".contains(&b));
    if ok {
        Ok(id)
    } else {
        Err(ScimError::invalid_value(format!(
            "client_id must be 1 to {MAX_CLIENT_ID_LEN} characters: letters, digits and -._~:@+="
        )))
    }
}

fn view(row: &Row) -> Result<Value, ScimError> {
    Ok(json!({
        "client_id": text(row, 0)?,
        "backchannel_logout_uri": text(row, 1)?,
        "backchannel_logout_session_required": int(row, 2)? != 0,
        "connection_ids": target::connection_ids_json(opt_text(row, 3).as_deref()),
        "enabled": int(row, 4)? != 0,
        "created_at": text(row, 5)?,
        "updated_at": text(row, 6)?,
        "consecutive_failures": int(row, 7)?,
        "last_success_at": opt_text(row, 8),
        "last_failure_at": opt_text(row, 9),
        "last_error": opt_text(row, 10),
    }))
}

fn load(store: &dyn Store, id: &str) -> Result<Row, ScimError> {
    store
        .query_one(
            &format!("SELECT {COLUMNS} FROM oidc_client WHERE id = ?"),
            &[id.into()],
        )?
        .ok_or_else(|| ScimError::not_found(format!("Client {id} not found.")))
}

/// `POST /clients` → 201; a client_id already registered is a 409.
pub fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    body: Map<String, Value>,
    policy: OutboundPolicy,
) -> Result<Value, ScimError> {
    let body = Body::new(
        body,
        &[
            "client_id",
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "connection_ids",
        ],
    )?;
    let id = valid_client_id(body.required_str("client_id")?)?;
    let uri = body.required_str("backchannel_logout_uri")?;
    outbound_url::validate("backchannel_logout_uri", uri, policy)?;
    let session_required = body
        .bool("backchannel_logout_session_required")?
        .unwrap_or(false);
    let connection_ids =
        target::connection_ids(store, body.get("connection_ids").unwrap_or(&Value::Null))?;
    if store
        .query_one("SELECT 1 FROM oidc_client WHERE id = ?", &[id.into()])?
        .is_some()
    {
        return Err(ScimError::new(
            409,
            None,
            format!("Client {id} is already registered; PATCH /clients/{id} to change it."),
        ));
    }
    let at = now.to_rfc3339();
    store.execute(
        "INSERT INTO oidc_client (id, backchannel_logout_uri, session_required, connection_ids,
             enabled, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, ?, ?)",
        &[
            id.into(),
            uri.into(),
            session_required.into(),
            target::store_connection_ids(&connection_ids).into(),
            at.clone().into(),
            at.into(),
        ],
    )?;
    let event = Event::ClientCreated(kind::ClientCreated {
        client_id: id.to_owned(),
        uri_origin: super::webhook::url_origin(uri),
        backchannel_logout_session_required: session_required,
        connection_ids: connection_ids.clone(),
    });
    event::record(store, random, now, origin, &event)?;
    view(&load(store, id)?)
}

/// `GET /clients?after=&limit=`: registration order; `next_after` continues.
pub fn list(store: &dyn Store, page: PageRequest) -> Result<Value, ScimError> {
    let (limit, after_seq) = cursor(store, "oidc_client", page, (MAX_PAGE, MAX_PAGE))?;
    let rows = store.query(
        &format!("SELECT {COLUMNS} FROM oidc_client WHERE seq > ? ORDER BY seq LIMIT ?"),
        &[after_seq.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let clients = rows
        .iter()
        .take(limit as usize)
        .map(view)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        clients.last().and_then(|c| c.get("client_id")).cloned()
    } else {
        None
    };
    Ok(json!({"clients": clients, "next_after": next}))
}

/// `GET /clients/{client_id}`.
pub fn get(store: &dyn Store, id: &str) -> Result<Value, ScimError> {
    view(&load(store, id)?)
}

/// `PATCH /clients/{client_id}`: any of backchannel_logout_uri,
/// backchannel_logout_session_required, connection_ids, enabled. Re-enabling clears the
/// failure record.
pub fn update(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    id: &str,
    origin: Origin,
    body: Map<String, Value>,
    policy: OutboundPolicy,
) -> Result<Value, ScimError> {
    let row = load(store, id)?;
    let was_enabled = int(&row, 4)? != 0;
    let body = Body::new(
        body,
        &[
            "backchannel_logout_uri",
            "backchannel_logout_session_required",
            "connection_ids",
            "enabled",
        ],
    )?;
    let mut changed: Vec<&str> = Vec::new();
    let mut data = serde_json::Map::new();
    if body.has("backchannel_logout_uri") {
        let uri = body.required_str("backchannel_logout_uri")?;
        outbound_url::validate("backchannel_logout_uri", uri, policy)?;
        store.execute(
            "UPDATE oidc_client SET backchannel_logout_uri = ? WHERE id = ?",
            &[uri.into(), id.into()],
        )?;
        changed.push("backchannel_logout_uri");
        data.insert("uri_origin".into(), super::webhook::url_origin(uri).into());
    }
    if let Some(required) = body.bool("backchannel_logout_session_required")? {
        store.execute(
            "UPDATE oidc_client SET session_required = ? WHERE id = ?",
            &[required.into(), id.into()],
        )?;
        changed.push("backchannel_logout_session_required");
        data.insert(
            "backchannel_logout_session_required".into(),
            required.into(),
        );
    }
    if let Some(v) = body.get("connection_ids") {
        let ids = target::connection_ids(store, v)?;
        store.execute(
            "UPDATE oidc_client SET connection_ids = ? WHERE id = ?",
            &[target::store_connection_ids(&ids).into(), id.into()],
        )?;
        changed.push("connection_ids");
        data.insert("connection_ids".into(), json!(ids));
    }
    if let Some(enabled) = body.bool("enabled")? {
        if enabled != was_enabled {
            store.execute(
                "UPDATE oidc_client SET enabled = ?, consecutive_failures = 0,
                     consecutive_dead_letters = 0, last_error = NULL
                 WHERE id = ?",
                &[enabled.into(), id.into()],
            )?;
            changed.push("enabled");
            data.insert("enabled".into(), enabled.into());
        }
    }
    if !changed.is_empty() {
        store.execute(
            "UPDATE oidc_client SET updated_at = ? WHERE id = ?",
            &[now.to_rfc3339().into(), id.into()],
        )?;
        data.insert("client_id".into(), id.into());
        data.insert("changed".into(), json!(changed));
        let event = Event::ClientUpdated(kind::Changes(data));
        event::record(store, random, now, origin, &event)?;
    }
    get(store, id)
}

/// `DELETE /clients/{client_id}`: the client and its dead letters.
pub fn delete(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    id: &str,
    origin: Origin,
) -> Result<(), ScimError> {
    load(store, id)?;
    let event = Event::ClientDeleted(kind::ClientId {
        client_id: id.to_owned(),
    });
    super::dead_letter::delete_target(
        store,
        random,
        now,
        super::message::TargetKind::Logout,
        id,
        origin,
        &event,
    )
}

/// What the delivery worker needs to send a logout token: `{uri, session_required, enabled}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTarget {
    pub uri: String,
    pub session_required: bool,
    pub enabled: bool,
}

/// The [`ClientTarget`] of client `id`; `None`: no such client.
pub fn target(store: &dyn Store, id: &str) -> Result<Option<ClientTarget>, ScimError> {
    let row = store.query_one(
        "SELECT backchannel_logout_uri, session_required, enabled FROM oidc_client WHERE id = ?",
        &[id.into()],
    )?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(ClientTarget {
        uri: text(&row, 0)?,
        session_required: int(&row, 1)? != 0,
        enabled: int(&row, 2)? != 0,
    }))
}

/// An enabled client that takes logouts for a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub client_id: String,
    pub session_required: bool,
}

/// The enabled clients that take logouts for `connection_id`, in registration order.
pub fn subscribers(store: &dyn Store, connection_id: &str) -> Result<Vec<Subscriber>, ScimError> {
    let rows = store.query(
        "SELECT id, session_required, connection_ids FROM oidc_client WHERE enabled = 1
         ORDER BY seq",
        &[],
    )?;
    let mut clients = Vec::new();
    for row in &rows {
        if target::covers(opt_text(row, 2).as_deref(), connection_id) {
            clients.push(Subscriber {
                client_id: text(row, 0)?,
                session_required: int(row, 1)? != 0,
            });
        }
    }
    Ok(clients)
}

#[cfg(test)]
mod tests {
    use super::valid_client_id;

    #[test]
    fn client_ids_are_path_safe() {
        assert!(valid_client_id("app-web_1.example:prod@x+y=z~").is_ok());
        for bad in ["", "a/b", "a b", "a?b", "a%2Fb", "é", &"a".repeat(256)] {
            assert!(valid_client_id(bad).is_err(), "{bad}");
        }
    }
}
