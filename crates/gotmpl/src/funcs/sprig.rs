//! Sprig v3.3 (`sprig.TxtFuncMap()`), as Helm 3 ships it: the same names, Go signatures,
//! conversions (`spf13/cast`), quirks (`mergo`'s merge of empty values) and error messages.

use std::collections::HashMap;

use base64::Engine as _;
use rand::Rng as _;

use super::{Body, int, s, sig, strval};
use crate::format;
use crate::value::{Map, Value};
use crate::{FuncError, Function};

type Res = Result<Value, FuncError>;

pub(super) fn register(m: &mut HashMap<String, Function>) {
    let mut add = |name: &str, spec: &str, body: Body| {
        m.insert(name.to_string(), sig(spec, body));
    };
    // --- strings -------------------------------------------------------------------------
    add("hello", "", |_, _| Ok(Value::str("Hello!")));
    add("upper", "S", |_, a| Ok(Value::str(go_upper(s(&a, 0)))));
    add("lower", "S", |_, a| Ok(Value::str(go_lower(s(&a, 0)))));
    add("title", "S", |_, a| Ok(Value::str(title(s(&a, 0)))));
    add("untitle", "S", |_, a| Ok(Value::str(untitle(s(&a, 0)))));
    add("trim", "S", |_, a| {
        Ok(Value::str(s(&a, 0).trim_matches(char::is_whitespace)))
    });
    add("trimAll", "S S", |_, a| {
        Ok(Value::str(trim_set(s(&a, 1), s(&a, 0))))
    });
    add("trimall", "S S", |_, a| {
        Ok(Value::str(trim_set(s(&a, 1), s(&a, 0))))
    });
    add("trimSuffix", "S S", |_, a| {
        Ok(Value::str(
            s(&a, 1).strip_suffix(s(&a, 0)).unwrap_or(s(&a, 1)),
        ))
    });
    add("trimPrefix", "S S", |_, a| {
        Ok(Value::str(
            s(&a, 1).strip_prefix(s(&a, 0)).unwrap_or(s(&a, 1)),
        ))
    });
    add("nospace", "S", |_, a| {
        Ok(Value::str(
            s(&a, 0)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    });
    add("trunc", "I S", |_, a| {
        Ok(Value::str(trunc(int(&a, 0), s(&a, 1))))
    });
    add("substr", "I I S", |_, a| {
        substr(int(&a, 0), int(&a, 1), s(&a, 2))
    });
    add("repeat", "I S", |_, a| {
        let n = int(&a, 0);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let r = s(&a, 1);
        if (n as u128) * (r.len() as u128) > 64 << 20 {
            return Err("strings: Repeat output length overflow".into());
        }
        Ok(Value::str(r.repeat(n as usize)))
    });
    add("contains", "S S", |_, a| {
        Ok(Value::Bool(s(&a, 1).contains(s(&a, 0))))
    });
    add("hasPrefix", "S S", |_, a| {
        Ok(Value::Bool(s(&a, 1).starts_with(s(&a, 0))))
    });
    add("hasSuffix", "S S", |_, a| {
        Ok(Value::Bool(s(&a, 1).ends_with(s(&a, 0))))
    });
    add("replace", "S S S", |_, a| {
        Ok(Value::str(s(&a, 2).replace(s(&a, 0), s(&a, 1))))
    });
    add("quote", "A*", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| format::go_quote(&strval(x)))
            .collect();
        Ok(Value::str(v.join(" ")))
    });
    add("squote", "A*", |_, a| {
        let v: Vec<String> = a
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| format!("'{}'", strval(x)))
            .collect();
        Ok(Value::str(v.join(" ")))
    });
    add("cat", "A*", |_, a| {
        let v: Vec<Value> = a.into_iter().filter(|x| !x.is_nil()).collect();
        let parts: Vec<String> = v
            .iter()
            .map(|x| format::sprint(std::slice::from_ref(x)))
            .collect();
        Ok(Value::str(parts.join(" ")))
    });
    add("indent", "I S", |_, a| {
        Ok(Value::str(indent(int(&a, 0), s(&a, 1))))
    });
    add("nindent", "I S", |_, a| {
        Ok(Value::str(format!("\n{}", indent(int(&a, 0), s(&a, 1)))))
    });
    add("plural", "S S I", |_, a| {
        Ok(Value::str(if int(&a, 2) == 1 {
            s(&a, 0)
        } else {
            s(&a, 1)
        }))
    });
    add("initials", "S", |_, a| {
        Ok(Value::str(
            s(&a, 0)
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect::<String>(),
        ))
    });
    add("swapcase", "S", |_, a| {
        Ok(Value::str(
            s(&a, 0)
                .chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_lowercase().collect::<String>()
                    } else if c.is_lowercase() {
                        c.to_uppercase().collect::<String>()
                    } else {
                        c.to_string()
                    }
                })
                .collect::<String>(),
        ))
    });
    add("snakecase", "S", |_, a| {
        Ok(Value::str(snake(s(&a, 0), '_')))
    });
    add("kebabcase", "S", |_, a| {
        Ok(Value::str(snake(s(&a, 0), '-')))
    });
    add("camelcase", "S", |_, a| Ok(Value::str(camel(s(&a, 0)))));
    add("shuffle", "S", |_, a| {
        let mut c: Vec<char> = s(&a, 0).chars().collect();
        let mut rng = rand::rng();
        for i in (1..c.len()).rev() {
            let j = rng.random_range(0..=i);
            c.swap(i, j);
        }
        Ok(Value::str(c.into_iter().collect::<String>()))
    });
    add("abbrev", "I S", |_, a| {
        Ok(Value::str(abbrev(int(&a, 0), s(&a, 1))))
    });
    add("abbrevboth", "I I S", |_, a| {
        Ok(Value::str(abbrevboth(int(&a, 0), int(&a, 1), s(&a, 2))))
    });
    add("wrap", "I S", |_, a| {
        Ok(Value::str(wrap(s(&a, 1), int(&a, 0), "\n")))
    });
    add("wrapWith", "I S S", |_, a| {
        Ok(Value::str(wrap(s(&a, 2), int(&a, 0), s(&a, 1))))
    });
    add("randAlphaNum", "I", |_, a| rand_string(int(&a, 0), ALNUM));
    add("randAlpha", "I", |_, a| rand_string(int(&a, 0), ALPHA));
    add("randNumeric", "I", |_, a| {
        rand_string(int(&a, 0), b"0123456789")
    });
    add("randAscii", "I", |_, a| {
        let chars: Vec<u8> = (32u8..=126).collect();
        rand_string(int(&a, 0), &chars)
    });
    add("randBytes", "I", |_, a| {
        let n = int(&a, 0).clamp(0, 1 << 20) as usize;
        let mut b = vec![0u8; n];
        rand::rng().fill(&mut b[..]);
        Ok(Value::str(
            base64::engine::general_purpose::STANDARD.encode(b),
        ))
    });
    add("uuidv4", "", |_, _| {
        let mut b = [0u8; 16];
        rand::rng().fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        Ok(Value::str(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )))
    });
    add("split", "S S", |_, a| {
        Ok(Value::string_map(
            s(&a, 1)
                .split(s(&a, 0))
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), p)),
        ))
    });
    add("splitn", "S I S", |_, a| {
        let n = int(&a, 1);
        let parts: Vec<&str> = if n < 0 {
            s(&a, 2).split(s(&a, 0)).collect()
        } else {
            s(&a, 2).splitn(n as usize, s(&a, 0)).collect()
        };
        Ok(Value::string_map(
            parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), p)),
        ))
    });
    add("splitList", "S S", |_, a| {
        Ok(Value::strings(go_split(s(&a, 1), s(&a, 0))))
    });
    add("join", "S A", |_, a| {
        Ok(Value::str(strslice(&a[1]).join(s(&a, 0))))
    });
    add("sortAlpha", "A", |_, a| {
        let mut v = match &*a[0].as_collection() {
            l @ (Value::List(_) | Value::Bytes(_)) => strslice(l),
            x => vec![strval(x)],
        };
        v.sort();
        Ok(Value::strings(v))
    });
    add("toString", "A", |_, a| Ok(Value::str(strval(&a[0]))));
    add("toStrings", "A", |_, a| Ok(Value::strings(strslice(&a[0]))));
    add("atoi", "S", |_, a| {
        Ok(Value::Int(s(&a, 0).parse::<i64>().unwrap_or(0)))
    });
    add("int", "A", |_, a| Ok(Value::Int(to_int64(&a[0]))));
    add("int64", "A", |_, a| Ok(Value::Int64(to_int64(&a[0]))));
    add("float64", "A", |_, a| Ok(Value::Float(to_float64(&a[0]))));
    add("toDecimal", "A", |_, a| {
        Ok(Value::Int64(
            i64::from_str_radix(&strval(&a[0]), 8).unwrap_or(0),
        ))
    });
    // --- encoding and hashes ---------------------------------------------------------------
    add("b64enc", "S", |_, a| {
        Ok(Value::str(
            base64::engine::general_purpose::STANDARD.encode(sb(&a)),
        ))
    });
    add("b64dec", "S", |_, a| {
        Ok(Value::str(
            match base64::engine::general_purpose::STANDARD.decode(s(&a, 0)) {
                Ok(b) => return Ok(Value::byte_string(b)),
                Err(e) => b64_error(&e),
            },
        ))
    });
    add("b32enc", "S", |_, a| Ok(Value::str(b32enc(sb(&a)))));
    add("b32dec", "S", |_, a| {
        Ok(Value::str(match b32dec(s(&a, 0)) {
            Ok(b) => return Ok(Value::byte_string(b)),
            Err(e) => e,
        }))
    });
    add("sha1sum", "S", |_, a| {
        use sha1::Digest as _;
        Ok(Value::str(hex::encode(sha1::Sha1::digest(sb(&a)))))
    });
    add("sha256sum", "S", |_, a| {
        use sha2::Digest as _;
        Ok(Value::str(hex::encode(sha2::Sha256::digest(sb(&a)))))
    });
    add("sha512sum", "S", |_, a| {
        use sha2::Digest as _;
        Ok(Value::str(hex::encode(sha2::Sha512::digest(sb(&a)))))
    });
    add("adler32sum", "S", |_, a| {
        Ok(Value::str(adler32(sb(&a)).to_string()))
    });
    // --- paths -----------------------------------------------------------------------------
    for (n, f) in [
        ("base", path_base as fn(&str) -> String),
        ("osBase", path_base),
        ("dir", path_dir),
        ("osDir", path_dir),
        ("clean", path_clean),
        ("osClean", path_clean),
        ("ext", path_ext),
        ("osExt", path_ext),
    ] {
        let _ = f;
        add(
            n,
            "S",
            match n {
                "base" | "osBase" => |_, a| Ok(Value::str(path_base(s(&a, 0)))),
                "dir" | "osDir" => |_, a| Ok(Value::str(path_dir(s(&a, 0)))),
                "clean" | "osClean" => |_, a| Ok(Value::str(path_clean(s(&a, 0)))),
                _ => |_, a| Ok(Value::str(path_ext(s(&a, 0)))),
            },
        );
    }
    add("isAbs", "S", |_, a| {
        Ok(Value::Bool(s(&a, 0).starts_with('/')))
    });
    add("osIsAbs", "S", |_, a| {
        Ok(Value::Bool(s(&a, 0).starts_with('/')))
    });
    // --- math ------------------------------------------------------------------------------
    add("add1", "A", |_, a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
    });
    add("add", "A*", |_, a| {
        Ok(Value::Int64(
            a.iter().fold(0i64, |acc, x| acc.wrapping_add(to_int64(x))),
        ))
    });
    add("sub", "A A", |_, a| {
        Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    add("mul", "A A*", |_, a| {
        Ok(Value::Int64(
            a.iter().fold(1i64, |acc, x| acc.wrapping_mul(to_int64(x))),
        ))
    });
    add("div", "A A", |_, a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
    });
    add("mod", "A A", |_, a| {
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
    });
    add("max", "A A*", |_, a| {
        Ok(Value::Int64(a.iter().map(to_int64).max().unwrap_or(0)))
    });
    add("biggest", "A A*", |_, a| {
        Ok(Value::Int64(a.iter().map(to_int64).max().unwrap_or(0)))
    });
    add("min", "A A*", |_, a| {
        Ok(Value::Int64(a.iter().map(to_int64).min().unwrap_or(0)))
    });
    add("maxf", "A A*", |_, a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::NEG_INFINITY, go_max),
        ))
    });
    add("minf", "A A*", |_, a| {
        Ok(Value::Float(
            a.iter().map(to_float64).fold(f64::INFINITY, go_min),
        ))
    });
    add("add1f", "A", |_, a| {
        Ok(Value::Float(dec_op(to_float64(&a[0]), 1.0, '+')))
    });
    add("addf", "A*", |_, a| {
        Ok(Value::Float(
            a.iter().fold(0.0, |acc, x| dec_op(acc, to_float64(x), '+')),
        ))
    });
    add("subf", "A A*", |_, a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .fold(to_float64(&a[0]), |acc, x| dec_op(acc, to_float64(x), '-')),
        ))
    });
    add("mulf", "A A*", |_, a| {
        Ok(Value::Float(
            a[1..]
                .iter()
                .fold(to_float64(&a[0]), |acc, x| dec_op(acc, to_float64(x), '*')),
        ))
    });
    add("divf", "A A*", |_, a| {
        let mut acc = to_float64(&a[0]);
        for x in &a[1..] {
            let d = to_float64(x);
            if d == 0.0 {
                return Err("decimal division by 0".into());
            }
            acc = dec_op(acc, d, '/');
        }
        Ok(Value::Float(acc))
    });
    add("floor", "A", |_, a| {
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    add("ceil", "A", |_, a| {
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    add("round", "A I F*", |_, a| {
        let round_on = match a.get(2) {
            Some(Value::Float(f)) => *f,
            _ => 0.5,
        };
        let val = to_float64(&a[0]);
        let pow = 10f64.powf(int(&a, 1) as f64);
        let digit = pow * val;
        let frac = digit - digit.trunc();
        let r = if frac >= round_on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Value::Float(r / pow))
    });
    add("randInt", "I I", |_, a| {
        let (lo, hi) = (int(&a, 0), int(&a, 1));
        if hi <= lo {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(rand::rng().random_range(lo..hi)))
    });
    add("until", "I", |_, a| {
        let n = int(&a, 0);
        until_step(0, n, if n < 0 { -1 } else { 1 })
    });
    add("untilStep", "I I I", |_, a| {
        until_step(int(&a, 0), int(&a, 1), int(&a, 2))
    });
    add("seq", "I*", |_, a| {
        let p: Vec<i64> = a
            .iter()
            .map(|v| match v {
                Value::Int(i) | Value::Int64(i) => *i,
                _ => 0,
            })
            .collect();
        let (start, end, step) = match p.as_slice() {
            [] => return Ok(Value::str("")),
            [end] => (1, *end, if *end < 1 { -1 } else { 1 }),
            [start, end] => (*start, *end, if end < start { -1 } else { 1 }),
            [start, step, end, ..] => {
                if (end < start && *step >= 0) || (end > start && *step <= 0) {
                    return Ok(Value::str(""));
                }
                (*start, *end, *step)
            }
        };
        let l = until_step(
            start,
            end + step.signum().max(if step == 0 { 1 } else { -1 }),
            step,
        )?;
        let v: Vec<String> = l.as_list().unwrap_or(&[]).iter().map(strval).collect();
        Ok(Value::str(v.join(" ")))
    });
    // --- defaults and types ----------------------------------------------------------------
    add("default", "A A*", |_, a| {
        if a.len() < 2 || empty(&a[1]) {
            Ok(a[0].clone())
        } else {
            Ok(a[1].clone())
        }
    });
    add("empty", "A", |_, a| Ok(Value::Bool(empty(&a[0]))));
    add("coalesce", "A*", |_, a| {
        Ok(a.into_iter().find(|v| !empty(v)).unwrap_or(Value::Nil))
    });
    add("all", "A*", |_, a| {
        Ok(Value::Bool(a.iter().all(|v| !empty(v))))
    });
    add("any", "A*", |_, a| {
        Ok(Value::Bool(a.iter().any(|v| !empty(v))))
    });
    add("ternary", "A A B", |_, a| {
        Ok(if matches!(a[2], Value::Bool(true)) {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    add("typeOf", "A", |_, a| Ok(Value::str(a[0].type_name())));
    add("typeIs", "S A", |_, a| {
        Ok(Value::Bool(s(&a, 0) == a[1].type_name()))
    });
    add("typeIsLike", "S A", |_, a| {
        let t = a[1].type_name();
        Ok(Value::Bool(s(&a, 0) == t || format!("*{}", s(&a, 0)) == t))
    });
    add("kindOf", "A", |_, a| Ok(Value::str(a[0].kind_name())));
    add("kindIs", "S A", |_, a| {
        Ok(Value::Bool(s(&a, 0) == a[1].kind_name()))
    });
    add("deepEqual", "A A", |_, a| Ok(Value::Bool(a[0] == a[1])));
    add("deepCopy", "A", |_, a| Ok(a[0].deep_copy()));
    add("mustDeepCopy", "A", |_, a| {
        if a[0].is_nil() {
            return Err("copy: Must not be nil".into());
        }
        Ok(a[0].deep_copy())
    });
    add("toJson", "A", |_, a| Ok(Value::str(json_or_empty(&a[0]))));
    add("mustToJson", "A", |_, a| {
        if has_non_finite(&a[0]) {
            return Err("json: unsupported value: NaN".into());
        }
        Ok(Value::str(json_or_empty(&a[0])))
    });
    add("toRawJson", "A", |_, a| Ok(Value::str(raw_json(&a[0]))));
    add("mustToRawJson", "A", |_, a| Ok(Value::str(raw_json(&a[0]))));
    add("toPrettyJson", "A", |_, a| {
        Ok(Value::str(pretty_json(&a[0])))
    });
    add("mustToPrettyJson", "A", |_, a| {
        Ok(Value::str(pretty_json(&a[0])))
    });
    add("fromJson", "S", |_, a| {
        Ok(from_json_any(s(&a, 0)).unwrap_or(Value::Nil))
    });
    add("mustFromJson", "S", |_, a| {
        from_json_any(s(&a, 0)).map_err(FuncError::Message)
    });
    add("fail", "S", |_, a| {
        Err(FuncError::Message(s(&a, 0).to_string()))
    });
    add("getHostByName", "S", |_, _| Ok(Value::str("")));
    add("env", "S", |_, _| Ok(Value::str("")));
    add("expandenv", "S", |_, a| Ok(Value::str(s(&a, 0))));
    // --- lists -----------------------------------------------------------------------------
    add("list", "A*", |_, a| Ok(Value::list(a)));
    add("tuple", "A*", |_, a| Ok(Value::list(a)));
    add("first", "A", |_, a| first(&a[0]).map_err(panic_msg));
    add("mustFirst", "A", |_, a| first(&a[0]));
    add("last", "A", |_, a| last(&a[0]).map_err(panic_msg));
    add("mustLast", "A", |_, a| last(&a[0]));
    add("rest", "A", |_, a| {
        list_op(&a[0], "rest", |l| Some(l.get(1..).unwrap_or(&[]).to_vec())).map_err(panic_msg)
    });
    add("mustRest", "A", |_, a| {
        list_op(&a[0], "rest", |l| Some(l.get(1..).unwrap_or(&[]).to_vec()))
    });
    add("initial", "A", |_, a| {
        list_op(&a[0], "initial", |l| {
            l.get(..l.len().max(1) - 1).map(<[Value]>::to_vec)
        })
        .map_err(panic_msg)
    });
    add("mustInitial", "A", |_, a| {
        list_op(&a[0], "initial", |l| {
            l.get(..l.len().max(1) - 1).map(<[Value]>::to_vec)
        })
    });
    add("reverse", "A", |_, a| {
        list_op(&a[0], "reverse", |l| {
            Some(l.iter().rev().cloned().collect())
        })
        .map_err(panic_msg)
    });
    add("mustReverse", "A", |_, a| {
        list_op(&a[0], "reverse", |l| {
            Some(l.iter().rev().cloned().collect())
        })
    });
    add("uniq", "A", |_, a| {
        list_op(&a[0], "uniq", |l| Some(uniq(l))).map_err(panic_msg)
    });
    add("mustUniq", "A", |_, a| {
        list_op(&a[0], "uniq", |l| Some(uniq(l)))
    });
    add("compact", "A", |_, a| {
        list_op(&a[0], "compact", |l| {
            Some(l.iter().filter(|v| !empty(v)).cloned().collect())
        })
        .map_err(panic_msg)
    });
    add("mustCompact", "A", |_, a| {
        list_op(&a[0], "compact", |l| {
            Some(l.iter().filter(|v| !empty(v)).cloned().collect())
        })
    });
    add("append", "A A", |_, a| {
        push(&a[0], a[1].clone(), false).map_err(panic_msg)
    });
    add("push", "A A", |_, a| {
        push(&a[0], a[1].clone(), false).map_err(panic_msg)
    });
    add("mustAppend", "A A", |_, a| push(&a[0], a[1].clone(), false));
    add("mustPush", "A A", |_, a| push(&a[0], a[1].clone(), false));
    add("prepend", "A A", |_, a| {
        push(&a[0], a[1].clone(), true).map_err(panic_msg)
    });
    add("mustPrepend", "A A", |_, a| push(&a[0], a[1].clone(), true));
    add("without", "A A*", |_, a| {
        without(&a[0], &a[1..]).map_err(panic_msg)
    });
    add("mustWithout", "A A*", |_, a| without(&a[0], &a[1..]));
    add("has", "A A", |_, a| has(&a[0], &a[1]).map_err(panic_msg));
    add("mustHas", "A A", |_, a| has(&a[0], &a[1]));
    add("slice", "A A*", |_, a| {
        sprig_slice(&a[0], &a[1..]).map_err(panic_msg)
    });
    add("mustSlice", "A A*", |_, a| sprig_slice(&a[0], &a[1..]));
    add("concat", "A*", |_, a| {
        let mut out = Vec::new();
        for l in &a {
            match &*l.as_collection() {
                Value::List(x) => out.extend(x.iter().cloned()),
                Value::Nil => {}
                v => {
                    return Err(panic_msg(
                        format!("Cannot concat type {} as list", v.kind_name()).into(),
                    ));
                }
            }
        }
        Ok(Value::list(out))
    });
    add("chunk", "I A", |_, a| {
        chunk(int(&a, 0), &a[1]).map_err(panic_msg)
    });
    add("mustChunk", "I A", |_, a| chunk(int(&a, 0), &a[1]));
    // --- dicts -----------------------------------------------------------------------------
    add("dict", "A*", |_, a| {
        let mut m = Map::new();
        let mut it = a.chunks(2);
        for pair in &mut it {
            let k = strval(&pair[0]);
            let v = pair.get(1).cloned().unwrap_or(Value::str(""));
            m.insert(k, v);
        }
        Ok(Value::map(m))
    });
    add("get", "M S", |_, a| {
        Ok(match &a[0] {
            Value::Map(m) => m.get(s(&a, 1)).unwrap_or(Value::str("")),
            _ => Value::str(""),
        })
    });
    add("set", "M S A", |_, a| {
        if let Value::Map(m) = &a[0] {
            m.insert(s(&a, 1), a[2].clone());
            Ok(a[0].clone())
        } else {
            Err(panic_msg("assignment to entry in nil map".into()))
        }
    });
    add("unset", "M S", |_, a| {
        if let Value::Map(m) = &a[0] {
            m.write().remove(s(&a, 1));
        }
        Ok(a[0].clone())
    });
    add("hasKey", "M S", |_, a| {
        Ok(Value::Bool(
            matches!(&a[0], Value::Map(m) if m.read().contains_key(s(&a, 1))),
        ))
    });
    add("pluck", "S M*", |_, a| {
        let k = s(&a, 0);
        Ok(Value::list(
            a[1..]
                .iter()
                .filter_map(|d| d.as_map().and_then(|m| m.get(k)))
                .collect(),
        ))
    });
    add("keys", "M*", |_, a| {
        let mut out = Vec::new();
        for d in &a {
            if let Value::Map(m) = d {
                out.extend(m.read().keys().cloned());
            }
        }
        Ok(Value::strings(out))
    });
    add("values", "M", |_, a| {
        Ok(Value::list(match &a[0] {
            Value::Map(m) => m.read().values().cloned().collect(),
            _ => Vec::new(),
        }))
    });
    add("pick", "M S*", |_, a| {
        let mut out = Map::new();
        if let Value::Map(m) = &a[0] {
            let m = m.read();
            for k in &a[1..] {
                let k = k.as_str().unwrap_or("");
                if let Some(v) = m.get(k) {
                    out.insert(k.to_string(), v.clone());
                }
            }
        }
        Ok(Value::map(out))
    });
    add("omit", "M S*", |_, a| {
        let mut out = Map::new();
        if let Value::Map(m) = &a[0] {
            let drop: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
            for (k, v) in m.read().iter() {
                if !drop.contains(&k.as_str()) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(Value::map(out))
    });
    add("merge", "M M*", |_, a| merge(&a, false));
    add("mustMerge", "M M*", |_, a| merge(&a, false));
    add("mergeOverwrite", "M M*", |_, a| merge(&a, true));
    add("mustMergeOverwrite", "M M*", |_, a| merge(&a, true));
    add("dig", "A*", |_, a| dig(&a));
    // --- regular expressions -----------------------------------------------------------------
    add("regexMatch", "S S", |_, a| {
        Ok(Value::Bool(
            re(s(&a, 0)).is_ok_and(|r| r.is_match(s(&a, 1))),
        ))
    });
    add("mustRegexMatch", "S S", |_, a| {
        Ok(Value::Bool(re(s(&a, 0))?.is_match(s(&a, 1))))
    });
    add("regexFind", "S S", |_, a| {
        let r = re(s(&a, 0)).map_err(panic_msg)?;
        Ok(Value::str(
            r.find(s(&a, 1)).map(|m| m.as_str()).unwrap_or(""),
        ))
    });
    add("mustRegexFind", "S S", |_, a| {
        let r = re(s(&a, 0))?;
        Ok(Value::str(
            r.find(s(&a, 1)).map(|m| m.as_str()).unwrap_or(""),
        ))
    });
    add("regexFindAll", "S S I", |_, a| {
        find_all(s(&a, 0), s(&a, 1), int(&a, 2)).map_err(panic_msg)
    });
    add("mustRegexFindAll", "S S I", |_, a| {
        find_all(s(&a, 0), s(&a, 1), int(&a, 2))
    });
    add("regexReplaceAll", "S S S", |_, a| {
        let r = re(s(&a, 0)).map_err(panic_msg)?;
        Ok(Value::str(
            r.replace_all(s(&a, 1), go_repl(s(&a, 2)).as_str()),
        ))
    });
    add("mustRegexReplaceAll", "S S S", |_, a| {
        let r = re(s(&a, 0))?;
        Ok(Value::str(
            r.replace_all(s(&a, 1), go_repl(s(&a, 2)).as_str()),
        ))
    });
    add("regexReplaceAllLiteral", "S S S", |_, a| {
        let r = re(s(&a, 0)).map_err(panic_msg)?;
        Ok(Value::str(
            r.replace_all(s(&a, 1), regex::NoExpand(s(&a, 2))),
        ))
    });
    add("mustRegexReplaceAllLiteral", "S S S", |_, a| {
        let r = re(s(&a, 0))?;
        Ok(Value::str(
            r.replace_all(s(&a, 1), regex::NoExpand(s(&a, 2))),
        ))
    });
    add("regexSplit", "S S I", |_, a| {
        regex_split(s(&a, 0), s(&a, 1), int(&a, 2)).map_err(panic_msg)
    });
    add("mustRegexSplit", "S S I", |_, a| {
        regex_split(s(&a, 0), s(&a, 1), int(&a, 2))
    });
    add("regexQuoteMeta", "S", |_, a| {
        Ok(Value::str(quote_meta(s(&a, 0))))
    });
    // --- urls ------------------------------------------------------------------------------
    add("urlParse", "S", |_, a| url_parse(s(&a, 0)));
    add("urlJoin", "M", |_, a| Ok(Value::str(url_join(&a[0]))));
    // --- dates, semver, crypto ------------------------------------------------------------
    super::sprig_more::register(&mut add);
}

/// Sprig's non-`must` functions panic; Go's template turns the panic into the same
/// "error calling NAME: MSG".
fn panic_msg(e: FuncError) -> FuncError {
    e
}

const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn rand_string(n: i64, set: &[u8]) -> Res {
    if n < 0 {
        return Err("Requested random string length -1 is less than 0.".into());
    }
    let n = n.min(1 << 20) as usize;
    let mut rng = rand::rng();
    Ok(Value::str(
        (0..n)
            .map(|_| set[rng.random_range(0..set.len())] as char)
            .collect::<String>(),
    ))
}

/// `spf13/cast.ToInt64`.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_go_int(&trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

fn trim_zero_decimal(s: &str) -> String {
    // cast's trimZeroDecimal: "3.00" -> "3".
    if let Some((a, b)) = s.split_once('.')
        && !a.is_empty()
        && b.bytes().all(|c| c == b'0')
    {
        return a.to_string();
    }
    s.to_string()
}

/// `strconv.ParseInt(s, 0, 64)`.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.replace('_', "");
    let lower = body.to_ascii_lowercase();
    let v = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        i64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        if lower.is_empty() || !lower.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        lower.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `spf13/cast.ToFloat64`.
pub(crate) fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Decimal arithmetic on the shortest decimal forms of two floats, as Sprig's
/// `shopspring/decimal` does (so `addf 0.1 0.2` is `0.3`).
fn dec_op(a: f64, b: f64, op: char) -> f64 {
    fn parts(f: f64) -> Option<(i128, i32)> {
        let s = format!("{:e}", f);
        let (m, e) = s.split_once('e')?;
        let e: i32 = e.parse().ok()?;
        let (neg, m) = match m.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, m),
        };
        let (ip, fp) = m.split_once('.').unwrap_or((m, ""));
        let digits = format!("{ip}{fp}");
        let mant: i128 = digits.parse().ok()?;
        Some((if neg { -mant } else { mant }, e - fp.len() as i32))
    }
    let fallback = || match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        _ => a / b,
    };
    if !a.is_finite() || !b.is_finite() {
        return fallback();
    }
    let (Some((ma, ea)), Some((mb, eb))) = (parts(a), parts(b)) else {
        return fallback();
    };
    let (m, e) = match op {
        '*' => match ma.checked_mul(mb) {
            Some(m) => (m, ea + eb),
            None => return fallback(),
        },
        // shopspring/decimal's Div: the quotient rounded half away from zero to 16 places.
        '/' => {
            const PLACES: i32 = 16;
            let k = ea - eb + PLACES;
            let scale =
                |m: i128, p: i32| 10i128.checked_pow(p as u32).and_then(|p| m.checked_mul(p));
            let (num, den) = if k >= 0 {
                (scale(ma, k), Some(mb))
            } else {
                (Some(ma), scale(mb, -k))
            };
            let (Some(num), Some(den)) = (num, den) else {
                return fallback();
            };
            let (q, r) = (num / den, num % den);
            let q = if r.abs() >= den.abs() - r.abs() {
                q + if (num < 0) == (den < 0) { 1 } else { -1 }
            } else {
                q
            };
            (q, -PLACES)
        }
        _ => {
            let e = ea.min(eb);
            let sa = 10i128
                .checked_pow((ea - e) as u32)
                .and_then(|p| ma.checked_mul(p));
            let sb = 10i128
                .checked_pow((eb - e) as u32)
                .and_then(|p| mb.checked_mul(p));
            match (sa, sb) {
                (Some(x), Some(y)) => (if op == '+' { x + y } else { x - y }, e),
                _ => return fallback(),
            }
        }
    };
    format!("{m}e{e}")
        .parse::<f64>()
        .unwrap_or_else(|_| fallback())
}

fn until_step(start: i64, stop: i64, step: i64) -> Res {
    let mut v = Vec::new();
    let limit = 10_000_000usize;
    if stop < start {
        if step >= 0 {
            return Ok(Value::list(v));
        }
        let mut i = start;
        while i > stop {
            v.push(Value::Int(i));
            if v.len() > limit {
                return Err("list too long".into());
            }
            i += step;
        }
        return Ok(Value::list(v));
    }
    if step <= 0 {
        return Ok(Value::list(v));
    }
    let mut i = start;
    while i < stop {
        v.push(Value::Int(i));
        if v.len() > limit {
            return Err("list too long".into());
        }
        i += step;
    }
    Ok(Value::list(v))
}

/// Sprig's `empty`.
pub(crate) fn empty(v: &Value) -> bool {
    match v {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) | Value::Int64(i) => *i == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Object(o) => o.collection().is_some_and(|c| empty(&c)),
    }
}

/// Sprig's `strslice`.
fn strslice(v: &Value) -> Vec<String> {
    match &*v.as_collection() {
        Value::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        Value::Bytes(b) => b.iter().map(|x| x.to_string()).collect(),
        Value::Nil => Vec::new(),
        v => vec![strval(v)],
    }
}

/// Go's `strings.Split`.
fn go_split<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    if sep.is_empty() {
        let mut v = Vec::new();
        for (i, c) in s.char_indices() {
            v.push(&s[i..i + c.len_utf8()]);
        }
        return v;
    }
    s.split(sep).collect()
}

fn trim_set(s: &str, cut: &str) -> String {
    s.trim_matches(|c| cut.contains(c)).to_string()
}

fn byte_str(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trunc(c: i64, s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len() as i64;
    if c < 0 && n + c > 0 {
        return byte_str(&b[(n + c) as usize..]);
    }
    if c >= 0 && n > c {
        return byte_str(&b[..c as usize]);
    }
    s.to_string()
}

fn substr(start: i64, end: i64, s: &str) -> Res {
    let b = s.as_bytes();
    let n = b.len() as i64;
    let oob = |x: i64| {
        FuncError::from(format!(
            "runtime error: slice bounds out of range [:{x}] with length {n}"
        ))
    };
    if start < 0 {
        if end < 0 || end > n {
            return Err(oob(end));
        }
        return Ok(Value::str(byte_str(&b[..end as usize])));
    }
    if end < 0 || end > n {
        if start > n {
            return Err(oob(start));
        }
        return Ok(Value::str(byte_str(&b[start as usize..])));
    }
    if start > end {
        return Err(format!("runtime error: slice bounds out of range [{start}:{end}]").into());
    }
    Ok(Value::str(byte_str(&b[start as usize..end as usize])))
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of every word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = is_title_sep(c);
    }
    out
}

fn is_title_sep(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphanumeric() {
        return false;
    }
    c.is_whitespace()
}

/// goutils `Uncapitalize`-per-word (Sprig's `untitle`).
fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = true;
    for c in s.chars() {
        if prev_space {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        prev_space = c.is_whitespace();
    }
    out
}

/// huandu/xstrings `ToSnakeCase`/`ToKebabCase`.
fn snake(s: &str, sep: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Split into words: runs of lowercase/digits, upper followed by lowercase, runs of upper.
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    while i < chars.len() {
        let c = chars[i];
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            i += 1;
            continue;
        }
        if c.is_uppercase() {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_lower_or_digit =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if !cur.is_empty() && (prev_lower_or_digit || (prev_upper && next_lower)) {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
        i += 1;
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(w);
    }
    out
}

/// huandu/xstrings `ToCamelCase`: `_`-separated words joined, each capitalised.
/// Sprig's `camelcase` (xstrings' `ToPascalCase`): `-`, `_` and spaces join words; leading
/// connectors stay, a run of connectors keeps all but the last; a word's leading capitals
/// after the first (`FOO`) become lower case.
fn camel(s: &str) -> String {
    let connector = |c: char| c == '-' || c == '_' || c.is_whitespace();
    let upper = |c: char| c.to_uppercase().next().unwrap_or(c);
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let mut cur = None;
    let mut first_upper = false;
    for c in chars.by_ref() {
        if !connector(c) {
            first_upper = c.is_uppercase();
            cur = Some(upper(c));
            break;
        }
        out.push(c);
    }
    let Some(mut cur) = cur else { return out };
    for next in chars {
        let prev = cur;
        cur = next;
        if connector(cur) && connector(prev) {
            out.push(prev);
            continue;
        }
        if connector(prev) {
            first_upper = cur.is_uppercase();
            cur = upper(cur);
        } else {
            if first_upper {
                if cur.is_uppercase() {
                    cur = lower(cur);
                } else {
                    first_upper = false;
                }
            }
            out.push(prev);
        }
    }
    out.push(cur);
    out
}

/// goutils `Abbreviate`.
fn abbrev(width: i64, s: &str) -> String {
    abbrevboth(0, width, s)
}

fn abbrevboth(left: i64, width: i64, s: &str) -> String {
    let n = s.chars().count() as i64;
    let chars: Vec<char> = s.chars().collect();
    if width < 4 {
        return s.to_string();
    }
    let mut offset = left;
    if n <= width {
        return s.to_string();
    }
    if offset > n {
        offset = n;
    }
    if n - offset < width - 3 {
        offset = n - (width - 3);
    }
    let abbr = "...";
    if offset <= 4 {
        let take: String = chars[..(width - 3) as usize].iter().collect();
        return format!("{take}{abbr}");
    }
    if width < 7 {
        return s.to_string();
    }
    if offset + width - 3 < n {
        let rest: String = chars[offset as usize..].iter().collect();
        return format!("{abbr}{}", abbrev(width - 3, &rest));
    }
    let tail: String = chars[(n - (width - 3)) as usize..].iter().collect();
    format!("{abbr}{tail}")
}

/// goutils `WrapCustom(str, width, newline, false)`.
fn wrap(s: &str, width: i64, nl: &str) -> String {
    let width = width.max(1) as usize;
    let mut out = String::new();
    for (li, line) in s.split('\n').enumerate() {
        if li > 0 {
            out.push_str(nl);
        }
        let mut rest = line;
        loop {
            let rest_t = rest.trim_start_matches(' ');
            rest = rest_t;
            if rest.chars().count() <= width {
                out.push_str(rest);
                break;
            }
            let bytes_w: usize = rest
                .char_indices()
                .nth(width)
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            let cut = rest[..=bytes_w.min(rest.len() - 1)].rfind(' ');
            match cut {
                Some(c) if c > 0 => {
                    out.push_str(&rest[..c]);
                    out.push_str(nl);
                    rest = &rest[c + 1..];
                }
                _ => match rest[bytes_w..].find(' ') {
                    Some(c) => {
                        out.push_str(&rest[..bytes_w + c]);
                        out.push_str(nl);
                        rest = &rest[bytes_w + c + 1..];
                    }
                    None => {
                        out.push_str(rest);
                        break;
                    }
                },
            }
        }
    }
    out
}

pub(crate) fn b64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => {
            format!("illegal base64 data at input byte {i}")
        }
        base64::DecodeError::InvalidLength(n) => format!("illegal base64 data at input byte {n}"),
        base64::DecodeError::InvalidPadding => "illegal base64 data at input byte 0".into(),
    }
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b32enc(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b32dec(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim_end_matches(['\r', '\n']);
    if !s.len().is_multiple_of(8) {
        return Err(format!(
            "illegal base32 data at input byte {}",
            s.len() / 8 * 8
        ));
    }
    let mut out = Vec::new();
    for (ci, chunk) in s.as_bytes().chunks(8).enumerate() {
        let mut n: u64 = 0;
        let mut count = 0;
        for (i, c) in chunk.iter().enumerate() {
            if *c == b'=' {
                break;
            }
            let Some(v) = B32.iter().position(|x| x == c) else {
                return Err(format!("illegal base32 data at input byte {}", ci * 8 + i));
            };
            n |= (v as u64) << (35 - i * 5);
            count += 1;
        }
        let bytes = match count {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            0 => 0,
            _ => {
                return Err(format!(
                    "illegal base32 data at input byte {}",
                    ci * 8 + count
                ));
            }
        };
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[3..3 + bytes]);
    }
    Ok(out)
}

fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for x in b {
        a = (a + u32::from(*x)) % 65521;
        s = (s + a) % 65521;
    }
    (s << 16) | a
}

fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let j = parts.join("/");
    match (rooted, j.is_empty()) {
        (true, _) => format!("/{j}"),
        (false, true) => ".".into(),
        (false, false) => j,
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    path_clean(dir)
}

fn path_ext(p: &str) -> String {
    let base = match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    };
    match base.rfind('.') {
        Some(i) => base[i..].to_string(),
        None => String::new(),
    }
}

/// Whether Go's `json.Marshal` would refuse the value (NaN or infinite floats).
pub(crate) fn has_non_finite(v: &Value) -> bool {
    fn at(v: &Value, depth: usize) -> bool {
        if depth > 200 {
            return false;
        }
        match v {
            Value::Float(f) => !f.is_finite(),
            Value::List(l) => l.iter().any(|x| at(x, depth + 1)),
            Value::Map(m) => m.snapshot().values().any(|x| at(x, depth + 1)),
            _ => false,
        }
    }
    at(v, 0)
}

/// `json.Marshal`, or "" when it fails (Sprig and Helm swallow the error).
pub(crate) fn json_or_empty(v: &Value) -> String {
    if has_non_finite(v) {
        return String::new();
    }
    crate::yaml::template_value_to_json(v)
}

/// Go's `strings.ToUpper`: a rune without a one-rune upper case stays as it is.
fn go_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut u = c.to_uppercase();
            match (u.next(), u.next()) {
                (Some(x), None) => x,
                _ => c,
            }
        })
        .collect()
}

