//! Host tests of the connection service on an embedded SQLite running the same SQL as the
//! Durable Object: tokens, Users, atomicity, and the registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};

mod common;

use common::{Counter, Fixture, BASE, NOW};
use scim_edge::api::admin::registry;
use scim_edge::api::http::{HttpRequest, MAX_BODY_BYTES};
use scim_edge::api::scim;
use scim_edge::service::clock::Timestamp;
use scim_edge::service::connection;
use scim_edge::service::connection::token;
use scim_edge::service::delivery::outbound_url::OutboundPolicy;
use scim_edge::service::sqlite::SqliteStore;
use scim_edge::service::store::Store;

#[test]
fn tokens_are_stored_only_as_hashes() {
    let f = Fixture::new();
    assert!(f.token.starts_with("scim_"));
    let rows = f.store.query("SELECT * FROM token", &[]).unwrap();
    let dump = format!("{rows:?}");
    let secret = f.token.trim_start_matches("scim_");
    assert!(!dump.contains(secret), "the secret must not be stored");
}

#[test]
fn wrong_missing_and_revoked_tokens_get_401_with_www_authenticate() {
    let mut f = Fixture::new();
    for auth in ["", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer"] {
        let r = f.call_with("GET", "/Users", None, &[("authorization", auth)]);
        assert_eq!(r.status, 401, "auth {auth:?}");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        assert_eq!(r.json()["status"], "401");
    }
    let tokens = token::list(&f.store).unwrap();
    token::revoke(&f.store, NOW, &tokens[0].id).unwrap();
    assert_eq!(f.call("GET", "/Users", None).status, 401);
}

#[test]
fn expired_tokens_are_refused() {
    let mut f = Fixture::new();
    let issued = token::issue(&f.store, &mut Counter(9), NOW, None, Some(900)).unwrap();
    f.token = issued.token;
    assert_eq!(f.call("GET", "/Users", None).status, 200);
    let later = Timestamp(NOW.0 + 901_000);
    let request = HttpRequest {
        method: "GET".into(),
        path: "/Users".into(),
        headers: vec![("authorization".into(), format!("Bearer {}", f.token))],
        ..HttpRequest::default()
    };
    let r = scim::handle(&f.store, &mut f.random, BASE, later, &request);
    assert_eq!(r.status, 401);
}

#[test]
fn scopes_are_enforced() {
    let mut f = Fixture::new();
    let read_only = token::issue(
        &f.store,
        &mut Counter(3),
        NOW,
        Some(vec!["read:users".into()]),
        None,
    )
    .unwrap();
    f.token = read_only.token;
    assert_eq!(f.call("GET", "/Users", None).status, 200);
    let r = f.call("POST", "/Users", Some(json!({"userName": "x"})));
    assert_eq!(r.status, 403);
    assert_eq!(f.user_count(), 0);
    let bad = token::issue(
        &f.store,
        &mut Counter(3),
        NOW,
        Some(vec!["admin".into()]),
        None,
    );
    assert_eq!(bad.unwrap_err().status, 400);
}

#[test]
fn rfc7644_3_3_create_then_get_returns_meta_and_etag() {
    let mut f = Fixture::new();
    let created = f.create("bjensen@example.com");
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created["meta"]["location"], format!("{BASE}/Users/{id}"));
    assert_eq!(created["meta"]["version"], "W/\"1\"");
    assert_eq!(created["meta"]["created"], NOW.to_rfc3339());
    let got = f.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
    assert_eq!(got.json(), created);
}

#[test]
fn rfc7643_4_1_1_user_name_is_unique_case_insensitively() {
    let mut f = Fixture::new();
    f.create("bjensen@example.com");
    let r = f.call(
        "POST",
        "/Users",
        Some(json!({"userName": "BJensen@Example.com"})),
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["scimType"], "uniqueness");
    assert_eq!(f.user_count(), 1);
}

