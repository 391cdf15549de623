//! SCIM filters and PATCH paths (RFC 7644 §3.4.2.2 and §3.5.2).
//!
//! A visible pipeline: [`lexer`] turns the input into tokens with char positions, [`parser`]
//! builds the typed AST below, and [`eval`] runs that AST against a JSON resource in memory.
//! Nothing here does I/O, and no input can make it panic or recurse without bound: the input is
//! capped at [`MAX_FILTER_LEN`] chars and the nesting at [`MAX_FILTER_DEPTH`] levels.

mod eval;
mod lexer;
mod parser;
mod validate;

pub use eval::{matches, matches_element};
pub use parser::{parse_filter, parse_patch_path};
pub use validate::validate;

use crate::scim::error::ScimError;

/// Longest filter or PATCH path accepted, in chars.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting accepted. Parentheses, `not`, value paths `[...]` and every `and`/`or` in a
/// chain each count one level, so no AST built by the parser is deeper than this.
pub const MAX_FILTER_DEPTH: usize = 32;

/// An attribute path: optional schema URN, attribute name, optional sub-attribute.
///
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value` has the URN
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, the attribute `manager` and the
/// sub-attribute `value`. Names keep the client's spelling; they compare case-insensitively.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

/// The attribute operators of RFC 7644 §3.4.2.2, Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator for a keyword, ignoring case (RFC 7644 §3.4.2.2: operators are
    /// case-insensitive).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        let op = match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        };
        Some(op)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// The literal on the right of a comparison (RFC 7644 §3.4.2.2 `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Null,
}

/// A parsed filter (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`: inner filter paths are relative to the element.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path`: `attrPath`, `attrPath[valFilter]`, or `attrPath[valFilter].subAttr`
/// (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub_attr: Option<String>,
}

/// Why a filter or PATCH path did not parse, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    /// 0-based char offset into the input.
    pub position: usize,
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        FilterError {
            position,
            message: message.into(),
        }
    }

    /// The 400 `invalidPath` for a PATCH path that did not parse (RFC 7644 §3.5.2).
    pub fn into_invalid_path(self) -> ScimError {
        ScimError::invalid_path(format!(
            "invalid path at position {}: {}",
            self.position, self.message
        ))
    }
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for FilterError {}

/// A filter that did not parse is a 400 `invalidFilter` (RFC 7644 §3.4.2.2).
impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::invalid_filter(format!(
            "invalid filter at position {}: {}",
            e.position, e.message
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;

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
