//! One value against one filter value, as SQL that is never NULL: the predicates the
//! translator in [`super`] combines, with the evaluator's type, case and dateTime rules.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::scim::filter::{CompValue, CompareOp};
use crate::scim::schema::{AttrType, Attribute};
use crate::service::store::SqlValue;

/// Part of a condition: SQL text and the values of its placeholders, in order.
pub(super) struct Cond {
    pub(super) sql: String,
    pub(super) params: Vec<SqlValue>,
}

impl Cond {
    pub(super) fn constant(holds: bool) -> Cond {
        Cond::sql(if holds { "1" } else { "0" })
    }

    pub(super) fn sql(sql: impl Into<String>) -> Cond {
        Cond {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    pub(super) fn with(sql: String, params: Vec<SqlValue>) -> Cond {
        Cond { sql, params }
    }

    pub(super) fn join(self, joiner: &str, other: Cond) -> Cond {
        let mut params = self.params;
        params.extend(other.params);
        Cond::with(format!("({} {joiner} {})", self.sql, other.sql), params)
    }

    pub(super) fn negate(self) -> Cond {
        Cond::with(format!("(NOT {})", self.sql), self.params)
    }

    /// `self` behind an optional guard, which has no placeholders.
    pub(super) fn guarded(self, guard: Option<String>) -> Cond {
        match guard {
            Some(guard) => Cond::sql(guard).join("AND", self),
            None => self,
        }
    }
}

/// One value a filter looks at, as SQL expressions. Each expression is NULL when the value is
/// absent; no predicate built on it is ever NULL, so `NOT` stays the evaluator's negation.
#[derive(Clone)]
pub(super) struct Scalar {
    pub(super) value: String,
    /// Its JSON type (`'text'`, `'true'`, `'object'`, …); `None` for a text column.
    pub(super) json_type: Option<String>,
    /// A column holding `value` folded by Rust's `to_lowercase`.
    pub(super) folded: Option<String>,
    /// A NOT NULL column.
    pub(super) required: bool,
    /// A stored timestamp, `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
    pub(super) timestamp: bool,
    /// Of an integer or decimal attribute.
    pub(super) numeric: bool,
}

impl Scalar {
    pub(super) fn column(value: String, required: bool) -> Scalar {
        Scalar {
            value,
            json_type: None,
            folded: None,
            required,
            timestamp: false,
            numeric: false,
        }
    }

    pub(super) fn json(value: String, json_type: String, attr: &Attribute) -> Scalar {
        Scalar {
            value,
            json_type: Some(json_type),
            folded: None,
            required: false,
            timestamp: false,
            numeric: matches!(attr.ty, AttrType::Integer | AttrType::Decimal),
        }
    }

    /// The guard under which `value` is a string.
    pub(super) fn text_guard(&self) -> Option<String> {
        match (&self.json_type, self.required) {
            (Some(ty), _) => Some(format!("{ty} IS 'text'")),
            (None, true) => None,
            (None, false) => Some(format!("{} IS NOT NULL", self.value)),
        }
    }

    /// Not absent (the evaluator's "not null").
    pub(super) fn exists(&self) -> String {
        match (&self.json_type, self.required) {
            (Some(ty), _) => format!("coalesce({ty}, 'null') <> 'null'"),
            (None, true) => "1".to_owned(),
            (None, false) => format!("{} IS NOT NULL", self.value),
        }
    }

    /// `pr`: a non-empty value (RFC 7644 §3.4.2.2).
    pub(super) fn present(&self) -> String {
        let value = &self.value;
        match &self.json_type {
            // JSON text of an array or object is minimal: `[]` and `{}` when empty.
            Some(ty) => format!(
                "(CASE {ty} WHEN 'text' THEN {value} <> '' WHEN 'array' THEN {value} <> '[]' \
                 WHEN 'object' THEN {value} <> '{{}}' WHEN 'null' THEN 0 \
                 ELSE {ty} IS NOT NULL END)"
            ),
            None => format!("coalesce({value} <> '', 0)"),
        }
    }
}

/// Whether `op` holds between one value and the filter's value; types must match.
pub(super) fn holds(
    scalar: &Scalar,
    op: CompareOp,
    value: &CompValue,
    exact: bool,
) -> Option<Cond> {
    match value {
        CompValue::Str(s) => string_holds(scalar, op, s, exact),
        // No attribute of the User or Group schemas is a number; an integer or decimal one
        // would need Rust's mixed integer/float comparison, which SQLite does not share.
        CompValue::Num(_) if scalar.numeric => None,
        CompValue::Num(_) | CompValue::Null => Some(Cond::constant(false)),
        CompValue::Bool(b) => Some(match (op, &scalar.json_type) {
            (CompareOp::Eq, Some(ty)) => {
                Cond::sql(format!("{ty} IS '{}'", if *b { "true" } else { "false" }))
            }
            _ => Cond::constant(false),
        }),
    }
}

fn string_holds(scalar: &Scalar, op: CompareOp, value: &str, exact: bool) -> Option<Cond> {
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let cond = if !substring && date_time(value).is_some() {
        // The evaluator compares two dateTimes as instants; only the timestamp columns are
        // known to hold dateTimes (and nothing else).
        if !scalar.timestamp {
            return None;
        }
        timestamp_holds(&scalar.value, op, value)?
    } else {
        let (expr, value) = if exact {
            (scalar.value.clone(), value.to_owned())
        } else {
            let folded = value.to_lowercase();
            match &scalar.folded {
                Some(column) => (column.clone(), folded),
                None if folded.is_ascii() => (fold(&scalar.value), folded),
                None => return None,
            }
        };
        text_holds(&expr, op, value)
    };
    Some(cond.guarded(scalar.text_guard()))
}

/// SQLite's ASCII `lower()`, made to agree with Rust's `to_lowercase` wherever the folded
/// filter value is ASCII: KELVIN SIGN and `İ` are the only non-ASCII characters whose
/// lowercase contains ASCII (`k`, `i` + U+0307); every other non-ASCII character stays
/// non-ASCII either way, so ASCII runs, and any match or order against an ASCII value, agree.
fn fold(expr: &str) -> String {
    format!("lower(replace(replace({expr}, '\u{212A}', 'k'), '\u{130}', 'i\u{307}'))")
}

/// A string comparison, byte-wise as Rust compares `str`.
fn text_holds(expr: &str, op: CompareOp, value: String) -> Cond {
    let compare =
        |sql_op: &str| Cond::with(format!("{expr} {sql_op} ?"), vec![value.clone().into()]);
    match op {
        // Every string contains, starts and ends with "".
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew if value.is_empty() => Cond::constant(true),
        // `instr` rather than LIKE: no wildcard in the value means anything.
        CompareOp::Co => Cond::with(format!("instr({expr}, ?) > 0"), vec![value.into()]),
        CompareOp::Sw => Cond::with(format!("instr({expr}, ?) = 1"), vec![value.into()]),
        // Byte-wise, as `ends_with`; `substr` of an empty blob is NULL, hence `coalesce`.
        CompareOp::Ew => {
            let bytes = i64::try_from(value.len()).unwrap_or(i64::MAX);
            Cond::with(
                format!("coalesce(substr(CAST({expr} AS BLOB), -?) = CAST(? AS BLOB), 0)"),
                vec![bytes.into(), value.into()],
            )
        }
        CompareOp::Eq => compare("="),
        CompareOp::Ne => compare("<>"),
        CompareOp::Gt => compare(">"),
        CompareOp::Ge => compare(">="),
        CompareOp::Lt => compare("<"),
        CompareOp::Le => compare("<="),
    }
}

/// A timestamp column against a dateTime, as instants: the column's fixed-width UTC text orders
/// as its instants do, so the value is brought to that form. A value finer than a millisecond
/// lies strictly between two stored instants.
fn timestamp_holds(column: &str, op: CompareOp, value: &str) -> Option<Cond> {
    let (floor, finer) = stored_form(value)?;
    let compare =
        |sql_op: &str| Cond::with(format!("{column} {sql_op} ?"), vec![floor.clone().into()]);
    Some(match (op, finer) {
        (CompareOp::Eq, false) => compare("="),
        (CompareOp::Eq, true) => Cond::constant(false),
        (CompareOp::Ne, false) => compare("<>"),
        (CompareOp::Ne, true) => Cond::constant(true),
        (CompareOp::Gt, _) | (CompareOp::Ge, true) => compare(">"),
        (CompareOp::Ge, false) => compare(">="),
        (CompareOp::Lt, false) => compare("<"),
        (CompareOp::Lt, true) | (CompareOp::Le, _) => compare("<="),
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => return None,
    })
}

/// `value` as stored timestamps are written (`YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC), truncated to the
/// millisecond, and whether it had a finer part; `None` outside the years that form can hold.
pub(super) fn stored_form(value: &str) -> Option<(String, bool)> {
    let nanos = date_time(value)?.unix_timestamp_nanos();
    let finer = nanos.rem_euclid(1_000_000) != 0;
    let utc =
        OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(1_000_000)).ok()?;
    if !(0..=9999).contains(&utc.year()) {
        return None;
    }
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    Some((utc.format(&format).ok()?, finer))
}

/// An RFC 3339 dateTime (RFC 7643 §2.3.5), recognised exactly as the evaluator does.
fn date_time(s: &str) -> Option<OffsetDateTime> {
    let bytes = s.as_bytes();
    let shaped = bytes.len() >= 20
        && bytes.get(4) == Some(&b'-')
        && bytes.get(10).is_some_and(|b| b.eq_ignore_ascii_case(&b't'));
    if !shaped {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}
