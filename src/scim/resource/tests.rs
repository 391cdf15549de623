//! Fixtures named after the RFC section or the IdP and scenario they reproduce.

use serde_json::{json, Value};

use super::*;
use crate::scim::error::ScimType;
use crate::scim::schema::{Uniqueness, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// `Ok(normal form)` or `Err((status, scimType, detail))`.
fn run(kind: ResourceKind, body: Value) -> Result<Value, (u16, Option<ScimType>, String)> {
    normalize(kind, &body).map_err(|e| (e.status, e.scim_type, e.detail))
}

/// The detail of a 400 invalidValue, or a description of what happened instead.
fn invalid_value(kind: ResourceKind, body: Value) -> String {
    match run(kind, body) {
        Err((400, Some(ScimType::InvalidValue), detail)) => detail,
        other => format!("expected 400 invalidValue, got {other:?}"),
    }
}

fn invalid_syntax(kind: ResourceKind, body: Value) -> String {
    match run(kind, body) {
        Err((400, Some(ScimType::InvalidSyntax), detail)) => detail,
        other => format!("expected 400 invalidSyntax, got {other:?}"),
    }
}

fn user(body: Value) -> Result<Value, (u16, Option<ScimType>, String)> {
    run(ResourceKind::User, body)
}

/// RFC 7643 §8.3: the full enterprise User (a superset of the §8.2 full User).
fn rfc7643_8_3_enterprise_user() -> Value {
    json!({
      "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      "id": "2819c223-7f76-453a-919d-413861904646",
      "externalId": "701984",
      "userName": "bjensen@example.com",
      "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III"
      },
      "displayName": "Babs Jensen",
      "nickName": "Babs",
      "profileUrl": "https://login.example.com/bjensen",
      "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": true},
        {"value": "babs@jensen.org", "type": "home"}
      ],
      "addresses": [
        {
          "streetAddress": "100 Universal City Plaza",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
          "type": "work",
          "primary": true
        },
        {
          "streetAddress": "456 Hollywood Blvd",
          "locality": "Hollywood",
          "region": "CA",
          "postalCode": "91608",
          "country": "USA",
          "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA",
          "type": "home"
        }
      ],
      "phoneNumbers": [
        {"value": "555-555-5555", "type": "work"},
        {"value": "555-555-4444", "type": "mobile"}
      ],
      "ims": [{"value": "someaimhandle", "type": "aim"}],
      "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
      ],
      "userType": "Employee",
      "title": "Tour Guide",
      "preferredLanguage": "en-US",
      "locale": "en-US",
      "timezone": "America/Los_Angeles",
      "active": true,
      "password": "t1meMa$heen",
      "groups": [
        {
          "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
          "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
          "display": "Tour Guides"
        },
        {
          "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
          "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
          "display": "Employees"
        },
        {
          "value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
          "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
          "display": "US Employees"
        }
      ],
      "x509Certificates": [
        {"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx..."}
      ],
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
          "value": "26118915-6090-4610-87e4-49d8ca9f808d",
          "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
          "displayName": "John Smith"
        }
      },
      "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": "W/\"3694e05e9dff591\"",
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
      }
    })
}

fn without(mut value: Value, pointers: &[&str]) -> Value {
    for pointer in pointers {
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(Value::Object(members)) = value.pointer_mut(parent) {
            members.remove(key);
        }
    }
    value
}

#[test]
fn rfc7643_8_3_full_enterprise_user_example_normalizes_losslessly() {
    let input = rfc7643_8_3_enterprise_user();
    let expected = without(
        input.clone(),
        &[
            "/id",
            "/meta",
            "/password",
            "/groups",
            "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/manager/displayName",
        ],
    );
    let normal = user(input);
    assert_eq!(normal, Ok(expected.clone()));
    // Normalising the normal form changes nothing.
    assert_eq!(normal.and_then(user), Ok(expected));
}

#[test]
fn rfc7643_8_1_minimal_user_gets_its_schemas_rebuilt() {
    assert_eq!(
        user(json!({"userName": "bjensen"})),
        Ok(json!({"schemas": [USER_SCHEMA], "userName": "bjensen"}))
    );
}

