//! Sorting of list results (RFC 7644 §3.4.2.3): by one attribute, ascending by default; a
//! multi-valued attribute sorts by its primary (or first) value; resources without a value sort
//! last in ascending order and first in descending order.

use std::cmp::Ordering;

use serde_json::Value;

use super::filter::AttrPath;
use super::text::member_of;

/// `sortBy` / `sortOrder`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub path: AttrPath,
    pub descending: bool,
}

/// The comparable value of one resource for a sort.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Missing,
    Bool(bool),
    Number(f64),
    Text(String),
}

/// The sort key at `path`, case-folded unless the attribute is `caseExact`.
pub fn key_at(resource: &Value, path: &AttrPath, case_exact: bool) -> SortKey {
    let holder = match &path.urn {
        Some(urn) => member_of(resource, urn).or(Some(resource)),
        None => Some(resource),
    };
    let mut value = holder.and_then(|h| member_of(h, &path.attr));
    if let Some(Value::Array(items)) = value {
        value = items
            .iter()
            .find(|i| member_of(i, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first());
    }
    let sub = path.sub_attr.as_deref().or(match value {
        Some(Value::Object(_)) => Some("value"),
        _ => None,
    });
    if let Some(sub) = sub {
        value = value.and_then(|v| member_of(v, sub));
    }
    match value {
        Some(Value::String(s)) if case_exact => SortKey::Text(s.clone()),
        Some(Value::String(s)) => SortKey::Text(s.to_lowercase()),
        Some(Value::Bool(b)) => SortKey::Bool(*b),
        Some(Value::Number(n)) => n.as_f64().map_or(SortKey::Missing, SortKey::Number),
        _ => SortKey::Missing,
    }
}

/// Orders two keys; missing values go last when ascending, first when descending.
pub fn compare(a: &SortKey, b: &SortKey, descending: bool) -> Ordering {
    let ascending = match (a, b) {
        (SortKey::Missing, SortKey::Missing) => Ordering::Equal,
        (SortKey::Missing, _) => Ordering::Greater,
        (_, SortKey::Missing) => Ordering::Less,
        (SortKey::Text(x), SortKey::Text(y)) => x.cmp(y),
        (SortKey::Number(x), SortKey::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (SortKey::Bool(x), SortKey::Bool(y)) => x.cmp(y),
        // Mixed types (not possible for one schema attribute): a fixed, total order.
        (x, y) => rank(x).cmp(&rank(y)),
    };
    if descending {
        ascending.reverse()
    } else {
        ascending
    }
}

fn rank(k: &SortKey) -> u8 {
    match k {
        SortKey::Bool(_) => 0,
        SortKey::Number(_) => 1,
        SortKey::Text(_) => 2,
        SortKey::Missing => 3,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub_attr: sub.map(Into::into),
        }
    }

    #[test]
    fn rfc7644_3_4_2_3_multi_valued_sorts_by_primary_value() {
        let user = json!({"emails": [{"value": "B@x"}, {"value": "a@x", "primary": true}]});
        assert_eq!(
            key_at(&user, &path("emails", None), false),
            SortKey::Text("a@x".into())
        );
        assert_eq!(
            key_at(&user, &path("name", Some("familyName")), false),
            SortKey::Missing
        );
    }

    #[test]
    fn missing_values_sort_last_ascending_and_first_descending() {
        let a = SortKey::Text("a".into());
        assert_eq!(compare(&a, &SortKey::Missing, false), Ordering::Less);
        assert_eq!(compare(&a, &SortKey::Missing, true), Ordering::Greater);
    }

    #[test]
    fn case_exact_controls_folding() {
        let user = json!({"userName": "Zed"});
        assert_eq!(
            key_at(&user, &path("userName", None), false),
            SortKey::Text("zed".into())
        );
        assert_eq!(
            key_at(&user, &path("userName", None), true),
            SortKey::Text("Zed".into())
        );
    }
}
