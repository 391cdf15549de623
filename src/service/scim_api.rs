//! One connection's SCIM endpoint: authentication, routing below the base URL, and the mapping
//! of outcomes to HTTP (RFC 7644 §3).

use serde_json::Value;

use super::clock::{Random, Timestamp};
use super::http::{HttpRequest, HttpResponse};
use super::store::{transact, Store};
use super::token::{self, Principal};
use super::user::{self, Ctx, ListQuery, StoredUser};
use crate::scim::discovery::{self, MAX_RESULTS, RESOURCE_KINDS};
use crate::scim::filter;
use crate::scim::ScimError;

/// Handles one SCIM request for a connection. All of its writes commit together, or none do.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    let ctx = Ctx { base_url, now };
    let outcome = transact(store, || {
        let principal = token::authenticate(store, now, request.header("authorization"))?;
        route(store, random, &ctx, &principal, request)
    });
    outcome.unwrap_or_else(HttpResponse::from)
}

fn require(principal: &Principal, scope: &str) -> Result<(), ScimError> {
    if principal.scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(ScimError::forbidden(format!(
            "This token lacks the '{scope}' scope."
        )))
    }
}

fn route(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method.to_ascii_uppercase();
    let base = ctx.base_url;
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["ServiceProviderConfig"]) => Ok(HttpResponse::scim_json(
            200,
            &discovery::service_provider_config(base, super::http::MAX_BODY_BYTES),
        )),
        ("GET", ["ResourceTypes"]) => {
            let types = RESOURCE_KINDS
                .iter()
                .map(|k| discovery::resource_type(*k, base))
                .collect::<Vec<_>>();
            let total = types.len() as i64;
            Ok(HttpResponse::scim_json(
                200,
                &discovery::list_response(types, total, 1),
            ))
        }
        ("GET", ["ResourceTypes", name]) => RESOURCE_KINDS
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
            .map(|k| HttpResponse::scim_json(200, &discovery::resource_type(*k, base)))
            .ok_or_else(|| ScimError::not_found(format!("Resource type '{name}' not found."))),
        ("GET", ["Schemas"]) => {
            let schemas = discovery::schemas()
                .iter()
                .map(|s| s.to_json(base))
                .collect::<Vec<_>>();
            let total = schemas.len() as i64;
            Ok(HttpResponse::scim_json(
                200,
                &discovery::list_response(schemas, total, 1),
            ))
        }
        ("GET", ["Schemas", id]) => discovery::schemas()
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
            .map(|s| HttpResponse::scim_json(200, &s.to_json(base)))
            .ok_or_else(|| ScimError::not_found(format!("Schema '{id}' not found."))),
        ("GET", ["Users"]) => {
            require(principal, "read:users")?;
            let query = list_query_from_params(request)?;
            list_users(store, ctx, &query)
        }
        ("POST", ["Users", ".search"]) | ("POST", [".search"]) => {
            require(principal, "read:users")?;
            let query = list_query_from_body(&request.json_body()?)?;
            list_users(store, ctx, &query)
        }
        ("POST", ["Users"]) => {
            require(principal, "write:users")?;
            let created = user::create(store, ctx, random, &request.json_body()?)?;
            Ok(user_response(201, &created, base)
                .with_header("location", format!("{base}/Users/{}", created.id)))
        }
        ("GET", ["Users", id]) => {
            require(principal, "read:users")?;
            let found = user::get(store, id)?;
            if let Some(tags) = request.header("if-none-match") {
                if tags
                    .split(',')
                    .map(str::trim)
                    .any(|t| t == found.etag() || t == "*")
                {
                    return Ok(HttpResponse::empty(304).with_header("etag", found.etag()));
                }
            }
            Ok(user_response(200, &found, base))
        }
        ("PUT", ["Users", id]) => {
            require(principal, "write:users")?;
            let body = request.json_body()?;
            let updated = user::replace(store, ctx, id, request.header("if-match"), &body)?;
            Ok(user_response(200, &updated, base))
        }
        ("PATCH", ["Users", id]) => {
            require(principal, "write:users")?;
            let body = request.json_body()?;
            let updated = user::modify(store, ctx, id, request.header("if-match"), &body)?;
            Ok(user_response(200, &updated, base))
        }
        ("DELETE", ["Users", id]) => {
            require(principal, "write:users")?;
            user::delete(store, id, request.header("if-match"))?;
            Ok(HttpResponse::empty(204))
        }
        (_, ["Users"] | ["Users", _]) => Err(ScimError::method_not_allowed(format!(
            "{method} is not supported on {}.",
            request.path
        ))),
        (_, ["Bulk"]) => Err(ScimError::not_implemented(
            "Bulk is not supported by this service provider (see ServiceProviderConfig).",
        )),
        (_, ["Groups", ..]) => Err(ScimError::not_found(
            "Groups are not served yet (see ResourceTypes).",
        )),
        _ => Err(ScimError::not_found(format!(
            "No SCIM endpoint at '{}'.",
            request.path
        ))),
    }
}

fn user_response(status: u16, found: &StoredUser, base: &str) -> HttpResponse {
    HttpResponse::scim_json(status, &found.to_scim(base)).with_header("etag", found.etag())
}

fn list_users(store: &dyn Store, ctx: &Ctx, query: &ListQuery) -> Result<HttpResponse, ScimError> {
    let page = user::list(store, ctx, query)?;
    let resources = page.users.iter().map(|u| u.to_scim(ctx.base_url)).collect();
    Ok(HttpResponse::scim_json(
        200,
        &discovery::list_response(resources, page.total_results, page.start_index),
    ))
}

/// Parses `startIndex` / `count` (RFC 7644 §3.4.2.4): integers; `startIndex` below 1 means 1,
/// a negative `count` means 0, and `count` is capped at [`MAX_RESULTS`].
fn paging(start: Option<i64>, count: Option<i64>) -> (i64, i64) {
    let start = start.unwrap_or(1).max(1);
    let count = count.unwrap_or(MAX_RESULTS).clamp(0, MAX_RESULTS);
    (start, count)
}

fn integer_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, ScimError> {
    raw.map(|v| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got '{v}'.")))
    })
    .transpose()
}

fn parse_filter(raw: Option<&str>) -> Result<Option<filter::Filter>, ScimError> {
    match raw {
        None => Ok(None),
        Some(f) if f.trim().is_empty() => Ok(None),
        Some(f) => Ok(Some(filter::parse_filter(f)?)),
    }
}

fn list_query_from_params(request: &HttpRequest) -> Result<ListQuery, ScimError> {
    let start = integer_param("startIndex", request.query_param("startIndex"))?;
    let count = integer_param("count", request.query_param("count"))?;
    let (start_index, count) = paging(start, count);
    Ok(ListQuery {
        filter: parse_filter(request.query_param("filter"))?,
        start_index,
        count,
    })
}

/// The body of `POST /.search` (RFC 7644 §3.4.3).
fn list_query_from_body(body: &Value) -> Result<ListQuery, ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("A search body must be a JSON object."))?;
    let get = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let int = |name: &str| -> Result<Option<i64>, ScimError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer."))),
        }
    };
    let filter = match get("filter") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) => parse_filter(Some(f))?,
        Some(_) => return Err(ScimError::invalid_filter("filter must be a string.")),
    };
    let (start_index, count) = paging(int("startIndex")?, int("count")?);
    Ok(ListQuery {
        filter,
        start_index,
        count,
    })
}
