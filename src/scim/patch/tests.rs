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

/// PATCH bodies as an IdP (or a hostile client) could send them, for hardening item 12.
mod hardening_12_bodies {
    use super::*;

    /// `n` operations, each adding `per_op` emails; every `primary_every`-th value is primary
    /// (0: none).
    pub fn adds(n: usize, per_op: usize, primary_every: usize) -> Value {
        let mut k = 0;
        let operations: Vec<Value> = (0..n)
            .map(|_| {
                let values: Vec<Value> = (0..per_op)
                    .map(|_| {
                        k += 1;
                        let mut v = json!({"value": format!("u{k}@x.example"), "type": "work"});
                        if primary_every > 0 && k % primary_every == 0 {
                            v["primary"] = json!(true);
                        }
                        v
                    })
                    .collect();
                json!({"op": "add", "path": "emails", "value": values})
            })
            .collect();
        ops(Value::Array(operations))
    }

    fn emails(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"value": format!("u{i}@x.example"), "primary": i % 2 == 0}))
            .collect()
    }

    /// One pathless `add` of `n` emails (Okta/Entra style).
    pub fn pathless(n: usize) -> Value {
        ops(json!([{"op": "add", "value": {"emails": emails(n)}}]))
    }

    /// `n` emails added, then removed by listing them (Entra's removal of members).
    pub fn add_then_remove(n: usize) -> Value {
        ops(json!([
            {"op": "add", "path": "emails", "value": emails(n)},
            {"op": "remove", "path": "emails", "value": emails(n)}
        ]))
    }

    /// `n` adds of 10 values each, then one value-filtered replace.
    pub fn adds_then_filter(n: usize) -> Value {
        let mut body = adds(n, 10, 0);
        if let Some(operations) = body["Operations"].as_array_mut() {
            operations.push(json!({"op": "replace",
                "path": "emails[value eq \"u5@x.example\"].primary", "value": true}));
        }
        body
    }
}

/// Hardening item 12: timings only, never asserted. Run in release mode:
/// `cargo test --release --lib -- --ignored --nocapture hardening_12_timing`.
#[test]
#[ignore]
fn hardening_12_timing() {
    use std::time::Instant;
    let cases = [
        (
            "1,000 ops x 1 value, all primary",
            hardening_12_bodies::adds(1000, 1, 1),
        ),
        (
            "1,000 ops x 2 values, all primary",
            hardening_12_bodies::adds(1000, 2, 1),
        ),
        (
            "1,000 ops x 10 values, every 2nd primary",
            hardening_12_bodies::adds(1000, 10, 2),
        ),
        (
            "1 op x 10,000 values, no primary",
            hardening_12_bodies::adds(1, 10_000, 0),
        ),
        (
            "1 op x 10,000 values, all primary",
            hardening_12_bodies::adds(1, 10_000, 1),
        ),
        (
            "10 ops x 1,000 values, all primary",
            hardening_12_bodies::adds(10, 1000, 1),
        ),
        (
            "500 ops x 10 values, every 2nd primary",
            hardening_12_bodies::adds(500, 10, 2),
        ),
        (
            "pathless add of 10,000 values",
            hardening_12_bodies::pathless(10_000),
        ),
        (
            "1 add + remove of 5,000 listed values",
            hardening_12_bodies::add_then_remove(5000),
        ),
        (
            "999 ops: 9,990 values, then 1 filter",
            hardening_12_bodies::adds_then_filter(999),
        ),
    ];
    for (name, body) in cases {
        let bytes = body.to_string().len();
        let start = Instant::now();
        let outcome = patched(body);
        let elapsed = start.elapsed();
        let summary = match &outcome {
            Ok(v) => format!("200, {} emails", v["emails"].as_array().map_or(0, Vec::len)),
            Err(e) => format!("{} {:?}", e.status, e.scim_type),
        };
        println!("hardening_12: {name}: {bytes} bytes, {elapsed:?} -> {summary}");
    }
}

