//! `baseplate-load`: a load harness for the operator against a real control plane.
//!
//! One run, N Apps over the `load-*` namespaces:
//! 1. baseline — the children rendered offline and applied directly (the API server's speed limit);
//!    then the same-work floor — the Apps created, their children applied and one status
//!    written per App, by the harness, with no operator running;
//! 2. convergence — the namespaces made anew, the operator started, the Apps created, timed
//!    until every App has all its children and a current status;
//! 3. quiet — a minute of nothing, in which the operator must write nothing; then the
//!    operator is restarted and watched for 30 s: it must write nothing and reconcile every App;
//! 4. Platform change — the load Platform (there from the start, with the built-in
//!    `preStopSleepSeconds: 10`) is changed to 15, timed until it reaches every Deployment;
//! 5. cleanup — the Apps deleted, timed until garbage collection removed their children;
//! 6. report — phase timings, the operator's memory, reconciles, requests and errors, the
//!    targets, as a table and a JSON file.
//!
//! Only namespaces and a Platform labelled `baseplate-load=true` are ever deleted.

//!
//! The operator process, the CRD install and the waits are the cluster test kit's
//! (`baseplate-tests`); this crate adds the workload, the phases and the report.

pub mod baseline;
pub mod cleanup;
pub mod cluster;
pub mod converge;
pub mod floor;
pub mod machine;
pub mod measure;
pub mod options;
pub mod platform;
pub mod quiet;
pub mod readings;
pub mod report;
pub mod restart;
pub mod run;
pub mod workload;
