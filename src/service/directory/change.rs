//! The events of SCIM changes, recorded in the same transaction as the change.

use serde_json::Value;

use super::membership::Member;
use super::resources::{attributes, Resources};
use super::user::Ctx;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::service::clock::Random;
use crate::service::connection::token::Principal;
use crate::service::event::kind::{MembersChanged, ResourceChanged, SessionsRevoked, UserCreated};
use crate::service::event::{self, Event, Origin};
use crate::service::mapping::view::{profile_of, subject_of};
use crate::service::session;
use crate::service::session::receipt;
use crate::service::store::Store;

/// Records the event of a SCIM change in the same transaction as the change: `user.created`,
/// `user.updated`, `user.deactivated`, `user.reactivated`, `user.deleted`, `group.created`,
/// `group.updated`, `group.deleted`; with the token that made it, the resource after the change
/// (and, for users, the app's mapped profile) and the attributes that changed. A write that
/// changed nothing records nothing. Then what follows from it: `user.sessions_revoked` after a
/// deactivation or deletion, `group.member.added` / `group.member.removed` when members changed
/// (a deleted user is removed from each of their groups).
pub fn record<R: Resources>(
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
    let profile = match (&new, noun) {
        (Some(resource), "user") => Some(profile_of(store, resource)?),
        _ => None,
    };
    let change = ResourceChanged {
        resource_type: R::KIND.name(),
        id: id.to_owned(),
        changed,
        resource: new.clone(),
        profile,
    };
    let event = match (noun, verb) {
        ("user", "created") => Event::UserCreated(UserCreated::Provisioned(change)),
        ("user", "deactivated") => Event::UserDeactivated(change),
        ("user", "reactivated") => Event::UserReactivated(change),
        ("user", "deleted") => Event::UserDeleted(change),
        ("user", _) => Event::UserUpdated(change),
        (_, "created") => Event::GroupCreated(change),
        (_, "deleted") => Event::GroupDeleted(change),
        _ => Event::GroupUpdated(change),
    };
    let actor = format!("token:{}", principal.token_id);
    let origin = Origin {
        actor: &actor,
        request_id: ctx.request_id,
    };
    event::record(store, random, ctx.now, origin, &event)?;
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
            Direction::Added,
            &changes.added,
        )?;
        record_members(
            store,
            random,
            ctx,
            origin,
            (id, name),
            Direction::Removed,
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
                Direction::Removed,
                &gone,
            )?;
        }
    }
    Ok(())
}

/// Which way members moved.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Added,
    Removed,
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
    origin: Origin,
    (group_id, display_name): (&str, &str),
    direction: Direction,
    members: &[Member],
) -> Result<(), ScimError> {
    for chunk in members.chunks(MEMBERS_PER_EVENT) {
        let change = MembersChanged {
            group_id: group_id.to_owned(),
            display_name: display_name.to_owned(),
            members: chunk
                .iter()
                .map(|m| serde_json::json!({"value": m.value, "type": m.kind}))
                .collect(),
        };
        let event = match direction {
            Direction::Added => Event::GroupMemberAdded(change),
            Direction::Removed => Event::GroupMemberRemoved(change),
        };
        event::record(store, random, ctx.now, origin, &event)?;
    }
    Ok(())
}

/// Deactivation and deletion end the user's sessions and refresh tokens in the app: revoked in
/// this transaction, and `user.sessions_revoked` recorded even when there were none, so the
/// delivery side can still send a `sub`-only logout token to clients that need no `sid`. Its
/// deprovisioning receipt (service::session::receipt) is written in the same transaction.
fn revoke_sessions(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    origin: Origin,
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
    let payload = SessionsRevoked {
        user_id: user_id.to_owned(),
        subject: subject_of(store, user)?,
        reason,
        sessions: revoked.sessions,
        refresh_tokens: revoked.refresh_tokens,
    };
    let event = Event::UserSessionsRevoked(payload.clone());
    let event_id = event::record(store, random, ctx.now, origin, &event)?;
    receipt::record(store, random, ctx.now, &event_id, &payload)?;
    Ok(())
}
