//! Masterminds-compatible semantic versions and constraints: the dialect Flux and Helm use.
//!
//! Flux selects Git tags (`spec.ref.semver`), OCI tags, Helm chart versions and image tags
//! (ImagePolicy `semver.range`) with Go's `github.com/Masterminds/semver/v3`. A manifest written
//! for Flux must select the same version on Driftless, so this module follows that library's
//! rules rather than Cargo's (the `semver` crate differs on coercion, wildcards, `=`, hyphen
//! ranges and pre-releases). Written by hand because no Rust crate implements this dialect.
//!
//! Versions ([`Version::parse`], like Masterminds' `NewVersion`):
//! - an optional `v` prefix, and partial versions coerced: `v1.2` is `1.2.0`, `1` is `1.0.0`;
//! - pre-release (`-rc.1`) and build metadata (`+build.5`) per semver 2.0; numeric pre-release
//!   identifiers may not have leading zeros; four numeric parts (`1.2.3.4`) are refused;
//! - ordering is semver 2.0 precedence; build metadata is ignored by comparison and equality;
//! - [`Version::parse_strict`] is Flux's rule for tags: complete versions only, optional `v`.
//!   [`latest_matching`] uses it, as Flux's tag selection does.
//!
//! Constraints ([`Constraint::parse`], like `NewConstraint`):
//! - `||` separates alternatives; within one, comparators are ANDed, separated by spaces or
//!   commas: `>= 1.2, < 3.0.0 || >= 4.2.3`;
//! - operators `=` (or none), `!=`, `>`, `<`, `>=`/`=>`, `<=`/`=<`, `~`/`~>` (patch-level
//!   range), `^` (major-level range; below 1.0.0 the minor, then the patch, is the API level);
//! - `x`, `X` and `*` are wildcards in any position (`1.2.x`, `2.*`, `*`), missing parts act as
//!   wildcards (`<= 2` means `< 3`); a bare or `=` wildcard is a tilde range;
//! - hyphen ranges `1.2 - 1.4.5` mean `>= 1.2, <= 1.4.5` (spaces around `-` are required; without
//!   them `1.1-3` is the pre-release version `1.1.0-3`);
//! - pre-releases: a version with a pre-release matches an AND group only if some comparator in
//!   that group has a pre-release itself (`>= 1.2.3-0`). Unlike npm, the pre-release may then
//!   belong to any `major.minor.patch` the range allows (`^1.1.2-alpha` matches `1.2.1-beta1`).
//!   Masterminds documents this difference from npm on purpose; we follow Masterminds.
//!
//! An empty constraint string is an error (as with `NewConstraint`); use `*` for "any release".
//!
//! A crate of its own, with no dependency on Kubernetes, so that the pure engines (the Go
//! template engine's Sprig functions, Helm's chart dependencies and `kubeVersion`) and the
//! controllers (through `driftless_core::semver`) share one implementation.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Longest version or constraint text we parse; longer input is refused rather than scanned,
/// so a hostile tag list cannot make parsing expensive.
const MAX_INPUT_LEN: usize = 1024;

/// Why a version or constraint did not parse. Both variants carry the offending text, so the
/// message can go straight into a condition a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a version in the Masterminds dialect.
    #[error("invalid version {input:?}: {reason}")]
    InvalidVersion {
        /// The text that was parsed.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The text is not a constraint in the Masterminds dialect.
    #[error("invalid semver constraint {input:?}: {reason}")]
    InvalidConstraint {
        /// The whole constraint text.
        input: String,
        /// What is wrong, naming the offending part.
        reason: String,
    },
}

/// A semantic version, parsed with Masterminds' coercing rules.
///
/// Equality, ordering and hashing follow semver precedence: build metadata is ignored, so
/// `1.2.3+a == 1.2.3+b`. [`Version::original`] keeps the text it was parsed from (a tag name,
/// for instance), and `Display` prints the normalized form (`v1.2` prints as `1.2.0`).
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    build: String,
    original: String,
}

