//! Users of one connection (RFC 7644 §3.3–§3.6): create, read, replace, patch, delete, list.
//!
//! The stored row keeps the client's resource losslessly (`resource`, without `id` and `meta`) next
//! to the columns that uniqueness, lookups and ordering need.

use serde_json::{json, Map, Value};

use super::filter_sql;
use super::listing::{self, fold_case, has_norm, taken, ListQuery, Page, Table};
use super::membership;
use crate::scim::filter::AttrPath;
use crate::scim::patch;
use crate::scim::resource;
use crate::scim::schema::ResourceKind;
use crate::scim::text::uniqueness_key;
use crate::scim::ScimError;
use crate::service::clock::{new_uuid, Random, Timestamp};
use crate::service::store::{int, text, Row, Store};

/// What every operation needs to know about the request beyond its body.
pub struct Ctx<'a> {
    /// The connection's SCIM base URL, for `meta.location`.
    pub base_url: &'a str,
    pub now: Timestamp,
    /// The request's id, carried into the events it records.
    pub request_id: Option<&'a str>,
}

/// A stored user: the client's attributes plus the server-owned ones.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    pub id: String,
    pub resource: Value,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Direct group memberships: `(group id, group displayName)`.
    pub groups: Vec<(String, String)>,
}

impl StoredUser {
    /// The weak entity tag of this version (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }

    /// The resource as returned to clients: stored attributes, `id` and `meta`.
    pub fn to_scim(&self, base_url: &str) -> Value {
        let mut out = match &self.resource {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        out.insert("id".into(), Value::String(self.id.clone()));
        if !self.groups.is_empty() {
            let groups = self
                .groups
                .iter()
                .map(|(id, display)| {
                    json!({
                        "value": id,
                        "$ref": format!("{base_url}/Groups/{id}"),
                        "display": display,
                        "type": "direct",
                    })
                })
                .collect();
            out.insert("groups".into(), Value::Array(groups));
        }
        out.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": self.created_at,
                "lastModified": self.updated_at,
                "location": format!("{base_url}/Users/{}", self.id),
                "version": self.etag(),
            }),
        );
        let mut out = Value::Object(out);
        resource::strip_never_returned(ResourceKind::User, &mut out);
        out
    }
}

const COLUMNS: &str = "id, resource, created_at, updated_at, version";

fn row_to_user(store: &dyn Store, row: &Row) -> Result<StoredUser, ScimError> {
    let raw = text(row, 1)?;
    let resource = serde_json::from_str(&raw)
        .map_err(|e| ScimError::internal_because(format!("stored user is not JSON: {e}")))?;
    let id = text(row, 0)?;
    Ok(StoredUser {
        groups: membership::groups_of(store, &id)?,
        id,
        resource,
        created_at: text(row, 2)?,
        updated_at: text(row, 3)?,
        version: int(row, 4)?,
    })
}

/// The columns derived from a normalised resource.
struct Keys {
    user_name: String,
    user_name_key: String,
    /// [`uniqueness_key`]: what makes two userNames the same one.
    user_name_norm: String,
    external_id: Option<String>,
    active: bool,
}

fn keys_of(resource: &Value) -> Result<Keys, ScimError> {
    let user_name = resource
        .get("userName")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_value("userName is required."))?
        .to_owned();
    Ok(Keys {
        user_name_key: fold_case(&user_name),
        user_name_norm: uniqueness_key(&user_name),
        user_name,
        external_id: resource
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        // RFC 7643 §4.1.1 leaves a missing `active` to the provider; absent means active here.
        active: resource
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    })
}

/// 409 when another user of this connection holds the userName or externalId.
fn check_unique(store: &dyn Store, keys: &Keys, except_id: Option<&str>) -> Result<(), ScimError> {
    let except = except_id.unwrap_or_default();
    if taken(store, "user", "user_name_key", &keys.user_name_key, except)? {
        return Err(ScimError::uniqueness(format!(
            "userName '{}' is already in use in this connection (userName is unique, case-insensitively).",
            keys.user_name
        )));
    }
    // A user keeps a name it already had, even when another user stored before this rule
    // existed shares its key.
    if !has_norm(
        store,
        "user",
        "user_name_norm",
        except,
        &keys.user_name_norm,
    )? && taken(
        store,
        "user",
        "user_name_norm",
        &keys.user_name_norm,
        except,
    )? {
        return Err(ScimError::uniqueness(format!(
            "userName '{}' is already in use in this connection: another user's userName is the \
             same name after Unicode normalisation (NFKC, lower case, NFC; width, case and \
             composition differences do not make a new name, as in PRECIS UsernameCaseMapped, \
             RFC 8265 §3.3).",
            keys.user_name
        )));
    }
    if let Some(external_id) = &keys.external_id {
        if taken(store, "user", "external_id", external_id, except)? {
            return Err(ScimError::uniqueness(format!(
                "externalId '{external_id}' is already in use in this connection."
            )));
        }
    }
    Ok(())
}

