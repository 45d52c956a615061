//! `parseDuration`: `<n><unit>` with unit `h`, `d`, `w`, `m` (months) or `y`, counted back from a
//! reference instant in UTC (the reference uses local time, so its results shift with DST).

use super::time::minus_months;
use crate::error::{Error, Result};

const HOUR: i64 = 3_600_000_000;

fn invalid(input: &str) -> Error {
    Error::InvalidDuration {
        message: format!(
            "Invalid duration \"{input}\". Expected format: <number><unit> where unit is h, d, w, m, or y (e.g. \"4h\", \"30d\", \"2w\", \"3m\", \"1y\")."
        ),
    }
}

/// The instant `input` before `reference_micros`.
///
/// # Errors
/// `InvalidDuration` with the reference's messages.
pub fn before(input: &str, reference_micros: i64) -> Result<i64> {
    let unit = input.chars().last().ok_or_else(|| invalid(input))?;
    let digits = &input[..input.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(invalid(input));
    }
    let n: i64 = digits.parse().map_err(|_| invalid(input))?;
    if n == 0 {
        return Err(Error::InvalidDuration {
            message: format!("Invalid duration \"{input}\". Value must be greater than zero."),
        });
    }
    let overflow = || invalid(input);
    Ok(match unit {
        'h' => reference_micros
            .checked_sub(n.checked_mul(HOUR).ok_or_else(overflow)?)
            .ok_or_else(overflow)?,
        'd' => reference_micros
            .checked_sub(n.checked_mul(24 * HOUR).ok_or_else(overflow)?)
            .ok_or_else(overflow)?,
        'w' => reference_micros
            .checked_sub(n.checked_mul(7 * 24 * HOUR).ok_or_else(overflow)?)
            .ok_or_else(overflow)?,
        'm' if n <= 120_000 => minus_months(reference_micros, n),
        'y' if n <= 10_000 => minus_months(reference_micros, n * 12),
        _ => return Err(invalid(input)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::time::{format_iso, parse_iso};

    #[test]
    fn units() {
        let now = parse_iso("2026-03-31T12:00:00Z").unwrap();
        let at = |s: &str| format_iso(before(s, now).unwrap());
        assert_eq!(at("4h"), "2026-03-31T08:00:00.000000Z");
        assert_eq!(at("30d"), "2026-03-01T12:00:00.000000Z");
        assert_eq!(at("2w"), "2026-03-17T12:00:00.000000Z");
        assert_eq!(at("1m"), "2026-02-28T12:00:00.000000Z");
        assert_eq!(at("1y"), "2025-03-31T12:00:00.000000Z");
    }

    #[test]
    fn reference_messages() {
        assert_eq!(
            before("0d", 0).unwrap_err().to_string(),
            "Invalid duration \"0d\". Value must be greater than zero."
        );
        for bad in [
            "",
            "d",
            "10",
            "1.5d",
            "-1d",
            "1D",
            "1 d",
            "5s",
            "1é",
            "99999999999999999999d",
        ] {
            let e = before(bad, 0).unwrap_err();
            assert_eq!(e.code(), "INVALID_DURATION", "{bad}");
            assert!(
                e.to_string()
                    .starts_with(&format!("Invalid duration \"{bad}\". Expected format")),
                "{e}"
            );
        }
    }
}
