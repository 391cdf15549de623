//! The IdP dialect features a SCIM request relies on (what `scim::patch` and resource
//! validation accept beyond RFC 7644's letter), read off the request: a pure function over the
//! method, the path and the parsed body. Each feature has a stable code and words.

use serde_json::{Map, Value};

/// One dialect feature: its stable code and what it is, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub code: &'static str,
    pub description: &'static str,
}

macro_rules! features {
    ($( $name:ident = $code:literal : $description:literal, )*) => {
        $( pub const $name: Feature = Feature { code: $code, description: $description }; )*
        /// Every feature, in the order explanations list them.
        pub const FEATURES: &[Feature] = &[$($name),*];
    };
}

features! {
    OKTA_PATHLESS_REPLACE = "okta_pathless_replace": "Okta pathless replace of active",
    PATHLESS_VALUE = "pathless_value": "pathless value object",
    CAPITALISED_OP = "capitalised_op": "capitalised ops",
    STRING_BOOLEAN = "string_boolean": "string booleans",
    DOTTED_PATHLESS_KEY = "dotted_pathless_key": "dotted pathless keys",
    URN_PATHLESS_KEY = "urn_pathless_key": "URN pathless keys",
    BARE_MANAGER_ID = "bare_manager_id": "bare manager id",
    VALUE_FILTER_PATH = "value_filter_path": "value-filter paths",
    REMOVE_WITH_VALUE = "remove_with_value": "remove with a value array",
    URN_PATH = "urn_path": "extension URN paths",
    NULL_ATTRIBUTE = "null_attribute": "nulls for absent attributes",
    PASSWORD_SENT = "password_sent": "password sent (not logged)",
}

/// The feature with this code.
pub fn by_code(code: &str) -> Option<Feature> {
    FEATURES.iter().copied().find(|f| f.code == code)
}

/// The dialect features of one request, each once, in [`FEATURES`] order.
pub fn detect(method: &str, path: &str, body: Option<&Value>) -> Vec<Feature> {
    let mut found = Vec::new();
    if let Some(body) = body {
        visit(method, path, body, &mut found);
    }
    FEATURES
        .iter()
        .copied()
        .filter(|f| found.contains(f))
        .collect()
}

fn get<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn is_string_bool(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"))
}

fn last_attr(key: &str) -> &str {
    key.rsplit([':', '.']).next().unwrap_or(key)
}

fn visit(method: &str, path: &str, body: &Value, found: &mut Vec<Feature>) {
    let Some(map) = body.as_object() else {
        return;
    };
    let method = method.to_ascii_uppercase();
    let trimmed = path.trim_matches('/');
    if method == "POST" && trimmed.eq_ignore_ascii_case("Bulk") {
        for op in get(map, "Operations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(op) = op.as_object() else { continue };
            let m = get(op, "method")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let p = get(op, "path").and_then(Value::as_str).unwrap_or_default();
            if let Some(data) = get(op, "data") {
                visit(m, p, data, found);
            }
        }
        return;
    }
    match method.as_str() {
        "PATCH" => patch(map, found),
        "POST" | "PUT" if !trimmed.ends_with(".search") => resource(map, found),
        _ => {}
    }
}

/// A POST or PUT body: a resource.
fn resource(map: &Map<String, Value>, found: &mut Vec<Feature>) {
    for (key, value) in map {
        let lower = key.to_ascii_lowercase();
        if value.is_null() {
            found.push(NULL_ATTRIBUTE);
        }
        if lower == "password" && !value.is_null() {
            found.push(PASSWORD_SENT);
        }
        if lower == "active" && is_string_bool(value) {
            found.push(STRING_BOOLEAN);
        }
        if lower.starts_with("urn:") {
            if let Some(ext) = value.as_object() {
                if get(ext, "manager").is_some_and(Value::is_string) {
                    found.push(BARE_MANAGER_ID);
                }
                if ext.values().any(Value::is_null) {
                    found.push(NULL_ATTRIBUTE);
                }
            }
        }
        if let Some(items) = value.as_array() {
            let string_primary = items.iter().any(|item| {
                item.as_object()
                    .and_then(|o| get(o, "primary"))
                    .is_some_and(is_string_bool)
            });
            if string_primary {
                found.push(STRING_BOOLEAN);
            }
        }
    }
}

/// A PatchOp body: each operation.
fn patch(map: &Map<String, Value>, found: &mut Vec<Feature>) {
    for op in get(map, "Operations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(op) = op.as_object() else { continue };
        let name = get(op, "op").and_then(Value::as_str).unwrap_or_default();
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            found.push(CAPITALISED_OP);
        }
        let value = get(op, "value");
        if is_string_bool(value.unwrap_or(&Value::Null)) {
            found.push(STRING_BOOLEAN);
        }
        match get(op, "path").and_then(Value::as_str) {
            Some(path) => {
                if path.contains('[') {
                    found.push(VALUE_FILTER_PATH);
                }
                if path.trim_start().to_ascii_lowercase().starts_with("urn:") {
                    found.push(URN_PATH);
                }
                let attr = last_attr(path.split('[').next().unwrap_or(path));
                if attr.eq_ignore_ascii_case("manager") && value.is_some_and(Value::is_string) {
                    found.push(BARE_MANAGER_ID);
                }
                if attr.eq_ignore_ascii_case("password") {
                    found.push(PASSWORD_SENT);
                }
                if name.eq_ignore_ascii_case("remove") && value.is_some() {
                    found.push(REMOVE_WITH_VALUE);
                }
            }
            None => {
                if let Some(object) = value.and_then(Value::as_object) {
                    pathless(name, object, found);
                }
            }
        }
    }
}

