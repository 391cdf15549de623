//! `Mapping::to_profile`: SCIM User → app profile.

use serde_json::{json, Value};

use super::*;
use crate::service::mapping::{IdpKind, Mapping, Rule};

fn rfc7643_8_3_common_profile() -> Value {
    json!({
        "user_id": "2819c223-7f76-453a-919d-413861904646",
        "active": true,
        "blocked": false,
        "username": "bjensen@example.com",
        "email": "bjensen@example.com",
        "given_name": "Barbara",
        "family_name": "Jensen",
        "name": "Babs Jensen",
        "external_id": "701984",
        "app_metadata": {
            "department": "Tour Operations",
            "employee_number": "701984",
            "manager_id": "26118915-6090-4610-87e4-49d8ca9f808d"
        }
    })
}

#[test]
fn rfc7643_8_3_enterprise_user_to_profile_with_generic_default() {
    let mut expected = rfc7643_8_3_common_profile();
    // No phone number is primary: the first one.
    expected["phone_number"] = json!("555-555-5555");
    let profile = Mapping::default_for(IdpKind::Generic).to_profile(&rfc7643_8_3_enterprise_user());
    assert_eq!(profile, expected);
}

#[test]
fn rfc7643_8_3_enterprise_user_to_profile_with_entra_default() {
    let mut expected = rfc7643_8_3_common_profile();
    expected["phone_number"] = json!("555-555-4444");
    let profile = Mapping::default_for(IdpKind::Entra).to_profile(&rfc7643_8_3_enterprise_user());
    assert_eq!(profile, expected);
}

#[test]
fn rfc7643_8_3_enterprise_user_to_profile_with_every_default() {
    for kind in IdpKind::ALL {
        let profile = Mapping::default_for(kind).to_profile(&rfc7643_8_3_enterprise_user());
        assert_eq!(profile["email"], "bjensen@example.com", "{kind:?}");
        assert_eq!(
            profile["app_metadata"]["manager_id"],
            "26118915-6090-4610-87e4-49d8ca9f808d"
        );
        assert!(profile["phone_number"].is_string(), "{kind:?}");
    }
}

#[test]
fn blocked_is_the_inverse_of_active() {
    let m = mapping(&[("active", "blocked")]);
    let user = |active: Value| json!({"id": "u1", "userName": "a", "active": active});
    assert_eq!(
        m.to_profile(&user(json!(false))),
        json!({"user_id": "u1", "active": false, "blocked": true})
    );
    assert_eq!(
        m.to_profile(&user(json!(true))),
        json!({"user_id": "u1", "active": true, "blocked": false})
    );
    // A User provisioned without `active` is active.
    assert_eq!(
        m.to_profile(&json!({"id": "u1", "userName": "a"})),
        json!({"user_id": "u1", "active": true, "blocked": false})
    );
}

#[test]
fn nested_app_and_user_metadata() {
    let m = mapping(&[
        (
            &format!("{ENTERPRISE_URN}:costCenter"),
            "app_metadata.org.cost_center",
        ),
        (
            &format!("{ENTERPRISE_URN}:division"),
            "app_metadata.org.division",
        ),
        (
            &format!("{ENTERPRISE_URN}:manager"),
            "app_metadata.org.manager",
        ),
        ("title", "user_metadata.job.title.text"),
        ("locale", "user_metadata.locale"),
    ]);
    let profile = m.to_profile(&rfc7643_8_3_enterprise_user());
    assert_eq!(
        profile["app_metadata"],
        json!({"org": {
            "cost_center": "4130",
            "division": "Theme Park",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        }})
    );
    assert_eq!(
        profile["user_metadata"],
        json!({"job": {"title": {"text": "Tour Guide"}}, "locale": "en-US"})
    );
}

#[test]
fn value_path_picks_the_matching_element() {
    let m = mapping(&[
        (r#"emails[type eq "home"].value"#, "email"),
        (r#"phoneNumbers[type eq "mobile"].value"#, "phone_number"),
        (
            r#"addresses[type eq "home"].streetAddress"#,
            "app_metadata.home_street",
        ),
        (
            r#"emails[type eq "WORK" and primary eq true].value"#,
            "app_metadata.work_email",
        ),
        (r#"emails[type eq "home"]"#, "app_metadata.home_email"),
    ]);
    let profile = m.to_profile(&rfc7643_8_3_enterprise_user());
    assert_eq!(profile["email"], "babs@jensen.org");
    assert_eq!(profile["phone_number"], "555-555-4444");
    assert_eq!(profile["app_metadata"]["home_street"], "456 Hollywood Blvd");
    // `type` is not caseExact: "WORK" matches "work".
    assert_eq!(profile["app_metadata"]["work_email"], "bjensen@example.com");
    assert_eq!(
        profile["app_metadata"]["home_email"],
        json!({"value": "babs@jensen.org", "type": "home"})
    );
}

#[test]
fn multi_valued_attribute_without_filter_reads_primary_else_first() {
    let m = mapping(&[("emails.value", "email"), ("emails", "app_metadata.email")]);
    let user = json!({"id": "u", "emails": [
        {"value": "a@x", "type": "home"},
        {"value": "b@x", "type": "work", "primary": true},
    ]});
    let profile = m.to_profile(&user);
    assert_eq!(profile["email"], "b@x");
    assert_eq!(profile["app_metadata"]["email"]["type"], "work");
    let user = json!({"id": "u", "emails": [{"value": "a@x"}, {"value": "b@x"}]});
    assert_eq!(m.to_profile(&user)["email"], "a@x");
}

#[test]
fn missing_attributes_are_absent() {
    let m = Mapping::default_for(IdpKind::Entra);
    let user = json!({
        "id": "u1",
        "userName": "a@x",
        "name": {"givenName": "A"},
        "displayName": null,
        "emails": [{"type": "home", "value": "home@x"}],
        "phoneNumbers": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {}},
    });
    assert_eq!(
        m.to_profile(&user),
        json!({
            "user_id": "u1",
            "active": true,
            "blocked": false,
            "username": "a@x",
            "given_name": "A",
        })
    );
}

#[test]
fn unvalidated_mapping_and_odd_input_never_panic() {
    let m = Mapping {
        rules: vec![
            Rule {
                scim: "emails[".into(),
                app: "email".into(),
            },
            Rule {
                scim: "userName".into(),
                app: "user_id".into(),
            },
            Rule {
                scim: "title".into(),
                app: "app_metadata.a".into(),
            },
            Rule {
                scim: "userType".into(),
                app: "app_metadata.a.b".into(),
            },
            Rule {
                scim: "emails".into(),
                app: "blocked".into(),
            },
            Rule {
                scim: "active".into(),
                app: "email".into(),
            },
        ],
    };
    for user in [
        json!(null),
        json!([]),
        json!("x"),
        json!({"emails": "x", "name": 3, ENTERPRISE_URN: []}),
        json!({"id": 7, "active": "yes", "title": "T", "userType": "U", "emails": [1, {"value": 2}]}),
        rfc7643_8_3_enterprise_user(),
    ] {
        let profile = m.to_profile(&user);
        assert!(profile["active"].is_boolean(), "{profile}");
        let _ = m.to_scim(&profile);
        let _ = m.to_scim(&user);
        for kind in IdpKind::ALL {
            let _ = Mapping::default_for(kind).to_profile(&user);
            let _ = Mapping::default_for(kind).to_scim(&user);
        }
    }
}
