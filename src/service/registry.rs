//! The connection registry: the admin plane's list of connections, and the delivery targets
//! every connection's events go to (webhook endpoints, OIDC clients), with their dead letters
//! and the registry's own event log. SCIM traffic never reads it; a SCIM request routes by the
//! id in its URL straight to that connection's object.

use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::{Random, Timestamp};
use super::connection::{admin_error, parse, record_json};
use super::delivery::{self, TargetKind};
use super::http::{HttpRequest, HttpResponse};
use super::listing::cursor;
use super::migration::migrate_registry;
use super::store::{transact, Store};
use super::{dead_letter, event, oidc_client, webhook};
use crate::scim::ScimError;

/// Longest connection name accepted.
pub const MAX_NAME_LEN: usize = 200;
/// Largest page of `GET /connections`.
pub const MAX_PAGE: i64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateConnection {
    name: String,
}

/// A new connection id: `con_` and 20 hex digits of randomness.
fn new_connection_id(random: &mut dyn Random) -> Result<String, ScimError> {
    let mut bytes = [0u8; 10];
    random.fill(&mut bytes)?;
    Ok(format!(
        "con_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Whether `id` has the shape of a connection id; anything else is never routed to an object.
pub fn is_connection_id(id: &str) -> bool {
    id.len() == 24
        && id.starts_with("con_")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The registry's routes, as the edge forwards them (`/admin/v1/webhooks…` arrives as
/// `/webhooks…`):
///
/// - `POST|GET /connections`, `GET|PATCH|DELETE /connections/{id}`
/// - `POST|GET /webhooks`, `GET|PATCH|DELETE /webhooks/{id}`, `POST /webhooks/{id}/rotate-secret`
/// - `POST|GET /clients`, `GET|PATCH|DELETE /clients/{client_id}`
/// - `GET /webhooks/{id}/dead-letters`, `POST /webhooks/{id}/dead-letters/replay`, and the same
///   under `/clients/{client_id}`
/// - `GET /events`: the registry's log (webhook.*, client.*, connection.deleted), whose events
///   reach the webhook endpoints that take every connection's events
/// - `POST /internal/fanout`, `POST /internal/targets`, `POST /internal/attempts`: for the queue
///   consumer only (see [`delivery`](super::delivery))
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: &str,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let result = transact(store, || {
        migrate_registry(store)?;
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["connections"]) => {
                create(store, random, now, origin, request).map(|v| (201, v))
            }
            ("GET", ["connections"]) => list(store, origin, request).map(|v| (200, v)),
            ("GET", ["connections", id]) => get(store, origin, id).map(|v| (200, v)),
            ("PATCH", ["connections", id]) => rename(store, origin, id, request).map(|v| (200, v)),
            ("DELETE", ["connections", id]) => {
                let deleted = get(store, origin, id)?;
                store.execute("DELETE FROM connection WHERE id = ?", &[(*id).into()])?;
                // The connection's own log went with its data: the deletion is logged here.
                event::record(
                    store,
                    random,
                    now,
                    "connection.deleted",
                    event::Origin::new("admin", request),
                    json!({"connection_id": id, "name": deleted.get("name")}),
                )?;
                Ok((204, Value::Null))
            }
            ("POST", ["webhooks"]) => {
                webhook::create(store, random, now, request).map(|v| (201, v))
            }
            ("GET", ["webhooks"]) => webhook::list(store, now, request).map(|v| (200, v)),
            ("GET", ["webhooks", id]) => webhook::get(store, now, id).map(|v| (200, v)),
            ("PATCH", ["webhooks", id]) => {
                webhook::update(store, random, now, id, request).map(|v| (200, v))
            }
            ("DELETE", ["webhooks", id]) => {
                webhook::delete(store, random, now, id, request).map(|()| (204, Value::Null))
            }
            ("POST", ["webhooks", id, "rotate-secret"]) => {
                webhook::rotate_secret(store, random, now, id, request).map(|v| (200, v))
            }
            ("POST", ["clients"]) => {
                oidc_client::create(store, random, now, request).map(|v| (201, v))
            }
            ("GET", ["clients"]) => oidc_client::list(store, request).map(|v| (200, v)),
            ("GET", ["clients", id]) => oidc_client::get(store, id).map(|v| (200, v)),
            ("PATCH", ["clients", id]) => {
                oidc_client::update(store, random, now, id, request).map(|v| (200, v))
            }
            ("DELETE", ["clients", id]) => {
                oidc_client::delete(store, random, now, id, request).map(|()| (204, Value::Null))
            }
            ("GET", [collection, id, "dead-letters"]) => match target_kind(collection) {
                Some(kind) => dead_letter::list(store, kind, id, request).map(|v| (200, v)),
                None => Err(no_route(request)),
            },
            ("POST", [collection, id, "dead-letters", "replay"]) => match target_kind(collection) {
                Some(kind) => {
                    dead_letter::replay(store, random, now, kind, id, request).map(|v| (202, v))
                }
                None => Err(no_route(request)),
            },
            ("GET", ["events"]) => event::list(
                store,
                None,
                request.query_param("after"),
                request.query_param("limit"),
            )
            .map(|v| (200, v)),
            ("POST", ["internal", "fanout"]) => delivery::fanout(store, request).map(|v| (200, v)),
            ("POST", ["internal", "targets"]) => {
                delivery::targets(store, now, request).map(|v| (200, v))
            }
            ("POST", ["internal", "attempts"]) => {
                delivery::attempts(store, random, now, request).map(|v| (200, v))
            }
            _ => Err(no_route(request)),
        }
    });
    match result {
        Ok((204, _)) => HttpResponse::empty(204),
        Ok((status, body)) => HttpResponse::plain_json(status, &body),
        Err(e) => admin_error(&e),
    }
}

fn no_route(request: &HttpRequest) -> ScimError {
    ScimError::not_found(format!(
        "No admin route {} {}.",
        request.method, request.path
    ))
}

/// The target collection a dead-letter path is under.
fn target_kind(collection: &str) -> Option<TargetKind> {
    match collection {
        "webhooks" => Some(TargetKind::Webhook),
        "clients" => Some(TargetKind::Logout),
        _ => None,
    }
}

fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: &str,
    request: &HttpRequest,
) -> Result<Value, ScimError> {
    let body: CreateConnection = parse(request)?;
    let name = valid_name(&body.name)?;
    let id = new_connection_id(random)?;
    let created_at = now.to_rfc3339();
    store.execute(
        "INSERT INTO connection (id, name, created_at) VALUES (?, ?, ?)",
        &[id.clone().into(), name.into(), created_at.clone().into()],
    )?;
    Ok(json!({
        "id": id,
        "name": name,
        "created_at": created_at,
        "scim_base_url": format!("{origin}/scim/v2/{id}"),
    }))
}

