//! The PATCH engine (RFC 7644 §3.5.2): parse a PatchOp message into typed operations, then apply
//! them to a resource's JSON. The result is validated by the caller (`resource::normalize`), so
//! the engine only has to place values; types, unknown attributes and mutability of the outcome
//! are checked once, in one place.
//!
//! IdP dialects handled here, per request rather than by a global switch:
//! - Entra ID: capitalised `op` values, pathless `replace` with dotted (`name.givenName`) or
//!   URN-qualified keys, `add` to a value path that does not exist yet.
//! - Okta: pathless `replace` of `active`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::schema::{ResourceKind, Schema};
use super::text::{member, strip_prefix_ignore_ascii_case};
use super::ScimError;

/// URN of the PatchOp message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry (400 `tooMany`). IdPs send one operation per
/// changed attribute, or batches of group members far below this.
pub const MAX_OPERATIONS: usize = 1000;

/// The most stored values one PATCH may look at (400 `tooMany`): an operation other than a plain
/// `add` of values (a value filter, a removal, a replacement) looks at every value of the
/// attribute it names, so 1,000 of them on an attribute of 10,000 values would compare ten
/// million values. IdPs name small attributes: a user has a handful of emails or roles.
pub const MAX_VALUES_EXAMINED: usize = 200_000;

/// The most values one PATCH operation may carry (400 `tooMany`): the length of its `value`
/// array, or for a pathless operation the values of all its attributes together. A group push
/// batches members by the tens or hundreds; a user has a handful of emails or roles.
pub const MAX_VALUES_PER_OPERATION: usize = 10_000;

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
    for (index, op) in operations.iter().enumerate() {
        let values = op
            .as_object()
            .and_then(|o| member(o, "value"))
            .map_or(0, count_values);
        if values > MAX_VALUES_PER_OPERATION {
            return Err(ScimError::new(
                400,
                Some(super::ScimType::TooMany),
                format!(
                    "Operation {index} carries {values} values; a PATCH operation may carry at \
                     most {MAX_VALUES_PER_OPERATION}."
                ),
            ));
        }
    }
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

/// The values an operation's `value` carries: an array's elements; for an object of attributes
/// (pathless, or an extension's object), the values of each member, counted the same way.
fn count_values(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Object(members) => members
            .values()
            .map(|v| match v {
                Value::Object(inner) => inner.values().map(count_values).sum(),
                other => count_values(other).max(1),
            })
            .sum(),
        _ => 1,
    }
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
///
/// Cost is linear in the size of the operations plus, per operation, the values of the one
/// attribute it touches when it has to look at them (a value filter, a removal): a plain `add`
/// to a multi-valued attribute, the operation IdPs repeat by the hundred, checks "already
/// present" and "primary" through an index kept across operations (hardening item 12; the
/// pairwise checks after every operation took seconds for a 150 KB body).
pub fn apply(
    kind: ResourceKind,
    resource: &mut Value,
    operations: &[PatchOperation],
) -> Result<(), ScimError> {
    let mut indexes = Indexes::default();
    let mut examined = 0usize;
    for operation in operations {
        if let Some(path) = plain_multi_valued_add(kind, operation) {
            check_writable(kind, path)?;
            add_indexed(
                resource,
                &mut indexes,
                &path.attr.attr,
                operation.value.as_ref(),
                &mut examined,
            )?;
            continue;
        }
        let touched = touched_attributes(kind, operation);
        examine(&mut examined, stored_values(resource, &touched))?;
        indexes.forget(&touched);
        let before = primaries(resource, &touched);
        match &operation.path {
            Some(path) => apply_at(kind, resource, operation.op, path, operation.value.as_ref())?,
            None => apply_pathless(kind, resource, operation.op, operation.value.as_ref())?,
        }
        move_primary(&before, resource);
    }
    Ok(())
}