#[test]
fn external_id_is_unique_per_connection() {
    let mut f = Fixture::new();
    let r = f.call(
        "POST",
        "/Users",
        Some(json!({"userName": "a", "externalId": "e1"})),
    );
    assert_eq!(r.status, 201);
    let r = f.call(
        "POST",
        "/Users",
        Some(json!({"userName": "b", "externalId": "e1"})),
    );
    assert_eq!(r.status, 409);
}

#[test]
fn password_is_accepted_never_returned_never_stored() {
    let mut f = Fixture::new();
    let r = f.call(
        "POST",
        "/Users",
        Some(json!({"userName": "p", "password": "t1meMa$heen"})),
    );
    assert_eq!(r.status, 201);
    assert!(!String::from_utf8_lossy(&r.body).contains("t1meMa$heen"));
    let rows = f.store.query("SELECT resource FROM user", &[]).unwrap();
    assert!(!format!("{rows:?}").contains("t1meMa$heen"));
}

#[test]
fn rfc7644_3_5_1_put_replaces_and_an_unchanged_put_keeps_the_version() {
    let mut f = Fixture::new();
    let created = f.create("bjensen");
    let id = created["id"].as_str().unwrap().to_owned();
    let body = json!({"userName": "bjensen", "displayName": "Babs", "id": "ignored", "meta": {"version": "x"}});
    let r = f.call("PUT", &format!("/Users/{id}"), Some(body.clone()));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["displayName"], "Babs");
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["meta"]["version"], "W/\"2\"");
    let again = f.call("PUT", &format!("/Users/{id}"), Some(body));
    assert_eq!(again.json()["meta"]["version"], "W/\"2\"");
}

#[test]
fn rfc7644_3_14_if_match_mismatch_is_412_and_changes_nothing() {
    let mut f = Fixture::new();
    let created = f.create("bjensen");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let r = f.call_with(
        "PUT",
        &path,
        Some(json!({"userName": "other"})),
        &[("if-match", "W/\"7\"")],
    );
    assert_eq!(r.status, 412);
    let r = f.call_with("DELETE", &path, None, &[("if-match", "W/\"7\"")]);
    assert_eq!(r.status, 412);
    assert_eq!(f.call("GET", &path, None).json()["userName"], "bjensen");
    let r = f.call_with("GET", &path, None, &[("if-none-match", "W/\"1\"")]);
    assert_eq!(r.status, 304);
    let r = f.call_with("DELETE", &path, None, &[("if-match", "W/\"1\"")]);
    assert_eq!(r.status, 204);
}

#[test]
fn rfc7644_3_5_2_patch_that_fails_midway_changes_nothing() {
    let mut f = Fixture::new();
    let created = f.create("bjensen");
    let id = created["id"].as_str().unwrap().to_owned();
    let r = f.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "active", "value": "nope"}
            ]}),
        ),
    );
    assert_eq!(r.status, 400);
    let got = f.call("GET", &format!("/Users/{id}"), None).json();
    assert!(got.get("displayName").is_none());
    assert_eq!(got["meta"]["version"], "W/\"1\"");
}

#[test]
fn patch_that_changes_nothing_keeps_version_and_last_modified() {
    let mut f = Fixture::new();
    let created = f.create("bjensen");
    let id = created["id"].as_str().unwrap().to_owned();
    let r = f.call(
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "userName", "value": "bjensen"}]})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["meta"], created["meta"]);
}

#[test]
fn rfc7644_3_6_delete_then_404() {
    let mut f = Fixture::new();
    let created = f.create("bjensen");
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    assert_eq!(f.call("DELETE", &path, None).status, 204);
    assert_eq!(f.call("GET", &path, None).status, 404);
    assert_eq!(f.call("DELETE", &path, None).status, 404);
}