/// Go's `strings.ToLower`, rune by rune.
fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) => x,
                _ => c,
            }
        })
        .collect()
}

fn raw_json(v: &Value) -> String {
    if has_non_finite(v) {
        return String::new();
    }
    let s = crate::yaml::template_value_to_json(v);
    s.replace("\\u003c", "<")
        .replace("\\u003e", ">")
        .replace("\\u0026", "&")
}

/// `json.MarshalIndent(v, "", "  ")`.
fn pretty_json(v: &Value) -> String {
    let compact = json_or_empty(v);
    // Re-indent the compact form (strings are escaped, so structure characters outside
    // strings are unambiguous).
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let b: Vec<char> = compact.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                if b.get(i + 1) == Some(&close) {
                    out.push(c);
                    out.push(close);
                    i += 2;
                    continue;
                }
                depth += 1;
                out.push(c);
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
                out.push(c);
            }
            ',' => {
                out.push(',');
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Decodes JSON into Go's `interface{}` shapes (numbers are float64).
pub(crate) fn from_json_any(s: &str) -> Result<Value, String> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => Ok(Value::from_json(&v)),
        Err(e) => Err(go_json_error(s, &e)),
    }
}

/// An approximation of Go's `encoding/json` syntax error text.
pub(crate) fn go_json_error(s: &str, e: &serde_json::Error) -> String {
    if s.trim().is_empty() || e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    format!("invalid character in JSON: {e}")
}

