//! Deliveries: what the queue consumer sends for each event, and its verdict on each attempt.
//!
//! - [`message`]: the queue's message types, shared by producer and consumer;
//! - [`subscription`]: which deliveries an event makes, as a value connection objects keep;
//! - [`fanout`]: events into deliveries, and the targets to send them to; [`fairness`]: which
//!   bulk queue a connection's deliveries take;
//! - [`request`]: one attempt as the HTTP request to send, and its response as an outcome;
//! - [`verdict`]: attempts judged (ack, retry, dead letter) with each target's health;
//! - [`target_cache`]: what a consumer keeps between batches, so the registry is off the path;
//! - [`webhook`] endpoints (Standard Webhooks, [`signature`], or log streams in the formats of
//!   [`log_stream`]) and [`oidc_client`]s (OIDC
//!   back-channel logout, [`logout_token`]), which share [`target`]; [`dead_letter`]s and their
//!   replay; [`retry_policy`]; [`outbound_url`], the check every outbound URL passes.

pub mod dead_letter;
pub mod fairness;
pub mod fanout;
pub mod log_stream;
pub mod logout_token;
pub mod message;
pub mod oidc_client;
pub mod outbound_url;
pub mod request;
pub mod retry_policy;
pub mod signature;
pub mod subscription;
pub mod target;
pub mod target_cache;
pub mod verdict;
pub mod webhook;

/// Longest `last_error` kept.
pub const MAX_ERROR_LEN: usize = 500;
/// Most events, target ids or attempts in one internal request.
pub const MAX_BATCH: usize = 1000;
