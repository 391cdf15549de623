//! The consumer of the three queues, `EVENTS` (bulk), `BACKFILL` (bulk past a connection's fair
//! share, and retries) and `LOGOUTS` (revocation: back-channel logouts; see
//! service::delivery::message::Lane), which work alike and never wait for each other. Two kinds
//! of message travel on them:
//!
//! - a delivery (`{"kind": "webhook" | "logout", "target", "event", "attempt",
//!   "subscription_version"}`), fanned out by the object that recorded the event
//!   (edge::outbox): one HTTP POST to one webhook endpoint or one client's back-channel logout
//!   URI, or with other deliveries to the same log stream in one POST. The targets come from
//!   this isolate's cache; the registry judges each failure (retry after a delay, dead letter)
//!   and hears of successes now and then (service::delivery::target_cache); a retry is a new
//!   message carrying the next attempt number, sent with that delay;
//! - an event envelope (`{"id": "evt_…", …}`), only from a version that sent events before
//!   fanning them out: the registry fans it out into deliveries, which go back on the queue.
//!
//! The handler never returns an error (that would fail the whole batch): every message is acked
//! or retried on its own.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_util::future::{join, join_all};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use worker::{
    Env, Fetch, Headers, MessageBatch, MessageExt, Method, QueueRetryOptionsBuilder, RawMessage,
    Request, RequestInit, RequestRedirect,
};

use crate::service::clock::{random_id, OsRandom};
use crate::service::delivery::fanout::{FanoutAnswer, FanoutQuery, Targets};
use crate::service::delivery::logout_token::SigningKeys;
use crate::service::delivery::message::{
    Delivery, DeliveryMessage, Envelope, Lane, QueueMessage, TargetKind,
};
use crate::service::delivery::request::{
    classify, plan, LogoutSigner, OutboundRequest, Outcome, Prepared,
};
use crate::service::delivery::retry_policy::{Decision, RetryPolicy, MAX_DELAY_SECONDS};
use crate::service::delivery::target_cache::{Health, TargetCache};
use crate::service::delivery::verdict::{AttemptsAnswer, AttemptsRequest};

thread_local! {
    /// This isolate's delivery targets, refreshed by subscription version (see TargetCache).
    static CACHE: RefCell<TargetCache> = RefCell::new(TargetCache::default());
    /// What this isolate last told the registry of each target's successes.
    static HEALTH: RefCell<Health> = RefCell::new(Health::default());
}

/// How long one delivery attempt may take.
const ATTEMPT_TIMEOUT_MS: u32 = 10_000;
/// Delay before a message the consumer could not process at all comes back.
const BACKOFF_SECONDS: u32 = 15;

