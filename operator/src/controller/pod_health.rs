//! Why the pods of an App's new version do not become available, in the app engineer's
//! words and with the fix, read from what the kubelet and the scheduler wrote on the pods.
//!
//! Pure: pods in, one problem out. The problem is chosen deterministically (most telling
//! kind first, then container and pod name) and its text leaves out what changes on every
//! retry (restart counts, back-off delays, pod names), so one cause yields one status write.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What keeps a pod of the new version from serving, most telling first.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodProblem {
    /// The kubelet cannot create the container from its configuration (a root image under
    /// `runAsNonRoot`, a missing ConfigMap or Secret key).
    ContainerConfigError { container: String, detail: String },
    /// The image cannot be pulled.
    ImagePullFailed {
        container: String,
        image: String,
        /// The registry's answer, when the kubelet has passed it on.
        detail: Option<String>,
    },
    /// The container was killed for using more memory than its limit.
    OutOfMemory {
        container: String,
        limit: Option<String>,
    },
    /// The container keeps exiting.
    CrashLooping {
        container: String,
        exit_code: i32,
        signal: Option<i32>,
        /// The container's termination message, when it wrote one.
        detail: Option<String>,
    },
    /// No node can take the pod.
    Unschedulable { detail: String },
    /// The container runs but fails its readiness probe for longer than the probe allows.
    NotReady { container: String },
}

impl PodProblem {
    pub fn reason(&self) -> &'static str {
        match self {
            PodProblem::ContainerConfigError { .. } => "ContainerConfigError",
            PodProblem::ImagePullFailed { .. } => "ImagePullFailed",
            PodProblem::OutOfMemory { .. } => "OutOfMemory",
            PodProblem::CrashLooping { .. } => "CrashLooping",
            PodProblem::Unschedulable { .. } => "Unschedulable",
            PodProblem::NotReady { .. } => "NotReady",
        }
    }

    /// What is wrong and what to change, in plain words.
    pub fn message(&self) -> String {
        match self {
            PodProblem::ContainerConfigError { container, detail } => {
                let fix = if detail.contains("runAsNonRoot") && detail.contains("root") {
                    "the image runs as root but the platform requires non-root: use an image that runs as a non-root user (for nginx, nginxinc/nginx-unprivileged on port 8080), or set a numeric runAsUser in the Platform's containerSecurityContext".to_string()
                } else if detail.contains("couldn't find key") || detail.contains("not found") {
                    format!(
                        "{detail}: create the ConfigMap or Secret key the container reads, or stop referring to it"
                    )
                } else {
                    detail.clone()
                };
                format!("container {container} cannot be created: {fix}")
            }
            PodProblem::ImagePullFailed {
                container,
                image,
                detail,
            } => {
                let detail = detail.as_deref().unwrap_or_default();
                let lower = detail.to_lowercase();
                let fix = if lower.contains("not found") || lower.contains("manifest unknown") {
                    "the tag or repository does not exist: check spec.image"
                } else if lower.contains("unauthorized")
                    || lower.contains("authorization")
                    || lower.contains("denied")
                    || lower.contains("403")
                {
                    "the registry refused the credentials: check the image name and the imagePullSecrets"
                } else {
                    "check spec.image and that the registry is reachable from the nodes"
                };
                let said = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" (the registry said: {})", short(detail))
                };
                format!("container {container} cannot pull image {image}{said}; {fix}")
            }
            PodProblem::OutOfMemory { container, limit } => format!(
                "container {container} was killed for using more memory than its limit{}; raise spec.resources.memory (and memoryLimit if set), or find what uses the memory",
                limit
                    .as_ref()
                    .map(|l| format!(" of {l}"))
                    .unwrap_or_default()
            ),
            PodProblem::CrashLooping {
                container,
                exit_code,
                signal,
                detail,
            } => {
                let how = match signal {
                    Some(signal) => format!("was killed by signal {signal}"),
                    None => format!("exits with code {exit_code}"),
                };
                let said = detail
                    .as_ref()
                    .map(|d| format!("; its last words: {}", short(d)))
                    .unwrap_or_default();
                format!(
                    "container {container} {how} and keeps restarting{said}; read its log with `kubectl logs deployment/<app> -c {container} --previous`"
                )
            }
            PodProblem::Unschedulable { detail } => format!(
                "no node can run the pods: {}; lower spec.resources, or ask the platform team for capacity or matching nodes",
                short(detail)
            ),
            PodProblem::NotReady { container } => format!(
                "container {container} runs but keeps failing its readiness probe; check the probe's path and port (spec.readinessProbe) and the app's log"
            ),
        }
    }
}

