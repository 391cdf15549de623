//! Webhook signatures in the Standard Webhooks format (<https://www.standardwebhooks.com>,
//! spec v1.0.0, "Signature scheme"): HMAC-SHA256 over `{msg_id}.{timestamp}.{body}` with a
//! `whsec_` secret, sent as `webhook-signature: v1,<base64>`.
//!
//! Pure: the caller brings the message id, the timestamp and the randomness.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::scim::ScimError;
use crate::service::clock::Random;

/// Every secret starts with this, so it names its scheme (spec: "Secret serialization").
pub const SECRET_PREFIX: &str = "whsec_";
/// Key bytes a new secret gets.
pub const NEW_SECRET_BYTES: usize = 32;
/// Key lengths [`parse_secret`] accepts: at least 24 bytes (spec), at most 64 (512 bits).
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;
/// The signature identifier of symmetric (HMAC-SHA256) signatures.
const SIGNATURE_VERSION: &str = "v1";

/// A parsed webhook secret: the HMAC-SHA256 key, already keyed. Its `Debug` shows no key.
#[derive(Clone)]
pub struct WebhookSecret {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A fresh secret: `whsec_` + standard base64 (padded) of 32 random bytes.
pub fn new_secret(random: &mut dyn Random) -> Result<String, ScimError> {
    let mut key = [0u8; NEW_SECRET_BYTES];
    random.fill(&mut key)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// Parses a `whsec_` secret. The errors never repeat the secret, not even part of it.
pub fn parse_secret(s: &str) -> Result<WebhookSecret, ScimError> {
    let encoded = s.strip_prefix(SECRET_PREFIX).ok_or_else(|| {
        ScimError::invalid_value(format!("A webhook secret starts with '{SECRET_PREFIX}'."))
    })?;
    let key = STANDARD.decode(encoded).map_err(|_| {
        ScimError::invalid_value(format!(
            "A webhook secret is '{SECRET_PREFIX}' followed by standard base64."
        ))
    })?;
    if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
        return Err(ScimError::invalid_value(format!(
            "A webhook secret has {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes of key; this one has {}.",
            key.len()
        )));
    }
    // HMAC takes keys of any length, so this only fails if that ever changes.
    let mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| ScimError::invalid_value("The webhook secret is not a usable HMAC key."))?;
    Ok(WebhookSecret { mac })
}

/// The signature of one message: `v1,` + base64 of HMAC-SHA256 over `{msg_id}.{timestamp}.{body}`.
///
/// The spec asks that `msg_id` be chosen by the sender and contain no `.`: ours are generated.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac = secret.mac.clone();
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag))
}

/// The `webhook-signature` header value: one signature per secret, space-delimited, so a receiver
/// accepts the message with either the old or the new secret while a secret is rotated.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, msg_id, timestamp_secs, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The Standard Webhooks test vector, as the reference libraries' `sign` tests have it
    /// (standard-webhooks/libraries: php `testSignFunctionWorks`, and Svix's).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// Fills with one repeated byte.
    struct Fixed(u8);

    impl Random for Fixed {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), ScimError> {
            buf.fill(self.0);
            Ok(())
        }
    }

    struct Broken;

    impl Random for Broken {
        fn fill(&mut self, _: &mut [u8]) -> Result<(), ScimError> {
            Err(ScimError::internal_because("no entropy"))
        }
    }

    #[test]
    fn spec_test_vector() {
        let secret = parse_secret(SPEC_SECRET).unwrap();
        assert_eq!(
            sign(&secret, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn rust_reference_library_test_vector() {
        // standard-webhooks libraries/rust `test_sign`.
        let secret = parse_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            sign(
                &secret,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn every_part_of_the_message_is_signed() {
        let secret = parse_secret(SPEC_SECRET).unwrap();
        for other in [
            sign(&secret, "msg_other", SPEC_TIMESTAMP, SPEC_BODY),
            sign(&secret, SPEC_MSG_ID, SPEC_TIMESTAMP + 1, SPEC_BODY),
            sign(
                &secret,
                SPEC_MSG_ID,
                SPEC_TIMESTAMP,
                br#"{"test": 2432232315}"#,
            ),
        ] {
            assert_ne!(other, SPEC_SIGNATURE);
        }
    }

    #[test]
    fn the_header_carries_one_signature_per_secret_in_order() {
        let old = parse_secret(SPEC_SECRET).unwrap();
        let new = parse_secret(&new_secret(&mut Fixed(7)).unwrap()).unwrap();
        let header = signature_header(&[&old, &new], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], SPEC_SIGNATURE);
        assert_eq!(parts[1], sign(&new, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY));
        assert_eq!(
            signature_header(&[&old], SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY),
            SPEC_SIGNATURE
        );
        assert_eq!(signature_header(&[], SPEC_MSG_ID, 0, b""), "");
    }

    #[test]
    fn new_secrets_have_32_bytes_and_parse() {
        let secret = new_secret(&mut Fixed(0xAB)).unwrap();
        assert_eq!(secret, format!("whsec_{}", STANDARD.encode([0xABu8; 32])));
        assert!(parse_secret(&secret).is_ok());
        assert!(new_secret(&mut Broken).is_err());
    }

    #[test]
    fn parse_rejects_malformed_secrets_without_echoing_them() {
        let b64 = |n: usize| STANDARD.encode(vec![0x5Au8; n]);
        let cases = [
            // No prefix (the reference libraries tolerate that; we do not).
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            "whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            String::new(),
            "whsec_".to_owned(),
            // Not standard base64: URL-safe alphabet, missing padding, stray characters.
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_".to_owned(),
            format!("whsec_{}", b64(25).trim_end_matches('=')),
            "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw".to_owned(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n".to_owned(),
            // Too short, too long.
            format!("whsec_{}", b64(23)),
            format!("whsec_{}", b64(65)),
        ];
        for case in cases {
            let err = parse_secret(&case).unwrap_err();
            assert_eq!(err.status, 400, "{case:?}");
            let encoded = case.strip_prefix("whsec_").unwrap_or(&case).trim();
            if encoded.len() >= 4 {
                assert!(!err.detail.contains(encoded), "{case:?} echoed: {err}");
                assert!(
                    !err.detail.contains(&encoded[..4]),
                    "{case:?} echoed: {err}"
                );
            }
        }
    }

    #[test]
    fn accepts_the_key_length_bounds() {
        for n in [24, 64] {
            let secret = format!("whsec_{}", STANDARD.encode(vec![1u8; n]));
            assert!(parse_secret(&secret).is_ok(), "{n} bytes");
        }
    }

    #[test]
    fn debug_shows_no_key() {
        let secret = parse_secret(SPEC_SECRET).unwrap();
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
    }
}
