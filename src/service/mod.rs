//! The domain: what one connection (and the registry) does, typed in and typed out, over a
//! [`store::Store`]. No HTTP types: the `api` layer parses requests into the inputs here and
//! renders the outcomes. Time and randomness come in as arguments.
//!
//! Grouped by capability: [`directory`] (users, groups, memberships, list queries),
//! [`connection`] (record, settings, tokens, rate limit, setup links), [`mapping`],
//! [`session`] (sessions and refresh tokens), [`event`] (the log and the outbox),
//! [`delivery`] (webhooks, OIDC clients, logout tokens, verdicts, dead letters),
//! [`request_log`] (what each SCIM request did, in words) and [`registry`] (the admin plane's
//! list of connections).

pub mod clock;
pub mod connection;
pub mod delivery;
pub mod directory;
pub mod event;
pub mod mapping;
pub mod migration;
pub mod page;
pub mod registry;
pub mod request_log;
pub mod session;
pub mod store;

#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
