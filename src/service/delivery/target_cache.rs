//! What a queue consumer remembers between batches, so the registry is not on the path of
//! every delivery: the targets (URLs, secrets, formats) by subscription version, and what it last
//! told the registry of each target's successes. Pure; the edge keeps one of each per isolate.
//!
//! - [`TargetCache`] answers a batch from memory when every delivery's `subscription_version`
//!   is at most the cached version and the cache is younger than [`TTL_MS`]; otherwise the whole
//!   batch's targets are read again (one registry call). A change to any target bumps the
//!   version (service::delivery::subscription), and every delivery made after it carries the new
//!   one, so no delivery is sent with targets older than the ones it was made with.
//! - [`Health`] says which attempts the registry must hear of: every failure (it keeps the
//!   target's health, dead letters, and disables endpoints), the first success after a failure,
//!   and otherwise at most one success per target every [`SUCCESS_REPORT_MS`] (its
//!   `last_success_at`).

use std::collections::{BTreeMap, HashMap};

use super::fanout::{Targets, TargetsRequest};
use super::message::TargetKind;
use super::oidc_client::ClientTarget;
use super::webhook::WebhookTarget;

/// Longest time cached targets are used without reading them again (ms).
pub const TTL_MS: f64 = 60_000.0;
/// Shortest time between two reported successes of one target (ms).
pub const SUCCESS_REPORT_MS: f64 = 10_000.0;
/// Most targets kept; past it the cache starts again.
pub const MAX_ENTRIES: usize = 10_000;

/// Delivery targets as the registry answered at one subscription version; `None` remembers
/// that a target does not exist (deleted), so it is not asked for again.
#[derive(Debug, Default)]
pub struct TargetCache {
    version: i64,
    /// When the cached version was read (ms since the epoch); 0: never, or dropped.
    read_at: f64,
    webhooks: BTreeMap<String, Option<WebhookTarget>>,
    clients: BTreeMap<String, Option<ClientTarget>>,
}

impl TargetCache {
    fn knows(&self, kind: TargetKind, id: &str) -> bool {
        match kind {
            TargetKind::Webhook => self.webhooks.contains_key(id),
            TargetKind::Logout => self.clients.contains_key(id),
        }
    }

    /// The `/internal/targets` request for a batch of `(kind, target, subscription_version)`, or
    /// `None` when the cache answers every one at `now_ms`. When anything must be read, the whole
    /// batch is, so the batch is sent with targets of one version.
    pub fn missing(
        &self,
        wanted: &[(TargetKind, &str, i64)],
        now_ms: f64,
    ) -> Option<TargetsRequest> {
        let fresh = self.read_at > 0.0 && now_ms - self.read_at < TTL_MS;
        let answered = fresh
            && wanted
                .iter()
                .all(|(kind, id, version)| *version <= self.version && self.knows(*kind, id));
        if answered {
            return None;
        }
        let ids = |of: TargetKind| {
            let mut ids: Vec<String> = wanted
                .iter()
                .filter(|(kind, _, _)| *kind == of)
                .map(|(_, id, _)| (*id).to_owned())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        Some(TargetsRequest {
            webhooks: ids(TargetKind::Webhook),
            clients: ids(TargetKind::Logout),
        })
    }

    /// Keeps the registry's `answer` to `query`, read at `now_ms`. Another version (or an
    /// expired cache) starts the cache again from this answer.
    pub fn store(&mut self, query: &TargetsRequest, answer: Targets, now_ms: f64) {
        let expired = self.read_at <= 0.0 || now_ms - self.read_at >= TTL_MS;
        let full = self.webhooks.len() + self.clients.len() > MAX_ENTRIES;
        if answer.version != self.version || expired || full {
            self.webhooks.clear();
            self.clients.clear();
            self.version = answer.version;
            self.read_at = now_ms;
        }
        for id in &query.webhooks {
            self.webhooks
                .insert(id.clone(), answer.webhooks.get(id).cloned());
        }
        for id in &query.clients {
            self.clients
                .insert(id.clone(), answer.clients.get(id).cloned());
        }
    }

    /// The registry answered elsewhere at `version`: when it is newer, the cache is dropped.
    pub fn seen_version(&mut self, version: i64) {
        if version > self.version {
            self.read_at = 0.0;
        }
    }

    /// The cached targets of a batch (absent when the target does not exist).
    pub fn targets(&self, wanted: &[(TargetKind, &str, i64)]) -> Targets {
        let mut out = Targets {
            version: self.version,
            ..Targets::default()
        };
        for (kind, id, _) in wanted {
            match kind {
                TargetKind::Webhook => {
                    if let Some(Some(t)) = self.webhooks.get(*id) {
                        out.webhooks.insert((*id).to_owned(), t.clone());
                    }
                }
                TargetKind::Logout => {
                    if let Some(Some(t)) = self.clients.get(*id) {
                        out.clients.insert((*id).to_owned(), t.clone());
                    }
                }
            }
        }
        out
    }
}

/// What was last reported of each target's successes.
#[derive(Debug, Default)]
pub struct Health {
    targets: HashMap<(&'static str, String), Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    last_success_report: f64,
    failing: bool,
}

impl Health {
    /// Whether the registry must hear of this attempt (see the module docs); records it as
    /// reported when so.
    pub fn must_report(&mut self, kind: TargetKind, target: &str, ok: bool, now_ms: f64) -> bool {
        if self.targets.len() > MAX_ENTRIES {
            self.targets.clear();
        }
        let seen = self
            .targets
            .entry((kind.as_str(), target.to_owned()))
            .or_default();
        if !ok {
            seen.failing = true;
            return true;
        }
        if seen.failing || now_ms - seen.last_success_report >= SUCCESS_REPORT_MS {
            seen.failing = false;
            seen.last_success_report = now_ms;
            return true;
        }
        false
    }

