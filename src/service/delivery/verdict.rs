//! Verdicts on delivery attempts: ack, retry after a delay, or dead-letter; each target's
//! delivery health, and disabling an endpoint that keeps failing.

use serde::{Deserialize, Serialize};

use super::message::{Attempt, Delivery, TargetKind};
use super::retry_policy::{Decision, RetryPolicy};
use super::{dead_letter, webhook, MAX_BATCH, MAX_ERROR_LEN};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::event::Origin;
use crate::service::store::{int, Store};

/// `{policy?, attempts: [attempt…]}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RetryPolicy>,
    pub attempts: Vec<Attempt>,
}

/// `{version, decisions: [decision…]}`: one per attempt, in order; `version` is the
/// subscription version after them (a verdict may disable an endpoint), so the consumer knows
/// when its cached targets are stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptsAnswer {
    #[serde(default)]
    pub version: i64,
    pub decisions: Vec<Decision>,
}

/// `POST /internal/attempts` `{policy?, attempts:[…]}` → `{decisions:[…]}`, in order.
pub fn attempts(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    origin: Origin,
    body: AttemptsRequest,
) -> Result<AttemptsAnswer, ScimError> {
    let policy = body.policy.unwrap_or_default();
    policy
        .validate()
        .map_err(|e| ScimError::invalid_value(format!("policy: {e}.")))?;
    if body.attempts.len() > MAX_BATCH {
        return Err(ScimError::invalid_value(format!(
            "attempts may hold at most {MAX_BATCH} entries."
        )));
    }
    if let Some(i) = body.attempts.iter().position(|a| a.attempt == 0) {
        return Err(ScimError::invalid_value(format!(
            "attempts[{i}].attempt must be 1 or more (attempts count from 1)."
        )));
    }
    let decisions = body
        .attempts
        .iter()
        .map(|a| judge(store, random, now, &policy, a, origin))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AttemptsAnswer {
        version: super::target::subscription_version(store)?,
        decisions,
    })
}

/// The verdict on one attempt, with its effect on the target's health and dead letters.
pub fn judge(
    store: &dyn Store,
    random: &mut dyn Random,
    now: Timestamp,
    policy: &RetryPolicy,
    attempt: &Attempt,
    origin: Origin,
) -> Result<Decision, ScimError> {
    let kind = attempt.delivery.kind();
    let (table, id) = (kind.table(), attempt.delivery.target());
    let at = now.to_rfc3339();
    let enabled = store
        .query_one(
            &format!("SELECT enabled FROM {table} WHERE id = ?"),
            &[id.into()],
        )?
        .map(|row| int(&row, 0))
        .transpose()?
        .map(|e| e != 0);
    if attempt.ok {
        store.execute(
            &format!(
                "UPDATE {table} SET consecutive_failures = 0, consecutive_dead_letters = 0,
                     last_success_at = ?
                 WHERE id = ?"
            ),
            &[at.into(), id.into()],
        )?;
        return Ok(Decision::Ack);
    }
    let error = failure_text(store, attempt)?;
    match enabled {
        // Deleted: nowhere to send it and nothing to keep it under.
        None => Ok(Decision::DeadLetter),
        // Disabled: kept for replay once re-enabled; the health that explains why the target
        // was disabled is left as it is.
        Some(false) => {
            dead_letter::record(store, random, now, attempt, &error)?;
            Ok(Decision::DeadLetter)
        }
        Some(true) => {
            store.execute(
                &format!(
                    "UPDATE {table} SET consecutive_failures = consecutive_failures + 1,
                         last_failure_at = ?, last_error = ?
                     WHERE id = ?"
                ),
                &[at.into(), error.clone().into(), id.into()],
            )?;
            let decision = policy.after_failure(attempt.attempt);
            if decision == Decision::DeadLetter {
                dead_letter::record(store, random, now, attempt, &error)?;
                store.execute(
                    &format!(
                        "UPDATE {table} SET consecutive_dead_letters = consecutive_dead_letters + 1
                         WHERE id = ?"
                    ),
                    &[id.into()],
                )?;
                let in_a_row = store
                    .query_one(
                        &format!("SELECT consecutive_dead_letters FROM {table} WHERE id = ?"),
                        &[id.into()],
                    )?
                    .map(|row| int(&row, 0))
                    .transpose()?
                    .unwrap_or(0);
                let limit = i64::from(policy.disable_after);
                if kind == TargetKind::Webhook && limit > 0 && in_a_row >= limit {
                    let reason = format!(
                        "{in_a_row} deliveries in a row were dead-lettered; last error: {error}"
                    );
                    webhook::disable(store, random, now, id, &truncate(&reason), origin)?;
                }
            }
            Ok(decision)
        }
    }
}

/// What an attempt's failure is recorded as: `HTTP <status>: <error>`, with the target's signing
/// secrets (and anything shaped like one) removed, at most [`MAX_ERROR_LEN`] characters.
fn failure_text(store: &dyn Store, attempt: &Attempt) -> Result<String, ScimError> {
    let detail = attempt.error.as_deref().map(str::trim).unwrap_or_default();
    let text = match (attempt.status, detail) {
        (Some(status), "") => format!("HTTP {status}"),
        // The consumer's own text for a status already names it.
        (Some(status), detail) if detail.starts_with(&format!("HTTP {status}")) => {
            detail.to_owned()
        }
        (Some(status), detail) => format!("HTTP {status}: {detail}"),
        (None, "") => "delivery failed".to_owned(),
        (None, detail) => detail.to_owned(),
    };
    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Delivery::Webhook { target, .. } = &attempt.delivery {
        for secret in webhook::secrets(store, target)? {
            text = text.replace(&secret, "[secret]");
        }
    }
    Ok(truncate(&redact_secret_shapes(&text)))
}

/// Replaces every `whsec_…` token with `whsec_[redacted]`.
fn redact_secret_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("whsec_") {
        out.push_str(&rest[..i]);
        out.push_str("whsec_[redacted]");
        let tail = &rest[i + "whsec_".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c)))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// At most [`MAX_ERROR_LEN`] characters.
fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_shapes_are_redacted() {
        assert_eq!(
            redact_secret_shapes("bad sig whsec_abc+/= for whsec_Zz9, ok"),
            "bad sig whsec_[redacted] for whsec_[redacted], ok"
        );
    }
}
