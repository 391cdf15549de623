//! The SCIM request log over the real SQLite store: every request served through
//! `scim::serve` and recorded by `scim::record` as the connection's object does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Counter, Fixture, BASE, NOW};
use scim_edge::api::http::{HttpRequest, HttpResponse};
use scim_edge::api::scim;
use scim_edge::service::clock::Timestamp;
use scim_edge::service::connection::rate_limit::Bucket;
use scim_edge::service::connection::settings;
use scim_edge::service::request_log::read::{self, PageQuery};
use scim_edge::service::request_log::{self, Exchange, Retention, MAX_ENTRIES, PRUNE_EVERY};
use scim_edge::service::sqlite::SqliteStore;
use scim_edge::service::store::{Row, SqlValue, Store, StoreError};
use serde_json::{json, Value};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The request the Worker would forward: bearer token, request id, an IdP's User-Agent.
fn request(f: &Fixture, method: &str, path: &str, body: Option<Value>, id: &str) -> HttpRequest {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: scim_edge::api::http::form_urlencoded(query),
        headers: vec![
            ("authorization".into(), format!("Bearer {}", f.token)),
            ("content-type".into(), "application/scim+json".into()),
            ("x-request-id".into(), id.into()),
            ("user-agent".into(), "Okta SCIM Client 1.0.0".into()),
        ],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    }
}

/// Serves and logs one request on `store`, as `edge::connection` does; returns the response.
fn logged_on(
    store: &dyn Store,
    random: &mut Counter,
    req: &HttpRequest,
    now: Timestamp,
) -> HttpResponse {
    let served = scim::serve(store, random, &mut Bucket::new(), BASE, now, req);
    scim::record(store, random, req, &served, (now, now.plus_seconds(0))).unwrap();
    served.response
}

fn call(f: &mut Fixture, method: &str, path: &str, body: Option<Value>, id: &str) -> HttpResponse {
    let req = request(f, method, path, body, id);
    logged_on(&f.store, &mut f.random, &req, NOW)
}

fn entry(f: &Fixture, id: &str) -> Value {
    read::get(&f.store, id).unwrap()
}

fn list(f: &Fixture, query: PageQuery) -> Value {
    read::list(&f.store, &query).unwrap()
}

fn patch(op: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": [op]})
}

fn create(f: &mut Fixture, user_name: &str, id: &str) -> String {
    let res = call(
        f,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": user_name})),
        id,
    );
    assert_eq!(res.status, 201);
    res.json()["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_bad_filter_is_logged_with_its_status_scim_type_and_request_id() {
    let mut f = Fixture::new();
    let res = call(
        &mut f,
        "GET",
        "/Users?filter=userName%20eq",
        None,
        "req_bad_filter",
    );
    assert_eq!(res.status, 400);
    let e = entry(&f, "req_bad_filter");
    assert_eq!(e["status"], 400);
    assert_eq!(e["scim_type"], "invalidFilter");
    assert_eq!(e["detail"], res.json()["detail"]);
    assert_eq!(e["method"], "GET");
    assert_eq!(e["path"], "/Users");
    assert_eq!(e["query"], "filter=userName eq");
    assert_eq!(e["user_agent"], "Okta SCIM Client 1.0.0");
    assert!(e["actor"].as_str().unwrap().starts_with("token:tok_"));
    let words = e["explanation"].as_str().unwrap();
    assert!(
        words.starts_with("list users failed (400 invalidFilter): "),
        "{words}"
    );
    // … and the failure is an event, without bodies by default.
    let failed: Vec<Value> = f
        .events()
        .into_iter()
        .filter(|e| e["type"] == "scim.request.failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["request_id"], "req_bad_filter");
    assert_eq!(failed[0]["data"]["scim_type"], "invalidFilter");
    assert_eq!(failed[0]["data"]["status"], 400);
    assert!(failed[0]["data"].get("request_body").is_none());
    assert!(failed[0]["data"].get("response_body").is_none());
}

#[test]
fn passwords_are_never_logged_in_posts_patches_or_bulk() {
    let mut f = Fixture::new();
    let res = call(
        &mut f,
        "POST",
        "/Users",
        Some(
            json!({"schemas": [USER], "userName": "okta.user@example.com",
                    "password": "1mz050nq", "groups": []}),
        ),
        "req_post",
    );
    assert_eq!(res.status, 201);
    let id = res.json()["id"].as_str().unwrap().to_owned();
    let e = entry(&f, "req_post");
    assert_eq!(e["request_body"]["password"], "[removed]");
    assert_eq!(e["request_body"]["userName"], "okta.user@example.com");
    assert_eq!(e["response_body"]["id"], id.as_str());
    assert_eq!(e["resource_id"], id.as_str());
    assert_eq!(e["resource_type"], "User");
    assert_eq!(
        e["explanation"],
        "created user okta.user@example.com (password sent (not logged))"
    );
    call(
        &mut f,
        "PATCH",
        &format!("/Users/{id}"),
        Some(patch(
            json!({"op": "replace", "path": "password", "value": "2nd-secret"}),
        )),
        "req_patch",
    );
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
                        "data": {"schemas": [USER], "userName": "b@example.com", "PassWord": "3rd-secret"}}]});
    assert_eq!(
        call(&mut f, "POST", "/Bulk", Some(bulk), "req_bulk").status,
        200
    );
    let mut stored = String::new();
    for row in f
        .store
        .query("SELECT request_body, response_body FROM request_log", &[])
        .unwrap()
    {
        for v in row {
            if let SqlValue::Text(t) = v {
                stored.push_str(&t);
            }
        }
    }
    for secret in ["1mz050nq", "2nd-secret", "3rd-secret"] {
        assert!(!stored.contains(secret), "{secret} was logged");
    }
    assert_eq!(
        entry(&f, "req_bulk")["explanation"],
        "bulk of 1 operation: created user b@example.com (password sent (not logged))"
    );
}