impl Version {
    /// Parses a version the way Masterminds' `NewVersion` does: optional `v`, partial versions
    /// coerced (`1.2` -> `1.2.0`), optional pre-release and build metadata.
    pub fn parse(input: &str) -> Result<Version, Error> {
        let bad = |reason: &str| Error::InvalidVersion {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.len() > MAX_INPUT_LEN {
            return Err(bad("longer than 1024 bytes"));
        }
        let rest = input.strip_prefix('v').unwrap_or(input);
        let (core, pre, build) = split_pre_build(rest).map_err(|r| bad(&r))?;
        if core.is_empty() {
            return Err(bad(if input.is_empty() {
                "empty string"
            } else {
                "missing major version"
            }));
        }
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3 {
            return Err(bad("more than three numeric parts"));
        }
        let mut nums = [0u64; 3];
        for (i, part) in parts.iter().enumerate() {
            nums[i] = parse_number(part).map_err(|r| bad(&r))?;
        }
        Ok(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre: pre.to_string(),
            build: build.to_string(),
            original: input.to_string(),
        })
    }

    /// Parses a complete `major.minor.patch` version (optional pre-release and build metadata)
    /// with an optional `v` prefix, refusing partial versions and leading zeros: the rule Flux
    /// applies to tags (`fluxcd/pkg/version.ParseVersion`, i.e. Masterminds' `StrictNewVersion`
    /// after dropping a `v`), so `v1.2.3` is a release tag but `1.2` or `v1` is not.
    pub fn parse_strict(input: &str) -> Result<Version, Error> {
        let version = Version::parse(input)?;
        let unprefixed = input.strip_prefix('v').unwrap_or(input);
        let core = unprefixed.split(['-', '+']).next().unwrap_or(unprefixed);
        let parts: Vec<&str> = core.split('.').collect();
        let reason = if parts.len() != 3 {
            Some("a strict version needs major.minor.patch")
        } else if parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
            Some("a numeric part starts with 0")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidVersion {
                input: input.to_string(),
                reason: reason.to_string(),
            }),
            None => Ok(version),
        }
    }

    /// The major version.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor version (0 when the text omitted it).
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch version (0 when the text omitted it).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release without its `-` (empty for a release).
    pub fn pre_release(&self) -> &str {
        &self.pre
    }

    /// The build metadata without its `+` (empty when absent).
    pub fn build(&self) -> &str {
        &self.build
    }

    /// The text this version was parsed from, e.g. the tag `v1.2`.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Whether this is a pre-release, which constraints skip unless they ask for one.
    pub fn is_pre_release(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Version with the same numbers, used for the lower bound a constraint compares with.
    fn numbers(major: u64, minor: u64, patch: u64, pre: &str) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: pre.to_string(),
            build: String::new(),
            original: String::new(),
        }
    }
}

/// Splits `1.2.3-pre+build` into its three parts and validates the identifiers of the last two.
fn split_pre_build(s: &str) -> Result<(&str, &str, &str), String> {
    let (rest, build) = match s.split_once('+') {
        Some((rest, build)) => {
            validate_identifiers(build, "build metadata", false)?;
            (rest, build)
        }
        None => (s, ""),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => {
            validate_identifiers(pre, "pre-release", true)?;
            (core, pre)
        }
        None => (rest, ""),
    };
    Ok((core, pre, build))
}

/// Semver 2.0 identifiers: non-empty, `[0-9A-Za-z-]`, and for pre-releases numeric identifiers
/// without leading zeros.
fn validate_identifiers(s: &str, what: &str, numeric_no_leading_zero: bool) -> Result<(), String> {
    for id in s.split('.') {
        if id.is_empty() {
            return Err(format!("empty {what} identifier"));
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!(
                "{what} identifier {id:?} has characters outside [0-9A-Za-z-]"
            ));
        }
        if numeric_no_leading_zero
            && id.len() > 1
            && id.starts_with('0')
            && id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("numeric {what} identifier {id:?} starts with 0"));
        }
    }
    Ok(())
}

fn parse_number(part: &str) -> Result<u64, String> {
    if part.is_empty() {
        return Err("empty numeric part".to_string());
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{part:?} is not a number"));
    }
    part.parse::<u64>()
        .map_err(|_| format!("{part:?} does not fit in 64 bits"))
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: build metadata and original text are not part of identity.
        (self.major, self.minor, self.patch, &self.pre).hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// Semver 2.0 precedence: numbers, then a release above its pre-releases, then pre-release
    /// identifiers left to right (numeric ones numerically and below alphanumeric ones).
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre_release(&self.pre, &other.pre))
    }
}

