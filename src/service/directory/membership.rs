//! Group memberships as rows, one per (group, member): adding or removing a few members of a
//! 100,000-member group touches only those rows, never the whole list.

use serde_json::{json, Value};

use crate::scim::text::member;
use crate::scim::ScimError;
use crate::service::clock::Timestamp;
use crate::service::store::{opt_text, text, Store};

/// One member of a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub value: String,
    /// `User` or `Group`, from what the id names in this connection.
    pub kind: String,
    pub display: Option<String>,
}

impl Member {
    pub fn to_scim(&self, base_url: &str) -> Value {
        let endpoint = if self.kind == "Group" {
            "Groups"
        } else {
            "Users"
        };
        let mut out = json!({
            "value": self.value,
            "$ref": format!("{base_url}/{endpoint}/{}", self.value),
            "type": self.kind,
        });
        if let Some(display) = &self.display {
            out["display"] = Value::String(display.clone());
        }
        out
    }
}

/// What one write did to a group's members: who was added and who was removed, net of each
/// other (a member added then removed in the same PATCH is neither).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberChanges {
    pub added: Vec<Member>,
    pub removed: Vec<Member>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// Appends a later step of the same write.
    pub fn extend(&mut self, later: MemberChanges) {
        self.added.extend(later.added);
        self.removed.extend(later.removed);
    }

    /// The net change: a member both added and removed by the steps of one write was a member
    /// before and after it (removed, then added back) or neither (added, then removed).
    pub fn net(self) -> MemberChanges {
        let mut balance: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for m in &self.added {
            *balance.entry(m.value.clone()).or_default() += 1;
        }
        for m in &self.removed {
            *balance.entry(m.value.clone()).or_default() -= 1;
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in self.added {
            if balance.get(&m.value).copied().unwrap_or(0) > 0 && seen.insert(m.value.clone()) {
                added.push(m);
            }
        }
        for m in self.removed {
            if balance.get(&m.value).copied().unwrap_or(0) < 0 && seen.insert(m.value.clone()) {
                removed.push(m);
            }
        }
        MemberChanges { added, removed }
    }
}

fn removed_rows(rows: &[crate::service::store::Row]) -> Result<Vec<Member>, ScimError> {
    rows.iter()
        .map(|row| {
            Ok(Member {
                value: text(row, 0)?,
                kind: text(row, 1)?,
                display: opt_text(row, 2),
            })
        })
        .collect()
}

