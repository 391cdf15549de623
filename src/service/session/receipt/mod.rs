//! Deprovisioning receipts: for each deactivation or deletion of a user, a record of what was
//! revoked and of each OIDC Back-Channel Logout 1.0 notification sent for it, with the time it
//! took, readable by the admin and verifiable offline as a JWS ([`jws`]).
//!
//! Life of a receipt, in the connection's own database:
//!
//! 1. [`record`]: written in the transaction of the deactivation or deletion, with the
//!    `user.sessions_revoked` event it belongs to; `started_at` is that commit's time. The
//!    sessions and refresh tokens are revoked by that commit already, so introspection says
//!    `{"active": false}` from then on.
//! 2. [`report::expect`]: after the fan-out, the queue consumer says which back-channel logouts
//!    go out for the event (`logouts` stops being `null`). None: the receipt completes then.
//! 3. [`report::attempts`]: the consumer reports each attempt (HTTP status, error, attempt
//!    number, time) with the registry's verdict. A logout is final when delivered (2xx) or
//!    dead-lettered; when every logout is final the receipt completes: `completed_at`,
//!    `time_to_revoke_ms` and the event `user.deprovisioned`, in one transaction.
//!
//! Reports may repeat or arrive out of order (the queues deliver at least once): each is
//! merged idempotently, and nothing changes a completed receipt. Receipts name sessions and
//! refresh tokens by id and `sid`, never a token value or hash; an attempt's error is the
//! consumer's text (`HTTP 500`, `request failed: …`), never a logout token.
//!
//! Pure over the [`Store`]: time (`now`, the attempts' `at_ms`) and randomness come in as
//! arguments.

pub mod jws;
pub mod report;
pub mod stats;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::connection::identity::connection_id;
use crate::service::event::kind::{ReceiptCounts, ReceiptOutcome, SessionsRevoked};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::{int, opt_text, text, Row, Store, StoreError};

/// Prefix of a receipt id (`dpr_` + 24 hex digits).
pub const ID_PREFIX: &str = "dpr_";
/// Largest page of `GET /deprovisionings`.
pub const MAX_PAGE: i64 = 200;
/// Default page of `GET /deprovisionings`.
pub const DEFAULT_PAGE: i64 = 50;

/// Where one back-channel logout stands: `pending` (not yet delivered, more attempts to come),
/// `delivered` (the client answered 2xx) or `dead_lettered` (no more attempts: retries
/// exhausted, or the client was removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutOutcome {
    Pending,
    Delivered,
    DeadLettered,
}

/// One attempt at a back-channel logout, as the queue consumer reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1-based.
    pub attempt: u32,
    pub ok: bool,
    /// The client's HTTP status, when it answered.
    pub http_status: Option<i64>,
    /// Why it failed (`HTTP 500`, `request failed: …`); never a token.
    pub error: Option<String>,
    /// When its outcome was known, RFC 3339 with milliseconds.
    pub at: String,
}

/// One back-channel logout of a receipt: to `client_id`, naming `sid` (one of the revoked
/// sessions) and/or `sub` (a `sub`-only logout to a client that requires no session), with every
/// attempt at it; `http_status`, `error` and `at` repeat those of the latest attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutRecord {
    pub client_id: String,
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub outcome: LogoutOutcome,
    pub http_status: Option<i64>,
    pub error: Option<String>,
    pub at: Option<String>,
    pub attempts: Vec<AttemptRecord>,
}

impl LogoutRecord {
    /// A logout the fan-out announced, not yet attempted.
    pub fn pending(client_id: &str, sid: Option<&str>, sub: Option<&str>) -> LogoutRecord {
        LogoutRecord {
            client_id: client_id.to_owned(),
            sid: sid.map(str::to_owned),
            sub: sub.map(str::to_owned),
            outcome: LogoutOutcome::Pending,
            http_status: None,
            error: None,
            at: None,
            attempts: Vec::new(),
        }
    }

    /// Whether it names this logout: the same client and the same session (or both none).
    pub fn is(&self, client_id: &str, sid: Option<&str>) -> bool {
        self.client_id == client_id && self.sid.as_deref() == sid
    }

    pub fn is_final(&self) -> bool {
        self.outcome != LogoutOutcome::Pending
    }
}

