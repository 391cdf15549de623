//! What the queue consumer tells a connection's object about the back-channel logouts of its
//! receipts, and what the object does with it: which logouts go out ([`expect`]), how each
//! attempt went ([`attempts`]), and the receipt's completion.
//!
//! The consumer builds both reports with the pure [`expectations`] and [`attempt_reports`]
//! (one request per connection) and posts them to the connection's object at
//! `POST /internal/deprovisionings/expected` and `POST /internal/deprovisionings/attempts`,
//! paths the public Worker never forwards to an object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{by_event, AttemptRecord, LogoutOutcome, LogoutRecord, Receipt};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::delivery::fanout::FanoutAnswer;
use crate::service::delivery::message::{Attempt, Delivery, Envelope, SESSIONS_REVOKED};
use crate::service::delivery::retry_policy::Decision;
use crate::service::delivery::{MAX_BATCH, MAX_ERROR_LEN};
use crate::service::event::kind::{Deprovisioned, ReceiptOutcome};
use crate::service::event::{self, Event, Origin};
use crate::service::session::parse_time;
use crate::service::store::Store;

/// Most logouts one event may announce.
pub const MAX_LOGOUTS_PER_EVENT: usize = 10_000;

/// One back-channel logout the fan-out made: to `client_id`, naming `sid` and/or `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedLogout {
    pub client_id: String,
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
}

/// The logouts of one `user.sessions_revoked` event (`event_id`), possibly none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedEvent {
    pub event_id: String,
    pub logouts: Vec<ExpectedLogout>,
}

/// `POST /internal/deprovisionings/expected` `{at_ms, events: [{event_id, logouts: [{client_id,
/// sid, sub}]}]}`: `at_ms` (milliseconds since the epoch) is when the fan-out was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRequest {
    pub at_ms: i64,
    pub events: Vec<ExpectedEvent>,
}

/// One attempt at a logout of event `event_id`, with the registry's verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptReport {
    pub event_id: String,
    pub client_id: String,
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    /// 1-based.
    pub attempt: u32,
    pub ok: bool,
    #[serde(default)]
    pub http_status: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    pub decision: Decision,
}

/// `POST /internal/deprovisionings/attempts` `{at_ms, attempts: [attempt…]}`: `at_ms` is when
/// the attempts' outcomes were known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptReports {
    pub at_ms: i64,
    pub attempts: Vec<AttemptReport>,
}

/// `{completed: [receipt id…]}`: the receipts this report completed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAnswer {
    pub completed: Vec<String>,
}

/// What the consumer tells each connection after a fan-out (by connection id): for every
/// `user.sessions_revoked` event of `events` that was not rejected, the logout deliveries the
/// registry made for it (none is an answer too: the receipt completes).
pub fn expectations(
    events: &[Envelope],
    answer: &FanoutAnswer,
    at_ms: i64,
) -> BTreeMap<String, ExpectRequest> {
    let mut out: BTreeMap<String, ExpectRequest> = BTreeMap::new();
    for (index, envelope) in events.iter().enumerate() {
        let rejected = answer.rejected.iter().any(|r| r.index == index);
        let Some(connection_id) = envelope.connection_id.as_deref() else {
            continue;
        };
        if rejected || envelope.event_type != SESSIONS_REVOKED {
            continue;
        }
        out.entry(connection_id.to_owned())
            .or_insert_with(|| ExpectRequest {
                at_ms,
                events: Vec::new(),
            })
            .events
            .push(expected_logouts(&envelope.id, &answer.deliveries));
    }
    out
}

/// The logouts among `deliveries` made for the event `event_id` (possibly none): what a
/// connection's object announces for its own `user.sessions_revoked` events once the queue
/// accepted their deliveries.
pub fn expected_logouts(event_id_: &str, deliveries: &[Delivery]) -> ExpectedEvent {
    let logouts = deliveries
        .iter()
        .filter_map(|d| match d {
            Delivery::Logout {
                target,
                event,
                sub,
                sid,
            } if event_id(event) == Some(event_id_) => Some(ExpectedLogout {
                client_id: target.clone(),
                sid: sid.clone(),
                sub: sub.clone(),
            }),
            _ => None,
        })
        .collect();
    ExpectedEvent {
        event_id: event_id_.to_owned(),
        logouts,
    }
}

