//! `--set`, `--set-string`, `--set-json`, `--set-file` and `--set-literal`: Helm's "strvals"
//! syntax.
//!
//! `a.b=c,list[0]=x,list[1].name=y,arr={1,2}`: dots nest maps, `[i]` indexes lists (growing
//! them with nulls), `{a,b}` is a list, `\` escapes the next character, commas separate
//! assignments. What a value becomes depends on the [`Kind`] of flag.

use serde_json::{Map, Value};

/// Which flag an expression came from: it decides what the text after `=` becomes.
#[derive(Clone, Copy)]
pub enum Kind<'a> {
    /// `--set`: `true`, `false`, `null` and integers without a leading zero become
    /// bool/nil/int64; the rest stays a string.
    Typed,
    /// `--set-string`: every value is a string.
    String,
    /// `--set-json`: each value is one JSON document (`a={"b":1},c=[1,2]`); an empty value is
    /// null. JSON numbers are float64, as Go decodes them.
    Json,
    /// `--set-file`: each value is a path; the file's content (read by the function) is the
    /// string value.
    File(&'a dyn Fn(&str) -> Result<String, String>),
    /// `--set-literal`: one key, and everything after its `=` verbatim (commas, braces and
    /// backslashes included).
    Literal,
}

/// The largest list index `--set` accepts (Helm's `MaxIndex`).
const MAX_INDEX: usize = 65536;
/// The deepest `a.b.c` nesting `--set` accepts (Helm's `MaxNestedNameLevel`).
const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Parses one expression of the flag `kind` into `dest`.
pub fn parse_into(expr: &str, dest: &mut Map<String, Value>, kind: Kind<'_>) -> Result<(), String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut p = Parser {
        s: chars,
        pos: 0,
        kind,
    };
    loop {
        match p.key(dest, 0) {
            Ok(()) => continue,
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Err(e)) => return Err(e),
        }
    }
}

enum Stop {
    Eof,
    Err(String),
}

fn err<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Err(msg.into()))
}

struct Parser<'a> {
    s: Vec<char>,
    pos: usize,
    kind: Kind<'a>,
}

