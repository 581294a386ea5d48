//! `--feature-gates`: Flux's switches for behaviour that is off by default
//! (`--feature-gates=StrictPostBuildSubstitutions=true,OtherGate=false`).

use std::str::FromStr;

/// The gates this controller acts on. Other gate names (Flux has more) are accepted and listed
/// in `ignored`, which the controller logs at start, so a Flux Deployment's flags still work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates {
    /// An unset `${var}` without default fails the build instead of becoming empty.
    pub strict_post_build_substitutions: bool,
    /// A `dependsOn[].readyExpr` must hold in addition to the dependency being Ready, instead
    /// of replacing that check.
    pub additive_cel_dependency_check: bool,
    /// Gates named in the flag that have no effect here.
    pub ignored: Vec<String>,
}

impl FromStr for FeatureGates {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut gates = FeatureGates::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("feature gate {item:?}: expected Name=true|false"))?;
            let on = match value.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(format!(
                        "feature gate {name}: {other:?} is not true or false"
                    ));
                }
            };
            match name.trim() {
                "StrictPostBuildSubstitutions" => gates.strict_post_build_substitutions = on,
                "AdditiveCELDependencyCheck" => gates.additive_cel_dependency_check = on,
                other => gates.ignored.push(other.to_owned()),
            }
        }
        Ok(gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flux_syntax() {
        assert_eq!("".parse(), Ok(FeatureGates::default()));
        let g: FeatureGates = "StrictPostBuildSubstitutions=true, GroupChangeLog=false"
            .parse()
            .expect("valid");
        assert!(g.strict_post_build_substitutions);
        assert_eq!(g.ignored, ["GroupChangeLog"]);
        let g: FeatureGates = "StrictPostBuildSubstitutions=False".parse().expect("valid");
        assert!(!g.strict_post_build_substitutions);
        let g: FeatureGates = "AdditiveCELDependencyCheck=true".parse().expect("valid");
        assert!(g.additive_cel_dependency_check && g.ignored.is_empty());
    }

    #[test]
    fn refuses_malformed_gates() {
        assert!(
            "StrictPostBuildSubstitutions"
                .parse::<FeatureGates>()
                .is_err()
        );
        let e = "StrictPostBuildSubstitutions=yes"
            .parse::<FeatureGates>()
            .expect_err("not a bool");
        assert!(e.contains("yes"), "{e}");
    }
}
