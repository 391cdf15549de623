//! Sends an object's outbox (service::outbox: a connection's, or the registry's) to the queues,
//! fanned out: each event becomes its deliveries (service::delivery::subscription), each on its
//! lane's queue, one hop from the object to the consumer that sends them. A connection's object
//! keeps its connection's subscriptions in memory, read from the registry when it has none, when
//! the registry says they changed, or after [`SUBSCRIPTIONS_TTL_MS`]; the registry reads its own.
//!
//! The object sends after each write without holding up the response (`waitUntil`); a guard
//! alarm, set before the response, covers an instance that dies before the queue accepted; after
//! a failed send a retry alarm fires with a growing delay. Nothing leaves the outbox before the
//! queue accepted all of its deliveries.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::Value;
use worker::{Env, State};

use super::store::DoStore;
use crate::scim::ScimError;
use crate::service::clock::{OsRandom, Timestamp};
use crate::service::connection::identity::connection_id;
use crate::service::delivery::fairness::FairShare;
use crate::service::delivery::message::{DeliveryMessage, Lane, QueueMessage, SESSIONS_REVOKED};
use crate::service::delivery::subscription::{self, Subscriptions, SubscriptionsQuery};
use crate::service::event::outbox::{self, Key, Scope};
use crate::service::session::receipt;
use crate::service::session::receipt::report::{expected_logouts, ExpectRequest};
use crate::service::store::transact;

/// How long a connection's object trusts its subscriptions without hearing from the registry.
pub const SUBSCRIPTIONS_TTL_MS: f64 = 60_000.0;
/// The queue's limits for one `sendBatch`: 100 messages and 256 KB (less some headroom).
const SEND_MESSAGES: usize = 100;
const SEND_BYTES: usize = 240 * 1024;

/// The alarm set before a response that left events pending.
const GUARD_MS: i64 = 30_000;
/// Longest wait between two send attempts.
const MAX_RETRY_SECONDS: u32 = 300;

pub struct OutboxSender {
    env: Env,
    scope: Scope,
    /// Set while a send is running: concurrent requests leave the work to it (it loops until
    /// the outbox is empty).
    sending: Cell<bool>,
    /// Seconds until the alarm tries again after a failed send; doubles up to a ceiling.
    retry_delay: Cell<u32>,
    /// Fault injection (`FAULT_INJECTION = "on"` only): queue sends still to fail.
    pub failing_sends: Cell<u32>,
    /// A connection's subscriptions and when they were read (ms since the epoch).
    subscriptions: RefCell<Option<(Subscriptions, f64)>>,
    /// The webhook deliveries sent lately, for the choice between `EVENTS` and `BACKFILL`.
    fair_share: RefCell<FairShare>,
}

fn first_retry_delay(env: &Env) -> u32 {
    env.var("OUTBOX_RETRY_SECONDS")
        .ok()
        .and_then(|v| v.to_string().parse::<u32>().ok())
        .filter(|s| (1..=MAX_RETRY_SECONDS).contains(s))
        .unwrap_or(10)
}

impl OutboxSender {
    pub fn new(env: Env, scope: Scope) -> Self {
        let retry = first_retry_delay(&env);
        OutboxSender {
            env,
            scope,
            sending: Cell::new(false),
            retry_delay: Cell::new(retry),
            failing_sends: Cell::new(0),
            subscriptions: RefCell::new(None),
            fair_share: RefCell::new(FairShare::default()),
        }
    }

    /// The registry said the subscriptions changed: read them again before the next send.
    pub fn forget_subscriptions(&self) {
        self.subscriptions.replace(None);
    }

    /// The subscriptions to fan out with: the registry's own (read from its tables), or the
    /// connection's (cached; read from the registry when missing or older than the TTL).
    async fn subscriptions(&self, store: &DoStore) -> Result<Subscriptions, String> {
        let now = worker::Date::now().as_millis() as f64;
        let connection = match self.scope {
            Scope::Registry => {
                return subscription::of_connection(store, None).map_err(|e| e.detail)
            }
            Scope::Connection => connection_id(store).ok_or("the connection has no record")?,
        };
        if let Some((subs, at)) = self.subscriptions.borrow().as_ref() {
            if now - at < SUBSCRIPTIONS_TTL_MS {
                return Ok(subs.clone());
            }
        }
        let query = SubscriptionsQuery {
            connection_id: Some(connection),
        };
        let subs: Subscriptions =
            super::consumer::registry_call(&self.env, "/internal/subscriptions", &query).await?;
        self.subscriptions.replace(Some((subs.clone(), now)));
        Ok(subs)
    }

    /// After a request that may have written: when anything is pending, the guard alarm before
    /// the response and the send right after it (`waitUntil`); otherwise nothing.
    pub async fn after_write(this: &Rc<Self>, state: &State) {
        let store = DoStore::new(state.storage());
        if outbox::pending_count(&store, this.scope).unwrap_or(0) == 0 {
            return;
        }
        this.guard(&store).await;
        let outbox = Rc::clone(this);
        state.wait_until(async move { outbox.send(store).await });
    }

    /// Before the response, with events pending: when no alarm is set, set the guard alarm.
    /// Alarm reads are served from memory, so this costs a write only now and then.
    async fn guard(&self, store: &DoStore) {
        let storage = store.storage();
        match storage.get_alarm().await {
            Ok(Some(_)) => {}
            // An i64 is an offset from now in milliseconds.
            _ => {
                if let Err(e) = storage.set_alarm(GUARD_MS).await {
                    worker::console_error!("outbox: could not set the guard alarm: {e}");
                }
            }
        }
    }

