//! The `Connection` Durable Object: one per connection, owning its SQLite database. It checks
//! SCIM tokens itself and applies every request atomically.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use super::consumer::signing_keys;
use super::http::{to_platform, to_service};
use super::outbox::OutboxSender;
use super::store::DoStore;
use crate::api::admin::deprovisioning::{self, Answer};
use crate::api::http::{HttpRequest, HttpResponse, MAX_BODY_BYTES};
use crate::api::json::{admin_error, connection_not_found};
use crate::api::{admin, app, scim, setup};
use crate::scim::ScimError;
use crate::service::clock::{OsRandom, Timestamp};
use crate::service::connection::is_initialized;
use crate::service::connection::rate_limit::Bucket;
use crate::service::event::outbox::Scope;
use crate::service::migration::migrate_connection;
use crate::service::session::receipt::jws::ReceiptSigner;

/// Header carrying the connection's public SCIM base URL from the Worker to the object.
pub const BASE_URL_HEADER: &str = "x-scim-edge-base-url";
/// The registry's call telling the object that its subscriptions changed
/// (service::delivery::subscription). The Worker never routes a request to an object's
/// `/internal` paths: only objects call them.
pub const SUBSCRIPTIONS_STALE_URL: &str = "https://connection/internal/subscriptions/stale";

#[durable_object]
pub struct Connection {
    state: State,
    /// Set once the tables exist; never reset except by `destroy`.
    initialized: Cell<bool>,
    /// The connection's rate limit: this object is its only entry point.
    limiter: RefCell<Bucket>,
    env: Env,
    /// Sends the outbox to the queue, also after the response (hence shared).
    outbox: Rc<OutboxSender>,
    /// Whether SCIM requests are recorded in the request log: always, unless the variable
    /// `REQUEST_LOG` is `off` (the benchmark's comparison run, nothing else).
    request_log: bool,
    /// Request log entries of reads, written just after their responses (see [`Deferred`]).
    deferred: Rc<RefCell<Vec<Deferred>>>,
}

/// A read's request log entry, waiting to be written. A Durable Object holds every response
/// until the writes made before it are durable (its output gate): a read that wrote its entry
/// before answering would wait for a storage flush that the read itself does not need. So a
/// read's entry is written right after its response (a zero-delay timer, `waitUntil`), and
/// entries of reads that came together are written together. Anything that reads the log, and
/// every write, first writes what is waiting, so the log is never seen without them; an
/// instance that dies in between loses them (the log is best effort, the operation is not).
struct Deferred {
    request: HttpRequest,
    served: scim::Served,
    times: (Timestamp, Timestamp),
}

/// Writes the waiting entries, oldest first, in one transaction; a failure loses them and is
/// logged.
fn write_deferred(store: &DoStore, deferred: &RefCell<Vec<Deferred>>) {
    let waiting = std::mem::take(&mut *deferred.borrow_mut());
    if waiting.is_empty() {
        return;
    }
    let batch: Vec<_> = waiting
        .into_iter()
        .map(|d| (d.request, d.served, d.times))
        .collect();
    if let Err(e) = scim::record_all(store, &mut OsRandom, &batch) {
        worker::console_error!("request log: {} entries lost: {e}", batch.len());
    }
}

fn now() -> Timestamp {
    Timestamp(worker::Date::now().as_millis() as i64)
}

