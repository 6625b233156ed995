//! `baseplate`: the Baseplate operator and its offline tools.

mod cli;
mod offline;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Render(args) => offline::render(&args),
        cli::Command::Explain(args) => offline::explain(&args),
        cli::Command::Crds => offline::crds(),
    }
}