#[test]
fn rfc7643_8_4_group_example_keeps_members_and_drops_read_only() {
    let members = json!([
        {
            "value": "2819c223-7f76-453a-919d-413861904646",
            "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "display": "Babs Jensen"
        },
        {
            "value": "902c246b-6245-4190-8e05-00816be7344a",
            "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
            "display": "Mandy Pepperidge"
        }
    ]);
    let input = json!({
        "schemas": [GROUP_SCHEMA],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": members,
        "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
    });
    assert_eq!(
        run(ResourceKind::Group, input),
        Ok(json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "members": members}))
    );
}

#[test]
fn non_object_body_is_invalid_syntax() {
    for body in [json!([]), json!("userName"), json!(null), json!(7)] {
        let result = user(body);
        assert!(
            matches!(result, Err((400, Some(ScimType::InvalidSyntax), _))),
            "{result:?}"
        );
    }
}

#[test]
fn rfc7643_3_schemas_must_be_an_array_of_strings() {
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"schemas": USER_SCHEMA, "userName": "a"})
        ),
        format!(
            "Attribute 'schemas' must be an array of schema URNs, got a string \"{USER_SCHEMA}\"."
        )
    );
    let detail = invalid_value(ResourceKind::User, json!({"schemas": [7], "userName": "a"}));
    assert_eq!(
        detail,
        "Attribute 'schemas' must hold schema URN strings, got a number 7."
    );
}

#[test]
fn rfc7643_3_schemas_must_include_the_core_schema() {
    for schemas in [json!([ENTERPRISE_USER_SCHEMA]), json!([])] {
        assert_eq!(
            invalid_value(
                ResourceKind::User,
                json!({"schemas": schemas, "userName": "a"})
            ),
            format!("schemas must include {USER_SCHEMA} for resource type User.")
        );
    }
}

#[test]
fn rfc7643_3_unknown_schema_urn_is_rejected_by_name() {
    let acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    let detail = invalid_value(
        ResourceKind::User,
        json!({"schemas": [USER_SCHEMA, acme], "userName": "a"}),
    );
    assert!(
        detail.starts_with(&format!("Schema '{acme}' is not supported")),
        "{detail}"
    );
    // A User schema sent to /Groups, and the enterprise extension on a Group.
    let detail = invalid_value(
        ResourceKind::Group,
        json!({"schemas": [GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA], "displayName": "g"}),
    );
    assert!(detail.contains(ENTERPRISE_USER_SCHEMA), "{detail}");
    let detail = invalid_value(
        ResourceKind::Group,
        json!({"schemas": [USER_SCHEMA], "displayName": "g"}),
    );
    assert!(detail.contains(USER_SCHEMA), "{detail}");
}

#[test]
fn rfc7643_3_unknown_extension_object_is_rejected_by_name() {
    let acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", acme: {"badge": "x"}})
        ),
        format!("Unknown attribute '{acme}' for resource type User.")
    );
    assert_eq!(
        invalid_value(
            ResourceKind::Group,
            json!({"displayName": "g", ENTERPRISE_USER_SCHEMA: {"department": "x"}})
        ),
        format!("Unknown attribute '{ENTERPRISE_USER_SCHEMA}' for resource type Group.")
    );
}

#[test]
fn rfc7643_3_schemas_compare_case_insensitively_and_are_rebuilt() {
    let body = json!({
        "schemas": [USER_SCHEMA.to_ascii_uppercase(), ENTERPRISE_USER_SCHEMA.to_ascii_lowercase()],
        "userName": "a"
    });
    // The extension is declared but holds nothing: it is left out of `schemas`.
    assert_eq!(
        user(body),
        Ok(json!({"schemas": [USER_SCHEMA], "userName": "a"}))
    );
}

#[test]
fn unknown_attribute_is_rejected_by_name() {
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", "favoriteColor": "blue"})
        ),
        "Unknown attribute 'favoriteColor' for resource type User."
    );
    assert_eq!(
        invalid_value(
            ResourceKind::Group,
            json!({"displayName": "g", "userName": "a"})
        ),
        "Unknown attribute 'userName' for resource type Group."
    );
}

#[test]
fn unknown_sub_attribute_is_rejected_by_path() {
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", "name": {"givenName": "B", "maidenName": "X"}})
        ),
        "Unknown attribute 'name.maidenName' for resource type User."
    );
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", "emails": [{"value": "a@example.com", "label": "x"}]})
        ),
        "Unknown attribute 'emails.label' for resource type User."
    );
}

