//! The admin routes that run in the registry's object (the Worker forwards `/admin/v1/…`
//! there): connections, webhook endpoints, OIDC clients, dead letters, the registry's event log,
//! and the queue consumer's internal calls.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::json::{admin_error, parse};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::delivery::message::TargetKind;
use crate::service::delivery::outbound_url::OutboundPolicy;
use crate::service::delivery::subscription::{self, SubscriptionsQuery};
use crate::service::delivery::{dead_letter, fanout, oidc_client, verdict, webhook};
use crate::service::event;
use crate::service::migration::migrate_registry;
use crate::service::registry::{self, is_connection_id, ConnectionIdKey, KeyError};
use crate::service::store::{transact, Store};

/// `POST /connections` and `PATCH /connections/{id}`: `{"name"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateConnection {
    name: String,
}

/// The answer to `POST /admin/v1/connections` while `CONNECTION_ID_KEY` is missing or too short:
/// 503 `{"error": "connection_id_key_missing", "message"}`, the message naming the secret and
/// how to make one. Nothing is created: without the key no id could be verified later.
pub fn id_key_unusable(e: &KeyError) -> HttpResponse {
    HttpResponse::plain_json(
        503,
        &serde_json::json!({
            "error": "connection_id_key_missing",
            "message": format!(
                "Connections cannot be created: {e}. Set the CONNECTION_ID_KEY secret to a \
                 random value of at least {} bytes (e.g. `openssl rand -hex 32`).",
                registry::connection_id::MIN_KEY_BYTES
            ),
        }),
    )
}

