//! Go's `fmt` as templates use it: `%v` of every [`Value`], `Sprint`, `Sprintln`, `Sprintf`
//! with Go's verbs, flags, widths and error forms (`%!d(string=x)`, `%!v(MISSING)`), and
//! `strconv`'s float and quoting rules.

use crate::value::Value;

/// Go's `strconv.FormatFloat(f, fmt, prec, 64)`; `prec` `None` is the shortest exact form.
pub fn format_float(f: f64, fmt: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match fmt {
        'e' | 'E' => {
            let s = match prec {
                Some(p) => format!("{:.*e}", p, f),
                None => format!("{:e}", f),
            };
            fix_exp(&s, fmt == 'E')
        }
        'f' | 'F' => match prec {
            Some(p) => format!("{:.*}", p, f),
            None => {
                // Shortest digits, fixed notation.
                let (neg, digits, exp) = shortest_digits(f);
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                let dp = exp + 1; // digits before the point
                if dp <= 0 {
                    s.push_str("0.");
                    for _ in 0..(-dp) {
                        s.push('0');
                    }
                    s.push_str(&digits);
                } else if dp as usize >= digits.len() {
                    s.push_str(&digits);
                    for _ in 0..(dp as usize - digits.len()) {
                        s.push('0');
                    }
                } else {
                    s.push_str(&digits[..dp as usize]);
                    s.push('.');
                    s.push_str(&digits[dp as usize..]);
                }
                s
            }
        },
        _ => {
            // 'g'
            let upper = fmt == 'G';
            let (neg, digits, exp, eprec) = match prec {
                None => {
                    let (neg, d, e) = shortest_digits(f);
                    (neg, d, e, 6i32)
                }
                Some(p) => {
                    let p = p.max(1);
                    let s = format!("{:.*e}", p - 1, f);
                    let (neg, d, e) = split_e(&s);
                    let d = d.trim_end_matches('0').to_string();
                    let d = if d.is_empty() { "0".to_string() } else { d };
                    (neg, d, e, p as i32)
                }
            };
            let eprec =
                if prec.is_some() && eprec > digits.len() as i32 && digits.len() as i32 > exp {
                    digits.len() as i32
                } else {
                    eprec
                };
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            if exp < -4 || exp >= eprec {
                s.push_str(&digits[..1]);
                if digits.len() > 1 {
                    s.push('.');
                    s.push_str(&digits[1..]);
                }
                s.push(if upper { 'E' } else { 'e' });
                s.push(if exp < 0 { '-' } else { '+' });
                let a = exp.unsigned_abs();
                if a < 10 {
                    s.push('0');
                }
                s.push_str(&a.to_string());
            } else {
                let dp = exp + 1;
                if dp <= 0 {
                    s.push_str("0.");
                    for _ in 0..(-dp) {
                        s.push('0');
                    }
                    s.push_str(&digits);
                } else if dp as usize >= digits.len() {
                    s.push_str(&digits);
                    for _ in 0..(dp as usize - digits.len()) {
                        s.push('0');
                    }
                } else {
                    s.push_str(&digits[..dp as usize]);
                    s.push('.');
                    s.push_str(&digits[dp as usize..]);
                }
            }
            s
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'x', prec, 64)`: `-0x1.8p+01`; `prec` `None` is the
/// shortest exact form, otherwise the mantissa is rounded half to even to `prec` hex digits.
fn hex_float(f: f64, upper: bool, prec: Option<usize>) -> String {
    if !f.is_finite() {
        return format_float(f, 'g', None);
    }
    const LEAD: u64 = 1 << 60;
    let bits = f.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (mut mant, mut exp) = match raw_exp {
        0 if frac == 0 => (0u64, 0i32),
        0 => (frac, -1022),
        e => (frac | (1 << 52), e - 1023),
    };
    // Leading 1 at bit 60: one hex digit before the point, fifteen after.
    mant <<= 8;
    while mant != 0 && mant & LEAD == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|p| *p < 15) {
        let shift = p as u32 * 4;
        let extra = (mant << shift) & (LEAD - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let digit = |d: u64| {
        let c = char::from_digit(d as u32, 16).unwrap_or('0');
        if upper { c.to_ascii_uppercase() } else { c }
    };
    let mut s = String::new();
    if f.is_sign_negative() {
        s.push('-');
    }
    s.push_str(if upper { "0X" } else { "0x" });
    s.push(digit((mant >> 60) & 1));
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            s.push('.');
            while mant != 0 {
                s.push(digit((mant >> 60) & 15));
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            s.push('.');
            for _ in 0..p {
                s.push(digit((mant >> 60) & 15));
                mant <<= 4;
            }
        }
        _ => {}
    }
    s.push(if upper { 'P' } else { 'p' });
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.unsigned_abs()));
    s
}

/// (negative, digits without point, decimal exponent of the first digit).
fn shortest_digits(f: f64) -> (bool, String, i32) {
    split_e(&format!("{:e}", f))
}

fn split_e(s: &str) -> (bool, String, i32) {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    if digits.chars().all(|c| c == '0') {
        return (neg, "0".into(), 0);
    }
    (neg, digits, exp)
}

fn fix_exp(s: &str, upper: bool) -> String {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let a = exp.unsigned_abs();
    format!(
        "{mant}{}{}{}{a}",
        if upper { 'E' } else { 'e' },
        if exp < 0 { '-' } else { '+' },
        if a < 10 { "0" } else { "" }
    )
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{FFFD}' => out.push_str("\\ufffd"),
            c if (ascii_only && !c.is_ascii()) || !is_printable(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn is_printable(c: char) -> bool {
    // An approximation of Go's unicode.IsPrint: letters, marks, numbers, punctuation,
    // symbols and the ASCII space.
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFFF0..=0xFFFF | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF)
}

/// Appends Go's `%v` (or `%+v`, identical for our values) of `v`.
pub fn write_value(out: &mut String, v: &Value, _plus: bool) {
    write_depth(out, v, 0)
}

fn write_depth(out: &mut String, v: &Value, depth: usize) {
    if depth > 64 {
        out.push_str("...");
        return;
    }
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f, 'g', None)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&x.to_string());
            }
            out.push(']');
        }
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_depth(out, x, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_depth(out, x, depth + 1);
            }
            out.push(']');
        }
        Value::Object(o) => match o.display() {
            Some(s) => out.push_str(&s),
            None => write_depth(out, &o.to_value(), depth + 1),
        },
    }
}

/// Go's `fmt.Sprint`: operands separated by a space when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::String(_)) && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_value(&mut out, a, false);
    }
    out
}

/// Go's `fmt.Sprintln`: operands always separated by spaces, newline appended.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(&mut out, a, false);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(out: &mut String, s: &str, f: &Flags) {
    let n = s.chars().count();
    let w = f.width.unwrap_or(0);
    if n >= w {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if f.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if f.zero {
        // Zero padding goes after the sign.
        let (sign, rest) = match s.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (Some(c), &s[1..]),
            _ => (None, s),
        };
        if let Some(c) = sign {
            out.push(c);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(rest);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn bad_verb(out: &mut String, verb: char, v: &Value) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    match v {
        Value::Nil => out.push_str("<nil>"),
        _ => {
            out.push_str(v.type_name());
            out.push('=');
            write_value(out, v, false);
        }
    }
    out.push(')');
}

fn fmt_int(i: i64, verb: char, f: &Flags) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => a.to_string(),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        'o' | 'O' => format!("{a:o}"),
        'b' => format!("{a:b}"),
        'c' => return char::from_u32(i as u32).map(|c| c.to_string()),
        'q' => return char::from_u32(i as u32).map(|c| quote_with(&c.to_string(), '\'', f.plus)),
        'U' => {
            let mut s = format!("U+{:04X}", a);
            if f.sharp
                && let Some(c) = char::from_u32(i as u32)
            {
                s.push_str(&format!(" '{c}'"));
            }
            return Some(s);
        }
        _ => return None,
    };
    if let Some(p) = f.prec {
        while digits.len() < p {
            digits.insert(0, '0');
        }
        if p == 0 && a == 0 {
            digits.clear();
        }
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    } else if f.plus {
        s.push('+');
    } else if f.space {
        s.push(' ');
    }
    if f.sharp {
        match verb {
            'x' => s.push_str("0x"),
            'X' => s.push_str("0X"),
            'o' => s.push('0'),
            'b' => s.push_str("0b"),
            _ => {}
        }
    }
    if verb == 'O' {
        s.push_str("0o");
    }
    s.push_str(&digits);
    Some(s)
}

fn fmt_float_verb(x: f64, verb: char, f: &Flags) -> Option<String> {
    let mut s = match verb {
        'v' | 'g' | 'G' => format_float(x, if verb == 'G' { 'G' } else { 'g' }, f.prec),
        'e' | 'E' => format_float(x, verb, Some(f.prec.unwrap_or(6))),
        'f' | 'F' => format_float(x, 'f', Some(f.prec.unwrap_or(6))),
        'x' | 'X' => hex_float(x, verb == 'X', f.prec),
        _ => return None,
    };
    if f.plus && !s.starts_with('-') && !s.starts_with('+') {
        s.insert(0, '+');
    } else if f.space && !s.starts_with('-') {
        s.insert(0, ' ');
    }
    if s == "+Inf" && !f.plus {
        s = "+Inf".into();
    }
    Some(s)
}

fn fmt_one(out: &mut String, v: &Value, verb: char, f: &Flags) {
    match (verb, v) {
        ('T', _) => {
            let s = v.type_name().to_string();
            pad(out, &s, &Flags { zero: false, ..*f });
        }
        ('v', Value::Nil) => pad(out, "<nil>", &Flags { zero: false, ..*f }),
        (_, Value::Nil) => bad_verb(out, verb, v),
        ('v' | 't', Value::Bool(b)) => pad(out, if *b { "true" } else { "false" }, f),
        (_, Value::Bool(_)) => bad_verb(out, verb, v),
        (_, Value::Int(i) | Value::Int64(i)) => match fmt_int(*i, verb, f) {
            Some(s) => pad(out, &s, f),
            None => bad_verb(out, verb, v),
        },
        (_, Value::Float(x)) => match fmt_float_verb(*x, verb, f) {
            Some(s) => pad(out, &s, f),
            None => bad_verb(out, verb, v),
        },
        ('v' | 's' | 'q' | 'x' | 'X', Value::String(s)) => {
            let s: &str = s;
            let s = match f.prec {
                Some(p) if verb != 'x' && verb != 'X' => s.chars().take(p).collect::<String>(),
                _ => s.to_string(),
            };
            let r = match verb {
                'q' => {
                    if f.sharp
                        && !s.contains('`')
                        && s.chars().all(|c| c == '\t' || !c.is_control())
                    {
                        format!("`{s}`")
                    } else {
                        quote_with(&s, '"', f.plus)
                    }
                }
                'x' | 'X' => {
                    let mut h = String::new();
                    for (i, b) in s.bytes().enumerate() {
                        if i > 0 && f.space {
                            h.push(' ');
                        }
                        if f.sharp && (i == 0 || f.space) {
                            h.push_str(if verb == 'x' { "0x" } else { "0X" });
                        }
                        if verb == 'x' {
                            h.push_str(&format!("{b:02x}"));
                        } else {
                            h.push_str(&format!("{b:02X}"));
                        }
                    }
                    h
                }
                _ => s,
            };
            pad(out, &r, f);
        }
        (_, Value::String(_)) => bad_verb(out, verb, v),
        ('s' | 'q', Value::Bytes(b)) => {
            let s = String::from_utf8_lossy(b).into_owned();
            fmt_one(out, &Value::str(s), verb, f);
        }
        (_, Value::List(l)) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_elem(out, x, verb, f);
            }
            out.push(']');
        }
        (_, Value::Bytes(b)) => {
            out.push('[');
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_one(out, &Value::Int(i64::from(*x)), verb, f);
            }
            out.push(']');
        }
        (_, Value::Map(m)) => {
            out.push_str("map[");
            for (i, (k, x)) in m.read().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                fmt_one(out, &Value::str(k), verb, f);
                out.push(':');
                fmt_elem(out, x, verb, f);
            }
            out.push(']');
        }
        ('x' | 'X' | 'q', Value::Object(_)) if v.string_bytes().is_some() => {
            let b = v.string_bytes().unwrap_or_default();
            let s = match verb {
                'q' => {
                    let mut q = String::from('"');
                    for chunk in b.utf8_chunks() {
                        let valid = quote_with(chunk.valid(), '"', f.plus);
                        q.push_str(&valid[1..valid.len() - 1]);
                        for x in chunk.invalid() {
                            q.push_str(&format!("\\x{x:02x}"));
                        }
                    }
                    q.push('"');
                    q
                }
                'x' => hex::encode(b),
                _ => hex::encode_upper(b),
            };
            pad(out, &s, f);
        }
        ('v' | 's', Value::Object(o)) => match o.display() {
            Some(s) => pad(out, &s, f),
            None => fmt_one(out, &o.to_value(), verb, f),
        },
        (_, Value::Object(o)) => fmt_one(out, &o.to_value(), verb, f),
    }
}

