//! One connection's own records, kept in its object: the record (id, name, creation), its
//! [`settings`], bearer [`token`]s, the [`rate_limit`] and one-time [`setup`] links.

pub mod rate_limit;
pub mod settings;
pub mod setup;
pub mod token;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::clock::Timestamp;
use crate::service::migration::migrate_connection;
use crate::service::store::{opt_text, text, transact, Store};

/// Longest connection name accepted.
pub const MAX_NAME_LEN: usize = 200;

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

/// `POST /init` (from the Worker, once the registry listed the connection).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// `PATCH /admin/v1/connections/{id}`: a new name and/or settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    pub name: Option<String>,
    pub settings: Option<Value>,
}

/// Applies a rename and/or new settings (validated as a whole by [`settings::update`]).
pub fn update(store: &dyn Store, update: &UpdateConnection) -> Result<(), ScimError> {
    if let Some(name) = &update.name {
        let name = valid_name(name)?;
        store.execute("UPDATE connection SET name = ?", &[name.into()])?;
    }
    if let Some(settings) = &update.settings {
        settings::update(store, settings)?;
    }
    Ok(())
}

/// The connection as its object knows it: `{id, name, created_at, settings, active_tokens}`.
pub fn describe(store: &dyn Store, now: Timestamp) -> Result<Value, ScimError> {
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

/// Any serialisable value as JSON; a failure is an internal error.
pub fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ScimError> {
    serde_json::to_value(v).map_err(|e| ScimError::internal_because(e.to_string()))
}
