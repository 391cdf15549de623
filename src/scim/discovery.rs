//! Discovery endpoints (RFC 7644 §4): what this service provider implements, told truthfully.

use serde_json::{json, Value};

use super::schema::{ResourceKind, Schema, ENTERPRISE_USER, GROUP, USER};

pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The largest page a list returns (`count` is capped to it), advertised as `filter.maxResults`.
pub const MAX_RESULTS: i64 = 200;

/// The resource types served now.
pub const RESOURCE_KINDS: &[ResourceKind] = &[ResourceKind::User, ResourceKind::Group];

/// Every schema served at `/Schemas`.
pub fn schemas() -> [&'static Schema; 3] {
    [&USER, &GROUP, &ENTERPRISE_USER]
}

/// RFC 7643 §5.
pub fn service_provider_config(base_url: &str, max_operations: usize, max_payload: usize) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": "https://github.com/scim-edge/scim-edge#readme",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": max_operations, "maxPayloadSize": max_payload},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token issued for this connection (scim_…).",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig")
        }
    })
}

/// RFC 7643 §6, one resource type.
pub fn resource_type(kind: ResourceKind, base_url: &str) -> Value {
    let extensions: Vec<Value> = kind
        .extensions()
        .iter()
        .map(|s| json!({"schema": s.id, "required": false}))
        .collect();
    let mut value = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": format!("{} accounts of this connection", kind.name()),
        "schema": kind.core_schema().id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{}", kind.name())
        }
    });
    if !extensions.is_empty() {
        value["schemaExtensions"] = Value::Array(extensions);
    }
    value
}

/// Most bytes of resources in one list page (their JSON), 4 MiB.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A ListResponse of already-rendered resources (RFC 7644 §3.4.2).
pub fn list_response(mut resources: Vec<Value>, total: i64, start_index: i64) -> Value {
    // Bounded answers (hardening): a page stops before its resources pass MAX_PAGE_BYTES (the
    // first always stays, so paging by `itemsPerPage` moves on), fewer than `count` as
    // RFC 7644 §3.4.2.4 allows. A page of one (every `eq` lookup) is never measured.
    if resources.len() <= 1 {
        return list_json(resources, total, start_index);
    }
    let mut size = 0;
    let fits = resources
        .iter()
        .position(|r| {
            size += serde_json::to_string(r).map_or(0, |s| s.len());
            size > MAX_PAGE_BYTES
        })
        .map_or(resources.len(), |over| over.max(1));
    resources.truncate(fits);
    list_json(resources, total, start_index)
}

fn list_json(resources: Vec<Value>, total: i64, start_index: i64) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening item 8: a list answer stops before its resources pass [`MAX_PAGE_BYTES`],
    /// keeping at least one, and says so in `itemsPerPage`.
    #[test]
    fn hardening_8_list_pages_are_bounded_in_bytes() {
        let big = |i: usize| json!({"id": i.to_string(), "displayName": "x".repeat(1024 * 1024)});
        let page = list_response((0..10).map(big).collect(), 10, 1);
        let shown = page["itemsPerPage"].as_u64().unwrap_or(0);
        assert!((1..10).contains(&shown), "{shown}");
        assert_eq!(
            page["Resources"].as_array().map(Vec::len),
            Some(shown as usize)
        );
        assert_eq!(page["totalResults"], 10);
        assert!(page.to_string().len() <= MAX_PAGE_BYTES + 1024);
        // One resource larger than the bound is still answered on its own.
        let huge = json!({"id": "1", "displayName": "y".repeat(MAX_PAGE_BYTES + 1)});
        assert_eq!(list_response(vec![huge], 1, 1)["itemsPerPage"], 1);
        // Small pages are untouched.
        let small = list_response((0..5).map(|i| json!({"id": i})).collect(), 5, 1);
        assert_eq!(small["itemsPerPage"], 5);
    }
}
