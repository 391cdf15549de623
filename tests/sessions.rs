//! Sessions and refresh tokens the app registers (`/v1/connections/{id}/sessions`,
//! `/refresh-tokens`, `/introspect`), and their revocation in the same transaction as the SCIM
//! change that deactivates or deletes their user, in every IdP dialect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Fixture, BASE, NOW};
use scim_edge::api::app;
use scim_edge::api::http::{HttpRequest, HttpResponse};
use scim_edge::service::clock::Timestamp;
use scim_edge::service::event;
use scim_edge::service::event::outbox::{self, Scope};
use scim_edge::service::store::Store;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// An hour after [`NOW`], as RFC 3339.
const IN_AN_HOUR: &str = "2027-01-15T09:00:00Z";

fn app_request(
    f: &mut Fixture,
    now: Timestamp,
    request_id: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> HttpResponse {
    let mut headers = vec![("content-type".into(), "application/json".into())];
    if let Some(id) = request_id {
        headers.push((scim_edge::api::http::REQUEST_ID_HEADER.into(), id.into()));
    }
    let request = HttpRequest {
        method: method.into(),
        path: path.into(),
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        ..HttpRequest::default()
    };
    app::handle(&f.store, &mut f.random, BASE, now, &request)
}

fn app_at(
    f: &mut Fixture,
    now: Timestamp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> HttpResponse {
    app_request(f, now, None, method, path, body)
}

/// An app call carrying the `X-Request-Id` the Worker would have given it.
fn app_as(
    f: &mut Fixture,
    request_id: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> HttpResponse {
    app_request(f, NOW, Some(request_id), method, path, body)
}

fn app(f: &mut Fixture, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
    app_at(f, NOW, method, path, body)
}

fn assert_error(r: &HttpResponse, status: u16, error: &str, words: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["error"], error, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(words),
        "'{message}' should mention '{words}'"
    );
}

fn user(f: &mut Fixture, user_name: &str) -> String {
    f.create(user_name)["id"].as_str().unwrap().to_owned()
}

fn session(f: &mut Fixture, sid: &str, user_id: &str, client_id: &str) -> Value {
    let r = app(
        f,
        "POST",
        "/sessions",
        Some(json!({"sid": sid, "user_id": user_id, "client_id": client_id})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn refresh_token(f: &mut Fixture, token: &str, user_id: &str, sid: Option<&str>) -> Value {
    let r = app(
        f,
        "POST",
        "/refresh-tokens",
        Some(json!({"refresh_token": token, "user_id": user_id, "client_id": "web", "sid": sid})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn introspect(f: &mut Fixture, body: Value) -> Value {
    let r = app(f, "POST", "/introspect", Some(body));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn inactive() -> Value {
    json!({"active": false})
}

fn events_of(f: &Fixture, kind: &str) -> Vec<Value> {
    f.events()
        .into_iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

fn types(f: &Fixture) -> Vec<String> {
    event::list(
        &f.store,
        Some("con_00000000000000000001"),
        None,
        Some("200"),
    )
    .unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn patch_op(op: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": [op]})
}

#[test]
fn a_session_is_registered_introspected_listed_and_logged_out() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "bjensen@example.com");
    let r = app(
        &mut f,
        "POST",
        "/sessions",
        Some(json!({"sid": "s-1", "user_id": uid, "client_id": "web", "expires_at": IN_AN_HOUR})),
    );
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["sid"], "s-1");
    assert_eq!(created["user_id"], uid.as_str());
    assert_eq!(created["client_id"], "web");
    assert_eq!(created["created_at"], "2027-01-15T08:00:00.000Z");
    assert_eq!(created["expires_at"], "2027-01-15T09:00:00.000Z");
    assert_eq!(created["active"], true);
    let active = introspect(&mut f, json!({"sid": "s-1"}));
    assert_eq!(
        active,
        json!({
            "active": true, "user_id": uid, "client_id": "web", "sid": "s-1",
            "exp": 1_800_003_600, "sub": "bjensen@example.com"
        })
    );
    let listed = app(&mut f, "GET", &format!("/users/{uid}/sessions"), None).json();
    assert_eq!(listed["sessions"][0]["sid"], "s-1");
    assert_eq!(listed["refresh_tokens"], json!([]));
    let r = app(&mut f, "DELETE", "/sessions/s-1", None);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(introspect(&mut f, json!({"sid": "s-1"})), inactive());
    let listed = app(&mut f, "GET", &format!("/users/{uid}/sessions"), None).json();
    assert_eq!(listed["sessions"][0]["revoked_reason"], "logout");
    assert_eq!(
        listed["sessions"][0]["revoked_at"],
        "2027-01-15T08:00:00.000Z"
    );
    assert_eq!(listed["sessions"][0]["active"], false);
    // Logging out again is fine; an unknown session is 404.
    assert_eq!(app(&mut f, "DELETE", "/sessions/s-1", None).status, 204);
    assert_error(
        &app(&mut f, "DELETE", "/sessions/nope", None),
        404,
        "not_found",
        "nope",
    );
}

#[test]
fn session_bodies_are_validated() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "a");
    let cases = [
        (json!({"sid": "s", "client_id": "web"}), "user_id"),
        (
            json!({"sid": "s", "user_id": uid, "client_id": "web", "extra": 1}),
            "extra",
        ),
        (
            json!({"sid": 7, "user_id": uid, "client_id": "web"}),
            "invalid type",
        ),
        (
            json!({"sid": "", "user_id": uid, "client_id": "web"}),
            "sid must be 1 to 255",
        ),
        (
            json!({"sid": "has space", "user_id": uid, "client_id": "web"}),
            "sid must be",
        ),
        (
            json!({"sid": "s".repeat(256), "user_id": uid, "client_id": "web"}),
            "sid must be",
        ),
        (
            json!({"sid": "s", "user_id": uid, "client_id": "wéb"}),
            "client_id must be",
        ),
        (
            json!({"sid": "s", "user_id": uid, "client_id": "web", "expires_at": "tomorrow"}),
            "RFC 3339",
        ),
        (
            json!({"sid": "s", "user_id": uid, "client_id": "web", "expires_at": "2020-01-01T00:00:00Z"}),
            "not in the future",
        ),
        (json!([1]), "JSON object"),
        (
            json!({"sid": "s", "user_id": "", "client_id": "web"}),
            "user_id must be",
        ),
    ];
    for (body, words) in cases {
        let r = app(&mut f, "POST", "/sessions", Some(body.clone()));
        assert_error(&r, 400, "invalid_request", words);
    }
    let r = app(&mut f, "POST", "/sessions", None);
    assert_error(&r, 400, "invalid_request", "missing field");
    let r = app(
        &mut f,
        "POST",
        "/sessions",
        Some(json!({"sid": "s", "user_id": "no-such-user", "client_id": "web"})),
    );
    assert_error(&r, 404, "not_found", "no-such-user");
    session(&mut f, "s", &uid, "web");
    let r = app(
        &mut f,
        "POST",
        "/sessions",
        Some(json!({"sid": "s", "user_id": uid, "client_id": "other"})),
    );
    assert_error(&r, 409, "conflict", "already registered");
    // Nothing of the refused requests was stored.
    let rows = f.store.query("SELECT sid FROM session", &[]).unwrap();
    assert_eq!(rows.len(), 1);
}

#[test]
fn a_deactivated_user_gets_no_session_or_refresh_token() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "a");
    f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch_op(
            json!({"op": "replace", "path": "active", "value": false}),
        )),
    );
    let r = app(
        &mut f,
        "POST",
        "/sessions",
        Some(json!({"sid": "s", "user_id": uid, "client_id": "web"})),
    );
    assert_error(&r, 409, "conflict", "deactivated");
    let r = app(
        &mut f,
        "POST",
        "/refresh-tokens",
        Some(json!({"refresh_token": "rt", "user_id": uid, "client_id": "web"})),
    );
    assert_error(&r, 409, "conflict", "deactivated");
}

#[test]
fn refresh_tokens_are_stored_as_hashes_and_never_echoed() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "a");
    session(&mut f, "s-1", &uid, "web");
    let created = refresh_token(&mut f, "secret-refresh-token", &uid, Some("s-1"));
    let id = created["id"].as_str().unwrap();
    let id_of_created = id.to_owned();
    assert!(id.starts_with("rt_") && id.len() == 27, "{id}");
    assert!(id[3..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["sid"], "s-1");
    assert_eq!(created["user_id"], uid.as_str());
    assert_eq!(created["client_id"], "web");
    assert_eq!(created["expires_at"], Value::Null);
    assert!(!created.to_string().contains("secret-refresh-token"));
    let stored = f.store.query("SELECT * FROM refresh_token", &[]).unwrap();
    assert!(!format!("{stored:?}").contains("secret-refresh-token"));
    let digest = Sha256::digest(b"secret-refresh-token").to_vec();
    let by_hash = f
        .store
        .query(
            "SELECT id FROM refresh_token WHERE hash = ?",
            &[digest.clone().into()],
        )
        .unwrap();
    assert_eq!(by_hash.len(), 1);
    // Introspected by the token or by its hash (either case of hex).
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let expected =
        json!({"active": true, "user_id": uid, "client_id": "web", "sid": "s-1", "sub": "a"});
    assert_eq!(
        introspect(&mut f, json!({"refresh_token": "secret-refresh-token"})),
        expected
    );
    assert_eq!(introspect(&mut f, json!({"token_hash": hex})), expected);
    assert_eq!(
        introspect(&mut f, json!({"token_hash": hex.to_uppercase()})),
        expected
    );
    // Registered again, by token or by hash: 409.
    for body in [
        json!({"refresh_token": "secret-refresh-token", "user_id": uid, "client_id": "web"}),
        json!({"token_hash": hex, "user_id": uid, "client_id": "web"}),
    ] {
        let r = app(&mut f, "POST", "/refresh-tokens", Some(body));
        assert_error(&r, 409, "conflict", "already registered");
    }
    // Registered by hash only.
    let other = Sha256::digest(b"other")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let r = app(
        &mut f,
        "POST",
        "/refresh-tokens",
        Some(
            json!({"token_hash": other, "user_id": uid, "client_id": "mobile", "expires_at": IN_AN_HOUR}),
        ),
    );
    assert_eq!(r.status, 201);
    let other_id = r.json()["id"].as_str().unwrap().to_owned();
    let seen = introspect(&mut f, json!({"refresh_token": "other"}));
    assert_eq!(seen["exp"], 1_800_003_600);
    assert_eq!(seen.get("sid"), None);
    // Listed without hashes.
    let listed = app(&mut f, "GET", &format!("/users/{uid}/sessions"), None).json();
    assert_eq!(listed["refresh_tokens"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("hash"));
    // Revoked by the app.
    assert_eq!(
        app(
            &mut f,
            "DELETE",
            &format!("/refresh-tokens/{other_id}"),
            None
        )
        .status,
        204
    );
    assert_eq!(
        introspect(&mut f, json!({"refresh_token": "other"})),
        inactive()
    );
    assert_error(
        &app(&mut f, "DELETE", "/refresh-tokens/rt_000", None),
        404,
        "not_found",
        "rt_000",
    );
    // Logging out the session ends the refresh tokens bound to it.
    app(&mut f, "DELETE", "/sessions/s-1", None);
    assert_eq!(
        introspect(&mut f, json!({"refresh_token": "secret-refresh-token"})),
        inactive()
    );
    let listed = app(&mut f, "GET", &format!("/users/{uid}/sessions"), None).json();
    // Both were created at the same instant, so the listing's order is the ids' (random) order.
    let reason_of = |id: &str| {
        let tokens = listed["refresh_tokens"].as_array().unwrap();
        tokens.iter().find(|t| t["id"] == id).unwrap()["revoked_reason"].clone()
    };
    assert_eq!(reason_of(&id_of_created), "logout");
    assert_eq!(reason_of(&other_id), "revoked");
}

#[test]
fn refresh_token_bodies_are_validated() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "a");
    let other = user(&mut f, "b");
    session(&mut f, "theirs", &other, "web");
    session(&mut f, "ended", &uid, "web");
    app(&mut f, "DELETE", "/sessions/ended", None);
    let cases = [
        (
            json!({"user_id": uid, "client_id": "web"}),
            400,
            "exactly one of refresh_token or token_hash",
        ),
        (
            json!({"refresh_token": "t", "token_hash": "ab", "user_id": uid, "client_id": "web"}),
            400,
            "exactly one",
        ),
        (
            json!({"refresh_token": "", "user_id": uid, "client_id": "web"}),
            400,
            "refresh_token must be",
        ),
        (
            json!({"token_hash": "abc", "user_id": uid, "client_id": "web"}),
            400,
            "64 hexadecimal",
        ),
        (
            json!({"token_hash": "z".repeat(64), "user_id": uid, "client_id": "web"}),
            400,
            "64 hexadecimal",
        ),
        (
            json!({"token_hash": "é".repeat(32), "user_id": uid, "client_id": "web"}),
            400,
            "64 hexadecimal",
        ),
        (
            json!({"refresh_token": "t", "user_id": uid, "client_id": ""}),
            400,
            "client_id must be",
        ),
        (
            json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "sid": "a b"}),
            400,
            "sid must be",
        ),
        (
            json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "expires_at": "2000-01-01T00:00:00Z"}),
            400,
            "not in the future",
        ),
        (
            json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "token": "x"}),
            400,
            "unknown field",
        ),
        (
            json!({"refresh_token": "t", "user_id": "ghost", "client_id": "web"}),
            404,
            "ghost",
        ),
        (
            json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "sid": "theirs"}),
            409,
            "another user",
        ),
        (
            json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "sid": "ended"}),
            409,
            "revoked",
        ),
    ];
    for (body, status, words) in cases {
        let r = app(&mut f, "POST", "/refresh-tokens", Some(body.clone()));
        let error = match status {
            400 => "invalid_request",
            404 => "not_found",
            _ => "conflict",
        };
        assert_error(&r, status, error, words);
    }
    let rows = f.store.query("SELECT id FROM refresh_token", &[]).unwrap();
    assert!(rows.is_empty());
    // A sid the app never registered as a session is kept as given.
    let created = refresh_token(&mut f, "t", &uid, Some("unregistered"));
    assert_eq!(created["sid"], "unregistered");
}

