//! The mapping's admin routes (`/admin/v1/connections/{id}/mapping`): `GET`, `PUT`, `DELETE`
//! (back to the default for the IdP kind) and `POST /preview` `{"user", "mapping"?}`.

use serde_json::{json, Value};

use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::json::admin_error;
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::connection::settings;
use crate::service::mapping::view::{self, stored, ProfileView};
use crate::service::mapping::Mapping;
use crate::service::store::{transact, Store};

/// Admin: `GET /mapping`, `PUT /mapping`, `DELETE /mapping` (back to the default),
/// `POST /mapping/preview` `{"user": <SCIM user>}`.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    request: &HttpRequest,
    segments: &[&str],
) -> HttpResponse {
    let result = transact(store, || match (request.method.as_str(), segments) {
        ("GET", ["mapping"]) => describe(store),
        ("PUT", ["mapping"]) => {
            let body = json_object(request)?;
            let mapping = Mapping::parse(&body)?;
            view::save(store, random, now, request.origin("admin"), mapping)?;
            describe(store)
        }
        ("DELETE", ["mapping"]) => {
            view::reset(store, random, now, request.origin("admin"))?;
            describe(store)
        }
        ("POST", ["mapping", "preview"]) => {
            let body = json_object(request)?;
            let (mapping, _) = match body.get("mapping") {
                Some(m) => (Mapping::parse(m)?, false),
                None => stored(store)?,
            };
            let sample = body.get("user").filter(|u| u.is_object()).ok_or_else(|| {
                ScimError::invalid_value("preview needs a \"user\" object (a SCIM user).")
            })?;
            let view = ProfileView {
                mapping,
                identifier: settings::load(store)?.user_identifier,
            };
            Ok(json!({"profile": view.profile(sample)}))
        }
        _ => Err(ScimError::not_found(format!(
            "No admin route {}.",
            request.path
        ))),
    });
    match result {
        Ok(body) => HttpResponse::plain_json(200, &body),
        Err(e) => admin_error(&e),
    }
}

fn describe(store: &dyn Store) -> Result<Value, ScimError> {
    let (mapping, is_default) = stored(store)?;
    Ok(json!({"mapping": mapping, "is_default": is_default}))
}

fn json_object(request: &HttpRequest) -> Result<Value, ScimError> {
    let body: Value = serde_json::from_slice(&request.body)
        .map_err(|e| ScimError::invalid_value(format!("Invalid JSON body: {e}.")))?;
    if body.is_object() {
        Ok(body)
    } else {
        Err(ScimError::invalid_value(
            "The request body must be a JSON object.",
        ))
    }
}
