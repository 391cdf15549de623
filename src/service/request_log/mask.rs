//! Masking of personal data in the request log, for connections whose customer asks for it
//! (`settings.request_log.mask_pii`): each value becomes `masked:` + the first 16 hex digits of
//! HMAC-SHA256 under a random salt of the connection's own. The same value (case-folded) masks
//! the same way throughout one connection's log, so entries about one user still line up, but
//! not across connections, and without the salt (never shown) a guess cannot be checked.
//!
//! Masked: `userName`, `displayName` of users (a group's name is kept), `name` and its parts,
//! `nickName`, `emails`, `phoneNumbers`, `addresses`, `ims`, `photos`, `display` (of members and
//! managers), the values of PATCH operations on those paths, filter literals compared with them,
//! and any email-shaped text anywhere. Kept: ids, `externalId` (the IdP's object id, which
//! support needs to match a request to the IdP's own log), `type`/`primary`, and everything else.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::scim::ScimError;
use crate::service::clock::{hex, Random};
use crate::service::store::{opt_text, Store};

/// The prefix of every masked value.
pub const MASKED: &str = "masked:";

/// Attributes (lower case) whose values are personal.
const PERSONAL: &[&str] = &[
    "username",
    "displayname",
    "name",
    "formatted",
    "givenname",
    "familyname",
    "middlename",
    "honorificprefix",
    "honorificsuffix",
    "nickname",
    "emails",
    "phonenumbers",
    "addresses",
    "streetaddress",
    "locality",
    "region",
    "postalcode",
    "ims",
    "photos",
    "display",
];

/// Multi-valued attributes whose `value` is personal.
const PERSONAL_VALUES: &[&str] = &["emails", "phonenumbers", "ims", "photos", "addresses"];

/// Sub-attributes kept as they are under a personal attribute.
const KEPT: &[&str] = &["type", "primary", "$ref"];

fn is_personal(name: &str) -> bool {
    PERSONAL.contains(&name.to_ascii_lowercase().as_str())
}

/// Whether an attribute path (`userName`, `name.givenName`, `emails[type eq "work"].value`,
/// `urn:…:User:manager.displayName`) names personal data.
pub fn is_personal_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let segments: Vec<&str> = lower
        .split(['[', ']', '.', ':', ' '])
        .filter(|s| !s.is_empty())
        .collect();
    let Some(last) = segments.last() else {
        return false;
    };
    if *last == "value" {
        return segments.iter().any(|s| PERSONAL_VALUES.contains(s));
    }
    // `emails[type eq "work"]` names the attribute before its filter.
    let attr = lower.split('[').next().unwrap_or_default();
    let attr_last = attr.rsplit(['.', ':']).next().unwrap_or_default();
    is_personal(last) || is_personal(attr_last)
}

/// The setting key of the connection's masking salt.
const SALT_KEY: &str = "request_log_salt";

/// Masks values with the connection's salt.
pub struct Masker {
    salt: Vec<u8>,
}

impl Masker {
    /// A masker with this salt (tests; [`Masker::of_connection`] in the service).
    pub fn with_salt(salt: &[u8]) -> Masker {
        Masker {
            salt: salt.to_vec(),
        }
    }

    /// The connection's masker: its salt, made (32 random bytes) and stored on first use.
    pub fn of_connection(store: &dyn Store, random: &mut dyn Random) -> Result<Masker, ScimError> {
        let row = store.query_one(
            "SELECT value FROM setting WHERE key = ?",
            &[SALT_KEY.into()],
        )?;
        if let Some(salt) = row.and_then(|r| opt_text(&r, 0)) {
            return Ok(Masker::with_salt(salt.as_bytes()));
        }
        let mut bytes = [0u8; 32];
        random.fill(&mut bytes)?;
        let salt = hex(&bytes);
        store.execute(
            "INSERT OR IGNORE INTO setting (key, value) VALUES (?, ?)",
            &[SALT_KEY.into(), salt.clone().into()],
        )?;
        Ok(Masker::with_salt(salt.as_bytes()))
    }

    /// `masked:` + 16 hex digits of HMAC-SHA256(salt, the value in lower case).
    pub fn hash(&self, value: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.salt) else {
            // HMAC takes keys of any length; this branch never runs.
            return MASKED.to_owned();
        };
        mac.update(value.to_lowercase().as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{MASKED}{}", hex(&digest[..8]))
    }

