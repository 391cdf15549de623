//! Deliveries: what the queue consumer sends for each connection event, and its verdict on each
//! attempt. The registry's internal routes (`/internal/…`, never exposed by the edge):
//!
//! - `POST /internal/fanout` turns event envelopes into deliveries: one per enabled webhook
//!   endpoint subscribed to the event, and OIDC back-channel logouts for `user.sessions_revoked`.
//! - `POST /internal/targets` gives the URLs and signing secrets to send them with.
//! - `POST /internal/attempts` judges attempts: ack, retry after a delay, or dead-letter; keeps
//!   each target's delivery health and disables an endpoint that keeps failing.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::clock::{Random, Timestamp};
use super::connection::parse;
use super::dead_letter;
use super::event::Origin;
use super::http::HttpRequest;
use super::oidc_client;
use super::retry_policy::{Decision, RetryPolicy};
use super::store::{int, Store};
use super::webhook;
use crate::scim::ScimError;

/// Longest `last_error` kept.
pub const MAX_ERROR_LEN: usize = 500;
/// Most events, target ids or attempts in one internal request.
pub const MAX_BATCH: usize = 1000;

/// One message to send: an event to a webhook endpoint, or a logout token to an OIDC client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// `{"kind":"webhook","target":"wh_…","event":<envelope>}`
    Webhook { target: String, event: Value },
    /// `{"kind":"logout","target":"<client_id>","event":<envelope>,"sub":…,"sid":…}`: a logout
    /// token naming the subject and, when the session is known, its `sid`.
    Logout {
        target: String,
        event: Value,
        sub: Option<String>,
        sid: Option<String>,
    },
}

impl Delivery {
    pub fn target(&self) -> &str {
        match self {
            Delivery::Webhook { target, .. } | Delivery::Logout { target, .. } => target,
        }
    }

    pub fn event(&self) -> &Value {
        match self {
            Delivery::Webhook { event, .. } | Delivery::Logout { event, .. } => event,
        }
    }

    /// `webhook` or `logout`, as dead letters store it.
    pub fn kind(&self) -> TargetKind {
        match self {
            Delivery::Webhook { .. } => TargetKind::Webhook,
            Delivery::Logout { .. } => TargetKind::Logout,
        }
    }
}

/// The two kinds of target, with the table each lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Webhook,
    Logout,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Webhook => "webhook",
            TargetKind::Logout => "logout",
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            TargetKind::Webhook => "webhook",
            TargetKind::Logout => "oidc_client",
        }
    }
}

/// A string member of an event envelope.
fn member<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get(name).and_then(Value::as_str)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FanoutRequest {
    events: Vec<Value>,
}

/// `POST /internal/fanout` `{events:[envelope…]}` → `{deliveries:[…], rejected:[{index,
/// error}]}`. An envelope without string `id` and `type` is rejected on its own (by its index in
/// `events`) so the rest of the batch still goes out. An envelope without `connection_id` is
/// the registry's own (admin plane: `webhook.*`, `client.*`, `connection.deleted`): it goes to
/// the endpoints that take every connection's events, and never to a logout.
pub fn fanout(store: &dyn Store, request: &HttpRequest) -> Result<Value, ScimError> {
    let body: FanoutRequest = parse(request)?;
    if body.events.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "events may hold at most {MAX_BATCH} envelopes."
        )));
    }
    let mut deliveries = Vec::new();
    let mut rejected = Vec::new();
    for (index, event) in body.events.iter().enumerate() {
        // No `connection_id` at all: a registry event; one that is there must be a string.
        let connection_id = match event.get("connection_id") {
            None => Ok(None),
            Some(id) => id.as_str().map(Some).ok_or(()),
        };
        let (Some(_), Some(kind), Ok(connection_id)) =
            (member(event, "id"), member(event, "type"), connection_id)
        else {
            rejected.push(json!({
                "index": index,
                "error": "an event envelope needs string id and type (and a string connection_id when it has one)",
            }));
            continue;
        };
        for target in webhook::subscribers(store, kind, connection_id)? {
            deliveries.push(Delivery::Webhook {
                target,
                event: event.clone(),
            });
        }
        if let (Some(connection_id), "user.sessions_revoked") = (connection_id, kind) {
            deliveries.extend(logouts(store, event, connection_id)?);
        }
    }
    Ok(json!({"deliveries": deliveries, "rejected": rejected}))
}

