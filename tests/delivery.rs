//! The queue consumer's side of the registry: fan-out of connection events to webhook endpoints
//! and back-channel logouts, attempt verdicts, dead letters and their replay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::registry::{envelope, Registry};
use scim_edge::service::event::outbox::{self, Key, Scope};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn targets(deliveries: &[Value]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["kind"].as_str().unwrap(),
                d["target"].as_str().unwrap()
            )
        })
        .collect()
}

/// The queue messages (not events) waiting in the registry's outbox.
fn queued_messages(r: &Registry) -> Vec<Value> {
    outbox::pending(&r.store, Scope::Registry, 1000)
        .unwrap()
        .into_iter()
        .filter(|p| matches!(p.key, Key::Message(_)))
        .map(|p| serde_json::from_str(&p.message).unwrap())
        .collect()
}

/// Empties the registry's outbox, as a successful send does.
fn sent(r: &mut Registry) {
    let keys: Vec<Key> = outbox::pending(&r.store, Scope::Registry, 1000)
        .unwrap()
        .iter()
        .map(|p| p.key)
        .collect();
    outbox::mark_sent(&r.store, &keys).unwrap();
}

const FAST: &str = r#"{"schedule": [1, 2], "disable_after": 2}"#;

fn fast() -> Value {
    serde_json::from_str(FAST).unwrap()
}