    /// Masks a whole string value (already masked values stay as they are).
    fn value(&self, value: &mut Value) {
        match value {
            Value::String(s) if !s.starts_with(MASKED) => *s = self.hash(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if !KEPT.contains(&k.to_ascii_lowercase().as_str()) {
                        self.value(v);
                    }
                }
            }
            _ => {}
        }
    }

    /// Masks the personal data of a SCIM body (a resource, a PATCH, a Bulk request, a list).
    /// `group`: the body is about groups (its top-level `displayName` is a group's name).
    pub fn mask_body(&self, body: &mut Value, group: bool) {
        match body {
            Value::Object(map) => self.object(map, group),
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_body(v, group)),
            Value::String(s) => *s = self.mask_text(s),
            _ => {}
        }
    }

    fn object(&self, map: &mut Map<String, Value>, group: bool) {
        let schemas_say_group = map
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|v| v.as_str().is_some_and(|v| v.ends_with(":Group")))
            });
        let is_group = schemas_say_group || map.contains_key("members") || group;
        let text = |k: &str| {
            map.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_owned)
        };
        // A PATCH operation on a personal path: its value is personal.
        let personal_op = text("op").is_some()
            && text("path").is_some_and(|p| {
                is_personal_path(&p) && !(is_group && p.eq_ignore_ascii_case("displayName"))
            });
        // A Bulk operation: its `data` is about the resource type of its `path`.
        let bulk_group = text("method").is_some()
            && text("path").is_some_and(|p| p.trim_start_matches('/').starts_with("Groups"));
        for (key, member) in map.iter_mut() {
            let lower = key.to_ascii_lowercase();
            if personal_op && lower == "value" {
                self.value(member);
            } else if lower == "displayname" && is_group {
                continue;
            } else if is_personal(&lower) || (lower.contains('.') && is_personal_path(&lower)) {
                self.value(member);
            } else if lower == "path" || lower == "filter" {
                if let Value::String(s) = member {
                    *s = self.mask_filter(s);
                }
            } else {
                self.mask_body(member, bulk_group || (group && lower != "members"));
            }
        }
    }

    /// Masks every email-shaped word of a text.
    pub fn mask_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let email_char = |c: char| c.is_alphanumeric() || "@.+-_%'".contains(c);
        for c in text.chars() {
            if email_char(c) {
                word.push(c);
            } else {
                out.push_str(&self.email_or_word(&word));
                word.clear();
                out.push(c);
            }
        }
        out.push_str(&self.email_or_word(&word));
        out
    }

    fn email_or_word(&self, word: &str) -> String {
        let trimmed = word.trim_end_matches('.');
        let is_email = trimmed.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
        if is_email {
            format!("{}{}", self.hash(trimmed), &word[trimmed.len()..])
        } else {
            word.to_owned()
        }
    }

    /// Masks a filter (or a PATCH path with a filter): string literals compared with a personal
    /// attribute (`userName eq "bjensen"`), and email-shaped text anywhere.
    pub fn mask_filter(&self, filter: &str) -> String {
        let mut out = String::with_capacity(filter.len());
        let mut rest = filter;
        while let Some(open) = rest.find('"') {
            let (before, after) = rest.split_at(open);
            out.push_str(&self.mask_text(before));
            let body = &after[1..];
            let close = closing_quote(body).unwrap_or(body.len());
            let literal = &body[..close];
            // The attribute is two words before the literal: `attr op "literal"`.
            let mut words = out.split_whitespace().rev();
            let _op = words.next();
            let personal = words.next().is_some_and(compares_personal);
            out.push('"');
            if personal {
                out.push_str(&self.hash(literal));
            } else {
                out.push_str(&self.mask_text(literal));
            }
            if close < body.len() {
                out.push('"');
                rest = &body[close + 1..];
            } else {
                rest = "";
            }
        }
        out.push_str(&self.mask_text(rest));
        out
    }
}

impl Masker {
    /// Masks an error's `detail`: filter literals as in [`Masker::mask_filter`], a single-quoted
    /// value named by a personal attribute just before it (`userName 'bjensen' is already in
    /// use`), and email-shaped text.
    pub fn mask_detail(&self, detail: &str) -> String {
        let filtered = self.mask_filter(detail);
        let mut out = String::with_capacity(filtered.len());
        let mut parts = filtered.split('\'');
        out.push_str(parts.next().unwrap_or_default());
        let mut inside = true;
        for part in parts {
            out.push('\'');
            let personal = out
                .trim_end_matches('\'')
                .split_whitespace()
                .next_back()
                .is_some_and(is_personal_path);
            if inside && personal && !part.starts_with(MASKED) {
                out.push_str(&self.hash(part));
            } else {
                out.push_str(part);
            }
            inside = !inside;
        }
        out
    }
}

/// Whether the attribute word before a filter operator (`userName`, `(name.givenName`,
/// `emails[type`, `emails[value`) compares personal data.
fn compares_personal(word: &str) -> bool {
    let word = word.trim_start_matches(['(', '[']).to_ascii_lowercase();
    match word.rsplit_once('[') {
        // Inside a value filter: the sub-attribute of the attribute before the bracket.
        Some((outer, inner)) => {
            let outer = outer.rsplit(['.', ':', '(']).next().unwrap_or_default();
            (inner == "value" && PERSONAL_VALUES.contains(&outer)) || is_personal(inner)
        }
        None => is_personal_path(&word),
    }
}

