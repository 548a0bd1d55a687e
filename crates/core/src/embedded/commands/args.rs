//! Argument parsing, error texts and number formatting shared by every command family, so that
//! each rule (what counts as an integer, how a score prints) lives in exactly one place.

use bytes::Bytes;

use crate::{Error, Reply, Result};

/// Case-insensitive comparison of an argument with an option name.
pub(crate) fn is(arg: &[u8], option: &str) -> bool {
    arg.eq_ignore_ascii_case(option.as_bytes())
}

/// Redis's `string2ll`: no sign other than a leading `-`, no leading zeros, no spaces, no "-0".
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// Redis's `strtod` checks: the whole argument, no NaN, and no silent overflow or underflow.
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    if value.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
        return None;
    }
    if value == 0.0 {
        let mantissa = text.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
    }
    Some(value)
}

pub(crate) fn int_arg(arg: &[u8]) -> Result<i64> {
    parse_i64(arg).ok_or_else(Error::not_integer)
}

/// A count that Redis reads with `getPositiveLongFromObjectOrReply`.
pub(crate) fn positive_arg(arg: &[u8]) -> Result<usize> {
    let n = int_arg(arg)?;
    usize::try_from(n).map_err(|_| not_positive())
}

pub(crate) fn float_arg(arg: &[u8]) -> Result<f64> {
    parse_f64(arg).ok_or_else(not_float)
}

pub(crate) fn not_float() -> Error {
    Error::command("ERR value is not a valid float")
}

pub(crate) fn overflow() -> Error {
    Error::command("ERR increment or decrement would overflow")
}

pub(crate) fn not_positive() -> Error {
    Error::command("ERR value is out of range, must be positive")
}

pub(crate) fn nan_or_infinity() -> Error {
    Error::command("ERR increment would produce NaN or Infinity")
}

pub(crate) fn invalid_expire(command: &str) -> Error {
    Error::command(format!("ERR invalid expire time in '{command}' command"))
}

/// Inclusive `[start, stop]` indices of `len` items from Redis-style (possibly negative) indices,
/// `None` when the range is empty: the rule LRANGE, LTRIM, ZRANGE and ZREMRANGEBYRANK share.
pub(crate) fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    }
    .max(0);
    let stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start > stop || start >= len {
        return None;
    }
    let stop = stop.min(len - 1);
    // Both are now within 0..len, which came from a usize.
    Some((start as usize, stop as usize))
}

/// A score as Redis 7 replies it: `%.17g` with the shortest digits that round-trip, so `1`,
/// `1.5`, `0.1`, `1e+20`, `inf`.
pub(crate) fn format_score(value: f64) -> Bytes {
    if value.is_infinite() {
        return Bytes::from_static(if value > 0.0 { b"inf" } else { b"-inf" });
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    if (-4..17).contains(&exponent) {
        Bytes::from(value.to_string())
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        Bytes::from(format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs()))
    }
}

/// A float as INCRBYFLOAT stores it: plain notation, no exponent, no trailing zeros.
pub(crate) fn format_float(value: f64) -> Bytes {
    Bytes::from(value.to_string())
}

pub(crate) fn bulk_array<I: IntoIterator<Item = Bytes>>(items: I) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bulk).collect())
}

pub(crate) fn int(n: usize) -> Reply {
    Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(crate) fn bool_int(b: bool) -> Reply {
    Reply::Int(i64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"007",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_strtod_checks() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-3"), Some(-3.0));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"0"), Some(0.0));
        assert_eq!(parse_f64(b"0e10"), Some(0.0));
        for bad in [&b""[..], b"nan", b"abc", b" 1", b"1x", b"1e999", b"1e-999"] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn scores_format_like_redis() {
        let cases = [
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.25e20, "1.25e+20"),
            (123456.789, "123456.789"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(format_score(value), Bytes::from(text), "{value}");
        }
        assert_eq!(format_float(5200.0), Bytes::from("5200"));
        assert_eq!(format_float(10.6), Bytes::from("10.6"));
    }

    #[test]
    fn index_ranges() {
        assert_eq!(index_range(0, -1, 5), Some((0, 4)));
        assert_eq!(index_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(index_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(index_range(3, 1, 5), None);
        assert_eq!(index_range(5, 10, 5), None);
        assert_eq!(index_range(0, -1, 0), None);
        assert_eq!(index_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }
}
