//! A connection's mapping as stored, and how the app sees a user through it.

use serde_json::Value;

use super::rule::{IdpKind, Mapping};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::settings;
use crate::service::event::{self, kind, Event, Origin};
use crate::service::store::{opt_text, Store};

/// The connection's mapping: the one the admin set, else the default for its IdP kind.
pub fn stored(store: &dyn Store) -> Result<(Mapping, bool), ScimError> {
    let row = store.query_one("SELECT value FROM setting WHERE key = 'mapping'", &[])?;
    if let Some(raw) = row.and_then(|r| opt_text(&r, 0)) {
        let value: Value = serde_json::from_str(&raw)
            .map_err(|e| ScimError::internal_because(format!("stored mapping unreadable: {e}")))?;
        return Ok((Mapping::parse(&value)?, false));
    }
    let kind = IdpKind::parse(&settings::load(store)?.idp).unwrap_or(IdpKind::Generic);
    Ok((Mapping::default_for(kind), true))
}

/// A rendered SCIM user as the app sees it through this connection's mapping.
pub fn profile_of(store: &dyn Store, user: &Value) -> Result<Value, ScimError> {
    Ok(ProfileView::load(store)?.profile(user))
}

/// The user's identifier in the app (see [`ProfileView`]), falling back to the SCIM `id` when
/// the user has none: the `sub` of introspection and of `user.sessions_revoked`.
pub fn subject_of(store: &dyn Store, user: &Value) -> Result<String, ScimError> {
    Ok(ProfileView::load(store)?.subject(user))
}

/// How the app sees a user: the mapped profile, plus `identifier`, the value of the attribute
/// the connection's `user_identifier` setting names (`userName` or `externalId`): the key the
/// app matches its own user records on.
pub struct ProfileView {
    pub mapping: Mapping,
    /// `userName` or `externalId`.
    pub identifier: String,
}

impl ProfileView {
    /// The connection's mapping and `user_identifier` setting.
    pub fn load(store: &dyn Store) -> Result<ProfileView, ScimError> {
        Ok(ProfileView {
            mapping: stored(store)?.0,
            identifier: settings::load(store)?.user_identifier,
        })
    }

    /// The user's identifier in the app, else its SCIM `id`.
    pub fn subject(&self, user: &Value) -> String {
        user.get(&self.identifier)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| user.get("id").and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    }

    /// The mapped profile with `identifier`.
    pub fn profile(&self, user: &Value) -> Value {
        let mut profile = self.mapping.to_profile(user);
        if let Value::Object(fields) = &mut profile {
            let identifier = user.get(&self.identifier).cloned().unwrap_or(Value::Null);
            fields.insert("identifier".into(), identifier);
        }
        profile
    }
}

/// `PUT /mapping`: stores a parsed mapping as the connection's and records `mapping.updated`.
pub fn save(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    mapping: Mapping,
) -> Result<(), ScimError> {
    let raw =
        serde_json::to_string(&mapping).map_err(|e| ScimError::internal_because(e.to_string()))?;
    store.execute(
        "INSERT INTO setting (key, value) VALUES ('mapping', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[raw.into()],
    )?;
    let event = Event::MappingUpdated(kind::MappingUpdated { mapping });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// `DELETE /mapping`: back to the default of the IdP kind; records `mapping.reset`.
pub fn reset(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
) -> Result<(), ScimError> {
    store.execute("DELETE FROM setting WHERE key = 'mapping'", &[])?;
    event::record(
        store,
        random,
        now,
        origin,
        &Event::MappingReset(kind::Empty {}),
    )?;
    Ok(())
}
