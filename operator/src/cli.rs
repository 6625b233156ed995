//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Baseplate: one small App resource in, a production-ready Deployment, Service, HPA, PDB,
/// Ingress, ConfigMap and Secret out, with the defaults your SRE team chose.
#[derive(Parser, Debug)]
#[command(name = "baseplate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the children the operator would apply for each App, as YAML for `kubectl apply -f -`.
    ///
    /// Works offline: no cluster is needed. Apps are checked like the API server checks them
    /// (strict fields, the CRDs' CEL rules) and against the Platforms' guardrails; any error
    /// is printed with the field and the fix, and the exit code is non-zero.
    ///
    /// Generated secret values are random on every run (the operator generates them once and
    /// keeps them); owner references are left out because a file's App has no UID.
    Render(RenderArgs),
    /// Print every resolved setting of each App and the layer it came from
    /// (built-in, which Platform, the App, or a cross-field rule).
    Explain(RenderArgs),
    /// Print the App and Platform CustomResourceDefinitions as YAML.
    Crds,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// App manifests (YAML, several documents allowed). `-` reads standard input.
    /// With none, renders the built-in reference App (nginx:1.14 with one port and one env var).
    pub files: Vec<PathBuf>,
    /// Platform manifests whose defaults and limits apply (repeatable). Without any, only the
    /// built-in defaults apply. Platforms may also be given among the FILES.
    #[arg(long = "platform", short = 'p')]
    pub platforms: Vec<PathBuf>,
    /// Namespace for Apps that do not name one.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Labels of that namespace, `key=value,...`, for Platforms that select namespaces by label.
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    pub namespace_labels: Vec<(String, String)>,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected key=value, got {text:?}"))
}
