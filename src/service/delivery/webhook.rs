//! Webhook endpoints: where the app wants connection events POSTed, signed with the endpoint's
//! secret. Admin routes `/webhooks…` (the edge forwards `/admin/v1/webhooks…`); each change is
//! recorded in the registry's event log in the same transaction.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::log_stream::{self, Format};
use super::outbound_url::{self, OutboundPolicy};
use super::signature::new_secret;
use super::target::{self, Body};
use crate::scim::ScimError;
use crate::service::clock::{random_id, Random, Timestamp};
use crate::service::event::{self, kind, Event, Origin};
use crate::service::page::{cursor, PageRequest};
use crate::service::store::{int, opt_text, text, Row, Store};

/// Longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Most `event_types` entries one endpoint may list.
pub const MAX_EVENT_TYPES: usize = 50;
/// Largest page of `GET /webhooks`.
pub const MAX_PAGE: i64 = 100;
/// How long the replaced secret still signs deliveries after a rotation.
pub const PREVIOUS_SECRET_SECONDS: i64 = 24 * 3600;

const COLUMNS: &str = "id, url, description, event_types, connection_ids, enabled, created_at, \
     updated_at, disabled_at, disabled_reason, consecutive_failures, last_success_at, \
     last_failure_at, last_error, previous_secret_expires_at, format, batch_size, \
     credential IS NOT NULL";

/// Whether an `event_types` entry (`*`, an exact type, or a prefix pattern such as `user.*`)
/// selects events of type `kind`.
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) if prefix.ends_with('.') => kind.starts_with(prefix),
        _ => pattern == kind,
    }
}

/// Whether `pattern` selects at least one known type (`*` and exact types included).
fn known_pattern(pattern: &str) -> bool {
    pattern == "*"
        || match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('.') => {
                Event::TYPES.iter().any(|t| t.starts_with(prefix))
            }
            Some(_) => false,
            None => Event::TYPES.contains(&pattern),
        }
}

/// `event_types` as sent: a non-empty list of known types and patterns, duplicates dropped.
pub fn event_types(value: &Value) -> Result<Vec<String>, ScimError> {
    let hint = || {
        format!(
            "use exact types ({}), a prefix pattern such as user.* or group.member.*, or * for all",
            Event::TYPES.join(", ")
        )
    };
    let Some(items) = value.as_array() else {
        return Err(ScimError::invalid_value(format!(
            "event_types must be a list of event types; {}.",
            hint()
        )));
    };
    if items.is_empty() || items.len() > MAX_EVENT_TYPES {
        return Err(ScimError::invalid_value(format!(
            "event_types must list 1 to {MAX_EVENT_TYPES} entries."
        )));
    }
    let mut types: Vec<String> = Vec::new();
    let mut unknown = Vec::new();
    for item in items {
        match item.as_str() {
            Some(t) if known_pattern(t) => {
                if !types.iter().any(|known| known == t) {
                    types.push(t.to_owned());
                }
            }
            Some(t) => unknown.push(format!("'{t}'")),
            None => unknown.push(item.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "event_types: unknown event type(s) {}; {}.",
            unknown.join(", "),
            hint()
        )));
    }
    Ok(types)
}

/// A description, trimmed: at most [`MAX_DESCRIPTION_LEN`] characters; empty is none.
pub fn description(raw: Option<&str>) -> Result<Option<String>, ScimError> {
    let Some(d) = raw.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(ScimError::invalid_value(format!(
            "description must be at most {MAX_DESCRIPTION_LEN} characters."
        )));
    }
    Ok(Some(d.to_owned()))
}

/// `scheme://host[:port]` of a URL: what the event log says about it (a path or query may
/// carry a token, as some receivers' URLs do).
pub fn url_origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            format!("{}://{}", scheme.to_ascii_lowercase(), &rest[..end])
        }
        None => String::new(),
    }
}