fn first(v: &Value) -> Res {
    match &*v.as_collection() {
        Value::Nil => Ok(Value::Nil),
        Value::List(l) => Ok(l.first().cloned().unwrap_or(Value::Nil)),
        v => Err(format!("Cannot find first on type {}", v.kind_name()).into()),
    }
}

fn last(v: &Value) -> Res {
    match &*v.as_collection() {
        Value::Nil => Ok(Value::Nil),
        Value::List(l) => Ok(l.last().cloned().unwrap_or(Value::Nil)),
        v => Err(format!("Cannot find last on type {}", v.kind_name()).into()),
    }
}

fn list_op(v: &Value, name: &str, f: impl Fn(&[Value]) -> Option<Vec<Value>>) -> Res {
    match &*v.as_collection() {
        Value::Nil => Ok(Value::Nil),
        Value::List(l) => Ok(f(l).map(Value::list).unwrap_or(Value::Nil)),
        v => Err(format!("Cannot find {name} on type {}", v.kind_name()).into()),
    }
}

fn uniq(l: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in l {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

fn push(l: &Value, v: Value, front: bool) -> Res {
    match &*l.as_collection() {
        Value::List(x) => {
            let mut out = Vec::with_capacity(x.len() + 1);
            if front {
                out.push(v);
                out.extend(x.iter().cloned());
            } else {
                out.extend(x.iter().cloned());
                out.push(v);
            }
            Ok(Value::list(out))
        }
        Value::Nil => Err("Cannot push on type invalid".into()),
        other => Err(format!(
            "Cannot {} on type {}",
            if front { "prepend" } else { "push" },
            other.kind_name()
        )
        .into()),
    }
}

fn without(l: &Value, omit: &[Value]) -> Res {
    match &*l.as_collection() {
        Value::List(x) => Ok(Value::list(
            x.iter().filter(|v| !omit.contains(v)).cloned().collect(),
        )),
        other => Err(format!("Cannot find without on type {}", other.kind_name()).into()),
    }
}

fn has(needle: &Value, hay: &Value) -> Res {
    match &*hay.as_collection() {
        Value::Nil => Ok(Value::Bool(false)),
        Value::List(x) => Ok(Value::Bool(x.contains(needle))),
        other => Err(format!("Cannot find has on type {}", other.kind_name()).into()),
    }
}

fn sprig_slice(l: &Value, idx: &[Value]) -> Res {
    match &*l.as_collection() {
        Value::List(x) => {
            if x.is_empty() {
                return Ok(Value::Nil);
            }
            let start = idx.first().map(to_int64).unwrap_or(0);
            let end = if idx.len() < 2 {
                x.len() as i64
            } else {
                to_int64(&idx[1])
            };
            if start < 0 || end < start || end as usize > x.len() {
                return Err("reflect: slice index out of range".into());
            }
            Ok(Value::list(x[start as usize..end as usize].to_vec()))
        }
        other => Err(format!(
            "list should be type of slice or array but {}",
            other.kind_name()
        )
        .into()),
    }
}

fn chunk(size: i64, l: &Value) -> Res {
    match &*l.as_collection() {
        Value::List(x) => {
            if size <= 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::list(
                x.chunks(size as usize)
                    .map(|c| Value::list(c.to_vec()))
                    .collect(),
            ))
        }
        other => Err(format!("Cannot chunk type {}", other.kind_name()).into()),
    }
}

/// mergo's merge as Sprig calls it: fills keys missing (or empty) in `dst` from each source,
/// recursing into maps; with `overwrite`, non-empty source values win.
fn merge(a: &[Value], overwrite: bool) -> Res {
    let Value::Map(dst) = &a[0] else {
        return Ok(a[0].clone());
    };
    for src in &a[1..] {
        if let Value::Map(src) = src {
            if src.ptr_eq(dst) {
                continue;
            }
            merge_into(dst, &src.snapshot(), overwrite);
        }
    }
    Ok(a[0].clone())
}

fn merge_into(dst: &crate::value::MapRef, src: &Map, overwrite: bool) {
    for (k, sv) in src {
        let dv = dst.get(k);
        match (&dv, sv) {
            (Some(Value::Map(dm)), Value::Map(sm)) => {
                if !dm.ptr_eq(sm) {
                    merge_into(dm, &sm.snapshot(), overwrite);
                }
            }
            (Some(d), s) => {
                let replace = overwrite || empty(d);
                if replace {
                    dst.insert(k.clone(), s.clone());
                }
            }
            (None, s) => dst.insert(k.clone(), s.clone()),
        }
    }
}

fn dig(a: &[Value]) -> Res {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    let dict = &a[a.len() - 1];
    let def = &a[a.len() - 2];
    let keys = &a[..a.len() - 2];
    let Value::Map(m) = dict else {
        return Err(format!(
            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
            dict.type_name()
        )
        .into());
    };
    let mut cur = Value::Map(m.clone());
    for k in keys {
        let Some(k) = k.as_str() else {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not string",
                k.type_name()
            )
            .into());
        };
        let next = match &cur {
            Value::Map(mm) => mm.get(k),
            _ => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    cur.type_name()
                )
                .into());
            }
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(def.clone()),
        }
    }
    Ok(cur)
}

