//! The harness's command line, and the defaults that depend on where it runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

/// Load-test the Baseplate operator against the cluster in KUBECONFIG.
#[derive(Parser, Debug, Clone)]
#[command(name = "baseplate-load", version, about)]
pub struct Options {
    /// Number of Apps.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub apps: usize,
    /// Namespaces `load-0`.. the Apps are spread over.
    #[arg(long, default_value_t = 10)]
    pub namespaces: usize,
    /// Requests in flight when the harness applies children or Apps.
    #[arg(long, default_value_t = 16)]
    pub apply_concurrency: usize,
    /// The operator's `--concurrency` (its default).
    #[arg(long, default_value_t = 8)]
    pub operator_concurrency: u16,
    /// The operator binary (default: `$BASEPLATE_BIN`, else `baseplate` next to this binary,
    /// i.e. the release build).
    #[arg(long)]
    pub operator: Option<PathBuf>,
    /// The CRDs to install first (default: deploy/crds.yaml of this repository).
    #[arg(long)]
    pub crds: Option<PathBuf>,
    /// Length of the quiet phase.
    #[arg(long, default_value_t = 60)]
    pub quiet_seconds: u64,
    /// Before the quiet phase, nothing may move for this long ...
    #[arg(long, default_value_t = 20)]
    pub settle_window_seconds: u64,
    /// ... waiting for at most this long. Without nodes, kube-controller-manager (20 QPS by
    /// default) takes minutes to work through N new Deployments, and marks each
    /// ProgressDeadlineExceeded 600 s after its last progress: only then is the cluster quiet.
    #[arg(long, default_value_t = 1500)]
    pub settle_max_seconds: u64,
    /// Interval of the LIST polls.
    #[arg(long, default_value_t = 1000)]
    pub poll_interval_ms: u64,
    /// Longest a phase may take.
    #[arg(long, default_value_t = 1800)]
    pub phase_timeout_seconds: u64,
    /// preStopSleepSeconds of the Platform change.
    #[arg(long, default_value_t = 15)]
    pub pre_stop_seconds: i64,
    /// The JSON report (default: bench/results/load-N.json).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// The operator's log (default: bench/results/load-N.operator.log, not committed).
    #[arg(long)]
    pub operator_log: Option<PathBuf>,
    /// Extra environment for the operator process, `KEY=VALUE` (repeatable), e.g.
    /// `MALLOC_ARENA_MAX=2` or `RUST_LOG=debug` for an experiment.
    #[arg(long = "operator-env", value_parser = parse_env)]
    pub operator_env: Vec<(String, String)>,
    /// Leave the load namespaces in place at the end.
    #[arg(long)]
    pub keep_namespaces: bool,
    /// Skip the settle wait and the quiet minute (for quick experiments: the quiet target is
    /// then reported as not measured).
    #[arg(long)]
    pub skip_quiet: bool,
    /// How long the restarted operator is watched (issue #14: every App reconciled within 30 s).
    #[arg(long, default_value_t = 30)]
    pub restart_window_seconds: u64,
    /// Skip the operator restart phase.
    #[arg(long)]
    pub skip_restart: bool,
    /// Skip timing the cleanup (the namespaces are still deleted unless --keep-namespaces).
    #[arg(long)]
    pub skip_cleanup: bool,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

/// Where reports go by default: bench/results/, whatever the working directory.
pub fn results_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results")
}

impl Options {
    pub fn output(&self) -> PathBuf {
        self.output
            .clone()
            .unwrap_or_else(|| results_dir().join(format!("load-{}.json", self.apps)))
    }

    pub fn operator_log(&self) -> PathBuf {
        self.operator_log
            .clone()
            .unwrap_or_else(|| results_dir().join(format!("load-{}.operator.log", self.apps)))
    }

    /// The restarted operator's log, beside the first one's.
    pub fn restart_log(&self) -> PathBuf {
        let log = self.operator_log();
        log.with_file_name(format!(
            "{}.restart.log",
            log.file_stem().unwrap_or_default().to_string_lossy()
        ))
    }

    pub fn crds(&self) -> PathBuf {
        self.crds
            .clone()
            .unwrap_or_else(|| baseplate_tests::repo_file("deploy/crds.yaml"))
    }

    pub fn operator_binary(&self) -> anyhow::Result<PathBuf> {
        match &self.operator {
            Some(path) => Ok(path.clone()),
            None => baseplate_tests::operator::binary(),
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.phase_timeout_seconds)
    }
}