/// The endpoint as the admin API shows it: settings and delivery health, never a secret.
fn view(row: &Row, now: Timestamp) -> Result<Value, ScimError> {
    let parse = |i: usize| -> Value {
        opt_text(row, i)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null)
    };
    let previous_until = opt_text(row, 14).filter(|t| *t > now.to_rfc3339());
    Ok(json!({
        "id": text(row, 0)?,
        "url": text(row, 1)?,
        "description": opt_text(row, 2),
        "event_types": parse(3),
        "connection_ids": target::connection_ids_json(opt_text(row, 4).as_deref()),
        "enabled": int(row, 5)? != 0,
        "created_at": text(row, 6)?,
        "updated_at": text(row, 7)?,
        "disabled_at": opt_text(row, 8),
        "disabled_reason": opt_text(row, 9),
        "consecutive_failures": int(row, 10)?,
        "last_success_at": opt_text(row, 11),
        "last_failure_at": opt_text(row, 12),
        "last_error": opt_text(row, 13),
        "previous_secret_expires_at": previous_until,
        "format": text(row, 15)?,
        "batch_size": int(row, 16)?,
        "credential_set": int(row, 17)? != 0,
    }))
}

fn load(store: &dyn Store, id: &str) -> Result<Row, ScimError> {
    store
        .query_one(
            &format!("SELECT {COLUMNS} FROM webhook WHERE id = ?"),
            &[id.into()],
        )?
        .ok_or_else(|| ScimError::not_found(format!("Webhook {id} not found.")))
}

/// `POST /webhooks` → 201 with the secret, the only time besides a rotation that it is shown.
pub fn create(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    body: Map<String, Value>,
    policy: OutboundPolicy,
) -> Result<Value, ScimError> {
    let body = Body::new(
        body,
        &[
            "url",
            "description",
            "event_types",
            "connection_ids",
            "format",
            "batch_size",
            "credential",
        ],
    )?;
    let url = body.required_str("url")?;
    outbound_url::validate("url", url, policy)?;
    let description = description(body.nullable_str("description")?.flatten())?;
    let delivery = DeliveryFormat::from_body(&body, None)?;
    let types = match body.get("event_types") {
        None | Some(Value::Null) => vec!["*".to_owned()],
        Some(v) => event_types(v)?,
    };
    let connection_ids =
        target::connection_ids(store, body.get("connection_ids").unwrap_or(&Value::Null))?;
    let id = random_id(random, "wh_", 12)?;
    let secret = new_secret(random)?;
    let at = now.to_rfc3339();
    store.execute(
        "INSERT INTO webhook (id, url, description, event_types, connection_ids, enabled, secret,
             created_at, updated_at, format, batch_size, credential)
         VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
        &[
            id.clone().into(),
            url.into(),
            description.clone().into(),
            Value::from(types.clone()).to_string().into(),
            target::store_connection_ids(&connection_ids).into(),
            secret.clone().into(),
            at.clone().into(),
            at.into(),
            delivery.format.as_str().into(),
            i64::from(delivery.batch_size).into(),
            delivery.credential.clone().into(),
        ],
    )?;
    let event = Event::WebhookCreated(kind::WebhookCreated {
        webhook_id: id.clone(),
        url_origin: url_origin(url),
        description: description.clone(),
        event_types: types.clone(),
        connection_ids: connection_ids.clone(),
        format: delivery.format.as_str(),
    });
    event::record(store, random, now, origin, &event)?;
    let mut shown = view(&load(store, &id)?, now)?;
    if let Some(obj) = shown.as_object_mut() {
        obj.insert("secret".into(), secret.into());
    }
    Ok(shown)
}

/// `GET /webhooks?after=&limit=`: creation order; `next_after` continues.
pub fn list(store: &dyn Store, now: Timestamp, page: PageRequest) -> Result<Value, ScimError> {
    let (limit, after_seq) = cursor(store, "webhook", page, (MAX_PAGE, MAX_PAGE))?;
    let rows = store.query(
        &format!("SELECT {COLUMNS} FROM webhook WHERE seq > ? ORDER BY seq LIMIT ?"),
        &[after_seq.into(), (limit + 1).into()],
    )?;
    let more = rows.len() as i64 > limit;
    let webhooks = rows
        .iter()
        .take(limit as usize)
        .map(|r| view(r, now))
        .collect::<Result<Vec<_>, _>>()?;
    let next = if more {
        webhooks.last().and_then(|w| w.get("id")).cloned()
    } else {
        None
    };
    Ok(json!({"webhooks": webhooks, "next_after": next}))
}