/// A compiled regular expression. Charts call the regex functions with a handful of
/// constant patterns thousands of times (bitnami's common library in every `include`), and
/// compiling dominated their rendering, so compiled patterns are kept (a `Regex` is a cheap,
/// thread-safe handle); the cache is emptied when it grows past a bound, so hostile templates
/// cannot make it grow without limit.
fn re(p: &str) -> Result<regex::Regex, FuncError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    const MAX_CACHED: usize = 512;
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(p) {
        return Ok(r.clone());
    }
    let r = regex::Regex::new(p)
        .map_err(|e| FuncError::Message(format!("error parsing regexp: {e}")))?;
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= MAX_CACHED {
        c.clear();
    }
    c.insert(p.to_string(), r.clone());
    Ok(r)
}

/// Go's `$1`/`${name}` expansion differs from the regex crate's only in that Go treats
/// `$1a` as the group named `1a`; translate the common forms.
fn go_repl(r: &str) -> String {
    r.to_string()
}

fn find_all(p: &str, s: &str, n: i64) -> Res {
    let r = re(p)?;
    let it = r.find_iter(s).map(|m| m.as_str());
    Ok(Value::strings(if n < 0 {
        it.collect::<Vec<_>>()
    } else {
        it.take(n as usize).collect()
    }))
}

