//! Fixtures named after the RFC section or the IdP and scenario they reproduce.

use serde_json::{json, Value};

use super::*;
use crate::scim::error::ScimType;
use crate::service::connection::settings::IDP_KINDS;

mod import;
mod profile;
mod validate;

pub(super) const ENTERPRISE_URN: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// RFC 7643 §8.3: the full enterprise User.
pub(super) fn rfc7643_8_3_enterprise_user() -> Value {
    serde_json::from_str(include_str!("testdata/rfc7643_8_3_enterprise_user.json"))
        .expect("the fixture is valid JSON")
}

/// `{"rules": [...]}` from `(scim, app)` pairs.
pub(super) fn rules(pairs: &[(&str, &str)]) -> Value {
    let rules: Vec<Value> = pairs
        .iter()
        .map(|(scim, app)| json!({"scim": scim, "app": app}))
        .collect();
    json!({ "rules": rules })
}

pub(super) fn mapping(pairs: &[(&str, &str)]) -> Mapping {
    Mapping::parse(&rules(pairs)).expect("valid mapping")
}

/// The detail of the 400 invalidValue for `json`, or what happened instead.
pub(super) fn invalid(json: Value) -> String {
    match Mapping::parse(&json) {
        Err(e) if e.status == 400 && e.scim_type == Some(ScimType::InvalidValue) => e.detail,
        other => format!("expected 400 invalidValue, got {other:?}"),
    }
}

pub(super) fn assert_invalid(pairs: &[(&str, &str)], expected: &[&str]) {
    let detail = invalid(rules(pairs));
    for part in expected {
        assert!(detail.contains(part), "{detail:?} lacks {part:?}");
    }
}

#[test]
fn idp_kind_names_are_the_settings_names() {
    let names: Vec<&str> = IdpKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, IDP_KINDS);
    for kind in IdpKind::ALL {
        assert_eq!(IdpKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
    }
    assert_eq!(IdpKind::parse("azure"), None);
    assert_eq!(IdpKind::parse(""), None);
}

#[test]
fn default_mapping_for_every_idp_kind_validates() {
    for kind in IdpKind::ALL {
        let default = Mapping::default_for(kind);
        let json = serde_json::to_value(&default).expect("serializes");
        assert!(json["rules"].is_array(), "{kind:?}: {json}");
        assert_eq!(Mapping::parse(&json), Ok(default), "{kind:?}");
    }
}

#[test]
fn mapping_json_form_is_rules_of_scim_and_app() {
    let json = json!({"rules": [{"scim": "userName", "app": "username"}]});
    let parsed = Mapping::parse(&json);
    assert_eq!(
        parsed,
        Ok(Mapping {
            rules: vec![Rule {
                scim: "userName".into(),
                app: "username".into()
            }]
        })
    );
    assert_eq!(serde_json::to_value(parsed.ok()).ok(), Some(json));
}
