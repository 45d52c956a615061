//! Retry decisions (spec §9.2, §9.3, §9.5): the classification table, the standard schedule
//! with fixed jitter draws, penalties, `Retry-After`, and properties of `next_attempt`.

use proptest::prelude::*;
use usebetter_core::webhooks::outcome::{
    attempt_events, classify_outcome, endpoint_signals, should_disable, DisableRule, Failure,
    Outcome, Recorded,
};
use usebetter_core::webhooks::retry_after::parse_retry_after;
use usebetter_core::webhooks::schedule::{
    next_attempt, NextStep, RetryPolicy, RetrySchedule, STANDARD_DELAYS,
};

const NOW: i64 = 1_800_000_000_000;

fn delay(step: NextStep) -> i64 {
    match step {
        NextStep::Retry { at_ms, delay_ms } => {
            assert_eq!(at_ms, NOW + delay_ms);
            delay_ms
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[test]
fn classification_table() {
    let c = |s: u16| classify_outcome(Some(s), None).unwrap();
    for s in 200..=299 {
        assert_eq!(c(s), Outcome::Ok, "{s}");
    }
    assert_eq!(c(410), Outcome::Gone);
    for s in [429, 502, 503, 504] {
        assert_eq!(c(s), Outcome::Throttled, "{s}");
    }
    for s in [
        100, 101, 199, 301, 302, 304, 307, 308, 400, 401, 404, 409, 411, 428, 430, 500, 501, 505,
        599,
    ] {
        assert_eq!(c(s), Outcome::HttpError, "{s}");
    }
    for bad in [0, 99, 600, 999] {
        assert!(classify_outcome(Some(bad), None)
            .unwrap_err()
            .to_string()
            .contains("`status`"));
    }
    assert!(classify_outcome(None, None).is_err());
    // A transport failure wins over a status (a timeout while reading the body of a 200).
    let f = |k: Failure| classify_outcome(Some(200), Some(k)).unwrap();
    assert_eq!(f(Failure::Timeout), Outcome::Timeout);
    assert_eq!(f(Failure::ConnectTimeout), Outcome::Timeout);
    for k in [
        Failure::Dns,
        Failure::Refused,
        Failure::Reset,
        Failure::Tls,
        Failure::Network,
    ] {
        assert_eq!(f(k), Outcome::NetworkError);
    }
    assert_eq!(f(Failure::Blocked), Outcome::DestinationBlocked);
    assert_eq!(f(Failure::LeaseExpired), Outcome::LeaseExpired);
    assert_eq!(f(Failure::WorkerShutdown), Outcome::WorkerShutdown);
    assert_eq!(Outcome::ALL.map(Outcome::as_str).join(","), "ok,gone,throttled,http_error,timeout,network_error,destination_blocked,lease_expired,worker_shutdown");
}

#[test]
fn standard_schedule_with_jitter_bounds() {
    let p = RetryPolicy::standard();
    assert_eq!(p.max_attempts(), 10);
    // Attempts at 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h after the previous one.
    let expected_s = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];
    for (n, base) in (1..=9).zip(expected_s) {
        let at = |u| delay(next_attempt(&p, n, Outcome::HttpError, None, NOW, u).unwrap());
        assert_eq!(at(0.0), base * 1000, "attempt {n}");
        assert_eq!(at(-1.0), base * 800, "attempt {n}");
        assert_eq!(at(1.0), base * 1200, "attempt {n}");
    }
    assert_eq!(
        next_attempt(&p, 10, Outcome::HttpError, None, NOW, 0.0).unwrap(),
        NextStep::Exhausted
    );
    assert_eq!(
        next_attempt(&p, 1, Outcome::Gone, None, NOW, 0.0).unwrap(),
        NextStep::Exhausted
    );
    assert_eq!(
        next_attempt(&p, 9, Outcome::Ok, None, NOW, 0.0).unwrap(),
        NextStep::Succeeded
    );
    let total: f64 = STANDARD_DELAYS.iter().sum();
    assert!((total / 3600.0 - 75.58).abs() < 0.01);
}

#[test]
fn penalties_and_retry_after() {
    let p = RetryPolicy::standard();
    // 429 with Retry-After: 120 → at least 120 s even where the schedule says 5 s.
    let ra = parse_retry_after("120", NOW);
    assert_eq!(
        delay(next_attempt(&p, 1, Outcome::Throttled, ra, NOW, 0.0).unwrap()),
        120_000
    );
    // Timeout and throttling wait at least 60 s; other failures do not.
    assert_eq!(
        delay(next_attempt(&p, 1, Outcome::Timeout, None, NOW, 0.0).unwrap()),
        60_000
    );
    assert_eq!(
        delay(next_attempt(&p, 1, Outcome::NetworkError, None, NOW, 0.0).unwrap()),
        5_000
    );
    // Retry-After is capped at 24 h and never shortens the schedule.
    assert_eq!(
        delay(next_attempt(&p, 1, Outcome::HttpError, Some(1e9), NOW, 0.0).unwrap()),
        86_400_000
    );
    assert_eq!(
        delay(next_attempt(&p, 9, Outcome::HttpError, Some(1.0), NOW, 0.0).unwrap()),
        86_400_000
    );
    for (bad, field) in [(f64::NAN, "`u`"), (1.01, "`u`")] {
        assert!(next_attempt(&p, 1, Outcome::HttpError, None, NOW, bad)
            .unwrap_err()
            .to_string()
            .contains(field));
    }
    assert!(next_attempt(&p, 0, Outcome::HttpError, None, NOW, 0.0).is_err());
    assert!(next_attempt(&p, 1, Outcome::HttpError, Some(-1.0), NOW, 0.0).is_err());
}

#[test]
fn custom_schedule_of_the_ordering_test() {
    let p = RetryPolicy::new(&RetrySchedule::Delays(vec![0.05, 0.1, 0.2, 0.4, 0.8]), 0.0).unwrap();
    assert_eq!(p.max_attempts(), 6);
    assert_eq!(
        delay(next_attempt(&p, 1, Outcome::HttpError, None, NOW, 0.5).unwrap()),
        50
    );
    assert_eq!(
        next_attempt(&p, 6, Outcome::HttpError, None, NOW, 0.0).unwrap(),
        NextStep::Exhausted
    );
}

#[test]
fn endpoint_health_and_events() {
    let r = |ep: &str, outcome, exhausted| Recorded {
        endpoint_id: ep.into(),
        outcome,
        exhausted,
    };
    let s = endpoint_signals(&[
        r("a", Outcome::HttpError, false),
        r("b", Outcome::Throttled, false),
        r("a", Outcome::Ok, false),
        r("c", Outcome::LeaseExpired, false),
        r("b", Outcome::Gone, true),
        r("b", Outcome::WorkerShutdown, false),
    ]);
    assert_eq!(s.len(), 2);
    assert!(s[0].ok && !s[0].overloaded);
    assert!(!s[1].ok && s[1].overloaded && s[1].gone && s[1].exhausted);
    let rule = DisableRule::default();
    let day = 86_400_000;
    assert!(should_disable(&rule, Some(NOW - 5 * day), 10, NOW));
    assert!(!should_disable(&rule, Some(NOW - 5 * day + 1), 50, NOW));
    assert!(!should_disable(&rule, Some(NOW - 6 * day), 9, NOW));
    assert!(!should_disable(&rule, None, 50, NOW));
    assert_eq!(
        attempt_events(Outcome::HttpError, 4, false, false),
        ["message.attempt.failing"]
    );
    assert!(attempt_events(Outcome::HttpError, 5, false, false).is_empty());
    assert_eq!(
        attempt_events(Outcome::Timeout, 10, true, true),
        ["message.attempt.exhausted", "lane.blocked"]
    );
    assert_eq!(
        attempt_events(Outcome::Ok, 5, false, false),
        ["message.attempt.recovered"]
    );
    assert!(attempt_events(Outcome::Ok, 4, false, false).is_empty());
}

fn retryable() -> impl Strategy<Value = Outcome> {
    let all: Vec<Outcome> = Outcome::ALL
        .into_iter()
        .filter(|o| !matches!(o, Outcome::Ok | Outcome::Gone))
        .collect();
    prop::sample::select(all)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn delay_stays_within_jitter_penalty_and_retry_after(
        n in 1u32..=9, u in -1.0f64..=1.0, outcome in retryable(),
        ra in prop::option::of(0.0f64..200_000.0), jitter in 0.0f64..=1.0,
    ) {
        let p = RetryPolicy::new(&RetrySchedule::Named("standard".into()), jitter).unwrap();
        let base = STANDARD_DELAYS[usize::try_from(n - 1).unwrap()];
        let d = delay(next_attempt(&p, n, outcome, ra, NOW, u).unwrap()) as f64 / 1000.0;
        let mut low = base * (1.0 - jitter);
        let mut high = base * (1.0 + jitter);
        if outcome.is_overload() { low = low.max(60.0); high = high.max(60.0); }
        if let Some(r) = ra { low = low.max(r.min(86_400.0)); high = high.max(r.min(86_400.0)); }
        prop_assert!(d >= low - 0.001 && d <= high + 0.001, "{d} not in [{low}, {high}]");
    }

    #[test]
    fn delay_grows_with_u_and_with_n(
        n in 1u32..=8, u1 in -1.0f64..=1.0, u2 in -1.0f64..=1.0, outcome in retryable(),
        ra in prop::option::of(0.0f64..200_000.0),
    ) {
        let p = RetryPolicy::standard();
        let (lo, hi) = if u1 <= u2 { (u1, u2) } else { (u2, u1) };
        let at = |n, u| delay(next_attempt(&p, n, outcome, ra, NOW, u).unwrap());
        prop_assert!(at(n, lo) <= at(n, hi));
        // Same draw, later attempt: never an earlier retry (the standard delays only grow).
        prop_assert!(at(n, u1) <= at(n + 1, u1));
    }

    #[test]
    fn exhaustion_exactly_after_the_schedule(
        delays in prop::collection::vec(0.0f64..604_800.0, 0..=30), n in 1u32..=40,
        outcome in retryable(), u in -1.0f64..=1.0,
    ) {
        let len = u32::try_from(delays.len()).unwrap();
        let p = RetryPolicy::new(&RetrySchedule::Delays(delays), 0.2).unwrap();
        let step = next_attempt(&p, n, outcome, None, NOW, u).unwrap();
        prop_assert_eq!(step == NextStep::Exhausted, n > len);
        if let NextStep::Retry { delay_ms, .. } = step {
            prop_assert!((0..=604_800 * 1200).contains(&delay_ms));
        }
    }

    #[test]
    fn retry_after_seconds_round_trip(secs in 0u64..10_000_000) {
        prop_assert_eq!(parse_retry_after(&secs.to_string(), NOW), Some(secs as f64));
    }
}
