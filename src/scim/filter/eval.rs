//! Evaluator: whether a [`Filter`] matches one JSON resource in memory (RFC 7644 §3.4.2.2).
//!
//! Attribute names match JSON keys case-insensitively. A comparison on a multi-valued attribute
//! holds when any value satisfies it; a multi-valued complex attribute without a sub-attribute is
//! compared through each element's `value`. `ne` is the negation of `eq`, so it holds when the
//! attribute is absent.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ast::{AttrPath, CompValue, CompareOp, Filter, MAX_FILTER_DEPTH};
use crate::scim::text::member_of;

/// Core schema URNs whose attributes sit at the top level of a resource (RFC 7643 §3).
const CORE_SCHEMAS: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
];

/// Evaluates `filter` against one JSON resource (or, inside a value path, one element of a
/// multi-valued attribute). `case_exact(path)` says whether string comparison for that
/// attribute is case-sensitive (RFC 7643 §2.2 `caseExact`).
///
/// Filters deeper than [`MAX_FILTER_DEPTH`] (only possible when built by hand) match nothing.
pub fn matches(filter: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    within_depth(filter, MAX_FILTER_DEPTH)
        && Eval {
            case_exact,
            element_of: None,
        }
        .filter(filter, resource)
}

/// Evaluates a PATCH path's value filter (RFC 7644 §3.5.2) against one `element` of the
/// multi-valued attribute `attr`. Paths in `filter` are relative to the element, and
/// `case_exact` receives them as sub-attributes of `attr`, as inside a [`Filter::ValuePath`].
pub fn matches_element(
    filter: &Filter,
    element: &Value,
    attr: &AttrPath,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    within_depth(filter, MAX_FILTER_DEPTH)
        && Eval {
            case_exact,
            element_of: Some(attr),
        }
        .filter(filter, element)
}

/// Whether `filter` is at most `budget` and/or/not/value-path levels deep. Recurses at most
/// `budget` times, so the evaluator after it does too.
fn within_depth(filter: &Filter, budget: usize) -> bool {
    match filter {
        Filter::Compare { .. } | Filter::Present(_) => true,
        Filter::And(a, b) | Filter::Or(a, b) => {
            budget > 0 && within_depth(a, budget - 1) && within_depth(b, budget - 1)
        }
        Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => {
            budget > 0 && within_depth(inner, budget - 1)
        }
    }
}

struct Eval<'a> {
    case_exact: &'a dyn Fn(&AttrPath) -> bool,
    /// The multi-valued attribute whose element is being evaluated, inside a value path.
    element_of: Option<&'a AttrPath>,
}

impl Eval<'_> {
    /// Recursion depth is bounded by [`within_depth`], checked before the first call.
    fn filter(&self, filter: &Filter, node: &Value) -> bool {
        match filter {
            Filter::Compare { path, op, value } => self.compare(path, *op, value, node),
            Filter::Present(path) => resolve(path, node).into_iter().any(is_present),
            Filter::And(a, b) => self.filter(a, node) && self.filter(b, node),
            Filter::Or(a, b) => self.filter(a, node) || self.filter(b, node),
            Filter::Not(inner) => !self.filter(inner, node),
            Filter::ValuePath { path, filter } => {
                let element_eval = Eval {
                    case_exact: self.case_exact,
                    element_of: Some(path),
                };
                resolve(path, node)
                    .into_iter()
                    .flat_map(elements)
                    .any(|element| element_eval.filter(filter, element))
            }
        }
    }

    fn compare(&self, path: &AttrPath, op: CompareOp, value: &CompValue, node: &Value) -> bool {
        let values: Vec<&Value> = resolve(path, node).into_iter().flat_map(leaves).collect();
        let absent = values.iter().all(|v| v.is_null());
        match (op, value) {
            (CompareOp::Eq, CompValue::Null) => absent,
            (CompareOp::Ne, CompValue::Null) => !absent,
            (_, CompValue::Null) => false,
            // "Not equal": true when no value equals, including when there is none.
            (CompareOp::Ne, _) => !self.any_holds(CompareOp::Eq, path, value, &values),
            _ => self.any_holds(op, path, value, &values),
        }
    }

    fn any_holds(
        &self,
        op: CompareOp,
        path: &AttrPath,
        value: &CompValue,
        values: &[&Value],
    ) -> bool {
        let exact = matches!(value, CompValue::Str(_)) && (self.case_exact)(&self.full_path(path));
        values.iter().any(|v| holds(op, v, value, exact))
    }

    /// The path as the schema knows it: inside `emails[...]`, `type` is `emails.type`.
    fn full_path(&self, path: &AttrPath) -> AttrPath {
        match self.element_of {
            Some(outer) => AttrPath {
                urn: outer.urn.clone(),
                attr: outer.attr.clone(),
                sub_attr: Some(path.attr.clone()),
            },
            None => path.clone(),
        }
    }
}

