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

/// A ListResponse of already-rendered resources (RFC 7644 §3.4.2).
pub fn list_response(resources: Vec<Value>, total: i64, start_index: i64) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
