//! Validation and normalisation of a client-sent resource (RFC 7643 §2-§4, RFC 7644 §3.3,
//! §3.5.1), driven by the attribute characteristics of [`crate::scim::schema`].
//!
//! [`normalize`] turns a POST or PUT body into the canonical form this service stores:
//! attribute names in their schema spelling, extension attributes under their URN, no
//! readOnly or writeOnly values, no `null`s, and a rebuilt `schemas` list.

#[cfg(test)]
mod tests;
mod value;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{
    common_attribute, AttrType, Attribute, Mutability, ResourceKind, Returned, Schema,
    COMMON_ATTRIBUTES,
};
use crate::scim::text::member;

use value::{clip, describe, insert, is_blank, unknown};

/// Validates a POST/PUT body for a resource of type `kind` and returns its normal form.
///
/// - The body must be a JSON object (400 `invalidSyntax`).
/// - `schemas`, when present, must list the core schema and nothing but it and the extensions
///   of `kind`; the output's `schemas` is rebuilt from what the resource actually holds.
/// - Member names match attribute names case-insensitively (RFC 7643 §2.1); an extension is an
///   object keyed by its URN, or fully qualified members (`urn:…:User:department`) that are
///   folded into that object (Entra ID, Okta).
/// - Unknown attributes and values of the wrong type are rejected (400 `invalidValue`);
///   `null` and empty arrays mean absent; readOnly attributes are ignored (RFC 7644 §3.3).
/// - Required attributes must be present and not blank.
pub fn normalize(kind: ResourceKind, input: &Value) -> Result<Value, ScimError> {
    let Value::Object(body) = input else {
        return Err(ScimError::invalid_syntax(format!(
            "The request body must be a JSON object holding a {} resource, got {}.",
            kind.name(),
            describe(input, true)
        )));
    };
    let core = kind.core_schema();
    let mut out = Map::new();
    // Extension members by URN, whether nested under the URN or fully qualified.
    let mut extensions: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();

    for (key, value) in body {
        match resolve(kind, key) {
            Member::Schemas => check_schemas(kind, value)?,
            Member::Attribute {
                extension: None,
                attr,
            } => insert(kind, &mut out, attr, value, attr.name)?,
            Member::Attribute {
                extension: Some(schema),
                attr,
            } => {
                let path = format!("{}:{}", schema.id, attr.name);
                let members = extensions.entry(schema.id).or_default();
                insert(kind, members, attr, value, &path)?;
            }
            Member::Extension(schema) => {
                let members = extensions.entry(schema.id).or_default();
                normalize_extension(kind, schema, value, members)?
            }
            Member::Unknown => return Err(unknown(kind, &clip(key))),
        }
    }

    check_required(kind, core, &out, "")?;
    let mut schemas = vec![Value::from(core.id)];
    for &schema in kind.extensions() {
        let Some(members) = extensions.remove(schema.id).filter(|m| !m.is_empty()) else {
            continue;
        };
        check_required(kind, schema, &members, &format!("{}:", schema.id))?;
        schemas.push(Value::from(schema.id));
        out.insert(schema.id.to_owned(), Value::Object(members));
    }
    out.insert("schemas".to_owned(), Value::Array(schemas));
    Ok(Value::Object(out))
}

/// Rejects a change to an attribute whose mutability is `immutable` (RFC 7643 §2.2,
/// RFC 7644 §3.5.1): where `stored` has a value and `incoming` has a different one, the
/// request fails with 400 `mutability`.
///
/// An attribute absent from `incoming` is not a change request here; the caller keeps the
/// stored value. Sub-attributes of multi-valued attributes are not compared: such an
/// attribute (Group `members`) is replaced as a whole.
pub fn check_immutable(
    kind: ResourceKind,
    stored: &Value,
    incoming: &Value,
) -> Result<(), ScimError> {
    let (Value::Object(stored), Value::Object(incoming)) = (stored, incoming) else {
        return Ok(());
    };
    immutable_in(kind.core_schema().attributes, stored, incoming, "")?;
    immutable_in(COMMON_ATTRIBUTES, stored, incoming, "")?;
    for schema in kind.extensions() {
        if let (Some(Value::Object(old)), Some(Value::Object(new))) =
            (member(stored, schema.id), member(incoming, schema.id))
        {
            immutable_in(schema.attributes, old, new, &format!("{}:", schema.id))?;
        }
    }
    Ok(())
}