/// POST /Users (RFC 7644 §3.3).
pub fn create(
    store: &dyn Store,
    ctx: &Ctx,
    random: &mut dyn Random,
    body: &Value,
) -> Result<StoredUser, ScimError> {
    let resource = resource::normalize(ResourceKind::User, body)?;
    let keys = keys_of(&resource)?;
    check_unique(store, &keys, None)?;
    let id = new_uuid(random)?;
    let now = ctx.now.to_rfc3339();
    store.execute(
        "INSERT INTO user (id, user_name, user_name_key, user_name_norm, external_id, active, resource, created_at, updated_at, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        &[
            id.clone().into(),
            keys.user_name.into(),
            keys.user_name_key.into(),
            keys.user_name_norm.into(),
            keys.external_id.into(),
            keys.active.into(),
            resource.to_string().into(),
            now.clone().into(),
            now.clone().into(),
        ],
    )?;
    Ok(StoredUser {
        id,
        resource,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
        groups: Vec::new(),
    })
}

/// GET /Users/{id}.
pub fn get(store: &dyn Store, id: &str) -> Result<StoredUser, ScimError> {
    let row = store.query_one(
        &format!("SELECT {COLUMNS} FROM user WHERE id = ?"),
        &[id.into()],
    )?;
    match row {
        Some(row) => row_to_user(store, &row),
        None => Err(ScimError::not_found(format!("User {id} not found."))),
    }
}

/// Checks `If-Match` against the current ETag (RFC 7644 §3.14): 412 on mismatch. Weak and
/// strong forms of the same tag match; `*` matches any version.
pub fn check_version(current: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    let Some(if_match) = if_match else {
        return Ok(());
    };
    let strong = current.trim_start_matches("W/");
    let matches = if_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == strong);
    if matches {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(format!(
            "If-Match {if_match} does not match the current version {current}."
        )))
    }
}

/// Writes a new version of `user` with `resource`; a change that changes nothing keeps the version
/// and `lastModified` as they were.
fn save(
    store: &dyn Store,
    ctx: &Ctx,
    user: StoredUser,
    resource: Value,
) -> Result<StoredUser, ScimError> {
    if resource == user.resource {
        return Ok(user);
    }
    let keys = keys_of(&resource)?;
    check_unique(store, &keys, Some(&user.id))?;
    let now = ctx.now.to_rfc3339();
    let version = user.version + 1;
    store.execute(
        "UPDATE user SET user_name = ?, user_name_key = ?, user_name_norm = ?, external_id = ?,
         active = ?, resource = ?, updated_at = ?, version = ? WHERE id = ?",
        &[
            keys.user_name.into(),
            keys.user_name_key.into(),
            keys.user_name_norm.into(),
            keys.external_id.into(),
            keys.active.into(),
            resource.to_string().into(),
            now.clone().into(),
            version.into(),
            user.id.clone().into(),
        ],
    )?;
    Ok(StoredUser {
        resource,
        updated_at: now,
        version,
        ..user
    })
}

/// PUT /Users/{id} (RFC 7644 §3.5.1): readOnly attributes in the body are ignored, immutable
/// ones may not change.
pub fn replace(
    store: &dyn Store,
    ctx: &Ctx,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Result<StoredUser, ScimError> {
    let user = get(store, id)?;
    check_version(&user.etag(), if_match)?;
    let resource = resource::normalize(ResourceKind::User, body)?;
    resource::check_immutable(ResourceKind::User, &user.resource, &resource)?;
    save(store, ctx, user, resource)
}

/// PATCH /Users/{id} (RFC 7644 §3.5.2).
pub fn modify(
    store: &dyn Store,
    ctx: &Ctx,
    id: &str,
    if_match: Option<&str>,
    body: &Value,
) -> Result<StoredUser, ScimError> {
    let user = get(store, id)?;
    check_version(&user.etag(), if_match)?;
    let operations = patch::parse(body)?;
    let mut patched = user.resource.clone();
    patch::apply(ResourceKind::User, &mut patched, &operations)?;
    let resource = resource::normalize(ResourceKind::User, &patched)?;
    resource::check_immutable(ResourceKind::User, &user.resource, &resource)?;
    save(store, ctx, user, resource)
}

/// DELETE /Users/{id} (RFC 7644 §3.6).
/// Deleting a user also removes their group memberships.
pub fn delete(
    store: &dyn Store,
    ctx: &Ctx,
    id: &str,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    let user = get(store, id)?;
    check_version(&user.etag(), if_match)?;
    membership::remove_member_everywhere(store, ctx.now, id)?;
    store.execute("DELETE FROM user WHERE id = ?", &[id.into()])?;
    Ok(())
}

/// Where Users live, for [`listing::list`].
const TABLE: Table = Table {
    name: "user",
    sql_target: &filter_sql::USER_TARGET,
    columns: COLUMNS,
};

/// Whether string comparison on a User attribute path is case-sensitive (RFC 7643 §2.2).
pub fn case_exact(path: &AttrPath) -> bool {
    ResourceKind::User.case_exact(path)
}

/// GET /Users (RFC 7644 §3.4.2).
pub fn list(
    store: &dyn Store,
    ctx: &Ctx,
    query: &ListQuery,
) -> Result<Page<StoredUser>, ScimError> {
    let load = |row: &Row| row_to_user(store, row);
    let visible = |user: &StoredUser| Ok(user.to_scim(ctx.base_url));
    listing::list(store, &TABLE, query, &load, &visible, &case_exact)
}
