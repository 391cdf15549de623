//! The tables of one connection's database, and of the connection registry. Every statement is
//! idempotent, so running the list again on an up-to-date database changes nothing.

use super::store::{Store, StoreError};
use crate::scim::text::uniqueness_key;

/// One connection's SQLite (its Durable Object).
const CONNECTION: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS connection (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS token (
        id TEXT PRIMARY KEY,
        hash BLOB NOT NULL,
        scopes TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
    )",
    // `seq` gives list results a stable order; `user_name_key` is the case-folded userName that
    // makes uniqueness case-insensitive (RFC 7643 §4.1.1: userName caseExact false).
    "CREATE TABLE IF NOT EXISTS user (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        user_name TEXT NOT NULL,
        user_name_key TEXT NOT NULL UNIQUE,
        external_id TEXT UNIQUE,
        active INTEGER NOT NULL,
        resource TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS scim_group (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        display_name_key TEXT NOT NULL UNIQUE,
        external_id TEXT UNIQUE,
        resource TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        version INTEGER NOT NULL
    )",
    // One row per member: a few members added to or removed from a large group touch only
    // their rows. `rowid` keeps the order members were added in.
    "CREATE TABLE IF NOT EXISTS membership (
        group_id TEXT NOT NULL,
        member_id TEXT NOT NULL,
        member_type TEXT NOT NULL,
        display TEXT,
        PRIMARY KEY (group_id, member_id)
    )",
    "CREATE INDEX IF NOT EXISTS membership_by_member ON membership (member_id)",
    // The event log (service::event): `seq` orders it, `id` is the stable public id.
    "CREATE TABLE IF NOT EXISTS event (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        request_id TEXT,
        occurred_at TEXT NOT NULL,
        data TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS event_by_time ON event (occurred_at)",
    // The transactional outbox (service::outbox): events not yet accepted by the queue.
    "CREATE TABLE IF NOT EXISTS outbox (event_seq INTEGER PRIMARY KEY)",
    // Settings and the attribute mapping, as JSON under a key.
    "CREATE TABLE IF NOT EXISTS setting (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    // Sessions and refresh tokens the app registered (service::session): revoked, never
    // deleted, when their user is deactivated or deleted, so the app can see why.
    "CREATE TABLE IF NOT EXISTS session (
        sid TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        revoked_reason TEXT
    )",
    "CREATE INDEX IF NOT EXISTS session_by_user ON session (user_id)",
    // Only the SHA-256 of a refresh token is kept; `id` (`rt_` + 24 hex) is its public name.
    "CREATE TABLE IF NOT EXISTS refresh_token (
        id TEXT PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        sid TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        revoked_reason TEXT
    )",
    "CREATE INDEX IF NOT EXISTS refresh_token_by_user ON refresh_token (user_id)",
    // Deprovisioning receipts (service::session::receipt): one per deactivation or deletion,
    // written in its transaction, completed once every back-channel logout is final. `sessions`,
    // `refresh_tokens` and `logouts` are JSON arrays (ids, never a token or its hash);
    // `logouts_known` is 1 once the fan-out said which logouts go out.
    "CREATE TABLE IF NOT EXISTS deprovisioning (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        event_id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        reason TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        sessions TEXT NOT NULL,
        refresh_tokens TEXT NOT NULL,
        logouts TEXT NOT NULL DEFAULT '[]',
        logouts_known INTEGER NOT NULL DEFAULT 0,
        completed_at TEXT,
        time_to_revoke_ms INTEGER,
        outcome TEXT
    )",
    "CREATE INDEX IF NOT EXISTS deprovisioning_by_completion
        ON deprovisioning (completed_at) WHERE completed_at IS NOT NULL",
    // Self-service setup links (service::setup): only the SHA-256 of the secret is kept;
    // `token_id` is the token a used link issued.
    "CREATE TABLE IF NOT EXISTS setup_link (
        hash BLOB PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        token_id TEXT
    )",
    // The SCIM request log (service::request_log): one row per request that reached the object,
    // newest by `seq`; `id` is the request id (`X-Request-Id`). Kept to a count and an age,
    // pruned by ranges of `seq` (found through `request_log_by_time` for the age).
    "CREATE TABLE IF NOT EXISTS request_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        query TEXT,
        status INTEGER NOT NULL,
        scim_type TEXT,
        detail TEXT,
        duration_ms INTEGER NOT NULL,
        actor TEXT,
        user_agent TEXT,
        resource_type TEXT,
        resource_id TEXT,
        explanation TEXT NOT NULL,
        dialect TEXT NOT NULL,
        request_body TEXT,
        response_body TEXT
    )",
    "CREATE INDEX IF NOT EXISTS request_log_by_id ON request_log (id)",
    "CREATE INDEX IF NOT EXISTS request_log_by_time ON request_log (occurred_at)",
    "CREATE INDEX IF NOT EXISTS request_log_by_status ON request_log (status, seq)",
    "CREATE INDEX IF NOT EXISTS request_log_by_method ON request_log (method, seq)",
    "CREATE INDEX IF NOT EXISTS request_log_by_resource ON request_log (resource_id, seq)",
    // The request log's summary, kept as counters over the retained entries (incremented on
    // every entry, decremented when entries are pruned): `requests`, `errors`, `status:<n>`,
    // `dialect:<code>` (with when it was last seen).
    "CREATE TABLE IF NOT EXISTS request_log_counter (
        key TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        last_seen TEXT NOT NULL
    )",
];

