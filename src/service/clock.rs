//! Time and randomness come in as arguments: the service reads no clock and owns no RNG.

use time::macros::format_description;
use time::OffsetDateTime;

use crate::scim::ScimError;

/// Milliseconds since the Unix epoch, as the platform reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// RFC 3339 in UTC with millisecond precision: fixed width, so text order is time order.
    pub fn to_rfc3339(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }

    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds.saturating_mul(1000)))
    }
}

/// A source of cryptographically secure random bytes.
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ScimError>;
}

/// The operating system's (or, in wasm, the platform's `crypto.getRandomValues`) generator.
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ScimError> {
        getrandom::fill(buf)
            .map_err(|e| ScimError::internal_because(format!("random source failed: {e}")))
    }
}

/// Lower-case hexadecimal of `bytes`, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new opaque id: `prefix` then `bytes` random bytes in lower-case hex (`evt_` and 12 bytes
/// give `evt_` + 24 digits). Every generated id of the service comes from here.
pub fn random_id(random: &mut dyn Random, prefix: &str, bytes: usize) -> Result<String, ScimError> {
    let mut buf = vec![0u8; bytes];
    random.fill(&mut buf)?;
    Ok(format!("{prefix}{}", hex(&buf)))
}

/// A random RFC 9562 version 4 UUID, hyphenated.
pub fn new_uuid(random: &mut dyn Random) -> Result<String, ScimError> {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes)?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_millisecond_precision_in_utc() {
        assert_eq!(
            Timestamp(1_700_000_000_123).to_rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn random_ids_are_the_prefix_and_hex() {
        let id = random_id(&mut OsRandom, "evt_", 12).unwrap_or_default();
        assert_eq!(id.len(), 4 + 24);
        assert!(id.starts_with("evt_"));
        assert!(id[4..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[test]
    fn uuids_are_version_4() {
        let id = new_uuid(&mut OsRandom).unwrap_or_default();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes().get(14), Some(&b'4'));
    }
}
