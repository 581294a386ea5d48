//! ConfigMap and Secret generators, and the content hash kustomize appends to their names.

use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::resource::Resource;
use crate::value::{Map, Value};

/// Builds the ConfigMap or Secret one generator entry describes.
pub fn generate(
    loader: &Loader,
    kind: &str,
    entry: &Value,
    global_opts: Option<&Value>,
    kust_file: &Path,
) -> Result<Resource> {
    let ctx = || format!("{} {kind}Generator", kust_file.display());
    let name = entry
        .get_str(&["name"])
        .ok_or_else(|| Error::invalid(ctx(), "generator entry has no name"))?;
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let push = |pairs: &mut Vec<(String, Vec<u8>)>, k: String, v: Vec<u8>| -> Result<()> {
        if pairs.iter().any(|(existing, _)| *existing == k) {
            return Err(Error::invalid(
                ctx(),
                format!("configmap {name} illegally repeats the key `{k}`"),
            ));
        }
        pairs.push((k, v));
        Ok(())
    };
    let mut env_files: Vec<String> = strings(entry.get("envs"));
    if let Some(env) = entry.get_str(&["env"]) {
        env_files.insert(0, env.to_string());
    }
    for env in env_files {
        let text = loader.read_string(&env)?;
        for (k, v) in parse_env(&text)
            .map_err(|m| Error::invalid(format!("{ctx}: env file {env}", ctx = ctx()), m))?
        {
            push(&mut pairs, k, v.into_bytes())?;
        }
    }
    for lit in strings(entry.get("literals")) {
        let (k, v) = lit
            .split_once('=')
            .ok_or_else(|| Error::invalid(ctx(), format!("literal '{lit}' must be KEY=VALUE")))?;
        push(&mut pairs, k.trim().to_string(), unquote(v).into_bytes())?;
    }
    for file in strings(entry.get("files")) {
        let (key, path) = match file.split_once('=') {
            Some((k, p)) => (k.to_string(), p.to_string()),
            None => {
                let base = Path::new(&file)
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (base, file.clone())
            }
        };
        push(&mut pairs, key, loader.read_bytes(&path)?)?;
    }

    let mut obj = Map::new();
    obj.insert("apiVersion", "v1".into());
    obj.insert("kind", kind.into());
    let mut meta = Map::new();
    meta.insert("name", name.into());
    if let Some(ns) = entry.get_str(&["namespace"]) {
        meta.insert("namespace", ns.into());
    }
    let local_opts = entry.get("options");
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for opts in [global_opts, local_opts].into_iter().flatten() {
        for (field, target) in [("labels", &mut labels), ("annotations", &mut annotations)] {
            if let Some(Value::Map(m)) = opts.get(field) {
                for (k, v) in m.iter() {
                    target.insert(
                        k.clone(),
                        Value::String(v.scalar_text().unwrap_or_default()),
                    );
                }
            }
        }
    }
    if !labels.is_empty() {
        meta.insert("labels", Value::Map(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations", Value::Map(annotations));
    }
    obj.insert("metadata", Value::Map(meta));
    let mut data = Map::new();
    let mut binary = Map::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for (k, v) in pairs {
        if kind == "Secret" {
            data.insert(k, Value::String(b64.encode(&v)));
        } else {
            match String::from_utf8(v) {
                Ok(s) => data.insert(k, Value::String(s)),
                Err(e) => binary.insert(k, Value::String(b64.encode(e.as_bytes()))),
            }
        }
    }
    if !binary.is_empty() {
        obj.insert("binaryData", Value::Map(binary));
    }
    if !data.is_empty() {
        obj.insert("data", Value::Map(data));
    }
    if kind == "Secret" {
        let ty = entry.get_str(&["type"]).unwrap_or("Opaque");
        obj.insert("type", ty.into());
    }
    let opt_bool = |field: &str| -> Option<bool> {
        [local_opts, global_opts]
            .into_iter()
            .flatten()
            .find_map(|o| match o.get(field) {
                Some(Value::Bool(b)) => Some(*b),
                _ => None,
            })
    };
    if opt_bool("immutable") == Some(true) {
        obj.insert("immutable", Value::Bool(true));
    }
    let mut res = Resource::new(Value::Map(obj));
    res.needs_hash = opt_bool("disableNameSuffixHash") != Some(true);
    res.behavior = Some(entry.get_str(&["behavior"]).unwrap_or("create").to_string());
    Ok(res)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Seq(items)) => items.iter().filter_map(Value::scalar_text).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Strips one pair of matching surrounding quotes, as kustomize does for literal values.
fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Parses an env file: `KEY=VALUE` lines, `#` comments and blank lines skipped.
fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.split_once('=') {
            Some((k, v)) => {
                let key = k.trim_end();
                if key.is_empty() || key.contains(char::is_whitespace) {
                    return Err(format!("line {}: invalid key '{key}'", i + 1));
                }
                out.push((key.to_string(), v.to_string()));
            }
            None => {
                // A bare KEY takes its value from the environment, as kustomize does.
                if let Ok(v) = std::env::var(trimmed.trim()) {
                    out.push((trimmed.trim().to_string(), v));
                }
            }
        }
    }
    Ok(out)
}