#[test]
fn rfc7644_3_4_2_filter_and_paging() {
    let mut f = Fixture::new();
    for i in 0..7 {
        f.create(&format!("user{i}@example.com"));
    }
    let r = f.call(
        "GET",
        "/Users?filter=userName%20eq%20%22USER3@example.com%22",
        None,
    );
    let body = r.json();
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["userName"], "user3@example.com");
    let page = f.call("GET", "/Users?startIndex=4&count=3", None).json();
    assert_eq!(page["totalResults"], 7);
    assert_eq!(page["itemsPerPage"], 3);
    assert_eq!(page["startIndex"], 4);
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "user3@example.com",
            "user4@example.com",
            "user5@example.com"
        ]
    );
    // Filters outside the indexed columns are evaluated in memory, never ignored.
    let r = f
        .call("GET", "/Users?filter=userName%20sw%20%22user1%22", None)
        .json();
    assert_eq!(r["totalResults"], 1);
    let r = f.call("GET", "/Users?count=abc", None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["scimType"], "invalidValue");
    let r = f.call("GET", "/Users?filter=userName%20eq", None);
    assert_eq!(r.json()["scimType"], "invalidFilter");
    // Validated against the schema: an unknown attribute is an error, never a silent non-match.
    let r = f.call("GET", "/Users?filter=shoeSize%20eq%20%229%22", None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["scimType"], "invalidFilter");
}

#[test]
fn rfc7644_3_12_bad_bodies_get_scim_errors_and_store_nothing() {
    let mut f = Fixture::new();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "invalidSyntax"),
        (b"[1,2]".to_vec(), 400, "invalidSyntax"),
        (
            br#"{"userName": "a", "favoriteColor": "blue"}"#.to_vec(),
            400,
            "invalidValue",
        ),
        (
            br#"{"userName": "a", "active": "yes"}"#.to_vec(),
            400,
            "invalidValue",
        ),
        (
            br#"{"displayName": "no userName"}"#.to_vec(),
            400,
            "invalidValue",
        ),
    ];
    for (body, status, scim_type) in cases {
        let request = HttpRequest {
            method: "POST".into(),
            path: "/Users".into(),
            headers: vec![("authorization".into(), format!("Bearer {}", f.token))],
            body: body.clone(),
            ..HttpRequest::default()
        };
        let r = scim::handle(&f.store, &mut f.random, BASE, NOW, &request);
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&body));
        assert_eq!(r.json()["scimType"], scim_type);
        assert!(!r.json()["detail"].as_str().unwrap().is_empty());
    }
    let big = HttpRequest {
        method: "POST".into(),
        path: "/Users".into(),
        headers: vec![("authorization".into(), format!("Bearer {}", f.token))],
        body: vec![b' '; MAX_BODY_BYTES + 1],
        ..HttpRequest::default()
    };
    assert_eq!(
        scim::handle(&f.store, &mut f.random, BASE, NOW, &big).status,
        413
    );
    assert_eq!(f.user_count(), 0);
}

#[test]
fn uninitialised_connection_has_no_tokens() {
    let store = SqliteStore::in_memory().unwrap();
    assert!(!connection::is_initialized(&store));
    let request = HttpRequest {
        method: "GET".into(),
        path: "/Users".into(),
        headers: vec![("authorization".into(), "Bearer scim_x".into())],
        ..HttpRequest::default()
    };
    let r = scim::handle(&store, &mut Counter(1), BASE, NOW, &request);
    assert_eq!(r.status, 401);
}

/// Hands out the queued byte patterns in turn, one per `fill`.
struct Queued(Vec<u8>);

impl scim_edge::service::clock::Random for Queued {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), scim_edge::scim::ScimError> {
        let b = if self.0.is_empty() {
            0xee
        } else {
            self.0.remove(0)
        };
        buf.fill(b);
        Ok(())
    }
}

