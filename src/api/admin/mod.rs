//! The admin API (`/admin/v1`, the `ADMIN_TOKEN` secret, checked by the Worker). Its routes run
//! in two kinds of object: [`registry`] (connections list, webhooks, OIDC clients, dead letters,
//! the registry's event log, the queue consumer's internal calls) and [`connection`] (a
//! connection's own record, tokens, setup links, events, [`mapping`], [`deprovisioning`]
//! receipts). A connection's create, read, update and delete span both: [`lifecycle`] decides
//! those calls, the edge carries them.

pub mod connection;
pub mod deprovisioning;
pub mod lifecycle;
pub mod mapping;
pub mod registry;
