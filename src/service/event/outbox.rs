//! The transactional outbox: every event row written by [`super::log::record`] gets an outbox
//! row in the same transaction. The connection's object (and the registry, for its admin-plane
//! events) sends pending events to the `EVENTS` queue and deletes their outbox rows only once
//! the queue has accepted them; an alarm sends whatever is still pending. Delivery is
//! at-least-once: the event id is the deduplication key.

use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::connection::identity::connection_id;
use crate::service::delivery::message::{Envelope, Lane, QueueMessage, SESSIONS_REVOKED};
use crate::service::store::{text, Row, Store, StoreError};

/// Largest envelope sent as it is. Queues take 128 KB per message; bigger envelopes lose their
/// `data.resource` (the app reads it through its API) and say so with `truncated: true`.
pub const MAX_ENVELOPE_BYTES: usize = 100 * 1024;
/// Most events sent in one queue batch (the platform's limit is 100 messages / 256 KB).
pub const BATCH: i64 = 50;

/// What an outbox row holds: an event (by its sequence number), or, in the registry only, a
/// ready queue message (a dead-lettered delivery being replayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Event(i64),
    Message(i64),
}

/// One queue message ready to send: its outbox key and its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub key: Key,
    pub message: String,
    /// The queue it goes to.
    pub lane: Lane,
}

/// Columns of `event` an envelope is built from, in this order.
pub const EVENT_COLUMNS: &str = "seq, id, type, actor, request_id, occurred_at, data";

/// The public form of an event, as webhooks, the queue and the event log carry it (see
/// [`Envelope`]). The registry's own log has no connection: its envelopes leave `connection_id`
/// out.
pub fn envelope(connection_id: Option<&str>, row: &Row) -> Result<Envelope, ScimError> {
    let data: Value = serde_json::from_str(&text(row, 6)?).unwrap_or(Value::Null);
    Ok(Envelope {
        id: text(row, 1)?,
        event_type: text(row, 2)?,
        connection_id: connection_id.map(str::to_owned),
        occurred_at: text(row, 5)?,
        sequence: row.first().and_then(|v| v.as_i64()),
        actor: text(row, 3)?,
        request_id: row.get(4).and_then(|v| v.as_str()).map(str::to_owned),
        data: Some(data),
    })
}

fn to_value(envelope: Envelope) -> Result<Value, ScimError> {
    serde_json::to_value(envelope).map_err(|e| ScimError::internal_because(e.to_string()))
}

/// Serialises an envelope within [`MAX_ENVELOPE_BYTES`].
fn encode(mut envelope: Value) -> String {
    let full = envelope.to_string();
    if full.len() <= MAX_ENVELOPE_BYTES {
        return full;
    }
    if let Some(data) = envelope.get_mut("data").and_then(Value::as_object_mut) {
        for key in ["resource", "profile", "members"] {
            if data.contains_key(key) {
                data.insert(key.into(), Value::Null);
            }
        }
        data.insert("truncated".into(), Value::Bool(true));
    }
    let smaller = envelope.to_string();
    if smaller.len() <= MAX_ENVELOPE_BYTES {
        return smaller;
    }
    envelope["data"] = json!({"truncated": true});
    envelope.to_string()
}

/// Adds an event to the outbox; called in the transaction that records it.
pub fn enqueue(store: &dyn Store, event_seq: i64) -> Result<(), StoreError> {
    store.execute(
        "INSERT OR IGNORE INTO outbox (event_seq) VALUES (?)",
        &[event_seq.into()],
    )
}

/// Whose outbox this is: a connection's (its envelopes carry the connection's id) or the
/// registry's (admin-plane events, which belong to no connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Connection,
    Registry,
}

