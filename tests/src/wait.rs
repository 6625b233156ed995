//! Eventually-style waits: poll until a condition holds or a deadline passes.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::Result;

/// Polls `check` until it succeeds; its last error says what was still wrong.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() >= deadline => {
                bail!("{what}: still not so after {timeout:?}: {error:#}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Polls `check` every `interval` until it returns `Some`, or fails after `timeout`. An
/// error is logged and retried: under load a LIST may fail while the API server is busy.
pub async fn poll<T>(
    what: &str,
    interval: Duration,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let started = Instant::now();
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => tracing::warn!(error = format!("{error:#}"), "{what}: poll failed"),
        }
        if Instant::now() >= deadline {
            bail!("{what}: not done after {timeout:?}");
        }
        tokio::time::sleep(interval.saturating_sub(started.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_returns_the_first_success() {
        let mut calls = 0;
        let value = eventually("third call", Duration::from_secs(5), async || {
            calls += 1;
            anyhow::ensure!(calls == 3, "call {calls}");
            Ok(calls)
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn eventually_reports_the_last_error_at_the_deadline() {
        let error = eventually("never", Duration::from_millis(100), async || -> Result {
            bail!("still red")
        })
        .await
        .unwrap_err();
        let text = format!("{error:#}");
        assert!(text.starts_with("never: still not so after"), "{text}");
        assert!(text.ends_with("still red"), "{text}");
    }

    #[tokio::test]
    async fn poll_retries_errors_and_gives_up_after_the_timeout() {
        let mut calls = 0;
        let value = poll(
            "second call",
            Duration::from_millis(10),
            Duration::from_secs(5),
            async || {
                calls += 1;
                if calls == 1 {
                    bail!("busy");
                }
                Ok(Some(calls))
            },
        )
        .await
        .unwrap();
        assert_eq!(value, 2);
        let error = poll(
            "nothing",
            Duration::from_millis(10),
            Duration::from_millis(50),
            async || Ok(None::<()>),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().starts_with("nothing: not done after"));
    }
}