#[test]
fn unknown_extension_attribute_is_rejected_by_qualified_name() {
    let expected =
        format!("Unknown attribute '{ENTERPRISE_USER_SCHEMA}:badgeColor' for resource type User.");
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"badgeColor": "red"}})
        ),
        expected
    );
    let flattened = format!("{ENTERPRISE_USER_SCHEMA}:badgeColor");
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", flattened: "red"})
        ),
        expected
    );
    let detail = invalid_value(
        ResourceKind::User,
        json!({"userName": "a", ENTERPRISE_USER_SCHEMA: "Sales"}),
    );
    assert!(detail.contains("must be a JSON object"), "{detail}");
}

#[test]
fn rfc7643_2_3_wrong_type_for_each_user_attribute_type() {
    let cases = [
        (
            json!({"userName": 42}),
            "Attribute 'userName' must be a string, got a number 42.",
        ),
        (
            json!({"userName": "a", "active": "yes"}),
            "Attribute 'active' must be a boolean, got a string \"yes\".",
        ),
        (
            json!({"userName": "a", "profileUrl": {"href": "x"}}),
            "Attribute 'profileUrl' must be a reference (a URI string), got an object.",
        ),
        (
            json!({"userName": "a", "name": "Barbara Jensen"}),
            "Attribute 'name' must be a complex value (a JSON object), got a string \"Barbara Jensen\".",
        ),
        (
            json!({"userName": "a", "x509Certificates": [{"value": 5}]}),
            "Attribute 'x509Certificates.value' must be a base64-encoded string, got a number 5.",
        ),
        (
            json!({"userName": "a", "emails": ["a@example.com"]}),
            "Attribute 'emails' must hold complex values (JSON objects), got a string \"a@example.com\".",
        ),
        (
            json!({"userName": "a", "displayName": ["Babs"]}),
            "Attribute 'displayName' must be a string, got an array.",
        ),
        (
            json!({"userName": "a", "emails": [{"value": "a@example.com", "primary": "yes"}]}),
            "Attribute 'emails.primary' must be a boolean, got a string \"yes\".",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(invalid_value(ResourceKind::User, body), expected);
    }
}

#[test]
fn rfc7643_4_1_1_password_is_checked_but_never_echoed_nor_kept() {
    assert_eq!(
        invalid_value(
            ResourceKind::User,
            json!({"userName": "a", "password": 12345678})
        ),
        "Attribute 'password' must be a string, got a number."
    );
    assert_eq!(
        user(json!({"userName": "a", "password": "s3cret!"})),
        Ok(json!({"schemas": [USER_SCHEMA], "userName": "a"}))
    );
}

#[test]
fn rfc7643_4_1_user_name_is_required_and_not_blank() {
    let expected = "Attribute 'userName' is required for resource type User and must not be empty.";
    for body in [
        json!({"schemas": [USER_SCHEMA], "displayName": "Babs"}),
        json!({"userName": ""}),
        json!({"userName": "   "}),
        json!({"userName": null}),
    ] {
        assert_eq!(invalid_value(ResourceKind::User, body), expected);
    }
}

#[test]
fn rfc7643_4_2_group_display_name_is_required() {
    assert_eq!(
        invalid_value(
            ResourceKind::Group,
            json!({"schemas": [GROUP_SCHEMA], "members": []})
        ),
        "Attribute 'displayName' is required for resource type Group and must not be empty."
    );
}

#[test]
fn rfc7643_2_4_at_most_one_primary_value() {
    let detail = invalid_value(
        ResourceKind::User,
        json!({"userName": "a", "emails": [
            {"value": "a@example.com", "primary": true},
            {"value": "b@example.com", "primary": "True"}
        ]}),
    );
    assert!(
        detail.starts_with("Attribute 'emails' has 2 values with \"primary\": true"),
        "{detail}"
    );
    // One primary and any number of `false` is fine.
    let body = json!({"userName": "a", "phoneNumbers": [
        {"value": "1", "primary": true}, {"value": "2", "primary": false}, {"value": "3"}
    ]});
    assert!(user(body).is_ok());
}

#[test]
fn rfc7643_4_2_member_without_value_is_rejected() {
    let expected = "Attribute 'members.value' is required in every value of 'members'.";
    for member in [
        json!({"display": "Babs"}),
        json!({"value": "", "type": "User"}),
    ] {
        assert_eq!(
            invalid_value(
                ResourceKind::Group,
                json!({"displayName": "g", "members": [member]})
            ),
            expected
        );
    }
}

#[test]
fn okta_group_post_keeps_member_display_and_drops_null_ref() {
    let body = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Engineering",
        "members": [
            {"value": "u1", "display": "alice@example.com", "$ref": null},
            {"value": "u2", "display": "bob@example.com", "type": "User"}
        ]
    });
    assert_eq!(
        run(ResourceKind::Group, body),
        Ok(json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": "Engineering",
            "members": [
                {"value": "u1", "display": "alice@example.com"},
                {"value": "u2", "display": "bob@example.com", "type": "User"}
            ]
        }))
    );
    // Okta creates groups with an empty member list first.
    assert_eq!(
        run(
            ResourceKind::Group,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "g", "members": []})
        ),
        Ok(json!({"schemas": [GROUP_SCHEMA], "displayName": "g"}))
    );
}

