//! The SCIM directory of one connection: users, groups and memberships in SQLite, and the list
//! queries over them (filters translated to SQL where they can be, RFC 7644 §3.4.2).

pub mod change;
pub mod filter_sql;
pub mod group;
pub mod listing;
pub mod membership;
pub mod profiles;
pub mod resources;
pub mod user;
