//! Reading a connection's request log: a page of entries, newest first, with filters; one entry
//! with its bodies; the summary (error rate, statuses, the dialect features this IdP uses).

use serde_json::{json, Map, Value};

use super::dialect;
use super::{MAX_ENTRIES, RETENTION_DAYS};
use crate::scim::ScimError;
use crate::service::store::{int, opt_text, text, Row, SqlValue, Store};

/// Largest page of the request log.
pub const MAX_PAGE: i64 = 200;
/// A page's size when the client names none.
pub const DEFAULT_PAGE: i64 = 50;

/// The methods a SCIM client uses, the values of the `method` filter.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// What a client asked of one page (`?after=&limit=&status=&method=&resource_id=`), as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery<'a> {
    pub after: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub status: Option<&'a str>,
    pub method: Option<&'a str>,
    pub resource_id: Option<&'a str>,
}

/// A checked [`PageQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checked {
    limit: i64,
    /// Statuses from and to (inclusive): one (`404`) or a class (`4xx`).
    status: Option<(i64, i64)>,
    method: Option<String>,
    resource_id: Option<String>,
}

fn invalid(message: String) -> ScimError {
    ScimError::invalid_value(message)
}

fn check(query: &PageQuery) -> Result<Checked, ScimError> {
    let limit = match query.limit {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| invalid(format!("limit must be an integer from 1 to {MAX_PAGE}.")))?,
    };
    let status = match query.status {
        None => None,
        Some(raw) => Some(status_range(raw).ok_or_else(|| {
            invalid(format!(
                "status must be an HTTP status (100 to 599) or a class such as 4xx, not '{raw}'."
            ))
        })?),
    };
    let method = match query.method {
        None => None,
        Some(raw) => {
            let upper = raw.to_ascii_uppercase();
            if !METHODS.contains(&upper.as_str()) {
                return Err(invalid(format!(
                    "method must be one of {}, not '{raw}'.",
                    METHODS.join(", ")
                )));
            }
            Some(upper)
        }
    };
    let resource_id = match query.resource_id {
        Some(id) if id.is_empty() || id.len() > 256 => {
            return Err(invalid("resource_id must be 1 to 256 characters.".into()))
        }
        other => other.map(str::to_owned),
    };
    Ok(Checked {
        limit,
        status,
        method,
        resource_id,
    })
}

fn status_range(raw: &str) -> Option<(i64, i64)> {
    let raw = raw.trim();
    if let Some(class) = raw
        .strip_suffix("xx")
        .or_else(|| raw.strip_suffix("XX"))
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| (1..=5).contains(c))
    {
        return Some((class * 100, class * 100 + 99));
    }
    raw.parse::<i64>()
        .ok()
        .filter(|s| (100..=599).contains(s) && raw.len() == 3)
        .map(|s| (s, s))
}

const COLUMNS: &str = "id, occurred_at, method, path, query, status, scim_type, detail, \
    duration_ms, actor, user_agent, resource_type, resource_id, explanation, dialect";

fn entry(row: &Row) -> Result<Map<String, Value>, ScimError> {
    let opt = |i: usize| opt_text(row, i).map_or(Value::Null, Value::String);
    let codes: Vec<String> = serde_json::from_str(&text(row, 14)?).unwrap_or_default();
    let features: Vec<Value> = codes
        .iter()
        .filter_map(|c| dialect::by_code(c))
        .map(|f| json!({"code": f.code, "description": f.description}))
        .collect();
    let value = json!({
        "request_id": text(row, 0)?,
        "occurred_at": text(row, 1)?,
        "method": text(row, 2)?,
        "path": text(row, 3)?,
        "query": opt(4),
        "status": int(row, 5)?,
        "scim_type": opt(6),
        "detail": opt(7),
        "duration_ms": int(row, 8)?,
        "actor": opt(9),
        "user_agent": opt(10),
        "resource_type": opt(11),
        "resource_id": opt(12),
        "explanation": text(row, 13)?,
        "dialect_features": features,
    });
    Ok(match value {
        Value::Object(map) => map,
        _ => Map::new(),
    })
}

