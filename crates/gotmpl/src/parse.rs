//! Lexer and parser for Go's template language, following `text/template/parse`: the same
//! tokens, the same tree, and the same error messages (`template: NAME:LINE: msg`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Error;

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    Comment,
    Ident(String),
    Field(String),
    Variable(String),
    Str {
        raw: String,
        val: String,
    },
    Char(String),
    Number(String),
    Bool(bool),
    Nil,
    Dot,
    Pipe,
    LParen,
    RParen,
    Assign,
    Declare,
    Comma,
    /// Any other printable ASCII character in an action (Go's itemChar).
    OtherChar(char),
    Keyword(&'static str),
    Eof,
    Error(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
    pub line: usize,
}

impl Token {
    /// Go's `item.String()`, used in "unexpected X in Y" messages.
    fn describe(&self) -> String {
        let val = match &self.tok {
            Tok::Eof => return "EOF".into(),
            Tok::Error(e) => return e.clone(),
            Tok::Keyword(k) => return format!("<{k}>"),
            Tok::Text(s) | Tok::Ident(s) | Tok::Field(s) | Tok::Variable(s) | Tok::Number(s) => {
                s.clone()
            }
            Tok::Char(s) => s.clone(),
            Tok::Str { raw, .. } => raw.clone(),
            Tok::LeftDelim => "{{".into(),
            Tok::RightDelim => "}}".into(),
            Tok::Space => " ".into(),
            Tok::Comment => "/* */".into(),
            Tok::Bool(b) => b.to_string(),
            Tok::Nil => "nil".into(),
            Tok::Dot => ".".into(),
            Tok::Pipe => "|".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Assign => "=".into(),
            Tok::Declare => ":=".into(),
            Tok::Comma => ",".into(),
            Tok::OtherChar(c) => c.to_string(),
        };
        if val.chars().count() > 10 {
            let short: String = val.chars().take(10).collect();
            format!("{}...", crate::format::go_quote(&short))
        } else {
            crate::format::go_quote(&val)
        }
    }
}

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with",
];

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    line: usize,
    toks: Vec<Token>,
    paren_depth: usize,
}

fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r' || c == b'\n'
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits the source into tokens. A lexical error ends the stream with a [`Tok::Error`].
fn lex(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        line: 1,
        toks: Vec::new(),
        paren_depth: 0,
    };
    lx.run();
    lx.toks
}

