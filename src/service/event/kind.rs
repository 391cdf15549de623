//! Every event the service records, as one enum: its type name (`user.created`, …) and a typed
//! payload that serialises to the event's `data`. [`Event::TYPES`] is the list webhook filters
//! and the OpenAPI document accept; it comes from the same declaration as the enum, so a new
//! event cannot be recorded without being listed.
//!
//! The envelope around `data` (`id`, `type`, `connection_id`, `occurred_at`, `sequence`,
//! `actor`, `request_id`) is written by [`super::log`]; payloads never carry a secret (tokens
//! by id, URLs by origin).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::service::mapping::Mapping;

/// Declares [`Event`] with one variant per type name, [`Event::TYPES`] and
/// [`Event::type_name`] from one list.
macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal ($payload:ty), )*) => {
        /// One recorded change; see the module documentation.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $( $(#[$doc])* #[doc = concat!("`", $name, "`")] $variant($payload), )*
        }

        impl Event {
            /// Every event type, in declaration order.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The event's `type`.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $( Event::$variant(_) => $name, )*
                }
            }

            /// The event's `data`.
            pub fn data(&self) -> Result<Value, ScimError> {
                match self {
                    $( Event::$variant(payload) => to_value(payload), )*
                }
            }
        }
    };
}

events! {
    /// A user created through SCIM, or imported through the app API.
    UserCreated = "user.created" (UserCreated),
    UserUpdated = "user.updated" (ResourceChanged),
    /// `active` went from true to false.
    UserDeactivated = "user.deactivated" (ResourceChanged),
    /// `active` went from false to true.
    UserReactivated = "user.reactivated" (ResourceChanged),
    UserDeleted = "user.deleted" (ResourceChanged),
    /// After a deactivation or deletion: what was revoked; drives back-channel logout.
    UserSessionsRevoked = "user.sessions_revoked" (SessionsRevoked),
    /// A deprovisioning receipt completed: every back-channel logout of a deactivation or
    /// deletion delivered or dead-lettered (service::session::receipt).
    UserDeprovisioned = "user.deprovisioned" (Deprovisioned),
    SessionCreated = "session.created" (SessionCreated),
    SessionEnded = "session.ended" (SessionEnded),
    RefreshTokenCreated = "refresh_token.created" (RefreshToken),
    RefreshTokenRevoked = "refresh_token.revoked" (RefreshToken),
    GroupCreated = "group.created" (ResourceChanged),
    GroupUpdated = "group.updated" (ResourceChanged),
    GroupDeleted = "group.deleted" (ResourceChanged),
    GroupMemberAdded = "group.member.added" (MembersChanged),
    GroupMemberRemoved = "group.member.removed" (MembersChanged),
    ConnectionCreated = "connection.created" (ConnectionCreated),
    ConnectionUpdated = "connection.updated" (ConnectionUpdated),
    TokenCreated = "token.created" (TokenCreated),
    TokenRevoked = "token.revoked" (TokenRevoked),
    MappingUpdated = "mapping.updated" (MappingUpdated),
    MappingReset = "mapping.reset" (Empty),
    SetupLinkCreated = "setup_link.created" (SetupLinkCreated),
    /// A SCIM request that failed (status 400 or above), recorded with the request log's entry
    /// (service::request_log), not in the operation's rolled-back transaction.
    ScimRequestFailed = "scim.request.failed" (RequestFailed),
    // The registry's own (admin-plane) events: they carry no `connection_id` and reach only the
    // endpoints that take every connection's events.
    ConnectionDeleted = "connection.deleted" (ConnectionDeleted),
    WebhookCreated = "webhook.created" (WebhookCreated),
    WebhookUpdated = "webhook.updated" (Changes),
    WebhookEnabled = "webhook.enabled" (WebhookId),
    WebhookDisabled = "webhook.disabled" (WebhookDisabled),
    WebhookDeleted = "webhook.deleted" (WebhookId),
    WebhookSecretRotated = "webhook.secret_rotated" (WebhookSecretRotated),
    WebhookDeadLettersReplayed = "webhook.dead_letters_replayed" (WebhookReplayed),
    ClientCreated = "client.created" (ClientCreated),
    ClientUpdated = "client.updated" (Changes),
    ClientDeleted = "client.deleted" (ClientId),
    ClientDeadLettersReplayed = "client.dead_letters_replayed" (ClientReplayed),
}

