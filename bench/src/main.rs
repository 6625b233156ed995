//! `baseplate-load`: the load harness (`make load N=1000`). The logic lives in the
//! `baseplate_bench` library.

use baseplate_bench::{options::Options, run};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn")),
        )
        .init();
    let options = Options::parse();
    let report = tokio::runtime::Runtime::new()?.block_on(run::main(options))?;
    let failed = report.targets.iter().filter(|t| !t.pass).count();
    if failed > 0 {
        eprintln!("{failed} of {} targets missed", report.targets.len());
    }
    Ok(())
}
