//! [`Error`]: parse and execution errors, printed exactly as Go prints them.

use std::fmt;

/// What went wrong; the message itself is in [`Error`]'s `Display`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The template text does not parse (includes calls of unknown functions, which Go
    /// rejects at parse time).
    Parse,
    /// Execution failed: a type error, a function's error, a nil pointer, …
    Exec,
    /// Helm's `fail` or `required` stopped the render; the payload is the user's message.
    Fail(String),
    /// Templates called templates (`template`, `include`, `tpl`) deeper than
    /// [`crate::Limits::max_depth`].
    DepthLimit,
    /// The output grew past [`crate::Limits::max_output`].
    OutputLimit,
    /// Execution took more than [`crate::Limits::max_steps`] steps.
    StepLimit,
    /// `execute` was asked for a template that does not exist.
    NoSuchTemplate,
}

/// A template error. `Display` gives Go's message, e.g.
/// `template: t.yaml:3:7: executing "t.yaml" at <.Values.x.y>: nil pointer evaluating
/// interface {}.y`, or `template: t.yaml:3: function "foo" not defined`.
#[derive(Clone, Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    template: String,
    line: usize,
    column: Option<usize>,
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    pub(crate) fn parse(parse_name: &str, line: usize, msg: String) -> Error {
        Error {
            kind: ErrorKind::Parse,
            template: parse_name.to_string(),
            line,
            column: None,
            message: format!("template: {parse_name}:{line}: {msg}"),
        }
    }

    pub(crate) fn new(
        kind: ErrorKind,
        template: &str,
        line: usize,
        column: Option<usize>,
        message: String,
    ) -> Error {
        Error {
            kind,
            template: template.to_string(),
            line,
            column,
            message,
        }
    }

    pub(crate) fn set_kind(&mut self, kind: ErrorKind) {
        self.kind = kind;
    }

    /// The same error (kind and location) with another message.
    pub(crate) fn rewrap(mut self, message: String) -> Error {
        self.message = message;
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file (top-level template name) the error points into; empty when the error has no
    /// location (e.g. [`ErrorKind::NoSuchTemplate`]).
    pub fn template(&self) -> &str {
        &self.template
    }

    /// 1-based line of the error; 0 when unknown.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 0-based byte column within the line, as Go prints it (execution errors only).
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// The message `fail`/`required` gave, wherever in nested `include`/`tpl` calls it was
    /// raised.
    pub fn fail_message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Fail(m) => Some(m),
            _ => None,
        }
    }

    /// The error as `helm template` prints it (Helm's `cleanupParseError` and
    /// `cleanupExecError`): `parse error at (FILE:LINE): MSG` for syntax errors,
    /// `execution error at (FILE:LINE:COL): MSG` for `fail`/`required`, and Go's message
    /// otherwise.
    pub fn helm_message(&self) -> String {
        let tokens: Vec<&str> = self.message.split(": ").collect();
        match &self.kind {
            ErrorKind::Parse if tokens.len() > 1 => {
                format!(
                    "parse error at ({}): {}",
                    tokens[1],
                    tokens[tokens.len() - 1]
                )
            }
            ErrorKind::Fail(msg) if tokens.len() > 2 => {
                format!("execution error at ({}): {msg}", tokens[1])
            }
            _ => self.message.clone(),
        }
    }
}
