//! The directory as the app's runtime API shows it: users as mapped profiles, groups, and the
//! import of users that exist in the app before the IdP provisions them.

use serde::Deserialize;
use serde_json::{json, Value};

use super::group;
use super::user::{self, Ctx};
use crate::scim::ScimError;
use crate::service::clock::Random;
use crate::service::event::kind::UserCreated;
use crate::service::event::{self, Event, Origin};
use crate::service::mapping::view::{stored, ProfileView};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::{text, transact, Store};

/// Largest page of `/v1` lists, and most users one import may carry.
pub const MAX_PAGE: i64 = 200;
pub const MAX_IMPORT: usize = 1000;

/// `GET /users` filters, as sent: each one optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserQuery<'a> {
    pub page: PageRequest<'a>,
    pub username: Option<&'a str>,
    pub external_id: Option<&'a str>,
    /// `true` or `false`; anything else is a 400.
    pub active: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// `POST /users/import` `{"users": [<app profile>, …]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub users: Vec<Value>,
}

/// A group as the app sees it: `{id, name, external_id, members?: [{id, type}]}`.
pub fn group_json(g: &group::StoredGroup) -> Value {
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

/// `GET /users?limit=&after=&email=&username=&external_id=&active=`: mapped profiles. `username`,
/// `external_id` and `active` select on indexed columns; `email` compares the mapped profile.
pub fn list_users(
    store: &dyn Store,
    base_url: &str,
    view: &ProfileView,
    query: &UserQuery,
) -> Result<Value, ScimError> {
    let (limit, after) = cursor(store, "user", query.page, (50, MAX_PAGE))?;
    let mut condition = String::from("seq > ?");
    let mut params = vec![after.into()];
    if let Some(name) = query.username {
        condition.push_str(" AND user_name_key = ?");
        params.push(name.to_lowercase().into());
    }
    if let Some(external_id) = query.external_id {
        condition.push_str(" AND external_id = ?");
        params.push(external_id.into());
    }
    if let Some(active) = query.active {
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
    let email = query.email.map(str::to_lowercase);
    let rows = store.query(
        &format!("SELECT id FROM user WHERE {condition} ORDER BY seq"),
        &params,
    )?;
    let mut users = Vec::new();
    let mut more = false;
    for row in &rows {
        let found = user::get(store, &text(row, 0)?)?;
        let profile = view.profile(&found.to_scim(base_url));
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

/// `GET /groups?limit=&after=`: `{groups: [{id, name, external_id}], next_after}`.
pub fn list_groups(store: &dyn Store, page: PageRequest) -> Result<Value, ScimError> {
    let (limit, after) = cursor(store, "scim_group", page, (50, MAX_PAGE))?;
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
pub fn import(
    store: &dyn Store,
    random: &mut dyn Random,
    ctx: &Ctx,
    origin: Origin,
    body: &ImportRequest,
) -> Result<Value, ScimError> {
    if body.users.len() > MAX_IMPORT {
        return Err(ScimError::new(
            413,
            None,
            format!("At most {MAX_IMPORT} users per import."),
        ));
    }
    let (mapping, _) = transact(store, || stored(store))?;
    let mut results = Vec::new();
    let (mut created, mut failed) = (0, 0);
    for (index, profile) in body.users.iter().enumerate() {
        let outcome = mapping.to_scim(profile).and_then(|(scim, ignored)| {
            transact(store, || {
                let created = user::create(store, ctx, random, &scim)?;
                let event = Event::UserCreated(UserCreated::Imported {
                    user_id: created.id.clone(),
                    via: "import",
                });
                event::record(store, random, ctx.now, origin, &event)?;
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
