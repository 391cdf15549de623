//! One connection's own records and the admin operations on them that run inside its object:
//! set-up, and its bearer tokens.

use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::{Random, Timestamp};
use super::event::{self, Origin};
use super::http::{HttpRequest, HttpResponse};
use super::migration::migrate_connection;
use super::settings;
use super::store::{opt_text, text, transact, Store};
use super::token;
use crate::scim::ScimError;

/// Whether this database belongs to a connection that was created through the admin API.
/// SCIM requests to any other id fail authentication without writing anything.
pub fn is_initialized(store: &dyn Store) -> bool {
    store
        .query_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'connection'",
            &[],
        )
        .ok()
        .flatten()
        .is_some()
}

/// Creates the connection's tables and its own record. Idempotent.
pub fn init(store: &dyn Store, id: &str, name: &str, created_at: &str) -> Result<(), ScimError> {
    transact(store, || {
        migrate_connection(store)?;
        store.execute(
            "INSERT OR IGNORE INTO connection (id, name, created_at) VALUES (?, ?, ?)",
            &[id.into(), name.into(), created_at.into()],
        )?;
        Ok(())
    })
}

/// The connection's id, when initialised.
pub fn connection_id(store: &dyn Store) -> Option<String> {
    if !is_initialized(store) {
        return None;
    }
    let row = store.query_one("SELECT id FROM connection", &[]).ok()??;
    opt_text(&row, 0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueTokenRequest {
    scopes: Option<Vec<String>>,
    expires_in: Option<i64>,
}

/// `PATCH /admin/v1/connections/{id}`: a new name and/or settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateConnection {
    name: Option<String>,
    settings: Option<Value>,
}

fn update(store: &dyn Store, update: UpdateConnection) -> Result<(), ScimError> {
    if let Some(name) = &update.name {
        let name = super::registry::valid_name(name)?;
        store.execute("UPDATE connection SET name = ?", &[name.into()])?;
    }
    if let Some(settings) = &update.settings {
        settings::update(store, settings)?;
    }
    Ok(())
}

/// The connection as its object knows it: record, settings, live token count.
fn describe(store: &dyn Store, now: Timestamp) -> Result<Value, ScimError> {
    let row = store
        .query_one("SELECT id, name, created_at FROM connection", &[])?
        .ok_or_else(|| ScimError::not_found("Connection not found."))?;
    Ok(json!({
        "id": text(&row, 0)?,
        "name": text(&row, 1)?,
        "created_at": text(&row, 2)?,
        "settings": to_value(&settings::load(store)?)?,
        "active_tokens": token::live_count(store, now)?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// Admin operations routed into the connection's object: `POST /init`, `GET`/`PATCH /connection`,
/// `POST /tokens`, `GET /tokens`, `DELETE /tokens/{id}`, `POST /setup-links`. The admin token was
/// checked by the caller.
pub fn handle_admin(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first() == Some(&"mapping") {
        return super::app_api::handle_mapping_admin(store, random, now, request, &segments);
    }
    let result = transact(store, || {
        let (status, body, event) = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["init"]) => {
                let r = parse::<InitRequest>(request)?;
                init(store, &r.id, &r.name, &r.created_at)?;
                let event = ("connection.created", json!({"name": r.name}));
                (201, json!({"ok": true}), Some(event))
            }
            ("POST", ["tokens"]) => {
                let r = parse::<IssueTokenRequest>(request)?;
                let t = token::issue(store, random, now, r.scopes, r.expires_in)?;
                // The event names the token, never its secret.
                let data =
                    json!({"token_id": t.id, "scopes": t.scopes, "expires_at": t.expires_at});
                (201, to_value(&t)?, Some(("token.created", data)))
            }
            ("GET", ["tokens"]) => (
                200,
                json!({"tokens": to_value(&token::list(store)?)?}),
                None,
            ),
            ("DELETE", ["tokens", id]) => {
                token::revoke(store, now, id)?;
                (
                    204,
                    Value::Null,
                    Some(("token.revoked", json!({"token_id": id}))),
                )
            }
            ("GET", ["connection"]) => (200, describe(store, now)?, None),
            ("PATCH", ["connection"]) => {
                let u = parse::<UpdateConnection>(request)?;
                let changes = json!({"name": u.name, "settings": u.settings});
                update(store, u)?;
                (
                    200,
                    describe(store, now)?,
                    Some(("connection.updated", changes)),
                )
            }
            ("POST", ["setup-links"]) => {
                let link = super::setup::create(store, random, now, request)?;
                // The URL carries the link's secret: only its expiry goes in the log.
                let data = json!({"expires_at": to_value(&link)?.get("expires_at")});
                (201, to_value(&link)?, Some(("setup_link.created", data)))
            }
            ("GET", ["events"]) => (
                200,
                event::list(
                    store,
                    connection_id(store).as_deref(),
                    request.query_param("after"),
                    request.query_param("limit"),
                )?,
                None,
            ),
            _ => {
                return Err(ScimError::not_found(format!(
                    "No admin route {}.",
                    request.path
                )))
            }
        };
        if let Some((kind, data)) = event {
            event::record(
                store,
                random,
                now,
                kind,
                Origin::new("admin", request),
                data,
            )?;
        }
        Ok((status, body))
    });
    match result {
        Ok((204, _)) => HttpResponse::empty(204),
        Ok((status, body)) => HttpResponse::plain_json(status, &body),
        Err(e) => admin_error(&e),
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ScimError> {
    serde_json::to_value(v).map_err(|e| ScimError::internal_because(e.to_string()))
}

/// Parses an admin JSON body; unknown fields and wrong types are a 400 naming the problem.
pub fn parse<T: serde::de::DeserializeOwned>(request: &HttpRequest) -> Result<T, ScimError> {
    let body: &[u8] = if request.body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &request.body
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_value(format!("Invalid JSON body: {e}.")))?;
    if !value.is_object() {
        return Err(ScimError::invalid_value(
            "The request body must be a JSON object.",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ScimError::invalid_value(format!("Invalid request body: {e}.")))
}

/// The admin plane's error body: a stable `error` code and a human `message`.
pub fn admin_error(e: &ScimError) -> HttpResponse {
    let code = match e.status {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        429 => "rate_limited",
        413 => "payload_too_large",
        _ => "internal_error",
    };
    let mut response =
        HttpResponse::plain_json(e.status, &json!({"error": code, "message": e.detail}));
    response.log = e.cause.clone();
    for (name, value) in &e.headers {
        response = response.with_header(name, value.clone());
    }
    response
}

/// A connection as the registry lists it.
pub fn record_json(row: &[super::store::SqlValue], origin: &str) -> Result<Value, ScimError> {
    let row = row.to_vec();
    let id = text(&row, 0)?;
    Ok(json!({
        "id": id,
        "name": text(&row, 1)?,
        "created_at": text(&row, 2)?,
        "scim_base_url": format!("{origin}/scim/v2/{id}"),
    }))
}
