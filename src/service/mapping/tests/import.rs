//! `Mapping::to_scim`: app profile → SCIM User, for import.

use serde_json::json;

use super::*;
use crate::scim::error::ScimType;
use crate::service::mapping::{IdpKind, Mapping};

#[test]
fn to_scim_round_trip_with_every_default_mapping() {
    for kind in IdpKind::ALL {
        let m = Mapping::default_for(kind);
        let profile = m.to_profile(&rfc7643_8_3_enterprise_user());
        let (mut scim, ignored) = m.to_scim(&profile).expect("imports");
        assert!(ignored.is_empty(), "{kind:?}: {ignored:?}");
        assert_eq!(
            scim["schemas"],
            json!([crate::scim::schema::USER_SCHEMA, ENTERPRISE_URN]),
            "{kind:?}"
        );
        // The service assigns the id on create.
        scim["id"] = profile["user_id"].clone();
        assert_eq!(m.to_profile(&scim), profile, "{kind:?}: {scim}");
    }
}

#[test]
fn to_scim_value_path_creates_the_element_its_filter_describes() {
    let m = mapping(&[
        (r#"emails[type eq "work"].value"#, "email"),
        (
            "emails[primary eq true].value",
            "app_metadata.primary_email",
        ),
        (
            r#"phoneNumbers[type eq "mobile" and primary eq true].value"#,
            "phone_number",
        ),
        ("name.givenName", "given_name"),
        ("userName", "username"),
    ]);
    let profile = json!({
        "username": "jdoe",
        "email": "work@x",
        "app_metadata": {"primary_email": "main@x"},
        "phone_number": "+1 555 0100",
        "given_name": "J",
    });
    let (scim, ignored) = m.to_scim(&profile).expect("imports");
    assert!(ignored.is_empty(), "{ignored:?}");
    assert_eq!(
        scim,
        json!({
            "schemas": [crate::scim::schema::USER_SCHEMA],
            "userName": "jdoe",
            "name": {"givenName": "J"},
            "emails": [
                {"type": "work", "value": "work@x"},
                {"primary": true, "value": "main@x"},
            ],
            "phoneNumbers": [{"type": "mobile", "primary": true, "value": "+1 555 0100"}],
        })
    );
}

#[test]
fn to_scim_blocked_sets_active_to_its_inverse() {
    let m = mapping(&[("active", "blocked"), ("userName", "username")]);
    let (scim, _) = m
        .to_scim(&json!({"username": "a", "blocked": true}))
        .expect("imports");
    assert_eq!(scim["active"], false);
    let (scim, _) = m.to_scim(&json!({"username": "a"})).expect("imports");
    assert!(scim.get("active").is_none(), "absent stays absent: {scim}");
    let (scim, _) = m
        .to_scim(&json!({"username": "a", "active": false, "blocked": true}))
        .expect("consistent");
    assert_eq!(scim["active"], false);
}

#[test]
fn to_scim_reports_unknown_profile_fields_as_ignored() {
    let m = Mapping::default_for(IdpKind::Okta);
    let profile = json!({
        "user_id": "auth0|123",
        "username": "jdoe",
        "email": "jdoe@x",
        "email_verified": true,
        "picture": "https://x/p.png",
        "nickname": null,
        "identities": [{"provider": "auth0"}],
        "app_metadata": {"department": "R&D", "plan": "pro", "flags": {"beta": true}},
        "user_metadata": {"theme": "dark"},
    });
    let (scim, ignored) = m.to_scim(&profile).expect("imports");
    assert_eq!(
        ignored,
        [
            "app_metadata.flags",
            "app_metadata.plan",
            "email_verified",
            "identities",
            "picture",
            "user_metadata",
        ]
    );
    assert_eq!(scim["userName"], "jdoe");
    assert_eq!(scim[ENTERPRISE_URN]["department"], "R&D");
}

#[test]
fn to_scim_reports_fields_of_read_only_attributes_as_ignored() {
    let m = mapping(&[
        ("userName", "username"),
        ("id", "app_metadata.scim_id"),
        ("meta.created", "app_metadata.created"),
        (
            &format!("{ENTERPRISE_URN}:manager.displayName"),
            "app_metadata.manager_name",
        ),
        (
            r#"emails[type eq "home" or type eq "other"].value"#,
            "email",
        ),
    ]);
    let profile = json!({
        "username": "a",
        "email": "home@x",
        "app_metadata": {"scim_id": "1", "created": "2020-01-01T00:00:00Z", "manager_name": "B"},
    });
    let (scim, ignored) = m.to_scim(&profile).expect("imports");
    assert_eq!(
        scim,
        json!({"schemas": [crate::scim::schema::USER_SCHEMA], "userName": "a"})
    );
    // An `or` filter does not say which element to create.
    assert_eq!(
        ignored,
        [
            "app_metadata.created",
            "app_metadata.manager_name",
            "app_metadata.scim_id",
            "email"
        ]
    );
}

#[test]
fn to_scim_value_of_the_wrong_type_is_rejected() {
    let m = Mapping::default_for(IdpKind::Generic);
    let err = m
        .to_scim(&json!({
            "username": 42,
            "blocked": "no",
            "active": 1,
            "app_metadata": {"manager_id": {"id": "m"}},
        }))
        .expect_err("rejected");
    assert_eq!(
        (err.status, err.scim_type),
        (400, Some(ScimType::InvalidValue))
    );
    for part in [
        "'username' is a number but SCIM 'userName' takes a string",
        "'blocked' is a string but must be a boolean",
        "'active' is a number but must be a boolean",
        "'app_metadata.manager_id' is an object but SCIM \
         'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value' takes a string",
    ] {
        assert!(err.detail.contains(part), "{} lacks {part}", err.detail);
    }
}

#[test]
fn to_scim_conflicting_values_are_rejected() {
    let m = Mapping::default_for(IdpKind::Generic);
    let err = m
        .to_scim(&json!({"username": "a", "active": true, "blocked": true}))
        .expect_err("active and blocked disagree");
    assert!(
        err.detail
            .contains("'blocked' (rules[7]) sets SCIM 'active' to a different value"),
        "{}",
        err.detail
    );
    let m = mapping(&[("userName", "username"), ("userName", "email")]);
    assert!(m.to_scim(&json!({"username": "a", "email": "a"})).is_ok());
    assert!(m.to_scim(&json!({"username": "a", "email": "b"})).is_err());
}

#[test]
fn to_scim_field_that_would_not_read_back_is_rejected() {
    // `emails.value` reads the home element the first rule created, until the third rule adds a
    // primary element, which `emails.value` then reads instead.
    let m = mapping(&[
        (r#"emails[type eq "home"].value"#, "app_metadata.home"),
        ("emails.value", "email"),
        ("emails[primary eq true].value", "app_metadata.main"),
    ]);
    let ok = m.to_scim(&json!({"app_metadata": {"home": "h@x"}, "email": "h@x"}));
    assert!(ok.is_ok(), "{ok:?}");
    let err = m
        .to_scim(&json!({"app_metadata": {"home": "h@x", "main": "m@x"}, "email": "h@x"}))
        .expect_err("does not read back");
    assert!(
        err.detail
            .contains("'email' (rules[1]) would not read back from SCIM 'emails.value'"),
        "{}",
        err.detail
    );
}

#[test]
fn to_scim_profile_that_is_not_an_object_is_rejected() {
    let err = Mapping::default_for(IdpKind::Generic)
        .to_scim(&json!(["x"]))
        .expect_err("rejected");
    assert_eq!(err.status, 400);
    assert!(err.detail.contains("must be a JSON object"));
}
