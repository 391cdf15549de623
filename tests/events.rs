//! SCIM changes land in the connection's event log in the same transaction as the change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Fixture;
use scim_edge::service::store::Store;
use serde_json::{json, Value};

fn events(f: &Fixture) -> Vec<Value> {
    f.events()
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
    let token_id = scim_edge::service::connection::token::list(&f.store).unwrap()[0]
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
            "group.member.added",
            "group.updated",
            "group.deleted"
        ]
    );
    let all = events(&f);
    assert_eq!(all[2]["data"]["changed"], json!(["members"]));
    assert_eq!(
        all[3]["data"],
        json!({"group_id": gid, "display_name": "G", "members": [{"value": a, "type": "User"}]})
    );
    assert_eq!(all[4]["data"]["changed"], json!(["displayName"]));
}

/// The `group.member.*` events of a fixture, as (type, group display name, member ids).
fn member_events(f: &Fixture) -> Vec<(String, String, Vec<String>)> {
    events(f)
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("group.member."))
        .map(|e| {
            let ids = e["data"]["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect();
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["display_name"].as_str().unwrap().to_owned(),
                ids,
            )
        })
        .collect()
}

fn ev(kind: &str, group: &str, ids: &[&str]) -> (String, String, Vec<String>) {
    (
        format!("group.member.{kind}"),
        group.to_owned(),
        ids.iter().map(|s| (*s).to_owned()).collect(),
    )
}

#[test]
fn membership_changes_record_member_events_in_every_write() {
    let mut f = Fixture::new();
    let a = f.create("a")["id"].as_str().unwrap().to_owned();
    let b = f.create("b")["id"].as_str().unwrap().to_owned();
    let c = f.create("c")["id"].as_str().unwrap().to_owned();
    // POST with members (an unknown id is not a member, so not in the event).
    let r = f.call(
        "POST",
        "/Groups",
        Some(json!({"displayName": "G", "members": [{"value": a}, {"value": "ghost"}]})),
    );
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{gid}");
    // A nested group is a member of type Group.
    f.call(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Outer", "members": [{"value": gid}]})),
    );
    assert_eq!(
        events(&f).last().unwrap()["data"]["members"],
        json!([{"value": gid, "type": "Group"}])
    );
    // PUT: b in, a out.
    f.call(
        "PUT",
        &path,
        Some(json!({"displayName": "G", "members": [{"value": b}]})),
    );
    // Entra: add c, remove b by value array.
    f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [
            {"op": "Add", "path": "members", "value": [{"value": c}]},
            {"op": "Remove", "path": "members", "value": [{"value": b}]}
        ]})),
    );
    // Okta: pathless replace of members and name in one go.
    f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [
            {"op": "replace", "value": {"id": gid, "displayName": "H", "members": [{"value": a}]}}
        ]})),
    );
    // Added then removed in the same PATCH: no member event, and no change at all.
    let before = events(&f).len();
    let r = f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": b}]},
            {"op": "remove", "path": format!("members[value eq \"{b}\"]")}
        ]})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(events(&f).len(), before);
    // A PATCH that fails records nothing.
    let r = f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [
            {"op": "add", "path": "members", "value": [{"value": c}]},
            {"op": "add", "path": "members", "value": [{"display": "no value"}]}
        ]})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(events(&f).len(), before);
    // Remove all members (no value): every member is listed.
    f.call(
        "PATCH",
        &path,
        Some(json!({"Operations": [{"op": "remove", "path": "members"}]})),
    );
    // Bulk: a back in.
    let r = f.call(
        "POST",
        "/Bulk",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "PATCH", "path": format!("/Groups/{gid}"),
             "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": a}]}]}}
        ]})),
    );
    assert_eq!(r.json()["Operations"][0]["status"], "200");
    // Deleting a user removes them from each of their groups.
    f.call("DELETE", &format!("/Users/{a}"), None);
    assert_eq!(
        member_events(&f),
        [
            ev("added", "G", &[&a]),
            ev("added", "Outer", &[&gid]),
            ev("added", "G", &[&b]),
            ev("removed", "G", &[&a]),
            ev("added", "G", &[&c]),
            ev("removed", "G", &[&b]),
            ev("added", "H", &[&a]),
            ev("removed", "H", &[&c]),
            ev("removed", "H", &[&a]),
            ev("added", "H", &[&a]),
            ev("removed", "H", &[&a]),
        ]
    );
    let last = events(&f).last().unwrap().clone();
    assert_eq!(last["data"]["group_id"], gid.as_str());
    assert_eq!(
        last["data"]["members"],
        json!([{"value": a, "type": "User"}])
    );
}