/// `GET /webhooks/{id}`.
pub fn get(store: &dyn Store, now: Timestamp, id: &str) -> Result<Value, ScimError> {
    view(&load(store, id)?, now)
}

/// `PATCH /webhooks/{id}`: any of url, description, event_types, connection_ids, enabled.
/// `enabled: true` on a disabled endpoint re-enables it and clears its failure record.
pub fn update(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    id: &str,
    origin: Origin,
    body: Map<String, Value>,
    policy: OutboundPolicy,
) -> Result<Value, ScimError> {
    let row = load(store, id)?;
    let was_enabled = int(&row, 5)? != 0;
    let body = Body::new(
        body,
        &[
            "url",
            "description",
            "event_types",
            "connection_ids",
            "enabled",
            "format",
            "batch_size",
            "credential",
        ],
    )?;
    let at = now.to_rfc3339();
    let mut changed: Vec<&str> = Vec::new();
    let mut data = serde_json::Map::new();
    if ["format", "batch_size", "credential"]
        .iter()
        .any(|m| body.has(m))
    {
        let current = DeliveryFormat::stored(store, id)?;
        let next = DeliveryFormat::from_body(&body, Some(&current))?;
        store.execute(
            "UPDATE webhook SET format = ?, batch_size = ?, credential = ? WHERE id = ?",
            &[
                next.format.as_str().into(),
                i64::from(next.batch_size).into(),
                next.credential.clone().into(),
                id.into(),
            ],
        )?;
        for (member, differs) in [
            ("format", next.format != current.format),
            ("batch_size", next.batch_size != current.batch_size),
            ("credential", next.credential != current.credential),
        ] {
            if differs {
                changed.push(member);
            }
        }
        if next.format != current.format {
            data.insert("format".into(), next.format.as_str().into());
        }
        if next.batch_size != current.batch_size {
            data.insert("batch_size".into(), next.batch_size.into());
        }
    }
    if body.has("url") {
        let url = body.required_str("url")?;
        outbound_url::validate("url", url, policy)?;
        store.execute(
            "UPDATE webhook SET url = ? WHERE id = ?",
            &[url.into(), id.into()],
        )?;
        changed.push("url");
        data.insert("url_origin".into(), url_origin(url).into());
    }
    if let Some(raw) = body.nullable_str("description")? {
        let d = description(raw)?;
        store.execute(
            "UPDATE webhook SET description = ? WHERE id = ?",
            &[d.clone().into(), id.into()],
        )?;
        changed.push("description");
        data.insert("description".into(), d.into());
    }
    if let Some(v) = body.get("event_types") {
        let types = event_types(v)?;
        store.execute(
            "UPDATE webhook SET event_types = ? WHERE id = ?",
            &[Value::from(types.clone()).to_string().into(), id.into()],
        )?;
        changed.push("event_types");
        data.insert("event_types".into(), types.into());
    }
    if let Some(v) = body.get("connection_ids") {
        let ids = target::connection_ids(store, v)?;
        store.execute(
            "UPDATE webhook SET connection_ids = ? WHERE id = ?",
            &[target::store_connection_ids(&ids).into(), id.into()],
        )?;
        changed.push("connection_ids");
        data.insert("connection_ids".into(), json!(ids));
    }
    match body.bool("enabled")? {
        Some(true) if !was_enabled => {
            store.execute(
                "UPDATE webhook SET enabled = 1, disabled_at = NULL, disabled_reason = NULL,
                     consecutive_failures = 0, consecutive_dead_letters = 0, last_error = NULL
                 WHERE id = ?",
                &[id.into()],
            )?;
            let event = Event::WebhookEnabled(kind::WebhookId {
                webhook_id: id.to_owned(),
            });
            event::record(store, random, now, origin, &event)?;
        }
        Some(false) if was_enabled => {
            disable(
                store,
                random,
                now,
                id,
                "Disabled through the admin API.",
                origin,
            )?;
        }
        _ => {}
    }
    if !changed.is_empty() || body.has("enabled") {
        store.execute(
            "UPDATE webhook SET updated_at = ? WHERE id = ?",
            &[at.into(), id.into()],
        )?;
    }
    if !changed.is_empty() {
        data.insert("webhook_id".into(), id.into());
        data.insert("changed".into(), json!(changed));
        let event = Event::WebhookUpdated(kind::Changes(data));
        event::record(store, random, now, origin, &event)?;
    }
    get(store, now, id)
}

