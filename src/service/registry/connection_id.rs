//! Connection ids that only this deployment can make: `con_` + 10 random hex digits + 10 hex
//! digits of a MAC of those under the `CONNECTION_ID_KEY` secret. The Worker checks the MAC of
//! every connection id in a URL before it names a Durable Object, so a forged id (one this
//! deployment never made) is answered without creating an object and its tables.
//!
//! - The MAC is HMAC-SHA256 (RFC 2104 with FIPS 180-4 SHA-256) of the 10 random hex digits as
//!   ASCII text, truncated to its first 5 bytes (RFC 2104 §5: the leftmost bits), written as 10
//!   lowercase hex digits. It is checked in constant time (`hmac`'s `verify_truncated_left`).
//! - A forger guesses a 40-bit tag: about 2^40 requests for one object, against one request per
//!   object without it.
//! - 40 random bits name a connection; [`super::create`] draws again when an id is already
//!   listed.
//!
//! The public shape is unchanged (`con_` + 20 lowercase hex digits, [`is_connection_id`]), so
//! ids made before the key existed still look like ids: they fail [`verify`] and stop answering
//! (see README, "Configuration").

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::scim::ScimError;
use crate::service::clock::{hex, Random};

/// The prefix of every connection id.
pub const PREFIX: &str = "con_";
/// Random bytes of an id (10 hex digits).
pub const RANDOM_BYTES: usize = 5;
/// Bytes of the MAC kept in an id (10 hex digits).
pub const TAG_BYTES: usize = 5;
/// The shortest `CONNECTION_ID_KEY` accepted, in bytes of the secret's text (`openssl rand -hex
/// 32` gives 64).
pub const MIN_KEY_BYTES: usize = 32;

/// Why a `CONNECTION_ID_KEY` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not set, or set to the empty string.
    Missing,
    /// Set, but shorter than [`MIN_KEY_BYTES`]; carries its length in bytes.
    TooShort(usize),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Missing => write!(f, "CONNECTION_ID_KEY is not set"),
            KeyError::TooShort(len) => write!(
                f,
                "CONNECTION_ID_KEY is {len} bytes long; it must be at least {MIN_KEY_BYTES}"
            ),
        }
    }
}

/// The key that makes and checks connection ids: the bytes of the `CONNECTION_ID_KEY` secret's
/// text, used as they are (a hex string from `openssl rand -hex 32` is 64 key bytes).
#[derive(Clone)]
pub struct ConnectionIdKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for ConnectionIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionIdKey(…)")
    }
}

impl ConnectionIdKey {
    /// The key from the secret's text; [`KeyError`] when it is absent (`None` or empty) or
    /// shorter than [`MIN_KEY_BYTES`] bytes.
    pub fn from_secret(secret: Option<&str>) -> Result<ConnectionIdKey, KeyError> {
        let secret = secret.unwrap_or_default();
        if secret.is_empty() {
            return Err(KeyError::Missing);
        }
        if secret.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map(|mac| ConnectionIdKey { mac })
            .map_err(|_| KeyError::Missing)
    }

    /// The HMAC of `random_hex` (the id's 10 random digits), not yet finalised.
    fn mac_of(&self, random_hex: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(random_hex.as_bytes());
        mac
    }
}