impl Lexer<'_> {
    fn emit(&mut self, tok: Tok, start: usize, line: usize) {
        self.toks.push(Token {
            tok,
            pos: start,
            line,
        });
    }

    fn run(&mut self) {
        loop {
            // Text up to the next "{{".
            let start = self.pos;
            let next = self.src[self.pos..].find("{{").map(|i| i + self.pos);
            let Some(ld) = next else {
                if start < self.b.len() {
                    let text = self.src[start..].to_string();
                    let line = self.line;
                    self.line += text.matches('\n').count();
                    self.emit(Tok::Text(text), start, line);
                }
                let (p, l) = (self.b.len(), self.line);
                self.emit(Tok::Eof, p, l);
                return;
            };
            let trim = self.b.len() > ld + 3 && self.b[ld + 2] == b'-' && is_space(self.b[ld + 3]);
            let mut text_end = ld;
            if trim {
                while text_end > start && is_space(self.b[text_end - 1]) {
                    text_end -= 1;
                }
            }
            if text_end > start {
                let text = self.src[start..text_end].to_string();
                let line = self.line;
                self.emit(Tok::Text(text), start, line);
            }
            self.line += self.src[start..ld].matches('\n').count();
            self.pos = ld + 2;
            if trim {
                self.pos += 2; // "- "
            }
            // A comment right after the delimiter.
            if self.src[self.pos..].starts_with("/*") {
                if !self.lex_comment(ld) {
                    return;
                }
                continue;
            }
            let line = self.line;
            self.emit(Tok::LeftDelim, ld, line);
            self.paren_depth = 0;
            if !self.lex_inside() {
                return;
            }
        }
    }

    fn error(&mut self, msg: String) {
        let (p, l) = (self.pos, self.line);
        self.emit(Tok::Error(msg), p, l);
    }

    /// Whether a right delimiter (optionally with a trim marker) starts here; returns
    /// (length, trims).
    fn at_right_delim(&self) -> Option<(usize, bool)> {
        let rest = &self.b[self.pos..];
        if rest.len() >= 3 && is_space(rest[0]) && rest[1] == b'-' && rest[2..].starts_with(b"}}") {
            return Some((4, true));
        }
        if rest.starts_with(b"}}") {
            return Some((2, false));
        }
        None
    }

    fn after_right_delim(&mut self, len: usize, trim: bool) {
        self.pos += len;
        if trim {
            while self.pos < self.b.len() && is_space(self.b[self.pos]) {
                if self.b[self.pos] == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
        }
    }

    fn lex_comment(&mut self, ld: usize) -> bool {
        let start_line = self.line;
        let Some(end) = self.src[self.pos + 2..].find("*/") else {
            self.error("unclosed comment".into());
            return false;
        };
        let end = self.pos + 2 + end + 2;
        self.line += self.src[self.pos..end].matches('\n').count();
        self.pos = end;
        match self.at_right_delim() {
            Some((len, trim)) => {
                self.emit(Tok::Comment, ld, start_line);
                self.after_right_delim(len, trim);
                true
            }
            None => {
                self.error("comment ends before closing delimiter".into());
                false
            }
        }
    }

    fn lex_inside(&mut self) -> bool {
        loop {
            if let Some((len, trim)) = self.at_right_delim() {
                if self.paren_depth > 0 {
                    self.error("unclosed left paren".into());
                    return false;
                }
                let (p, l) = (self.pos, self.line);
                self.emit(Tok::RightDelim, p, l);
                self.after_right_delim(len, trim);
                return true;
            }
            let start = self.pos;
            let line = self.line;
            let Some(c) = self.src[self.pos..].chars().next() else {
                self.error("unclosed action".into());
                return false;
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while self.pos < self.b.len() && is_space(self.b[self.pos]) {
                        // Stop before " -}}" so the trim marker is seen.
                        if self.b[self.pos..].len() >= 4
                            && self.b[self.pos + 1] == b'-'
                            && self.b[self.pos + 2..].starts_with(b"}}")
                        {
                            break;
                        }
                        if self.b[self.pos] == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    if self.pos == start {
                        // A lone space before "-}}" handled by at_right_delim next round;
                        // consume the space itself otherwise.
                        if self.at_right_delim().is_none() {
                            self.pos += 1;
                        } else {
                            continue;
                        }
                    }
                    self.emit(Tok::Space, start, line);
                }
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, start, line);
                }
                ':' => {
                    if self.b.get(self.pos + 1) != Some(&b'=') {
                        self.error("expected :=".into());
                        return false;
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, start, line);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, start, line);
                }
                '"' => {
                    if !self.lex_quote() {
                        return false;
                    }
                }
                '`' => {
                    let Some(end) = self.src[self.pos + 1..].find('`') else {
                        self.error("unterminated raw quoted string".into());
                        return false;
                    };
                    let raw = &self.src[self.pos..self.pos + 1 + end + 1];
                    let val = raw[1..raw.len() - 1].to_string();
                    self.line += raw.matches('\n').count();
                    self.pos += raw.len();
                    self.emit(
                        Tok::Str {
                            raw: raw.to_string(),
                            val,
                        },
                        start,
                        line,
                    );
                }
                '$' => {
                    self.pos += 1;
                    self.scan_alnum();
                    let v = self.src[start..self.pos].to_string();
                    self.emit(Tok::Variable(v), start, line);
                }
                '\'' => {
                    if !self.lex_char() {
                        return false;
                    }
                }
                '.' => {
                    let next = self.src[self.pos + 1..].chars().next();
                    if next.is_some_and(|n| n.is_ascii_digit()) {
                        if !self.lex_number() {
                            return false;
                        }
                    } else if next.is_some_and(is_alnum) {
                        self.pos += 1;
                        self.scan_alnum();
                        let f = self.src[start..self.pos].to_string();
                        self.emit(Tok::Field(f), start, line);
                    } else {
                        self.pos += 1;
                        self.emit(Tok::Dot, start, line);
                    }
                }
                '+' | '-' | '0'..='9' => {
                    if !self.lex_number() {
                        return false;
                    }
                }
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Tok::LParen, start, line);
                }
                ')' => {
                    self.pos += 1;
                    if self.paren_depth == 0 {
                        self.error("unexpected right paren".into());
                        return false;
                    }
                    self.paren_depth -= 1;
                    self.emit(Tok::RParen, start, line);
                }
                ',' => {
                    self.pos += 1;
                    self.emit(Tok::Comma, start, line);
                }
                c if is_alnum(c) => {
                    self.scan_alnum();
                    let word = &self.src[start..self.pos];
                    // An identifier must be followed by a space, delimiter, etc.
                    if let Some(n) = self.src[self.pos..].chars().next()
                        && !(is_space(n as u8) && n.is_ascii()
                            || matches!(n, '.' | ',' | '|' | ':' | ')' | '(' | '}' | '-'))
                    {
                        self.error(format!("bad character {}", go_u(n)));
                        return false;
                    }
                    let tok = if let Some(k) = KEYWORDS.iter().find(|k| **k == word) {
                        if *k == "nil" {
                            Tok::Nil
                        } else {
                            Tok::Keyword(k)
                        }
                    } else if word == "true" || word == "false" {
                        Tok::Bool(word == "true")
                    } else {
                        Tok::Ident(word.to_string())
                    };
                    self.emit(tok, start, line);
                }
                c if c.is_ascii_graphic() => {
                    self.pos += 1;
                    self.emit(Tok::OtherChar(c), start, line);
                }
                c => {
                    self.error(format!("unrecognized character in action: {}", go_u(c)));
                    return false;
                }
            }
        }
    }

    fn scan_alnum(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !is_alnum(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn lex_quote(&mut self) -> bool {
        let start = self.pos;
        let line = self.line;
        let mut i = self.pos + 1;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => {
                    self.error("unterminated quoted string".into());
                    return false;
                }
                Some(b'\\') => {
                    if self.b.get(i + 1).is_none_or(|c| *c == b'\n') {
                        self.error("unterminated quoted string".into());
                        return false;
                    }
                    i += 2;
                }
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let raw = &self.src[start..=i];
        self.pos = i + 1;
        match unquote(raw) {
            Some(val) => {
                self.emit(
                    Tok::Str {
                        raw: raw.to_string(),
                        val,
                    },
                    start,
                    line,
                );
                true
            }
            None => {
                // Go reports the bad string when parsing: keep it for the parser.
                self.emit(Tok::Error(format!("bad syntax: {raw}")), start, line);
                false
            }
        }
    }

    fn lex_char(&mut self) -> bool {
        let start = self.pos;
        let line = self.line;
        let mut i = self.pos + 1;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => {
                    self.error("unterminated character constant".into());
                    return false;
                }
                Some(b'\\') => i += 2,
                Some(b'\'') => break,
                Some(_) => i += 1,
            }
        }
        let raw = self.src[start..=i].to_string();
        self.pos = i + 1;
        self.emit(Tok::Char(raw), start, line);
        true
    }

    fn lex_number(&mut self) -> bool {
        let start = self.pos;
        let line = self.line;
        let b = self.b;
        let mut i = self.pos;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let mut digits: &[u8] = b"0123456789_";
        if b.get(i) == Some(&b'0') {
            match b.get(i + 1) {
                Some(b'x' | b'X') => {
                    i += 2;
                    digits = b"0123456789abcdefABCDEF_";
                }
                Some(b'o' | b'O') => {
                    i += 2;
                    digits = b"01234567_";
                }
                Some(b'b' | b'B') => {
                    i += 2;
                    digits = b"01_";
                }
                _ => {}
            }
        }
        while i < b.len() && digits.contains(&b[i]) {
            i += 1;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            while i < b.len() && digits.contains(&b[i]) {
                i += 1;
            }
        }
        let exp: &[u8] = if digits.len() == 11 { b"eE" } else { b"pP" };
        if i < b.len() && exp.contains(&b[i]) {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            while i < b.len() && b"0123456789_".contains(&b[i]) {
                i += 1;
            }
        }
        if b.get(i) == Some(&b'i') {
            i += 1;
        }
        self.pos = i;
        if let Some(c) = self.src[i..].chars().next()
            && is_alnum(c)
        {
            let mut j = i;
            while let Some(c) = self.src[j..].chars().next() {
                if !is_alnum(c) && c != '.' {
                    break;
                }
                j += c.len_utf8();
            }
            self.pos = j;
            let word = self.src[start..j].to_string();
            self.error(format!(
                "bad number syntax: {}",
                crate::format::go_quote(&word)
            ));
            return false;
        }
        let n = self.src[start..i].to_string();
        self.emit(Tok::Number(n), start, line);
        true
    }
}