#[test]
fn member_events_list_at_most_1000_members_each() {
    let mut f = Fixture::new();
    let n = 2_500;
    f.store
        .execute(
            "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?)
             INSERT INTO user (id, user_name, user_name_key, active, resource, created_at, updated_at, version)
             SELECT 'u' || i, 'u' || i, 'u' || i, 1, '{}', 'x', 'x', 1 FROM k",
            &[n.into()],
        )
        .unwrap();
    let members: Vec<Value> = (0..n).map(|i| json!({"value": format!("u{i}")})).collect();
    let r = f.call(
        "POST",
        "/Groups?excludedAttributes=members",
        Some(json!({"displayName": "Big", "members": members})),
    );
    assert_eq!(r.status, 201);
    let gid = r.json()["id"].as_str().unwrap().to_owned();
    let added = member_events(&f);
    assert_eq!(
        added
            .iter()
            .map(|(k, _, ids)| (k.as_str(), ids.len()))
            .collect::<Vec<_>>(),
        [
            ("group.member.added", 1000),
            ("group.member.added", 1000),
            ("group.member.added", 500)
        ]
    );
    let all: Vec<String> = added.into_iter().flat_map(|(_, _, ids)| ids).collect();
    assert_eq!(all, (0..n).map(|i| format!("u{i}")).collect::<Vec<_>>());
    // Clearing the group lists every member once, in chunks.
    f.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(json!({"Operations": [{"op": "remove", "path": "members"}]})),
    );
    let removed: Vec<usize> = member_events(&f)
        .iter()
        .filter(|(k, _, _)| k == "group.member.removed")
        .map(|(_, _, ids)| ids.len())
        .collect();
    assert_eq!(removed, [1000, 1000, 500]);
}

/// The outbox holds exactly the events not yet accepted by the queue, in order, as envelopes; a
/// failed write leaves neither an event nor an outbox row.
#[test]
fn every_event_waits_in_the_outbox_until_sent() {
    use scim_edge::service::event::outbox;
    let mut f = Fixture::new();
    let before = outbox::pending_count(&f.store, outbox::Scope::Connection).unwrap();
    let user = f.create("outbox@example.com");
    let id = user["id"].as_str().unwrap();
    let bad = f.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "bogus"}]})),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        outbox::pending_count(&f.store, outbox::Scope::Connection).unwrap(),
        before + 1
    );

    let pending = outbox::pending(&f.store, outbox::Scope::Connection, 100).unwrap();
    assert_eq!(pending.len() as i64, before + 1);
    let last: Value = serde_json::from_str(&pending.last().unwrap().message).unwrap();
    assert_eq!(last["type"], "user.created");
    assert_eq!(last["connection_id"], "con_00000000000000000001");
    assert_eq!(last["data"]["id"], id);
    assert!(last["id"].as_str().unwrap().starts_with("evt_"));
    // The log and the queue carry the same envelope.
    assert_eq!(events(&f).last().unwrap(), &last);
    let seqs: Vec<outbox::Key> = pending.iter().map(|p| p.key).collect();
    let order: Vec<i64> = seqs
        .iter()
        .map(|k| match k {
            outbox::Key::Event(seq) => *seq,
            outbox::Key::Message(_) => panic!("a connection's outbox holds events only"),
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));

    outbox::mark_sent(&f.store, &seqs[..1]).unwrap();
    assert_eq!(
        outbox::pending_count(&f.store, outbox::Scope::Connection).unwrap(),
        before
    );
    outbox::mark_sent(&f.store, &seqs).unwrap();
    assert_eq!(
        outbox::pending_count(&f.store, outbox::Scope::Connection).unwrap(),
        0
    );
    assert!(outbox::pending(&f.store, outbox::Scope::Connection, 100)
        .unwrap()
        .is_empty());
    // The log keeps them.
    assert_eq!(events(&f).len() as i64, before + 1);
}

/// Pipeline issue, revocation first: a deactivation's `user.sessions_revoked` leaves the outbox
/// before the connection's older events, on the revocation lane (its own queue); every other
/// event keeps its order on the bulk lane.
#[test]
fn revocation_leaves_the_outbox_first_on_its_own_lane() {
    use scim_edge::service::delivery::message::Lane;
    use scim_edge::service::event::outbox;
    let mut f = Fixture::new();
    let users: Vec<Value> = (0..3)
        .map(|i| f.create(&format!("lane{i}@example.com")))
        .collect();
    let id = users[1]["id"].as_str().unwrap();
    let off = f.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
    );
    assert_eq!(off.status, 200);
    let pending = outbox::pending(&f.store, outbox::Scope::Connection, 100).unwrap();
    let types: Vec<(String, Lane)> = pending
        .iter()
        .map(|p| {
            let e: Value = serde_json::from_str(&p.message).unwrap();
            (e["type"].as_str().unwrap().to_owned(), p.lane)
        })
        .collect();
    assert_eq!(
        types.first(),
        Some(&("user.sessions_revoked".to_owned(), Lane::Revocation))
    );
    let rest: Vec<&str> = types[1..].iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        rest,
        [
            "user.created",
            "user.created",
            "user.created",
            "user.deactivated"
        ]
    );
    assert!(types[1..].iter().all(|(_, lane)| *lane == Lane::Bulk));
}
