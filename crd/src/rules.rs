//! Cross-field rules: values computed from other settings, and combinations refused because
//! no rollout, drain or apply could succeed with them. Baseplate works these out so users
//! need not; each one that changes a value records itself as the value's source.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::app::{AppSpec, CronJobEntry, Port, Protocol};
use crate::builtin;
use crate::error::FieldError;
use crate::layering::Resolver;
use crate::names;
use crate::schedule;
use crate::select::PlatformLayer;
use crate::settings::{HpaSettings, Source};

/// Whether the App itself asked for an autoscaler, if it said anything about it.
pub fn app_wants_autoscaling(spec: &AppSpec) -> Option<bool> {
    spec.autoscaling
        .as_ref()
        .and_then(|a| a.enabled)
        // An App that states a fixed size has asked for no autoscaler.
        .or(spec.replicas.map(|_| false))
        // An App that configures autoscaling has asked for one, even where a Platform turns it off.
        .or(spec.autoscaling.as_ref().map(|_| true))
}

/// An autoscaler whose minimum exceeds its maximum.
pub fn min_replicas_within_max(
    r: &Resolver<'_>,
    hpa: &HpaSettings,
    min_key: &str,
    max_key: &str,
) -> Option<FieldError> {
    (hpa.min_replicas > hpa.max_replicas).then(|| {
        FieldError::new(
            "spec.autoscaling",
            format!(
                "minReplicas {} ({}) exceeds maxReplicas {} ({}); set both in spec.autoscaling",
                hpa.min_replicas,
                r.source_of(min_key),
                hpa.max_replicas,
                r.source_of(max_key),
            ),
        )
    })
}

/// The CPU target, unless a memory target or extra metrics set by a higher layer replace it:
/// an App that names the metrics it scales on (an External queue length, say) scales on those
/// alone instead of also on the built-in 70% CPU. A layer that sets both keeps both.
pub fn cpu_target_unless_replaced<'k>(
    r: &mut Resolver<'_>,
    cpu_key: &str,
    target_cpu: i32,
    replacing: impl IntoIterator<Item = &'k str>,
) -> Option<i32> {
    let cpu_rank = r.layer_rank(cpu_key);
    let Some(by) = replacing
        .into_iter()
        .filter(|key| r.layer_rank(key) > cpu_rank)
        .max_by_key(|key| r.layer_rank(key))
    else {
        return Some(target_cpu);
    };
    let rule = format!(
        "no CPU metric: {by} ({}) replaces the CPU target of a lower layer; set targetCPUUtilizationPercentage beside it to keep one",
        r.source_of(by)
    );
    r.record(cpu_key, &None::<i32>, Source::Rule(rule));
    None
}

/// The preStop sleep, raised to the highest `limits.minPreStopSleepSeconds` of the Platforms.
pub fn pre_stop_sleep_floor(
    r: &mut Resolver<'_>,
    key: &str,
    layers: &[PlatformLayer],
    seconds: i64,
) -> i64 {
    match layers
        .iter()
        .filter_map(|l| l.limits.min_pre_stop_sleep_seconds.map(|m| (m, &l.name)))
        .max()
    {
        Some((floor, platform)) if seconds < floor => {
            r.record(
                key,
                &floor,
                Source::Rule(format!(
                    "raised to limits.minPreStopSleepSeconds of platform/{platform}"
                )),
            );
            floor
        }
        _ => seconds,
    }
}

/// The grace period, raised so that it outlasts the preStop sleep by the shutdown margin.
pub fn grace_outlasts_pre_stop(
    r: &mut Resolver<'_>,
    key: &str,
    pre_stop_sleep_seconds: i64,
    grace_seconds: i64,
) -> i64 {
    let floor = pre_stop_sleep_seconds + builtin::SHUTDOWN_MARGIN_SECONDS;
    if grace_seconds >= floor {
        return grace_seconds;
    }
    r.record(
        key,
        &floor,
        Source::Rule(format!(
            "raised to preStopSleepSeconds + {}s",
            builtin::SHUTDOWN_MARGIN_SECONDS
        )),
    );
    floor
}

