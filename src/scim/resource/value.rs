//! One attribute value checked against its definition (RFC 7643 §2.3, §2.4).
//!
//! Strict about types, forgiving about IdP habits: `null` and empty arrays mean "absent",
//! `"True"`/`"False"` strings become booleans (Entra ID), a bare string for a single-valued
//! complex attribute with a `value` becomes that value (Entra ID's `manager`), a single value
//! given for a multi-valued attribute becomes a one-element array.

use std::borrow::Cow;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, Attribute, Mutability, ResourceKind, Returned};

/// Longest string or reference value accepted, in characters (hardening: a 1 MiB `userName` made
/// every list that shows it 1 MiB larger). Binary values (base64 certificates) may be longer.
pub const MAX_STRING_CHARS: usize = 4096;
/// Longest binary (base64) value accepted, in characters.
pub const MAX_BINARY_CHARS: usize = 65_536;

/// How much of a client-sent string an error detail repeats.
const ECHO_CHARS: usize = 128;

/// Normalises `value` as attribute `attr` (named `path` in errors) and stores it in `out` under
/// its canonical name. Nothing is stored when the value means "absent" or is not kept.
///
/// The same attribute may reach `out` twice (`userName` and `USERNAME`, or an extension
/// attribute nested and fully qualified); that is accepted only when both values agree.
pub(super) fn insert(
    kind: ResourceKind,
    out: &mut Map<String, Value>,
    attr: &'static Attribute,
    value: &Value,
    path: &str,
) -> Result<(), ScimError> {
    let Some(value) = normalize_attribute(kind, attr, value, path)? else {
        return Ok(());
    };
    match out.get(attr.name) {
        Some(existing) if *existing != value => Err(ScimError::invalid_syntax(format!(
            "Attribute '{path}' is given more than once with different values \
             (attribute names are case-insensitive)."
        ))),
        Some(_) => Ok(()),
        None => {
            out.insert(attr.name.to_owned(), value);
            Ok(())
        }
    }
}

/// The normalised value of `attr`, or `None` when it is absent or not kept:
/// readOnly attributes are ignored (RFC 7644 §3.3) and writeOnly ones are validated, then
/// dropped, because this service stores no credentials.
pub(super) fn normalize_attribute(
    kind: ResourceKind,
    attr: &'static Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    match attr.mutability {
        Mutability::ReadOnly => Ok(None),
        Mutability::WriteOnly => normalize_value(kind, attr, value, path).map(|_| None),
        Mutability::ReadWrite | Mutability::Immutable => normalize_value(kind, attr, value, path),
    }
}

fn normalize_value(
    kind: ResourceKind,
    attr: &'static Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if !attr.multi_valued {
        return normalize_single(kind, attr, value, path);
    }
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(item) = normalize_single(kind, attr, item, path)? {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    // RFC 7643 §2.4: the primary attribute value `true` MUST appear no more than once.
    if attr.sub_attribute("primary").is_some() {
        let primaries = out
            .iter()
            .filter(|item| item.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "Attribute '{path}' has {primaries} values with \"primary\": true; at most one \
                 is allowed (RFC 7643 §2.4)."
            )));
        }
    }
    Ok(Some(Value::Array(out)))
}

/// The longest value of a string-typed attribute.
fn max_chars(ty: AttrType) -> usize {
    match ty {
        AttrType::Binary => MAX_BINARY_CHARS,
        _ => MAX_STRING_CHARS,
    }
}

fn normalize_single(
    kind: ResourceKind,
    attr: &'static Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    match (attr.ty, value) {
        (_, Value::Null) => Ok(None),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s))
            if s.len() > max_chars(attr.ty) && s.chars().count() > max_chars(attr.ty) =>
        {
            Err(ScimError::invalid_value(format!(
                "Attribute '{path}' is longer than {} characters.",
                max_chars(attr.ty)
            )))
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_))
        | (AttrType::Boolean, Value::Bool(_))
        | (AttrType::Decimal, Value::Number(_)) => Ok(Some(value.clone())),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            Ok(Some(value.clone()))
        }
        (AttrType::DateTime, Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
            Ok(Some(value.clone()))
        }
        (AttrType::Complex, Value::Object(members)) => normalize_complex(kind, attr, members, path),
        // Entra ID sends the enterprise `manager` as the manager's id alone, `"manager": "id"`:
        // a string for a single-valued complex attribute with a `value` is that `value`.
        (AttrType::Complex, Value::String(_))
            if !attr.multi_valued && attr.sub_attribute("value").is_some() =>
        {
            let members = Map::from_iter([("value".to_owned(), value.clone())]);
            normalize_complex(kind, attr, &members, path)
        }
        _ => Err(mismatch(attr, value, path)),
    }
}

