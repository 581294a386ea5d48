//! The executor, following `text/template/exec.go`: the same evaluation order, the same
//! treatment of "no value" versus nil, the same argument conversions and error messages.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::parse::{Arg, Branch, Command, Node, Number, Pipe, Tree};
use crate::value::Value;
use crate::{FuncError, Function, MissingKey, Param, Templates};

/// A value during evaluation: Go's `reflect.Value`, which may be invalid ("no value").
/// `Val(Value::Nil)` is a nil interface (a map element or range element that is nil).
#[derive(Clone, Debug)]
pub(crate) enum Rv {
    Invalid,
    Val(Value),
}

impl Rv {
    fn into_value(self) -> Value {
        match self {
            Rv::Invalid => Value::Nil,
            Rv::Val(v) => v,
        }
    }
}

/// State shared by nested executions (`include`, `tpl`): the limits' budgets.
struct Shared {
    output_left: Cell<usize>,
    steps: Cell<u64>,
}

#[derive(Clone, Copy)]
enum NodeRef<'t> {
    Arg(&'t Arg),
    Cmd(&'t Command),
    Pipe(&'t Pipe),
    Template(usize, &'t str, Option<&'t Pipe>),
}

impl NodeRef<'_> {
    fn pos(&self) -> usize {
        match self {
            NodeRef::Arg(a) => a.pos(),
            NodeRef::Cmd(c) => c.pos,
            NodeRef::Pipe(p) => p.pos,
            NodeRef::Template(pos, ..) => *pos,
        }
    }
    fn text(&self) -> String {
        match self {
            NodeRef::Arg(a) => a.to_string(),
            NodeRef::Cmd(c) => c.to_string(),
            NodeRef::Pipe(p) => p.to_string(),
            NodeRef::Template(_, name, pipe) => match pipe {
                Some(p) => format!("{{{{template {name:?} {p}}}}}"),
                None => format!("{{{{template {name:?}}}}}"),
            },
        }
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Templates `tpl` defined, looked up before the set's own (Helm's `tpl` parses into a clone
/// of the set; an overlay gives the same lookups without copying the set).
type Overlay = HashMap<String, Arc<Tree>>;

pub(crate) struct State<'t> {
    set: &'t Templates,
    overlay: Option<&'t Overlay>,
    tree: &'t Tree,
    out: String,
    vars: Vec<(&'t str, Rv)>,
    depth: usize,
    shared: &'t Shared,
    node: Option<NodeRef<'t>>,
}

/// What a [`crate::Function`] can do besides computing: run other templates of the set, as
/// Helm's `include` and `tpl` do.
pub struct Call<'a, 't> {
    st: &'a mut State<'t>,
}

impl std::fmt::Debug for Call<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("template", &self.st.tree.name)
            .finish()
    }
}

impl Call<'_, '_> {
    /// The template set being executed.
    pub fn templates(&self) -> &Templates {
        self.st.set
    }

    /// Executes the named template with `data` and returns its output (Helm's `include`).
    pub fn include(&mut self, name: &str, data: Value) -> Result<String, Error> {
        let set = self.st.set;
        let Some(tree) = self.st.find_tree(name) else {
            return Err(Error::new(
                ErrorKind::NoSuchTemplate,
                "",
                0,
                None,
                format!(
                    "template: no template {name:?} associated with template {:?}",
                    set.tpl_name
                ),
            ));
        };
        self.st.check_depth(name)?;
        let dot = to_dot(data);
        let mut child = State {
            set,
            overlay: self.st.overlay,
            tree,
            out: String::new(),
            vars: vec![("$", dot.clone())],
            depth: self.st.depth + 1,
            shared: self.st.shared,
            node: None,
        };
        child.run(&dot)?;
        Ok(child.out)
    }

    /// Parses `src` as a template of a copy of this set and executes it with `data` (Helm's
    /// `tpl`): `define`s in `src` are visible only inside it.
    pub fn tpl(&mut self, src: &str, data: Value) -> Result<String, Error> {
        let set = self.st.set;
        let name = set.tpl_name.clone();
        let has = |f: &str| set.has_func(f);
        let trees = crate::parse::parse(&name, src, &has).map_err(|e| {
            let msg = format!(
                "cannot parse template {}: {}",
                crate::format::go_quote(src),
                e
            );
            e.rewrap(msg)
        })?;
        let mut overlay: Overlay = self.st.overlay.cloned().unwrap_or_default();
        for t in trees {
            let keep_old = crate::parse::is_empty_tree(&t.root)
                && self
                    .st
                    .find_tree(&t.name)
                    .is_some_and(|old| !crate::parse::is_empty_tree(&old.root));
            if !keep_old {
                overlay.insert(t.name.clone(), Arc::new(t));
            }
        }
        self.st.check_depth(&name)?;
        let overlay = &overlay;
        let Some(tree) = overlay
            .get(&name)
            .map(|t| &**t)
            .or_else(|| self.st.find_tree(&name))
        else {
            return Ok(String::new());
        };
        let dot = to_dot(data);
        let mut child = State {
            set,
            overlay: Some(overlay),
            tree,
            out: String::new(),
            vars: vec![("$", dot.clone())],
            depth: self.st.depth + 1,
            shared: self.st.shared,
            node: None,
        };
        child.run(&dot).map_err(|e| {
            let msg = format!(
                "error during tpl function execution for {}: {}",
                crate::format::go_quote(src),
                e
            );
            e.rewrap(msg)
        })?;
        let out = child.out;
        Ok(if set.strip_no_value {
            out.replace("<no value>", "")
        } else {
            out
        })
    }
}

fn to_dot(data: Value) -> Rv {
    if data.is_nil() {
        Rv::Invalid
    } else {
        Rv::Val(data)
    }
}

pub(crate) fn execute(set: &Templates, name: &str, data: &Value) -> Result<String, Error> {
    let Some(tree) = set.trees.get(name) else {
        return Err(Error::new(
            ErrorKind::NoSuchTemplate,
            "",
            0,
            None,
            format!(
                "template: no template {name:?} associated with template {:?}",
                set.tpl_name
            ),
        ));
    };
    let shared = Shared {
        output_left: Cell::new(set.limits.max_output),
        steps: Cell::new(0),
    };
    let dot = to_dot(data.clone());
    let mut st = State {
        set,
        overlay: None,
        tree,
        out: String::new(),
        vars: vec![("$", dot.clone())],
        depth: 0,
        shared: &shared,
        node: None,
    };
    st.run(&dot)?;
    Ok(if set.strip_no_value && st.out.contains("<no value>") {
        st.out.replace("<no value>", "")
    } else {
        st.out
    })
}

type R<T> = Result<T, Error>;

fn is_missing(final_: &Option<Rv>) -> bool {
    final_.is_none()
}

impl<'t> State<'t> {
    fn run(&mut self, dot: &Rv) -> R<()> {
        let root = &self.tree.root;
        // Deep template recursion grows the stack; grow it on the heap instead of overflowing.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.walk(dot, root))?;
        Ok(())
    }

    fn find_tree(&self, name: &str) -> Option<&'t Tree> {
        if let Some(t) = self.overlay.and_then(|o| o.get(name)) {
            return Some(t);
        }
        let set: &'t Templates = self.set;
        set.trees.get(name).map(|t| &**t)
    }

    fn check_depth(&self, _name: &str) -> R<()> {
        if self.depth + 1 > self.set.limits.max_depth {
            let mut e = self.error(format!(
                "exceeded maximum template depth ({})",
                self.set.limits.max_depth
            ));
            e.set_kind(ErrorKind::DepthLimit);
            return Err(e);
        }
        Ok(())
    }

    fn at(&mut self, n: NodeRef<'t>) {
        self.node = Some(n);
    }

    /// Go's `state.errorf`: the message with the template, location and node.
    fn error(&self, msg: String) -> Error {
        let name = &self.tree.name;
        match self.node {
            None => Error::new(
                ErrorKind::Exec,
                &self.tree.parse_name,
                0,
                None,
                format!("template: {name}: {msg}"),
            ),
            Some(n) => {
                let pos = n.pos().min(self.tree.text.len());
                let text = &self.tree.text[..pos];
                let (line, col) = match text.rfind('\n') {
                    Some(i) => (1 + text.matches('\n').count(), pos - (i + 1)),
                    None => (1, pos),
                };
                Error::new(
                    ErrorKind::Exec,
                    &self.tree.parse_name,
                    line,
                    Some(col),
                    format!(
                        "template: {}:{line}:{col}: executing {name:?} at <{}>: {msg}",
                        self.tree.parse_name,
                        n.text()
                    ),
                )
            }
        }
    }

    fn step(&self) -> R<()> {
        let s = self.shared.steps.get() + 1;
        self.shared.steps.set(s);
        if s > self.set.limits.max_steps {
            let mut e = self.error(format!(
                "exceeded the limit of {} evaluation steps",
                self.set.limits.max_steps
            ));
            e.set_kind(ErrorKind::StepLimit);
            return Err(e);
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<()> {
        let left = self.shared.output_left.get();
        if s.len() > left {
            let mut e = self.error(format!(
                "output exceeds the limit of {} bytes",
                self.set.limits.max_output
            ));
            e.set_kind(ErrorKind::OutputLimit);
            return Err(e);
        }
        self.shared.output_left.set(left - s.len());
        self.out.push_str(s);
        Ok(())
    }

    fn walk(&mut self, dot: &Rv, nodes: &'t [Node]) -> R<Flow> {
        for n in nodes {
            self.step()?;
            match n {
                Node::Text(s) => self.write(s)?,
                Node::Action(pipe) => {
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.print_value(v)?;
                    }
                }
                Node::If(b) => {
                    let f = self.walk_if_or_with(dot, b, false)?;
                    if !matches!(f, Flow::Normal) {
                        return Ok(f);
                    }
                }
                Node::With(b) => {
                    let f = self.walk_if_or_with(dot, b, true)?;
                    if !matches!(f, Flow::Normal) {
                        return Ok(f);
                    }
                }
                Node::Range(b) => self.walk_range(dot, b)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::Template { pos, name, pipe } => {
                    self.at(NodeRef::Template(*pos, name, pipe.as_ref()));
                    let Some(tree) = self.find_tree(name) else {
                        return Err(self.error(format!("template {name:?} not defined")));
                    };
                    if self.depth + 1 > self.set.limits.max_depth {
                        let mut e = self.error(format!(
                            "exceeded maximum template depth ({})",
                            self.set.limits.max_depth
                        ));
                        e.set_kind(ErrorKind::DepthLimit);
                        return Err(e);
                    }
                    let newdot = match pipe {
                        Some(p) => self.eval_pipeline(dot, p)?,
                        None => Rv::Invalid,
                    };
                    let mut child = State {
                        set: self.set,
                        overlay: self.overlay,
                        tree,
                        out: std::mem::take(&mut self.out),
                        vars: vec![("$", newdot.clone())],
                        depth: self.depth + 1,
                        shared: self.shared,
                        node: None,
                    };
                    let r = child.run(&newdot);
                    self.out = child.out;
                    r?;
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, dot: &Rv, b: &'t Branch, with: bool) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let truth = match &val {
            Rv::Invalid => false,
            Rv::Val(v) => v.is_truthy(),
        };
        let r = if truth {
            if with {
                self.walk(&val, &b.list)
            } else {
                self.walk(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk(dot, e)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Rv, b: &'t Branch) -> R<()> {
        let mark = self.vars.len();
        self.at(NodeRef::Pipe(&b.pipe));
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let entries = match &val {
            Rv::Val(Value::Object(o)) => o.entries(),
            _ => None,
        };
        let val = match val {
            Rv::Val(v @ Value::Object(_)) => Rv::Val(v.as_collection().into_owned()),
            v => v,
        };
        let ndecl = b.pipe.decl.len();
        let mut ran = false;
        let one = |st: &mut Self, index: Value, elem: Value| -> R<Flow> {
            st.step()?;
            if ndecl > 0 {
                if b.pipe.is_assign {
                    let v = if ndecl > 1 {
                        index.clone()
                    } else {
                        elem.clone()
                    };
                    st.set_var(&b.pipe.decl[0], Rv::Val(v))?;
                } else {
                    let i = st.vars.len() - 1;
                    st.vars[i].1 = Rv::Val(elem.clone());
                }
            }
            if ndecl > 1 {
                if b.pipe.is_assign {
                    st.set_var(&b.pipe.decl[1], Rv::Val(elem.clone()))?;
                } else {
                    let i = st.vars.len() - 2;
                    st.vars[i].1 = Rv::Val(index);
                }
            }
            let inner = st.vars.len();
            let r = st.walk(&Rv::Val(elem), &b.list);
            st.vars.truncate(inner);
            r
        };
        let result: R<()> = (|| {
            if let Some(entries) = entries {
                for (k, v) in entries {
                    ran = true;
                    if let Flow::Break = one(self, k, v)? {
                        break;
                    }
                }
                if !ran && let Some(e) = &b.else_list {
                    self.walk(dot, e)?;
                }
                return Ok(());
            }
            match &val {
                Rv::Invalid => {}
                Rv::Val(Value::List(l)) => {
                    for (i, e) in l.iter().enumerate() {
                        ran = true;
                        if let Flow::Break = one(self, Value::Int(i as i64), e.clone())? {
                            break;
                        }
                    }
                }
                Rv::Val(Value::Bytes(bs)) => {
                    for (i, e) in bs.iter().enumerate() {
                        ran = true;
                        if let Flow::Break =
                            one(self, Value::Int(i as i64), Value::Int(i64::from(*e)))?
                        {
                            break;
                        }
                    }
                }
                Rv::Val(Value::Map(m)) => {
                    let entries: Vec<(String, Value)> = m
                        .read()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    for (k, v) in entries {
                        ran = true;
                        if let Flow::Break = one(self, Value::str(k), v)? {
                            break;
                        }
                    }
                }
                Rv::Val(v @ (Value::Int(n) | Value::Int64(n))) => {
                    if ndecl > 1 {
                        return Err(self.error(format!(
                            "can't use {n} to iterate over more than one variable"
                        )));
                    }
                    // The elements have the integer's type.
                    let elem = |i| match v {
                        Value::Int64(_) => Value::Int64(i),
                        _ => Value::Int(i),
                    };
                    for i in 0..*n {
                        ran = true;
                        if let Flow::Break = one(self, elem(i), elem(i))? {
                            break;
                        }
                    }
                }
                Rv::Val(Value::Nil) => {}
                Rv::Val(v) => {
                    return Err(self.error(format!("range can't iterate over {v}")));
                }
            }
            if !ran && let Some(e) = &b.else_list {
                self.walk(dot, e)?;
            }
            Ok(())
        })();
        self.vars.truncate(mark);
        result
    }

    fn set_var(&mut self, name: &str, v: Rv) -> R<()> {
        for (n, val) in self.vars.iter_mut().rev() {
            if *n == name {
                *val = v;
                return Ok(());
            }
        }
        Err(self.error(format!("undefined variable: {name}")))
    }

    fn var_value(&self, name: &str) -> R<Rv> {
        for (n, v) in self.vars.iter().rev() {
            if *n == name {
                return Ok(v.clone());
            }
        }
        Err(self.error(format!("undefined variable: {name}")))
    }

    fn print_value(&mut self, v: Rv) -> R<()> {
        match v {
            Rv::Invalid | Rv::Val(Value::Nil) => self.write("<no value>"),
            Rv::Val(Value::String(s)) => self.write(&s),
            Rv::Val(v) => {
                let shown = match &v {
                    Value::Object(o) => o.action_display(),
                    _ => None,
                };
                let s = shown.unwrap_or_else(|| {
                    let mut s = String::new();
                    crate::format::write_value(&mut s, &v, false);
                    s
                });
                self.write(&s)
            }
        }
    }

    fn eval_pipeline(&mut self, dot: &Rv, pipe: &'t Pipe) -> R<Rv> {
        self.at(NodeRef::Pipe(pipe));
        let mut value: Option<Rv> = None;
        for cmd in &pipe.cmds {
            let mut v = self.eval_command(dot, cmd, value.take())?;
            if let Rv::Val(Value::Nil) = v {
                v = Rv::Invalid;
            }
            value = Some(v);
        }
        let value = value.unwrap_or(Rv::Invalid);
        for d in &pipe.decl {
            if pipe.is_assign {
                self.set_var(d, value.clone())?;
            } else {
                self.vars.push((d.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], final_: &Option<Rv>) -> R<()> {
        if args.len() > 1 || !is_missing(final_) {
            return Err(self.error(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Rv, cmd: &'t Command, final_: Option<Rv>) -> R<Rv> {
        self.step()?;
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at(NodeRef::Arg(first));
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, final_);
            }
            Arg::Chain { node, idents, .. } => {
                return self.eval_chain(dot, first, node, idents, &cmd.args, final_);
            }
            Arg::Ident(_, name) => return self.eval_function(dot, first, name, cmd, final_),
            Arg::Pipe(_, p) => {
                self.not_a_function(&cmd.args, &final_)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { name, idents, .. } => {
                return self.eval_variable(dot, first, name, idents, &cmd.args, final_);
            }
            _ => {}
        }
        self.at(NodeRef::Arg(first));
        self.not_a_function(&cmd.args, &final_)?;
        Ok(Rv::Val(match first {
            Arg::Bool(_, b) => Value::Bool(*b),
            Arg::Dot(_) => return Ok(dot.clone()),
            Arg::Nil(_) => return Err(self.error("nil is not a command".into())),
            Arg::Number(_, n) => self.ideal_constant(n)?,
            Arg::String { val, .. } => Value::String(val.clone()),
            _ => Value::Nil,
        }))
    }

    fn ideal_constant(&self, n: &Number) -> R<Value> {
        if n.is_float_lit
            && let Some(f) = n.float
        {
            return Ok(Value::Float(f));
        }
        match n.int {
            Some(i) => Ok(Value::Int(i)),
            None => match n.float {
                Some(_) => Err(self.error(format!("{} overflows int", n.text))),
                None => Err(self.error(format!("illegal number syntax: {}", n.text))),
            },
        }
    }

    fn eval_variable(
        &mut self,
        dot: &Rv,
        node: &'t Arg,
        name: &str,
        idents: &'t [String],
        args: &'t [Arg],
        final_: Option<Rv>,
    ) -> R<Rv> {
        self.at(NodeRef::Arg(node));
        let value = self.var_value(name)?;
        if idents.is_empty() {
            if !args.is_empty() {
                self.not_a_function(args, &final_)?;
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, idents, args, final_)
    }

    fn eval_chain(
        &mut self,
        dot: &Rv,
        node: &'t Arg,
        inner: &'t Arg,
        idents: &'t [String],
        args: &'t [Arg],
        final_: Option<Rv>,
    ) -> R<Rv> {
        self.at(NodeRef::Arg(node));
        if let Arg::Nil(_) = inner {
            return Err(self.error(format!("indirection through explicit nil in {node}")));
        }
        let recv = self.eval_arg_rv(dot, inner)?;
        self.eval_field_chain(dot, recv, node, idents, args, final_)
    }

    /// Evaluates an argument with no type (Go's `evalArg(dot, nil, n)`).
    fn eval_arg_rv(&mut self, dot: &Rv, n: &'t Arg) -> R<Rv> {
        self.at(NodeRef::Arg(n));
        match n {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Rv::Val(Value::Nil)),
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot, dot.clone(), n, idents, std::slice::from_ref(n), None)
            }
            Arg::Variable { name, idents, .. } => {
                self.eval_variable(dot, n, name, idents, &[], None)
            }
            Arg::Pipe(_, p) => self.eval_pipeline(dot, p),
            Arg::Ident(_, name) => {
                let f = self.lookup_func(name)?;
                self.eval_call(dot, f, n, NodeRef::Arg(n), name, &[], None)
            }
            Arg::Chain { node, idents, .. } => self.eval_chain(dot, n, node, idents, &[], None),
            Arg::Bool(_, b) => Ok(Rv::Val(Value::Bool(*b))),
            Arg::Number(_, num) => Ok(Rv::Val(self.ideal_constant(num)?)),
            Arg::String { val, .. } => Ok(Rv::Val(Value::String(val.clone()))),
        }
    }

    fn eval_field_chain(
        &mut self,
        dot: &Rv,
        mut receiver: Rv,
        node: &'t Arg,
        idents: &'t [String],
        args: &'t [Arg],
        final_: Option<Rv>,
    ) -> R<Rv> {
        let n = idents.len();
        let mut iface = false;
        for ident in &idents[..n - 1] {
            receiver = self.eval_field(dot, ident, node, &[], None, receiver, iface)?;
            iface = true;
        }
        self.eval_field(dot, &idents[n - 1], node, args, final_, receiver, iface)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Rv,
        name: &str,
        node: &'t Arg,
        args: &'t [Arg],
        final_: Option<Rv>,
        receiver: Rv,
        iface: bool,
    ) -> R<Rv> {
        let recv = match receiver {
            Rv::Invalid => {
                if self.set.missing_key == MissingKey::Error {
                    return Err(self.error(format!("nil data; no entry for key {name:?}")));
                }
                return Ok(Rv::Invalid);
            }
            Rv::Val(Value::Nil) => {
                return Err(self.error(format!("nil pointer evaluating interface {{}}.{name}")));
            }
            Rv::Val(v) => v,
        };
        let has_args = args.len() > 1 || final_.is_some();
        match &recv {
            Value::Map(m) => {
                if has_args {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(v) => Ok(Rv::Val(v)),
                    None => match self.set.missing_key {
                        MissingKey::Default => Ok(Rv::Invalid),
                        MissingKey::Zero => Ok(Rv::Val(Value::Nil)),
                        MissingKey::Error => {
                            Err(self.error(format!("map has no entry for key {name:?}")))
                        }
                    },
                }
            }
            Value::Object(o) => {
                if has_args || o.field(name).is_none() {
                    let mut argv = Vec::new();
                    for a in args.iter().skip(1) {
                        argv.push(self.eval_arg(dot, Param::Any, a)?);
                    }
                    if let Some(f) = final_ {
                        argv.push(f.into_value());
                    }
                    if let Some(r) = o.call_method(name, &argv) {
                        return match r {
                            Ok(v) => Ok(Rv::Val(v)),
                            Err(e) => {
                                self.at(NodeRef::Arg(node));
                                Err(self.error(format!("error calling {name}: {e}")))
                            }
                        };
                    }
                    if has_args && o.field(name).is_some() {
                        return Err(self.error(format!("{name} is not a method but has arguments")));
                    }
                }
                match o.field(name) {
                    Some(v) => Ok(Rv::Val(v)),
                    // A Go map type (`map[string]string` of `split`): keys after methods.
                    None if matches!(o.collection(), Some(Value::Map(_))) => {
                        let Some(Value::Map(m)) = o.collection() else {
                            unreachable!("matched above")
                        };
                        match m.get(name) {
                            Some(v) => Ok(Rv::Val(v)),
                            None => match self.set.missing_key {
                                MissingKey::Default => Ok(Rv::Invalid),
                                MissingKey::Zero => Ok(Rv::Val(Value::str(""))),
                                MissingKey::Error => {
                                    Err(self.error(format!("map has no entry for key {name:?}")))
                                }
                            },
                        }
                    }
                    None => {
                        let t = if iface { "interface {}" } else { o.type_name() };
                        Err(self.error(format!("can't evaluate field {name} in type {t}")))
                    }
                }
            }
            v => {
                let t = if iface { "interface {}" } else { v.type_name() };
                Err(self.error(format!("can't evaluate field {name} in type {t}")))
            }
        }
    }

    fn lookup_func(&self, name: &str) -> R<&'t Function> {
        let set: &'t Templates = self.set;
        if let Some(f) = set.funcs.get(name) {
            return Ok(f);
        }
        if let Some(f) = crate::funcs::builtin(name) {
            return Ok(f);
        }
        Err(self.error(format!("{name:?} is not a defined function")))
    }

    fn eval_function(
        &mut self,
        dot: &Rv,
        ident: &'t Arg,
        name: &'t str,
        cmd: &'t Command,
        final_: Option<Rv>,
    ) -> R<Rv> {
        self.at(NodeRef::Arg(ident));
        let f = self.lookup_func(name)?;
        self.eval_call(
            dot,
            f,
            ident,
            NodeRef::Cmd(cmd),
            name,
            &cmd.args[1..],
            final_,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_call(
        &mut self,
        dot: &Rv,
        f: &'t Function,
        ident: &'t Arg,
        cmd: NodeRef<'t>,
        name: &str,
        args: &'t [Arg],
        final_: Option<Rv>,
    ) -> R<Rv> {
        let num_in = args.len() + usize::from(final_.is_some());
        let fixed = f.params.len();
        if f.variadic.is_some() {
            if num_in < fixed {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != fixed {
            return Err(self.error(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            )));
        }
        // and/or short-circuit.
        if crate::funcs::is_builtin(name)
            && (name == "and" || name == "or")
            && !self.set.funcs.contains_key(name)
        {
            let want = name == "or";
            let mut v = Rv::Invalid;
            for a in args {
                v = self.eval_arg_rv(dot, a)?;
                let t = match &v {
                    Rv::Invalid => false,
                    Rv::Val(x) => x.is_truthy(),
                };
                if t == want {
                    return Ok(v);
                }
            }
            if let Some(fv) = final_ {
                v = fv;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let p = if i < fixed {
                f.params[i]
            } else {
                f.variadic.unwrap_or(Param::Any)
            };
            argv.push(self.eval_arg(dot, p, a)?);
        }
        if let Some(fv) = final_ {
            let p = if f.variadic.is_some() && num_in > fixed {
                f.variadic.unwrap_or(Param::Any)
            } else {
                f.params[num_in - 1]
            };
            self.at(NodeRef::Arg(ident));
            let v = self.validate(fv, p)?;
            argv.push(v);
        }

        let r = {
            let mut call = Call { st: self };
            (f.body)(&mut call, argv)
        };
        match r {
            Ok(v) => Ok(Rv::Val(v)),
            Err(e) => {
                self.at(cmd);
                Err(match e {
                    FuncError::Message(m) => self.error(format!("error calling {name}: {m}")),
                    FuncError::Fail(m) => {
                        let mut err = self.error(format!("error calling {name}: {m}"));
                        err.set_kind(ErrorKind::Fail(m));
                        err
                    }
                    FuncError::Nested(inner) => {
                        let mut err = self.error(format!("error calling {name}: {inner}"));
                        // A nested parse error (tpl) is an execution error of this template.
                        if *inner.kind() != ErrorKind::Parse {
                            err.set_kind(inner.kind().clone());
                        }
                        err
                    }
                })
            }
        }
    }

    fn eval_arg(&mut self, dot: &Rv, p: Param, n: &'t Arg) -> R<Value> {
        self.at(NodeRef::Arg(n));
        match n {
            Arg::Dot(_) => return self.validate(dot.clone(), p),
            Arg::Nil(_) => {
                return match p {
                    Param::Any | Param::Map | Param::List | Param::Reflect => Ok(Value::Nil),
                    _ => Err(self.error(format!("cannot assign nil to {}", go_type(p)))),
                };
            }
            Arg::Field { .. }
            | Arg::Variable { .. }
            | Arg::Pipe(..)
            | Arg::Ident(..)
            | Arg::Chain { .. } => {
                // Go validates with the error context where evaluation left it.
                let v = self.eval_arg_rv(dot, n)?;
                return self.validate(v, p);
            }
            _ => {}
        }
        match (p, n) {
            (Param::Any | Param::Reflect, _) => Ok(self.eval_arg_rv(dot, n)?.into_value()),
            (Param::Bool, Arg::Bool(_, b)) => Ok(Value::Bool(*b)),
            (Param::Bool, _) => Err(self.error(format!("expected bool; found {n}"))),
            (Param::Int, Arg::Number(_, num)) if num.int.is_some() => {
                Ok(Value::Int(num.int.unwrap_or(0)))
            }
            (Param::Int, _) => Err(self.error(format!("expected integer; found {n}"))),
            (Param::Float, Arg::Number(_, num)) if num.float.is_some() => {
                Ok(Value::Float(num.float.unwrap_or(0.0)))
            }
            (Param::Float, _) => Err(self.error(format!("expected float; found {n}"))),
            (Param::String, Arg::String { val, .. }) => Ok(Value::String(val.clone())),
            (Param::String, _) => Err(self.error(format!("expected string; found {n}"))),
            (Param::Map | Param::List, _) => {
                Err(self.error(format!("can't handle {n} for arg of type {}", go_type(p))))
            }
        }
    }

    fn validate(&self, v: Rv, p: Param) -> R<Value> {
        let v = match v {
            Rv::Invalid => {
                return match p {
                    Param::Any | Param::Map | Param::List | Param::Reflect => Ok(Value::Nil),
                    _ => Err(self.error(format!("invalid value; expected {}", go_type(p)))),
                };
            }
            Rv::Val(v) => v,
        };
        let ok = (p == Param::String && v.string_bytes().is_some())
            || matches!(
                (p, &v),
                (Param::Any | Param::Reflect, _)
                    | (Param::String, Value::String(_))
                    | (Param::Int, Value::Int(_))
                    | (Param::Float, Value::Float(_))
                    | (Param::Bool, Value::Bool(_))
                    | (Param::Map, Value::Map(_))
                    | (Param::List, Value::List(_))
            );
        if ok {
            return Ok(v);
        }
        let got = if v.is_nil() {
            "interface {}"
        } else {
            v.type_name()
        };
        Err(self.error(format!(
            "wrong type for value; expected {}; got {got}",
            go_type(p)
        )))
    }
}

pub(crate) fn go_type(p: Param) -> &'static str {
    match p {
        Param::Any => "interface {}",
        Param::String => "string",
        Param::Int => "int",
        Param::Float => "float64",
        Param::Bool => "bool",
        Param::Map => "map[string]interface {}",
        Param::List => "[]interface {}",
        Param::Reflect => "reflect.Value",
    }
}
