//! Logout Tokens of OpenID Connect Back-Channel Logout 1.0 (§2.4), signed ES256 (RFC 7518 §3.4),
//! with the keys of the `LOGOUT_SIGNING_KEYS` secret, whose public halves the JWKS publishes.
//!
//! Rotation: prepend a new key (it signs from then on), keep the old one published until every
//! relying party has refreshed its JWKS cache, then drop it. `scripts/gen-signing-key.mjs` makes
//! the keys.
//!
//! Pure: no clock (the caller brings `iat`/`exp`), no randomness and no ECDSA: this builds the
//! JWS signing input and the final token; the edge adapter signs with the platform's Web Crypto
//! (`crypto.subtle`, ECDSA P-256 / SHA-256), which keeps elliptic-curve code out of the wasm.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The `events` member that makes a JWT a Logout Token (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The JOSE `typ` of a Logout Token (§2.4, explicit typing per RFC 8725 §3.11).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";

/// The issuer of one connection's Logout Tokens: `{base}/connections/{connection_id}`, where
/// `base` is `LOGOUT_ISSUER` (the deployment's public origin).
///
/// One issuer per connection makes `iss` + `sub` unambiguous across tenants (OIDC Back-Channel
/// Logout 1.0 §2.4, §2.6): two customers' IdPs may both name a user `ceo@example.com`, and a client
/// that matches on `iss` and `sub` must never log out one for the other's deactivation.
/// Discovery for it is served at `{issuer}/.well-known/openid-configuration`
/// ([`discovery`]).
pub fn connection_issuer(base: &str, connection_id: &str) -> String {
    format!("{}/connections/{connection_id}", base.trim_end_matches('/'))
}

/// The OpenID Provider metadata of one connection's issuer (OpenID Connect Discovery 1.0 §3,
/// Back-Channel Logout 1.0 §2.1): `issuer`, `jwks_uri` (the deployment's one key set at
/// `{base}/.well-known/jwks.json`), `backchannel_logout_supported` and
/// `backchannel_logout_session_supported`.
pub fn discovery(base: &str, connection_id: &str) -> Value {
    json!({
        "issuer": connection_issuer(base, connection_id),
        "jwks_uri": format!("{}/.well-known/jwks.json", base.trim_end_matches('/')),
        "id_token_signing_alg_values_supported": ["ES256"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}

/// Length of a P-256 scalar and of each affine coordinate (RFC 7518 §6.2.1.2, §6.2.2.1).
const COORDINATE_BYTES: usize = 32;

/// One private key of the set: its id, private scalar and public coordinates (base64url, as
/// given; each checked to be 32 bytes).
struct Key {
    kid: String,
    d: String,
    x: String,
    y: String,
}

/// The Logout Token signing keys: the first signs, all are published.
/// `Debug` shows the key ids only.
pub struct SigningKeys {
    keys: Vec<Key>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The claims of one Logout Token (§2.4). At least one of `sub` and `sid` is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sub: Option<String>,
    pub sid: Option<String>,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct Payload<'a> {
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: Value,
}

impl SigningKeys {
    /// Parses a JSON array of private EC P-256 JWKs (RFC 7518 §6.2), or a JWK Set
    /// `{"keys": [...]}` (RFC 7517 §5). Each needs `kid` and `d`; `x`/`y`, when present, must be
    /// the public key of `d`; `use`/`alg`, when present, must be `sig`/`ES256`.
    ///
    /// Errors name the key by position and the member at fault, never a value: the input is a
    /// secret.
    pub fn parse(json: &str) -> Result<SigningKeys, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            format!(
                "signing keys are not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let list = match &value {
            Value::Array(list) => list,
            Value::Object(set) => match set.get("keys") {
                Some(Value::Array(list)) => list,
                _ => return Err("a JWK Set needs a \"keys\" array".to_owned()),
            },
            _ => {
                return Err(
                    "signing keys are a JSON array of JWKs or a {\"keys\": [...]} set".into(),
                )
            }
        };
        if list.is_empty() {
            return Err("there are no signing keys".to_owned());
        }
        let mut keys: Vec<Key> = Vec::with_capacity(list.len());
        for (i, jwk) in list.iter().enumerate() {
            let key = parse_jwk(jwk).map_err(|e| format!("keys[{i}]: {e}"))?;
            if let Some(j) = keys.iter().position(|k| k.kid == key.kid) {
                return Err(format!("keys[{i}]: kid is the same as that of keys[{j}]"));
            }
            keys.push(key);
        }
        Ok(SigningKeys { keys })
    }

    /// The `kid` of the key that signs.
    pub fn signing_kid(&self) -> &str {
        self.keys.first().map_or("", |k| k.kid.as_str())
    }

    /// The JWK Set of every key's public half (RFC 7517 §5), for the `jwks_uri`.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| {
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": k.x,
                    "y": k.y,
                    "kid": k.kid,
                    "use": "sig",
                    "alg": "ES256",
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// The private JWK of the signing key, for the platform's Web Crypto `importKey("jwk", …)`
    /// (the edge signs: ECDSA runs in the runtime, not in the wasm). It holds `d`: never log it.
    pub fn signing_jwk(&self) -> Option<Value> {
        self.keys.first().map(
            |k| json!({"kty": "EC", "crv": "P-256", "d": k.d, "x": k.x, "y": k.y, "ext": false}),
        )
    }

    /// The JWS signing input (RFC 7515 §5.1: `BASE64URL(header) || '.' || BASE64URL(payload)`)
    /// of a Logout Token for `claims`, with the header `{"alg":"ES256","typ":"logout+jwt",
    /// "kid":..}` of the first key. It carries the back-channel logout event and no `nonce`
    /// (§2.4). Sign it with ES256 and pass the signature to [`finish`].
    pub fn signing_input(&self, claims: &LogoutClaims) -> Result<String, String> {
        let key = self.keys.first().ok_or("there are no signing keys")?;
        check_claims(claims)?;
        let header = Header {
            alg: "ES256",
            typ: LOGOUT_TOKEN_TYPE,
            kid: &key.kid,
        };
        let mut events = Map::new();
        events.insert(BACKCHANNEL_LOGOUT_EVENT.to_owned(), json!({}));
        let payload = Payload {
            iss: &claims.iss,
            sub: claims.sub.as_deref(),
            aud: &claims.aud,
            iat: claims.iat,
            exp: claims.exp,
            jti: &claims.jti,
            sid: claims.sid.as_deref(),
            events: Value::Object(events),
        };
        let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let payload = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        ))
    }
}