#[test]
fn okta_user_post_with_password_and_empty_groups() {
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    assert_eq!(
        user(body),
        Ok(json!({
            "schemas": [USER_SCHEMA],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        }))
    );
}

#[test]
fn entra_user_post_with_empty_roles_and_meta() {
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
        }],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let expected = without(body.clone(), &["/meta", "/roles"]);
    let expected = json!({
        "schemas": [USER_SCHEMA],
        "externalId": expected["externalId"],
        "userName": expected["userName"],
        "active": true,
        "emails": expected["emails"],
        "name": expected["name"]
    });
    assert_eq!(user(body), Ok(expected));
}

#[test]
fn entra_boolean_strings_are_coerced() {
    let normal = user(json!({"userName": "a", "active": "False"}));
    assert_eq!(normal.map(|v| v["active"].clone()), Ok(json!(false)));
    let normal = user(json!({"userName": "a", "active": "True"}));
    assert_eq!(normal.map(|v| v["active"].clone()), Ok(json!(true)));
}

#[test]
fn entra_nulls_mean_absent() {
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "a@contoso.com",
        "displayName": null,
        "title": null,
        "name": {"givenName": "Ada", "familyName": null},
        "addresses": [{"type": "work", "streetAddress": null, "locality": "Redmond", "country": null}],
        "phoneNumbers": [{"type": null, "value": null}],
        "emails": null,
        "externalId": null,
        ENTERPRISE_USER_SCHEMA: {"department": null, "manager": {"value": null}}
    });
    assert_eq!(
        user(body),
        Ok(json!({
            "schemas": [USER_SCHEMA],
            "userName": "a@contoso.com",
            "name": {"givenName": "Ada"},
            "addresses": [{"type": "work", "locality": "Redmond"}]
        }))
    );
}

#[test]
fn rfc7643_2_1_member_names_are_case_insensitive_and_canonicalised() {
    let body = json!({
        "Schemas": [USER_SCHEMA],
        "USERNAME": "a",
        "Name": {"GivenName": "Ada", "FAMILYNAME": "Lovelace"},
        "EMAILS": [{"Value": "ada@example.com", "Primary": "True", "TYPE": "work"}],
        "externalID": "x1",
        "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User": {"Department": "R&D"}
    });
    assert_eq!(
        user(body),
        Ok(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "primary": true, "type": "work"}],
            "externalId": "x1",
            ENTERPRISE_USER_SCHEMA: {"department": "R&D"}
        }))
    );
}

#[test]
fn entra_flattened_enterprise_attributes_are_folded_into_the_extension() {
    let department = format!("{ENTERPRISE_USER_SCHEMA}:department");
    let manager = format!("{}:manager", ENTERPRISE_USER_SCHEMA.to_ascii_uppercase());
    let body = json!({
        "userName": "a",
        department: "Sales",
        manager: {"value": "m1", "displayName": "Boss"},
        ENTERPRISE_USER_SCHEMA: {"costCenter": "4130"},
        "urn:ietf:params:scim:schemas:core:2.0:User:title": "Rep"
    });
    assert_eq!(
        user(body),
        Ok(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            "title": "Rep",
            ENTERPRISE_USER_SCHEMA: {
                "department": "Sales",
                "costCenter": "4130",
                "manager": {"value": "m1"}
            }
        }))
    );
}