fn compare_pre_release(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = compare_identifier(x, y);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

fn compare_identifier(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        // Numbers of any length: strip leading zeros (allowed in constraint text only by
        // accident) and compare by length, then digits.
        (true, true) => {
            let a = a.trim_start_matches('0');
            let b = b.trim_start_matches('0');
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

/// A comparison operator of one comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or no operator: equality, or a tilde range when the version has wildcards.
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

/// Which part of a comparator's version was a wildcard (`x`, `X`, `*`) or missing. Everything
/// after the first wildcard part is ignored, as in Masterminds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wild {
    /// `1.2.3`: no wildcard.
    None,
    /// `1.2`, `1.2.x`: any patch.
    Patch,
    /// `1`, `1.x`: any minor.
    Minor,
    /// `*`, `x`: any major.
    Major,
}

/// One comparator: an operator and a (possibly wildcarded) version.
#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    /// The version with wildcard parts set to 0.
    version: Version,
    wild: Wild,
}

impl Comparator {
    /// Checks the version against this comparator. Whether pre-release versions may match at
    /// all is decided per AND group by the caller.
    fn matches(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Equal => {
                if self.wild == Wild::None {
                    v == c
                } else {
                    self.tilde(v)
                }
            }
            Op::NotEqual => self.not_equal(v),
            Op::Greater => match self.wild {
                Wild::None | Wild::Major => v > c,
                // `>1` means 2.0.0 or above.
                Wild::Minor => v.major > c.major,
                // `>1.1` means 1.2.0 or above.
                Wild::Patch => v.major > c.major || (v.major == c.major && v.minor > c.minor),
            },
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual => match self.wild {
                Wild::None => v <= c,
                // `<=2` and `<=2.x` mean below 3.0.0, `<=1.1` below 1.2.0. (Masterminds applies
                // the minor rule to `<=*` too, so it only admits 0.0.z; we keep that quirk.)
                Wild::Minor => v.major <= c.major,
                Wild::Patch | Wild::Major => {
                    v.major < c.major || (v.major == c.major && v.minor <= c.minor)
                }
            },
            Op::Tilde => self.tilde(v),
            Op::Caret => self.caret(v),
        }
    }

    /// `~1.2.3` is `>=1.2.3 <1.3.0`; `~1` is `>=1 <2`; `~*` and `~0.0.0` match everything.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.major == 0
            && c.minor == 0
            && c.patch == 0
            && matches!(self.wild, Wild::None | Wild::Major)
        {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.wild == Wild::Minor
    }

    /// `^1.2.3` is `>=1.2.3 <2`; below 1.0.0 the first non-zero part is the API level:
    /// `^0.2.3` is `>=0.2.3 <0.3.0`, `^0.0.3` is `=0.0.3`, `^0.0` is `<0.1.0`, `^0` is `<1`.
    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.major > 0 || self.wild == Wild::Minor {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.wild == Wild::Patch {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        v.patch == c.patch
    }

    /// `!=1.2.3` excludes one version; `!=4.x` excludes a whole major, `!=4.1` a whole minor
    /// (a pre-release in the constraint or the version narrows that to the pre-release).
    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.wild != Wild::None {
            if c.major != v.major {
                return true;
            }
            match self.wild {
                Wild::Minor => return false,
                Wild::Patch => {
                    if c.minor != v.minor {
                        return true;
                    }
                    if v.is_pre_release() || c.is_pre_release() {
                        return compare_pre_release(&v.pre, &c.pre) != Ordering::Equal;
                    }
                    return false;
                }
                // `!=*`: compare with 0.0.0 below, as Masterminds does.
                Wild::Major | Wild::None => {}
            }
        }
        v != c
    }
}

/// A parsed Masterminds constraint: alternatives (`||`) of AND groups of comparators.
///
/// `Display` prints the text it was parsed from.
#[derive(Debug, Clone)]
pub struct Constraint {
    groups: Vec<Group>,
    original: String,
}

#[derive(Debug, Clone)]
struct Group {
    comparators: Vec<Comparator>,
    /// Whether some comparator names a pre-release, which lets pre-release versions match.
    allows_pre_release: bool,
}