impl SigningKeys {
    /// The JWS signing input (RFC 7515 §5.1) of any JSON `payload` under the header
    /// `{"alg":"ES256","typ":<typ>,"kid":..}` of the first key: for documents other than Logout
    /// Tokens signed with the same keys (deprovisioning receipts), verifiable against the same
    /// JWKS. Sign it with ES256 and pass the signature to [`finish`].
    pub fn jws_signing_input(&self, typ: &'static str, payload: &Value) -> Result<String, String> {
        let key = self.keys.first().ok_or("there are no signing keys")?;
        let header = Header {
            alg: "ES256",
            typ,
            kid: &key.kid,
        };
        let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let payload = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        ))
    }
}

/// The compact JWS (RFC 7515 §7.1): the signing input and the ES256 signature, which is the
/// 64-byte `r || s` (RFC 7518 §3.4) that Web Crypto's ECDSA returns.
pub fn finish(signing_input: &str, signature: &[u8]) -> Result<String, String> {
    if signature.len() != 64 {
        return Err(format!(
            "an ES256 signature is 64 bytes, not {}",
            signature.len()
        ));
    }
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// §2.4: `iss`, `aud`, `iat`, `exp`, `jti` required; `sub` or `sid` or both.
fn check_claims(claims: &LogoutClaims) -> Result<(), String> {
    for (name, value) in [
        ("iss", Some(&claims.iss)),
        ("aud", Some(&claims.aud)),
        ("jti", Some(&claims.jti)),
        ("sub", claims.sub.as_ref()),
        ("sid", claims.sid.as_ref()),
    ] {
        if value.is_some_and(|v| v.is_empty()) {
            return Err(format!("the {name} claim is empty"));
        }
    }
    if claims.sub.is_none() && claims.sid.is_none() {
        return Err("a Logout Token needs a sub or a sid claim".to_owned());
    }
    if claims.exp <= claims.iat {
        return Err("exp must be after iat".to_owned());
    }
    Ok(())
}

/// One private JWK. Messages name members, never their values.
fn parse_jwk(jwk: &Value) -> Result<Key, String> {
    let Value::Object(jwk) = jwk else {
        return Err("is not a JSON object".to_owned());
    };
    let member = |name: &str| -> Result<Option<&str>, String> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{name} is not a string")),
        }
    };
    if member("kty")? != Some("EC") {
        return Err("kty must be \"EC\"".to_owned());
    }
    if member("crv")? != Some("P-256") {
        return Err("crv must be \"P-256\"".to_owned());
    }
    if member("use")?.is_some_and(|u| u != "sig") {
        return Err("use, when present, must be \"sig\"".to_owned());
    }
    if member("alg")?.is_some_and(|a| a != "ES256") {
        return Err("alg, when present, must be \"ES256\"".to_owned());
    }
    let kid = match member("kid")? {
        None => return Err("kid is missing".to_owned()),
        Some("") => return Err("kid is empty".to_owned()),
        Some(kid) => kid.to_owned(),
    };
    let mut key = Key {
        kid,
        d: String::new(),
        x: String::new(),
        y: String::new(),
    };
    // The public coordinates cannot be derived here (no curve arithmetic in the wasm): they are
    // required, and Web Crypto refuses a key whose x/y do not belong to d when it signs.
    for (name, slot) in [("d", &mut key.d), ("x", &mut key.x), ("y", &mut key.y)] {
        let value = member(name)?.ok_or_else(|| match name {
            "d" => "d is missing (a private key is needed)".to_owned(),
            _ => format!("{name} is missing (the public key is needed)"),
        })?;
        coordinate(name, value)?;
        *slot = value.to_owned();
    }
    Ok(key)
}