/// Go's `encoding/json` string encoding (HTML-safe escapes included), which the hash covers.
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn go_json_map(m: Option<&Value>, out: &mut String) {
    let mut entries: Vec<(&String, String)> = match m {
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| (k, v.scalar_text().unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    };
    if entries.is_empty() {
        out.push_str("\"\"");
        return;
    }
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_string(k, out);
        out.push(':');
        go_json_string(v, out);
    }
    out.push('}');
}

/// kustomize's name suffix: sha256 over a Go-JSON encoding of the kind and data (the name is
/// encoded empty), first ten hex digits with vowel-like digits replaced.
pub fn content_hash(res: &Resource) -> String {
    let obj = res.object();
    let mut enc = String::new();
    enc.push('{');
    let has_binary = matches!(obj.get("binaryData"), Some(Value::Map(m)) if !m.is_empty());
    if has_binary {
        enc.push_str("\"binaryData\":");
        go_json_map(obj.get("binaryData"), &mut enc);
        enc.push(',');
    }
    enc.push_str("\"data\":");
    go_json_map(obj.get("data"), &mut enc);
    enc.push_str(",\"kind\":");
    go_json_string(res.kind(), &mut enc);
    enc.push_str(",\"name\":\"\"");
    if res.kind() == "Secret" {
        enc.push_str(",\"type\":");
        go_json_string(obj.get_str(&["type"]).unwrap_or(""), &mut enc);
    }
    enc.push('}');
    let digest = hex::encode(Sha256::digest(enc.as_bytes()));
    digest[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_one;

    fn hash_of(text: &str) -> String {
        content_hash(&Resource::new(parse_one(text).unwrap_or_default()))
    }

    #[test]
    fn hashes_match_kustomize() {
        // Expected values produced by kustomize v5.5.0.
        assert_eq!(
            hash_of("kind: ConfigMap\nmetadata: {name: cm}\ndata: {A: '1'}"),
            "89g4tffbfk"
        );
        assert_eq!(
            hash_of("kind: ConfigMap\nmetadata: {name: p-cm}\ndata: {A: '1', B: 'x<y>&'}"),
            "7kmgcg7626"
        );
        assert_eq!(
            hash_of("kind: ConfigMap\nmetadata: {name: e}"),
            "6ct58987ht"
        );
        assert_eq!(
            hash_of("kind: Secret\nmetadata: {name: s}\ndata: {K: dg==}\ntype: Opaque"),
            "8gkfgg4d6d"
        );
    }

    #[test]
    fn env_files_parse() {
        let env = parse_env("# c\n\nA=1\nB = x\nC=a=b\n").unwrap_or_default();
        assert_eq!(
            env,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), " x".into()),
                ("C".into(), "a=b".into())
            ]
        );
        assert!(parse_env("bad key=1\n").is_err());
    }
}
