//! Dead letters: deliveries that exhausted their retries (or whose target was disabled), kept
//! whole so the admin can replay them once the target is fixed.
//!
//! A replay marks the dead letters replayed and puts their deliveries (attempt 1 again) in the
//! registry's outbox in the same transaction; the registry's object sends them to the queue
//! like its events, so a queue outage delays a replay but never loses one.

use serde_json::{json, Map, Value};

use super::message::{Attempt, Delivery, DeliveryMessage, QueueMessage, TargetKind};
use super::target::Body;
use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::event::outbox;
use crate::service::event::{self, kind, Event, Origin};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::{int, opt_text, text, Row, SqlValue, Store};

/// Largest page of a dead-letter list.
pub const MAX_PAGE: i64 = 100;
/// Most dead letters one replay request re-enqueues; `remaining` says how many are left.
pub const MAX_REPLAY: usize = 500;

const COLUMNS: &str =
    "id, event_id, event_type, connection_id, attempts, last_status, last_error, \
     failed_at, replayed_at";

/// Keeps a delivery that failed for good.
pub fn record(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    attempt: &Attempt,
    error: &str,
) -> Result<String, ScimError> {
    let id = random_id(random, "dl_", 12)?;
    let event = attempt.delivery.event();
    let member = |name: &str| {
        event
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let delivery = serde_json::to_string(&attempt.delivery)
        .map_err(|e| ScimError::internal_because(e.to_string()))?;
    store.execute(
        "INSERT INTO dead_letter (id, target_kind, target, event_id, event_type, connection_id,
             attempts, last_status, last_error, failed_at, delivery)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            id.clone().into(),
            attempt.delivery.kind().as_str().into(),
            attempt.delivery.target().into(),
            member("id").into(),
            member("type").into(),
            member("connection_id").into(),
            i64::from(attempt.attempt).into(),
            attempt.status.into(),
            error.into(),
            now.to_rfc3339().into(),
            delivery.into(),
        ],
    )?;
    Ok(id)
}

fn view(row: &Row) -> Result<Value, ScimError> {
    Ok(json!({
        "id": text(row, 0)?,
        "event_id": text(row, 1)?,
        "event_type": text(row, 2)?,
        "connection_id": opt_text(row, 3).filter(|id| !id.is_empty()),
        "attempts": int(row, 4)?,
        "last_status": row.get(5).and_then(SqlValue::as_i64),
        "last_error": opt_text(row, 6),
        "failed_at": text(row, 7)?,
        "replayed_at": opt_text(row, 8),
    }))
}

/// The target must exist; `Ok(enabled)`.
fn target_enabled(store: &dyn Store, kind: TargetKind, id: &str) -> Result<bool, ScimError> {
    let row = store.query_one(
        &format!("SELECT enabled FROM {} WHERE id = ?", kind.table()),
        &[id.into()],
    )?;
    match row {
        Some(row) => Ok(int(&row, 0)? != 0),
        None => Err(ScimError::not_found(match kind {
            TargetKind::Webhook => format!("Webhook {id} not found."),
            TargetKind::Logout => format!("Client {id} not found."),
        })),
    }
}

/// `GET /webhooks/{id}/dead-letters`, `GET /clients/{client_id}/dead-letters`: oldest first,
/// `?after=&limit=`, `next_after` continues.
pub fn list(
    store: &dyn Store,
    kind: TargetKind,
    target: &str,
    page: PageRequest,
) -> Result<Value, ScimError> {
    target_enabled(store, kind, target)?;
    let (limit, after_seq) = cursor(store, "dead_letter", page, (MAX_PAGE, MAX_PAGE))?;
    let rows = store.query(
        &format!(
            "SELECT {COLUMNS} FROM dead_letter
             WHERE target_kind = ? AND target = ? AND seq > ? ORDER BY seq LIMIT ?"
        ),
        &[
            kind.as_str().into(),
            target.into(),
            after_seq.into(),
            (limit + 1).into(),
        ],
    )?;
    let more = rows.len() as i64 > limit;
    let letters = rows
        .iter()
        .take(limit as usize)
        .map(view)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        letters.last().and_then(|d| d.get("id")).cloned()
    } else {
        None
    };
    Ok(json!({"dead_letters": letters, "next_after": next}))
}

