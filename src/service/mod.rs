//! The connection service: what one connection does with a request, over a [`store::Store`].
//! Time and randomness come in as arguments; responses and effects come out.

pub mod app_api;
pub mod bulk;
pub mod clock;
pub mod connection;
pub mod dead_letter;
pub mod delivery;
pub mod endpoint;
pub mod event;
pub mod filter_sql;
pub mod group;
pub mod http;
pub mod list_params;
pub mod listing;
pub mod logout_token;
pub mod mapping;
pub mod membership;
pub mod migration;
pub mod oidc_client;
pub mod outbound_url;
pub mod outbox;
pub mod rate_limit;
pub mod registry;
pub mod retry_policy;
pub mod scim_api;
pub mod session;
pub mod settings;
pub mod setup;
pub mod setup_page;
pub mod store;
pub mod target;
pub mod token;
pub mod user;
pub mod webhook;
pub mod webhook_signature;

#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
