//! Deprovisioning receipts (service::session::receipt) on the real SQLite store: written with the
//! deactivation or deletion in its transaction, told which back-channel logouts go out and how
//! each attempt went (as the queue consumer does, with the registry's real fan-out and
//! verdicts), completed with the time to revoke and `user.deprovisioned`, idempotent under
//! repeated reports, read through the admin routes, summarised as p50/p95, and signed as a JWS
//! that verifies with the published key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::EncodedPoint;
use serde_json::{json, Value};

use common::registry::Registry;
use common::{Fixture, NOW};
use scim_edge::api::admin::deprovisioning::{self, Answer};
use scim_edge::api::http::{HttpRequest, HttpResponse};
use scim_edge::api::{app, scim};
use scim_edge::scim::ScimError;
use scim_edge::service::clock::Timestamp;
use scim_edge::service::delivery::fanout::{FanoutAnswer, Rejected};
use scim_edge::service::delivery::logout_token::SigningKeys;
use scim_edge::service::delivery::message::{Attempt, Delivery, Envelope, QueueMessage};
use scim_edge::service::delivery::retry_policy::Decision;
use scim_edge::service::event::kind::SessionsRevoked;
use scim_edge::service::event::outbox::{self, Scope};
use scim_edge::service::session::receipt::jws::{self, Prepared, ReceiptSigner};
use scim_edge::service::session::receipt::report::{self, attempt_reports, expectations};
use scim_edge::service::session::receipt::{self, stats};
use scim_edge::service::store::{transact, Store};

const CONNECTION: &str = "con_00000000000000000001";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// RFC 7515 Appendix A.3.1: the ES256 example key.
const D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

fn at(ms: i64) -> Timestamp {
    Timestamp(NOW.0 + ms)
}

