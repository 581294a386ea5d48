//! Sprig's dates, semver and crypto functions.

use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, TimeZone as _, Utc};

use super::{Body, int, s};
use crate::value::{Map, Object, Value};
use crate::{Call, FuncError};

type Res = Result<Value, FuncError>;

/// A Go `time.Time`: an instant, its offset and its zone's name as Go prints it for `MST`
/// (`CET`, `UTC`; empty for a fixed offset read from text, printed as `+0200`).
#[derive(Debug, Clone)]
pub(crate) struct GoTime {
    t: DateTime<FixedOffset>,
    zone: Arc<str>,
}

impl GoTime {
    /// The instant in UTC (Go's `Local` here: Helm renders in the process's zone, UTC in
    /// containers and in the conformance oracle).
    fn utc(t: DateTime<FixedOffset>) -> GoTime {
        GoTime {
            t: t.with_timezone(&Utc).fixed_offset(),
            zone: Arc::from("UTC"),
        }
    }

    /// A time read with a numeric offset: Go names it after the local zone when the offset
    /// matches (UTC), otherwise leaves the name empty.
    fn fixed(t: DateTime<FixedOffset>) -> GoTime {
        if t.offset().local_minus_utc() == 0 {
            return GoTime::utc(t);
        }
        GoTime {
            t,
            zone: Arc::from(""),
        }
    }

    /// The same instant in the IANA zone `name` (`time.LoadLocation`): `""` and `UTC` are
    /// UTC, `Local` is UTC (see [`GoTime::utc`]); `None` for an unknown zone.
    fn in_zone(&self, name: &str) -> Option<GoTime> {
        use chrono::Offset as _;
        use chrono_tz::OffsetName as _;
        if matches!(name, "" | "UTC" | "Local") {
            return Some(GoTime::utc(self.t));
        }
        let tz: chrono_tz::Tz = name.parse().ok()?;
        let t = self.t.with_timezone(&tz);
        let off = t.offset().fix().local_minus_utc();
        // Zones without a letter abbreviation are named by their offset in the tz database
        // (`-03`, `+0530`); chrono-tz gives none for them.
        let zone = match t.offset().abbreviation() {
            Some(a) if !a.is_empty() => a.to_string(),
            _ => {
                let (sign, a) = (if off < 0 { '-' } else { '+' }, off.abs());
                match (a / 3600, (a % 3600) / 60) {
                    (h, 0) => format!("{sign}{h:02}"),
                    (h, m) => format!("{sign}{h:02}{m:02}"),
                }
            }
        };
        Some(GoTime {
            t: t.with_timezone(&t.offset().fix()),
            zone: Arc::from(zone),
        })
    }

    fn format(&self, layout: &str) -> String {
        go_format(&self.t, &self.zone, layout)
    }
}

/// A Go integer type whose `String()` is a name (`time.Month`, `time.Weekday`): `{{ . }}`
/// prints the name, `%d` the number.
#[derive(Debug)]
struct Named {
    type_name: &'static str,
    n: i64,
    name: &'static str,
}

