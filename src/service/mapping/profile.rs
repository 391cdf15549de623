//! Running a mapping: SCIM User → app profile, and app profile → SCIM User for import.

use serde_json::{Map, Value};

use super::app_field::{AppField, FieldKind};
use super::rule::Mapping;
use super::scim_path::{member, ScimPath, WriteError};
use crate::scim::schema::{AttrType, Attribute, ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use crate::scim::ScimError;

/// The rules whose both sides parse, with their index.
fn compiled(mapping: &Mapping) -> impl Iterator<Item = (usize, ScimPath, AppField)> + '_ {
    mapping
        .rules
        .iter()
        .enumerate()
        .filter_map(|(index, rule)| {
            let scim = ScimPath::parse(&rule.scim).ok()?;
            let field = AppField::parse(&rule.app).ok()?;
            Some((index, scim, field))
        })
}

pub(super) fn to_profile(mapping: &Mapping, user: &Value) -> Value {
    let mut profile = Map::new();
    let user_id = member(user, "id").cloned().unwrap_or(Value::Null);
    profile.insert("user_id".into(), user_id);
    // RFC 7643 §4.1.1 gives no default for `active`; a User provisioned without it is active.
    let active = member(user, "active")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    profile.insert("active".into(), Value::Bool(active));
    for (_, scim, field) in compiled(mapping) {
        let value = match field.kind() {
            FieldKind::Blocked if scim.is_active() => Some(Value::Bool(!active)),
            FieldKind::Blocked => scim
                .read(user)
                .and_then(Value::as_bool)
                .map(|b| Value::Bool(!b)),
            FieldKind::Text | FieldKind::Any => scim.read(user).cloned(),
        };
        if let Some(value) = value {
            field.set(&mut profile, value);
        }
    }
    Value::Object(profile)
}

pub(super) fn to_scim(
    mapping: &Mapping,
    profile: &Value,
) -> Result<(Value, Vec<String>), ScimError> {
    let Some(fields) = profile.as_object() else {
        return Err(ScimError::invalid_value(
            "Cannot import the profile: it must be a JSON object.",
        ));
    };
    let mut problems = Vec::new();
    let mut body = Map::new();
    match fields.get("active") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(active)) => {
            body.insert("active".into(), Value::Bool(*active));
        }
        Some(other) => problems.push(format!(
            "'active' is {} but must be a boolean",
            json_type(other)
        )),
    }
    let mut targets: Vec<Vec<String>> = Vec::new();
    let mut carried: Vec<Vec<String>> = Vec::new();
    let mut written = Vec::new();
    for (index, scim, field) in compiled(mapping) {
        targets.push(field.segments.clone());
        let Some(value) = field.get(profile) else {
            continue;
        };
        if !scim.writable() {
            // `id`, `meta.*`, `groups`: the service assigns them; reported as not carried.
            continue;
        }
        let app = field.dotted();
        let value = match (field.kind(), value) {
            (FieldKind::Blocked, Value::Bool(blocked)) => Value::Bool(!blocked),
            (FieldKind::Blocked, other) => {
                problems.push(format!(
                    "'blocked' is {} but must be a boolean",
                    json_type(other)
                ));
                continue;
            }
            (_, value) => value.clone(),
        };
        if !fits(scim.leaf(), &value) {
            problems.push(format!(
                "'{app}' is {} but SCIM '{}' takes {}",
                json_type(&value),
                scim.text(),
                expected_json(scim.leaf())
            ));
            continue;
        }
        match scim.write(&mut body, value.clone()) {
            Ok(()) => {
                carried.push(field.segments.clone());
                written.push((index, scim, app, value));
            }
            Err(WriteError::Conflict) => problems.push(format!(
                "'{app}' (rules[{index}]) sets SCIM '{}' to a different value than an earlier \
                 field",
                scim.text()
            )),
            // The filter does not say what element to create: the field is not carried.
            Err(WriteError::NotReversible) => {}
        }
    }
    let has_enterprise = body.contains_key(ENTERPRISE_USER_SCHEMA);
    let mut schemas = vec![Value::String(USER_SCHEMA.into())];
    if has_enterprise {
        schemas.push(Value::String(ENTERPRISE_USER_SCHEMA.into()));
    }
    body.insert("schemas".into(), Value::Array(schemas));
    let body = Value::Object(body);
    // Each field must read back as imported: another rule may have made a different element
    // the primary one, or filled the element a filter picks first.
    for (index, scim, app, value) in &written {
        if scim.read(&body) != Some(value) {
            problems.push(format!(
                "'{app}' (rules[{index}]) would not read back from SCIM '{}' as imported, \
                 because another rule writes the same attribute",
                scim.text()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "Cannot import the profile: {}.",
            problems.join("; ")
        )));
    }
    let mut ignored = Vec::new();
    let paths = Paths {
        targets: &targets,
        carried: &carried,
    };
    paths.not_carried(fields, &mut Vec::new(), &mut ignored);
    ignored.sort();
    Ok((body, ignored))
}

/// The app fields the rules target, and those of them carried into SCIM.
struct Paths<'a> {
    targets: &'a [Vec<String>],
    carried: &'a [Vec<String>],
}

impl Paths<'_> {
    /// The dotted paths of the non-null fields of `object` (at `prefix`) that were not carried
    /// into SCIM: a whole object when no rule targets a field inside it, else its members one
    /// by one. Recurses only along rule targets, so at most as deep as the deepest app field.
    fn not_carried(
        &self,
        object: &Map<String, Value>,
        prefix: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        for (key, value) in object {
            if value.is_null() || (prefix.is_empty() && (key == "user_id" || key == "active")) {
                continue;
            }
            prefix.push(key.clone());
            let carried = self.carried.iter().any(|c| c == prefix);
            let deeper = self
                .targets
                .iter()
                .any(|t| t.len() > prefix.len() && t.starts_with(prefix));
            match value {
                _ if carried => {}
                Value::Object(members) if deeper => self.not_carried(members, prefix, out),
                _ => out.push(prefix.join(".")),
            }
            prefix.pop();
        }
    }
}

/// Whether `value` has the JSON type of the attribute (RFC 7643 §2.3).
fn fits(attribute: &Attribute, value: &Value) -> bool {
    match attribute.ty {
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => {
            value.is_string()
        }
        AttrType::Boolean => value.is_boolean(),
        AttrType::Integer => value.is_i64() || value.is_u64(),
        AttrType::Decimal => value.is_number(),
        AttrType::Complex => value.is_object(),
    }
}

fn expected_json(attribute: &Attribute) -> &'static str {
    match attribute.ty {
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => {
            "a string"
        }
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::Complex => "an object",
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