#[test]
fn fanout_matches_types_and_connections_and_skips_disabled() {
    let mut r = Registry::new();
    let (a, b) = (r.connection("A"), r.connection("B"));
    let all = id(&r.webhook(json!({"url": "https://all.example.com/"})));
    let users = id(&r.webhook(json!({"url": "https://u.example.com/", "event_types": ["user.*"]})));
    let only_b = id(&r.webhook(
        json!({"url": "https://b.example.com/", "event_types": ["group.member.added"], "connection_ids": [b]}),
    ));
    let off = id(&r.webhook(json!({"url": "https://off.example.com/"})));
    r.ok(
        "PATCH",
        &format!("/webhooks/{off}"),
        Some(json!({"enabled": false})),
        200,
    );
    let created = envelope("evt_1", "user.created", &a, json!({}));
    let added_a = envelope("evt_2", "group.member.added", &a, json!({}));
    let added_b = envelope("evt_3", "group.member.added", &b, json!({}));
    let out = r.fanout(json!([created, added_a, added_b]));
    assert_eq!(
        targets(&out),
        [
            format!("webhook:{all}"),
            format!("webhook:{users}"),
            format!("webhook:{all}"),
            format!("webhook:{all}"),
            format!("webhook:{only_b}"),
        ]
    );
    // The envelope travels whole.
    assert_eq!(out[0]["event"], created);
    assert_eq!(out[0].as_object().unwrap().len(), 3);
    // A malformed envelope is rejected by index; the rest still fans out.
    let res = r.ok(
        "POST",
        "/internal/fanout",
        Some(json!({"events": [{"id": "evt_x"}, created]})),
        200,
    );
    assert_eq!(res["rejected"][0]["index"], 0);
    assert_eq!(res["deliveries"].as_array().unwrap().len(), 2);
    for bad in [
        json!({}),
        json!({"events": {}}),
        json!({"events": [], "x": 1}),
    ] {
        assert_eq!(
            r.call("POST", "/internal/fanout", Some(bad.clone())).status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn logout_fanout_sid_sub_and_session_required() {
    let mut r = Registry::new();
    let (a, b) = (r.connection("A"), r.connection("B"));
    let uri = "https://app.example.com/bcl";
    r.client(json!({"client_id": "web", "backchannel_logout_uri": uri}));
    r.client(json!({"client_id": "mobile", "backchannel_logout_uri": uri}));
    r.client(json!({"client_id": "strict", "backchannel_logout_uri": uri, "backchannel_logout_session_required": true}));
    r.client(
        json!({"client_id": "elsewhere", "backchannel_logout_uri": uri, "connection_ids": [b]}),
    );
    r.client(json!({"client_id": "off", "backchannel_logout_uri": uri}));
    r.ok(
        "PATCH",
        "/clients/off",
        Some(json!({"enabled": false})),
        200,
    );
    let revoked = envelope(
        "evt_9",
        "user.sessions_revoked",
        &a,
        json!({
            "user_id": "u1",
            "subject": "sub-1",
            "reason": "user.deactivated",
            "sessions": [
                {"sid": "s1", "client_id": "web"},
                {"sid": "s2", "client_id": "web"},
                {"sid": "s3", "client_id": "unregistered"},
                {"sid": "s4", "client_id": "elsewhere"},
                {"sid": "s1", "client_id": "web"},
            ],
            "refresh_tokens": [],
        }),
    );
    let out = r.fanout(json!([revoked]));
    let logouts: Vec<(String, Value, Value)> = out
        .iter()
        .filter(|d| d["kind"] == "logout")
        .map(|d| {
            assert_eq!(d["event"], revoked);
            (
                d["target"].as_str().unwrap().to_owned(),
                d["sub"].clone(),
                d["sid"].clone(),
            )
        })
        .collect();
    assert_eq!(
        logouts,
        [
            ("web".to_owned(), json!("sub-1"), json!("s1")),
            ("web".to_owned(), json!("sub-1"), json!("s2")),
            // mobile had no revoked session and does not require one: sub only.
            ("mobile".to_owned(), json!("sub-1"), Value::Null),
            // strict requires a sid and had no session: nothing. elsewhere: other connection;
            // off: disabled.
        ]
    );
    // A session of the strict client gets a sid logout.
    let with_strict = envelope(
        "evt_10",
        "user.sessions_revoked",
        &a,
        json!({"subject": "sub-1", "sessions": [{"sid": "s9", "client_id": "strict"}]}),
    );
    let out = r.fanout(json!([with_strict]));
    assert_eq!(
        targets(&out),
        ["logout:strict", "logout:web", "logout:mobile"]
    );
    assert_eq!(out[0]["sid"], "s9");
    assert_eq!(out[1]["sid"], Value::Null);
    // Other event types produce no logouts.
    let out = r.fanout(json!([envelope(
        "evt_11",
        "user.deactivated",
        &a,
        json!({})
    )]));
    assert!(out.is_empty());
}

#[test]
fn attempts_retry_by_schedule_then_dead_letter_and_success_resets() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let w = id(&r.webhook(json!({"url": "https://app.example.com/hook"})));
    let delivery = json!({"kind": "webhook", "target": w, "event": envelope("evt_1", "user.created", &a, json!({}))});
    let fail = |attempt: u32| json!({"delivery": delivery, "attempt": attempt, "ok": false, "status": 503, "error": "Service Unavailable"});
    // The default policy: 5 s, 30 s, … 28800 s, then a dead letter after the tenth attempt.
    let decisions = r.ok(
        "POST",
        "/internal/attempts",
        Some(json!({"attempts": [fail(1), fail(2), fail(9)]})),
        200,
    )["decisions"]
        .clone();
    assert_eq!(
        decisions,
        json!([
            {"action": "retry", "delay_seconds": 5},
            {"action": "retry", "delay_seconds": 30},
            {"action": "retry", "delay_seconds": 28800}
        ])
    );
    let health = r.ok("GET", &format!("/webhooks/{w}"), None, 200);
    assert_eq!(health["consecutive_failures"], 3);
    assert_eq!(health["last_error"], "HTTP 503: Service Unavailable");
    assert_eq!(health["last_failure_at"], "2027-01-15T08:00:00.000Z");
    let d = r.attempts(
        json!({"schedule": [1, 2, 4], "disable_after": 0}),
        json!([fail(3), fail(4)]),
    );
    assert_eq!(
        d,
        [
            json!({"action": "retry", "delay_seconds": 4}),
            json!({"action": "dead_letter"})
        ]
    );
    let letters = r.ok("GET", &format!("/webhooks/{w}/dead-letters"), None, 200);
    let letter = &letters["dead_letters"][0];
    assert!(letter["id"].as_str().unwrap().starts_with("dl_"));
    assert_eq!(letter["event_id"], "evt_1");
    assert_eq!(letter["event_type"], "user.created");
    assert_eq!(letter["connection_id"], a.as_str());
    assert_eq!(letter["attempts"], 4);
    assert_eq!(letter["last_status"], 503);
    assert_eq!(letter["last_error"], "HTTP 503: Service Unavailable");
    assert_eq!(letter["replayed_at"], Value::Null);
    r.now = r.now.plus_seconds(10);
    let ok = json!({"delivery": delivery, "attempt": 2, "ok": true, "status": 200});
    assert_eq!(r.attempts(fast(), json!([ok])), [json!({"action": "ack"})]);
    let health = r.ok("GET", &format!("/webhooks/{w}"), None, 200);
    assert_eq!(health["consecutive_failures"], 0);
    assert_eq!(health["last_success_at"], "2027-01-15T08:00:10.000Z");
    // Bad reports are a 400 naming the problem.
    for (body, says) in [
        (json!({"attempts": [fail(0)]}), "attempts[0].attempt"),
        (
            json!({"policy": {"schedule": [50000]}, "attempts": []}),
            "43200",
        ),
        (json!({"policy": {"retries": 1}, "attempts": []}), "retries"),
        (
            json!({"attempts": [{"delivery": {"kind": "email"}, "attempt": 1, "ok": true}]}),
            "email",
        ),
    ] {
        r.bad("POST", "/internal/attempts", body, says);
    }
}

#[test]
fn errors_are_truncated_and_never_carry_secrets() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let w = r.webhook(json!({"url": "https://app.example.com/hook"}));
    let (wid, secret) = (id(&w), w["secret"].as_str().unwrap().to_owned());
    let delivery = json!({"kind": "webhook", "target": wid, "event": envelope("evt_1", "user.created", &a, json!({}))});
    let error = format!("signature with {secret} rejected\n{}", "x".repeat(600));
    r.attempts(
        fast(),
        json!([{"delivery": delivery, "attempt": 1, "ok": false, "error": error}]),
    );
    let last = r.ok("GET", &format!("/webhooks/{wid}"), None, 200)["last_error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!last.contains(&secret), "{last}");
    assert!(
        last.starts_with("signature with [secret] rejected x"),
        "{last}"
    );
    assert_eq!(last.chars().count(), 500);
}

/// A log stream's credential is scrubbed from recorded errors like a signing secret, and the
/// delivery worker gets it with the format and batch size.
#[test]
fn a_log_stream_credential_reaches_the_worker_and_never_the_error_log() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let key = "dd0123456789abcdef0123456789abcd";
    let w = r.webhook(json!({"url": "https://http-intake.logs.datadoghq.example/api/v2/logs", "format": "datadog", "credential": key}));
    let wid = id(&w);
    let t = r.ok(
        "POST",
        "/internal/targets",
        Some(json!({"webhooks": [wid]})),
        200,
    );
    assert_eq!(t["webhooks"][&wid]["format"], "datadog");
    assert_eq!(t["webhooks"][&wid]["batch_size"], 100);
    assert_eq!(t["webhooks"][&wid]["credential"], key);
    let delivery = json!({"kind": "webhook", "target": wid, "event": envelope("evt_1", "user.created", &a, json!({}))});
    r.attempts(
        fast(),
        json!([{"delivery": delivery, "attempt": 1, "ok": false, "status": 403, "error": format!("HTTP 403: bad key {key}")}]),
    );
    let shown = r.ok("GET", &format!("/webhooks/{wid}"), None, 200);
    let last = shown["last_error"].as_str().unwrap();
    assert_eq!(last, "HTTP 403: bad key [secret]");
    assert!(!shown.to_string().contains(key));
    assert!(!r.ok("GET", "/events", None, 200).to_string().contains(key));
}

#[test]
fn deleted_or_disabled_targets_dead_letter_at_once() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let w = id(&r.webhook(json!({"url": "https://app.example.com/hook"})));
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl"}));
    let event = envelope(
        "evt_1",
        "user.sessions_revoked",
        &a,
        json!({"subject": "s"}),
    );
    let hook = json!({"kind": "webhook", "target": w, "event": event});
    let logout =
        json!({"kind": "logout", "target": "web", "event": event, "sub": "s", "sid": null});
    r.ok(
        "PATCH",
        &format!("/webhooks/{w}"),
        Some(json!({"enabled": false})),
        200,
    );
    r.ok(
        "PATCH",
        "/clients/web",
        Some(json!({"enabled": false})),
        200,
    );
    let gone = json!({"kind": "webhook", "target": "wh_000000000000000000000000", "event": event});
    let d = r.attempts(
        fast(),
        json!([
            {"delivery": hook, "attempt": 1, "ok": false, "error": "endpoint disabled"},
            {"delivery": logout, "attempt": 1, "ok": false, "error": "client disabled"},
            {"delivery": gone, "attempt": 1, "ok": false},
        ]),
    );
    assert_eq!(d, vec![json!({"action": "dead_letter"}); 3]);
    // Kept for replay under the disabled targets.
    let hook_letters = r.ok("GET", &format!("/webhooks/{w}/dead-letters"), None, 200);
    assert_eq!(hook_letters["dead_letters"][0]["attempts"], 1);
    assert_eq!(
        hook_letters["dead_letters"][0]["last_error"],
        "endpoint disabled"
    );
    let client_letters = r.ok("GET", "/clients/web/dead-letters", None, 200);
    assert_eq!(
        client_letters["dead_letters"][0]["last_error"],
        "client disabled"
    );
    // A disabled target cannot be replayed to until re-enabled.
    let replay = r.call("POST", &format!("/webhooks/{w}/dead-letters/replay"), None);
    assert_eq!(replay.status, 409);
    assert!(replay.json()["message"]
        .as_str()
        .unwrap()
        .contains("enabled"));
    assert_eq!(
        r.call(
            "GET",
            "/webhooks/wh_000000000000000000000000/dead-letters",
            None
        )
        .status,
        404
    );
    assert_eq!(
        r.call("POST", "/clients/nope/dead-letters/replay", None)
            .status,
        404
    );
}