/// The most telling problem of the pods of one ReplicaSet (the App's newest), if any pod
/// has one. `now` decides whether a failing readiness probe has had its chance.
pub fn diagnose(pods: &[Pod], now: &Time) -> Option<PodProblem> {
    let mut pods: Vec<&Pod> = pods.iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods.into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .flat_map(|pod| problems_of(pod, now))
        .min()
}

fn problems_of(pod: &Pod, now: &Time) -> Vec<PodProblem> {
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Some(unschedulable) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    }) {
        found.push(PodProblem::Unschedulable {
            detail: unschedulable.message.clone().unwrap_or_default(),
        });
    }
    let specs: BTreeMap<&str, &Container> = pod
        .spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .map(|c| (c.name.as_str(), c))
        .collect();
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in statuses {
        found.extend(problem_of(
            container,
            specs.get(container.name.as_str()),
            now,
        ));
    }
    found
}

fn problem_of(
    status: &ContainerStatus,
    spec: Option<&&Container>,
    now: &Time,
) -> Option<PodProblem> {
    let container = status.name.clone();
    let state = status.state.as_ref();
    let waiting = state.and_then(|s| s.waiting.as_ref());
    let waiting_reason = waiting
        .and_then(|w| w.reason.as_deref())
        .unwrap_or_default();
    let waiting_message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
    match waiting_reason {
        "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError" => {
            return Some(PodProblem::ContainerConfigError {
                container,
                detail: without_pod_names(&waiting_message),
            });
        }
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
            // The back-off's text ("Back-off pulling image") says nothing the pull error did
            // not, and alternates with it: only the pull error's text is told.
            let detail = (waiting_reason != "ImagePullBackOff" && !waiting_message.is_empty())
                .then(|| registry_answer(&waiting_message));
            return Some(PodProblem::ImagePullFailed {
                container,
                image: spec
                    .and_then(|s| s.image.clone())
                    .unwrap_or_else(|| status.image.clone()),
                detail,
            });
        }
        _ => {}
    }
    let last = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    if let Some(last) = last
        && (waiting_reason == "CrashLoopBackOff" || status.restart_count > 0)
        && last.exit_code != 0
    {
        if last.reason.as_deref() == Some("OOMKilled") {
            return Some(PodProblem::OutOfMemory {
                container,
                limit: spec
                    .and_then(|s| s.resources.as_ref())
                    .and_then(|r| r.limits.as_ref())
                    .and_then(|l| l.get("memory"))
                    .map(|q| q.0.clone()),
            });
        }
        return Some(PodProblem::CrashLooping {
            container,
            exit_code: last.exit_code,
            signal: last.signal.filter(|s| *s != 0),
            detail: last.message.clone().filter(|m| !m.trim().is_empty()),
        });
    }
    let running_since = state
        .and_then(|s| s.running.as_ref())?
        .started_at
        .as_ref()?;
    if status.ready {
        return None;
    }
    let probe = spec.and_then(|s| s.readiness_probe.as_ref())?;
    let allowed = i64::from(probe.initial_delay_seconds.unwrap_or(0))
        + i64::from(probe.period_seconds.unwrap_or(10))
            * i64::from(probe.failure_threshold.unwrap_or(3));
    let running_for = now.0.as_second() - running_since.0.as_second();
    (running_for > allowed).then_some(PodProblem::NotReady { container })
}

/// The part of a pull error the registry said, without the runtime's RPC wrapping.
fn registry_answer(message: &str) -> String {
    let message = message
        .split_once("desc = ")
        .map_or(message, |(_, rest)| rest);
    message.trim().to_string()
}