fn body(r: &HttpResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn app_call(f: &mut Fixture, method: &str, path: &str, body: Value) -> Value {
    let request = HttpRequest {
        method: method.into(),
        path: path.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        ..HttpRequest::default()
    };
    let r = app::handle(&f.store, &mut f.random, common::BASE, NOW, &request);
    assert_eq!(r.status, 201, "{}", self::body(&r));
    r.json()
}

/// A user with one session of `web` and one refresh token bound to it; returns the user id.
fn user_with_session(f: &mut Fixture, user_name: &str, sid: &str) -> String {
    let id = f.create(user_name)["id"].as_str().unwrap().to_owned();
    app_call(
        f,
        "POST",
        "/sessions",
        json!({"sid": sid, "user_id": id, "client_id": "web"}),
    );
    app_call(
        f,
        "POST",
        "/refresh-tokens",
        json!({"refresh_token": format!("secret-{sid}"), "user_id": id, "client_id": "web", "sid": sid}),
    );
    id
}

fn deactivate(f: &mut Fixture, id: &str) -> HttpResponse {
    f.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
}

fn receipt_count(f: &Fixture) -> i64 {
    f.store
        .query_one("SELECT count(*) FROM deprovisioning", &[])
        .unwrap()
        .unwrap()[0]
        .as_i64()
        .unwrap()
}

/// An admin read below `/deprovisionings`, without signing keys.
fn admin(f: &Fixture, now: Timestamp, path: &str) -> HttpResponse {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let request = HttpRequest {
        method: "GET".into(),
        path: path.into(),
        query: query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..HttpRequest::default()
    };
    let signer = ReceiptSigner {
        keys: None,
        issuer_base: "https://scim.example",
    };
    match deprovisioning::handle(&f.store, now, &request, signer) {
        Answer::Done(r) => r,
        Answer::Sign(_) => panic!("nothing to sign with"),
    }
}

fn receipt_of(f: &Fixture, id: &str) -> Value {
    let r = admin(f, NOW, &format!("/deprovisionings/{id}"));
    assert_eq!(r.status, 200, "{}", body(&r));
    r.json()
}

/// The only receipt of `user_id`.
fn receipt_for(f: &Fixture, user_id: &str) -> Value {
    let all = admin(f, NOW, "/deprovisionings?limit=200").json();
    let mine: Vec<&Value> = all["deprovisionings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["user_id"] == user_id)
        .collect();
    assert_eq!(mine.len(), 1, "{all}");
    receipt_of(f, mine[0]["id"].as_str().unwrap())
}

fn internal(f: &mut Fixture, now: Timestamp, path: &str, body: &Value) -> HttpResponse {
    let request = HttpRequest {
        method: "POST".into(),
        path: path.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        ..HttpRequest::default()
    };
    deprovisioning::internal(&f.store, &mut f.random, now, &request)
}

fn expect(f: &mut Fixture, now: Timestamp, body: Value) -> Value {
    let r = internal(f, now, "/deprovisionings/expected", &body);
    assert_eq!(r.status, 200, "{}", self::body(&r));
    r.json()
}

fn attempts(f: &mut Fixture, now: Timestamp, body: Value) -> Value {
    let r = internal(f, now, "/deprovisionings/attempts", &body);
    assert_eq!(r.status, 200, "{}", self::body(&r));
    r.json()
}

fn events_of(f: &Fixture, kind: &str) -> Vec<Value> {
    f.events()
        .into_iter()
        .filter(|e| e["type"] == kind)
        .collect()
}

/// The `user.sessions_revoked` events waiting in the connection's outbox, as the queue carries
/// them (then marked sent).
fn revoked_envelopes(f: &Fixture) -> Vec<Envelope> {
    let pending = outbox::pending(&f.store, Scope::Connection, 1000).unwrap();
    let keys: Vec<_> = pending.iter().map(|p| p.key).collect();
    outbox::mark_sent(&f.store, &keys).unwrap();
    pending
        .iter()
        .filter_map(|p| match QueueMessage::parse(&p.message).unwrap() {
            QueueMessage::Event(e) if e.event_type == "user.sessions_revoked" => Some(e),
            _ => None,
        })
        .collect()
}

/// The consumer's fan-out: the registry's real answer for the envelopes, and the expectations
/// reported to the connection at `now`. Returns the logout deliveries.
fn fan_out(f: &mut Fixture, r: &mut Registry, now: Timestamp) -> Vec<Delivery> {
    let slim: Vec<Envelope> = revoked_envelopes(f)
        .iter()
        .map(Envelope::for_routing)
        .collect();
    let answer: FanoutAnswer = serde_json::from_value(r.ok(
        "POST",
        "/internal/fanout",
        Some(json!({"events": slim})),
        200,
    ))
    .unwrap();
    for (connection, body) in expectations(&slim, &answer, now.0) {
        assert_eq!(connection, CONNECTION);
        expect(f, now, serde_json::to_value(body).unwrap());
    }
    answer
        .deliveries
        .into_iter()
        .filter(|d| matches!(d, Delivery::Logout { .. }))
        .collect()
}

/// The consumer's attempts: `(delivery, attempt, http status)` judged by the registry under
/// `policy`, then reported to the connection at `now`. Returns the decisions.
fn attempt(
    f: &mut Fixture,
    r: &mut Registry,
    now: Timestamp,
    policy: Value,
    tries: &[(&Delivery, u32, u16)],
) -> Vec<Decision> {
    let tried: Vec<Attempt> = tries
        .iter()
        .map(|(delivery, n, status)| Attempt {
            delivery: (*delivery).clone(),
            attempt: *n,
            ok: (200..300).contains(status),
            status: Some(i64::from(*status)),
            error: (!(200..300).contains(status)).then(|| format!("HTTP {status}")),
        })
        .collect();
    let decisions: Vec<Decision> = r
        .attempts(policy, serde_json::to_value(&tried).unwrap())
        .into_iter()
        .map(|d| serde_json::from_value(d).unwrap())
        .collect();
    for (connection, body) in attempt_reports(&tried, &decisions, now.0) {
        assert_eq!(connection, CONNECTION);
        attempts(f, now, serde_json::to_value(body).unwrap());
    }
    decisions
}

fn logout_to<'a>(logouts: &'a [Delivery], client: &str) -> &'a Delivery {
    logouts.iter().find(|d| d.target() == client).unwrap()
}

/// Clients `web` (its session is revoked: a `sid` logout) and `mobile` (no session, requires
/// none: a `sub`-only logout).
fn registry_with_clients() -> Registry {
    let mut r = Registry::new();
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl"}));
    r.client(json!({"client_id": "mobile", "backchannel_logout_uri": "https://m.example.com/bcl"}));
    r
}