fn normalize_complex(
    kind: ResourceKind,
    attr: &'static Attribute,
    members: &Map<String, Value>,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let mut out = Map::new();
    for (key, value) in members {
        let sub = attr
            .sub_attribute(key)
            .ok_or_else(|| unknown(kind, &format!("{path}.{}", clip(key))))?;
        insert(kind, &mut out, sub, value, &format!("{path}.{}", sub.name))?;
    }
    if out.is_empty() {
        return Ok(None);
    }
    let missing = attr
        .sub_attributes
        .iter()
        .find(|sub| sub.required && out.get(sub.name).is_none_or(is_blank));
    if let Some(sub) = missing {
        let detail = if attr.multi_valued {
            format!(
                "Attribute '{path}.{}' is required in every value of '{path}'.",
                sub.name
            )
        } else {
            format!(
                "Attribute '{path}.{}' is required when '{path}' is given.",
                sub.name
            )
        };
        return Err(ScimError::invalid_value(detail));
    }
    Ok(Some(Value::Object(out)))
}

/// An empty or all-whitespace string: not a value for a required attribute.
pub(super) fn is_blank(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.trim().is_empty())
}

/// 400 invalidValue for a member that no schema of `kind` defines; `path` is already clipped.
pub(super) fn unknown(kind: ResourceKind, path: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "Unknown attribute '{path}' for resource type {}.",
        kind.name()
    ))
}

fn mismatch(attr: &Attribute, value: &Value, path: &str) -> ScimError {
    // Never repeat a credential back, not even a malformed one.
    let secret = attr.returned == Returned::Never || attr.mutability == Mutability::WriteOnly;
    let got = describe(value, secret);
    let (one, many) = match attr.ty {
        AttrType::String => ("a string", "strings"),
        AttrType::Boolean => ("a boolean", "booleans"),
        AttrType::Decimal => ("a number", "numbers"),
        AttrType::Integer => ("an integer", "integers"),
        AttrType::DateTime => (
            "an RFC 3339 dateTime string such as \"2008-01-23T04:56:22Z\"",
            "RFC 3339 dateTime strings",
        ),
        AttrType::Reference => ("a reference (a URI string)", "references (URI strings)"),
        AttrType::Complex => (
            "a complex value (a JSON object)",
            "complex values (JSON objects)",
        ),
        AttrType::Binary => ("a base64-encoded string", "base64-encoded strings"),
    };
    let detail = if attr.multi_valued {
        // A lone value was wrapped into an array before this check, so `value` is one element.
        format!("Attribute '{path}' must hold {many}, got {got}.")
    } else {
        format!("Attribute '{path}' must be {one}, got {got}.")
    };
    ScimError::invalid_value(detail)
}

/// A short description of a client-sent value for an error detail; `secret` leaves the value out.
pub(super) fn describe(value: &Value, secret: bool) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        Value::Bool(_) if secret => "a boolean".into(),
        Value::Number(_) if secret => "a number".into(),
        Value::String(_) if secret => "a string".into(),
        Value::Bool(b) => format!("a boolean {b}"),
        Value::Number(n) => format!("a number {n}"),
        Value::String(s) => format!("a string {}", Value::String(clip(s).into_owned())),
    }
}

