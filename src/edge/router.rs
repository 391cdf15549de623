//! The Worker's routing: every request gets an id, an oversized body is refused, and each path
//! goes to the object that serves it (a connection's, or the registry) after the plane's bearer
//! check. A connection's create, read, update and delete span both kinds of object: those are
//! the flows of `api::admin::lifecycle`, carried by [`super::lifecycle`].
//!
//! Every connection id in a URL is checked against `CONNECTION_ID_KEY` ([`made_here`]) before
//! an object is named: a Durable Object is created the first time its name is used, so an id
//! this deployment did not make must never reach one. Such an id gets the answer a connection
//! that exists gives to a wrong credential on that plane ([`forged`]), byte for byte.

use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{Env, Method, Request, Response, Result, Stub};

use crate::api::admin::lifecycle::{
    CreateConnection, DeleteConnection, GetConnection, UpdateConnection,
};
use crate::api::admin::registry::id_key_unusable;
use crate::api::http::{
    HttpResponse, RequestUrl, MAX_BODY_BYTES, ORIGIN_HEADER, REQUEST_ID_HEADER,
};
use crate::api::json::{admin_error, connection_not_found};
use crate::api::setup;
use crate::scim::ScimError;
use crate::service::clock::{random_id, OsRandom};
use crate::service::registry::{self, is_connection_id};

use super::connection::BASE_URL_HEADER;
use super::consumer::signing_keys;
use super::http::{forward, request_url, to_platform, to_service};
use super::lifecycle::{drive, Admin};
use super::stub::{connection_id_key, connection_stub, registry_stub};
use crate::service::delivery::logout_token;

/// A request to the Worker, answered. Every request gets an id: it travels to the object (and
/// into the events the request records) and back to the client as `X-Request-Id`.
pub async fn handle(mut req: Request, env: Env) -> Result<Response> {
    let request_id = new_request_id()?;
    let response = match refuse_oversized(&mut req).await? {
        Some(refused) => refused,
        None => {
            let req = forward(
                &req,
                &req.inner().url(),
                &[(REQUEST_ID_HEADER, &request_id)],
            )?;
            route(req, env).await?
        }
    };
    let headers = response.headers().clone();
    headers.set(REQUEST_ID_HEADER, &request_id)?;
    // Answers carry secrets (tokens, link URLs, webhook secrets) or personal data (SCIM and app
    // resources): no cache may keep them. Only what says otherwise (the public keys and
    // discovery documents) may be cached.
    if !headers.has("cache-control")? {
        headers.set("cache-control", "no-store")?;
    }
    Ok(response.with_headers(headers))
}

/// A body declared larger than the limit is refused here, before it is forwarded anywhere, and
/// read to the end first (chunk by chunk, nothing kept): in workerd, an object that answers
/// without reading a streamed request body can break the client's connection instead of
/// delivering the 413. Bodies without a length are judged by the object as it reads them.
async fn refuse_oversized(req: &mut Request) -> Result<Option<Response>> {
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_none_or(|len| len <= MAX_BODY_BYTES as u64) {
        return Ok(None);
    }
    if let Ok(mut body) = req.stream() {
        while let Some(Ok(_)) = body.next().await {}
    }
    let error = ScimError::payload_too_large(MAX_BODY_BYTES);
    let response = if request_url(req).path().starts_with("/scim/") {
        error.into()
    } else {
        admin_error(&error)
    };
    to_platform(response).map(Some)
}

fn new_request_id() -> Result<String> {
    random_id(&mut OsRandom, "req_", 12).map_err(|e| worker::Error::RustError(e.detail))
}

