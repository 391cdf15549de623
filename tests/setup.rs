//! Host tests of self-service setup links (`service::setup`) on an embedded SQLite running the
//! same SQL as the Durable Object: creation, the page and its details, single use, expiry,
//! storage, and the secret kept out of every URL (hardening 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

mod common;

use common::{Counter, Fixture, BASE, NOW};
use scim_edge::api::http::{HttpRequest, HttpResponse};
use scim_edge::api::setup;
use scim_edge::service::clock::Timestamp;
use scim_edge::service::connection;
use scim_edge::service::connection::token;
use scim_edge::service::sqlite::SqliteStore;
use scim_edge::service::store::{SqlValue, Store};

const ORIGIN: &str = "https://scim.example";
const CONNECTION_ID: &str = "con_00000000000000000001";
const INVALID: &str = "This setup link is invalid or has expired";

fn admin_on(
    store: &dyn Store,
    random: &mut Counter,
    method: &str,
    path: &str,
    body: Value,
) -> HttpResponse {
    let request = HttpRequest {
        method: method.into(),
        path: path.into(),
        headers: vec![(scim_edge::api::http::ORIGIN_HEADER.into(), ORIGIN.into())],
        body: body.to_string().into_bytes(),
        ..HttpRequest::default()
    };
    scim_edge::api::admin::connection::handle(store, random, NOW, &request)
}

fn admin(f: &mut Fixture, method: &str, path: &str, body: Value) -> HttpResponse {
    admin_on(&f.store, &mut f.random, method, path, body)
}