    /// Sends pending events, oldest first, until none is left or a send fails; then, on
    /// failure, sets the retry alarm.
    pub async fn send(&self, store: DoStore) {
        if self.sending.get() {
            return;
        }
        self.sending.set(true);
        let outcome = self.send_pending(&store).await;
        self.sending.set(false);
        match outcome {
            Ok(()) => self.retry_delay.set(first_retry_delay(&self.env)),
            Err(e) => {
                let delay = self.retry_delay.get();
                worker::console_error!("outbox: send failed ({e}); trying again in {delay} s");
                self.retry_delay.set((delay * 2).min(MAX_RETRY_SECONDS));
                if let Err(e) = store.storage().set_alarm(i64::from(delay) * 1000).await {
                    worker::console_error!("outbox: could not set the alarm: {e}");
                }
            }
        }
    }

    async fn send_pending(&self, store: &DoStore) -> Result<(), String> {
        loop {
            let batch = outbox::pending(store, self.scope, outbox::BATCH).map_err(|e| e.detail)?;
            if batch.is_empty() {
                return Ok(());
            }
            if self.failing_sends.get() > 0 {
                self.failing_sends.set(self.failing_sends.get() - 1);
                return Err("injected queue failure".into());
            }
            let subscriptions = self.subscriptions(store).await?;
            // Revocations first (the batch lists them first), each lane to its own queue.
            let mut lanes: Vec<(Lane, Vec<String>)> =
                Lane::ALL.iter().map(|lane| (*lane, Vec::new())).collect();
            let mut keys = Vec::with_capacity(batch.len());
            // The logouts of each user.sessions_revoked event, for its deprovisioning receipt.
            let mut expected = Vec::new();
            for pending in &batch {
                keys.push(pending.key);
                let messages = match pending.key {
                    // A replayed delivery (registry only) is ready as it is.
                    Key::Message(_) => vec![(pending.lane, pending.message.clone())],
                    Key::Event(_) => {
                        let event: Value =
                            serde_json::from_str(&pending.message).map_err(|e| e.to_string())?;
                        let deliveries = subscriptions.deliveries(&event);
                        let kind = event.get("type").and_then(Value::as_str);
                        if let (Scope::Connection, Some(SESSIONS_REVOKED), Some(id)) =
                            (self.scope, kind, event.get("id").and_then(Value::as_str))
                        {
                            expected.push(expected_logouts(id, &deliveries));
                        }
                        deliveries
                            .into_iter()
                            .map(|delivery| {
                                let message = QueueMessage::Delivery(DeliveryMessage {
                                    delivery,
                                    attempt: 1,
                                    subscription_version: subscriptions.version,
                                });
                                (message.lane(), message.to_json())
                            })
                            .collect()
                    }
                };
                for (lane, message) in messages {
                    if let Some((_, out)) = lanes.iter_mut().find(|(l, _)| *l == lane) {
                        out.push(message);
                    }
                }
            }
            // Webhook deliveries past the connection's fair share wait in `BACKFILL`.
            let bulk = lanes
                .iter()
                .find(|(l, _)| *l == Lane::Bulk)
                .map_or(0, |(_, m)| m.len());
            let now = worker::Date::now().as_millis() as f64;
            if self.scope == Scope::Connection
                && self.fair_share.borrow_mut().lane(now, bulk) == Lane::Backfill
            {
                let moved = lanes
                    .iter_mut()
                    .find(|(l, _)| *l == Lane::Bulk)
                    .map(|(_, m)| std::mem::take(m))
                    .unwrap_or_default();
                if let Some((_, out)) = lanes.iter_mut().find(|(l, _)| *l == Lane::Backfill) {
                    out.extend(moved);
                }
            }
            for (lane, messages) in &lanes {
                if messages.is_empty() {
                    continue;
                }
                let queue = self.env.queue(lane.binding()).map_err(|e| e.to_string())?;
                for chunk in chunks(messages) {
                    queue.send_batch(chunk).await.map_err(|e| e.to_string())?;
                }
            }
            // Every delivery of these events is on its queue (an event no one subscribes to
            // has none): they leave the outbox, and each receipt learns which logouts went out
            // (one with none completes now), in one transaction.
            let now = Timestamp(worker::Date::now().as_millis() as i64);
            transact(store, || {
                if !expected.is_empty() {
                    let request = ExpectRequest {
                        at_ms: now.0,
                        events: std::mem::take(&mut expected),
                    };
                    receipt::report::expect(store, &mut OsRandom, now, request)?;
                }
                outbox::mark_sent(store, &keys).map_err(ScimError::from)
            })
            .map_err(|e: ScimError| e.detail)?;
        }
    }
}

/// Messages in `sendBatch`-sized chunks: at most [`SEND_MESSAGES`] and about [`SEND_BYTES`].
fn chunks(messages: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let fits = out
            .last()
            .is_some_and(|c| c.len() < SEND_MESSAGES && bytes + message.len() <= SEND_BYTES);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += message.len();
        if let Some(chunk) = out.last_mut() {
            chunk.push(message.clone());
        }
    }
    out
}
