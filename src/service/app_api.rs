//! The SaaS app's runtime API for one connection (`/v1/connections/{id}/…`, its own secret):
//! users as mapped profiles, groups, a user's groups, import of existing app users, and the
//! sessions and refresh tokens the app registers so deactivation ends them (service::session).
//! Also the admin side of the mapping (`/admin/v1/connections/{id}/mapping`).

use serde::Deserialize;
use serde_json::{json, Value};

use super::clock::{Random, Timestamp};
use super::connection::{admin_error, parse};
use super::event::{self, Origin, REQUEST_ID_HEADER};
use super::group;
use super::http::{HttpRequest, HttpResponse};
use super::listing;
use super::mapping::{IdpKind, Mapping};
use super::membership;
use super::session;
use super::settings;
use super::store::{opt_text, text, transact, Store};
use super::user::{self, Ctx};
use crate::scim::ScimError;

/// Largest page of `/v1` lists, and most users one import may carry.
pub const MAX_PAGE: i64 = 200;
pub const MAX_IMPORT: usize = 1000;
/// Who the events of this API name as their actor.
const APP_ACTOR: &str = "app";

/// The connection's mapping: the one the admin set, else the default for its IdP kind.
pub fn mapping(store: &dyn Store) -> Result<(Mapping, bool), ScimError> {
    let row = store.query_one("SELECT value FROM setting WHERE key = 'mapping'", &[])?;
    if let Some(raw) = row.and_then(|r| opt_text(&r, 0)) {
        let value: Value = serde_json::from_str(&raw)
            .map_err(|e| ScimError::internal_because(format!("stored mapping unreadable: {e}")))?;
        return Ok((Mapping::parse(&value)?, false));
    }
    let kind = IdpKind::parse(&settings::load(store)?.idp).unwrap_or(IdpKind::Generic);
    Ok((Mapping::default_for(kind), true))
}

