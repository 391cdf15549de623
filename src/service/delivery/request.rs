//! One delivery attempt as an HTTP request, and its response as an [`Outcome`]: pure, so the
//! whole of it is tested on the host. The edge only sends (and, for a logout, signs: ES256 runs
//! in the platform's Web Crypto, see [`logout_token`](super::logout_token)).
//!
//! - a webhook: `POST <url>` with the event envelope as its JSON body and the Standard Webhooks
//!   headers `webhook-id` (the event id), `webhook-timestamp` and `webhook-signature` (one
//!   signature per live secret, see [`signature`](super::signature));
//! - a logout: `POST <backchannel_logout_uri>` with the form body `logout_token=<jws>`, a Logout
//!   Token from the connection's own issuer (`iss`) for the client (`aud`) naming the subject
//!   and, when known, the session.
//!
//! Both carry `user-agent: scim-edge`. Only a 2xx answer is a success: a redirect is not followed
//! and counts as a failure like any other status.

use serde_json::Value;

use super::fanout::Targets;
use super::log_stream::{self, Format, MAX_BATCH_BYTES};
use super::logout_token::{self, LogoutClaims, SigningKeys};
use super::message::{Attempt, Delivery, DeliveryMessage};
use super::signature::{parse_secret, signature_header, WebhookSecret};
use super::webhook::WebhookTarget;

/// The `user-agent` of every delivery.
pub const USER_AGENT: &str = "scim-edge";
/// Lifetime of a logout token (`exp - iat`).
pub const LOGOUT_TOKEN_SECONDS: i64 = 120;
pub use super::log_stream::JSON;
pub const FORM: &str = "application/x-www-form-urlencoded";

/// An HTTP `POST`, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub url: String,
    pub content_type: &'static str,
    /// Every other header, `user-agent` first.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What signs logout tokens: the keys of `LOGOUT_SIGNING_KEYS` (when configured and valid) and
/// the base of every connection's issuer (`LOGOUT_ISSUER`, see
/// [`logout_token::connection_issuer`]).
#[derive(Debug, Clone, Copy)]
pub struct LogoutSigner<'a> {
    pub keys: Option<&'a SigningKeys>,
    pub issuer: &'a str,
}

/// A delivery made ready to send: a webhook is, a logout still needs its signature.
pub enum Prepared {
    Ready(OutboundRequest),
    Unsigned(UnsignedLogout),
}

/// A logout whose token waits for its ES256 signature over `signing_input`, made with the
/// private JWK `jwk` (it holds `d`: never log it, hence no `Debug`).
pub struct UnsignedLogout {
    pub url: String,
    pub claims: LogoutClaims,
    pub signing_input: String,
    pub jwk: Value,
}

fn signing_failed(e: impl std::fmt::Display) -> String {
    format!("could not sign the logout token: {e}")
}

impl UnsignedLogout {
    /// The request, once the signature (64-byte `r || s`) is there; a signing error is the
    /// attempt's failure.
    pub fn finish(self, signature: Result<Vec<u8>, String>) -> Result<OutboundRequest, String> {
        let token = signature
            .and_then(|s| logout_token::finish(&self.signing_input, &s))
            .map_err(signing_failed)?;
        Ok(OutboundRequest {
            url: self.url,
            content_type: FORM,
            headers: vec![("user-agent".into(), USER_AGENT.into())],
            // A JWS is base64url and dots: nothing to escape in a form value.
            body: format!("logout_token={token}"),
        })
    }
}