#[test]
fn introspection_needs_exactly_one_of_sid_refresh_token_token_hash() {
    let mut f = Fixture::new();
    for body in [
        json!({}),
        json!({"sid": "s", "refresh_token": "t"}),
        json!({"sid": "s", "token_hash": "0".repeat(64)}),
        json!({"refresh_token": "t", "token_hash": "0".repeat(64)}),
    ] {
        let r = app(&mut f, "POST", "/introspect", Some(body));
        assert_error(
            &r,
            400,
            "invalid_request",
            "exactly one of sid, refresh_token or token_hash",
        );
    }
    let r = app(&mut f, "POST", "/introspect", Some(json!({"token": "t"})));
    assert_error(&r, 400, "invalid_request", "unknown field");
    let r = app(
        &mut f,
        "POST",
        "/introspect",
        Some(json!({"token_hash": "xyz"})),
    );
    assert_error(&r, 400, "invalid_request", "64 hexadecimal");
    let r = app(&mut f, "POST", "/introspect", Some(json!({"sid": ""})));
    assert_error(&r, 400, "invalid_request", "sid");
    // Unknown ones are simply inactive.
    assert_eq!(introspect(&mut f, json!({"sid": "unknown"})), inactive());
    assert_eq!(
        introspect(&mut f, json!({"refresh_token": "unknown"})),
        inactive()
    );
    assert_eq!(
        introspect(&mut f, json!({"token_hash": "0".repeat(64)})),
        inactive()
    );
}

