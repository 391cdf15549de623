//! The admin routes that run inside a connection's object (the Worker forwards
//! `/admin/v1/connections/{id}/…` here once the registry knows the connection): `POST /init`,
//! `GET`/`PATCH /connection`, tokens, setup links, the event log, the SCIM request log and the
//! mapping.

use serde_json::{json, Value};

use crate::api::http::{HttpRequest, HttpResponse, ORIGIN_HEADER};
use crate::api::json::{admin_error, parse};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::{self, connection_id, describe, to_value, token};
use crate::service::event;
use crate::service::request_log;
use crate::service::request_log::read::PageQuery;
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
    let admin = request.origin("admin");
    let result = transact(store, || {
        let answer = match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["init"]) => {
                connection::create(store, random, now, admin, &parse(request)?)?;
                (201, json!({"ok": true}))
            }
            ("POST", ["tokens"]) => {
                let body = parse(request)?;
                let issued = connection::issue_token(store, random, now, admin, &body)?;
                (201, to_value(&issued)?)
            }
            ("GET", ["tokens"]) => (200, json!({"tokens": to_value(&token::list(store)?)?})),
            ("DELETE", ["tokens", id]) => {
                connection::revoke_token(store, random, now, admin, id)?;
                (204, Value::Null)
            }
            ("GET", ["connection"]) => (200, describe(store, now)?),
            ("PATCH", ["connection"]) => {
                connection::change(store, random, now, admin, &parse(request)?)?;
                (200, describe(store, now)?)
            }
            ("POST", ["setup-links"]) => {
                let body = parse(request)?;
                let public_origin = request.header(ORIGIN_HEADER).unwrap_or_default();
                let link =
                    connection::create_setup_link(store, random, now, admin, public_origin, &body)?;
                (201, to_value(&link)?)
            }
            ("GET", ["requests"]) => (200, request_log::read::list(store, &page_query(request))?),
            ("GET", ["requests", "summary"]) => (200, request_log::read::summary(store)?),
            ("GET", ["requests", id]) => (200, request_log::read::get(store, id)?),
            ("GET", ["events"]) => (
                200,
                event::list(
                    store,
                    connection_id(store).as_deref(),
                    request.query_param("after"),
                    request.query_param("limit"),
                )?,
            ),
            _ => {
                return Err(ScimError::not_found(format!(
                    "No admin route {}.",
                    request.path
                )))
            }
        };
        Ok(answer)
    });
    match result {
        Ok((204, _)) => HttpResponse::empty(204),
        Ok((status, body)) => HttpResponse::plain_json(status, &body),
        Err(e) => admin_error(&e),
    }
}

/// `?after=&limit=&status=&method=&resource_id=` of the request log.
fn page_query(request: &HttpRequest) -> PageQuery<'_> {
    PageQuery {
        after: request.query_param("after"),
        limit: request.query_param("limit"),
        status: request.query_param("status"),
        method: request.query_param("method"),
        resource_id: request.query_param("resource_id"),
    }
}