impl Parser<'_> {
    fn read(&mut self) -> Option<char> {
        let c = self.s.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads up to a stop character (consumed, returned) handling `\` escapes. `None` as the
    /// stop means the input ended.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') if !matches!(self.kind, Kind::Literal) => match self.read() {
                    None => return (v, None),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    /// The value of the text after `=` (or of a `{…}` item).
    fn value(&self, v: String) -> Result<Value, Stop> {
        match self.kind {
            Kind::String | Kind::Literal | Kind::Json => Ok(Value::String(v)),
            Kind::File(read) => read(&v).map(Value::String).map_err(Stop::Err),
            Kind::Typed => Ok(Self::typed(v)),
        }
    }

    /// `--set-json`: the JSON document at the cursor (null when the value is empty), then
    /// the blanks and comma after it.
    fn json(&mut self) -> Result<Value, Stop> {
        if self.empty_value() {
            return Ok(Value::Null);
        }
        let rest: String = self.s[self.pos..].iter().collect();
        let mut it = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
        let v = match it.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return err(e.to_string()),
            None => return Err(Stop::Eof),
        };
        self.pos += rest[..it.byte_offset()].chars().count();
        self.empty_value();
        Ok(go_json_numbers(v))
    }

    /// Helm's `emptyVal`: skips blanks; true at the end or at a comma (consumed).
    fn empty_value(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.pos -= 1;
                    return false;
                }
            }
        }
    }

    /// `--set-literal`: the rest of the input.
    fn rest(&mut self) -> String {
        let v: String = self.s[self.pos..].iter().collect();
        self.pos = self.s.len();
        v
    }

    fn typed(v: String) -> Value {
        if v.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if v.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if v.eq_ignore_ascii_case("null") {
            return Value::Null;
        }
        if v == "0" {
            return Value::from(0i64);
        }
        if !v.is_empty()
            && !v.starts_with('0')
            && let Ok(i) = go_parse_int10(&v)
        {
            return Value::from(i);
        }
        Value::String(v)
    }

    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<(), Stop> {
        let stops: &[char] = match self.kind {
            Kind::Literal => &['=', '[', '.'],
            _ => &['=', '[', ',', '.'],
        };
        let (k, last) = self.until(stops);
        match last {
            None => {
                if k.is_empty() {
                    return Err(Stop::Eof);
                }
                err(format!("key {k:?} has no value"))
            }
            Some('[') => {
                let i = self.key_index()?;
                let mut list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::Array(a)) => a.clone(),
                    Some(_) => {
                        return err(format!(
                            "unable to parse key: interface conversion: {k} is not a list"
                        ));
                    }
                };
                let r = self.list_item(&mut list, i, level);
                if !k.is_empty() {
                    data.insert(k, Value::Array(list));
                }
                r
            }
            Some('=') if matches!(self.kind, Kind::Literal) => {
                let v = self.rest();
                set(data, k, Value::String(v));
                Ok(())
            }
            Some('=') if matches!(self.kind, Kind::Json) => {
                let v = self.json()?;
                set(data, k, v);
                Ok(())
            }
            Some('=') => match self.val_list() {
                Ok(Some(list)) => {
                    set(data, k, Value::Array(list));
                    Ok(())
                }
                Ok(None) => {
                    let (rs, _) = self.until(&[',']);
                    let v = self.value(rs)?;
                    set(data, k, v);
                    Ok(())
                }
                Err(Stop::Eof) => {
                    set(data, k, Value::String(String::new()));
                    Err(Stop::Eof)
                }
                Err(e) => Err(e),
            },
            Some(',') => {
                set(data, k.clone(), Value::String(String::new()));
                err(format!("key {k:?} has no value (cannot end with ,)"))
            }
            Some(_) => {
                // '.'
                let level = level + 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let mut inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Object(m)) => m.clone(),
                    Some(_) => {
                        return err(format!(
                            "unable to parse key: interface conversion: interface {{}} is not map[string]interface {{}} ({k})"
                        ));
                    }
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return err(format!("key map {k:?} has no value"));
                }
                if !inner.is_empty() {
                    set(data, k, Value::Object(inner));
                }
                e
            }
        }
    }

    fn key_index(&mut self) -> Result<i64, Stop> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(Stop::Eof);
        }
        v.parse::<i64>().map_err(|_| {
            Stop::Err(format!(
                "error parsing index: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        })
    }

    fn set_index(list: &mut Vec<Value>, i: i64, v: Value) -> Result<(), Stop> {
        if i < 0 {
            return err(format!("negative {i} index not allowed"));
        }
        let i = i as usize;
        if i > MAX_INDEX {
            return err(format!(
                "index of {i} is greater than maximum supported index of {MAX_INDEX}"
            ));
        }
        if list.len() <= i {
            list.resize(i + 1, Value::Null);
        }
        list[i] = v;
        Ok(())
    }

    fn list_item(&mut self, list: &mut Vec<Value>, i: i64, level: usize) -> Result<(), Stop> {
        if i < 0 {
            return err(format!("negative {i} index not allowed"));
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return err(format!("unexpected data at end of array index: {k:?}"));
        }
        match last {
            None => Err(Stop::Eof),
            Some('=') if matches!(self.kind, Kind::Literal) => {
                let v = self.rest();
                Self::set_index(list, i, Value::String(v))
            }
            Some('=') if matches!(self.kind, Kind::Json) => {
                let v = self.json()?;
                Self::set_index(list, i, v)
            }
            Some('=') => match self.val_list() {
                Ok(Some(vl)) => Self::set_index(list, i, Value::Array(vl)),
                Err(Stop::Eof) => Self::set_index(list, i, Value::String(String::new())),
                Ok(None) => {
                    let (rs, _) = self.until(&[',']);
                    let v = self.value(rs)?;
                    Self::set_index(list, i, v)
                }
                Err(e) => Err(e),
            },
            Some('[') => {
                let next = self.key_index()?;
                let mut inner = match list.get(i as usize) {
                    Some(Value::Array(a)) => a.clone(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(_) => return err("unable to parse key: not a list"),
                };
                self.list_item(&mut inner, next, level)?;
                Self::set_index(list, i, Value::Array(inner))
            }
            Some(_) => {
                // '.'
                let mut inner = match list.get(i as usize) {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                self.key(&mut inner, level)?;
                Self::set_index(list, i, Value::Object(inner))
            }
        }
    }

    /// `{a,b,c}` after `=`; `Ok(None)` when the value is not a list.
    fn val_list(&mut self) -> Result<Option<Vec<Value>>, Stop> {
        match self.read() {
            None => return Err(Stop::Eof),
            Some('{') => {}
            Some(_) => {
                self.pos -= 1;
                return Ok(None);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                None => return err("list must terminate with '}'"),
                Some('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.pos -= 1;
                    }
                    list.push(self.value(rs)?);
                    return Ok(Some(list));
                }
                Some(_) => list.push(self.value(rs)?),
            }
        }
    }
}

fn set(data: &mut Map<String, Value>, key: String, v: Value) {
    if !key.is_empty() {
        data.insert(key, v);
    }
}

/// Go's `encoding/json` decodes every number into a float64 (`--set-json a=1000000` is
/// `1e+06` to a template).
fn go_json_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(go_json_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, go_json_numbers(v)))
                .collect(),
        ),
        v => v,
    }
}

/// `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits.
fn go_parse_int10(s: &str) -> Result<i64, ()> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    s.parse::<i64>().map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str, string_only: bool) -> Result<Value, String> {
        let kind = if string_only {
            Kind::String
        } else {
            Kind::Typed
        };
        parse_kind(s, kind)
    }

    fn parse_kind(s: &str, kind: Kind<'_>) -> Result<Value, String> {
        let mut m = Map::new();
        parse_into(s, &mut m, kind)?;
        Ok(Value::Object(m))
    }

    #[test]
    fn json_values() {
        let v = parse_kind(r#"a={"b":[1,"x"]}, c=[1,2],d=,e.f="s""#, Kind::Json).unwrap();
        assert_eq!(
            v,
            // The blank after a comma starts the next key, as in Helm.
            json!({"a": {"b": [1.0, "x"]}, " c": [1.0, 2.0], "d": null, "e": {"f": "s"}})
        );
        assert!(v[" c"][0].is_f64(), "Go decodes JSON numbers as float64");
        assert!(parse_kind("a={bad", Kind::Json).is_err());
    }

    #[test]
    fn literal_values() {
        assert_eq!(
            parse_kind(r"a.b=x,y={z}\n", Kind::Literal).unwrap(),
            json!({"a": {"b": "x,y={z}\\n"}})
        );
        assert_eq!(
            parse_kind("l[1]=v,w", Kind::Literal).unwrap(),
            json!({"l": [null, "v,w"]})
        );
    }

    #[test]
    fn file_values() {
        let read = |p: &str| match p {
            "ok.txt" => Ok(format!("content of {p}")),
            _ => Err(format!("open {p}: no such file or directory")),
        };
        assert_eq!(
            parse_kind("a=ok.txt,b[0]=ok.txt", Kind::File(&read)).unwrap(),
            json!({"a": "content of ok.txt", "b": ["content of ok.txt"]})
        );
        let e = parse_kind("a=missing.txt", Kind::File(&read)).unwrap_err();
        assert!(e.contains("missing.txt: no such file"), "{e}");
    }

    #[test]
    fn typed_values() {
        assert_eq!(
            parse("a=1,b=true,c=null,d=007,e=x,f.g=2", false).unwrap(),
            json!({"a": 1, "b": true, "c": null, "d": "007", "e": "x", "f": {"g": 2}})
        );
        let v = parse("a=1", false).unwrap();
        assert!(v["a"].is_i64());
    }

    #[test]
    fn strings_lists_escapes() {
        assert_eq!(
            parse("a=1,b=true", true).unwrap(),
            json!({"a": "1", "b": "true"})
        );
        assert_eq!(
            parse("l[1]=x,m[0].name=n,arr={a,b},esc=a\\,b,dot\\.key=v", false).unwrap(),
            json!({"l": [null, "x"], "m": [{"name": "n"}], "arr": ["a", "b"], "esc": "a,b", "dot.key": "v"})
        );
        assert_eq!(
            parse("n[0][1]=z", false).unwrap(),
            json!({"n": [[null, "z"]]})
        );
        assert_eq!(parse("e=", false).unwrap(), json!({"e": ""}));
    }

    #[test]
    fn errors() {
        assert!(parse("a", false).unwrap_err().contains("has no value"));
        assert!(
            parse("a,b=1", false)
                .unwrap_err()
                .contains("cannot end with ,")
        );
        assert!(parse("a[-1]=x", false).unwrap_err().contains("negative"));
        assert!(parse("a[70000]=x", false).unwrap_err().contains("maximum"));
        assert!(parse("a={x,y", false).unwrap_err().contains("terminate"));
    }
}
