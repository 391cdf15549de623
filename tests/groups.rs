//! Host tests of Groups and memberships on the embedded SQLite: CRUD, the PATCH shapes Okta and
//! Entra send, `User.groups`, cascades, uniqueness, and large groups.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Fixture;
use scim_edge::service::store::Store;
use serde_json::{json, Value};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn new_group(f: &mut Fixture, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    let r = f.call(
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": name, "members": members})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn member_ids(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn patch(f: &mut Fixture, id: &str, operations: Value) -> Value {
    let r = f.call(
        "PATCH",
        &format!("/Groups/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": operations})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[test]
fn rfc7644_3_3_group_crud_with_members_and_user_groups() {
    let mut f = Fixture::new();
    let alice = id(&f.create("alice"));
    let bob = id(&f.create("bob"));
    let g = new_group(&mut f, "Tour Guides", &[&alice, &bob]);
    let gid = id(&g);
    assert_eq!(member_ids(&g), [alice.clone(), bob.clone()]);
    assert_eq!(g["members"][0]["type"], "User");
    assert_eq!(g["meta"]["resourceType"], "Group");
    assert!(g["members"][0]["$ref"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Users/{alice}")));
    let user = f.call("GET", &format!("/Users/{alice}"), None).json();
    assert_eq!(user["groups"][0]["value"], gid.as_str());
    assert_eq!(user["groups"][0]["display"], "Tour Guides");
    assert_eq!(user["groups"][0]["type"], "direct");
    let r = f.call(
        "PUT",
        &format!("/Groups/{gid}"),
        Some(json!({"displayName": "Guides", "members": [{"value": bob}]})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(member_ids(&r.json()), vec![bob.clone()]);
    assert_eq!(r.json()["meta"]["version"], "W/\"2\"");
    assert_eq!(
        f.call("DELETE", &format!("/Groups/{gid}"), None).status,
        204
    );
    assert_eq!(f.call("GET", &format!("/Groups/{gid}"), None).status, 404);
    let user = f.call("GET", &format!("/Users/{bob}"), None).json();
    assert!(user.get("groups").is_none());
}

#[test]
fn members_that_are_not_in_the_connection_are_not_stored() {
    let mut f = Fixture::new();
    let alice = id(&f.create("alice"));
    let r = f.call(
        "POST",
        "/Groups",
        Some(json!({"displayName": "X", "members": [{"value": "not-a-user"}, {"value": alice}]})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(member_ids(&r.json()), vec![alice.clone()]);
    let gid = id(&r.json());
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": "fake-member-id"}]}]),
    );
    assert_eq!(member_ids(&g), vec![alice]);
    assert_eq!(g["meta"]["version"], "W/\"1\"", "nothing changed");
    let stored = f
        .store
        .query_one(
            "SELECT count(*) FROM membership WHERE member_id IN ('not-a-user', 'fake-member-id')",
            &[],
        )
        .unwrap()
        .unwrap();
    assert_eq!(stored[0].as_i64(), Some(0));
}

#[test]
fn display_name_is_unique_case_insensitively() {
    let mut f = Fixture::new();
    new_group(&mut f, "Admins", &[]);
    let r = f.call("POST", "/Groups", Some(json!({"displayName": "ADMINS"})));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["scimType"], "uniqueness");
}

#[test]
fn okta_group_push_patches() {
    let mut f = Fixture::new();
    let alice = id(&f.create("alice"));
    let bob = id(&f.create("bob"));
    let gid = id(&new_group(&mut f, "Okta Group", &[&alice]));
    // Pathless replace carrying id and displayName.
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}]),
    );
    assert_eq!(g["displayName"], "Renamed");
    // add members with display.
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": bob, "display": "bob"}]}]),
    );
    assert_eq!(member_ids(&g), [alice.clone(), bob.clone()]);
    assert_eq!(g["members"][1]["display"], "bob");
    // remove members[value eq "…"].
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}]),
    );
    assert_eq!(member_ids(&g), vec![bob.clone()]);
    // replace members with [].
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "replace", "path": "members", "value": []}]),
    );
    assert!(g.get("members").is_none());
}

