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
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::sort::Sort;
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
            let (query, projection) =
                ListParams::from_query(request)?.into_query(ResourceKind::User)?;
            list_users(store, ctx, &query, &projection)
        }
        ("POST", ["Users", ".search"]) | ("POST", [".search"]) => {
            require(principal, "read:users")?;
            let params = ListParams::from_body(&request.json_body()?)?;
            let (query, projection) = params.into_query(ResourceKind::User)?;
            list_users(store, ctx, &query, &projection)
        }
        ("POST", ["Users"]) => {
            require(principal, "write:users")?;
            let projection = projection_of(request, ResourceKind::User)?;
            let created = user::create(store, ctx, random, &request.json_body()?)?;
            Ok(user_response(201, &created, base, &projection)
                .with_header("location", format!("{base}/Users/{}", created.id)))
        }
        ("GET", ["Users", id]) => {
            require(principal, "read:users")?;
            let projection = projection_of(request, ResourceKind::User)?;
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
            Ok(user_response(200, &found, base, &projection))
        }
        ("PUT", ["Users", id]) => {
            require(principal, "write:users")?;
            let projection = projection_of(request, ResourceKind::User)?;
            let body = request.json_body()?;
            let updated = user::replace(store, ctx, id, request.header("if-match"), &body)?;
            Ok(user_response(200, &updated, base, &projection))
        }
        ("PATCH", ["Users", id]) => {
            require(principal, "write:users")?;
            let projection = projection_of(request, ResourceKind::User)?;
            let body = request.json_body()?;
            let updated = user::modify(store, ctx, id, request.header("if-match"), &body)?;
            Ok(user_response(200, &updated, base, &projection))
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

fn user_response(
    status: u16,
    found: &StoredUser,
    base: &str,
    projection: &Projection,
) -> HttpResponse {
    let mut body = found.to_scim(base);
    projection.apply(ResourceKind::User, &mut body);
    HttpResponse::scim_json(status, &body).with_header("etag", found.etag())
}

fn list_users(
    store: &dyn Store,
    ctx: &Ctx,
    query: &ListQuery,
    projection: &Projection,
) -> Result<HttpResponse, ScimError> {
    let page = user::list(store, ctx, query)?;
    let resources = page
        .users
        .iter()
        .map(|u| {
            let mut body = u.to_scim(ctx.base_url);
            projection.apply(ResourceKind::User, &mut body);
            body
        })
        .collect();
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

/// The list parameters of a request, as the client sent them: from the query string of a GET,
/// or from the body of a `POST /.search` (RFC 7644 §3.4.3).
#[derive(Default)]
struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListParams {
    fn from_query(request: &HttpRequest) -> Result<ListParams, ScimError> {
        let text = |name: &str| request.query_param(name).map(str::to_owned);
        Ok(ListParams {
            filter: text("filter"),
            start_index: integer_param("startIndex", request.query_param("startIndex"))?,
            count: integer_param("count", request.query_param("count"))?,
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            attributes: text("attributes"),
            excluded_attributes: text("excludedAttributes"),
        })
    }

    fn from_body(body: &Value) -> Result<ListParams, ScimError> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("A search body must be a JSON object."))?;
        let get = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
                .filter(|v| !v.is_null())
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    v.as_i64().ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must be an integer."))
                    })
                })
                .transpose()
        };
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            get(name)
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must be a string."))
                    })
                })
                .transpose()
        };
        // `attributes` and `excludedAttributes` are arrays of names in a search body.
        let names = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Some(v.join(",")))
                    .ok_or_else(|| {
                        ScimError::invalid_value(format!("{name} must be an array of strings."))
                    }),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be an array of strings."
                ))),
            }
        };
        if get("filter").is_some_and(|f| !f.is_string()) {
            return Err(ScimError::invalid_filter("filter must be a string."));
        }
        Ok(ListParams {
            filter: text("filter")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            attributes: names("attributes")?,
            excluded_attributes: names("excludedAttributes")?,
        })
    }

    fn into_query(self, kind: ResourceKind) -> Result<(ListQuery, Projection), ScimError> {
        let (start_index, count) = paging(self.start_index, self.count);
        let descending = match self.sort_order.as_deref().map(str::to_ascii_lowercase) {
            None => false,
            Some(order) if order == "ascending" => false,
            Some(order) if order == "descending" => true,
            Some(order) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be 'ascending' or 'descending', got '{order}'."
                )))
            }
        };
        let sort = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(by) => {
                let path = filter::parse_patch_path(by).map_err(|e| {
                    ScimError::invalid_value(format!("Invalid sortBy '{by}': {}", e.message))
                })?;
                if path.filter.is_some() || path.sub_attr.is_some() {
                    return Err(ScimError::invalid_value(format!(
                        "sortBy '{by}' must name an attribute, not a value filter."
                    )));
                }
                Some(Sort {
                    path: path.attr,
                    descending,
                })
            }
        };
        let projection = Projection::parse(
            kind,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )?;
        let filter = match self.filter.as_deref() {
            None => None,
            Some(f) if f.trim().is_empty() => None,
            Some(f) => Some(filter::parse_filter(f)?),
        };
        Ok((
            ListQuery {
                filter,
                start_index,
                count,
                sort,
            },
            projection,
        ))
    }
}

fn integer_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, ScimError> {
    raw.map(|v| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got '{v}'.")))
    })
    .transpose()
}

/// `attributes` / `excludedAttributes` of a single-resource request (RFC 7644 §3.9).
fn projection_of(request: &HttpRequest, kind: ResourceKind) -> Result<Projection, ScimError> {
    Projection::parse(
        kind,
        request.query_param("attributes"),
        request.query_param("excludedAttributes"),
    )
}
