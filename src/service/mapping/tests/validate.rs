//! `Mapping::parse`: every validator has a negative test.

use serde_json::json;

use super::*;
use crate::service::mapping::MAX_RULES;

#[test]
fn empty_rules_are_valid_and_map_only_user_id_and_active() {
    let empty = Mapping::parse(&json!({"rules": []})).expect("valid");
    assert!(empty.rules.is_empty());
    assert_eq!(
        empty.to_profile(&rfc7643_8_3_enterprise_user()),
        json!({"user_id": "2819c223-7f76-453a-919d-413861904646", "active": true})
    );
}

#[test]
fn rfc7643_2_1_attribute_names_and_schema_urns_are_case_insensitive() {
    let m = mapping(&[
        ("USERNAME", "username"),
        ("Name.GivenName", "given_name"),
        (r#"EMAILS[TYPE eq "work"].VALUE"#, "email"),
        (
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department",
            "app_metadata.department",
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
            "name",
        ),
        ("ExternalID", "external_id"),
    ]);
    let profile = m.to_profile(&rfc7643_8_3_enterprise_user());
    assert_eq!(profile["username"], "bjensen@example.com");
    assert_eq!(profile["given_name"], "Barbara");
    assert_eq!(profile["email"], "bjensen@example.com");
    assert_eq!(profile["app_metadata"]["department"], "Tour Operations");
    assert_eq!(profile["name"], "Babs Jensen");
    assert_eq!(profile["external_id"], "701984");
}

#[test]
fn metadata_accepts_any_type_and_deep_keys() {
    mapping(&[
        ("emails", "app_metadata.primary_email"),
        ("groups", "app_metadata.groups"),
        ("active", "user_metadata.a.b.c.is-active"),
        ("meta.created", "app_metadata.scim_created"),
        ("x509Certificates.value", "app_metadata.cert"),
        ("id", "app_metadata.scim_id"),
    ]);
}

#[test]
fn mapping_that_is_not_an_object_is_rejected() {
    assert!(invalid(json!([])).contains("must be a JSON object"));
    assert!(invalid(json!("rules")).contains("must be a JSON object"));
}

#[test]
fn missing_or_non_array_rules_are_rejected() {
    assert!(invalid(json!({})).contains("'rules' is missing"));
    assert!(invalid(json!({"rules": {}})).contains("'rules' must be an array"));
}

#[test]
fn unknown_members_are_rejected() {
    let detail = invalid(json!({
        "rules": [{"scim": "userName", "app": "username", "note": "x"}],
        "version": 2,
    }));
    assert!(detail.contains("unknown member 'version'"), "{detail}");
    assert!(
        detail.contains("rules[0]: unknown member 'note'"),
        "{detail}"
    );
}

#[test]
fn malformed_rules_are_rejected() {
    let detail = invalid(json!({"rules": [
        "userName",
        {"scim": "userName"},
        {"scim": 1, "app": "username"},
        {"app": null, "scim": "displayName"},
    ]}));
    assert!(detail.contains("rules[0]: must be an object"), "{detail}");
    assert!(detail.contains("rules[1].app: is missing"), "{detail}");
    assert!(
        detail.contains("rules[2].scim: must be a string"),
        "{detail}"
    );
    assert!(
        detail.contains("rules[3].app: must be a string"),
        "{detail}"
    );
}

#[test]
fn more_than_100_rules_are_rejected() {
    let keys: Vec<String> = (0..=MAX_RULES)
        .map(|i| format!("app_metadata.k{i}"))
        .collect();
    let pairs: Vec<(&str, &str)> = keys.iter().map(|k| ("title", k.as_str())).collect();
    assert_invalid(&pairs, &["101 rules is too many; at most 100"]);
    assert!(Mapping::parse(&rules(pairs.get(..MAX_RULES).unwrap_or_default())).is_ok());
}

#[test]
fn unknown_scim_attribute_is_rejected() {
    assert_invalid(
        &[("shoeSize", "app_metadata.shoe_size")],
        &["rules[0].scim: 'shoeSize' is not an attribute of the User schema"],
    );
    assert_invalid(
        &[("schemas", "app_metadata.schemas")],
        &["'schemas' is not an attribute"],
    );
}

#[test]
fn unknown_enterprise_attribute_is_rejected() {
    assert_invalid(
        &[(
            &format!("{ENTERPRISE_URN}:badgeNumber"),
            "app_metadata.badge",
        )],
        &["'badgeNumber' is not an attribute of the enterprise User extension"],
    );
}

#[test]
fn unknown_schema_urn_is_rejected() {
    assert_invalid(
        &[("urn:example:custom:2.0:User:shoeSize", "app_metadata.x")],
        &["'urn:example:custom:2.0:User' is not a schema of User"],
    );
    // The enterprise URN alone names no attribute.
    assert_invalid(
        &[(ENTERPRISE_URN, "app_metadata.x")],
        &["is not a schema of User"],
    );
}

#[test]
fn unknown_sub_attribute_is_rejected() {
    assert_invalid(
        &[("name.middle", "app_metadata.middle")],
        &["'middle' is not a sub-attribute of 'name'"],
    );
    assert_invalid(
        &[(r#"emails[type eq "work"].address"#, "email")],
        &["'address' is not a sub-attribute of 'emails'"],
    );
    assert_invalid(
        &[("userName.value", "username")],
        &["'value' is not a sub-attribute of 'userName'"],
    );
}

#[test]
fn scim_path_that_does_not_parse_is_rejected() {
    for bad in [
        r#"emails[type eq "work""#,
        "",
        "emails..value",
        r#"emails[type eq "work"]."#,
        "name.givenName.first",
    ] {
        assert_invalid(
            &[(bad, "app_metadata.x")],
            &["rules[0].scim: ", "is not a valid SCIM path (at position"],
        );
    }
}

#[test]
fn value_filter_naming_a_non_sub_attribute_is_rejected() {
    assert_invalid(
        &[(r#"emails[kind eq "work"].value"#, "email")],
        &["the filter names 'kind', which is not a sub-attribute of 'emails'"],
    );
    assert_invalid(
        &[(
            r#"emails[type eq "work" and not (label pr)].value"#,
            "email",
        )],
        &["the filter names 'label'"],
    );
}

#[test]
fn value_filter_with_a_value_of_the_wrong_type_is_rejected() {
    assert_invalid(
        &[(r#"emails[primary eq "true"].value"#, "email")],
        &["compares 'emails.primary' (boolean) with a string, which never matches"],
    );
    assert_invalid(
        &[("phoneNumbers[type eq 1].value", "phone_number")],
        &["compares 'phoneNumbers.type' (string) with a number"],
    );
}

#[test]
fn value_filter_on_a_singular_attribute_is_rejected() {
    assert_invalid(
        &[(r#"name[givenName eq "x"].familyName"#, "family_name")],
        &["needs a multi-valued complex attribute, and 'name' is not one"],
    );
    assert_invalid(
        &[(r#"userName[value eq "x"]"#, "username")],
        &["'userName' is not one"],
    );
}

#[test]
fn never_returned_scim_attribute_is_rejected() {
    assert_invalid(
        &[("password", "app_metadata.password")],
        &["'password' is never returned"],
    );
}

#[test]
fn app_field_not_allowed_is_rejected() {
    assert_invalid(
        &[("nickName", "nickname")],
        &["rules[0].app: 'nickname' is not an app field"],
    );
    assert_invalid(&[("userName", "Email")], &["'Email' is not an app field"]);
    assert_invalid(&[("userName", "")], &["'' is not an app field"]);
    assert_invalid(
        &[("userName", "metadata.x")],
        &["'metadata.x' is not an app field"],
    );
}

#[test]
fn reserved_app_fields_are_rejected() {
    assert_invalid(
        &[("id", "user_id"), ("active", "active")],
        &[
            "rules[0].app: 'user_id' is reserved: it is always set from the SCIM 'id'",
            "rules[1].app: 'active' is reserved",
        ],
    );
}

#[test]
fn metadata_key_that_is_invalid_is_rejected() {
    let long = format!("app_metadata.{}", "k".repeat(65));
    for (field, expected) in [
        ("app_metadata", "names the whole object"),
        ("user_metadata", "names the whole object"),
        ("app_metadata.", "the key '' must be 1 to 64"),
        ("app_metadata.a..b", "the key '' must be 1 to 64"),
        ("app_metadata.dépt", "the key 'dépt' must be"),
        ("app_metadata.a b", "the key 'a b' must be"),
        ("user_metadata.$ref", "the key '$ref' must be"),
        (long.as_str(), "must be 1 to 64"),
        (
            "app_metadata.a.b.c.d.e",
            "nested 5 keys deep below 'app_metadata'; at most 4",
        ),
    ] {
        assert_invalid(&[("title", field)], &["rules[0].app: ", expected]);
    }
    mapping(&[("title", &format!("app_metadata.{}", "k".repeat(64)))]);
}

#[test]
fn duplicate_app_target_is_rejected() {
    assert_invalid(
        &[
            ("userName", "username"),
            ("emails.value", "email"),
            ("externalId", "username"),
        ],
        &["rules[2].app: duplicate target 'username', already mapped by rules[0]"],
    );
    assert_invalid(
        &[("title", "app_metadata.t"), ("userType", "app_metadata.t")],
        &["duplicate target 'app_metadata.t'"],
    );
}

#[test]
fn overlapping_metadata_targets_are_rejected() {
    assert_invalid(
        &[
            ("title", "app_metadata.job.title"),
            (&format!("{ENTERPRISE_URN}:manager"), "app_metadata.job"),
        ],
        &["rules[0].app: 'app_metadata.job.title' is inside 'app_metadata.job', the target of rules[1]"],
    );
    // The same key under the two roots does not overlap.
    mapping(&[
        ("title", "app_metadata.job"),
        ("userType", "user_metadata.job"),
    ]);
}

#[test]
fn string_field_from_a_non_string_attribute_is_rejected() {
    assert_invalid(
        &[("active", "email")],
        &["rules[0]: type mismatch: 'email' needs a string SCIM attribute, but 'active' is a boolean"],
    );
    assert_invalid(
        &[("name", "given_name")],
        &["'given_name' needs a string SCIM attribute, but 'name' is a complex value"],
    );
    assert_invalid(
        &[(r#"emails[type eq "work"]"#, "email")],
        &["is a complex value"],
    );
    assert_invalid(&[("meta.created", "name")], &["is a dateTime"]);
    // References are strings in JSON.
    mapping(&[("profileUrl", "name")]);
}

#[test]
fn blocked_from_a_non_boolean_attribute_is_rejected() {
    assert_invalid(
        &[("userName", "blocked")],
        &["type mismatch: 'blocked' needs a boolean SCIM attribute ('active'), but 'userName' is a string"],
    );
}

#[test]
fn blocked_from_a_boolean_other_than_active_is_rejected() {
    assert_invalid(
        &[(r#"emails[type eq "work"].primary"#, "blocked")],
        &["'blocked' is the inverse of 'active' and can only be mapped from 'active'"],
    );
    mapping(&[(
        "urn:ietf:params:scim:schemas:core:2.0:User:active",
        "blocked",
    )]);
}

#[test]
fn mapping_with_three_problems_reports_all_three() {
    let detail = invalid(rules(&[
        ("userName", "username"),
        ("shoeSize", "app_metadata.shoe"),
        ("displayName", "username"),
        ("active", "email"),
    ]));
    assert!(detail.starts_with("Invalid mapping: "), "{detail}");
    let problems: Vec<&str> = detail.split("; ").collect();
    assert_eq!(problems.len(), 3, "{detail}");
    assert!(
        detail.contains("rules[1].scim: 'shoeSize' is not an attribute"),
        "{detail}"
    );
    assert!(
        detail.contains("rules[2].app: duplicate target 'username'"),
        "{detail}"
    );
    assert!(
        detail.contains("rules[3]: type mismatch: 'email'"),
        "{detail}"
    );
}