#[test]
fn okta_and_entra_deactivations_are_explained_with_their_dialect() {
    let mut f = Fixture::new();
    let id = create(&mut f, "bjensen@example.com", "req_c1");
    let path = format!("/Users/{id}");
    call(
        &mut f,
        "PATCH",
        &path,
        Some(patch(json!({"op": "replace", "value": {"active": false}}))),
        "req_okta",
    );
    let okta = entry(&f, "req_okta");
    assert_eq!(
        okta["explanation"],
        "deactivated user bjensen@example.com (Okta pathless replace of active)"
    );
    assert_eq!(okta["dialect_features"][0]["code"], "okta_pathless_replace");
    call(
        &mut f,
        "PATCH",
        &path,
        Some(patch(
            json!({"op": "Replace", "path": "active", "value": "True"}),
        )),
        "req_entra",
    );
    assert_eq!(
        entry(&f, "req_entra")["explanation"],
        "reactivated user bjensen@example.com (capitalised ops, string booleans)"
    );
    // The same change again changes nothing.
    call(
        &mut f,
        "PATCH",
        &path,
        Some(patch(
            json!({"op": "replace", "path": "active", "value": true}),
        )),
        "req_same",
    );
    assert_eq!(entry(&f, "req_same")["explanation"], "no change");
    call(
        &mut f,
        "GET",
        "/Users?filter=userName%20eq%20%22bjensen@example.com%22",
        None,
        "req_list",
    );
    assert_eq!(
        entry(&f, "req_list")["explanation"],
        "listed users (filter userName eq \"bjensen@example.com\", 1 result)"
    );
}

#[test]
fn member_changes_are_counted_in_words() {
    let mut f = Fixture::new();
    let a = create(&mut f, "a@example.com", "req_a");
    let b = create(&mut f, "b@example.com", "req_b");
    let res = call(
        &mut f,
        "POST",
        "/Groups",
        Some(json!({"displayName": "Sales", "members": [{"value": a}, {"value": b}]})),
        "req_group",
    );
    let group = res.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        entry(&f, "req_group")["explanation"],
        "created group Sales, added 2 members to group Sales"
    );
    call(
        &mut f,
        "PATCH",
        &format!("/Groups/{group}"),
        Some(patch(
            json!({"op": "Remove", "path": "members", "value": [{"value": a}, {"value": b}]}),
        )),
        "req_remove",
    );
    assert_eq!(
        entry(&f, "req_remove")["explanation"],
        "removed 2 members from group Sales (capitalised ops, remove with a value array)"
    );
}