fn to_value<T: Serialize>(payload: &T) -> Result<Value, ScimError> {
    serde_json::to_value(payload).map_err(|e| ScimError::internal_because(e.to_string()))
}

/// `{}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Empty {}

/// A SCIM resource created, changed or deleted: `{resource_type, id, changed, resource,
/// profile?}`. `changed` lists the attributes whose values differ (sorted); `resource` is the
/// resource after the change (`null` after a deletion); `profile`, for users, is the app's
/// mapped profile of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChanged {
    pub resource_type: &'static str,
    pub id: String,
    pub changed: Vec<String>,
    pub resource: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Value>,
}

/// `user.created`: through SCIM ([`ResourceChanged`]) or by the app's import
/// (`{user_id, via: "import"}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum UserCreated {
    Provisioned(ResourceChanged),
    Imported { user_id: String, via: &'static str },
}

/// `{user_id, subject, reason, sessions: [{sid, client_id}], refresh_tokens: [{id, client_id,
/// sid}]}`: `subject` is the user's identifier in the app; `reason` `deactivated` or `deleted`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionsRevoked {
    pub user_id: String,
    pub subject: String,
    pub reason: &'static str,
    pub sessions: Vec<Value>,
    pub refresh_tokens: Vec<Value>,
}

/// `user.deprovisioned`: `{receipt_id, user_id, reason, counts, outcome, time_to_revoke_ms}`;
/// the receipt itself is at `GET /admin/v1/connections/{id}/deprovisionings/{receipt_id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deprovisioned {
    /// `dpr_` + 24 hex digits.
    pub receipt_id: String,
    pub user_id: String,
    /// `deactivated` or `deleted`.
    pub reason: String,
    pub counts: ReceiptCounts,
    pub outcome: ReceiptOutcome,
    /// Milliseconds from the commit that revoked the sessions to the moment the last
    /// back-channel logout was delivered or dead-lettered.
    pub time_to_revoke_ms: i64,
}

/// What a deprovisioning receipt counts: `{sessions, refresh_tokens, logouts,
/// logouts_delivered, logouts_dead_lettered}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptCounts {
    /// Sessions revoked by the commit.
    pub sessions: usize,
    /// Refresh tokens revoked by the commit.
    pub refresh_tokens: usize,
    /// Back-channel logouts sent (or being sent) for it.
    pub logouts: usize,
    /// Logouts a client acknowledged with a 2xx.
    pub logouts_delivered: usize,
    /// Logouts that exhausted their retries (or whose client was removed).
    pub logouts_dead_lettered: usize,
}

/// How a completed receipt's back-channel logouts went: `no_logouts` (no client was to be
/// told), `all_delivered`, or `some_failed` (at least one was dead-lettered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptOutcome {
    NoLogouts,
    AllDelivered,
    SomeFailed,
}

impl ReceiptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptOutcome::NoLogouts => "no_logouts",
            ReceiptOutcome::AllDelivered => "all_delivered",
            ReceiptOutcome::SomeFailed => "some_failed",
        }
    }

    /// The outcome stored as [`as_str`](Self::as_str) gives.
    pub fn parse(text: &str) -> Option<ReceiptOutcome> {
        [
            ReceiptOutcome::NoLogouts,
            ReceiptOutcome::AllDelivered,
            ReceiptOutcome::SomeFailed,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// `{sid, user_id, client_id, expires_at}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionCreated {
    pub sid: Value,
    pub user_id: Value,
    pub client_id: Value,
    pub expires_at: Value,
}

/// `{sid, user_id, client_id, refresh_tokens: [id]}`: the refresh tokens that ended with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionEnded {
    pub sid: Value,
    pub user_id: Value,
    pub client_id: Value,
    pub refresh_tokens: Vec<String>,
}

