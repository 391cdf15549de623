//! The `EVENTS` queue consumer. Two kinds of message travel on the queue:
//!
//! - an event envelope (`{"id": "evt_…", …}`), sent by a connection's object from its outbox:
//!   the registry fans it out into deliveries, which go back on the queue;
//! - a delivery (`{"kind": "webhook" | "logout", "target", "event", "attempt", …}`): one HTTP
//!   POST to one webhook endpoint or one client's back-channel logout URI. The registry judges
//!   each attempt (ack, retry after a delay, dead letter); a retry is a new message carrying the
//!   next attempt number, sent with that delay.
//!
//! The handler never returns an error (that would fail the whole batch): every message is acked
//! or retried on its own.

use std::collections::HashMap;

use futures_util::future::join_all;
use serde_json::{json, Value};
use worker::{
    Env, Fetch, Headers, MessageBatch, MessageExt, Method, QueueRetryOptionsBuilder, RawMessage,
    Request, RequestInit,
};

use crate::service::clock::{OsRandom, Random};
use crate::service::delivery::logout_token::{finish, LogoutClaims, SigningKeys};
use crate::service::delivery::signature::{parse_secret, signature_header, WebhookSecret};

/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT_MS: u32 = 10_000;
/// Delay before a message the consumer could not process at all comes back.
const BACKOFF_SECONDS: u32 = 15;
/// Lifetime of a logout token (`exp - iat`).
const LOGOUT_TOKEN_SECONDS: i64 = 120;

pub async fn consume(batch: MessageBatch<Value>, env: Env) {
    let mut events = Vec::new();
    let mut deliveries = Vec::new();
    for message in batch.raw_iter() {
        let body = message.body().as_string().unwrap_or_default();
        match serde_json::from_str::<Value>(&body) {
            Ok(v) if v.get("kind").and_then(Value::as_str).is_some() => {
                deliveries.push((message, v))
            }
            Ok(v) if v.get("id").and_then(Value::as_str).is_some() => events.push((message, v)),
            _ => {
                // Nothing can ever make sense of it: drop it rather than loop.
                worker::console_error!(
                    "queue: dropping a message that is neither event nor delivery"
                );
                message.ack();
            }
        }
    }
    if !events.is_empty() {
        fan_out(&env, events).await;
    }
    if !deliveries.is_empty() {
        deliver(&env, deliveries).await;
    }
}

fn retry_later(message: &RawMessage) {
    message.retry_with_options(
        &QueueRetryOptionsBuilder::new()
            .with_delay_seconds(BACKOFF_SECONDS)
            .build(),
    );
}

