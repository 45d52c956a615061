//! Retry schedules and `nextAttempt`: when a delivery's next attempt is due, or that it is done.
//!
//! A schedule is the list of delays before each retry; the first attempt is immediate.
//! `"standard"` is the Standard Webhooks example (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h,
//! 24 h: 10 attempts over about 75.6 h). The delay before attempt n+1 is `base[n] × (1 + jitter
//! × u)` with `u` the caller's uniform draw in [−1, 1]; at least 60 s after an overload outcome;
//! at least the response's `Retry-After` capped at 24 h. Svix clamps `Retry-After` to twice the
//! scheduled delay; we honour it up to 24 h because only the sender's own delivery waits.

use super::error::{Result, WebhooksError};
use super::outcome::{Outcome, PENALTY_SECS};

/// The standard schedule's retry delays, in seconds.
pub const STANDARD_DELAYS: [f64; 9] = [
    5.0, 300.0, 1_800.0, 7_200.0, 18_000.0, 36_000.0, 50_400.0, 72_000.0, 86_400.0,
];
/// Longest delay an entry may ask for (7 days).
pub const MAX_DELAY_SECS: f64 = 604_800.0;
/// Most retry entries in a custom schedule.
pub const MAX_RETRIES: usize = 30;
/// `Retry-After` is honoured up to this many seconds.
pub const RETRY_AFTER_CAP_SECS: f64 = 86_400.0;
/// Default jitter fraction (±20 %, as Svix).
pub const DEFAULT_JITTER: f64 = 0.2;

/// `delivery.retrySchedule` as configured.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(untagged))]
pub enum RetrySchedule {
    /// `"standard"`.
    Named(String),
    /// Retry delays in seconds.
    Delays(Vec<f64>),
    /// `min(max, initial × factor^n)` for n = 0…attempts−2.
    Exponential(Exponential),
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Exponential {
    pub initial: f64,
    pub factor: f64,
    pub max: f64,
    pub attempts: u32,
}

/// A validated schedule with its jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    delays: Vec<f64>,
    jitter: f64,
}

const FIELD: &str = "delivery.retrySchedule";

fn delay_ok(d: f64) -> bool {
    d.is_finite() && (0.0..=MAX_DELAY_SECS).contains(&d)
}

impl RetryPolicy {
    /// Validates `schedule` and `jitter` (0–1).
    ///
    /// # Errors
    /// `WEBHOOKS_INVALID_CONFIG` naming `delivery.retrySchedule…` or `delivery.jitter`.
    pub fn new(schedule: &RetrySchedule, jitter: f64) -> Result<RetryPolicy> {
        if !(jitter.is_finite() && (0.0..=1.0).contains(&jitter)) {
            return Err(WebhooksError::config(
                "delivery.jitter",
                format!("a fraction from 0 to 1, got {jitter}"),
            ));
        }
        let delays = match schedule {
            RetrySchedule::Named(n) if n == "standard" => STANDARD_DELAYS.to_vec(),
            RetrySchedule::Named(n) => {
                return Err(WebhooksError::config(
                    FIELD,
                    format!("\"standard\", a list of delays in seconds or {{ initial, factor, max, attempts }}, got {n:?}"),
                ))
            }
            RetrySchedule::Delays(d) => {
                if d.len() > MAX_RETRIES {
                    return Err(WebhooksError::config(
                        FIELD,
                        format!("at most {MAX_RETRIES} delays, got {}", d.len()),
                    ));
                }
                if let Some(i) = d.iter().position(|x| !delay_ok(*x)) {
                    return Err(WebhooksError::config(
                        format!("{FIELD}[{i}]"),
                        format!("seconds from 0 to {MAX_DELAY_SECS}, got {}", d[i]),
                    ));
                }
                d.clone()
            }
            RetrySchedule::Exponential(e) => exponential(e)?,
        };
        Ok(RetryPolicy { delays, jitter })
    }

    /// The delay before attempt `n + 1` (`n` from 0), without jitter; `None` past the end.
    #[must_use]
    pub fn delay(&self, n: usize) -> Option<f64> {
        self.delays.get(n).copied()
    }

    /// The jitter fraction (delays vary by ± this share).
    #[must_use]
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Standard schedule, ±20 %.
    #[must_use]
    pub fn standard() -> RetryPolicy {
        RetryPolicy {
            delays: STANDARD_DELAYS.to_vec(),
            jitter: DEFAULT_JITTER,
        }
    }

    /// Retry delays before jitter, in seconds.
    #[must_use]
    pub fn delays(&self) -> &[f64] {
        &self.delays
    }

    /// Attempts in all (the first plus one per delay).
    #[must_use]
    pub fn max_attempts(&self) -> usize {
        self.delays.len() + 1
    }
}