#[test]
fn expired_sessions_and_refresh_tokens_are_inactive() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "a");
    app(
        &mut f,
        "POST",
        "/sessions",
        Some(json!({"sid": "s", "user_id": uid, "client_id": "web", "expires_at": IN_AN_HOUR})),
    );
    app(
        &mut f,
        "POST",
        "/refresh-tokens",
        Some(
            json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "expires_at": "2027-01-15T08:30:00+00:00"}),
        ),
    );
    let later = Timestamp(NOW.0 + 3_600_000);
    let ask = |f: &mut Fixture, now, body: Value| {
        app_at(f, now, "POST", "/introspect", Some(body)).json()
    };
    assert_eq!(
        ask(
            &mut f,
            Timestamp(NOW.0 + 1_799_000),
            json!({"refresh_token": "t"})
        )["active"],
        true
    );
    assert_eq!(
        ask(
            &mut f,
            Timestamp(NOW.0 + 1_800_000),
            json!({"refresh_token": "t"})
        ),
        inactive()
    );
    assert_eq!(
        ask(&mut f, Timestamp(later.0 - 1), json!({"sid": "s"}))["active"],
        true
    );
    assert_eq!(ask(&mut f, later, json!({"sid": "s"})), inactive());
    let listed = app_at(
        &mut f,
        later,
        "GET",
        &format!("/users/{uid}/sessions"),
        None,
    )
    .json();
    assert_eq!(listed["sessions"][0]["active"], false);
    assert_eq!(listed["sessions"][0]["revoked_at"], Value::Null);
    // An id that names no user and has nothing registered is 404.
    let r = app_at(&mut f, later, "GET", "/users/nobody/sessions", None);
    assert_error(&r, 404, "not_found", "nobody");
}