/// Whether `id` has the shape of a connection id (`con_` + 20 lowercase hex digits). Shape only:
/// [`verify`] says whether this deployment made it.
pub fn is_connection_id(id: &str) -> bool {
    id.len() == PREFIX.len() + 2 * (RANDOM_BYTES + TAG_BYTES)
        && id.starts_with(PREFIX)
        && id[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The connection id of these random bytes under `key`: `con_` + their 10 hex digits + the
/// first 5 bytes of their MAC in hex.
pub fn connection_id_from(key: &ConnectionIdKey, random: [u8; RANDOM_BYTES]) -> String {
    let random_hex = hex(&random);
    let tag = key.mac_of(&random_hex).finalize().into_bytes();
    format!("{PREFIX}{random_hex}{}", hex(&tag[..TAG_BYTES]))
}

/// A new connection id under `key`, from [`RANDOM_BYTES`] bytes of `random`.
pub fn new_connection_id(
    key: &ConnectionIdKey,
    random: &mut dyn Random,
) -> Result<String, ScimError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    random.fill(&mut bytes)?;
    Ok(connection_id_from(key, bytes))
}

/// Whether `id` is a connection id made under `key`: the shape of [`is_connection_id`]
/// (lowercase only) and a MAC that matches, compared in constant time. Anything else (another
/// key, a changed digit, another length, uppercase, non-hex) is `false`.
pub fn verify(key: &ConnectionIdKey, id: &str) -> bool {
    if !is_connection_id(id) {
        return false;
    }
    let digits = &id[PREFIX.len()..];
    let (random_hex, tag_hex) = digits.split_at(2 * RANDOM_BYTES);
    let Some(tag) = decode_hex(tag_hex) else {
        return false;
    };
    key.mac_of(random_hex).verify_truncated_left(&tag).is_ok()
}

/// Lowercase hex digits to bytes; `None` for an odd length or any other character.
fn decode_hex(digits: &str) -> Option<Vec<u8>> {
    let value = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let bytes = digits.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn key(secret: &str) -> ConnectionIdKey {
        ConnectionIdKey::from_secret(Some(secret)).unwrap()
    }

    struct Fixed(u8);
    impl Random for Fixed {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), ScimError> {
            buf.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn a_made_id_has_the_public_shape_and_verifies() {
        let k = key(SECRET);
        for seed in [0u8, 1, 0x7f, 0xff] {
            let id = new_connection_id(&k, &mut Fixed(seed)).unwrap();
            assert!(is_connection_id(&id), "{id}");
            assert_eq!(&id[4..14], hex(&[seed; 5]));
            assert!(verify(&k, &id), "{id}");
        }
    }

    /// The tag is the first 5 bytes of HMAC-SHA256(key, random hex), checked against an
    /// independent computation with the same primitives.
    #[test]
    fn the_tag_is_the_truncated_hmac_of_the_random_digits() {
        let id = connection_id_from(&key(SECRET), [0xab, 0xcd, 0xef, 0x01, 0x23]);
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(b"abcdef0123");
        let full = mac.finalize().into_bytes();
        assert_eq!(id, format!("con_abcdef0123{}", hex(&full[..5])));
    }

    #[test]
    fn ids_under_another_key_are_refused() {
        let id = connection_id_from(&key(SECRET), [9; 5]);
        let other = key(&SECRET.replace('0', "1"));
        assert!(!verify(&other, &id));
        assert!(verify(&other, &connection_id_from(&other, [9; 5])));
    }

    #[test]
    fn every_flipped_hex_digit_is_refused() {
        let k = key(SECRET);
        let id = connection_id_from(&k, [0x42; 5]);
        for i in 4..id.len() {
            let mut bytes = id.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let flipped = String::from_utf8(bytes).unwrap();
            assert!(is_connection_id(&flipped));
            assert!(!verify(&k, &flipped), "{flipped}");
        }
    }

    #[test]
    fn wrong_lengths_uppercase_non_hex_and_other_prefixes_are_refused() {
        let k = key(SECRET);
        let id = connection_id_from(&k, [0xaa; 5]);
        let digits = &id[4..];
        for candidate in [
            String::new(),
            "con_".to_owned(),
            id[..23].to_owned(),
            format!("{id}0"),
            format!("{id}/"),
            id.to_uppercase(),
            format!("con_{}", digits.to_uppercase()),
            format!("CON_{digits}"),
            format!("cn_{digits}0"),
            format!("con_{}g", &digits[..19]),
            format!("con_{} ", &digits[..19]),
            format!("con_{}é", &digits[..18]),
            format!(" con_{}", &digits[..19]),
        ] {
            assert!(!verify(&k, &candidate), "{candidate:?}");
        }
    }

    #[test]
    fn ids_of_random_digits_without_the_key_do_not_verify() {
        // Ids made the old way: 20 random digits.
        let k = key(SECRET);
        let refused = (0u8..=255)
            .map(|b| format!("con_{}", hex(&[b; 10])))
            .filter(|id| !verify(&k, id))
            .count();
        assert_eq!(refused, 256);
    }

    #[test]
    fn keys_must_be_set_and_at_least_32_bytes() {
        assert_eq!(
            ConnectionIdKey::from_secret(None).unwrap_err(),
            KeyError::Missing
        );
        assert_eq!(
            ConnectionIdKey::from_secret(Some("")).unwrap_err(),
            KeyError::Missing
        );
        assert_eq!(
            ConnectionIdKey::from_secret(Some(&"k".repeat(31))).unwrap_err(),
            KeyError::TooShort(31)
        );
        assert!(ConnectionIdKey::from_secret(Some(&"k".repeat(32))).is_ok());
        assert!(KeyError::TooShort(31).to_string().contains("at least 32"));
        assert!(KeyError::Missing.to_string().contains("CONNECTION_ID_KEY"));
    }

    #[test]
    fn the_key_is_not_printed() {
        assert!(!format!("{:?}", key(SECRET)).contains("0123"));
    }
}
