//! `baseplate`: the Baseplate operator and its offline tools.

use std::process::ExitCode;

use baseplate_operator::{cli, controller, diff, offline, telemetry};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    let cli = cli::Cli::parse();
    match cli.command {
        // Its own exit codes, as `kubectl diff`'s: 1 means "there are changes", 2 an error.
        cli::Command::Diff(args) => return Ok(diff::run(&args)),
        cli::Command::Render(args) => offline::render(&args),
        cli::Command::Explain(args) => offline::explain(&args),
        cli::Command::Crds => offline::crds(),
        cli::Command::Schema(args) => offline::schema(&args),
        cli::Command::Run(args) => {
            telemetry::init(args.log_format)?;
            tokio::runtime::Runtime::new()?.block_on(controller::run(args))
        }
    }?;
    Ok(ExitCode::SUCCESS)
}
