//! The messages the queue carries between the objects and the consumer, and the consumer's
//! report of each attempt: one set of types for the producer and the consumer.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