#[test]
fn pages_newest_first_with_filters() {
    let mut f = Fixture::new();
    let id = create(&mut f, "p@example.com", "req_1");
    call(&mut f, "GET", &format!("/Users/{id}"), None, "req_2");
    call(&mut f, "GET", "/Users/nope", None, "req_3");
    call(&mut f, "DELETE", &format!("/Users/{id}"), None, "req_4");
    let ids = |v: &Value| -> Vec<String> {
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = list(
        &f,
        PageQuery {
            limit: Some("3"),
            ..Default::default()
        },
    );
    assert_eq!(ids(&first), ["req_4", "req_3", "req_2"]);
    assert_eq!(first["next_after"], "req_2");
    assert_eq!(first["retention"]["max_entries"], MAX_ENTRIES);
    let second = list(
        &f,
        PageQuery {
            after: Some("req_2"),
            limit: Some("3"),
            ..Default::default()
        },
    );
    assert_eq!(ids(&second), ["req_1"]);
    assert_eq!(second["next_after"], Value::Null);
    let only = |q: PageQuery| ids(&list(&f, q));
    assert_eq!(
        only(PageQuery {
            status: Some("404"),
            ..Default::default()
        }),
        ["req_3"]
    );
    assert_eq!(
        only(PageQuery {
            status: Some("2xx"),
            method: Some("get"),
            ..Default::default()
        }),
        ["req_2"]
    );
    assert_eq!(
        only(PageQuery {
            resource_id: Some(&id),
            ..Default::default()
        }),
        ["req_4", "req_2", "req_1"]
    );
    assert_eq!(entry(&f, "req_2")["explanation"], "read user p@example.com");
    assert_eq!(
        entry(&f, "req_4")["explanation"],
        "deleted user p@example.com"
    );
    // Bad filters and cursors are 400s; an id not in this log is a 404.
    for bad in [
        PageQuery {
            status: Some("abc"),
            ..Default::default()
        },
        PageQuery {
            method: Some("TRACE"),
            ..Default::default()
        },
        PageQuery {
            after: Some("req_nope"),
            ..Default::default()
        },
    ] {
        assert_eq!(read::list(&f.store, &bad).unwrap_err().status, 400);
    }
    assert_eq!(read::get(&f.store, "req_nope").unwrap_err().status, 404);
}

/// A cheap GET entry recorded straight into the log.
fn record_get(store: &dyn Store, random: &mut Counter, id: &str, at: Timestamp, r: Retention) {
    let exchange = Exchange {
        request_id: Some(id),
        method: "GET",
        path: "/Users",
        query: &[],
        user_agent: None,
        request_body: b"",
        status: if id.ends_with('7') { 404 } else { 200 },
        response_body: b"{\"totalResults\": 0}",
        actor: Some("token:tok_1"),
        started: at,
        finished: at,
        events_after: None,
        options: None,
    };
    request_log::record(store, random, &exchange, r).unwrap();
}

fn count(store: &dyn Store) -> i64 {
    let rows = store
        .query("SELECT count(*) FROM request_log", &[])
        .unwrap();
    rows[0][0].as_i64().unwrap()
}

#[test]
fn retention_keeps_the_documented_count() {
    let f = Fixture::new();
    let mut random = Counter(7);
    // Pruned every PRUNE_EVERY entries: between two prunings a full log holds a few more.
    for i in 0..MAX_ENTRIES + 25 {
        record_get(
            &f.store,
            &mut random,
            &format!("req_{i}"),
            NOW,
            Retention::DEFAULT,
        );
    }
    assert_eq!(count(&f.store), MAX_ENTRIES + 25);
    for i in MAX_ENTRIES + 25..MAX_ENTRIES + PRUNE_EVERY {
        record_get(
            &f.store,
            &mut random,
            &format!("req_{i}"),
            NOW,
            Retention::DEFAULT,
        );
    }
    assert_eq!(count(&f.store), MAX_ENTRIES);
    // The oldest went; the summary counts only what is kept.
    assert_eq!(read::get(&f.store, "req_49").unwrap_err().status, 404);
    assert_eq!(entry(&f, "req_50")["request_id"], "req_50");
    let summary = read::summary(&f.store).unwrap();
    assert_eq!(summary["requests"], MAX_ENTRIES);
    let kept_404 = (PRUNE_EVERY..MAX_ENTRIES + PRUNE_EVERY)
        .filter(|i| i.to_string().ends_with('7'))
        .count();
    assert_eq!(summary["by_status"]["404"], kept_404);
    assert_eq!(summary["errors"], kept_404);
}

#[test]
fn retention_by_count_and_age_with_a_small_log() {
    let f = Fixture::new();
    let mut random = Counter(7);
    let small = Retention {
        max_entries: 5,
        max_age_days: 2,
        prune_every: 3,
    };
    let day = 24 * 3600;
    for i in 0..9 {
        record_get(&f.store, &mut random, &format!("req_{i}"), NOW, small);
        assert!(count(&f.store) <= 5 + 2, "at most max + prune_every - 1");
    }
    assert_eq!(count(&f.store), 5, "pruned to the count at the 9th");
    // Three days later, the next pruning (every 3 entries) removes everything older than 2 days.
    let later = NOW.plus_seconds(3 * day);
    for i in 9..12 {
        record_get(&f.store, &mut random, &format!("req_{i}"), later, small);
    }
    let kept: Vec<String> = read::list(&f.store, &PageQuery::default()).unwrap()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept, ["req_11", "req_10", "req_9"]);
    let summary = read::summary(&f.store).unwrap();
    assert_eq!(summary["requests"], 3);
    assert_eq!(summary["since"], later.to_rfc3339());
}

