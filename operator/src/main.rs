//! `baseplate`: the Baseplate operator and its offline tools.

use baseplate_operator::{cli, controller, offline, telemetry};
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Render(args) => offline::render(&args),
        cli::Command::Explain(args) => offline::explain(&args),
        cli::Command::Crds => offline::crds(),
        cli::Command::Schema(args) => offline::schema(&args),
        cli::Command::Run(args) => {
            telemetry::init(args.log_format)?;
            tokio::runtime::Runtime::new()?.block_on(controller::run(args))
        }
    }
}