/// Creates a link; returns its secret (its URL's fragment).
fn create_link(f: &mut Fixture, body: Value) -> String {
    let r = admin(f, "POST", "/setup-links", body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let prefix = format!("{ORIGIN}/setup/{CONNECTION_ID}#");
    assert!(url.starts_with(&prefix), "{url}");
    url[prefix.len()..].to_owned()
}

fn setup_on(
    store: &dyn Store,
    random: &mut Counter,
    now: Timestamp,
    method: &str,
    path: &str,
    body: &str,
) -> HttpResponse {
    let request = HttpRequest {
        method: method.into(),
        path: path.into(),
        body: body.as_bytes().to_vec(),
        ..HttpRequest::default()
    };
    setup::handle(store, random, now, BASE, &request)
}

fn secret_body(secret: &str) -> String {
    json!({ "secret": secret }).to_string()
}

/// `POST /details {"secret"}` at `now`.
fn details_at(f: &mut Fixture, now: Timestamp, secret: &str) -> HttpResponse {
    let body = secret_body(secret);
    setup_on(&f.store, &mut f.random, now, "POST", "/details", &body)
}

fn details(f: &mut Fixture, secret: &str) -> HttpResponse {
    details_at(f, NOW, secret)
}

/// `POST /token {"secret"}`.
fn redeem(f: &mut Fixture, secret: &str) -> HttpResponse {
    let body = secret_body(secret);
    setup_on(&f.store, &mut f.random, NOW, "POST", "/token", &body)
}

/// The static page (`GET /`).
fn page(f: &mut Fixture) -> HttpResponse {
    setup_on(&f.store, &mut f.random, NOW, "GET", "/", "")
}

/// The dead link's answer to a POST: 404 `not_found` with the invalid-link message.
fn assert_dead(r: &HttpResponse) {
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"], "not_found");
    assert!(r.json()["message"].as_str().unwrap().contains(INVALID));
    assert_secured(r);
}

fn html(r: &HttpResponse) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn assert_invalid_page(r: &HttpResponse) {
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(html(r).contains(INVALID), "{}", html(r));
    assert_secured(r);
}

fn assert_secured(r: &HttpResponse) {
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

fn live_tokens(f: &Fixture) -> i64 {
    token::live_count(&f.store, NOW).unwrap()
}

fn set_idp(f: &mut Fixture, idp: &str) {
    let r = admin(f, "PATCH", "/connection", json!({"settings": {"idp": idp}}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn creating_a_link_returns_its_url_and_expiry_seven_days_out_by_default() {
    let mut f = Fixture::new();
    let r = admin(&mut f, "POST", "/setup-links", json!({}));
    assert_eq!(r.status, 201);
    let body = r.json();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["expires_at", "url"]);
    assert_eq!(
        body["expires_at"],
        NOW.plus_seconds(7 * 24 * 3600).to_rfc3339()
    );
    let (path, secret) = body["url"].as_str().unwrap().split_once('#').unwrap();
    assert_eq!(path, format!("{ORIGIN}/setup/{CONNECTION_ID}"));
    assert_eq!(secret.len(), 43);
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    let short = admin(&mut f, "POST", "/setup-links", json!({"expires_in": 300}));
    assert_eq!(
        short.json()["expires_at"],
        NOW.plus_seconds(300).to_rfc3339()
    );
    // An empty body is {}.
    let request = HttpRequest {
        method: "POST".into(),
        path: "/setup-links".into(),
        ..HttpRequest::default()
    };
    assert_eq!(
        scim_edge::api::admin::connection::handle(&f.store, &mut f.random, NOW, &request).status,
        201
    );
}

#[test]
fn link_lifetimes_outside_5_minutes_to_30_days_and_unknown_fields_are_400() {
    let mut f = Fixture::new();
    for body in [
        json!({"expires_in": 299}),
        json!({"expires_in": 30 * 24 * 3600 + 1}),
        json!({"expires_in": -1}),
        json!({"expires_in": "soon"}),
        json!({"lifetime": 600}),
        json!([]),
    ] {
        let r = admin(&mut f, "POST", "/setup-links", body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"], "invalid_request");
    }
    for seconds in [300, 30 * 24 * 3600] {
        let r = admin(
            &mut f,
            "POST",
            "/setup-links",
            json!({"expires_in": seconds}),
        );
        assert_eq!(r.status, 201, "{seconds}");
    }
}

#[test]
fn the_page_is_static_with_a_strict_policy_and_the_details_come_by_post() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({}));
    let r = page(&mut f);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_secured(&r);
    let policy = r.header("content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"));
    assert!(policy.contains("frame-ancestors 'none'"));
    assert!(
        !policy.contains("unsafe-inline"),
        "script and style are pinned by hash"
    );
    let html = html(&r);
    assert!(html.contains("Generate token"));
    // Nothing of the connection or the link: the same bytes as where there is no link at all.
    for private in ["Acme", BASE, CONNECTION_ID, secret.as_str()] {
        assert!(!html.contains(private), "{private}");
    }
    let nowhere = HttpRequest {
        method: "GET".into(),
        path: "/".into(),
        ..HttpRequest::default()
    };
    assert_eq!(r.body, setup::without_link(&nowhere).body);

    let d = details(&mut f, &secret);
    assert_eq!(d.status, 200, "{}", html_of(&d));
    assert_secured(&d);
    assert_eq!(
        d.json(),
        json!({
            "connection_name": "Acme",
            "scim_base_url": BASE,
            "idp": "generic",
            "expires_at": NOW.plus_seconds(7 * 24 * 3600).to_rfc3339(),
        })
    );
    assert!(!html_of(&d).contains(&secret), "the secret is never echoed");
    // Reading the details does not use the link up.
    assert_eq!(details(&mut f, &secret).status, 200);
    assert_eq!(redeem(&mut f, &secret).status, 200);
}

fn html_of(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

#[test]
fn the_details_carry_the_connections_idp() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({}));
    for idp in ["okta", "entra", "onelogin", "jumpcloud", "generic"] {
        set_idp(&mut f, idp);
        assert_eq!(details(&mut f, &secret).json()["idp"], idp);
    }
}

#[test]
fn the_link_issues_exactly_one_working_token_then_is_dead() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({}));
    assert_eq!(live_tokens(&f), 1);
    let before = token::list(&f.store).unwrap();

    let r = redeem(&mut f, &secret);
    assert_eq!(r.status, 200, "{}", html(&r));
    assert_secured(&r);
    let body = r.json();
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["scim_base_url", "token"]);
    assert_eq!(body["scim_base_url"], BASE);
    let issued = body["token"].as_str().unwrap().to_owned();
    assert!(issued.starts_with("scim_"));
    assert_eq!(live_tokens(&f), 2);

    // All scopes, no expiry, and it works.
    let listed = token::list(&f.store).unwrap();
    let newest = listed.iter().find(|t| !before.contains(t)).unwrap();
    assert_eq!(newest.scopes, token::SCOPES);
    assert_eq!(newest.expires_at, None);
    f.token = issued;
    assert_eq!(f.call("GET", "/Users", None).status, 200);

    // The link now records the token it issued.
    let row = f
        .store
        .query_one("SELECT used_at, token_id FROM setup_link", &[])
        .unwrap()
        .unwrap();
    assert_eq!(row[0].as_str(), Some(NOW.to_rfc3339().as_str()));
    assert_eq!(row[1].as_str(), Some(newest.id.as_str()));

    // Second use: 404 JSON, nothing issued; the page is the invalid page.
    let again = redeem(&mut f, &secret);
    assert_eq!(again.status, 404);
    assert_eq!(again.json()["error"], "not_found");
    assert!(again.json()["message"].as_str().unwrap().contains(INVALID));
    assert_eq!(live_tokens(&f), 2);
    assert_dead(&details(&mut f, &secret));
}

