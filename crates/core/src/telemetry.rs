//! Logging: a `tracing` subscriber writing JSON (the default, like Flux) or console lines.
//!
//! Convention for reconcile logs: run the reconcile inside [`reconcile_span`], whose fields
//! `kind`, `namespace`, `name` (and `revision` once known) land on every line logged in it,
//! so a log query by object works the same for every controller.
//!
//! JSON lines are flat, with Flux's keys: `{"level":"info","ts":"…","logger":"…","msg":"…",
//! "kind":"GitRepository","namespace":"flux-system","name":"podinfo",…}`. The span fields are
//! merged into the line (inner spans win) instead of nested, so `jq '.name'` or a Loki label
//! query reads the same as for Flux.

use crate::flags::{LogArgs, LogEncoding, LogLevel};
use serde_json::{Map, Value};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        self, FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::{JsonFields, Writer},
    },
    prelude::*,
    registry::LookupSpan,
};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` is set but not a valid filter.
    #[error("invalid RUST_LOG filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// A global subscriber was installed already (init called twice).
    #[error("logging already initialised: {0}")]
    AlreadyInitialised(#[from] tracing_subscriber::util::TryInitError),
}

/// The filter directive a `--log-level` stands for.
///
/// Dependencies (kube, hyper, tower) stay at `warn` below `debug`: their info lines are noise
/// for an operator. `RUST_LOG`, when set, replaces this entirely.
pub fn filter_directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Error => "error",
        LogLevel::Info => "info,kube=warn,hyper=warn,tower=warn,rustls=warn",
        LogLevel::Debug => "debug,hyper=info,tower=info,rustls=info,h2=info",
        LogLevel::Trace => "trace",
    }
}

/// Installs the global subscriber from the log flags. Call once, first thing in `main`.
pub fn init(args: &LogArgs) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(v)?,
        _ => EnvFilter::try_new(filter_directive(args.log_level))?,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    subscriber(args.log_encoding, filter, ansi, std::io::stderr).try_init()?;
    Ok(())
}

/// The subscriber `init` installs, writing to `writer`.
fn subscriber<W>(
    encoding: LogEncoding,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let layer: Box<dyn tracing_subscriber::Layer<_> + Send + Sync> = match encoding {
        LogEncoding::Json => fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(writer)
            .boxed(),
        LogEncoding::Console => fmt::layer()
            .with_target(false)
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
    };
    tracing_subscriber::registry().with(filter).with(layer)
}

/// Formats an event as one flat JSON object (see the module docs).
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "level".into(),
            meta.level().as_str().to_ascii_lowercase().into(),
        );
        line.insert(
            "ts".into(),
            k8s_openapi::jiff::Timestamp::now().to_string().into(),
        );
        line.insert("logger".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                // JsonFields stored each span's fields as a JSON object.
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(fields.as_str())
                {
                    line.extend(obj);
                }
            }
        }
        event.record(&mut FieldsVisitor(&mut line));
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| std::fmt::Error)?;
        writer.write_str(&text)?;
        writer.write_char('\n')
    }
}

/// Copies event fields into the JSON line; `message` becomes Flux's `msg`.
struct FieldsVisitor<'a>(&'a mut Map<String, Value>);

impl FieldsVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let key = if field.name() == "message" {
            "msg"
        } else {
            field.name()
        };
        self.0.insert(key.to_owned(), value);
    }
}

impl tracing::field::Visit for FieldsVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// The span a reconcile of one object runs in; record `revision` later with
/// `span.record("revision", rev)`.
pub fn reconcile_span(kind: &str, namespace: Option<&str>, name: &str) -> tracing::Span {
    tracing::info_span!(
        "reconcile",
        kind,
        namespace = namespace.unwrap_or(""),
        name,
        revision = tracing::field::Empty
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_maps_to_a_valid_filter() {
        for level in [
            LogLevel::Error,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
        ] {
            let directive = filter_directive(level);
            EnvFilter::try_new(directive).expect(directive);
        }
        assert!(filter_directive(LogLevel::Info).starts_with("info"));
        assert!(filter_directive(LogLevel::Error).starts_with("error"));
    }

    /// A writer that keeps what was logged, to read it back.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf8")
        }
    }

    fn log_one_reconcile(encoding: LogEncoding, level: LogLevel) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let filter = EnvFilter::try_new(filter_directive(level)).expect("filter");
        let sub = subscriber(encoding, filter, false, move || writer.clone());
        tracing::subscriber::with_default(sub, || {
            let span = reconcile_span("GitRepository", Some("flux-system"), "podinfo");
            let _guard = span.enter();
            span.record("revision", "main@sha1:abc");
            tracing::info!(size = 42_u64, "stored artifact");
            tracing::debug!("debug detail");
        });
        out.text()
    }

    #[test]
    fn json_lines_carry_the_object_fields() {
        let text = log_one_reconcile(LogEncoding::Json, LogLevel::Info);
        let line = text.lines().next().expect("one line");
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        assert_eq!(v["msg"], "stored artifact");
        assert_eq!(v["level"], "info");
        assert_eq!(v["kind"], "GitRepository");
        assert_eq!(v["namespace"], "flux-system");
        assert_eq!(v["name"], "podinfo");
        assert_eq!(v["revision"], "main@sha1:abc");
        assert_eq!(v["size"], 42);
        assert!(v["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
        assert_eq!(text.lines().count(), 1, "debug is filtered at info: {text}");
    }

    #[test]
    fn console_lines_are_plain_text_and_debug_shows_at_debug() {
        let text = log_one_reconcile(LogEncoding::Console, LogLevel::Debug);
        assert!(text.contains("stored artifact"), "{text}");
        assert!(text.contains("debug detail"), "{text}");
        assert!(
            text.contains("name=\"podinfo\"") || text.contains("name=podinfo"),
            "{text}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(text.lines().next().expect("line")).is_err()
        );
    }
}
