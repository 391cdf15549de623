//! Hardening 9: userNames and group displayNames that differ only by Unicode normalisation (a
//! decomposed `é`), by width (fullwidth letters) or by case are one name in a connection; what
//! the IdP sent is stored as sent, and names that already collided before the rule stay usable.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Fixture;
use scim_edge::scim::text::uniqueness_key;
use scim_edge::service::migration::migrate_connection;
use scim_edge::service::store::Store;
use serde_json::{json, Value};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn user(f: &mut Fixture, user_name: &str) -> (u16, Value) {
    let r = f.call(
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": user_name})),
    );
    (r.status, r.json())
}

#[test]
fn hardening_9_the_key_folds_composition_width_and_case() {
    let composed = "Jos\u{e9}";
    let decomposed = "Jose\u{301}";
    assert_ne!(composed, decomposed);
    assert_eq!(uniqueness_key(composed), uniqueness_key(decomposed));
    assert_eq!(
        uniqueness_key("ｂｊｅｎｓｅｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
        "bjensen@example.com"
    );
    assert_eq!(uniqueness_key("BJensen"), uniqueness_key("bjensen"));
    assert_eq!(
        uniqueness_key("\u{fb01}nance"),
        "finance",
        "a ligature is its letters"
    );
    assert_ne!(uniqueness_key("bjensen"), uniqueness_key("bjensen2"));
    assert_ne!(
        uniqueness_key("José"),
        uniqueness_key("Jose"),
        "accents still count"
    );
}

#[test]
fn hardening_9_look_alike_user_names_are_refused_and_stored_as_sent() {
    let mut f = Fixture::new();
    let (status, first) = user(&mut f, "Jos\u{e9}@example.com");
    assert_eq!(status, 201);
    for look_alike in [
        "Jose\u{301}@example.com",
        "ＪＯＳÉ@example.com",
        "jos\u{e9}@EXAMPLE.COM",
    ] {
        let (status, body) = user(&mut f, look_alike);
        assert_eq!(status, 409, "{look_alike}: {body}");
        assert_eq!(body["scimType"], "uniqueness");
        assert!(
            body["detail"].as_str().unwrap().contains("already in use"),
            "{body}"
        );
    }
    assert_eq!(f.user_count(), 1);
    // Stored as the IdP sent it.
    let id = first["id"].as_str().unwrap();
    let got = f.call("GET", &format!("/Users/{id}"), None).json();
    assert_eq!(got["userName"], "Jos\u{e9}@example.com");
    // A rename onto a look-alike of another user is refused too; onto its own look-alike not.
    let (_, other) = user(&mut f, "other@example.com");
    let other_id = other["id"].as_str().unwrap();
    let rename = |f: &mut Fixture, id: &str, to: &str| {
        f.call(
            "PUT",
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER], "userName": to})),
        )
        .status
    };
    assert_eq!(rename(&mut f, other_id, "Jose\u{301}@example.com"), 409);
    assert_eq!(rename(&mut f, id, "Jose\u{301}@example.com"), 200);
}

#[test]
fn hardening_9_look_alike_group_names_are_refused() {
    let mut f = Fixture::new();
    let create = |f: &mut Fixture, name: &str| {
        f.call(
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": name})),
        )
        .status
    };
    assert_eq!(create(&mut f, "Caf\u{e9} Team"), 201);
    assert_eq!(create(&mut f, "Cafe\u{301} Team"), 409);
    assert_eq!(create(&mut f, "ＣＡＦÉ Team"), 409);
    assert_eq!(
        create(&mut f, "Cafe Team"),
        201,
        "no accent is another name"
    );
}

/// A database from before the rule, holding two userNames that are one name under it: the
/// migration keys them, both stay readable and updatable under their names, and no third user
/// can take that name.
#[test]
fn hardening_9_names_that_collided_before_the_rule_stay_usable() {
    let mut f = Fixture::new();
    let (_, a) = user(&mut f, "Jos\u{e9}");
    let (_, b) = user(&mut f, "placeholder");
    let (a_id, b_id) = (
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    );
    // As an old version stored them: the decomposed spelling, no uniqueness key yet.
    f.store
        .execute(
            "UPDATE user SET user_name = ?, user_name_key = ?, resource = json_set(resource, '$.userName', ?) WHERE id = ?",
            &["Jose\u{301}".into(), "jose\u{301}".into(), "Jose\u{301}".into(), b_id.clone().into()],
        )
        .unwrap();
    f.store
        .execute("UPDATE user SET user_name_norm = NULL", &[])
        .unwrap();
    migrate_connection(&f.store).unwrap();
    let norms = f
        .store
        .query("SELECT user_name_norm FROM user ORDER BY seq", &[])
        .unwrap();
    assert_eq!(norms[0][0].as_str(), norms[1][0].as_str());
    assert_eq!(norms[0][0].as_str(), Some(uniqueness_key("José").as_str()));
    for (id, name) in [(&a_id, "Jos\u{e9}"), (&b_id, "Jose\u{301}")] {
        let r = f.call(
            "PUT",
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER], "userName": name, "displayName": "kept"})),
        );
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(user(&mut f, "JOSÉ").0, 409);
}
