//! Listing a resource table (RFC 7644 §3.4.2): filter, sort, page. Shared by Users and Groups.
//!
//! Filters that [`filter_sql`] can translate run in SQLite with bound parameters (`eq` on
//! `userName`, `externalId` or `displayName`, what IdPs send to match resources, stays an index
//! lookup); any other filter is evaluated on the rendered resources in creation order, so every
//! filter of the grammar is honoured and none is silently ignored.

use serde_json::Value;

use super::filter_sql::{self, SqlTarget};
use crate::scim::filter::{self, AttrPath, Filter};
use crate::scim::sort::{self, Sort};
use crate::scim::ScimError;
use crate::service::store::{int, Row, Store};

/// The largest integer bound into SQL: integers travel to the Durable Object's SQLite as JS
/// numbers, exact only up to 2^53 - 1 (beyond it the platform answers `SQLITE_MISMATCH`).
pub const MAX_SQL_INTEGER: i64 = (1 << 53) - 1;

/// How one resource table is queried.
pub struct Table {
    pub name: &'static str,
    /// How filters on this table translate to SQL.
    pub sql_target: &'static SqlTarget,
    /// The columns `load` reads, in order.
    pub columns: &'static str,
}

/// Paging, filtering and sorting of a list request, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: i64,
    pub count: i64,
    pub sort: Option<Sort>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total_results: i64,
    pub start_index: i64,
    pub items: Vec<T>,
}

/// Case folding for case-insensitive uniqueness and lookups.
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

/// Whether a row of `table` other than `except_id` already holds `value` in `column` (both
/// names are the service's own constants, never client input).
pub fn taken(
    store: &dyn Store,
    table: &str,
    column: &str,
    value: &str,
    except_id: &str,
) -> Result<bool, ScimError> {
    let row = store.query_one(
        &format!("SELECT 1 FROM {table} WHERE {column} = ? AND id != ?"),
        &[value.into(), except_id.into()],
    )?;
    Ok(row.is_some())
}

/// Whether the row `id` of `table` already holds `norm` in `column` (a name's uniqueness key it
/// keeps); false for no such row (`id` empty: a new resource).
pub fn has_norm(
    store: &dyn Store,
    table: &str,
    column: &str,
    id: &str,
    norm: &str,
) -> Result<bool, ScimError> {
    if id.is_empty() {
        return Ok(false);
    }
    let row = store.query_one(
        &format!("SELECT 1 FROM {table} WHERE id = ? AND {column} = ?"),
        &[id.into(), norm.into()],
    )?;
    Ok(row.is_some())
}

/// Lists `table`: `load` turns a row into an item, `visible` renders an item as clients see it
/// (what filters and sorts look at).
pub fn list<T>(
    store: &dyn Store,
    table: &Table,
    query: &ListQuery,
    load: &dyn Fn(&Row) -> Result<T, ScimError>,
    visible: &dyn Fn(&T) -> Result<Value, ScimError>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<Page<T>, ScimError> {
    // Bound within what the Durable Object's SQL takes exactly (a JS number): a page past the
    // end is empty whatever `startIndex` said (RFC 7644 §3.4.2.4).
    let offset = (query.start_index - 1).clamp(0, MAX_SQL_INTEGER);
    let indexed = match &query.filter {
        None => Some(("1 = 1".to_owned(), Vec::new())),
        Some(f) => filter_sql::to_sql(f, table.sql_target),
    };
    let (name, columns) = (table.name, table.columns);
    if let (Some((condition, params)), None) = (&indexed, &query.sort) {
        let total = store
            .query_one(
                &format!("SELECT count(*) FROM {name} WHERE {condition}"),
                params,
            )?
            .map(|row| int(&row, 0))
            .transpose()?
            .unwrap_or(0);
        let mut page_params = params.clone();
        page_params.push(query.count.clamp(0, MAX_SQL_INTEGER).into());
        page_params.push(offset.into());
        let rows = store.query(
            &format!(
                "SELECT {columns} FROM {name} WHERE {condition} ORDER BY seq LIMIT ? OFFSET ?"
            ),
            &page_params,
        )?;
        let items = rows.iter().map(load).collect::<Result<_, _>>()?;
        return Ok(Page {
            total_results: total,
            start_index: query.start_index,
            items,
        });
    }
    // Evaluate in memory: every candidate in creation order, keeping only what the page needs
    // (all matches when sorting).
    let (condition, params, evaluate) = match indexed {
        Some((condition, params)) => (condition, params, false),
        None => ("1 = 1".to_owned(), Vec::new(), true),
    };
    let rows = store.query(
        &format!("SELECT {columns} FROM {name} WHERE {condition} ORDER BY seq"),
        &params,
    )?;
    let mut total = 0i64;
    let mut matching = Vec::new();
    for row in &rows {
        let item = load(row)?;
        let needs_view = evaluate || query.sort.is_some();
        let view = if needs_view {
            Some(visible(&item)?)
        } else {
            None
        };
        let keep = !evaluate
            || match (&query.filter, &view) {
                (Some(f), Some(v)) => filter::matches(f, v, case_exact),
                _ => true,
            };
        if !keep {
            continue;
        }
        if let Some(order) = &query.sort {
            let key = view
                .as_ref()
                .map(|v| sort::key_at(v, &order.path, case_exact(&order.path)))
                .unwrap_or(sort::SortKey::Missing);
            matching.push((key, item));
        } else if total >= offset && (matching.len() as i64) < query.count {
            matching.push((sort::SortKey::Missing, item));
        }
        total += 1;
    }
    if let Some(order) = &query.sort {
        // A stable sort: ties keep creation order.
        matching.sort_by(|(a, _), (b, _)| sort::compare(a, b, order.descending));
        matching = matching
            .into_iter()
            .skip(offset as usize)
            .take(query.count.max(0) as usize)
            .collect();
    }
    Ok(Page {
        total_results: total,
        start_index: query.start_index,
        items: matching.into_iter().map(|(_, item)| item).collect(),
    })
}