    /// A report of successes did not reach the registry: report the next one.
    pub fn unreported(&mut self, kind: TargetKind, target: &str) {
        if let Some(seen) = self.targets.get_mut(&(kind.as_str(), target.to_owned())) {
            seen.failing = true;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn hook(url: &str) -> WebhookTarget {
        WebhookTarget {
            url: url.into(),
            secrets: vec!["whsec_x".into()],
            enabled: true,
            format: "standard_webhooks".into(),
            batch_size: 1,
            credential: None,
        }
    }

    fn answer(version: i64, hooks: &[(&str, &str)]) -> Targets {
        Targets {
            version,
            webhooks: hooks
                .iter()
                .map(|(id, url)| ((*id).to_owned(), hook(url)))
                .collect(),
            clients: BTreeMap::new(),
        }
    }

    const T0: f64 = 1_000_000.0;

    #[test]
    fn a_batch_is_answered_from_memory_until_a_newer_version_or_the_ttl() {
        let mut cache = TargetCache::default();
        let wanted = [
            (TargetKind::Webhook, "wh_a", 3),
            (TargetKind::Webhook, "wh_gone", 3),
        ];
        let query = cache.missing(&wanted, T0).unwrap();
        assert_eq!(query.webhooks, ["wh_a", "wh_gone"]);
        cache.store(&query, answer(3, &[("wh_a", "https://a/1")]), T0);
        // Known (and known absent) at version 3: no call.
        assert!(cache.missing(&wanted, T0 + 1.0).is_none());
        let t = cache.targets(&wanted);
        assert_eq!(t.webhooks.len(), 1);
        assert_eq!(t.webhooks["wh_a"].url, "https://a/1");
        // A delivery made at version 4 (the URL changed): the whole batch is read again.
        let newer = [
            (TargetKind::Webhook, "wh_a", 4),
            (TargetKind::Webhook, "wh_b", 3),
        ];
        let query = cache.missing(&newer, T0 + 2.0).unwrap();
        assert_eq!(query.webhooks, ["wh_a", "wh_b"]);
        cache.store(
            &query,
            answer(4, &[("wh_a", "https://a/2"), ("wh_b", "https://b")]),
            T0 + 2.0,
        );
        assert_eq!(cache.targets(&newer).webhooks["wh_a"].url, "https://a/2");
        // The version changed: what was known at 3 is gone (wh_gone is asked again).
        assert!(cache.missing(&wanted, T0 + 3.0).is_some());
        // The TTL: read again after it, whatever the versions.
        assert!(cache.missing(&newer, T0 + 3.0).is_none());
        assert!(cache.missing(&newer, T0 + 2.0 + TTL_MS).is_some());
        // An unknown target at the cached version is read too.
        assert!(cache
            .missing(&[(TargetKind::Logout, "web", 4)], T0 + 3.0)
            .is_some());
    }

    #[test]
    fn a_newer_version_seen_in_a_verdict_drops_the_cache() {
        let mut cache = TargetCache::default();
        let wanted = [(TargetKind::Webhook, "wh_a", 0)];
        let query = cache.missing(&wanted, T0).unwrap();
        cache.store(&query, answer(5, &[("wh_a", "https://a")]), T0);
        cache.seen_version(5);
        assert!(cache.missing(&wanted, T0 + 1.0).is_none());
        cache.seen_version(6);
        assert!(cache.missing(&wanted, T0 + 1.0).is_some());
    }

    #[test]
    fn failures_always_reach_the_registry_and_successes_now_and_then() {
        let mut h = Health::default();
        let w = TargetKind::Webhook;
        assert!(h.must_report(w, "wh_a", true, T0), "the first success");
        assert!(!h.must_report(w, "wh_a", true, T0 + 1.0));
        assert!(!h.must_report(w, "wh_a", true, T0 + SUCCESS_REPORT_MS - 1.0));
        assert!(h.must_report(w, "wh_a", true, T0 + SUCCESS_REPORT_MS));
        assert!(h.must_report(w, "wh_a", false, T0 + SUCCESS_REPORT_MS + 1.0));
        assert!(h.must_report(w, "wh_a", false, T0 + SUCCESS_REPORT_MS + 2.0));
        assert!(
            h.must_report(w, "wh_a", true, T0 + SUCCESS_REPORT_MS + 3.0),
            "the first success after a failure resets the failure count"
        );
        assert!(!h.must_report(w, "wh_a", true, T0 + SUCCESS_REPORT_MS + 4.0));
        h.unreported(w, "wh_a");
        assert!(h.must_report(w, "wh_a", true, T0 + SUCCESS_REPORT_MS + 5.0));
        // Targets are told apart by kind and id.
        assert!(h.must_report(
            TargetKind::Logout,
            "wh_a",
            true,
            T0 + SUCCESS_REPORT_MS + 6.0
        ));
    }
}
