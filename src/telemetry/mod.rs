//! Logs, traces and metrics.
//!
//! Logs go to stdout as text or JSON. Traces go to an OpenTelemetry
//! collector over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the standard `OTEL_*`
//! variables (service name, resource attributes, batch sizes) are honoured.
//! RPC and script spans are `debug` spans that only the trace exporter
//! asks for, so that without one they cost next to nothing (an
//! exporting layer costs ≈ 7 µs a call).

pub mod metrics;
mod throttle;

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::{FilterExt, LevelFilter, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
};

pub use throttle::Throttle;

use crate::config::LogFormat;

/// What must be flushed before the process exits, and the log throttle
/// whose summaries the application reports.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    /// Holds back the Redis client's own messages beyond a few a window.
    pub throttle: Throttle,
}

/// The resource spans are exported under: what the standard variables
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) say, with the service
/// named `rmw` only when neither names it.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if named {
        detected
    } else {
        Resource::builder().with_service_name("rmw").build()
    }
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
    let throttle = Throttle::default();
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
                .with_resource(resource())
                .with_batch_exporter(exporter)
                .build(),
        )
    } else {
        None
    };
    let otel = traces.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // rmw's own spans only: the RPC and the script call. Not h2's
        // `Connection` span per client connection, nor the source paths,
        // thread ids and busy/idle timings tracing would add to each span
        // (the build machine's paths, and figures no trace viewer reads).
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("rmw"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_filter(Targets::new().with_target("rmw", LevelFilter::DEBUG))
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(logs.and(throttle.clone())))
        .with(otel)
        .try_init()?;
    Ok(Telemetry { traces, throttle })
}

impl Telemetry {
    /// Exports what is buffered. Blocks: call it off the runtime's thread
    /// (the exporter needs the runtime to make progress).
    pub fn flush(self) {
        if let Some(provider) = self.traces
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "could not flush traces");
        }
    }
}
