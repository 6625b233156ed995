//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

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
    /// Preview a Platform change: the children of every App it selects, under the current and
    /// the proposed Platforms. A summary first, then per-object differences.
    ///
    /// Against the cluster in KUBECONFIG (read-only: lists Apps, namespaces and Platforms):
    /// `baseplate diff --platform NEW.yaml`. Offline, for a pull request in a GitOps
    /// repository: `baseplate diff --platform OLD.yaml --to NEW.yaml apps/`.
    /// Exit code 0 when nothing would change, 1 when something would, 2 on errors.
    Diff(DiffArgs),
    /// Print the App and Platform CustomResourceDefinitions as YAML.
    Crds,
    /// Print the JSON Schema of App or Platform, for editors (yaml-language-server) and CI
    /// checks of app repositories; generated from the same types as the CRDs.
    Schema(SchemaArgs),
    /// Run the operator against the cluster in KUBECONFIG (or the in-cluster service account).
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// App manifests (YAML, several documents allowed). `-` reads standard input.
    /// With none, renders the built-in first example (examples/hello.yaml: an unprivileged nginx on port 8080).
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
    /// `yaml` for people and `kubectl apply -f -`, `json` for scripts.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Yaml)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Against the cluster: the proposed Platforms, each replacing the live Platform of its
    /// name (or added). With --to: the current Platforms.
    #[arg(long = "platform", short = 'p', required = true)]
    pub platforms: Vec<PathBuf>,
    /// Offline: the proposed Platforms, compared over the App files or directories given.
    #[arg(long)]
    pub to: Option<PathBuf>,
    /// Offline: App manifests, or directories searched for `.yaml`/`.yml` files (other kinds
    /// in them are skipped).
    pub files: Vec<PathBuf>,
    /// Offline: namespace for Apps that do not name one.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Offline: labels of every App's namespace, `key=value,...`, for Platforms that select
    /// namespaces by label.
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    pub namespace_labels: Vec<(String, String)>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Yaml,
    Json,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum, required_unless_present = "write")]
    pub kind: Option<SchemaKind>,
    /// Write both schemas (app.schema.json, platform.schema.json) into this directory instead.
    #[arg(long, conflicts_with = "kind")]
    pub write: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaKind {
    App,
    Platform,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected key=value, got {text:?}"))
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Apps reconciled at the same time. At 1000 Apps, 16 or 32 were no faster than 8 (the
    /// API server was the limit) and cost memory; see BENCHMARKS.md.
    #[arg(long, env = "BASEPLATE_CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,
    /// Seconds between reconciles of an App when nothing changes (plus up to 10% jitter).
    #[arg(long, env = "BASEPLATE_RESYNC_SECONDS", default_value_t = 600)]
    pub resync_seconds: u64,
    /// Address of the /healthz, /readyz and /metrics server.
    #[arg(long, env = "BASEPLATE_HTTP_ADDRESS", default_value = "0.0.0.0:8080")]
    pub http_address: std::net::SocketAddr,
    /// Hold a Lease before writing anything, so that only one replica acts at a time.
    #[arg(long, env = "BASEPLATE_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,
    #[arg(long, env = "BASEPLATE_LEASE_NAME", default_value = "baseplate-leader")]
    pub lease_name: String,
    /// Namespace of the Lease; in a pod, its own namespace.
    #[arg(long, env = "POD_NAMESPACE", default_value = "baseplate-system")]
    pub lease_namespace: String,
    /// This replica's name in the Lease and in events; in a pod, the pod name.
    #[arg(long, env = "POD_NAME", default_value_t = default_identity())]
    pub identity: String,
    #[arg(long, env = "BASEPLATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn default_identity() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| format!("baseplate-{}", std::process::id()))
}
