//! The `Connection` Durable Object: one per connection, owning its SQLite database. It checks
//! SCIM tokens itself and applies every request atomically.

use std::cell::{Cell, RefCell};

use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use super::http::{to_platform, to_service};
use super::store::DoStore;
use crate::scim::ScimError;
use crate::service::app_api;
use crate::service::clock::{OsRandom, Timestamp};
use crate::service::connection::{admin_error, handle_admin, is_initialized};
use crate::service::http::{HttpResponse, MAX_BODY_BYTES};
use crate::service::migration::migrate_connection;
use crate::service::outbox;
use crate::service::rate_limit::Bucket;
use crate::service::scim_api;

/// Header carrying the connection's public SCIM base URL from the Worker to the object.
pub const BASE_URL_HEADER: &str = "x-scim-edge-base-url";

#[durable_object]
pub struct Connection {
    state: State,
    /// Set once the tables exist; never reset except by `destroy`.
    initialized: Cell<bool>,
    /// The connection's rate limit: this object is its only entry point.
    limiter: RefCell<Bucket>,
    env: Env,
    /// Set while the outbox is being sent, so that concurrent requests do not send it twice.
    flushing: Cell<bool>,
    /// Seconds until the alarm tries again after a failed send; doubles up to a ceiling.
    retry_delay: Cell<u32>,
    /// Fault injection (`FAULT_INJECTION = "on"` only): queue sends still to fail.
    failing_sends: Cell<u32>,
}

/// The alarm set before each send, in case this instance dies before the queue accepts.
const GUARD_SECONDS: i64 = 30;
/// Longest wait between two send attempts.
const MAX_RETRY_SECONDS: u32 = 300;

fn now() -> Timestamp {
    Timestamp(worker::Date::now().as_millis() as i64)
}

impl DurableObject for Connection {
    fn new(state: State, env: Env) -> Self {
        let retry = first_retry_delay(&env);
        Connection {
            state,
            initialized: Cell::new(false),
            limiter: RefCell::new(Bucket::new()),
            env,
            flushing: Cell::new(false),
            retry_delay: Cell::new(retry),
            failing_sends: Cell::new(0),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let first_use = !self.initialized.get();
        if let Err(e) = self.prepare() {
            worker::console_error!("migration failed: {e}");
            return to_platform(ScimError::internal().into());
        }
        let writes = !matches!(req.method(), Method::Get | Method::Head);
        let response = self.respond(req).await?;
        // Events the request recorded go to the queue before the response does; a new instance
        // also sends whatever an earlier one left behind.
        if writes || (first_use && self.initialized.get()) {
            self.flush().await;
        }
        Ok(response)
    }

    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = self.prepare() {
            worker::console_error!("migration failed: {e}");
        }
        self.flush().await;
        Response::empty()
    }
}

fn first_retry_delay(env: &Env) -> u32 {
    env.var("OUTBOX_RETRY_SECONDS")
        .ok()
        .and_then(|v| v.to_string().parse::<u32>().ok())
        .filter(|s| (1..=MAX_RETRY_SECONDS).contains(s))
        .unwrap_or(10)
}

impl Connection {
    /// Brings tables added since this connection was created up to date, once per instance
    /// (every statement is idempotent).
    fn prepare(&self) -> std::result::Result<(), String> {
        let store = DoStore::new(self.state.storage());
        if !self.initialized.get() && is_initialized(&store) {
            migrate_connection(&store).map_err(|e| e.to_string())?;
            self.initialized.set(true);
        }
        Ok(())
    }

    /// Sends pending events to the `EVENTS` queue, oldest first. On failure the alarm tries
    /// again later with a growing delay; nothing leaves the outbox before the queue accepted it.
    async fn flush(&self) {
        if self.flushing.get() || !self.initialized.get() {
            return;
        }
        self.flushing.set(true);
        let outcome = self.send_pending().await;
        self.flushing.set(false);
        match outcome {
            Ok(()) => self.retry_delay.set(first_retry_delay(&self.env)),
            Err(e) => {
                let delay = self.retry_delay.get();
                worker::console_error!("outbox: send failed ({e}); trying again in {delay} s");
                self.retry_delay.set((delay * 2).min(MAX_RETRY_SECONDS));
                // An i64 is an offset from now in milliseconds.
                let offset = i64::from(delay) * 1000;
                if let Err(e) = self.state.storage().set_alarm(offset).await {
                    worker::console_error!("outbox: could not set the alarm: {e}");
                }
            }
        }
    }

