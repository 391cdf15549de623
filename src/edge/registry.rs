//! The `Registry` Durable Object: a singleton listing connections for the admin plane.

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::http::{to_platform, to_service};
use crate::scim::ScimError;
use crate::service::clock::{OsRandom, Timestamp};
use crate::service::connection::admin_error;
use crate::service::http::MAX_BODY_BYTES;
use crate::service::registry;

/// Header carrying the public origin, for `scim_base_url`.
pub const ORIGIN_HEADER: &str = "x-scim-edge-origin";

#[durable_object]
pub struct Registry {
    state: State,
}

impl DurableObject for Registry {
    fn new(state: State, _env: Env) -> Self {
        Registry { state }
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
        let store = super::store::DoStore::new(self.state.storage());
        let now = Timestamp(worker::Date::now().as_millis() as i64);
        to_platform(registry::handle(
            &store,
            &mut OsRandom,
            now,
            &origin,
            &request,
        ))
    }
}