fn exponential(e: &Exponential) -> Result<Vec<f64>> {
    let bad = |key: &str, expected: String| {
        Err(WebhooksError::config(format!("{FIELD}.{key}"), expected))
    };
    if !(delay_ok(e.initial) && e.initial > 0.0) {
        return bad(
            "initial",
            format!("seconds above 0 and at most {MAX_DELAY_SECS}"),
        );
    }
    if !(e.factor.is_finite() && (1.0..=100.0).contains(&e.factor)) {
        return bad("factor", "a number from 1 to 100".into());
    }
    if !(delay_ok(e.max) && e.max >= e.initial) {
        return bad("max", format!("seconds from `initial` to {MAX_DELAY_SECS}"));
    }
    let retries = usize::try_from(e.attempts).unwrap_or(usize::MAX);
    if !(1..=MAX_RETRIES + 1).contains(&retries) {
        return bad("attempts", format!("1 to {}", MAX_RETRIES + 1));
    }
    let mut d = e.initial;
    Ok((0..retries - 1)
        .map(|_| {
            let v = d.min(e.max);
            d *= e.factor;
            v
        })
        .collect())
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(
        tag = "kind",
        rename_all = "camelCase",
        rename_all_fields = "camelCase"
    )
)]
pub enum NextStep {
    /// Final: `succeeded`.
    Succeeded,
    /// Final: `exhausted` (schedule used up, or `gone`).
    Exhausted,
    /// Back to `pending`, due at `at_ms`.
    Retry { at_ms: i64, delay_ms: i64 },
}

/// `nextAttempt(schedule, n, outcome, retryAfter, now, u)`: `attempts_made` (n ≥ 1) attempts
/// have happened, the last had `outcome`; `retry_after_secs` is the parsed `Retry-After`.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `u` (not in [−1, 1]), `attempts` (0) or `retryAfter`.
pub fn next_attempt(
    policy: &RetryPolicy,
    attempts_made: u32,
    outcome: Outcome,
    retry_after_secs: Option<f64>,
    now_ms: i64,
    u: f64,
) -> Result<NextStep> {
    if !(u.is_finite() && (-1.0..=1.0).contains(&u)) {
        return Err(WebhooksError::argument(
            "u",
            format!("a uniform draw in [-1, 1], got {u}"),
        ));
    }
    if attempts_made == 0 {
        return Err(WebhooksError::argument(
            "attempts",
            "at least one attempt has been made",
        ));
    }
    if retry_after_secs.is_some_and(|r| r.is_nan() || r < 0.0) {
        return Err(WebhooksError::argument(
            "retryAfter",
            "a non-negative number of seconds",
        ));
    }
    match outcome {
        Outcome::Ok => return Ok(NextStep::Succeeded),
        Outcome::Gone => return Ok(NextStep::Exhausted),
        _ => {}
    }
    let index = usize::try_from(attempts_made - 1).unwrap_or(usize::MAX);
    let Some(base) = policy.delays.get(index) else {
        return Ok(NextStep::Exhausted);
    };
    let mut d = base * (1.0 + policy.jitter * u);
    if outcome.is_overload() {
        d = d.max(PENALTY_SECS);
    }
    if let Some(r) = retry_after_secs {
        d = d.max(r.min(RETRY_AFTER_CAP_SECS));
    }
    // At most 7 days (×2 with jitter) or the 24 h cap: far inside i64 milliseconds.
    let delay_ms = (d * 1000.0).round() as i64;
    Ok(NextStep::Retry {
        at_ms: now_ms.saturating_add(delay_ms),
        delay_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_entry() {
        let e = RetryPolicy::new(&RetrySchedule::Delays(vec![1.0, -1.0]), 0.2).unwrap_err();
        assert!(e.to_string().contains("`delivery.retrySchedule[1]`"), "{e}");
        let e = RetryPolicy::new(&RetrySchedule::Delays(vec![1.0; 31]), 0.2).unwrap_err();
        assert!(e.to_string().contains("at most 30"), "{e}");
        assert!(RetryPolicy::new(&RetrySchedule::Named("fast".into()), 0.2).is_err());
        assert!(
            RetryPolicy::new(&RetrySchedule::Named("standard".into()), 1.5)
                .unwrap_err()
                .to_string()
                .contains("`delivery.jitter`")
        );
        let exp = |initial, factor, max, attempts| {
            RetryPolicy::new(
                &RetrySchedule::Exponential(Exponential {
                    initial,
                    factor,
                    max,
                    attempts,
                }),
                0.0,
            )
        };
        assert_eq!(
            exp(1.0, 2.0, 5.0, 6).unwrap().delays(),
            &[1.0, 2.0, 4.0, 5.0, 5.0]
        );
        assert_eq!(exp(1.0, 2.0, 5.0, 1).unwrap().max_attempts(), 1);
        for (i, f, m, a, key) in [
            (0.0, 2.0, 5.0, 3, "initial"),
            (1.0, 0.5, 5.0, 3, "factor"),
            (2.0, 2.0, 1.0, 3, "max"),
            (1.0, 2.0, 5.0, 0, "attempts"),
            (1.0, 2.0, 5.0, 32, "attempts"),
        ] {
            let e = exp(i, f, m, a).unwrap_err();
            assert!(e.to_string().contains(&format!(".{key}`")), "{e}");
        }
    }
}