#[test]
fn the_same_attribute_twice_must_agree() {
    let department = format!("{ENTERPRISE_USER_SCHEMA}:department");
    let agreeing = json!({
        "userName": "a",
        department.clone(): "Sales",
        ENTERPRISE_USER_SCHEMA: {"department": "Sales"}
    });
    assert!(user(agreeing).is_ok());
    let conflicting = json!({
        "userName": "a",
        department: "Sales",
        ENTERPRISE_USER_SCHEMA: {"department": "Marketing"}
    });
    // Hardening item 10: the same scimType as a pathless PATCH that does this (invalidSyntax).
    assert_eq!(
        invalid_syntax(ResourceKind::User, conflicting),
        format!(
            "Attribute '{ENTERPRISE_USER_SCHEMA}:department' is given more than once with \
             different values (attribute names are case-insensitive)."
        )
    );
    let detail = invalid_syntax(
        ResourceKind::User,
        json!({"userName": "a", "USERNAME": "b"}),
    );
    assert!(
        detail.starts_with("Attribute 'userName' is given more than once"),
        "{detail}"
    );
}

#[test]
fn rfc7644_3_3_read_only_values_are_ignored_without_validation() {
    let body = json!({
        "userName": "a",
        "id": 17,
        "meta": "garbage",
        "groups": [{"value": "g1", "unknownSub": true}],
        ENTERPRISE_USER_SCHEMA: {"manager": {"displayName": "Boss"}}
    });
    assert_eq!(
        user(body),
        Ok(json!({"schemas": [USER_SCHEMA], "userName": "a"}))
    );
}

#[test]
fn a_single_value_for_a_multi_valued_attribute_is_wrapped() {
    let body = json!({"userName": "a", "emails": {"value": "a@example.com", "type": "work"}});
    let normal = user(body);
    assert_eq!(
        normal.map(|v| v["emails"].clone()),
        Ok(json!([{"value": "a@example.com", "type": "work"}]))
    );
}

#[test]
fn elements_that_end_up_empty_are_dropped() {
    let body =
        json!({"userName": "a", "emails": [{}, {"value": null}], "ims": [{"value": "h"}, {}]});
    assert_eq!(
        user(body),
        Ok(json!({"schemas": [USER_SCHEMA], "userName": "a", "ims": [{"value": "h"}]}))
    );
}

// check_immutable

const fn immutable(name: &'static str, ty: AttrType, subs: &'static [Attribute]) -> Attribute {
    Attribute {
        name,
        ty,
        multi_valued: false,
        description: "",
        required: false,
        case_exact: false,
        mutability: Mutability::Immutable,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: subs,
    }
}

/// No User or Group attribute outside multi-valued `members` is immutable, so the rule is
/// exercised on a synthetic schema: `badge` immutable, `employment.startDate` immutable inside a
/// readWrite complex attribute.
static SYNTHETIC: &[Attribute] = &[
    immutable("badge", AttrType::String, &[]),
    Attribute {
        mutability: Mutability::ReadWrite,
        ..immutable(
            "employment",
            AttrType::Complex,
            &[immutable("startDate", AttrType::DateTime, &[])],
        )
    },
];

fn synthetic(stored: Value, incoming: Value) -> Result<(), (u16, Option<ScimType>, String)> {
    match (stored, incoming) {
        (Value::Object(s), Value::Object(i)) => {
            immutable_in(SYNTHETIC, &s, &i, "").map_err(|e| (e.status, e.scim_type, e.detail))
        }
        _ => Err((0, None, "fixtures must be objects".into())),
    }
}

#[test]
fn rfc7644_3_5_1_immutable_change_is_rejected() {
    assert_eq!(
        synthetic(json!({"badge": "B-1"}), json!({"badge": "B-2"})),
        Err((
            400,
            Some(ScimType::Mutability),
            "Attribute 'badge' is immutable: it cannot be changed once set (RFC 7643 §2.2).".into()
        ))
    );
    let nested = synthetic(
        json!({"employment": {"startDate": "2020-01-01T00:00:00Z"}}),
        json!({"EMPLOYMENT": {"startdate": "2021-01-01T00:00:00Z"}}),
    );
    assert!(
        matches!(&nested, Err((400, Some(ScimType::Mutability), d)) if d.contains("'employment.startDate'")),
        "{nested:?}"
    );
}