/// The back-channel logouts for one `user.sessions_revoked` event: one per revoked session of
/// a registered client (`sub` and `sid`), and one `sub`-only logout for each other client of the
/// connection that does not require a session id.
fn logouts(
    store: &dyn Store,
    event: &Value,
    connection_id: &str,
) -> Result<Vec<Delivery>, ScimError> {
    let data = event.get("data").unwrap_or(&Value::Null);
    let sub = member(data, "subject").map(str::to_owned);
    let sessions: Vec<(&str, &str)> = data
        .get("sessions")
        .and_then(Value::as_array)
        .map(|sessions| {
            sessions
                .iter()
                .filter_map(|s| Some((member(s, "client_id")?, member(s, "sid")?)))
                .collect()
        })
        .unwrap_or_default();
    let clients = oidc_client::subscribers(store, connection_id)?;
    let mut out = Vec::new();
    let mut sent: Vec<(&str, &str)> = Vec::new();
    for (client_id, sid) in &sessions {
        if clients.iter().any(|c| c.client_id == *client_id) && !sent.contains(&(client_id, sid)) {
            sent.push((client_id, sid));
            out.push(Delivery::Logout {
                target: (*client_id).to_owned(),
                event: event.clone(),
                sub: sub.clone(),
                sid: Some((*sid).to_owned()),
            });
        }
    }
    if sub.is_some() {
        for client in &clients {
            let had_session = sessions.iter().any(|(c, _)| *c == client.client_id);
            if !had_session && !client.session_required {
                out.push(Delivery::Logout {
                    target: client.client_id.clone(),
                    event: event.clone(),
                    sub: sub.clone(),
                    sid: None,
                });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsRequest {
    #[serde(default)]
    webhooks: Vec<String>,
    #[serde(default)]
    clients: Vec<String>,
}

/// `POST /internal/targets` `{webhooks:[id…], clients:[client_id…]}` → `{webhooks:{id:{url,
/// secrets, enabled}}, clients:{client_id:{uri, session_required, enabled}}}`; unknown ids are
/// absent from the answer.
pub fn targets(
    store: &dyn Store,
    now: Timestamp,
    request: &HttpRequest,
) -> Result<Value, ScimError> {
    let body: TargetsRequest = parse(request)?;
    if body.webhooks.len() + body.clients.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "At most {MAX_BATCH} targets per request."
        )));
    }
    let mut webhooks = Map::new();
    for id in &body.webhooks {
        if let Some(t) = webhook::target(store, now, id)? {
            webhooks.insert(id.clone(), t);
        }
    }
    let mut clients = Map::new();
    for id in &body.clients {
        if let Some(t) = oidc_client::target(store, id)? {
            clients.insert(id.clone(), t);
        }
    }
    Ok(json!({"webhooks": webhooks, "clients": clients}))
}

/// One attempt to send a delivery, as the queue consumer reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub delivery: Delivery,
    /// 1-based.
    pub attempt: u32,
    pub ok: bool,
    /// The HTTP status the target answered with, if it answered.
    #[serde(default)]
    pub status: Option<i64>,
    /// Why the attempt failed (a network error, a timeout, the start of the response body).
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttemptsRequest {
    #[serde(default)]
    policy: Option<RetryPolicy>,
    attempts: Vec<Attempt>,
}

/// `POST /internal/attempts` `{policy?, attempts:[…]}` → `{decisions:[…]}`, in order.
pub fn attempts(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    request: &HttpRequest,
) -> Result<Value, ScimError> {
    let body: AttemptsRequest = parse(request)?;
    let policy = body.policy.unwrap_or_default();
    policy
        .validate()
        .map_err(|e| ScimError::invalid_value(format!("policy: {e}.")))?;
    if body.attempts.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "attempts may hold at most {MAX_BATCH} entries."
        )));
    }
    if let Some(i) = body.attempts.iter().position(|a| a.attempt == 0) {
        return Err(ScimError::invalid_value(format!(
            "attempts[{i}].attempt must be 1 or more (attempts count from 1)."
        )));
    }
    let origin = Origin::new("system", request);
    let decisions = body
        .attempts
        .iter()
        .map(|a| judge(store, random, now, &policy, a, origin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"decisions": decisions}))
}

