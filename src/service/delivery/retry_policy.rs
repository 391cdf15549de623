//! How long a failing delivery is retried, and when a failing webhook endpoint is disabled.

use serde::{Deserialize, Serialize};

/// The longest delay a Cloudflare Queue accepts for a retry (12 h).
pub const MAX_DELAY_SECONDS: u32 = 43_200;
/// Most entries a schedule may have.
pub const MAX_SCHEDULE_LEN: usize = 100;

/// Attempt `n` (1-based) that fails is retried after `schedule[n - 1]` seconds while `n` is at
/// most the schedule's length; the attempt after the last delay is the final one, and when it
/// fails the delivery is dead-lettered. So a schedule of k delays allows k + 1 attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Seconds between attempts.
    pub schedule: Vec<u32>,
    /// Dead letters in a row (no success between) after which a webhook endpoint is disabled;
    /// 0 never disables.
    pub disable_after: u32,
}

impl Default for RetryPolicy {
    /// Ten attempts over about 15.7 hours; an endpoint is disabled after 10 dead letters in a row.
    fn default() -> Self {
        RetryPolicy {
            schedule: vec![5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800],
            disable_after: 10,
        }
    }
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    Ack,
    Retry { delay_seconds: u32 },
    DeadLetter,
}

impl RetryPolicy {
    /// From the environment (`DELIVERY_RETRY_SCHEDULE`, `WEBHOOK_DISABLE_AFTER`): `schedule` as
    /// comma-separated seconds (`"5,30,120"`), `disable_after` as an integer; an absent or blank
    /// variable keeps the default. A value that does not parse, or a policy a queue cannot
    /// honour, is an error (the queue consumer then keeps the default policy).
    pub fn parse(
        schedule: Option<&str>,
        disable_after: Option<&str>,
    ) -> Result<RetryPolicy, String> {
        let mut policy = RetryPolicy::default();
        if let Some(raw) = schedule.map(str::trim).filter(|s| !s.is_empty()) {
            policy.schedule = raw
                .split(',')
                .map(|s| {
                    s.trim().parse::<u32>().map_err(|_| {
                        format!(
                            "retry schedule '{raw}': '{}' is not a whole number of seconds",
                            s.trim()
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(raw) = disable_after.map(str::trim).filter(|s| !s.is_empty()) {
            policy.disable_after = raw
                .parse()
                .map_err(|_| format!("disable_after '{raw}' is not a non-negative whole number"))?;
        }
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the bounds a queue can honour.
    pub fn validate(&self) -> Result<(), String> {
        if self.schedule.len() > MAX_SCHEDULE_LEN {
            return Err(format!(
                "the retry schedule may have at most {MAX_SCHEDULE_LEN} delays"
            ));
        }
        if let Some(d) = self.schedule.iter().find(|d| **d > MAX_DELAY_SECONDS) {
            return Err(format!(
                "retry delay {d} s exceeds the queue's maximum of {MAX_DELAY_SECONDS} s"
            ));
        }
        Ok(())
    }

    /// After failed attempt `attempt` (1-based): retry after the scheduled delay, or give up.
    pub fn after_failure(&self, attempt: u32) -> Decision {
        match attempt
            .checked_sub(1)
            .and_then(|i| self.schedule.get(i as usize))
        {
            Some(&delay_seconds) => Decision::Retry { delay_seconds },
            None => Decision::DeadLetter,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_environment_values() {
        assert_eq!(RetryPolicy::parse(None, None), Ok(RetryPolicy::default()));
        assert_eq!(
            RetryPolicy::parse(Some(" 1, 2,4 "), Some("3")),
            Ok(RetryPolicy {
                schedule: vec![1, 2, 4],
                disable_after: 3
            })
        );
        assert_eq!(
            RetryPolicy::parse(Some(""), Some(" ")),
            Ok(RetryPolicy::default())
        );
        for (schedule, disable) in [
            (Some("1,,2"), None),
            (Some("1,-2"), None),
            (Some("1,x"), None),
            (Some("43201"), None),
            (None, Some("-1")),
            (None, Some("ten")),
        ] {
            assert!(
                RetryPolicy::parse(schedule, disable).is_err(),
                "{schedule:?} {disable:?}"
            );
        }
    }

    #[test]
    fn default_schedule_spans_about_fifteen_hours() {
        let total: u32 = RetryPolicy::default().schedule.iter().sum();
        assert_eq!(total, 56_555);
    }

    #[test]
    fn retries_by_schedule_then_gives_up() {
        let p = RetryPolicy {
            schedule: vec![1, 2, 4],
            disable_after: 0,
        };
        assert_eq!(p.after_failure(1), Decision::Retry { delay_seconds: 1 });
        assert_eq!(p.after_failure(3), Decision::Retry { delay_seconds: 4 });
        assert_eq!(p.after_failure(4), Decision::DeadLetter);
        assert_eq!(p.after_failure(0), Decision::DeadLetter);
    }

    #[test]
    fn rejects_what_does_not_parse_or_cannot_be_honoured() {
        let long = vec!["1"; MAX_SCHEDULE_LEN + 1].join(",");
        for (schedule, disable) in [
            (Some("1,2,"), None),
            (Some(","), None),
            (Some("1;2"), None),
            (Some("1.5"), None),
            (Some("4294967296"), None),
            (Some(long.as_str()), None),
            (None, Some("1.0")),
            (None, Some("4294967296")),
            (Some("1,x"), Some("3")),
        ] {
            let err = RetryPolicy::parse(schedule, disable).unwrap_err();
            assert!(!err.is_empty(), "{schedule:?} {disable:?}");
        }
        let at_most = vec!["43200"; MAX_SCHEDULE_LEN].join(",");
        assert_eq!(
            RetryPolicy::parse(Some(&at_most), Some("0"))
                .map(|p| (p.schedule.len(), p.disable_after)),
            Ok((MAX_SCHEDULE_LEN, 0))
        );
        // The variables as wrangler.toml and the end-to-end tests set them.
        assert_eq!(
            RetryPolicy::parse(Some("5,30,120,600,1800,3600,7200,14400,28800"), Some("10")),
            Ok(RetryPolicy::default())
        );
        assert_eq!(
            RetryPolicy::parse(Some("1,2,2,3,5"), Some("2")),
            Ok(RetryPolicy {
                schedule: vec![1, 2, 2, 3, 5],
                disable_after: 2
            })
        );
        // Each variable on its own.
        assert_eq!(
            RetryPolicy::parse(Some("7"), None),
            Ok(RetryPolicy {
                schedule: vec![7],
                ..RetryPolicy::default()
            })
        );
        assert_eq!(
            RetryPolicy::parse(None, Some("4")),
            Ok(RetryPolicy {
                disable_after: 4,
                ..RetryPolicy::default()
            })
        );
    }

    #[test]
    fn policies_and_decisions_have_the_internal_json_shape() {
        let p = RetryPolicy {
            schedule: vec![1, 2],
            disable_after: 2,
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"schedule": [1, 2], "disable_after": 2})
        );
        assert_eq!(serde_json::from_value::<RetryPolicy>(v).unwrap(), p);
        assert_eq!(
            serde_json::from_str::<RetryPolicy>("{}").unwrap(),
            RetryPolicy::default()
        );
        for (d, v) in [
            (Decision::Ack, serde_json::json!({"action": "ack"})),
            (
                Decision::Retry { delay_seconds: 30 },
                serde_json::json!({"action": "retry", "delay_seconds": 30}),
            ),
            (
                Decision::DeadLetter,
                serde_json::json!({"action": "dead_letter"}),
            ),
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), v);
            assert_eq!(serde_json::from_value::<Decision>(v).unwrap(), d);
        }
    }
}
