//! PATCH engine tests, named after the RFC 7644 section or the IdP and what it sends.

use serde_json::{json, Value};

use super::*;
use crate::scim::resource::normalize;
use crate::scim::ScimType;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen@example.com",
        "displayName": "Babs",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example", "type": "home"}
        ]
    })
}

/// Parses, applies and normalises, as the service does.
fn patched(body: Value) -> Result<Value, ScimError> {
    let ops = parse(&body)?;
    let mut resource = user();
    apply(ResourceKind::User, &mut resource, &ops)?;
    normalize(ResourceKind::User, &resource)
}

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
}

#[test]
fn rfc7644_3_5_2_1_add_with_path_sets_a_simple_attribute() {
    let out = patched(ops(
        json!([{"op": "add", "path": "title", "value": "Tour Guide"}]),
    ))
    .unwrap();
    assert_eq!(out["title"], "Tour Guide");
}

#[test]
fn rfc7644_3_5_2_1_add_to_multi_valued_appends_without_duplicates() {
    let out = patched(ops(json!([{"op": "add", "path": "emails", "value": [
        {"value": "new@example.com", "type": "other"},
        {"value": "babs@home.example", "type": "home"}
    ]}])))
    .unwrap();
    let emails = out["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails[2]["value"], "new@example.com");
}

#[test]
fn rfc7644_3_5_2_3_replace_sub_attribute_path() {
    let out = patched(ops(
        json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]),
    ))
    .unwrap();
    assert_eq!(out["name"]["givenName"], "Babs");
    assert_eq!(out["name"]["familyName"], "Jensen");
}

#[test]
fn rfc7644_3_5_2_3_replace_value_path_sub_attribute() {
    let out = patched(ops(json!([{
        "op": "replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"
    }])))
    .unwrap();
    assert_eq!(out["emails"][0]["value"], "barbara@example.com");
    assert_eq!(out["emails"][1]["value"], "babs@home.example");
}

#[test]
fn rfc7644_3_5_2_3_replace_value_path_without_match_is_no_target() {
    let err = patched(ops(json!([{
        "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@example.com"
    }])))
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn rfc7644_3_5_2_2_remove_attribute_and_filtered_values() {
    let out = patched(ops(json!([
        {"op": "remove", "path": "displayName"},
        {"op": "remove", "path": "emails[type eq \"home\"]"}
    ])))
    .unwrap();
    assert!(out.get("displayName").is_none());
    assert_eq!(out["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn rfc7644_3_5_2_2_remove_without_path_is_no_target() {
    let err = parse(&ops(json!([{"op": "remove"}]))).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::NoTarget));
}

#[test]
fn rfc7644_3_5_2_read_only_targets_are_mutability_errors() {
    for path in ["id", "meta", "groups", "meta.created"] {
        let err = patched(ops(json!([{"op": "replace", "path": path, "value": "x"}]))).unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::Mutability), "path {path}");
    }
}

#[test]
fn rfc7644_3_5_2_invalid_path_is_invalid_path() {
    let err = parse(&ops(
        json!([{"op": "add", "path": "emails[type eq", "value": "x"}]),
    ))
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
}

