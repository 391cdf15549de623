//! Time to revoke, per connection: the median and 95th percentile of `time_to_revoke_ms` over
//! the last [`WINDOW`] completed deprovisioning receipts.

use serde_json::{json, Value};

use crate::scim::ScimError;
use crate::service::store::{int, Store};

/// How many of the most recently completed receipts the statistics cover.
pub const WINDOW: i64 = 1000;

/// The `p`-th percentile (0 < `p` ≤ 100) of `sorted` (ascending) by the nearest-rank method:
/// the smallest value with at least `p`% of the values at or below it, i.e. the value of rank
/// ⌈p/100 × n⌉. `None` when there are no values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (usize::try_from(p).unwrap_or(100) * n)
        .div_ceil(100)
        .clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// `GET /deprovisionings/stats`: `{count, p50_ms, p95_ms, window}` over the last [`WINDOW`]
/// completed receipts (by `completed_at`), in milliseconds by the nearest-rank method
/// ([`percentile`]); `p50_ms` and `p95_ms` are `null` when `count` is 0.
pub fn stats(store: &dyn Store) -> Result<Value, ScimError> {
    let rows = store.query(
        "SELECT time_to_revoke_ms FROM deprovisioning WHERE completed_at IS NOT NULL
         ORDER BY completed_at DESC, seq DESC LIMIT ?",
        &[WINDOW.into()],
    )?;
    let mut values = rows
        .iter()
        .map(|row| int(row, 0))
        .collect::<Result<Vec<_>, _>>()?;
    values.sort_unstable();
    Ok(json!({
        "count": values.len(),
        "p50_ms": percentile(&values, 50),
        "p95_ms": percentile(&values, 95),
        "window": WINDOW,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 95), Some(7));
        let hundred: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50), Some(50));
        assert_eq!(percentile(&hundred, 95), Some(95));
        assert_eq!(percentile(&hundred, 100), Some(100));
        // Rank ⌈0.5 × 4⌉ = 2 and ⌈0.95 × 4⌉ = 4.
        assert_eq!(percentile(&[10, 20, 30, 40], 50), Some(20));
        assert_eq!(percentile(&[10, 20, 30, 40], 95), Some(40));
        // Rank ⌈0.95 × 20⌉ = 19.
        let twenty: Vec<i64> = (1..=20).map(|i| i * 10).collect();
        assert_eq!(percentile(&twenty, 95), Some(190));
    }
}