#[test]
fn hardening_7_an_id_already_listed_is_drawn_again() {
    use scim_edge::service::registry;
    let store = SqliteStore::in_memory().unwrap();
    scim_edge::service::migration::migrate_registry(&store).unwrap();
    let key = common::id_key();
    let first =
        registry::create(&store, &mut Queued(vec![1]), &key, NOW, "https://o", "A").unwrap();
    let second = registry::create(
        &store,
        &mut Queued(vec![1, 1, 2]),
        &key,
        NOW,
        "https://o",
        "B",
    )
    .unwrap();
    assert_eq!(
        first["id"],
        registry::connection_id::connection_id_from(&key, [1; 5])
    );
    assert_eq!(
        second["id"],
        registry::connection_id::connection_id_from(&key, [2; 5])
    );
    // Every draw taken: an error, never a shared id.
    let r = registry::create(&store, &mut Queued(vec![2; 8]), &key, NOW, "https://o", "C");
    assert_eq!(r.unwrap_err().status, 500);
}

#[test]
fn hardening_7_without_a_usable_key_no_connection_is_created() {
    use scim_edge::service::registry::{ConnectionIdKey, KeyError};
    let mut registry = common::registry::Registry::new();
    for (key, says) in [
        (
            ConnectionIdKey::from_secret(None),
            "CONNECTION_ID_KEY is not set",
        ),
        (
            ConnectionIdKey::from_secret(Some("short")),
            "is 5 bytes long",
        ),
    ] {
        assert!(matches!(
            key,
            Err(KeyError::Missing | KeyError::TooShort(_))
        ));
        registry.id_key = key;
        let r = registry.call("POST", "/connections", Some(json!({"name": "Acme"})));
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["error"], "connection_id_key_missing");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{message}");
        assert!(message.contains("openssl rand -hex 32"), "{message}");
        // The rest of the registry still works; nothing was listed.
        assert_eq!(registry.call("GET", "/connections", None).status, 200);
        assert_eq!(registry.store_count("SELECT count(*) FROM connection"), 0);
    }
    registry.id_key = Ok(common::id_key());
    let id = registry.connection("Acme");
    assert!(scim_edge::service::registry::verify(&common::id_key(), &id));
}

