//! Go's duration syntax (`60s`, `1m30s`, `5m0s`, `1.5h`, `300ms`).
//!
//! Flux's flags (`--requeue-dependency=30s`) and CRD fields (`spec.interval: 5m0s`) use Go's
//! `time.ParseDuration` syntax and Go prints durations back as `5m0s`. Users copy values between
//! Flux and Driftless, so we accept and print exactly the same text. Negative durations parse in
//! Go but mean nothing for an interval or a timeout, so they are refused here.

use std::{fmt, str::FromStr, time::Duration};

/// The largest duration Go can represent (`math.MaxInt64` nanoseconds, about 292 years).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Why a duration string was refused; carries the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not Go duration syntax (empty, missing unit, unknown unit, stray characters).
    #[error("invalid duration {input:?}: {why}")]
    Invalid {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A leading `-`: intervals and timeouts cannot be negative.
    #[error("invalid duration {0:?}: negative durations are not allowed")]
    Negative(String),
    /// More than Go's limit of about 292 years.
    #[error("invalid duration {0:?}: out of range")]
    Overflow(String),
}

/// Parses Go duration syntax, e.g. `60s`, `1m30s`, `1.5h`, `250ms`, `0`.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let invalid = |why| DurationError::Invalid {
        input: input.to_owned(),
        why,
    };
    let mut rest = input;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if let Some(r) = rest.strip_prefix('-') {
        // Go accepts "-0"; so do we, it is zero.
        if r.chars().all(|c| c == '0') && !r.is_empty() {
            return Ok(Duration::ZERO);
        }
        return Err(DurationError::Negative(input.to_owned()));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid("empty"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        // Integer part.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after_int) = rest.split_at(int_len);
        // Fraction part.
        let (frac_digits, after_number) = match after_int.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid("expected a number"));
        }
        let unit_len = after_number
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after_number.len(), |(i, _)| i);
        let (unit, after_unit) = after_number.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "" => return Err(invalid("missing unit (ns, us, ms, s, m or h)")),
            _ => return Err(invalid("unknown unit (want ns, us, ms, s, m or h)")),
        };
        let overflow = || DurationError::Overflow(input.to_owned());
        let mut value: u128 = 0;
        for d in int_digits.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(d - b'0')))
                .filter(|v| *v <= MAX_NANOS)
                .ok_or_else(overflow)?;
        }
        let mut nanos = value.checked_mul(unit_nanos).ok_or_else(overflow)?;
        // The fraction is scaled by the unit and truncated to whole nanoseconds, as in Go.
        // Twenty digits are more than nanosecond precision needs and keep the product in u128.
        if !frac_digits.is_empty() {
            let digits = &frac_digits[..frac_digits.len().min(20)];
            let numerator: u128 = digits
                .bytes()
                .fold(0u128, |acc, d| acc * 10 + u128::from(d - b'0'));
            let denominator = 10u128.pow(u32::try_from(digits.len()).unwrap_or(20));
            nanos = nanos
                .checked_add(numerator * unit_nanos / denominator)
                .ok_or_else(overflow)?;
        }
        total = total.checked_add(nanos).ok_or_else(overflow)?;
        if total > MAX_NANOS {
            return Err(overflow());
        }
        rest = after_unit;
    }
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| DurationError::Overflow(input.to_owned()))?;
    let sub = u32::try_from(total % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

/// Formats like Go's `time.Duration.String`: `5m0s`, `1h0m0s`, `1.5s`, `300ms`, `0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000_000_000 {
        // Sub-second values use the largest unit that keeps the integer part non-zero.
        let (unit_nanos, unit) = if nanos < 1_000 {
            (1, "ns")
        } else if nanos < 1_000_000 {
            (1_000, "\u{b5}s")
        } else {
            (1_000_000, "ms")
        };
        return format!("{}{unit}", decimal(nanos, unit_nanos));
    }
    let total_secs = nanos / 1_000_000_000;
    let sub_nanos = nanos % 1_000_000_000;
    let hours = total_secs / 3_600;
    let minutes = (total_secs % 3_600) / 60;
    let seconds = total_secs % 60;
    let secs_text = decimal(seconds * 1_000_000_000 + sub_nanos, 1_000_000_000);
    if hours > 0 {
        format!("{hours}h{minutes}m{secs_text}s")
    } else if minutes > 0 {
        format!("{minutes}m{secs_text}s")
    } else {
        format!("{secs_text}s")
    }
}

/// `value / unit` as a decimal with trailing zeros of the fraction removed.
fn decimal(value: u128, unit: u128) -> String {
    let int = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return int.to_string();
    }
    let width = unit.to_string().len() - 1;
    let frac_text = format!("{frac:0width$}");
    format!("{int}.{}", frac_text.trim_end_matches('0'))
}

/// A [`Duration`] read and written in Go syntax: use it for clap flags and CRD string fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Self {
        d.0
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(Self)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map(Self).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_go_examples() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("+5s", Duration::from_secs(5)),
            ("60s", Duration::from_secs(60)),
            ("1m30s", Duration::from_secs(90)),
            ("5m0s", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1h0m0s", Duration::from_secs(3600)),
            ("1.5h", Duration::from_secs(5400)),
            ("2h45m", Duration::from_secs(2 * 3600 + 45 * 60)),
            ("300ms", ms(300)),
            ("750ms", ms(750)),
            ("1.5s", ms(1500)),
            (".5s", ms(500)),
            ("1.s", Duration::from_secs(1)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
            ("10\u{3bc}s", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            ("1h1m1s1ms1us1ns", Duration::new(3661, 1_001_001)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("0.0000000019s", Duration::from_nanos(1)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).as_ref(), Ok(want), "parse({text:?})");
        }
    }

    #[test]
    fn refuses_bad_input_with_the_text() {
        for bad in [
            "", "s", "5", "5x", "1m5", ".s", "1..5s", "h1", " 5s", "5s ", "abc", "+", "1e3s",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert_eq!(parse("-5s"), Err(DurationError::Negative("-5s".into())));
        assert!(matches!(parse("3000000h"), Err(DurationError::Overflow(_))));
        assert!(matches!(
            parse("99999999999999999999999s"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_like_go() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1_100), "1.1\u{b5}s"),
            (ms(300), "300ms"),
            (Duration::from_micros(2_200), "2.2ms"),
            (ms(1500), "1.5s"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(36 * 3600 + 1), "36h0m1s"),
            (Duration::new(3661, 1_000_000), "1h1m1.001s"),
        ];
        for (d, want) in cases {
            assert_eq!(&format(*d), want, "format({d:?})");
        }
    }

    #[test]
    fn round_trips_through_text() {
        for text in [
            "5m0s", "1h0m0s", "1.5s", "300ms", "10m0s", "24h0m0s", "1m30s",
        ] {
            assert_eq!(format(parse(text).expect(text)), text);
        }
        let d: GoDuration = "2m".parse().expect("2m");
        assert_eq!(d.to_string(), "2m0s");
        let json = serde_json::to_string(&d).expect("serialize");
        assert_eq!(json, "\"2m0s\"");
        let back: GoDuration = serde_json::from_str("\"90s\"").expect("deserialize");
        assert_eq!(back.get(), Duration::from_secs(90));
        assert!(serde_json::from_str::<GoDuration>("\"ninety\"").is_err());
    }
}