/// Admin: `GET /mapping`, `PUT /mapping`, `DELETE /mapping` (back to the default),
/// `POST /mapping/preview` `{"user": <SCIM user>}`.
pub fn handle_mapping_admin(
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
            let raw = serde_json::to_string(&mapping)
                .map_err(|e| ScimError::internal_because(e.to_string()))?;
            store.execute(
                "INSERT INTO setting (key, value) VALUES ('mapping', ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[raw.into()],
            )?;
            event::record(
                store,
                random,
                now,
                "mapping.updated",
                Origin::new("admin", request),
                json!({"mapping": mapping}),
            )?;
            describe(store)
        }
        ("DELETE", ["mapping"]) => {
            store.execute("DELETE FROM setting WHERE key = 'mapping'", &[])?;
            let origin = Origin::new("admin", request);
            event::record(store, random, now, "mapping.reset", origin, json!({}))?;
            describe(store)
        }
        ("POST", ["mapping", "preview"]) => {
            let body = json_object(request)?;
            let (mapping, _) = match body.get("mapping") {
                Some(m) => (Mapping::parse(m)?, false),
                None => mapping(store)?,
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
    let (mapping, is_default) = mapping(store)?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRequest {
    users: Vec<Value>,
}

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
        ("POST", ["users", "import"]) => import(store, random, &ctx, request).map(|v| (200, v)),
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
    let origin = Origin::new(APP_ACTOR, request);
    match (request.method.as_str(), segments) {
        ("POST", ["sessions"]) => Ok((
            201,
            session::register_session(store, random, now, origin, request)?,
        )),
        ("DELETE", ["sessions", sid]) => {
            let sid = session::decode_segment(sid);
            session::logout_session(store, random, now, origin, &sid).map(|()| (204, Value::Null))
        }
        ("POST", ["refresh-tokens"]) => Ok((
            201,
            session::register_refresh_token(store, random, now, origin, request)?,
        )),
        ("DELETE", ["refresh-tokens", id]) => {
            session::revoke_refresh_token(store, random, now, origin, id)
                .map(|()| (204, Value::Null))
        }
        ("POST", ["introspect"]) => {
            let view = ProfileView::load(store)?;
            let subject = |u: &user::StoredUser| Ok(view.subject(&u.to_scim(ctx.base_url)));
            Ok((200, session::introspect(store, now, request, &subject)?))
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
        ("GET", ["users"]) => list_users(store, ctx, &view, request),
        ("GET", ["users", id]) => Ok(view.profile(&user::get(store, id)?.to_scim(ctx.base_url))),
        ("GET", ["users", id, "groups"]) => {
            user::get(store, id)?;
            let groups: Vec<Value> = membership::groups_of(store, id)?
                .into_iter()
                .map(|(id, name)| json!({"id": id, "name": name}))
                .collect();
            Ok(json!({"groups": groups}))
        }
        ("GET", ["groups"]) => list_groups(store, request),
        ("GET", ["groups", id]) => {
            let g = group::get(store, id, true)?;
            Ok(group_json(&g))
        }
        _ => Err(ScimError::not_found(format!(
            "No route {} {}.",
            request.method, request.path
        ))),
    }
}

/// A rendered SCIM user as the app sees it through this connection's mapping.
pub fn profile_of(store: &dyn Store, user: &Value) -> Result<Value, ScimError> {
    Ok(ProfileView::load(store)?.profile(user))
}

/// The user's identifier in the app (see [`ProfileView`]), falling back to the SCIM `id` when
/// the user has none: the `sub` of introspection and of `user.sessions_revoked`.
pub fn subject_of(store: &dyn Store, user: &Value) -> Result<String, ScimError> {
    Ok(ProfileView::load(store)?.subject(user))
}

/// How the app sees a user: the mapped profile, plus `identifier`, the value of the attribute
/// the connection's `user_identifier` setting names (`userName` or `externalId`): the key the
/// app matches its own user records on.
struct ProfileView {
    mapping: Mapping,
    identifier: String,
}

impl ProfileView {
    fn load(store: &dyn Store) -> Result<ProfileView, ScimError> {
        Ok(ProfileView {
            mapping: mapping(store)?.0,
            identifier: settings::load(store)?.user_identifier,
        })
    }

    fn subject(&self, user: &Value) -> String {
        user.get(&self.identifier)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| user.get("id").and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    }

    fn profile(&self, user: &Value) -> Value {
        let mut profile = self.mapping.to_profile(user);
        if let Value::Object(fields) = &mut profile {
            let identifier = user.get(&self.identifier).cloned().unwrap_or(Value::Null);
            fields.insert("identifier".into(), identifier);
        }
        profile
    }
}

fn group_json(g: &group::StoredGroup) -> Value {
    let mut out = json!({
        "id": g.id,
        "name": g.resource.get("displayName").cloned().unwrap_or(Value::Null),
        "external_id": g.resource.get("externalId").cloned().unwrap_or(Value::Null),
    });
    if let Some(members) = &g.members {
        out["members"] = members
            .iter()
            .map(|m| json!({"id": m.value, "type": m.kind.to_lowercase()}))
            .collect();
    }
    out
}

/// `limit` (1–200) and `after` (an id from the previous page) in creation order.
fn cursor(store: &dyn Store, table: &str, request: &HttpRequest) -> Result<(i64, i64), ScimError> {
    listing::cursor(
        store,
        table,
        request.query_param("limit"),
        request.query_param("after"),
        (50, MAX_PAGE),
    )
}

/// `GET /users?limit=&after=&email=&username=&external_id=&active=`: mapped profiles. `username`,
/// `external_id` and `active` select on indexed columns; `email` compares the mapped profile.
fn list_users(
    store: &dyn Store,
    ctx: &Ctx,
    view: &ProfileView,
    request: &HttpRequest,
) -> Result<Value, ScimError> {
    let (limit, after) = cursor(store, "user", request)?;
    let mut condition = String::from("seq > ?");
    let mut params = vec![after.into()];
    if let Some(name) = request.query_param("username") {
        condition.push_str(" AND user_name_key = ?");
        params.push(name.to_lowercase().into());
    }
    if let Some(external_id) = request.query_param("external_id") {
        condition.push_str(" AND external_id = ?");
        params.push(external_id.into());
    }
    if let Some(active) = request.query_param("active") {
        let active = match active {
            "true" => true,
            "false" => false,
            other => {
                return Err(ScimError::invalid_value(format!(
                    "active must be true or false, got '{other}'."
                )))
            }
        };
        condition.push_str(" AND active = ?");
        params.push(active.into());
    }
    let email = request.query_param("email").map(str::to_lowercase);
    let rows = store.query(
        &format!("SELECT id FROM user WHERE {condition} ORDER BY seq"),
        &params,
    )?;
    let mut users = Vec::new();
    let mut more = false;
    for row in &rows {
        let found = user::get(store, &text(row, 0)?)?;
        let profile = view.profile(&found.to_scim(ctx.base_url));
        let wanted = email.as_deref().is_none_or(|e| {
            profile
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_lowercase)
                .as_deref()
                == Some(e)
        });
        if !wanted {
            continue;
        }
        if users.len() as i64 == limit {
            more = true;
            break;
        }
        users.push(profile);
    }
    let next = if more {
        users.last().and_then(|u| u.get("user_id")).cloned()
    } else {
        None
    };
    Ok(json!({"users": users, "next_after": next}))
}

fn list_groups(store: &dyn Store, request: &HttpRequest) -> Result<Value, ScimError> {
    let (limit, after) = cursor(store, "scim_group", request)?;
    let rows = store.query(
        "SELECT id FROM scim_group WHERE seq > ? ORDER BY seq LIMIT ?",
        &[after.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let mut groups = Vec::new();
    for row in rows.iter().take(limit as usize) {
        let g = group::get(store, &text(row, 0)?, false)?;
        groups.push(group_json(&g));
    }
    let next = if more {
        groups.last().and_then(|g| g.get("id")).cloned()
    } else {
        None
    };
    Ok(json!({"groups": groups, "next_after": next}))
}

/// `POST /users/import` `{"users": [<app profile>, …]}`: each profile is reverse-mapped to a
/// SCIM user and created on its own (one bad profile does not stop the rest). A profile whose
/// `userName` or `externalId` already exists is reported, not duplicated — so an IdP that later
/// matches by either finds the imported user.
fn import(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    request: &HttpRequest,
) -> Result<Value, ScimError> {
    let body: ImportRequest = parse(request)?;
    if body.users.len() > MAX_IMPORT {
        return Err(ScimError::new(
            413,
            None,
            format!("At most {MAX_IMPORT} users per import."),
        ));
    }
    let (mapping, _) = transact(store, || mapping(store))?;
    let mut results = Vec::new();
    let (mut created, mut failed) = (0, 0);
    for (index, profile) in body.users.iter().enumerate() {
        let outcome = mapping.to_scim(profile).and_then(|(scim, ignored)| {
            transact(store, || {
                let created = user::create(store, ctx, random, &scim)?;
                let data = json!({"user_id": created.id, "via": "import"});
                let origin = Origin::new(APP_ACTOR, request);
                event::record(store, random, ctx.now, "user.created", origin, data)?;
                Ok::<_, ScimError>(created)
            })
            .map(|u| (u, ignored))
        });
        match outcome {
            Ok((u, ignored)) => {
                created += 1;
                results.push(json!({"index": index, "status": "created", "user_id": u.id, "ignored_fields": ignored}));
            }
            Err(e) => {
                failed += 1;
                let status = if e.status == 409 { "exists" } else { "invalid" };
                results.push(json!({"index": index, "status": status, "message": e.detail}));
            }
        }
    }
    Ok(json!({"created": created, "failed": failed, "results": results}))
}
