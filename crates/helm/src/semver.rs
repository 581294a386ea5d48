//! Masterminds semver (v3) as Helm uses it: chart versions, dependency version ranges and
//! `kubeVersion` constraints (`>= 1.19.0-0`, `^1.2`, `~1.2.3`, `1.2.x`, `1.0 - 2.0`, `||`).
//!
//! Cargo's `semver` crate has different range semantics (no `||`, no hyphen ranges, other
//! pre-release rules), so the dialect Helm charts are written in is implemented by hand.
//! `driftless_core::semver` implements the same dialect for the controllers; this engine does
//! not depend on `driftless-core` because that crate brings the whole Kubernetes client stack
//! into a pure library (and into `driftless helm template`). Both should move into one small
//! dependency-free crate.

use std::cmp::Ordering;

/// A parsed version (`v` prefix and missing minor/patch allowed, as Masterminds' loose parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub build: String,
}

impl Version {
    /// Parses a version the way `semver.NewVersion` does.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let (main, build) = match s.split_once('+') {
            Some((m, b)) => (m, b.to_string()),
            None => (s, String::new()),
        };
        let (nums, pre) = match main.split_once('-') {
            Some((n, p)) => (n, p.to_string()),
            None => (main, String::new()),
        };
        let valid_ident = |x: &str| {
            x.is_empty()
                || x.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        };
        if !valid_ident(&pre) || !valid_ident(&build) {
            return None;
        }
        let parts: Vec<&str> = nums.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut n = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            if p.len() > 1 && p.starts_with('0') {
                return None;
            }
            n[i] = p.parse().ok()?;
        }
        Some(Version {
            major: n[0],
            minor: n[1],
            patch: n[2],
            pre,
            build,
        })
    }

    fn cmp_pre(a: &str, b: &str) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {}
        }
        let (ap, bp): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
        for (x, y) in ap.iter().zip(bp.iter()) {
            let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(i), Ok(j)) => i.cmp(&j),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        ap.len().cmp(&bp.len())
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| Version::cmp_pre(&self.pre, &o.pre))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Single {
    op: Op,
    v: Version,
    /// How many of major/minor/patch were given as numbers (wildcards count as missing).
    given: usize,
}

/// A constraint such as `>= 1.19.0-0 < 2.0.0 || ^3`.
#[derive(Debug, Clone)]
pub struct Constraint {
    any_of: Vec<Vec<Single>>,
}

impl Constraint {
    /// Parses a constraint; `None` when Masterminds would refuse it.
    pub fn parse(s: &str) -> Option<Constraint> {
        let mut any_of = Vec::new();
        for group in s.split("||") {
            let group = group.trim();
            if group.is_empty() {
                return None;
            }
            let mut all = Vec::new();
            // Hyphen ranges: "1.2 - 1.4".
            let tokens = tokenize(group);
            let mut i = 0;
            while i < tokens.len() {
                if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                    all.push(single(&format!(">={}", tokens[i]))?);
                    all.push(single(&format!("<={}", tokens[i + 2]))?);
                    i += 3;
                    continue;
                }
                all.push(single(&tokens[i])?);
                i += 1;
            }
            if all.is_empty() {
                return None;
            }
            any_of.push(all);
        }
        Some(Constraint { any_of })
    }

    /// Whether `v` satisfies the constraint.
    pub fn check(&self, v: &Version) -> bool {
        self.any_of.iter().any(|all| all.iter().all(|c| c.check(v)))
    }
}

/// Splits an AND group into constraints, joining an operator with the version after it.
fn tokenize(group: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let raw: Vec<&str> = group
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut pending = String::new();
    for t in raw {
        if t.chars().all(|c| "=!<>~^".contains(c)) {
            pending.push_str(t);
            continue;
        }
        out.push(format!("{pending}{t}"));
        pending.clear();
    }
    if !pending.is_empty() {
        out.push(pending);
    }
    out
}

