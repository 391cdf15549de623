//! The SCIM 2.0 protocol core (RFC 7643 / RFC 7644): pure Rust, no I/O, no clock.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod patch;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod sort;
pub mod text;

pub use error::{ScimError, ScimType};