/// Registers a session and a refresh token for a new user, and returns the user's id.
fn user_with_session(f: &mut Fixture, user_name: &str) -> String {
    let uid = user(f, user_name);
    session(f, &format!("sid-{user_name}"), &uid, "web");
    refresh_token(
        f,
        &format!("rt-{user_name}"),
        &uid,
        Some(&format!("sid-{user_name}")),
    );
    let r = app(
        f,
        "POST",
        "/refresh-tokens",
        Some(
            json!({"refresh_token": format!("offline-{user_name}"), "user_id": uid, "client_id": "cli"}),
        ),
    );
    assert_eq!(r.status, 201);
    uid
}

/// The user's session and both tokens introspect inactive, and exactly one
/// `user.sessions_revoked` event names them with `reason`.
fn assert_revoked(f: &mut Fixture, user_name: &str, uid: &str, reason: &str, subject: &str) {
    for body in [
        json!({"sid": format!("sid-{user_name}")}),
        json!({"refresh_token": format!("rt-{user_name}")}),
        json!({"refresh_token": format!("offline-{user_name}")}),
    ] {
        assert_eq!(introspect(f, body.clone()), inactive(), "{body}");
    }
    let revoked: Vec<Value> = events_of(f, "user.sessions_revoked")
        .into_iter()
        .filter(|e| e["data"]["user_id"] == uid)
        .collect();
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    let data = &revoked[0]["data"];
    assert_eq!(data["subject"], subject);
    assert_eq!(data["reason"], reason);
    assert_eq!(
        data["sessions"],
        json!([{"sid": format!("sid-{user_name}"), "client_id": "web"}])
    );
    let tokens = data["refresh_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    let clients: Vec<(&Value, &Value)> = tokens
        .iter()
        .map(|t| (&t["client_id"], &t["sid"]))
        .collect();
    assert!(clients.contains(&(&json!("web"), &json!(format!("sid-{user_name}")))));
    assert!(clients.contains(&(&json!("cli"), &Value::Null)));
    assert!(tokens
        .iter()
        .all(|t| t["id"].as_str().unwrap().starts_with("rt_")));
    assert!(revoked[0]["actor"].as_str().unwrap().starts_with("token:"));
    let listed = app(f, "GET", &format!("/users/{uid}/sessions"), None).json();
    for row in listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(listed["refresh_tokens"].as_array().unwrap())
    {
        assert_eq!(row["revoked_reason"], reason, "{row}");
        assert_eq!(row["active"], false);
    }
}

#[test]
fn okta_pathless_patch_deactivation_revokes_everything() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "okta");
    assert_eq!(
        introspect(&mut f, json!({"sid": "sid-okta"}))["active"],
        true
    );
    let r = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch_op(
            json!({"op": "replace", "value": {"active": false}}),
        )),
    );
    assert_eq!(r.status, 200);
    assert_revoked(&mut f, "okta", &uid, "deactivated", "okta");
    // The revocation event comes right after the deactivation.
    let t = types(&f);
    let at = t.iter().position(|k| k == "user.deactivated").unwrap();
    assert_eq!(t[at + 1], "user.sessions_revoked");
}

