//! The tables of one connection's database, and of the connection registry. Every statement is
//! idempotent, so running the list again on an up-to-date database changes nothing.

use super::store::{Store, StoreError};

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
    // Self-service setup links (service::setup): only the SHA-256 of the secret is kept;
    // `token_id` is the token a used link issued.
    "CREATE TABLE IF NOT EXISTS setup_link (
        hash BLOB PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        token_id TEXT
    )",
];

/// The registry's SQLite (a singleton Durable Object).
const REGISTRY: &[&str] = &["CREATE TABLE IF NOT EXISTS connection (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )"];

fn run(store: &dyn Store, statements: &[&str]) -> Result<(), StoreError> {
    statements
        .iter()
        .try_for_each(|sql| store.execute(sql, &[]))
}

pub fn migrate_connection(store: &dyn Store) -> Result<(), StoreError> {
    run(store, CONNECTION)
}

pub fn migrate_registry(store: &dyn Store) -> Result<(), StoreError> {
    run(store, REGISTRY)
}