/// Parses member values as clients send them: an array of `{"value", "display"?, "type"?}` (or
/// one such object). `"$ref": null` and unknown `type`s are tolerated; `value` is required.
pub fn parse_members(value: &Value) -> Result<Vec<Member>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| {
            let object = item.as_object().ok_or_else(|| {
                ScimError::invalid_value("Each member must be an object with a 'value'.")
            })?;
            let field = |name: &str| member(object, name);
            let value = field("value")
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ScimError::invalid_value("Each member needs a string 'value'."))?;
            Ok(Member {
                value: value.to_owned(),
                kind: String::new(),
                display: field("display").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// `User` or `Group` for an id of this connection, `None` when it names neither. A group may not
/// contain itself.
fn resolve(
    store: &dyn Store,
    group_id: &str,
    member_id: &str,
) -> Result<Option<&'static str>, ScimError> {
    if store
        .query_one("SELECT 1 FROM user WHERE id = ?", &[member_id.into()])?
        .is_some()
    {
        return Ok(Some("User"));
    }
    if member_id != group_id
        && store
            .query_one("SELECT 1 FROM scim_group WHERE id = ?", &[member_id.into()])?
            .is_some()
    {
        return Ok(Some("Group"));
    }
    Ok(None)
}

/// Adds members that are not members yet; returns those added.
///
/// A value that names no user or group of this connection (a user the IdP failed to provision,
/// an id from elsewhere) is skipped, not stored: one stale id must not block the rest of a group
/// push, and the response shows exactly the members stored. RFC 7644 defines no error for it.
pub fn add(
    store: &dyn Store,
    group_id: &str,
    members: &[Member],
) -> Result<Vec<Member>, ScimError> {
    let mut added = Vec::new();
    for member in members {
        let Some(kind) = resolve(store, group_id, &member.value)? else {
            continue;
        };
        let inserted = store.query(
            "INSERT INTO membership (group_id, member_id, member_type, display) VALUES (?, ?, ?, ?)
             ON CONFLICT (group_id, member_id) DO NOTHING RETURNING member_id",
            &[
                group_id.into(),
                member.value.clone().into(),
                kind.into(),
                member.display.clone().into(),
            ],
        )?;
        if !inserted.is_empty() {
            added.push(Member {
                kind: kind.to_owned(),
                ..member.clone()
            });
        }
    }
    Ok(added)
}

/// Removes the listed member ids; returns the members that were removed.
pub fn remove(store: &dyn Store, group_id: &str, ids: &[String]) -> Result<Vec<Member>, ScimError> {
    let mut removed = Vec::new();
    for id in ids {
        let deleted = store.query(
            "DELETE FROM membership WHERE group_id = ? AND member_id = ?
             RETURNING member_id, member_type, display",
            &[group_id.into(), id.clone().into()],
        )?;
        removed.extend(removed_rows(&deleted)?);
    }
    Ok(removed)
}

/// Removes every member; returns them.
pub fn clear(store: &dyn Store, group_id: &str) -> Result<Vec<Member>, ScimError> {
    let deleted = store.query(
        "DELETE FROM membership WHERE group_id = ? RETURNING member_id, member_type, display",
        &[group_id.into()],
    )?;
    removed_rows(&deleted)
}

pub fn count(store: &dyn Store, group_id: &str) -> Result<usize, ScimError> {
    let row = store.query_one(
        "SELECT count(*) FROM membership WHERE group_id = ?",
        &[group_id.into()],
    )?;
    Ok(row
        .and_then(|r| r.first().and_then(crate::service::store::SqlValue::as_i64))
        .unwrap_or(0) as usize)
}

/// Makes the member list exactly `members`, touching only the rows that differ; returns what
/// changed.
pub fn set(
    store: &dyn Store,
    group_id: &str,
    members: &[Member],
) -> Result<MemberChanges, ScimError> {
    let current: std::collections::HashSet<String> = list(store, group_id)?
        .into_iter()
        .map(|m| m.value)
        .collect();
    let wanted: std::collections::HashSet<&str> =
        members.iter().map(|m| m.value.as_str()).collect();
    let gone: Vec<String> = current
        .iter()
        .filter(|id| !wanted.contains(id.as_str()))
        .cloned()
        .collect();
    let new: Vec<Member> = members
        .iter()
        .filter(|m| !current.contains(&m.value))
        .cloned()
        .collect();
    let removed = remove(store, group_id, &gone)?;
    let added = add(store, group_id, &new)?;
    Ok(MemberChanges { added, removed })
}

/// The members of a group in the order they were added.
pub fn list(store: &dyn Store, group_id: &str) -> Result<Vec<Member>, ScimError> {
    let rows = store.query(
        "SELECT member_id, member_type, display FROM membership WHERE group_id = ? ORDER BY rowid",
        &[group_id.into()],
    )?;
    rows.iter()
        .map(|row| {
            Ok(Member {
                value: text(row, 0)?,
                kind: text(row, 1)?,
                display: opt_text(row, 2),
            })
        })
        .collect()
}

/// The groups a user (or group) is a direct member of: `(group id, displayName)`.
pub fn groups_of(store: &dyn Store, member_id: &str) -> Result<Vec<(String, String)>, ScimError> {
    let rows = store.query(
        "SELECT g.id, g.display_name FROM membership m JOIN scim_group g ON g.id = m.group_id
         WHERE m.member_id = ? ORDER BY g.seq",
        &[member_id.into()],
    )?;
    rows.iter()
        .map(|row| Ok((text(row, 0)?, text(row, 1)?)))
        .collect()
}

/// Removes a deleted user or group from every group it belonged to; those groups get a new
/// version, since their members changed.
pub fn remove_member_everywhere(
    store: &dyn Store,
    now: Timestamp,
    member_id: &str,
) -> Result<(), ScimError> {
    store.execute(
        "UPDATE scim_group SET version = version + 1, updated_at = ?
         WHERE id IN (SELECT group_id FROM membership WHERE member_id = ?)",
        &[now.to_rfc3339().into(), member_id.into()],
    )?;
    store.execute(
        "DELETE FROM membership WHERE member_id = ?",
        &[member_id.into()],
    )?;
    Ok(())
}
