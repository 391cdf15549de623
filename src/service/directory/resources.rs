//! One protocol over two resource types: what the SCIM routes (api::scim) need of Users and
//! Groups (RFC 7644 §3.3–§3.6).

use serde_json::Value;

use super::group::{self, StoredGroup};
use super::listing::{ListQuery, Page};
use super::membership::MemberChanges;
use super::user::{self, Ctx, StoredUser};
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::service::clock::Random;
use crate::service::store::Store;

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

/// A projection that never loads group members (for before/after comparisons).
pub fn lean<R: Resources>() -> Projection {
    Projection::parse(
        R::KIND,
        None,
        (R::KIND == ResourceKind::Group).then_some("members"),
    )
    .unwrap_or_default()
}

/// The client-visible attributes of a rendered resource, without server bookkeeping.
pub fn attributes(rendered: &Value) -> serde_json::Map<String, Value> {
    let mut map = rendered.as_object().cloned().unwrap_or_default();
    for key in ["meta", "members", "groups"] {
        map.remove(key);
    }
    map
}