/// Removes every attribute whose `returned` characteristic is `never` (RFC 7643 §7), at any
/// level, whatever the spelling of its name.
pub fn strip_never_returned(kind: ResourceKind, resource: &mut Value) {
    let Value::Object(members) = resource else {
        return;
    };
    members.retain(|key, value| match resolve(kind, key) {
        Member::Attribute { attr, .. } => keep_and_strip(attr, value),
        Member::Extension(schema) => {
            if let Value::Object(inner) = value {
                strip_in(schema.attributes, inner);
            }
            true
        }
        Member::Schemas | Member::Unknown => true,
    });
}

/// Where a top-level member of a resource body belongs.
enum Member {
    Schemas,
    /// A core or common attribute, or an extension attribute given by its fully qualified name.
    Attribute {
        extension: Option<&'static Schema>,
        attr: &'static Attribute,
    },
    /// The object holding the attributes of an extension, keyed by the extension's URN.
    Extension(&'static Schema),
    Unknown,
}

fn resolve(kind: ResourceKind, key: &str) -> Member {
    if key.eq_ignore_ascii_case("schemas") {
        return Member::Schemas;
    }
    let core = kind.core_schema();
    if let Some(attr) = core.attribute(key).or_else(|| common_attribute(key)) {
        return Member::Attribute {
            extension: None,
            attr,
        };
    }
    for &schema in kind.extensions() {
        if key.eq_ignore_ascii_case(schema.id) {
            return Member::Extension(schema);
        }
        if let Some(name) = qualified(schema.id, key) {
            return match schema.attribute(name) {
                Some(attr) => Member::Attribute {
                    extension: Some(schema),
                    attr,
                },
                None => Member::Unknown,
            };
        }
    }
    match qualified(core.id, key).and_then(|name| core.attribute(name)) {
        Some(attr) => Member::Attribute {
            extension: None,
            attr,
        },
        None => Member::Unknown,
    }
}

/// `name` when `key` is the fully qualified attribute name `{urn}:{name}` (RFC 7644 §3.10),
/// the URN compared case-insensitively.
fn qualified<'k>(urn: &str, key: &'k str) -> Option<&'k str> {
    let head = key.get(..urn.len())?;
    let name = key.get(urn.len()..)?.strip_prefix(':')?;
    (head.eq_ignore_ascii_case(urn) && !name.is_empty()).then_some(name)
}

/// Normalises the object an extension URN keys (RFC 7643 §3.3) into `out`.
fn normalize_extension(
    kind: ResourceKind,
    schema: &'static Schema,
    value: &Value,
    out: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    let members = match value {
        Value::Null => return Ok(()),
        Value::Object(members) => members,
        other => {
            return Err(ScimError::invalid_value(format!(
                "Attribute '{}' must be a JSON object holding the extension's attributes, got {}.",
                schema.id,
                describe(other, false)
            )))
        }
    };
    for (key, value) in members {
        // Some clients repeat `"schemas": [urn]` inside the extension object: redundant, ignored.
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let attr = schema
            .attribute(key)
            .ok_or_else(|| unknown(kind, &format!("{}:{}", schema.id, clip(key))))?;
        insert(
            kind,
            out,
            attr,
            value,
            &format!("{}:{}", schema.id, attr.name),
        )?;
    }
    Ok(())
}