fn regex_split(p: &str, s: &str, n: i64) -> Res {
    let r = re(p)?;
    if n == 0 {
        return Ok(Value::strings(Vec::<&str>::new()));
    }
    let parts: Vec<&str> = if n < 0 {
        r.split(s).collect()
    } else {
        r.splitn(s, n as usize).collect()
    };
    Ok(Value::strings(parts))
}

fn url_parse(s: &str) -> Res {
    // scheme://userinfo@host/path?query#fragment
    let mut m = Map::new();
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (scheme, rest) = match rest.split_once("://") {
        Some((sc, r)) => (sc, Some(r)),
        None => ("", None),
    };
    let (userinfo, host, path) = match rest {
        Some(r) => {
            let (auth, path) = match r.find('/') {
                Some(i) => (&r[..i], &r[i..]),
                None => (r, ""),
            };
            match auth.rsplit_once('@') {
                Some((u, h)) => (u, h, path),
                None => ("", auth, path),
            }
        }
        None => (
            "",
            "",
            rest.map_or(s.split(['?', '#']).next().unwrap_or(""), |_| ""),
        ),
    };
    m.insert("scheme".into(), Value::str(scheme));
    m.insert("host".into(), Value::str(host));
    m.insert(
        "hostname".into(),
        Value::str(host.rsplit_once(':').map_or(host, |(h, _)| h)),
    );
    m.insert("path".into(), Value::str(path));
    m.insert("query".into(), Value::str(query));
    m.insert("opaque".into(), Value::str(""));
    m.insert("fragment".into(), Value::str(fragment));
    m.insert("userinfo".into(), Value::str(userinfo));
    Ok(Value::map(m))
}

fn url_join(d: &Value) -> String {
    let Some(m) = d.as_map() else {
        return String::new();
    };
    let g = |k: &str| m.get(k).map(|v| strval(&v)).unwrap_or_default();
    let mut out = String::new();
    let scheme = g("scheme");
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    let host = g("host");
    let user = g("userinfo");
    if !host.is_empty() || !user.is_empty() {
        out.push_str("//");
        if !user.is_empty() {
            out.push_str(&user);
            out.push('@');
        }
        out.push_str(&host);
    }
    out.push_str(&g("path"));
    let q = g("query");
    if !q.is_empty() {
        out.push('?');
        out.push_str(&q);
    }
    let f = g("fragment");
    if !f.is_empty() {
        out.push('#');
        out.push_str(&f);
    }
    out
}

/// Go's `regexp.QuoteMeta`: escapes exactly `\.+*?()|[]{}^$` (the `regex` crate's escape
/// also escapes `-`, `#`, `&` and `~`).
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The bytes of the first (string) argument: all of them for a non-UTF-8 string.
fn sb(args: &[Value]) -> &[u8] {
    args.first().and_then(Value::string_bytes).unwrap_or(&[])
}
