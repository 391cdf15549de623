//! Subscriptions: which deliveries an event makes, from what the registry knows of its targets,
//! as a value that travels. A connection's object keeps the [`Subscriptions`] of its connection
//! and fans its events out itself, straight into deliveries on the queue, without asking the
//! registry per batch; the consumer keeps the targets (URLs, secrets) and refreshes them only
//! when a delivery names a newer [`version`].
//!
//! The registry's `subscription_version` is bumped by triggers on every change to a webhook
//! endpoint or client that fan-out or delivery reads (see service::migration), so every cache
//! can tell whether it is stale. Routing only: no URL, secret or credential is in a
//! [`Subscriptions`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::message::{Delivery, SESSIONS_REVOKED};
use super::oidc_client::{self, Subscriber};
use super::target;
use super::webhook::type_matches;
use crate::scim::ScimError;
use crate::service::store::{opt_text, text, Store};

/// What the events of one connection (or, with no connection, the registry's own) fan out to:
/// `{version, webhooks: [{id, event_types}], clients: [{client_id, session_required}]}`, the
/// enabled targets that cover the connection, in creation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// The registry's `subscription_version` when this was read.
    pub version: i64,
    pub webhooks: Vec<WebhookRoute>,
    pub clients: Vec<Subscriber>,
}

/// An enabled webhook endpoint and the event types it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRoute {
    pub id: String,
    pub event_types: Vec<String>,
}

/// `POST /internal/subscriptions` `{connection_id}` (`null`: the registry's own events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsQuery {
    pub connection_id: Option<String>,
}

/// The registry's current subscription version (1 on a new registry).
pub fn version(store: &dyn Store) -> Result<i64, ScimError> {
    target::subscription_version(store)
}

/// The [`Subscriptions`] of `connection_id`; `None`: the registry's own events, which only the
/// endpoints taking every connection's events receive (and no logout).
pub fn of_connection(
    store: &dyn Store,
    connection_id: Option<&str>,
) -> Result<Subscriptions, ScimError> {
    let rows = store.query(
        "SELECT id, event_types, connection_ids FROM webhook WHERE enabled = 1 ORDER BY seq",
        &[],
    )?;
    let mut webhooks = Vec::new();
    for row in &rows {
        let filter = opt_text(row, 2);
        let covered = match connection_id {
            Some(id) => target::covers(filter.as_deref(), id),
            None => !target::connection_ids_json(filter.as_deref()).is_array(),
        };
        if covered {
            webhooks.push(WebhookRoute {
                id: text(row, 0)?,
                event_types: serde_json::from_str(&text(row, 1)?).unwrap_or_default(),
            });
        }
    }
    let clients = match connection_id {
        Some(id) => oidc_client::subscribers(store, id)?,
        None => Vec::new(),
    };
    Ok(Subscriptions {
        version: version(store)?,
        webhooks,
        clients,
    })
}

fn member<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

impl Subscriptions {
    /// The deliveries of one event envelope: one per webhook endpoint whose `event_types` match
    /// its type and, for `user.sessions_revoked`, the back-channel logouts: one per revoked
    /// session of a subscribed client (`sub` and `sid`), and one `sub`-only logout for each other
    /// subscribed client that does not require a session id. Pure.
    pub fn deliveries(&self, event: &Value) -> Vec<Delivery> {
        let kind = member(event, "type").unwrap_or_default();
        let mut out: Vec<Delivery> = self
            .webhooks
            .iter()
            .filter(|w| w.event_types.iter().any(|p| type_matches(p, kind)))
            .map(|w| Delivery::Webhook {
                target: w.id.clone(),
                event: event.clone(),
            })
            .collect();
        if kind == SESSIONS_REVOKED && member(event, "connection_id").is_some() {
            out.extend(self.logouts(event));
        }
        out
    }

    fn logouts(&self, event: &Value) -> Vec<Delivery> {
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
        let mut out = Vec::new();
        let mut sent: Vec<(&str, &str)> = Vec::new();
        for (client_id, sid) in &sessions {
            let subscribed = self.clients.iter().any(|c| c.client_id == *client_id);
            if subscribed && !sent.contains(&(client_id, sid)) {
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
            for client in &self.clients {
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
        out
    }
}
