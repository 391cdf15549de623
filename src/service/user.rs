//! Users of one connection (RFC 7644 §3.3–§3.6): create, read, replace, patch, delete, list.
//!
//! The stored row keeps the client's resource losslessly (`resource`, without `id` and `meta`) next
//! to the columns that uniqueness, lookups and ordering need.

use serde_json::{json, Map, Value};

use super::clock::{new_uuid, Random, Timestamp};
use super::store::{int, text, SqlValue, Store};
use crate::scim::filter::{self, AttrPath, CompValue, CompareOp, Filter};
use crate::scim::patch;
use crate::scim::resource;
use crate::scim::schema::{ResourceKind, ENTERPRISE_USER, USER, USER_SCHEMA};
use crate::scim::sort::{self, Sort};
use crate::scim::ScimError;

/// What every operation needs to know about the request beyond its body.
pub struct Ctx<'a> {
    /// The connection's SCIM base URL, for `meta.location`.
    pub base_url: &'a str,
    pub now: Timestamp,
}

/// A stored user: the client's attributes plus the server-owned ones.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    pub id: String,
    pub resource: Value,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
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

fn row_to_user(row: &[SqlValue]) -> Result<StoredUser, ScimError> {
    let row = row.to_vec();
    let raw = text(&row, 1)?;
    let resource = serde_json::from_str(&raw)
        .map_err(|e| ScimError::internal_because(format!("stored user is not JSON: {e}")))?;
    Ok(StoredUser {
        id: text(&row, 0)?,
        resource,
        created_at: text(&row, 2)?,
        updated_at: text(&row, 3)?,
        version: int(&row, 4)?,
    })
}

/// The columns derived from a normalised resource.
struct Keys {
    user_name: String,
    user_name_key: String,
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

/// Case folding for case-insensitive uniqueness and lookups.
fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

/// 409 when another user of this connection holds the userName or externalId.
fn check_unique(store: &dyn Store, keys: &Keys, except_id: Option<&str>) -> Result<(), ScimError> {
    let except = except_id.unwrap_or_default();
    let taken = store.query_one(
        "SELECT 1 FROM user WHERE user_name_key = ? AND id != ?",
        &[keys.user_name_key.clone().into(), except.into()],
    )?;
    if taken.is_some() {
        return Err(ScimError::uniqueness(format!(
            "userName '{}' is already in use in this connection (userName is unique, case-insensitively).",
            keys.user_name
        )));
    }
    if let Some(external_id) = &keys.external_id {
        let taken = store.query_one(
            "SELECT 1 FROM user WHERE external_id = ? AND id != ?",
            &[external_id.clone().into(), except.into()],
        )?;
        if taken.is_some() {
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
        "INSERT INTO user (id, user_name, user_name_key, external_id, active, resource, created_at, updated_at, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
        &[
            id.clone().into(),
            keys.user_name.into(),
            keys.user_name_key.into(),
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
    })
}

/// GET /Users/{id}.
pub fn get(store: &dyn Store, id: &str) -> Result<StoredUser, ScimError> {
    let row = store.query_one(
        &format!("SELECT {COLUMNS} FROM user WHERE id = ?"),
        &[id.into()],
    )?;
    match row {
        Some(row) => row_to_user(&row),
        None => Err(ScimError::not_found(format!("User {id} not found."))),
    }
}

/// Checks `If-Match` against the stored version (RFC 7644 §3.14): 412 on mismatch.
pub fn check_if_match(user: &StoredUser, if_match: Option<&str>) -> Result<(), ScimError> {
    let Some(if_match) = if_match else {
        return Ok(());
    };
    let current = user.etag();
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
        "UPDATE user SET user_name = ?, user_name_key = ?, external_id = ?, active = ?, resource = ?,
         updated_at = ?, version = ? WHERE id = ?",
        &[
            keys.user_name.into(),
            keys.user_name_key.into(),
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
    check_if_match(&user, if_match)?;
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
    check_if_match(&user, if_match)?;
    let operations = patch::parse(body)?;
    let mut patched = user.resource.clone();
    patch::apply(ResourceKind::User, &mut patched, &operations)?;
    let resource = resource::normalize(ResourceKind::User, &patched)?;
    resource::check_immutable(ResourceKind::User, &user.resource, &resource)?;
    save(store, ctx, user, resource)
}

/// DELETE /Users/{id} (RFC 7644 §3.6).
pub fn delete(store: &dyn Store, id: &str, if_match: Option<&str>) -> Result<(), ScimError> {
    let user = get(store, id)?;
    check_if_match(&user, if_match)?;
    store.execute("DELETE FROM user WHERE id = ?", &[id.into()])?;
    Ok(())
}

/// A page of a list or search (RFC 7644 §3.4.2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total_results: i64,
    pub start_index: i64,
    pub users: Vec<StoredUser>,
}

/// Paging, filtering and sorting of a list request, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: i64,
    pub count: i64,
    pub sort: Option<Sort>,
}

/// Whether string comparison on a User attribute path is case-sensitive (RFC 7643 §2.2).
pub fn case_exact(path: &AttrPath) -> bool {
    let schema = match &path.urn {
        Some(urn) if urn.eq_ignore_ascii_case(ENTERPRISE_USER.id) => &ENTERPRISE_USER,
        _ => &USER,
    };
    if path.attr.eq_ignore_ascii_case("id") || path.attr.eq_ignore_ascii_case("externalId") {
        return true;
    }
    if path.attr.eq_ignore_ascii_case("meta") {
        return true;
    }
    let Some(attribute) = schema.attribute(&path.attr) else {
        return false;
    };
    match &path.sub_attr {
        Some(sub) => attribute.sub_attribute(sub).is_some_and(|s| s.case_exact),
        None => attribute.case_exact,
    }
}

/// The filter as an SQL condition over indexed columns, when it only uses `eq` on `userName`,
/// `externalId` or `id` (what IdPs send to match users); `None` means "evaluate in memory".
fn indexed_condition(filter: &Filter) -> Option<(String, Vec<SqlValue>)> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(value),
        } if path.sub_attr.is_none()
            && path
                .urn
                .as_deref()
                .is_none_or(|urn| urn.eq_ignore_ascii_case(USER_SCHEMA)) =>
        {
            let attr = path.attr.as_str();
            if attr.eq_ignore_ascii_case("userName") {
                Some(("user_name_key = ?".into(), vec![fold_case(value).into()]))
            } else if attr.eq_ignore_ascii_case("externalId") {
                Some(("external_id = ?".into(), vec![value.clone().into()]))
            } else if attr.eq_ignore_ascii_case("id") {
                Some(("id = ?".into(), vec![value.clone().into()]))
            } else {
                None
            }
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            let (sql_a, mut params) = indexed_condition(a)?;
            let (sql_b, params_b) = indexed_condition(b)?;
            params.extend(params_b);
            let joiner = if matches!(filter, Filter::And(..)) {
                "AND"
            } else {
                "OR"
            };
            Some((format!("({sql_a} {joiner} {sql_b})"), params))
        }
        _ => None,
    }
}

