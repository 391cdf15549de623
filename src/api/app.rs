//! The SaaS app's runtime API for one connection (`/v1/connections/{id}/…`, its own secret):
//! users as mapped profiles, groups, a user's groups, import of existing app users, and the
//! sessions and refresh tokens the app registers so deactivation ends them (service::session).

use serde_json::{json, Value};

use super::http::{HttpRequest, HttpResponse, REQUEST_ID_HEADER};
use super::json::{admin_error, parse};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::directory::profiles::{self, ImportRequest, UserQuery};
use crate::service::directory::user::{self, Ctx};
use crate::service::directory::{group, membership};
use crate::service::mapping::view::ProfileView;
use crate::service::session;
use crate::service::store::{transact, Store};

/// Who the events of this API name as their actor.
const APP_ACTOR: &str = "app";

/// The app's runtime API below `/v1/connections/{id}`; the app secret was checked by the caller.
pub fn handle(
    store: &dyn Store,
    random: &mut dyn Random,
    base_url: &str,
    now: Timestamp,
    request: &HttpRequest,
) -> HttpResponse {
    let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
    let ctx = Ctx {
        base_url,
        now,
        request_id: request.header(REQUEST_ID_HEADER),
    };
    let result = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["users", "import"]) => parse::<ImportRequest>(request)
            .and_then(|body| {
                profiles::import(store, random, &ctx, request.origin(APP_ACTOR), &body)
            })
            .map(|v| (200, v)),
        (_, _) => transact(store, || route(store, random, &ctx, request, &segments)),
    };
    match result {
        Ok((204, _)) => HttpResponse::empty(204),
        Ok((status, body)) => HttpResponse::plain_json(status, &body),
        Err(e) => admin_error(&e),
    }
}

/// The routes that run in one transaction; `Ok((status, body))`, 204 without a body.
fn route(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    request: &HttpRequest,
    segments: &[&str],
) -> Result<(u16, Value), ScimError> {
    let now = ctx.now;
    let origin = request.origin(APP_ACTOR);
    match (request.method.as_str(), segments) {
        ("POST", ["sessions"]) => Ok((
            201,
            session::register_session(store, random, now, origin, parse(request)?)?,
        )),
        ("DELETE", ["sessions", sid]) => {
            let sid = session::decode_segment(sid);
            session::logout_session(store, random, now, origin, &sid).map(|()| (204, Value::Null))
        }
        ("POST", ["refresh-tokens"]) => Ok((
            201,
            session::register_refresh_token(store, random, now, origin, parse(request)?)?,
        )),
        ("DELETE", ["refresh-tokens", id]) => {
            session::revoke_refresh_token(store, random, now, origin, id)
                .map(|()| (204, Value::Null))
        }
        ("POST", ["introspect"]) => {
            let view = ProfileView::load(store)?;
            let subject = |u: &user::StoredUser| Ok(view.subject(&u.to_scim(ctx.base_url)));
            Ok((
                200,
                session::introspect(store, now, parse(request)?, &subject)?,
            ))
        }
        ("GET", ["users", id, "sessions"]) => {
            let exists = user::get(store, id).is_ok();
            Ok((200, session::of_user(store, now, id, exists)?))
        }
        ("GET", _) => read(store, ctx, request, segments).map(|v| (200, v)),
        _ => Err(ScimError::not_found(format!(
            "No route {} {}.",
            request.method, request.path
        ))),
    }
}

/// The read-only routes: users as mapped profiles, groups, a user's groups.
fn read(
    store: &dyn Store,
    ctx: &Ctx,
    request: &HttpRequest,
    segments: &[&str],
) -> Result<Value, ScimError> {
    let view = ProfileView::load(store)?;
    match (request.method.as_str(), segments) {
        ("GET", ["users"]) => {
            let query = UserQuery {
                page: request.page(),
                username: request.query_param("username"),
                external_id: request.query_param("external_id"),
                active: request.query_param("active"),
                email: request.query_param("email"),
            };
            profiles::list_users(store, ctx.base_url, &view, &query)
        }
        ("GET", ["users", id]) => Ok(view.profile(&user::get(store, id)?.to_scim(ctx.base_url))),
        ("GET", ["users", id, "groups"]) => {
            user::get(store, id)?;
            let groups: Vec<Value> = membership::groups_of(store, id)?
                .into_iter()
                .map(|(id, name)| json!({"id": id, "name": name}))
                .collect();
            Ok(json!({"groups": groups}))
        }
        ("GET", ["groups"]) => profiles::list_groups(store, request.page()),
        ("GET", ["groups", id]) => {
            let g = group::get(store, id, true)?;
            Ok(profiles::group_json(&g))
        }
        _ => Err(ScimError::not_found(format!(
            "No route {} {}.",
            request.method, request.path
        ))),
    }
}