impl Constraint {
    /// Parses a constraint such as `>= 1.2, < 2 || ^3.1`, `~1.2.x` or `1.2 - 1.4.5`.
    ///
    /// The error names the whole text and the part that did not parse.
    pub fn parse(input: &str) -> Result<Constraint, Error> {
        let bad = |reason: String| Error::InvalidConstraint {
            input: input.to_string(),
            reason,
        };
        if input.len() > MAX_INPUT_LEN {
            return Err(bad("longer than 1024 bytes".to_string()));
        }
        if input.trim().is_empty() {
            return Err(bad(
                "empty constraint (use \"*\" to allow any release)".to_string()
            ));
        }
        let mut groups = Vec::new();
        for alternative in input.split("||") {
            let comparators = parse_group(alternative).map_err(bad)?;
            let allows_pre_release = comparators.iter().any(|c| c.version.is_pre_release());
            groups.push(Group {
                comparators,
                allows_pre_release,
            });
        }
        Ok(Constraint {
            groups,
            original: input.to_string(),
        })
    }

    /// Whether the version satisfies some alternative of the constraint.
    ///
    /// A pre-release version only matches an alternative that itself mentions a pre-release
    /// (see the module documentation).
    pub fn matches(&self, version: &Version) -> bool {
        self.groups.iter().any(|group| {
            (!version.is_pre_release() || group.allows_pre_release)
                && group.comparators.iter().all(|c| c.matches(version))
        })
    }

    /// The text this constraint was parsed from.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl FromStr for Constraint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Constraint::parse(s)
    }
}