#[test]
fn entra_false_string_deactivation_revokes_everything() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "entra");
    let r = f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch_op(
            json!({"op": "Replace", "path": "active", "value": "False"}),
        )),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["active"], false);
    assert_revoked(&mut f, "entra", &uid, "deactivated", "entra");
}

#[test]
fn put_deactivation_revokes_everything_and_the_subject_follows_the_identifier_setting() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "put");
    // The app knows users by externalId here.
    f.call(
        "PATCH",
        &format!("/Users/{uid}"),
        Some(patch_op(
            json!({"op": "add", "path": "externalId", "value": "ext-9"}),
        )),
    );
    scim_edge::service::connection::settings::update(
        &f.store,
        &json!({"user_identifier": "externalId"}),
    )
    .unwrap();
    assert_eq!(
        introspect(&mut f, json!({"sid": "sid-put"}))["sub"],
        "ext-9"
    );
    let r = f.call(
        "PUT",
        &format!("/Users/{uid}"),
        Some(json!({"userName": "put", "externalId": "ext-9", "active": false})),
    );
    assert_eq!(r.status, 200);
    assert_revoked(&mut f, "put", &uid, "deactivated", "ext-9");
}

#[test]
fn delete_revokes_everything_with_reason_deleted() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "gone");
    assert_eq!(f.call("DELETE", &format!("/Users/{uid}"), None).status, 204);
    assert_revoked(&mut f, "gone", &uid, "deleted", "gone");
    let t = types(&f);
    assert_eq!(t[t.len() - 2..], ["user.deleted", "user.sessions_revoked"]);
}

#[test]
fn bulk_patch_deactivation_revokes_everything() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "bulk");
    let keep = user_with_session(&mut f, "keep");
    let r = f.call(
        "POST",
        "/Bulk",
        Some(json!({"schemas": [BULK], "Operations": [
            {"method": "PATCH", "path": format!("/Users/{uid}"),
             "data": patch_op(json!({"op": "replace", "value": {"active": false}}))}
        ]})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Operations"][0]["status"], "200");
    assert_revoked(&mut f, "bulk", &uid, "deactivated", "bulk");
    // Other users' sessions are untouched.
    assert_eq!(
        introspect(&mut f, json!({"sid": "sid-keep"}))["user_id"],
        keep.as_str()
    );
    assert_eq!(
        introspect(&mut f, json!({"refresh_token": "offline-keep"}))["active"],
        true
    );
}

#[test]
fn reactivation_revives_nothing() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "back");
    let path = format!("/Users/{uid}");
    f.call(
        "PATCH",
        &path,
        Some(patch_op(
            json!({"op": "replace", "path": "active", "value": false}),
        )),
    );
    let r = f.call(
        "PATCH",
        &path,
        Some(patch_op(
            json!({"op": "replace", "value": {"active": true}}),
        )),
    );
    assert_eq!(r.json()["active"], true);
    assert_revoked(&mut f, "back", &uid, "deactivated", "back");
    // A new session can be registered after reactivation; a second deactivation revokes only it.
    session(&mut f, "fresh", &uid, "web");
    f.call(
        "PUT",
        &path,
        Some(json!({"userName": "back", "active": false})),
    );
    let revoked = events_of(&f, "user.sessions_revoked");
    assert_eq!(revoked.len(), 2);
    assert_eq!(
        revoked[1]["data"]["sessions"],
        json!([{"sid": "fresh", "client_id": "web"}])
    );
    assert_eq!(revoked[1]["data"]["refresh_tokens"], json!([]));
}

