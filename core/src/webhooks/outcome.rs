//! What an attempt's observation means (`classifyOutcome`), what it does to its endpoint's
//! health, the auto-disable rule, and the operational events a delivery emits.
//!
//! Endpoint writes happen only on transitions (first failure after a success, recovery, pause,
//! disable): a steady stream of successes costs no endpoint write. Lease expiry and worker
//! shutdown say nothing about the endpoint, so they count as neither success nor failure.

use super::error::{Result, WebhooksError};

/// Outcome of one attempt, stored in `webhook_attempts.outcome` (data, never thrown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    Ok,
    Gone,
    Throttled,
    HttpError,
    Timeout,
    NetworkError,
    DestinationBlocked,
    LeaseExpired,
    WorkerShutdown,
}

impl Outcome {
    /// Every outcome, in the order of the product's table.
    pub const ALL: [Outcome; 9] = [
        Outcome::Ok,
        Outcome::Gone,
        Outcome::Throttled,
        Outcome::HttpError,
        Outcome::Timeout,
        Outcome::NetworkError,
        Outcome::DestinationBlocked,
        Outcome::LeaseExpired,
        Outcome::WorkerShutdown,
    ];

    /// The stored text.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Gone => "gone",
            Outcome::Throttled => "throttled",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::NetworkError => "network_error",
            Outcome::DestinationBlocked => "destination_blocked",
            Outcome::LeaseExpired => "lease_expired",
            Outcome::WorkerShutdown => "worker_shutdown",
        }
    }

    /// The receiver is overloaded: the next delay is at least [`PENALTY_SECS`] and the endpoint
    /// pauses (Svix's overload penalty).
    #[must_use]
    pub fn is_overload(self) -> bool {
        matches!(self, Outcome::Throttled | Outcome::Timeout)
    }

    /// Whether the outcome says something about the endpoint's health (`Some(true)` healthy).
    #[must_use]
    pub fn endpoint_health(self) -> Option<bool> {
        match self {
            Outcome::Ok => Some(true),
            Outcome::LeaseExpired | Outcome::WorkerShutdown => None,
            _ => Some(false),
        }
    }
}

/// Minimum delay after an overload outcome.
pub const PENALTY_SECS: f64 = 60.0;
/// First endpoint pause after an overload outcome; doubles on each further one.
pub const PAUSE_MIN_SECS: u32 = 30;
/// Longest endpoint pause.
pub const PAUSE_MAX_SECS: u32 = 300;

/// A failure before any status arrived (the dispatcher's error kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Failure {
    /// The whole request or the connect phase ran out of time.
    Timeout,
    ConnectTimeout,
    Dns,
    Refused,
    Reset,
    Tls,
    /// Any other transport error.
    Network,
    /// Every resolved address was denied by the SSRF guard.
    Blocked,
    LeaseExpired,
    WorkerShutdown,
}

/// `classifyOutcome`: the transport failure when there is one, else the HTTP status.
///
/// # Errors
/// `WEBHOOKS_INVALID_ARGUMENT` naming `status` when neither is given or the status is not
/// 100–599.
pub fn classify_outcome(status: Option<u16>, failure: Option<Failure>) -> Result<Outcome> {
    if let Some(f) = failure {
        return Ok(match f {
            Failure::Timeout | Failure::ConnectTimeout => Outcome::Timeout,
            Failure::Dns | Failure::Refused | Failure::Reset | Failure::Tls | Failure::Network => {
                Outcome::NetworkError
            }
            Failure::Blocked => Outcome::DestinationBlocked,
            Failure::LeaseExpired => Outcome::LeaseExpired,
            Failure::WorkerShutdown => Outcome::WorkerShutdown,
        });
    }
    match status {
        Some(200..=299) => Ok(Outcome::Ok),
        Some(410) => Ok(Outcome::Gone),
        Some(429 | 502 | 503 | 504) => Ok(Outcome::Throttled),
        // 3xx included: redirects are never followed, a 3xx is a failure.
        Some(100..=599) => Ok(Outcome::HttpError),
        Some(s) => Err(WebhooksError::argument(
            "status",
            format!("{s} is not an HTTP status (100-599)"),
        )),
        None => Err(WebhooksError::argument(
            "status",
            "give a status or a failure kind",
        )),
    }
}

/// The endpoint pause after an overload outcome, given the current one: 30 s doubling to 5 min.
#[must_use]
pub fn next_pause_secs(current: Option<u32>) -> u32 {
    current.map_or(PAUSE_MIN_SECS, |p| {
        p.saturating_mul(2).clamp(PAUSE_MIN_SECS, PAUSE_MAX_SECS)
    })
}

/// `disable.after` / `disable.minFailedAttempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisableRule {
    pub after_ms: i64,
    pub min_failed_attempts: u32,
}

