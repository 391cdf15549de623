//! Deprovisioning receipts (service::session::receipt), in the connection's object: the admin
//! routes the Worker forwards from `/admin/v1/connections/{id}/deprovisionings…`, and the queue
//! consumer's internal reports, which the Worker never forwards (`/internal/…` is reachable
//! only through the object's stub).

use serde::Serialize;
use serde_json::Value;

use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::json::{admin_error, parse};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::identity::connection_id;
use crate::service::session::receipt::jws::{self, Prepared, ReceiptSigner, UnsignedReceipt};
use crate::service::session::receipt::{self, report, stats};
use crate::service::store::{transact, Store};

/// An admin answer, or a receipt that the edge signs first ([`finish`] makes its answer).
pub enum Answer {
    Done(HttpResponse),
    Sign(UnsignedReceipt),
}

/// The admin routes below `/deprovisionings` (the admin token was checked by the Worker):
///
/// - `GET /deprovisionings?after=<receipt id>&limit=` (1 to 200, default 50): newest first,
///   `{deprovisionings: [receipt…], next_after}`; 400 `invalid_request` for a bad limit or an
///   unknown cursor.
/// - `GET /deprovisionings/stats`: `{count, p50_ms, p95_ms, window}` over the last 1,000
///   completed receipts.
/// - `GET /deprovisionings/{receipt_id}`: the receipt with `jws` (ES256 compact JWS, RFC 7515,
///   verifiable with `/.well-known/jwks.json`) and `jws_unavailable_reason`; 404 `not_found`
///   when this connection has no such receipt.
///
/// Anything else is 404 `not_found`.
pub fn handle(
    store: &dyn Store,
    now: Timestamp,
    request: &HttpRequest,
    signer: ReceiptSigner<'_>,
) -> Answer {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let answer = match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["deprovisionings"]) => receipt::list(store, request.page()),
        ("GET", ["deprovisionings", "stats"]) => stats::stats(store),
        ("GET", ["deprovisionings", id]) => {
            let found = receipt::get(store, id);
            let connection = connection_id(store).unwrap_or_default();
            return match found {
                Ok(found) => {
                    let body = found.to_json(Some(&connection));
                    let iat = now.0.div_euclid(1000);
                    match jws::prepare(body, &connection, signer, iat) {
                        Prepared::Ready(body) => Answer::Done(HttpResponse::plain_json(200, &body)),
                        Prepared::Unsigned(unsigned) => Answer::Sign(unsigned),
                    }
                }
                Err(e) => Answer::Done(admin_error(&e)),
            };
        }
        _ => Err(ScimError::not_found(format!(
            "No admin route {} {}.",
            request.method, request.path
        ))),
    };
    Answer::Done(match answer {
        Ok(body) => HttpResponse::plain_json(200, &body),
        Err(e) => admin_error(&e),
    })
}

/// The answer for a receipt once the edge has signed it (or failed to: `jws` is then `null`
/// and `jws_unavailable_reason` says why).
pub fn finish(unsigned: UnsignedReceipt, signature: Result<Vec<u8>, String>) -> HttpResponse {
    HttpResponse::plain_json(200, &unsigned.finish(signature))
}

/// The queue consumer's reports, each in one transaction (see
/// [`report`](crate::service::session::receipt::report)):
///
/// - `POST /internal/deprovisionings/expected` `{at_ms, events: [{event_id, logouts}]}`
/// - `POST /internal/deprovisionings/attempts` `{at_ms, attempts: [attempt…]}`
///
/// Both answer `{completed: [receipt id…]}`.
pub fn internal(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let result = transact(store, || {
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["deprovisionings", "expected"]) => {
                report::expect(store, random, now, parse(request)?).and_then(|a| to_value(&a))
            }
            ("POST", ["deprovisionings", "attempts"]) => {
                report::attempts(store, random, now, parse(request)?).and_then(|a| to_value(&a))
            }
            _ => Err(ScimError::not_found(format!(
                "No internal route {} {}.",
                request.method, request.path
            ))),
        }
    });
    match result {
        Ok(body) => HttpResponse::plain_json(200, &body),
        Err(e) => admin_error(&e),
    }
}

fn to_value(body: &impl Serialize) -> Result<Value, ScimError> {
    serde_json::to_value(body).map_err(|e| ScimError::internal_because(e.to_string()))
}
