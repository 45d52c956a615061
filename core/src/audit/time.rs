//! UTC calendar arithmetic on microseconds since the Unix epoch (no clock, no time zones).
//! Civil-date conversions follow Howard Hinnant's `days_from_civil` algorithms.

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 for a proleptic Gregorian date.
#[must_use]
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` for days since 1970-01-01.
#[must_use]
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[must_use]
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Moves `micros` back by `months` calendar months, clamping the day to the target month's
/// length (Mar 31 minus one month is Feb 28/29, not Mar 3 as JavaScript's `setMonth` gives).
#[must_use]
pub fn minus_months(micros: i64, months: i64) -> i64 {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let within = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + i64::from(m) - 1 - months;
    let (ny, nm) = (
        total.div_euclid(12),
        u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1,
    );
    let nd = d.min(days_in_month(ny, nm));
    days_from_civil(ny, nm, nd) * MICROS_PER_DAY + within
}

/// `2026-01-02T03:04:05.123456Z`.
#[must_use]
pub fn format_iso(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let within = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = within / 1_000_000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        within % 1_000_000
    )
}

/// [`parse_iso`] in milliseconds (what JavaScript dates and the email product use).
#[must_use]
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    parse_iso(s).map(|us| us.div_euclid(1000))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM|±HH)` (a space also separates date and time)
/// into microseconds (digits past the 6th are truncated: PostgreSQL keeps microseconds).
#[must_use]
pub fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let (mo, d) = (u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let mut i = 19;
    let mut frac = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        let six: String = digits
            .chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .collect();
        frac = six.parse().ok()?;
    }
    // `±HH` alone is PostgreSQL's own text form of a whole-hour offset (`… 12:00:00+00`), as
    // drivers that leave timestamps as text return them. Bytes, not `str` slices: the tail may
    // hold any character.
    let rest = &b[i..];
    let offset_min = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 3 || rest.len() == 6 && rest[3] == b':' => {
            let hours = num(i + 1..i + 3)?;
            let minutes = if rest.len() == 6 {
                num(i + 4..i + 6)?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let v = hours * 60 + minutes;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs * 1_000_000 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01T00:00:00.000000Z",
            "2026-11-26T08:30:15.123456Z",
            "2000-02-29T23:59:59.999999Z",
            "1969-12-31T23:59:59.500000Z",
        ] {
            assert_eq!(format_iso(parse_iso(s).unwrap()), s);
        }
        assert_eq!(
            parse_iso("2026-01-01T00:00:00Z"),
            parse_iso("2026-01-01T01:00:00+01:00")
        );
        assert_eq!(
            parse_iso("2026-01-01T00:00:00.5Z").unwrap() % 1_000_000,
            500_000
        );
        // PostgreSQL's own text form, as some drivers return timestamps.
        assert_eq!(
            parse_iso("2026-12-02 15:13:53.567528+00"),
            parse_iso("2026-12-02T15:13:53.567528Z")
        );
        assert_eq!(
            parse_iso("2026-12-02 17:13:53-02"),
            parse_iso("2026-12-02T19:13:53Z")
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-01",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+0",
            "2026-01-01T00:00:00+0000",
            "2026-01-01T00:00:00+24",
            "2026-01-01T00:00:00+01:60",
            "2026-01-01T00:00:00+00\u{e9}0",
            "2026-01-01T00:00:00Z00\u{e9}0",
            "2026-01-01T00:00:00+\u{e9}",
            "x",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_arithmetic_clamps() {
        let mar31 = parse_iso("2026-03-31T10:00:00Z").unwrap();
        assert_eq!(
            format_iso(minus_months(mar31, 1)),
            "2026-02-28T10:00:00.000000Z"
        );
        assert_eq!(
            format_iso(minus_months(mar31, 13)),
            "2025-02-28T10:00:00.000000Z"
        );
        let leap = parse_iso("2024-03-31T00:00:00Z").unwrap();
        assert_eq!(
            format_iso(minus_months(leap, 1)),
            "2024-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            format_iso(minus_months(leap, 12 * 4)),
            "2020-03-31T00:00:00.000000Z"
        );
    }
}
