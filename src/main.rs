//! The `rmw` binary: parse the configuration, run the service.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rmw::app::run(rmw::config::Config::parse()).await
}
