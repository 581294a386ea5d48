//! Tag selection: which of an ImageRepository's tags an ImagePolicy chooses.
//!
//! Flux's image-reflector-controller semantics: `filterTags.pattern` keeps the tags it matches
//! (anywhere in the tag, unanchored, RE2 syntax), `filterTags.extract` rewrites each kept tag
//! with the pattern's groups (`$name`, `${name}`, `$1`, as Go's `Regexp.Expand`) into the value
//! the policy compares, and the chosen value maps back to the tag it came from. Then:
//! - `semver.range`: the highest version in the range; tags that are not complete versions
//!   (`v` prefix allowed) are skipped;
//! - `alphabetical`: `asc` (default) picks the last tag in byte order, `desc` the first;
//! - `numerical`: `asc` (default) picks the largest number, `desc` the smallest; every tag must
//!   be a number, so a stray `latest` is an error that says to filter it out.
//!
//! Unlike Flux, a spec that sets more than one policy is refused instead of using the first.

use driftless_api::image::{ImagePolicyChoice, SortOrder, TagFilter};
use driftless_semver::Constraint;
use regex::Regex;

/// Flux's reason for a spec that cannot be evaluated (`Stalled`, no retry until it changes).
pub const INVALID_POLICY_REASON: &str = "InvalidPolicy";

/// Why no tag was chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    /// The spec itself is wrong: fixing it is the only way out.
    #[error("invalid policy: {0}")]
    Invalid(String),
    /// The repository has no tags at all (yet): the ImageRepository has not scanned, or the
    /// image has never been pushed.
    #[error("the image repository has no tags")]
    NoTags,
    /// Tags exist but the filter or the policy leaves none.
    #[error("{0}")]
    NoMatch(String),
}

/// A parsed `spec.policy` + `spec.filterTags`, ready to evaluate tag lists.
#[derive(Debug, Clone)]
pub struct TagSelector {
    policy: Policy,
    filter: Option<Filter>,
}

#[derive(Debug, Clone)]
enum Policy {
    SemVer(Constraint),
    Alphabetical(SortOrder),
    Numerical(SortOrder),
}

#[derive(Debug, Clone)]
struct Filter {
    pattern: Regex,
    extract: String,
}