fn event_id(event: &Value) -> Option<&str> {
    event.get("id").and_then(Value::as_str)
}

/// What the consumer tells each connection after the registry's verdicts (by connection id):
/// every logout attempt that was judged (`decisions[i]` is the verdict on `attempts[i]`; an
/// attempt without one will be made again and is not reported). Errors are cut to
/// [`MAX_ERROR_LEN`] characters.
pub fn attempt_reports(
    attempts: &[Attempt],
    decisions: &[Decision],
    at_ms: i64,
) -> BTreeMap<String, AttemptReports> {
    let mut out: BTreeMap<String, AttemptReports> = BTreeMap::new();
    for (attempt, decision) in attempts.iter().zip(decisions) {
        let Delivery::Logout {
            target,
            event,
            sub,
            sid,
        } = &attempt.delivery
        else {
            continue;
        };
        let connection_id = event.get("connection_id").and_then(Value::as_str);
        let (Some(connection_id), Some(event_id)) = (connection_id, event_id(event)) else {
            continue;
        };
        out.entry(connection_id.to_owned())
            .or_insert_with(|| AttemptReports {
                at_ms,
                attempts: Vec::new(),
            })
            .attempts
            .push(AttemptReport {
                event_id: event_id.to_owned(),
                client_id: target.clone(),
                sid: sid.clone(),
                sub: sub.clone(),
                attempt: attempt.attempt,
                ok: attempt.ok,
                http_status: attempt.status,
                error: attempt
                    .error
                    .as_ref()
                    .map(|e| e.chars().take(MAX_ERROR_LEN).collect()),
                decision: *decision,
            });
    }
    out
}

/// `at_ms` as a time of this receipt: not before it started, not after `now` (the clocks of the
/// consumer and of the object may differ a little).
fn clamp(receipt: &Receipt, now: Timestamp, at_ms: i64) -> Timestamp {
    Timestamp(at_ms.min(now.0).max(receipt.started_ms))
}

/// `POST /internal/deprovisionings/expected`: the logouts of each event are added to its
/// receipt (those already known or reported are kept as they are) and the receipt now knows
/// them all; a receipt whose logouts are all final (or that has none) completes at `at_ms`.
/// Unknown events (no receipt) and completed receipts are left alone, so a repeated report
/// changes nothing.
pub fn expect(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    body: ExpectRequest,
) -> Result<ReportAnswer, ScimError> {
    if body.events.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "events may hold at most {MAX_BATCH} entries."
        )));
    }
    if body
        .events
        .iter()
        .any(|e| e.logouts.len() > MAX_LOGOUTS_PER_EVENT)
    {
        return Err(ScimError::invalid_value(format!(
            "An event may announce at most {MAX_LOGOUTS_PER_EVENT} logouts."
        )));
    }
    let mut answer = ReportAnswer::default();
    for expected in body.events {
        let Some(mut receipt) = by_event(store, &expected.event_id)? else {
            continue;
        };
        if receipt.is_completed() {
            continue;
        }
        for logout in &expected.logouts {
            let sid = logout.sid.as_deref();
            if !receipt.logouts.iter().any(|l| l.is(&logout.client_id, sid)) {
                let sub = logout.sub.as_deref();
                receipt
                    .logouts
                    .push(LogoutRecord::pending(&logout.client_id, sid, sub));
            }
        }
        receipt.logouts_known = true;
        let at = clamp(&receipt, now, body.at_ms);
        if complete_if_final(store, random, now, &mut receipt, at)? {
            answer.completed.push(receipt.id.clone());
        }
        receipt.save(store)?;
    }
    Ok(answer)
}

