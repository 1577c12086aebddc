//! The `rmw` binary: parse the configuration, build the runtime it asks
//! for, run the service.

use clap::Parser;
use rmw::config::Config;

// glibc's malloc was a sixth of the service's CPU under load (perf, see
// BENCHMARKS.md); mimalloc's thread-local free lists make it a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let runtime = match config.server.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build()?,
    };
    runtime.block_on(rmw::app::run(config))
}