#[test]
fn expired_links_are_dead_and_issue_nothing() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({"expires_in": 600}));
    let just_before = Timestamp(NOW.0 + 600_000 - 1);
    let at_expiry = Timestamp(NOW.0 + 600_000);
    assert_eq!(details_at(&mut f, just_before, &secret).status, 200);
    assert_dead(&details_at(&mut f, at_expiry, &secret));
    let body = secret_body(&secret);
    let r = setup_on(&f.store, &mut f.random, at_expiry, "POST", "/token", &body);
    assert_dead(&r);
    assert_eq!(live_tokens(&f), 1);
}

#[test]
fn unknown_wrong_and_malformed_secrets_get_the_same_answer_as_used_links() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({}));
    let other = create_link(&mut f, json!({}));
    assert_eq!(redeem(&mut f, &other).status, 200);
    let used = details(&mut f, &other);
    assert_dead(&used);

    let mut wrong = secret.clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    for candidate in [
        wrong.as_str(),
        &secret[..42],
        &format!("{secret}A"),
        "not-a-secret",
        "%3Cscript%3E",
        "",
    ] {
        let d = details(&mut f, candidate);
        assert_dead(&d);
        assert_eq!(d.body, used.body, "same answer for {candidate:?}");
        let t = redeem(&mut f, candidate);
        assert_eq!(t.body, redeem(&mut f, &other).body, "{candidate:?}");
    }
    // Other methods and paths are the invalid page (GET) or the dead link (POST).
    for (method, path) in [
        ("DELETE", "/"),
        ("GET", "/token"),
        ("GET", "/x/y"),
        ("PUT", "/details"),
    ] {
        assert_invalid_page(&setup_on(&f.store, &mut f.random, NOW, method, path, ""));
    }
    assert_dead(&setup_on(&f.store, &mut f.random, NOW, "POST", "/", ""));
    assert_dead(&setup_on(
        &f.store,
        &mut f.random,
        NOW,
        "POST",
        "/x/token",
        "",
    ));
    // A body that is not {"secret": "…"} is a 400 that says so.
    for body in [
        "",
        "{}",
        "nope",
        r#"{"secret": 1}"#,
        r#"{"secret": "s", "x": 1}"#,
    ] {
        let r = setup_on(&f.store, &mut f.random, NOW, "POST", "/token", body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"], "invalid_request");
    }
    assert_eq!(live_tokens(&f), 2, "only the one real use issued a token");
}

/// Hardening 5: the secret never travels in a URL. The link carries it in the fragment, and a
/// link with the secret in its path (as links were made before) is refused, even for a live
/// secret, without using the link up.
#[test]
fn hardening_5_the_secret_is_never_in_a_path() {
    let mut f = Fixture::new();
    let r = admin(&mut f, "POST", "/setup-links", json!({}));
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let (before_fragment, secret) = url.split_once('#').unwrap();
    assert!(!before_fragment.contains(secret));
    assert_eq!(before_fragment, format!("{ORIGIN}/setup/{CONNECTION_ID}"));

    let path_page = setup_on(
        &f.store,
        &mut f.random,
        NOW,
        "GET",
        &format!("/{secret}"),
        "",
    );
    assert_invalid_page(&path_page);
    assert!(!html(&path_page).contains(secret));
    let path_token = setup_on(
        &f.store,
        &mut f.random,
        NOW,
        "POST",
        &format!("/{secret}/token"),
        "",
    );
    assert_dead(&path_token);
    assert_eq!(live_tokens(&f), 1, "nothing issued");
    // The link itself still works, through the body.
    assert_eq!(redeem(&mut f, secret).status, 200);
}

#[test]
fn only_the_hash_of_the_secret_is_stored() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({}));
    let rows = f.store.query("SELECT * FROM setup_link", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    let dump = format!("{rows:?}");
    assert!(!dump.contains(&secret));
    let stored = rows[0][0].as_blob().unwrap();
    assert_eq!(stored, Sha256::digest(secret.as_bytes()).as_slice());
}