#[test]
fn deactivation_and_deletion_always_record_the_event_even_with_nothing_to_revoke() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "quiet@example.com");
    let path = format!("/Users/{uid}");
    f.call(
        "PATCH",
        &path,
        Some(patch_op(
            json!({"op": "replace", "path": "active", "value": false}),
        )),
    );
    f.call("DELETE", &path, None);
    let revoked = events_of(&f, "user.sessions_revoked");
    assert_eq!(revoked.len(), 2);
    assert_eq!(
        revoked[0]["data"],
        json!({"user_id": uid, "subject": "quiet@example.com", "reason": "deactivated", "sessions": [], "refresh_tokens": []})
    );
    assert_eq!(revoked[1]["data"]["reason"], "deleted");
    // Updates that keep the user active revoke nothing and record no such event.
    let other = user_with_session(&mut f, "busy");
    f.call(
        "PATCH",
        &format!("/Users/{other}"),
        Some(patch_op(
            json!({"op": "replace", "path": "displayName", "value": "Busy"}),
        )),
    );
    assert_eq!(events_of(&f, "user.sessions_revoked").len(), 2);
    assert_eq!(
        introspect(&mut f, json!({"sid": "sid-busy"}))["active"],
        true
    );
}

#[test]
fn a_failed_scim_write_revokes_nothing() {
    let mut f = Fixture::new();
    let uid = user_with_session(&mut f, "safe");
    let path = format!("/Users/{uid}");
    // Deactivation and a bad operation in one PATCH: the whole PATCH fails.
    let r = f.call(
        "PATCH",
        &path,
        Some(json!({"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "id", "value": "x"}
        ]})),
    );
    assert_eq!(r.status, 400);
    // A deactivating PUT with a stale version.
    let r = f.call_with(
        "PUT",
        &path,
        Some(json!({"userName": "safe", "active": false})),
        &[("if-match", "W/\"99\"")],
    );
    assert_eq!(r.status, 412);
    // A Bulk delete with a stale version.
    let r = f.call(
        "POST",
        "/Bulk",
        Some(json!({"schemas": [BULK], "Operations": [
            {"method": "DELETE", "path": path, "version": "W/\"99\""}
        ]})),
    );
    assert_eq!(r.json()["Operations"][0]["status"], "412");
    for body in [
        json!({"sid": "sid-safe"}),
        json!({"refresh_token": "rt-safe"}),
        json!({"refresh_token": "offline-safe"}),
    ] {
        assert_eq!(introspect(&mut f, body)["active"], true);
    }
    assert!(events_of(&f, "user.sessions_revoked").is_empty());
    let revoked = f
        .store
        .query(
            "SELECT count(*) FROM session WHERE revoked_at IS NOT NULL",
            &[],
        )
        .unwrap();
    assert_eq!(revoked[0][0].as_i64(), Some(0));
}

/// The events the app's own session calls recorded, in order.
fn app_events(f: &Fixture) -> Vec<Value> {
    f.events()
        .into_iter()
        .filter(|e| e["actor"] == "app")
        .collect()
}