fn go_u(c: char) -> String {
    format!("U+{:04X} '{}'", c as u32, c)
}

/// Go's `strconv.Unquote` for double-quoted strings.
pub(crate) fn unquote(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut it = inner.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..n).filter_map(|_| it.next()).collect();
                if hex.len() != n {
                    return None;
                }
                let v = u32::from_str_radix(&hex, 16).ok()?;
                if e == 'x' {
                    // A byte; only valid UTF-8 when ASCII (good enough for templates).
                    out.push(char::from_u32(v)?);
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            '0'..='7' => {
                let mut s = String::from(e);
                for _ in 0..2 {
                    s.push(it.next()?);
                }
                let v = u32::from_str_radix(&s, 8).ok()?;
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Tree

/// A parsed template body.
#[derive(Debug)]
pub(crate) struct Tree {
    pub name: String,
    /// The name of the top-level template the text came from (for error locations).
    pub parse_name: Arc<str>,
    /// The full source text (for line/column of errors).
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug)]
pub(crate) enum Arg {
    /// `.a.b` (idents without dots).
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `$x.a.b`; name includes `$`.
    Variable {
        pos: usize,
        name: String,
        idents: Vec<String>,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number(usize, Number),
    String {
        pos: usize,
        raw: String,
        val: Arc<str>,
    },
    Ident(usize, String),
    Pipe(usize, Box<Pipe>),
    /// `(pipe).a.b` or other term followed by fields.
    Chain {
        pos: usize,
        node: Box<Arg>,
        idents: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// Whether the literal reads as a float (has ., e, p, and is not hex int / char).
    pub is_float_lit: bool,
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number(pos, _)
            | Arg::String { pos, .. }
            | Arg::Ident(pos, _)
            | Arg::Pipe(pos, _)
            | Arg::Chain { pos, .. } => *pos,
        }
    }
}

// String forms, as Go prints nodes in error contexts.
impl std::fmt::Display for Arg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { name, idents, .. } => {
                write!(f, "{name}")?;
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, n) => f.write_str(&n.text),
            Arg::String { raw, .. } => f.write_str(raw),
            Arg::Ident(_, n) => f.write_str(n),
            Arg::Pipe(_, p) => write!(f, "({p})"),
            Arg::Chain { node, idents, .. } => {
                if let Arg::Pipe(_, p) = node.as_ref() {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Go's `IsEmptyTree`: only whitespace text (and comments).
pub(crate) fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches(|c: char| c.is_whitespace()).is_empty(),
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Parses `src` as the template `name`; returns the named trees it defines (the top-level one
/// first). `has_func` says whether a function name exists (Go checks at parse time).
pub(crate) fn parse(
    name: &str,
    src: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, Error> {
    let toks = lex(src);
    let mut p = Parser {
        toks,
        i: 0,
        parse_name: Arc::from(name),
        text: Arc::from(src),
        has_func,
        vars: vec!["$".into()],
        range_depth: 0,
        action_line: 0,
        trees: Vec::new(),
    };
    let root = p.parse_top()?;
    let mut out = vec![Tree {
        name: name.to_string(),
        parse_name: p.parse_name.clone(),
        text: p.text.clone(),
        root,
    }];
    // Within one parse, two non-empty definitions of a name are an error (as in Go).
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in p.trees.drain(..) {
        if let Some(&idx) = seen.get(&t.name) {
            if is_empty_tree(&out[idx].root) {
                out[idx].root = t.root;
            } else if !is_empty_tree(&t.root) {
                return Err(Error::parse(
                    name,
                    t.root_line,
                    format!("template: multiple definition of template {:?}", t.name),
                ));
            }
            continue;
        }
        if t.name == name {
            // A define with the file's own name.
            if is_empty_tree(&out[0].root) {
                out[0].root = t.root;
            } else if !is_empty_tree(&t.root) {
                return Err(Error::parse(
                    name,
                    t.root_line,
                    format!("template: multiple definition of template {:?}", t.name),
                ));
            }
            continue;
        }
        seen.insert(t.name.clone(), out.len());
        out.push(Tree {
            name: t.name,
            parse_name: p.parse_name.clone(),
            text: p.text.clone(),
            root: t.root,
        });
    }
    Ok(out)
}

struct Pending {
    name: String,
    root: Vec<Node>,
    root_line: usize,
}

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    parse_name: Arc<str>,
    text: Arc<str>,
    has_func: &'a dyn Fn(&str) -> bool,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    trees: Vec<Pending>,
}

enum Item {
    Node(Node),
    End,
    Else { chained: bool },
}

type PResult<T> = Result<T, Error>;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn next(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn backup(&mut self) {
        self.i -= 1;
    }
    fn peek_non_space(&mut self) -> Token {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
        self.peek().clone()
    }
    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.tok != Tok::Space {
                return t;
            }
        }
    }

    fn errorf(&self, msg: String) -> Error {
        let idx = self.i.saturating_sub(1).min(self.toks.len() - 1);
        Error::parse(&self.parse_name, self.toks[idx].line, msg)
    }
    fn errorf_at(&self, line: usize, msg: String) -> Error {
        Error::parse(&self.parse_name, line, msg)
    }

    fn unexpected(&self, t: &Token, context: &str) -> Error {
        if let Tok::Error(e) = &t.tok {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != t.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if e.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf_at(t.line, format!("{e}{extra}"));
        }
        self.errorf_at(t.line, format!("unexpected {} in {context}", t.describe()))
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        loop {
            let t = self.peek().clone();
            if t.tok == Tok::Eof {
                break;
            }
            if t.tok == Tok::LeftDelim {
                let save = self.i;
                self.next();
                if self.next_non_space().tok == Tok::Keyword("define") {
                    self.parse_definition()?;
                    continue;
                }
                self.i = save;
            }
            match self.text_or_action()? {
                Item::Node(n) => root.push(n),
                Item::End => return Err(self.errorf("unexpected {{end}}".into())),
                Item::Else { .. } => return Err(self.errorf("unexpected {{else}}".into())),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let t = self.next_non_space();
        let name = match &t.tok {
            Tok::Str { val, .. } => val.clone(),
            _ => return Err(self.unexpected(&t, context)),
        };
        let line = t.line;
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return Err(self.unexpected(&t, context));
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if !matches!(end, Item::End) {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.trees.push(Pending {
            name,
            root: list,
            root_line: line,
        });
        Ok(())
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Item)> {
        let mut list = Vec::new();
        loop {
            if self.peek_non_space().tok == Tok::Eof {
                return Err(self.errorf("unexpected EOF".into()));
            }
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Text(s) => Ok(Item::Node(Node::Text(s))),
            Tok::LeftDelim => {
                let saved = self.action_line;
                self.action_line = t.line;
                let r = self.action();
                self.action_line = saved;
                r
            }
            Tok::Comment => Ok(Item::Node(Node::Text(String::new()))),
            _ => Err(self.unexpected(&t, "input")),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Keyword("block") => return self.block_control().map(Item::Node),
            Tok::Keyword("break") | Tok::Keyword("continue") => {
                let kw = if t.tok == Tok::Keyword("break") {
                    "break"
                } else {
                    "continue"
                };
                let n = self.next_non_space();
                if n.tok != Tok::RightDelim {
                    return Err(self.unexpected(&n, &format!("{{{{{kw}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(self.errorf(format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                }
                return Ok(Item::Node(if kw == "break" {
                    Node::Break
                } else {
                    Node::Continue
                }));
            }
            Tok::Keyword("else") => {
                let p = self.peek_non_space();
                if matches!(p.tok, Tok::Keyword("if") | Tok::Keyword("with")) {
                    return Ok(Item::Else { chained: true });
                }
                let n = self.next_non_space();
                if n.tok != Tok::RightDelim {
                    return Err(self.unexpected(&n, "else"));
                }
                return Ok(Item::Else { chained: false });
            }
            Tok::Keyword("end") => {
                let n = self.next_non_space();
                if n.tok != Tok::RightDelim {
                    return Err(self.unexpected(&n, "end"));
                }
                return Ok(Item::End);
            }
            Tok::Keyword("if") => return self.control("if").map(|b| Item::Node(Node::If(b))),
            Tok::Keyword("range") => {
                return self.control("range").map(|b| Item::Node(Node::Range(b)));
            }
            Tok::Keyword("with") => {
                return self.control("with").map(|b| Item::Node(Node::With(b)));
            }
            Tok::Keyword("template") => return self.template_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", Tok::RightDelim, pos)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn control(&mut self, context: &'static str) -> PResult<Branch> {
        let nvars = self.vars.len();
        let pos = self.peek_non_space().pos;
        let pipe = self.pipeline(context, Tok::RightDelim, pos)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match next {
            Item::End => None,
            Item::Else { chained, .. } => {
                let p = self.peek_non_space();
                if chained
                    && ((context == "if" && p.tok == Tok::Keyword("if"))
                        || (context == "with" && p.tok == Tok::Keyword("with")))
                {
                    self.next_non_space();
                    let inner = self.control(context)?;
                    Some(vec![if context == "if" {
                        Node::If(inner)
                    } else {
                        Node::With(inner)
                    }])
                } else if chained {
                    let n = self.next_non_space();
                    return Err(self.unexpected(&n, "else"));
                } else {
                    let (l, n) = self.item_list()?;
                    if !matches!(n, Item::End) {
                        return Err(self.errorf("expected end; found {{else}}".into()));
                    }
                    Some(l)
                }
            }
            Item::Node(_) => None,
        };
        self.vars.truncate(nvars);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, context: &str) -> PResult<(usize, String)> {
        let t = self.next_non_space();
        match &t.tok {
            Tok::Str { val, .. } => Ok((t.pos, val.clone())),
            _ => Err(self.unexpected(&t, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let (pos, name) = self.template_name(context)?;
        let t = self.next_non_space();
        let pipe = if t.tok != Tok::RightDelim {
            self.backup();
            let p = self.peek_non_space().pos;
            Some(self.pipeline(context, Tok::RightDelim, p)?)
        } else {
            None
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block_control(&mut self) -> PResult<Node> {
        let context = "block clause";
        let (pos, name) = self.template_name(context)?;
        let p = self.peek_non_space().pos;
        let pipe = self.pipeline(context, Tok::RightDelim, p)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let line = self.peek().line;
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        if !matches!(end, Item::End) {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.trees.push(Pending {
            name: name.clone(),
            root: list,
            root_line: line,
        });
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok, pos: usize) -> PResult<Pipe> {
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations.
        loop {
            let v = self.peek_non_space();
            let Tok::Variable(name) = &v.tok else { break };
            let name = name.clone();
            let save = self.i;
            self.next();
            let n = self.peek_non_space();
            match n.tok {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = n.tok == Tok::Assign;
                    self.next_non_space();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    break;
                }
                Tok::Comma => {
                    self.next_non_space();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        let p = self.peek_non_space();
                        if matches!(p.tok, Tok::Variable(_) | Tok::RightDelim | Tok::RParen) {
                            continue;
                        }
                        return Err(self.errorf("range can only initialize variables".into()));
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            if t.tok == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::Char(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str { .. }
                | Tok::Variable(_)
                | Tok::LParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number(..)
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RParen => self.backup(),
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        let chain_pos = self.peek().pos;
        while let Tok::Field(f) = &self.peek().tok {
            fields.push(f[1..].to_string());
            self.next();
        }
        if fields.is_empty() {
            return Ok(Some(node));
        }
        // Go gives the combined node the position of the first following field.
        let pos = chain_pos;
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable {
                name, mut idents, ..
            } => {
                idents.extend(fields);
                Arg::Variable { pos, name, idents }
            }
            Arg::Bool(..) | Arg::String { .. } | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                return Err(self.errorf(format!("unexpected . after term {:?}", node.to_string())));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                idents: fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.tok {
            Tok::Ident(name) => {
                if !(self.has_func)(&name) {
                    return Err(self.errorf_at(t.line, format!("function {name:?} not defined")));
                }
                Arg::Ident(pos, name)
            }
            Tok::Dot => Arg::Dot(pos),
            Tok::Nil => Arg::Nil(pos),
            Tok::Variable(name) => {
                if !self.vars.contains(&name) {
                    return Err(self.errorf_at(t.line, format!("undefined variable {name:?}")));
                }
                Arg::Variable {
                    pos,
                    name,
                    idents: Vec::new(),
                }
            }
            Tok::Field(f) => Arg::Field {
                pos,
                idents: vec![f[1..].to_string()],
            },
            Tok::Bool(b) => Arg::Bool(pos, b),
            Tok::Char(c) => {
                let n = parse_char_number(&c).ok_or_else(|| {
                    self.errorf_at(t.line, format!("malformed character constant: {c}"))
                })?;
                Arg::Number(pos, n)
            }
            Tok::Number(text) => {
                let n = parse_number(&text).map_err(|e| self.errorf_at(t.line, e))?;
                Arg::Number(pos, n)
            }
            Tok::LParen => {
                let p = self.pipeline("parenthesized pipeline", Tok::RParen, self.peek().pos)?;
                Arg::Pipe(pos, Box::new(p))
            }
            Tok::Str { raw, val } => Arg::String {
                pos,
                raw,
                val: Arc::from(val),
            },
            Tok::Error(_) => return Err(self.unexpected(&t, "operand")),
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

fn parse_char_number(raw: &str) -> Option<Number> {
    let inner = &raw[1..raw.len() - 1];
    let c = if let Some(esc) = inner.strip_prefix('\\') {
        match esc {
            "n" => '\n',
            "t" => '\t',
            "r" => '\r',
            "\\" => '\\',
            "'" => '\'',
            "0" => '\0',
            _ => unquote(&format!("\"{inner}\""))?.chars().next()?,
        }
    } else {
        let mut it = inner.chars();
        let c = it.next()?;
        if it.next().is_some() {
            return None;
        }
        c
    };
    Some(Number {
        text: raw.to_string(),
        int: Some(c as i64),
        float: Some(c as u32 as f64),
        is_float_lit: false,
    })
}

/// Parses a Go number literal into its int and float readings (as `parse.NumberNode`).
fn parse_number(text: &str) -> Result<Number, String> {
    if text.ends_with('i') {
        return Err(format!("illegal number syntax: {text:?}")); // No complex numbers.
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean).to_string()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    let int = int.map(|i| if neg { -i } else { i });
    let is_hex = lower.starts_with("0x");
    let float = if is_hex {
        int.map(|i| i as f64)
    } else {
        let f: Option<f64> = lower.parse::<f64>().ok();
        f.map(|f| if neg { -f } else { f })
    };
    let is_float_lit = !is_hex && lower.contains(['.', 'e', 'p']);
    if int.is_none() && float.is_some() && !is_float_lit {
        return Err(format!("integer overflow: {text:?}"));
    }
    // Go: a float literal with an integral value is also an int (e.g. 1e3).
    let int = match (int, float) {
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(f as i64),
        (i, _) => i,
    };
    if int.is_none() && float.is_none() {
        return Err(format!("illegal number syntax: {text:?}"));
    }
    Ok(Number {
        text: text.to_string(),
        int,
        float,
        is_float_lit,
    })
}
