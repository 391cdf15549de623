//! The queue consumer's side of deprovisioning receipts (service::session::receipt): after a
//! fan-out it tells each connection's object which back-channel logouts go out for its
//! `user.sessions_revoked` events, and after the registry's verdicts how each logout attempt
//! went. One call per connection per batch, straight to the connection's object (never through
//! the registry), at `/internal/deprovisionings/…`, a path the Worker never forwards.
//!
//! Receipts never hold up a logout: a failed call is logged (and tried once more), and the
//! deliveries go ahead regardless.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;
use worker::Env;

use super::stub::{connection_stub, post_json};
use crate::service::delivery::fanout::FanoutAnswer;
use crate::service::delivery::message::{Attempt, Envelope};
use crate::service::delivery::retry_policy::Decision;
use crate::service::session::receipt::report::{attempt_reports, expectations, ExpectRequest};

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// What to announce after a fan-out of `events` (as sent to the registry) answered by `answer`:
/// computed before the deliveries are taken out of the answer, sent by [`announce`].
pub fn expected(events: &[Envelope], answer: &FanoutAnswer) -> BTreeMap<String, ExpectRequest> {
    expectations(events, answer, now_ms())
}

/// Tells each connection which logouts go out for its events (a receipt without any completes
/// then).
pub async fn announce(env: &Env, expected: BTreeMap<String, ExpectRequest>) {
    send_all(env, "/internal/deprovisionings/expected", &expected).await;
}

/// After the registry's verdicts (`decisions[i]` on `attempts[i]`): tells each connection how its
/// logout attempts went.
pub async fn report(env: &Env, attempts: &[Attempt], decisions: &[Decision]) {
    let reports = attempt_reports(attempts, decisions, now_ms());
    send_all(env, "/internal/deprovisionings/attempts", &reports).await;
}

async fn send_all(env: &Env, path: &str, bodies: &BTreeMap<String, impl Serialize>) {
    let calls = bodies.iter().map(|(connection_id, body)| async move {
        let mut outcome = Err(String::new());
        for _ in 0..2 {
            outcome = post(env, connection_id, path, body).await;
            if outcome.is_ok() {
                break;
            }
        }
        if let Err(e) = outcome {
            worker::console_error!("receipts: {path} for {connection_id} failed: {e}");
        }
    });
    join_all(calls).await;
}

async fn post(
    env: &Env,
    connection_id: &str,
    path: &str,
    body: &impl Serialize,
) -> Result<(), String> {
    let stub = connection_stub(env, connection_id).map_err(|e| e.to_string())?;
    post_json(&stub, &format!("https://connection{path}"), body)
        .await
        .map(|_| ())
}