/// The JSON values `path` names in `node`: one for a singular attribute, one per element for a
/// sub-attribute of a multi-valued one, none when absent.
fn resolve<'v>(path: &AttrPath, node: &'v Value) -> Vec<&'v Value> {
    let base = match &path.urn {
        Some(urn)
            if !CORE_SCHEMAS
                .iter()
                .any(|core| core.eq_ignore_ascii_case(urn)) =>
        {
            member_of(node, urn)
        }
        _ => Some(node),
    };
    let Some(value) = base.and_then(|b| member_of(b, &path.attr)) else {
        return Vec::new();
    };
    match (&path.sub_attr, value) {
        (None, _) => vec![value],
        (Some(sub), Value::Array(items)) => items
            .iter()
            .filter_map(|item| member_of(item, sub))
            .collect(),
        (Some(sub), _) => member_of(value, sub).into_iter().collect(),
    }
}

/// The simple values to compare: array elements one by one, and complex values through their
/// `value` sub-attribute (RFC 7644 §3.4.2.2, `emails co "example.com"`).
fn leaves(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().filter_map(through_value).collect(),
        _ => through_value(value).into_iter().collect(),
    }
}

fn through_value(value: &Value) -> Option<&Value> {
    match value {
        Value::Object(_) => member_of(value, "value"),
        _ => Some(value),
    }
}

/// The complex elements a value path filters: each object of an array, or a singular object.
fn elements(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().filter(|v| v.is_object()).collect(),
        Value::Object(_) => vec![value],
        _ => Vec::new(),
    }
}

