//! The SCIM routes of one resource type (`/Users`, `/Groups`): the same protocol for each, over
//! what the type's module provides (RFC 7644 §3.3–§3.6, §3.4.3, §3.9, §3.14).

use serde_json::Value;

use super::clock::Random;
use super::group::{self, StoredGroup};
use super::http::{HttpRequest, HttpResponse};
use super::list_params::{projection_of, ListParams};
use super::listing::{ListQuery, Page};
use super::membership::{Member, MemberChanges};
use super::session;
use super::store::Store;
use super::token::Principal;
use super::user::{self, Ctx, StoredUser};
use crate::scim::discovery;
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;

/// What the routes need of one resource type. `shown` says what the response will carry, so
/// a type can skip loading what is not shown (Group members).
pub trait Resources {
    type Item;
    const KIND: ResourceKind;
    const READ_SCOPE: &'static str;
    const WRITE_SCOPE: &'static str;

    fn list(
        store: &dyn Store,
        ctx: &Ctx,
        query: &ListQuery,
        shown: &Projection,
    ) -> Result<Page<Self::Item>, ScimError>;
    fn get(store: &dyn Store, id: &str, shown: &Projection) -> Result<Self::Item, ScimError>;
    fn create(
        store: &dyn Store,
        ctx: &Ctx,
        random: &mut dyn Random,
        body: &Value,
    ) -> Result<Self::Item, ScimError>;
    fn replace(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
        shown: &Projection,
    ) -> Result<Self::Item, ScimError>;
    fn modify(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
        shown: &Projection,
    ) -> Result<Self::Item, ScimError>;
    fn delete(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError>;
    fn render(item: &Self::Item, base_url: &str) -> Value;
    fn etag(item: &Self::Item) -> String;
    fn id(item: &Self::Item) -> &str;
    /// What the write that returned `item` did to its members, for types that have members.
    fn member_changes(_item: &Self::Item) -> Option<&MemberChanges> {
        None
    }
}

pub struct Users;
pub struct Groups;

impl Resources for Users {
    type Item = StoredUser;
    const KIND: ResourceKind = ResourceKind::User;
    const READ_SCOPE: &'static str = "read:users";
    const WRITE_SCOPE: &'static str = "write:users";

    fn list(
        store: &dyn Store,
        ctx: &Ctx,
        query: &ListQuery,
        _: &Projection,
    ) -> Result<Page<StoredUser>, ScimError> {
        user::list(store, ctx, query)
    }
    fn get(store: &dyn Store, id: &str, _: &Projection) -> Result<StoredUser, ScimError> {
        user::get(store, id)
    }
    fn create(
        store: &dyn Store,
        ctx: &Ctx,
        random: &mut dyn Random,
        body: &Value,
    ) -> Result<StoredUser, ScimError> {
        user::create(store, ctx, random, body)
    }
    fn replace(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
        _: &Projection,
    ) -> Result<StoredUser, ScimError> {
        user::replace(store, ctx, id, if_match, body)
    }
    fn modify(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
        _: &Projection,
    ) -> Result<StoredUser, ScimError> {
        user::modify(store, ctx, id, if_match, body)
    }
    fn delete(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        user::delete(store, ctx, id, if_match)
    }
    fn render(item: &StoredUser, base_url: &str) -> Value {
        item.to_scim(base_url)
    }
    fn etag(item: &StoredUser) -> String {
        item.etag()
    }
    fn id(item: &StoredUser) -> &str {
        &item.id
    }
}

/// Whether a response with this projection shows group members.
fn members_shown(shown: &Projection) -> bool {
    shown.wants(ResourceKind::Group, "members")
}

impl Resources for Groups {
    type Item = StoredGroup;
    const KIND: ResourceKind = ResourceKind::Group;
    const READ_SCOPE: &'static str = "read:groups";
    const WRITE_SCOPE: &'static str = "write:groups";

