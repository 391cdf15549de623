//! The registry's admin routes for webhook endpoints and OIDC clients, and its event log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine;
use common::registry::Registry;
use serde_json::{json, Value};

fn is_hex_id(id: &str, prefix: &str, hex: usize) -> bool {
    id.strip_prefix(prefix).is_some_and(|h| {
        h.len() == hex
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn create_webhook_returns_the_secret_once_with_defaults() {
    let mut r = Registry::new();
    let w = r.webhook(json!({"url": "https://app.example.com/hooks"}));
    assert!(is_hex_id(w["id"].as_str().unwrap(), "wh_", 24), "{w}");
    assert_eq!(w["url"], "https://app.example.com/hooks");
    assert_eq!(w["description"], Value::Null);
    assert_eq!(w["event_types"], json!(["*"]));
    assert_eq!(w["connection_ids"], Value::Null);
    assert_eq!(w["enabled"], true);
    assert_eq!(w["created_at"], "2027-01-15T08:00:00.000Z");
    let secret = w["secret"].as_str().unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(raw.len(), 32);
    let id = w["id"].as_str().unwrap();
    let got = r.ok("GET", &format!("/webhooks/{id}"), None, 200);
    assert!(got.get("secret").is_none(), "{got}");
    for health in [
        "disabled_at",
        "disabled_reason",
        "last_success_at",
        "last_failure_at",
        "last_error",
    ] {
        assert_eq!(got[health], Value::Null, "{health}");
    }
    assert_eq!(got["consecutive_failures"], 0);
    let listed = r.ok("GET", "/webhooks", None, 200);
    assert!(listed["webhooks"][0].get("secret").is_none());
    // The log names the endpoint but never its secret or full URL.
    let events = r.ok("GET", "/events", None, 200);
    assert_eq!(events["events"][0]["type"], "webhook.created");
    assert_eq!(events["events"][0]["actor"], "admin");
    assert_eq!(events["events"][0]["request_id"], "req_test");
    assert_eq!(
        events["events"][0]["data"]["url_origin"],
        "https://app.example.com"
    );
    assert!(!events.to_string().contains(secret));
}

#[test]
fn create_webhook_with_filters_and_description() {
    let mut r = Registry::new();
    let (a, b) = (r.connection("A"), r.connection("B"));
    let w = r.webhook(json!({
        "url": "http://localhost:3000/hook",
        "description": "  Staging  ",
        "event_types": ["user.*", "group.member.added", "user.*"],
        "connection_ids": [a, b, a],
    }));
    assert_eq!(w["description"], "Staging");
    assert_eq!(w["event_types"], json!(["user.*", "group.member.added"]));
    assert_eq!(w["connection_ids"], json!([a, b]));
}

#[test]
fn webhook_validation_negatives() {
    let mut r = Registry::new();
    let url = "https://app.example.com/hook";
    for (body, says) in [
        (json!({}), "url is required"),
        (json!({"url": 5}), "url must be a string"),
        (json!({"url": "not a url"}), "url must be ASCII"),
        (json!({"url": "app.example.com"}), "absolute"),
        (
            json!({"url": "http://app.example.com/hook"}),
            "must use https",
        ),
        (json!({"url": "https://u:p@app.example.com"}), "credentials"),
        (json!({"url": "ftp://app.example.com"}), "scheme"),
        (
            json!({"url": format!("https://a.example/{}", "x".repeat(2048))}),
            "2048",
        ),
        (
            json!({"url": url, "event_types": ["user.created", "user.exploded", "nope.*"]}),
            "unknown event type(s) 'user.exploded', 'nope.*'",
        ),
        (json!({"url": url, "event_types": []}), "1 to 50"),
        (json!({"url": url, "connection_ids": []}), "null for every"),
        (json!({"url": url, "connection_ids": ["acme"]}), "'acme'"),
        (
            json!({"url": url, "connection_ids": ["con_00000000000000000009"]}),
            "no such connection: con_00000000000000000009",
        ),
        (json!({"url": url, "connection_ids": "con_x"}), "list"),
        (
            json!({"url": url, "description": "d".repeat(501)}),
            "description",
        ),
        (
            json!({"url": url, "secret": "mine"}),
            "Unknown field(s): secret",
        ),
    ] {
        r.bad("POST", "/webhooks", body, says);
    }
    for raw in ["not json", "[]"] {
        assert_eq!(r.call_raw("POST", "/webhooks", raw).status, 400, "{raw}");
    }
    // The unknown-type error lists what is allowed.
    let e = r.call(
        "POST",
        "/webhooks",
        Some(json!({"url": url, "event_types": ["x"]})),
    );
    assert!(e.json()["message"]
        .as_str()
        .unwrap()
        .contains("user.sessions_revoked"));
    // Nothing was written.
    assert_eq!(r.ok("GET", "/webhooks", None, 200)["webhooks"], json!([]));
    assert!(r.event_types().is_empty());
}

/// Log streams are webhook endpoints with a format: Datadog and Splunk HEC need their credential,
/// which is never shown; batch sizes default by format.
#[test]
fn log_streams_take_a_format_batch_size_and_write_only_credential() {
    let mut r = Registry::new();
    let url = "https://logs.example.com/intake";
    let plain = r.webhook(json!({"url": url}));
    assert_eq!(
        (
            &plain["format"],
            &plain["batch_size"],
            &plain["credential_set"]
        ),
        (&json!("standard_webhooks"), &json!(1), &json!(false))
    );
    let hec = r.webhook(json!({"url": url, "format": "splunk_hec", "credential": "hec-123"}));
    assert_eq!(
        (&hec["format"], &hec["batch_size"], &hec["credential_set"]),
        (&json!("splunk_hec"), &json!(100), &json!(true))
    );
    assert!(!hec.to_string().contains("hec-123"), "{hec}");
    let batched = r.webhook(json!({"url": url, "batch_size": 20}));
    assert_eq!(batched["batch_size"], 20);
    let nd = r.webhook(json!({"url": url, "format": "ndjson"}));
    assert_eq!(nd["credential_set"], false);
    for (body, says) in [
        (
            json!({"url": url, "format": "syslog"}),
            "format must be one of standard_webhooks, ndjson, datadog, splunk_hec",
        ),
        (json!({"url": url, "format": 3}), "format must be a string"),
        (
            json!({"url": url, "format": "datadog"}),
            "format datadog needs a credential: the Datadog API key",
        ),
        (
            json!({"url": url, "format": "splunk_hec", "credential": null}),
            "needs a credential",
        ),
        (
            json!({"url": url, "format": "ndjson", "credential": "Bearer a\r\nx-evil: 1"}),
            "visible ASCII",
        ),
        (
            json!({"url": url, "batch_size": 0}),
            "batch_size must be an integer from 1 to 100",
        ),
        (json!({"url": url, "batch_size": 101}), "batch_size"),
        (
            json!({"url": url, "credential": 7}),
            "credential must be a string or null",
        ),
    ] {
        r.bad("POST", "/webhooks", body, says);
    }
    // PATCH: a new format takes its default batch size; the credential stays until cleared,
    // and a format that needs one cannot lose it.
    let id = hec["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}");
    let changed = r.ok(
        "PATCH",
        &path,
        Some(json!({"format": "ndjson", "batch_size": 50})),
        200,
    );
    assert_eq!(
        (
            &changed["format"],
            &changed["batch_size"],
            &changed["credential_set"]
        ),
        (&json!("ndjson"), &json!(50), &json!(true))
    );
    r.bad(
        "PATCH",
        &path,
        json!({"format": "datadog", "credential": null}),
        "needs a credential",
    );
    let cleared = r.ok("PATCH", &path, Some(json!({"credential": null})), 200);
    assert_eq!(cleared["credential_set"], false);
    r.bad(
        "PATCH",
        &path,
        json!({"format": "datadog"}),
        "needs a credential",
    );
    let dd = r.ok(
        "PATCH",
        &path,
        Some(json!({"format": "datadog", "credential": "k"})),
        200,
    );
    assert_eq!(
        (&dd["format"], &dd["batch_size"]),
        (&json!("datadog"), &json!(100))
    );
    let events = r.ok("GET", "/events", None, 200).to_string();
    assert!(
        !events.contains("hec-123") && !events.contains("\"k\""),
        "{events}"
    );
    assert!(
        events.contains("\"format\":\"splunk_hec\""),
        "the created event names the format"
    );
}

#[test]
fn patch_webhook_changes_disables_and_reenables() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let w = r.webhook(json!({"url": "https://app.example.com/hook", "description": "x"}));
    let id = w["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}");
    r.now = r.now.plus_seconds(60);
    let p = r.ok(
        "PATCH",
        &path,
        Some(json!({
            "url": "https://other.example.com/h",
            "description": null,
            "event_types": ["group.*"],
            "connection_ids": [a],
        })),
        200,
    );
    assert_eq!(p["url"], "https://other.example.com/h");
    assert_eq!(p["description"], Value::Null);
    assert_eq!(p["event_types"], json!(["group.*"]));
    assert_eq!(p["connection_ids"], json!([a]));
    assert_eq!(p["updated_at"], "2027-01-15T08:01:00.000Z");
    let p = r.ok("PATCH", &path, Some(json!({"connection_ids": null})), 200);
    assert_eq!(p["connection_ids"], Value::Null);
    let off = r.ok("PATCH", &path, Some(json!({"enabled": false})), 200);
    assert_eq!(off["enabled"], false);
    assert_eq!(off["disabled_at"], "2027-01-15T08:01:00.000Z");
    assert_eq!(off["disabled_reason"], "Disabled through the admin API.");
    let on = r.ok("PATCH", &path, Some(json!({"enabled": true})), 200);
    assert_eq!(on["enabled"], true);
    assert_eq!(on["disabled_at"], Value::Null);
    assert_eq!(on["disabled_reason"], Value::Null);
    // Validation applies to PATCH too, and a failed PATCH changes nothing.
    for (body, says) in [
        (json!({"url": "http://app.example.com"}), "https"),
        (json!({"url": null}), "url is required"),
        (json!({"event_types": ["user.nope"]}), "unknown event type"),
        (json!({"enabled": "yes"}), "true or false"),
        (json!({"id": "wh_1"}), "Unknown field(s): id"),
        (
            json!({"description": "ok", "connection_ids": ["con_x"]}),
            "connection_ids",
        ),
    ] {
        r.bad("PATCH", &path, body, says);
    }
    assert_eq!(r.ok("GET", &path, None, 200)["description"], Value::Null);
    assert_eq!(
        r.event_types(),
        [
            "webhook.created",
            "webhook.updated",
            "webhook.updated",
            "webhook.disabled",
            "webhook.enabled"
        ]
    );
    assert_eq!(
        r.call("PATCH", "/webhooks/wh_0", Some(json!({}))).status,
        404
    );
}

#[test]
fn delete_webhook() {
    let mut r = Registry::new();
    let w = r.webhook(json!({"url": "https://app.example.com/hook"}));
    let path = format!("/webhooks/{}", w["id"].as_str().unwrap());
    assert_eq!(r.call("DELETE", &path, None).status, 204);
    assert_eq!(r.call("GET", &path, None).status, 404);
    assert_eq!(r.call("DELETE", &path, None).status, 404);
    assert_eq!(r.event_types(), ["webhook.created", "webhook.deleted"]);
}

#[test]
fn webhooks_and_clients_page_by_cursor() {
    let mut r = Registry::new();
    let ids: Vec<String> = (0..3)
        .map(|i| {
            r.webhook(json!({"url": format!("https://h{i}.example.com/")}))["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let page = r.ok("GET", "/webhooks?limit=2", None, 200);
    assert_eq!(page["webhooks"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_after"], ids[1].as_str());
    let rest = r.ok(
        "GET",
        &format!("/webhooks?after={}&limit=2", ids[1]),
        None,
        200,
    );
    assert_eq!(rest["webhooks"][0]["id"], ids[2].as_str());
    assert_eq!(rest["next_after"], Value::Null);
    assert_eq!(r.call("GET", "/webhooks?limit=0", None).status, 400);
    assert_eq!(r.call("GET", "/webhooks?limit=101", None).status, 400);
    assert_eq!(r.call("GET", "/webhooks?after=wh_nope", None).status, 400);
    for c in ["web", "mobile", "cli"] {
        r.client(json!({"client_id": c, "backchannel_logout_uri": "https://app.example.com/bcl"}));
    }
    let page = r.ok("GET", "/clients?limit=2", None, 200);
    assert_eq!(page["clients"][1]["client_id"], "mobile");
    assert_eq!(page["next_after"], "mobile");
    let rest = r.ok("GET", "/clients?after=mobile", None, 200);
    assert_eq!(rest["clients"][0]["client_id"], "cli");
    assert_eq!(rest["next_after"], Value::Null);
    // The registry's own log pages the same way.
    let events = r.ok("GET", "/events?limit=4", None, 200);
    assert_eq!(events["events"].as_array().unwrap().len(), 4);
    let after = events["next_after"].as_str().unwrap().to_owned();
    let more = r.ok("GET", &format!("/events?after={after}"), None, 200);
    assert_eq!(more["events"].as_array().unwrap().len(), 2);
    assert_eq!(more["events"][1]["type"], "client.created");
}

#[test]
fn rotate_secret_keeps_the_previous_one_for_a_day() {
    let mut r = Registry::new();
    let w = r.webhook(json!({"url": "https://app.example.com/hook"}));
    let id = w["id"].as_str().unwrap().to_owned();
    let first = w["secret"].as_str().unwrap().to_owned();
    let targets = |r: &mut Registry| {
        r.ok(
            "POST",
            "/internal/targets",
            Some(json!({"webhooks": [id]})),
            200,
        )["webhooks"][&id]
            .clone()
    };
    assert_eq!(targets(&mut r)["secrets"], json!([first]));
    let rotated = r.ok("POST", &format!("/webhooks/{id}/rotate-secret"), None, 200);
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    assert_eq!(
        rotated["previous_secret_expires_at"],
        "2027-01-16T08:00:00.000Z"
    );
    assert_eq!(targets(&mut r)["secrets"], json!([second, first]));
    assert_eq!(
        r.ok("GET", &format!("/webhooks/{id}"), None, 200)["previous_secret_expires_at"],
        "2027-01-16T08:00:00.000Z"
    );
    r.now = r.now.plus_seconds(24 * 3600 - 1);
    assert_eq!(targets(&mut r)["secrets"], json!([second, first]));
    r.now = r.now.plus_seconds(1);
    assert_eq!(targets(&mut r)["secrets"], json!([second]));
    assert_eq!(
        r.ok("GET", &format!("/webhooks/{id}"), None, 200)["previous_secret_expires_at"],
        Value::Null
    );
    let log = r.ok("GET", "/events", None, 200);
    assert_eq!(log["events"][1]["type"], "webhook.secret_rotated");
    assert!(!log.to_string().contains(&first) && !log.to_string().contains(&second));
    assert_eq!(
        r.call(
            "POST",
            "/webhooks/wh_000000000000000000000000/rotate-secret",
            None
        )
        .status,
        404
    );
}

#[test]
fn clients_crud_with_validation_and_conflict() {
    let mut r = Registry::new();
    let a = r.connection("A");
    let c = r.client(json!({
        "client_id": "web",
        "backchannel_logout_uri": "https://app.example.com/logout",
    }));
    assert_eq!(
        c,
        json!({
            "client_id": "web",
            "backchannel_logout_uri": "https://app.example.com/logout",
            "backchannel_logout_session_required": false,
            "connection_ids": null,
            "enabled": true,
            "created_at": "2027-01-15T08:00:00.000Z",
            "updated_at": "2027-01-15T08:00:00.000Z",
            "consecutive_failures": 0,
            "last_success_at": null,
            "last_failure_at": null,
            "last_error": null,
        })
    );
    let dup = r.call(
        "POST",
        "/clients",
        Some(json!({"client_id": "web", "backchannel_logout_uri": "https://x.example.com/"})),
    );
    assert_eq!(dup.status, 409);
    assert_eq!(dup.json()["error"], "conflict");
    let uri = "https://app.example.com/logout";
    for (body, says) in [
        (
            json!({"backchannel_logout_uri": uri}),
            "client_id is required",
        ),
        (
            json!({"client_id": "a/b", "backchannel_logout_uri": uri}),
            "client_id",
        ),
        (
            json!({"client_id": "m"}),
            "backchannel_logout_uri is required",
        ),
        (
            json!({"client_id": "m", "backchannel_logout_uri": "http://app.example.com/l"}),
            "backchannel_logout_uri must use https",
        ),
        (
            json!({"client_id": "m", "backchannel_logout_uri": "https://u@app.example.com/l"}),
            "credentials",
        ),
        (
            json!({"client_id": "m", "backchannel_logout_uri": uri, "backchannel_logout_session_required": "no"}),
            "true or false",
        ),
        (
            json!({"client_id": "m", "backchannel_logout_uri": uri, "connection_ids": ["con_1"]}),
            "connection_ids",
        ),
    ] {
        r.bad("POST", "/clients", body, says);
    }
    let p = r.ok(
        "PATCH",
        "/clients/web",
        Some(json!({
            "backchannel_logout_uri": "http://127.0.0.1:9000/logout",
            "backchannel_logout_session_required": true,
            "connection_ids": [a],
        })),
        200,
    );
    assert_eq!(p["backchannel_logout_uri"], "http://127.0.0.1:9000/logout");
    assert_eq!(p["backchannel_logout_session_required"], true);
    assert_eq!(p["connection_ids"], json!([a]));
    r.bad(
        "PATCH",
        "/clients/web",
        json!({"client_id": "other"}),
        "Unknown field(s): client_id",
    );
    let off = r.ok(
        "PATCH",
        "/clients/web",
        Some(json!({"enabled": false})),
        200,
    );
    assert_eq!(off["enabled"], false);
    assert_eq!(r.ok("GET", "/clients/web", None, 200)["enabled"], false);
    assert_eq!(r.call("GET", "/clients/nope", None).status, 404);
    assert_eq!(r.call("DELETE", "/clients/web", None).status, 204);
    assert_eq!(r.call("GET", "/clients/web", None).status, 404);
    assert_eq!(
        r.event_types(),
        [
            "client.created",
            "client.updated",
            "client.updated",
            "client.deleted"
        ]
    );
}

#[test]
fn unknown_routes_are_404() {
    let mut r = Registry::new();
    for (method, path) in [
        ("PUT", "/webhooks"),
        ("GET", "/connections/x/dead-letters"),
        ("POST", "/internal/nope"),
        ("GET", "/internal/fanout"),
    ] {
        assert_eq!(r.call(method, path, None).status, 404, "{method} {path}");
    }
}
