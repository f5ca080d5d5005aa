//! UTC dates for display and `--now` parsing, without a date library.

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01 (`days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-10-10T00:03:04Z`.
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses `--now`: seconds since the epoch, or RFC 3339 (`Z` or `±HH:MM`).
pub fn parse_now(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map_err(|_| "--now: number out of range".to_string());
    }
    let bad = || {
        format!(
            "--now: expected seconds since the epoch or RFC 3339 (2024-10-10T00:03:04Z), got {s:?}"
        )
    };
    let b = s.as_bytes();
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    // Skip fractional seconds.
    let mut rest = s.get(19..).ok_or_else(bad)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = frac.get(digits..).ok_or_else(bad)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(bad()),
            };
            let oh = rest
                .get(1..3)
                .and_then(|x| x.parse::<i64>().ok())
                .ok_or_else(bad)?;
            let om = rest
                .get(4..6)
                .and_then(|x| x.parse::<i64>().ok())
                .ok_or_else(bad)?;
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return Err(bad());
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se - offset;
    u64::try_from(secs).map_err(|_| "--now: before 1970".to_string())
}

/// "in 43 min", "2 h 5 min ago", "now".
pub fn relative(t: i64, now: u64) -> String {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let delta = t.saturating_sub(now);
    let a = delta.unsigned_abs();
    let text = if a < 60 {
        return "now".into();
    } else if a < 3600 {
        format!("{} min", a / 60)
    } else if a < 86_400 {
        format!("{} h {} min", a / 3600, a % 3600 / 60)
    } else {
        format!("{} d {} h", a / 86_400, a % 86_400 / 3600)
    };
    if delta > 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_728_518_584), "2024-10-10T00:03:04Z");
        assert_eq!(parse_now("2024-10-10T00:03:04Z"), Ok(1_728_518_584));
        assert_eq!(parse_now("2024-10-10T02:03:04+02:00"), Ok(1_728_518_584));
        assert_eq!(parse_now("2024-10-10T00:03:04.123Z"), Ok(1_728_518_584));
        assert_eq!(parse_now("1728518584"), Ok(1_728_518_584));
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-10-10T00:03:04",
            "-5",
            "2024-10-10T00:03:04+2",
        ] {
            assert!(parse_now(bad).is_err(), "{bad}");
        }
        for t in [0i64, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_now(&rfc3339(t)), Ok(t as u64));
        }
        assert_eq!(relative(1000 + 43 * 60, 1000), "in 43 min");
        assert_eq!(relative(1000, 1000 + 7500), "2 h 5 min ago");
    }
}