#[test]
fn the_summary_counts_statuses_errors_and_dialect_features() {
    let mut f = Fixture::new();
    let id = create(&mut f, "s@example.com", "req_s1");
    for (i, op) in [
        json!({"op": "replace", "value": {"active": false}}),
        json!({"op": "replace", "value": {"active": true}}),
        json!({"op": "Replace", "path": "active", "value": "False"}),
    ]
    .into_iter()
    .enumerate()
    {
        call(
            &mut f,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch(op)),
            &format!("req_p{i}"),
        );
    }
    call(&mut f, "GET", "/Users?filter=bad", None, "req_bad");
    let s = read::summary(&f.store).unwrap();
    assert_eq!(s["requests"], 5);
    assert_eq!(s["errors"], 1);
    assert_eq!(s["error_rate"], 0.2);
    assert_eq!(s["by_status"], json!({"200": 3, "201": 1, "400": 1}));
    let features = s["dialect_features"].as_array().unwrap();
    assert_eq!(features[0]["code"], "okta_pathless_replace");
    assert_eq!(features[0]["count"], 2);
    assert_eq!(
        features[0]["description"],
        "Okta pathless replace of active"
    );
    let codes: Vec<&str> = features
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"capitalised_op") && codes.contains(&"string_boolean"));
    assert_eq!(s["since"], NOW.to_rfc3339());
}

#[test]
fn masking_is_stable_within_a_connection_and_differs_across() {
    let mut a = Fixture::new();
    let mut b = Fixture::new();
    b.random = Counter(99);
    for f in [&mut a, &mut b] {
        settings::update(&f.store, &json!({"request_log": {"mask_pii": true}})).unwrap();
        let body = json!({"schemas": [USER], "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work"}], "externalId": "00u1"});
        call(f, "POST", "/Users", Some(body), "req_m1");
        call(
            f,
            "GET",
            "/Users?filter=userName%20eq%20%22BJENSEN@example.com%22",
            None,
            "req_m2",
        );
    }
    let masked = |f: &Fixture| {
        let created = entry(f, "req_m1");
        let text = created.to_string() + &entry(f, "req_m2").to_string();
        for plain in ["bjensen", "Barbara", "Jensen"] {
            assert!(!text.contains(plain), "{plain} in {text}");
        }
        assert_eq!(created["request_body"]["externalId"], "00u1");
        created["request_body"]["userName"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (in_a, in_b) = (masked(&a), masked(&b));
    assert!(in_a.starts_with("masked:") && in_a.len() == 23, "{in_a}");
    assert_ne!(in_a, in_b, "each connection has its own salt");
    // Stable: the same user masks the same way in the body, the explanation and the filter.
    let created = entry(&a, "req_m1");
    assert_eq!(created["request_body"]["emails"][0]["value"], in_a.as_str());
    assert_eq!(created["response_body"]["userName"], in_a.as_str());
    assert_eq!(created["explanation"], format!("created user {in_a}"));
    assert_eq!(
        entry(&a, "req_m2")["explanation"],
        format!("listed users (filter userName eq \"{in_a}\", 1 result)")
    );
    // The salt never leaves the object's settings.
    let described = scim_edge::service::connection::describe(&a.store, NOW).unwrap();
    assert_eq!(
        described["settings"]["request_log"],
        json!({"mask_pii": true, "failed_event_bodies": false})
    );
}

#[test]
fn failed_events_carry_bodies_only_when_opted_in_and_unauthenticated_ones_are_bare() {
    let mut f = Fixture::new();
    settings::update(
        &f.store,
        &json!({"request_log": {"failed_event_bodies": true}}),
    )
    .unwrap();
    call(
        &mut f,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "password": "pw-secret"})),
        "req_invalid",
    );
    let failed: Vec<Value> = f
        .events()
        .into_iter()
        .filter(|e| e["type"] == "scim.request.failed")
        .collect();
    assert_eq!(failed.len(), 1);
    let data = &failed[0]["data"];
    assert_eq!(data["status"], 400);
    assert_eq!(data["request_body"]["password"], "[removed]");
    assert_eq!(data["response_body"]["status"], "400");
    // Without a token: logged without bodies, one event a minute at most.
    for id in ["req_anon1", "req_anon2"] {
        let mut req = request(&f, "POST", "/Users", Some(json!({"userName": "x"})), id);
        req.headers.retain(|(k, _)| k != "authorization");
        let res = logged_on(&f.store, &mut f.random, &req, NOW);
        assert_eq!(res.status, 401);
    }
    let anon = entry(&f, "req_anon1");
    assert_eq!(anon["actor"], Value::Null);
    assert_eq!(anon["request_body"], Value::Null);
    assert_eq!(anon["response_body"], Value::Null);
    let words = anon["explanation"].as_str().unwrap();
    assert!(
        words.starts_with("create user failed (401 not authenticated)"),
        "{words}"
    );
    let unauthenticated = f
        .events()
        .into_iter()
        .filter(|e| e["type"] == "scim.request.failed" && e["actor"] == "unauthenticated")
        .count();
    assert_eq!(unauthenticated, 1);
}