#[test]
fn endpoint_is_disabled_after_dead_letters_in_a_row() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let w = id(&r.webhook(json!({"url": "https://app.example.com/hook"})));
    let delivery = |n: u32| json!({"kind": "webhook", "target": w, "event": envelope(&format!("evt_{n}"), "user.created", &a, json!({}))});
    let last = |n: u32| json!({"delivery": delivery(n), "attempt": 3, "ok": false, "status": 500});
    // A success between dead letters resets the run.
    r.attempts(fast(), json!([last(1)]));
    r.attempts(
        fast(),
        json!([{"delivery": delivery(2), "attempt": 1, "ok": true}]),
    );
    r.attempts(fast(), json!([last(3)]));
    assert_eq!(
        r.ok("GET", &format!("/webhooks/{w}"), None, 200)["enabled"],
        true
    );
    r.attempts(fast(), json!([last(4)]));
    let h = r.ok("GET", &format!("/webhooks/{w}"), None, 200);
    assert_eq!(h["enabled"], false);
    assert_eq!(h["disabled_at"], "2027-01-15T08:00:00.000Z");
    assert!(
        h["disabled_reason"]
            .as_str()
            .unwrap()
            .starts_with("2 deliveries in a row"),
        "{h}"
    );
    let events = r.ok("GET", "/events", None, 200)["events"].clone();
    let disabled = events.as_array().unwrap().last().unwrap();
    assert_eq!(disabled["type"], "webhook.disabled");
    assert_eq!(disabled["actor"], "system");
    assert_eq!(disabled["data"]["webhook_id"], w.as_str());
    // No longer fanned out to.
    assert!(r
        .fanout(json!([envelope("evt_5", "user.created", &a, json!({}))]))
        .is_empty());
    // Re-enabling resets its health.
    let on = r.ok(
        "PATCH",
        &format!("/webhooks/{w}"),
        Some(json!({"enabled": true})),
        200,
    );
    assert_eq!(on["consecutive_failures"], 0);
    assert_eq!(on["last_error"], Value::Null);
    assert_eq!(r.event_types().last().unwrap(), "webhook.enabled");
    // One more dead letter does not disable it again: the run starts over.
    r.attempts(fast(), json!([last(6)]));
    assert_eq!(
        r.ok("GET", &format!("/webhooks/{w}"), None, 200)["enabled"],
        true
    );
}

