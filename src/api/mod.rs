//! HTTP: each plane's routes, requests parsed into the service's typed inputs, JSON views and
//! errors. Plain values in and out ([`http::HttpRequest`], [`http::HttpResponse`]); the edge
//! converts them from and to the platform's.
//!
//! - [`scim`]: `/scim/v2/{connection_id}/…` (RFC 7644), inside the connection's object;
//! - [`admin`]: `/admin/v1/…`, split between the registry and the connection objects;
//! - [`app`]: the app's runtime API `/v1/connections/{id}/…`;
//! - [`setup`]: the public page of a one-time setup link.

pub mod admin;
pub mod app;
pub mod http;
pub mod json;
pub mod scim;
pub mod setup;
pub mod setup_page;