impl Object for Named {
    fn type_name(&self) -> &str {
        self.type_name
    }
    fn kind_name(&self) -> &'static str {
        "int"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn display(&self) -> Option<String> {
        Some(self.name.to_string())
    }
    fn to_value(&self) -> Value {
        Value::Int(self.n)
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl Object for GoTime {
    fn type_name(&self) -> &str {
        "time.Time"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        use chrono::{Datelike as _, Timelike as _};
        let t = &self.t;
        let int = |n: u32| Value::Int(i64::from(n));
        Some(Ok(match name {
            "Unix" => Value::Int64(t.timestamp()),
            "UnixNano" => Value::Int64(t.timestamp_nanos_opt().unwrap_or(0)),
            "Year" => Value::Int(i64::from(t.year())),
            "Month" => Value::Object(Arc::new(Named {
                type_name: "time.Month",
                n: i64::from(t.month()),
                name: MONTHS[t.month0() as usize],
            })),
            "Day" => int(t.day()),
            "YearDay" => int(t.ordinal()),
            "Weekday" => {
                let d = t.weekday().num_days_from_sunday();
                Value::Object(Arc::new(Named {
                    type_name: "time.Weekday",
                    n: i64::from(d),
                    name: DAYS[d as usize],
                }))
            }
            "Hour" => int(t.hour()),
            "Minute" => int(t.minute()),
            "Second" => int(t.second()),
            "Nanosecond" => int(t.nanosecond()),
            "UTC" | "Local" => time_value(GoTime::utc(*t)),
            "IsZero" => Value::Bool(t.timestamp() == -62135596800 && t.nanosecond() == 0),
            "Format" => Value::str(self.format(args.first().and_then(Value::as_str).unwrap_or(""))),
            _ => return None,
        }))
    }
    fn display(&self) -> Option<String> {
        Some(self.format("2006-01-02 15:04:05.999999999 -0700 MST"))
    }
    fn to_value(&self) -> Value {
        Value::str(self.format("2006-01-02T15:04:05.999999999Z07:00"))
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn time_value(t: GoTime) -> Value {
    Value::Object(Arc::new(t))
}

fn now(c: &Call<'_, '_>) -> GoTime {
    GoTime::utc(c.templates().now.unwrap_or_else(Utc::now).fixed_offset())
}

/// Sprig's `date`-family argument: a time, or Unix seconds as an int; anything else is now.
fn to_time(c: &Call<'_, '_>, v: &Value) -> GoTime {
    match v {
        Value::Int(i) | Value::Int64(i) => Utc
            .timestamp_opt(*i, 0)
            .single()
            .map(|t| GoTime::utc(t.fixed_offset()))
            .unwrap_or_else(|| now(c)),
        v => as_time(v).unwrap_or_else(|| now(c)),
    }
}

fn as_time(v: &Value) -> Option<GoTime> {
    match v {
        Value::Object(o) => o.as_any()?.downcast_ref::<GoTime>().cloned(),
        _ => None,
    }
}

/// Sprig's `dateInZone`: the time in zone `zone`, or in UTC when Go cannot load the zone.
fn date_in_zone(c: &Call<'_, '_>, layout: &str, v: &Value, zone: &str) -> Value {
    let t = to_time(c, v);
    let t = t.in_zone(zone).unwrap_or_else(|| GoTime::utc(t.t));
    Value::str(t.format(layout))
}

/// Formats with a Go layout (`2006-01-02T15:04:05Z07:00`); `zone` is what `MST` prints (a
/// numeric `-0700` when empty).
pub(crate) fn go_format(t: &DateTime<FixedOffset>, zone: &str, layout: &str) -> String {
    use chrono::{Datelike as _, Timelike as _};
    let mut out = String::new();
    let mut rest = layout;
    let off = t.offset().local_minus_utc();
    let zone = if zone.is_empty() {
        format!("{:+03}{:02}", off / 3600, (off.abs() % 3600) / 60)
    } else {
        zone.to_string()
    };
    let weekday = DAYS[t.weekday().num_days_from_sunday() as usize];
    let month = MONTHS[t.month0() as usize];
    while !rest.is_empty() {
        // Fractional seconds: `.000`/`,000` (that many digits) or `.999` (trailing zeros
        // trimmed, nothing at all for zero), not followed by another digit.
        let b = rest.as_bytes();
        if matches!(b[0], b'.' | b',') && b.len() > 1 && matches!(b[1], b'0' | b'9') {
            let n = b[1..].iter().take_while(|c| **c == b[1]).count();
            if !b.get(1 + n).is_some_and(u8::is_ascii_digit) {
                let digits = format!("{:09}", t.nanosecond());
                let digits = &digits[..n.min(9)];
                if b[1] == b'0' {
                    out.push(b[0] as char);
                    out.push_str(digits);
                } else {
                    let d = digits.trim_end_matches('0');
                    if !d.is_empty() {
                        out.push(b[0] as char);
                        out.push_str(d);
                    }
                }
                rest = &rest[1 + n..];
                continue;
            }
        }
        let lower_next = |n: usize| rest[n..].starts_with(|c: char| c.is_ascii_lowercase());
        let tokens: [(&str, &dyn Fn() -> String); 32] = [
            ("January", &|| month.to_string()),
            ("Jan", &|| month[..3].to_string()),
            ("Monday", &|| weekday.to_string()),
            ("Mon", &|| weekday[..3].to_string()),
            ("MST", &|| zone.clone()),
            ("2006", &|| format!("{:04}", t.year())),
            ("-07:00:00", &|| offset(off, true, true, false)),
            ("-0700", &|| offset(off, false, false, false)),
            ("-07:00", &|| offset(off, true, false, false)),
            ("-07", &|| format!("{:+03}", off / 3600)),
            ("Z07:00", &|| offset(off, true, false, true)),
            ("Z0700", &|| offset(off, false, false, true)),
            ("Z07", &|| {
                if off == 0 {
                    "Z".into()
                } else {
                    format!("{:+03}", off / 3600)
                }
            }),
            ("002", &|| format!("{:03}", t.ordinal())),
            ("01", &|| format!("{:02}", t.month())),
            ("02", &|| format!("{:02}", t.day())),
            ("__2", &|| format!("{:>3}", t.ordinal())),
            ("_2006", &|| format!("_{:04}", t.year())),
            ("_2", &|| format!("{:>2}", t.day())),
            ("03", &|| format!("{:02}", hour12(t.hour()))),
            ("04", &|| format!("{:02}", t.minute())),
            ("05", &|| format!("{:02}", t.second())),
            ("06", &|| format!("{:02}", t.year() % 100)),
            ("15", &|| format!("{:02}", t.hour())),
            ("PM", &|| {
                if t.hour() >= 12 {
                    "PM".into()
                } else {
                    "AM".into()
                }
            }),
            ("pm", &|| {
                if t.hour() >= 12 {
                    "pm".into()
                } else {
                    "am".into()
                }
            }),
            ("1", &|| t.month().to_string()),
            ("2", &|| t.day().to_string()),
            ("3", &|| hour12(t.hour()).to_string()),
            ("4", &|| t.minute().to_string()),
            ("5", &|| t.second().to_string()),
            ("", &String::new),
        ];
        let mut matched = false;
        for (tok, f) in tokens.iter() {
            // `Jan` and `Mon` only when no lower-case letter follows (`Month` is literal).
            if tok.is_empty()
                || !rest.starts_with(tok)
                || (matches!(*tok, "Jan" | "Mon") && lower_next(3))
            {
                continue;
            }
            out.push_str(&f());
            rest = &rest[tok.len()..];
            matched = true;
            break;
        }
        if !matched {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn hour12(h: u32) -> u32 {
    match h % 12 {
        0 => 12,
        x => x,
    }
}

fn offset(off: i32, colon: bool, secs: bool, z: bool) -> String {
    if z && off == 0 {
        return "Z".into();
    }
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    let (h, m, s) = (a / 3600, (a % 3600) / 60, a % 60);
    match (colon, secs) {
        (true, true) => format!("{sign}{h:02}:{m:02}:{s:02}"),
        (true, false) => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}{m:02}"),
    }
}

/// Go's `time.Duration.String()`.
pub(crate) fn duration_string(ns: i128) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (v, unit) = if u < 1_000 {
            (u.to_string(), "ns")
        } else if u < 1_000_000 {
            (trim_frac(u, 1_000), "µs")
        } else {
            (trim_frac(u, 1_000_000), "ms")
        };
        out.push_str(&v);
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let h = secs / 3600;
        let m = (secs % 3600) / 60;
        let s = secs % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        let sfrac = if frac == 0 {
            String::new()
        } else {
            format!(".{frac:09}").trim_end_matches('0').to_string()
        };
        out.push_str(&format!("{s}{sfrac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn trim_frac(u: u128, unit: u128) -> String {
    let i = u / unit;
    let f = u % unit;
    if f == 0 {
        return i.to_string();
    }
    let width = unit.to_string().len() - 1;
    let fs = format!("{f:0width$}");
    format!("{i}.{}", fs.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * mult;
    }
    let v = total as i128;
    Some(if neg { -v } else { v })
}

fn round_duration(d: i128) -> String {
    let u = d.unsigned_abs();
    let second: u128 = 1_000_000_000;
    let minute = 60 * second;
    let hour = 60 * minute;
    let day = 24 * hour;
    let month = 30 * day;
    let year = 365 * day;
    for (unit, name) in [
        (year, "y"),
        (month, "mo"),
        (day, "d"),
        (hour, "h"),
        (minute, "m"),
        (second, "s"),
    ] {
        if u > unit {
            return format!("{}{name}", u / unit);
        }
    }
    "0s".into()
}

/// A Masterminds `*semver.Version`.
#[derive(Debug)]
struct SemverObj {
    v: driftless_semver::Version,
    original: String,
}

impl Object for SemverObj {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Major" => Some(Value::Int(self.v.major() as i64)),
            "Minor" => Some(Value::Int(self.v.minor() as i64)),
            "Patch" => Some(Value::Int(self.v.patch() as i64)),
            "Prerelease" => Some(Value::str(self.v.pre_release())),
            "Metadata" => Some(Value::str(self.v.build())),
            "Original" => Some(Value::str(&self.original)),
            _ => None,
        }
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let (major, minor, patch) = (self.v.major(), self.v.minor(), self.v.patch());
        let next = match name {
            "IncMajor" => (major + 1, 0, 0),
            "IncMinor" => (major, minor + 1, 0),
            // A pre-release's next patch is its release.
            "IncPatch" if self.v.is_pre_release() => (major, minor, patch),
            "IncPatch" => (major, minor, patch + 1),
            "String" => return Some(Ok(Value::str(self.v.to_string()))),
            "Compare" | "GreaterThan" | "LessThan" | "Equal" => {
                let other = args
                    .first()
                    .and_then(|a| match a {
                        Value::Object(o) => o.as_any()?.downcast_ref::<SemverObj>(),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        format!(
                            "wrong type for value; expected *semver.Version; got {}",
                            args.first().map_or("<nil>", |a| a.type_name())
                        )
                    });
                let ord = match other {
                    Ok(o) => self.v.cmp(&o.v),
                    Err(e) => return Some(Err(e)),
                };
                return Some(Ok(match name {
                    "Compare" => Value::Int(ord as i64),
                    "GreaterThan" => Value::Bool(ord.is_gt()),
                    "LessThan" => Value::Bool(ord.is_lt()),
                    _ => Value::Bool(ord.is_eq()),
                }));
            }
            _ => return None,
        };
        let prefix = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        let text = format!("{}.{}.{}", next.0, next.1, next.2);
        Some(
            driftless_semver::Version::parse(&text)
                .map(|v| {
                    Value::Object(Arc::new(SemverObj {
                        v,
                        original: format!("{prefix}{text}"),
                    }))
                })
                .map_err(|e| e.to_string()),
        )
    }
    fn display(&self) -> Option<String> {
        Some(self.v.to_string())
    }
    fn to_value(&self) -> Value {
        Value::str(self.display().unwrap_or_default())
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Go's `bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)`: `$2a$10$…`.
fn bcrypt_hash(pw: &str) -> Result<String, FuncError> {
    bcrypt::hash_with_result(pw, 10)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| FuncError::Message(e.to_string()))
}

pub(super) fn register(add: &mut dyn FnMut(&str, &str, Body)) {
    add("now", "", |c, _| Ok(time_value(now(c))));
    add("date", "S A", |c, a| {
        Ok(date_in_zone(c, s(&a, 0), &a[1], "Local"))
    });
    add("dateInZone", "S A S", |c, a| {
        Ok(date_in_zone(c, s(&a, 0), &a[1], s(&a, 2)))
    });
    add("date_in_zone", "S A S", |c, a| {
        Ok(date_in_zone(c, s(&a, 0), &a[1], s(&a, 2)))
    });
    add("htmlDate", "A", |c, a| {
        Ok(date_in_zone(c, "2006-01-02", &a[0], "Local"))
    });
    add("htmlDateInZone", "A S", |c, a| {
        Ok(date_in_zone(c, "2006-01-02", &a[0], s(&a, 1)))
    });
    add("unixEpoch", "A", |c, a| {
        Ok(Value::str(to_time(c, &a[0]).t.timestamp().to_string()))
    });
    add("dateModify", "S A", |_, a| date_modify(&a, false));
    add("date_modify", "S A", |_, a| date_modify(&a, false));
    add("mustDateModify", "S A", |_, a| date_modify(&a, true));
    add("must_date_modify", "S A", |_, a| date_modify(&a, true));
    add("ago", "A", |c, a| {
        let t = to_time(c, &a[0]).t;
        let d = now(c).t - t;
        let secs = (d.num_milliseconds() as f64 / 1000.0).round() as i128;
        Ok(Value::str(duration_string(secs * 1_000_000_000)))
    });
    add("duration", "A", |_, a| {
        let n: i64 = match &a[0] {
            Value::String(s) => s.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(Value::str(duration_string(i128::from(n) * 1_000_000_000)))
    });
    add("durationRound", "A", |c, a| {
        let d: i128 = match &a[0] {
            Value::String(s) => parse_duration(s).unwrap_or(0),
            Value::Object(_) => match as_time(&a[0]) {
                Some(t) => i128::from((now(c).t - t.t).num_nanoseconds().unwrap_or(0)),
                None => 0,
            },
            _ => 0,
        };
        Ok(Value::str(round_duration(d)))
    });
    add("toDate", "S S", |_, a| to_date(s(&a, 0), s(&a, 1), false));
    add("mustToDate", "S S", |_, a| {
        to_date(s(&a, 0), s(&a, 1), true)
    });
    add("semver", "S", |_, a| {
        let v = driftless_semver::Version::parse(s(&a, 0))
            .map_err(|_| FuncError::from("Invalid Semantic Version"))?;
        Ok(Value::Object(Arc::new(SemverObj {
            v,
            original: s(&a, 0).to_string(),
        })))
    });
    add("semverCompare", "S S", |_, a| {
        let c = driftless_semver::Constraint::parse(s(&a, 0))
            .map_err(|_| FuncError::from(format!("improper constraint: {}", s(&a, 0))))?;
        let v = driftless_semver::Version::parse(s(&a, 1))
            .map_err(|_| FuncError::from("Invalid Semantic Version"))?;
        Ok(Value::Bool(c.matches(&v)))
    });
    add("bcrypt", "S", |_, a| Ok(Value::str(bcrypt_hash(s(&a, 0))?)));
    add("htpasswd", "S S", |_, a| {
        let user = s(&a, 0);
        if user.contains(':') {
            return Ok(Value::str(format!("invalid username: {user}")));
        }
        Ok(Value::str(format!("{user}:{}", bcrypt_hash(s(&a, 1))?)))
    });
    super::certs::register(add);
    super::secrets::register(add);
    let _ = int;
    let _: Option<Map> = None;
}

fn date_modify(a: &[Value], must: bool) -> Res {
    let t = as_time(&a[1]).ok_or_else(|| {
        FuncError::from(format!(
            "wrong type for value; expected time.Time; got {}",
            a[1].type_name()
        ))
    })?;
    match parse_duration(s(a, 0)) {
        Some(d) => Ok(time_value(GoTime {
            t: t.t + Duration::nanoseconds(d as i64),
            zone: t.zone,
        })),
        None if must => Err(format!(
            "time: invalid duration {}",
            crate::format::go_quote(s(a, 0))
        )
        .into()),
        None => Ok(a[1].clone()),
    }
}

/// Converts a Go layout to a chrono format string (for parsing).
fn layout_to_chrono(layout: &str) -> String {
    let mut out = String::new();
    let mut rest = layout;
    let map: [(&str, &str); 22] = [
        ("January", "%B"),
        ("Jan", "%b"),
        ("Monday", "%A"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("2006", "%Y"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("Z07:00", "%:z"),
        ("Z0700", "%z"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("15", "%H"),
        ("PM", "%p"),
        (".000", "%.3f"),
        ("1", "%-m"),
        ("2", "%-d"),
    ];
    while !rest.is_empty() {
        if let Some((tok, f)) = map.iter().find(|(t, _)| rest.starts_with(t)) {
            out.push_str(f);
            rest = &rest[tok.len()..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn to_date(layout: &str, value: &str, must: bool) -> Res {
    let f = layout_to_chrono(layout);
    let parsed = DateTime::parse_from_str(value, &f).ok().or_else(|| {
        chrono::NaiveDateTime::parse_from_str(value, &f)
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(value, &f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
            .map(|n| Utc.from_utc_datetime(&n).fixed_offset())
    });
    match parsed {
        Some(t) => Ok(time_value(GoTime::fixed(t))),
        None if must => Err(format!(
            "parsing time {} as {}: cannot parse",
            crate::format::go_quote(value),
            crate::format::go_quote(layout)
        )
        .into()),
        None => Ok(time_value(GoTime::utc(
            Utc.timestamp_opt(-62135596800, 0)
                .single()
                .unwrap_or_default()
                .fixed_offset(),
        ))),
    }
}