/// Counts `values` more looked at, up to [`MAX_VALUES_EXAMINED`] for the whole PATCH.
fn examine(examined: &mut usize, values: usize) -> Result<(), ScimError> {
    *examined = examined.saturating_add(values);
    if *examined > MAX_VALUES_EXAMINED {
        return Err(ScimError::new(
            400,
            Some(super::ScimType::TooMany),
            format!(
                "This PATCH would look at more than {MAX_VALUES_EXAMINED} stored values (each \
                 filter, removal or replacement looks at every value of its attribute); send \
                 fewer operations per request."
            ),
        ));
    }
    Ok(())
}

/// How many values the top-level attributes among `touched` hold (1 for a single value).
fn stored_values(resource: &Value, touched: &[String]) -> usize {
    let Value::Object(members) = resource else {
        return 0;
    };
    members
        .iter()
        .filter(|(key, _)| touched.iter().any(|t| key.eq_ignore_ascii_case(t)))
        .map(|(_, value)| value.as_array().map_or(1, Vec::len))
        .sum()
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// The path of an `add` of whole values to a multi-valued attribute of the core schema
/// (`"path": "emails"`), the operation [`add_indexed`] applies.
fn plain_multi_valued_add(kind: ResourceKind, operation: &PatchOperation) -> Option<&PatchPath> {
    let path = operation.path.as_ref()?;
    let plain = operation.op == OpKind::Add
        && path.filter.is_none()
        && path.sub_attr.is_none()
        && path.attr.sub_attr.is_none()
        && path
            .attr
            .urn
            .as_deref()
            .is_none_or(|u| is_core_urn(kind, Some(u)))
        && is_multi_valued(kind, &path.attr);
    plain.then_some(path)
}

/// The top-level attributes (lower-cased names) an operation other than a plain add may change.
/// Extension attributes live inside the extension's object, which holds no `primary` values.
fn touched_attributes(kind: ResourceKind, operation: &PatchOperation) -> Vec<String> {
    let core_attr = |path: &PatchPath| {
        let core = path
            .attr
            .urn
            .as_deref()
            .is_none_or(|u| is_core_urn(kind, Some(u)));
        (core && whole_extension(kind, path).is_none()).then(|| path.attr.attr.to_ascii_lowercase())
    };
    match (&operation.path, &operation.value) {
        (Some(path), _) => core_attr(path).into_iter().collect(),
        (None, Some(Value::Object(attributes))) => attributes
            .keys()
            .filter_map(|key| parse_path(key).ok())
            .filter_map(|path| core_attr(&path))
            .collect(),
        (None, _) => Vec::new(),
    }
}

/// The values marked primary, per top-level array among `touched`, before an operation.
fn primaries(resource: &Value, touched: &[String]) -> Vec<(String, Vec<Value>)> {
    let Value::Object(members) = resource else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|(key, _)| touched.iter().any(|t| key.eq_ignore_ascii_case(t)))
        .filter_map(|(key, value)| {
            let items = value.as_array()?;
            let old: Vec<Value> = items.iter().filter(|v| is_primary(v)).cloned().collect();
            Some((key.clone(), old))
        })
        .collect()
}