#[test]
fn patch_body_validators_reject_malformed_messages() {
    let cases = [
        json!([]),
        json!({"Operations": []}),
        json!({"schemas": ["urn:wrong"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
        json!({"Operations": [{"op": "move", "path": "title", "value": "x"}]}),
        json!({"Operations": [{"path": "title", "value": "x"}]}),
        json!({"Operations": [{"op": "add", "path": "title"}]}),
        json!({"Operations": [{"op": "add", "value": "not an object"}]}),
        json!({"Operations": ["add"]}),
        json!({"Operations": [{"op": "add", "path": 5, "value": "x"}]}),
    ];
    for body in cases {
        let err = parse(&body).unwrap_err();
        assert_eq!(err.status, 400, "{body}");
    }
}

#[test]
fn patch_type_errors_surface_from_validation() {
    let err = patched(ops(
        json!([{"op": "replace", "path": "active", "value": "maybe"}]),
    ))
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn okta_pathless_replace_of_active_deactivates() {
    let out = patched(ops(json!([{"op": "replace", "value": {"active": false}}]))).unwrap();
    assert_eq!(out["active"], false);
    assert_eq!(out["userName"], "bjensen@example.com");
}

#[test]
fn entra_capitalised_ops_and_string_booleans() {
    let out = patched(ops(
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    ))
    .unwrap();
    assert_eq!(out["active"], false);
}

#[test]
fn entra_pathless_replace_with_dotted_and_urn_keys() {
    let out = patched(ops(json!([{"op": "Replace", "value": {
        "name.givenName": "Barb",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
        "displayName": "Barbara J"
    }}])))
    .unwrap();
    assert_eq!(out["name"]["givenName"], "Barb");
    assert_eq!(out["displayName"], "Barbara J");
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "701984"
    );
    let schemas = out["schemas"].as_array().unwrap();
    assert!(schemas
        .iter()
        .any(|s| s == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
}

#[test]
fn entra_add_to_missing_value_path_creates_the_element() {
    let out = patched(ops(json!([{
        "op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"
    }])))
    .unwrap();
    assert_eq!(
        out["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
}

#[test]
fn entra_extension_object_in_pathless_add() {
    let out = patched(ops(json!([{"op": "Add", "value": {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tour Operations"}
    }}])))
    .unwrap();
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Tour Operations"
    );
}

#[test]
fn operations_apply_in_order_and_a_later_error_fails_the_request() {
    let body = ops(json!([
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "replace", "path": "displayName", "value": "Second"}
    ]));
    assert_eq!(patched(body).unwrap()["displayName"], "Second");
    let failing = ops(json!([
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "replace", "path": "id", "value": "nope"}
    ]));
    assert_eq!(
        patched(failing).unwrap_err().scim_type,
        Some(ScimType::Mutability)
    );
}

#[test]
fn case_insensitive_attribute_names_in_paths() {
    let out = patched(ops(
        json!([{"op": "replace", "path": "DISPLAYNAME", "value": "Loud"}]),
    ))
    .unwrap();
    assert_eq!(out["displayName"], "Loud");
}

#[test]
fn too_many_operations_is_too_many() {
    let many: Vec<Value> = (0..=MAX_OPERATIONS)
        .map(|_| json!({"op": "add", "path": "title", "value": "x"}))
        .collect();
    let err = parse(&ops(Value::Array(many))).unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::TooMany));
}

#[test]
fn rfc7644_3_10_path_naming_the_whole_extension() {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let out = patched(ops(json!([{"op": "add", "path": ENTERPRISE, "value": {
        "schemas": [ENTERPRISE], "employeeNumber": "42", "department": "Eng"
    }}])))
    .unwrap();
    assert_eq!(
        out[ENTERPRISE],
        json!({"employeeNumber": "42", "department": "Eng"})
    );
    let ops_replace = ops(json!([
        {"op": "add", "path": ENTERPRISE, "value": {"department": "Eng"}},
        {"op": "replace", "path": ENTERPRISE, "value": {"department": "Ops"}}
    ]));
    assert_eq!(
        patched(ops_replace).unwrap()[ENTERPRISE]["department"],
        "Ops"
    );
    let removed = patched(ops(json!([
        {"op": "add", "path": ENTERPRISE, "value": {"department": "Eng"}},
        {"op": "remove", "path": ENTERPRISE}
    ])))
    .unwrap();
    assert!(removed.get(ENTERPRISE).is_none());
    assert_eq!(
        removed["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
}

#[test]
fn rfc7644_3_5_2_setting_primary_moves_it_from_the_other_values() {
    let out = patched(ops(json!([{"op": "add", "path": "emails", "value": [
        {"value": "new@example.com", "type": "other", "primary": true}
    ]}])))
    .unwrap();
    let emails = out["emails"].as_array().unwrap();
    let primaries: Vec<&str> = emails
        .iter()
        .filter(|e| e["primary"] == true)
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(primaries, ["new@example.com"]);
    assert_eq!(emails[0]["primary"], false);
    let out = patched(ops(json!([{
        "op": "replace", "path": "emails[type eq \"home\"].primary", "value": true
    }])))
    .unwrap();
    assert_eq!(out["emails"][0]["primary"], false);
    assert_eq!(out["emails"][1]["primary"], true);
    let two = patched(ops(json!([{"op": "add", "path": "emails", "value": [
        {"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}
    ]}])));
    assert_eq!(two.unwrap_err().scim_type, Some(ScimType::InvalidValue));
}

/// Hardening item 10: a pathless PATCH whose value names one attribute twice, differing only in
/// case, once applied both silently (the last in key order won) while POST and PUT answered 400.
/// Now the same 400 `invalidSyntax`, and nothing is applied; agreeing repeats are fine.
#[test]
fn hardening_10_pathless_keys_differing_only_in_case_must_agree() {
    for value in [
        json!({"displayName": "A", "DISPLAYNAME": "B"}),
        json!({"name.givenName": "A", "NAME.GIVENNAME": "B"}),
        json!({"active": false, "Active": true}),
    ] {
        let err = patched(ops(json!([{"op": "replace", "value": value.clone()}]))).unwrap_err();
        assert_eq!(err.status, 400, "{value}");
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax), "{value}");
        assert!(err.detail.contains("more than once"), "{}", err.detail);
    }
    let same = patched(ops(json!([
        {"op": "replace", "value": {"displayName": "Same", "DISPLAYNAME": "Same"}}
    ])))
    .unwrap();
    assert_eq!(same["displayName"], "Same");
}
