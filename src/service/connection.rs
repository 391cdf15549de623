//! One connection's own records and the admin operations on them that run inside its object:
//! set-up, and its bearer tokens.

use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::{Random, Timestamp};
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
        return super::app_api::handle_mapping_admin(store, request, &segments);
    }
    let result = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["init"]) => parse::<InitRequest>(request)
            .and_then(|r| init(store, &r.id, &r.name, &r.created_at).map(|()| json!({"ok": true})))
            .map(|body| (201, body)),
        ("POST", ["tokens"]) => parse::<IssueTokenRequest>(request)
            .and_then(|r| token::issue(store, random, now, r.scopes, r.expires_in))
            .and_then(|t| to_value(&t))
            .map(|body| (201, body)),
        ("GET", ["tokens"]) => token::list(store)
            .and_then(|tokens| to_value(&tokens))
            .map(|tokens| (200, json!({ "tokens": tokens }))),
        ("DELETE", ["tokens", id]) => token::revoke(store, now, id).map(|()| (204, Value::Null)),
        ("GET", ["connection"]) => describe(store, now).map(|v| (200, v)),
        ("PATCH", ["connection"]) => parse::<UpdateConnection>(request)
            .and_then(|u| transact(store, || update(store, u)))
            .and_then(|()| describe(store, now))
            .map(|v| (200, v)),
        ("POST", ["setup-links"]) => super::setup::create(store, random, now, request)
            .and_then(|link| to_value(&link))
            .map(|body| (201, body)),
        _ => Err(ScimError::not_found(format!(
            "No admin route {}.",
            request.path
        ))),
    };
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
