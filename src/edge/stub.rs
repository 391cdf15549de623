//! The Durable Objects' stubs: one `Connection` per connection id, one `Registry`; and the key
//! that says which connection ids this deployment made.

use serde::Serialize;
use worker::{Env, Method, Request, RequestInit, Response, Result, Stub};

use crate::service::registry::{ConnectionIdKey, KeyError};

/// The `CONNECTION_ID_KEY` secret as a key ([`ConnectionIdKey::from_secret`]): `Err` when it is
/// unset, empty or shorter than 32 bytes. Read on each request (secrets may change between
/// deployments, never within one).
pub fn connection_id_key(env: &Env) -> std::result::Result<ConnectionIdKey, KeyError> {
    let secret = env.secret("CONNECTION_ID_KEY").ok().map(|s| s.to_string());
    ConnectionIdKey::from_secret(secret.as_deref())
}

/// The object of the connection `connection_id` (by name: the same id always reaches the same
/// object).
pub fn connection_stub(env: &Env, connection_id: &str) -> Result<Stub> {
    env.durable_object("CONNECTION")?
        .id_from_name(connection_id)?
        .get_stub()
}

/// The registry's singleton object.
pub fn registry_stub(env: &Env) -> Result<Stub> {
    env.durable_object("REGISTRY")?
        .id_from_name("registry")?
        .get_stub()
}

/// `POST`s `body` as JSON to `url` on an object's stub (an object's internal route); an answer
/// other than 200 is an error carrying its status and body.
pub async fn post_json(
    stub: &Stub,
    url: &str,
    body: &impl Serialize,
) -> std::result::Result<Response, String> {
    let body = serde_json::to_string(body).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| e.to_string())?;
    if response.status_code() != 200 {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("{} {text}", response.status_code()));
    }
    Ok(response)
}

/// The base of every connection's logout-token and receipt issuer (`LOGOUT_ISSUER`), empty when
/// unset.
pub fn logout_issuer(env: &Env) -> String {
    env.var("LOGOUT_ISSUER")
        .map(|v| v.to_string())
        .unwrap_or_default()
}
