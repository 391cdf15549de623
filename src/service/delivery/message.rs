//! The messages the queue carries between the objects and the consumer, and the consumer's
//! report of each attempt: one set of types for the producer and the consumer.
//!
//! Two kinds of message travel on the `EVENTS` queue ([`QueueMessage`]):
//!
//! - an event [`Envelope`] (`{"id": "evt_…", "type", …}`), sent by an object from its outbox;
//! - a [`DeliveryMessage`] (`{"kind": "webhook" | "logout", "target", "event", "attempt", …}`):
//!   one attempt to send one [`Delivery`].
//!
//! A leaf module: it uses no other module of the crate, so every producer and consumer can.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The public form of an event, as webhooks, the queue and the event log carry it:
/// `{id, type, connection_id, occurred_at, sequence, actor, request_id, data}`.
///
/// The registry's own events belong to no connection: they have no `connection_id` member at
/// all (absent, not null). `request_id` is always there, null when the event had none. `data`
/// is always there in an envelope as the outbox builds it; the fan-out request leaves it out
/// (absent) of envelopes whose routing does not need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    pub occurred_at: String,
    pub sequence: Option<i64>,
    pub actor: String,
    pub request_id: Option<String>,
    /// `None` when absent; a `data: null` member is `Some(Value::Null)`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<Value>,
}

/// A member that is there, even as `null`, is `Some` (serde's `Option` makes `null` `None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// The event type whose routing needs the envelope's `data` (the revoked sessions).
pub const SESSIONS_REVOKED: &str = "user.sessions_revoked";

impl Envelope {
    /// The envelope as the fan-out routes it: without its `data`, which only
    /// `user.sessions_revoked` needs (its sessions name the logouts).
    pub fn for_routing(&self) -> Envelope {
        Envelope {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            connection_id: self.connection_id.clone(),
            occurred_at: self.occurred_at.clone(),
            sequence: self.sequence,
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            data: match self.event_type.as_str() {
                SESSIONS_REVOKED => self.data.clone(),
                _ => None,
            },
        }
    }
}

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

/// A delivery on the queue: the [`Delivery`] and the number of this attempt at it (1-based; a
/// message without one is a first attempt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    #[serde(flatten)]
    pub delivery: Delivery,
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// The registry's subscription version the delivery was made with
    /// (service::delivery::subscription): the consumer's cached targets must be at least this
    /// new. 0 (absent): any.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subscription_version: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn first_attempt() -> u32 {
    1
}

/// One message of the `EVENTS` queue, serialised as the bare envelope or delivery message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Event(Envelope),
    Delivery(DeliveryMessage),
}

/// Which queue a message travels on. Revocation never waits behind bulk traffic: the
/// `user.sessions_revoked` event and every back-channel logout have a queue and a consumer of
/// their own, so a large sync anywhere cannot delay a logout. And a connection sending more than
/// its fair share of webhook deliveries (see service::delivery::fairness), like retries, goes to
/// `BACKFILL`, so one tenant's backlog never delays another's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// `LOGOUTS`: `user.sessions_revoked` events and logout deliveries.
    Revocation,
    /// `EVENTS`: every other event and every webhook delivery, first attempts of connections
    /// within their fair share.
    Bulk,
    /// `BACKFILL`: webhook deliveries of connections past their fair share, and retries.
    Backfill,
}

impl Lane {
    /// The lane of an event of type `kind`.
    pub fn of_event_type(kind: &str) -> Lane {
        if kind == SESSIONS_REVOKED {
            Lane::Revocation
        } else {
            Lane::Bulk
        }
    }

    /// The queue binding of the lane (wrangler.toml `[[queues.producers]]`).
    pub fn binding(self) -> &'static str {
        match self {
            Lane::Revocation => "LOGOUTS",
            Lane::Bulk => "EVENTS",
            Lane::Backfill => "BACKFILL",
        }
    }

    /// Every lane, in the order a sender sends them (revocation first).
    pub const ALL: [Lane; 3] = [Lane::Revocation, Lane::Bulk, Lane::Backfill];
}

impl QueueMessage {
    /// The queue this message travels on when it is sent again after a failed attempt: a
    /// logout keeps its lane; a webhook retry goes to `BACKFILL`, behind no one's first attempt.
    pub fn retry_lane(&self) -> Lane {
        match self.lane() {
            Lane::Revocation => Lane::Revocation,
            Lane::Bulk | Lane::Backfill => Lane::Backfill,
        }
    }