    fn list(
        store: &dyn Store,
        ctx: &Ctx,
        query: &ListQuery,
        shown: &Projection,
    ) -> Result<Page<StoredGroup>, ScimError> {
        group::list(store, ctx, query, members_shown(shown))
    }
    fn get(store: &dyn Store, id: &str, shown: &Projection) -> Result<StoredGroup, ScimError> {
        group::get(store, id, members_shown(shown))
    }
    fn create(
        store: &dyn Store,
        ctx: &Ctx,
        random: &mut dyn Random,
        body: &Value,
    ) -> Result<StoredGroup, ScimError> {
        group::create(store, ctx, random, body)
    }
    fn replace(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
        shown: &Projection,
    ) -> Result<StoredGroup, ScimError> {
        group::replace(store, ctx, id, if_match, body, members_shown(shown))
    }
    fn modify(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
        body: &Value,
        shown: &Projection,
    ) -> Result<StoredGroup, ScimError> {
        group::modify(store, ctx, id, if_match, body, members_shown(shown))
    }
    fn delete(
        store: &dyn Store,
        ctx: &Ctx,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimError> {
        group::delete(store, ctx, id, if_match)
    }
    fn render(item: &StoredGroup, base_url: &str) -> Value {
        item.to_scim(base_url)
    }
    fn etag(item: &StoredGroup) -> String {
        item.etag()
    }
    fn id(item: &StoredGroup) -> &str {
        &item.id
    }
    fn member_changes(item: &StoredGroup) -> Option<&MemberChanges> {
        Some(&item.member_changes)
    }
}

pub fn require(principal: &Principal, scope: &str) -> Result<(), ScimError> {
    if principal.scopes.iter().any(|s| s == scope) {
        Ok(())
    } else {
        Err(ScimError::forbidden(format!(
            "This token lacks the '{scope}' scope."
        )))
    }
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
            list_response::<R>(store, ctx, &query, &shown)
        }
        ("POST", [_, ".search"]) => {
            let params = ListParams::from_body(&request.json_body()?)?;
            let (query, shown) = params.into_query(R::KIND)?;
            list_response::<R>(store, ctx, &query, &shown)
        }
        ("POST", [endpoint]) => {
            let shown = projection_of(request, R::KIND)?;
            let created = R::create(store, ctx, random, &request.json_body()?)?;
            emit::<R>(store, random, ctx, principal, None, Some(&created))?;
            let location = format!("{base}/{endpoint}/{}", R::id(&created));
            Ok(one::<R>(201, &created, base, &shown).with_header("location", location))
        }
        ("GET", [_, id]) => {
            let shown = projection_of(request, R::KIND)?;
            let found = R::get(store, id, &shown)?;
            if not_modified(request, &R::etag(&found)) {
                return Ok(HttpResponse::empty(304).with_header("etag", R::etag(&found)));
            }
            Ok(one::<R>(200, &found, base, &shown))
        }
        ("PUT", [_, id]) => {
            let shown = projection_of(request, R::KIND)?;
            let body = request.json_body()?;
            let before = R::get(store, id, &lean::<R>())?;
            let updated = R::replace(store, ctx, id, if_match, &body, &shown)?;
            emit::<R>(store, random, ctx, principal, Some(&before), Some(&updated))?;
            Ok(one::<R>(200, &updated, base, &shown))
        }
        ("PATCH", [_, id]) => {
            let shown = projection_of(request, R::KIND)?;
            let body = request.json_body()?;
            let before = R::get(store, id, &lean::<R>())?;
            let updated = R::modify(store, ctx, id, if_match, &body, &shown)?;
            emit::<R>(store, random, ctx, principal, Some(&before), Some(&updated))?;
            Ok(one::<R>(200, &updated, base, &shown))
        }
        ("DELETE", [_, id]) => {
            let before = R::get(store, id, &lean::<R>())?;
            R::delete(store, ctx, id, if_match)?;
            emit::<R>(store, random, ctx, principal, Some(&before), None)?;
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

/// A projection that never loads group members (for before/after comparisons).
fn lean<R: Resources>() -> Projection {
    Projection::parse(
        R::KIND,
        None,
        (R::KIND == ResourceKind::Group).then_some("members"),
    )
    .unwrap_or_default()
}

/// The client-visible attributes of a rendered resource, without server bookkeeping.
fn attributes(rendered: &Value) -> serde_json::Map<String, Value> {
    let mut map = rendered.as_object().cloned().unwrap_or_default();
    for key in ["meta", "members", "groups"] {
        map.remove(key);
    }
    map
}

/// Records the event of a SCIM change in the same transaction as the change: `user.created`,
/// `user.updated`, `user.deactivated`, `user.reactivated`, `user.deleted`, `group.created`,
/// `group.updated`, `group.deleted`; with the token that made it, the resource after the change
/// (and, for users, the app's mapped profile) and the attributes that changed. A write that
/// changed nothing records nothing. Then what follows from it: `user.sessions_revoked` after a
/// deactivation or deletion, `group.member.added` / `group.member.removed` when members changed
/// (a deleted user is removed from each of their groups).
fn emit<R: Resources>(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    principal: &Principal,
    before: Option<&R::Item>,
    after: Option<&R::Item>,
) -> Result<(), ScimError> {
    if let (Some(b), Some(a)) = (before, after) {
        if R::etag(b) == R::etag(a) {
            return Ok(());
        }
    }
    let old = before.map(|b| R::render(b, ctx.base_url));
    let new = after.map(|a| R::render(a, ctx.base_url));
    let noun = if R::KIND == ResourceKind::User {
        "user"
    } else {
        "group"
    };
    let active = |v: &Option<Value>| {
        v.as_ref()
            .map(|v| v.get("active").and_then(Value::as_bool).unwrap_or(true))
    };
    let verb = match (&old, &new) {
        (None, _) => "created",
        (_, None) => "deleted",
        _ if noun == "user" && active(&old) == Some(true) && active(&new) == Some(false) => {
            "deactivated"
        }
        _ if noun == "user" && active(&old) == Some(false) && active(&new) == Some(true) => {
            "reactivated"
        }
        _ => "updated",
    };
    let (was, now) = (
        old.as_ref().map(attributes).unwrap_or_default(),
        new.as_ref().map(attributes).unwrap_or_default(),
    );
    let mut changed: Vec<String> = was
        .keys()
        .chain(now.keys())
        .filter(|k| was.get(*k) != now.get(*k))
        .cloned()
        .collect();
    changed.sort();
    changed.dedup();
    if changed.is_empty() && verb == "updated" && noun == "group" {
        changed.push("members".into());
    }
    let id = after.or(before).map(R::id).unwrap_or_default();
    let mut data = serde_json::json!({
        "resource_type": R::KIND.name(),
        "id": id,
        "changed": changed,
        "resource": new,
    });
    if noun == "user" {
        if let Some(resource) = &new {
            data["profile"] = super::app_api::profile_of(store, resource)?;
        }
    }
    let kind = format!("{noun}.{verb}");
    let actor = format!("token:{}", principal.token_id);
    let origin = super::event::Origin {
        actor: &actor,
        request_id: ctx.request_id,
    };
    super::event::record(store, random, ctx.now, &kind, origin, data)?;
    if noun == "user" && (verb == "deactivated" || verb == "deleted") {
        if let Some(user) = new.as_ref().or(old.as_ref()) {
            revoke_sessions(store, random, ctx, origin, id, user, verb)?;
        }
    }
    if let (Some(changes), Some(group)) = (after.and_then(R::member_changes), &new) {
        let display_name = group.get("displayName").and_then(Value::as_str);
        let name = display_name.unwrap_or_default();
        record_members(
            store,
            random,
            ctx,
            origin,
            (id, name),
            "added",
            &changes.added,
        )?;
        record_members(
            store,
            random,
            ctx,
            origin,
            (id, name),
            "removed",
            &changes.removed,
        )?;
    }
    if noun == "user" && verb == "deleted" {
        // A deleted user left every group they were in.
        let groups = old
            .as_ref()
            .and_then(|o| o.get("groups"))
            .and_then(Value::as_array);
        let gone = [Member {
            value: id.to_owned(),
            kind: "User".into(),
            display: None,
        }];
        for g in groups.into_iter().flatten() {
            let group_id = g.get("value").and_then(Value::as_str).unwrap_or_default();
            let name = g.get("display").and_then(Value::as_str).unwrap_or_default();
            record_members(
                store,
                random,
                ctx,
                origin,
                (group_id, name),
                "removed",
                &gone,
            )?;
        }
    }
    Ok(())
}

/// Most members one `group.member.added` / `group.member.removed` event lists; a larger change
/// is split over several events.
pub const MEMBERS_PER_EVENT: usize = 1000;

/// `group.member.added` or `group.member.removed` (`direction`) for members of the group
/// `(id, displayName)`, in chunks of at most [`MEMBERS_PER_EVENT`].
fn record_members(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    origin: super::event::Origin,
    (group_id, display_name): (&str, &str),
    direction: &str,
    members: &[Member],
) -> Result<(), ScimError> {
    let kind = format!("group.member.{direction}");
    for chunk in members.chunks(MEMBERS_PER_EVENT) {
        let members: Vec<Value> = chunk
            .iter()
            .map(|m| serde_json::json!({"value": m.value, "type": m.kind}))
            .collect();
        let data = serde_json::json!({
            "group_id": group_id,
            "display_name": display_name,
            "members": members,
        });
        super::event::record(store, random, ctx.now, &kind, origin, data)?;
    }
    Ok(())
}

/// Deactivation and deletion end the user's sessions and refresh tokens in the app: revoked in
/// this transaction, and `user.sessions_revoked` recorded even when there were none, so the
/// delivery side can still send a `sub`-only logout token to clients that need no `sid`.
fn revoke_sessions(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    origin: super::event::Origin,
    user_id: &str,
    user: &Value,
    verb: &str,
) -> Result<(), ScimError> {
    let reason = if verb == "deleted" {
        session::DELETED
    } else {
        session::DEACTIVATED
    };
    let revoked = session::revoke_user(store, ctx.now, user_id, reason)?;
    let data = serde_json::json!({
        "user_id": user_id,
        "subject": super::app_api::subject_of(store, user)?,
        "reason": reason,
        "sessions": revoked.sessions,
        "refresh_tokens": revoked.refresh_tokens,
    });
    let kind = "user.sessions_revoked";
    super::event::record(store, random, ctx.now, kind, origin, data)?;
    Ok(())
}
