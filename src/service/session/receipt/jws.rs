//! A deprovisioning receipt as a compact JWS (RFC 7515 §7.1), signed ES256 (RFC 7518 §3.4) with
//! the key that signs the connection's OIDC Back-Channel Logout 1.0 tokens (`LOGOUT_SIGNING_KEYS`),
//! so anyone can verify it offline against `/.well-known/jwks.json`.
//!
//! Header `{"alg": "ES256", "typ": "deprovisioning-receipt+jwt", "kid"}`; claims: the receipt's
//! public form ([`Receipt::to_json`](super::Receipt::to_json)) plus `iss`, the connection's
//! issuer (the `iss` of its logout tokens, `{LOGOUT_ISSUER}/connections/{connection_id}`), and
//! `iat` (seconds since the epoch, when it was read). Pure: the edge signs the signing input
//! with the platform's Web Crypto.

use serde_json::Value;

use crate::service::delivery::logout_token::{self, SigningKeys};

/// The JOSE `typ` of a receipt (explicit typing, RFC 8725 §3.11).
pub const RECEIPT_TOKEN_TYPE: &str = "deprovisioning-receipt+jwt";

/// What signs receipts: the keys of `LOGOUT_SIGNING_KEYS` (when configured and valid) and
/// `LOGOUT_ISSUER`, the base of every connection's issuer.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptSigner<'a> {
    pub keys: Option<&'a SigningKeys>,
    pub issuer_base: &'a str,
}

/// The claims of a receipt's JWS: the receipt with `iss` and `iat` added.
pub fn claims(receipt: &Value, issuer: &str, iat: i64) -> Value {
    let mut claims = receipt.clone();
    if let Some(map) = claims.as_object_mut() {
        map.insert("iss".into(), Value::String(issuer.to_owned()));
        map.insert("iat".into(), Value::from(iat));
    }
    claims
}

/// The admin API's body of one receipt: the receipt with `jws` (the compact JWS, or `null`)
/// and `jws_unavailable_reason` (why there is none, or `null`).
pub fn with_jws(receipt: Value, jws: Option<String>, reason: Option<String>) -> Value {
    let mut body = receipt;
    if let Some(map) = body.as_object_mut() {
        map.insert("jws".into(), jws.map_or(Value::Null, Value::String));
        map.insert(
            "jws_unavailable_reason".into(),
            reason.map_or(Value::Null, Value::String),
        );
    }
    body
}

/// A receipt ready to serve, or waiting for its signature.
pub enum Prepared {
    /// No JWS can be made (no keys configured): the body says why.
    Ready(Value),
    Unsigned(UnsignedReceipt),
}

/// A receipt whose JWS waits for the ES256 signature over `signing_input`, made with the
/// private JWK `jwk` (it holds `d`: never log it, hence no `Debug`).
pub struct UnsignedReceipt {
    pub receipt: Value,
    pub signing_input: String,
    pub jwk: Value,
}

impl UnsignedReceipt {
    /// The body, once the signature (64-byte `r || s`) is there; a signing failure leaves
    /// `jws` null and says why.
    pub fn finish(self, signature: Result<Vec<u8>, String>) -> Value {
        match signature.and_then(|s| logout_token::finish(&self.signing_input, &s)) {
            Ok(jws) => with_jws(self.receipt, Some(jws), None),
            Err(e) => with_jws(
                self.receipt,
                None,
                Some(format!("the receipt could not be signed: {e}")),
            ),
        }
    }
}

/// The receipt `receipt` (public form) of connection `connection_id`, prepared for signing at
/// `iat` (seconds).
pub fn prepare(
    receipt: Value,
    connection_id: &str,
    signer: ReceiptSigner<'_>,
    iat: i64,
) -> Prepared {
    let Some(keys) = signer.keys else {
        return Prepared::Ready(with_jws(
            receipt,
            None,
            Some(
                "LOGOUT_SIGNING_KEYS is not configured (or not valid): receipts are signed with the logout signing key."
                    .into(),
            ),
        ));
    };
    let issuer = logout_token::connection_issuer(signer.issuer_base, connection_id);
    let signed = keys
        .jws_signing_input(RECEIPT_TOKEN_TYPE, &claims(&receipt, &issuer, iat))
        .and_then(|input| {
            let jwk = keys.signing_jwk().ok_or("there are no signing keys")?;
            Ok((input, jwk))
        });
    match signed {
        Ok((signing_input, jwk)) => Prepared::Unsigned(UnsignedReceipt {
            receipt,
            signing_input,
            jwk,
        }),
        Err(e) => Prepared::Ready(with_jws(
            receipt,
            None,
            Some(format!("the receipt could not be signed: {e}")),
        )),
    }
}