pub async fn consume(batch: MessageBatch<Value>, env: Env) {
    let mut events = Vec::new();
    let mut deliveries = Vec::new();
    for message in batch.raw_iter() {
        let body = message.body().as_string().unwrap_or_default();
        match QueueMessage::parse(&body) {
            Ok(QueueMessage::Delivery(d)) => deliveries.push((message, d)),
            Ok(QueueMessage::Event(e)) => events.push((message, e)),
            Err(e) => {
                // Nothing can ever make sense of it: drop it rather than loop.
                worker::console_error!(
                    "queue: dropping a message that is neither event nor delivery: {e}"
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
async fn fan_out(env: &Env, events: Vec<(RawMessage, Envelope)>) {
    // The registry routes on type and connection (and, for revoked sessions, on the sessions):
    // it gets the envelopes without their data otherwise, and each delivery gets its full
    // envelope back here.
    let full: HashMap<&str, &Envelope> = events.iter().map(|(_, e)| (e.id.as_str(), e)).collect();
    let slim: Vec<Envelope> = events.iter().map(|(_, e)| e.for_routing()).collect();
    let outcome = async {
        let answer: FanoutAnswer =
            registry_call(env, "/internal/fanout", &FanoutQuery { events: &slim }).await?;
        let expected = super::receipt::expected(&slim, &answer);
        let mut messages = Vec::with_capacity(answer.deliveries.len());
        for mut delivery in answer.deliveries {
            let id = delivery.event().get("id").and_then(Value::as_str);
            if let Some(envelope) = id.and_then(|id| full.get(id)) {
                let envelope = serde_json::to_value(envelope).map_err(|e| e.to_string())?;
                match &mut delivery {
                    Delivery::Webhook { event, .. } | Delivery::Logout { event, .. } => {
                        *event = envelope
                    }
                }
            }
            messages.push(QueueMessage::Delivery(DeliveryMessage {
                delivery,
                attempt: 1,
                subscription_version: answer.version,
            }));
        }
        // Deprovisioning receipts learn which logouts go out, concurrently: a busy connection
        // object never delays the send.
        let (sent, ()) = join(
            enqueue(env, &messages, 0, false),
            super::receipt::announce(env, expected),
        )
        .await;
        sent
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

/// Sends messages to the queue of their lane (logouts to `LOGOUTS`, the rest to `EVENTS`; a
/// retry, `retry`, to [`QueueMessage::retry_lane`]), 100 at a time, after `delay` seconds.
pub async fn enqueue(
    env: &Env,
    messages: &[QueueMessage],
    delay: u32,
    retry: bool,
) -> Result<(), String> {
    for lane in Lane::ALL {
        let of_lane: Vec<String> = messages
            .iter()
            .filter(|m| (if retry { m.retry_lane() } else { m.lane() }) == lane)
            .map(QueueMessage::to_json)
            .collect();
        if of_lane.is_empty() {
            continue;
        }
        let queue = env.queue(lane.binding()).map_err(|e| e.to_string())?;
        for chunk in of_lane.chunks(100) {
            let batch = worker::BatchMessageBuilder::new()
                .messages(chunk.to_vec())
                .delay_seconds(delay)
                .build();
            queue.send_batch(batch).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// One attempt per delivery (or per batch of deliveries to a log stream), concurrently. The
/// targets come from this isolate's cache (service::delivery::target_cache); the registry judges
/// the failures, and hears of successes only when its record of the target needs them.
async fn deliver(env: &Env, deliveries: Vec<(RawMessage, DeliveryMessage)>) {
    let now_ms = worker::Date::now().as_millis() as f64;
    let wanted: Vec<(TargetKind, &str, i64)> = deliveries
        .iter()
        .map(|(_, d)| {
            (
                d.delivery.kind(),
                d.delivery.target(),
                d.subscription_version,
            )
        })
        .collect();
    let query = CACHE.with(|c| c.borrow().missing(&wanted, now_ms));
    if let Some(query) = query {
        match registry_call::<Targets>(env, "/internal/targets", &query).await {
            Ok(t) => CACHE.with(|c| c.borrow_mut().store(&query, t, now_ms)),
            Err(e) => {
                worker::console_error!("queue: could not read delivery targets: {e}");
                deliveries.iter().for_each(|(m, _)| retry_later(m));
                return;
            }
        }
    }
    let targets = CACHE.with(|c| c.borrow().targets(&wanted));
    let keys = signing_keys(env);
    let issuer = super::stub::logout_issuer(env);
    let signer = LogoutSigner {
        keys: keys.as_ref(),
        issuer: &issuer,
    };
    // Deliveries to a log stream (or a batching webhook endpoint) go together in one POST;
    // every other one alone. Each delivery gets the outcome of the request that carried it.
    let now = worker::Date::now().as_millis() as i64 / 1000;
    let batch: Vec<&Delivery> = deliveries.iter().map(|(_, d)| &d.delivery).collect();
    let planned = plan(&batch, &targets, signer, now, &mut new_jti);
    let sent = join_all(planned.into_iter().map(|p| async move {
        let outcome = send(p.prepared).await;
        (p.members, outcome)
    }))
    .await;
    let mut attempts: Vec<Outcome> = vec![Outcome::failed("not sent"); deliveries.len()];
    for (members, outcome) in sent {
        for index in members {
            attempts[index] = outcome.clone();
        }
    }
    // Failures always go to the registry (it keeps each target's health, dead letters, and
    // disables endpoints); a success only when the target's record needs it.
    let reported: Vec<usize> = (0..deliveries.len())
        .filter(|&i| {
            let d = &deliveries[i].1.delivery;
            HEALTH.with(|h| {
                h.borrow_mut()
                    .must_report(d.kind(), d.target(), attempts[i].ok, now_ms)
            })
        })
        .collect();
    let mut decisions: Vec<Option<Decision>> = attempts
        .iter()
        .map(|a| a.ok.then_some(Decision::Ack))
        .collect();
    let mut version = 0;
    if !reported.is_empty() {
        let report = AttemptsRequest {
            policy: Some(policy(env)),
            attempts: reported
                .iter()
                .map(|&i| attempts[i].report(&deliveries[i].1))
                .collect(),
        };
        match registry_call::<AttemptsAnswer>(env, "/internal/attempts", &report).await {
            Ok(answer) => {
                version = answer.version;
                CACHE.with(|c| c.borrow_mut().seen_version(answer.version));
                for (&i, decision) in reported.iter().zip(answer.decisions) {
                    decisions[i] = Some(decision);
                }
            }
            Err(e) => {
                // Failures are tried again later; successes were delivered (the registry's
                // record of them waits for the next report).
                worker::console_error!("queue: could not record delivery attempts: {e}");
                for &i in &reported {
                    let d = &deliveries[i].1.delivery;
                    if attempts[i].ok {
                        HEALTH.with(|h| h.borrow_mut().unreported(d.kind(), d.target()));
                    } else {
                        decisions[i] = None;
                    }
                }
            }
        }
    }
    for (index, (message, delivery)) in deliveries.iter().enumerate() {
        let Some(decision) = &decisions[index] else {
            // The registry did not judge it: try the same attempt again later.
            retry_later(message);
            continue;
        };
        match decision {
            Decision::Retry { delay_seconds } => {
                // With the targets as the registry knows them now (a URL fixed since is used).
                let next = QueueMessage::Delivery(DeliveryMessage {
                    delivery: delivery.delivery.clone(),
                    attempt: delivery.attempt + 1,
                    subscription_version: version.max(delivery.subscription_version),
                });
                let delay = (*delay_seconds).min(MAX_DELAY_SECONDS);
                match enqueue(env, &[next], delay, true).await {
                    Ok(()) => message.ack(),
                    Err(e) => {
                        worker::console_error!("queue: could not schedule a retry: {e}");
                        retry_later(message);
                    }
                }
            }
            // Ack and dead letter: the registry has what it needs.
            Decision::Ack | Decision::DeadLetter => message.ack(),
        }
    }
    // Deprovisioning receipts: how each judged logout attempt went.
    let (judged, verdicts): (Vec<_>, Vec<_>) = deliveries
        .iter()
        .zip(&attempts)
        .zip(&decisions)
        .filter(|(((_, d), _), _)| d.delivery.kind() == TargetKind::Logout)
        .filter_map(|(((_, d), outcome), decision)| Some((outcome.report(d), (*decision)?)))
        .unzip();
    super::receipt::report(env, &judged, &verdicts).await;
}

/// One attempt: the request built in the service layer (signed here if it is a logout), sent,
/// and its answer classified.
async fn send(prepared: Result<Prepared, String>) -> Outcome {
    let request = match prepared {
        Ok(Prepared::Ready(request)) => request,
        Ok(Prepared::Unsigned(logout)) => {
            let signature =
                super::webcrypto::es256(&logout.jwk, logout.signing_input.as_bytes()).await;
            match logout.finish(signature) {
                Ok(request) => request,
                Err(e) => return Outcome::failed(e),
            }
        }
        Err(e) => return Outcome::failed(e),
    };
    let request = match post(&request) {
        Ok(r) => r,
        Err(e) => return Outcome::failed(format!("could not build the request: {e}")),
    };
    let signal: worker::AbortSignal =
        web_sys::AbortSignal::timeout_with_u32(ATTEMPT_TIMEOUT_MS).into();
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(response) => classify(response.status_code()),
        Err(e) => Outcome::failed(format!("request failed: {e}")),
    }
}

fn post(request: &OutboundRequest) -> worker::Result<Request> {
    let headers = Headers::new();
    headers.set("content-type", request.content_type)?;
    for (name, value) in &request.headers {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    // Never follow a redirect: the signed payload would go to an address the outbound URL check
    // never saw. A 3xx is a failed attempt (service::delivery::request::classify).
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(request.body.as_str().into()));
    Request::new_with_init(&request.url, &init)
}

/// A logout token's `jti`: 16 random bytes in hex.
fn new_jti() -> String {
    // Practically never fails; a jti only needs to be unique, the clock keeps it so then.
    random_id(&mut OsRandom, "", 16)
        .unwrap_or_else(|_| format!("jti-{}", worker::Date::now().as_millis()))
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

/// The retry policy from the environment, passed to the registry with each report; the default
/// when the variables do not parse.
fn policy(env: &Env) -> RetryPolicy {
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let (schedule, disable_after) = (var("DELIVERY_RETRY_SCHEDULE"), var("WEBHOOK_DISABLE_AFTER"));
    RetryPolicy::parse(schedule.as_deref(), disable_after.as_deref()).unwrap_or_else(|e| {
        worker::console_error!("queue: {e}; using the default retry policy");
        RetryPolicy::default()
    })
}

/// A JSON call to the registry's internal routes.
pub(super) async fn registry_call<T: DeserializeOwned>(
    env: &Env,
    path: &str,
    body: &impl Serialize,
) -> Result<T, String> {
    let stub = super::stub::registry_stub(env).map_err(|e| e.to_string())?;
    let mut response = super::stub::post_json(&stub, &format!("https://registry{path}"), body)
        .await
        .map_err(|e| format!("registry {path}: {e}"))?;
    response.json().await.map_err(|e| e.to_string())
}