#[test]
fn entra_group_patches() {
    let mut f = Fixture::new();
    let a = id(&f.create("a"));
    let b = id(&f.create("b"));
    let c = id(&f.create("c"));
    let gid = id(&new_group(&mut f, "Entra Group", &[&a, &b, &c]));
    // Remove with a value array removes just those members.
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "Remove", "path": "members", "value": [{"value": a}, {"value": c}]}]),
    );
    assert_eq!(member_ids(&g), vec![b.clone()]);
    // Add with "$ref": null.
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "Add", "path": "members", "value": [{"value": a, "$ref": null}]}]),
    );
    assert_eq!(member_ids(&g), [b.clone(), a.clone()]);
    // Pathless replace of displayName (OneLogin/JumpCloud/Entra).
    let g = patch(
        &mut f,
        &gid,
        json!([{"op": "Replace", "value": {"displayName": "New"}}]),
    );
    assert_eq!(g["displayName"], "New");
}

#[test]
fn membership_changes_bump_the_version_and_no_op_patches_do_not() {
    let mut f = Fixture::new();
    let a = id(&f.create("a"));
    let g = new_group(&mut f, "G", &[&a]);
    let gid = id(&g);
    let same = patch(
        &mut f,
        &gid,
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
    );
    assert_eq!(same["meta"]["version"], "W/\"1\"");
    assert_eq!(same["meta"]["lastModified"], g["meta"]["lastModified"]);
    let removed = patch(
        &mut f,
        &gid,
        json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    );
    assert_eq!(removed["meta"]["version"], "W/\"2\"");
}

#[test]
fn deleting_a_user_removes_their_memberships() {
    let mut f = Fixture::new();
    let a = id(&f.create("a"));
    let b = id(&f.create("b"));
    let gid = id(&new_group(&mut f, "G", &[&a, &b]));
    assert_eq!(f.call("DELETE", &format!("/Users/{a}"), None).status, 204);
    let g = f.call("GET", &format!("/Groups/{gid}"), None).json();
    assert_eq!(member_ids(&g), [b]);
    assert_eq!(g["meta"]["version"], "W/\"2\"");
}

#[test]
fn excluded_members_are_not_returned_and_filters_on_members_work() {
    let mut f = Fixture::new();
    let a = id(&f.create("a"));
    let gid = id(&new_group(&mut f, "G", &[&a]));
    new_group(&mut f, "Other", &[]);
    let g = f
        .call(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .json();
    assert!(g.get("members").is_none());
    assert_eq!(g["displayName"], "G");
    let filter = format!("/Groups?filter=members%20eq%20%22{a}%22&excludedAttributes=members");
    let listed = f.call("GET", &filter, None).json();
    assert_eq!(listed["totalResults"], 1);
    assert_eq!(listed["Resources"][0]["id"], gid.as_str());
    assert!(listed["Resources"][0].get("members").is_none());
    let by_name = f
        .call("GET", "/Groups?filter=displayName%20eq%20%22other%22", None)
        .json();
    assert_eq!(by_name["totalResults"], 1);
}

#[test]
fn patch_with_invalid_member_changes_nothing() {
    let mut f = Fixture::new();
    let a = id(&f.create("a"));
    let gid = id(&new_group(&mut f, "G", &[&a]));
    let r = f.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(json!({"Operations": [
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"display": "no value"}]}
        ]})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["scimType"], "invalidValue");
    let g = f.call("GET", &format!("/Groups/{gid}"), None).json();
    assert_eq!(member_ids(&g), vec![a]);
}