#[test]
fn replay_marks_and_queues_deliveries() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let w = id(&r.webhook(json!({"url": "https://app.example.com/hook"})));
    let policy = json!({"schedule": [], "disable_after": 0});
    let deliveries: Vec<Value> = (1..=3)
        .map(|n| json!({"kind": "webhook", "target": w, "event": envelope(&format!("evt_{n}"), "user.created", &a, json!({}))}))
        .collect();
    for d in &deliveries {
        r.attempts(
            policy.clone(),
            json!([{"delivery": d, "attempt": 1, "ok": false}]),
        );
    }
    let page = r.ok(
        "GET",
        &format!("/webhooks/{w}/dead-letters?limit=2"),
        None,
        200,
    );
    let ids: Vec<String> = page["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(page["next_after"], ids[1].as_str());
    let rest = r.ok(
        "GET",
        &format!("/webhooks/{w}/dead-letters?after={}", ids[1]),
        None,
        200,
    );
    assert_eq!(rest["dead_letters"][0]["event_id"], "evt_3");
    assert_eq!(rest["next_after"], Value::Null);
    r.now = r.now.plus_seconds(60);
    // Replay one by id: its delivery waits in the outbox, first attempt again.
    sent(&mut r);
    let path = format!("/webhooks/{w}/dead-letters/replay");
    let one = r.ok("POST", &path, Some(json!({"ids": [ids[0]]})), 202);
    assert_eq!(one, json!({"replayed": 1, "remaining": 2}));
    let mut first = deliveries[0].clone();
    first["attempt"] = json!(1);
    // With the subscription version of now (one endpoint created: version 2), so the consumer
    // sends with today's targets.
    first["subscription_version"] = json!(2);
    assert_eq!(queued_messages(&r), [first]);
    // Then every one not yet replayed.
    sent(&mut r);
    let all = r.ok("POST", &path, None, 202);
    assert_eq!(all, json!({"replayed": 2, "remaining": 0}));
    let queued = queued_messages(&r);
    assert_eq!(queued.len(), 2);
    assert_eq!(queued[0]["target"], w.as_str());
    assert_eq!(queued[0]["event"]["id"], "evt_2");
    assert_eq!(queued[1]["event"]["id"], "evt_3");
    // A refused replay queues nothing.
    sent(&mut r);
    r.bad(
        "POST",
        &path,
        json!({"ids": [ids[0], "dl_nope"]}),
        "dl_nope",
    );
    assert!(queued_messages(&r).is_empty());
    let all = r.ok("GET", &format!("/webhooks/{w}/dead-letters"), None, 200);
    for letter in all["dead_letters"].as_array().unwrap() {
        assert_eq!(letter["replayed_at"], "2027-01-15T08:01:00.000Z");
    }
    assert_eq!(r.ok("POST", &path, None, 202)["replayed"], 0);
    // Named again, a replayed one goes out again.
    assert_eq!(
        r.ok("POST", &path, Some(json!({"ids": [ids[1]]})), 202)["replayed"],
        1
    );
    r.bad("POST", &path, json!({"ids": ["dl_nope"]}), "dl_nope");
    r.bad("POST", &path, json!({"ids": []}), "ids must be");
    r.bad("POST", &path, json!({"all": true}), "Unknown field(s): all");
    assert!(r
        .event_types()
        .iter()
        .any(|t| t == "webhook.dead_letters_replayed"));
    // Deleting the endpoint removes its dead letters.
    assert_eq!(
        r.call("DELETE", &format!("/webhooks/{w}"), None).status,
        204
    );
    let left = r.store_count("SELECT count(*) FROM dead_letter");
    assert_eq!(left, 0);
}

