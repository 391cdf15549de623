//! [`Mapping::parse`]: the admin's JSON checked rule by rule, every problem collected so the
//! admin fixes them in one go.

use std::collections::HashMap;

use serde_json::Value;

use super::app_field::{AppField, FieldKind};
use super::rule::{Mapping, Rule, MAX_RULES};
use super::scim_path::ScimPath;
use crate::scim::schema::AttrType;
use crate::scim::ScimError;

pub(super) fn parse(json: &Value) -> Result<Mapping, ScimError> {
    let mut problems = Vec::new();
    let rules = read_rules(json, &mut problems);
    let mut targets: Vec<(usize, AppField)> = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let Some(rule) = rule else { continue };
        let scim = ScimPath::parse(&rule.scim);
        if let Err(scim_problems) = &scim {
            for p in scim_problems {
                problems.push(format!("rules[{index}].scim: {p}"));
            }
        }
        match AppField::parse(&rule.app) {
            Err(p) => problems.push(format!("rules[{index}].app: {p}")),
            Ok(field) => {
                if let Ok(scim) = &scim {
                    if let Some(p) = type_problem(scim, &field, &rule.scim) {
                        problems.push(format!("rules[{index}]: {p}"));
                    }
                }
                targets.push((index, field));
            }
        }
    }
    problems.extend(overlap_problems(&targets));
    if !problems.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "Invalid mapping: {}.",
            problems.join("; ")
        )));
    }
    Ok(Mapping {
        rules: rules.into_iter().flatten().collect(),
    })
}

/// The rules of `{"rules": [{"scim": …, "app": …}, …]}`; `None` for a rule that is not
/// well-formed, with its problem recorded.
fn read_rules(json: &Value, problems: &mut Vec<String>) -> Vec<Option<Rule>> {
    let Some(object) = json.as_object() else {
        problems.push("the mapping must be a JSON object {\"rules\": [...]}".into());
        return Vec::new();
    };
    for key in object.keys().filter(|k| *k != "rules") {
        problems.push(format!("unknown member '{key}' (only 'rules' is allowed)"));
    }
    let items = match object.get("rules") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push("'rules' must be an array".into());
            return Vec::new();
        }
        None => {
            problems.push("'rules' is missing".into());
            return Vec::new();
        }
    };
    if items.len() > MAX_RULES {
        problems.push(format!(
            "{} rules is too many; at most {MAX_RULES} are allowed",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| read_rule(index, item, problems))
        .collect()
}

fn read_rule(index: usize, item: &Value, problems: &mut Vec<String>) -> Option<Rule> {
    let Some(object) = item.as_object() else {
        problems.push(format!(
            "rules[{index}]: must be an object {{\"scim\": …, \"app\": …}}"
        ));
        return None;
    };
    for key in object.keys().filter(|k| *k != "scim" && *k != "app") {
        problems.push(format!(
            "rules[{index}]: unknown member '{key}' (only 'scim' and 'app' are allowed)"
        ));
    }
    let mut side = |name: &str| match object.get(name) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(format!("rules[{index}].{name}: must be a string"));
            None
        }
        None => {
            problems.push(format!("rules[{index}].{name}: is missing"));
            None
        }
    };
    let scim = side("scim");
    let app = side("app");
    Some(Rule {
        scim: scim?,
        app: app?,
    })
}

/// Whether what the SCIM path reads fits the app field.
fn type_problem(scim: &ScimPath, field: &AppField, text: &str) -> Option<String> {
    let leaf = scim.leaf();
    let app = field.dotted();
    match field.kind() {
        FieldKind::Any => None,
        FieldKind::Text => (!matches!(leaf.ty, AttrType::String | AttrType::Reference)).then(|| {
            format!(
                "type mismatch: '{app}' needs a string SCIM attribute, but '{text}' is {}",
                type_name(leaf.ty)
            )
        }),
        FieldKind::Blocked if leaf.ty != AttrType::Boolean => Some(format!(
            "type mismatch: 'blocked' needs a boolean SCIM attribute ('active'), but '{text}' is {}",
            type_name(leaf.ty)
        )),
        FieldKind::Blocked => (!scim.is_active()).then(|| {
            format!(
                "'blocked' is the inverse of 'active' and can only be mapped from 'active', not \
                 '{text}'"
            )
        }),
    }
}

fn type_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean",
        AttrType::Decimal => "a decimal",
        AttrType::Integer => "an integer",
        AttrType::DateTime => "a dateTime",
        AttrType::Reference => "a reference",
        AttrType::Complex => "a complex value",
        AttrType::Binary => "binary",
    }
}

/// Two rules may not write the same field, nor one a field inside another's
/// (`app_metadata.a` and `app_metadata.a.b`).
fn overlap_problems(targets: &[(usize, AppField)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut first: HashMap<&[String], usize> = HashMap::new();
    for (index, field) in targets {
        match first.get(field.segments.as_slice()) {
            Some(earlier) => problems.push(format!(
                "rules[{index}].app: duplicate target '{}', already mapped by rules[{earlier}]",
                field.dotted()
            )),
            None => {
                first.insert(field.segments.as_slice(), *index);
            }
        }
    }
    for (index, field) in targets {
        // Proper prefixes below the root: `app_metadata.a` for `app_metadata.a.b`.
        for len in 2..field.segments.len() {
            let prefix = field.segments.get(..len).unwrap_or_default();
            if let Some(outer) = first.get(prefix) {
                problems.push(format!(
                    "rules[{index}].app: '{}' is inside '{}', the target of rules[{outer}]",
                    field.dotted(),
                    prefix.join(".")
                ));
            }
        }
    }
    problems
}
