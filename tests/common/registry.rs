//! The registry driven through `registry::handle`, as its Durable Object does, on a clock the
//! test moves.
#![allow(dead_code)]

use serde_json::{json, Value};

use scim_edge::api::admin::registry;
use scim_edge::api::http::{HttpRequest, HttpResponse};
use scim_edge::service::sqlite::SqliteStore;

use super::{id_key, Counter, NOW};
use scim_edge::service::clock::Timestamp;
use scim_edge::service::delivery::outbound_url::OutboundPolicy;
use scim_edge::service::registry::{ConnectionIdKey, KeyError};

pub struct Registry {
    pub store: SqliteStore,
    pub random: Counter,
    pub now: Timestamp,
    /// As `make dev` and the e2e harness run (`ALLOW_LOOPBACK_TARGETS=on`): loopback receivers
    /// may be registered.
    pub outbound: OutboundPolicy,
    /// `CONNECTION_ID_KEY`: [`id_key`] unless a test takes it away.
    pub id_key: Result<ConnectionIdKey, KeyError>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry {
            store: SqliteStore::in_memory().unwrap(),
            random: Counter(7),
            now: NOW,
            outbound: OutboundPolicy::DEVELOPMENT,
            id_key: Ok(id_key()),
        }
    }

    pub fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        let raw = body.map(|b| b.to_string()).unwrap_or_default();
        self.call_raw(method, path, &raw)
    }

    pub fn call_raw(&mut self, method: &str, path: &str, body: &str) -> HttpResponse {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let request = HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            headers: vec![("x-request-id".into(), "req_test".into())],
            body: body.as_bytes().to_vec(),
        };
        registry::handle(
            &self.store,
            &mut self.random,
            self.id_key.as_ref(),
            self.now,
            "https://scim.example",
            self.outbound,
            &request,
        )
    }

    /// Calls and checks the status, returning the body.
    pub fn ok(&mut self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let r = self.call(method, path, body);
        assert_eq!(
            r.status,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// A 400 whose message contains `says`.
    pub fn bad(&mut self, method: &str, path: &str, body: Value, says: &str) {
        let r = self.call(method, path, Some(body.clone()));
        assert_eq!(
            r.status,
            400,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
        assert_eq!(r.json()["error"], "invalid_request");
        assert!(message.contains(says), "{body}: {message}");
    }

    pub fn connection(&mut self, name: &str) -> String {
        let c = self.ok("POST", "/connections", Some(json!({"name": name})), 201);
        c["id"].as_str().unwrap().to_owned()
    }

    pub fn webhook(&mut self, body: Value) -> Value {
        self.ok("POST", "/webhooks", Some(body), 201)
    }

    pub fn client(&mut self, body: Value) -> Value {
        self.ok("POST", "/clients", Some(body), 201)
    }

    /// The single integer a `SELECT count(*)` answers.
    pub fn store_count(&self, sql: &str) -> i64 {
        use scim_edge::service::store::Store;
        self.store.query_one(sql, &[]).unwrap().unwrap()[0]
            .as_i64()
            .unwrap()
    }

    /// The registry's event types, oldest first.
    pub fn event_types(&mut self) -> Vec<String> {
        self.ok("GET", "/events?limit=200", None, 200)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    pub fn fanout(&mut self, events: Value) -> Vec<Value> {
        self.ok(
            "POST",
            "/internal/fanout",
            Some(json!({"events": events})),
            200,
        )["deliveries"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Reports attempts under `policy` and returns the decisions.
    pub fn attempts(&mut self, policy: Value, attempts: Value) -> Vec<Value> {
        self.ok(
            "POST",
            "/internal/attempts",
            Some(json!({"policy": policy, "attempts": attempts})),
            200,
        )["decisions"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// An event envelope as a connection's object sends it.
pub fn envelope(id: &str, kind: &str, connection_id: &str, data: Value) -> Value {
    json!({
        "id": id,
        "type": kind,
        "connection_id": connection_id,
        "occurred_at": "2027-01-15T08:00:00.000Z",
        "sequence": 1,
        "actor": "token:tok_1",
        "request_id": "req_1",
        "data": data,
    })
}
