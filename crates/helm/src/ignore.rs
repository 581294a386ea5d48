//! `.helmignore`: which files of a chart directory are left out when it is loaded.
//!
//! The rules are Helm's, not `.gitignore`'s: a pattern without `/` matches a base name, a
//! pattern with `/` matches the path from the chart root with Go's `filepath.Match`
//! (so `*` never crosses `/`), `dir/` only matches directories, `**` is refused, and a negated
//! pattern `!p` ignores every path it does *not* match. `templates/.?*` is always added.

use crate::error::Error;

#[derive(Debug, Clone)]
struct Pattern {
    rule: String,
    negate: bool,
    must_dir: bool,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `/foo`: matched against the whole path.
    Rooted,
    /// `foo/bar`: matched against the whole path.
    Path,
    /// `foo`: matched against the base name.
    Base,
}

/// The rules of one `.helmignore` file plus Helm's default.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Rules {
    /// Parses a `.helmignore` file's text and adds Helm's default rule.
    pub fn parse(text: &str) -> Result<Rules, Error> {
        let mut r = Rules::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for line in text.lines() {
            r.add(line)?;
        }
        r.add("templates/.?*")?;
        Ok(r)
    }

    /// Only Helm's default rule.
    pub fn defaults() -> Rules {
        let mut r = Rules::default();
        // A fixed, valid pattern.
        let _ = r.add("templates/.?*");
        r
    }

    fn add(&mut self, line: &str) -> Result<(), Error> {
        let rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(Error::HelmIgnore(format!(
                "{rule}: double-star (**) syntax is not supported"
            )));
        }
        if glob_match(rule, "abc").is_err() {
            return Err(Error::HelmIgnore(format!(
                "{rule}: syntax error in pattern"
            )));
        }
        let mut rule = rule.to_string();
        let negate = rule.starts_with('!');
        if negate {
            rule.remove(0);
        }
        let must_dir = rule.ends_with('/');
        if must_dir {
            rule.pop();
        }
        let kind = if rule.starts_with('/') {
            rule.remove(0);
            Kind::Rooted
        } else if rule.contains('/') {
            Kind::Path
        } else {
            Kind::Base
        };
        self.patterns.push(Pattern {
            rule,
            negate,
            must_dir,
            kind,
        });
        Ok(())
    }

    /// Whether `path` (slash-separated, relative to the chart root) is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let subject = match p.kind {
                Kind::Rooted | Kind::Path => path,
                Kind::Base => path.rsplit('/').next().unwrap_or(path),
            };
            let matched = glob_match(&p.rule, subject).unwrap_or(false);
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// A malformed glob pattern (`filepath.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `path/filepath.Match` on `/`-separated names: `*` and `?` never match `/`, `[...]`
/// classes with ranges and `^` negation, `\` escapes. `Err` for a malformed pattern.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> Result<bool, BadPattern> {
    let (mut pi, mut ni) = (0, 0);
    // Backtracking point for the last `*`.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    if ni < n.len() && n[ni] != '/' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '[' => {
                    let (matched, next) = class(p, pi, n.get(ni).copied())?;
                    if ni < n.len() && matched {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    let c = *p.get(pi + 1).ok_or(BadPattern)?;
                    if ni < n.len() && n[ni] == c {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if ni < n.len() && n[ni] == c {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        } else if ni == n.len() {
            return Ok(true);
        }
        // Mismatch: let the last `*` eat one more character (never a `/`).
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => {
                // Validate the rest of the pattern so malformed ones are reported.
                validate(&p[pi.min(p.len())..])?;
                return Ok(false);
            }
        }
    }
}

fn validate(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class(p, i, None)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Matches the character class starting at `p[start] == '['` against `c`; returns whether it
/// matched and the index after the class.
fn class(p: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), BadPattern> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i).ok_or(BadPattern)?;
        if ch == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i).ok_or(BadPattern)?
        } else {
            ch
        };
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&x| x != ']') {
            i += 1;
            hi = if p[i] == '\\' {
                i += 1;
                *p.get(i).ok_or(BadPattern)?
            } else {
                p[i]
            };
            i += 1;
            if hi < lo {
                return Err(BadPattern);
            }
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
    }
    Ok((matched != negated && c.is_some_and(|c| c != '/'), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match() {
        assert_eq!(glob_match("*.txt", "a.txt"), Ok(true));
        assert_eq!(glob_match("*.txt", "d/a.txt"), Ok(false));
        assert_eq!(glob_match("d/*", "d/a.txt"), Ok(true));
        assert_eq!(glob_match("a?c", "abc"), Ok(true));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("\\*", "*"), Ok(true));
        assert!(glob_match("[a-", "a").is_err());
    }

    #[test]
    fn helmignore_rules() {
        let r = Rules::parse("# comment\n*.bak\n/secret.txt\ndocs/\nci/*.yaml\n").unwrap();
        assert!(r.ignore("values.bak", false));
        assert!(r.ignore("templates/x.bak", false));
        assert!(r.ignore("secret.txt", false));
        assert!(!r.ignore("sub/secret.txt", false));
        assert!(r.ignore("docs", true));
        assert!(!r.ignore("docs", false));
        assert!(r.ignore("ci/a.yaml", false));
        assert!(r.ignore("templates/.hidden", false));
        assert!(!r.ignore("templates/ok.yaml", false));
    }

    #[test]
    fn double_star_is_refused() {
        assert!(Rules::parse("**/x").is_err());
    }
}