#[test]
fn registry_creates_lists_pages_and_deletes() {
    let store = SqliteStore::in_memory().unwrap();
    let mut random = Counter(5);
    let call = |random: &mut Counter, method: &str, path: &str, body: &str| {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let request = HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query
                .split('&')
                .filter(|s| !s.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
            ..HttpRequest::default()
        };
        registry::handle(
            &store,
            random,
            Ok(&common::id_key()),
            NOW,
            "https://scim.example",
            OutboundPolicy::DEVELOPMENT,
            &request,
        )
    };
    let mut ids = Vec::new();
    for name in ["A", "B", "C"] {
        let r = call(
            &mut random,
            "POST",
            "/connections",
            &format!(r#"{{"name":"{name}"}}"#),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["id"].as_str().unwrap().to_owned();
        assert!(scim_edge::service::registry::is_connection_id(&id), "{id}");
        assert!(
            scim_edge::service::registry::verify(&common::id_key(), &id),
            "made under the key: {id}"
        );
        assert_eq!(
            r.json()["scim_base_url"],
            format!("https://scim.example/scim/v2/{id}")
        );
        ids.push(id);
    }
    let page = call(&mut random, "GET", "/connections?limit=2", "").json();
    assert_eq!(page["connections"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_after"], ids[1].as_str());
    let rest = call(
        &mut random,
        "GET",
        &format!("/connections?after={}", ids[1]),
        "",
    )
    .json();
    assert_eq!(rest["connections"][0]["id"], ids[2].as_str());
    assert!(rest["next_after"].is_null());
    for bad in [
        r#"{}"#,
        r#"{"name":""}"#,
        r#"{"name":"x","extra":1}"#,
        "not json",
        r#"["Acme"]"#,
    ] {
        let r = call(&mut random, "POST", "/connections", bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.json()["error"], "invalid_request");
    }
    assert_eq!(
        call(
            &mut random,
            "DELETE",
            &format!("/connections/{}", ids[0]),
            ""
        )
        .status,
        204
    );
    assert_eq!(
        call(&mut random, "GET", &format!("/connections/{}", ids[0]), "").status,
        404
    );
}

#[test]
fn rfc7644_3_4_2_3_sort_by_and_sort_order() {
    let mut f = Fixture::new();
    for (name, family) in [("c", "Young"), ("a", "adams"), ("b", "Baker")] {
        let r = f.call(
            "POST",
            "/Users",
            Some(json!({"userName": name, "name": {"familyName": family}})),
        );
        assert_eq!(r.status, 201);
    }
    f.create("d-no-family-name");
    let names = |body: Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_owned())
            .collect()
    };
    let asc = f.call("GET", "/Users?sortBy=name.familyName", None).json();
    assert_eq!(names(asc), ["a", "b", "c", "d-no-family-name"]);
    let desc = f
        .call(
            "GET",
            "/Users?sortBy=name.familyName&sortOrder=descending&count=2",
            None,
        )
        .json();
    assert_eq!(desc["totalResults"], 4);
    assert_eq!(names(desc), ["d-no-family-name", "c"]);
    let r = f.call("GET", "/Users?sortBy=userName&sortOrder=sideways", None);
    assert_eq!(r.status, 400);
}

#[test]
fn rfc7644_3_9_attributes_and_excluded_attributes() {
    let mut f = Fixture::new();
    let r = f.call(
        "POST",
        "/Users?attributes=userName",
        Some(json!({"userName": "bj", "displayName": "Babs", "name": {"givenName": "B", "familyName": "J"}})),
    );
    assert_eq!(r.status, 201);
    let created = r.json();
    assert_eq!(created["userName"], "bj");
    assert!(created.get("displayName").is_none());
    assert!(created["id"].is_string(), "id is always returned");
    let id = created["id"].as_str().unwrap().to_owned();
    let got = f
        .call(
            "GET",
            &format!("/Users/{id}?excludedAttributes=displayName,name.givenName"),
            None,
        )
        .json();
    assert!(got.get("displayName").is_none());
    assert_eq!(got["name"], json!({"familyName": "J"}));
    let listed = f.call("GET", "/Users?attributes=displayName", None).json();
    assert_eq!(listed["Resources"][0]["displayName"], "Babs");
    assert!(listed["Resources"][0].get("userName").is_none());
    let searched = f
        .call(
            "POST",
            "/.search",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "displayName eq \"Babs\"", "attributes": ["name.givenName"]}),
            ),
        )
        .json();
    assert_eq!(searched["totalResults"], 1);
    assert_eq!(searched["Resources"][0]["name"], json!({"givenName": "B"}));
    let r = f.call("GET", "/Users?attributes=shoeSize", None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["scimType"], "invalidValue");
}

