//! Why the pods of an App's new version do not become available, in the app engineer's
//! words and with the fix, read from what the kubelet and the scheduler wrote on the pods.
//!
//! Pure: pods in, one problem out. The problem is chosen deterministically (most telling
//! kind first, then container and pod name) and its text leaves out what changes on every
//! retry (restart counts, back-off delays, pod names), so one cause yields one status write.
//!
//! [`diagnose`] takes the pods of one version of a workload, whoever made them: today the
//! Deployment's newest ReplicaSet (chosen in `rollout.rs`); a Job's pods (selected by their
//! `controller-uid`) can be handed in the same way. [`slim`] is what the pod cache keeps of
//! each pod, kept here next to what reads it.

use std::collections::BTreeMap;

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    Pod, PodCondition, PodSpec, PodStatus, Probe, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

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
    Unschedulable {
        /// The scheduler's words.
        detail: String,
        /// What each pod asks for, per container, as `app: cpu 100m, memory 128Mi`.
        requests: Option<String>,
    },
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
                    "the registry refused the credentials: check the image name, and the imagePullSecrets of the namespace's default ServiceAccount, which the pods pull with"
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
            PodProblem::Unschedulable { detail, requests } => {
                let asked = requests
                    .as_ref()
                    .map(|r| format!(" (each pod requests {r})"))
                    .unwrap_or_default();
                format!(
                    "no node can run the pods: {}{asked}; {}",
                    short(detail),
                    scheduling_fix(detail)
                )
            }
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

/// How long until a container that runs but is not ready yet has used up what its readiness
/// probe allows, and so becomes [`PodProblem::NotReady`]: nothing about the pod changes at
/// that moment, so the App must be looked at again then.
pub fn settles_in(pods: &[Pod], now: &Time) -> Option<Duration> {
    pods.iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .flat_map(|pod| {
            let specs = containers_by_name(pod);
            pod.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .filter_map(move |status| {
                    let (running_for, allowed) =
                        readiness_allowance(status, specs.get(status.name.as_str()), now)?;
                    u64::try_from(allowed - running_for + 1).ok()
                })
                .collect::<Vec<_>>()
        })
        .min()
        .map(Duration::from_secs)
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
            requests: requests_of(pod),
        });
    }
    let specs = containers_by_name(pod);
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

fn containers_by_name(pod: &Pod) -> BTreeMap<&str, &Container> {
    pod.spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .map(|c| (c.name.as_str(), c))
        .collect()
}

/// The pod's requests, container by container, for the scheduler's refusal.
fn requests_of(pod: &Pod) -> Option<String> {
    let listed: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| {
            let requests = c.resources.as_ref()?.requests.as_ref()?;
            let parts: Vec<String> = ["cpu", "memory"]
                .into_iter()
                .filter_map(|r| requests.get(r).map(|q| format!("{r} {}", q.0)))
                .collect();
            (!parts.is_empty()).then(|| format!("{}: {}", c.name, parts.join(", ")))
        })
        .collect();
    (!listed.is_empty()).then(|| listed.join("; "))
}

/// What to change, from the scheduler's reasons (`0/3 nodes are available: 3 Insufficient
/// cpu, 1 node(s) had untolerated taint ...`).
fn scheduling_fix(detail: &str) -> String {
    let lower = detail.to_lowercase();
    let mut fixes = Vec::new();
    let short_of: Vec<&str> = ["cpu", "memory"]
        .into_iter()
        .filter(|r| lower.contains(&format!("insufficient {r}")))
        .collect();
    if !short_of.is_empty() {
        let fields: Vec<String> = short_of
            .iter()
            .map(|r| format!("spec.resources.{r}"))
            .collect();
        fixes.push(format!(
            "no node has that much {} free: lower {}, or ask the platform team for bigger nodes",
            short_of.join(" and "),
            fields.join(" and ")
        ));
    }
    if lower.contains("too many pods") {
        fixes.push(
            "the nodes hold as many pods as they can: ask the platform team for more nodes"
                .to_string(),
        );
    }
    if lower.contains("taint") {
        fixes.push("the nodes carry taints the pods do not tolerate: ask the platform team which nodes Apps may use".to_string());
    }
    if lower.contains("affinity") || lower.contains("selector") {
        fixes.push(
            "no node matches the pods' node selector or affinity: ask the platform team"
                .to_string(),
        );
    }
    if lower.contains("no nodes available") {
        fixes.push("the cluster has no nodes: ask the platform team".to_string());
    }
    if fixes.is_empty() {
        fixes.push(
            "lower spec.resources, or ask the platform team for capacity or matching nodes"
                .to_string(),
        );
    }
    fixes.join("; ")
}