    async fn send_pending(&self) -> std::result::Result<(), String> {
        let store = DoStore::new(self.state.storage());
        let storage = self.state.storage();
        let mut guarded = false;
        loop {
            let batch = outbox::pending(&store, outbox::BATCH).map_err(|e| e.detail)?;
            if batch.is_empty() {
                return Ok(());
            }
            if !guarded {
                if storage
                    .get_alarm()
                    .await
                    .map_err(|e| e.to_string())?
                    .is_none()
                {
                    let offset = GUARD_SECONDS * 1000;
                    storage.set_alarm(offset).await.map_err(|e| e.to_string())?;
                }
                guarded = true;
            }
            if self.failing_sends.get() > 0 {
                self.failing_sends.set(self.failing_sends.get() - 1);
                return Err("injected queue failure".into());
            }
            let queue = self.env.queue("EVENTS").map_err(|e| e.to_string())?;
            let seqs: Vec<i64> = batch.iter().map(|p| p.seq).collect();
            let messages: Vec<String> = batch.into_iter().map(|p| p.envelope).collect();
            queue
                .send_batch(messages)
                .await
                .map_err(|e| e.to_string())?;
            outbox::mark_sent(&store, &seqs).map_err(|e| e.to_string())?;
        }
    }

    async fn respond(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let path = url.path().to_owned();
        let store = DoStore::new(self.state.storage());
        if let Some(rest) = path.strip_prefix("/scim") {
            let base_url = req.headers().get(BASE_URL_HEADER)?.unwrap_or_default();
            let request = match to_service(&mut req, rest).await? {
                Ok(r) => r,
                Err(_) => return to_platform(ScimError::payload_too_large(MAX_BODY_BYTES).into()),
            };
            // A connection that was never created (or was deleted) has no tokens: 401, as for any
            // bad token, and nothing is written.
            if !self.initialized.get() {
                return to_platform(ScimError::unauthorized().into());
            }
            // No `.await` while the limiter is borrowed: the handler is synchronous.
            let response = scim_api::handle_limited(
                &store,
                &mut OsRandom,
                &mut self.limiter.borrow_mut(),
                &base_url,
                now(),
                &request,
            );
            return to_platform(response);
        }
        if let Some(rest) = path.strip_prefix("/setup") {
            // The public setup page of a one-time link (service::setup); synchronous, like SCIM.
            let base_url = req.headers().get(BASE_URL_HEADER)?.unwrap_or_default();
            let method = req.method().to_string();
            let response = match to_service(&mut req, rest).await? {
                Ok(request) if self.initialized.get() => {
                    crate::service::setup::handle(&store, &mut OsRandom, now(), &base_url, &request)
                }
                // Never created, deleted, or an oversized body: the same answer as a dead link.
                _ => crate::service::setup::invalid_link(&method, rest),
            };
            return to_platform(response);
        }
        if let Some(rest) = path.strip_prefix("/app") {
            let base_url = req.headers().get(BASE_URL_HEADER)?.unwrap_or_default();
            let request = match to_service(&mut req, rest).await? {
                Ok(r) => r,
                Err(_) => {
                    return to_platform(admin_error(&ScimError::payload_too_large(MAX_BODY_BYTES)))
                }
            };
            if !self.initialized.get() {
                return to_platform(admin_error(&ScimError::not_found("Connection not found.")));
            }
            return to_platform(app_api::handle(
                &store,
                &mut OsRandom,
                &base_url,
                now(),
                &request,
            ));
        }
        if let Some(rest) = path.strip_prefix("/admin") {
            if rest == "/destroy" {
                self.state.storage().delete_all().await?;
                self.initialized.set(false);
                return to_platform(HttpResponse::empty(204));
            }
            let request = match to_service(&mut req, rest).await? {
                Ok(r) => r,
                Err(_) => {
                    return to_platform(admin_error(&ScimError::payload_too_large(MAX_BODY_BYTES)))
                }
            };
            if rest != "/init" && !self.initialized.get() {
                return to_platform(admin_error(&ScimError::not_found("Connection not found.")));
            }
            if rest == "/faults" {
                return to_platform(self.inject_faults(&request));
            }
            let response = handle_admin(&store, &mut OsRandom, now(), &request);
            if rest == "/init" && response.status < 300 {
                self.initialized.set(true);
            }
            return to_platform(response);
        }
        Response::error("not found", 404)
    }
}

impl Connection {
    /// `POST /admin/faults {"queue_send_failures": n}`: the next `n` queue sends fail, as if the
    /// queue were down. Only with `FAULT_INJECTION = "on"` (tests); otherwise a 404.
    fn inject_faults(&self, request: &crate::service::http::HttpRequest) -> HttpResponse {
        let enabled = self
            .env
            .var("FAULT_INJECTION")
            .map(|v| v.to_string() == "on")
            .unwrap_or(false);
        if !enabled || request.method != "POST" {
            return admin_error(&ScimError::not_found("No admin route /faults."));
        }
        let n = serde_json::from_slice::<serde_json::Value>(&request.body)
            .ok()
            .and_then(|b| b.get("queue_send_failures").and_then(|n| n.as_u64()));
        match n {
            Some(n) => {
                self.failing_sends.set(n.min(1000) as u32);
                HttpResponse::plain_json(200, &serde_json::json!({"queue_send_failures": n}))
            }
            None => admin_error(&ScimError::invalid_value(
                "Expected {\"queue_send_failures\": n}.",
            )),
        }
    }
}
