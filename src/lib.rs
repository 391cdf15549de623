//! scim-edge: a multi-tenant inbound SCIM 2.0 service provider for Cloudflare Workers.
//!
//! Three layers (see `../shared/ARCHITECTURE.md`):
//! - [`scim`]: the protocol core — pure, no I/O, no clock.
//! - [`service`]: what one connection does with a request, over a [`service::store::Store`].
//! - `edge` (wasm32 only): the Worker, its Durable Objects and everything platform-bound.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod scim;
pub mod service;

#[cfg(target_arch = "wasm32")]
mod edge;