impl Default for DisableRule {
    fn default() -> Self {
        DisableRule {
            after_ms: 5 * 86_400_000,
            min_failed_attempts: 10,
        }
    }
}

/// When a delivery exhausts: disable its endpoint if it has been failing for at least
/// `after_ms` with at least `min_failed_attempts` failed attempts since the first failure.
/// Both conditions, so a low-traffic endpoint with two failures days apart stays enabled.
#[must_use]
pub fn should_disable(
    rule: &DisableRule,
    failing_since_ms: Option<i64>,
    failed_attempts_since: u64,
    now_ms: i64,
) -> bool {
    failing_since_ms.is_some_and(|f| now_ms.saturating_sub(f) >= rule.after_ms)
        && failed_attempts_since >= u64::from(rule.min_failed_attempts)
}

/// A config duration: `<n>s`, `<n>min`, `<n>h`, `<n>d` or `<n>w`, in milliseconds.
///
/// # Errors
/// `WEBHOOKS_INVALID_CONFIG` naming `field`.
pub fn parse_duration_ms(field: &str, text: &str) -> Result<i64> {
    duration_ms(text).ok_or_else(|| {
        WebhooksError::config(
            field,
            format!("a duration like \"30s\", \"15min\", \"24h\", \"5d\" or \"2w\", got {text:?}"),
        )
    })
}

/// `"30s"`, `"15min"`, `"24h"`, `"5d"`, `"2w"` in milliseconds; `None` for anything else (zero,
/// another unit, an overflow). Shared by the products' configurations.
#[must_use]
pub fn duration_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let per: i64 = match unit {
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => 0,
    };
    digits
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && per > 0)
        .and_then(|n| n.checked_mul(per))
}

/// The result of one attempt of a delivery, as the record step sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct Recorded {
    pub endpoint_id: String,
    pub outcome: Outcome,
    /// The delivery reached its final failed state with this attempt.
    pub exhausted: bool,
}

/// What one record batch does to one endpoint (the parameters of the health update).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct EndpointSignal {
    pub endpoint_id: String,
    /// The endpoint's latest health-relevant outcome in the batch was a success.
    pub ok: bool,
    pub overloaded: bool,
    pub gone: bool,
    pub exhausted: bool,
}

/// Folds a batch's results (in completion order) into one signal per endpoint, first-seen
/// order; endpoints with only lease/shutdown outcomes get none.
#[must_use]
pub fn endpoint_signals(results: &[Recorded]) -> Vec<EndpointSignal> {
    let mut out: Vec<EndpointSignal> = Vec::new();
    for r in results {
        let Some(healthy) = r.outcome.endpoint_health() else {
            continue;
        };
        let i = match out.iter().position(|s| s.endpoint_id == r.endpoint_id) {
            Some(i) => i,
            None => {
                out.push(EndpointSignal {
                    endpoint_id: r.endpoint_id.clone(),
                    ok: healthy,
                    overloaded: false,
                    gone: false,
                    exhausted: false,
                });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        s.ok = healthy;
        s.overloaded |= r.outcome.is_overload();
        s.gone |= r.outcome == Outcome::Gone;
        s.exhausted |= r.exhausted;
    }
    out
}

/// Operational events of one attempt (`message.attempt.failing` on the 4th consecutive failed
/// attempt, `…recovered` on a success after at least 4 failures, `…exhausted`, `lane.blocked`).
#[must_use]
pub fn attempt_events(
    outcome: Outcome,
    attempt_number: u32,
    exhausted: bool,
    laned: bool,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if outcome == Outcome::Ok {
        if attempt_number > 4 {
            out.push("message.attempt.recovered");
        }
        return out;
    }
    if attempt_number == 4 {
        out.push("message.attempt.failing");
    }
    if exhausted {
        out.push("message.attempt.exhausted");
        if laned {
            out.push("lane.blocked");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration_ms("disable.after", "5d").unwrap(),
            432_000_000
        );
        assert_eq!(parse_duration_ms("x", "15min").unwrap(), 900_000);
        assert_eq!(parse_duration_ms("x", "2w").unwrap(), 1_209_600_000);
        for bad in [
            "",
            "5",
            "d",
            "0d",
            "5m",
            "-1d",
            "1.5h",
            "99999999999999999w",
        ] {
            let e = parse_duration_ms("disable.after", bad).unwrap_err();
            assert!(e.to_string().contains("`disable.after`"), "{bad}: {e}");
        }
    }

    #[test]
    fn pause_doubles_to_five_minutes() {
        let mut p = None;
        let mut seen = Vec::new();
        for _ in 0..6 {
            let n = next_pause_secs(p);
            seen.push(n);
            p = Some(n);
        }
        assert_eq!(seen, [30, 60, 120, 240, 300, 300]);
    }
}
