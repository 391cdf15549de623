//! The SCIM side of a rule: a PATCH-style path (RFC 7644 §3.5.2) checked against the User
//! schema, read from a rendered User and written into a User body.

use serde_json::{Map, Value};

use crate::scim::filter::{
    matches_element, parse_patch_path, AttrPath, CompValue, CompareOp, Filter, PatchPath,
};
use crate::scim::schema::{
    common_attribute, AttrType, Attribute, Mutability, Returned, Schema, ENTERPRISE_USER, USER,
    USER_SCHEMA,
};

/// A rule's SCIM path, parsed and resolved against the User schema and its enterprise
/// extension.
#[derive(Debug)]
pub(super) struct ScimPath {
    text: String,
    path: PatchPath,
    /// The extension the attribute belongs to; `None` for core and common attributes, which
    /// sit at the top level of the resource (RFC 7643 §3).
    extension: Option<&'static Schema>,
    attribute: &'static Attribute,
    /// The sub-attribute after `.` or after `].`.
    sub: Option<&'static Attribute>,
}

/// Why a value could not be written into a SCIM body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WriteError {
    /// Another field already set this SCIM value to something else.
    Conflict,
    /// The value filter does not describe an element that can be created
    /// (`emails[type ne "work"]`, `emails[type eq "a" or type eq "b"]`).
    NotReversible,
}

