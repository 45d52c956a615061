//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date in any of the three forms a
//! recipient must accept (IMF-fixdate, obsolete RFC 850, asctime).

use crate::audit::time::days_from_civil;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn digits(s: &str, len: std::ops::RangeInclusive<usize>) -> Option<i64> {
    (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn month(s: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| *m == s)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// `HH:MM:SS` → seconds of the day.
fn clock(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (
        digits(parts.next()?, 2..=2)?,
        digits(parts.next()?, 2..=2)?,
        digits(parts.next()?, 2..=2)?,
    );
    // 60 allows a leap second, as the grammar does.
    (parts.next().is_none() && h < 24 && m < 60 && sec <= 60).then_some(h * 3600 + m * 60 + sec)
}

fn epoch(y: i64, mo: u32, d: i64, secs: i64) -> Option<i64> {
    let days_in = crate::audit::time::days_in_month(y, mo);
    let d = u32::try_from(d)
        .ok()
        .filter(|d| (1..=days_in).contains(d))?;
    Some(days_from_civil(y, mo, d) * 86_400 + secs)
}

/// Unix seconds of an HTTP-date; `now_year` resolves RFC 850's two-digit years.
fn http_date(s: &str, now_year: i64) -> Option<i64> {
    let t: Vec<&str> = s.split_whitespace().collect();
    match t.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [day, dd, mon, yyyy, hms, "GMT"] if DAYS.contains(&day.strip_suffix(',')?) => epoch(
            digits(yyyy, 4..=4)?,
            month(mon)?,
            digits(dd, 2..=2)?,
            clock(hms)?,
        ),
        // Sunday, 06-Nov-94 08:49:37 GMT
        [day, date, hms, "GMT"] if LONG_DAYS.contains(&day.strip_suffix(',')?) => {
            let mut p = date.split('-');
            let (dd, mon, yy) = (p.next()?, p.next()?, p.next()?);
            let yy = digits(yy, 2..=2)?;
            // A two-digit year more than 50 years ahead is the most recent past one.
            let mut y = now_year - now_year.rem_euclid(100) + yy;
            if y > now_year + 50 {
                y -= 100;
            }
            epoch(y, month(mon)?, digits(dd, 2..=2)?, clock(hms)?)
        }
        // Sun Nov  6 08:49:37 1994
        [day, mon, d, hms, yyyy] if DAYS.contains(day) => epoch(
            digits(yyyy, 4..=4)?,
            month(mon)?,
            digits(d, 1..=2)?,
            clock(hms)?,
        ),
        _ => None,
    }
}

/// The delay `value` asks for, in seconds, at `now_ms`: `None` when it is not a valid
/// `Retry-After` (then it is ignored); a date in the past is a delay of 0.
#[must_use]
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<f64> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Huge values saturate; the caller caps the delay anyway.
        return Some(v.parse::<u64>().map_or(f64::MAX, |n| n as f64));
    }
    let now_s = now_ms.div_euclid(1000);
    let (now_year, _, _) = crate::audit::time::civil_from_days(now_s.div_euclid(86_400));
    let at = http_date(v, now_year)?;
    let delay_ms = (at * 1000).saturating_sub(now_ms).max(0);
    Some(delay_ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 1994-11-06T08:49:37Z
    const T: i64 = 784_111_777_000;

    #[test]
    fn the_three_date_forms_agree() {
        for v in [
            "Sun, 06 Nov 1994 08:49:47 GMT",
            "Sunday, 06-Nov-94 08:49:47 GMT",
            "Sun Nov  6 08:49:47 1994",
        ] {
            assert_eq!(parse_retry_after(v, T), Some(10.0), "{v}");
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", T),
            Some(0.0)
        );
    }

    #[test]
    fn seconds_and_garbage() {
        assert_eq!(parse_retry_after("120", T), Some(120.0));
        assert_eq!(parse_retry_after(" 0 ", T), Some(0.0));
        assert!(parse_retry_after("99999999999999999999999", T).unwrap() > 1e20);
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, T), None, "{bad}");
        }
    }

    #[test]
    fn two_digit_years_roll_back_when_far_ahead() {
        // In 2026, "76" is 2076 (50 years ahead at most) and "77" is 1977.
        let now = 1_780_000_000_000; // 2026
        let d76 = parse_retry_after("Monday, 01-Jan-76 00:00:00 GMT", now).unwrap();
        assert!(d76 > 0.0);
        let d77 = parse_retry_after("Friday, 01-Jan-77 00:00:00 GMT", now).unwrap();
        assert_eq!(d77, 0.0);
    }
}