fn problem_of(
    status: &ContainerStatus,
    spec: Option<&&Container>,
    now: &Time,
) -> Option<PodProblem> {
    if status.ready {
        // Whatever it went through before, it serves now.
        return None;
    }
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
        "ErrImagePull"
        | "ImagePullBackOff"
        | "InvalidImageName"
        | "ErrImageNeverPull"
        | "RegistryUnavailable"
        | "SignatureValidationFailed" => {
            // The state alternates between the pull error and the back-off after it; both
            // must read the same, or every retry would rewrite the status.
            let detail = pull_error(waiting_reason, &waiting_message).map(registry_answer);
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
    let (running_for, allowed) = readiness_allowance(status, spec, now)?;
    (running_for > allowed).then_some(PodProblem::NotReady { container })
}

/// For a container that runs but is not ready: how long it has run, and how long its
/// readiness probe allows before that counts as failing (seconds).
fn readiness_allowance(
    status: &ContainerStatus,
    spec: Option<&&Container>,
    now: &Time,
) -> Option<(i64, i64)> {
    if status.ready {
        return None;
    }
    let running_since = status
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())?
        .started_at
        .as_ref()?;
    let probe = spec.and_then(|s| s.readiness_probe.as_ref())?;
    let allowed = i64::from(probe.initial_delay_seconds.unwrap_or(0))
        + i64::from(probe.period_seconds.unwrap_or(10))
            * i64::from(probe.failure_threshold.unwrap_or(3));
    Some((now.0.as_second() - running_since.0.as_second(), allowed))
}

/// The pull error in a waiting state's message. Since Kubernetes 1.32 the back-off repeats
/// the error it follows (`Back-off pulling image "IMAGE": ErrImagePull: MESSAGE`); an older
/// kubelet's back-off says nothing more than that it waits.
fn pull_error<'a>(reason: &str, message: &'a str) -> Option<&'a str> {
    let said = if reason == "ImagePullBackOff" {
        let (_, previous) = message.split_once("\": ")?;
        match previous.split_once(": ") {
            Some((error_name, rest)) if !error_name.contains(' ') => rest,
            _ => previous,
        }
    } else {
        message
    };
    (!said.trim().is_empty()).then_some(said)
}

/// The part of a pull error the registry said, without the runtime's RPC wrapping.
fn registry_answer(message: &str) -> String {
    let message = message
        .split_once("desc = ")
        .map_or(message, |(_, rest)| rest);
    message.trim().to_string()
}

/// Keeps of a pod only what [`diagnose`] and the choice of the new version's pods read: the
/// name, the App label, the controlling owner, deletion; each container's name, image,
/// requests and limits and readiness probe timings; the scheduler's refusal and the
/// containers' states. Restart counts are kept as "restarted or not", the only thing read,
/// so a crash loop's restarts do not change the cached pod.
pub fn slim(pod: &mut Pod) {
    let meta = std::mem::take(&mut pod.metadata);
    pod.metadata = ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        deletion_timestamp: meta.deletion_timestamp,
        labels: meta.labels.map(|labels| {
            labels
                .into_iter()
                .filter(|(key, _)| key == baseplate_crd::labels::APP)
                .collect()
        }),
        owner_references: super::owner::controller_only(meta.owner_references),
        ..Default::default()
    };
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        containers: spec.containers.into_iter().map(slim_container).collect(),
        init_containers: spec
            .init_containers
            .map(|c| c.into_iter().map(slim_container).collect()),
        ..Default::default()
    });
    pod.status = pod.status.take().map(|status| PodStatus {
        conditions: status.conditions.map(|conditions| {
            conditions
                .into_iter()
                .filter(|c| c.type_ == "PodScheduled" && c.status == "False")
                .map(|c| PodCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    ..Default::default()
                })
                .collect()
        }),
        container_statuses: status
            .container_statuses
            .map(|s| s.into_iter().map(slim_container_status).collect()),
        init_container_statuses: status
            .init_container_statuses
            .map(|s| s.into_iter().map(slim_container_status).collect()),
        ..Default::default()
    });
}