/// The registry's SQLite (a singleton Durable Object).
const REGISTRY: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS connection (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    // The registry's own admin-plane log (webhook.*, client.*, connection.deleted), read and
    // written by service::event like a connection's.
    "CREATE TABLE IF NOT EXISTS event (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        request_id TEXT,
        occurred_at TEXT NOT NULL,
        data TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS event_by_time ON event (occurred_at)",
    // Its outbox (service::outbox): admin-plane events reach webhook endpoints like a
    // connection's do.
    "CREATE TABLE IF NOT EXISTS outbox (event_seq INTEGER PRIMARY KEY)",
    // Ready queue messages (replayed dead letters), sent with the outbox.
    "CREATE TABLE IF NOT EXISTS outbox_message (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL
    )",
    // Webhook endpoints (service::webhook). `event_types` and `connection_ids` are JSON arrays
    // (`connection_ids` NULL: every connection). The secret is kept as issued: signing needs it.
    // `previous_secret` signs too until `previous_secret_expires_at`.
    "CREATE TABLE IF NOT EXISTS webhook (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        url TEXT NOT NULL,
        description TEXT,
        event_types TEXT NOT NULL,
        connection_ids TEXT,
        enabled INTEGER NOT NULL,
        secret TEXT NOT NULL,
        previous_secret TEXT,
        previous_secret_expires_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        disabled_at TEXT,
        disabled_reason TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        consecutive_dead_letters INTEGER NOT NULL DEFAULT 0,
        last_success_at TEXT,
        last_failure_at TEXT,
        last_error TEXT
    )",
    // The app's OIDC clients that receive back-channel logout (service::oidc_client); `id` is
    // the client_id.
    "CREATE TABLE IF NOT EXISTS oidc_client (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        backchannel_logout_uri TEXT NOT NULL,
        session_required INTEGER NOT NULL,
        connection_ids TEXT,
        enabled INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        consecutive_dead_letters INTEGER NOT NULL DEFAULT 0,
        last_success_at TEXT,
        last_failure_at TEXT,
        last_error TEXT
    )",
    // Deliveries that exhausted their retries (service::dead_letter), with the delivery as
    // JSON so a replay enqueues it again. `target_kind` is `webhook` or `logout`.
    "CREATE TABLE IF NOT EXISTS dead_letter (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        target_kind TEXT NOT NULL,
        target TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        failed_at TEXT NOT NULL,
        replayed_at TEXT,
        delivery TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS dead_letter_by_target ON dead_letter (target_kind, target, seq)",
    // The subscription version (service::delivery::subscription): one row, bumped by the
    // triggers below on every change to what fan-out and delivery read of the targets, so the
    // caches of connection objects and queue consumers know when they are stale.
    "CREATE TABLE IF NOT EXISTS subscription_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    )",
    "INSERT OR IGNORE INTO subscription_version (id, version) VALUES (1, 1)",
];