/// The pending events, at most `limit`: `user.sessions_revoked` first (revocation never waits
/// behind other events of the same connection), then the oldest; then (in the registry) the
/// oldest pending messages. Outbox rows whose event was pruned by retention are dropped on the way. A
/// connection that was never created (or was deleted) has none.
pub fn pending(store: &dyn Store, scope: Scope, limit: i64) -> Result<Vec<Pending>, ScimError> {
    let connection = match scope {
        Scope::Connection => match connection_id(store) {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        },
        Scope::Registry => None,
    };
    store.execute(
        "DELETE FROM outbox WHERE event_seq NOT IN (SELECT seq FROM event)",
        &[],
    )?;
    let rows = store.query(
        &format!(
            "SELECT {EVENT_COLUMNS} FROM event JOIN outbox ON outbox.event_seq = event.seq
             ORDER BY type = ? DESC, seq LIMIT ?"
        ),
        &[SESSIONS_REVOKED.into(), limit.into()],
    )?;
    let mut out = rows
        .iter()
        .map(|row| {
            let envelope = envelope(connection.as_deref(), row)?;
            Ok(Pending {
                key: Key::Event(row.first().and_then(|v| v.as_i64()).unwrap_or_default()),
                lane: Lane::of_event_type(&envelope.event_type),
                message: encode(to_value(envelope)?),
            })
        })
        .collect::<Result<Vec<_>, ScimError>>()?;
    let room = limit - out.len() as i64;
    if scope == Scope::Registry && room > 0 {
        for row in store.query(
            "SELECT seq, body FROM outbox_message ORDER BY seq LIMIT ?",
            &[room.into()],
        )? {
            let message = text(&row, 1)?;
            out.push(Pending {
                key: Key::Message(row.first().and_then(|v| v.as_i64()).unwrap_or_default()),
                lane: QueueMessage::parse(&message).map_or(Lane::Bulk, |m| m.lane()),
                message,
            });
        }
    }
    Ok(out)
}

/// Adds a ready queue message to the registry's outbox; called in the transaction that decided
/// to send it.
pub fn enqueue_message(store: &dyn Store, message: &str) -> Result<(), StoreError> {
    store.execute(
        "INSERT INTO outbox_message (body) VALUES (?)",
        &[message.into()],
    )
}

/// How many events (and, in the registry, messages) wait to be sent.
pub fn pending_count(store: &dyn Store, scope: Scope) -> Result<i64, StoreError> {
    let sql = match scope {
        Scope::Connection => "SELECT COUNT(*) FROM outbox",
        Scope::Registry => {
            "SELECT (SELECT COUNT(*) FROM outbox) + (SELECT COUNT(*) FROM outbox_message)"
        }
    };
    Ok(store
        .query_one(sql, &[])?
        .and_then(|row| row.first().and_then(|v| v.as_i64()))
        .unwrap_or(0))
}

/// Removes the outbox rows of what the queue accepted.
pub fn mark_sent(store: &dyn Store, keys: &[Key]) -> Result<(), StoreError> {
    let (mut events, mut messages) = (Vec::new(), Vec::new());
    for key in keys {
        match *key {
            Key::Event(seq) => events.push(seq),
            Key::Message(seq) => messages.push(seq),
        }
    }
    for (table, column, seqs) in [
        ("outbox", "event_seq", events),
        ("outbox_message", "seq", messages),
    ] {
        for chunk in seqs.chunks(50) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let params: Vec<_> = chunk.iter().map(|s| (*s).into()).collect();
            store.execute(
                &format!("DELETE FROM {table} WHERE {column} IN ({marks})"),
                &params,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn small_envelopes_are_sent_whole() {
        let e = json!({"id": "evt_1", "data": {"resource": {"a": 1}}});
        assert_eq!(encode(e.clone()), e.to_string());
    }

    #[test]
    fn oversized_envelopes_drop_the_resource_and_say_so() {
        let big = "x".repeat(MAX_ENVELOPE_BYTES);
        let e = json!({"id": "evt_1", "type": "group.updated",
                       "data": {"id": "g1", "resource": {"displayName": big}, "changed": ["members"]}});
        let out: Value = serde_json::from_str(&encode(e)).unwrap();
        assert_eq!(out["id"], "evt_1");
        assert_eq!(out["data"]["id"], "g1");
        assert_eq!(out["data"]["resource"], Value::Null);
        assert_eq!(out["data"]["truncated"], true);
        assert_eq!(out["data"]["changed"], json!(["members"]));
    }

    #[test]
    fn envelopes_too_big_even_without_the_resource_keep_only_the_header() {
        let big = "x".repeat(MAX_ENVELOPE_BYTES);
        let e = json!({"id": "evt_1", "type": "t", "data": {"other": big}});
        let out: Value = serde_json::from_str(&encode(e)).unwrap();
        assert_eq!(out["data"], json!({"truncated": true}));
        assert_eq!(out["type"], "t");
    }
}
