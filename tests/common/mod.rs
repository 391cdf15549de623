//! The test fixture shared by the host tests: one connection on an in-memory SQLite, driven
//! through the same `scim::handle` the Durable Object calls.
#![allow(dead_code)]

pub mod registry;

use serde_json::{json, Value};

use scim_edge::api::http::{HttpRequest, HttpResponse};
use scim_edge::api::scim;
use scim_edge::scim::ScimError;
use scim_edge::service::clock::{Random, Timestamp};
use scim_edge::service::connection;
use scim_edge::service::connection::token;
use scim_edge::service::sqlite::SqliteStore;
use scim_edge::service::store::Store;

pub const BASE: &str = "https://scim.example/scim/v2/con_00000000000000000001";
pub const NOW: Timestamp = Timestamp(1_800_000_000_000);
/// The `CONNECTION_ID_KEY` of the host tests (64 bytes, as `openssl rand -hex 32` gives).
pub const ID_KEY_SECRET: &str = "4f1c2a7be05d9e3186ab44c0f2d7e91a3b58c6d0e2f4a6b8c0d2e4f6a8b0c2d4";

/// The key made from [`ID_KEY_SECRET`].
pub fn id_key() -> scim_edge::service::registry::ConnectionIdKey {
    scim_edge::service::registry::ConnectionIdKey::from_secret(Some(ID_KEY_SECRET))
        .expect("a 64-byte key")
}

/// A deterministic random source (SplitMix64), so ids and tokens are reproducible in tests.
pub struct Counter(pub u64);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ScimError> {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

pub struct Fixture {
    pub store: SqliteStore,
    pub random: Counter,
    pub token: String,
}

impl Fixture {
    pub fn new() -> Fixture {
        let store = SqliteStore::in_memory().unwrap();
        connection::init(
            &store,
            "con_00000000000000000001",
            "Acme",
            "2027-01-15T08:00:00.000Z",
        )
        .unwrap();
        let mut random = Counter(1);
        let issued = token::issue(&store, &mut random, NOW, None, None).unwrap();
        Fixture {
            store,
            random,
            token: issued.token,
        }
    }

    pub fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        self.call_with(method, path, body, &[])
    }

    pub fn call_with(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (path, ""),
        };
        let query = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k.to_owned(), v.replace("%20", " ").replace("%22", "\""))
            })
            .collect();
        let mut all_headers = vec![
            ("authorization".to_owned(), format!("Bearer {}", self.token)),
            (
                "content-type".to_owned(),
                "application/scim+json".to_owned(),
            ),
        ];
        for (k, v) in headers {
            all_headers.retain(|(name, _)| name != k);
            all_headers.push(((*k).to_owned(), (*v).to_owned()));
        }
        let request = HttpRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            headers: all_headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        };
        scim::handle(&self.store, &mut self.random, BASE, NOW, &request)
    }

    pub fn create(&mut self, user_name: &str) -> Value {
        let response = self.call(
            "POST",
            "/Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name})),
        );
        assert_eq!(
            response.status,
            201,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        response.json()
    }

    /// The connection's event log, oldest first (the first 200).
    pub fn events(&self) -> Vec<Value> {
        scim_edge::service::event::list(
            &self.store,
            Some("con_00000000000000000001"),
            None,
            Some("200"),
        )
        .unwrap()["events"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn user_count(&self) -> i64 {
        let row = self
            .store
            .query_one("SELECT count(*) FROM user", &[])
            .unwrap()
            .unwrap();
        row[0].as_i64().unwrap()
    }
}
