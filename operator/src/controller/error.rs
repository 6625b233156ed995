//! What can go wrong in a reconcile, and whether retrying can help.

use baseplate_crd::ChildRef;
use kube::runtime::reflector::ObjectRef;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {child}: {source}")]
    Read {
        child: ChildRef,
        #[source]
        source: kube::Error,
    },
    #[error("applying {child}: {source}")]
    Apply {
        child: ChildRef,
        #[source]
        source: kube::Error,
    },
    #[error("pruning {child}: {source}")]
    Prune {
        child: ChildRef,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status of {app}: {source}")]
    Status {
        app: ObjectRef<baseplate_crd::App>,
        #[source]
        source: kube::Error,
    },
    #[error("rendering: {0}")]
    Render(#[from] baseplate_crd::RenderError),
    /// A child the cache did not show turned out to exist; the next attempt reads it first.
    #[error("{child} exists though the cache does not show it yet; looking again")]
    AppearedUnseen { child: ChildRef },
}

impl Error {
    /// A stable label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Read { .. } => "read",
            Error::Apply { .. } => "apply",
            Error::Prune { .. } => "prune",
            Error::Status { .. } => "status",
            Error::Render(_) => "render",
            Error::AppearedUnseen { .. } => "cache",
        }
    }
}

/// Whether an API error may go away by itself: the server was unreachable, overloaded, timed
/// out, or another writer got there first. Anything else (403, 404, 422 ...) needs a change.
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 409 | 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::HttpError(_) => true,
        _ => false,
    }
}
