//! The cluster test kit: what a test or a benchmark needs to drive the operator against a
//! real API server. The end-to-end suite (`e2e.rs`) and the load harness (`bench/`) share it.
//!
//! - [`operator`]: `baseplate run` as a child process (impersonating the operator's
//!   ServiceAccount or not), readiness, its /metrics, stop;
//! - [`install`]: the CRDs of deploy/crds.yaml and the ClusterRole of deploy/rbac.yaml;
//! - [`namespace`]: temporary namespaces and other cluster-scoped objects deleted on drop;
//! - [`wait`]: eventually-style waits;
//! - [`table`]: the invalid table of `crd/tests/data/invalid.yaml`, sent as kubectl would;
//! - [`kubelet`]: pod statuses written as the kubelet and the scheduler would;
//! - [`http`]: the one HTTP GET (the operator's health and metrics endpoints);
//! - [`env`], [`checks`], [`fixtures`]: the e2e suite's world (one namespace and one operator
//!   per test) and what it asserts about an App and its children.
//!
//! Errors are `anyhow`: they end up in front of a person reading a failed test or run, and
//! no caller tells them apart.

pub mod checks;
pub mod env;
pub mod fixtures;
pub mod http;
pub mod install;
pub mod job_pods;
pub mod kubelet;
pub mod namespace;
pub mod operator;
pub mod table;
pub mod wait;

use std::path::{Path, PathBuf};

pub type Result<T = ()> = anyhow::Result<T>;

/// A file of this repository (deploy/crds.yaml, examples/…), wherever the test runs from.
pub fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}