/// RFC 7643 §2.2 "required", applied to what survived normalisation: a blank string is no value.
fn check_required(
    kind: ResourceKind,
    schema: &Schema,
    members: &Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    let missing = schema
        .attributes
        .iter()
        .find(|attr| attr.required && members.get(attr.name).is_none_or(is_blank));
    match missing {
        Some(attr) => Err(ScimError::invalid_value(format!(
            "Attribute '{prefix}{}' is required for resource type {} and must not be empty.",
            attr.name,
            kind.name()
        ))),
        None => Ok(()),
    }
}

/// Checks the `schemas` member (RFC 7643 §3): an array of URNs naming the core schema of `kind`
/// and only schemas `kind` supports. Absent or `null` is accepted: `schemas` is rebuilt anyway.
fn check_schemas(kind: ResourceKind, value: &Value) -> Result<(), ScimError> {
    let urns = match value {
        Value::Null => return Ok(()),
        Value::Array(urns) => urns,
        other => {
            return Err(ScimError::invalid_value(format!(
                "Attribute 'schemas' must be an array of schema URNs, got {}.",
                describe(other, false)
            )))
        }
    };
    let core = kind.core_schema();
    let mut has_core = false;
    for urn in urns {
        let Value::String(urn) = urn else {
            return Err(ScimError::invalid_value(format!(
                "Attribute 'schemas' must hold schema URN strings, got {}.",
                describe(urn, false)
            )));
        };
        match kind.schema(urn) {
            Some(schema) => has_core |= schema.id == core.id,
            None => {
                let supported: Vec<&str> = std::iter::once(core.id)
                    .chain(kind.extensions().iter().map(|s| s.id))
                    .collect();
                return Err(ScimError::invalid_value(format!(
                    "Schema '{}' is not supported for resource type {}; supported: {}.",
                    clip(urn),
                    kind.name(),
                    supported.join(", ")
                )));
            }
        }
    }
    if has_core {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "schemas must include {} for resource type {}.",
            core.id,
            kind.name()
        )))
    }
}

fn immutable_in(
    attributes: &'static [Attribute],
    stored: &Map<String, Value>,
    incoming: &Map<String, Value>,
    prefix: &str,
) -> Result<(), ScimError> {
    for attr in attributes {
        let (Some(old), Some(new)) = (member(stored, attr.name), member(incoming, attr.name))
        else {
            continue;
        };
        if old.is_null() || new.is_null() {
            continue;
        }
        if attr.mutability == Mutability::Immutable {
            if !same(attr, old, new) {
                return Err(ScimError::mutability(format!(
                    "Attribute '{prefix}{}' is immutable: it cannot be changed once set \
                     (RFC 7643 §2.2).",
                    attr.name
                )));
            }
        } else if attr.ty == AttrType::Complex && !attr.multi_valued {
            if let (Value::Object(old), Value::Object(new)) = (old, new) {
                let prefix = format!("{prefix}{}.", attr.name);
                immutable_in(attr.sub_attributes, old, new, &prefix)?;
            }
        }
    }
    Ok(())
}

/// Equality under the attribute's caseExact characteristic (RFC 7643 §2.2).
fn same(attr: &Attribute, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b))
            if !attr.case_exact && matches!(attr.ty, AttrType::String | AttrType::Reference) =>
        {
            a.to_lowercase() == b.to_lowercase()
        }
        _ => a == b,
    }
}

/// `false` when `attr` is never returned; otherwise strips what is never returned inside it.
fn keep_and_strip(attr: &Attribute, value: &mut Value) -> bool {
    if attr.returned == Returned::Never {
        return false;
    }
    if attr.ty == AttrType::Complex {
        match value {
            Value::Object(inner) => strip_in(attr.sub_attributes, inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        strip_in(attr.sub_attributes, inner);
                    }
                }
            }
            _ => {}
        }
    }
    true
}

fn strip_in(attributes: &'static [Attribute], members: &mut Map<String, Value>) {
    members.retain(|key, value| {
        match attributes.iter().find(|a| a.name.eq_ignore_ascii_case(key)) {
            Some(attr) => keep_and_strip(attr, value),
            None => true,
        }
    });
}
