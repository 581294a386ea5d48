//! The Masterminds/semver v3 dialect, checked against the behaviour its README documents and
//! its own test tables record (each row is a fact about upstream: constraint, version,
//! whether it matches).

use driftless_semver::{Constraint, Error, Version, latest_matching};

fn check(rows: &[(&str, &str, bool)]) {
    let mut failures = Vec::new();
    for &(constraint, version, expected) in rows {
        let c = Constraint::parse(constraint)
            .unwrap_or_else(|e| panic!("constraint {constraint:?} should parse: {e}"));
        let v = Version::parse(version)
            .unwrap_or_else(|e| panic!("version {version:?} should parse: {e}"));
        if c.matches(&v) != expected {
            failures.push(format!(
                "{constraint:?} vs {version:?}: expected {expected}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn readme_basic_comparisons_and_or_groups() {
    check(&[
        // `=` is aliased to no operator.
        ("=2.0.0", "2.0.0", true),
        ("2.0.0", "2.0.0", true),
        ("=2.0.0", "1.2.3", false),
        ("!=4.1.0", "4.1.0", false),
        ("!=4.1.0", "4.1.1", true),
        ("> 1.3", "1.3.0", false),
        ("> 1.3", "1.4.0", true),
        ("< 1.4.1", "1.4.0", true),
        ("< 1.4.1", "1.4.1", false),
        (">= 1.2", "1.2.0", true),
        ("=> 1.2", "1.2.0", true),
        ("<= 1.2", "1.2.9", true),
        ("=< 1.2", "1.3.0", false),
        // README: ">= 1.2, < 3.0.0 || >= 4.2.3"
        (">= 1.2, < 3.0.0 || >= 4.2.3", "1.3", true),
        (">= 1.2, < 3.0.0 || >= 4.2.3", "3.1.0", false),
        (">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.3", true),
        (">= 1.2.3", "1.3", true),
        // AND by space or comma, with any spacing.
        (">1.1 <2", "1.2.1", true),
        (">1.1 <2", "1.1.1", false),
        (">1.1, <3", "4.3.2", false),
        (">=1.1, <2, !=1.2.3", "1.2.3", false),
        (">=1.1    <2    !=1.2.3", "1.2.3", false),
        (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
        (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
        (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
        (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
        (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
        // Partial versions in comparisons.
        ("<11", "0.1.0", true),
        ("<11", "11.1.0", false),
        ("<1.1", "1.1.0", false),
        ("<=11", "11.2.3", true),
        ("<=11", "12.2.3", false),
        ("<=1.1", "1.1.1", true),
        ("<=1.1", "1.2.3", false),
        (">11", "11.1.0", false),
        (">11.1", "11.1.1", false),
        (">11.1", "11.2.1", true),
        (">=11.1", "11.0.2", false),
        (">0", "0.0.0", false),
        (">0", "1.0.0", true),
        (">=0", "0.0.0", true),
        ("=0", "1.0.0", false),
        ("!=4.1", "4.1.0", false),
        ("!=4.1", "4.1.1", false),
        ("!=4.1", "5.1.0", true),
        ("!=4.x", "4.1.0", false),
        ("!=4.x", "5.1.0", true),
        ("!=4.1.x", "4.2.0", true),
        ("!=4.2.x", "4.2.3", false),
    ]);
}

#[test]
fn readme_hyphen_ranges() {
    check(&[
        // `1.2 - 1.4.5` is `>= 1.2, <= 1.4.5`.
        ("1.2 - 1.4.5", "1.2.0", true),
        ("1.2 - 1.4.5", "1.4.5", true),
        ("1.2 - 1.4.5", "1.4.6", false),
        ("1.2 - 1.4.5", "1.1.9", false),
        // `2.3.4 - 4.5` is `>= 2.3.4, <= 4.5`, and `<= 4.5` admits all of 4.5.x.
        ("2.3.4 - 4.5", "2.3.4", true),
        ("2.3.4 - 4.5", "4.5.9", true),
        ("2.3.4 - 4.5", "4.6.0", false),
        ("2.3.4 - 4.5", "2.3.3", false),
        ("1.1 - 2", "1.1.1", true),
        ("1.5.0 - 4.5", "3.7.0", true),
        ("3 - 4 || => 3.0, < 4", "4.9.0", true),
        // Without spaces it is a pre-release version, not a range.
        ("1.1-3", "4.3.2", false),
        ("v1.0.0 - v2.0.0", "1.5.0", true),
    ]);
}

#[test]
fn readme_wildcards() {
    check(&[
        // `1.2.x` is `>= 1.2.0, < 1.3.0`.
        ("1.2.x", "1.2.0", true),
        ("1.2.x", "1.2.99", true),
        ("1.2.x", "1.3.0", false),
        ("1.2.X", "1.2.5", true),
        ("1.2.*", "1.2.5", true),
        // `>= 1.2.x` is `>= 1.2.0`.
        (">= 1.2.x", "1.2.0", true),
        (">= 1.2.x", "5.0.0", true),
        (">= 1.2.x", "1.1.9", false),
        // `<= 2.x` is `< 3`.
        ("<= 2.x", "2.9.9", true),
        ("<= 2.x", "3.0.0", false),
        // `*` is `>= 0.0.0`.
        ("*", "0.0.0", true),
        ("*", "4.5.6", true),
        ("x", "4.5.6", true),
        ("2.*", "2.1.1", true),
        ("2.*", "3.4.5", false),
        ("2.*", "1.0.0", false),
        ("2.1.*", "2.2.1", false),
        ("2", "2.1.1", true),
        ("2", "3.4.5", false),
        ("2.1", "2.1.1", true),
        ("2.1", "2.2.1", false),
        ("4.1.x", "4.1.3", true),
        ("1.x", "1.4", true),
        ("0.x.x", "1.2.3", false),
        ("0.0.x", "1.2.3", false),
        ("0.0.0", "1.2.3", false),
        ("<1.x", "0.1.1", true),
        ("<1.x", "1.1.1", false),
        ("<1.1.x", "1.0.500", true),
        ("<1.1.x", "1.1.500", false),
        ("<=1.1.x", "1.2.500", false),
        ("<=1.x", "1.1.0", true),
    ]);
}

#[test]
fn readme_tilde_ranges() {
    check(&[
        // `~1.2.3` is `>= 1.2.3, < 1.3.0`.
        ("~1.2.3", "1.2.3", true),
        ("~1.2.3", "1.2.5", true),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.3.0", false),
        // `~1` is `>= 1, < 2`.
        ("~1", "1.0.0", true),
        ("~1", "1.9.9", true),
        ("~1", "2.0.0", false),
        // `~2.3` is `>= 2.3, < 2.4`.
        ("~2.3", "2.3.0", true),
        ("~2.3", "2.3.9", true),
        ("~2.3", "2.4.0", false),
        // `~1.2.x` is `>= 1.2.0, < 1.3.0`; `~1.x` is `>= 1, < 2`.
        ("~1.2.x", "1.2.0", true),
        ("~1.2.x", "1.3.0", false),
        ("~1.x", "1.3.5", true),
        ("~1.x", "2.1.1", false),
        ("~>1.2", "1.2.9", true),
        ("~>1.2", "1.3.0", false),
        ("~*", "2.1.1", true),
        ("~0.0.0", "1.2.3", true),
        ("~0.2.3", "0.2.5", true),
        ("~0.2.3", "0.3.5", false),
    ]);
}

#[test]
fn readme_caret_ranges() {
    check(&[
        // `^1.2.3` is `>= 1.2.3, < 2.0.0`.
        ("^1.2.3", "1.2.3", true),
        ("^1.2.3", "1.8.9", true),
        ("^1.2.3", "1.2.1", false),
        ("^1.2.3", "2.0.0", false),
        // `^1.2.x` is `>= 1.2.0, < 2.0.0`.
        ("^1.2.x", "1.2.0", true),
        ("^1.2.x", "1.9.0", true),
        ("^1.2.x", "2.0.0", false),
        // `^2.3` is `>= 2.3, < 3`; `^2.x` is `>= 2.0.0, < 3`.
        ("^2.3", "2.3.0", true),
        ("^2.3", "2.2.9", false),
        ("^2.3", "3.0.0", false),
        ("^2.x", "2.0.0", true),
        ("^2.x", "3.0.0", false),
        ("^2.x", "1.1.1", false),
        // Below 1.0.0: `^0.2.3` is `>=0.2.3 <0.3.0`, `^0.2` is `>=0.2.0 <0.3.0`.
        ("^0.2.3", "0.2.3", true),
        ("^0.2.3", "0.2.5", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.2", "0.2.0", true),
        ("^0.2", "0.3.0", false),
        // `^0.0.3` is `>=0.0.3 <0.0.4`.
        ("^0.0.3", "0.0.3", true),
        ("^0.0.3", "0.0.4", false),
        // `^0.0` is `>=0.0.0 <0.1.0`; `^0` is `>=0.0.0 <1.0.0`.
        ("^0.0", "0.0.3", true),
        ("^0.0", "0.1.0", false),
        ("^0", "0.9.9", true),
        ("^0", "1.0.0", false),
        ("^0.0.0", "1.2.3", false),
    ]);
}

#[test]
fn readme_pre_release_rules() {
    check(&[
        // Constraints without a pre-release skip pre-release versions...
        (">=1.2.3", "1.2.4-beta.1", false),
        ("*", "1.2.3-alpha.1", false),
        (">=1.1", "4.1.0-beta", false),
        ("<=1.1", "0.1.0-alpha", false),
        ("~1.1", "1.1.1-alpha", false),
        ("^1.x", "1.1.1-beta1", false),
        ("!=4.1", "5.1.0-alpha.1", false),
        (">0", "0.0.1-alpha", false),
        // ...while `-0` opts in, for any version in range (Masterminds, unlike npm, does not
        // restrict pre-releases to the same major.minor.patch).
        (">=1.2.3-0", "1.2.4-beta.1", true),
        (">=1.2.3-0", "1.2.3-alpha", true),
        ("*-0", "1.2.3-alpha.1", true),
        (">=0.0.0-0", "3.4.5-beta.1", true),
        (">=0-0", "0.0.1-alpha", true),
        ("^1.1.2-alpha", "1.2.1-beta1", true),
        ("~1.2.3-beta.2", "1.2.4-beta.2", true),
        ("~1.2.3-beta.2", "1.3.4-beta.2", false),
        ("^0.2.3-beta.2", "0.2.4-beta.2", true),
        ("^0.2.3-beta.2", "0.3.4-beta.2", false),
        ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
        ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
        ("~1.1.1-beta", "1.1.1-alpha", false),
        ("~1.1.1-beta", "1.1.1", true),
        ("<=1.1-a", "0.1.0-alpha", true),
        ("<0-z", "0.0.0-alpha", true),
        ("!=4.1-alpha", "4.1.0", true),
        ("!=4.1-alpha", "4.1.0-alpha", false),
        // ASCII order: `>=1.2.3-BETA` admits `1.2.3-alpha` because uppercase sorts first.
        (">=1.2.3-BETA", "1.2.3-alpha", true),
        // A pre-release in one comparator of an AND group opts the whole group in...
        (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", true),
        // ...but not the other alternatives.
        (">=3.0.0-0 <4 || ^1", "1.5.0-rc.1", false),
        (">=3.0.0-0 <4 || ^1", "3.1.0-rc.1", true),
        // Build metadata never matters.
        ("=1.2.3", "1.2.3+build.7", true),
        ("v1.2.3+meta", "1.2.3", true),
    ]);
}

#[test]
fn versions_parse_like_new_version() {
    let ok = [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("1.0", "1.0.0"),
        ("v1.0", "1.0.0"),
        ("1", "1.0.0"),
        ("v1", "1.0.0"),
        ("1.2-5", "1.2.0-5"),
        ("v1.2-beta.5", "1.2.0-beta.5"),
        ("1.2.0-x.Y.0+metadata", "1.2.0-x.Y.0+metadata"),
        (
            "1.2.0-x.Y.0+metadata-width-hypen",
            "1.2.0-x.Y.0+metadata-width-hypen",
        ),
        ("1.2.3-rc1-with-hypen", "1.2.3-rc1-with-hypen"),
        ("1.2.3+test.01", "1.2.3+test.01"),
        ("1.2.3-alpha.-1", "1.2.3-alpha.-1"),
        ("1.2.2147483648", "1.2.2147483648"),
        (
            "20221209-update-renovatejson-v4",
            "20221209.0.0-update-renovatejson-v4",
        ),
    ];
    for (input, normalized) in ok {
        let v = Version::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(v.to_string(), normalized, "{input:?}");
        assert_eq!(v.original(), input);
    }
    let v = Version::parse("1.2.3-beta.1+build.123").unwrap();
    assert_eq!(
        (v.major(), v.minor(), v.patch(), v.pre_release(), v.build()),
        (1, 2, 3, "beta.1", "build.123")
    );
}

#[test]
fn bad_versions_are_errors_naming_the_input() {
    for input in [
        "",
        "foo",
        "1.2.beta",
        "v1.2.beta",
        "\n1.2",
        "1.2.3.4",
        "12.3.4.1234",
        "1.2.3-alpha.01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-a..b",
        "1.2.3-α",
        "V1.2.3",
        " 1.2.3",
        "1.2.3 ",
        "latest",
        "99999999999999999999.0.0",
    ] {
        let err = Version::parse(input).expect_err(input);
        assert!(
            matches!(err, Error::InvalidVersion { .. }),
            "{input:?}: {err}"
        );
        assert!(err.to_string().contains(&format!("{input:?}")), "{err}");
    }
}

#[test]
fn bad_constraints_are_errors_naming_the_text() {
    for input in [
        "",
        "   ",
        "foo",
        ">= bar",
        "BAR >= 1.2.3",
        "12.3.4.1234",
        "12.3.34~ 1.2.3",
        ">=1.2,",
        ",>=1.2",
        ">=1.2,,<2",
        ">= 1.2 ||",
        "|| 1.2",
        "1.2 -",
        "1.2 - ",
        "- 1.2",
        ">= 1 - 2",
        "1 - <2",
        "==1.2",
        "<>1.2",
        ">=",
        "1.x.y",
        "1.2.3-01",
        "1xx",
    ] {
        let err = Constraint::parse(input).expect_err(input);
        assert!(
            matches!(err, Error::InvalidConstraint { .. }),
            "{input:?}: {err}"
        );
        assert!(
            err.to_string().contains(&format!("{input:?}")),
            "{input:?}: {err}"
        );
    }
    // The reason points at the offending comparator.
    let err = Constraint::parse(">=1.0, <= 2.x.y").unwrap_err();
    assert!(err.to_string().contains("2.x.y"), "{err}");
}

#[test]
fn ordering_is_semver_precedence() {
    let cmp = |a: &str, b: &str| Version::parse(a).unwrap().cmp(&Version::parse(b).unwrap());
    use std::cmp::Ordering::*;
    for (a, b, expected) in [
        ("1.2.3", "1.5.1", Less),
        ("2.2.3", "1.5.1", Greater),
        ("3.2-beta", "3.2-beta", Equal),
        ("1.3", "1.1.4", Greater),
        ("4.2", "4.2-beta", Greater),
        ("4.2-alpha", "4.2-beta", Less),
        ("4.2-beta.2", "4.2-beta.1", Greater),
        ("4.2-beta2", "4.2-beta1", Greater),
        ("4.2-beta", "4.2-beta.2", Less),
        ("4.2-beta.foo", "4.2-beta", Greater),
        ("1.2+bar", "1.2+baz", Equal),
        ("1.0.0-beta.4", "1.0.0-beta.-2", Less),
        ("1.0.0-beta.-3", "1.0.0-beta.5", Greater),
        ("7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.103", Less),
        ("7.43.0-SNAPSHOT.FOO", "7.43.0-SNAPSHOT.103", Greater),
        ("1.0.0-alpha", "1.0.0-alpha.1", Less),
        ("1.0.0-alpha.beta", "1.0.0-beta", Less),
        ("1.0.0-beta.11", "1.0.0-rc.1", Less),
        ("1.0.0-rc.1", "1.0.0", Less),
        ("v2.0.0", "2.0.0", Equal),
    ] {
        assert_eq!(cmp(a, b), expected, "{a} vs {b}");
    }
    assert_eq!(
        Version::parse("1.2.3+a").unwrap(),
        Version::parse("1.2.3+b").unwrap()
    );
}

#[test]
fn latest_matching_picks_the_highest_and_skips_non_versions() {
    // `1.12` and `v1.13` would match `^1.0` if coerced, but Flux only considers complete
    // versions as tags.
    let tags = [
        "1.12",
        "v1.13",
        "01.14.0",
        "latest",
        "v1.0.0",
        "v1.2.0",
        "1.10.0",
        "v2.0.0",
        "v1.11.0-rc.1",
        "main",
        "release-1",
        "v1.9.9",
        "v1.x",
    ];
    let c = Constraint::parse("^1.0").unwrap();
    let (tag, v) = latest_matching(&c, tags.iter().copied()).unwrap();
    assert_eq!((tag, v.to_string()), ("1.10.0", "1.10.0".to_string()));
    // Pre-releases only when asked for.
    let c = Constraint::parse(">=1.10.1-0 <2").unwrap();
    assert_eq!(
        latest_matching(&c, tags.iter().copied()).unwrap().0,
        "v1.11.0-rc.1"
    );
    // Nothing matches.
    let c = Constraint::parse(">=3").unwrap();
    assert!(latest_matching(&c, tags.iter().copied()).is_none());
    assert!(latest_matching(&c, std::iter::empty()).is_none());
    // Equal precedence: the answer does not depend on listing order.
    let c = Constraint::parse("*").unwrap();
    let forward = latest_matching(&c, ["v3.0.0", "3.0.0", "3.0.0+b"])
        .unwrap()
        .0;
    let backward = latest_matching(&c, ["3.0.0+b", "3.0.0", "v3.0.0"])
        .unwrap()
        .0;
    assert_eq!(forward, backward);
}

#[test]
fn strict_versions_are_complete_with_an_optional_v() {
    for ok in ["1.2.3", "v1.2.3", "1.2.3-rc.1+b.01", "v0.0.0", "10.20.30"] {
        let v = Version::parse_strict(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        assert_eq!(v.original(), ok);
    }
    for bad in [
        "1.2", "v1", "1", "01.2.3", "1.02.3", "1.2.03", "vv1.2.3", "1.2.3.4", "1.2.3-01",
    ] {
        let err = Version::parse_strict(bad).expect_err(bad);
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn constraint_displays_its_text_and_parses_via_from_str() {
    let text = ">= 1.2, < 3.0.0 || >= 4.2.3";
    let c: Constraint = text.parse().unwrap();
    assert_eq!(c.to_string(), text);
    assert_eq!(c.as_str(), text);
    let v: Version = "v1.2".parse().unwrap();
    assert!(c.matches(&v));
}