/// Events → deliveries (one per matching webhook endpoint and logout target), enqueued; then
/// the events are acked. Any failure retries the events: deliveries are idempotent by event id.
async fn fan_out(env: &Env, events: Vec<(RawMessage, Value)>) {
    // The registry routes on type and connection (and, for revoked sessions, on the sessions):
    // it gets the envelopes without their data otherwise, and each delivery gets its full
    // envelope back here.
    let full: HashMap<&str, &Value> = events
        .iter()
        .filter_map(|(_, v)| Some((v.get("id")?.as_str()?, v)))
        .collect();
    let slim: Vec<Value> = events
        .iter()
        .map(|(_, v)| {
            let mut v = v.clone();
            if v["type"] != "user.sessions_revoked" {
                if let Some(o) = v.as_object_mut() {
                    o.remove("data");
                }
            }
            v
        })
        .collect();
    let outcome = async {
        let answer = registry_call(env, "/internal/fanout", &json!({"events": slim})).await?;
        let deliveries = answer
            .get("deliveries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let messages: Vec<String> = deliveries
            .into_iter()
            .map(|mut d| {
                let id = d["event"]["id"].as_str().unwrap_or_default();
                if let Some(envelope) = full.get(id) {
                    d["event"] = (*envelope).clone();
                }
                d["attempt"] = json!(1);
                d.to_string()
            })
            .collect();
        enqueue(env, messages, 0).await
    }
    .await;
    for (message, _) in &events {
        match &outcome {
            Ok(()) => message.ack(),
            Err(_) => retry_later(message),
        }
    }
    if let Err(e) = outcome {
        worker::console_error!(
            "queue: fan-out failed, retrying {} events: {e}",
            events.len()
        );
    }
}

/// Sends messages to the `EVENTS` queue, 100 at a time, after `delay` seconds.
pub async fn enqueue(env: &Env, messages: Vec<String>, delay: u32) -> Result<(), String> {
    if messages.is_empty() {
        return Ok(());
    }
    let queue = env.queue("EVENTS").map_err(|e| e.to_string())?;
    for chunk in messages.chunks(100) {
        let batch = worker::BatchMessageBuilder::new()
            .messages(chunk.to_vec())
            .delay_seconds(delay)
            .build();
        queue.send_batch(batch).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Where and how to deliver, as the registry knows it now.
struct Targets(Value);

impl Targets {
    fn webhook(&self, id: &str) -> Option<(String, Vec<WebhookSecret>)> {
        let w = self.0.get("webhooks")?.get(id)?;
        let url = w.get("url")?.as_str()?.to_owned();
        let secrets = w
            .get("secrets")?
            .as_array()?
            .iter()
            .filter_map(|s| parse_secret(s.as_str()?).ok())
            .collect::<Vec<_>>();
        (!secrets.is_empty()).then_some((url, secrets))
    }

    fn client(&self, id: &str) -> Option<String> {
        let c = self.0.get("clients")?.get(id)?;
        Some(c.get("uri")?.as_str()?.to_owned())
    }
}

/// One attempt per delivery, concurrently; the registry judges them all in one call.
async fn deliver(env: &Env, deliveries: Vec<(RawMessage, Value)>) {
    let ids = |kind: &str| -> Vec<&str> {
        let mut ids: Vec<&str> = deliveries
            .iter()
            .filter(|(_, d)| d["kind"] == kind)
            .filter_map(|(_, d)| d["target"].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let query = json!({"webhooks": ids("webhook"), "clients": ids("logout")});
    let targets = match registry_call(env, "/internal/targets", &query).await {
        Ok(t) => Targets(t),
        Err(e) => {
            worker::console_error!("queue: could not read delivery targets: {e}");
            deliveries.iter().for_each(|(m, _)| retry_later(m));
            return;
        }
    };
    let keys = signing_keys(env);
    let issuer = env
        .var("LOGOUT_ISSUER")
        .map(|v| v.to_string())
        .unwrap_or_default();
    let attempts = join_all(
        deliveries
            .iter()
            .map(|(_, d)| attempt(d, &targets, keys.as_ref(), &issuer)),
    )
    .await;
    let report: Vec<Value> = deliveries
        .iter()
        .zip(&attempts)
        .map(|((_, d), outcome)| {
            let mut delivery = d.clone();
            let attempt = delivery
                .as_object_mut()
                .and_then(|o| o.remove("attempt"))
                .and_then(|a| a.as_u64())
                .unwrap_or(1);
            let mut entry = json!({"delivery": delivery, "attempt": attempt, "ok": outcome.ok});
            if let Some(status) = outcome.status {
                entry["status"] = json!(status);
            }
            if let Some(error) = &outcome.error {
                entry["error"] = json!(error);
            }
            entry
        })
        .collect();
    let body = json!({"policy": policy(env), "attempts": report});
    let decisions = match registry_call(env, "/internal/attempts", &body).await {
        Ok(answer) => answer
            .get("decisions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Err(e) => {
            worker::console_error!("queue: could not record delivery attempts: {e}");
            Vec::new()
        }
    };
    for (index, (message, delivery)) in deliveries.iter().enumerate() {
        let Some(decision) = decisions.get(index) else {
            // The registry did not judge it: try the same attempt again later.
            retry_later(message);
            continue;
        };
        match decision["action"].as_str() {
            Some("retry") => {
                let delay = decision["delay_seconds"].as_u64().unwrap_or(60).min(43_200) as u32;
                let mut next = delivery.clone();
                next["attempt"] = json!(delivery["attempt"].as_u64().unwrap_or(1) + 1);
                match enqueue(env, vec![next.to_string()], delay).await {
                    Ok(()) => message.ack(),
                    Err(e) => {
                        worker::console_error!("queue: could not schedule a retry: {e}");
                        retry_later(message);
                    }
                }
            }
            // "ack" and "dead_letter": the registry has what it needs.
            _ => message.ack(),
        }
    }
}

struct Outcome {
    ok: bool,
    status: Option<u16>,
    error: Option<String>,
}

impl Outcome {
    fn failed(error: impl Into<String>) -> Self {
        Outcome {
            ok: false,
            status: None,
            error: Some(error.into()),
        }
    }
}

async fn attempt(
    delivery: &Value,
    targets: &Targets,
    keys: Option<&SigningKeys>,
    issuer: &str,
) -> Outcome {
    let target = delivery["target"].as_str().unwrap_or_default();
    let now = worker::Date::now().as_millis() as i64 / 1000;
    let request = match delivery["kind"].as_str() {
        Some("webhook") => {
            let Some((url, secrets)) = targets.webhook(target) else {
                return Outcome::failed("the webhook endpoint no longer exists");
            };
            let body = delivery["event"].to_string();
            let id = delivery["event"]["id"].as_str().unwrap_or_default();
            let refs: Vec<&WebhookSecret> = secrets.iter().collect();
            let signature = signature_header(&refs, id, now, body.as_bytes());
            post(
                &url,
                "application/json",
                body,
                &[
                    ("webhook-id", id),
                    ("webhook-timestamp", &now.to_string()),
                    ("webhook-signature", &signature),
                ],
            )
        }
        Some("logout") => {
            let Some(uri) = targets.client(target) else {
                return Outcome::failed("the client is no longer registered");
            };
            let Some(keys) = keys else {
                return Outcome::failed("LOGOUT_SIGNING_KEYS is not configured");
            };
            let claims = LogoutClaims {
                iss: issuer.to_owned(),
                aud: target.to_owned(),
                iat: now,
                exp: now + LOGOUT_TOKEN_SECONDS,
                jti: random_id(),
                sub: delivery["sub"].as_str().map(str::to_owned),
                sid: delivery["sid"].as_str().map(str::to_owned),
            };
            let token = match sign(keys, &claims).await {
                Ok(t) => t,
                Err(e) => return Outcome::failed(format!("could not sign the logout token: {e}")),
            };
            // A JWS is base64url and dots: nothing to escape in a form value.
            post(
                &uri,
                "application/x-www-form-urlencoded",
                format!("logout_token={token}"),
                &[],
            )
        }
        _ => return Outcome::failed("unknown delivery kind"),
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => return Outcome::failed(format!("could not build the request: {e}")),
    };
    let signal: worker::AbortSignal =
        web_sys::AbortSignal::timeout_with_u32(ATTEMPT_TIMEOUT_MS).into();
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(response) => {
            let status = response.status_code();
            Outcome {
                ok: (200..300).contains(&status),
                status: Some(status),
                error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
            }
        }
        Err(e) => Outcome::failed(format!("request failed: {e}")),
    }
}

fn post(
    url: &str,
    content_type: &str,
    body: String,
    headers: &[(&str, &str)],
) -> worker::Result<Request> {
    let all = Headers::new();
    all.set("content-type", content_type)?;
    all.set("user-agent", "scim-edge")?;
    for (name, value) in headers {
        all.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(all)
        .with_body(Some(body.into()));
    Request::new_with_init(url, &init)
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if OsRandom.fill(&mut bytes).is_err() {
        // Practically impossible; a jti only needs to be unique, the clock keeps it so.
        return format!("jti-{}", worker::Date::now().as_millis());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys that sign logout tokens (`LOGOUT_SIGNING_KEYS` secret), when configured and valid.
pub fn signing_keys(env: &Env) -> Option<SigningKeys> {
    let raw = env.secret("LOGOUT_SIGNING_KEYS").ok()?.to_string();
    match SigningKeys::parse(&raw) {
        Ok(keys) => Some(keys),
        Err(e) => {
            worker::console_error!("LOGOUT_SIGNING_KEYS is invalid: {e}");
            None
        }
    }
}

/// The retry policy from the environment, passed to the registry with each report.
fn policy(env: &Env) -> Value {
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let schedule: Vec<u32> = var("DELIVERY_RETRY_SCHEDULE")
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let mut policy = json!({});
    if !schedule.is_empty() {
        policy["schedule"] = json!(schedule);
    }
    if let Some(n) = var("WEBHOOK_DISABLE_AFTER").and_then(|n| n.trim().parse::<u32>().ok()) {
        policy["disable_after"] = json!(n);
    }
    policy
}

/// A JSON call to the registry's internal routes.
async fn registry_call(env: &Env, path: &str, body: &Value) -> Result<Value, String> {
    let stub = super::stub::registry_stub(env).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(body.to_string().into()));
    let request = Request::new_with_init(&format!("https://registry{path}"), &init)
        .map_err(|e| e.to_string())?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| e.to_string())?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(format!(
            "registry {path}: {} {text}",
            response.status_code()
        ));
    }
    response.json().await.map_err(|e| e.to_string())
}

/// A Logout Token: the signing input built in the service layer, signed ES256 by Web Crypto.
async fn sign(keys: &SigningKeys, claims: &LogoutClaims) -> Result<String, String> {
    let input = keys.signing_input(claims)?;
    let jwk = keys.signing_jwk().ok_or("there are no signing keys")?;
    let signature = super::webcrypto::es256(&jwk, input.as_bytes()).await?;
    finish(&input, &signature)
}
