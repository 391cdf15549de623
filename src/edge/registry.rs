//! The `Registry` Durable Object: a singleton listing connections for the admin plane, with the
//! webhook endpoints and clients deliveries go to. Its own admin-plane events leave through its
//! outbox like a connection's.

use std::rc::Rc;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::http::{to_platform, to_service};
use super::outbox::OutboxSender;
use super::store::DoStore;
use crate::api::admin;
use crate::api::http::{MAX_BODY_BYTES, ORIGIN_HEADER};
use crate::api::json::admin_error;
use crate::scim::ScimError;
use crate::service::clock::{OsRandom, Timestamp};
use crate::service::delivery::outbound_url::OutboundPolicy;
use crate::service::event::outbox::Scope;

#[durable_object]
pub struct Registry {
    state: State,
    /// Sends the outbox to the queue, also after the response (hence shared).
    outbox: Rc<OutboxSender>,
    /// Which webhook and logout URLs may be registered: `ALLOW_LOOPBACK_TARGETS = "on"` (local
    /// development and tests, never production) lets loopback receivers through.
    outbound: OutboundPolicy,
}

impl DurableObject for Registry {
    fn new(state: State, env: Env) -> Self {
        let switch = env
            .var("ALLOW_LOOPBACK_TARGETS")
            .ok()
            .map(|v| v.to_string());
        Registry {
            state,
            outbound: OutboundPolicy::from_setting(switch.as_deref()),
            outbox: Rc::new(OutboxSender::new(env, Scope::Registry)),
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
        let response =
            admin::registry::handle(&store, &mut OsRandom, now, &origin, self.outbound, &request);
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