impl ScimPath {
    /// Parses `text` and checks it against the schema; the error lists every problem found.
    pub fn parse(text: &str) -> Result<ScimPath, Vec<String>> {
        let path = parse_patch_path(text).map_err(|e| {
            vec![format!(
                "'{text}' is not a valid SCIM path (at position {}: {})",
                e.position, e.message
            )]
        })?;
        let (extension, attribute) = resolve_attribute(&path.attr).map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        if attribute.returned == Returned::Never {
            problems.push(format!(
                "'{}' is never returned by the SCIM service, so there is nothing to map",
                attribute.name
            ));
        }
        let sub_name = match (&path.attr.sub_attr, &path.sub_attr) {
            (Some(a), Some(b)) => {
                problems.push(format!(
                    "'{text}' names two sub-attributes ('{a}' and '{b}')"
                ));
                None
            }
            (a, b) => a.as_ref().or(b.as_ref()),
        };
        let sub = match sub_name {
            None => None,
            Some(name) => {
                let found = attribute.sub_attribute(name);
                if found.is_none() {
                    problems.push(format!(
                        "'{name}' is not a sub-attribute of '{}'",
                        attribute.name
                    ));
                }
                found
            }
        };
        if let Some(filter) = &path.filter {
            if attribute.ty != AttrType::Complex || !attribute.multi_valued {
                problems.push(format!(
                    "a value filter '[…]' needs a multi-valued complex attribute, and '{}' is not \
                     one",
                    attribute.name
                ));
            } else {
                check_filter(filter, attribute, &mut problems);
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ScimPath {
            text: text.to_string(),
            path,
            extension,
            attribute,
            sub,
        })
    }

    /// The attribute definition of what the path reads: the sub-attribute, else the attribute.
    pub fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attribute)
    }

    /// Whether this is the core `active` attribute itself.
    pub fn is_active(&self) -> bool {
        self.extension.is_none()
            && self.sub.is_none()
            && self.path.filter.is_none()
            && self.attribute.name == "active"
    }

    /// Whether a client may set what the path names (RFC 7643 §7 `mutability`): `id`,
    /// `meta.*`, `groups` and `manager.displayName` are read-only.
    pub fn writable(&self) -> bool {
        self.attribute.mutability != Mutability::ReadOnly
            && self
                .sub
                .is_none_or(|s| s.mutability != Mutability::ReadOnly)
    }

    /// The path as the rule wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value the path names in a rendered User; absent and `null` are `None`.
    pub fn read<'v>(&self, user: &'v Value) -> Option<&'v Value> {
        let base = match self.extension {
            Some(schema) => member(user, schema.id)?,
            None => user,
        };
        let value = member(base, self.attribute.name)?;
        let element = match &self.path.filter {
            Some(filter) => elements(value).find(|e| self.matches(filter, e))?,
            None if self.attribute.multi_valued => primary_or_first(value)?,
            None => value,
        };
        let leaf = match self.sub {
            Some(sub) => member(element, sub.name)?,
            None => element,
        };
        (!leaf.is_null()).then_some(leaf)
    }

    /// Writes `value` where [`ScimPath::read`] will find it, creating the objects and the
    /// multi-valued element on the way. Names are written in their schema spelling. On error
    /// `body` is left as it was.
    pub fn write(&self, body: &mut Map<String, Value>, value: Value) -> Result<(), WriteError> {
        let mut scratch = body.clone();
        self.write_into(&mut scratch, value)?;
        *body = scratch;
        Ok(())
    }

    fn write_into(&self, body: &mut Map<String, Value>, value: Value) -> Result<(), WriteError> {
        let base = match self.extension {
            Some(schema) => object_member(body, schema.id).ok_or(WriteError::Conflict)?,
            None => body,
        };
        let name = self.attribute.name;
        if !self.attribute.multi_valued {
            return match self.sub {
                Some(sub) => {
                    let parent = object_member(base, name).ok_or(WriteError::Conflict)?;
                    set(parent, sub.name, value)
                }
                None => set(base, name, value),
            };
        }
        let items = base.entry(name).or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = items else {
            return Err(WriteError::Conflict);
        };
        if self.attribute.ty != AttrType::Complex {
            // A multi-valued simple attribute reads its first value.
            return match items.first() {
                Some(first) if *first != value => Err(WriteError::Conflict),
                Some(_) => Ok(()),
                None => {
                    items.push(value);
                    Ok(())
                }
            };
        }
        let index = match &self.path.filter {
            Some(filter) => match items.iter().position(|e| self.matches(filter, e)) {
                Some(index) => index,
                None => {
                    let element = self.element_for(filter);
                    if !self.matches(filter, &element) {
                        return Err(WriteError::NotReversible);
                    }
                    items.push(element);
                    items.len() - 1
                }
            },
            None => match primary_index(items) {
                Some(index) => index,
                None => {
                    let mut element = Map::new();
                    // A new element read through its sub-attribute becomes the primary one,
                    // which is the element a path without a filter reads.
                    if self.sub.is_some() && self.attribute.sub_attribute("primary").is_some() {
                        element.insert("primary".into(), Value::Bool(true));
                    }
                    items.push(Value::Object(element));
                    items.len() - 1
                }
            },
        };
        let Some(Value::Object(element)) = items.get_mut(index) else {
            return Err(WriteError::Conflict);
        };
        match (self.sub, value) {
            (Some(sub), value) => set(element, sub.name, value),
            (None, Value::Object(members)) => {
                for (key, v) in members {
                    set(element, &key, v)?;
                }
                Ok(())
            }
            (None, _) => Err(WriteError::Conflict),
        }
    }

    /// A new element holding what the filter's `eq` terms require:
    /// `type eq "work" and primary eq true` → `{"type": "work", "primary": true}`.
    fn element_for(&self, filter: &Filter) -> Value {
        let mut element = Map::new();
        let mut pending = vec![filter];
        while let Some(node) = pending.pop() {
            match node {
                Filter::And(a, b) => {
                    pending.push(a);
                    pending.push(b);
                }
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value,
                } => {
                    let name = self
                        .attribute
                        .sub_attribute(&path.attr)
                        .map_or(path.attr.as_str(), |a| a.name);
                    let value = match value {
                        CompValue::Str(s) => Value::String(s.clone()),
                        CompValue::Num(n) => Value::Number(n.clone()),
                        CompValue::Bool(b) => Value::Bool(*b),
                        CompValue::Null => continue,
                    };
                    element.insert(name.to_string(), value);
                }
                _ => {}
            }
        }
        Value::Object(element)
    }

    /// Whether `element` of this path's attribute matches `filter`, comparing strings as the
    /// sub-attribute's `caseExact` says (RFC 7643 §2.2).
    fn matches(&self, filter: &Filter, element: &Value) -> bool {
        let attribute = self.attribute;
        let case_exact = |p: &AttrPath| {
            p.sub_attr
                .as_deref()
                .and_then(|s| attribute.sub_attribute(s))
                .is_some_and(|a| a.case_exact)
        };
        matches_element(filter, element, &self.path.attr, &case_exact)
    }
}