/// A rolling update with neither surge nor unavailability never progresses.
pub fn rollout_can_progress(
    r: &Resolver<'_>,
    (max_surge, surge_key): (&IntOrString, &str),
    (max_unavailable, unavailable_key): (&IntOrString, &str),
) -> Option<FieldError> {
    (is_zero(max_surge) && is_zero(max_unavailable)).then(|| {
        FieldError::new(
            "rollingUpdate",
            format!(
                "maxSurge ({}) and maxUnavailable ({}) are both zero, so no rollout could progress; set one of them above zero in the Platform",
                r.source_of(surge_key),
                r.source_of(unavailable_key),
            ),
        )
    })
}

fn is_zero(value: &IntOrString) -> bool {
    match value {
        IntOrString::Int(n) => *n == 0,
        IntOrString::String(s) => s.trim_end_matches('%').trim() == "0",
    }
}

/// The PDB's `maxUnavailable`, or `None` for no PDB.
pub fn pdb_max_unavailable(
    r: &mut Resolver<'_>,
    enabled_key: &str,
    enabled: bool,
    minimum_replicas: i32,
    max_unavailable: IntOrString,
) -> Option<IntOrString> {
    // One replica under a PDB blocks every node drain; a PDB only helps from two up.
    if enabled && minimum_replicas < 2 {
        r.record(
            enabled_key,
            &false,
            Source::Rule(format!(
                "left out: the App runs as few as {minimum_replicas} replica(s), and a PodDisruptionBudget below 2 blocks every node drain"
            )),
        );
        return None;
    }
    enabled.then_some(max_unavailable)
}

/// Under an autoscaler the Deployment carries no replica count: the autoscaler sets it.
pub fn replicas_left_to_autoscaler(
    r: &mut Resolver<'_>,
    key: &str,
    autoscaling: Option<&HpaSettings>,
) {
    if let Some(hpa) = autoscaling {
        r.record(
            key,
            &serde_json::Value::Null,
            Source::Rule(format!(
                "left to the HorizontalPodAutoscaler, between {} and {}",
                hpa.min_replicas, hpa.max_replicas
            )),
        );
    }
}

/// An Ingress routes HTTP to a TCP port: an App without one gets none, whatever
/// `ingress.enabled` says. The first TCP port, when there is one.
pub fn ingress_needs_a_port<'p>(
    r: &mut Resolver<'_>,
    enabled_key: &str,
    enabled: bool,
    ports: &'p [Port],
) -> Option<&'p Port> {
    let first = first_tcp_port(ports);
    if enabled && first.is_none() {
        r.record(
            enabled_key,
            &false,
            Source::Rule("left out: the App has no TCP port to route to".into()),
        );
    }
    first
}

/// A port nothing named: the first TCP one.
pub fn first_port(r: &mut Resolver<'_>, key: &str, ports: &[Port]) -> Option<String> {
    let first = first_tcp_port(ports).map(|p| p.name.clone());
    if let Some(name) = &first {
        r.record(
            key,
            name,
            Source::Rule("none set: the first TCP port".into()),
        );
    }
    first
}

/// The memory limit, equal to the request when no layer sets one.
pub fn memory_limit_or_request(
    r: &mut Resolver<'_>,
    key: &str,
    limit: Option<String>,
    request: &str,
) -> String {
    limit.unwrap_or_else(|| {
        r.record(
            key,
            &request,
            Source::Rule("equal to the memory request".into()),
        );
        request.to_string()
    })
}

/// The first port that speaks TCP: the default for probes and the Ingress, which cannot use
/// UDP or SCTP.
pub fn first_tcp_port(ports: &[Port]) -> Option<&Port> {
    ports
        .iter()
        .find(|p| p.protocol.unwrap_or_default() == Protocol::Tcp)
}