#[test]
fn logout_dead_letters_replay_with_sub_and_sid() {
    let mut r = Registry::new();
    let a = r.connection("A");
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl"}));
    let logout = json!({"kind": "logout", "target": "web", "event": envelope("evt_1", "user.sessions_revoked", &a, json!({})), "sub": "u", "sid": "s1"});
    let d = r.attempts(
        json!({"schedule": [], "disable_after": 1}),
        json!([{"delivery": logout, "attempt": 1, "ok": false, "status": 400}]),
    );
    assert_eq!(d, [json!({"action": "dead_letter"})]);
    // Clients are not disabled automatically.
    assert_eq!(r.ok("GET", "/clients/web", None, 200)["enabled"], true);
    assert_eq!(
        r.ok("GET", "/clients/web", None, 200)["last_error"],
        "HTTP 400"
    );
    let replayed = r.ok(
        "POST",
        "/clients/web/dead-letters/replay",
        Some(json!({})),
        202,
    );
    assert_eq!(replayed, json!({"replayed": 1, "remaining": 0}));
    let mut again = logout.clone();
    again["attempt"] = json!(1);
    again["subscription_version"] = json!(2);
    assert_eq!(queued_messages(&r), [again]);
    assert_eq!(
        r.event_types().last().unwrap(),
        "client.dead_letters_replayed"
    );
}

#[test]
fn targets_answer_known_ids_only() {
    let mut r = Registry::new();
    let w = r.webhook(json!({"url": "https://app.example.com/hook"}));
    let wid = id(&w);
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl", "backchannel_logout_session_required": true}));
    let t = r.ok(
        "POST",
        "/internal/targets",
        Some(json!({"webhooks": [wid, "wh_nope"], "clients": ["web", "nope"]})),
        200,
    );
    assert_eq!(
        t,
        json!({
            "version": 3,
            "webhooks": {wid.clone(): {"url": "https://app.example.com/hook", "secrets": [w["secret"]], "enabled": true, "format": "standard_webhooks", "batch_size": 1}},
            "clients": {"web": {"uri": "https://app.example.com/bcl", "session_required": true, "enabled": true}},
        })
    );
    assert_eq!(
        r.ok("POST", "/internal/targets", Some(json!({})), 200),
        json!({"version": 3, "webhooks": {}, "clients": {}})
    );
    r.bad(
        "POST",
        "/internal/targets",
        json!({"webhooks": "wh_1"}),
        "Invalid request body",
    );
}