#[test]
fn a_deactivation_writes_its_receipt_in_the_same_transaction() {
    let mut f = Fixture::new();
    let id = user_with_session(&mut f, "bjensen@example.com", "s-1");
    let r = deactivate(&mut f, &id);
    assert_eq!(r.status, 200, "{}", body(&r));
    let revoked = events_of(&f, "user.sessions_revoked");
    assert_eq!(revoked.len(), 1);
    let receipt = receipt_for(&f, &id);
    let token_id = receipt["revoked"]["refresh_tokens"][0]["id"].clone();
    assert!(receipt["id"].as_str().unwrap().starts_with("dpr_"));
    assert_eq!(receipt["id"].as_str().unwrap().len(), 4 + 24);
    assert_eq!(
        receipt,
        json!({
            "id": receipt["id"],
            "connection_id": CONNECTION,
            "event_id": revoked[0]["id"],
            "user_id": id,
            "subject": "bjensen@example.com",
            "reason": "deactivated",
            "status": "pending",
            "outcome": null,
            "started_at": "2027-01-15T08:00:00.000Z",
            "completed_at": null,
            "time_to_revoke_ms": null,
            "revoked": {
                "sessions": [{"sid": "s-1", "client_id": "web"}],
                "refresh_tokens": [{"id": token_id, "client_id": "web", "sid": "s-1"}],
            },
            "logouts": null,
            "counts": {"sessions": 1, "refresh_tokens": 1, "logouts": 0,
                       "logouts_delivered": 0, "logouts_dead_lettered": 0},
            "jws": null,
            "jws_unavailable_reason": receipt["jws_unavailable_reason"],
        })
    );
    assert!(receipt["jws_unavailable_reason"]
        .as_str()
        .unwrap()
        .contains("LOGOUT_SIGNING_KEYS"));
    assert!(token_id.as_str().unwrap().starts_with("rt_"));
    // Never the token or its hash.
    let text = receipt.to_string();
    assert!(!text.contains("secret-s-1"));
    let hash: String = {
        use sha2::{Digest, Sha256};
        Sha256::digest(b"secret-s-1")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(!text.contains(&hash));

    // A deletion gets one too, with its reason.
    let gone = user_with_session(&mut f, "gone@example.com", "s-2");
    assert_eq!(
        f.call("DELETE", &format!("/Users/{gone}"), None).status,
        204
    );
    assert_eq!(receipt_for(&f, &gone)["reason"], "deleted");
    assert_eq!(receipt_count(&f), 2);
}

#[test]
fn no_receipt_without_a_committed_deactivation() {
    let mut f = Fixture::new();
    let id = user_with_session(&mut f, "a@example.com", "s-1");
    // The deactivation in a transaction that rolls back: neither the change nor its receipt.
    let Fixture {
        store,
        random,
        token,
    } = &mut f;
    let request = HttpRequest {
        method: "PATCH".into(),
        path: format!("/Users/{id}"),
        headers: vec![
            ("authorization".into(), format!("Bearer {token}")),
            ("content-type".into(), "application/scim+json".into()),
        ],
        body: json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})
            .to_string()
            .into_bytes(),
        ..HttpRequest::default()
    };
    let rolled_back: Result<(), ScimError> = transact(&*store, || {
        let r = scim::handle(&*store, random, common::BASE, NOW, &request);
        assert_eq!(r.status, 200, "{}", body(&r));
        let count = store.query_one("SELECT count(*) FROM deprovisioning", &[]);
        assert_eq!(
            count.unwrap().unwrap()[0].as_i64(),
            Some(1),
            "written in the same transaction"
        );
        Err(ScimError::internal())
    });
    assert!(rolled_back.is_err());
    assert_eq!(receipt_count(&f), 0);
    assert!(events_of(&f, "user.sessions_revoked").is_empty());
    // A refused deactivation (stale version) writes none.
    let stale = f.call_with(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": false}]})),
        &[("if-match", "W/\"99\"")],
    );
    assert_eq!(stale.status, 412);
    assert_eq!(receipt_count(&f), 0);
    // Other changes write none; deactivating twice writes one.
    let rename = f.call(
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"schemas": [USER], "userName": "a2@example.com"})),
    );
    assert_eq!(rename.status, 200, "{}", body(&rename));
    assert_eq!(receipt_count(&f), 0);
    assert_eq!(deactivate(&mut f, &id).status, 200);
    assert_eq!(deactivate(&mut f, &id).status, 200);
    assert_eq!(receipt_count(&f), 1);
}

#[test]
fn without_logouts_the_receipt_completes_when_the_fanout_says_so() {
    let mut f = Fixture::new();
    let id = user_with_session(&mut f, "solo@example.com", "s-1");
    deactivate(&mut f, &id);
    // No client is registered: the fan-out makes no logout.
    let mut r = Registry::new();
    let logouts = fan_out(&mut f, &mut r, at(40));
    assert!(logouts.is_empty());
    let receipt = receipt_for(&f, &id);
    assert_eq!(receipt["status"], "completed");
    assert_eq!(receipt["outcome"], "no_logouts");
    assert_eq!(receipt["logouts"], json!([]));
    assert_eq!(receipt["completed_at"], "2027-01-15T08:00:00.040Z");
    assert_eq!(receipt["time_to_revoke_ms"], 40);
    let done = events_of(&f, "user.deprovisioned");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["actor"], "system");
    assert_eq!(
        done[0]["data"],
        json!({
            "receipt_id": receipt["id"],
            "user_id": id,
            "reason": "deactivated",
            "counts": {"sessions": 1, "refresh_tokens": 1, "logouts": 0,
                       "logouts_delivered": 0, "logouts_dead_lettered": 0},
            "outcome": "no_logouts",
            "time_to_revoke_ms": 40,
        })
    );
    // It goes out through the outbox like every event.
    let pending = outbox::pending(&f.store, Scope::Connection, 100).unwrap();
    assert!(pending
        .iter()
        .any(|p| p.message.contains("user.deprovisioned")));
}

