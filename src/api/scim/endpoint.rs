//! The SCIM routes of one resource type (`/Users`, `/Groups`): the same protocol for each, over
//! what the type provides (service::directory::resources; RFC 7644 §3.3–§3.6, §3.4.3, §3.9,
//! §3.14).

use serde_json::Value;

use super::list_params::{projection_of, ListParams};
use crate::api::http::{HttpRequest, HttpResponse};
use crate::scim::discovery;
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::service::clock::Random;
use crate::service::connection::token::Principal;
use crate::service::directory::change;
use crate::service::directory::listing::{ListQuery, Page};
use crate::service::directory::resources::{lean, Resources};
use crate::service::directory::user::Ctx;
use crate::service::store::Store;

pub fn require(principal: &Principal, scope: &str) -> Result<(), ScimError> {
    if principal.has(scope) {
        Ok(())
    } else {
        Err(ScimError::forbidden(format!(
            "This token lacks the '{scope}' scope."
        )))
    }
}

/// The attribute of `kind` that holds the other resource type, and the scope that reading it
/// needs: a User's `groups` (group names) needs `read:groups`, a Group's `members` (user names)
/// needs `read:users` (hardening item 4: no scope reads through another).
fn cross_type(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::User => ("groups", "read:groups"),
        ResourceKind::Group => ("members", "read:users"),
    }
}

/// `shown`, without the attribute of the other type when the token may not read that type.
pub fn withheld(principal: &Principal, kind: ResourceKind, shown: Projection) -> Projection {
    let (attr, scope) = cross_type(kind);
    if principal.has(scope) {
        shown
    } else {
        shown.withhold(attr)
    }
}

/// [`withheld`] for a list, which also may not filter or sort on what the token may not read:
/// 403, as for any missing scope.
pub fn scoped(
    principal: &Principal,
    kind: ResourceKind,
    query: &ListQuery,
    shown: Projection,
) -> Result<Projection, ScimError> {
    let (attr, scope) = cross_type(kind);
    if principal.has(scope) {
        return Ok(shown);
    }
    let filters = query.filter.as_ref().is_some_and(|f| f.mentions(attr));
    let sorts = query
        .sort
        .as_ref()
        .is_some_and(|s| s.path.attr.eq_ignore_ascii_case(attr));
    if filters || sorts {
        return Err(ScimError::forbidden(format!(
            "This token lacks the '{scope}' scope needed to filter or sort on '{attr}'."
        )));
    }
    Ok(withheld(principal, kind, shown))
}

pub fn not_allowed(method: &str, request: &HttpRequest, allow: &'static str) -> ScimError {
    ScimError::method_not_allowed(
        format!(
            "{method} is not supported on {}; use {allow}.",
            request.path
        ),
        allow,
    )
}

/// `If-None-Match` on GET (RFC 7644 §3.14), with the weak comparison of RFC 9110 §13.1.2:
/// `"1"` and `W/"1"` match.
fn not_modified(request: &HttpRequest, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    request.header("if-none-match").is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim() == "*" || opaque(t) == opaque(etag))
    })
}

/// A page of resources rendered with a projection, as the ListResponse's `Resources`.
pub fn rendered<R: Resources>(
    page: &Page<R::Item>,
    base_url: &str,
    shown: &Projection,
) -> Vec<Value> {
    page.items
        .iter()
        .map(|item| {
            let mut body = R::render(item, base_url);
            shown.apply(R::KIND, &mut body);
            body
        })
        .collect()
}

fn list_response<R: Resources>(
    store: &dyn Store,
    ctx: &Ctx,
    query: &ListQuery,
    shown: &Projection,
) -> Result<HttpResponse, ScimError> {
    let page = R::list(store, ctx, query, shown)?;
    let resources = rendered::<R>(&page, ctx.base_url, shown);
    Ok(HttpResponse::scim_json(
        200,
        &discovery::list_response(resources, page.total_results, page.start_index),
    ))
}

fn one<R: Resources>(
    status: u16,
    item: &R::Item,
    base_url: &str,
    shown: &Projection,
) -> HttpResponse {
    let mut body = R::render(item, base_url);
    shown.apply(R::KIND, &mut body);
    HttpResponse::scim_json(status, &body).with_header("etag", R::etag(item))
}

/// `/{Resources}` and `/{Resources}/{id}` (and `/{Resources}/.search`) for one resource type;
/// `segments` is the path below the base URL, starting with the endpoint's name.
pub fn route<R: Resources>(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    principal: &Principal,
    request: &HttpRequest,
    method: &str,
    segments: &[&str],
) -> Result<HttpResponse, ScimError> {
    let reading = method == "GET" || segments.get(1) == Some(&".search");
    require(
        principal,
        if reading {
            R::READ_SCOPE
        } else {
            R::WRITE_SCOPE
        },
    )?;
    let base = ctx.base_url;
    let if_match = request.header("if-match");
    match (method, segments) {
        (m, [_, ".search"]) if m != "POST" => Err(not_allowed(method, request, "POST")),
        ("GET", [_]) => {
            let (query, shown) = ListParams::from_query(request)?.into_query(R::KIND)?;
            let shown = scoped(principal, R::KIND, &query, shown)?;
            list_response::<R>(store, ctx, &query, &shown)
        }
        ("POST", [_, ".search"]) => {
            let params = ListParams::from_body(&request.json_body()?)?;
            let (query, shown) = params.into_query(R::KIND)?;
            let shown = scoped(principal, R::KIND, &query, shown)?;
            list_response::<R>(store, ctx, &query, &shown)
        }
        ("POST", [endpoint]) => {
            let shown = withheld(principal, R::KIND, projection_of(request, R::KIND)?);
            let created = R::create(store, ctx, random, &request.json_body()?)?;
            change::record::<R>(store, random, ctx, principal, None, Some(&created))?;
            let location = format!("{base}/{endpoint}/{}", R::id(&created));
            Ok(one::<R>(201, &created, base, &shown).with_header("location", location))
        }
        ("GET", [_, id]) => {
            let shown = withheld(principal, R::KIND, projection_of(request, R::KIND)?);
            let found = R::get(store, id, &shown)?;
            if not_modified(request, &R::etag(&found)) {
                return Ok(HttpResponse::empty(304).with_header("etag", R::etag(&found)));
            }
            Ok(one::<R>(200, &found, base, &shown))
        }
        ("PUT", [_, id]) => {
            let shown = withheld(principal, R::KIND, projection_of(request, R::KIND)?);
            let body = request.json_body()?;
            let before = R::get(store, id, &lean::<R>())?;
            let updated = R::replace(store, ctx, id, if_match, &body, &shown)?;
            change::record::<R>(store, random, ctx, principal, Some(&before), Some(&updated))?;
            Ok(one::<R>(200, &updated, base, &shown))
        }
        ("PATCH", [_, id]) => {
            let shown = withheld(principal, R::KIND, projection_of(request, R::KIND)?);
            let body = request.json_body()?;
            let before = R::get(store, id, &lean::<R>())?;
            let updated = R::modify(store, ctx, id, if_match, &body, &shown)?;
            change::record::<R>(store, random, ctx, principal, Some(&before), Some(&updated))?;
            Ok(one::<R>(200, &updated, base, &shown))
        }
        ("DELETE", [_, id]) => {
            let before = R::get(store, id, &lean::<R>())?;
            R::delete(store, ctx, id, if_match)?;
            change::record::<R>(store, random, ctx, principal, Some(&before), None)?;
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
