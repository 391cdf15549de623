//! The Durable Objects' stubs: one `Connection` per connection id, one `Registry`.

use worker::{Env, Result, Stub};

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
