//! The edge adapter: the only code that touches the Workers platform. The Worker routes; the
//! Durable Objects own state; the service layer decides.

mod connection;
mod consumer;
mod http;
mod outbox;
mod registry;
mod store;
mod stub;
mod webcrypto;

use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use worker::{event, Context, Env, MessageBatch, Method, Request, Response, Result, Stub};

use crate::api::http::{
    HttpResponse, RequestUrl, MAX_BODY_BYTES, ORIGIN_HEADER, REQUEST_ID_HEADER,
};
use crate::api::json::admin_error;
use crate::scim::ScimError;
use crate::service::clock::{OsRandom, Random};
use crate::service::registry::is_connection_id;
use http::{forward, to_platform};
use stub::{connection_stub, registry_stub};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // Every request gets an id: it travels to the object (and into the events the request
    // records) and back to the client as `X-Request-Id`.
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
    let response = if http::request_url(req).path().starts_with("/scim/") {
        error.into()
    } else {
        admin_error(&error)
    };
    to_platform(response).map(Some)
}

fn new_request_id() -> Result<String> {
    let mut bytes = [0u8; 12];
    OsRandom
        .fill(&mut bytes)
        .map_err(|e| worker::Error::RustError(e.detail))?;
    Ok(format!(
        "req_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The `EVENTS` queue: events from connections' outboxes, and deliveries (see `consumer`).
#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    consumer::consume(batch, env).await;
    Ok(())
}

async fn route(req: Request, env: Env) -> Result<Response> {
    let url = http::request_url(&req);
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
        [".well-known", "jwks.json"] if req.method() == Method::Get => {
            match consumer::signing_keys(&env) {
                Some(keys) => to_platform(
                    HttpResponse::plain_json(200, &keys.jwks())
                        .with_header("cache-control", "public, max-age=300"),
                ),
                None => to_platform(admin_error(&ScimError::new(
                    503,
                    None,
                    "No logout signing keys are configured (LOGOUT_SIGNING_KEYS).",
                ))),
            }
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

/// Routes `/scim/v2/{connection_id}/…` to that connection's object, which checks the token.
async fn scim(req: Request, env: &Env, url: &RequestUrl, connection_id: &str) -> Result<Response> {
    if !is_connection_id(connection_id) {
        // Same answer as a wrong token: no hint whether the connection exists.
        return to_platform(ScimError::unauthorized().into());
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
    let forwarded = forward(&req, &target, &[(connection::BASE_URL_HEADER, &base_url)])?;
    connection_stub(env, connection_id)?
        .fetch_with_request(forwarded)
        .await
}

/// Routes `/setup/{connection_id}/…` (the self-service setup page; the link's secret is its
/// credential) to that connection's object.
async fn setup_link(
    req: Request,
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
    if !is_connection_id(connection_id) {
        let method = req.method().to_string();
        return to_platform(crate::api::setup::invalid_link(&method, &rest));
    }
    let base_url = format!("{}/scim/v2/{connection_id}", origin(url));
    let target = format!("https://connection/setup{rest}");
    let forwarded = forward(&req, &target, &[(connection::BASE_URL_HEADER, &base_url)])?;
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
    let forwarded = forward(&req, &target, &[(connection::BASE_URL_HEADER, &base_url)])?;
    connection_stub(env, connection_id)?
        .fetch_with_request(forwarded)
        .await
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
async fn admin(req: Request, env: &Env, url: &RequestUrl, rest: &[&str]) -> Result<Response> {
    let origin = origin(url);
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
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
            let mut created = registry
                .fetch_with_request(to_registry(&req, "/connections")?)
                .await?;
            if created.status_code() != 201 {
                return Ok(created);
            }
            let record: serde_json::Value = created.json().await?;
            let id = record["id"].as_str().unwrap_or_default().to_owned();
            let init = json!({
                "id": id,
                "name": record["name"],
                "created_at": record["created_at"],
            });
            let response = internal_json(
                &connection_stub(env, &id)?,
                Method::Post,
                "/admin/init",
                Some(init.to_string()),
            )
            .await?;
            if response.status_code() >= 300 {
                // Undo the listing so no connection exists half-made.
                let _ = registry
                    .fetch_with_request(to_registry(
                        &delete_request()?,
                        &format!("/connections/{id}"),
                    )?)
                    .await;
                return to_platform(admin_error(&ScimError::internal()));
            }
            to_platform(HttpResponse::plain_json(201, &record))
        }
        (_, ["connections"]) => {
            registry
                .fetch_with_request(to_registry(&req, "/connections")?)
                .await
        }
        (Method::Get, ["connections", id]) => {
            let path = format!("/connections/{id}");
            let mut found = registry
                .fetch_with_request(to_registry(&req, &path)?)
                .await?;
            if found.status_code() != 200 {
                return Ok(found);
            }
            let record: serde_json::Value = found.json().await?;
            let own = internal_json(
                &connection_stub(env, id)?,
                Method::Get,
                "/admin/connection",
                None,
            )
            .await?;
            merged(record, own).await
        }
        (Method::Patch, ["connections", id]) => {
            let mut req = req;
            let body = req.text().await?;
            let path = format!("/connections/{id}");
            let found = registry
                .fetch_with_request(to_registry(&get_request()?, &path)?)
                .await?;
            if found.status_code() != 200 {
                return Ok(found);
            }
            // The object validates and applies name and settings; the registry's copy of the
            // name follows.
            let own = internal_json(
                &connection_stub(env, id)?,
                Method::Patch,
                "/admin/connection",
                Some(body.clone()),
            )
            .await?;
            if own.status_code() != 200 {
                return Ok(own);
            }
            let name = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|b| b.get("name").cloned());
            let mut record = match name {
                Some(name) => {
                    let rename = internal_request(
                        Method::Patch,
                        "/",
                        Some(serde_json::json!({"name": name}).to_string()),
                    )?;
                    registry
                        .fetch_with_request(to_registry(&rename, &path)?)
                        .await?
                }
                None => {
                    registry
                        .fetch_with_request(to_registry(&get_request()?, &path)?)
                        .await?
                }
            };
            let record: serde_json::Value = record.json().await?;
            merged(record, own).await
        }
        (Method::Delete, ["connections", id]) => {
            let path = format!("/connections/{id}");
            let found = registry
                .fetch_with_request(to_registry(&get_request()?, &path)?)
                .await?;
            if found.status_code() != 200 {
                return Ok(found);
            }
            // Credentials and data first: from here on the SCIM URL answers 401.
            connection_stub(env, id)?
                .fetch_with_request(internal_request(Method::Post, "/admin/destroy", None)?)
                .await?;
            registry.fetch_with_request(to_registry(&req, &path)?).await
        }
        (Method::Post, ["connections", id, "setup-links"]) => {
            if !is_connection_id(id) {
                return to_platform(admin_error(&ScimError::not_found(format!(
                    "Connection {id} not found."
                ))));
            }
            let target = "https://connection/admin/setup-links";
            let origin_header = (ORIGIN_HEADER, origin.as_str());
            connection_stub(env, id)?
                .fetch_with_request(forward(&req, target, &[origin_header])?)
                .await
        }
        (Method::Post, ["connections", id, "faults"]) if is_connection_id(id) => {
            connection_stub(env, id)?
                .fetch_with_request(forward(&req, "https://connection/admin/faults", &[])?)
                .await
        }
        (_, ["webhooks" | "clients", ..]) | (Method::Get, ["events"]) => {
            registry_admin(req, &registry, &format!("/{}{query}", rest.join("/"))).await
        }
        (Method::Get, ["connections", id, "events"]) if is_connection_id(id) => {
            let target = format!("https://connection/admin/events{query}");
            connection_stub(env, id)?
                .fetch_with_request(forward(&req, &target, &[])?)
                .await
        }
        (_, ["connections", id, "mapping", tail @ ..]) if is_connection_id(id) => {
            let target = format!("https://connection/admin/mapping/{}{query}", tail.join("/"));
            connection_stub(env, id)?
                .fetch_with_request(forward(&req, &target, &[])?)
                .await
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
            connection_stub(env, id)?
                .fetch_with_request(forward(&req, &target, &[])?)
                .await
        }
        _ => to_platform(admin_error(&ScimError::not_found(format!(
            "No admin route {} {}.",
            req.method(),
            url.path()
        )))),
    }
}

fn internal_request(method: Method, path: &str, body: Option<String>) -> Result<Request> {
    let mut init = worker::RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    Request::new_with_init(&format!("https://internal{path}"), &init)
}

fn get_request() -> Result<Request> {
    internal_request(Method::Get, "/", None)
}

fn delete_request() -> Result<Request> {
    internal_request(Method::Delete, "/", None)
}

async fn internal_json(
    stub: &Stub,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    stub.fetch_with_request(internal_request(method, path, body)?)
        .await
}

/// The registry's record of a connection with what its own object adds (settings, tokens).
async fn merged(mut record: serde_json::Value, mut own: Response) -> Result<Response> {
    if own.status_code() != 200 {
        return Ok(own);
    }
    let own: serde_json::Value = own.json().await?;
    for key in ["settings", "active_tokens"] {
        if let Some(v) = own.get(key) {
            record[key] = v.clone();
        }
    }
    to_platform(HttpResponse::plain_json(200, &record))
}

/// Webhooks, clients, dead letters and the registry's own event log live in the registry (a
/// replay goes on the queue through the registry's outbox).
async fn registry_admin(req: Request, registry: &Stub, path: &str) -> Result<Response> {
    let target = format!("https://registry{path}");
    registry
        .fetch_with_request(forward(&req, &target, &[])?)
        .await
}