/// Picks the highest version among `candidates` (tag names, chart versions) that satisfies the
/// constraint, returning the candidate text and its parsed version.
///
/// This is Flux's semver tag selection (GitRepository and OCIRepository `ref.semver`, ImagePolicy
/// `semver.range`): candidates are parsed with [`Version::parse_strict`], so tags that are not
/// complete versions (`latest`, `release-2024`, `1.2`, `v1`) are skipped, not coerced. When two
/// candidates have equal precedence (`v1.2.0` and `1.2.0+build`), the one whose text sorts last
/// wins, so the answer does not depend on the order the registry listed them.
pub fn latest_matching<'a>(
    constraint: &Constraint,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<(&'a str, Version)> {
    let mut best: Option<(&'a str, Version)> = None;
    for candidate in candidates {
        let Ok(version) = Version::parse_strict(candidate) else {
            continue;
        };
        if !constraint.matches(&version) {
            continue;
        }
        let better = match &best {
            None => true,
            Some((text, current)) => version
                .cmp(current)
                .then_with(|| candidate.cmp(text))
                .is_gt(),
        };
        if better {
            best = Some((candidate, version));
        }
    }
    best
}

/// Parses one AND group: comparators separated by whitespace or a comma, with hyphen ranges.
fn parse_group(text: &str) -> Result<Vec<Comparator>, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(format!("empty alternative in {:?}", text.trim()));
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Token::Word(word) = tokens[i] else {
            return Err(format!("unexpected separator in {:?}", text.trim()));
        };
        // Hyphen range: `A - B` with bare versions on both sides.
        if let (Some(Token::Hyphen), Some(&Token::Word(upper))) =
            (tokens.get(i + 1), tokens.get(i + 2))
        {
            let lower_bound = parse_comparator(word)?;
            let upper_bound = parse_comparator(upper)?;
            for raw in [word, upper] {
                if raw.starts_with(['=', '!', '<', '>', '~', '^']) {
                    return Err(format!(
                        "hyphen range bound {raw:?} must be a version without an operator"
                    ));
                }
            }
            out.push(Comparator {
                op: Op::GreaterEqual,
                ..lower_bound
            });
            out.push(Comparator {
                op: Op::LessEqual,
                ..upper_bound
            });
            i += 3;
        } else {
            out.push(parse_comparator(word)?);
            i += 1;
        }
        match tokens.get(i) {
            None => {}
            Some(Token::Comma) => {
                i += 1;
                if i >= tokens.len() {
                    return Err(format!("trailing comma in {:?}", text.trim()));
                }
            }
            Some(Token::Word(_)) => {}
            Some(Token::Hyphen) => {
                return Err(format!("misplaced \"-\" in {:?}", text.trim()));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// An operator glued to its version, e.g. `>=1.2` (spaces between them are removed).
    Word(&'a str),
    /// A lone `-` between spaces: the hyphen of a range.
    Hyphen,
    Comma,
}

/// Splits a group into words, commas and range hyphens. An operator followed by spaces is
/// joined with the version after it (`>= 1.2` is one comparator), as Masterminds allows.
fn tokenize(text: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b',' {
            if matches!(tokens.last(), None | Some(Token::Comma)) {
                return Err(format!("misplaced comma in {:?}", text.trim()));
            }
            tokens.push(Token::Comma);
            i += 1;
            continue;
        }
        if b == b'-' && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()) {
            tokens.push(Token::Hyphen);
            i += 1;
            continue;
        }
        let start = i;
        // Operator characters, then optional spaces, then the version characters.
        while i < bytes.len() && b"=!<>~^".contains(&bytes[i]) {
            i += 1;
        }
        let op_end = i;
        if op_end > start {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
        }
        let version_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b',' {
            i += 1;
        }
        if version_start == i {
            return Err(format!(
                "operator {:?} has no version in {:?}",
                &text[start..op_end],
                text.trim()
            ));
        }
        tokens.push(Token::Word(&text[start..i]));
    }
    Ok(tokens)
}

/// Parses one comparator such as `>=1.2`, `>= 1.2`, `~1.x`, `*-0` or `v2.0.0-rc.1`.
fn parse_comparator(word: &str) -> Result<Comparator, String> {
    let ops: [(&str, Op); 11] = [
        ("!=", Op::NotEqual),
        (">=", Op::GreaterEqual),
        ("=>", Op::GreaterEqual),
        ("<=", Op::LessEqual),
        ("=<", Op::LessEqual),
        ("~>", Op::Tilde),
        (">", Op::Greater),
        ("<", Op::Less),
        ("=", Op::Equal),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    let (op, rest) = ops
        .iter()
        .find_map(|(text, op)| word.strip_prefix(text).map(|rest| (*op, rest)))
        .unwrap_or((Op::Equal, word));
    let version_text = rest.trim_start();
    let bad = |reason: String| format!("{word:?}: {reason}");
    if version_text.starts_with(['=', '!', '<', '>', '~', '^']) {
        return Err(bad("unknown operator".to_string()));
    }
    let unprefixed = version_text.strip_prefix('v').unwrap_or(version_text);
    let (core, pre, _build) = split_pre_build(unprefixed).map_err(bad)?;
    let parts: Vec<&str> = core.split('.').collect();
    if core.is_empty() || parts.len() > 3 {
        return Err(bad(format!("{version_text:?} is not a version")));
    }
    let is_x = |p: &str| matches!(p, "x" | "X" | "*");
    let mut nums = [0u64; 3];
    let mut wild = match parts.len() {
        1 => Wild::Minor,
        2 => Wild::Patch,
        _ => Wild::None,
    };
    for (i, part) in parts.iter().enumerate() {
        if is_x(part) {
            wild = [Wild::Major, Wild::Minor, Wild::Patch][i];
            break;
        }
        nums[i] = parse_number(part).map_err(bad)?;
    }
    // Parts after a wildcard are ignored, but they must still look like parts.
    for part in parts.iter() {
        if !is_x(part) && parse_number(part).is_err() {
            return Err(bad(format!("{part:?} is neither a number nor a wildcard")));
        }
    }
    Ok(Comparator {
        op,
        version: Version::numbers(nums[0], nums[1], nums[2], pre),
        wild,
    })
}

/// Whether `version` satisfies `constraint`; false when either does not parse. This is Helm's
/// `IsCompatibleRange`, used for chart dependencies and `kubeVersion`.
pub fn is_compatible_range(constraint: &str, version: &str) -> bool {
    match (Constraint::parse(constraint), Version::parse(version)) {
        (Ok(c), Ok(v)) => c.matches(&v),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_joins_operator_and_version() {
        let tokens = tokenize(">= 1.2, <3 1 - 2").unwrap();
        assert_eq!(
            tokens,
            vec![
                Token::Word(">= 1.2"),
                Token::Comma,
                Token::Word("<3"),
                Token::Word("1"),
                Token::Hyphen,
                Token::Word("2"),
            ]
        );
    }

    #[test]
    fn wildcard_position_sets_wild_level() {
        assert_eq!(parse_comparator("1.2.x").unwrap().wild, Wild::Patch);
        assert_eq!(parse_comparator("1.x.3").unwrap().wild, Wild::Minor);
        assert_eq!(parse_comparator("*").unwrap().wild, Wild::Major);
        assert_eq!(parse_comparator("1").unwrap().wild, Wild::Minor);
        assert_eq!(parse_comparator("1.2.3").unwrap().wild, Wild::None);
    }
}