/// A connection name, trimmed: 1 to [`MAX_NAME_LEN`] characters.
pub fn valid_name(name: &str) -> Result<&str, ScimError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(ScimError::invalid_value(format!(
            "name must be 1 to {MAX_NAME_LEN} characters."
        )));
    }
    Ok(name)
}

fn rename(
    store: &dyn Store,
    origin: &str,
    id: &str,
    request: &HttpRequest,
) -> Result<Value, ScimError> {
    let body: CreateConnection = parse(request)?;
    let name = valid_name(&body.name)?;
    get(store, origin, id)?;
    store.execute(
        "UPDATE connection SET name = ? WHERE id = ?",
        &[name.into(), id.into()],
    )?;
    get(store, origin, id)
}

fn get(store: &dyn Store, origin: &str, id: &str) -> Result<Value, ScimError> {
    let row = store.query_one(
        "SELECT id, name, created_at FROM connection WHERE id = ?",
        &[id.into()],
    )?;
    match row {
        Some(row) => record_json(&row, origin),
        None => Err(ScimError::not_found(format!("Connection {id} not found."))),
    }
}

/// Pages in creation order: `?limit=` (at most [`MAX_PAGE`]) and `?after=<id>`, with
/// `next_after` for the next page.
fn list(store: &dyn Store, origin: &str, request: &HttpRequest) -> Result<Value, ScimError> {
    let (limit, after_seq) = cursor(
        store,
        "connection",
        request.query_param("limit"),
        request.query_param("after"),
        (MAX_PAGE, MAX_PAGE),
    )?;
    let rows = store.query(
        "SELECT id, name, created_at FROM connection WHERE seq > ? ORDER BY seq LIMIT ?",
        &[after_seq.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let connections = rows
        .iter()
        .take(limit as usize)
        .map(|r| record_json(r, origin))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        connections.last().and_then(|c| c.get("id")).cloned()
    } else {
        None
    };
    Ok(json!({"connections": connections, "next_after": next}))
}