/// The registry's own events (webhook.*, client.*, connection.deleted) leave through its outbox
/// in the transaction that records them, without a connection id.
#[test]
fn registry_events_enter_its_outbox_without_a_connection() {
    let mut r = Registry::new();
    let a = r.connection("Doomed");
    let w = id(&r.webhook(json!({"url": "https://all.example.com/"})));
    r.ok("DELETE", &format!("/connections/{a}"), None, 204);
    // A failed request records nothing.
    r.call("DELETE", &format!("/connections/{a}"), None);
    r.call("POST", "/webhooks", Some(json!({"url": "ftp://nope"})));
    let pending = outbox::pending(&r.store, Scope::Registry, 100).unwrap();
    let sent: Vec<Value> = pending
        .iter()
        .map(|p| serde_json::from_str(&p.message).unwrap())
        .collect();
    let kinds: Vec<&str> = sent.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["webhook.created", "connection.deleted"]);
    assert_eq!(sent[0]["data"]["webhook_id"], w.as_str());
    assert_eq!(sent[1]["data"]["connection_id"], a.as_str());
    assert_eq!(sent[1]["data"]["name"], "Doomed");
    assert_eq!(sent[1]["actor"], "admin");
    for e in &sent {
        assert!(e.get("connection_id").is_none(), "{e}");
        assert!(!e.to_string().contains("whsec_"), "no secret in {e}");
    }
    // The log lists the same events; sending empties the outbox.
    assert_eq!(r.event_types(), ["webhook.created", "connection.deleted"]);
    let keys: Vec<Key> = pending.iter().map(|p| p.key).collect();
    outbox::mark_sent(&r.store, &keys).unwrap();
    assert!(outbox::pending(&r.store, Scope::Registry, 100)
        .unwrap()
        .is_empty());
    assert_eq!(outbox::pending_count(&r.store, Scope::Registry).unwrap(), 0);
}

/// A registry event goes to the endpoints that take every connection's events (by type), never
/// to one limited to some connections, and never becomes a logout.
#[test]
fn registry_events_fan_out_to_unrestricted_endpoints_only() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let all = id(&r.webhook(json!({"url": "https://all.example.com/"})));
    let ops = id(&r.webhook(
        json!({"url": "https://ops.example.com/", "event_types": ["webhook.disabled", "connection.deleted"]}),
    ));
    r.webhook(json!({"url": "https://a.example.com/", "connection_ids": [a]}));
    let users =
        id(&r.webhook(json!({"url": "https://users.example.com/", "event_types": ["user.*"]})));
    r.client(
        json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl",
                    "backchannel_logout_session_required": false}),
    );
    let registry_event = |id: &str, kind: &str| {
        let mut e = envelope(id, kind, "", json!({"subject": "u"}));
        e.as_object_mut().unwrap().remove("connection_id");
        e
    };
    let disabled = registry_event("evt_1", "webhook.disabled");
    let created = registry_event("evt_2", "client.created");
    let revoked = registry_event("evt_3", "user.sessions_revoked");
    let out = r.fanout(json!([disabled, created, revoked]));
    assert_eq!(
        targets(&out),
        [
            format!("webhook:{all}"),
            format!("webhook:{ops}"),
            format!("webhook:{all}"),
            format!("webhook:{all}"),
            format!("webhook:{users}"),
        ]
    );
    assert_eq!(out[1]["event"], disabled);
    // A connection id that is there must be a string.
    let mut odd = envelope("evt_4", "user.created", &a, json!({}));
    odd["connection_id"] = json!(7);
    let res = r.ok(
        "POST",
        "/internal/fanout",
        Some(json!({"events": [odd]})),
        200,
    );
    assert_eq!(res["rejected"][0]["index"], 0);
    assert!(res["deliveries"].as_array().unwrap().is_empty());
}