/// `pr`: has a non-empty value (RFC 7644 §3.4.2.2).
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Whether `op` holds between one attribute value and the filter's value. Mismatched types
/// never hold.
fn holds(op: CompareOp, attr: &Value, value: &CompValue, exact: bool) -> bool {
    match (attr, value) {
        (Value::String(a), CompValue::Str(b)) => string_holds(op, a, b, exact),
        (Value::Number(a), CompValue::Num(b)) => ordering_holds(op, compare_numbers(a, b)),
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

fn string_holds(op: CompareOp, attr: &str, value: &str, exact: bool) -> bool {
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    if !substring {
        // RFC 7644 §3.4.2.2: dateTime attributes compare chronologically.
        if let (Some(a), Some(b)) = (date_time(attr), date_time(value)) {
            return ordering_holds(op, Some(a.cmp(&b)));
        }
    }
    let (attr, value): (Cow<str>, Cow<str>) = if exact {
        (attr.into(), value.into())
    } else {
        (attr.to_lowercase().into(), value.to_lowercase().into())
    };
    match op {
        CompareOp::Co => attr.contains(&*value),
        CompareOp::Sw => attr.starts_with(&*value),
        CompareOp::Ew => attr.ends_with(&*value),
        _ => ordering_holds(op, Some(attr.cmp(&value))),
    }
}

/// An RFC 3339 dateTime (RFC 7643 §2.3.5), if `s` is one.
fn date_time(s: &str) -> Option<OffsetDateTime> {
    // Cheap shape check first: `YYYY-MM-DDThh:mm:ss…`.
    let bytes = s.as_bytes();
    let shaped = bytes.len() >= 20
        && bytes.get(4) == Some(&b'-')
        && bytes.get(10).is_some_and(|b| b.eq_ignore_ascii_case(&b't'));
    if !shaped {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Integers compare exactly, anything else as f64.
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let integer = |n: &Number| n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn ordering_holds(op: CompareOp, ordering: Option<Ordering>) -> bool {
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde_json::json;

    use super::*;
    use crate::scim::filter::parse_filter;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// The RFC 7643 §8.2 full user representation, trimmed, with the enterprise extension of §8.3.
    fn rfc7643_8_2_user() -> Value {
        json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                ENTERPRISE
            ],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen@example.com",
            "name": { "familyName": "Jensen", "givenName": "Barbara" },
            "displayName": "Babs Jensen",
            "nickName": "Babs",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            "ims": [{ "value": "someaimhandle", "type": "aim" }],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z"
            },
            ENTERPRISE: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {
                    "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                    "displayName": "John Smith"
                }
            },
            "loginCount": 7
        })
    }

    fn never_exact(_: &AttrPath) -> bool {
        false
    }

    fn always_exact(_: &AttrPath) -> bool {
        true
    }

    /// Parses `input` and evaluates it; a parse failure is reported as `None`.
    fn eval(input: &str, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> Option<bool> {
        parse_filter(input)
            .ok()
            .map(|f| matches(&f, resource, case_exact))
    }

    fn assert_cases(resource: &Value, cases: &[(&str, bool)]) {
        for (input, expected) in cases {
            assert_eq!(
                eval(input, resource, &never_exact),
                Some(*expected),
                "{input}"
            );
        }
    }

    #[test]
    fn rfc7644_3_4_2_2_example_filters_on_the_rfc7643_8_2_user() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (r#"userName eq "bjensen@example.com""#, true),
                (r#"name.familyName co "ens""#, true),
                (r#"userName sw "B""#, true),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#,
                    true,
                ),
                ("title pr", true),
                (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
                (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
                (r#"title pr and userType eq "Employee""#, true),
                (r#"title pr or userType eq "Intern""#, true),
                (
                    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                    true,
                ),
                (
                    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                    true,
                ),
                (
                    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                    false,
                ),
                (
                    r#"userType eq "Employee" and (emails.type eq "work")"#,
                    true,
                ),
                (
                    r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                    true,
                ),
                (
                    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn rfc7643_2_2_strings_compare_case_insensitively_unless_case_exact() {
        let user = rfc7643_8_2_user();
        let filter = r#"userName eq "BJENSEN@example.com""#;
        assert_eq!(eval(filter, &user, &never_exact), Some(true));
        assert_eq!(eval(filter, &user, &always_exact), Some(false));
        let id_exact = |p: &AttrPath| p.attr.eq_ignore_ascii_case("id");
        assert_eq!(eval(r#"id sw "2819C223""#, &user, &id_exact), Some(false));
        assert_eq!(eval(r#"title ew "GUIDE""#, &user, &id_exact), Some(true));
    }

    #[test]
    fn case_exact_callback_receives_the_full_path_inside_a_value_path() {
        let seen = RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.clone());
            false
        };
        let user = rfc7643_8_2_user();
        assert_eq!(
            eval(r#"emails[type eq "WORK"]"#, &user, &record),
            Some(true)
        );
        let expected = AttrPath {
            urn: None,
            attr: "emails".into(),
            sub_attr: Some("type".into()),
        };
        assert!(!seen.borrow().is_empty());
        assert!(seen.borrow().iter().all(|p| p == &expected), "{seen:?}");
    }

    #[test]
    fn rfc7643_2_1_attribute_names_match_keys_case_insensitively() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (r#"USERNAME eq "bjensen@example.com""#, true),
                (r#"Name.FamilyName eq "jensen""#, true),
                (r#"EMAILS[TYPE eq "home"]"#, true),
                (
                    r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department eq "tour operations""#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn rfc7643_3_3_extension_attributes_resolve_under_their_urn() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (&format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#), true),
                (
                    &format!(r#"{ENTERPRISE}:manager.value sw "26118915""#),
                    true,
                ),
                (&format!("{ENTERPRISE}:costCenter pr"), false),
                // Without its URN an extension attribute is looked up in the core schema.
                ("employeeNumber pr", false),
            ],
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_multi_valued_attributes_match_any_value() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (r#"emails.type eq "home""#, true),
                (r#"emails.value ew "jensen.org""#, true),
                // Complex values without a sub-attribute compare through `value`.
                (r#"emails co "jensen.org""#, true),
                (r#"emails eq "babs@jensen.org""#, true),
                (r#"emails.type eq "other""#, false),
                (
                    r#"schemas sw "urn:ietf:params:scim:schemas:extension""#,
                    true,
                ),
            ],
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_value_path_needs_one_element_to_satisfy_the_whole_filter() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (
                    r#"emails[type eq "work" and value co "@example.com"]"#,
                    true,
                ),
                // Each half holds on some element, but never on the same one.
                (
                    r#"emails[type eq "home" and value co "@example.com"]"#,
                    false,
                ),
                (
                    r#"emails.type eq "home" and emails.value co "@example.com""#,
                    true,
                ),
                (r#"emails[not (type eq "work")]"#, true),
                ("emails[primary eq true]", true),
                (r#"ims[type eq "xmpp"]"#, false),
                (r#"phoneNumbers[type eq "work"]"#, false),
            ],
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_present_needs_a_non_empty_value() {
        let resource = json!({
            "emptyString": "",
            "emptyArray": [],
            "emptyObject": {},
            "nullValue": null,
            "zero": 0,
            "no": false,
            "emails": [{ "type": "work", "value": "" }]
        });
        assert_cases(
            &resource,
            &[
                ("emptyString pr", false),
                ("emptyArray pr", false),
                ("emptyObject pr", false),
                ("nullValue pr", false),
                ("absent pr", false),
                ("zero pr", true),
                ("no pr", true),
                ("emails pr", true),
                ("emails.value pr", false),
                ("emails.type pr", true),
            ],
        );
    }

    #[test]
    fn rfc7643_2_3_5_date_times_compare_as_instants() {
        let user = rfc7643_8_2_user();
        assert_cases(
            &user,
            &[
                // 04:42:34Z and 06:42:34+02:00 are the same instant.
                (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
                (r#"meta.lastModified gt "2011-05-13T06:42:33+02:00""#, true),
                (r#"meta.lastModified lt "2011-05-13T04:42:34.001Z""#, true),
                (r#"meta.lastModified ge "2011-05-13T00:00:00-05:00""#, false),
                (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
                // Substring operators still work on the text.
                (r#"meta.lastModified sw "2011-05""#, true),
            ],
        );
        let offset = json!({ "meta": { "lastModified": "2011-05-13T06:42:34+02:00" } });
        assert_eq!(
            eval(
                r#"meta.lastModified eq "2011-05-13T04:42:34Z""#,
                &offset,
                &always_exact
            ),
            Some(true)
        );
    }

    #[test]
    fn strings_that_are_not_date_times_compare_as_text() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (r#"title gt "TOUR""#, true),
                (r#"title lt "u""#, true),
                (r#"meta.lastModified gt "2011-05-13T99:99:99Z""#, false),
                (r#"meta.lastModified lt "2011-05-13T99:99:99Z""#, true),
            ],
        );
    }

    #[test]
    fn numbers_compare_numerically() {
        let resource =
            json!({ "loginCount": 7, "ratio": 0.5, "big": 18_446_744_073_709_551_615_u64 });
        assert_cases(
            &resource,
            &[
                ("loginCount eq 7", true),
                ("loginCount eq 7.0", true),
                ("loginCount gt 5", true),
                ("loginCount gt 10", false),
                ("loginCount ge 7", true),
                ("loginCount lt 7.5", true),
                ("loginCount le -1", false),
                ("loginCount ne 8", true),
                ("ratio lt 1", true),
                ("ratio eq 5e-1", true),
                ("big gt 9223372036854775807", true),
                ("big gt -1", true),
                (r#"loginCount eq "7""#, false),
                ("loginCount co 7", false),
            ],
        );
    }

    #[test]
    fn rfc7644_3_4_2_2_ne_holds_when_the_attribute_is_absent() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                (r#"profileUrl ne "https://example.com""#, true),
                (r#"userType ne "Employee""#, false),
                (r#"userType ne "Intern""#, true),
                // One email is of type "work", so "ne work" does not hold.
                (r#"emails.type ne "work""#, false),
                (r#"emails.type ne "other""#, true),
            ],
        );
    }

    #[test]
    fn null_matches_absent_and_null_values() {
        let resource = json!({ "nickName": null, "title": "Tour Guide" });
        assert_cases(
            &resource,
            &[
                ("nickName eq null", true),
                ("profileUrl eq null", true),
                ("title eq null", false),
                ("nickName ne null", false),
                ("title ne null", true),
            ],
        );
    }

    #[test]
    fn booleans_compare_with_eq_and_ne_only() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                ("active eq true", true),
                ("active eq false", false),
                ("active ne false", true),
                ("active ne true", false),
                (r#"active eq "true""#, false),
                ("emails[primary eq true and type eq \"work\"]", true),
            ],
        );
    }

    #[test]
    fn mismatched_types_never_match() {
        assert_cases(
            &rfc7643_8_2_user(),
            &[
                ("userName eq 5", false),
                ("name eq \"Jensen\"", false),
                ("emails.primary eq \"true\"", false),
            ],
        );
    }

    #[test]
    fn rfc7644_3_5_2_patch_value_filter_matches_one_element() {
        let member = json!({ "value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs" });
        let members = AttrPath {
            urn: None,
            attr: "members".into(),
            sub_attr: None,
        };
        let seen = RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.clone());
            true
        };
        let filter = parse_filter(r#"value eq "2819c223-7f76-453a-919d-413861904646""#);
        let matched = filter
            .as_ref()
            .is_ok_and(|f| matches_element(f, &member, &members, &record));
        assert!(matched);
        let first = seen.borrow().first().cloned();
        assert_eq!(first.and_then(|p| p.sub_attr).as_deref(), Some("value"));
    }

    #[test]
    fn hand_built_filters_deeper_than_the_limit_match_nothing() {
        let leaf = Filter::Present(AttrPath {
            urn: None,
            attr: "userName".into(),
            sub_attr: None,
        });
        let mut filter = leaf;
        for _ in 0..(MAX_FILTER_DEPTH + 2) {
            filter = Filter::Not(Box::new(Filter::Not(Box::new(filter))));
        }
        assert!(!matches(&filter, &rfc7643_8_2_user(), &never_exact));
        let mut shallow = Filter::Present(AttrPath {
            urn: None,
            attr: "userName".into(),
            sub_attr: None,
        });
        for _ in 0..(MAX_FILTER_DEPTH / 2) {
            shallow = Filter::Not(Box::new(Filter::Not(Box::new(shallow))));
        }
        assert!(matches(&shallow, &rfc7643_8_2_user(), &never_exact));
    }
}