/// The real store, except that writes to the request log fail (a full or broken log).
struct FailingLog(SqliteStore);

impl Store for FailingLog {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        if sql.trim_start().starts_with("INSERT INTO request_log ") {
            return Err(StoreError("database or disk is full".into()));
        }
        self.0.query(sql, params)
    }

    fn atomically(&self, body: &mut dyn FnMut() -> bool) -> Result<(), StoreError> {
        self.0.atomically(body)
    }
}

#[test]
fn a_failing_log_write_loses_the_entry_never_the_operation() {
    let mut f = Fixture::new();
    let token = f.token.clone();
    let req = request(
        &f,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": "kept@example.com"})),
        "req_lost",
    );
    let store = FailingLog(std::mem::replace(
        &mut f.store,
        SqliteStore::in_memory().unwrap(),
    ));
    let served = scim::serve(&store, &mut f.random, &mut Bucket::new(), BASE, NOW, &req);
    let logged = scim::record(&store, &mut f.random, &req, &served, (NOW, NOW));
    assert!(logged.is_err(), "the log write failed");
    assert_eq!(served.response.status, 201, "the operation's answer stands");
    // The user is there, with its event; no entry, no counter, no half-written log.
    f.store = store.0;
    f.token = token;
    assert_eq!(f.user_count(), 1);
    assert!(f.events().iter().any(|e| e["type"] == "user.created"));
    assert_eq!(count(&f.store), 0);
    assert_eq!(read::summary(&f.store).unwrap()["requests"], 0);
    // A failing log write of a failed request does not leave its event behind either.
    let bad = request(&f, "GET", "/Users?filter=x", None, "req_lost2");
    let store = FailingLog(std::mem::replace(
        &mut f.store,
        SqliteStore::in_memory().unwrap(),
    ));
    let served = scim::serve(&store, &mut f.random, &mut Bucket::new(), BASE, NOW, &bad);
    assert_eq!(served.response.status, 400);
    assert!(scim::record(&store, &mut f.random, &bad, &served, (NOW, NOW)).is_err());
    f.store = store.0;
    assert!(!f
        .events()
        .iter()
        .any(|e| e["type"] == "scim.request.failed"));
}

#[test]
fn durations_are_the_time_between_start_and_end() {
    let mut f = Fixture::new();
    let req = request(&f, "GET", "/Users", None, "req_slow");
    let served = scim::serve(&f.store, &mut f.random, &mut Bucket::new(), BASE, NOW, &req);
    let end = Timestamp(NOW.0 + 37);
    scim::record(&f.store, &mut f.random, &req, &served, (NOW, end)).unwrap();
    let e = entry(&f, "req_slow");
    assert_eq!(e["duration_ms"], 37);
    assert_eq!(e["occurred_at"], NOW.to_rfc3339());
    assert_eq!(e["explanation"], "listed users (0 results)");
}

#[test]
fn reads_answered_together_are_recorded_together_in_order() {
    let mut f = Fixture::new();
    let mut batch = Vec::new();
    for id in ["req_r1", "req_r2", "req_r3"] {
        let req = request(&f, "GET", "/Users", None, id);
        let served = scim::serve(&f.store, &mut f.random, &mut Bucket::new(), BASE, NOW, &req);
        batch.push((req, served, (NOW, NOW)));
    }
    assert_eq!(count(&f.store), 0, "nothing written before the batch");
    scim::record_all(&f.store, &mut f.random, &batch).unwrap();
    let ids: Vec<String> = list(&f, PageQuery::default())["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["req_r3", "req_r2", "req_r1"]);
    // The response body is kept exactly as it was sent.
    let stored = f
        .store
        .query(
            "SELECT response_body FROM request_log WHERE id = 'req_r1'",
            &[],
        )
        .unwrap();
    assert_eq!(
        stored[0][0].as_str().unwrap().as_bytes(),
        batch[0].1.response.body.as_slice()
    );
}
