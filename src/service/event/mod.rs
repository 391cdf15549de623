//! Events: every state change of a connection (and of the registry's admin plane) appended to
//! its log with a stable id, in the same transaction as the change ([`log`]), and queued for
//! delivery through the transactional outbox ([`outbox`]).

pub mod kind;
pub mod log;
pub mod origin;
pub mod outbox;

pub use kind::Event;
pub use log::{list, record, MAX_PAGE, RETENTION_DAYS};
pub use origin::Origin;