/// GET /Users (RFC 7644 §3.4.2).
pub fn list(store: &dyn Store, ctx: &Ctx, query: &ListQuery) -> Result<Page, ScimError> {
    let offset = query.start_index - 1;
    let indexed = match &query.filter {
        None => Some(("1 = 1".to_owned(), Vec::new())),
        Some(f) => indexed_condition(f),
    };
    if query.sort.is_some() {
        return list_sorted(store, ctx, query, indexed);
    }
    if let Some((condition, params)) = indexed {
        let total = store
            .query_one(
                &format!("SELECT count(*) FROM user WHERE {condition}"),
                &params,
            )?
            .map(|row| int(&row, 0))
            .transpose()?
            .unwrap_or(0);
        let mut page_params = params;
        page_params.push(query.count.into());
        page_params.push(offset.into());
        let rows = store.query(
            &format!("SELECT {COLUMNS} FROM user WHERE {condition} ORDER BY seq LIMIT ? OFFSET ?"),
            &page_params,
        )?;
        let users = rows
            .iter()
            .map(|r| row_to_user(r))
            .collect::<Result<_, _>>()?;
        return Ok(Page {
            total_results: total,
            start_index: query.start_index,
            users,
        });
    }
    // Any other filter: evaluate it on every user of the connection, in order, keeping only the
    // requested page in memory.
    let filter = query.filter.as_ref();
    let mut total = 0i64;
    let mut users = Vec::new();
    let rows = store.query(&format!("SELECT {COLUMNS} FROM user ORDER BY seq"), &[])?;
    for row in &rows {
        let user = row_to_user(row)?;
        let visible = user.to_scim(ctx.base_url);
        if filter.is_none_or(|f| filter::matches(f, &visible, &case_exact)) {
            if total >= offset && (users.len() as i64) < query.count {
                users.push(user);
            }
            total += 1;
        }
    }
    Ok(Page {
        total_results: total,
        start_index: query.start_index,
        users,
    })
}

/// A sorted list: every matching user is loaded, sorted, then paged.
fn list_sorted(
    store: &dyn Store,
    ctx: &Ctx,
    query: &ListQuery,
    indexed: Option<(String, Vec<SqlValue>)>,
) -> Result<Page, ScimError> {
    let (condition, params, evaluate) = match indexed {
        Some((condition, params)) => (condition, params, false),
        None => ("1 = 1".to_owned(), Vec::new(), true),
    };
    let rows = store.query(
        &format!("SELECT {COLUMNS} FROM user WHERE {condition} ORDER BY seq"),
        &params,
    )?;
    let mut matching = Vec::new();
    for row in &rows {
        let user = row_to_user(row)?;
        let visible = user.to_scim(ctx.base_url);
        let keep = !evaluate
            || query
                .filter
                .as_ref()
                .is_none_or(|f| filter::matches(f, &visible, &case_exact));
        if keep {
            matching.push((sort::key(&visible, query.sort.as_ref(), &case_exact), user));
        }
    }
    if let Some(order) = &query.sort {
        // A stable sort: ties keep creation order.
        matching.sort_by(|(a, _), (b, _)| sort::compare(a, b, order.descending));
    }
    let total = matching.len() as i64;
    let users = matching
        .into_iter()
        .skip((query.start_index - 1).max(0) as usize)
        .take(query.count.max(0) as usize)
        .map(|(_, u)| u)
        .collect();
    Ok(Page {
        total_results: total,
        start_index: query.start_index,
        users,
    })
}
