//! The edge adapter: the only code that touches the Workers platform. The Worker routes
//! ([`router`]); the Durable Objects own state; the service layer decides.

mod connection;
mod consumer;
mod http;
mod lifecycle;
mod outbox;
mod receipt;
mod registry;
mod router;
mod store;
mod stub;
mod webcrypto;

use worker::{event, Context, Env, MessageBatch, Request, Response, Result};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    router::handle(req, env).await
}

/// The `EVENTS` queue: events from connections' outboxes, and deliveries (see `consumer`).
#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> Result<()> {
    consumer::consume(batch, env).await;
    Ok(())
}