/// The triggers that bump `subscription_version`, added after [`REGISTRY_COLUMNS`] (they name
/// columns added there). Health columns (`consecutive_failures`, `last_error`, …) are not
/// listed: their changes touch no cache.
const REGISTRY_TRIGGERS: &[&str] = &[
    "CREATE TRIGGER IF NOT EXISTS webhook_added AFTER INSERT ON webhook
     BEGIN UPDATE subscription_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS webhook_removed AFTER DELETE ON webhook
     BEGIN UPDATE subscription_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS webhook_changed AFTER UPDATE OF url, event_types,
         connection_ids, enabled, secret, previous_secret, previous_secret_expires_at, format,
         batch_size, credential ON webhook
     BEGIN UPDATE subscription_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS client_added AFTER INSERT ON oidc_client
     BEGIN UPDATE subscription_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS client_removed AFTER DELETE ON oidc_client
     BEGIN UPDATE subscription_version SET version = version + 1; END",
    "CREATE TRIGGER IF NOT EXISTS client_changed AFTER UPDATE OF backchannel_logout_uri,
         session_required, connection_ids, enabled ON oidc_client
     BEGIN UPDATE subscription_version SET version = version + 1; END",
];

/// Columns added to the registry's tables after they were first created: `(table, column,
/// definition)`. SQLite has no `ADD COLUMN IF NOT EXISTS`, so each is added only when selecting
/// it fails.
const REGISTRY_COLUMNS: &[(&str, &str, &str)] = &[
    // The endpoint's delivery format (service::delivery::log_stream): Standard Webhooks or a
    // log stream; how many events one POST may carry; the log system's credential (the Datadog
    // API key, the Splunk HEC token, an Authorization header value), kept as given: sending
    // needs it.
    (
        "webhook",
        "format",
        "TEXT NOT NULL DEFAULT 'standard_webhooks'",
    ),
    ("webhook", "batch_size", "INTEGER NOT NULL DEFAULT 1"),
    ("webhook", "credential", "TEXT"),
];

fn run(store: &dyn Store, statements: &[&str]) -> Result<(), StoreError> {
    statements
        .iter()
        .try_for_each(|sql| store.execute(sql, &[]))
}

fn add_columns(store: &dyn Store, columns: &[(&str, &str, &str)]) -> Result<(), StoreError> {
    for (table, column, definition) in columns {
        if store
            .query(&format!("SELECT {column} FROM {table} LIMIT 0"), &[])
            .is_err()
        {
            store.execute(
                &format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"),
                &[],
            )?;
        }
    }
    Ok(())
}

/// Columns added to a connection's tables after they were first created (see
/// [`REGISTRY_COLUMNS`]).
const CONNECTION_COLUMNS: &[(&str, &str, &str)] = &[
    // The uniqueness keys of names (scim::text::uniqueness_key): NFKC, lower case, NFC. Not
    // UNIQUE in the schema: names that collide under it and were stored before it existed both
    // stay (each keeps its name); new collisions are refused in code (the object is the only
    // writer).
    ("user", "user_name_norm", "TEXT"),
    ("scim_group", "display_name_norm", "TEXT"),
];

const CONNECTION_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS user_by_name_norm ON user (user_name_norm)",
    "CREATE INDEX IF NOT EXISTS group_by_name_norm ON scim_group (display_name_norm)",
];

pub fn migrate_connection(store: &dyn Store) -> Result<(), StoreError> {
    run(store, CONNECTION)?;
    add_columns(store, CONNECTION_COLUMNS)?;
    run(store, CONNECTION_INDEXES)?;
    backfill_name_keys(store)
}

/// Fills the uniqueness keys of rows stored before the columns existed, 500 rows at a time.
fn backfill_name_keys(store: &dyn Store) -> Result<(), StoreError> {
    for (table, name, norm) in [
        ("user", "user_name", "user_name_norm"),
        ("scim_group", "display_name", "display_name_norm"),
    ] {
        loop {
            let rows = store.query(
                &format!("SELECT id, {name} FROM {table} WHERE {norm} IS NULL LIMIT 500"),
                &[],
            )?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let (Some(id), Some(value)) = (
                    row.first().and_then(|v| v.as_str()),
                    row.get(1).and_then(|v| v.as_str()),
                ) else {
                    return Err(StoreError(format!("{table}: a row without id or name")));
                };
                store.execute(
                    &format!("UPDATE {table} SET {norm} = ? WHERE id = ?"),
                    &[uniqueness_key(value).into(), id.into()],
                )?;
            }
        }
    }
    Ok(())
}

pub fn migrate_registry(store: &dyn Store) -> Result<(), StoreError> {
    run(store, REGISTRY)?;
    add_columns(store, REGISTRY_COLUMNS)?;
    run(store, REGISTRY_TRIGGERS)
}