    /// The queue this message travels on when first sent: its own lane (`BACKFILL` is chosen by
    /// the sender, never here).
    pub fn lane(&self) -> Lane {
        match self {
            QueueMessage::Event(e) => Lane::of_event_type(&e.event_type),
            QueueMessage::Delivery(d) => match d.delivery {
                Delivery::Logout { .. } => Lane::Revocation,
                Delivery::Webhook { .. } => Lane::Bulk,
            },
        }
    }

    /// Tells the two kinds apart as they always were: a string `kind` member makes a delivery,
    /// otherwise a string `id` an event; anything else is no queue message.
    pub fn parse(text: &str) -> Result<QueueMessage, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let has = |name: &str| value.get(name).and_then(Value::as_str).is_some();
        if has("kind") {
            serde_json::from_value(value)
                .map(QueueMessage::Delivery)
                .map_err(|e| format!("not a delivery: {e}"))
        } else if has("id") {
            serde_json::from_value(value)
                .map(QueueMessage::Event)
                .map_err(|e| format!("not an event envelope: {e}"))
        } else {
            Err("neither an event nor a delivery".to_owned())
        }
    }

    /// The message as the queue carries it.
    pub fn to_json(&self) -> String {
        // Cannot fail: every map in these types has string keys.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// One attempt to send a delivery, as the queue consumer reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    pub delivery: Delivery,
    /// 1-based.
    pub attempt: u32,
    pub ok: bool,
    /// The HTTP status the target answered with, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// Why the attempt failed (a network error, a timeout, the start of the response body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    #[test]
    fn revocation_has_its_own_lane() {
        let event = |kind: &str| {
            QueueMessage::parse(
                &json!({"id": "evt_1", "type": kind, "occurred_at": "t", "sequence": 1,
                        "actor": "a", "request_id": null, "data": {}})
                .to_string(),
            )
            .unwrap()
        };
        assert_eq!(event(SESSIONS_REVOKED).lane(), Lane::Revocation);
        assert_eq!(event("user.deactivated").lane(), Lane::Bulk);
        let delivery = |kind: &str| {
            QueueMessage::parse(
                &json!({"kind": kind, "target": "t", "event": {}, "sub": "u", "sid": null})
                    .to_string(),
            )
        };
        assert_eq!(delivery("logout").unwrap().lane(), Lane::Revocation);
        assert_eq!(Lane::Revocation.binding(), "LOGOUTS");
        assert_eq!(Lane::Bulk.binding(), "EVENTS");
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

    fn connection_envelope() -> Value {
        json!({
            "id": "evt_1",
            "type": "user.created",
            "connection_id": "con_1",
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "sequence": 7,
            "actor": "token:tok_1",
            "request_id": "req_1",
            "data": {"id": "u1", "resource": {"userName": "a"}},
        })
    }

    /// The registry's own events: no `connection_id` member at all, and `request_id` null.
    fn registry_envelope() -> Value {
        json!({
            "id": "evt_2",
            "type": "webhook.created",
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "sequence": 1,
            "actor": "admin",
            "request_id": null,
            "data": null,
        })
    }

    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(v: &Value) -> Value {
        let typed: T = serde_json::from_value(v.clone()).unwrap();
        serde_json::to_value(&typed).unwrap()
    }

    #[test]
    fn envelopes_round_trip_exactly() {
        for v in [connection_envelope(), registry_envelope()] {
            assert_eq!(round_trip::<Envelope>(&v), v);
        }
        let e: Envelope = serde_json::from_value(registry_envelope()).unwrap();
        assert_eq!(e.connection_id, None);
        assert_eq!(e.request_id, None);
        assert_eq!(e.data, Some(Value::Null), "data: null stays a member");
        // Absent data (a routing envelope) stays absent.
        let mut slim = connection_envelope();
        slim.as_object_mut().unwrap().remove("data");
        assert_eq!(round_trip::<Envelope>(&slim), slim);
    }

    #[test]
    fn envelopes_need_their_header_members() {
        for member in ["id", "type", "occurred_at", "actor"] {
            let mut v = connection_envelope();
            v.as_object_mut().unwrap().remove(member);
            assert!(serde_json::from_value::<Envelope>(v).is_err(), "{member}");
        }
        let mut v = connection_envelope();
        v["connection_id"] = json!(5);
        assert!(serde_json::from_value::<Envelope>(v).is_err());
    }

    #[test]
    fn routing_envelopes_keep_data_for_revoked_sessions_only() {
        let e: Envelope = serde_json::from_value(connection_envelope()).unwrap();
        let slim = serde_json::to_value(e.for_routing()).unwrap();
        let mut expected = connection_envelope();
        expected.as_object_mut().unwrap().remove("data");
        assert_eq!(slim, expected);
        let mut revoked = connection_envelope();
        revoked["type"] = json!("user.sessions_revoked");
        let e: Envelope = serde_json::from_value(revoked.clone()).unwrap();
        assert_eq!(serde_json::to_value(e.for_routing()).unwrap(), revoked);
    }

    #[test]
    fn queue_messages_are_told_apart_by_kind_then_id() {
        let event = connection_envelope();
        match QueueMessage::parse(&event.to_string()).unwrap() {
            QueueMessage::Event(e) => assert_eq!(e.id, "evt_1"),
            other => panic!("{other:?}"),
        }
        let delivery = json!({"kind": "webhook", "target": "wh_1", "event": event, "attempt": 3});
        match QueueMessage::parse(&delivery.to_string()).unwrap() {
            QueueMessage::Delivery(d) => {
                assert_eq!(d.attempt, 3);
                assert_eq!(d.delivery.target(), "wh_1");
                assert_eq!(d.delivery.event(), &event);
            }
            other => panic!("{other:?}"),
        }
        // A delivery has a `kind` even when it has an `id` too; without `attempt` it is the
        // first.
        let logout = json!({"kind": "logout", "id": "x", "target": "web", "event": {},
                            "sub": "u1", "sid": null});
        match QueueMessage::parse(&logout.to_string()).unwrap() {
            QueueMessage::Delivery(d) => {
                assert_eq!(d.attempt, 1);
                assert_eq!(
                    d.delivery,
                    Delivery::Logout {
                        target: "web".into(),
                        event: json!({}),
                        sub: Some("u1".into()),
                        sid: None
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        for garbage in [
            "",
            "{",
            "null",
            "[]",
            "\"evt_1\"",
            r#"{"kind": 1, "id": 2}"#,
            r#"{"type": "user.created"}"#,
            r#"{"kind": "sms", "target": "t", "event": {}}"#,
            r#"{"kind": "webhook", "event": {}}"#,
            r#"{"kind": "webhook", "target": "t", "event": {}, "attempt": "2"}"#,
            r#"{"id": "evt_1"}"#,
        ] {
            assert!(QueueMessage::parse(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn queue_messages_serialise_as_they_always_did() {
        for v in [connection_envelope(), registry_envelope()] {
            let m = QueueMessage::parse(&v.to_string()).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&m.to_json()).unwrap(), v);
        }
        for v in [
            json!({"kind": "webhook", "target": "wh_1", "event": registry_envelope(), "attempt": 1}),
            json!({"kind": "logout", "target": "web", "event": connection_envelope(),
                   "sub": "u1", "sid": "s1", "attempt": 4}),
            json!({"kind": "logout", "target": "web", "event": {}, "sub": null, "sid": null,
                   "attempt": 2}),
        ] {
            let m = QueueMessage::parse(&v.to_string()).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&m.to_json()).unwrap(), v);
        }
    }

    #[test]
    fn attempts_leave_out_what_they_do_not_know() {
        let delivery = Delivery::Webhook {
            target: "wh_1".into(),
            event: json!({"id": "evt_1"}),
        };
        let ok = Attempt {
            delivery: delivery.clone(),
            attempt: 2,
            ok: true,
            status: Some(204),
            error: None,
        };
        let v = serde_json::to_value(&ok).unwrap();
        assert_eq!(
            v,
            json!({"delivery": {"kind": "webhook", "target": "wh_1", "event": {"id": "evt_1"}},
                   "attempt": 2, "ok": true, "status": 204})
        );
        assert_eq!(round_trip::<Attempt>(&v), v);
        let failed = Attempt {
            delivery,
            attempt: 1,
            ok: false,
            status: None,
            error: Some("request failed: timeout".into()),
        };
        let v = serde_json::to_value(&failed).unwrap();
        assert_eq!(v["error"], "request failed: timeout");
        assert!(v.get("status").is_none());
        assert_eq!(round_trip::<Attempt>(&v), v);
    }
}