/// A base64url (unpadded) 32-byte value: `d`, `x` or `y` (RFC 7518 §6.2.1.2, §6.2.2.1).
fn coordinate(name: &str, encoded: &str) -> Result<[u8; COORDINATE_BYTES], String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| format!("{name} is not unpadded base64url"))?;
    <[u8; COORDINATE_BYTES]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{name} is not {COORDINATE_BYTES} bytes long"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use p256::EncodedPoint;

    use super::*;

    #[test]
    fn each_connection_has_its_issuer_and_discovery() {
        assert_eq!(
            connection_issuer("https://scim.example/", "con_1"),
            "https://scim.example/connections/con_1"
        );
        let doc = discovery("https://scim.example", "con_2");
        assert_eq!(doc["issuer"], "https://scim.example/connections/con_2");
        assert_eq!(
            doc["jwks_uri"],
            "https://scim.example/.well-known/jwks.json"
        );
        assert_eq!(doc["backchannel_logout_supported"], true);
        assert_eq!(doc["backchannel_logout_session_supported"], true);
    }

    /// What the edge does with Web Crypto, done here with the `p256` crate (a test-only oracle):
    /// sign the signing input with the private JWK, then `finish`.
    trait SignWithOracle {
        fn sign(&self, claims: &LogoutClaims) -> Result<String, String>;
    }

    impl SignWithOracle for SigningKeys {
        fn sign(&self, claims: &LogoutClaims) -> Result<String, String> {
            let input = self.signing_input(claims)?;
            let jwk = self.signing_jwk().unwrap();
            let d = URL_SAFE_NO_PAD.decode(jwk["d"].as_str().unwrap()).unwrap();
            let signer = SigningKey::from_slice(&d).unwrap();
            let signature: Signature = signer.sign(input.as_bytes());
            finish(&input, &signature.to_bytes())
        }
    }

    /// RFC 7515 Appendix A.3.1: the ES256 example key.
    const RFC7515_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
    const RFC7515_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const RFC7515_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    /// A second key, made with `crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'})`.
    const OTHER_D: &str = "BnZF_tgbLVFk27QEXYQLckDZQuzi_CwF9YdyOk-sExA";
    const OTHER_X: &str = "Wg6X3R8oZbJWzDXVhBKHw1QCrGn1nSN__RR_0yyY5g4";
    const OTHER_Y: &str = "rq-mZ9A0asSSNgIJQqaejRiCYwXwMhOBtutG8LKMBmw";

    fn jwk(kid: &str, d: &str, x: &str, y: &str) -> Value {
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "d": d, "x": x, "y": y})
    }

    fn rfc_key(kid: &str) -> Value {
        jwk(kid, RFC7515_D, RFC7515_X, RFC7515_Y)
    }

    fn claims() -> LogoutClaims {
        LogoutClaims {
            iss: "https://scim.example/con_1".into(),
            aud: "client-123".into(),
            iat: 1_800_000_000,
            exp: 1_800_000_120,
            jti: "bWJq".into(),
            sub: Some("248289761001".into()),
            sid: Some("08a5019c-17e1-4977-8f42-65a12843ea02".into()),
        }
    }

    fn decode_json(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// Verifies `token` against the JWKS entry with its `kid`, as a relying party would, and
    /// returns the header and payload.
    fn verify(token: &str, jwks: &Value) -> (Value, Value) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "compact JWS has three parts");
        let header = decode_json(parts[0]);
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .expect("the kid is published");
        let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        let (x, y) = (coordinate("x"), coordinate("y"));
        assert_eq!((x.len(), y.len()), (32, 32));
        let point =
            EncodedPoint::from_affine_coordinates(x.as_slice().into(), y.as_slice().into(), false);
        let verifier = VerifyingKey::from_encoded_point(&point).unwrap();
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(signature.len(), 64, "ES256 is raw r || s");
        let signature = Signature::from_slice(&signature).unwrap();
        let signing_input = format!("{}.{}", parts[0], parts[1]);
        verifier
            .verify(signing_input.as_bytes(), &signature)
            .expect("the signature verifies");
        (header, decode_json(parts[1]))
    }

    #[test]
    fn signs_a_logout_token_that_verifies_against_the_jwks() {
        let keys = SigningKeys::parse(&json!([rfc_key("k-1")]).to_string()).unwrap();
        let token = keys.sign(&claims()).unwrap();
        let (header, payload) = verify(&token, &keys.jwks());
        assert_eq!(
            header,
            json!({"alg": "ES256", "typ": "logout+jwt", "kid": "k-1"})
        );
        assert_eq!(
            payload,
            json!({
                "iss": "https://scim.example/con_1",
                "sub": "248289761001",
                "aud": "client-123",
                "iat": 1_800_000_000,
                "exp": 1_800_000_120,
                "jti": "bWJq",
                "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
            })
        );
        assert!(
            payload.get("nonce").is_none(),
            "§2.4: a Logout Token has no nonce"
        );
        assert!(!token.contains('='), "base64url without padding");
    }

    #[test]
    fn sub_or_sid_alone_is_enough_and_the_other_is_left_out() {
        let keys = SigningKeys::parse(&json!([rfc_key("k-1")]).to_string()).unwrap();
        let only_sub = LogoutClaims {
            sid: None,
            ..claims()
        };
        let (_, payload) = verify(&keys.sign(&only_sub).unwrap(), &keys.jwks());
        assert_eq!(payload["sub"], "248289761001");
        assert!(payload.get("sid").is_none());
        let only_sid = LogoutClaims {
            sub: None,
            ..claims()
        };
        let (_, payload) = verify(&keys.sign(&only_sid).unwrap(), &keys.jwks());
        assert_eq!(payload["sid"], "08a5019c-17e1-4977-8f42-65a12843ea02");
        assert!(payload.get("sub").is_none());
    }

    #[test]
    fn rejects_claims_without_sub_or_sid_and_empty_or_inverted_ones() {
        let keys = SigningKeys::parse(&json!([rfc_key("k-1")]).to_string()).unwrap();
        let neither = LogoutClaims {
            sub: None,
            sid: None,
            ..claims()
        };
        assert!(keys.sign(&neither).unwrap_err().contains("sub or a sid"));
        for bad in [
            LogoutClaims {
                sub: Some(String::new()),
                ..claims()
            },
            LogoutClaims {
                iss: String::new(),
                ..claims()
            },
            LogoutClaims {
                aud: String::new(),
                ..claims()
            },
            LogoutClaims {
                jti: String::new(),
                ..claims()
            },
            LogoutClaims {
                exp: claims().iat,
                ..claims()
            },
        ] {
            assert!(keys.sign(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn publishes_the_public_parts_only_and_imports_the_private_key() {
        let keys = SigningKeys::parse(&json!([rfc_key("k-1")]).to_string()).unwrap();
        assert_eq!(
            keys.jwks(),
            json!({"keys": [{
                "kty": "EC", "crv": "P-256", "x": RFC7515_X, "y": RFC7515_Y,
                "kid": "k-1", "use": "sig", "alg": "ES256",
            }]})
        );
        assert!(!keys.jwks().to_string().contains(RFC7515_D));
        assert_eq!(
            keys.signing_jwk().unwrap(),
            json!({"kty": "EC", "crv": "P-256", "d": RFC7515_D, "x": RFC7515_X, "y": RFC7515_Y,
                   "ext": false})
        );
    }

    #[test]
    fn finish_takes_a_64_byte_signature_only() {
        assert_eq!(
            finish("a.b", &[0u8; 64]).unwrap(),
            format!("a.b.{}", "A".repeat(86))
        );
        for len in [0, 63, 65, 72] {
            let err = finish("a.b", &vec![1u8; len]).unwrap_err();
            assert!(err.contains("64 bytes"), "{len}: {err}");
        }
    }

    #[test]
    fn rotation_the_first_key_signs_and_all_are_published() {
        let set = json!([jwk("k-new", OTHER_D, OTHER_X, OTHER_Y), rfc_key("k-old"),]);
        for input in [set.clone(), json!({ "keys": set })] {
            let keys = SigningKeys::parse(&input.to_string()).unwrap();
            assert_eq!(keys.signing_kid(), "k-new");
            let jwks = keys.jwks();
            let kids: Vec<&str> = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap())
                .collect();
            assert_eq!(kids, ["k-new", "k-old"]);
            assert_eq!(jwks["keys"][0]["x"], OTHER_X);
            assert_eq!(jwks["keys"][1]["x"], RFC7515_X);
            let (header, _) = verify(&keys.sign(&claims()).unwrap(), &jwks);
            assert_eq!(header["kid"], "k-new");
        }
    }

    #[test]
    fn accepts_the_node_crypto_export_with_kid() {
        // What scripts/gen-signing-key.mjs prints: Node's JWK export plus kid.
        let input = format!(
            r#"[{{"kty":"EC","x":"{OTHER_X}","y":"{OTHER_Y}","crv":"P-256","d":"{OTHER_D}","kid":"k-20270115-0a1b2c3d"}}]"#
        );
        let keys = SigningKeys::parse(&input).unwrap();
        assert_eq!(keys.signing_kid(), "k-20270115-0a1b2c3d");
        assert_eq!(
            format!("{keys:?}"),
            r#"SigningKeys { kids: ["k-20270115-0a1b2c3d"] }"#
        );
    }

    #[test]
    fn parse_rejects_bad_key_sets_without_echoing_secrets() {
        let with = |k: &str, v: Value| {
            let mut key = rfc_key("k-1");
            key[k] = v;
            json!([key]).to_string()
        };
        let without = |k: &str| {
            let mut key = rfc_key("k-1");
            key.as_object_mut().unwrap().remove(k);
            json!([key]).to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("[]".into(), "no signing keys"),
            (r#"{"keys": []}"#.into(), "no signing keys"),
            (r#"{"key": []}"#.into(), "\"keys\" array"),
            ("\"k\"".into(), "JSON array"),
            (format!("[{{\"d\": \"{RFC7515_D}\""), "not valid JSON"),
            ("[1]".into(), "not a JSON object"),
            (with("kty", json!("RSA")), "kty"),
            (without("kty"), "kty"),
            (with("crv", json!("P-384")), "crv"),
            (with("crv", json!(256)), "crv is not a string"),
            (without("crv"), "crv"),
            (with("use", json!("enc")), "use"),
            (with("alg", json!("RS256")), "alg"),
            (without("kid"), "kid is missing"),
            (with("kid", json!("")), "kid is empty"),
            (with("kid", json!(7)), "kid is not a string"),
            (without("d"), "d is missing"),
            (with("d", json!("")), "d is not 32 bytes"),
            (
                with("d", json!(format!("{RFC7515_D}="))),
                "d is not unpadded base64url",
            ),
            (
                with("d", json!("jpsQnnGQmL+YBIffH1136cspYG6/0iY7X1fCE9+E9LI")),
                "base64url",
            ),
            (with("d", json!(&RFC7515_D[..42])), "d is not"),
            (
                with("d", json!(URL_SAFE_NO_PAD.encode([1u8; 33]))),
                "d is not 32 bytes",
            ),
            (without("x"), "x is missing"),
            (without("y"), "y is missing"),
            (with("y", json!(7)), "y is not a string"),
            (with("x", json!("AAAA")), "x is not 32 bytes"),
            (
                json!([rfc_key("k-1"), jwk("k-1", OTHER_D, OTHER_X, OTHER_Y)]).to_string(),
                "keys[1]: kid is the same as that of keys[0]",
            ),
            (
                json!([
                    jwk("k-2", OTHER_D, OTHER_X, OTHER_Y),
                    rfc_key("k-1"),
                    rfc_key("k-1")
                ])
                .to_string(),
                "keys[2]",
            ),
        ];
        for (input, expected) in cases {
            let err = SigningKeys::parse(&input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
            for secret in [RFC7515_D, OTHER_D, &RFC7515_D[..8], OTHER_X] {
                assert!(!err.contains(secret), "{input}: echoed: {err}");
            }
            assert!(!err.contains(&input), "{input}: echoed: {err}");
        }
    }
}