impl TagSelector {
    /// Parses the spec; errors are [`SelectError::Invalid`] with a message naming the field.
    pub fn new(
        choice: &ImagePolicyChoice,
        filter: Option<&TagFilter>,
    ) -> Result<TagSelector, SelectError> {
        let set = [
            choice.semver.is_some(),
            choice.alphabetical.is_some(),
            choice.numerical.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if set != 1 {
            return Err(SelectError::Invalid(format!(
                "spec.policy must set exactly one of semver, alphabetical or numerical ({set} set)"
            )));
        }
        let policy = if let Some(semver) = &choice.semver {
            let constraint = Constraint::parse(&semver.range).map_err(|e| {
                SelectError::Invalid(format!(
                    "spec.policy.semver.range {:?} is not a semver range: {e}",
                    semver.range
                ))
            })?;
            Policy::SemVer(constraint)
        } else if let Some(a) = &choice.alphabetical {
            Policy::Alphabetical(a.order.unwrap_or_default())
        } else {
            Policy::Numerical(
                choice
                    .numerical
                    .as_ref()
                    .and_then(|n| n.order)
                    .unwrap_or_default(),
            )
        };
        let filter = match filter {
            None => None,
            Some(f) => {
                let source = f.pattern.as_deref().unwrap_or_default();
                let pattern = Regex::new(source).map_err(|e| {
                    SelectError::Invalid(format!(
                        "spec.filterTags.pattern {source:?} is not a regular expression: {e}"
                    ))
                })?;
                Some(Filter {
                    pattern,
                    extract: f.extract.clone().unwrap_or_default(),
                })
            }
        };
        Ok(TagSelector { policy, filter })
    }

    /// The chosen tag among `tags` (as the registry spells it, not the extracted value).
    pub fn latest<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a str>,
    ) -> Result<&'a str, SelectError> {
        let tags: Vec<&'a str> = tags.into_iter().collect();
        if tags.is_empty() {
            return Err(SelectError::NoTags);
        }
        // (value compared, original tag); a later tag extracting to the same value replaces an
        // earlier one, as Flux's map does.
        let candidates: Vec<(String, &'a str)> = match &self.filter {
            None => tags.iter().map(|t| ((*t).to_string(), *t)).collect(),
            Some(f) => {
                let mut kept: Vec<(String, &'a str)> = Vec::new();
                for tag in &tags {
                    let Some(caps) = f.pattern.captures(tag) else {
                        continue;
                    };
                    let value = if f.extract.is_empty() {
                        (*tag).to_string()
                    } else {
                        let mut out = String::new();
                        caps.expand(&f.extract, &mut out);
                        out
                    };
                    match kept.iter_mut().find(|(v, _)| *v == value) {
                        Some(slot) => slot.1 = tag,
                        None => kept.push((value, tag)),
                    }
                }
                if kept.is_empty() {
                    return Err(SelectError::NoMatch(format!(
                        "none of the {} tags matches spec.filterTags.pattern {:?}",
                        tags.len(),
                        f.pattern.as_str()
                    )));
                }
                kept
            }
        };
        let index = match &self.policy {
            Policy::SemVer(constraint) => {
                let best = driftless_semver::latest_matching(
                    constraint,
                    candidates.iter().map(|c| c.0.as_str()),
                );
                let Some((text, _)) = best else {
                    return Err(SelectError::NoMatch(format!(
                        "none of the {} candidate tags is a version in the semver range {:?}",
                        candidates.len(),
                        constraint.as_str()
                    )));
                };
                candidates.iter().position(|c| c.0 == text)
            }
            Policy::Alphabetical(order) => {
                let pick = candidates.iter().enumerate().reduce(|best, next| {
                    let better = match order {
                        SortOrder::Asc => next.1.0 > best.1.0,
                        SortOrder::Desc => next.1.0 < best.1.0,
                    };
                    if better { next } else { best }
                });
                pick.map(|(i, _)| i)
            }
            Policy::Numerical(order) => {
                let mut best: Option<(usize, f64)> = None;
                for (i, (value, _)) in candidates.iter().enumerate() {
                    let number: f64 = value.parse().map_err(|_| {
                        SelectError::NoMatch(format!(
                            "tag value {value:?} is not a number: the numerical policy needs \
                             every tag to be one; use spec.filterTags to keep only numeric tags"
                        ))
                    })?;
                    let better = match (best, order) {
                        (None, _) => true,
                        (Some((_, b)), SortOrder::Asc) => number >= b,
                        (Some((_, b)), SortOrder::Desc) => number <= b,
                    };
                    if better {
                        best = Some((i, number));
                    }
                }
                best.map(|(i, _)| i)
            }
        };
        // Every branch above returns an index into a non-empty `candidates`.
        index
            .and_then(|i| candidates.get(i))
            .map(|c| c.1)
            .ok_or_else(|| SelectError::NoMatch("no tag chosen".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_api::image::{AlphabeticalPolicy, NumericalPolicy, SemVerPolicy};

    fn semver(range: &str) -> ImagePolicyChoice {
        ImagePolicyChoice {
            semver: Some(SemVerPolicy {
                range: range.into(),
            }),
            ..Default::default()
        }
    }

    fn alphabetical(order: Option<SortOrder>) -> ImagePolicyChoice {
        ImagePolicyChoice {
            alphabetical: Some(AlphabeticalPolicy { order }),
            ..Default::default()
        }
    }

    fn numerical(order: Option<SortOrder>) -> ImagePolicyChoice {
        ImagePolicyChoice {
            numerical: Some(NumericalPolicy { order }),
            ..Default::default()
        }
    }

    fn filter(pattern: &str, extract: &str) -> TagFilter {
        TagFilter {
            pattern: Some(pattern.into()),
            extract: (!extract.is_empty()).then(|| extract.into()),
        }
    }

    fn pick(
        choice: ImagePolicyChoice,
        f: Option<TagFilter>,
        tags: &[&str],
    ) -> Result<String, SelectError> {
        TagSelector::new(&choice, f.as_ref())?
            .latest(tags.iter().copied())
            .map(str::to_string)
    }

    #[test]
    fn semver_picks_highest_in_range_and_skips_non_versions() {
        let tags = [
            "latest",
            "1.0.0",
            "v1.2.3",
            "1.10.0",
            "2.0.0",
            "1.3",
            "1.11.0-rc.1",
            "sha-abc",
        ];
        assert_eq!(
            pick(semver(">=1.0.0 <2.0.0"), None, &tags).unwrap(),
            "1.10.0"
        );
        assert_eq!(pick(semver("1.2.x"), None, &tags).unwrap(), "v1.2.3");
        assert_eq!(pick(semver(">=1.0.0-0"), None, &tags).unwrap(), "2.0.0");
        assert_eq!(
            pick(semver(">=1.11.0-0 <1.12.0"), None, &tags).unwrap(),
            "1.11.0-rc.1"
        );
        assert!(matches!(
            pick(semver(">=3.0.0"), None, &tags),
            Err(SelectError::NoMatch(m)) if m.contains(">=3.0.0")
        ));
    }

    #[test]
    fn alphabetical_orders() {
        let tags = [
            "RELEASE.2023-01-31",
            "RELEASE.2024-05-01",
            "RELEASE.2022-12-01",
        ];
        assert_eq!(
            pick(alphabetical(None), None, &tags).unwrap(),
            "RELEASE.2024-05-01"
        );
        assert_eq!(
            pick(alphabetical(Some(SortOrder::Asc)), None, &tags).unwrap(),
            "RELEASE.2024-05-01"
        );
        assert_eq!(
            pick(alphabetical(Some(SortOrder::Desc)), None, &tags).unwrap(),
            "RELEASE.2022-12-01"
        );
        // Byte order, as Go's sort.Strings: upper case sorts before lower case.
        assert_eq!(
            pick(alphabetical(None), None, &["a", "B", "C"]).unwrap(),
            "a"
        );
    }

    #[test]
    fn numerical_orders_and_refuses_non_numbers() {
        let tags = ["9", "10", "2.5", "100", "-1"];
        assert_eq!(pick(numerical(None), None, &tags).unwrap(), "100");
        assert_eq!(
            pick(numerical(Some(SortOrder::Desc)), None, &tags).unwrap(),
            "-1"
        );
        let err = pick(numerical(None), None, &["1", "latest"]).unwrap_err();
        assert!(
            matches!(&err, SelectError::NoMatch(m) if m.contains("\"latest\"") && m.contains("filterTags"))
        );
    }

    #[test]
    fn filter_extract_compares_groups_and_returns_the_original_tag() {
        let tags = [
            "main-abc123-1700000010",
            "main-def456-1700000200",
            "feature-x-999-1800000000",
            "main-fff000-1700000100",
            "latest",
        ];
        let f = filter(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", "$ts");
        assert_eq!(
            pick(numerical(None), Some(f.clone()), &tags).unwrap(),
            "main-def456-1700000200"
        );
        assert_eq!(
            pick(numerical(Some(SortOrder::Desc)), Some(f), &tags).unwrap(),
            "main-abc123-1700000010"
        );
        // ${name} and numbered groups, semver of the extracted part.
        let f = filter(r"^app-(?P<version>.*)-linux$", "${version}");
        assert_eq!(
            pick(
                semver("^1"),
                Some(f),
                &[
                    "app-1.2.0-linux",
                    "app-1.4.0-linux",
                    "app-1.9.0-windows",
                    "app-2.0.0-linux"
                ]
            )
            .unwrap(),
            "app-1.4.0-linux"
        );
        let f = filter(r"^v(\d+)\.(\d+)$", "$2");
        assert_eq!(
            pick(numerical(None), Some(f), &["v1.7", "v2.3", "v3.1"]).unwrap(),
            "v1.7"
        );
    }

    #[test]
    fn filter_without_extract_keeps_matching_tags_unanchored() {
        let f = filter("rc", "");
        assert_eq!(
            pick(alphabetical(None), Some(f), &["1.0-rc1", "zzz", "1.1-rc2"]).unwrap(),
            "1.1-rc2"
        );
        // An unknown group expands to nothing, as in Go: every tag maps to "", the last wins.
        let f = filter("^(?P<a>x)", "$b");
        assert_eq!(
            pick(alphabetical(None), Some(f), &["x1", "x2"]).unwrap(),
            "x2"
        );
    }

    #[test]
    fn nothing_to_choose_from() {
        assert_eq!(pick(semver("*"), None, &[]), Err(SelectError::NoTags));
        let err = pick(alphabetical(None), Some(filter("^v", "")), &["1", "2"]).unwrap_err();
        assert_eq!(
            err,
            SelectError::NoMatch(
                "none of the 2 tags matches spec.filterTags.pattern \"^v\"".into()
            )
        );
    }

    #[test]
    fn invalid_specs_are_refused_with_the_field_named() {
        let err = pick(ImagePolicyChoice::default(), None, &["1"]).unwrap_err();
        assert!(
            matches!(&err, SelectError::Invalid(m) if m.contains("exactly one") && m.contains("0 set"))
        );
        let both = ImagePolicyChoice {
            semver: Some(SemVerPolicy { range: "*".into() }),
            numerical: Some(NumericalPolicy { order: None }),
            ..Default::default()
        };
        assert!(
            matches!(pick(both, None, &["1"]), Err(SelectError::Invalid(m)) if m.contains("2 set"))
        );
        assert!(matches!(
            pick(semver("not a range"), None, &["1.0.0"]),
            Err(SelectError::Invalid(m)) if m.contains("spec.policy.semver.range")
        ));
        assert!(matches!(
            pick(alphabetical(None), Some(filter("(", "")), &["1"]),
            Err(SelectError::Invalid(m)) if m.contains("spec.filterTags.pattern")
        ));
    }
}