/// The engine as it was before hardening item 12, kept as the reference: every operation on a
/// copy of the whole resource, values compared pairwise for "already present" and "primary".
mod pairwise {
    use super::*;

    pub fn apply(
        kind: ResourceKind,
        resource: &mut Value,
        operations: &[PatchOperation],
    ) -> Result<(), ScimError> {
        for operation in operations {
            let before = resource.clone();
            let (path, value) = match (&operation.path, &operation.value) {
                (Some(path), value) => (path.clone(), value.clone()),
                // The pathless operations generated below name one attribute.
                (None, Some(Value::Object(attributes))) => {
                    let (key, value) = attributes.iter().next().unwrap();
                    (parse_path(key).unwrap(), Some(value.clone()))
                }
                _ => unreachable!(),
            };
            let plain = path.filter.is_none() && path.sub_attr.is_none();
            match operation.op {
                OpKind::Add if plain && is_multi_valued(kind, &path.attr) => {
                    let items = resource
                        .as_object_mut()
                        .unwrap()
                        .entry(path.attr.attr.clone())
                        .or_insert(json!([]));
                    let incoming = match value.unwrap() {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    let items = items.as_array_mut().unwrap();
                    for item in incoming {
                        if !items.iter().any(|e| same_value(e, &item)) {
                            items.push(item);
                        }
                    }
                }
                OpKind::Remove if plain && value.as_ref().is_some_and(Value::is_array) => {
                    let listed = value.unwrap().as_array().unwrap().clone();
                    if let Some(Value::Array(items)) = resource.get_mut(&path.attr.attr) {
                        items.retain(|e| !listed.iter().any(|l| same_value(e, l)));
                    }
                }
                op => apply_at(kind, resource, op, &path, value.as_ref())?,
            }
            move_primary_pairwise(&before, resource);
        }
        Ok(())
    }

    fn move_primary_pairwise(before: &Value, after: &mut Value) {
        let Value::Object(members) = after else {
            return;
        };
        for (key, value) in members.iter_mut() {
            let Value::Array(items) = value else {
                continue;
            };
            let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
            let old: Vec<&Value> = before
                .get(key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter(|v| is_primary(v)).collect())
                .unwrap_or_default();
            let new_primaries = items
                .iter()
                .filter(|v| is_primary(v) && !old.contains(v))
                .count();
            if new_primaries == 0 {
                continue;
            }
            for item in items.iter_mut() {
                if is_primary(item) && old.contains(&&*item) {
                    if let Value::Object(fields) = item {
                        fields.insert("primary".into(), Value::Bool(false));
                    }
                }
            }
        }
    }
}

/// A small deterministic generator (xorshift64*), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    /// An email value from a small pool, so that repeats are common: with or without `value`,
    /// `primary` true, false or absent.
    fn email(&mut self) -> Value {
        let mut v = match self.below(8) {
            0 => json!({"type": "other", "display": format!("d{}", self.below(3))}),
            _ => json!({"value": format!("u{}@x.example", self.below(12)), "type": "work"}),
        };
        match self.below(3) {
            0 => v["primary"] = json!(true),
            1 => v["primary"] = json!(false),
            _ => {}
        }
        v
    }

    fn operation(&mut self) -> Value {
        let n = 1 + self.below(4);
        let values: Vec<Value> = (0..n).map(|_| self.email()).collect();
        let k = self.below(12);
        match self.below(9) {
            0..=2 => json!({"op": "add", "path": "emails", "value": values}),
            3 => json!({"op": "Add", "value": {"emails": values}}),
            4 => json!({"op": "add", "path": "emails", "value": values[0]}),
            5 => json!({"op": "remove", "path": format!("emails[value eq \"u{k}@x.example\"]")}),
            6 => json!({"op": "replace",
                "path": format!("emails[value eq \"u{k}@x.example\"].primary"), "value": true}),
            7 => json!({"op": "remove", "path": "emails", "value": values}),
            _ => json!({"op": "replace", "path": "displayName", "value": format!("n{k}")}),
        }
    }
}