/// What the queue consumer does with the registry, on the types it uses: the outbox's messages
/// parse as typed queue messages and serialise back unchanged; the routing envelopes fan out;
/// the targets and the verdicts read back typed; a replayed dead letter is a typed delivery.
#[test]
fn the_consumer_reads_queue_messages_and_registry_answers_typed() {
    use scim_edge::service::delivery::fanout::{FanoutAnswer, FanoutQuery, Targets};
    use scim_edge::service::delivery::message::{Delivery, Envelope, QueueMessage};
    use scim_edge::service::delivery::retry_policy::{Decision, RetryPolicy};
    use scim_edge::service::delivery::verdict::AttemptsAnswer;

    let mut r = Registry::new();
    let a = r.connection("A");
    let w = r.webhook(json!({"url": "https://all.example.com/"}));
    let wid = id(&w);
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://rp.example/bcl"}));
    // The registry's own events, as its outbox sends them.
    let pending = outbox::pending(&r.store, Scope::Registry, 100).unwrap();
    assert_eq!(pending.len(), 2);
    let mut events: Vec<Envelope> = Vec::new();
    for p in &pending {
        let message = QueueMessage::parse(&p.message).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&message.to_json()).unwrap(),
            serde_json::from_str::<Value>(&p.message).unwrap()
        );
        let QueueMessage::Event(e) = message else {
            panic!("an event: {}", p.message)
        };
        assert_eq!(e.connection_id, None);
        events.push(e);
    }
    // A connection's revoked sessions, as its outbox would send them.
    let revoked = envelope(
        "evt_r",
        "user.sessions_revoked",
        &a,
        json!({"subject": "u1", "sessions": [{"client_id": "web", "sid": "s1"}]}),
    );
    let QueueMessage::Event(revoked) = QueueMessage::parse(&revoked.to_string()).unwrap() else {
        panic!("an event")
    };
    events.push(revoked);
    // The fan-out, as the consumer asks for it.
    let slim: Vec<Envelope> = events.iter().map(Envelope::for_routing).collect();
    let query = serde_json::to_value(FanoutQuery { events: &slim }).unwrap();
    assert!(query["events"][0].get("data").is_none());
    assert_eq!(query["events"][2]["data"]["subject"], "u1");
    let raw = r.ok("POST", "/internal/fanout", Some(query), 200);
    let answer: FanoutAnswer = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&answer).unwrap(), raw);
    let kinds: Vec<(&str, &str)> = answer
        .deliveries
        .iter()
        .map(|d| (d.kind().as_str(), d.target()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("webhook", wid.as_str()),
            ("webhook", wid.as_str()),
            ("webhook", wid.as_str()),
            ("logout", "web")
        ]
    );
    assert!(answer.rejected.is_empty());
    // The targets.
    let raw = r.ok(
        "POST",
        "/internal/targets",
        Some(json!({"webhooks": [wid], "clients": ["web"]})),
        200,
    );
    let targets: Targets = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&targets).unwrap(), raw);
    assert_eq!(targets.webhooks[&wid].secrets, [w["secret"].clone()]);
    assert_eq!(targets.clients["web"].uri, "https://rp.example/bcl");
    // The verdicts, under the policy the consumer sends.
    let policy = RetryPolicy::parse(Some("1,2"), Some("0")).unwrap();
    let delivery = serde_json::to_value(&answer.deliveries[3]).unwrap();
    let raw = r.ok(
        "POST",
        "/internal/attempts",
        Some(json!({
            "policy": policy,
            "attempts": [
                {"delivery": delivery, "attempt": 1, "ok": false, "status": 302, "error": "HTTP 302"},
                {"delivery": delivery, "attempt": 3, "ok": false, "error": "request failed"},
            ],
        })),
        200,
    );
    let verdicts: AttemptsAnswer = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&verdicts).unwrap(), raw);
    assert_eq!(
        verdicts.decisions,
        [Decision::Retry { delay_seconds: 1 }, Decision::DeadLetter]
    );
    // The dead letter, replayed: a typed delivery, first attempt again.
    sent(&mut r);
    r.ok("POST", "/clients/web/dead-letters/replay", None, 202);
    let queued: Vec<QueueMessage> = outbox::pending(&r.store, Scope::Registry, 100)
        .unwrap()
        .into_iter()
        .filter(|p| matches!(p.key, Key::Message(_)))
        .map(|p| QueueMessage::parse(&p.message).unwrap())
        .collect();
    let [QueueMessage::Delivery(replayed)] = queued.as_slice() else {
        panic!("one delivery: {queued:?}")
    };
    assert_eq!(replayed.attempt, 1);
    assert_eq!(replayed.delivery, answer.deliveries[3]);
    assert!(matches!(
        &replayed.delivery,
        Delivery::Logout { sub: Some(s), sid: Some(i), .. } if s == "u1" && i == "s1"
    ));
}

