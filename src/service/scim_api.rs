//! One connection's SCIM endpoint: authentication, routing below the base URL, and the mapping
//! of outcomes to HTTP (RFC 7644 §3).

use super::bulk;
use super::clock::{Random, Timestamp};
use super::group::{self, StoredGroup};
use super::http::{HttpRequest, HttpResponse};
use super::list_params::{projection_of, ListParams};
use super::listing::ListQuery;
use super::rate_limit::Bucket;
use super::settings;
use super::store::{transact, Store};
use super::token::{self, Principal};
use super::user::{self, Ctx, StoredUser};
use crate::scim::discovery::{self, RESOURCE_KINDS};
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;

/// Handles one SCIM request for a connection without rate limiting (host tests, tools).
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    handle_limited(store, random, &mut Bucket::new(), base_url, now, request)
}

/// Handles one SCIM request for a connection: authentication, the connection's rate limit (one
/// token of `limiter` per authenticated request), then the operation. All of its writes commit
/// together, or none do.
pub fn handle_limited(
    store: &dyn Store,
    random: &mut dyn Random,
    limiter: &mut Bucket,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    let ctx = Ctx { base_url, now };
    let admitted = transact(store, || {
        let principal = token::authenticate(store, now, request.header("authorization"))?;
        limiter.take(now, settings::load(store)?.rate_limit)?;
        Ok::<_, ScimError>(principal)
    });
    let principal = match admitted {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    let is_bulk = request.method.eq_ignore_ascii_case("POST")
        && request
            .path
            .trim_end_matches('/')
            .eq_ignore_ascii_case("/Bulk");
    if is_bulk {
        // Each operation of a Bulk request is atomic on its own (RFC 7644 §3.7).
        let mut run = |sub: &HttpRequest| {
            transact(store, || route(store, random, &ctx, &principal, sub))
                .unwrap_or_else(HttpResponse::from)
        };
        return bulk::handle(request, base_url, &mut run).unwrap_or_else(HttpResponse::from);
    }
    let outcome = transact(store, || route(store, random, &ctx, &principal, request));
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
            &discovery::service_provider_config(
                base,
                bulk::MAX_OPERATIONS,
                super::http::MAX_BODY_BYTES,
            ),
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
        (_, ["Users", ..]) => users(store, random, ctx, principal, request, &method, &segments),
        (_, ["Groups", ..]) => groups(store, random, ctx, principal, request, &method, &segments),
        ("POST", [".search"]) => search_all(store, ctx, principal, request),
        (_, ["Bulk"] | [".search"]) => Err(not_allowed(&method, request, "POST")),
        (_, ["ServiceProviderConfig" | "ResourceTypes" | "Schemas"])
        | (_, ["ResourceTypes" | "Schemas", _]) => Err(not_allowed(&method, request, "GET")),
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
        .items
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

fn not_allowed(method: &str, request: &HttpRequest, allow: &'static str) -> ScimError {
    ScimError::method_not_allowed(
        format!(
            "{method} is not supported on {}; use {allow}.",
            request.path
        ),
        allow,
    )
}

/// `/Users` and `/Users/{id}`.
fn users(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
    method: &str,
    segments: &[&str],
) -> Result<HttpResponse, ScimError> {
    let kind = ResourceKind::User;
    let scope = if method == "GET" || segments.get(1) == Some(&".search") {
        "read:users"
    } else {
        "write:users"
    };
    require(principal, scope)?;
    let base = ctx.base_url;
    let if_match = request.header("if-match");
    match (method, segments) {
        (m, [_, ".search"]) if m != "POST" => Err(not_allowed(method, request, "POST")),
        ("GET", [_]) => {
            let (query, projection) = ListParams::from_query(request)?.into_query(kind)?;
            list_users(store, ctx, &query, &projection)
        }
        ("POST", [_, ".search"]) => {
            let params = ListParams::from_body(&request.json_body()?)?;
            let (query, projection) = params.into_query(kind)?;
            list_users(store, ctx, &query, &projection)
        }
        ("POST", [_]) => {
            let projection = projection_of(request, kind)?;
            let created = user::create(store, ctx, random, &request.json_body()?)?;
            Ok(user_response(201, &created, base, &projection)
                .with_header("location", format!("{base}/Users/{}", created.id)))
        }
        ("GET", [_, id]) => {
            let projection = projection_of(request, kind)?;
            let found = user::get(store, id)?;
            if not_modified(request, &found.etag()) {
                return Ok(HttpResponse::empty(304).with_header("etag", found.etag()));
            }
            Ok(user_response(200, &found, base, &projection))
        }
        ("PUT", [_, id]) => {
            let projection = projection_of(request, kind)?;
            let updated = user::replace(store, ctx, id, if_match, &request.json_body()?)?;
            Ok(user_response(200, &updated, base, &projection))
        }
        ("PATCH", [_, id]) => {
            let projection = projection_of(request, kind)?;
            let updated = user::modify(store, ctx, id, if_match, &request.json_body()?)?;
            Ok(user_response(200, &updated, base, &projection))
        }
        ("DELETE", [_, id]) => {
            user::delete(store, ctx, id, if_match)?;
            Ok(HttpResponse::empty(204))
        }
        (_, [_]) => Err(not_allowed(method, request, "GET, POST")),
        (_, [_, _]) => Err(not_allowed(method, request, "GET, PUT, PATCH, DELETE")),
        _ => Err(ScimError::not_found(format!(
            "No SCIM endpoint at '{}'.",
            request.path
        ))),
    }
}

/// `If-None-Match` on GET (RFC 7644 §3.14).
fn not_modified(request: &HttpRequest, etag: &str) -> bool {
    request.header("if-none-match").is_some_and(|tags| {
        tags.split(',')
            .map(str::trim)
            .any(|t| t == etag || t == "*")
    })
}

/// `/Groups` and `/Groups/{id}`.
fn groups(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
    method: &str,
    segments: &[&str],
) -> Result<HttpResponse, ScimError> {
    let kind = ResourceKind::Group;
    let scope = if method == "GET" || segments.get(1) == Some(&".search") {
        "read:groups"
    } else {
        "write:groups"
    };
    require(principal, scope)?;
    let base = ctx.base_url;
    let if_match = request.header("if-match");
    let list = |query: &ListQuery, projection: &Projection| {
        let with_members = projection.wants(kind, "members");
        let page = group::list(store, ctx, query, with_members)?;
        let resources = page
            .items
            .iter()
            .map(|g| {
                let mut body = g.to_scim(base);
                projection.apply(kind, &mut body);
                body
            })
            .collect();
        Ok(HttpResponse::scim_json(
            200,
            &discovery::list_response(resources, page.total_results, page.start_index),
        ))
    };
    let respond = |status: u16, found: &StoredGroup, projection: &Projection| {
        let mut body = found.to_scim(base);
        projection.apply(kind, &mut body);
        HttpResponse::scim_json(status, &body).with_header("etag", found.etag())
    };
    match (method, segments) {
        (m, [_, ".search"]) if m != "POST" => Err(not_allowed(method, request, "POST")),
        ("GET", [_]) => {
            let (query, projection) = ListParams::from_query(request)?.into_query(kind)?;
            list(&query, &projection)
        }
        ("POST", [_, ".search"]) => {
            let params = ListParams::from_body(&request.json_body()?)?;
            let (query, projection) = params.into_query(kind)?;
            list(&query, &projection)
        }
        ("POST", [_]) => {
            let projection = projection_of(request, kind)?;
            let created = group::create(store, ctx, random, &request.json_body()?)?;
            Ok(respond(201, &created, &projection)
                .with_header("location", format!("{base}/Groups/{}", created.id)))
        }
        ("GET", [_, id]) => {
            let projection = projection_of(request, kind)?;
            let found = group::get(store, id, projection.wants(kind, "members"))?;
            if not_modified(request, &found.etag()) {
                return Ok(HttpResponse::empty(304).with_header("etag", found.etag()));
            }
            Ok(respond(200, &found, &projection))
        }
        ("PUT", [_, id]) => {
            let projection = projection_of(request, kind)?;
            let with_members = projection.wants(kind, "members");
            let body = request.json_body()?;
            let updated = group::replace(store, ctx, id, if_match, &body, with_members)?;
            Ok(respond(200, &updated, &projection))
        }
        ("PATCH", [_, id]) => {
            let projection = projection_of(request, kind)?;
            let with_members = projection.wants(kind, "members");
            let body = request.json_body()?;
            let updated = group::modify(store, ctx, id, if_match, &body, with_members)?;
            Ok(respond(200, &updated, &projection))
        }
        ("DELETE", [_, id]) => {
            group::delete(store, ctx, id, if_match)?;
            Ok(HttpResponse::empty(204))
        }
        (_, [_]) => Err(not_allowed(method, request, "GET, POST")),
        (_, [_, _]) => Err(not_allowed(method, request, "GET, PUT, PATCH, DELETE")),
        _ => Err(ScimError::not_found(format!(
            "No SCIM endpoint at '{}'.",
            request.path
        ))),
    }
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): Users, then Groups, as one paged result over
/// the types the token may read. A sort orders each type's results.
fn search_all(
    store: &dyn Store,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let can_read = |scope: &str| principal.scopes.iter().any(|s| s == scope);
    if !can_read("read:users") && !can_read("read:groups") {
        return Err(ScimError::forbidden(
            "This token lacks the 'read:users' and 'read:groups' scopes.",
        ));
    }
    let params = ListParams::from_body(&request.json_body()?)?;
    let (query, user_projection) = params.clone().into_query_across(ResourceKind::User)?;
    let (_, group_projection) = params.into_query_across(ResourceKind::Group)?;
    let mut resources = Vec::new();
    let mut total = 0;
    // Items before the page still to skip, and room left on it.
    let mut skip = query.start_index - 1;
    let mut room = query.count;
    if can_read("read:users") {
        let page = user::list(
            store,
            ctx,
            &ListQuery {
                start_index: skip + 1,
                count: room,
                ..query.clone()
            },
        )?;
        for u in &page.items {
            let mut body = u.to_scim(ctx.base_url);
            user_projection.apply(ResourceKind::User, &mut body);
            resources.push(body);
        }
        total += page.total_results;
        room -= page.items.len() as i64;
        skip = (skip - page.total_results).max(0);
    }
    if can_read("read:groups") {
        let with_members = group_projection.wants(ResourceKind::Group, "members");
        let page = group::list(
            store,
            ctx,
            &ListQuery {
                start_index: skip + 1,
                count: room,
                ..query.clone()
            },
            with_members,
        )?;
        for g in &page.items {
            let mut body = g.to_scim(ctx.base_url);
            group_projection.apply(ResourceKind::Group, &mut body);
            resources.push(body);
        }
        total += page.total_results;
    }
    Ok(HttpResponse::scim_json(
        200,
        &discovery::list_response(resources, total, query.start_index),
    ))
}
