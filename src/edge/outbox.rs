//! Sends an object's outbox (service::outbox: a connection's, or the registry's) to the `EVENTS`
//! queue. The object sends after each write without holding up the response (`waitUntil`); a
//! guard alarm, set before the response, covers an instance that dies before the queue
//! accepted; after a failed send a retry alarm fires with a growing delay. Nothing leaves the
//! outbox before the queue accepted it.

use std::cell::Cell;
use std::rc::Rc;

use worker::{Env, State};

use super::store::DoStore;
use crate::service::delivery::message::Lane;
use crate::service::event::outbox::{self, Scope};

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
        }
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
            // Revocations first (the batch lists them first), each lane to its own queue; what a
            // queue accepted leaves the outbox even if the other lane's send then fails.
            for lane in [Lane::Revocation, Lane::Bulk] {
                let (keys, messages): (Vec<outbox::Key>, Vec<String>) = batch
                    .iter()
                    .filter(|p| p.lane == lane)
                    .map(|p| (p.key, p.message.clone()))
                    .unzip();
                if messages.is_empty() {
                    continue;
                }
                let queue = self.env.queue(lane.binding()).map_err(|e| e.to_string())?;
                queue
                    .send_batch(messages)
                    .await
                    .map_err(|e| e.to_string())?;
                outbox::mark_sent(store, &keys).map_err(|e| e.to_string())?;
            }
        }
    }
}
