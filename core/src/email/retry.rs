//! What happens to a message after a hand-off (spec §9.3, §9.4): sent, failed, retried later,
//! held as ambiguous, or expired. Pure: the clock and the jitter draw come from the caller.

use super::config::OnAmbiguous;
use super::smtp_outcome::HandOff;
use crate::webhooks::schedule::RetryPolicy;

/// A throttled message waits at least this long (a provider asking for less is still busy).
pub const THROTTLE_FLOOR_MS: i64 = 60_000;
/// ... and at most this long for one answer, whatever `Retry-After` says.
pub const THROTTLE_CAP_MS: i64 = 3_600_000;

/// The message's state after a hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Sent,
    Failed,
    Ambiguous,
    Expired,
    /// Queued again, due at this time (ms).
    RetryAt(i64),
}

impl Next {
    /// The stored `email_messages.status`.
    #[must_use]
    pub fn status(self) -> &'static str {
        match self {
            Next::Sent => "sent",
            Next::Failed => "failed",
            Next::Ambiguous => "ambiguous",
            Next::Expired => "expired",
            Next::RetryAt(_) => "queued",
        }
    }
}

/// What the worker knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Attempted {
    /// Attempts made so far, this one included (≥ 1).
    pub attempts: u32,
    pub outcome: HandOff,
    /// From `Retry-After` or the provider's throttling answer.
    pub retry_after_ms: Option<i64>,
    pub now_ms: i64,
    pub expires_at_ms: Option<i64>,
    /// The transport honours an idempotency key, so a retry after an unknown answer cannot
    /// deliver twice.
    pub idempotent: bool,
    /// A uniform draw in [−1, 1] for the jitter.
    pub u: f64,
}

/// Decides the next state. Attempt `n + 1` waits `retrySchedule[n]` ± jitter; past the
/// schedule the message fails; a retry that would fall after `expires_at` expires it now.
#[must_use]
pub fn after_hand_off(policy: &RetryPolicy, on_ambiguous: OnAmbiguous, a: &Attempted) -> Next {
    match a.outcome {
        HandOff::Sent => return Next::Sent,
        // Every recipient refused (one accepted makes the message `sent`): nothing to retry.
        HandOff::RejectedPermanent | HandOff::RejectedRecipient => return Next::Failed,
        HandOff::Ambiguous if !a.idempotent && on_ambiguous == OnAmbiguous::Hold => {
            return Next::Ambiguous
        }
        _ => {}
    }
    let n = usize::try_from(a.attempts).unwrap_or(usize::MAX);
    let Some(base) = policy.delay(n) else {
        return Next::Failed;
    };
    let u = if a.u.is_finite() {
        a.u.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    // Seconds to ms; the schedule's delays are at most a few days, so this cannot overflow.
    #[allow(clippy::cast_possible_truncation)]
    let mut wait = (base * (1.0 + policy.jitter() * u) * 1000.0).round() as i64;
    if a.outcome == HandOff::Throttled {
        wait = wait
            .max(THROTTLE_FLOOR_MS)
            .max(a.retry_after_ms.unwrap_or(0))
            .min(THROTTLE_CAP_MS);
    }
    let at = a.now_ms.saturating_add(wait.max(0));
    match a.expires_at_ms {
        Some(e) if at >= e => Next::Expired,
        _ => Next::RetryAt(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::schedule::RetrySchedule;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(&RetrySchedule::Delays(vec![0.0, 30.0, 120.0]), 0.2).unwrap()
    }

    fn at(outcome: HandOff, attempts: u32) -> Attempted {
        Attempted {
            attempts,
            outcome,
            retry_after_ms: None,
            now_ms: 1_000_000,
            expires_at_ms: None,
            idempotent: false,
            u: 0.0,
        }
    }

    #[test]
    fn schedule_jitter_and_end() {
        let p = policy();
        let r = OnAmbiguous::Retry;
        assert_eq!(
            after_hand_off(&p, r, &at(HandOff::Retryable, 1)),
            Next::RetryAt(1_030_000)
        );
        let mut low = at(HandOff::Retryable, 2);
        low.u = -1.0;
        assert_eq!(after_hand_off(&p, r, &low), Next::RetryAt(1_096_000));
        assert_eq!(
            after_hand_off(&p, r, &at(HandOff::Retryable, 3)),
            Next::Failed
        );
        assert_eq!(after_hand_off(&p, r, &at(HandOff::Sent, 3)), Next::Sent);
        assert_eq!(
            after_hand_off(&p, r, &at(HandOff::RejectedPermanent, 1)),
            Next::Failed
        );
    }

    #[test]
    fn throttling_waits_for_the_provider_within_bounds() {
        let p = policy();
        let mut t = at(HandOff::Throttled, 1);
        assert_eq!(
            after_hand_off(&p, OnAmbiguous::Retry, &t),
            Next::RetryAt(1_060_000)
        );
        t.retry_after_ms = Some(90_000);
        assert_eq!(
            after_hand_off(&p, OnAmbiguous::Retry, &t),
            Next::RetryAt(1_090_000)
        );
        t.retry_after_ms = Some(86_400_000);
        assert_eq!(
            after_hand_off(&p, OnAmbiguous::Retry, &t),
            Next::RetryAt(1_000_000 + THROTTLE_CAP_MS)
        );
    }

    #[test]
    fn ambiguity_and_expiry() {
        let p = policy();
        let amb = at(HandOff::Ambiguous, 1);
        assert_eq!(after_hand_off(&p, OnAmbiguous::Hold, &amb), Next::Ambiguous);
        assert_eq!(
            after_hand_off(&p, OnAmbiguous::Retry, &amb),
            Next::RetryAt(1_030_000)
        );
        let idem = Attempted {
            idempotent: true,
            ..amb
        };
        assert_eq!(
            after_hand_off(&p, OnAmbiguous::Hold, &idem),
            Next::RetryAt(1_030_000)
        );
        let late = Attempted {
            expires_at_ms: Some(1_010_000),
            ..at(HandOff::Retryable, 1)
        };
        assert_eq!(after_hand_off(&p, OnAmbiguous::Retry, &late), Next::Expired);
    }
}