/// The request for one delivery at `now` (Unix seconds), to the target as the registry knows it
/// now; `jti` identifies a logout token. `Err` is why the attempt fails without being sent.
pub fn prepare(
    delivery: &Delivery,
    targets: &Targets,
    signer: LogoutSigner<'_>,
    now: i64,
    jti: &str,
) -> Result<Prepared, String> {
    match delivery {
        Delivery::Webhook { target, event } => {
            webhook(targets.webhooks.get(target), &[event], now).map(Prepared::Ready)
        }
        Delivery::Logout {
            target,
            event,
            sub,
            sid,
        } => {
            let Some(client) = targets.clients.get(target) else {
                return Err("the client is no longer registered".into());
            };
            let Some(keys) = signer.keys else {
                return Err("LOGOUT_SIGNING_KEYS is not configured".into());
            };
            let Some(connection_id) = event.get("connection_id").and_then(Value::as_str) else {
                return Err("a logout needs the event's connection_id".into());
            };
            let claims = LogoutClaims {
                iss: logout_token::connection_issuer(signer.issuer, connection_id),
                aud: target.clone(),
                iat: now,
                exp: now + LOGOUT_TOKEN_SECONDS,
                jti: jti.to_owned(),
                sub: sub.clone(),
                sid: sid.clone(),
            };
            let signing_input = keys.signing_input(&claims).map_err(signing_failed)?;
            let jwk = keys
                .signing_jwk()
                .ok_or_else(|| signing_failed("there are no signing keys"))?;
            Ok(Prepared::Unsigned(UnsignedLogout {
                url: client.uri.clone(),
                claims,
                signing_input,
                jwk,
            }))
        }
    }
}

/// One POST to an endpoint carrying `events` in its format (see [`log_stream::body`]), signed
/// with every secret, with the log system's credential header when it has one.
fn webhook(
    endpoint: Option<&WebhookTarget>,
    events: &[&Value],
    now: i64,
) -> Result<OutboundRequest, String> {
    let secrets: Vec<WebhookSecret> = endpoint
        .map(|e| {
            e.secrets
                .iter()
                .filter_map(|s| parse_secret(s).ok())
                .collect()
        })
        .unwrap_or_default();
    let Some(endpoint) = endpoint.filter(|_| !secrets.is_empty()) else {
        return Err("the webhook endpoint no longer exists".into());
    };
    let format = Format::from_stored(&endpoint.format);
    let (content_type, body, id) = log_stream::body(format, endpoint.batch_size, events);
    let refs: Vec<&WebhookSecret> = secrets.iter().collect();
    let signature = signature_header(&refs, &id, now, body.as_bytes());
    let mut headers = vec![
        ("user-agent".into(), USER_AGENT.into()),
        ("webhook-id".into(), id),
        ("webhook-timestamp".into(), now.to_string()),
        ("webhook-signature".into(), signature),
    ];
    if let Some(credential) = &endpoint.credential {
        headers.push(format.credential_header(credential));
    }
    Ok(OutboundRequest {
        url: endpoint.url.clone(),
        content_type,
        headers,
        body,
    })
}

/// One request of a batch of deliveries: the indexes (into the deliveries given to [`plan`])
/// of the deliveries it carries, and the request, or why it cannot be sent.
pub struct Planned {
    pub members: Vec<usize>,
    pub prepared: Result<Prepared, String>,
}

/// The requests for a batch of deliveries at `now`: a logout or a delivery to an endpoint
/// that takes one event per POST is a request of its own; deliveries to an endpoint that takes
/// batches (a log stream, or `batch_size` > 1) go together, in their order, at most
/// `batch_size` events and [`MAX_BATCH_BYTES`] of body per request. `jti` gives each logout
/// token its id. Every delivery is in exactly one [`Planned`].
pub fn plan(
    deliveries: &[&Delivery],
    targets: &Targets,
    signer: LogoutSigner<'_>,
    now: i64,
    jti: &mut dyn FnMut() -> String,
) -> Vec<Planned> {
    let mut out = Vec::new();
    // Batched endpoints, in the order of their first delivery: (endpoint id, indexes).
    let mut batched: Vec<(&str, Vec<usize>)> = Vec::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        let endpoint = match delivery {
            Delivery::Webhook { target, .. } => targets
                .webhooks
                .get(target)
                .filter(|e| e.batch_size > 1 || e.format != Format::StandardWebhooks.as_str())
                .map(|_| target.as_str()),
            Delivery::Logout { .. } => None,
        };
        match endpoint {
            Some(id) => match batched.iter_mut().find(|(known, _)| *known == id) {
                Some((_, members)) => members.push(index),
                None => batched.push((id, vec![index])),
            },
            None => {
                let jti = match delivery {
                    Delivery::Logout { .. } => jti(),
                    Delivery::Webhook { .. } => String::new(),
                };
                out.push(Planned {
                    members: vec![index],
                    prepared: prepare(delivery, targets, signer, now, &jti),
                });
            }
        }
    }
    for (id, members) in batched {
        let endpoint = targets.webhooks.get(id);
        let most = endpoint.map_or(1, |e| e.batch_size.max(1) as usize);
        let mut chunk: Vec<usize> = Vec::new();
        let mut bytes = 0;
        for index in members {
            let size = deliveries[index].event().to_string().len();
            if !chunk.is_empty() && (chunk.len() >= most || bytes + size > MAX_BATCH_BYTES) {
                out.push(batch(deliveries, endpoint, std::mem::take(&mut chunk), now));
                bytes = 0;
            }
            chunk.push(index);
            bytes += size;
        }
        if !chunk.is_empty() {
            out.push(batch(deliveries, endpoint, chunk, now));
        }
    }
    out
}

