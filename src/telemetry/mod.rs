//! Logs, traces and metrics.
//!
//! Logs go to stdout as text or JSON. Traces go to an OpenTelemetry
//! collector over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the standard `OTEL_*`
//! variables (service name, resource attributes, batch sizes) are honoured.
//! RPC and script spans are `debug` spans that only the trace exporter
//! asks for, so that without one they cost next to nothing (`PERF_NOTES`:
//! an exporting layer costs ≈ 7 µs a call).

pub mod metrics;

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{
    EnvFilter, Layer, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// What must be flushed before the process exits.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

/// Whether the environment asks for traces to be exported.
fn traces_wanted() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
        && std::env::var("OTEL_TRACES_EXPORTER").map_or(true, |e| e != "none")
}

/// Installs the global subscriber: logs filtered by `filter`, and traces
/// when the environment asks for them. Must run inside the runtime (the
/// exporter's gRPC channel lives on it).
pub fn init(format: LogFormat, filter: &str) -> anyhow::Result<Telemetry> {
    let logs = EnvFilter::try_new(filter)?;
    // Colours only on a terminal: a log file or collector gets plain text.
    let fmt = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    let traces = if traces_wanted() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        Some(
            SdkTracerProvider::builder()
                .with_resource(Resource::builder().with_service_name("rmw").build())
                .with_batch_exporter(exporter)
                .build(),
        )
    } else {
        None
    };
    let otel = traces.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("rmw"))
            .with_filter(LevelFilter::DEBUG)
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(logs))
        .with(otel)
        .try_init()?;
    Ok(Telemetry { traces })
}

impl Telemetry {
    /// Exports what is buffered. Blocks: call it off the runtime's thread
    /// (the exporter needs the runtime to make progress).
    pub fn flush(self) {
        if let Some(provider) = self.traces {
            if let Err(error) = provider.shutdown() {
                tracing::warn!(%error, "could not flush traces");
            }
        }
    }
}