/// Hardening item 12: the indexed engine gives exactly the result of the pairwise one (same
/// values, same order, same `primary` flags, same answer from validation) on thousands of
/// generated sequences mixing adds with repeats and primaries, filters, removals by value and
/// pathless adds.
#[test]
fn hardening_12_indexed_patch_equals_the_pairwise_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let count = 1 + rng.below(12);
        let body = ops(Value::Array((0..count).map(|_| rng.operation()).collect()));
        let operations = parse(&body).unwrap();
        let mut expected = user();
        let expected_outcome = pairwise::apply(ResourceKind::User, &mut expected, &operations);
        let mut actual = user();
        let outcome = apply(ResourceKind::User, &mut actual, &operations);
        assert_eq!(
            outcome.map_err(|e| e.scim_type),
            expected_outcome.map_err(|e| e.scim_type),
            "round {round}: {body}"
        );
        assert_eq!(actual, expected, "round {round}: {body}");
        assert_eq!(
            normalize(ResourceKind::User, &actual).map_err(|e| e.scim_type),
            normalize(ResourceKind::User, &expected).map_err(|e| e.scim_type),
            "round {round}"
        );
    }
}

/// Hardening item 12: a 5,000-value PATCH (2,500 distinct addresses, each sent twice, a primary
/// every 50th value, spread over 500 operations) collapses the repeats and keeps one primary,
/// the last one added, like the pairwise engine on the same body.
#[test]
fn hardening_12_big_patch_collapses_duplicates_and_keeps_one_primary() {
    let operations: Vec<Value> = (0..500)
        .map(|op| {
            let values: Vec<Value> = (0..10)
                .map(|i| {
                    let n = op * 10 + i;
                    let mut v =
                        json!({"value": format!("u{}@x.example", n % 2500), "type": "work"});
                    if n % 50 == 49 {
                        v["primary"] = json!(true);
                    }
                    v
                })
                .collect();
            json!({"op": "add", "path": "emails", "value": values})
        })
        .collect();
    let body = ops(Value::Array(operations));
    let out = patched(body.clone()).unwrap();
    let emails = out["emails"].as_array().unwrap();
    // The 2 stored emails, then 2,500 new addresses once each.
    assert_eq!(emails.len(), 2502);
    let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primaries.len(), 1);
    // The second sending of an address is a repeat: the last primary that was added is u2499
    // (the end of the first half); the primaries of the second half name addresses already
    // present, so they are not added and take nothing.
    assert_eq!(primaries[0]["value"], "u2499@x.example");
    assert_eq!(emails[0]["primary"], false);
    let mut expected = user();
    pairwise::apply(ResourceKind::User, &mut expected, &parse(&body).unwrap()).unwrap();
    assert_eq!(out, normalize(ResourceKind::User, &expected).unwrap());
}

/// Hardening item 12: more values in one operation than [`MAX_VALUES_PER_OPERATION`] is 400
/// `tooMany` before anything is applied, as more than [`MAX_OPERATIONS`] operations is; both
/// limits themselves are accepted.
#[test]
fn hardening_12_values_per_operation_are_capped() {
    let emails = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"value": format!("u{i}@x.example")}))
            .collect()
    };
    for body in [
        ops(
            json!([{"op": "add", "path": "emails", "value": emails(MAX_VALUES_PER_OPERATION + 1)}]),
        ),
        ops(json!([{"op": "replace", "value": {"emails": emails(MAX_VALUES_PER_OPERATION + 1)}}])),
        ops(json!([
            {"op": "add", "path": "title", "value": "x"},
            {"op": "replace", "value": {
                "emails": emails(MAX_VALUES_PER_OPERATION / 2),
                "roles": emails(MAX_VALUES_PER_OPERATION / 2 + 1)
            }}
        ])),
    ] {
        let err = parse(&body).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(ScimType::TooMany));
        assert!(err.detail.contains("at most 10000"), "{}", err.detail);
    }
    let at_cap =
        ops(json!([{"op": "add", "path": "emails", "value": emails(MAX_VALUES_PER_OPERATION)}]));
    let out = patched(at_cap).unwrap();
    assert_eq!(
        out["emails"].as_array().unwrap().len(),
        MAX_VALUES_PER_OPERATION + 2
    );
    let most: Vec<Value> = (0..MAX_OPERATIONS)
        .map(|i| json!({"op": "add", "path": "emails", "value": {"value": format!("u{i}@x.example")}}))
        .collect();
    assert_eq!(
        parse(&ops(Value::Array(most))).unwrap().len(),
        MAX_OPERATIONS
    );
}

