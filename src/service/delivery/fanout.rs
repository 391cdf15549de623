//! Fan-out: which deliveries one event makes (one per enabled webhook endpoint subscribed to
//! it, and OIDC back-channel logouts for `user.sessions_revoked`), and where to send them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::{Delivery, Envelope, SESSIONS_REVOKED};
use super::oidc_client::{self, ClientTarget};
use super::webhook::{self, WebhookTarget};
use super::MAX_BATCH;
use crate::scim::ScimError;
use crate::service::clock::Timestamp;
use crate::service::store::Store;

/// A string member of an event envelope.
fn member<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get(name).and_then(Value::as_str)
}

/// `{events: [envelope…]}`. The registry reads them loosely (a malformed one is rejected on
/// its own); the consumer sends [`Envelope::for_routing`]s.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanoutRequest {
    pub events: Vec<Value>,
}

/// What the consumer sends to `POST /internal/fanout`.
#[derive(Serialize)]
pub struct FanoutQuery<'a> {
    pub events: &'a [Envelope],
}

/// `{deliveries:[…], rejected:[{index, error}]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutAnswer {
    pub deliveries: Vec<Delivery>,
    pub rejected: Vec<Rejected>,
}

/// An envelope of the request that was not fanned out: its index in `events`, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub index: usize,
    pub error: String,
}

/// `POST /internal/fanout` `{events:[envelope…]}` → `{deliveries:[…], rejected:[{index,
/// error}]}`. An envelope without string `id` and `type` is rejected on its own (by its index in
/// `events`) so the rest of the batch still goes out. An envelope without `connection_id` is
/// the registry's own (admin plane: `webhook.*`, `client.*`, `connection.deleted`): it goes to
/// the endpoints that take every connection's events, and never to a logout.
pub fn fanout(store: &dyn Store, body: FanoutRequest) -> Result<FanoutAnswer, ScimError> {
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
            rejected.push(Rejected {
                index,
                error: "an event envelope needs string id and type (and a string connection_id when it has one)".to_owned(),
            });
            continue;
        };
        for target in webhook::subscribers(store, kind, connection_id)? {
            deliveries.push(Delivery::Webhook {
                target,
                event: event.clone(),
            });
        }
        if let (Some(connection_id), SESSIONS_REVOKED) = (connection_id, kind) {
            deliveries.extend(logouts(store, event, connection_id)?);
        }
    }
    Ok(FanoutAnswer {
        deliveries,
        rejected,
    })
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

/// `{webhooks: [id…], clients: [client_id…]}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsRequest {
    #[serde(default)]
    pub webhooks: Vec<String>,
    #[serde(default)]
    pub clients: Vec<String>,
}

/// Where and how to deliver, as the registry knows it now: `{webhooks:{id:{url, secrets,
/// enabled}}, clients:{client_id:{uri, session_required, enabled}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub webhooks: BTreeMap<String, WebhookTarget>,
    pub clients: BTreeMap<String, ClientTarget>,
}

/// `POST /internal/targets` `{webhooks:[id…], clients:[client_id…]}` → [`Targets`]; unknown ids
/// are absent from the answer.
pub fn targets(
    store: &dyn Store,
    now: Timestamp,
    body: TargetsRequest,
) -> Result<Targets, ScimError> {
    if body.webhooks.len() + body.clients.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "At most {MAX_BATCH} targets per request."
        )));
    }
    let mut webhooks = BTreeMap::new();
    for id in &body.webhooks {
        if let Some(t) = webhook::target(store, now, id)? {
            webhooks.insert(id.clone(), t);
        }
    }
    let mut clients = BTreeMap::new();
    for id in &body.clients {
        if let Some(t) = oidc_client::target(store, id)? {
            clients.insert(id.clone(), t);
        }
    }
    Ok(Targets { webhooks, clients })
}
