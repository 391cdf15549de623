//! SCIM changes land in the connection's event log in the same transaction as the change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Fixture;
use scim_edge::service::event;
use serde_json::{json, Value};

fn events(f: &Fixture) -> Vec<Value> {
    event::list(&f.store, None, Some("200")).unwrap()["events"]
        .as_array()
        .unwrap()
        .clone()
}

fn types(f: &Fixture) -> Vec<String> {
    events(f)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[test]
fn user_lifecycle_events_in_every_dialect() {
    let mut f = Fixture::new();
    let user = f.create("bjensen@example.com");
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let patch = |op: Value| json!({"schemas": [PATCH], "Operations": [op]});
    // Entra deactivation: "False" as a string.
    f.call(
        "PATCH",
        &path,
        Some(patch(
            json!({"op": "Replace", "path": "active", "value": "False"}),
        )),
    );
    // Okta reactivation: pathless replace.
    f.call(
        "PATCH",
        &path,
        Some(patch(json!({"op": "replace", "value": {"active": true}}))),
    );
    // PUT with a change, then the same PUT again (no change, no event).
    let body = json!({"userName": "bjensen@example.com", "displayName": "Babs", "active": true});
    f.call("PUT", &path, Some(body.clone()));
    f.call("PUT", &path, Some(body));
    // PUT deactivation.
    f.call(
        "PUT",
        &path,
        Some(json!({"userName": "bjensen@example.com", "active": false})),
    );
    // A PATCH that fails records nothing.
    let failed = f.call(
        "PATCH",
        &path,
        Some(patch(json!({"op": "replace", "path": "id", "value": "x"}))),
    );
    assert_eq!(failed.status, 400);
    f.call("DELETE", &path, None);
    assert_eq!(
        types(&f),
        [
            "user.created",
            "user.deactivated",
            "user.sessions_revoked",
            "user.reactivated",
            "user.updated",
            "user.deactivated",
            "user.sessions_revoked",
            "user.deleted",
            "user.sessions_revoked"
        ]
    );
    // Every deactivation and deletion is followed by the revocation of the user's sessions.
    let all: Vec<Value> = events(&f)
        .into_iter()
        .filter(|e| e["type"] != "user.sessions_revoked")
        .collect();
    let token_id = scim_edge::service::token::list(&f.store).unwrap()[0]
        .id
        .clone();
    for e in &all {
        assert_eq!(e["actor"], format!("token:{token_id}"));
        assert_eq!(e["data"]["id"], id.as_str());
    }
    for e in events(&f)
        .iter()
        .filter(|e| e["type"] == "user.sessions_revoked")
    {
        assert_eq!(e["actor"], format!("token:{token_id}"));
        assert_eq!(e["data"]["user_id"], id.as_str());
    }
    assert_eq!(
        all[0]["data"]["resource"]["userName"],
        "bjensen@example.com"
    );
    assert_eq!(all[0]["data"]["profile"]["username"], "bjensen@example.com");
    assert_eq!(all[1]["data"]["changed"], json!(["active"]));
    assert_eq!(all[1]["data"]["profile"]["blocked"], true);
    assert_eq!(all[3]["data"]["changed"], json!(["displayName"]));
    assert!(all[5]["data"]["resource"].is_null());
    let ids: std::collections::HashSet<&str> =
        all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "event ids are unique");
}

#[test]
fn group_events_name_what_changed() {
    let mut f = Fixture::new();
    let a = f.create("a")["id"].as_str().unwrap().to_owned();
    let r = f.call("POST", "/Groups", Some(json!({"displayName": "G"})));
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{gid}");
    f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": a}]}]})),
    );
    f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [{"op": "replace", "path": "displayName", "value": "H"}]})),
    );
    f.call("DELETE", &path, None);
    assert_eq!(
        types(&f),
        [
            "user.created",
            "group.created",
            "group.updated",
            "group.updated",
            "group.deleted"
        ]
    );
    let all = events(&f);
    assert_eq!(all[2]["data"]["changed"], json!(["members"]));
    assert_eq!(all[3]["data"]["changed"], json!(["displayName"]));
}