#[test]
fn the_apps_session_calls_are_events_with_the_app_as_actor() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "ev@example.com");
    let r = app_as(
        &mut f,
        "req-1",
        "POST",
        "/sessions",
        Some(json!({"sid": "s-1", "user_id": uid, "client_id": "web", "expires_at": IN_AN_HOUR})),
    );
    assert_eq!(r.status, 201);
    let r = app_as(
        &mut f,
        "req-2",
        "POST",
        "/refresh-tokens",
        Some(
            json!({"refresh_token": "rt-bound", "user_id": uid, "client_id": "web", "sid": "s-1"}),
        ),
    );
    assert_eq!(r.status, 201);
    let bound = r.json()["id"].as_str().unwrap().to_owned();
    let r = app_as(
        &mut f,
        "req-3",
        "POST",
        "/refresh-tokens",
        Some(
            json!({"refresh_token": "rt-early", "user_id": uid, "client_id": "web", "sid": "s-1"}),
        ),
    );
    let early = r.json()["id"].as_str().unwrap().to_owned();
    let hash: String = Sha256::digest(b"rt-offline")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = app_as(
        &mut f,
        "req-4",
        "POST",
        "/refresh-tokens",
        Some(json!({"token_hash": hash, "user_id": uid, "client_id": "cli"})),
    );
    let offline = r.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/refresh-tokens/{early}");
    assert_eq!(app_as(&mut f, "req-5", "DELETE", &path, None).status, 204);
    assert_eq!(
        app_as(&mut f, "req-6", "DELETE", "/sessions/s-1", None).status,
        204
    );

    let events = app_events(&f);
    let seen: Vec<Value> = events
        .iter()
        .map(|e| json!([e["type"], e["actor"], e["request_id"]]))
        .collect();
    assert_eq!(
        seen,
        [
            json!(["session.created", "app", "req-1"]),
            json!(["refresh_token.created", "app", "req-2"]),
            json!(["refresh_token.created", "app", "req-3"]),
            json!(["refresh_token.created", "app", "req-4"]),
            json!(["refresh_token.revoked", "app", "req-5"]),
            json!(["session.ended", "app", "req-6"]),
        ]
    );
    let data: Vec<&Value> = events.iter().map(|e| &e["data"]).collect();
    assert_eq!(
        data,
        [
            &json!({"sid": "s-1", "user_id": uid, "client_id": "web", "expires_at": "2027-01-15T09:00:00.000Z"}),
            &json!({"id": bound, "user_id": uid, "client_id": "web", "sid": "s-1"}),
            &json!({"id": early, "user_id": uid, "client_id": "web", "sid": "s-1"}),
            &json!({"id": offline, "user_id": uid, "client_id": "cli", "sid": null}),
            &json!({"id": early, "user_id": uid, "client_id": "web", "sid": "s-1"}),
            // Only the token the logout revoked: the one revoked before is not listed again.
            &json!({"sid": "s-1", "user_id": uid, "client_id": "web", "refresh_tokens": [bound]}),
        ]
    );
    // Each event is in the outbox too, so it reaches webhooks.
    let outbox: Vec<Value> = outbox::pending(&f.store, Scope::Connection, 1000)
        .unwrap()
        .iter()
        .map(|p| serde_json::from_str(&p.message).unwrap())
        .filter(|e: &Value| e["actor"] == "app")
        .collect();
    assert_eq!(outbox, events);
    // No token and no hash, in either case of hex, anywhere in the log or the outbox.
    let log = serde_json::to_string(&f.events()).unwrap();
    let messages: Vec<String> = outbox::pending(&f.store, Scope::Connection, 1000)
        .unwrap()
        .into_iter()
        .map(|p| p.message)
        .collect();
    for token in ["rt-bound", "rt-early", "rt-offline"] {
        let hex: String = Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        for secret in [token.to_owned(), hex.clone(), hex.to_uppercase()] {
            assert!(!log.contains(&secret), "{secret} in the event log");
            assert!(
                !messages.iter().any(|m| m.contains(&secret)),
                "{secret} in the outbox"
            );
        }
    }
    // A session without expiry says so.
    let r = app(
        &mut f,
        "POST",
        "/sessions",
        Some(json!({"sid": "s-2", "user_id": uid, "client_id": "web"})),
    );
    assert_eq!(r.status, 201);
    let last = app_events(&f).pop().unwrap();
    assert_eq!(last["type"], "session.created");
    assert_eq!(last["data"]["expires_at"], Value::Null);
    assert_eq!(last["request_id"], Value::Null);
}