/// Disables an endpoint: no more deliveries are fanned out to it; queued ones dead-letter.
pub fn disable(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    id: &str,
    reason: &str,
    origin: Origin,
) -> Result<(), ScimError> {
    let at = now.to_rfc3339();
    store.execute(
        "UPDATE webhook SET enabled = 0, disabled_at = ?, disabled_reason = ?, updated_at = ?
         WHERE id = ?",
        &[at.clone().into(), reason.into(), at.into(), id.into()],
    )?;
    let event = Event::WebhookDisabled(kind::WebhookDisabled {
        webhook_id: id.to_owned(),
        reason: reason.to_owned(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(())
}

/// `DELETE /webhooks/{id}`: the endpoint and its dead letters.
pub fn delete(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    id: &str,
    origin: Origin,
) -> Result<(), ScimError> {
    load(store, id)?;
    let event = Event::WebhookDeleted(kind::WebhookId {
        webhook_id: id.to_owned(),
    });
    super::dead_letter::delete_target(
        store,
        random,
        now,
        super::message::TargetKind::Webhook,
        id,
        origin,
        &event,
    )
}

/// `POST /webhooks/{id}/rotate-secret` → `{secret, previous_secret_expires_at}`. The replaced
/// secret keeps signing (alongside the new one) for [`PREVIOUS_SECRET_SECONDS`], so receivers
/// can switch without dropping a delivery.
pub fn rotate_secret(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    id: &str,
    origin: Origin,
) -> Result<Value, ScimError> {
    load(store, id)?;
    let secret = new_secret(random)?;
    let until = now.plus_seconds(PREVIOUS_SECRET_SECONDS).to_rfc3339();
    store.execute(
        "UPDATE webhook SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?,
             updated_at = ?
         WHERE id = ?",
        &[
            until.clone().into(),
            secret.clone().into(),
            now.to_rfc3339().into(),
            id.into(),
        ],
    )?;
    let event = Event::WebhookSecretRotated(kind::WebhookSecretRotated {
        webhook_id: id.to_owned(),
        previous_secret_expires_at: until.clone(),
    });
    event::record(store, random, now, origin, &event)?;
    Ok(json!({"secret": secret, "previous_secret_expires_at": until}))
}

/// How an endpoint takes its deliveries: the [`Format`], how many events one POST may carry,
/// and the log system's credential (never shown by the admin API once set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFormat {
    pub format: Format,
    pub batch_size: u32,
    pub credential: Option<String>,
}

impl DeliveryFormat {
    /// The endpoint's stored settings.
    fn stored(store: &dyn Store, id: &str) -> Result<DeliveryFormat, ScimError> {
        let row = store
            .query_one(
                "SELECT format, batch_size, credential FROM webhook WHERE id = ?",
                &[id.into()],
            )?
            .ok_or_else(|| ScimError::not_found(format!("Webhook {id} not found.")))?;
        Ok(DeliveryFormat {
            format: Format::from_stored(&text(&row, 0)?),
            batch_size: u32::try_from(int(&row, 1)?).unwrap_or(1),
            credential: opt_text(&row, 2),
        })
    }

    /// `format`, `batch_size` and `credential` of a create (`current` `None`) or update body.
    /// A change of format without a `batch_size` takes the new format's default; a format that
    /// needs a credential (Datadog, Splunk HEC) refuses to be without one. `credential: null`
    /// clears it.
    fn from_body(
        body: &Body,
        current: Option<&DeliveryFormat>,
    ) -> Result<DeliveryFormat, ScimError> {
        let format =
            match body.get("format") {
                None => current.map(|c| c.format).unwrap_or_default(),
                Some(Value::String(name)) => Format::parse(name)?,
                Some(_) => return Err(ScimError::invalid_value(
                    "format must be a string: standard_webhooks, ndjson, datadog or splunk_hec.",
                )),
            };
        let batch_size = match body.get("batch_size") {
            Some(v) => log_stream::batch_size(v)?,
            None => match current {
                Some(c) if c.format == format => c.batch_size,
                _ => format.default_batch_size(),
            },
        };
        let credential = match body.nullable_str("credential")? {
            None => current.and_then(|c| c.credential.clone()),
            Some(None) => None,
            Some(Some(raw)) => Some(log_stream::credential(raw)?),
        };
        if format.needs_credential() && credential.is_none() {
            return Err(ScimError::invalid_value(format!(
                "format {} needs a credential: {}.",
                format.as_str(),
                match format {
                    Format::Datadog => "the Datadog API key (sent as DD-API-KEY)",
                    _ => "the HEC token (sent as Authorization: Splunk <token>)",
                }
            )));
        }
        Ok(DeliveryFormat {
            format,
            batch_size,
            credential,
        })
    }
}

/// What the delivery worker needs to send to an endpoint: `{url, secrets, enabled, format,
/// batch_size, credential}`, with the current secret first and the previous one while it is
/// still valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    pub url: String,
    pub secrets: Vec<String>,
    pub enabled: bool,
    /// [`Format::as_str`]; `standard_webhooks` when absent.
    #[serde(default = "standard_webhooks")]
    pub format: String,
    #[serde(default = "one")]
    pub batch_size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

fn standard_webhooks() -> String {
    Format::StandardWebhooks.as_str().to_owned()
}

fn one() -> u32 {
    1
}

/// The [`WebhookTarget`] of endpoint `id`; `None`: no such endpoint.
pub fn target(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
) -> Result<Option<WebhookTarget>, ScimError> {
    let row = store.query_one(
        "SELECT url, enabled, secret, previous_secret, previous_secret_expires_at, format,
             batch_size, credential
         FROM webhook WHERE id = ?",
        &[id.into()],
    )?;
    let Some(row) = row else { return Ok(None) };
    let mut secrets = vec![text(&row, 2)?];
    if let (Some(previous), Some(until)) = (opt_text(&row, 3), opt_text(&row, 4)) {
        if until > now.to_rfc3339() {
            secrets.push(previous);
        }
    }
    Ok(Some(WebhookTarget {
        url: text(&row, 0)?,
        secrets,
        enabled: int(&row, 1)? != 0,
        format: text(&row, 5)?,
        batch_size: u32::try_from(int(&row, 6)?).unwrap_or(1),
        credential: opt_text(&row, 7),
    }))
}

/// The secrets an endpoint signs and authenticates with, current first, and its credential (for
/// scrubbing them out of error text).
pub fn secrets(store: &dyn Store, id: &str) -> Result<Vec<String>, ScimError> {
    let row = store.query_one(
        "SELECT secret, previous_secret, credential FROM webhook WHERE id = ?",
        &[id.into()],
    )?;
    Ok(row
        .map(|r| {
            [opt_text(&r, 0), opt_text(&r, 1), opt_text(&r, 2)]
                .into_iter()
                .flatten()
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_prefix_and_all() {
        assert!(type_matches("*", "user.created"));
        assert!(type_matches("user.*", "user.sessions_revoked"));
        assert!(type_matches("group.member.*", "group.member.added"));
        assert!(!type_matches("group.member.*", "group.created"));
        assert!(!type_matches("user.*", "users.created"));
        assert!(type_matches("user.created", "user.created"));
        assert!(!type_matches("user.created", "user.created2"));
        assert!(!type_matches("user*", "user.created"));
    }

    #[test]
    fn unknown_types_and_patterns_are_refused() {
        assert!(event_types(&json!(["user.*", "*", "group.member.removed"])).is_ok());
        for bad in [
            json!(["user.exploded"]),
            json!(["users.*"]),
            json!(["user*"]),
            json!(["*.created"]),
            json!([1]),
            json!([]),
            json!("user.created"),
        ] {
            assert!(event_types(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            event_types(&json!(["user.*", "user.*"])).ok(),
            Some(vec!["user.*".to_owned()])
        );
    }

    #[test]
    fn the_log_sees_only_the_url_origin() {
        assert_eq!(
            url_origin("HTTPS://hooks.example.com:8443/services/T0/B0/secret?x=1"),
            "https://hooks.example.com:8443"
        );
    }
}