/// The registry's routes, as the edge forwards them (`/admin/v1/webhooks…` arrives as
/// `/webhooks…`):
///
/// - `POST|GET /connections`, `GET|PATCH|DELETE /connections/{id}`
/// - `POST|GET /webhooks`, `GET|PATCH|DELETE /webhooks/{id}`, `POST /webhooks/{id}/rotate-secret`
/// - `POST|GET /clients`, `GET|PATCH|DELETE /clients/{client_id}`
/// - `GET /webhooks/{id}/dead-letters`, `POST /webhooks/{id}/dead-letters/replay`, and the same
///   under `/clients/{client_id}`
/// - `GET /events`: the registry's log (webhook.*, client.*, connection.deleted), whose events
///   reach the webhook endpoints that take every connection's events
/// - `POST /internal/subscriptions` `{connection_id}`: a connection's [`subscription::Subscriptions`],
///   for its object's own fan-out
/// - `POST /internal/fanout`, `POST /internal/targets`, `POST /internal/attempts`: for the queue
///   consumer only (see [`delivery`](super::delivery))
///
/// `outbound` says which webhook and logout URLs may be registered (see
/// [`outbound_url`](crate::service::delivery::outbound_url)); `id_key` is the deployment's
/// `CONNECTION_ID_KEY`, which makes connection ids: without a usable one, `POST /connections`
/// is the 503 of [`id_key_unusable`] and everything else works.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    id_key: Result<&ConnectionIdKey, &KeyError>,
    now: Timestamp,
    origin: &str,
    outbound: OutboundPolicy,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    if let (Err(e), "POST", ["connections"]) = (id_key, request.method.as_str(), &segments[..]) {
        return id_key_unusable(e);
    }
    let admin = request.origin("admin");
    let result = transact(store, || {
        migrate_registry(store)?;
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["connections"]) => match id_key {
                Ok(key) => parse::<CreateConnection>(request)
                    .and_then(|b| registry::create(store, random, key, now, origin, &b.name))
                    .map(|v| (201, v)),
                // Answered above, before the transaction.
                Err(e) => Err(ScimError::internal_because(e.to_string())),
            },
            ("GET", ["connections"]) => {
                registry::list(store, origin, request.page()).map(|v| (200, v))
            }
            ("GET", ["connections", id]) => registry::get(store, origin, id).map(|v| (200, v)),
            ("PATCH", ["connections", id]) => parse::<CreateConnection>(request)
                .and_then(|b| registry::rename(store, origin, id, &b.name))
                .map(|v| (200, v)),
            ("DELETE", ["connections", id]) => {
                registry::delete(store, random, now, admin, id).map(|()| (204, Value::Null))
            }
            ("POST", ["webhooks"]) => {
                webhook::create(store, random, now, admin, parse(request)?, outbound)
                    .map(|v| (201, v))
            }
            ("GET", ["webhooks"]) => webhook::list(store, now, request.page()).map(|v| (200, v)),
            ("GET", ["webhooks", id]) => webhook::get(store, now, id).map(|v| (200, v)),
            ("PATCH", ["webhooks", id]) => {
                webhook::update(store, random, now, id, admin, parse(request)?, outbound)
                    .map(|v| (200, v))
            }
            ("DELETE", ["webhooks", id]) => {
                webhook::delete(store, random, now, id, admin).map(|()| (204, Value::Null))
            }
            ("POST", ["webhooks", id, "rotate-secret"]) => {
                webhook::rotate_secret(store, random, now, id, admin).map(|v| (200, v))
            }
            ("POST", ["clients"]) => {
                oidc_client::create(store, random, now, admin, parse(request)?, outbound)
                    .map(|v| (201, v))
            }
            ("GET", ["clients"]) => oidc_client::list(store, request.page()).map(|v| (200, v)),
            ("GET", ["clients", id]) => oidc_client::get(store, id).map(|v| (200, v)),
            ("PATCH", ["clients", id]) => {
                oidc_client::update(store, random, now, id, admin, parse(request)?, outbound)
                    .map(|v| (200, v))
            }
            ("DELETE", ["clients", id]) => {
                oidc_client::delete(store, random, now, id, admin).map(|()| (204, Value::Null))
            }
            ("GET", [collection, id, "dead-letters"]) => match target_kind(collection) {
                Some(kind) => dead_letter::list(store, kind, id, request.page()).map(|v| (200, v)),
                None => Err(no_route(request)),
            },
            ("POST", [collection, id, "dead-letters", "replay"]) => match target_kind(collection) {
                Some(kind) => {
                    dead_letter::replay(store, random, now, kind, id, admin, parse(request)?)
                        .map(|v| (202, v))
                }
                None => Err(no_route(request)),
            },
            ("GET", ["events"]) => event::list(
                store,
                None,
                request.query_param("after"),
                request.query_param("limit"),
            )
            .map(|v| (200, v)),
            ("POST", ["internal", "fanout"]) => {
                fanout::fanout(store, parse(request)?).and_then(|a| answer(&a))
            }
            ("POST", ["internal", "subscriptions"]) => {
                let query: SubscriptionsQuery = parse(request)?;
                if !query.connection_id.as_deref().is_none_or(is_connection_id) {
                    return Err(ScimError::invalid_value(
                        "connection_id is not a connection id.",
                    ));
                }
                subscription::of_connection(store, query.connection_id.as_deref())
                    .and_then(|s| answer(&s))
            }
            ("POST", ["internal", "targets"]) => {
                fanout::targets(store, now, parse(request)?).and_then(|t| answer(&t))
            }
            ("POST", ["internal", "attempts"]) => {
                let system = request.origin("system");
                verdict::attempts(store, random, now, system, parse(request)?)
                    .and_then(|a| answer(&a))
            }
            _ => Err(no_route(request)),
        }
    });
    match result {
        Ok((204, _)) => HttpResponse::empty(204),
        Ok((status, body)) => HttpResponse::plain_json(status, &body),
        Err(e) => admin_error(&e),
    }
}

/// A typed answer of an internal route, as its JSON, with status 200.
fn answer(body: &impl Serialize) -> Result<(u16, Value), ScimError> {
    serde_json::to_value(body)
        .map(|v| (200, v))
        .map_err(|e| ScimError::internal_because(e.to_string()))
}

fn no_route(request: &HttpRequest) -> ScimError {
    ScimError::not_found(format!(
        "No admin route {} {}.",
        request.method, request.path
    ))
}

/// The target collection a dead-letter path is under.
fn target_kind(collection: &str) -> Option<TargetKind> {
    match collection {
        "webhooks" => Some(TargetKind::Webhook),
        "clients" => Some(TargetKind::Logout),
        _ => None,
    }
}