/// The schema and attribute an attribute path names: core User attributes and the common
/// `id`, `externalId`, `meta` with no URN or the core URN; enterprise ones with its URN.
fn resolve_attribute(
    path: &AttrPath,
) -> Result<(Option<&'static Schema>, &'static Attribute), String> {
    let core = path
        .urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA));
    if core {
        return USER
            .attribute(&path.attr)
            .or_else(|| common_attribute(&path.attr))
            .map(|a| (None, a))
            .ok_or_else(|| format!("'{}' is not an attribute of the User schema", path.attr));
    }
    let urn = path.urn.as_deref().unwrap_or_default();
    if !urn.eq_ignore_ascii_case(ENTERPRISE_USER.id) {
        return Err(format!(
            "'{urn}' is not a schema of User; the extension is '{}'",
            ENTERPRISE_USER.id
        ));
    }
    ENTERPRISE_USER
        .attribute(&path.attr)
        .map(|a| (Some(&ENTERPRISE_USER), a))
        .ok_or_else(|| {
            format!(
                "'{}' is not an attribute of the enterprise User extension",
                path.attr
            )
        })
}

/// Inside `emails[…]`, every name is a sub-attribute of `emails`, compared with a value of its
/// type (a mismatched type never matches, RFC 7644 §3.4.2.2).
fn check_filter(filter: &Filter, attribute: &Attribute, problems: &mut Vec<String>) {
    match filter {
        Filter::Compare { path, value, .. } => match attribute.sub_attribute(&path.attr) {
            None => problems.push(not_a_sub_attribute(&path.attr, attribute)),
            Some(sub) if !comparable(sub.ty, value) => problems.push(format!(
                "the filter compares '{}.{}' ({}) with {}, which never matches",
                attribute.name,
                sub.name,
                sub.ty.as_str(),
                describe_comp_value(value)
            )),
            Some(_) => {}
        },
        Filter::Present(path) => {
            if attribute.sub_attribute(&path.attr).is_none() {
                problems.push(not_a_sub_attribute(&path.attr, attribute));
            }
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_filter(a, attribute, problems);
            check_filter(b, attribute, problems);
        }
        Filter::Not(inner) => check_filter(inner, attribute, problems),
        Filter::ValuePath { .. } => problems.push(format!(
            "a value filter inside '{}[…]' is not supported",
            attribute.name
        )),
    }
}

fn not_a_sub_attribute(name: &str, attribute: &Attribute) -> String {
    format!(
        "the filter names '{name}', which is not a sub-attribute of '{}'",
        attribute.name
    )
}

fn comparable(ty: AttrType, value: &CompValue) -> bool {
    match value {
        CompValue::Null => true,
        CompValue::Str(_) => matches!(
            ty,
            AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary
        ),
        CompValue::Num(_) => matches!(ty, AttrType::Integer | AttrType::Decimal),
        CompValue::Bool(_) => ty == AttrType::Boolean,
    }
}

fn describe_comp_value(value: &CompValue) -> &'static str {
    match value {
        CompValue::Str(_) => "a string",
        CompValue::Num(_) => "a number",
        CompValue::Bool(_) => "a boolean",
        CompValue::Null => "null",
    }
}

pub(super) use crate::scim::text::member_of as member;

/// The object member `key` of `map`, created when absent; `None` when a non-object is there.
fn object_member<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
) -> Option<&'m mut Map<String, Value>> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Sets `map[key]` unless it already holds a different value.
fn set(map: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), WriteError> {
    match map.get(key) {
        Some(existing) if *existing != value => Err(WriteError::Conflict),
        Some(_) => Ok(()),
        None => {
            map.insert(key.to_string(), value);
            Ok(())
        }
    }
}

/// The complex elements a value filter looks at: each object of an array, or a lone object.
fn elements(value: &Value) -> impl Iterator<Item = &Value> {
    let items: &[Value] = match value {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    };
    items.iter().filter(|v| v.is_object())
}

/// The element a multi-valued attribute without a filter reads: the one marked
/// `"primary": true`, else the first (RFC 7643 §2.4).
fn primary_or_first(value: &Value) -> Option<&Value> {
    match value {
        Value::Array(items) => primary_index(items).and_then(|i| items.get(i)),
        other => Some(other),
    }
}

fn primary_index(items: &[Value]) -> Option<usize> {
    items
        .iter()
        .position(|e| member(e, "primary") == Some(&Value::Bool(true)))
        .or((!items.is_empty()).then_some(0))
}