/// `POST /internal/deprovisionings/attempts`: each attempt is added to its logout (one not
/// announced yet is added too), unless that logout is already final or has that attempt
/// already; the verdict makes it final (`ack` of a 2xx: `delivered`; `dead_letter`:
/// `dead_lettered`). A receipt whose logouts are then all known and final completes.
pub fn attempts(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    body: AttemptReports,
) -> Result<ReportAnswer, ScimError> {
    if body.attempts.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "attempts may hold at most {MAX_BATCH} entries."
        )));
    }
    let mut answer = ReportAnswer::default();
    for report in &body.attempts {
        let Some(mut receipt) = by_event(store, &report.event_id)? else {
            continue;
        };
        if receipt.is_completed() {
            continue;
        }
        let at = clamp(&receipt, now, body.at_ms);
        if !apply(&mut receipt, report, at) {
            continue;
        }
        if complete_if_final(store, random, now, &mut receipt, at)? {
            answer.completed.push(receipt.id.clone());
        }
        receipt.save(store)?;
    }
    Ok(answer)
}

/// Adds one attempt to its logout; `false` when it changes nothing (a final logout, or an
/// attempt number seen before).
fn apply(receipt: &mut Receipt, report: &AttemptReport, at: Timestamp) -> bool {
    let sid = report.sid.as_deref();
    let index = match receipt
        .logouts
        .iter()
        .position(|l| l.is(&report.client_id, sid))
    {
        Some(i) => i,
        None => {
            let sub = report.sub.as_deref();
            receipt
                .logouts
                .push(LogoutRecord::pending(&report.client_id, sid, sub));
            receipt.logouts.len() - 1
        }
    };
    let Some(logout) = receipt.logouts.get_mut(index) else {
        return false;
    };
    if logout.is_final() || logout.attempts.iter().any(|a| a.attempt == report.attempt) {
        return false;
    }
    let record = AttemptRecord {
        attempt: report.attempt,
        ok: report.ok,
        http_status: report.http_status,
        error: report.error.clone(),
        at: at.to_rfc3339(),
    };
    let outcome = match report.decision {
        Decision::Retry { .. } => LogoutOutcome::Pending,
        Decision::Ack if report.ok => LogoutOutcome::Delivered,
        // Acked without success, or dead-lettered: no attempt will follow.
        Decision::Ack | Decision::DeadLetter => LogoutOutcome::DeadLettered,
    };
    let latest = logout.attempts.iter().all(|a| a.attempt < report.attempt);
    if latest || outcome != LogoutOutcome::Pending {
        logout.http_status = record.http_status;
        logout.error = record.error.clone();
        logout.at = Some(record.at.clone());
    }
    logout.outcome = outcome;
    logout.attempts.push(record);
    logout.attempts.sort_by_key(|a| a.attempt);
    true
}

/// Completes the receipt when its logouts are known and all final: `completed_at` is when the
/// last of them became final (`at` when there are none), `time_to_revoke_ms` the time since
/// `started_at`, and `user.deprovisioned` is recorded (actor `system`). `true` if it completed.
fn complete_if_final(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    receipt: &mut Receipt,
    at: Timestamp,
) -> Result<bool, ScimError> {
    if receipt.is_completed()
        || !receipt.logouts_known
        || !receipt.logouts.iter().all(LogoutRecord::is_final)
    {
        return Ok(false);
    }
    let last_final = receipt
        .logouts
        .iter()
        .filter_map(|l| l.at.as_deref().and_then(parse_time))
        .max();
    let completed = match last_final {
        Some(t) => clamp(receipt, now, t.0),
        None => at,
    };
    let counts = receipt.counts();
    let outcome = if counts.logouts == 0 {
        ReceiptOutcome::NoLogouts
    } else if counts.logouts_dead_lettered == 0 {
        ReceiptOutcome::AllDelivered
    } else {
        ReceiptOutcome::SomeFailed
    };
    let time_to_revoke_ms = completed.0 - receipt.started_ms;
    receipt.completed_at = Some(completed.to_rfc3339());
    receipt.time_to_revoke_ms = Some(time_to_revoke_ms);
    receipt.outcome = Some(outcome);
    let event = Event::UserDeprovisioned(Deprovisioned {
        receipt_id: receipt.id.clone(),
        user_id: receipt.user_id.clone(),
        reason: receipt.reason.clone(),
        counts,
        outcome,
        time_to_revoke_ms,
    });
    let system = Origin {
        actor: "system",
        request_id: None,
    };
    event::record(store, random, now, system, &event)?;
    Ok(true)
}
