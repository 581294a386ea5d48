//! `--set` and `--set-string`: Helm's "strvals" syntax.
//!
//! `a.b=c,list[0]=x,list[1].name=y,arr={1,2}`: dots nest maps, `[i]` indexes lists (growing
//! them with nulls), `{a,b}` is a list, `\` escapes the next character, commas separate
//! assignments. With `--set` values are typed (`true`, `false`, `null`, integers without a
//! leading zero become bool/nil/int64); with `--set-string` everything stays a string.

use serde_json::{Map, Value};

/// The largest list index `--set` accepts (Helm's `MaxIndex`).
const MAX_INDEX: usize = 65536;
/// The deepest `a.b.c` nesting `--set` accepts (Helm's `MaxNestedNameLevel`).
const MAX_NESTED_NAME_LEVEL: usize = 30;

/// Parses one `--set` (typed) or `--set-string` expression into `dest`.
pub fn parse_into(
    expr: &str,
    dest: &mut Map<String, Value>,
    string_only: bool,
) -> Result<(), String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut p = Parser {
        s: chars,
        pos: 0,
        string_only,
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

struct Parser {
    s: Vec<char>,
    pos: usize,
    string_only: bool,
}

impl Parser {
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
                Some('\\') => match self.read() {
                    None => return (v, None),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn typed(&self, v: String) -> Value {
        if self.string_only {
            return Value::String(v);
        }
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
        let (k, last) = self.until(&['=', '[', ',', '.']);
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
            Some('=') => match self.val_list() {
                Ok(Some(list)) => {
                    set(data, k, Value::Array(list));
                    Ok(())
                }
                Ok(None) => {
                    let (rs, _) = self.until(&[',']);
                    let v = self.typed(rs);
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
            Some('=') => match self.val_list() {
                Ok(Some(vl)) => Self::set_index(list, i, Value::Array(vl)),
                Err(Stop::Eof) => Self::set_index(list, i, Value::String(String::new())),
                Ok(None) => {
                    let (rs, _) = self.until(&[',']);
                    let v = self.typed(rs);
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
                    list.push(self.typed(rs));
                    return Ok(Some(list));
                }
                Some(_) => list.push(self.typed(rs)),
            }
        }
    }
}

fn set(data: &mut Map<String, Value>, key: String, v: Value) {
    if !key.is_empty() {
        data.insert(key, v);
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
        let mut m = Map::new();
        parse_into(s, &mut m, string_only)?;
        Ok(Value::Object(m))
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
