//! Fan-out: which deliveries one event makes (one per enabled webhook endpoint subscribed to
//! it, and OIDC back-channel logouts for `user.sessions_revoked`; see [`Subscriptions`]), and
//! where to send them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::{Delivery, Envelope};
use super::oidc_client::{self, ClientTarget};
use super::subscription::{self, Subscriptions};
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

/// `{version, deliveries:[…], rejected:[{index, error}]}`; `version` is the subscription
/// version the fan-out read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutAnswer {
    #[serde(default)]
    pub version: i64,
    pub deliveries: Vec<Delivery>,
    pub rejected: Vec<Rejected>,
}

/// An envelope of the request that was not fanned out: its index in `events`, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub index: usize,
    pub error: String,
}

/// `POST /internal/fanout` `{events:[envelope…]}` → `{version, deliveries:[…], rejected:[{index,
/// error}]}`: [`Subscriptions::deliveries`] of each event, with the subscriptions of its
/// connection. An envelope without string `id` and `type` is rejected on its own (by its index
/// in `events`) so the rest of the batch still goes out. An envelope without `connection_id` is
/// the registry's own (admin plane: `webhook.*`, `client.*`, `connection.deleted`): it goes to
/// the endpoints that take every connection's events, and never to a logout.
///
/// Connections' objects fan their events out themselves; this serves the registry's own
/// events and any event message still on the queue from before.
pub fn fanout(store: &dyn Store, body: FanoutRequest) -> Result<FanoutAnswer, ScimError> {
    if body.events.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "events may hold at most {MAX_BATCH} envelopes."
        )));
    }
    let mut deliveries = Vec::new();
    let mut rejected = Vec::new();
    let mut known: BTreeMap<Option<String>, Subscriptions> = BTreeMap::new();
    for (index, event) in body.events.iter().enumerate() {
        // No `connection_id` at all: a registry event; one that is there must be a string.
        let connection_id = match event.get("connection_id") {
            None => Ok(None),
            Some(id) => id.as_str().map(Some).ok_or(()),
        };
        let (Some(_), Some(_), Ok(connection_id)) =
            (member(event, "id"), member(event, "type"), connection_id)
        else {
            rejected.push(Rejected {
                index,
                error: "an event envelope needs string id and type (and a string connection_id when it has one)".to_owned(),
            });
            continue;
        };
        let key = connection_id.map(str::to_owned);
        let subscriptions = match known.get(&key) {
            Some(s) => s,
            None => {
                let s = subscription::of_connection(store, connection_id)?;
                known.entry(key).or_insert(s)
            }
        };
        deliveries.extend(subscriptions.deliveries(event));
    }
    Ok(FanoutAnswer {
        version: subscription::version(store)?,
        deliveries,
        rejected,
    })
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

/// Where and how to deliver, as the registry knows it now: `{version, webhooks:{id:{url,
/// secrets, enabled, format, batch_size, credential?}}, clients:{client_id:{uri,
/// session_required, enabled}}}`; `version` is the subscription version it was read at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(default)]
    pub version: i64,
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
    Ok(Targets {
        version: subscription::version(store)?,
        webhooks,
        clients,
    })
}