#[test]
fn a_second_redeem_cannot_issue_a_second_token() {
    let mut f = Fixture::new();
    let secret = create_link(&mut f, json!({}));
    let first = redeem(&mut f, &secret);
    let second = redeem(&mut f, &secret);
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 404);
    assert_eq!(live_tokens(&f), 2);
    assert_eq!(token::list(&f.store).unwrap().len(), 2);
}

/// Concurrent clicks from separate database connections on one file: the conditional claim lets
/// exactly one through. Losers see the used link (404) or, when SQLite refuses the write lock
/// outright, fail (500); none issues a token.
#[test]
fn concurrent_redeems_on_separate_connections_issue_one_token() {
    let path = std::env::temp_dir().join(format!(
        "scim-edge-setup-{}-{}.sqlite",
        std::process::id(),
        NOW.0
    ));
    let _ = std::fs::remove_file(&path);
    let secret = {
        let store = SqliteStore::open(&path).unwrap();
        connection::init(&store, CONNECTION_ID, "Acme", "2027-01-15T08:00:00.000Z").unwrap();
        let r = admin_on(&store, &mut Counter(5), "POST", "/setup-links", json!({}));
        let url = r.json()["url"].as_str().unwrap().to_owned();
        url.rsplit('#').next().unwrap().to_owned()
    };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            let path = path.clone();
            let secret = secret.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).unwrap();
                store.query("PRAGMA busy_timeout = 10000", &[]).unwrap();
                barrier.wait();
                let r = setup_on(
                    &store,
                    &mut Counter(100 + i),
                    NOW,
                    "POST",
                    "/token",
                    &secret_body(&secret),
                );
                r.status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 404, 500].contains(s)),
        "{statuses:?}"
    );
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(token::list(&store).unwrap().len(), 1);
    drop(store);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn with_two_live_tokens_the_link_answers_409_and_stays_usable() {
    let mut f = Fixture::new();
    let spare = token::issue(&f.store, &mut Counter(7), NOW, None, None).unwrap();
    assert_eq!(live_tokens(&f), 2);
    let secret = create_link(&mut f, json!({}));

    let r = redeem(&mut f, &secret);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"], "conflict");
    assert_eq!(live_tokens(&f), 2);
    let row = f
        .store
        .query_one("SELECT used_at, token_id FROM setup_link", &[])
        .unwrap()
        .unwrap();
    assert_eq!(row, vec![SqlValue::Null, SqlValue::Null], "not used up");
    assert_eq!(
        details(&mut f, &secret).status,
        200,
        "the link is still live"
    );

    token::revoke(&f.store, NOW, &spare.id).unwrap();
    let retried = redeem(&mut f, &secret);
    assert_eq!(retried.status, 200, "{}", html(&retried));
    assert_eq!(live_tokens(&f), 2);
    assert_eq!(redeem(&mut f, &secret).status, 404);
}

#[test]
fn the_connection_name_is_data_never_markup() {
    let mut f = Fixture::new();
    let name = "<script>alert(1)</script> & \"Co\" 'Ltd'";
    let r = admin(&mut f, "PATCH", "/connection", json!({ "name": name }));
    assert_eq!(r.status, 200);
    let secret = create_link(&mut f, json!({}));
    // The details are JSON; the page sets them as text. The page itself never holds the name.
    let d = details(&mut f, &secret);
    assert_eq!(d.header("content-type"), Some("application/json"));
    assert_eq!(d.json()["connection_name"], name);
    let page = html(&page(&mut f));
    assert!(!page.contains("alert(1)"));
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
}

#[test]
fn a_new_link_replaces_older_unused_ones_and_used_ones_stay_on_record() {
    let mut f = Fixture::new();
    let first = create_link(&mut f, json!({}));
    let second = create_link(&mut f, json!({}));
    assert_dead(&details(&mut f, &first));
    assert_eq!(redeem(&mut f, &first).status, 404);
    assert_eq!(redeem(&mut f, &second).status, 200);
    let third = create_link(&mut f, json!({}));
    assert_eq!(details(&mut f, &third).status, 200);
    let rows = f
        .store
        .query(
            "SELECT used_at IS NOT NULL FROM setup_link ORDER BY created_at",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2, "the used link and the live one");
}

#[test]
fn links_of_a_connection_that_is_not_set_up_are_refused() {
    let store = SqliteStore::in_memory().unwrap();
    scim_edge::service::migration::migrate_connection(&store).unwrap();
    let r = admin_on(&store, &mut Counter(1), "POST", "/setup-links", json!({}));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
}
