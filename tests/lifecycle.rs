//! Host tests of the connection flows that span the registry and a connection's object
//! (`api::admin::lifecycle`): which calls they make, in which order, when they roll back, how
//! they merge the two records, and which answers pass through as they are.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};

use scim_edge::api::admin::lifecycle::{
    Answer, Body, Call, CreateConnection, DeleteConnection, Flow, GetConnection, Outgoing, Step,
    UpdateConnection,
};
use scim_edge::api::http::HttpResponse;

const ID: &str = "con_00000000000000000001";

fn registry(method: &'static str, path: &str, body: Body) -> Step {
    Step::Send(Call::Registry(Outgoing {
        method,
        path: path.to_owned(),
        body,
    }))
}

fn connection(method: &'static str, path: &str, body: Body) -> Step {
    Step::Send(Call::Connection {
        connection_id: ID.to_owned(),
        request: Outgoing {
            method,
            path: path.to_owned(),
            body,
        },
    })
}

fn record_path() -> String {
    format!("/connections/{ID}")
}

fn record() -> Value {
    json!({
        "id": ID,
        "name": "Acme",
        "created_at": "2026-01-01T00:00:00Z",
        "scim_base_url": format!("https://scim.example/scim/v2/{ID}"),
    })
}

fn own() -> Value {
    json!({
        "id": ID,
        "name": "Acme",
        "settings": {"rate_limit_per_minute": 600},
        "active_tokens": 2,
        "not_merged": true,
    })
}

