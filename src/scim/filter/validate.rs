//! The second step after parsing: every attribute a filter names must exist in the schema of the
//! resource types searched (RFC 7644 §3.4.2.2: an unknown attribute is an `invalidFilter`, not a
//! silent non-match).

use super::ast::{AttrPath, Filter};
use crate::scim::schema::{common_attribute, Attribute, ResourceKind};
use crate::scim::ScimError;

/// Checks `filter` against the schemas of `kinds` (several for a root `/.search`): a path is
/// valid when any of them has it.
pub fn validate(filter: &Filter, kinds: &[ResourceKind]) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => check(path, kinds, None),
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate(a, kinds)?;
            validate(b, kinds)
        }
        Filter::Not(inner) => validate(inner, kinds),
        Filter::ValuePath { path, filter } => {
            check(path, kinds, None)?;
            validate_inner(filter, path, kinds)
        }
    }
}

/// Inside `emails[...]`, names are sub-attributes of `emails`.
fn validate_inner(
    filter: &Filter,
    outer: &AttrPath,
    kinds: &[ResourceKind],
) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => {
            check(outer, kinds, Some(&path.attr))
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            validate_inner(a, outer, kinds)?;
            validate_inner(b, outer, kinds)
        }
        Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => {
            validate_inner(inner, outer, kinds)
        }
    }
}

fn attribute_of(kind: ResourceKind, path: &AttrPath) -> Option<&'static Attribute> {
    let schema = match &path.urn {
        None => kind.core_schema(),
        Some(urn) => kind.schema(urn)?,
    };
    let is_core = std::ptr::eq(schema, kind.core_schema());
    schema
        .attribute(&path.attr)
        .or_else(|| is_core.then(|| common_attribute(&path.attr)).flatten())
}

fn check(path: &AttrPath, kinds: &[ResourceKind], inner: Option<&str>) -> Result<(), ScimError> {
    // `schemas eq "urn:…"` is an RFC 7644 §3.4.2.2 example: `schemas` is on every resource.
    if path.urn.is_none() && path.attr.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    let sub = inner.or(path.sub_attr.as_deref());
    let known = kinds.iter().any(|kind| {
        attribute_of(*kind, path).is_some_and(|attribute| match sub {
            None => true,
            Some(sub) => attribute.sub_attribute(sub).is_some(),
        })
    });
    if known {
        return Ok(());
    }
    let mut name = path
        .urn
        .as_ref()
        .map(|u| format!("{u}:"))
        .unwrap_or_default();
    name.push_str(&path.attr);
    if let Some(sub) = sub {
        name.push('.');
        name.push_str(sub);
    }
    let types: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    Err(ScimError::invalid_filter(format!(
        "The filter names '{name}', which is not an attribute of {}.",
        types.join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;

    fn ok(filter: &str, kinds: &[ResourceKind]) -> bool {
        validate(&parse_filter(filter).unwrap(), kinds).is_ok()
    }

    #[test]
    fn rfc7644_3_4_2_2_example_filters_are_valid_for_users() {
        for f in [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#,
            r#"id eq "1" or externalId eq "2""#,
        ] {
            assert!(ok(f, &[ResourceKind::User]), "{f}");
        }
    }

    #[test]
    fn unknown_attributes_are_invalid_filter() {
        for f in [
            r#"shoeSize eq "9""#,
            r#"name.middle eq "x""#,
            r#"emails[kind eq "work"]"#,
            r#"urn:example:custom:2.0:User:x eq "1""#,
            r#"members[value eq "1"]"#,
        ] {
            let err = validate(&parse_filter(f).unwrap(), &[ResourceKind::User]).unwrap_err();
            assert_eq!(
                err.scim_type,
                Some(crate::scim::ScimType::InvalidFilter),
                "{f}"
            );
            assert!(
                err.detail.contains("not an attribute of User"),
                "{}",
                err.detail
            );
        }
    }

    #[test]
    fn across_types_a_name_of_any_type_is_valid() {
        let both = [ResourceKind::User, ResourceKind::Group];
        assert!(ok(r#"displayName eq "x" or userName eq "y""#, &both));
        assert!(ok(r#"members[value eq "1"]"#, &[ResourceKind::Group]));
        assert!(!ok(r#"userName eq "y""#, &[ResourceKind::Group]));
    }
}
