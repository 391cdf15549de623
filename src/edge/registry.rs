//! The `Registry` Durable Object: a singleton listing connections for the admin plane, with the
//! webhook endpoints and clients deliveries go to. Its own admin-plane events leave through its
//! outbox like a connection's.

use std::rc::Rc;

use futures_util::future::join_all;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State,
};

use super::http::{to_platform, to_service};
use super::outbox::OutboxSender;
use super::store::DoStore;
use super::stub::connection_stub;
use crate::api::admin;
use crate::api::http::{MAX_BODY_BYTES, ORIGIN_HEADER};
use crate::api::json::admin_error;
use crate::scim::ScimError;
use crate::service::clock::{OsRandom, Timestamp};
use crate::service::delivery::outbound_url::OutboundPolicy;
use crate::service::delivery::subscription;
use crate::service::event::outbox::Scope;
use crate::service::registry;

#[durable_object]
pub struct Registry {
    state: State,
    /// Sends the outbox to the queue, also after the response (hence shared).
    outbox: Rc<OutboxSender>,
    /// Which webhook and logout URLs may be registered: `ALLOW_LOOPBACK_TARGETS = "on"` (local
    /// development and tests, never production) lets loopback receivers through.
    outbound: OutboundPolicy,
    env: Env,
}

impl Registry {
    /// `POST /internal/subscriptions/stale` to every connection's object, [`PUSH_AT_ONCE`] at a
    /// time. One that misses it refreshes within [`SUBSCRIPTIONS_TTL_MS`](super::outbox) anyway.
    async fn tell_connections(&self, store: &DoStore) {
        let ids = match registry::ids(store) {
            Ok(ids) => ids,
            Err(e) => {
                worker::console_error!("registry: could not list connections: {e}");
                return;
            }
        };
        for chunk in ids.chunks(PUSH_AT_ONCE) {
            let calls = chunk.iter().map(|id| async move {
                let outcome = async {
                    let stub = connection_stub(&self.env, id)?;
                    let mut init = RequestInit::new();
                    init.with_method(Method::Post);
                    let request =
                        Request::new_with_init(super::connection::SUBSCRIPTIONS_STALE_URL, &init)?;
                    stub.fetch_with_request(request).await
                }
                .await;
                if let Err(e) = outcome {
                    worker::console_error!(
                        "registry: could not tell {id} of new subscriptions: {e}"
                    );
                }
            });
            join_all(calls).await;
        }
    }
}

/// How many connection objects are told of a subscription change concurrently.
const PUSH_AT_ONCE: usize = 50;

impl DurableObject for Registry {
    fn new(state: State, env: Env) -> Self {
        let switch = env
            .var("ALLOW_LOOPBACK_TARGETS")
            .ok()
            .map(|v| v.to_string());
        Registry {
            state,
            outbound: OutboundPolicy::from_setting(switch.as_deref()),
            outbox: Rc::new(OutboxSender::new(env.clone(), Scope::Registry)),
            env,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = super::http::request_url(&req).path().to_owned();
        let origin = req.headers().get(ORIGIN_HEADER)?.unwrap_or_default();
        let request = match to_service(&mut req, &path).await? {
            Ok(r) => r,
            Err(_) => {
                return to_platform(admin_error(&ScimError::payload_too_large(MAX_BODY_BYTES)))
            }
        };
        let store = DoStore::new(self.state.storage());
        let now = Timestamp(worker::Date::now().as_millis() as i64);
        let before = subscription::version(&store).ok();
        let id_key = super::stub::connection_id_key(&self.env);
        let response = admin::registry::handle(
            &store,
            &mut OsRandom,
            id_key.as_ref(),
            now,
            &origin,
            self.outbound,
            &request,
        );
        // A change to the targets (an admin write, or a verdict that disabled an endpoint):
        // every connection's object forgets its subscriptions before the answer, so the next
        // event it sends is fanned out with the change.
        if request.method != "GET" && subscription::version(&store).ok() != before {
            self.tell_connections(&store).await;
        }
        // Events a write recorded (including a delivery verdict that disabled an endpoint) go
        // to the queue right after the response; the guard alarm covers a dying instance.
        if request.method != "GET" {
            OutboxSender::after_write(&self.outbox, &self.state).await;
        }
        to_platform(response)
    }

    async fn alarm(&self) -> Result<Response> {
        self.outbox.send(DoStore::new(self.state.storage())).await;
        Response::empty()
    }
}