#[test]
fn failed_and_repeated_session_calls_record_no_event() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "live");
    let gone = user(&mut f, "gone");
    let other = user(&mut f, "other");
    session(&mut f, "s-1", &uid, "web");
    session(&mut f, "s-other", &other, "web");
    let token = refresh_token(&mut f, "rt-1", &uid, Some("s-1"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    session(&mut f, "s-revoked", &uid, "web");
    assert_eq!(
        app(&mut f, "DELETE", "/sessions/s-revoked", None).status,
        204
    );
    let deactivate = patch_op(json!({"op": "replace", "path": "active", "value": false}));
    assert_eq!(
        f.call("PATCH", &format!("/Users/{gone}"), Some(deactivate))
            .status,
        200
    );
    let before = f.events();

    let failing = [
        // Validation: a bad body, a bad id, an expiry in the past.
        (
            "POST",
            "/sessions".to_owned(),
            Some(json!({"sid": "x"})),
            400,
        ),
        (
            "POST",
            "/sessions".to_owned(),
            Some(json!({"sid": "a b", "user_id": uid, "client_id": "web"})),
            400,
        ),
        (
            "POST",
            "/sessions".to_owned(),
            Some(
                json!({"sid": "x", "user_id": uid, "client_id": "web", "expires_at": "2001-01-01T00:00:00Z"}),
            ),
            400,
        ),
        (
            "POST",
            "/refresh-tokens".to_owned(),
            Some(
                json!({"refresh_token": "t", "token_hash": "00", "user_id": uid, "client_id": "web"}),
            ),
            400,
        ),
        // Unknown or deactivated user.
        (
            "POST",
            "/sessions".to_owned(),
            Some(json!({"sid": "x", "user_id": "nobody", "client_id": "web"})),
            404,
        ),
        (
            "POST",
            "/sessions".to_owned(),
            Some(json!({"sid": "x", "user_id": gone, "client_id": "web"})),
            409,
        ),
        (
            "POST",
            "/refresh-tokens".to_owned(),
            Some(json!({"refresh_token": "t", "user_id": gone, "client_id": "web"})),
            409,
        ),
        // Conflicts: a known sid, a known token, another user's or a revoked session.
        (
            "POST",
            "/sessions".to_owned(),
            Some(json!({"sid": "s-1", "user_id": uid, "client_id": "web"})),
            409,
        ),
        (
            "POST",
            "/refresh-tokens".to_owned(),
            Some(json!({"refresh_token": "rt-1", "user_id": uid, "client_id": "web"})),
            409,
        ),
        (
            "POST",
            "/refresh-tokens".to_owned(),
            Some(
                json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "sid": "s-other"}),
            ),
            409,
        ),
        (
            "POST",
            "/refresh-tokens".to_owned(),
            Some(
                json!({"refresh_token": "t", "user_id": uid, "client_id": "web", "sid": "s-revoked"}),
            ),
            409,
        ),
        // Unknown ids.
        ("DELETE", "/sessions/never".to_owned(), None, 404),
        ("DELETE", "/refresh-tokens/rt_000".to_owned(), None, 404),
    ];
    for (method, path, body, status) in failing {
        let r = app(&mut f, method, &path, body.clone());
        assert_eq!(r.status, status, "{method} {path} {body:?}");
        assert_eq!(
            f.events(),
            before,
            "{method} {path} {body:?} recorded an event"
        );
    }

    // A second DELETE changes nothing and records nothing; so does logging out a session the
    // user's deactivation already ended.
    let path = format!("/refresh-tokens/{token}");
    assert_eq!(app(&mut f, "DELETE", &path, None).status, 204);
    assert_eq!(app(&mut f, "DELETE", "/sessions/s-1", None).status, 204);
    let after = f.events();
    let kinds: Vec<&Value> = after[before.len()..].iter().map(|e| &e["type"]).collect();
    assert_eq!(kinds, ["refresh_token.revoked", "session.ended"]);
    // The session's only token was revoked on its own first.
    assert_eq!(after[after.len() - 1]["data"]["refresh_tokens"], json!([]));
    for (method, path) in [
        ("DELETE", path.as_str()),
        ("DELETE", "/sessions/s-1"),
        ("DELETE", "/sessions/s-revoked"),
    ] {
        assert_eq!(app(&mut f, method, path, None).status, 204, "{path}");
        assert_eq!(f.events(), after, "{method} {path} again recorded an event");
    }
    session(&mut f, "s-gone", &other, "web");
    let deactivate = patch_op(json!({"op": "replace", "path": "active", "value": false}));
    f.call("PATCH", &format!("/Users/{other}"), Some(deactivate));
    let revoked = f.events();
    assert_eq!(revoked.last().unwrap()["type"], "user.sessions_revoked");
    assert_eq!(app(&mut f, "DELETE", "/sessions/s-gone", None).status, 204);
    assert_eq!(f.events(), revoked);
}

#[test]
fn unknown_app_routes_are_404() {
    let mut f = Fixture::new();
    assert_error(
        &app(&mut f, "PUT", "/sessions/s", None),
        404,
        "not_found",
        "No route",
    );
    assert_error(
        &app(&mut f, "GET", "/introspect", None),
        404,
        "not_found",
        "No route",
    );
}

#[test]
fn a_sid_with_reserved_characters_is_logged_out_by_its_percent_encoded_path() {
    let mut f = Fixture::new();
    let uid = user(&mut f, "a");
    session(&mut f, "a/b?c#d%e", &uid, "web");
    assert_eq!(
        introspect(&mut f, json!({"sid": "a/b?c#d%e"}))["active"],
        true
    );
    let r = app(&mut f, "DELETE", "/sessions/a%2Fb%3Fc%23d%25e", None);
    assert_eq!(r.status, 204);
    assert_eq!(introspect(&mut f, json!({"sid": "a/b?c#d%e"})), inactive());
    // A malformed escape is taken literally.
    session(&mut f, "100%zz", &uid, "web");
    assert_eq!(app(&mut f, "DELETE", "/sessions/100%zz", None).status, 204);
}
