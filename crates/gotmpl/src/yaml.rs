//! YAML as Helm's `toYaml`/`fromYaml` see it.