#[test]
fn rfc7644_3_5_1_immutable_unchanged_unset_or_omitted_is_accepted() {
    // caseExact false: a change of case is no change.
    assert_eq!(
        synthetic(json!({"badge": "b-1"}), json!({"BADGE": "B-1"})),
        Ok(())
    );
    // Never set before: the first value may be written.
    assert_eq!(synthetic(json!({}), json!({"badge": "B-1"})), Ok(()));
    assert_eq!(
        synthetic(json!({"badge": null}), json!({"badge": "B-1"})),
        Ok(())
    );
    // Omitted from the request: not a change request.
    assert_eq!(synthetic(json!({"badge": "B-1"}), json!({})), Ok(()));
}

#[test]
fn rfc7643_4_2_members_are_replaced_as_a_whole() {
    let stored = json!({"displayName": "g", "members": [{"value": "u1", "type": "User"}]});
    let incoming = json!({"displayName": "g2", "members": [{"value": "u2", "type": "Group"}]});
    assert_eq!(
        check_immutable(ResourceKind::Group, &stored, &incoming),
        Ok(())
    );
    let normal = user(rfc7643_8_3_enterprise_user());
    assert_eq!(
        normal.map(|v| check_immutable(ResourceKind::User, &v, &json!({"userName": "other"}))),
        Ok(Ok(()))
    );
}

// strip_never_returned

#[test]
fn rfc7643_7_never_returned_attributes_are_stripped() {
    let mut resource = rfc7643_8_3_enterprise_user();
    if let Value::Object(members) = &mut resource {
        members.insert("PASSWORD".into(), json!("again"));
    }
    let expected = without(resource.clone(), &["/password", "/PASSWORD"]);
    strip_never_returned(ResourceKind::User, &mut resource);
    assert_eq!(resource, expected);

    let mut not_an_object = json!(["password"]);
    strip_never_returned(ResourceKind::User, &mut not_an_object);
    assert_eq!(not_an_object, json!(["password"]));
}

#[test]
fn error_details_clip_long_unknown_names() {
    let key = "k".repeat(100_000);
    let detail = invalid_value(ResourceKind::User, json!({"userName": "a", key: 1}));
    assert!(detail.starts_with("Unknown attribute 'kkk"), "{detail}");
    assert!(detail.len() < 250, "{}", detail.len());
}

#[test]
fn entra_manager_as_a_bare_id_string() {
    // Entra ID's documented payload: `"Manager": "123456"` inside the enterprise extension.
    let body = json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"Manager": "123456"}});
    assert_eq!(
        user(body),
        Ok(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a",
            ENTERPRISE_USER_SCHEMA: {"manager": {"value": "123456"}}
        }))
    );
    // Only where the complex attribute has a `value`: `name` does not.
    let detail = invalid_value(ResourceKind::User, json!({"userName": "a", "name": "Ada"}));
    assert!(
        detail.starts_with("Attribute 'name' must be a complex value"),
        "{detail}"
    );
}

#[test]
fn schemas_member_inside_an_extension_object_is_ignored() {
    let body = json!({
        "userName": "x",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "department": "Eng"
        }
    });
    let out = normalize(ResourceKind::User, &body).unwrap();
    assert_eq!(
        out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"department": "Eng"})
    );
}

/// Hardening item 8: string values are capped (4,096 characters; binary 65,536), counted in
/// characters, not bytes; one over is a 400 `invalidValue` naming the attribute.
#[test]
fn hardening_8_string_values_are_capped() {
    let at_cap = "é".repeat(crate::scim::resource::value::MAX_STRING_CHARS);
    assert!(user(json!({"userName": at_cap})).is_ok());
    let over = "a".repeat(crate::scim::resource::value::MAX_STRING_CHARS + 1);
    let detail = invalid_value(ResourceKind::User, json!({"userName": over.clone()}));
    assert!(
        detail.contains("'userName' is longer than 4096"),
        "{detail}"
    );
    let detail = invalid_value(
        ResourceKind::User,
        json!({"userName": "a", "emails": [{"value": over}]}),
    );
    assert!(detail.contains("emails"), "{detail}");
    let detail = invalid_value(
        ResourceKind::Group,
        json!({"displayName": "b".repeat(5000)}),
    );
    assert!(detail.contains("displayName"), "{detail}");
}
