//! The mapping's types: rules, the mapping, and the IdP kinds that pick a default.

use serde::{Deserialize, Serialize};

/// Most rules a mapping may have.
pub const MAX_RULES: usize = 100;

/// One rule: a SCIM attribute path → an app profile field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub scim: String,
    pub app: String,
}

/// A connection's mapping; JSON form: `{"rules": [{"scim": "userName", "app": "username"}, …]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub rules: Vec<Rule>,
}

/// The identity provider a connection serves; it picks the default mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdpKind {
    Okta,
    Entra,
    Onelogin,
    Jumpcloud,
    Generic,
}

impl IdpKind {
    pub const ALL: [IdpKind; 5] = [
        IdpKind::Okta,
        IdpKind::Entra,
        IdpKind::Onelogin,
        IdpKind::Jumpcloud,
        IdpKind::Generic,
    ];

    /// The kind named `s`, spelled as in the connection settings (`okta`, `entra`, …).
    pub fn parse(s: &str) -> Option<IdpKind> {
        IdpKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdpKind::Okta => "okta",
            IdpKind::Entra => "entra",
            IdpKind::Onelogin => "onelogin",
            IdpKind::Jumpcloud => "jumpcloud",
            IdpKind::Generic => "generic",
        }
    }
}