#[test]
fn delivered_logouts_complete_the_receipt_with_each_status_and_time() {
    let mut f = Fixture::new();
    let mut r = registry_with_clients();
    let id = user_with_session(&mut f, "bjensen@example.com", "s-1");
    deactivate(&mut f, &id);
    let logouts = fan_out(&mut f, &mut r, at(5));
    assert_eq!(logouts.len(), 2);
    let receipt = receipt_for(&f, &id);
    assert_eq!(receipt["status"], "pending");
    assert_eq!(
        receipt["logouts"],
        json!([
            {"client_id": "web", "sid": "s-1", "sub": "bjensen@example.com", "outcome": "pending",
             "http_status": null, "error": null, "at": null, "attempts": []},
            {"client_id": "mobile", "sid": null, "sub": "bjensen@example.com", "outcome": "pending",
             "http_status": null, "error": null, "at": null, "attempts": []},
        ])
    );
    let (web, mobile) = (logout_to(&logouts, "web"), logout_to(&logouts, "mobile"));
    let policy = json!({"schedule": [1, 1, 1]});
    // web answers 200 at +120 ms; mobile 500 (retried) at +150 ms, then 204 at +1,230 ms.
    let d = attempt(&mut f, &mut r, at(120), policy.clone(), &[(web, 1, 200)]);
    assert_eq!(d, [Decision::Ack]);
    let d = attempt(&mut f, &mut r, at(150), policy.clone(), &[(mobile, 1, 500)]);
    assert_eq!(d, [Decision::Retry { delay_seconds: 1 }]);
    let receipt = receipt_for(&f, &id);
    assert_eq!(receipt["status"], "pending");
    assert_eq!(receipt["counts"]["logouts_delivered"], 1);
    assert!(events_of(&f, "user.deprovisioned").is_empty());
    attempt(&mut f, &mut r, at(1230), policy, &[(mobile, 2, 204)]);
    let receipt = receipt_for(&f, &id);
    assert_eq!(receipt["status"], "completed");
    assert_eq!(receipt["outcome"], "all_delivered");
    assert_eq!(receipt["completed_at"], "2027-01-15T08:00:01.230Z");
    assert_eq!(receipt["time_to_revoke_ms"], 1230);
    assert_eq!(
        receipt["logouts"],
        json!([
            {"client_id": "web", "sid": "s-1", "sub": "bjensen@example.com",
             "outcome": "delivered", "http_status": 200, "error": null,
             "at": "2027-01-15T08:00:00.120Z",
             "attempts": [{"attempt": 1, "ok": true, "http_status": 200, "error": null,
                           "at": "2027-01-15T08:00:00.120Z"}]},
            {"client_id": "mobile", "sid": null, "sub": "bjensen@example.com",
             "outcome": "delivered", "http_status": 204, "error": null,
             "at": "2027-01-15T08:00:01.230Z",
             "attempts": [
                {"attempt": 1, "ok": false, "http_status": 500, "error": "HTTP 500",
                 "at": "2027-01-15T08:00:00.150Z"},
                {"attempt": 2, "ok": true, "http_status": 204, "error": null,
                 "at": "2027-01-15T08:00:01.230Z"}]},
        ])
    );
    assert_eq!(
        receipt["counts"],
        json!({"sessions": 1, "refresh_tokens": 1, "logouts": 2,
               "logouts_delivered": 2, "logouts_dead_lettered": 0})
    );
    let done = events_of(&f, "user.deprovisioned");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["data"]["outcome"], "all_delivered");
    assert_eq!(done[0]["data"]["time_to_revoke_ms"], 1230);
    assert_eq!(done[0]["data"]["counts"]["logouts"], 2);
}

