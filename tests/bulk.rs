//! Host tests of `POST /Bulk` (RFC 7644 §3.7) on the embedded SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Fixture;
use serde_json::{json, Value};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk(f: &mut Fixture, body: Value) -> (u16, Value) {
    let r = f.call("POST", "/Bulk", Some(body));
    (r.status, r.json())
}

#[test]
fn rfc7644_3_7_1_forward_reference_to_a_later_user() {
    let mut f = Fixture::new();
    let (status, body) = bulk(
        &mut f,
        json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "alice"}}
        ]}),
    );
    assert_eq!(status, 200);
    let ops = body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    let user = ops.iter().find(|o| o["bulkId"] == "u1").unwrap();
    let group = ops.iter().find(|o| o["bulkId"] == "g1").unwrap();
    assert_eq!(user["status"], "201");
    assert_eq!(group["status"], "201");
    let user_location = user["location"].as_str().unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();
    let group_path = group["location"]
        .as_str()
        .unwrap()
        .split("/Groups/")
        .nth(1)
        .unwrap();
    let g = f.call("GET", &format!("/Groups/{group_path}"), None).json();
    assert_eq!(g["members"][0]["value"], user_id);
    assert!(group["version"].as_str().unwrap().starts_with("W/"));
}

#[test]
fn rfc7644_3_7_1_circular_references_are_409() {
    let mut f = Fixture::new();
    let (_, body) = bulk(
        &mut f,
        json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "a",
             "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b",
             "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}}
        ]}),
    );
    for op in body["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "409", "{op}");
    }
    assert_eq!(f.call("GET", "/Groups", None).json()["totalResults"], 0);
}

#[test]
fn rfc7644_3_7_3_fail_on_errors_stops_and_each_operation_is_atomic() {
    let mut f = Fixture::new();
    let (_, body) = bulk(
        &mut f,
        json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "ok", "data": {"userName": "kept"}},
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": "x", "active": "maybe"}},
            {"method": "POST", "path": "/Users", "bulkId": "never", "data": {"userName": "never"}}
        ]}),
    );
    let ops = body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2, "processing stops after the first error");
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[1]["status"], "400");
    assert_eq!(ops[1]["response"]["scimType"], "invalidValue");
    assert_eq!(f.user_count(), 1, "the successful operation stays");
}

#[test]
fn rfc7644_3_7_put_patch_delete_with_versions() {
    let mut f = Fixture::new();
    let id = f.create("bjensen")["id"].as_str().unwrap().to_owned();
    let (_, body) = bulk(
        &mut f,
        json!({"schemas": [BULK], "Operations": [
            {"method": "PATCH", "path": format!("/Users/{id}"), "version": "W/\"1\"",
             "data": {"Operations": [{"op": "replace", "path": "displayName", "value": "B"}]}},
            {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"1\"",
             "data": {"userName": "bjensen"}},
            {"method": "DELETE", "path": format!("/Users/{id}")}
        ]}),
    );
    let ops = body["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "200");
    assert_eq!(ops[1]["status"], "412", "stale version");
    assert_eq!(ops[2]["status"], "204");
    assert!(ops[2]["location"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Users/{id}")));
}

#[test]
fn bulk_validators() {
    let mut f = Fixture::new();
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": {"userName": format!("u{i}")}}))
        .collect();
    let (status, body) = bulk(&mut f, json!({"schemas": [BULK], "Operations": too_many}));
    assert_eq!(status, 413);
    assert_eq!(body["status"], "413");
    for bad in [
        json!({"schemas": [BULK]}),
        json!({"Operations": [{"method": "GET", "path": "/Users"}]}),
        json!({"Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "no bulkId"}}]}),
        json!({"Operations": [{"method": "DELETE"}]}),
        json!({"failOnErrors": 0, "Operations": []}),
        json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "same", "data": {"userName": "a"}},
            {"method": "POST", "path": "/Users", "bulkId": "same", "data": {"userName": "b"}}
        ]}),
    ] {
        let (status, _) = bulk(&mut f, bad.clone());
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(f.user_count(), 0);
}