async fn route(req: Request, env: Env) -> Result<Response> {
    let url = request_url(&req);
    let path = url.path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["scim", "v2", connection_id, ..] => scim(req, &env, &url, connection_id).await,
        ["setup", connection_id, ..] => setup_link(req, &env, &url, connection_id).await,
        ["v1", "connections", connection_id, rest @ ..] => {
            if !bearer_matches(&req, &env, "APP_API_TOKEN") {
                return to_platform(
                    admin_error(&ScimError::unauthorized())
                        .with_header("www-authenticate", "Bearer realm=\"app\""),
                );
            }
            app(req, &env, &url, connection_id, rest).await
        }
        ["admin", "v1", rest @ ..] => {
            if !bearer_matches(&req, &env, "ADMIN_TOKEN") {
                return to_platform(
                    admin_error(&ScimError::unauthorized())
                        .with_header("www-authenticate", "Bearer realm=\"admin\""),
                );
            }
            admin(req, &env, &url, rest).await
        }
        // The public keys that verify OIDC back-channel logout tokens.
        [".well-known", "jwks.json"] if req.method() == Method::Get => match signing_keys(&env) {
            Some(keys) => to_platform(
                HttpResponse::plain_json(200, &keys.jwks())
                    .with_header("cache-control", "public, max-age=300"),
            ),
            None => to_platform(admin_error(&ScimError::new(
                503,
                None,
                "No logout signing keys are configured (LOGOUT_SIGNING_KEYS).",
            ))),
        },
        // Each connection is the issuer of its users' logout tokens (tenant-safe `iss` + `sub`).
        ["connections", connection_id, ".well-known", "openid-configuration"]
            if req.method() == Method::Get && made_here(&env, connection_id) =>
        {
            let base = super::stub::logout_issuer(&env);
            to_platform(
                HttpResponse::plain_json(200, &logout_token::discovery(&base, connection_id))
                    .with_header("cache-control", "public, max-age=300"),
            )
        }
        [] | ["health"] => to_platform(HttpResponse::plain_json(
            200,
            &json!({"service": "scim-edge", "status": "ok"}),
        )),
        _ => to_platform(admin_error(&ScimError::not_found(format!(
            "Nothing at {path}."
        )))),
    }
}

fn origin(url: &RequestUrl) -> String {
    url.origin().to_owned()
}

/// Whether this deployment made `connection_id`: its MAC verifies under `CONNECTION_ID_KEY`
/// (`service::registry::connection_id`). Without a usable key nothing verifies, so no object is
/// ever named from a URL.
fn made_here(env: &Env, connection_id: &str) -> bool {
    connection_id_key(env).is_ok_and(|key| registry::verify(&key, connection_id))
}

/// The planes of the requests that name a connection's object (the setup page has its own
/// answer, in [`setup_link`]).
#[derive(Clone, Copy)]
enum Plane {
    /// `/scim/v2/{id}`: the object answers 401 without a connection.
    Scim,
    /// `/v1/connections/{id}` and the admin routes served by the object: its 404.
    Object,
}

/// The answer to a request naming a connection id this deployment did not make: what the
/// object of a connection that does not exist (or no longer does) answers on `plane`, which is
/// what a wrong token gets on SCIM. The body is read as the object reads it (an oversized one
/// is refused alike), so nothing tells the two apart; no object is named.
async fn forged(mut req: Request, plane: Plane) -> Result<Response> {
    let response = match (plane, to_service(&mut req, "").await?) {
        (Plane::Scim, Err(_)) => ScimError::payload_too_large(MAX_BODY_BYTES).into(),
        (Plane::Scim, Ok(_)) => ScimError::unauthorized().into(),
        (Plane::Object, Err(_)) => admin_error(&ScimError::payload_too_large(MAX_BODY_BYTES)),
        (Plane::Object, Ok(_)) => connection_not_found(),
    };
    to_platform(response)
}

/// `req` forwarded to `target` in the object of `connection_id` when this deployment made that
/// id, else the [`forged`] answer of `plane` (no object named).
async fn to_connection(
    req: Request,
    env: &Env,
    connection_id: &str,
    plane: Plane,
    target: &str,
    extra: &[(&str, &str)],
) -> Result<Response> {
    if !made_here(env, connection_id) {
        return forged(req, plane).await;
    }
    let forwarded = forward(&req, target, extra)?;
    connection_stub(env, connection_id)?
        .fetch_with_request(forwarded)
        .await
}