#[test]
fn repeated_and_late_reports_change_nothing() {
    let mut f = Fixture::new();
    let mut r = registry_with_clients();
    let id = user_with_session(&mut f, "dup@example.com", "s-1");
    deactivate(&mut f, &id);
    let event_id = events_of(&f, "user.sessions_revoked")[0]["id"].clone();
    let logout = |client: &str, sid: Value| json!({"client_id": client, "sid": sid, "sub": "dup@example.com"});
    let report = |client: &str, sid: Value, n: u32, status: i64, decision: Value| {
        json!({"event_id": event_id, "client_id": client, "sid": sid, "sub": "dup@example.com",
               "attempt": n, "ok": (200..300).contains(&status), "http_status": status,
               "error": if (200..300).contains(&status) { Value::Null } else { json!(format!("HTTP {status}")) },
               "decision": decision})
    };
    // An attempt reported before the fan-out's announcement (queues do not keep order).
    let early = json!({"at_ms": at(100).0, "attempts": [report("web", json!("s-1"), 1, 200, json!({"action": "ack"}))]});
    assert_eq!(
        attempts(&mut f, at(100), early.clone()),
        json!({"completed": []})
    );
    let receipt = receipt_for(&f, &id);
    assert_eq!(
        receipt["status"], "pending",
        "the logouts are not known yet"
    );
    assert_eq!(receipt["logouts"][0]["outcome"], "delivered");
    let announce = json!({"at_ms": at(10).0, "events": [{"event_id": event_id,
        "logouts": [logout("web", json!("s-1")), logout("mobile", Value::Null)]}]});
    expect(&mut f, at(110), announce.clone());
    expect(&mut f, at(120), announce.clone());
    let receipt = receipt_for(&f, &id);
    assert_eq!(receipt["counts"]["logouts"], 2, "{receipt}");
    assert_eq!(
        receipt["logouts"][0]["attempts"].as_array().unwrap().len(),
        1
    );
    // The same attempt twice counts once; a report for an unknown event is ignored.
    let failed = json!({"at_ms": at(200).0, "attempts": [
        report("mobile", Value::Null, 1, 503, json!({"action": "retry", "delay_seconds": 1})),
        report("mobile", Value::Null, 1, 503, json!({"action": "retry", "delay_seconds": 1})),
        {"event_id": "evt_unknown", "client_id": "mobile", "sid": null, "sub": "x", "attempt": 1,
         "ok": true, "http_status": 200, "decision": {"action": "ack"}},
    ]});
    attempts(&mut f, at(200), failed.clone());
    attempts(&mut f, at(210), failed);
    let receipt = receipt_for(&f, &id);
    assert_eq!(
        receipt["logouts"][1]["attempts"].as_array().unwrap().len(),
        1
    );
    assert_eq!(receipt["logouts"][1]["http_status"], 503);
    let last = json!({"at_ms": at(900).0, "attempts": [report("mobile", Value::Null, 2, 200, json!({"action": "ack"}))]});
    let answer = attempts(&mut f, at(900), last.clone());
    assert_eq!(answer["completed"], json!([receipt["id"]]));
    let completed = receipt_for(&f, &id);
    assert_eq!(completed["time_to_revoke_ms"], 900);
    // Late duplicates, a late failure and a new announcement change nothing.
    assert_eq!(attempts(&mut f, at(1000), last), json!({"completed": []}));
    attempts(&mut f, at(1100), early);
    attempts(
        &mut f,
        at(1200),
        json!({"at_ms": at(1200).0, "attempts": [report("web", json!("s-1"), 2, 500, json!({"action": "dead_letter"}))]}),
    );
    let more = json!({"at_ms": at(1300).0, "events": [{"event_id": event_id,
        "logouts": [logout("web", json!("s-1")), logout("new-client", Value::Null)]}]});
    assert_eq!(expect(&mut f, at(1300), more), json!({"completed": []}));
    assert_eq!(receipt_for(&f, &id), completed);
    assert_eq!(events_of(&f, "user.deprovisioned").len(), 1);
    // The registry's fan-out of the same event (again) announces its logouts: nothing changes.
    let again = fan_out(&mut f, &mut r, at(1400));
    assert_eq!(again.len(), 2);
    assert_eq!(receipt_for(&f, &id), completed);
    assert_eq!(events_of(&f, "user.deprovisioned").len(), 1);
}

#[test]
fn a_dead_letter_is_final() {
    let mut f = Fixture::new();
    let mut r = registry_with_clients();
    let id = user_with_session(&mut f, "dl@example.com", "s-1");
    deactivate(&mut f, &id);
    let logouts = fan_out(&mut f, &mut r, at(3));
    let (web, mobile) = (logout_to(&logouts, "web"), logout_to(&logouts, "mobile"));
    let policy = json!({"schedule": [1]});
    attempt(
        &mut f,
        &mut r,
        at(50),
        policy.clone(),
        &[(web, 1, 200), (mobile, 1, 500)],
    );
    let d = attempt(&mut f, &mut r, at(1100), policy, &[(mobile, 2, 502)]);
    assert_eq!(d, [Decision::DeadLetter]);
    let receipt = receipt_for(&f, &id);
    assert_eq!(receipt["status"], "completed");
    assert_eq!(receipt["outcome"], "some_failed");
    assert_eq!(receipt["time_to_revoke_ms"], 1100);
    assert_eq!(receipt["logouts"][1]["outcome"], "dead_lettered");
    assert_eq!(receipt["logouts"][1]["http_status"], 502);
    assert_eq!(receipt["logouts"][1]["error"], "HTTP 502");
    assert_eq!(receipt["counts"]["logouts_dead_lettered"], 1);
    assert_eq!(receipt["counts"]["logouts_delivered"], 1);
    let done = events_of(&f, "user.deprovisioned");
    assert_eq!(done[0]["data"]["outcome"], "some_failed");
    assert_eq!(done[0]["data"]["counts"]["logouts_dead_lettered"], 1);
}

