//! A connection's settings: which identity provider it serves (defaults follow from it), which
//! attribute identifies a user to the app, its request rate limit, and what its SCIM request
//! log keeps (service::request_log).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scim::ScimError;
use crate::service::store::{opt_text, Store};

/// Identity provider kinds a connection can be set up for.
pub const IDP_KINDS: &[&str] = &["okta", "entra", "onelogin", "jumpcloud", "generic"];

/// The default rate limit, requests per second (Entra requires at least 25).
pub const DEFAULT_RATE_LIMIT: u32 = 50;
/// The highest rate limit an admin may set, requests per second.
pub const MAX_RATE_LIMIT: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub idp: String,
    /// `userName` or `externalId`.
    pub user_identifier: String,
    /// Requests per second; bursts of twice that are allowed.
    pub rate_limit: u32,
    /// The SCIM request log's options (absent in settings stored before it existed: defaults).
    #[serde(default)]
    pub request_log: RequestLogSettings,
}

/// What the SCIM request log (service::request_log) keeps of this connection's requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLogSettings {
    /// Personal data (userName, names, emails, phone numbers, addresses, any email-shaped text)
    /// in logged bodies, queries and explanations is replaced by a stable per-connection hash.
    #[serde(default)]
    pub mask_pii: bool,
    /// `scim.request.failed` events carry the (redacted, masked, capped) request and response
    /// bodies; without it they carry only what failed and why.
    #[serde(default)]
    pub failed_event_bodies: bool,
}

/// A change to [`RequestLogSettings`]; absent fields stay as they are.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLogUpdate {
    pub mask_pii: Option<bool>,
    pub failed_event_bodies: Option<bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idp: "generic".into(),
            user_identifier: "userName".into(),
            rate_limit: DEFAULT_RATE_LIMIT,
            request_log: RequestLogSettings::default(),
        }
    }
}

/// The settings an admin may change; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    pub idp: Option<String>,
    pub user_identifier: Option<String>,
    pub rate_limit: Option<u32>,
    pub request_log: Option<RequestLogUpdate>,
}

impl SettingsUpdate {
    /// Every problem, so the admin fixes them in one go.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(idp) = &self.idp {
            if !IDP_KINDS.contains(&idp.as_str()) {
                problems.push(format!("idp must be one of {}", IDP_KINDS.join(", ")));
            }
        }
        if let Some(id) = &self.user_identifier {
            if id != "userName" && id != "externalId" {
                problems.push("user_identifier must be userName or externalId".into());
            }
        }
        if let Some(rate) = self.rate_limit {
            if !(1..=MAX_RATE_LIMIT).contains(&rate) {
                problems.push(format!(
                    "rate_limit must be 1 to {MAX_RATE_LIMIT} requests/s"
                ));
            }
        }
        problems
    }
}

pub fn load(store: &dyn Store) -> Result<Settings, ScimError> {
    let row = store.query_one("SELECT value FROM setting WHERE key = 'settings'", &[])?;
    let Some(raw) = row.and_then(|r| opt_text(&r, 0)) else {
        return Ok(Settings::default());
    };
    serde_json::from_str(&raw)
        .map_err(|e| ScimError::internal_because(format!("stored settings unreadable: {e}")))
}

/// Applies an update after validating all of it; returns the new settings.
pub fn update(store: &dyn Store, body: &Value) -> Result<Settings, ScimError> {
    let update: SettingsUpdate = serde_json::from_value(body.clone())
        .map_err(|e| ScimError::invalid_value(format!("Invalid settings: {e}.")))?;
    let problems = update.problems();
    if !problems.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "Invalid settings: {}.",
            problems.join("; ")
        )));
    }
    let mut settings = load(store)?;
    if let Some(idp) = update.idp {
        settings.idp = idp;
    }
    if let Some(id) = update.user_identifier {
        settings.user_identifier = id;
    }
    if let Some(rate) = update.rate_limit {
        settings.rate_limit = rate;
    }
    if let Some(log) = update.request_log {
        if let Some(mask) = log.mask_pii {
            settings.request_log.mask_pii = mask;
        }
        if let Some(bodies) = log.failed_event_bodies {
            settings.request_log.failed_event_bodies = bodies;
        }
    }
    let raw =
        serde_json::to_string(&settings).map_err(|e| ScimError::internal_because(e.to_string()))?;
    store.execute(
        "INSERT INTO setting (key, value) VALUES ('settings', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[raw.into()],
    )?;
    Ok(settings)
}
