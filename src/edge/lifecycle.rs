//! Drives a connection flow of `api::admin::lifecycle`: each call goes to its object, each answer
//! back into the flow, until the flow has the response.

use worker::{Env, Method, Request, RequestInit, Response, Result};

use crate::api::admin::lifecycle::{Answer, Body, Call, Flow, Outgoing, Step};
use crate::api::http::ORIGIN_HEADER;

use super::http::{forward, to_platform};
use super::stub::{connection_stub, registry_stub};

/// What the calls of one admin request need besides the flow: the request itself (a call may
/// relay it), the public origin and the request's query (`?…` or empty), which the registry's
/// calls carry.
pub struct Admin<'a> {
    pub req: &'a Request,
    pub env: &'a Env,
    pub origin: &'a str,
    pub query: &'a str,
}

/// Runs `flow` from its first step to its response.
pub async fn drive(admin: &Admin<'_>, mut flow: impl Flow, first: Step) -> Result<Response> {
    let mut step = first;
    loop {
        match step {
            Step::Send(call) => {
                let answer = answer(send(admin, call).await?).await?;
                step = flow.next(answer);
            }
            Step::RespondAfter(call, response) => {
                let _ = send(admin, call).await;
                return to_platform(response);
            }
            Step::Respond(response) => return to_platform(response),
        }
    }
}

async fn send(admin: &Admin<'_>, call: Call) -> Result<Response> {
    match call {
        Call::Registry(outgoing) => {
            let url = format!("https://registry{}{}", outgoing.path, admin.query);
            let origin = [(ORIGIN_HEADER, admin.origin)];
            let request = match outgoing.body {
                Body::Incoming => forward(admin.req, &url, &origin)?,
                _ => forward(
                    &internal_request(&outgoing, "https://internal/")?,
                    &url,
                    &origin,
                )?,
            };
            registry_stub(admin.env)?.fetch_with_request(request).await
        }
        Call::Connection {
            connection_id,
            request: outgoing,
        } => {
            let url = format!("https://internal{}", outgoing.path);
            let request = match outgoing.body {
                Body::Incoming => forward(admin.req, &url, &[])?,
                _ => internal_request(&outgoing, &url)?,
            };
            connection_stub(admin.env, &connection_id)?
                .fetch_with_request(request)
                .await
        }
    }
}

/// A new request: the method and body only.
fn internal_request(outgoing: &Outgoing, url: &str) -> Result<Request> {
    let method = Method::from(outgoing.method.to_owned());
    let mut init = RequestInit::new();
    init.with_method(method);
    if let Body::Text(text) = &outgoing.body {
        init.with_body(Some(text.clone().into()));
    }
    Request::new_with_init(url, &init)
}

/// The platform's response as an [`Answer`]; the body's framing headers are left to the
/// platform to set again.
async fn answer(mut response: Response) -> Result<Answer> {
    let headers = response
        .headers()
        .entries()
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("transfer-encoding")
        })
        .collect();
    Ok(Answer {
        status: response.status_code(),
        headers,
        body: response.bytes().await?,
    })
}
