//! The PATCH engine (RFC 7644 §3.5.2): parse a PatchOp message into typed operations, then apply
//! them to a resource's JSON. The result is validated by the caller (`resource::normalize`), so
//! the engine only has to place values; types, unknown attributes and mutability of the outcome
//! are checked once, in one place.
//!
//! IdP dialects handled here, per request rather than by a global switch:
//! - Entra ID: capitalised `op` values, pathless `replace` with dotted (`name.givenName`) or
//!   URN-qualified keys, `add` to a value path that does not exist yet.
//! - Okta: pathless `replace` of `active`.

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::schema::{ResourceKind, Schema};
use super::text::{member, strip_prefix_ignore_ascii_case};
use super::ScimError;

/// URN of the PatchOp message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Parses and checks a PatchOp body.
pub fn parse(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("A PATCH body must be a JSON object."))?;
    let schemas = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"));
    if let Some((_, schemas)) = schemas {
        let listed = schemas
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(PATCH_OP_SCHEMA)));
        if !listed {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be [\"{PATCH_OP_SCHEMA}\"]."
            )));
        }
    }
    let operations = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v)
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("A PATCH body needs an Operations array."))?;
    if operations.is_empty() {
        return Err(ScimError::invalid_syntax("Operations must not be empty."));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            400,
            Some(super::ScimType::TooMany),
            format!("A PATCH request may carry at most {MAX_OPERATIONS} operations."),
        ));
    }
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(index: usize, op: &Value) -> Result<PatchOperation, ScimError> {
    let object = op.as_object().ok_or_else(|| {
        ScimError::invalid_syntax(format!("Operation {index} must be a JSON object."))
    })?;
    let name = member(object, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax(format!("Operation {index} needs an \"op\".")))?;
    // Entra sends "Add"/"Replace"/"Remove".
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "replace" => OpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "Operation {index}: unknown op '{name}'; use add, remove or replace."
            )))
        }
    };
    let path = match member(object, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(parse_path(p)?),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "Operation {index}: path must be a string."
            )))
        }
    };
    let value = member(object, "value").cloned();
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::no_target(format!(
            "Operation {index}: remove needs a path (RFC 7644 §3.5.2.2)."
        ))),
        (OpKind::Add | OpKind::Replace, _, None) => Err(ScimError::invalid_value(format!(
            "Operation {index}: {name} needs a value."
        ))),
        (OpKind::Add | OpKind::Replace, None, Some(v)) if !v.is_object() => {
            Err(ScimError::invalid_value(format!(
                "Operation {index}: without a path, the value must be an object of attributes."
            )))
        }
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

fn parse_path(path: &str) -> Result<PatchPath, ScimError> {
    filter::parse_patch_path(path).map_err(|e| {
        ScimError::invalid_path(format!(
            "Invalid path '{path}' at position {}: {}",
            e.position, e.message
        ))
    })
}

/// Applies every operation in order to `resource` (the stored attributes, without `id`/`meta`).
/// The caller applies to a copy and keeps it only if every operation succeeded.
pub fn apply(
    kind: ResourceKind,
    resource: &mut Value,
    operations: &[PatchOperation],
) -> Result<(), ScimError> {
    for operation in operations {
        let before = resource.clone();
        match &operation.path {
            Some(path) => apply_at(kind, resource, operation.op, path, operation.value.as_ref())?,
            None => apply_pathless(kind, resource, operation.op, operation.value.as_ref())?,
        }
        move_primary(&before, resource);
    }
    Ok(())
}

