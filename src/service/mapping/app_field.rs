//! The app side of a rule: a field of the app's user profile.

use serde_json::{Map, Value};

/// Profile fields a rule may target directly.
pub(super) const FIXED_FIELDS: [&str; 8] = [
    "email",
    "username",
    "given_name",
    "family_name",
    "name",
    "phone_number",
    "external_id",
    "blocked",
];

/// Profile fields always set from SCIM, never by a rule.
pub(super) const RESERVED_FIELDS: [&str; 2] = ["user_id", "active"];

/// Objects a rule may target a nested key of.
pub(super) const METADATA_ROOTS: [&str; 2] = ["app_metadata", "user_metadata"];

/// Most keys below a metadata root: `app_metadata.a.b.c.d`.
pub(super) const MAX_METADATA_DEPTH: usize = 4;

/// Longest metadata key, in chars.
pub(super) const MAX_KEY_LEN: usize = 64;

/// What JSON a field takes from SCIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldKind {
    /// A string: `email`, `username`, ….
    Text,
    /// `blocked`: the inverse of the boolean `active`.
    Blocked,
    /// Anything: `app_metadata.*`, `user_metadata.*`.
    Any,
}

/// A parsed app field: its path from the profile root, one segment for a fixed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AppField {
    pub segments: Vec<String>,
}

impl AppField {
    /// Parses `text`; the error says why the field is not allowed.
    pub fn parse(text: &str) -> Result<AppField, String> {
        if RESERVED_FIELDS.contains(&text) {
            return Err(format!(
                "'{text}' is reserved: it is always set from the SCIM '{}'",
                if text == "user_id" { "id" } else { "active" }
            ));
        }
        if FIXED_FIELDS.contains(&text) {
            return Ok(AppField {
                segments: vec![text.to_string()],
            });
        }
        let mut parts = text.split('.');
        let root = parts.next().unwrap_or_default();
        if !METADATA_ROOTS.contains(&root) {
            return Err(format!(
                "'{text}' is not an app field; use one of {}, or app_metadata.<key> / \
                 user_metadata.<key>",
                FIXED_FIELDS.join(", ")
            ));
        }
        let keys: Vec<&str> = parts.collect();
        if keys.is_empty() {
            return Err(format!(
                "'{text}' names the whole object; map a key inside it, e.g. '{root}.department'"
            ));
        }
        if keys.len() > MAX_METADATA_DEPTH {
            return Err(format!(
                "'{text}' is nested {} keys deep below '{root}'; at most {MAX_METADATA_DEPTH} \
                 are allowed",
                keys.len()
            ));
        }
        if let Some(bad) = keys.iter().find(|k| !valid_key(k)) {
            return Err(format!(
                "'{text}': the key '{bad}' must be 1 to {MAX_KEY_LEN} letters, digits, '_' or '-'"
            ));
        }
        let mut segments = vec![root.to_string()];
        segments.extend(keys.into_iter().map(String::from));
        Ok(AppField { segments })
    }

    pub fn kind(&self) -> FieldKind {
        match self.segments.as_slice() {
            [only] if only == "blocked" => FieldKind::Blocked,
            [_] => FieldKind::Text,
            _ => FieldKind::Any,
        }
    }

    /// The dotted form, as written in the rule.
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }

    /// The field's value in `profile`; `null` counts as absent.
    pub fn get<'v>(&self, profile: &'v Value) -> Option<&'v Value> {
        let mut node = profile;
        for segment in &self.segments {
            node = node.as_object()?.get(segment)?;
        }
        (!node.is_null()).then_some(node)
    }

    /// Sets the field in `profile`, creating the objects above it. Does nothing where a
    /// non-object already stands in the way (only possible for an unvalidated mapping whose
    /// targets overlap).
    pub fn set(&self, profile: &mut Map<String, Value>, value: Value) {
        let Some((last, parents)) = self.segments.split_last() else {
            return;
        };
        let mut node = profile;
        for segment in parents {
            let child = node
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(child) = child else {
                return;
            };
            node = child;
        }
        node.insert(last.clone(), value);
    }
}

fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.chars().count())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
