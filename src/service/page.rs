//! Cursor paging of the admin and app lists (connections, events, webhooks, clients, dead
//! letters, the app's users and groups): `limit` and `after` (the id of the last item of the
//! previous page), in the table's `seq` order.

use super::store::{int, Store};
use crate::scim::ScimError;

/// What a client asked of one page, as sent (`?limit=&after=`); checked by [`cursor`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageRequest<'a> {
    pub limit: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// A cursor-paged read of `table` in `seq` order: `limit` (1 to `max`, `default` when absent)
/// and `after` (the id of the last item of the previous page). Returns `(limit, after_seq)`.
pub fn cursor(
    store: &dyn Store,
    table: &str,
    page: PageRequest,
    (default, max): (i64, i64),
) -> Result<(i64, i64), ScimError> {
    let PageRequest { limit, after } = page;
    let limit = match limit {
        None => default,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ScimError::invalid_value(format!("limit must be an integer from 1 to {max}."))
            })?,
    };
    let after_seq = match after {
        None => 0,
        Some(id) => {
            let row = store
                .query_one(
                    &format!("SELECT seq FROM {table} WHERE id = ?"),
                    &[id.into()],
                )?
                .ok_or_else(|| ScimError::invalid_value(format!("Unknown cursor '{id}'.")))?;
            int(&row, 0)?
        }
    };
    Ok((limit, after_seq))
}
