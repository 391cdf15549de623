//! The OpenAPI 3.1 description of the admin and app APIs (`docs/openapi.json`), served at
//! `/admin/v1/openapi.json`; the end-to-end tests check real responses against it.

pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

#[cfg(test)]
mod tests {
    use super::DOCUMENT;

    #[test]
    fn the_document_is_openapi_3_1_json() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/admin/v1/connections"]["post"].is_object());
        assert!(doc["components"]["schemas"]["Error"].is_object());
        for path in [
            "/admin/v1/webhooks",
            "/admin/v1/webhooks/{id}/dead-letters/replay",
            "/admin/v1/clients/{client_id}",
            "/admin/v1/events",
        ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
    }
}