/// `POST /webhooks/{id}/dead-letters/replay`, `POST /clients/{client_id}/dead-letters/replay`
/// `{ids?}` → `{replayed, remaining, deliveries}`: the named dead letters (replayed again if
/// they were already), or without `ids` the oldest [`MAX_REPLAY`] not yet replayed. Each is
/// marked `replayed_at`; `deliveries` is the effect, for the edge to enqueue (attempts restart
/// at 1). A disabled target is a 409: its deliveries would dead-letter again at once.
pub fn replay(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    kind: TargetKind,
    target: &str,
    origin: Origin,
    body: Map<String, Value>,
) -> Result<Value, ScimError> {
    let (noun, path) = match kind {
        TargetKind::Webhook => ("Webhook", "webhooks"),
        TargetKind::Logout => ("Client", "clients"),
    };
    let body = Body::new(body, &["ids"])?;
    if !target_enabled(store, kind, target)? {
        return Err(ScimError::new(
            409,
            None,
            format!(
                "{noun} {target} is disabled; re-enable it (PATCH /{path}/{target} \
                 {{\"enabled\": true}}) before replaying."
            ),
        ));
    }
    let scope: [SqlValue; 2] = [kind.as_str().into(), target.into()];
    let rows = match body.get("ids") {
        None | Some(Value::Null) => store.query(
            "SELECT id, delivery FROM dead_letter
             WHERE target_kind = ? AND target = ? AND replayed_at IS NULL ORDER BY seq LIMIT ?",
            &[
                scope[0].clone(),
                scope[1].clone(),
                (MAX_REPLAY as i64).into(),
            ],
        )?,
        Some(Value::Array(ids)) if !ids.is_empty() && ids.len() <= MAX_REPLAY => {
            let mut rows = Vec::new();
            let mut unknown = Vec::new();
            for id in ids {
                let row = match id.as_str() {
                    Some(id) => store.query_one(
                        "SELECT id, delivery FROM dead_letter
                         WHERE target_kind = ? AND target = ? AND id = ?",
                        &[scope[0].clone(), scope[1].clone(), id.into()],
                    )?,
                    None => None,
                };
                match row {
                    Some(row) if !rows.contains(&row) => rows.push(row),
                    Some(_) => {}
                    None => unknown.push(id.to_string()),
                }
            }
            if !unknown.is_empty() {
                return Err(ScimError::invalid_value(format!(
                    "ids: no dead letter of {} {target}: {}.",
                    noun.to_lowercase(),
                    unknown.join(", ")
                )));
            }
            rows
        }
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "ids must be a list of 1 to {MAX_REPLAY} dead letter ids; omit it to replay \
                 every dead letter not yet replayed."
            )))
        }
    };
    let at = now.to_rfc3339();
    let version = super::target::subscription_version(store)?;
    for row in &rows {
        // Stored as a `Delivery` serialised: sent as it is, from its first attempt again.
        let delivery: Delivery = serde_json::from_str(&text(row, 1)?)
            .map_err(|e| ScimError::internal_because(format!("stored delivery: {e}")))?;
        // Sent with today's targets (a URL or credential fixed since is used).
        let message = QueueMessage::Delivery(DeliveryMessage {
            delivery,
            attempt: 1,
            subscription_version: version,
        });
        outbox::enqueue_message(store, &message.to_json())?;
        store.execute(
            "UPDATE dead_letter SET replayed_at = ? WHERE id = ?",
            &[at.clone().into(), text(row, 0)?.into()],
        )?;
    }
    let remaining = store
        .query_one(
            "SELECT count(*) FROM dead_letter
             WHERE target_kind = ? AND target = ? AND replayed_at IS NULL",
            &scope,
        )?
        .map(|row| int(&row, 0))
        .transpose()?
        .unwrap_or(0);
    let (target, replayed) = (target.to_owned(), rows.len());
    let event = match kind {
        TargetKind::Webhook => Event::WebhookDeadLettersReplayed(kind::WebhookReplayed {
            webhook_id: target,
            replayed,
        }),
        TargetKind::Logout => Event::ClientDeadLettersReplayed(kind::ClientReplayed {
            client_id: target,
            replayed,
        }),
    };
    event::record(store, random, now, origin, &event)?;
    Ok(json!({"replayed": rows.len(), "remaining": remaining}))
}

/// Deletes a delivery target (a webhook endpoint or an OIDC client, already known to exist) with
/// its dead letters, and logs `event` in the registry's event log.
pub fn delete_target(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    kind: TargetKind,
    id: &str,
    origin: Origin,
    event: &Event,
) -> Result<(), ScimError> {
    store.execute(
        &format!("DELETE FROM {} WHERE id = ?", kind.table()),
        &[id.into()],
    )?;
    store.execute(
        "DELETE FROM dead_letter WHERE target_kind = ? AND target = ?",
        &[kind.as_str().into(), id.into()],
    )?;
    event::record(store, random, now, origin, event)?;
    Ok(())
}
