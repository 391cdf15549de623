//! Small string and JSON-member helpers the protocol needs, safe on any client input: they never slice a
//! string at a byte that is not a character boundary (a panic in wasm kills the isolate).

use serde_json::{Map, Value};

/// `s` without `prefix` when `s` starts with it, compared ASCII-case-insensitively (schema URNs
/// and attribute names are case-insensitive, RFC 7643 §2.1). `None` when it does not.
///
/// `prefix` may be anything; when the bytes match, the byte after them follows an ASCII byte or
/// is where a whole character of `prefix` ended, so the split is always on a boundary.
pub fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix.as_bytes()) {
        return None;
    }
    // `get` rather than indexing: a prefix match ending inside a character (only possible when
    // `prefix` itself ends with a partial character, which `&str` rules out) is still no panic.
    s.get(prefix.len()..)
}

/// The member called `name` of a JSON object, preferring an exact match, else the first whose
/// name equals it ASCII-case-insensitively (attribute names are case-insensitive, RFC 7643
/// §2.1). The one lookup every layer uses for client JSON.
pub fn member<'m>(object: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

/// [`member`] of `node` when it is an object; `None` for any other JSON value.
pub fn member_of<'v>(node: &'v Value, name: &str) -> Option<&'v Value> {
    member(node.as_object()?, name)
}

/// The key that makes `userName` and group `displayName` unique in a connection: two values
/// with the same key are the same name. Compatibility decomposition and composition (NFKC: the
/// fullwidth `Ｂ` is `B`, a ligature its letters), Unicode lower case, then NFC (a decomposed `é`
/// is the composed one). It covers the width mapping, case mapping and normalisation of the
/// PRECIS UsernameCaseMapped profile (RFC 8265 §3.3) and maps more (every compatibility
/// character), so fewer look-alike names can coexist; what the IdP sent is stored as sent.
pub fn uniqueness_key(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let compatible: String = s.nfkc().collect();
    compatible.to_lowercase().nfc().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_match_case_insensitively_preferring_exact() {
        let v = json!({"userName": 1, "USERNAME": 2, "emails": 3});
        assert_eq!(member_of(&v, "userName"), Some(&json!(1)));
        assert_eq!(member_of(&v, "USERNAME"), Some(&json!(2)));
        assert_eq!(member_of(&v, "Emails"), Some(&json!(3)));
        assert_eq!(member_of(&v, "name"), None);
        assert_eq!(member_of(&json!([1]), "name"), None);
    }

    #[test]
    fn strips_case_insensitively() {
        assert_eq!(
            strip_prefix_ignore_ascii_case("URN:x:Y:attr", "urn:X:y"),
            Some(":attr")
        );
        assert_eq!(strip_prefix_ignore_ascii_case("urn", "urn:x"), None);
        assert_eq!(strip_prefix_ignore_ascii_case("abc", ""), Some("abc"));
    }

    #[test]
    fn never_splits_a_multi_byte_character() {
        // Every position of a two- and a three-byte character against an ASCII prefix.
        for n in 0..8 {
            for ch in ["é", "€", "𝄞"] {
                let s = format!("{}{ch}x", "a".repeat(n));
                for len in 0..=s.len() + 1 {
                    let prefix = "a".repeat(len);
                    let _ = strip_prefix_ignore_ascii_case(&s, &prefix);
                }
            }
        }
        assert_eq!(strip_prefix_ignore_ascii_case("aé", "a"), Some("é"));
        assert_eq!(strip_prefix_ignore_ascii_case("éa", "e"), None);
    }
}
