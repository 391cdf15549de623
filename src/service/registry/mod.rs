//! The connection registry: the admin plane's list of connections. SCIM traffic never reads
//! it; a SCIM request routes by the id in its URL straight to that connection's object. The
//! registry's object also keeps the delivery targets (service::delivery) and its own event log.
//! Connection ids carry a MAC under the deployment's key ([`connection_id`]).

pub mod connection_id;

pub use connection_id::{is_connection_id, verify, ConnectionIdKey, KeyError};

use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::valid_name;
use crate::service::event::{self, kind, Event, Origin};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::{text, Row, Store};

/// Largest page of `GET /connections`.
pub const MAX_PAGE: i64 = 100;

/// How many ids [`create`] draws before it gives up on finding one not yet listed (with 40
/// random bits, a second draw is already rare).
const ID_ATTEMPTS: usize = 8;

/// A connection as the registry lists it: `{id, name, created_at, scim_base_url}`, where the
/// base URL is `{public_origin}/scim/v2/{id}`.
fn record_json(row: &Row, public_origin: &str) -> Result<Value, ScimError> {
    let id = text(row, 0)?;
    Ok(json!({
        "id": id,
        "name": text(row, 1)?,
        "created_at": text(row, 2)?,
        "scim_base_url": format!("{public_origin}/scim/v2/{id}"),
    }))
}

/// Lists a new connection named `name` (checked by [`valid_name`]) under a new id made with
/// `key` ([`connection_id::new_connection_id`], drawn again while it is already listed); returns
/// its record.
pub fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    key: &ConnectionIdKey,
    now: Timestamp,
    public_origin: &str,
    name: &str,
) -> Result<Value, ScimError> {
    let name = valid_name(name)?;
    let id = unlisted_id(store, random, key)?;
    let created_at = now.to_rfc3339();
    store.execute(
        "INSERT INTO connection (id, name, created_at) VALUES (?, ?, ?)",
        &[id.clone().into(), name.into(), created_at.clone().into()],
    )?;
    Ok(json!({
        "id": id,
        "name": name,
        "created_at": created_at,
        "scim_base_url": format!("{public_origin}/scim/v2/{id}"),
    }))
}

/// A new connection id that no listed connection has.
fn unlisted_id(
    store: &dyn Store,
    random: &mut dyn Random,
    key: &ConnectionIdKey,
) -> Result<String, ScimError> {
    for _ in 0..ID_ATTEMPTS {
        let id = connection_id::new_connection_id(key, random)?;
        let listed = store.query_one(
            "SELECT 1 FROM connection WHERE id = ?",
            &[id.clone().into()],
        )?;
        if listed.is_none() {
            return Ok(id);
        }
    }
    Err(ScimError::internal_because(format!(
        "no unlisted connection id in {ID_ATTEMPTS} draws"
    )))
}

/// Renames a listed connection; 404 when it is not listed.
pub fn rename(
    store: &dyn Store,
    public_origin: &str,
    id: &str,
    name: &str,
) -> Result<Value, ScimError> {
    let name = valid_name(name)?;
    get(store, public_origin, id)?;
    store.execute(
        "UPDATE connection SET name = ? WHERE id = ?",
        &[name.into(), id.into()],
    )?;
    get(store, public_origin, id)
}

/// The registry's answer for a connection it does not list: 404 "Connection {id} not found.".
pub fn unlisted(id: &str) -> ScimError {
    ScimError::not_found(format!("Connection {id} not found."))
}

/// One listed connection; 404 when it is not listed.
pub fn get(store: &dyn Store, public_origin: &str, id: &str) -> Result<Value, ScimError> {
    let row = store.query_one(
        "SELECT id, name, created_at FROM connection WHERE id = ?",
        &[id.into()],
    )?;
    match row {
        Some(row) => record_json(&row, public_origin),
        None => Err(unlisted(id)),
    }
}

/// Unlists a connection and records `connection.deleted` in the registry's own log (the
/// connection's log goes with its data).
pub fn delete(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    id: &str,
) -> Result<(), ScimError> {
    let deleted = get(store, "", id)?;
    store.execute("DELETE FROM connection WHERE id = ?", &[id.into()])?;
    let event = Event::ConnectionDeleted(kind::ConnectionDeleted {
        connection_id: id.to_owned(),
        name: deleted.get("name").cloned().unwrap_or(Value::Null),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// Pages in creation order: `limit` (at most [`MAX_PAGE`]) and `after=<id>`, with
/// `next_after` for the next page.
pub fn list(store: &dyn Store, public_origin: &str, page: PageRequest) -> Result<Value, ScimError> {
    let (limit, after_seq) = cursor(store, "connection", page, (MAX_PAGE, MAX_PAGE))?;
    let rows = store.query(
        "SELECT id, name, created_at FROM connection WHERE seq > ? ORDER BY seq LIMIT ?",
        &[after_seq.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let connections = rows
        .iter()
        .take(limit as usize)
        .map(|r| record_json(r, public_origin))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        connections.last().and_then(|c| c.get("id")).cloned()
    } else {
        None
    };
    Ok(json!({"connections": connections, "next_after": next}))
}

/// Every connection's id, in creation order (for telling each object that its subscriptions
/// changed).
pub fn ids(store: &dyn Store) -> Result<Vec<String>, ScimError> {
    store
        .query("SELECT id FROM connection ORDER BY seq", &[])?
        .iter()
        .map(|row| text(row, 0).map_err(ScimError::from))
        .collect()
}