/// The kubelet appends `(pod: "NAME_NS(uid)", container: c)`; pod names change with every
/// pod, so they are left out of the App's status.
fn without_pod_names(message: &str) -> String {
    match message.find(" (pod: \"") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// At most a few hundred characters of someone else's text.
fn short(text: &str) -> String {
    const LIMIT: usize = 300;
    let text = text.trim();
    match text.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod as the API server returns it, status written by a kubelet or the scheduler.
    fn pod(yaml: &str) -> Pod {
        serde_saphyr::from_str(yaml).expect("fixture parses as a Pod")
    }

    fn at(text: &str) -> Time {
        Time(text.parse().unwrap())
    }

    const SPEC: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-7d9c-abcde, namespace: shop}
spec:
  containers:
    - name: app
      image: registry.example.com/shop/api:1.4.3
      resources: {limits: {memory: 128Mi}}
      readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 5, failureThreshold: 3}
"#;

    fn with_status(status: &str) -> Pod {
        pod(&format!("{SPEC}status:\n{status}"))
    }

    #[test]
    fn a_tag_that_does_not_exist_is_an_image_pull_failure_with_the_registrys_words() {
        let pulled = with_status(
            r#"
  phase: Pending
  containerStatuses:
    - name: app
      image: registry.example.com/shop/api:1.4.3
      imageID: ""
      ready: false
      restartCount: 0
      state:
        waiting:
          reason: ErrImagePull
          message: 'rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/shop/api:1.4.3": registry.example.com/shop/api:1.4.3: not found'
"#,
        );
        let problem = diagnose(&[pulled], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "ImagePullFailed");
        let message = problem.message();
        assert!(
            message.contains("registry.example.com/shop/api:1.4.3"),
            "{message}"
        );
        assert!(
            message.contains("does not exist: check spec.image"),
            "{message}"
        );
        assert!(!message.contains("rpc error"), "{message}");
    }

    #[test]
    fn an_unauthorised_pull_points_at_the_pull_secrets() {
        let denied = with_status(
            r#"
  containerStatuses:
    - name: app
      image: registry.example.com/shop/api:1.4.3
      imageID: ""
      ready: false
      restartCount: 0
      state:
        waiting:
          reason: ErrImagePull
          message: 'failed to resolve reference: pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed'
"#,
        );
        let message = diagnose(&[denied], &at("2026-12-01T10:00:00Z"))
            .unwrap()
            .message();
        assert!(message.contains("imagePullSecrets"), "{message}");
    }

    #[test]
    fn the_back_off_reads_the_same_as_the_pull_error_it_follows() {
        let backing_off = with_status(
            r#"
  containerStatuses:
    - name: app
      image: registry.example.com/shop/api:1.4.3
      imageID: ""
      ready: false
      restartCount: 0
      state:
        waiting: {reason: ImagePullBackOff, message: 'Back-off pulling image "registry.example.com/shop/api:1.4.3"'}
"#,
        );
        let problem = diagnose(&[backing_off], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "ImagePullFailed");
        assert!(
            !problem.message().contains("Back-off"),
            "{}",
            problem.message()
        );
    }

    #[test]
    fn a_crash_loop_names_the_container_the_exit_code_and_its_last_words() {
        let crashing = with_status(
            r#"
  containerStatuses:
    - name: app
      image: registry.example.com/shop/api:1.4.3
      imageID: ""
      ready: false
      restartCount: 4
      state:
        waiting: {reason: CrashLoopBackOff, message: 'back-off 1m20s restarting failed container=app pod=web-7d9c-abcde_shop(1234)'}
      lastState:
        terminated: {exitCode: 3, reason: Error, message: 'DATABASE_URL is not set', startedAt: '2026-12-01T09:59:00Z', finishedAt: '2026-12-01T09:59:01Z'}
"#,
        );
        let problem = diagnose(&[crashing], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "CrashLooping");
        let message = problem.message();
        assert!(
            message.contains("container app exits with code 3"),
            "{message}"
        );
        assert!(message.contains("DATABASE_URL is not set"), "{message}");
        assert!(
            !message.contains("1m20s") && !message.contains("abcde"),
            "{message}"
        );
    }

    #[test]
    fn a_container_killed_by_a_signal_says_which() {
        let killed = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: false
      restartCount: 2
      state: {waiting: {reason: CrashLoopBackOff}}
      lastState:
        terminated: {exitCode: 139, signal: 11, reason: Error}
"#,
        );
        let message = diagnose(&[killed], &at("2026-12-01T10:00:00Z"))
            .unwrap()
            .message();
        assert!(message.contains("killed by signal 11"), "{message}");
    }

    #[test]
    fn out_of_memory_is_its_own_reason_with_the_limit() {
        let oom = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: false
      restartCount: 1
      state: {waiting: {reason: CrashLoopBackOff}}
      lastState:
        terminated: {exitCode: 137, reason: OOMKilled}
"#,
        );
        let problem = diagnose(&[oom], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "OutOfMemory");
        assert!(
            problem.message().contains("limit of 128Mi"),
            "{}",
            problem.message()
        );
        assert!(problem.message().contains("raise spec.resources.memory"));
    }

    #[test]
    fn a_root_image_under_run_as_non_root_says_what_to_change() {
        let root = with_status(
            r#"
  containerStatuses:
    - name: app
      image: nginx:1.14
      imageID: ""
      ready: false
      restartCount: 0
      state:
        waiting: {reason: CreateContainerConfigError, message: 'container has runAsNonRoot and image will run as root (pod: "web-7d9c-abcde_shop(1234)", container: app)'}
"#,
        );
        let problem = diagnose(&[root], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "ContainerConfigError");
        let message = problem.message();
        assert!(
            message.contains("image runs as root but the platform requires non-root"),
            "{message}"
        );
        assert!(!message.contains("abcde"), "{message}");
    }

    #[test]
    fn a_missing_key_is_named() {
        let missing = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: false
      restartCount: 0
      state:
        waiting: {reason: CreateContainerConfigError, message: "couldn't find key API_TOKEN in Secret shop/web"}
"#,
        );
        let message = diagnose(&[missing], &at("2026-12-01T10:00:00Z"))
            .unwrap()
            .message();
        assert!(
            message.contains("couldn't find key API_TOKEN in Secret shop/web"),
            "{message}"
        );
    }

    #[test]
    fn an_unschedulable_pod_carries_the_schedulers_reason() {
        let pending = with_status(
            r#"
  phase: Pending
  conditions:
    - type: PodScheduled
      status: "False"
      reason: Unschedulable
      message: '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.'
"#,
        );
        let problem = diagnose(&[pending], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "Unschedulable");
        assert!(
            problem.message().contains("3 Insufficient cpu"),
            "{}",
            problem.message()
        );
    }

    #[test]
    fn a_failing_readiness_probe_counts_only_once_the_probe_had_its_chance() {
        let running = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: false
      restartCount: 0
      state:
        running: {startedAt: '2026-12-01T10:00:00Z'}
"#,
        );
        // 5 s period × 3 failures = 15 s.
        assert_eq!(
            diagnose(std::slice::from_ref(&running), &at("2026-12-01T10:00:10Z")),
            None
        );
        let problem = diagnose(&[running], &at("2026-12-01T10:00:20Z")).unwrap();
        assert_eq!(
            problem,
            PodProblem::NotReady {
                container: "app".into()
            }
        );
    }

    #[test]
    fn healthy_or_starting_pods_have_no_problem() {
        let ready = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: true
      restartCount: 0
      state: {running: {startedAt: '2026-12-01T09:00:00Z'}}
"#,
        );
        let creating = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: false
      restartCount: 0
      state: {waiting: {reason: ContainerCreating}}
"#,
        );
        assert_eq!(
            diagnose(&[ready, creating], &at("2026-12-01T10:00:00Z")),
            None
        );
    }

    #[test]
    fn among_several_pods_the_most_telling_problem_wins_whatever_their_order() {
        let pull = with_status(
            r#"
  containerStatuses:
    - {name: app, image: x, imageID: "", ready: false, restartCount: 0, state: {waiting: {reason: ImagePullBackOff}}}
"#,
        );
        let mut unschedulable = with_status(
            r#"
  conditions:
    - {type: PodScheduled, status: "False", reason: Unschedulable, message: '0/3 nodes are available'}
"#,
        );
        unschedulable.metadata.name = Some("web-7d9c-aaaaa".into());
        let now = at("2026-12-01T10:00:00Z");
        let one = diagnose(&[pull.clone(), unschedulable.clone()], &now);
        let other = diagnose(&[unschedulable, pull], &now);
        assert_eq!(one, other);
        assert_eq!(one.unwrap().reason(), "ImagePullFailed");
    }
}