/// The index of the quote that closes a filter string literal (after backslash escapes).
fn closing_quote(body: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hashes_are_stable_case_folded_and_salted() {
        let a = Masker::with_salt(b"salt-a");
        let b = Masker::with_salt(b"salt-b");
        let h = a.hash("bjensen@example.com");
        assert!(h.starts_with(MASKED) && h.len() == MASKED.len() + 16, "{h}");
        assert_eq!(h, a.hash("BJensen@Example.com"));
        assert_ne!(h, b.hash("bjensen@example.com"));
        assert_ne!(h, a.hash("jsmith@example.com"));
    }

    #[test]
    fn users_lose_names_emails_phones_and_addresses() {
        let m = Masker::with_salt(b"s");
        let mut user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223", "externalId": "00u1", "userName": "bjensen",
            "displayName": "Babs Jensen", "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "555-1234", "type": "mobile"}],
            "addresses": [{"streetAddress": "1 Main St", "type": "work"}],
            "title": "Tour Guide", "nickName": "Babs",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "manager": {"value": "m1", "displayName": "Boss"}},
            "note": "write to bjensen@example.com."
        });
        m.mask_body(&mut user, false);
        let text = user.to_string();
        for secret in [
            "bjensen", "Babs", "Barbara", "Jensen", "555-1234", "Main St", "Boss",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(user["id"], "2819c223");
        assert_eq!(user["externalId"], "00u1");
        assert_eq!(user["title"], "Tour Guide");
        assert_eq!(user["emails"][0]["type"], "work");
        assert_eq!(user["emails"][0]["primary"], true);
        assert_eq!(user["userName"], m.hash("bjensen"));
        assert_eq!(user["emails"][0]["value"], m.hash("bjensen@example.com"));
        assert!(user["note"].as_str().unwrap_or_default().ends_with('.'));
    }

    #[test]
    fn groups_keep_their_name_but_not_their_members_names() {
        let m = Masker::with_salt(b"s");
        let mut group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Sales", "members": [{"value": "u1", "display": "Babs Jensen"}]});
        m.mask_body(&mut group, false);
        assert_eq!(group["displayName"], "Sales");
        assert_eq!(group["members"][0]["value"], "u1");
        assert_eq!(group["members"][0]["display"], m.hash("Babs Jensen"));
    }

    #[test]
    fn patch_values_on_personal_paths_are_masked() {
        let m = Masker::with_salt(b"s");
        let mut patch = json!({"Operations": [
            {"op": "replace", "path": "userName", "value": "bjensen"},
            {"op": "Replace", "path": "name.givenName", "value": "Barbara"},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
            {"op": "replace", "value": {"name.familyName": "Jensen", "active": false}},
            {"op": "replace", "path": "title", "value": "Guide"},
            {"op": "remove", "path": "emails[value eq \"b@example.com\"]"}
        ]});
        m.mask_body(&mut patch, false);
        let ops = &patch["Operations"];
        assert_eq!(ops[0]["value"], m.hash("bjensen"));
        assert_eq!(ops[1]["value"], m.hash("Barbara"));
        assert_eq!(ops[2]["value"], m.hash("b@example.com"));
        assert_eq!(ops[3]["value"]["name.familyName"], m.hash("Jensen"));
        assert_eq!(ops[3]["value"]["active"], false);
        assert_eq!(ops[4]["value"], "Guide");
        assert!(!patch.to_string().contains("b@example.com"));
    }

    #[test]
    fn details_mask_quoted_personal_values() {
        let m = Masker::with_salt(b"s");
        assert_eq!(
            m.mask_detail("userName 'bjensen' is already in use (userName is unique)."),
            format!(
                "userName '{}' is already in use (userName is unique).",
                m.hash("bjensen")
            )
        );
        assert_eq!(
            m.mask_detail("externalId '00u1' is already in use."),
            "externalId '00u1' is already in use."
        );
        assert_eq!(
            m.mask_detail("Expected a value after 'eq' at position 11."),
            "Expected a value after 'eq' at position 11."
        );
    }

    #[test]
    fn filters_mask_literals_of_personal_attributes() {
        let m = Masker::with_salt(b"s");
        let masked = m.mask_filter(r#"userName eq "bjensen" and emails[type eq "work"]"#);
        assert_eq!(
            masked,
            format!(
                r#"userName eq "{}" and emails[type eq "work"]"#,
                m.hash("bjensen")
            )
        );
        let masked = m.mask_filter(r#"externalId eq "00u1" or emails.value eq "x""#);
        assert_eq!(
            masked,
            format!(
                r#"externalId eq "00u1" or emails.value eq "{}""#,
                m.hash("x")
            )
        );
        assert_eq!(
            m.mask_filter(r#"title eq "a@b.co"#),
            format!(r#"title eq "{}"#, m.hash("a@b.co"))
        );
    }
}
