//! SCIM changes land in the connection's event log in the same transaction as the change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Fixture;
use scim_edge::service::event;
use serde_json::{json, Value};

fn events(f: &Fixture) -> Vec<Value> {
    event::list(
        &f.store,
        Some("con_00000000000000000001"),
        None,
        Some("200"),
    )
    .unwrap()["events"]
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
            "user.reactivated",
            "user.updated",
            "user.deactivated",
            "user.deleted"
        ]
    );
    let all = events(&f);
    let token_id = scim_edge::service::token::list(&f.store).unwrap()[0]
        .id
        .clone();
    for e in &all {
        assert_eq!(e["actor"], format!("token:{token_id}"));
        assert_eq!(e["data"]["id"], id.as_str());
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

/// The outbox holds exactly the events not yet accepted by the queue, in order, as envelopes; a
/// failed write leaves neither an event nor an outbox row.
#[test]
fn every_event_waits_in_the_outbox_until_sent() {
    use scim_edge::service::outbox;
    let mut f = Fixture::new();
    let before = outbox::pending_count(&f.store).unwrap();
    let user = f.create("outbox@example.com");
    let id = user["id"].as_str().unwrap();
    let bad = f.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "bogus"}]})),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(outbox::pending_count(&f.store).unwrap(), before + 1);

    let pending = outbox::pending(&f.store, 100).unwrap();
    assert_eq!(pending.len() as i64, before + 1);
    let last: Value = serde_json::from_str(&pending.last().unwrap().envelope).unwrap();
    assert_eq!(last["type"], "user.created");
    assert_eq!(last["connection_id"], "con_00000000000000000001");
    assert_eq!(last["data"]["id"], id);
    assert!(last["id"].as_str().unwrap().starts_with("evt_"));
    // The log and the queue carry the same envelope.
    assert_eq!(events(&f).last().unwrap(), &last);
    let seqs: Vec<i64> = pending.iter().map(|p| p.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));

    outbox::mark_sent(&f.store, &seqs[..1]).unwrap();
    assert_eq!(outbox::pending_count(&f.store).unwrap(), before);
    outbox::mark_sent(&f.store, &seqs).unwrap();
    assert_eq!(outbox::pending_count(&f.store).unwrap(), 0);
    assert!(outbox::pending(&f.store, 100).unwrap().is_empty());
    // The log keeps them.
    assert_eq!(events(&f).len() as i64, before + 1);
}
