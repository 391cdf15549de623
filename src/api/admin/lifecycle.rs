//! A connection's create, read, update and delete span two objects: the registry (the listing:
//! id, name, dates) and the connection's own object (tables, settings, tokens). Each flow here is
//! sans-IO: it says which call to make next ([`Step::Send`]), the edge makes it and feeds the
//! answer back ([`Flow::next`]), until the flow has the response ([`Step::Respond`]). So the
//! order of the calls, the rollback and the merging are decided here and tested on the host;
//! the edge only carries the calls.
//!
//! - [`CreateConnection`]: the registry lists it, the object is initialised; when that fails the
//!   listing is deleted again, so no connection exists half-made.
//! - [`GetConnection`]: the registry's record with the object's `settings` and `active_tokens`.
//! - [`UpdateConnection`]: the object validates and applies the change, the registry's copy of
//!   the name follows.
//! - [`DeleteConnection`]: the object's credentials and data go first, then the listing.
//!
//! An answer that is not the expected success is the response as it is (the registry's 404 for
//! an unknown id, its 400 for a bad name, the object's 400 for bad settings).

use serde_json::{json, Value};

use crate::api::http::HttpResponse;
use crate::api::json::admin_error;
use crate::scim::ScimError;

/// A request the edge sends for a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// To the registry's object, at `path` with the admin request's query, carrying the public
    /// origin (`ORIGIN_HEADER`) from which the registry builds the connection's URLs.
    Registry(Outgoing),
    /// To the object of the connection `connection_id`.
    Connection {
        connection_id: String,
        request: Outgoing,
    },
}

/// What a [`Call`] sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub method: &'static str,
    pub path: String,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A new request without a body or headers.
    Empty,
    /// A new request with this text as its body and no headers.
    Text(String),
    /// The admin request itself, relayed with its headers (the request id among them) and body;
    /// its method is the [`Outgoing::method`].
    Incoming,
}

/// An answer to a [`Call`]: its status, headers (names as the platform gives them) and body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// A JSON answer, as the objects give them.
    pub fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Answer {
        Answer {
            status,
            ..Answer::default()
        }
    }

    /// The answer, unchanged, as the response to the admin request.
    pub fn into_response(self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self.headers,
            body: self.body,
            log: None,
        }
    }

    /// The body as JSON; `Err` is the response for a body that is not (the objects only answer
    /// JSON where a flow reads it).
    fn parse(&self, what: &str) -> Result<Value, HttpResponse> {
        serde_json::from_slice(&self.body).map_err(|e| {
            admin_error(&ScimError::internal_because(format!(
                "{what} is not JSON ({} answered): {e}",
                self.status
            )))
        })
    }
}

/// What the edge does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this call and feed its answer to [`Flow::next`].
    Send(Call),
    /// Send this call, best effort (its answer and its failure alike change nothing), then give
    /// this response.
    RespondAfter(Call, HttpResponse),
    /// The response to the admin request; the flow is done.
    Respond(HttpResponse),
}

/// A flow in progress: fed the answer to the call of its last [`Step::Send`].
pub trait Flow {
    fn next(&mut self, answer: Answer) -> Step;
}

fn registry(method: &'static str, path: String, body: Body) -> Call {
    Call::Registry(Outgoing { method, path, body })
}

fn connection(connection_id: &str, method: &'static str, path: &str, body: Body) -> Call {
    Call::Connection {
        connection_id: connection_id.to_owned(),
        request: Outgoing {
            method,
            path: path.to_owned(),
            body,
        },
    }
}

fn record_path(connection_id: &str) -> String {
    format!("/connections/{connection_id}")
}

/// The registry's record of a connection with what its own object adds (`settings`,
/// `active_tokens`), or the object's answer when it is not a 200.
fn merged(mut record: Value, own: Answer) -> HttpResponse {
    if own.status != 200 {
        return own.into_response();
    }
    let own = match own.parse("The connection's own record") {
        Ok(own) => own,
        Err(response) => return response,
    };
    for key in ["settings", "active_tokens"] {
        if let Some(v) = own.get(key) {
            record[key] = v.clone();
        }
    }
    HttpResponse::plain_json(200, &record)
}

/// `POST /admin/v1/connections`: the registry creates the listing from the admin request as it
/// came, then the connection's object is initialised (`POST /admin/init`) with its id, name and
/// creation time. When the object refuses, the listing is deleted again and the answer is a 500.
#[derive(Debug)]
pub struct CreateConnection {
    state: CreateState,
}

#[derive(Debug)]
enum CreateState {
    Listing,
    Initialising { id: String, record: Value },
    Done,
}

impl CreateConnection {
    pub fn start() -> (CreateConnection, Step) {
        let flow = CreateConnection {
            state: CreateState::Listing,
        };
        let step = Step::Send(registry("POST", "/connections".into(), Body::Incoming));
        (flow, step)
    }
}

impl Flow for CreateConnection {
    fn next(&mut self, answer: Answer) -> Step {
        match std::mem::replace(&mut self.state, CreateState::Done) {
            CreateState::Listing => {
                if answer.status != 201 {
                    return Step::Respond(answer.into_response());
                }
                let record = match answer.parse("The registry's new record") {
                    Ok(record) => record,
                    Err(response) => return Step::Respond(response),
                };
                let id = record["id"].as_str().unwrap_or_default().to_owned();
                let init = json!({
                    "id": id,
                    "name": record["name"],
                    "created_at": record["created_at"],
                });
                let call = connection(&id, "POST", "/admin/init", Body::Text(init.to_string()));
                self.state = CreateState::Initialising { id, record };
                Step::Send(call)
            }
            CreateState::Initialising { id, record } => {
                if answer.status >= 300 {
                    // Undo the listing so no connection exists half-made.
                    let undo = registry("DELETE", record_path(&id), Body::Empty);
                    return Step::RespondAfter(undo, admin_error(&ScimError::internal()));
                }
                Step::Respond(HttpResponse::plain_json(201, &record))
            }
            CreateState::Done => done(),
        }
    }
}

