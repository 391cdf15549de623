//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a response
//! carries, honouring each attribute's `returned` characteristic (RFC 7643 §2.4).

use serde_json::{Map, Value};

use super::schema::{common_attribute, Attribute, ResourceKind, Returned, Schema};
use super::text::strip_prefix_ignore_ascii_case;
use super::ScimError;

/// One requested attribute: the schema it belongs to, the attribute, and optionally a
/// sub-attribute; `attr` is `None` when a whole extension schema was named.
#[derive(Debug, Clone, PartialEq)]
struct Selector {
    schema: &'static str,
    attr: Option<String>,
    sub_attr: Option<String>,
}

/// What a request asked to see.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Projection {
    /// `None` when the client did not restrict attributes.
    attributes: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
    /// Core attributes never shown, whatever the client asked (what the token may not read).
    withheld: Vec<&'static str>,
}

impl Projection {
    /// Parses the comma-separated lists; an unknown attribute is a 400 `invalidValue`.
    pub fn parse(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        Ok(Projection {
            attributes: restricting(attributes)
                .map(|a| parse_list(kind, Some(a), false))
                .transpose()?,
            excluded: parse_list(kind, excluded, false)?,
            withheld: Vec::new(),
        })
    }

    /// As [`Projection::parse`], for a search across resource types (`POST /.search` at the
    /// root): names that the resource type does not have are skipped instead of refused.
    pub fn parse_across(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Projection {
        Projection {
            attributes: restricting(attributes)
                .map(|a| parse_list(kind, Some(a), true).unwrap_or_default()),
            excluded: parse_list(kind, excluded, true).unwrap_or_default(),
            withheld: Vec::new(),
        }
    }

    /// The same projection, never showing the core attribute `attr` (not even when asked for):
    /// for what the request's credentials may not read.
    pub fn withhold(mut self, attr: &'static str) -> Projection {
        self.withheld.push(attr);
        self
    }

    /// Whether the client named `attr` (of the core schema) in `attributes`, or whether it is
    /// returned by default and not excluded. Lets callers skip loading what is not shown.
    pub fn wants(&self, kind: ResourceKind, attr: &str) -> bool {
        if self.withheld.iter().any(|w| w.eq_ignore_ascii_case(attr)) {
            return false;
        }
        let core = kind.core_schema().id;
        let named = |list: &[Selector]| {
            list.iter().any(|s| {
                s.schema == core
                    && s.attr
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(attr))
            })
        };
        match &self.attributes {
            Some(attributes) => named(attributes),
            // Excluding a sub-attribute (`members.display`) still shows the attribute.
            None => !self.excluded.iter().any(|s| {
                s.schema == core
                    && s.sub_attr.is_none()
                    && s.attr
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(attr))
            }),
        }
    }

    /// Applies the projection to a rendered resource (with `id`, `meta` and `schemas`).
    pub fn apply(&self, kind: ResourceKind, resource: &mut Value) {
        let Value::Object(members) = resource else {
            return;
        };
        let core = kind.core_schema();
        members.retain(|key, _| !self.withheld.iter().any(|w| w.eq_ignore_ascii_case(key)));
        let keys: Vec<String> = members.keys().cloned().collect();
        for key in keys {
            if key == "schemas" {
                continue;
            }
            if let Some(extension) = kind
                .extensions()
                .iter()
                .find(|s| s.id.eq_ignore_ascii_case(&key))
            {
                let keep = match members.get_mut(&key) {
                    Some(Value::Object(inner)) => {
                        self.filter_members(extension, inner);
                        !inner.is_empty()
                    }
                    _ => false,
                };
                if !keep {
                    members.remove(&key);
                }
                continue;
            }
            let Some(attribute) = core.attribute(&key).or_else(|| common_attribute(&key)) else {
                continue;
            };
            match self.decide(core.id, attribute, None) {
                Keep::All => {}
                Keep::Drop => {
                    members.remove(&key);
                }
                Keep::Some => {
                    if let Some(value) = members.get_mut(&key) {
                        self.filter_sub_attributes(core.id, attribute, value);
                    }
                }
            }
        }
        // Drop extension URNs from `schemas` whose object is gone.
        let present: Vec<String> = members.keys().cloned().collect();
        if let Some(Value::Array(schemas)) = members.get_mut("schemas") {
            schemas.retain(|s| {
                s.as_str().is_some_and(|urn| {
                    urn.eq_ignore_ascii_case(core.id)
                        || present.iter().any(|k| k.eq_ignore_ascii_case(urn))
                })
            });
        }
    }

    fn filter_members(&self, schema: &'static Schema, members: &mut Map<String, Value>) {
        let keys: Vec<String> = members.keys().cloned().collect();
        for key in keys {
            let Some(attribute) = schema.attribute(&key) else {
                continue;
            };
            match self.decide(schema.id, attribute, None) {
                Keep::All => {}
                Keep::Drop => {
                    members.remove(&key);
                }
                Keep::Some => {
                    if let Some(value) = members.get_mut(&key) {
                        self.filter_sub_attributes(schema.id, attribute, value);
                    }
                }
            }
        }
    }

    fn filter_sub_attributes(
        &self,
        schema: &'static str,
        attribute: &Attribute,
        value: &mut Value,
    ) {
        let mut filter_one = |v: &mut Value| {
            if let Value::Object(inner) = v {
                let keys: Vec<String> = inner.keys().cloned().collect();
                for key in keys {
                    let keep = attribute
                        .sub_attribute(&key)
                        .map(|sub| self.decide(schema, attribute, Some(sub)) != Keep::Drop)
                        .unwrap_or(true);
                    if !keep {
                        inner.remove(&key);
                    }
                }
            }
        };
        match value {
            Value::Array(items) => items.iter_mut().for_each(&mut filter_one),
            other => filter_one(other),
        }
    }

    /// The decision for one attribute, or one sub-attribute of it.
    fn decide(&self, schema: &'static str, attribute: &Attribute, sub: Option<&Attribute>) -> Keep {
        let target = sub.unwrap_or(attribute);
        match target.returned {
            Returned::Always => return Keep::All,
            Returned::Never => return Keep::Drop,
            Returned::Default | Returned::Request => {}
        }
        let matches = |s: &Selector| {
            s.schema == schema
                && match &s.attr {
                    None => true,
                    Some(a) => a.eq_ignore_ascii_case(attribute.name),
                }
        };
        let names_sub = |s: &Selector| match (sub, &s.sub_attr) {
            (Some(sub), Some(wanted)) => wanted.eq_ignore_ascii_case(sub.name),
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if let Some(attributes) = &self.attributes {
            let requested: Vec<&Selector> = attributes.iter().filter(|s| matches(s)).collect();
            if requested.is_empty() {
                return Keep::Drop;
            }
            if sub.is_none() {
                let whole = requested.iter().any(|s| s.sub_attr.is_none());
                return if whole { Keep::All } else { Keep::Some };
            }
            return if requested.iter().any(|s| names_sub(s)) {
                Keep::All
            } else {
                Keep::Drop
            };
        }
        if target.returned == Returned::Request {
            return Keep::Drop;
        }
        let excluded: Vec<&Selector> = self.excluded.iter().filter(|s| matches(s)).collect();
        if sub.is_none() {
            if excluded.iter().any(|s| s.sub_attr.is_none()) {
                return Keep::Drop;
            }
            return if excluded.is_empty() {
                Keep::All
            } else {
                Keep::Some
            };
        }
        if excluded.iter().any(|s| names_sub(s)) {
            Keep::Drop
        } else {
            Keep::All
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    All,
    Some,
    Drop,
}

/// The `attributes` value when it restricts anything (an empty list does not).
fn restricting(raw: Option<&str>) -> Option<&str> {
    raw.filter(|r| r.split(',').any(|s| !s.trim().is_empty()))
}

/// Parses a comma-separated list; with `skip_unknown`, names the type lacks are left out.
fn parse_list(
    kind: ResourceKind,
    raw: Option<&str>,
    skip_unknown: bool,
) -> Result<Vec<Selector>, ScimError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let names = raw.split(',').map(str::trim).filter(|s| !s.is_empty());
    if skip_unknown {
        return Ok(names.filter_map(|n| parse_selector(kind, n).ok()).collect());
    }
    names.map(|name| parse_selector(kind, name)).collect()
}

fn parse_selector(kind: ResourceKind, name: &str) -> Result<Selector, ScimError> {
    let unknown = || {
        ScimError::invalid_value(format!(
            "Unknown attribute '{name}' in attributes/excludedAttributes for {}.",
            kind.name()
        ))
    };
    let core = kind.core_schema();
    let schemas: Vec<&'static Schema> = std::iter::once(core)
        .chain(kind.extensions().iter().copied())
        .collect();
    // A whole extension: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    if let Some(schema) = schemas.iter().find(|s| s.id.eq_ignore_ascii_case(name)) {
        return Ok(Selector {
            schema: schema.id,
            attr: None,
            sub_attr: None,
        });
    }
    // `urn:…:User:name`: a schema URN, a colon, then a non-empty path. Client text: split only
    // where a character ends (issue: a `name` with a multi-byte character at the URN's length).
    let qualified = schemas.iter().find_map(|s| {
        let path = strip_prefix_ignore_ascii_case(name, s.id)?.strip_prefix(':')?;
        (!path.is_empty()).then_some((*s, path))
    });
    let (schema, path) = qualified.unwrap_or((core, name));
    let (attr, sub_attr) = match path.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (path, None),
    };
    let attribute = schema
        .attribute(attr)
        .or_else(|| {
            (schema.id == core.id)
                .then(|| common_attribute(attr))
                .flatten()
        })
        .ok_or_else(unknown)?;
    if let Some(sub) = sub_attr {
        attribute.sub_attribute(sub).ok_or_else(unknown)?;
    }
    Ok(Selector {
        schema: schema.id,
        attr: Some(attribute.name.to_owned()),
        sub_attr: sub_attr.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223",
            "userName": "bjensen",
            "displayName": "Babs",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work"}],
            "meta": {"resourceType": "User", "version": "W/\"1\""},
            ENTERPRISE: {"department": "Tours", "employeeNumber": "7"}
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let projection = Projection::parse(ResourceKind::User, attributes, excluded).unwrap();
        let mut u = user();
        projection.apply(ResourceKind::User, &mut u);
        u
    }

    #[test]
    fn rfc7644_3_4_2_5_attributes_keeps_listed_and_always_returned() {
        let out = project(Some("userName,name.givenName"), None);
        assert_eq!(out["id"], "2819c223");
        assert_eq!(out["userName"], "bjensen");
        assert_eq!(out["name"], json!({"givenName": "Barbara"}));
        assert!(out.get("displayName").is_none());
        assert!(out.get("emails").is_none());
        assert!(out.get(ENTERPRISE).is_none());
        assert_eq!(
            out["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
        );
    }

    #[test]
    fn rfc7644_3_4_2_5_excluded_attributes_drops_listed_but_never_id() {
        let out = project(None, Some("emails,id,name.familyName"));
        assert_eq!(out["id"], "2819c223");
        assert!(out.get("emails").is_none());
        assert_eq!(out["name"], json!({"givenName": "Barbara"}));
        assert_eq!(out["displayName"], "Babs");
    }

    #[test]
    fn extension_attributes_by_urn() {
        let out = project(Some(&format!("{ENTERPRISE}:department")), None);
        assert_eq!(out[ENTERPRISE], json!({"department": "Tours"}));
        let out = project(Some(ENTERPRISE), None);
        assert_eq!(out[ENTERPRISE]["employeeNumber"], "7");
        let out = project(None, Some(ENTERPRISE));
        assert!(out.get(ENTERPRISE).is_none());
    }

    #[test]
    fn names_are_case_insensitive_and_urn_qualified_core_names_work() {
        let out = project(
            Some("USERNAME,urn:ietf:params:scim:schemas:core:2.0:User:displayName"),
            None,
        );
        assert_eq!(out["userName"], "bjensen");
        assert_eq!(out["displayName"], "Babs");
    }

    #[test]
    fn unknown_attribute_names_are_invalid_value() {
        for bad in ["favoriteColor", "name.nickname", "urn:x:y:z"] {
            let err = Projection::parse(ResourceKind::User, Some(bad), None).unwrap_err();
            assert_eq!(
                err.scim_type,
                Some(crate::scim::ScimType::InvalidValue),
                "{bad}"
            );
        }
    }

    #[test]
    fn across_types_unknown_names_are_skipped_but_still_restrict() {
        let p = Projection::parse_across(ResourceKind::User, Some("members"), None);
        let mut u = user();
        p.apply(ResourceKind::User, &mut u);
        assert_eq!(u["id"], "2819c223");
        assert!(u.get("userName").is_none());
        let p = Projection::parse_across(ResourceKind::User, None, Some("members,displayName"));
        let mut u = user();
        p.apply(ResourceKind::User, &mut u);
        assert!(u.get("displayName").is_none());
        assert_eq!(u["userName"], "bjensen");
    }

    #[test]
    fn withheld_attributes_are_never_shown_even_when_asked_for() {
        let p = Projection::parse(ResourceKind::User, Some("userName,emails"), None)
            .unwrap()
            .withhold("emails");
        let mut u = user();
        p.apply(ResourceKind::User, &mut u);
        assert_eq!(u["userName"], "bjensen");
        assert!(u.get("emails").is_none());
        assert!(!p.wants(ResourceKind::User, "EMAILS"));
    }

    #[test]
    fn wants_tells_whether_an_attribute_is_shown() {
        let p = Projection::parse(ResourceKind::Group, None, Some("members")).unwrap();
        assert!(!p.wants(ResourceKind::Group, "members"));
        let p = Projection::parse(ResourceKind::Group, Some("displayName"), None).unwrap();
        assert!(!p.wants(ResourceKind::Group, "members"));
        let p = Projection::parse(ResourceKind::Group, None, None).unwrap();
        assert!(p.wants(ResourceKind::Group, "members"));
        let p = Projection::parse(ResourceKind::Group, None, Some("members.display")).unwrap();
        assert!(p.wants(ResourceKind::Group, "members"));
        let p = Projection::parse(ResourceKind::Group, Some("members.value"), None).unwrap();
        assert!(p.wants(ResourceKind::Group, "members"));
    }

    /// Hardening item 11: `attributes` whose byte at a schema URN's length (42, 43 or 60) falls
    /// inside a multi-byte character once panicked (a slice at the URN's byte length). Every
    /// offset, every kind, both lists: a clean 400 or a projection, never a panic.
    #[test]
    fn hardening_11_multi_byte_attribute_names_never_panic() {
        for kind in [ResourceKind::User, ResourceKind::Group] {
            for n in 30..70 {
                for ch in ["é", "€", "𝄞"] {
                    let name = format!("{}{ch}x", "a".repeat(n));
                    let err = Projection::parse(kind, Some(&name), None).unwrap_err();
                    assert_eq!(err.scim_type, Some(crate::scim::ScimType::InvalidValue));
                    assert!(Projection::parse(kind, None, Some(&name)).is_err());
                    let _ = Projection::parse_across(kind, Some(&name), Some(&name));
                }
            }
        }
        // A real URN with a multi-byte character right after it is unknown, not a panic.
        let name = format!("{ENTERPRISE}é");
        assert!(Projection::parse(ResourceKind::User, Some(&name), None).is_err());
    }
}