/// A receipt written and completed directly through the service, `ms` after it started.
fn completed_receipt(f: &mut Fixture, n: usize, ms: i64) -> String {
    let event_id = format!("evt_{n:024}");
    let revoked = SessionsRevoked {
        user_id: format!("u{n}"),
        subject: format!("u{n}"),
        reason: "deleted",
        sessions: Vec::new(),
        refresh_tokens: Vec::new(),
    };
    let id = receipt::record(&f.store, &mut f.random, NOW, &event_id, &revoked).unwrap();
    let body = report::ExpectRequest {
        at_ms: NOW.0 + ms,
        events: vec![report::ExpectedEvent {
            event_id,
            logouts: Vec::new(),
        }],
    };
    let done = report::expect(&f.store, &mut f.random, at(ms), body).unwrap();
    assert_eq!(done.completed, std::slice::from_ref(&id));
    id
}

#[test]
fn stats_are_p50_and_p95_of_the_last_thousand_completed() {
    let mut f = Fixture::new();
    let empty = admin(&f, NOW, "/deprovisionings/stats");
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.json(),
        json!({"count": 0, "p50_ms": null, "p95_ms": null, "window": 1000})
    );
    // Twenty completed in 10, 20, … 200 ms (shuffled), and one still pending.
    for (n, ms) in [
        70, 10, 200, 30, 150, 40, 120, 80, 20, 60, 90, 110, 50, 130, 100, 140, 170, 160, 190, 180,
    ]
    .into_iter()
    .enumerate()
    {
        completed_receipt(&mut f, n, ms);
    }
    let id = user_with_session(&mut f, "pending@example.com", "s-1");
    deactivate(&mut f, &id);
    // Nearest rank: p50 is the 10th of 20 (100 ms), p95 the 19th (190 ms).
    assert_eq!(
        admin(&f, NOW, "/deprovisionings/stats").json(),
        json!({"count": 20, "p50_ms": 100, "p95_ms": 190, "window": 1000})
    );
    assert_eq!(
        stats::stats(&f.store).unwrap(),
        admin(&f, NOW, "/deprovisionings/stats").json()
    );
}

#[test]
fn stats_cover_only_the_last_thousand() {
    let mut f = Fixture::new();
    // 100 slow ones (10 s) first, then 1,000 fast ones (1 to 1,000 ms): the slow ones fall out.
    for n in 0..100 {
        completed_receipt(&mut f, n, 10_000);
    }
    for n in 0..1000 {
        let ms = i64::try_from(n).unwrap() + 1;
        completed_receipt(&mut f, 100 + n, 10_000 + ms);
    }
    // Completed at 10,001 … 11,000 ms after NOW: the last thousand by completion time.
    let s = admin(&f, NOW, "/deprovisionings/stats").json();
    assert_eq!(
        s,
        json!({"count": 1000, "p50_ms": 10_500, "p95_ms": 10_950, "window": 1000})
    );
}