#[test]
fn at_most_two_live_tokens_and_expiry_of_at_least_15_minutes() {
    let f = Fixture::new();
    let mut random = Counter(11);
    let short = token::issue(&f.store, &mut random, NOW, None, Some(899));
    assert_eq!(short.unwrap_err().status, 400);
    let second = token::issue(&f.store, &mut random, NOW, None, Some(900)).unwrap();
    let third = token::issue(&f.store, &mut random, NOW, None, None).unwrap_err();
    assert_eq!(third.status, 409);
    assert!(third.detail.contains("2 active tokens"));
    // Revoking one (or its expiry) makes room for the next.
    token::revoke(&f.store, NOW, &second.id).unwrap();
    assert!(token::issue(&f.store, &mut random, NOW, None, None).is_ok());
    let expired_later = Timestamp(NOW.0 + 10_000_000);
    assert_eq!(token::live_count(&f.store, expired_later).unwrap(), 2);
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    use scim_edge::service::connection::rate_limit::Bucket;
    let mut f = Fixture::new();
    let settings = json!({"rate_limit": 25});
    scim_edge::service::connection::settings::update(&f.store, &settings).unwrap();
    let mut bucket = Bucket::new();
    let request = HttpRequest {
        method: "GET".into(),
        path: "/ServiceProviderConfig".into(),
        headers: vec![("authorization".into(), format!("Bearer {}", f.token))],
        ..HttpRequest::default()
    };
    let mut statuses = Vec::new();
    for _ in 0..60 {
        let r = scim::handle_limited(&f.store, &mut f.random, &mut bucket, BASE, NOW, &request);
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(r.header("retry-after"), Some("1"));
            assert_eq!(r.json()["status"], "429");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        50,
        "a burst of twice the rate"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10);
    // A second later the bucket has refilled 25 tokens.
    let later = Timestamp(NOW.0 + 1000);
    let r = scim::handle_limited(&f.store, &mut f.random, &mut bucket, BASE, later, &request);
    assert_eq!(r.status, 200);
    // Unauthenticated requests never spend the connection's budget.
    let mut fresh = Bucket::new();
    let bad = HttpRequest {
        headers: vec![("authorization".into(), "Bearer nope".into())],
        ..request.clone()
    };
    for _ in 0..100 {
        let r = scim::handle_limited(&f.store, &mut f.random, &mut fresh, BASE, NOW, &bad);
        assert_eq!(r.status, 401);
    }
    let r = scim::handle_limited(&f.store, &mut f.random, &mut fresh, BASE, NOW, &request);
    assert_eq!(r.status, 200);
}

#[test]
fn settings_are_validated_all_at_once() {
    let f = Fixture::new();
    let err = scim_edge::service::connection::settings::update(
        &f.store,
        &json!({"idp": "myspace", "user_identifier": "email", "rate_limit": 0}),
    )
    .unwrap_err();
    assert_eq!(err.status, 400);
    for part in ["idp", "user_identifier", "rate_limit"] {
        assert!(err.detail.contains(part), "{}", err.detail);
    }
    let s = scim_edge::service::connection::settings::update(&f.store, &json!({"idp": "entra"}))
        .unwrap();
    assert_eq!(s.idp, "entra");
    assert_eq!(
        s.rate_limit,
        scim_edge::service::connection::settings::DEFAULT_RATE_LIMIT
    );
    assert_eq!(
        scim_edge::service::connection::settings::load(&f.store).unwrap(),
        s
    );
}

#[test]
fn admin_changes_are_recorded_with_their_actor_and_never_a_secret() {
    use scim_edge::api::admin::connection::handle;
    let mut f = Fixture::new();
    let admin_call = |f: &mut Fixture, method: &str, path: &str, body: &str| {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let request = HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
            ..HttpRequest::default()
        };
        handle(&f.store, &mut f.random, NOW, &request)
    };
    let issued = admin_call(&mut f, "POST", "/tokens", r#"{"scopes": ["read:users"]}"#);
    assert_eq!(issued.status, 201);
    let secret = issued.json()["token"].as_str().unwrap().to_owned();
    let token_id = issued.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin_call(&mut f, "DELETE", &format!("/tokens/{token_id}"), "").status,
        204
    );
    let bad = admin_call(
        &mut f,
        "PATCH",
        "/connection",
        r#"{"settings": {"idp": "nope"}}"#,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        admin_call(&mut f, "PATCH", "/connection", r#"{"name": "Renamed"}"#).status,
        200
    );
    let log = admin_call(&mut f, "GET", "/events?limit=2", "");
    assert_eq!(log.status, 200);
    let page = log.json();
    let types: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["token.created", "token.revoked"]);
    assert_eq!(page["events"][0]["actor"], "admin");
    assert_eq!(page["events"][0]["data"]["token_id"], token_id.as_str());
    let next = page["next_after"].as_str().unwrap().to_owned();
    let rest = admin_call(&mut f, "GET", &format!("/events?after={next}"), "").json();
    let types: Vec<&str> = rest["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // The refused update left no event.
    assert_eq!(types, ["connection.updated"]);
    assert!(rest["next_after"].is_null());
    let dump = format!("{:?}", f.store.query("SELECT * FROM event", &[]).unwrap());
    assert!(
        !dump.contains(&secret),
        "a token secret reached the event log"
    );
}