fn batch(
    deliveries: &[&Delivery],
    endpoint: Option<&WebhookTarget>,
    members: Vec<usize>,
    now: i64,
) -> Planned {
    let events: Vec<&Value> = members.iter().map(|&i| deliveries[i].event()).collect();
    Planned {
        prepared: webhook(endpoint, &events, now).map(Prepared::Ready),
        members,
    }
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// The HTTP status, when the target answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Outcome {
    /// No answer: the request could not be made or sent.
    pub fn failed(error: impl Into<String>) -> Self {
        Outcome {
            ok: false,
            status: None,
            error: Some(error.into()),
        }
    }

    /// The report of this attempt at `message`, for the registry's verdict.
    pub fn report(&self, message: &DeliveryMessage) -> Attempt {
        Attempt {
            delivery: message.delivery.clone(),
            attempt: message.attempt,
            ok: self.ok,
            status: self.status.map(i64::from),
            error: self.error.clone(),
        }
    }
}

/// The target answered `status`: a success if 2xx, otherwise (3xx included: redirects are not
/// followed) a failure `HTTP <status>`.
pub fn classify(status: u16) -> Outcome {
    let ok = (200..300).contains(&status);
    let error = match status {
        200..=299 => None,
        // Deliveries never follow redirects (the target is the URL that was checked, nothing else).
        300..=399 => Some(format!("HTTP {status}: redirects are not followed")),
        _ => Some(format!("HTTP {status}")),
    };
    Outcome {
        ok,
        status: Some(status),
        error,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;

    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use p256::EncodedPoint;
    use serde_json::json;
    use sha2::Sha256;

    use super::*;
    use crate::service::delivery::oidc_client::ClientTarget;
    use crate::service::delivery::webhook::WebhookTarget;

    /// The Standard Webhooks spec's example secret, and a second one (rotation).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OLD_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    /// RFC 7515 Appendix A.3.1: the ES256 example key.
    const D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const NOW: i64 = 1_800_000_000;

    fn keys() -> SigningKeys {
        SigningKeys::parse(
            &json!([{"kty": "EC", "crv": "P-256", "kid": "k-1", "d": D, "x": X, "y": Y}])
                .to_string(),
        )
        .unwrap()
    }

    fn event() -> Value {
        json!({
            "id": "evt_1",
            "type": "user.sessions_revoked",
            "connection_id": "con_1",
            "occurred_at": "2027-01-15T08:00:00.000Z",
            "sequence": 3,
            "actor": "token:tok_1",
            "request_id": null,
            "data": {"subject": "u1", "resource": {"userName": "ünï"}},
        })
    }

    fn targets() -> Targets {
        Targets {
            version: 1,
            webhooks: BTreeMap::from([
                (
                    "wh_1".to_owned(),
                    WebhookTarget {
                        url: "https://hooks.example/in".into(),
                        secrets: vec![SECRET.into(), OLD_SECRET.into()],
                        enabled: true,
                        format: "standard_webhooks".into(),
                        batch_size: 1,
                        credential: None,
                    },
                ),
                (
                    "wh_broken".to_owned(),
                    WebhookTarget {
                        url: "https://hooks.example/broken".into(),
                        secrets: vec!["not-a-secret".into()],
                        enabled: true,
                        format: "standard_webhooks".into(),
                        batch_size: 1,
                        credential: None,
                    },
                ),
            ]),
            clients: BTreeMap::from([(
                "web".to_owned(),
                ClientTarget {
                    uri: "https://rp.example/logout".into(),
                    session_required: false,
                    enabled: true,
                },
            )]),
        }
    }

    fn signer(keys: &SigningKeys) -> LogoutSigner<'_> {
        LogoutSigner {
            keys: Some(keys),
            issuer: "https://scim.example/",
        }
    }

    fn webhook_delivery(target: &str) -> Delivery {
        Delivery::Webhook {
            target: target.into(),
            event: event(),
        }
    }

    fn logout(sub: Option<&str>, sid: Option<&str>) -> Delivery {
        Delivery::Logout {
            target: "web".into(),
            event: event(),
            sub: sub.map(str::to_owned),
            sid: sid.map(str::to_owned),
        }
    }

    fn header<'a>(request: &'a OutboundRequest, name: &str) -> &'a str {
        let values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values.len(), 1, "{name}: {:?}", request.headers);
        values[0]
    }

    /// A receiver's check, written from the spec with `hmac` directly: some signature in the
    /// header is HMAC-SHA256 over `{id}.{timestamp}.{body}` with the secret's key.
    fn verifies(secret: &str, request: &OutboundRequest) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        let signed = format!(
            "{}.{}.{}",
            header(request, "webhook-id"),
            header(request, "webhook-timestamp"),
            request.body
        );
        mac.update(signed.as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        header(request, "webhook-signature")
            .split(' ')
            .any(|s| s == expected)
    }

    fn ready(prepared: Result<Prepared, String>) -> OutboundRequest {
        match prepared.unwrap() {
            Prepared::Ready(r) => r,
            Prepared::Unsigned(_) => panic!("a webhook needs no signature"),
        }
    }

    fn unsigned(prepared: Result<Prepared, String>) -> UnsignedLogout {
        match prepared.unwrap() {
            Prepared::Unsigned(u) => u,
            Prepared::Ready(r) => panic!("a logout is signed first: {r:?}"),
        }
    }

    /// What the edge does with Web Crypto, done with the `p256` crate.
    fn es256(logout: &UnsignedLogout) -> Vec<u8> {
        let d = URL_SAFE_NO_PAD
            .decode(logout.jwk["d"].as_str().unwrap())
            .unwrap();
        let signature: Signature = SigningKey::from_slice(&d)
            .unwrap()
            .sign(logout.signing_input.as_bytes());
        signature.to_bytes().to_vec()
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// The token of a logout request, verified with the public key: its header and claims.
    fn token(request: &OutboundRequest) -> (Value, Value) {
        let token = request.body.strip_prefix("logout_token=").unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let (x, y) = (
            URL_SAFE_NO_PAD.decode(X).unwrap(),
            URL_SAFE_NO_PAD.decode(Y).unwrap(),
        );
        let point =
            EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        VerifyingKey::from_encoded_point(&point)
            .unwrap()
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the logout token verifies");
        (decode(parts[0]), decode(parts[1]))
    }

    #[test]
    fn a_webhook_is_the_envelope_signed_with_every_secret() {
        let keys = keys();
        let request = ready(prepare(
            &webhook_delivery("wh_1"),
            &targets(),
            signer(&keys),
            NOW,
            "unused",
        ));
        assert_eq!(request.url, "https://hooks.example/in");
        assert_eq!(request.content_type, "application/json");
        assert_eq!(
            serde_json::from_str::<Value>(&request.body).unwrap(),
            event()
        );
        assert_eq!(request.body, event().to_string());
        assert_eq!(header(&request, "user-agent"), "scim-edge");
        assert_eq!(header(&request, "webhook-id"), "evt_1");
        assert_eq!(header(&request, "webhook-timestamp"), "1800000000");
        assert_eq!(header(&request, "webhook-signature").split(' ').count(), 2);
        assert!(verifies(SECRET, &request));
        assert!(verifies(OLD_SECRET, &request));
        assert!(!verifies(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx",
            &request
        ));
        // What the signature module makes, in the secrets' order.
        let secrets = [
            parse_secret(SECRET).unwrap(),
            parse_secret(OLD_SECRET).unwrap(),
        ];
        assert_eq!(
            header(&request, "webhook-signature"),
            signature_header(
                &[&secrets[0], &secrets[1]],
                "evt_1",
                NOW,
                request.body.as_bytes()
            )
        );
        assert_eq!(request.headers.len(), 4);
    }

    #[test]
    fn a_tampered_webhook_no_longer_verifies() {
        let keys = keys();
        let request = ready(prepare(
            &webhook_delivery("wh_1"),
            &targets(),
            signer(&keys),
            NOW,
            "j",
        ));
        for tampered in [
            OutboundRequest {
                body: request.body.replace("u1", "u2"),
                ..request.clone()
            },
            OutboundRequest {
                headers: request
                    .headers
                    .iter()
                    .map(|(n, v)| match n.as_str() {
                        "webhook-timestamp" => (n.clone(), (NOW + 1).to_string()),
                        _ => (n.clone(), v.clone()),
                    })
                    .collect(),
                ..request.clone()
            },
        ] {
            assert!(!verifies(SECRET, &tampered));
        }
    }

    #[test]
    fn a_webhook_without_its_endpoint_or_a_usable_secret_fails_unsent() {
        let keys = keys();
        for target in ["wh_gone", "wh_broken"] {
            assert_eq!(
                prepare(
                    &webhook_delivery(target),
                    &targets(),
                    signer(&keys),
                    NOW,
                    "j"
                )
                .err(),
                Some("the webhook endpoint no longer exists".to_owned()),
                "{target}"
            );
        }
        // Webhooks need no logout keys.
        let none = LogoutSigner {
            keys: None,
            issuer: "",
        };
        assert!(prepare(&webhook_delivery("wh_1"), &targets(), none, NOW, "j").is_ok());
    }

    #[test]
    fn a_logout_carries_a_signed_token_with_the_claims() {
        let keys = keys();
        let logout = unsigned(prepare(
            &logout(Some("u1"), Some("s1")),
            &targets(),
            signer(&keys),
            NOW,
            "jti-1",
        ));
        assert_eq!(
            logout.claims,
            LogoutClaims {
                iss: "https://scim.example/connections/con_1".into(),
                aud: "web".into(),
                iat: NOW,
                exp: NOW + 120,
                jti: "jti-1".into(),
                sub: Some("u1".into()),
                sid: Some("s1".into()),
            }
        );
        assert_eq!(
            logout.signing_input,
            keys.signing_input(&logout.claims).unwrap()
        );
        let signature = es256(&logout);
        let request = logout.finish(Ok(signature)).unwrap();
        assert_eq!(request.url, "https://rp.example/logout");
        assert_eq!(request.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            request.headers,
            [("user-agent".to_owned(), "scim-edge".to_owned())]
        );
        let (header, claims) = token(&request);
        assert_eq!(
            header,
            json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k-1"})
        );
        assert_eq!(
            claims,
            json!({
                "iss": "https://scim.example/connections/con_1",
                "sub": "u1",
                "aud": "web",
                "iat": NOW,
                "exp": NOW + 120,
                "jti": "jti-1",
                "sid": "s1",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
            })
        );
    }

    /// Pipeline issue, tenant-safe logout tokens: the same `sub` deactivated in two connections
    /// gives two different issuers, so a client matching `iss` + `sub` cannot confuse them.
    #[test]
    fn each_connection_is_its_own_issuer() {
        let keys = keys();
        let mut other = logout(Some("ceo@example.com"), None);
        if let Delivery::Logout { event, .. } = &mut other {
            event["connection_id"] = json!("con_2");
        }
        let one = unsigned(prepare(
            &logout(Some("ceo@example.com"), None),
            &targets(),
            signer(&keys),
            NOW,
            "j1",
        ));
        let two = unsigned(prepare(&other, &targets(), signer(&keys), NOW, "j2"));
        assert_eq!(one.claims.iss, "https://scim.example/connections/con_1");
        assert_eq!(two.claims.iss, "https://scim.example/connections/con_2");
        assert_eq!(one.claims.sub, two.claims.sub);
        let mut orphan = logout(Some("u1"), None);
        if let Delivery::Logout { event, .. } = &mut orphan {
            event.as_object_mut().unwrap().remove("connection_id");
        }
        assert_eq!(
            prepare(&orphan, &targets(), signer(&keys), NOW, "j3").err(),
            Some("a logout needs the event's connection_id".to_owned())
        );
    }

    #[test]
    fn a_logout_without_a_session_names_the_subject_only() {
        let keys = keys();
        let logout = unsigned(prepare(
            &logout(Some("u1"), None),
            &targets(),
            signer(&keys),
            NOW,
            "j",
        ));
        let signature = es256(&logout);
        let (_, claims) = token(&logout.finish(Ok(signature)).unwrap());
        assert_eq!(claims["sub"], "u1");
        assert!(claims.get("sid").is_none());
    }

    #[test]
    fn a_logout_that_cannot_be_signed_fails_unsent() {
        let keys = keys();
        let fails = |delivery: &Delivery, signer: LogoutSigner<'_>| {
            prepare(delivery, &targets(), signer, NOW, "j").err()
        };
        let gone = Delivery::Logout {
            target: "gone".into(),
            event: event(),
            sub: Some("u1".into()),
            sid: None,
        };
        assert_eq!(
            fails(&gone, signer(&keys)).as_deref(),
            Some("the client is no longer registered")
        );
        let no_keys = LogoutSigner {
            keys: None,
            issuer: "https://scim.example/",
        };
        assert_eq!(
            fails(&logout(Some("u1"), None), no_keys).as_deref(),
            Some("LOGOUT_SIGNING_KEYS is not configured")
        );
        assert_eq!(
            fails(&logout(None, None), signer(&keys)).as_deref(),
            Some("could not sign the logout token: a Logout Token needs a sub or a sid claim")
        );
        let logout = || {
            unsigned(prepare(
                &logout(Some("u1"), None),
                &targets(),
                signer(&keys),
                NOW,
                "j",
            ))
        };
        assert_eq!(
            logout().finish(Err("crypto.subtle.sign failed".into())),
            Err("could not sign the logout token: crypto.subtle.sign failed".into())
        );
        let short = logout().finish(Ok(vec![0; 63])).unwrap_err();
        assert!(
            short.starts_with("could not sign the logout token: an ES256 signature is 64 bytes"),
            "{short}"
        );
    }

    #[test]
    fn only_2xx_is_a_success_redirects_included() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(
                classify(status),
                Outcome {
                    ok: true,
                    status: Some(status),
                    error: None
                }
            );
        }
        for status in [100, 199, 400, 404, 410, 429, 500, 503] {
            assert_eq!(
                classify(status),
                Outcome {
                    ok: false,
                    status: Some(status),
                    error: Some(format!("HTTP {status}"))
                }
            );
        }
        for status in [300, 301, 302, 303, 304, 307, 308] {
            assert_eq!(
                classify(status),
                Outcome {
                    ok: false,
                    status: Some(status),
                    error: Some(format!("HTTP {status}: redirects are not followed"))
                }
            );
        }
    }

    #[test]
    fn outcomes_report_the_attempt() {
        let message = DeliveryMessage {
            delivery: webhook_delivery("wh_1"),
            attempt: 3,
            subscription_version: 7,
        };
        let report = classify(302).report(&message);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"delivery": {"kind": "webhook", "target": "wh_1", "event": event()},
                   "attempt": 3, "ok": false, "status": 302,
                   "error": "HTTP 302: redirects are not followed"})
        );
        let report = Outcome::failed("request failed: timed out").report(&message);
        assert_eq!(
            (report.ok, report.status, report.error.as_deref()),
            (false, None, Some("request failed: timed out"))
        );
        assert!(classify(204).report(&message).ok);
    }

    /// `targets()` plus a log stream `wh_log` of `format` taking `batch_size` events per POST.
    fn with_stream(format: &str, batch_size: u32, credential: Option<&str>) -> Targets {
        let mut t = targets();
        t.webhooks.insert(
            "wh_log".into(),
            WebhookTarget {
                url: "https://logs.example/intake".into(),
                secrets: vec![SECRET.into()],
                enabled: true,
                format: format.into(),
                batch_size,
                credential: credential.map(str::to_owned),
            },
        );
        t
    }

    fn event_n(n: usize, padding: usize) -> Value {
        let mut e = event();
        e["id"] = json!(format!("evt_{n}"));
        e["data"] = json!({"pad": "x".repeat(padding)});
        e
    }

    fn stream_delivery(n: usize, padding: usize) -> Delivery {
        Delivery::Webhook {
            target: "wh_log".into(),
            event: event_n(n, padding),
        }
    }

    #[test]
    fn a_batch_plan_groups_log_stream_deliveries_and_nothing_else() {
        let keys = keys();
        let targets = with_stream("ndjson", 3, Some("Bearer t0k"));
        let deliveries = [
            stream_delivery(0, 0),
            webhook_delivery("wh_1"),
            stream_delivery(1, 0),
            logout(Some("u1"), None),
            stream_delivery(2, 0),
            stream_delivery(3, 0),
            logout(Some("u1"), Some("s1")),
        ];
        let refs: Vec<&Delivery> = deliveries.iter().collect();
        let mut n = 0;
        let mut jti = || {
            n += 1;
            format!("jti-{n}")
        };
        let plan = plan(&refs, &targets, signer(&keys), NOW, &mut jti);
        let members: Vec<Vec<usize>> = plan.iter().map(|p| p.members.clone()).collect();
        assert_eq!(
            members,
            vec![vec![1], vec![3], vec![6], vec![0, 2, 4], vec![5]]
        );
        let mut all: Vec<usize> = members.concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..deliveries.len()).collect::<Vec<_>>(),
            "each delivery once"
        );
        // The two logouts got distinct token ids.
        let jtis: Vec<String> = plan[1..3]
            .iter()
            .map(|p| match &p.prepared {
                Ok(Prepared::Unsigned(u)) => u.claims.jti.clone(),
                _ => panic!("a logout"),
            })
            .collect();
        assert_eq!(jtis, vec!["jti-1", "jti-2"]);
        let Ok(Prepared::Ready(request)) = &plan[3].prepared else {
            panic!("a ready batch")
        };
        assert_eq!(request.url, "https://logs.example/intake");
        assert_eq!(request.content_type, "application/x-ndjson");
        assert_eq!(header(request, "authorization"), "Bearer t0k");
        assert!(header(request, "webhook-id").starts_with("batch_"));
        assert!(verifies(SECRET, request), "batches are signed too");
        let ids: Vec<Value> = request
            .body
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!("evt_0"), json!("evt_1"), json!("evt_2")]);
    }

    #[test]
    fn a_batch_is_split_before_it_outgrows_the_byte_cap() {
        let keys = keys();
        let targets = with_stream("splunk_hec", 100, Some("hec-token"));
        // Each event is a bit over a third of the cap: two fit in one POST, not three.
        let padding = MAX_BATCH_BYTES / 3 + 1;
        let deliveries: Vec<Delivery> = (0..5).map(|n| stream_delivery(n, padding)).collect();
        let refs: Vec<&Delivery> = deliveries.iter().collect();
        let plan = plan(&refs, &targets, signer(&keys), NOW, &mut String::new);
        let members: Vec<Vec<usize>> = plan.iter().map(|p| p.members.clone()).collect();
        assert_eq!(members, vec![vec![0, 1], vec![2, 3], vec![4]]);
        for planned in &plan {
            let Ok(Prepared::Ready(request)) = &planned.prepared else {
                panic!("ready")
            };
            assert!(request.body.len() <= MAX_BATCH_BYTES);
            assert_eq!(header(request, "authorization"), "Splunk hec-token");
        }
    }

    #[test]
    fn a_batch_to_a_vanished_endpoint_fails_unsent_as_one() {
        let keys = keys();
        let deliveries = [
            Delivery::Webhook {
                target: "wh_gone".into(),
                event: event(),
            },
            stream_delivery(1, 0),
        ];
        let refs: Vec<&Delivery> = deliveries.iter().collect();
        // wh_gone is unknown: it is planned alone (nothing says it batches) and fails unsent.
        let plan = plan(&refs, &targets(), signer(&keys), NOW, &mut String::new);
        assert_eq!(plan.len(), 2);
        assert!(plan
            .iter()
            .all(|p| matches!(&p.prepared, Err(e) if e.contains("no longer exists"))));
    }

    #[test]
    fn a_batched_standard_webhook_is_an_events_object() {
        let keys = keys();
        let targets = with_stream("standard_webhooks", 10, None);
        let deliveries = [stream_delivery(0, 0), stream_delivery(1, 0)];
        let refs: Vec<&Delivery> = deliveries.iter().collect();
        let plan = plan(&refs, &targets, signer(&keys), NOW, &mut String::new);
        let Ok(Prepared::Ready(request)) = &plan[0].prepared else {
            panic!("ready")
        };
        assert_eq!(plan[0].members, vec![0, 1]);
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body, json!({"events": [event_n(0, 0), event_n(1, 0)]}));
        assert!(verifies(SECRET, request));
        assert!(request.headers.iter().all(|(n, _)| n != "authorization"));
    }
}