/// `GET /admin/v1/connections/{id}`: the registry's record (the admin request relayed), merged
/// with the object's `GET /admin/connection`.
#[derive(Debug)]
pub struct GetConnection {
    id: String,
    state: GetState,
}

#[derive(Debug)]
enum GetState {
    Record,
    Own { record: Value },
    Done,
}

impl GetConnection {
    pub fn start(connection_id: &str) -> (GetConnection, Step) {
        let flow = GetConnection {
            id: connection_id.to_owned(),
            state: GetState::Record,
        };
        let step = Step::Send(registry("GET", record_path(connection_id), Body::Incoming));
        (flow, step)
    }
}

impl Flow for GetConnection {
    fn next(&mut self, answer: Answer) -> Step {
        match std::mem::replace(&mut self.state, GetState::Done) {
            GetState::Record => {
                if answer.status != 200 {
                    return Step::Respond(answer.into_response());
                }
                let record = match answer.parse("The registry's record") {
                    Ok(record) => record,
                    Err(response) => return Step::Respond(response),
                };
                self.state = GetState::Own { record };
                Step::Send(connection(
                    &self.id,
                    "GET",
                    "/admin/connection",
                    Body::Empty,
                ))
            }
            GetState::Own { record } => Step::Respond(merged(record, answer)),
            GetState::Done => done(),
        }
    }
}

/// `PATCH /admin/v1/connections/{id}` with the admin request's body: the registry must know the
/// connection; the object validates and applies name and settings (`PATCH /admin/connection`,
/// the body as it came); then the registry renames its listing when a name was given (else its
/// record is read again), and the answer is that record merged with the object's.
#[derive(Debug)]
pub struct UpdateConnection {
    id: String,
    body: String,
    state: UpdateState,
}

#[derive(Debug)]
enum UpdateState {
    Known,
    Applied,
    Record { own: Answer },
    Done,
}

impl UpdateConnection {
    pub fn start(connection_id: &str, body: String) -> (UpdateConnection, Step) {
        let flow = UpdateConnection {
            id: connection_id.to_owned(),
            body,
            state: UpdateState::Known,
        };
        let step = Step::Send(registry("GET", record_path(connection_id), Body::Empty));
        (flow, step)
    }
}

impl Flow for UpdateConnection {
    fn next(&mut self, answer: Answer) -> Step {
        match std::mem::replace(&mut self.state, UpdateState::Done) {
            UpdateState::Known => {
                if answer.status != 200 {
                    return Step::Respond(answer.into_response());
                }
                self.state = UpdateState::Applied;
                Step::Send(connection(
                    &self.id,
                    "PATCH",
                    "/admin/connection",
                    Body::Text(self.body.clone()),
                ))
            }
            UpdateState::Applied => {
                if answer.status != 200 {
                    return Step::Respond(answer.into_response());
                }
                let name = serde_json::from_str::<Value>(&self.body)
                    .ok()
                    .and_then(|b| b.get("name").cloned());
                let path = record_path(&self.id);
                let call = match name {
                    Some(name) => registry(
                        "PATCH",
                        path,
                        Body::Text(json!({ "name": name }).to_string()),
                    ),
                    None => registry("GET", path, Body::Empty),
                };
                self.state = UpdateState::Record { own: answer };
                Step::Send(call)
            }
            // The registry's answer is the record whatever its status: the object has accepted
            // the name already.
            UpdateState::Record { own } => match answer.parse("The registry's record") {
                Ok(record) => Step::Respond(merged(record, own)),
                Err(response) => Step::Respond(response),
            },
            UpdateState::Done => done(),
        }
    }
}

/// `DELETE /admin/v1/connections/{id}`: the registry must know the connection; the object's
/// credentials and data go first (`POST /admin/destroy`; from then on the SCIM URL answers 401),
/// then the registry deletes the listing (the admin request relayed) and its answer is the
/// response.
#[derive(Debug)]
pub struct DeleteConnection {
    id: String,
    state: DeleteState,
}

#[derive(Debug)]
enum DeleteState {
    Known,
    Destroyed,
    Unlisted,
    Done,
}

impl DeleteConnection {
    pub fn start(connection_id: &str) -> (DeleteConnection, Step) {
        let flow = DeleteConnection {
            id: connection_id.to_owned(),
            state: DeleteState::Known,
        };
        let step = Step::Send(registry("GET", record_path(connection_id), Body::Empty));
        (flow, step)
    }
}

impl Flow for DeleteConnection {
    fn next(&mut self, answer: Answer) -> Step {
        match std::mem::replace(&mut self.state, DeleteState::Done) {
            DeleteState::Known => {
                if answer.status != 200 {
                    return Step::Respond(answer.into_response());
                }
                self.state = DeleteState::Destroyed;
                Step::Send(connection(&self.id, "POST", "/admin/destroy", Body::Empty))
            }
            // Whatever the object answered, the listing goes.
            DeleteState::Destroyed => {
                self.state = DeleteState::Unlisted;
                Step::Send(registry("DELETE", record_path(&self.id), Body::Incoming))
            }
            DeleteState::Unlisted => Step::Respond(answer.into_response()),
            DeleteState::Done => done(),
        }
    }
}

/// An answer fed to a flow that has already responded: a driver's bug, answered as one.
fn done() -> Step {
    Step::Respond(admin_error(&ScimError::internal_because(
        "a connection flow was fed an answer after it responded",
    )))
}
