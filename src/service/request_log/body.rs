//! What the request log keeps of a body: JSON with every secret replaced by `"[removed]"`,
//! personal data masked when the connection asks for it ([`super::mask`]), and at most
//! [`BODY_CAP`] bytes of JSON text; a larger body is kept as a marker with its size and the
//! beginning of its (already redacted) text. Pure.

use serde_json::{json, Map, Value};

use super::mask::Masker;

/// Most bytes of JSON text one logged body keeps.
pub const BODY_CAP: usize = 16 * 1024;

/// What replaces a secret.
pub const REMOVED: &str = "[removed]";

/// Whether an attribute or parameter name names a secret: `password` (any case, with or without
/// a prefix such as `newPassword`), tokens and secrets (`access_token`, `client_secret`, …).
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("password") || lower.contains("token") || lower.contains("secret")
}

/// Whether a PATCH path (`password`, `urn:…:User:password`, `name.x`, `emails[…].value`) names
/// a secret: its attribute, after any URN prefix, before any filter or sub-attribute.
fn is_secret_path(path: &str) -> bool {
    let attr = path.rsplit(':').next().unwrap_or(path);
    attr.split(['[', '.'])
        .next()
        .is_some_and(|first| is_secret_name(first.trim()))
}

/// Replaces every secret in `value`, in place: any member whose name is a secret (at any depth,
/// in any case), and the `value` of any PATCH operation whose `path` names one (also inside
/// Bulk operations, which are walked like any other JSON).
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => redact_object(map),
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_object(map: &mut Map<String, Value>) {
    let secret_path = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("path"))
        .and_then(|(_, v)| v.as_str())
        .is_some_and(is_secret_path);
    for (key, member) in map.iter_mut() {
        if is_secret_name(key) || (secret_path && key.eq_ignore_ascii_case("value")) {
            if !member.is_null() {
                *member = Value::String(REMOVED.into());
            }
        } else {
            redact(member);
        }
    }
}

/// A request body as logged: parsed, redacted, masked, capped. `None` for an empty body.
/// Text that is not JSON is kept (capped) only when it shows no sign of a secret.
pub fn request_body(raw: &[u8], masker: Option<&Masker>, group: bool) -> Option<Value> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(value) => Some(logged(value, masker, group)),
        Err(_) => Some(unparsed(raw, masker)),
    }
}

/// A parsed body as logged: redacted, masked on request, capped.
pub fn logged(mut value: Value, masker: Option<&Masker>, group: bool) -> Value {
    redact(&mut value);
    if let Some(m) = masker {
        m.mask_body(&mut value, group);
    }
    capped(value)
}

/// A response body as logged, as JSON text. SCIM never returns a password, so without masking
/// a JSON body within the cap is kept as it is (neither parsed nor serialised again);
/// otherwise like [`request_body`].
pub fn response_body(raw: &[u8], masker: Option<&Masker>, group: bool) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    if masker.is_none() {
        let looks_json = matches!(raw.first(), Some(b'{' | b'['));
        match std::str::from_utf8(raw) {
            Ok(text) if looks_json && raw.len() <= BODY_CAP => return Some(text.to_owned()),
            _ if raw.len() > BODY_CAP => {
                return Some(truncated(raw.len(), &String::from_utf8_lossy(raw)).to_string())
            }
            _ => {}
        }
    }
    request_body(raw, masker, group).map(|v| v.to_string())
}

/// `value`, or the truncation marker when its JSON text is over [`BODY_CAP`].
pub fn capped(value: Value) -> Value {
    let text = value.to_string();
    if text.len() <= BODY_CAP {
        value
    } else {
        truncated(text.len(), &text)
    }
}

/// `{"truncated": true, "bytes": <size of the whole>, "prefix": "<its first bytes>"}`.
fn truncated(bytes: usize, text: &str) -> Value {
    json!({"truncated": true, "bytes": bytes, "prefix": prefix(text, BODY_CAP / 4)})
}