/// Hardening item 1: a `startIndex` past 2^53 (or past 64 bits) once answered 500 (the Durable
/// Object's SQL takes integers as JS numbers). Any start past the end is an empty page with the
/// total (RFC 7644 §3.4.2.4), on every list route; a huge `count` is capped.
#[test]
fn hardening_1_huge_start_index_is_an_empty_page() {
    let mut f = Fixture::new();
    f.create("first@example.com");
    f.create("second@example.com");
    let search = |start: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": start});
    for start in [
        "9223372036854775297",
        "9007199254740993",
        "99999999999999999999999",
    ] {
        for path in [
            format!("/Users?startIndex={start}"),
            format!("/Groups?startIndex={start}"),
            format!("/Users?startIndex={start}&count=99999999999999999999"),
        ] {
            let res = f.call("GET", &path, None);
            assert_eq!(
                res.status,
                200,
                "{path}: {}",
                String::from_utf8_lossy(&res.body)
            );
            let body = res.json();
            assert_eq!(body["Resources"], json!([]), "{path}");
            assert_eq!(body["itemsPerPage"], 0, "{path}");
        }
    }
    for start in [
        json!(9_223_372_036_854_775_297_i64),
        json!(18_446_744_073_709_551_615_u64),
    ] {
        for path in ["/Users/.search", "/.search"] {
            let res = f.call("POST", path, Some(search(start.clone())));
            assert_eq!(
                res.status,
                200,
                "{path} {start}: {}",
                String::from_utf8_lossy(&res.body)
            );
            assert_eq!(res.json()["Resources"], json!([]), "{path}");
        }
    }
    // Not an integer at all is still a 400.
    let bad = f.call("GET", "/Users?startIndex=12abc", None);
    assert_eq!(bad.status, 400);
    // And the store still answers.
    assert_eq!(
        f.call("GET", "/Users?startIndex=2", None).json()["Resources"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Hardening item 3: a Bulk request once counted as one request against the rate limit (a Bulk
/// of 1,000 creates passed a limit of 1 request/s). Each operation counts: past the burst, the
/// rest are answered 429 one by one and nothing of them is written.
#[test]
fn hardening_3_every_bulk_operation_counts_against_the_rate_limit() {
    use scim_edge::service::connection::rate_limit::Bucket;
    let mut f = Fixture::new();
    scim_edge::service::connection::settings::update(&f.store, &json!({"rate_limit": 1})).unwrap();
    let before = f.user_count();
    let operations: Vec<Value> = (0..5)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"),
                   "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": format!("bulk.limited{i}@example.com")}})
        })
        .collect();
    let request = HttpRequest {
        method: "POST".into(),
        path: "/Bulk".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {}", f.token)),
            ("content-type".into(), "application/scim+json".into()),
        ],
        body: json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                     "Operations": operations})
        .to_string()
        .into_bytes(),
        ..HttpRequest::default()
    };
    let mut bucket = Bucket::new();
    let r = scim::handle_limited(&f.store, &mut f.random, &mut bucket, BASE, NOW, &request);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let statuses: Vec<String> = r.json()["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["status"].as_str().unwrap().to_owned())
        .collect();
    // A burst of twice the rate (2 tokens): the request and its first operation take one, the
    // second operation the other; the rest wait.
    assert_eq!(statuses, ["201", "201", "429", "429", "429"]);
    assert_eq!(f.user_count(), before + 2);
    // The next request finds the bucket empty too.
    let next = scim::handle_limited(&f.store, &mut f.random, &mut bucket, BASE, NOW, &request);
    assert_eq!(next.status, 429);
}