fn respond(step: Step) -> HttpResponse {
    match step {
        Step::Respond(response) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn json_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

/// An error answer as an object gives it, with a header besides the content type.
fn refusal(status: u16, code: &str) -> Answer {
    let mut answer = Answer::json(status, &json!({"error": code, "message": "No."}));
    answer.headers.push(("x-extra".into(), "kept".into()));
    answer
}

fn assert_passed_through(response: &HttpResponse, answer: &Answer) {
    assert_eq!(response.status, answer.status);
    assert_eq!(response.headers, answer.headers);
    assert_eq!(response.body, answer.body);
}

// ---------------------------------------------------------------------------------------------
// Create

#[test]
fn create_lists_then_initialises_and_answers_the_record() {
    let (mut flow, step) = CreateConnection::start();
    assert_eq!(step, registry("POST", "/connections", Body::Incoming));
    let step = flow.next(Answer::json(201, &record()));
    let init = json!({"id": ID, "name": "Acme", "created_at": "2026-01-01T00:00:00Z"});
    assert_eq!(
        step,
        connection("POST", "/admin/init", Body::Text(init.to_string()))
    );
    let response = respond(flow.next(Answer::json(200, &json!({"ok": true}))));
    assert_eq!(response.status, 201);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(json_of(&response), record());
}

#[test]
fn create_rolls_the_listing_back_when_the_object_refuses_to_initialise() {
    for status in [300, 409, 500, 503] {
        let (mut flow, _) = CreateConnection::start();
        flow.next(Answer::json(201, &record()));
        match flow.next(refusal(status, "internal_error")) {
            Step::RespondAfter(undo, response) => {
                assert_eq!(
                    undo,
                    Call::Registry(Outgoing {
                        method: "DELETE",
                        path: record_path(),
                        body: Body::Empty,
                    })
                );
                assert_eq!(response.status, 500);
                assert_eq!(response.header("content-type"), Some("application/json"));
                assert_eq!(json_of(&response)["error"], "internal_error");
            }
            other => panic!("{status}: expected the rollback, got {other:?}"),
        }
    }
}

#[test]
fn create_passes_a_refusal_by_the_registry_through() {
    for status in [200, 400, 401, 500] {
        let (mut flow, _) = CreateConnection::start();
        let answer = refusal(status, "invalid_request");
        let response = respond(flow.next(answer.clone()));
        assert_passed_through(&response, &answer);
    }
}

#[test]
fn create_answers_a_registry_record_that_is_not_json_with_a_500() {
    let (mut flow, _) = CreateConnection::start();
    let mut answer = Answer::empty(201);
    answer.body = b"not json".to_vec();
    let response = respond(flow.next(answer));
    assert_eq!(response.status, 500);
    assert_eq!(json_of(&response)["error"], "internal_error");
    assert!(response.log.is_some());
}

// ---------------------------------------------------------------------------------------------
// Get

#[test]
fn get_merges_the_objects_settings_and_active_tokens_into_the_record() {
    let (mut flow, step) = GetConnection::start(ID);
    assert_eq!(step, registry("GET", &record_path(), Body::Incoming));
    let step = flow.next(Answer::json(200, &record()));
    assert_eq!(step, connection("GET", "/admin/connection", Body::Empty));
    let response = respond(flow.next(Answer::json(200, &own())));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let mut expected = record();
    expected["settings"] = json!({"rate_limit_per_minute": 600});
    expected["active_tokens"] = json!(2);
    assert_eq!(json_of(&response), expected);
}

#[test]
fn get_keeps_the_record_where_the_object_adds_nothing() {
    let (mut flow, _) = GetConnection::start(ID);
    flow.next(Answer::json(200, &record()));
    let response = respond(flow.next(Answer::json(200, &json!({"active_tokens": 0}))));
    let mut expected = record();
    expected["active_tokens"] = json!(0);
    assert_eq!(json_of(&response), expected);
}

#[test]
fn get_passes_the_registrys_404_through() {
    let (mut flow, _) = GetConnection::start("con_unknown");
    let answer = refusal(404, "not_found");
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

#[test]
fn get_passes_the_objects_refusal_through() {
    let (mut flow, _) = GetConnection::start(ID);
    flow.next(Answer::json(200, &record()));
    let answer = refusal(500, "internal_error");
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

// ---------------------------------------------------------------------------------------------
// Update

#[test]
fn update_with_a_name_renames_the_listing_after_the_object_applied_it() {
    let body = json!({"name": "Acme Corp", "settings": {"rate_limit_per_minute": 60}}).to_string();
    let (mut flow, step) = UpdateConnection::start(ID, body.clone());
    assert_eq!(step, registry("GET", &record_path(), Body::Empty));
    let step = flow.next(Answer::json(200, &record()));
    assert_eq!(
        step,
        connection("PATCH", "/admin/connection", Body::Text(body))
    );
    let step = flow.next(Answer::json(200, &own()));
    assert_eq!(
        step,
        registry(
            "PATCH",
            &record_path(),
            Body::Text(json!({"name": "Acme Corp"}).to_string())
        )
    );
    let mut renamed = record();
    renamed["name"] = json!("Acme Corp");
    let response = respond(flow.next(Answer::json(200, &renamed)));
    assert_eq!(response.status, 200);
    let mut expected = renamed;
    expected["settings"] = json!({"rate_limit_per_minute": 600});
    expected["active_tokens"] = json!(2);
    assert_eq!(json_of(&response), expected);
}

#[test]
fn update_without_a_name_reads_the_record_again() {
    for body in [
        json!({"settings": {"rate_limit_per_minute": 60}}).to_string(),
        String::new(),
    ] {
        let (mut flow, _) = UpdateConnection::start(ID, body.clone());
        flow.next(Answer::json(200, &record()));
        let step = flow.next(Answer::json(200, &own()));
        assert_eq!(step, registry("GET", &record_path(), Body::Empty), "{body}");
        let response = respond(flow.next(Answer::json(200, &record())));
        assert_eq!(response.status, 200);
        assert_eq!(json_of(&response)["active_tokens"], 2);
    }
}

#[test]
fn update_passes_the_objects_refusal_through_and_leaves_the_listing() {
    let body = json!({"name": 7}).to_string();
    let (mut flow, _) = UpdateConnection::start(ID, body);
    flow.next(Answer::json(200, &record()));
    let answer = refusal(400, "invalid_request");
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

#[test]
fn update_passes_the_registrys_404_through() {
    let (mut flow, _) = UpdateConnection::start("con_unknown", "{}".into());
    let answer = refusal(404, "not_found");
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

// ---------------------------------------------------------------------------------------------
// Delete

#[test]
fn delete_destroys_the_object_before_the_listing() {
    let (mut flow, step) = DeleteConnection::start(ID);
    assert_eq!(step, registry("GET", &record_path(), Body::Empty));
    let step = flow.next(Answer::json(200, &record()));
    assert_eq!(step, connection("POST", "/admin/destroy", Body::Empty));
    let step = flow.next(Answer::empty(204));
    assert_eq!(step, registry("DELETE", &record_path(), Body::Incoming));
    let answer = Answer::empty(204);
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

#[test]
fn delete_unlists_whatever_the_object_answers_and_passes_the_registrys_answer_through() {
    let (mut flow, _) = DeleteConnection::start(ID);
    flow.next(Answer::json(200, &record()));
    let step = flow.next(refusal(500, "internal_error"));
    assert_eq!(step, registry("DELETE", &record_path(), Body::Incoming));
    let answer = refusal(409, "conflict");
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

#[test]
fn delete_passes_the_registrys_404_through() {
    let (mut flow, _) = DeleteConnection::start("con_unknown");
    let answer = refusal(404, "not_found");
    let response = respond(flow.next(answer.clone()));
    assert_passed_through(&response, &answer);
}

#[test]
fn a_flow_fed_after_it_responded_answers_a_500() {
    let (mut flow, _) = DeleteConnection::start("con_unknown");
    respond(flow.next(refusal(404, "not_found")));
    let response = respond(flow.next(Answer::empty(200)));
    assert_eq!(response.status, 500);
    assert!(response.log.is_some());
}
