//! Whether this object holds a connection, and which; creating its tables and record. A leaf:
//! the outbox (service::event::outbox) reads the id from here.

use crate::scim::ScimError;
use crate::service::migration::migrate_connection;
use crate::service::store::{opt_text, transact, Store};

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