/// One deprovisioning receipt, as stored. [`Receipt::to_json`] is its public form.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub id: String,
    /// The `user.sessions_revoked` event it belongs to (`evt_…`).
    pub event_id: String,
    pub user_id: String,
    /// The user's identifier in the app (the `sub` of logout tokens).
    pub subject: String,
    /// `deactivated` or `deleted`.
    pub reason: String,
    pub started_at: String,
    pub started_ms: i64,
    /// `[{sid, client_id}]`.
    pub sessions: Vec<Value>,
    /// `[{id, client_id, sid}]`.
    pub refresh_tokens: Vec<Value>,
    pub logouts: Vec<LogoutRecord>,
    /// Whether the fan-out said which logouts go out (until then `logouts` holds only what was
    /// reported, if anything).
    pub logouts_known: bool,
    pub completed_at: Option<String>,
    pub time_to_revoke_ms: Option<i64>,
    pub outcome: Option<ReceiptOutcome>,
}

const COLUMNS: &str = "id, event_id, user_id, subject, reason, started_at, started_ms, sessions, \
     refresh_tokens, logouts, logouts_known, completed_at, time_to_revoke_ms, outcome";

fn json_column<T: serde::de::DeserializeOwned>(row: &Row, i: usize) -> Result<T, StoreError> {
    serde_json::from_str(&text(row, i)?)
        .map_err(|e| StoreError(format!("column {i} is not the JSON expected: {e}")))
}

fn to_text<T: Serialize>(value: &T) -> Result<String, ScimError> {
    serde_json::to_string(value).map_err(|e| ScimError::internal_because(e.to_string()))
}

impl Receipt {
    fn from_row(row: &Row) -> Result<Receipt, ScimError> {
        let outcome = opt_text(row, 13);
        Ok(Receipt {
            id: text(row, 0)?,
            event_id: text(row, 1)?,
            user_id: text(row, 2)?,
            subject: text(row, 3)?,
            reason: text(row, 4)?,
            started_at: text(row, 5)?,
            started_ms: int(row, 6)?,
            sessions: json_column(row, 7)?,
            refresh_tokens: json_column(row, 8)?,
            logouts: json_column(row, 9)?,
            logouts_known: int(row, 10)? != 0,
            completed_at: opt_text(row, 11),
            time_to_revoke_ms: row.get(12).and_then(|v| v.as_i64()),
            outcome: outcome.as_deref().and_then(ReceiptOutcome::parse),
        })
    }

    pub fn is_completed(&self) -> bool {
        self.completed_at.is_some()
    }

    /// What it counts so far.
    pub fn counts(&self) -> ReceiptCounts {
        let with = |o: LogoutOutcome| self.logouts.iter().filter(|l| l.outcome == o).count();
        ReceiptCounts {
            sessions: self.sessions.len(),
            refresh_tokens: self.refresh_tokens.len(),
            logouts: self.logouts.len(),
            logouts_delivered: with(LogoutOutcome::Delivered),
            logouts_dead_lettered: with(LogoutOutcome::DeadLettered),
        }
    }

