//! YAML in and out.
//!
//! Parsing goes through serde-saphyr with its budget on (event, alias and anchor-replay limits),
//! so an alias bomb fails fast instead of exhausting memory. Emission is our own small block-style
//! printer: kustomize's output style (block maps, sequences flush with their key, strings quoted
//! only when a plain scalar would read back as something else).

use crate::value::{Map, Value};

/// Largest YAML file we read; kustomize inputs are manifests, not data dumps.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        // Input size is capped (MAX_FILE_BYTES), so plain size limits can be generous; the
        // limits that matter are on alias expansion, which is where small inputs blow up.
        budget: serde_saphyr::budget! {
            max_aliases: 10_000,
            max_recorded_anchor_events: 1_000_000,
            max_depth: 256,
            max_documents: 1_000_000,
            max_nodes: 50_000_000,
            max_events: 100_000_000,
        },
        with_snippet: false,
        // YAML 1.2 booleans only (`yes`/`on`/`y` stay strings, as in kustomize's parser);
        // `0755` is octal, as Kubernetes' YAML decoding reads it.
        strict_booleans: true,
        legacy_octal_numbers: true,
    }
}

/// Parses a multi-document YAML stream; empty documents are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!("file larger than {MAX_FILE_BYTES} bytes"));
    }
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Parses exactly one YAML document (an empty input is `Null`).
pub fn parse_one(text: &str) -> Result<Value, String> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

/// Renders one document (no leading `---`).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Map(m) if !m.is_empty() => emit_map(m, 0, &mut out),
        Value::Seq(s) if !s.is_empty() => emit_seq(s, 0, &mut out),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn emit_map(m: &Map, ind: usize, out: &mut String) {
    // kustomize prints every map with its keys sorted (byte order); so do we.
    let mut entries: Vec<&(String, Value)> = m.0.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str(&key_text(k));
        out.push(':');
        emit_after_key(v, ind, out);
    }
}

fn emit_after_key(v: &Value, ind: usize, out: &mut String) {
    match v {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, ind + 2);
            emit_map(m, ind + 2, out);
        }
        Value::Seq(s) if !s.is_empty() => {
            out.push('\n');
            indent(out, ind);
            emit_seq(s, ind, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, ind + 2));
            out.push('\n');
        }
    }
}

fn emit_seq(s: &[Value], ind: usize, out: &mut String) {
    for (i, v) in s.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str("- ");
        match v {
            Value::Map(m) if !m.is_empty() => emit_map(m, ind + 2, out),
            Value::Seq(inner) if !inner.is_empty() => emit_seq(inner, ind + 2, out),
            other => {
                out.push_str(&scalar(other, ind + 2));
                out.push('\n');
            }
        }
    }
}

fn key_text(k: &str) -> String {
    if plain_ok(k) {
        k.to_string()
    } else {
        double_quoted(k)
    }
}

/// Formats a float so it reads back as a float.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else if f.fract() == 0.0 && f.abs() < 1e21 {
        // kustomize's objects pass through JSON numbers: an integral float prints as an integer.
        format!("{}", f as i64)
    } else {
        format!("{f:?}")
    }
}

fn scalar(v: &Value, ind: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::String(s) => string_scalar(s, ind),
        Value::Map(_) => "{}".into(),
        Value::Seq(_) => "[]".into(),
    }
}