/// Hardening item 12, what remains proportional to operations × stored values: operations that
/// must look at every value of an attribute (a value filter) on a user that already holds
/// 10,000 emails. Timings only, never asserted; run as `hardening_12_timing`.
#[test]
#[ignore]
fn hardening_12_timing_filters_on_a_big_stored_user() {
    use std::time::Instant;
    let mut stored = user();
    stored["emails"] = Value::Array(
        (0..10_000)
            .map(|i| json!({"value": format!("u{i}@x.example"), "type": "work"}))
            .collect(),
    );
    let filtered = json!({"op": "replace", "path": "emails[value eq \"u7@x.example\"].primary", "value": true});
    let add = json!({"op": "add", "path": "emails", "value": [{"value": "new@x.example", "primary": true}]});
    for (name, op, count) in [
        (
            "20 filtered replaces (the most allowed)",
            filtered.clone(),
            20,
        ),
        (
            "1,000 filtered replaces (400 at the 21st)",
            filtered,
            MAX_OPERATIONS,
        ),
        ("1,000 single adds", add, MAX_OPERATIONS),
    ] {
        let body = ops(Value::Array(vec![op; count]));
        let bytes = body.to_string().len();
        let operations = parse(&body).unwrap();
        let mut resource = stored.clone();
        let start = Instant::now();
        let outcome = apply(ResourceKind::User, &mut resource, &operations)
            .and_then(|()| normalize(ResourceKind::User, &resource));
        println!(
            "hardening_12: 10,000 stored emails, {name}: {bytes} bytes, {:?} -> {}",
            start.elapsed(),
            if outcome.is_ok() { "200" } else { "400" }
        );
    }
}

/// Hardening item 12: operations that look at every value of their attribute (here a value
/// filter) may look at [`MAX_VALUES_EXAMINED`] stored values in all; past that, 400 `tooMany`
/// and nothing is kept (the caller applies to a copy). Plain adds are not counted per operation.
#[test]
fn hardening_12_values_examined_are_capped() {
    let mut stored = user();
    stored["emails"] = Value::Array(
        (0..2000)
            .map(|i| json!({"value": format!("u{i}@x.example"), "type": "work"}))
            .collect(),
    );
    let filtered = json!({"op": "replace", "path": "emails[value eq \"u7@x.example\"].primary", "value": true});
    let within = MAX_VALUES_EXAMINED / 2000;
    let mut resource = stored.clone();
    let body = ops(Value::Array(vec![filtered.clone(); within]));
    apply(ResourceKind::User, &mut resource, &parse(&body).unwrap()).unwrap();
    assert_eq!(resource["emails"][7]["primary"], true);
    let body = ops(Value::Array(vec![filtered; within + 1]));
    let err = apply(
        ResourceKind::User,
        &mut stored.clone(),
        &parse(&body).unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.status, 400);
    assert_eq!(err.scim_type, Some(ScimType::TooMany));
    assert!(
        err.detail.contains(&MAX_VALUES_EXAMINED.to_string()),
        "{}",
        err.detail
    );
    let adds: Vec<Value> = (0..MAX_OPERATIONS)
        .map(|i| json!({"op": "add", "path": "emails", "value": {"value": format!("n{i}@x.example")}}))
        .collect();
    let mut resource = stored;
    apply(
        ResourceKind::User,
        &mut resource,
        &parse(&ops(Value::Array(adds))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        resource["emails"].as_array().unwrap().len(),
        2000 + MAX_OPERATIONS
    );
}
