//! The event log: every change is appended with who made it, in the same transaction as the
//! change, and queued in the outbox ([`super::outbox`]). Read with cursor paging; events older
//! than [`RETENTION_DAYS`] are pruned as new ones are written.

use serde_json::{json, Value};

use super::kind::Event;
use super::origin::Origin;
use super::outbox::{self, envelope, EVENT_COLUMNS};
use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::Store;

/// How long events are kept.
pub const RETENTION_DAYS: i64 = 30;
/// Largest page of the event log.
pub const MAX_PAGE: i64 = 200;

/// Records an event: appended to this database's log (a connection's, or the registry's own
/// admin-plane log) and, in the same transaction, to its outbox (service::outbox), from which
/// the object sends it to the queue. Returns the event id.
pub fn record(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    event: &Event,
) -> Result<String, ScimError> {
    let (id, seq) = append(store, random, now, event.type_name(), origin, event.data()?)?;
    outbox::enqueue(store, seq)?;
    Ok(id)
}

/// Appends an event to this database's log; returns its id (`evt_` + 24 hex digits, stable for
/// deduplication) and its sequence number.
fn append(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    kind: &str,
    origin: Origin,
    data: Value,
) -> Result<(String, i64), ScimError> {
    let id = random_id(random, "evt_", 12)?;
    store.execute(
        "INSERT INTO event (id, type, actor, request_id, occurred_at, data)
         VALUES (?, ?, ?, ?, ?, ?)",
        &[
            id.clone().into(),
            kind.into(),
            origin.actor.into(),
            origin.request_id.into(),
            now.to_rfc3339().into(),
            data.to_string().into(),
        ],
    )?;
    let seq = store
        .query_one("SELECT seq FROM event WHERE id = ?", &[id.clone().into()])?
        .and_then(|row| row.first().and_then(|v| v.as_i64()))
        .ok_or_else(|| ScimError::internal_because("event row vanished"))?;
    let horizon = now.plus_seconds(-RETENTION_DAYS * 24 * 3600).to_rfc3339();
    store.execute("DELETE FROM event WHERE occurred_at < ?", &[horizon.into()])?;
    Ok((id, seq))
}

/// `GET /events?after=<event id>&limit=`: oldest first; `next_after` continues.
/// `connection_id` names the connection whose log this is (`None` for the registry's log).
pub fn list(
    store: &dyn Store,
    connection_id: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
) -> Result<Value, ScimError> {
    // An unknown cursor may be an event past retention: it is a 400, not an empty page.
    let (limit, after_seq) = cursor(
        store,
        "event",
        PageRequest { limit, after },
        (100, MAX_PAGE),
    )?;
    let rows = store.query(
        &format!("SELECT {EVENT_COLUMNS} FROM event WHERE seq > ? ORDER BY seq LIMIT ?"),
        &[after_seq.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let events = rows
        .iter()
        .take(limit as usize)
        .map(|row| envelope(connection_id, row))
        .collect::<Result<Vec<_>, ScimError>>()?;
    let next = if more {
        events.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(json!({"events": events, "next_after": next, "retention_days": RETENTION_DAYS}))
}