/// The verdict on one attempt, with its effect on the target's health and dead letters.
pub fn judge(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    policy: &RetryPolicy,
    attempt: &Attempt,
    origin: Origin,
) -> Result<Decision, ScimError> {
    let kind = attempt.delivery.kind();
    let (table, id) = (kind.table(), attempt.delivery.target());
    let at = now.to_rfc3339();
    let enabled = store
        .query_one(
            &format!("SELECT enabled FROM {table} WHERE id = ?"),
            &[id.into()],
        )?
        .map(|row| int(&row, 0))
        .transpose()?
        .map(|e| e != 0);
    if attempt.ok {
        store.execute(
            &format!(
                "UPDATE {table} SET consecutive_failures = 0, consecutive_dead_letters = 0,
                     last_success_at = ?
                 WHERE id = ?"
            ),
            &[at.into(), id.into()],
        )?;
        return Ok(Decision::Ack);
    }
    let error = failure_text(store, attempt)?;
    match enabled {
        // Deleted: nowhere to send it and nothing to keep it under.
        None => Ok(Decision::DeadLetter),
        // Disabled: kept for replay once re-enabled; the health that explains why the target
        // was disabled is left as it is.
        Some(false) => {
            dead_letter::record(store, random, now, attempt, &error)?;
            Ok(Decision::DeadLetter)
        }
        Some(true) => {
            store.execute(
                &format!(
                    "UPDATE {table} SET consecutive_failures = consecutive_failures + 1,
                         last_failure_at = ?, last_error = ?
                     WHERE id = ?"
                ),
                &[at.into(), error.clone().into(), id.into()],
            )?;
            let decision = policy.after_failure(attempt.attempt);
            if decision == Decision::DeadLetter {
                dead_letter::record(store, random, now, attempt, &error)?;
                store.execute(
                    &format!(
                        "UPDATE {table} SET consecutive_dead_letters = consecutive_dead_letters + 1
                         WHERE id = ?"
                    ),
                    &[id.into()],
                )?;
                let in_a_row = store
                    .query_one(
                        &format!("SELECT consecutive_dead_letters FROM {table} WHERE id = ?"),
                        &[id.into()],
                    )?
                    .map(|row| int(&row, 0))
                    .transpose()?
                    .unwrap_or(0);
                let limit = i64::from(policy.disable_after);
                if kind == TargetKind::Webhook && limit > 0 && in_a_row >= limit {
                    let reason = format!(
                        "{in_a_row} deliveries in a row were dead-lettered; last error: {error}"
                    );
                    webhook::disable(store, random, now, id, &truncate(&reason), origin)?;
                }
            }
            Ok(decision)
        }
    }
}

/// What an attempt's failure is recorded as: `HTTP <status>: <error>`, with the target's signing
/// secrets (and anything shaped like one) removed, at most [`MAX_ERROR_LEN`] characters.
fn failure_text(store: &dyn Store, attempt: &Attempt) -> Result<String, ScimError> {
    let detail = attempt.error.as_deref().map(str::trim).unwrap_or_default();
    let text = match (attempt.status, detail) {
        (Some(status), "") => format!("HTTP {status}"),
        (Some(status), detail) => format!("HTTP {status}: {detail}"),
        (None, "") => "delivery failed".to_owned(),
        (None, detail) => detail.to_owned(),
    };
    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Delivery::Webhook { target, .. } = &attempt.delivery {
        for secret in webhook::secrets(store, target)? {
            text = text.replace(&secret, "[secret]");
        }
    }
    Ok(truncate(&redact_secret_shapes(&text)))
}

/// Replaces every `whsec_…` token with `whsec_[redacted]`.
fn redact_secret_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("whsec_") {
        out.push_str(&rest[..i]);
        out.push_str("whsec_[redacted]");
        let tail = &rest[i + "whsec_".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c)))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// At most [`MAX_ERROR_LEN`] characters.
fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_shapes_are_redacted() {
        assert_eq!(
            redact_secret_shapes("bad sig whsec_abc+/= for whsec_Zz9, ok"),
            "bad sig whsec_[redacted] for whsec_[redacted], ok"
        );
    }

    #[test]
    fn deliveries_have_the_documented_json_shape() {
        let w = Delivery::Webhook {
            target: "wh_1".into(),
            event: json!({"id": "evt_1"}),
        };
        assert_eq!(
            serde_json::to_value(&w).ok(),
            Some(json!({"kind": "webhook", "target": "wh_1", "event": {"id": "evt_1"}}))
        );
        let l = Delivery::Logout {
            target: "web".into(),
            event: json!({}),
            sub: Some("u1".into()),
            sid: None,
        };
        assert_eq!(
            serde_json::to_value(&l).ok(),
            Some(json!({"kind": "logout", "target": "web", "event": {}, "sub": "u1", "sid": null}))
        );
    }
}