/// RFC 7644 §3.5.2: a PATCH that sets a value's `primary` to true sets it to false on the
/// attribute's other values. Values that were primary before this operation give way to the
/// newly primary one; if an operation itself marks two values primary, validation refuses it.
fn move_primary(before: &Value, after: &mut Value) {
    let Value::Object(members) = after else {
        return;
    };
    for (key, value) in members.iter_mut() {
        let Value::Array(items) = value else {
            continue;
        };
        let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
        let old: Vec<&Value> = before
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter(|v| is_primary(v)).collect())
            .unwrap_or_default();
        let new_primaries = items
            .iter()
            .filter(|v| is_primary(v) && !old.contains(v))
            .count();
        if new_primaries == 0 {
            continue;
        }
        for item in items.iter_mut() {
            if is_primary(item) && old.contains(&&*item) {
                if let Value::Object(fields) = item {
                    fields.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

fn apply_pathless(
    kind: ResourceKind,
    resource: &mut Value,
    op: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(Value::Object(attributes)) = value else {
        return Err(ScimError::invalid_value(
            "Without a path, the value must be an object of attributes.",
        ));
    };
    refuse_conflicting_keys(attributes)?;
    for (key, value) in attributes {
        // Okta's group push repeats `id` (and some clients `schemas`/`meta`) in a pathless
        // replace: server-owned, so ignored as in a PUT (RFC 7644 §3.5.1).
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        let extension = kind
            .extensions()
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(key));
        if let Some(extension) = extension {
            apply_extension_object(kind, resource, op, extension, Some(value))?;
            continue;
        }
        // Entra: keys like `name.givenName` or `urn:…:User:employeeNumber` are paths.
        let path = parse_path(key)?;
        apply_at(kind, resource, op, &path, Some(value))?;
    }
    Ok(())
}

/// Keys of a pathless value that name the same attribute (names are case-insensitive, RFC 7643
/// §2.1: `userName` and `USERNAME`, `name.givenName` and `NAME.givenname`) must agree, as in a
/// POST or PUT body: otherwise which one wins would depend on key order. 400 `invalidSyntax`.
fn refuse_conflicting_keys(attributes: &Map<String, Value>) -> Result<(), ScimError> {
    let mut seen: Vec<(String, &String, &Value)> = Vec::with_capacity(attributes.len());
    for (key, value) in attributes {
        let folded = key.to_ascii_lowercase();
        match seen.iter().find(|(k, _, _)| *k == folded) {
            Some((_, first, earlier)) if *earlier != value => {
                return Err(ScimError::invalid_syntax(format!(
                    "Attribute '{first}' is given more than once with different values \
                     (attribute names are case-insensitive)."
                )))
            }
            Some(_) => {}
            None => seen.push((folded, key, value)),
        }
    }
    Ok(())
}

/// The attributes of a resource that clients may never write.
fn check_writable(kind: ResourceKind, path: &PatchPath) -> Result<(), ScimError> {
    let attr = path.attr.attr.as_str();
    let read_only = ["id", "meta"].iter().any(|a| a.eq_ignore_ascii_case(attr))
        || (path.attr.urn.is_none() || is_core_urn(kind, path.attr.urn.as_deref()))
            && kind
                .core_schema()
                .attribute(attr)
                .is_some_and(|a| a.mutability == super::schema::Mutability::ReadOnly);
    if read_only {
        return Err(ScimError::mutability(format!(
            "Attribute '{attr}' is read-only and cannot be modified."
        )));
    }
    Ok(())
}

fn is_core_urn(kind: ResourceKind, urn: Option<&str>) -> bool {
    urn.is_some_and(|u| u.eq_ignore_ascii_case(kind.core_schema().id))
}

/// The object that holds the path's attribute: the resource itself, or an extension's object.
fn container<'a>(
    kind: ResourceKind,
    resource: &'a mut Value,
    urn: Option<&str>,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let Value::Object(root) = resource else {
        return Err(ScimError::internal());
    };
    let Some(urn) = urn.filter(|u| !is_core_urn(kind, Some(u))) else {
        return Ok(Some(root));
    };
    let extension: &Schema = kind
        .extensions()
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .copied()
        .ok_or_else(|| ScimError::invalid_path(format!("Unknown schema '{urn}' in path.")))?;
    let key = find_key(root, extension.id).unwrap_or_else(|| extension.id.to_owned());
    if !root.contains_key(&key) {
        if !create {
            return Ok(None);
        }
        root.insert(key.clone(), Value::Object(Map::new()));
    }
    match root.get_mut(&key) {
        Some(Value::Object(map)) => Ok(Some(map)),
        _ => Err(ScimError::invalid_value(format!(
            "'{urn}' must be an object."
        ))),
    }
}

/// The existing key in `map` that equals `name` case-insensitively.
fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn is_multi_valued(kind: ResourceKind, path: &AttrPath) -> bool {
    let schema = match &path.urn {
        Some(urn) if !is_core_urn(kind, Some(urn)) => kind
            .extensions()
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
            .copied(),
        _ => Some(kind.core_schema()),
    };
    schema
        .and_then(|s| s.attribute(&path.attr))
        .is_some_and(|a| a.multi_valued)
}

/// `{"urn:…:enterprise:2.0:User": {"department": "X"}}` without a path, or `path` equal to the
/// extension's URN: each attribute of the object in turn (a `schemas` member inside is ignored).
/// `remove` of the whole extension drops its object.
fn apply_extension_object(
    kind: ResourceKind,
    resource: &mut Value,
    op: OpKind,
    extension: &Schema,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if op == OpKind::Remove {
        if let Value::Object(root) = resource {
            if let Some(key) = find_key(root, extension.id) {
                root.remove(&key);
            }
        }
        return Ok(());
    }
    let Some(Value::Object(inner)) = value else {
        return Err(ScimError::invalid_value(format!(
            "The value for '{}' must be an object of its attributes.",
            extension.id
        )));
    };
    for (attr, v) in inner {
        if attr.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let path = PatchPath {
            attr: AttrPath {
                urn: Some(extension.id.to_owned()),
                attr: attr.clone(),
                sub_attr: None,
            },
            filter: None,
            sub_attr: None,
        };
        apply_at(kind, resource, op, &path, Some(v))?;
    }
    Ok(())
}

/// The extension a path names as a whole: `urn:…:enterprise:2.0:User` parses as URN
/// `urn:…:enterprise:2.0` with attribute `User`.
fn whole_extension(kind: ResourceKind, path: &PatchPath) -> Option<&'static Schema> {
    let urn = path.attr.urn.as_deref()?;
    if path.attr.sub_attr.is_some() || path.filter.is_some() || path.sub_attr.is_some() {
        return None;
    }
    kind.extensions().iter().copied().find(|s| {
        strip_prefix_ignore_ascii_case(s.id, urn)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|attr| attr.eq_ignore_ascii_case(&path.attr.attr))
    })
}

