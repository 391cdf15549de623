//! The filter and PATCH path types (RFC 7644 §3.4.2.2, §3.5.2), the limits every stage
//! enforces, and the error a stage reports with its position.

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

impl Filter {
    /// Whether any comparison, presence test or value path of the filter is about attribute
    /// `attr` (compared case-insensitively; sub-attributes count: `groups.display` is about
    /// `groups`).
    pub fn mentions(&self, attr: &str) -> bool {
        match self {
            Filter::Compare { path, .. }
            | Filter::Present(path)
            | Filter::ValuePath { path, .. } => path.attr.eq_ignore_ascii_case(attr),
            Filter::And(a, b) | Filter::Or(a, b) => a.mentions(attr) || b.mentions(attr),
            Filter::Not(inner) => inner.mentions(attr),
        }
    }
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