/// The `value` object of an operation without a path.
fn pathless(op: &str, object: &Map<String, Value>, found: &mut Vec<Feature>) {
    if op.eq_ignore_ascii_case("replace") && get(object, "active").is_some() {
        found.push(OKTA_PATHLESS_REPLACE);
    } else {
        found.push(PATHLESS_VALUE);
    }
    for (key, value) in object {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("urn:") {
            // `urn:…:enterprise:2.0:User` (an object) or `urn:…:User:employeeNumber`.
            if !value.is_object() {
                found.push(URN_PATHLESS_KEY);
            }
            if let Some(ext) = value.as_object() {
                if get(ext, "manager").is_some_and(Value::is_string) {
                    found.push(BARE_MANAGER_ID);
                }
            }
        } else if key.contains('.') {
            found.push(DOTTED_PATHLESS_KEY);
        }
        if last_attr(key).eq_ignore_ascii_case("manager") && value.is_string() {
            found.push(BARE_MANAGER_ID);
        }
        if lower == "password" {
            found.push(PASSWORD_SENT);
        }
        if is_string_bool(value) {
            found.push(STRING_BOOLEAN);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(method: &str, path: &str, body: Value) -> Vec<&'static str> {
        detect(method, path, Some(&body))
            .iter()
            .map(|f| f.code)
            .collect()
    }

    fn ops(ops: Value) -> Value {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
    }

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// What each IdP sends (the cases of `scim::patch`'s dialect tests), and what it relies on.
    #[test]
    fn dialect_table() {
        let cases: Vec<(&str, &str, Value, Vec<&str>)> = vec![
            // RFC 7644 as written: nothing.
            (
                "PATCH",
                "/Users/1",
                ops(json!([{"op": "replace", "path": "active", "value": false}])),
                vec![],
            ),
            // Okta deactivation.
            (
                "PATCH",
                "/Users/1",
                ops(json!([{"op": "replace", "value": {"active": false}}])),
                vec!["okta_pathless_replace"],
            ),
            // Entra deactivation.
            (
                "PATCH",
                "/Users/1",
                ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
                vec!["capitalised_op", "string_boolean"],
            ),
            // Entra pathless replace with dotted and URN keys.
            (
                "PATCH",
                "/Users/1",
                ops(json!([{"op": "Replace", "value": {
                "name.givenName": "B", format!("{ENTERPRISE}:employeeNumber"): "7"}}])),
                vec![
                    "pathless_value",
                    "capitalised_op",
                    "dotted_pathless_key",
                    "urn_pathless_key",
                ],
            ),
            // Entra manager as a bare id, on an extension path.
            (
                "PATCH",
                "/Users/1",
                ops(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "m1"}])),
                vec!["capitalised_op", "bare_manager_id", "urn_path"],
            ),
            // Okta group push: remove one member by value filter.
            (
                "PATCH",
                "/Groups/1",
                ops(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}])),
                vec!["value_filter_path"],
            ),
            // Entra member removal.
            (
                "PATCH",
                "/Groups/1",
                ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}])),
                vec!["capitalised_op", "remove_with_value"],
            ),
            // Okta group rename: pathless replace with id and displayName.
            (
                "PATCH",
                "/Groups/1",
                ops(json!([{"op": "replace", "value": {"id": "1", "displayName": "S"}}])),
                vec!["pathless_value"],
            ),
            // Okta create with a password; Entra nulls and a string "primary".
            (
                "POST",
                "/Users",
                json!({"userName": "a", "password": "p", "groups": []}),
                vec!["password_sent"],
            ),
            (
                "POST",
                "/Users",
                json!({"userName": "a", "nickName": null, "active": "True",
                "emails": [{"value": "a@x.io", "primary": "true"}],
                ENTERPRISE: {"manager": "m1", "department": null}}),
                vec!["string_boolean", "bare_manager_id", "null_attribute"],
            ),
            // Password change by PATCH.
            (
                "PATCH",
                "/Users/1",
                ops(json!([{"op": "replace", "path": "password", "value": "p"}])),
                vec!["password_sent"],
            ),
            // Reads have none; a search body is not a resource.
            ("GET", "/Users", json!({}), vec![]),
            (
                "POST",
                "/Users/.search",
                json!({"filter": "x", "startIndex": null}),
                vec![],
            ),
        ];
        for (method, path, body, expected) in cases {
            assert_eq!(
                codes(method, path, body.clone()),
                expected,
                "{method} {path} {body}"
            );
        }
    }

    #[test]
    fn bulk_operations_are_read_one_by_one() {
        let body = json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a", "password": "p"}},
            {"method": "PATCH", "path": "/Users/1", "data": ops(json!([{"op": "replace", "value": {"active": false}}]))}
        ]});
        assert_eq!(
            codes("POST", "/Bulk", body),
            ["okta_pathless_replace", "password_sent"]
        );
    }

    #[test]
    fn codes_are_unique_and_found_by_code() {
        let mut codes: Vec<_> = FEATURES.iter().map(|f| f.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), FEATURES.len());
        assert_eq!(
            by_code("okta_pathless_replace"),
            Some(OKTA_PATHLESS_REPLACE)
        );
        assert_eq!(by_code("nope"), None);
        assert_eq!(detect("PATCH", "/Users/1", None), vec![]);
    }
}