/// Go's `%#v`: a Go-syntax representation.
fn go_syntax(v: &Value) -> String {
    let elem = |x: &Value| match x {
        Value::Nil => "interface {}(nil)".to_string(),
        x => go_syntax(x),
    };
    match v {
        Value::Nil => "<nil>".into(),
        Value::String(s) => go_quote(s),
        Value::List(l) => {
            let parts: Vec<String> = l.iter().map(elem).collect();
            format!("[]interface {{}}{{{}}}", parts.join(", "))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m
                .read()
                .iter()
                .map(|(k, x)| format!("{}:{}", go_quote(k), elem(x)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", parts.join(", "))
        }
        v => {
            let mut s = String::new();
            write_value(&mut s, v, false);
            s
        }
    }
}

/// An element of a list or map: a nil interface prints `<nil>` whatever the verb.
fn fmt_elem(out: &mut String, v: &Value, verb: char, f: &Flags) {
    if v.is_nil() {
        pad(out, "<nil>", &Flags { zero: false, ..*f });
    } else {
        fmt_one(out, v, verb, f);
    }
}

/// Go's `fmt.Sprintf`, explicit argument indexes (`%[2]s`, `%[1]*d`) included.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let b = format.as_bytes();
    let mut argi = 0;
    // Set by any `[n]`: Go then reports no EXTRA arguments.
    let mut reordered = false;
    let mut i = 0;
    while i < b.len() {
        let lit = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[lit..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // the '%'
        let mut f = Flags::default();
        let mut good_index = true;
        while i < b.len() {
            match b[i] {
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b'+' => f.plus = true,
                b'#' => f.sharp = true,
                b' ' => f.space = true,
                b'0' => f.zero = !f.minus,
                _ => break,
            }
            i += 1;
        }
        let mut index = |i: &mut usize, argi: &mut usize, good: &mut bool| -> bool {
            if b.get(*i) != Some(&b'[') {
                return false;
            }
            reordered = true;
            let (n, width, ok) = arg_number(&format[*i..]);
            *i += width;
            match n {
                Some(n) if ok && n < args.len() => {
                    *argi = n;
                    true
                }
                _ => {
                    *good = false;
                    ok
                }
            }
        };
        let mut after_index = index(&mut i, &mut argi, &mut good_index);
        // Width.
        if b.get(i) == Some(&b'*') {
            i += 1;
            match int_arg(args, &mut argi) {
                Some(w) => {
                    if w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, n) = digits(&b[i..]);
            i += n;
            if n > 0 {
                f.width = w;
                if after_index {
                    good_index = false;
                }
            }
        }
        // Precision.
        if b.get(i) == Some(&b'.') {
            i += 1;
            if after_index {
                good_index = false;
            }
            after_index = index(&mut i, &mut argi, &mut good_index);
            if b.get(i) == Some(&b'*') {
                i += 1;
                match int_arg(args, &mut argi) {
                    Some(p) if p >= 0 => f.prec = Some(p as usize),
                    Some(_) => {}
                    None => out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (p, n) = digits(&b[i..]);
                i += n;
                f.prec = Some(p.unwrap_or(0));
            }
        }
        if !after_index {
            index(&mut i, &mut argi, &mut good_index);
        }
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        if verb == 'v' {
            // %+v and %#v are flags of the verb, not of the number.
            f.plus = false;
            if f.sharp {
                f.sharp = false;
                let s = go_syntax(arg);
                pad(&mut out, &s, &f);
                continue;
            }
        }
        fmt_one(&mut out, arg, verb, &f);
    }
    if reordered {
        return out;
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Nil => out.push_str("<nil>"),
                _ => {
                    out.push_str(a.type_name());
                    out.push('=');
                    write_value(&mut out, a, false);
                }
            }
        }
        out.push(')');
    }
    out
}

/// Go's `parseArgNumber` on text starting with `[`: the zero-based index, the bytes it
/// spans, and whether it was well formed (`[x]` is not, nor an unclosed `[`).
fn arg_number(s: &str) -> (Option<usize>, usize, bool) {
    if s.len() < 3 {
        return (None, 1, false);
    }
    match s.find(']') {
        Some(close) => {
            let inner = &s.as_bytes()[1..close];
            let (n, len) = digits(inner);
            if len == 0 || len != inner.len() {
                return (None, close + 1, false);
            }
            (n.and_then(|n| n.checked_sub(1)), close + 1, n.is_some())
        }
        None => (None, 1, false),
    }
}

/// A run of ASCII digits: its value (if it fits Go's limit of 1e6) and its length.
fn digits(b: &[u8]) -> (Option<usize>, usize) {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let v = std::str::from_utf8(&b[..n])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|v| *v <= 1_000_000);
    (v, n)
}

/// Go's `intFromArg`: the argument at `argi` as a `*` width or precision (an integer of any
/// kind), moving past it when there is one.
fn int_arg(args: &[Value], argi: &mut usize) -> Option<i64> {
    let v = args.get(*argi)?;
    *argi += 1;
    v.as_int().filter(|n| n.unsigned_abs() <= 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float(1e6, 'g', None), "1e+06");
        assert_eq!(format_float(123456.0, 'g', None), "123456");
        assert_eq!(format_float(0.0001, 'g', None), "0.0001");
        assert_eq!(format_float(0.00001, 'g', None), "1e-05");
        assert_eq!(format_float(1.5, 'g', None), "1.5");
        assert_eq!(format_float(3.0, 'f', Some(2)), "3.00");
        assert_eq!(format_float(1234.5678, 'e', Some(2)), "1.23e+03");
        assert_eq!(format_float(0.0, 'g', None), "0");
    }

    #[test]
    fn printf_verbs() {
        let s = |f: &str, a: Vec<Value>| sprintf(f, &a);
        assert_eq!(s("%d-%s", vec![Value::Int(3), Value::str("x")]), "3-x");
        assert_eq!(s("%05d", vec![Value::Int(-42)]), "-0042");
        assert_eq!(s("%d", vec![Value::str("x")]), "%!d(string=x)");
        assert_eq!(s("%d %d", vec![Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            s("%d", vec![Value::Int(1), Value::Int(2)]),
            "1%!(EXTRA int=2)"
        );
        assert_eq!(s("%q", vec![Value::str("a\"b")]), "\"a\\\"b\"");
        assert_eq!(s("%-4s|", vec![Value::str("a")]), "a   |");
    }
}