#[test]
fn large_group_patch_adds_one_row_and_can_omit_members() {
    let mut f = Fixture::new();
    let n = 2_000;
    for i in 0..n {
        f.store
            .execute(
                "INSERT INTO user (id, user_name, user_name_key, active, resource, created_at, updated_at, version)
                 VALUES (?, ?, ?, 1, '{}', 'x', 'x', 1)",
                &[format!("u{i}").into(), format!("u{i}").into(), format!("u{i}").into()],
            )
            .unwrap();
    }
    let members: Vec<Value> = (0..n).map(|i| json!({"value": format!("u{i}")})).collect();
    let r = f.call(
        "POST",
        "/Groups",
        Some(json!({"displayName": "Big", "members": members})),
    );
    assert_eq!(r.status, 201);
    let gid = id(&r.json());
    // A PATCH that adds one member and excludes members from the response reads no member list:
    // the response has none, and the membership table grows by one.
    let newcomer = id(&f.create("new"));
    let r = f.call(
        "PATCH",
        &format!("/Groups/{gid}?excludedAttributes=members"),
        Some(json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": newcomer}]}]})),
    );
    assert_eq!(r.status, 200);
    assert!(r.json().get("members").is_none());
    let count = f
        .store
        .query_one(
            "SELECT count(*) FROM membership WHERE group_id = ?",
            &[gid.clone().into()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(count[0].as_i64(), Some(n + 1));
}

/// Counts the rows every query returns, to show what a request reads.
struct Counting<'a> {
    inner: &'a scim_edge::service::sqlite::SqliteStore,
    rows: std::cell::Cell<usize>,
}

impl scim_edge::service::store::Store for Counting<'_> {
    fn query(
        &self,
        sql: &str,
        params: &[scim_edge::service::store::SqlValue],
    ) -> Result<Vec<scim_edge::service::store::Row>, scim_edge::service::store::StoreError> {
        let rows = self.inner.query(sql, params)?;
        self.rows.set(self.rows.get() + rows.len());
        Ok(rows)
    }

    fn atomically(
        &self,
        body: &mut dyn FnMut() -> bool,
    ) -> Result<(), scim_edge::service::store::StoreError> {
        self.inner.atomically(body)
    }
}

#[test]
fn a_100k_member_group_changes_a_few_members_without_reading_the_list() {
    use scim_edge::api::http::HttpRequest;
    use scim_edge::api::scim;

    let mut f = Fixture::new();
    let n: i64 = 100_000;
    let gid = id(&new_group(&mut f, "Everyone", &[]));
    f.store
        .execute(
            "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?)
             INSERT INTO user (id, user_name, user_name_key, active, resource, created_at, updated_at, version)
             SELECT 'u' || i, 'u' || i, 'u' || i, 1, '{\"userName\":\"u' || i || '\"}', 'x', 'x', 1 FROM k",
            &[n.into()],
        )
        .unwrap();
    // Members arrive as IdPs send them: PATCH add in batches.
    for chunk in 0..(n / 10_000) {
        let members: Vec<Value> = (chunk * 10_000..(chunk + 1) * 10_000)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let r = f.call(
            "PATCH",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            Some(json!({"Operations": [{"op": "add", "path": "members", "value": members}]})),
        );
        assert_eq!(r.status, 200);
    }
    let newcomer = id(&f.create("newcomer"));
    let counting = Counting {
        inner: &f.store,
        rows: std::cell::Cell::new(0),
    };
    let request = |body: Value| HttpRequest {
        method: "PATCH".into(),
        path: format!("/Groups/{gid}"),
        query: vec![("excludedAttributes".into(), "members".into())],
        headers: vec![("authorization".into(), format!("Bearer {}", f.token))],
        body: body.to_string().into_bytes(),
    };
    let add = request(json!({"Operations": [
        {"op": "add", "path": "members", "value": [{"value": newcomer}]},
        {"op": "remove", "path": "members[value eq \"u42\"]"}
    ]}));
    let r = scim::handle(&counting, &mut f.random, common::BASE, common::NOW, &add);
    assert_eq!(r.status, 200);
    assert!(
        counting.rows.get() < 50,
        "adding and removing a member read {} rows",
        counting.rows.get()
    );
    let total = f
        .store
        .query_one(
            "SELECT count(*) FROM membership WHERE group_id = ?",
            &[gid.clone().into()],
        )
        .unwrap()
        .unwrap();
    assert_eq!(total[0].as_i64(), Some(n));
    // The whole list is still served when asked for.
    let full = f.call("GET", &format!("/Groups/{gid}"), None).json();
    assert_eq!(full["members"].as_array().unwrap().len(), n as usize);
}

/// Hardening item 4: a `read:users` token once read group names through `User.groups` and could
/// filter on `groups.display`. What a token's scopes do not cover is withheld from what it reads
/// (a User's `groups` needs `read:groups`, a Group's `members` needs `read:users`), even when
/// asked for by name, and filtering or sorting on it is a 403.
#[test]
fn hardening_4_no_scope_reads_through_another() {
    use scim_edge::service::connection::token;
    let mut f = Fixture::new();
    let user = f.create("scoped.reader@example.com");
    let uid = user["id"].as_str().unwrap().to_owned();
    let group = new_group(&mut f, "Secret project", &[&uid]);
    let gid = group["id"].as_str().unwrap().to_owned();
    // With every scope, both sides are visible.
    assert_eq!(
        f.call("GET", &format!("/Users/{uid}"), None).json()["groups"][0]["value"],
        gid.as_str()
    );

    let issue = |f: &mut Fixture, scopes: &[&str]| {
        let scopes = Some(scopes.iter().map(|s| s.to_string()).collect());
        token::issue(&f.store, &mut f.random, common::NOW, scopes, None).unwrap()
    };
    let reader = issue(&mut f, &["read:users"]);
    f.token = reader.token.clone();
    for path in [
        format!("/Users/{uid}"),
        format!("/Users/{uid}?attributes=groups,userName"),
        "/Users".to_owned(),
        "/Users?attributes=groups".to_owned(),
    ] {
        let res = f.call("GET", &path, None);
        assert_eq!(res.status, 200, "{path}");
        let body = res.json();
        let one = body.get("Resources").map_or(&body, |r| &r[0]);
        assert!(one.get("groups").is_none(), "{path}: {one}");
    }
    for path in [
        "/Users?filter=groups.display%20eq%20%22Secret%20project%22",
        "/Users?filter=groups%20pr",
        "/Users?sortBy=groups.display",
    ] {
        let res = f.call("GET", path, None);
        assert_eq!(res.status, 403, "{path}");
    }
    let search = f.call(
        "POST",
        "/.search",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": "groups.value eq \"x\""}),
        ),
    );
    assert_eq!(search.status, 403);
    let all = f.call(
        "POST",
        "/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
    );
    assert_eq!(all.status, 200);
    assert!(all.json()["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r.get("groups").is_none()));

    // The other way round: read:groups alone sees the group, not who is in it.
    token::revoke(&f.store, common::NOW, &reader.id).unwrap();
    f.token = issue(&mut f, &["read:groups", "write:groups"]).token;
    let res = f.call(
        "GET",
        &format!("/Groups/{gid}?attributes=members,displayName"),
        None,
    );
    assert_eq!(res.status, 200);
    assert!(res.json().get("members").is_none());
    assert_eq!(res.json()["displayName"], "Secret project");
    let res = f.call(
        "GET",
        &format!("/Groups?filter=members.value%20eq%20%22{uid}%22"),
        None,
    );
    assert_eq!(res.status, 403);
}

/// Hardening item 12: the caps of a PATCH hold for Groups too (their members go through the same
/// parser): 10,001 members in one operation is 400 `tooMany` and changes nothing; a user's
/// PATCH of 500 operations adding 5,000 emails, with repeats and a primary in many operations,
/// answers with each address once and one primary.
#[test]
fn hardening_12_patch_caps_and_big_user_patch() {
    let mut f = Fixture::new();
    let a = id(&f.create("a"));
    let gid = id(&new_group(&mut f, "G", &[&a]));
    let members: Vec<Value> = (0..10_001)
        .map(|i| json!({"value": format!("u{i}")}))
        .collect();
    let r = f.call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(json!({"Operations": [
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": members}
        ]})),
    );
    assert_eq!(r.status, 400);
    let body = r.json();
    assert_eq!(body["scimType"], "tooMany");
    assert!(body["detail"].as_str().unwrap().contains("10000"), "{body}");
    let g = f.call("GET", &format!("/Groups/{gid}"), None).json();
    assert_eq!(member_ids(&g), vec![a.clone()]);

    let operations: Vec<Value> = (0..500)
        .map(|op| {
            let values: Vec<Value> = (0..10)
                .map(|i| {
                    let n = op * 10 + i;
                    json!({"value": format!("e{}@x.example", n % 2500), "primary": n % 30 == 29})
                })
                .collect();
            json!({"op": "add", "path": "emails", "value": values})
        })
        .collect();
    let r = f.call(
        "PATCH",
        &format!("/Users/{a}"),
        Some(json!({"schemas": [PATCH], "Operations": operations})),
    );
    let user = r.json();
    assert_eq!(r.status, 200, "{user}");
    let emails = user["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2500);
    let primaries: Vec<&Value> = emails.iter().filter(|e| e["primary"] == true).collect();
    assert_eq!(primaries.len(), 1);
    // The last primary added is e2489 (2,489 = 30 × 82 + 29); the later primaries repeat
    // addresses already present, so they are not added and take nothing.
    assert_eq!(primaries[0]["value"], "e2489@x.example");
}
