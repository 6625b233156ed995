//! `baseplate run` as a child process of a test or of the load harness: started on a free
//! local port without leader election, as the operator's ServiceAccount or as the caller,
//! logging to a file; readiness, /metrics, stop. Killed when dropped.
//!
//! The binary is not built here: Cargo builds a package's binaries only for that package's
//! own tests, and this kit is another package. [`binary`] finds it (`make e2e` and
//! `make load` build it first).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::Result;
use crate::http::Endpoint;

/// Names the operator binary to run instead of the one [`binary`] finds.
pub const BINARY_VARIABLE: &str = "BASEPLATE_BIN";

/// The operator's identity when it runs as in deploy/.
pub const SERVICE_ACCOUNT: &str = "system:serviceaccount:baseplate-system:baseplate";
pub const SERVICE_ACCOUNT_GROUPS: &str =
    "system:serviceaccounts,system:serviceaccounts:baseplate-system,system:authenticated";

/// The `baseplate` binary: `$BASEPLATE_BIN`, else the one Cargo built into the same target
/// directory and profile as the running executable (a test runs from `target/<profile>/deps/`,
/// a binary from `target/<profile>/`).
pub fn binary() -> Result<PathBuf> {
    let path = match std::env::var_os(BINARY_VARIABLE) {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().context("locating the running executable")?;
            let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
            if dir.file_name().is_some_and(|name| name == "deps") {
                dir.pop();
            }
            dir.join(format!("baseplate{}", std::env::consts::EXE_SUFFIX))
        }
    };
    anyhow::ensure!(
        path.is_file(),
        "no operator binary at {}: build it with `cargo build -p baseplate` (`--release` for \
         the load harness), or name one in {BINARY_VARIABLE}",
        path.display()
    );
    Ok(path)
}

/// Whose credentials the operator uses against the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The kubeconfig's own user.
    Caller,
    /// The caller's credentials impersonating the operator's ServiceAccount, so the operator
    /// has exactly the rights of deploy/rbac.yaml (the caller needs `impersonate`).
    ServiceAccount,
}

/// How to start `baseplate run`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub binary: PathBuf,
    /// Receives the operator's stdout and stderr.
    pub log: PathBuf,
    /// Arguments after `run --leader-election=false --http-address ADDRESS`.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub identity: Identity,
}

pub struct Operator {
    child: Child,
    pid: u32,
    endpoint: Endpoint,
    log: PathBuf,
}

impl Operator {
    pub fn start(settings: &Settings) -> Result<Self> {
        // A free port: bind to port 0, note the port, let it go.
        let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(&settings.log)
            .with_context(|| format!("creating the operator log {}", settings.log.display()))?;
        let mut command = Command::new(&settings.binary);
        command
            .args(["run", "--leader-election=false", "--http-address"])
            .arg(address.to_string())
            .args(&settings.args)
            .envs(settings.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if settings.identity == Identity::ServiceAccount {
            // kube-rs honours these in `Client::try_default`.
            command
                .env("KUBE_RS_DEBUG_IMPERSONATE_USER", SERVICE_ACCOUNT)
                .env("KUBE_RS_DEBUG_IMPERSONATE_GROUP", SERVICE_ACCOUNT_GROUPS);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting `{} run`", settings.binary.display()))?;
        Ok(Self {
            pid: child.id(),
            child,
            endpoint: Endpoint::new(address)?,
            log: settings.log.clone(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The address of its health and metrics server.
    pub fn address(&self) -> SocketAddr {
        self.endpoint.address()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Waits until /readyz answers 200 (the operator's caches are filled); returns how long
    /// that took. Fails at once, with the end of its log, if the operator exits.
    pub async fn wait_until_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "`baseplate run` exited with {status} before it was ready; log {}:\n{}",
                    self.log.display(),
                    tail(&self.log, 30)
                );
            }
            match self.endpoint.get("/readyz").await {
                Ok(_) => return Ok(started.elapsed()),
                Err(error) if started.elapsed() > timeout => {
                    bail!(
                        "the operator was not ready after {timeout:?} ({error:#}); see {}",
                        self.log.display()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The Prometheus text of its /metrics.
    pub async fn metrics(&self) -> Result<String> {
        self.endpoint.get("/metrics").await
    }

    /// SIGTERM (a graceful shutdown), then SIGKILL if it has not exited within 15 s.
    pub fn stop(&mut self) -> Result {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- last lines of the operator log {} ---\n{}",
                self.log.display(),
                tail(&self.log, 40)
            );
        }
    }
}

/// The last `lines` lines of a file (empty if it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let path = std::env::temp_dir().join(format!("baseplate-tail-{}.log", std::process::id()));
        std::fs::write(&path, "one\ntwo\nthree\n").unwrap();
        assert_eq!(tail(&path, 2), "two\nthree");
        assert_eq!(tail(&path, 10), "one\ntwo\nthree");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(tail(&path, 2), "");
    }

    #[tokio::test]
    async fn an_operator_that_exits_is_reported_with_its_log() {
        let log = std::env::temp_dir().join(format!("baseplate-exit-{}.log", std::process::id()));
        // `sh` stands in for an operator that fails at start: it finds no script named `run`.
        let mut operator = Operator::start(&Settings {
            binary: "sh".into(),
            log: log.clone(),
            args: vec![],
            env: vec![],
            identity: Identity::Caller,
        })
        .unwrap();
        let error = operator
            .wait_until_ready(Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("exited with"), "{error}");
        assert!(error.contains(&log.display().to_string()), "{error}");
        std::fs::remove_file(&log).unwrap();
    }
}