impl DurableObject for Connection {
    fn new(state: State, env: Env) -> Self {
        Connection {
            state,
            initialized: Cell::new(false),
            limiter: RefCell::new(Bucket::new()),
            outbox: Rc::new(OutboxSender::new(env.clone(), Scope::Connection)),
            request_log: env
                .var("REQUEST_LOG")
                .map(|v| v.to_string() != "off")
                .unwrap_or(true),
            deferred: Rc::new(RefCell::new(Vec::new())),
            env,
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
        // Events the request recorded go to the queue right after the response (a failed SCIM
        // read records `scim.request.failed`); a new instance also sends whatever an earlier one
        // left behind.
        let failed = response.status_code() >= 400;
        if self.initialized.get() && (writes || failed || first_use) {
            OutboxSender::after_write(&self.outbox, &self.state).await;
        }
        Ok(response)
    }

    async fn alarm(&self) -> Result<Response> {
        if let Err(e) = self.prepare() {
            worker::console_error!("migration failed: {e}");
        }
        if self.initialized.get() {
            write_deferred(&DoStore::new(self.state.storage()), &self.deferred);
        }
        if self.initialized.get() {
            self.outbox.send(DoStore::new(self.state.storage())).await;
        }
        Response::empty()
    }
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

    async fn respond(&self, mut req: Request) -> Result<Response> {
        let path = super::http::request_url(&req).path().to_owned();
        if path == "/internal/subscriptions/stale" {
            self.outbox.forget_subscriptions();
            return to_platform(HttpResponse::empty(204));
        }
        let store = DoStore::new(self.state.storage());
        if let Some(rest) = path.strip_prefix("/scim") {
            // When the object received the request (the body is read below). Workers' clock
            // advances only across I/O, so a duration measures the body read and the waits,
            // never the synchronous work (which reads as 0).
            let started = now();
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
            let served = scim::serve(
                &store,
                &mut OsRandom,
                &mut self.limiter.borrow_mut(),
                &base_url,
                now(),
                &request,
            );
            // The request log: after the operation's transaction, in a write of its own that
            // never changes the answer (a failed write loses the entry, not the operation). A
            // write's entry goes with the write's own flush; a successful read's just after its
            // answer (a failed one records `scim.request.failed`, sent with the outbox now).
            if self.request_log {
                let times = (started, now());
                let response = served.response.clone();
                if request.method.eq_ignore_ascii_case("GET") && response.status < 400 {
                    self.defer(request, served, times);
                } else {
                    write_deferred(&store, &self.deferred);
                    if let Err(e) = scim::record(&store, &mut OsRandom, &request, &served, times) {
                        worker::console_error!("request log: entry lost: {e}");
                    }
                }
                return to_platform(response);
            }
            return to_platform(served.response);
        }
        if let Some(rest) = path.strip_prefix("/setup") {
            // The public setup routes of a one-time link (api::setup): the POSTs that carry the
            // secret in their body; synchronous, like SCIM.
            let base_url = req.headers().get(BASE_URL_HEADER)?.unwrap_or_default();
            let method = req.method().to_string();
            let response = match to_service(&mut req, rest).await? {
                Ok(request) if self.initialized.get() => {
                    setup::handle(&store, &mut OsRandom, now(), &base_url, &request)
                }
                // Never created or deleted: the same answers as a dead link.
                Ok(request) => setup::without_link(&request),
                Err(_) => setup::invalid_link(&method),
            };
            return to_platform(response);
        }
        if let Some(rest) = path.strip_prefix("/app") {
            let base_url = req.headers().get(BASE_URL_HEADER)?.unwrap_or_default();
            let request = match self.json_request(&mut req, rest, true).await? {
                Ok(r) => r,
                Err(refused) => return Ok(refused),
            };
            return to_platform(app::handle(
                &store,
                &mut OsRandom,
                &base_url,
                now(),
                &request,
            ));
        }
        if let Some(rest) = path.strip_prefix("/internal") {
            // The queue consumer's receipt reports (edge::receipt): only a stub reaches this
            // path, the Worker never forwards one here.
            let request = match self.json_request(&mut req, rest, true).await? {
                Ok(r) => r,
                Err(refused) => return Ok(refused),
            };
            let response = deprovisioning::internal(&store, &mut OsRandom, now(), &request);
            return to_platform(response);
        }
        if let Some(rest) = path.strip_prefix("/admin") {
            if rest == "/destroy" {
                self.deferred.borrow_mut().clear();
                self.state.storage().delete_all().await?;
                self.initialized.set(false);
                return to_platform(HttpResponse::empty(204));
            }
            let request = match self.json_request(&mut req, rest, rest != "/init").await? {
                Ok(r) => r,
                Err(refused) => return Ok(refused),
            };
            if rest == "/faults" {
                return to_platform(self.inject_faults(&request));
            }
            // The request log is read with every read's entry in it.
            write_deferred(&store, &self.deferred);
            if rest.starts_with("/deprovisionings") {
                return to_platform(self.deprovisionings(&store, &request).await);
            }
            let response = admin::connection::handle(&store, &mut OsRandom, now(), &request);
            if rest == "/init" && response.status < 300 {
                self.initialized.set(true);
            }
            return to_platform(response);
        }
        Response::error("not found", 404)
    }
}

impl Connection {
    /// The request of an admin, app or internal route as a plain value, or the answer refusing
    /// it: 413 for an oversized body, and, when `existing` (every route but `/init`), the 404
    /// of a connection that was never created or was deleted.
    async fn json_request(
        &self,
        req: &mut Request,
        rest: &str,
        existing: bool,
    ) -> Result<std::result::Result<HttpRequest, Response>> {
        let request = match to_service(req, rest).await? {
            Ok(r) => r,
            Err(_) => {
                return to_platform(admin_error(&ScimError::payload_too_large(MAX_BODY_BYTES)))
                    .map(Err)
            }
        };
        if existing && !self.initialized.get() {
            return to_platform(connection_not_found()).map(Err);
        }
        Ok(Ok(request))
    }

    /// `GET /admin/deprovisionings…` (api::admin::deprovisioning): a receipt is signed here
    /// with the logout signing key, by the platform's Web Crypto.
    async fn deprovisionings(&self, store: &DoStore, request: &HttpRequest) -> HttpResponse {
        let keys = signing_keys(&self.env);
        let issuer = super::stub::logout_issuer(&self.env);
        let signer = ReceiptSigner {
            keys: keys.as_ref(),
            issuer_base: &issuer,
        };
        match deprovisioning::handle(store, now(), request, signer) {
            Answer::Done(response) => response,
            Answer::Sign(unsigned) => {
                let signature =
                    super::webcrypto::es256(&unsigned.jwk, unsigned.signing_input.as_bytes()).await;
                deprovisioning::finish(unsigned, signature)
            }
        }
    }

    /// Queues a read's log entry; the first of a batch sets the timer that writes them.
    fn defer(&self, request: HttpRequest, served: scim::Served, times: (Timestamp, Timestamp)) {
        let first = {
            let mut waiting = self.deferred.borrow_mut();
            waiting.push(Deferred {
                request,
                served,
                times,
            });
            waiting.len() == 1
        };
        if first {
            let deferred = Rc::clone(&self.deferred);
            let storage = self.state.storage();
            self.state.wait_until(async move {
                worker::Delay::from(std::time::Duration::ZERO).await;
                write_deferred(&DoStore::new(storage), &deferred);
            });
        }
    }

    /// `POST /admin/faults {"queue_send_failures": n}`: the next `n` queue sends fail, as if the
    /// queue were down. Only with `FAULT_INJECTION = "on"` (tests); otherwise a 404.
    fn inject_faults(&self, request: &HttpRequest) -> HttpResponse {
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
                self.outbox.failing_sends.set(n.min(1000) as u32);
                HttpResponse::plain_json(200, &serde_json::json!({"queue_send_failures": n}))
            }
            None => admin_error(&ScimError::invalid_value(
                "Expected {\"queue_send_failures\": n}.",
            )),
        }
    }
}