fn slim_container(container: Container) -> Container {
    Container {
        name: container.name,
        image: container.image,
        resources: container.resources.map(|r| ResourceRequirements {
            limits: r.limits,
            requests: r.requests,
            ..Default::default()
        }),
        readiness_probe: container.readiness_probe.map(|p| Probe {
            initial_delay_seconds: p.initial_delay_seconds,
            period_seconds: p.period_seconds,
            failure_threshold: p.failure_threshold,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn slim_container_status(status: ContainerStatus) -> ContainerStatus {
    ContainerStatus {
        name: status.name,
        // Read only when the spec lacks the container, which a pod's never does.
        image: String::new(),
        image_id: String::new(),
        ready: status.ready,
        restart_count: status.restart_count.min(1),
        state: status.state.map(slim_state),
        last_state: status.last_state.map(slim_state),
        ..Default::default()
    }
}

fn slim_state(state: ContainerState) -> ContainerState {
    ContainerState {
        running: state.running.map(|r| ContainerStateRunning {
            started_at: r.started_at,
        }),
        terminated: state.terminated.map(|t| ContainerStateTerminated {
            exit_code: t.exit_code,
            signal: t.signal,
            reason: t.reason,
            message: t.message,
            ..Default::default()
        }),
        waiting: state.waiting,
    }
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
      resources: {requests: {cpu: "64", memory: 128Mi}, limits: {memory: 128Mi}}
      readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 5, failureThreshold: 3}
"#;

    fn with_status(status: &str) -> Pod {
        pod(&format!("{SPEC}status:\n{status}"))
    }

    /// The kubelet failing to pull a tag that does not exist.
    const ERR_IMAGE_PULL: &str = r#"
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
"#;

    #[test]
    fn a_tag_that_does_not_exist_is_an_image_pull_failure_with_the_registrys_words() {
        let pulled = with_status(ERR_IMAGE_PULL);
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

    /// The kubelet's back-off after the pull error above (Kubernetes 1.32 and later).
    fn back_off() -> String {
        ERR_IMAGE_PULL
            .replace("  phase: Pending\n", "")
            .replace(
                "reason: ErrImagePull\n          message: '",
                "reason: ImagePullBackOff\n          message: 'Back-off pulling image \"registry.example.com/shop/api:1.4.3\": ErrImagePull: ",
            )
    }

    #[test]
    fn the_back_off_reads_the_same_as_the_pull_error_it_follows() {
        let pull_error = with_status(ERR_IMAGE_PULL);
        let now = at("2026-12-01T10:00:00Z");
        assert!(back_off().contains("reason: ImagePullBackOff"));
        let backing_off = diagnose(&[with_status(&back_off())], &now).unwrap();
        assert_eq!(backing_off.reason(), "ImagePullFailed");
        assert_eq!(Some(backing_off.clone()), diagnose(&[pull_error], &now));
        let message = backing_off.message();
        assert!(!message.contains("Back-off"), "{message}");
        assert!(message.contains("does not exist"), "{message}");
        // An older kubelet's back-off names no error: the image is still named.
        let bare = with_status(
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
        let message = diagnose(&[bare], &now).unwrap().message();
        assert!(
            message.contains("cannot pull image registry.example.com/shop/api:1.4.3"),
            "{message}"
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
    fn an_unschedulable_pod_carries_the_schedulers_reason_and_what_it_asked_for() {
        let pending = with_status(
            r#"
  phase: Pending
  conditions:
    - type: PodScheduled
      status: "False"
      lastProbeTime: null
      lastTransitionTime: '2026-12-01T09:59:58Z'
      reason: Unschedulable
      message: '0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.'
"#,
        );
        let problem = diagnose(&[pending], &at("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(problem.reason(), "Unschedulable");
        let message = problem.message();
        assert!(
            message.contains("0/2 nodes are available: 2 Insufficient cpu"),
            "{message}"
        );
        assert!(
            message.contains("each pod requests app: cpu 64, memory 128Mi"),
            "{message}"
        );
        assert!(message.contains("lower spec.resources.cpu"), "{message}");
        assert!(!message.contains("spec.resources.memory"), "{message}");
    }

    #[test]
    fn the_schedulers_other_reasons_get_their_own_fix() {
        for (said, fix) in [
            ("0/2 nodes are available: 2 Too many pods.", "more nodes"),
            (
                "0/3 nodes are available: 3 node(s) had untolerated taint {gpu: true}.",
                "taints",
            ),
            (
                "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
                "node selector",
            ),
            (
                "no nodes available to schedule pods",
                "the cluster has no nodes",
            ),
            (
                "0/2 nodes are available: 2 Insufficient memory.",
                "lower spec.resources.memory",
            ),
        ] {
            let message = PodProblem::Unschedulable {
                detail: said.into(),
                requests: None,
            }
            .message();
            assert!(message.contains(fix), "{said}: {message}");
        }
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
    fn the_readiness_deadline_is_when_to_look_again() {
        let running = with_status(
            r#"
  containerStatuses:
    - {name: app, image: x, imageID: "", ready: false, restartCount: 0, state: {running: {startedAt: '2026-12-01T10:00:00Z'}}}
"#,
        );
        let pods = std::slice::from_ref(&running);
        assert_eq!(
            settles_in(pods, &at("2026-12-01T10:00:10Z")),
            Some(Duration::from_secs(6))
        );
        // Once NotReady is told, nothing is left to wait for.
        assert_eq!(settles_in(pods, &at("2026-12-01T10:00:20Z")), None);
    }

    #[test]
    fn a_container_that_crashed_before_and_serves_now_has_no_problem() {
        let recovered = with_status(
            r#"
  containerStatuses:
    - name: app
      image: x
      imageID: ""
      ready: true
      restartCount: 1
      state: {running: {startedAt: '2026-12-01T09:59:30Z'}}
      lastState:
        terminated: {exitCode: 1, reason: Error, message: 'database not reachable yet'}
"#,
        );
        assert_eq!(diagnose(&[recovered], &at("2026-12-01T10:00:00Z")), None);
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

    #[test]
    fn the_cached_pod_keeps_all_that_diagnosis_reads() {
        let back_off = back_off();
        let statuses = [
            back_off.as_str(),
            r#"
  containerStatuses:
    - {name: app, image: x, imageID: "", ready: false, restartCount: 7, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 137, reason: OOMKilled, startedAt: '2026-12-01T09:59:00Z', finishedAt: '2026-12-01T09:59:30Z'}}}
"#,
            r#"
  containerStatuses:
    - {name: app, image: x, imageID: "sha256:1", containerID: "containerd://1", ready: false, restartCount: 0, started: true, state: {running: {startedAt: '2026-12-01T09:00:00Z'}}}
"#,
            r#"
  conditions:
    - {type: Initialized, status: "True", lastTransitionTime: '2026-12-01T09:00:00Z'}
    - {type: PodScheduled, status: "False", reason: Unschedulable, message: '0/2 nodes are available: 2 Insufficient cpu.', lastTransitionTime: '2026-12-01T09:00:00Z'}
"#,
        ];
        let now = at("2026-12-01T10:00:00Z");
        for status in statuses {
            let mut full = with_status(status);
            full.metadata.labels = Some(BTreeMap::from([
                (baseplate_crd::labels::APP.to_string(), "web".to_string()),
                ("pod-template-hash".to_string(), "7d9c".to_string()),
            ]));
            full.metadata.annotations = Some(BTreeMap::from([("a".to_string(), "b".repeat(1000))]));
            let mut slimmed = full.clone();
            slim(&mut slimmed);
            assert_eq!(
                diagnose(std::slice::from_ref(&slimmed), &now),
                diagnose(std::slice::from_ref(&full), &now),
                "{status}"
            );
            assert_eq!(
                settles_in(std::slice::from_ref(&slimmed), &now),
                settles_in(std::slice::from_ref(&full), &now)
            );
            assert!(
                diagnose(std::slice::from_ref(&slimmed), &now).is_some()
                    || status.contains("running")
            );
            assert_eq!(slimmed.metadata.annotations, None);
            assert_eq!(
                slimmed.metadata.labels.unwrap().keys().collect::<Vec<_>>(),
                [baseplate_crd::labels::APP]
            );
        }
    }
}