fn apply_at(
    kind: ResourceKind,
    resource: &mut Value,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if let Some(extension) = whole_extension(kind, path) {
        return apply_extension_object(kind, resource, op, extension, value);
    }
    check_writable(kind, path)?;
    let multi = is_multi_valued(kind, &path.attr);
    let create = op != OpKind::Remove;
    let Some(holder) = container(kind, resource, path.attr.urn.as_deref(), create)? else {
        return Ok(());
    };
    let key = find_key(holder, &path.attr.attr).unwrap_or_else(|| path.attr.attr.clone());
    // `name.givenName` arrives as attr "name" with sub_attr "givenName" on the AttrPath, or as
    // sub_attr on the PatchPath after a filter; both mean "this sub-attribute".
    let sub_attr = path.attr.sub_attr.as_deref().or(path.sub_attr.as_deref());
    match (&path.filter, sub_attr) {
        (Some(filter), sub) => apply_filtered(holder, &key, op, filter, sub, value),
        (None, Some(sub)) => apply_sub_attribute(holder, &key, multi, op, sub, value),
        (None, None) => apply_attribute(holder, &key, multi, op, value),
    }
}

fn apply_attribute(
    holder: &mut Map<String, Value>,
    key: &str,
    multi: bool,
    op: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.cloned().unwrap_or(Value::Null);
    match op {
        OpKind::Remove => {
            remove_values(holder, key, multi, &value);
        }
        OpKind::Add if multi => {
            let incoming = match value {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            let existing = holder
                .entry(key.to_owned())
                .or_insert(Value::Array(Vec::new()));
            if !existing.is_array() {
                *existing = Value::Array(Vec::new());
            }
            if let Value::Array(items) = existing {
                for item in incoming {
                    // RFC 7644 §3.5.2.1: a value already present is not added twice.
                    if !items.iter().any(|e| same_value(e, &item)) {
                        items.push(item);
                    }
                }
            }
        }
        OpKind::Add | OpKind::Replace => match (holder.get_mut(key), value) {
            // A complex singular attribute: the given sub-attributes are merged in.
            (Some(Value::Object(existing)), Value::Object(incoming)) if !multi => {
                for (k, v) in incoming {
                    let k = find_key(existing, &k).unwrap_or(k);
                    existing.insert(k, v);
                }
            }
            (_, value) => {
                let value = if multi && !value.is_array() && !value.is_null() {
                    Value::Array(vec![value])
                } else {
                    value
                };
                holder.insert(key.to_owned(), value);
            }
        },
    }
    Ok(())
}

/// Two elements of a multi-valued attribute are the same when their `value`s are (or, without
/// `value`, when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// `remove` without a filter: the whole attribute, or (Entra) just the listed members.
fn remove_values(holder: &mut Map<String, Value>, key: &str, multi: bool, value: &Value) {
    let listed: Vec<Value> = match value {
        Value::Array(items) if multi => items.clone(),
        Value::Object(_) if multi => vec![value.clone()],
        _ => Vec::new(),
    };
    if listed.is_empty() {
        holder.remove(key);
        return;
    }
    if let Some(Value::Array(items)) = holder.get_mut(key) {
        items.retain(|e| !listed.iter().any(|l| same_value(e, l)));
    }
}

fn apply_sub_attribute(
    holder: &mut Map<String, Value>,
    key: &str,
    multi: bool,
    op: OpKind,
    sub: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.cloned().unwrap_or(Value::Null);
    if multi {
        // `emails.value` without a filter addresses that sub-attribute of every element.
        let Some(Value::Array(items)) = holder.get_mut(key) else {
            return match op {
                OpKind::Remove => Ok(()),
                _ => Err(ScimError::no_target(format!(
                    "'{key}' has no values whose '{sub}' could be set; use a value filter."
                ))),
            };
        };
        for item in items.iter_mut() {
            set_sub(item, op, sub, &value);
        }
        return Ok(());
    }
    let entry = holder
        .entry(key.to_owned())
        .or_insert(Value::Object(Map::new()));
    if !entry.is_object() {
        return Err(ScimError::invalid_path(format!(
            "'{key}' has no sub-attributes; '{key}.{sub}' is not a valid path."
        )));
    }
    set_sub(entry, op, sub, &value);
    if op == OpKind::Remove && entry.as_object().is_some_and(Map::is_empty) {
        holder.remove(key);
    }
    Ok(())
}

fn set_sub(item: &mut Value, op: OpKind, sub: &str, value: &Value) {
    if let Value::Object(map) = item {
        let k = find_key(map, sub).unwrap_or_else(|| sub.to_owned());
        match op {
            OpKind::Remove => {
                map.remove(&k);
            }
            OpKind::Add | OpKind::Replace => {
                map.insert(k, value.clone());
            }
        }
    }
}

fn apply_filtered(
    holder: &mut Map<String, Value>,
    key: &str,
    op: OpKind,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.cloned().unwrap_or(Value::Null);
    let case_insensitive = |_: &AttrPath| false;
    let items = match holder.get_mut(key) {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    };
    let matched = items.as_ref().is_some_and(|items| {
        items
            .iter()
            .any(|e| filter::matches(filter, e, &case_insensitive))
    });
    if !matched {
        return match op {
            OpKind::Remove => Ok(()),
            // Entra: `add` to `phoneNumbers[type eq "mobile"].value` creates the element.
            OpKind::Add => {
                let mut element = element_from_filter(filter).ok_or_else(|| {
                    ScimError::no_target(format!(
                        "No value of '{key}' matches the filter, and the filter does not describe a new value."
                    ))
                })?;
                match sub {
                    Some(sub) => set_sub(&mut element, OpKind::Add, sub, &value),
                    None => {
                        if let (Value::Object(e), Value::Object(v)) = (&mut element, &value) {
                            for (k, v) in v {
                                e.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                let list = holder
                    .entry(key.to_owned())
                    .or_insert(Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(element);
                } else {
                    *list = Value::Array(vec![element]);
                }
                Ok(())
            }
            OpKind::Replace => Err(ScimError::no_target(format!(
                "No value of '{key}' matches the filter (RFC 7644 §3.5.2.3)."
            ))),
        };
    }
    let Some(Value::Array(items)) = holder.get_mut(key) else {
        return Err(ScimError::internal());
    };
    match (op, sub) {
        (OpKind::Remove, None) => items.retain(|e| !filter::matches(filter, e, &case_insensitive)),
        (_, Some(sub)) => {
            for item in items
                .iter_mut()
                .filter(|e| filter::matches(filter, e, &case_insensitive))
            {
                set_sub(item, op, sub, &value);
            }
        }
        (_, None) => {
            for item in items
                .iter_mut()
                .filter(|e| filter::matches(filter, e, &case_insensitive))
            {
                match (&value, item) {
                    (Value::Object(v), Value::Object(e)) => {
                        for (k, v) in v {
                            let k = find_key(e, k).unwrap_or_else(|| k.clone());
                            e.insert(k, v.clone());
                        }
                    }
                    (v, item) => *item = v.clone(),
                }
            }
        }
    }
    if items.is_empty() {
        holder.remove(key);
    }
    Ok(())
}

/// `type eq "work" and primary eq true` → `{"type": "work", "primary": true}`; `None` for any
/// filter that is not a conjunction of `eq` comparisons.
fn element_from_filter(filter: &Filter) -> Option<Value> {
    let mut element = Map::new();
    fn collect(filter: &Filter, element: &mut Map<String, Value>) -> Option<()> {
        match filter {
            Filter::And(a, b) => {
                collect(a, element)?;
                collect(b, element)
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub_attr.is_none() && path.urn.is_none() => {
                let v = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::Num(n) => Value::Number(n.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Null => return None,
                };
                element.insert(path.attr.clone(), v);
                Some(())
            }
            _ => None,
        }
    }
    collect(filter, &mut element)?;
    Some(Value::Object(element))
}

#[cfg(test)]
mod tests;
