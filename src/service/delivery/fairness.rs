//! Per-tenant fairness of the bulk lane. Each connection's object counts the webhook deliveries
//! it sent in the last [`WINDOW_MS`]; within [`FAIR_SHARE`] they go to `EVENTS`, past it to
//! `BACKFILL`. A large sync (or any connection sending faster than its share) therefore queues
//! behind itself and other heavy senders only: the first attempts of every other connection
//! keep an `EVENTS` queue that holds at most about one share per sending connection, and reach
//! their endpoints within seconds whatever the backlog. Both queues have the same consumer;
//! nothing is dropped or delayed on purpose, only ordered.
//!
//! Pure: the object passes its clock.

use std::collections::VecDeque;

use super::message::Lane;

/// The window deliveries are counted over (ms).
pub const WINDOW_MS: f64 = 10_000.0;
/// Webhook deliveries a connection may send to `EVENTS` per window (a sustained 20/s).
pub const FAIR_SHARE: usize = 200;

/// One connection's recent bulk deliveries.
#[derive(Debug, Default)]
pub struct FairShare {
    /// `(sent at ms, deliveries)`, oldest first, within the window.
    sent: VecDeque<(f64, usize)>,
    total: usize,
}

impl FairShare {
    /// The lane for `count` webhook deliveries sent at `now_ms`, counted as sent.
    pub fn lane(&mut self, now_ms: f64, count: usize) -> Lane {
        while let Some(&(at, n)) = self.sent.front() {
            if now_ms - at < WINDOW_MS {
                break;
            }
            self.sent.pop_front();
            self.total -= n;
        }
        let lane = if self.total + count <= FAIR_SHARE {
            Lane::Bulk
        } else {
            Lane::Backfill
        };
        if count > 0 {
            self.sent.push_back((now_ms, count));
            self.total += count;
        }
        lane
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_within_its_share_stays_on_events_and_past_it_moves_to_backfill() {
        let mut f = FairShare::default();
        let t0 = 1_000_000.0;
        assert_eq!(f.lane(t0, 150), Lane::Bulk);
        assert_eq!(f.lane(t0 + 1.0, 50), Lane::Bulk, "exactly the share");
        assert_eq!(f.lane(t0 + 2.0, 1), Lane::Backfill);
        // Still heavy: everything it sent counts, wherever it went.
        assert_eq!(f.lane(t0 + WINDOW_MS - 1.0, 1), Lane::Backfill);
        // The first sends left the window, the later ones not yet: 2 counted + 150 fits.
        assert_eq!(f.lane(t0 + WINDOW_MS + 2.0, 150), Lane::Bulk);
        // A quiet connection is back within its share once its window is empty.
        assert_eq!(f.lane(t0 + 3.0 * WINDOW_MS, FAIR_SHARE), Lane::Bulk);
        // One send larger than the share goes to backfill whole.
        let mut g = FairShare::default();
        assert_eq!(g.lane(t0, FAIR_SHARE + 1), Lane::Backfill);
    }
}
