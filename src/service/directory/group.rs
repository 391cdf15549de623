//! Groups of one connection (RFC 7643 §4.2, RFC 7644 §3.3–§3.6). The group row keeps the
//! client's attributes except `members`, which live in `membership` rows (see [`membership`]).

use serde_json::{json, Map, Value};

use super::filter_sql;
use super::listing::{self, fold_case, has_norm, taken, ListQuery, Page, Table};
use super::membership::{self, Member, MemberChanges};
use super::user::{check_version, Ctx};
use crate::scim::filter::{self, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::scim::patch::{self, OpKind, PatchOperation};
use crate::scim::resource;
use crate::scim::schema::{ResourceKind, GROUP_SCHEMA};
use crate::scim::text::uniqueness_key;
use crate::scim::ScimError;
use crate::service::clock::{new_uuid, Random};
use crate::service::store::{int, text, Row, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    pub id: String,
    /// Client attributes without `members`.
    pub resource: Value,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Loaded only when the response shows them.
    pub members: Option<Vec<Member>>,
    /// What the write that returned this group did to its members (empty when only read), for
    /// the `group.member.added` / `group.member.removed` events.
    pub member_changes: MemberChanges,
}

impl StoredGroup {
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    pub fn to_scim(&self, base_url: &str) -> Value {
        let mut out = match &self.resource {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        out.insert("id".into(), Value::String(self.id.clone()));
        if let Some(members) = self.members.as_ref().filter(|m| !m.is_empty()) {
            let members = members.iter().map(|m| m.to_scim(base_url)).collect();
            out.insert("members".into(), Value::Array(members));
        }
        out.insert(
            "meta".into(),
            json!({
                "resourceType": "Group",
                "created": self.created_at,
                "lastModified": self.updated_at,
                "location": format!("{base_url}/Groups/{}", self.id),
                "version": self.etag(),
            }),
        );
        Value::Object(out)
    }
}

const COLUMNS: &str = "id, resource, created_at, updated_at, version";

const TABLE: Table = Table {
    name: "scim_group",
    sql_target: &filter_sql::GROUP_TARGET,
    columns: COLUMNS,
};

fn row_to_group(
    store: &dyn Store,
    row: &Row,
    with_members: bool,
) -> Result<StoredGroup, ScimError> {
    let id = text(row, 0)?;
    let resource = serde_json::from_str(&text(row, 1)?)
        .map_err(|e| ScimError::internal_because(format!("stored group is not JSON: {e}")))?;
    let members = if with_members {
        Some(membership::list(store, &id)?)
    } else {
        None
    };
    Ok(StoredGroup {
        id,
        resource,
        created_at: text(row, 2)?,
        updated_at: text(row, 3)?,
        version: int(row, 4)?,
        members,
        member_changes: MemberChanges::default(),
    })
}

/// Splits `members` off a normalised group resource.
fn take_members(resource: &mut Value) -> Result<Vec<Member>, ScimError> {
    match resource.as_object_mut().and_then(|o| o.remove("members")) {
        Some(members) => membership::parse_members(&members),
        None => Ok(Vec::new()),
    }
}

struct Keys {
    display_name: String,
    external_id: Option<String>,
}

fn keys_of(resource: &Value) -> Result<Keys, ScimError> {
    Ok(Keys {
        display_name: resource
            .get("displayName")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_value("displayName is required."))?
            .to_owned(),
        external_id: resource
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn check_unique(store: &dyn Store, keys: &Keys, except_id: &str) -> Result<(), ScimError> {
    let name_key = fold_case(&keys.display_name);
    if taken(
        store,
        "scim_group",
        "display_name_key",
        &name_key,
        except_id,
    )? {
        return Err(ScimError::uniqueness(format!(
            "A group named '{}' already exists in this connection.",
            keys.display_name
        )));
    }
    let norm = uniqueness_key(&keys.display_name);
    if !has_norm(store, "scim_group", "display_name_norm", except_id, &norm)?
        && taken(store, "scim_group", "display_name_norm", &norm, except_id)?
    {
        return Err(ScimError::uniqueness(format!(
            "A group named '{}' already exists in this connection: another group's displayName is \
             the same name after Unicode normalisation (NFKC, lower case, NFC).",
            keys.display_name
        )));
    }
    if let Some(external_id) = &keys.external_id {
        if taken(store, "scim_group", "external_id", external_id, except_id)? {
            return Err(ScimError::uniqueness(format!(
                "externalId '{external_id}' is already in use by a group of this connection."
            )));
        }
    }
    Ok(())
}

/// POST /Groups.
pub fn create(
    store: &dyn Store,
    ctx: &Ctx,
    random: &mut dyn Random,
    body: &Value,
) -> Result<StoredGroup, ScimError> {
    let mut resource = resource::normalize(ResourceKind::Group, body)?;
    let members = take_members(&mut resource)?;
    let keys = keys_of(&resource)?;
    check_unique(store, &keys, "")?;
    let id = new_uuid(random)?;
    let now = ctx.now.to_rfc3339();
    store.execute(
        "INSERT INTO scim_group (id, display_name, display_name_key, display_name_norm, external_id, resource, created_at, updated_at, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
        &[
            id.clone().into(),
            keys.display_name.clone().into(),
            fold_case(&keys.display_name).into(),
            uniqueness_key(&keys.display_name).into(),
            keys.external_id.into(),
            resource.to_string().into(),
            now.clone().into(),
            now.clone().into(),
        ],
    )?;
    let added = membership::add(store, &id, &members)?;
    let mut created = get(store, &id, true)?;
    created.member_changes = MemberChanges {
        added,
        removed: Vec::new(),
    };
    Ok(created)
}

/// GET /Groups/{id}; members are read only when `with_members`.
pub fn get(store: &dyn Store, id: &str, with_members: bool) -> Result<StoredGroup, ScimError> {
    let row = store.query_one(
        &format!("SELECT {COLUMNS} FROM scim_group WHERE id = ?"),
        &[id.into()],
    )?;
    match row {
        Some(row) => row_to_group(store, &row, with_members),
        None => Err(ScimError::not_found(format!("Group {id} not found."))),
    }
}

/// Stores a new version when the attributes or the members changed.
fn save(
    store: &dyn Store,
    ctx: &Ctx,
    group: StoredGroup,
    resource: Value,
    changes: MemberChanges,
    with_members: bool,
) -> Result<StoredGroup, ScimError> {
    let changes = changes.net();
    if resource == group.resource && changes.is_empty() {
        return get(store, &group.id, with_members);
    }
    let keys = keys_of(&resource)?;
    check_unique(store, &keys, &group.id)?;
    store.execute(
        "UPDATE scim_group SET display_name = ?, display_name_key = ?, display_name_norm = ?,
         external_id = ?, resource = ?, updated_at = ?, version = version + 1 WHERE id = ?",
        &[
            keys.display_name.clone().into(),
            fold_case(&keys.display_name).into(),
            uniqueness_key(&keys.display_name).into(),
            keys.external_id.into(),
            resource.to_string().into(),
            ctx.now.to_rfc3339().into(),
            group.id.clone().into(),
        ],
    )?;
    let mut saved = get(store, &group.id, with_members)?;
    saved.member_changes = changes;
    Ok(saved)
}

/// PUT /Groups/{id}: the member list becomes exactly the one sent; only differences are written.
pub fn replace(
    store: &dyn Store,
    ctx: &Ctx,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
    with_members: bool,
) -> Result<StoredGroup, ScimError> {
    let group = get(store, id, false)?;
    check_version(&group.etag(), if_match)?;
    let mut resource = resource::normalize(ResourceKind::Group, body)?;
    let members = take_members(&mut resource)?;
    let changes = membership::set(store, id, &members)?;
    save(store, ctx, group, resource, changes, with_members)
}

fn targets_members(path: &PatchPath) -> bool {
    path.attr.attr.eq_ignore_ascii_case("members")
        && path
            .attr
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// The member ids a filter names when it is `value eq "…"` (or an `or` of those), as Okta and
/// Entra send; `None` for any other filter.
fn named_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.attr.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = named_ids(a)?;
            ids.extend(named_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// One PATCH operation on `members`, applied to the membership rows; returns what changed.
fn patch_members(
    store: &dyn Store,
    ctx: &Ctx,
    group_id: &str,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<MemberChanges, ScimError> {
    let removed = |removed| MemberChanges {
        added: Vec::new(),
        removed,
    };
    if path.attr.sub_attr.is_some() || path.sub_attr.is_some() {
        return Err(ScimError::invalid_path(
            "Member sub-attributes cannot be patched; add or remove whole members.",
        ));
    }
    match (&path.filter, op) {
        (Some(f), OpKind::Remove) => {
            let ids = match named_ids(f) {
                Some(ids) => ids,
                None => membership::list(store, group_id)?
                    .into_iter()
                    .filter(|m| {
                        let element = m.to_scim(ctx.base_url);
                        filter::matches(f, &element, &|_: &AttrPath| true)
                    })
                    .map(|m| m.value)
                    .collect(),
            };
            Ok(removed(membership::remove(store, group_id, &ids)?))
        }
        (Some(_), _) => Err(ScimError::invalid_path(
            "A value filter on members is only supported with remove.",
        )),
        (None, OpKind::Add) => {
            let members = membership::parse_members(value.unwrap_or(&Value::Null))?;
            Ok(MemberChanges {
                added: membership::add(store, group_id, &members)?,
                removed: Vec::new(),
            })
        }
        (None, OpKind::Replace) => {
            let members = membership::parse_members(value.unwrap_or(&Value::Null))?;
            membership::set(store, group_id, &members)
        }
        (None, OpKind::Remove) => match value {
            // Entra: remove with a `value` array removes just those members.
            Some(v) if !v.is_null() => {
                let ids: Vec<String> = membership::parse_members(v)?
                    .into_iter()
                    .map(|m| m.value)
                    .collect();
                Ok(removed(membership::remove(store, group_id, &ids)?))
            }
            _ => Ok(removed(membership::clear(store, group_id)?)),
        },
    }
}

fn members_path() -> PatchPath {
    PatchPath {
        attr: AttrPath {
            urn: None,
            attr: "members".into(),
            sub_attr: None,
        },
        filter: None,
        sub_attr: None,
    }
}

/// PATCH /Groups/{id}: `members` operations go to the membership rows (a few members added or
/// removed never read the whole list); the rest goes through the PATCH engine.
pub fn modify(
    store: &dyn Store,
    ctx: &Ctx,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
    with_members: bool,
) -> Result<StoredGroup, ScimError> {
    let group = get(store, id, false)?;
    check_version(&group.etag(), if_match)?;
    let operations = patch::parse(body)?;
    let mut others = Vec::new();
    let mut changes = MemberChanges::default();
    for operation in operations {
        match &operation.path {
            Some(path) if targets_members(path) => {
                changes.extend(patch_members(
                    store,
                    ctx,
                    id,
                    operation.op,
                    path,
                    operation.value.as_ref(),
                )?);
            }
            None => {
                // Okta pushes `{"id", "displayName", "members"?}` without a path.
                let mut value = operation.value.clone().unwrap_or(Value::Null);
                if let Value::Object(map) = &mut value {
                    let members_key = map
                        .keys()
                        .find(|k| k.eq_ignore_ascii_case("members"))
                        .cloned();
                    if let Some(members) = members_key.and_then(|k| map.remove(&k)) {
                        changes.extend(patch_members(
                            store,
                            ctx,
                            id,
                            operation.op,
                            &members_path(),
                            Some(&members),
                        )?);
                    }
                    if !map.is_empty() {
                        others.push(PatchOperation {
                            value: Some(value),
                            ..operation
                        });
                    }
                }
            }
            Some(_) => others.push(operation),
        }
    }
    let mut patched = group.resource.clone();
    patch::apply(ResourceKind::Group, &mut patched, &others)?;
    let resource = resource::normalize(ResourceKind::Group, &patched)?;
    save(store, ctx, group, resource, changes, with_members)
}

/// DELETE /Groups/{id}: also removes it from any group it was a member of.
pub fn delete(
    store: &dyn Store,
    ctx: &Ctx,
    id: &str,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let group = get(store, id, false)?;
    check_version(&group.etag(), if_match)?;
    // The group's own members go with it (its `group.deleted` says so): no need to read them.
    store.execute("DELETE FROM membership WHERE group_id = ?", &[id.into()])?;
    membership::remove_member_everywhere(store, ctx.now, id)?;
    store.execute("DELETE FROM scim_group WHERE id = ?", &[id.into()])?;
    Ok(())
}

/// Whether string comparison on a Group attribute path is case-sensitive (RFC 7643 §2.2).
pub fn case_exact(path: &AttrPath) -> bool {
    ResourceKind::Group.case_exact(path)
}

/// GET /Groups. Members are read for the page only when shown, and for filtering only when the
/// filter looks at them.
pub fn list(
    store: &dyn Store,
    ctx: &Ctx,
    query: &ListQuery,
    with_members: bool,
) -> Result<Page<StoredGroup>, ScimError> {
    // Members are read per candidate only when the filter looks at them and cannot run in SQL.
    let filter_members = query.filter.as_ref().is_some_and(|f| {
        f.mentions("members")
            && super::filter_sql::to_sql(f, &super::filter_sql::GROUP_TARGET).is_none()
    });
    let load = |row: &Row| row_to_group(store, row, filter_members);
    let visible = |group: &StoredGroup| Ok(group.to_scim(ctx.base_url));
    let mut page = listing::list(store, &TABLE, query, &load, &visible, &case_exact)?;
    for group in &mut page.items {
        if with_members && group.members.is_none() {
            group.members = Some(membership::list(store, &group.id)?);
        } else if !with_members {
            group.members = None;
        }
    }
    Ok(page)
}
