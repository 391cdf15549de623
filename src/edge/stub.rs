//! The Durable Objects' stubs: one `Connection` per connection id, one `Registry`; and the key
//! that says which connection ids this deployment made.

use worker::{Env, Result, Stub};

use crate::service::registry::{ConnectionIdKey, KeyError};

/// The `CONNECTION_ID_KEY` secret as a key ([`ConnectionIdKey::from_secret`]): `Err` when it is
/// unset, empty or shorter than 32 bytes. Read on each request (secrets may change between
/// deployments, never within one).
pub fn connection_id_key(env: &Env) -> std::result::Result<ConnectionIdKey, KeyError> {
    let secret = env.secret("CONNECTION_ID_KEY").ok().map(|s| s.to_string());
    ConnectionIdKey::from_secret(secret.as_deref())
}

/// The object of the connection `connection_id` (by name: the same id always reaches the same
/// object).
pub fn connection_stub(env: &Env, connection_id: &str) -> Result<Stub> {
    env.durable_object("CONNECTION")?
        .id_from_name(connection_id)?
        .get_stub()
}

/// The registry's singleton object.
pub fn registry_stub(env: &Env) -> Result<Stub> {
    env.durable_object("REGISTRY")?
        .id_from_name("registry")?
        .get_stub()
}