/// Routes `/scim/v2/{connection_id}/…` to that connection's object, which checks the token.
async fn scim(req: Request, env: &Env, url: &RequestUrl, connection_id: &str) -> Result<Response> {
    if !made_here(env, connection_id) {
        // Same answer as a wrong token: no hint whether the connection exists.
        return forged(req, Plane::Scim).await;
    }
    let prefix = format!("/scim/v2/{connection_id}");
    let rest = url
        .path()
        .strip_prefix(&prefix)
        .unwrap_or_default()
        .to_owned();
    let base_url = format!("{}{prefix}", origin(url));
    let target = match url.query() {
        Some(q) => format!("https://connection/scim{rest}?{q}"),
        None => format!("https://connection/scim{rest}"),
    };
    let extra = [(BASE_URL_HEADER, base_url.as_str())];
    to_connection(req, env, connection_id, Plane::Scim, &target, &extra).await
}

/// Routes `/setup/{connection_id}/…` (the self-service setup page, `api::setup`). The page is
/// the same static page for every connection, so a GET is answered here; the POSTs that carry
/// the link's secret in their body go to the connection's object when this deployment made the
/// id, and get a dead link's answer here otherwise. The secret is never in the URL (it is the
/// link's fragment), so nothing here or in any access log sees it.
async fn setup_link(
    mut req: Request,
    env: &Env,
    url: &RequestUrl,
    connection_id: &str,
) -> Result<Response> {
    let prefix = format!("/setup/{connection_id}");
    let rest = url
        .path()
        .strip_prefix(&prefix)
        .unwrap_or_default()
        .to_owned();
    if matches!(req.method(), Method::Get | Method::Head) || !made_here(env, connection_id) {
        // Read as the object reads it; answered as where there is no link.
        let method = req.method().to_string();
        let response = match to_service(&mut req, &rest).await? {
            Ok(request) => setup::without_link(&request),
            Err(_) => setup::invalid_link(&method),
        };
        return to_platform(response);
    }
    let base_url = format!("{}/scim/v2/{connection_id}", origin(url));
    let target = format!("https://connection/setup{rest}");
    let forwarded = forward(&req, &target, &[(BASE_URL_HEADER, &base_url)])?;
    connection_stub(env, connection_id)?
        .fetch_with_request(forwarded)
        .await
}

/// The app's runtime API (`/v1/connections/{id}/…`): routed to the connection's object.
async fn app(
    req: Request,
    env: &Env,
    url: &RequestUrl,
    connection_id: &str,
    rest: &[&str],
) -> Result<Response> {
    if !is_connection_id(connection_id) {
        return to_platform(admin_error(&ScimError::not_found(format!(
            "Connection {connection_id} not found."
        ))));
    }
    let base_url = format!("{}/scim/v2/{connection_id}", origin(url));
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let target = format!("https://connection/app/{}{query}", rest.join("/"));
    let extra = [(BASE_URL_HEADER, base_url.as_str())];
    to_connection(req, env, connection_id, Plane::Object, &target, &extra).await
}

