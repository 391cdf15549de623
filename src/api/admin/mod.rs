//! The admin API (`/admin/v1`, the `ADMIN_TOKEN` secret, checked by the Worker). Its routes run
//! in two kinds of object: [`registry`] (connections list, webhooks, OIDC clients, dead letters,
//! the registry's event log, the queue consumer's internal calls) and [`connection`] (a
//! connection's own record, tokens, setup links, events, [`mapping`]).

pub mod connection;
pub mod mapping;
pub mod registry;