fn single(s: &str) -> Option<Single> {
    let ops = [
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    let (mut op, rest) = ops
        .iter()
        .find_map(|(p, o)| s.strip_prefix(p).map(|r| (*o, r)))
        .unwrap_or((Op::Eq, s));
    let rest = rest.trim();
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (nums, tail) = match rest.find(['-', '+']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.len() > 3 || parts.is_empty() {
        return None;
    }
    let mut given = 0;
    let mut n = vec![];
    for p in &parts {
        if matches!(*p, "x" | "X" | "*") {
            break;
        }
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        n.push(p.to_string());
        given += 1;
    }
    if given == 0 && op == Op::Eq {
        // "*" / "x": anything.
        op = Op::Ge;
        return Some(Single {
            op,
            v: Version::parse("0.0.0")?,
            given: 0,
        });
    }
    while n.len() < 3 {
        n.push("0".into());
    }
    let v = Version::parse(&format!(
        "{}{}",
        n.join("."),
        if given == 3 { tail } else { "" }
    ))?;
    Some(Single { op, v, given })
}

impl Single {
    fn check(&self, v: &Version) -> bool {
        // A pre-release version only satisfies constraints that name a pre-release.
        if !v.pre.is_empty() && self.v.pre.is_empty() {
            return false;
        }
        let c = &self.v;
        let upper = |major: u64, minor: u64, patch: u64| Version {
            major,
            minor,
            patch,
            pre: String::new(),
            build: String::new(),
        };
        match self.op {
            Op::Eq => match self.given {
                0 => true,
                1 => v.major == c.major,
                2 => v.major == c.major && v.minor == c.minor,
                _ => v == c || (v.cmp(c) == Ordering::Equal),
            },
            Op::Ne => match self.given {
                0 => false,
                1 => v.major != c.major,
                2 => !(v.major == c.major && v.minor == c.minor),
                _ => v.cmp(c) != Ordering::Equal,
            },
            Op::Gt => match self.given {
                1 => v.major > c.major,
                2 => v.major > c.major || (v.major == c.major && v.minor > c.minor),
                _ => v > c,
            },
            Op::Lt => v < c,
            Op::Ge => v >= c,
            Op::Le => match self.given {
                1 => v.major <= c.major,
                2 => v.major < c.major || (v.major == c.major && v.minor <= c.minor),
                _ => v <= c,
            },
            Op::Tilde => {
                let hi = if self.given <= 1 {
                    upper(c.major + 1, 0, 0)
                } else {
                    upper(c.major, c.minor + 1, 0)
                };
                v >= c && *v < hi
            }
            Op::Caret => {
                let hi = if c.major > 0 || self.given <= 1 {
                    upper(c.major + 1, 0, 0)
                } else if c.minor > 0 || self.given == 2 {
                    upper(0, c.minor + 1, 0)
                } else {
                    upper(0, 0, c.patch + 1)
                };
                v >= c && *v < hi
            }
        }
    }
}

/// Helm's `chartutil.IsCompatibleRange`: false when either side does not parse.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    match (Constraint::parse(constraint), Version::parse(version)) {
        (Some(c), Some(v)) => c.check(&v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(is_compatible_range(">= 1.19.0-0", "v1.20.0"));
        assert!(!is_compatible_range(">= 1.21.0-0", "v1.20.0"));
        assert!(is_compatible_range("^1.2.0", "1.9.3"));
        assert!(!is_compatible_range("^1.2.0", "2.0.0"));
        assert!(is_compatible_range("~1.2.3", "1.2.9"));
        assert!(!is_compatible_range("~1.2.3", "1.3.0"));
        assert!(is_compatible_range("1.2.x", "1.2.7"));
        assert!(is_compatible_range("*", "0.1.0"));
        assert!(is_compatible_range(">1.0 <2.0 || 3.x", "3.1.0"));
        assert!(is_compatible_range("1.0.0 - 1.5.0", "1.4.0"));
        assert!(!is_compatible_range("1.0.0", "1.0.1"));
        assert!(!is_compatible_range(">=1.0.0", "1.2.0-beta.1"));
        assert!(!is_compatible_range("", "1.0.0"));
        assert!(!is_compatible_range("garbage", "1.0.0"));
    }
}
