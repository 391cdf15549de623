//! The OpenAPI 3.1 description of the admin and app APIs (`docs/openapi.json`), served as a
//! static asset at `/admin/v1/openapi.json`; tests/e2e/openapi.test.mjs checks real responses
//! against it.
#![allow(clippy::unwrap_used)]

#[test]
fn the_document_is_openapi_3_1_json() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/admin/v1/connections"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Error"].is_object());
    for path in [
        "/admin/v1/webhooks",
        "/admin/v1/webhooks/{id}/dead-letters/replay",
        "/admin/v1/clients/{client_id}",
        "/admin/v1/events",
        "/v1/connections/{id}/introspect",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

/// The event types a webhook may subscribe to are exactly the ones the document lists.
#[test]
fn the_documented_webhook_event_types_are_the_accepted_ones() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut documented: Vec<&str> = doc["components"]["schemas"]["WebhookEventType"]["anyOf"][0]
        ["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .filter(|t| *t != "*")
        .collect();
    let mut accepted = scim_edge::service::event::Event::TYPES.to_vec();
    documented.sort_unstable();
    accepted.sort_unstable();
    assert_eq!(documented, accepted);
}