/// `Authorization: Bearer <secret>` for the secret named `name`, compared in constant time over
/// SHA-256 digests. An unset or empty secret matches nothing.
fn bearer_matches(req: &Request, env: &Env, name: &str) -> bool {
    let Ok(expected) = env.secret(name).map(|s| s.to_string()) else {
        return false;
    };
    if expected.is_empty() {
        return false;
    }
    let presented = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .and_then(|h| {
            let (scheme, token) = h.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .unwrap_or_default();
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.ct_eq(&b))
}

/// The admin API (`/admin/v1`); see ARCHITECTURE.md for the contract.
async fn admin(mut req: Request, env: &Env, url: &RequestUrl, rest: &[&str]) -> Result<Response> {
    let origin = origin(url);
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    let calls = Admin {
        req: &req,
        env,
        origin: &origin,
        query: &query,
    };
    let registry = registry_stub(env)?;
    let to_registry = |req: &Request, path: &str| {
        forward(
            req,
            &format!("https://registry{path}{query}"),
            &[(ORIGIN_HEADER, &origin)],
        )
    };
    match (req.method(), rest) {
        (Method::Post, ["connections"]) => {
            // Fail closed: an id made without the key could never be verified.
            if let Err(e) = connection_id_key(env) {
                return to_platform(id_key_unusable(&e));
            }
            let (flow, first) = CreateConnection::start();
            drive(&calls, flow, first).await
        }
        (_, ["connections"]) => {
            registry
                .fetch_with_request(to_registry(&req, "/connections")?)
                .await
        }
        // The registry would answer its 404; a forged id does not reach it.
        (Method::Get | Method::Patch, ["connections", id]) if !made_here(env, id) => {
            to_platform(admin_error(&registry::unlisted(id)))
        }
        (Method::Get, ["connections", id]) => {
            let (flow, first) = GetConnection::start(id);
            drive(&calls, flow, first).await
        }
        (Method::Patch, ["connections", id]) => {
            let body = req.text().await?;
            let (flow, first) = UpdateConnection::start(id, body);
            let calls = Admin {
                req: &req,
                env,
                origin: &origin,
                query: &query,
            };
            drive(&calls, flow, first).await
        }
        // Not checked against the key: a connection listed before CONNECTION_ID_KEY was set can
        // still be deleted. The flow asks the registry first and names the object only when the
        // id is listed, so a forged id gets the registry's 404 and no object.
        (Method::Delete, ["connections", id]) => {
            let (flow, first) = DeleteConnection::start(id);
            drive(&calls, flow, first).await
        }
        (Method::Post, ["connections", id, "setup-links"]) => {
            if !is_connection_id(id) {
                return to_platform(admin_error(&ScimError::not_found(format!(
                    "Connection {id} not found."
                ))));
            }
            let target = "https://connection/admin/setup-links";
            let origin_header = [(ORIGIN_HEADER, origin.as_str())];
            to_connection(req, env, id, Plane::Object, target, &origin_header).await
        }
        (Method::Post, ["connections", id, "faults"]) if is_connection_id(id) => {
            let target = "https://connection/admin/faults";
            to_connection(req, env, id, Plane::Object, target, &[]).await
        }
        (_, ["webhooks" | "clients", ..]) | (Method::Get, ["events"]) => {
            registry_admin(req, &registry, &format!("/{}{query}", rest.join("/"))).await
        }
        (Method::Get, ["connections", id, "events"]) if is_connection_id(id) => {
            let target = format!("https://connection/admin/events{query}");
            to_connection(req, env, id, Plane::Object, &target, &[]).await
        }
        // Deprovisioning receipts (api::admin::deprovisioning): read-only, signed in the object.
        (Method::Get, ["connections", id, "deprovisionings", tail @ ..])
            if is_connection_id(id) =>
        {
            let tail: String = tail.iter().map(|s| format!("/{s}")).collect();
            let target = format!("https://connection/admin/deprovisionings{tail}{query}");
            to_connection(req, env, id, Plane::Object, &target, &[]).await
        }
        // The SCIM request log (`/requests`, `/requests/summary`, `/requests/{request_id}`).
        (Method::Get, ["connections", id, "requests", tail @ ..])
            if is_connection_id(id) && tail.len() <= 1 =>
        {
            let mut target = String::from("https://connection/admin/requests");
            for segment in tail {
                target.push('/');
                target.push_str(segment);
            }
            target.push_str(&query);
            to_connection(req, env, id, Plane::Object, &target, &[]).await
        }
        (_, ["connections", id, "mapping", tail @ ..]) if is_connection_id(id) => {
            let target = format!("https://connection/admin/mapping/{}{query}", tail.join("/"));
            to_connection(req, env, id, Plane::Object, &target, &[]).await
        }
        (_, ["connections", id, "tokens", tail @ ..]) => {
            if !is_connection_id(id) {
                return to_platform(admin_error(&ScimError::not_found(format!(
                    "Connection {id} not found."
                ))));
            }
            let mut path = String::from("/admin/tokens");
            for segment in tail {
                path.push('/');
                path.push_str(segment);
            }
            let target = format!("https://connection{path}");
            to_connection(req, env, id, Plane::Object, &target, &[]).await
        }
        _ => to_platform(admin_error(&ScimError::not_found(format!(
            "No admin route {} {}.",
            req.method(),
            url.path()
        )))),
    }
}

/// Webhooks, clients, dead letters and the registry's own event log live in the registry (a
/// replay goes on the queue through the registry's outbox).
async fn registry_admin(req: Request, registry: &Stub, path: &str) -> Result<Response> {
    let target = format!("https://registry{path}");
    registry
        .fetch_with_request(forward(&req, &target, &[])?)
        .await
}
