//! SCIM filters and PATCH paths (RFC 7644 §3.4.2.2 and §3.5.2).
//!
//! A visible pipeline: [`lexer`] turns the input into tokens with char positions, [`parser`]
//! builds the typed AST below, and [`eval`] runs that AST against a JSON resource in memory.
//! Nothing here does I/O, and no input can make it panic or recurse without bound: the input is
//! capped at [`MAX_FILTER_LEN`] chars and the nesting at [`MAX_FILTER_DEPTH`] levels.

pub(crate) mod ast;
mod eval;
mod lexer;
mod parser;
mod validate;

pub use eval::{matches, matches_element};
pub use parser::{parse_filter, parse_patch_path};
pub use validate::validate;

pub use ast::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, PatchPath, MAX_FILTER_DEPTH,
    MAX_FILTER_LEN,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::{ScimError, ScimType};

    #[test]
    fn filter_error_becomes_400_invalid_filter_with_position() {
        let err = ScimError::from(FilterError::new(12, "expected a value after 'eq'"));
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
        assert_eq!(
            err.detail,
            "invalid filter at position 12: expected a value after 'eq'"
        );
    }

    #[test]
    fn patch_path_error_becomes_400_invalid_path() {
        let err = FilterError::new(3, "missing ']'").into_invalid_path();
        assert_eq!(err.status, 400);
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
        assert_eq!(err.detail, "invalid path at position 3: missing ']'");
    }

    #[test]
    fn parse_error_detail_names_the_offending_token() {
        let detail = parse_filter("userName foo \"x\"")
            .map_err(ScimError::from)
            .err()
            .map(|e| e.detail);
        assert_eq!(
            detail.as_deref(),
            Some("invalid filter at position 9: expected a comparison operator after 'userName', found 'foo'")
        );
    }

    /// Deterministic fuzzing: every prefix of some filters, and random token soups, either
    /// parse or fail with a position inside the input; none panics or overflows the stack.
    #[test]
    fn arbitrary_input_never_panics() {
        let fragments = [
            "userName",
            " eq ",
            "\"x\"",
            "(",
            ")",
            "[",
            "]",
            ".",
            " and ",
            " or ",
            "not ",
            " pr",
            "emails",
            "type",
            "-1.5e3",
            "true",
            "null",
            "urn:a:b:c",
            "$ref",
            "\"\\u00e9",
            "\t",
            "é",
            "\"",
            "\\",
            ":",
            "..",
            " gt ",
            "members[value eq \"1\"].display",
        ];
        let resource = serde_json::json!({
            "userName": "x",
            "emails": [{ "type": "work", "value": "x@example.com" }],
        });
        let mut inputs: Vec<String> = Vec::new();
        let whole = r#"userType eq "Employee" and emails[type eq "work" and value co "@é.com"] or not (title pr)"#;
        let chars: Vec<char> = whole.chars().collect();
        inputs.extend((0..=chars.len()).map(|n| chars.iter().take(n).collect()));
        let mut seed: u64 = 0x5eed;
        for _ in 0..2000 {
            let mut input = String::new();
            for _ in 0..12 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let pick = usize::try_from(seed >> 33).unwrap_or(0) % fragments.len();
                input.push_str(fragments.get(pick).copied().unwrap_or_default());
            }
            inputs.push(input);
        }
        for input in &inputs {
            let len = input.chars().count();
            match parse_filter(input) {
                Ok(filter) => {
                    let _ = matches(&filter, &resource, &|_| false);
                }
                Err(e) => assert!(e.position <= len, "{input:?}: {e:?}"),
            }
            if let Err(e) = parse_patch_path(input) {
                assert!(e.position <= len, "{input:?}: {e:?}");
            }
        }
    }
}