/// RFC 7644 §3.5.2: a PATCH that sets a value's `primary` to true sets it to false on the
/// attribute's other values. Values that were primary before this operation give way to the
/// newly primary one; if an operation itself marks two values primary, validation refuses it.
///
/// `before` holds the primaries of the attributes the operation touched; the others did not
/// change. Primaries are few (one in a valid resource), so comparing with them is cheap; when an
/// operation left many, they are looked up through hashes.
fn move_primary(before: &[(String, Vec<Value>)], after: &mut Value) {
    let Value::Object(members) = after else {
        return;
    };
    for (key, old) in before {
        let Some(Value::Array(items)) = members.get_mut(key) else {
            continue;
        };
        let mut old_hashes: HashMap<u64, Vec<&Value>> = HashMap::new();
        for v in old {
            old_hashes.entry(hash_of(v)).or_default().push(v);
        }
        let was_primary = |v: &Value| {
            old_hashes
                .get(&hash_of(v))
                .is_some_and(|vs| vs.contains(&v))
        };
        let new_primaries = items
            .iter()
            .filter(|v| is_primary(v) && !was_primary(v))
            .count();
        if new_primaries == 0 {
            continue;
        }
        for item in items.iter_mut() {
            if is_primary(item) && was_primary(item) {
                if let Value::Object(fields) = item {
                    fields.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

/// Per multi-valued attribute (by its exact key in the resource), where each value sits by the
/// hash of what makes two values "the same" ([`same_value`]), and which values are primary.
/// Kept across plain adds; forgotten when any other operation touches the attribute.
#[derive(Default)]
struct Indexes(HashMap<String, ValueIndex>);

#[derive(Default)]
struct ValueIndex {
    by_hash: HashMap<u64, Vec<usize>>,
    primaries: Vec<usize>,
}

impl Indexes {
    fn forget(&mut self, touched: &[String]) {
        self.0
            .retain(|key, _| !touched.iter().any(|t| key.eq_ignore_ascii_case(t)));
    }
}

impl ValueIndex {
    fn build(items: &[Value]) -> Self {
        let mut index = ValueIndex::default();
        for (position, item) in items.iter().enumerate() {
            index.insert(item, position);
        }
        index
    }

    fn insert(&mut self, item: &Value, position: usize) {
        self.by_hash
            .entry(same_value_hash(item))
            .or_default()
            .push(position);
        if is_primary(item) {
            self.primaries.push(position);
        }
    }

    fn contains(&self, items: &[Value], item: &Value) -> bool {
        self.by_hash.get(&same_value_hash(item)).is_some_and(|at| {
            at.iter()
                .any(|&p| items.get(p).is_some_and(|e| same_value(e, item)))
        })
    }
}

/// A plain `add` of values to a multi-valued attribute of the core schema (RFC 7644 §3.5.2.1):
/// a value already present is not added twice, and a newly added primary value takes `primary`
/// from those that were primary before, exactly as [`apply_attribute`] and [`move_primary`]
/// do, through the attribute's [`ValueIndex`] rather than by comparing every pair.
fn add_indexed(
    resource: &mut Value,
    indexes: &mut Indexes,
    attr: &str,
    value: Option<&Value>,
    examined: &mut usize,
) -> Result<(), ScimError> {
    let Value::Object(holder) = resource else {
        return Err(ScimError::internal());
    };
    let incoming = match value.cloned().unwrap_or(Value::Null) {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let key = find_key(holder, attr).unwrap_or_else(|| attr.to_owned());
    let existing = holder
        .entry(key.clone())
        .or_insert(Value::Array(Vec::new()));
    if !existing.is_array() {
        *existing = Value::Array(Vec::new());
        indexes.0.remove(&key);
    }
    let Value::Array(items) = existing else {
        return Err(ScimError::internal());
    };
    if !indexes.0.contains_key(&key) {
        // Built once, then kept while only plain adds touch the attribute.
        examine(examined, items.len())?;
    }
    let index = indexes
        .0
        .entry(key)
        .or_insert_with(|| ValueIndex::build(items));
    let mut added_primaries = Vec::new();
    for item in incoming {
        if index.contains(items, &item) {
            continue;
        }
        let position = items.len();
        index
            .by_hash
            .entry(same_value_hash(&item))
            .or_default()
            .push(position);
        if is_primary(&item) {
            added_primaries.push(position);
        }
        items.push(item);
    }
    if added_primaries.is_empty() {
        return Ok(());
    }
    // The values primary before give way; a value without `value` is keyed by all of it, so
    // it moves to the bucket of its new self.
    for position in std::mem::replace(&mut index.primaries, added_primaries) {
        let Some(Value::Object(fields)) = items.get_mut(position) else {
            continue;
        };
        if !fields.contains_key("value") {
            let old = same_value_hash_object(fields);
            if let Some(at) = index.by_hash.get_mut(&old) {
                at.retain(|&p| p != position);
            }
            fields.insert("primary".into(), Value::Bool(false));
            let new = same_value_hash_object(fields);
            index.by_hash.entry(new).or_default().push(position);
        } else {
            fields.insert("primary".into(), Value::Bool(false));
        }
    }
    Ok(())
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
    let mut seen: HashMap<String, (&String, &Value)> = HashMap::with_capacity(attributes.len());
    for (key, value) in attributes {
        let folded = key.to_ascii_lowercase();
        match seen.get(&folded) {
            Some((first, earlier)) if *earlier != value => {
                return Err(ScimError::invalid_syntax(format!(
                    "Attribute '{first}' is given more than once with different values \
                     (attribute names are case-insensitive)."
                )))
            }
            Some(_) => {}
            None => {
                seen.insert(folded, (key, value));
            }
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
                // RFC 7644 §3.5.2.1: a value already present is not added twice.
                let mut index = ValueIndex::build(items);
                for item in incoming {
                    if !index.contains(items, &item) {
                        index.insert(&item, items.len());
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

/// A hash that agrees with [`same_value`]: values that are the same hash alike.
fn same_value_hash(item: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    match item.get("value") {
        Some(value) => {
            1u8.hash(&mut hasher);
            hash_json(value, &mut hasher);
        }
        None => {
            2u8.hash(&mut hasher);
            hash_json(item, &mut hasher);
        }
    }
    hasher.finish()
}

/// [`same_value_hash`] of an object without `value`, given its members.
fn same_value_hash_object(fields: &Map<String, Value>) -> u64 {
    let mut hasher = DefaultHasher::new();
    2u8.hash(&mut hasher);
    hash_object(fields, &mut hasher);
    hasher.finish()
}

/// A hash of a JSON value that agrees with `==` on `serde_json::Value`.
fn hash_of(value: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    hash_json(value, &mut hasher);
    hasher.finish()
}

fn hash_json(value: &Value, hasher: &mut DefaultHasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => {
            1u8.hash(hasher);
            b.hash(hasher);
        }
        Value::Number(n) => {
            2u8.hash(hasher);
            // serde_json numbers are equal within the same kind only: 1 and 1.0 differ.
            if let Some(u) = n.as_u64() {
                (0u8, u).hash(hasher);
            } else if let Some(i) = n.as_i64() {
                (1u8, i).hash(hasher);
            } else {
                let f = n.as_f64().unwrap_or_default();
                // 0.0 == -0.0.
                let f = if f == 0.0 { 0.0 } else { f };
                (2u8, f.to_bits()).hash(hasher);
            }
        }
        Value::String(s) => {
            3u8.hash(hasher);
            s.hash(hasher);
        }
        Value::Array(items) => {
            4u8.hash(hasher);
            items.len().hash(hasher);
            for item in items {
                hash_json(item, hasher);
            }
        }
        Value::Object(fields) => hash_object(fields, hasher),
    }
}

/// Objects are equal whatever the order of their members: their hash is too.
fn hash_object(fields: &Map<String, Value>, hasher: &mut DefaultHasher) {
    5u8.hash(hasher);
    fields.len().hash(hasher);
    let mut sum = 0u64;
    for (key, value) in fields {
        let mut member = DefaultHasher::new();
        key.hash(&mut member);
        hash_json(value, &mut member);
        sum = sum.wrapping_add(member.finish());
    }
    sum.hash(hasher);
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
    let mut by_hash: HashMap<u64, Vec<&Value>> = HashMap::new();
    for l in &listed {
        by_hash.entry(same_value_hash(l)).or_default().push(l);
    }
    if let Some(Value::Array(items)) = holder.get_mut(key) {
        items.retain(|e| {
            !by_hash
                .get(&same_value_hash(e))
                .is_some_and(|ls| ls.iter().any(|l| same_value(e, l)))
        });
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