/// `{id, user_id, client_id, sid}`: who holds the token, never the token or its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefreshToken {
    pub id: Value,
    pub user_id: Value,
    pub client_id: Value,
    pub sid: Value,
}

/// `{group_id, display_name, members: [{value, type}]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembersChanged {
    pub group_id: String,
    pub display_name: String,
    pub members: Vec<Value>,
}

/// `{name}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionCreated {
    pub name: String,
}

/// `{name, settings}`: what the admin sent (`null` for what it left alone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionUpdated {
    pub name: Option<String>,
    pub settings: Option<Value>,
}

/// `{connection_id, name}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionDeleted {
    pub connection_id: String,
    pub name: Value,
}

/// `{token_id, scopes, expires_at}`: the token by id, never its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenCreated {
    pub token_id: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

/// `{token_id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRevoked {
    pub token_id: String,
}

/// `{mapping}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingUpdated {
    pub mapping: Mapping,
}

/// `{expires_at}`: the link's URL carries its secret, so only its expiry is logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetupLinkCreated {
    pub expires_at: String,
}

/// `{request_id, method, path, query, status, scim_type, detail, request_body?,
/// response_body?}`: what failed and why; the bodies (redacted, masked and capped like the
/// request log's) only when the connection's `request_log.failed_event_bodies` is on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestFailed {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<Value>,
}

/// `{webhook_id, url_origin, description, event_types, connection_ids}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookCreated {
    pub webhook_id: String,
    /// `scheme://host[:port]` only: a path or query may carry a receiver's token.
    pub url_origin: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub connection_ids: Option<Vec<String>>,
    /// The delivery format (`standard_webhooks`, `ndjson`, `datadog`, `splunk_hec`).
    pub format: &'static str,
}

/// `{webhook_id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookId {
    pub webhook_id: String,
}

/// `{webhook_id, reason}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookDisabled {
    pub webhook_id: String,
    pub reason: String,
}

/// `{webhook_id, previous_secret_expires_at}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookSecretRotated {
    pub webhook_id: String,
    pub previous_secret_expires_at: String,
}

/// `{webhook_id, replayed}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookReplayed {
    pub webhook_id: String,
    pub replayed: usize,
}

/// `{client_id, uri_origin, backchannel_logout_session_required, connection_ids}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientCreated {
    pub client_id: String,
    pub uri_origin: String,
    pub backchannel_logout_session_required: bool,
    pub connection_ids: Option<Vec<String>>,
}

/// `{client_id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientId {
    pub client_id: String,
}

/// `{client_id, replayed}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientReplayed {
    pub client_id: String,
    pub replayed: usize,
}

/// An update of a webhook endpoint or client: its id, `changed` (the fields the admin changed)
/// and the new value of each (URLs by origin).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Changes(pub Map<String, Value>);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn types_are_unique_and_name_their_variants() {
        let mut types = Event::TYPES.to_vec();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), Event::TYPES.len());
        let e = Event::TokenRevoked(TokenRevoked {
            token_id: "tok_1".into(),
        });
        assert_eq!(e.type_name(), "token.revoked");
        assert!(Event::TYPES.contains(&e.type_name()));
    }

    #[test]
    fn payloads_serialise_to_the_documented_data() {
        let created = Event::UserCreated(UserCreated::Imported {
            user_id: "u1".into(),
            via: "import",
        });
        assert_eq!(
            created.data().ok(),
            Some(json!({"user_id": "u1", "via": "import"}))
        );
        let deleted = Event::UserDeleted(ResourceChanged {
            resource_type: "User",
            id: "u1".into(),
            changed: vec!["userName".into()],
            resource: None,
            profile: None,
        });
        assert_eq!(
            deleted.data().ok(),
            Some(
                json!({"resource_type": "User", "id": "u1", "changed": ["userName"], "resource": null})
            )
        );
        assert_eq!(Event::MappingReset(Empty {}).data().ok(), Some(json!({})));
        let updated = Event::ConnectionUpdated(ConnectionUpdated {
            name: Some("Acme".into()),
            settings: None,
        });
        assert_eq!(
            updated.data().ok(),
            Some(json!({"name": "Acme", "settings": null}))
        );
    }
}