    /// The public form (the admin API's body, and the claims of its JWS with `iss` and `iat`):
    ///
    /// `{id, connection_id, event_id, user_id, subject, reason, status: "pending" | "completed",
    /// outcome: null | "no_logouts" | "all_delivered" | "some_failed", started_at, completed_at,
    /// time_to_revoke_ms, revoked: {sessions: [{sid, client_id}], refresh_tokens: [{id,
    /// client_id, sid}]}, logouts: null | [{client_id, sid, sub, outcome, http_status, error, at,
    /// attempts: [{attempt, ok, http_status, error, at}]}], counts: {sessions, refresh_tokens,
    /// logouts, logouts_delivered, logouts_dead_lettered}}`. Times are RFC 3339 UTC with
    /// milliseconds; `time_to_revoke_ms` is `completed_at - started_at` in milliseconds.
    /// `logouts` is `null` while it is unknown which logouts go out.
    pub fn to_json(&self, connection_id: Option<&str>) -> Value {
        let logouts = if self.logouts_known || !self.logouts.is_empty() {
            serde_json::to_value(&self.logouts).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        json!({
            "id": self.id,
            "connection_id": connection_id,
            "event_id": self.event_id,
            "user_id": self.user_id,
            "subject": self.subject,
            "reason": self.reason,
            "status": if self.is_completed() { "completed" } else { "pending" },
            "outcome": self.outcome,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "time_to_revoke_ms": self.time_to_revoke_ms,
            "revoked": {"sessions": self.sessions, "refresh_tokens": self.refresh_tokens},
            "logouts": logouts,
            "counts": self.counts(),
        })
    }

    /// Writes back what [`report`] changes: the logouts and the completion.
    fn save(&self, store: &dyn Store) -> Result<(), ScimError> {
        store.execute(
            "UPDATE deprovisioning SET logouts = ?, logouts_known = ?, completed_at = ?,
                 time_to_revoke_ms = ?, outcome = ?
             WHERE id = ?",
            &[
                to_text(&self.logouts)?.into(),
                self.logouts_known.into(),
                self.completed_at.clone().into(),
                self.time_to_revoke_ms.into(),
                self.outcome.map(ReceiptOutcome::as_str).into(),
                self.id.clone().into(),
            ],
        )?;
        Ok(())
    }
}

/// Writes the receipt of a deactivation or deletion, in its transaction: `event_id` is the
/// `user.sessions_revoked` event recorded for it, `revoked` that event's payload, `now` the
/// commit time (`started_at`). Returns the receipt id.
pub fn record(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    event_id: &str,
    revoked: &SessionsRevoked,
) -> Result<String, ScimError> {
    let id = random_id(random, ID_PREFIX, 12)?;
    store.execute(
        "INSERT INTO deprovisioning (id, event_id, user_id, subject, reason, started_at,
             started_ms, sessions, refresh_tokens)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            id.clone().into(),
            event_id.into(),
            revoked.user_id.clone().into(),
            revoked.subject.clone().into(),
            revoked.reason.into(),
            now.to_rfc3339().into(),
            now.0.into(),
            to_text(&revoked.sessions)?.into(),
            to_text(&revoked.refresh_tokens)?.into(),
        ],
    )?;
    Ok(id)
}

/// The receipt of a `user.sessions_revoked` event, if this connection wrote one.
pub fn by_event(store: &dyn Store, event_id: &str) -> Result<Option<Receipt>, ScimError> {
    store
        .query_one(
            &format!("SELECT {COLUMNS} FROM deprovisioning WHERE event_id = ?"),
            &[event_id.into()],
        )?
        .map(|row| Receipt::from_row(&row))
        .transpose()
}

/// One receipt by id; 404 `Deprovisioning receipt … not found.` when this connection has none
/// of that id.
pub fn get(store: &dyn Store, id: &str) -> Result<Receipt, ScimError> {
    store
        .query_one(
            &format!("SELECT {COLUMNS} FROM deprovisioning WHERE id = ?"),
            &[id.into()],
        )?
        .map(|row| Receipt::from_row(&row))
        .transpose()?
        .ok_or_else(|| {
            ScimError::not_found(format!(
                "Deprovisioning receipt {id} not found in this connection."
            ))
        })
}

/// `GET /deprovisionings?after=<receipt id>&limit=` (1 to [`MAX_PAGE`], default
/// [`DEFAULT_PAGE`]): newest first, `{deprovisionings: [receipt…], next_after}`; `next_after`
/// (the last id of the page, or `null` on the last page) continues. An unknown cursor is a 400.
pub fn list(store: &dyn Store, page: PageRequest) -> Result<Value, ScimError> {
    let (limit, after_seq) = cursor(store, "deprovisioning", page, (DEFAULT_PAGE, MAX_PAGE))?;
    // Newest first: the page after a cursor holds the older receipts.
    let before = if page.after.is_some() {
        after_seq
    } else {
        i64::MAX
    };
    let rows = store.query(
        &format!("SELECT {COLUMNS} FROM deprovisioning WHERE seq < ? ORDER BY seq DESC LIMIT ?"),
        &[before.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let connection = connection_id(store);
    let receipts = rows
        .iter()
        .take(limit as usize)
        .map(Receipt::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        receipts.last().map(|r| r.id.clone())
    } else {
        None
    };
    let receipts: Vec<Value> = receipts
        .iter()
        .map(|r| r.to_json(connection.as_deref()))
        .collect();
    Ok(json!({"deprovisionings": receipts, "next_after": next}))
}
