//! The admin routes that run inside a connection's object (the Worker forwards
//! `/admin/v1/connections/{id}/…` here once the registry knows the connection): `POST /init`,
//! `GET`/`PATCH /connection`, tokens, setup links, the event log and the mapping.

use serde_json::{json, Value};

use crate::api::http::{HttpRequest, HttpResponse, ORIGIN_HEADER};
use crate::api::json::{admin_error, parse};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::{
    connection_id, describe, init, setup, to_value, token, update, InitRequest, UpdateConnection,
};
use crate::service::event;
use crate::service::store::{transact, Store};

/// Admin operations routed into the connection's object: `POST /init`, `GET`/`PATCH /connection`,
/// `POST /tokens`, `GET /tokens`, `DELETE /tokens/{id}`, `POST /setup-links`. The admin token was
/// checked by the caller.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first() == Some(&"mapping") {
        return super::mapping::handle(store, random, now, request, &segments);
    }
    let result = transact(store, || {
        let (status, body, event) = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["init"]) => {
                let r = parse::<InitRequest>(request)?;
                init(store, &r.id, &r.name, &r.created_at)?;
                let event = ("connection.created", json!({"name": r.name}));
                (201, json!({"ok": true}), Some(event))
            }
            ("POST", ["tokens"]) => {
                let r = parse::<token::IssueTokenRequest>(request)?;
                let t = token::issue(store, random, now, r.scopes, r.expires_in)?;
                // The event names the token, never its secret.
                let data =
                    json!({"token_id": t.id, "scopes": t.scopes, "expires_at": t.expires_at});
                (201, to_value(&t)?, Some(("token.created", data)))
            }
            ("GET", ["tokens"]) => (
                200,
                json!({"tokens": to_value(&token::list(store)?)?}),
                None,
            ),
            ("DELETE", ["tokens", id]) => {
                token::revoke(store, now, id)?;
                (
                    204,
                    Value::Null,
                    Some(("token.revoked", json!({"token_id": id}))),
                )
            }
            ("GET", ["connection"]) => (200, describe(store, now)?, None),
            ("PATCH", ["connection"]) => {
                let u = parse::<UpdateConnection>(request)?;
                let changes = json!({"name": u.name, "settings": u.settings});
                update(store, &u)?;
                (
                    200,
                    describe(store, now)?,
                    Some(("connection.updated", changes)),
                )
            }
            ("POST", ["setup-links"]) => {
                let body = parse::<setup::CreateLink>(request)?;
                let public_origin = request.header(ORIGIN_HEADER).unwrap_or_default();
                let link = setup::create(store, random, now, public_origin, &body)?;
                // The URL carries the link's secret: only its expiry goes in the log.
                let data = json!({"expires_at": to_value(&link)?.get("expires_at")});
                (201, to_value(&link)?, Some(("setup_link.created", data)))
            }
            ("GET", ["events"]) => (
                200,
                event::list(
                    store,
                    connection_id(store).as_deref(),
                    request.query_param("after"),
                    request.query_param("limit"),
                )?,
                None,
            ),
            _ => {
                return Err(ScimError::not_found(format!(
                    "No admin route {}.",
                    request.path
                )))
            }
        };
        if let Some((kind, data)) = event {
            event::record(store, random, now, kind, request.origin("admin"), data)?;
        }
        Ok((status, body))
    });
    match result {
        Ok((204, _)) => HttpResponse::empty(204),
        Ok((status, body)) => HttpResponse::plain_json(status, &body),
        Err(e) => admin_error(&e),
    }
}
