//! What webhook endpoints and OIDC clients (the two kinds of delivery target) share: admin body
//! parsing, ids, connection filters.

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::service::registry::is_connection_id;
use crate::service::store::Store;

/// The registry's subscription version (see service::delivery::subscription): bumped by
/// triggers on every change to a target; 0 before the table exists.
pub fn subscription_version(store: &dyn Store) -> Result<i64, ScimError> {
    Ok(store
        .query_one("SELECT version FROM subscription_version WHERE id = 1", &[])?
        .and_then(|row| row.first().and_then(|v| v.as_i64()))
        .unwrap_or(0))
}

/// Most connection ids one target may list.
pub const MAX_CONNECTION_IDS: usize = 1000;

/// An admin JSON object body whose members are checked one by one, so `PATCH` can tell an
/// absent member (unchanged) from `null` (cleared).
pub struct Body(Map<String, Value>);

impl Body {
    /// Checks a JSON object body; a member not in `allowed` is a 400 naming it and the allowed
    /// ones.
    pub fn new(map: Map<String, Value>, allowed: &[&str]) -> Result<Body, ScimError> {
        let unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(ScimError::invalid_value(format!(
                "Unknown field(s): {}; allowed: {}.",
                unknown.join(", "),
                allowed.join(", ")
            )));
        }
        Ok(Body(map))
    }

    /// The member as sent: `None` when absent, `Some(Value::Null)` when `null`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A required string member.
    pub fn required_str(&self, name: &str) -> Result<&str, ScimError> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s),
            None | Some(Value::Null) => {
                Err(ScimError::invalid_value(format!("{name} is required.")))
            }
            Some(_) => Err(ScimError::invalid_value(format!(
                "{name} must be a string."
            ))),
        }
    }

    /// An optional string member: `Ok(None)` when absent; `Ok(Some(None))` when `null`.
    pub fn nullable_str(&self, name: &str) -> Result<Option<Option<&str>>, ScimError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(_) => Err(ScimError::invalid_value(format!(
                "{name} must be a string or null."
            ))),
        }
    }

    /// An optional boolean member (`null` is refused: it has no meaning here).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ScimError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ScimError::invalid_value(format!(
                "{name} must be true or false."
            ))),
        }
    }
}

/// `connection_ids` as sent: `null` for every connection, or a non-empty list of ids of
/// connections the registry knows (duplicates dropped, order kept).
pub fn connection_ids(store: &dyn Store, value: &Value) -> Result<Option<Vec<String>>, ScimError> {
    let items =
        match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            _ => return Err(ScimError::invalid_value(
                "connection_ids must be a list of connection ids, or null for every connection.",
            )),
        };
    if items.is_empty() {
        return Err(ScimError::invalid_value(
            "connection_ids must list at least one connection id; use null for every connection.",
        ));
    }
    if items.len() > MAX_CONNECTION_IDS {
        return Err(ScimError::invalid_value(format!(
            "connection_ids may list at most {MAX_CONNECTION_IDS} connections."
        )));
    }
    let mut ids: Vec<String> = Vec::new();
    let (mut malformed, mut unknown) = (Vec::new(), Vec::new());
    for item in items {
        let Some(id) = item.as_str() else {
            malformed.push(item.to_string());
            continue;
        };
        if !is_connection_id(id) {
            malformed.push(format!("'{id}'"));
        } else if store
            .query_one("SELECT 1 FROM connection WHERE id = ?", &[id.into()])?
            .is_none()
        {
            unknown.push(id.to_owned());
        } else if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    if !malformed.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "connection_ids: not connection ids (con_ and 20 hex digits): {}.",
            malformed.join(", ")
        )));
    }
    if !unknown.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "connection_ids: no such connection: {}.",
            unknown.join(", ")
        )));
    }
    Ok(Some(ids))
}

/// The stored form of a connection filter: JSON text, or NULL for every connection.
pub fn store_connection_ids(ids: &Option<Vec<String>>) -> Option<String> {
    ids.as_ref().map(|ids| Value::from(ids.clone()).to_string())
}

/// The stored connection filter as JSON (`null`: every connection).
pub fn connection_ids_json(stored: Option<&str>) -> Value {
    stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// Whether a stored connection filter lets events of `connection_id` through.
pub fn covers(stored: Option<&str>, connection_id: &str) -> bool {
    match connection_ids_json(stored) {
        Value::Array(ids) => ids.iter().any(|id| id.as_str() == Some(connection_id)),
        _ => true,
    }
}
