//! One connection's own records, kept in its object: the record (id, name, creation), its
//! [`settings`], bearer [`token`]s, the [`rate_limit`] and one-time [`setup`] links.

pub mod identity;
pub mod rate_limit;
pub mod settings;
pub mod setup;
pub mod token;

pub use identity::{connection_id, init, is_initialized};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::event::{self, kind, Event, Origin};
use crate::service::store::{text, Store};

/// Longest connection name accepted.
pub const MAX_NAME_LEN: usize = 200;

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

/// `POST /init`: creates the connection's tables and record, and records `connection.created`.
pub fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    request: &InitRequest,
) -> Result<(), ScimError> {
    init(store, &request.id, &request.name, &request.created_at)?;
    let name = request.name.clone();
    let event = Event::ConnectionCreated(kind::ConnectionCreated { name });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// Applies a rename and/or new settings ([`update`]) and records `connection.updated` with what
/// the admin sent.
pub fn change(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    request: &UpdateConnection,
) -> Result<(), ScimError> {
    update(store, request)?;
    let event = Event::ConnectionUpdated(kind::ConnectionUpdated {
        name: request.name.clone(),
        settings: request.settings.clone(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// Issues a bearer token ([`token::issue`]) and records `token.created` (by id, never the
/// secret).
pub fn issue_token(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    request: &token::IssueTokenRequest,
) -> Result<token::IssuedToken, ScimError> {
    let scopes = request.scopes.clone();
    let issued = token::issue(store, random, now, scopes, request.expires_in)?;
    token::record_created(store, random, now, origin, &issued)?;
    Ok(issued)
}

/// Revokes a token at once ([`token::revoke`]) and records `token.revoked`.
pub fn revoke_token(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    token_id: &str,
) -> Result<(), ScimError> {
    token::revoke(store, now, token_id)?;
    let event = Event::TokenRevoked(kind::TokenRevoked {
        token_id: token_id.to_owned(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// Creates a setup link ([`setup::create`]) and records `setup_link.created` (its expiry only:
/// the URL carries the secret).
pub fn create_setup_link(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    public_origin: &str,
    request: &setup::CreateLink,
) -> Result<setup::CreatedLink, ScimError> {
    let link = setup::create(store, random, now, public_origin, request)?;
    let event = Event::SetupLinkCreated(kind::SetupLinkCreated {
        expires_at: link.expires_at.clone(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(link)
}

/// Any serialisable value as JSON; a failure is an internal error.
pub fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ScimError> {
    serde_json::to_value(v).map_err(|e| ScimError::internal_because(e.to_string()))
}