/// Every change to what fan-out or delivery reads of a target bumps the subscription version
/// (so connection objects and consumers refresh their caches); description and delivery health
/// do not.
#[test]
fn target_changes_bump_the_subscription_version_and_health_does_not() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let version = |r: &mut Registry| {
        r.ok("POST", "/internal/targets", Some(json!({})), 200)["version"]
            .as_i64()
            .unwrap()
    };
    let mut last = version(&mut r);
    let mut bumped = |r: &mut Registry, what: &str, expected: bool| {
        let now = version(r);
        assert_eq!(now > last, expected, "{what}: {last} → {now}");
        last = now;
    };
    let w = id(&r.webhook(json!({"url": "https://app.example.com/hook"})));
    bumped(&mut r, "webhook created", true);
    let path = format!("/webhooks/{w}");
    r.ok("PATCH", &path, Some(json!({"description": "d"})), 200);
    bumped(&mut r, "description", false);
    r.ok(
        "PATCH",
        &path,
        Some(json!({"event_types": ["user.*"]})),
        200,
    );
    bumped(&mut r, "event_types", true);
    r.ok("PATCH", &path, Some(json!({"connection_ids": [a]})), 200);
    bumped(&mut r, "connection_ids", true);
    r.ok("POST", &format!("{path}/rotate-secret"), None, 200);
    bumped(&mut r, "secret rotated", true);
    let delivery = json!({"kind": "webhook", "target": w, "event": envelope("evt_1", "user.created", &a, json!({}))});
    r.attempts(
        fast(),
        json!([{"delivery": delivery, "attempt": 1, "ok": false, "status": 500}]),
    );
    bumped(&mut r, "a failed attempt", false);
    r.ok("PATCH", &path, Some(json!({"enabled": false})), 200);
    bumped(&mut r, "disabled", true);
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl"}));
    bumped(&mut r, "client registered", true);
    r.ok(
        "PATCH",
        "/clients/web",
        Some(json!({"backchannel_logout_session_required": true})),
        200,
    );
    bumped(&mut r, "client changed", true);
    r.ok("DELETE", "/clients/web", None, 204);
    bumped(&mut r, "client deleted", true);
    r.ok("DELETE", &path, None, 204);
    bumped(&mut r, "webhook deleted", true);
}

/// A connection's subscriptions: routing only (no URL, secret or credential), the enabled
/// endpoints and clients covering it, with the version.
#[test]
fn a_connection_reads_its_subscriptions_without_secrets() {
    let mut r = Registry::new();
    let (a, b) = (r.connection("A"), r.connection("B"));
    let all = r.webhook(json!({"url": "https://all.example.com/h", "event_types": ["user.*"]}));
    let only_b = r.webhook(json!({"url": "https://b.example.com/h", "connection_ids": [b]}));
    r.client(json!({"client_id": "web", "backchannel_logout_uri": "https://app.example.com/bcl", "connection_ids": [a]}));
    let subs = r.ok(
        "POST",
        "/internal/subscriptions",
        Some(json!({"connection_id": a})),
        200,
    );
    assert_eq!(
        subs,
        json!({"version": subs["version"], "webhooks": [{"id": all["id"], "event_types": ["user.*"]}],
               "clients": [{"client_id": "web", "session_required": false}]})
    );
    assert!(!subs.to_string().contains("whsec_") && !subs.to_string().contains("https://"));
    let of_b = r.ok(
        "POST",
        "/internal/subscriptions",
        Some(json!({"connection_id": b})),
        200,
    );
    let ids: Vec<&Value> = of_b["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["id"])
        .collect();
    assert_eq!(ids, [&all["id"], &only_b["id"]]);
    assert_eq!(of_b["clients"], json!([]));
    // The registry's own events: only the endpoints taking every connection's events.
    let own = r.ok(
        "POST",
        "/internal/subscriptions",
        Some(json!({"connection_id": null})),
        200,
    );
    assert_eq!(own["webhooks"].as_array().unwrap().len(), 1);
    r.bad(
        "POST",
        "/internal/subscriptions",
        json!({"connection_id": "nope"}),
        "not a connection id",
    );
}