/// At most [`ECHO_CHARS`] characters of client input, for error details.
pub(super) fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(ECHO_CHARS) {
        Some((end, _)) => Cow::Owned(format!("{}…", s.get(..end).unwrap_or_default())),
        None => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    //! Each RFC 7643 §2.3 data type, including those no User or Group attribute uses
    //! (integer, decimal, dateTime), checked on synthetic attribute definitions.

    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::Uniqueness;

    const fn synthetic(name: &'static str, ty: AttrType) -> Attribute {
        Attribute {
            name,
            ty,
            multi_valued: false,
            description: "",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }

    static INTEGER: Attribute = synthetic("loginCount", AttrType::Integer);
    static DECIMAL: Attribute = synthetic("weight", AttrType::Decimal);
    static DATE_TIME: Attribute = synthetic("hireDate", AttrType::DateTime);
    static BINARY: Attribute = synthetic("badgePhoto", AttrType::Binary);
    static BOOLEAN: Attribute = synthetic("vip", AttrType::Boolean);

    fn check(
        attr: &'static Attribute,
        value: Value,
    ) -> Result<Option<Value>, (Option<ScimType>, String)> {
        normalize_attribute(ResourceKind::User, attr, &value, attr.name)
            .map_err(|e| (e.scim_type, e.detail))
    }

    fn rejected(attr: &'static Attribute, value: Value) -> String {
        match check(attr, value) {
            Err((Some(ScimType::InvalidValue), detail)) => detail,
            other => format!("not rejected as invalidValue: {other:?}"),
        }
    }

    #[test]
    fn rfc7643_2_3_8_integer_accepts_integers_only() {
        assert_eq!(check(&INTEGER, json!(42)), Ok(Some(json!(42))));
        assert_eq!(check(&INTEGER, json!(-7)), Ok(Some(json!(-7))));
        assert_eq!(
            rejected(&INTEGER, json!(4.5)),
            "Attribute 'loginCount' must be an integer, got a number 4.5."
        );
        assert_eq!(
            rejected(&INTEGER, json!("42")),
            "Attribute 'loginCount' must be an integer, got a string \"42\"."
        );
    }

    #[test]
    fn rfc7643_2_3_3_decimal_accepts_any_number() {
        assert_eq!(check(&DECIMAL, json!(4.5)), Ok(Some(json!(4.5))));
        assert_eq!(check(&DECIMAL, json!(4)), Ok(Some(json!(4))));
        assert_eq!(
            rejected(&DECIMAL, json!("4.5")),
            "Attribute 'weight' must be a number, got a string \"4.5\"."
        );
    }

    #[test]
    fn rfc7643_2_3_5_date_time_must_parse_as_rfc3339() {
        let ok = json!("2010-01-23T04:56:22Z");
        assert_eq!(check(&DATE_TIME, ok.clone()), Ok(Some(ok)));
        let offset = json!("2011-05-13T04:42:34.123+02:00");
        assert_eq!(check(&DATE_TIME, offset.clone()), Ok(Some(offset)));
        for bad in [
            json!("2010-01-23"),
            json!("yesterday"),
            json!("2010-13-40T99:00:00Z"),
        ] {
            assert!(rejected(&DATE_TIME, bad).contains("must be an RFC 3339 dateTime string"));
        }
        assert!(rejected(&DATE_TIME, json!(1264222582)).ends_with("got a number 1264222582."));
    }

    #[test]
    fn rfc7643_2_3_6_binary_must_be_a_string() {
        assert_eq!(
            check(&BINARY, json!("TUlJRA==")),
            Ok(Some(json!("TUlJRA==")))
        );
        assert_eq!(
            rejected(&BINARY, json!([1, 2])),
            "Attribute 'badgePhoto' must be a base64-encoded string, got an array."
        );
    }

    #[test]
    fn rfc7643_2_3_2_boolean_accepts_entra_strings_in_any_case() {
        assert_eq!(check(&BOOLEAN, json!("False")), Ok(Some(json!(false))));
        assert_eq!(check(&BOOLEAN, json!("TRUE")), Ok(Some(json!(true))));
        assert_eq!(check(&BOOLEAN, json!(true)), Ok(Some(json!(true))));
        assert_eq!(
            rejected(&BOOLEAN, json!(1)),
            "Attribute 'vip' must be a boolean, got a number 1."
        );
    }

    #[test]
    fn null_means_absent_for_every_type() {
        for attr in [&INTEGER, &DECIMAL, &DATE_TIME, &BINARY, &BOOLEAN] {
            assert_eq!(check(attr, Value::Null), Ok(None), "{}", attr.name);
        }
    }

    #[test]
    fn error_details_clip_long_client_strings() {
        let long = "x".repeat(10_000);
        let detail = rejected(&BOOLEAN, json!(long));
        assert!(detail.len() < 250, "{detail}");
        assert!(detail.contains('…'));
    }
}