/// `GET …/requests?after=&limit=&status=&method=&resource_id=`: newest first; `next_after` (the
/// request id of the page's last entry) continues. An unknown cursor is a 400.
pub fn list(store: &dyn Store, query: &PageQuery) -> Result<Value, ScimError> {
    let checked = check(query)?;
    let before = match query.after {
        None => i64::MAX,
        Some(id) => {
            let row = store
                .query_one(
                    "SELECT seq FROM request_log WHERE id = ? ORDER BY seq DESC LIMIT 1",
                    &[id.into()],
                )?
                .ok_or_else(|| invalid(format!("Unknown cursor '{id}'.")))?;
            int(&row, 0)?
        }
    };
    let mut sql = format!("SELECT {COLUMNS} FROM request_log WHERE seq < ?");
    let mut params: Vec<SqlValue> = vec![before.into()];
    if let Some((from, to)) = checked.status {
        sql.push_str(" AND status BETWEEN ? AND ?");
        params.extend([from.into(), to.into()]);
    }
    if let Some(method) = checked.method {
        sql.push_str(" AND method = ?");
        params.push(method.into());
    }
    if let Some(id) = checked.resource_id {
        sql.push_str(" AND resource_id = ?");
        params.push(id.into());
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    params.push((checked.limit + 1).into());
    let rows = store.query(&sql, &params)?;
    let more = rows.len() as i64 > checked.limit;
    let requests = rows
        .iter()
        .take(checked.limit as usize)
        .map(|r| entry(r).map(Value::Object))
        .collect::<Result<Vec<_>, ScimError>>()?;
    let next = if more {
        requests.last().map(|e| e["request_id"].clone())
    } else {
        None
    };
    Ok(json!({
        "requests": requests,
        "next_after": next,
        "retention": retention(),
    }))
}

fn retention() -> Value {
    json!({"max_entries": MAX_ENTRIES, "max_age_days": RETENTION_DAYS})
}

/// `GET …/requests/{request_id}`: the entry with its bodies; 404 when this connection's log
/// has none by that id (another connection's request is never here).
pub fn get(store: &dyn Store, request_id: &str) -> Result<Value, ScimError> {
    let row = store
        .query_one(
            &format!(
                "SELECT {COLUMNS}, request_body, response_body FROM request_log
                 WHERE id = ? ORDER BY seq DESC LIMIT 1"
            ),
            &[request_id.into()],
        )?
        .ok_or_else(|| ScimError::not_found(format!("No request {request_id} in this log.")))?;
    let mut map = entry(&row)?;
    for (i, key) in [(15, "request_body"), (16, "response_body")] {
        let body = opt_text(&row, i)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        map.insert(key.into(), body);
    }
    Ok(Value::Object(map))
}

/// `GET …/requests/summary`: over the retained log, from the counters.
pub fn summary(store: &dyn Store) -> Result<Value, ScimError> {
    let rows = store.query(
        "SELECT key, count, last_seen FROM request_log_counter ORDER BY count DESC, key",
        &[],
    )?;
    let mut requests = 0;
    let mut errors = 0;
    let mut by_status = Map::new();
    let mut features = Vec::new();
    for row in &rows {
        let key = text(row, 0)?;
        let n = int(row, 1)?;
        match key.split_once(':') {
            None if key == "requests" => requests = n,
            None if key == "errors" => errors = n,
            Some(("status", status)) => {
                by_status.insert(status.to_owned(), n.into());
            }
            Some(("dialect", code)) => {
                if let Some(f) = dialect::by_code(code) {
                    features.push(json!({
                        "code": f.code,
                        "description": f.description,
                        "count": n,
                        "last_seen": text(row, 2)?,
                    }));
                }
            }
            _ => {}
        }
    }
    let since = store
        .query_one(
            "SELECT occurred_at FROM request_log ORDER BY seq LIMIT 1",
            &[],
        )?
        .and_then(|r| opt_text(&r, 0));
    let error_rate = if requests > 0 {
        (errors as f64 / requests as f64 * 10_000.0).round() / 10_000.0
    } else {
        0.0
    };
    Ok(json!({
        "requests": requests,
        "errors": errors,
        "error_rate": error_rate,
        "by_status": by_status,
        "dialect_features": features,
        "since": since,
        "retention": retention(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_checked() {
        let ok = |q: PageQuery| check(&q).is_ok();
        assert!(ok(PageQuery::default()));
        assert!(ok(PageQuery {
            status: Some("400"),
            method: Some("patch"),
            ..Default::default()
        }));
        assert_eq!(status_range("4xx"), Some((400, 499)));
        assert_eq!(status_range("404"), Some((404, 404)));
        for bad in ["", "40", "4000", "600", "abc", "9xx", "0xx", "-404"] {
            assert_eq!(status_range(bad), None, "{bad}");
        }
        assert!(!ok(PageQuery {
            method: Some("TRACE"),
            ..Default::default()
        }));
        assert!(!ok(PageQuery {
            limit: Some("0"),
            ..Default::default()
        }));
        assert!(!ok(PageQuery {
            resource_id: Some(""),
            ..Default::default()
        }));
    }
}