fn string_scalar(s: &str, ind: usize) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    if s.contains('\n') && literal_ok(s) {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        let mut out = format!("|{chomp}\n");
        let body = s.strip_suffix('\n').unwrap_or(s);
        let lines: Vec<&str> = body.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.is_empty() {
                for _ in 0..ind {
                    out.push(' ');
                }
                out.push_str(line);
            }
            if i + 1 < lines.len() {
                out.push('\n');
            }
        }
        return out;
    }
    if resolves_to_non_string(s)
        || s.chars()
            .any(|c| c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
    {
        double_quoted(s)
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Strings a YAML reader would take for null, a boolean or a number get double quotes (as
/// kustomize's encoder does); other strings that cannot be plain get single quotes.
fn resolves_to_non_string(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.is_empty()
        || matches!(
            lower.as_str(),
            "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
        )
        || looks_numeric(&lower)
}

/// A literal block keeps the text byte for byte only without tabs/control characters,
/// trailing spaces or a leading space on the first line.
fn literal_ok(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.starts_with('\n')
        && !s
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && !s.split('\n').any(|l| l.ends_with(' '))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` can be written as a plain scalar and read back as the same string.
fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "null"
            | "~"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "<<"
            | "="
            | "---"
            | "..."
    ) {
        return false;
    }
    if looks_numeric(&lower) {
        return false;
    }
    let mut chars = s.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    if "?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if first == '-' && second.is_none_or(|c| c == ' ') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// Whether a plain scalar with this (lower-cased) text would read back as a number.
fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    if matches!(body, ".inf" | ".nan") {
        return true;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(rest) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0b")) {
        return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '_');
    }
    // Sexagesimal (YAML 1.1): 1:20, 1:20:30.5
    if body.contains(':') {
        let mut parts = body.split(':');
        let head_ok = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '_'));
        return head_ok
            && parts.all(|p| {
                let int = p.split('.').next().unwrap_or("");
                !int.is_empty()
                    && int.len() <= 2
                    && p.chars().all(|c| c.is_ascii_digit() || c == '.')
            });
    }
    // Decimal integers and floats, with optional exponent and underscores.
    let (mantissa, exp) = match body.find('e') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits_ok = |t: &str| t.chars().all(|c| c.is_ascii_digit() || c == '_');
    let mant_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && digits_ok(a)
                && digits_ok(b)
                && !mantissa.starts_with('_')
        }
        None => !mantissa.is_empty() && digits_ok(mantissa) && !mantissa.starts_with('_'),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mant_ok && exp_ok
}

/// Renders a stream of documents separated by `---`, the way `kustomize build` prints them.
pub fn to_stream<'a>(docs: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_string(doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: &Value) {
        let text = to_string(v);
        let back = parse_one(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(&back, v, "{text}");
    }

    #[test]
    fn strings_that_look_like_other_types_round_trip() {
        for s in [
            "true",
            "1",
            "1.5",
            "0x1F",
            "null",
            "",
            " lead",
            "trail ",
            "a: b",
            "#c",
            "a #b",
            "-",
            "- x",
            "multi\nline\n",
            "no-newline\nend",
            "tabs\tin",
            "keep\n\n",
            "[x]",
            "{y}",
            "*ref",
            "&a",
            "!tag",
            "%p",
            "@at",
            "`bt",
            "quote\"s",
            "back\\slash",
            "yes",
            "On",
            "1e3",
            ".5",
            "+1",
            "0o17",
            "2001:db8::1",
            "\u{1}",
            "1:20",
            "1_000",
            "0b101",
            "-1.5e-3",
            "1Gi",
            "100m",
            "-x",
            "a,b",
            "x[0]",
        ] {
            let mut m = Map::new();
            m.insert(s, Value::String(s.to_string()));
            roundtrip(&Value::Map(m));
        }
    }

    #[test]
    fn nested_structures_round_trip() {
        let text = "a:\n  b:\n  - c: 1\n    d: [1, 2]\n  - []\n  - {}\n  e: 1.5\nf: ~\ng: false\n";
        let v = parse_one(text).unwrap_or_default();
        roundtrip(&v);
    }

    #[test]
    fn integral_floats_print_as_integers_like_kustomize() {
        let v = parse_one("a: 1e3\nb: 0.5\nc: 0644\n").unwrap_or_default();
        assert_eq!(to_string(&v), "a: 1000\nb: 0.5\nc: 420\n");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse_documents(&text).is_err());
    }
}
