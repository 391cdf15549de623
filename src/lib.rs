//! scim-edge: a multi-tenant inbound SCIM 2.0 service provider for Cloudflare Workers.
//!
//! Four layers, each depending only on those below it (see `docs/architecture.md`):
//! - `edge` (wasm32 only): the Worker, its Durable Objects, the queue consumer; the only code
//!   that touches the Workers platform.
//! - [`api`]: HTTP per plane (SCIM, admin, app, setup page): requests parsed into typed inputs,
//!   JSON views, errors.
//! - [`service`]: the domain by capability, typed in and typed out, over a
//!   [`service::store::Store`]; time and randomness are arguments.
//! - [`scim`]: the protocol core: pure, no I/O, no clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod scim;
pub mod service;

#[cfg(target_arch = "wasm32")]
mod edge;