/// A body that is not JSON: `{"invalid_json": true, "bytes", "text"}`, the text withheld when
/// it mentions a secret (it cannot be redacted member by member).
fn unparsed(raw: &[u8], masker: Option<&Masker>) -> Value {
    let text = String::from_utf8_lossy(raw);
    let shown = if is_secret_name(&text) {
        Value::Null
    } else {
        let text = match masker {
            Some(m) => m.mask_text(&text),
            None => text.into_owned(),
        };
        Value::String(prefix(&text, BODY_CAP / 4).to_owned())
    };
    json!({"invalid_json": true, "bytes": raw.len(), "text": shown})
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_removed_at_any_depth_and_in_any_case() {
        let mut v = json!({
            "userName": "bjensen", "password": "s3cret",
            "urn:x:Ext": {"Password": "p2", "nested": [{"newPASSWORD": "p3"}]},
            "access_token": "t", "client_secret": "c", "keep": null, "PassWord": null
        });
        redact(&mut v);
        assert_eq!(v["password"], REMOVED);
        assert_eq!(v["urn:x:Ext"]["Password"], REMOVED);
        assert_eq!(v["urn:x:Ext"]["nested"][0]["newPASSWORD"], REMOVED);
        assert_eq!(v["access_token"], REMOVED);
        assert_eq!(v["client_secret"], REMOVED);
        assert_eq!(v["userName"], "bjensen");
        assert_eq!(v["PassWord"], Value::Null, "an absent secret stays absent");
        assert!(!v.to_string().contains("s3cret"));
    }

    #[test]
    fn patch_values_of_password_paths_are_removed() {
        let mut v = json!({"Operations": [
            {"op": "replace", "path": "password", "value": "s3cret"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "value": "p2"},
            {"op": "replace", "value": {"password": "p3", "active": false}},
            {"op": "replace", "path": "title", "value": "Boss"}
        ]});
        redact(&mut v);
        let ops = &v["Operations"];
        assert_eq!(ops[0]["value"], REMOVED);
        assert_eq!(ops[1]["value"], REMOVED);
        assert_eq!(ops[2]["value"]["password"], REMOVED);
        assert_eq!(ops[2]["value"]["active"], false);
        assert_eq!(ops[3]["value"], "Boss");
    }

    #[test]
    fn bulk_operations_are_redacted_too() {
        let raw = json!({"Operations": [
            {"method": "POST", "path": "/Users", "data": {"userName": "a", "password": "p1"}},
            {"method": "PATCH", "path": "/Users/1", "data": {"Operations": [
                {"op": "replace", "path": "password", "value": "p2"}]}}
        ]})
        .to_string();
        let logged = request_body(raw.as_bytes(), None, false).unwrap_or_default();
        let text = logged.to_string();
        assert!(!text.contains("p1") && !text.contains("p2"), "{text}");
        assert_eq!(logged["Operations"][0]["data"]["userName"], "a");
    }

    #[test]
    fn large_bodies_are_a_marker_with_their_size() {
        let big = json!({"userName": "x", "title": "t".repeat(BODY_CAP * 2)});
        let raw = big.to_string();
        let logged = request_body(raw.as_bytes(), None, false).unwrap_or_default();
        assert_eq!(logged["truncated"], true);
        assert_eq!(logged["bytes"], raw.len());
        assert!(logged["prefix"].as_str().unwrap_or_default().len() <= BODY_CAP / 4);
        assert!(logged.to_string().len() < BODY_CAP);
        let response = response_body(raw.as_bytes(), None, false).unwrap_or_default();
        let response: Value = serde_json::from_str(&response).unwrap_or_default();
        assert_eq!(response["truncated"], true);
        let small = response_body(br#"{"id":"1"}"#, None, false);
        assert_eq!(small.as_deref(), Some(r#"{"id":"1"}"#), "kept as it came");
        assert_eq!(request_body(b"  ", None, false), None);
    }

    #[test]
    fn text_that_is_not_json_is_kept_only_without_a_secret() {
        let kept = request_body(b"{\"userName\": ", None, false).unwrap_or_default();
        assert_eq!(kept["invalid_json"], true);
        assert_eq!(kept["text"], "{\"userName\": ");
        let withheld =
            request_body(b"{\"password\": \"s3cret\" oops", None, false).unwrap_or_default();
        assert_eq!(withheld["text"], Value::Null);
        assert!(!withheld.to_string().contains("s3cret"));
    }

    #[test]
    fn prefixes_never_split_a_character() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("abc", 10), "abc");
    }
}