/// The readiness probe's port, when it is one of the App's TCP ports; else the first TCP port.
pub fn probe_port_of_app(
    r: &mut Resolver<'_>,
    key: &str,
    port: String,
    ports: &[Port],
) -> Option<String> {
    if ports
        .iter()
        .any(|p| p.name == port && p.protocol.unwrap_or_default() == Protocol::Tcp)
    {
        return Some(port);
    }
    // Admission checks the App's own probe ports, so this one is a Platform default that does
    // not fit this App. Probing the first TCP port beats silently having no probe at all.
    let first = first_tcp_port(ports).map(|p| p.name.clone());
    r.record(
        key,
        &first,
        Source::Rule(format!(
            "the default port {port:?} is not one of this App's TCP ports; the first TCP port"
        )),
    );
    first
}

/// Of the probe handlers (`path`, `exec`, `grpc`) the layers set, the highest layer's: each
/// layer's schema allows one, so two come from two layers, and the lower one is dropped.
pub fn probe_handler_of_highest_layer<'k>(
    r: &mut Resolver<'_>,
    set: impl IntoIterator<Item = &'k str>,
) -> Option<&'k str> {
    let set: Vec<&str> = set.into_iter().collect();
    let winner = set.iter().copied().max_by_key(|key| r.layer_rank(key))?;
    let rule = format!(
        "replaced by {winner} ({}): a probe has one handler, the highest layer's",
        r.source_of(winner)
    );
    for lower in set.into_iter().filter(|key| *key != winner) {
        r.record(lower, &serde_json::Value::Null, Source::Rule(rule.clone()));
    }
    Some(winner)
}

/// `scheme` and `httpHeaders` of the readiness probe, kept only when its handler is an HTTP
/// GET (a Platform's HTTPS scheme means nothing to an App's exec probe).
pub fn only_for_http_probe<T>(
    r: &mut Resolver<'_>,
    key: &str,
    is_http: bool,
    value: Option<T>,
) -> Option<T> {
    if is_http || value.is_none() {
        return value;
    }
    r.record(
        key,
        &serde_json::Value::Null,
        Source::Rule("only an HTTP probe (one with a path) has it".into()),
    );
    None
}

/// An exec probe's port: none, whatever a Platform sets (the command runs in the container).
pub fn no_port_for_exec_probe(r: &mut Resolver<'_>, key: &str) -> Option<String> {
    r.record(
        key,
        &serde_json::Value::Null,
        Source::Rule("an exec probe uses no port".into()),
    );
    None
}

/// A host made from the Platform's host template that is not a DNS name.
pub fn templated_host_is_dns_name(
    template: &str,
    template_source: &str,
    host: &str,
) -> Option<FieldError> {
    (!names::is_dns_name(host)).then(|| {
        FieldError::new(
            "spec.ingress.host",
            format!(
                "the host template {template:?} ({template_source}) gives {host:?}, which is not a valid DNS name (labels of at most 63 lowercase characters); set spec.ingress.host or fix ingress.hostTemplate in the Platform"
            ),
        )
    })
}

/// A TLS Secret name made from the Platform's template that Kubernetes would refuse.
pub fn tls_secret_name_is_valid(secret_name: &str, template_source: &str) -> Option<FieldError> {
    (!names::is_dns_subdomain(secret_name)).then(|| {
        FieldError::new(
            "ingress.tls.secretNameTemplate",
            format!(
                "gives the Secret name {secret_name:?}, which is not a valid DNS-1123 subdomain; fix it in {template_source}"
            ),
        )
    })
}

/// A cron schedule with a range that runs backwards, which the CRD's pattern cannot see and the
/// API server would refuse on the CronJob.
pub fn schedule_runs_forwards(entry: &CronJobEntry) -> Option<FieldError> {
    schedule::backwards_range(&entry.schedule).map(|problem| {
        FieldError::new(
            format!("spec.cronJobs[{}].schedule", entry.name),
            format!("{problem} (in {:?})", entry.schedule),
        )
    })
}
