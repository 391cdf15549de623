//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, each applied atomically on its
//! own, with `bulkId` references resolved in dependency order (forward references allowed, cycles
//! reported) and `failOnErrors` honoured.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::api::http::{HttpRequest, HttpResponse};
use crate::scim::text;
use crate::scim::ScimError;

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The most operations one Bulk request may carry, advertised as `bulk.maxOperations`.
pub const MAX_OPERATIONS: usize = 1000;

/// One parsed operation.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
    /// The bulkIds this operation refers to (in `path` or `data`).
    references: HashSet<String>,
}

/// A member that is present and not `null`.
fn member<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    text::member(object, name).filter(|v| !v.is_null())
}

fn collect_references(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.insert(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

fn substitute(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, ids)),
        _ => {}
    }
}

fn substitute_path(path: &str, ids: &HashMap<String, String>) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                Some(id) => id.clone(),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn parse(body: &Value) -> Result<(Vec<Operation>, Option<usize>), ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("A Bulk body must be a JSON object."))?;
    let fail_on_errors =
        match member(object, "failOnErrors") {
            None => None,
            Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer.")
            })? as usize),
        };
    let operations = member(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("A Bulk body needs an Operations array."))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::new(
            413,
            None,
            format!(
                "The Bulk request has {} operations; the maximum is {MAX_OPERATIONS} (bulk.maxOperations).",
                operations.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let parsed = operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let op = op.as_object().ok_or_else(|| {
                ScimError::invalid_syntax(format!("Bulk operation {i} must be an object."))
            })?;
            let text = |name: &str| member(op, name).and_then(Value::as_str).map(str::to_owned);
            let method = text("method")
                .map(|m| m.to_ascii_uppercase())
                .filter(|m| ["POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()))
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "Bulk operation {i} needs a method: POST, PUT, PATCH or DELETE."
                    ))
                })?;
            let path = text("path").filter(|p| p.starts_with('/')).ok_or_else(|| {
                ScimError::invalid_value(format!("Bulk operation {i} needs a path such as /Users."))
            })?;
            let bulk_id = text("bulkId");
            if method == "POST" && bulk_id.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "Bulk operation {i}: POST requires a bulkId."
                )));
            }
            if let Some(b) = &bulk_id {
                if !seen.insert(b.clone()) {
                    return Err(ScimError::invalid_value(format!(
                        "bulkId '{b}' is used by more than one operation."
                    )));
                }
            }
            let data = member(op, "data").cloned();
            let mut references = HashSet::new();
            if let Some(d) = &data {
                collect_references(d, &mut references);
            }
            for segment in path.split('/') {
                if let Some(id) = segment.strip_prefix("bulkId:") {
                    references.insert(id.to_owned());
                }
            }
            Ok(Operation {
                method,
                bulk_id,
                path,
                data,
                version: text("version"),
                references,
            })
        })
        .collect::<Result<Vec<_>, ScimError>>()?;
    Ok((parsed, fail_on_errors))
}

/// Runs a Bulk request. `run` executes one operation as an ordinary request, atomically.
pub fn handle(
    request: &HttpRequest,
    base_url: &str,
    run: &mut dyn FnMut(&HttpRequest) -> HttpResponse,
) -> Result<HttpResponse, ScimError> {
    let body = request.json_body()?;
    let (operations, fail_on_errors) = parse(&body)?;
    let mut results: Vec<Option<Value>> = vec![None; operations.len()];
    let mut created: HashMap<String, String> = HashMap::new();
    let mut failed_ids: HashSet<String> = HashSet::new();
    let mut errors = 0usize;
    let mut pending: Vec<usize> = (0..operations.len()).collect();
    'passes: while !pending.is_empty() {
        let mut progressed = false;
        let mut still = Vec::new();
        for index in pending {
            let Some(op) = operations.get(index) else {
                continue;
            };
            if op.references.iter().any(|r| failed_ids.contains(r)) {
                results[index] = Some(outcome(
                    op,
                    "",
                    &ScimError::new(409, None, "A bulkId this operation refers to failed.").into(),
                ));
                if let Some(b) = &op.bulk_id {
                    failed_ids.insert(b.clone());
                }
                errors += 1;
                progressed = true;
                continue;
            }
            if !op.references.iter().all(|r| created.contains_key(r)) {
                still.push(index);
                continue;
            }
            progressed = true;
            let mut data = op.data.clone();
            if let Some(d) = &mut data {
                substitute(d, &created);
            }
            let mut headers: Vec<(String, String)> = request
                .headers
                .iter()
                .filter(|(k, _)| k == "authorization")
                .cloned()
                .collect();
            headers.push(("content-type".into(), crate::api::http::SCIM_JSON.into()));
            if let Some(v) = &op.version {
                headers.push(("if-match".into(), v.clone()));
            }
            let sub = HttpRequest {
                method: op.method.clone(),
                path: substitute_path(&op.path, &created),
                query: Vec::new(),
                headers,
                body: data.map(|d| d.to_string().into_bytes()).unwrap_or_default(),
            };
            let response = run(&sub);
            let created_id = (op.method == "POST" && response.status == 201)
                .then(|| {
                    response
                        .json()
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .flatten();
            match (&op.bulk_id, &created_id) {
                (Some(b), Some(id)) => {
                    created.insert(b.clone(), id.clone());
                }
                (Some(b), None) if response.status >= 400 => {
                    failed_ids.insert(b.clone());
                }
                _ => {}
            }
            if response.status >= 400 {
                errors += 1;
            }
            let path = substitute_path(&op.path, &created);
            results[index] = Some(outcome(op, &format!("{base_url}{path}"), &response));
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break 'passes;
            }
        }
        if !progressed {
            // What is left refers only to bulkIds that are never created: a cycle or a typo.
            for index in still {
                if let Some(op) = operations.get(index) {
                    results[index] = Some(outcome(op, "", &ScimError::new(
                        409,
                        None,
                        "The bulkId references of this operation cannot be resolved (a cycle, or an unknown bulkId).",
                    ).into()));
                }
            }
            break;
        }
        pending = still;
    }
    Ok(HttpResponse::scim_json(
        200,
        &json!({
            "schemas": [BULK_RESPONSE_SCHEMA],
            "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
        }),
    ))
}

/// One entry of the BulkResponse (RFC 7644 §3.7.3): `status` as a string, `location` and
/// `version` on success, the error as `response` on failure.
fn outcome(op: &Operation, url: &str, response: &HttpResponse) -> Value {
    let mut out = json!({
        "method": op.method,
        "status": response.status.to_string(),
    });
    if let Some(b) = &op.bulk_id {
        out["bulkId"] = Value::String(b.clone());
    }
    let body = response.json();
    if let Some(location) = body.pointer("/meta/location").and_then(Value::as_str) {
        out["location"] = Value::String(location.to_owned());
    }
    if let Some(version) = response.header("etag") {
        out["version"] = Value::String(version.to_owned());
    }
    if response.status >= 400 {
        out["response"] = body;
    }
    // A failed POST names no resource; every other operation names the one it targeted
    // (RFC 7644 §3.7.3 shows `location` on a failed PUT).
    let targets_resource = response.status < 400 || op.method != "POST";
    if out.get("location").is_none() && targets_resource && !url.is_empty() {
        out["location"] = Value::String(url.to_owned());
    }
    out
}