#[test]
fn receipts_page_newest_first_and_unknown_ones_are_404() {
    let mut f = Fixture::new();
    let ids: Vec<String> = (0..5).map(|n| completed_receipt(&mut f, n, 10)).collect();
    let page = admin(&f, NOW, "/deprovisionings?limit=2").json();
    let listed = |page: &Value| -> Vec<String> {
        page["deprovisionings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&page), [ids[4].clone(), ids[3].clone()]);
    assert_eq!(page["next_after"], ids[3].as_str());
    assert!(
        page["deprovisionings"][0].get("jws").is_none(),
        "lists carry no JWS"
    );
    let page = admin(
        &f,
        NOW,
        &format!("/deprovisionings?limit=2&after={}", ids[3]),
    )
    .json();
    assert_eq!(listed(&page), [ids[2].clone(), ids[1].clone()]);
    let page = admin(&f, NOW, &format!("/deprovisionings?after={}", ids[1])).json();
    assert_eq!(listed(&page), [ids[0].clone()]);
    assert_eq!(page["next_after"], Value::Null);
    // Errors in the admin shape: stable code and a message.
    for (path, status, code, says) in [
        ("/deprovisionings?limit=0", 400, "invalid_request", "limit"),
        (
            "/deprovisionings?limit=201",
            400,
            "invalid_request",
            "limit",
        ),
        (
            "/deprovisionings?after=dpr_nope",
            400,
            "invalid_request",
            "dpr_nope",
        ),
        (
            "/deprovisionings/dpr_000000000000000000000000",
            404,
            "not_found",
            "dpr_000000000000000000000000",
        ),
        ("/deprovisionings/a/b", 404, "not_found", "No admin route"),
    ] {
        let r = admin(&f, NOW, path);
        assert_eq!(r.status, status, "{path}: {}", body(&r));
        let e = r.json();
        assert_eq!(e["error"], code, "{path}");
        assert!(e["message"].as_str().unwrap().contains(says), "{path}: {e}");
        assert_eq!(e.as_object().unwrap().len(), 2);
    }
    // Another connection's object has none of these receipts.
    let other = Fixture::new();
    assert_eq!(
        admin(&other, NOW, &format!("/deprovisionings/{}", ids[0])).status,
        404
    );
}

#[test]
fn internal_reports_are_validated() {
    let mut f = Fixture::new();
    for (path, body, status, says) in [
        (
            "/deprovisionings/expected",
            json!({"events": []}),
            400,
            "at_ms",
        ),
        (
            "/deprovisionings/attempts",
            json!({"at_ms": 1, "attempts": [{"event_id": "e"}]}),
            400,
            "client_id",
        ),
        ("/deprovisionings/nope", json!({}), 404, "No internal route"),
    ] {
        let r = internal(&mut f, NOW, path, &body);
        assert_eq!(r.status, status, "{path}: {}", self::body(&r));
        assert!(
            r.json()["message"].as_str().unwrap().contains(says),
            "{}",
            self::body(&r)
        );
    }
}

#[test]
fn the_consumer_reports_only_logouts_per_connection() {
    let envelope = |id: &str, kind: &str, connection: Option<&str>| -> Envelope {
        serde_json::from_value(json!({
            "id": id, "type": kind, "connection_id": connection,
            "occurred_at": "2027-01-15T08:00:00.000Z", "sequence": 1, "actor": "a",
            "request_id": null, "data": {"subject": "u"},
        }))
        .unwrap()
    };
    let events = vec![
        envelope("evt_a", "user.sessions_revoked", Some("con_a")),
        envelope("evt_b", "user.sessions_revoked", Some("con_b")),
        envelope("evt_c", "user.created", Some("con_a")),
        envelope("evt_d", "user.sessions_revoked", Some("con_a")),
        envelope("evt_e", "user.sessions_revoked", Some("con_a")),
    ];
    let logout =
        |event: &str, connection: &str, client: &str, sid: Option<&str>| Delivery::Logout {
            target: client.into(),
            event: json!({"id": event, "connection_id": connection}),
            sub: Some("u".into()),
            sid: sid.map(str::to_owned),
        };
    let webhook = Delivery::Webhook {
        target: "wh_1".into(),
        event: json!({"id": "evt_a", "connection_id": "con_a"}),
    };
    let answer = FanoutAnswer {
        version: 1,
        deliveries: vec![
            logout("evt_a", "con_a", "web", Some("s1")),
            webhook.clone(),
            logout("evt_a", "con_a", "mobile", None),
            logout("evt_b", "con_b", "web", Some("s2")),
        ],
        rejected: vec![Rejected {
            index: 4,
            error: "bad".into(),
        }],
    };
    let expected = expectations(&events, &answer, 7);
    assert_eq!(
        serde_json::to_value(&expected).unwrap(),
        json!({
            "con_a": {"at_ms": 7, "events": [
                {"event_id": "evt_a", "logouts": [
                    {"client_id": "web", "sid": "s1", "sub": "u"},
                    {"client_id": "mobile", "sid": null, "sub": "u"}]},
                // No logout for it: the receipt completes.
                {"event_id": "evt_d", "logouts": []}]},
            "con_b": {"at_ms": 7, "events": [
                {"event_id": "evt_b", "logouts": [{"client_id": "web", "sid": "s2", "sub": "u"}]}]},
        })
    );
    let attempt = |delivery: Delivery, ok: bool, error: Option<String>| Attempt {
        delivery,
        attempt: 3,
        ok,
        status: Some(if ok { 200 } else { 500 }),
        error,
    };
    let long = "x".repeat(600);
    let tried = vec![
        attempt(logout("evt_a", "con_a", "web", Some("s1")), true, None),
        attempt(webhook, true, None),
        attempt(
            logout("evt_b", "con_b", "web", Some("s2")),
            false,
            Some(long),
        ),
        // Not judged (the registry call failed): it will be attempted again, not reported.
        attempt(logout("evt_a", "con_a", "mobile", None), false, None),
    ];
    let decisions = [Decision::Ack, Decision::Ack, Decision::DeadLetter];
    let reports = attempt_reports(&tried, &decisions, 9);
    let reports = serde_json::to_value(&reports).unwrap();
    assert_eq!(
        reports["con_a"],
        json!({"at_ms": 9, "attempts": [{"event_id": "evt_a", "client_id": "web", "sid": "s1",
            "sub": "u", "attempt": 3, "ok": true, "http_status": 200, "error": null,
            "decision": {"action": "ack"}}]})
    );
    assert_eq!(
        reports["con_b"]["attempts"][0]["decision"],
        json!({"action": "dead_letter"})
    );
    assert_eq!(
        reports["con_b"]["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .len(),
        500
    );
    assert_eq!(reports.as_object().unwrap().len(), 2);
}

fn keys() -> SigningKeys {
    SigningKeys::parse(
        &json!([{"kty": "EC", "crv": "P-256", "kid": "k-1", "d": D, "x": X, "y": Y}]).to_string(),
    )
    .unwrap()
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn a_receipt_is_signed_as_a_jws_that_verifies_with_the_published_key() {
    let mut f = Fixture::new();
    let id = user_with_session(&mut f, "jws@example.com", "s-1");
    deactivate(&mut f, &id);
    let receipt_id = receipt_for(&f, &id)["id"].as_str().unwrap().to_owned();
    let keys = keys();
    let signer = ReceiptSigner {
        keys: Some(&keys),
        issuer_base: "https://scim.example/",
    };
    let request = HttpRequest {
        method: "GET".into(),
        path: format!("/deprovisionings/{receipt_id}"),
        ..HttpRequest::default()
    };
    let Answer::Sign(unsigned) = deprovisioning::handle(&f.store, at(2500), &request, signer)
    else {
        panic!("a receipt is signed when keys are configured");
    };
    // The claims: the receipt plus iss (the connection's issuer, as its logout tokens) and iat.
    let receipt = receipt::get(&f.store, &receipt_id)
        .unwrap()
        .to_json(Some(CONNECTION));
    let parts: Vec<&str> = unsigned.signing_input.split('.').collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        decode(parts[0]),
        json!({"alg": "ES256", "typ": "deprovisioning-receipt+jwt", "kid": "k-1"})
    );
    let mut expected = receipt.clone();
    expected["iss"] = json!("https://scim.example/connections/con_00000000000000000001");
    expected["iat"] = json!(1_800_000_002);
    assert_eq!(decode(parts[1]), expected);
    assert_eq!(
        decode(parts[1]),
        jws::claims(
            &receipt,
            "https://scim.example/connections/con_00000000000000000001",
            1_800_000_002
        )
    );
    assert!(
        unsigned.jwk["d"].is_string(),
        "the private JWK for Web Crypto"
    );
    // What the edge does with Web Crypto, done with the p256 crate.
    let signature: Signature = SigningKey::from_slice(&URL_SAFE_NO_PAD.decode(D).unwrap())
        .unwrap()
        .sign(unsigned.signing_input.as_bytes());
    let input = unsigned.signing_input.clone();
    let r = deprovisioning::finish(unsigned, Ok(signature.to_bytes().to_vec()));
    assert_eq!(r.status, 200);
    let served = r.json();
    let token = served["jws"].as_str().unwrap();
    assert_eq!(served["jws_unavailable_reason"], Value::Null);
    let mut bare = served.clone();
    bare.as_object_mut().unwrap().remove("jws");
    bare.as_object_mut()
        .unwrap()
        .remove("jws_unavailable_reason");
    assert_eq!(bare, receipt);
    // A verifier with only the public key (the JWKS) accepts it, and not a tampered one.
    let jwks = keys.jwks();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], "k-1");
    let (x, y) = (
        URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap(),
        URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap(),
    );
    let point =
        EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
    let verifier = VerifyingKey::from_encoded_point(&point).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(format!("{}.{}", parts[0], parts[1]), input);
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    verifier.verify(input.as_bytes(), &sig).unwrap();
    let tampered = input.replacen('.', ".e", 1);
    assert!(verifier.verify(tampered.as_bytes(), &sig).is_err());

    // Without keys, or when signing fails: no JWS, and why.
    let none = ReceiptSigner {
        keys: None,
        issuer_base: "https://scim.example",
    };
    match jws::prepare(receipt.clone(), CONNECTION, none, 1) {
        Prepared::Ready(body) => {
            assert_eq!(body["jws"], Value::Null);
            assert!(body["jws_unavailable_reason"]
                .as_str()
                .unwrap()
                .contains("LOGOUT_SIGNING_KEYS"));
        }
        Prepared::Unsigned(_) => panic!("no keys"),
    }
    let Prepared::Unsigned(unsigned) = jws::prepare(receipt, CONNECTION, signer, 1) else {
        panic!("keys");
    };
    let failed = unsigned.finish(Err("crypto.subtle.sign failed".into()));
    assert_eq!(failed["jws"], Value::Null);
    assert_eq!(
        failed["jws_unavailable_reason"],
        "the receipt could not be signed: crypto.subtle.sign failed"
    );
}
