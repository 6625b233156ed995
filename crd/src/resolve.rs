//! Resolution: every setting of an App, layered over its Platforms and the built-in defaults
//! (see [`crate::layering`]) and passed through the cross-field rules (see [`crate::rules`]).
//!
//! Every resolved value records where it came from, so `baseplate render --explain` and the
//! App's status can say which layer set what.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use kube::ResourceExt;

use crate::app::{App, AppSpec, Autoscaling, CronJobEntry, Port, Probe, Resources};
use crate::child_rules;
use crate::error::{FieldError, RenderError};
use crate::layering::{Knob, Resolver, knob};
use crate::platform::{CronJobDefaults, IngressDefaults, MigrateDefaults, PlatformDefaults};
use crate::rules;

// Where callers have always found the selection and the settings types.
pub use crate::select::{EffectivePlatform, PlatformLayer, platform_matches};
pub use crate::settings::{
    CronJobSettings, HpaSettings, IngressSettings, JobSettings, MigrationSettings,
    PlacementSettings, Provenance, ResourceSettings, Settings, Source, TlsSettings,
    TopologySettings,
};

/// Resolves every setting of an App against its Platforms.
pub fn resolve(app: &App, platform: &EffectivePlatform) -> Result<Settings, RenderError> {
    let name = app.name_any();
    let namespace = app.namespace().ok_or_else(|| {
        RenderError::InvalidSpec(vec![FieldError::new(
            "metadata.namespace",
            "the App has no namespace; set metadata.namespace (baseplate render: pass --namespace)",
        )])
    })?;
    let spec = &app.spec;
    let mut r = Resolver::new(app_layer(spec), platform);
    let mut errors = Vec::new();

    // A batch-only App has no Deployment to scale or protect.
    let workload = !spec.is_batch_only();
    let autoscaling = (workload && r.pick(&knob!(autoscaling.enabled))).then(|| {
        let min = knob!(autoscaling.min_replicas);
        let max = knob!(autoscaling.max_replicas);
        let cpu = knob!(
            autoscaling.target_cpu_utilization_percentage as "targetCPUUtilizationPercentage"
        );
        let target_cpu = r.pick(&cpu);
        let memory = knob!(
            autoscaling.target_memory_utilization_percentage
                as "targetMemoryUtilizationPercentage"
        );
        let target_memory = r.pick_optional(&memory);
        let metrics_knob = knob!(autoscaling.metrics);
        let metrics = r.pick_optional(&metrics_knob).unwrap_or_default();
        let replacing = [
            target_memory.is_some().then_some(memory.key.as_str()),
            (!metrics.is_empty()).then_some(metrics_knob.key.as_str()),
        ];
        let target_cpu = rules::cpu_target_unless_replaced(
            &mut r,
            &cpu.key,
            target_cpu,
            replacing.into_iter().flatten(),
        );
        let scale_up = r.pick_optional(&knob!(autoscaling.behavior.scale_up));
        let scale_down = r.pick_optional(&knob!(autoscaling.behavior.scale_down));
        let behavior = (scale_up.is_some() || scale_down.is_some()).then_some(
            HorizontalPodAutoscalerBehavior {
                scale_up,
                scale_down,
            },
        );
        let hpa = HpaSettings {
            min_replicas: r.pick(&min),
            max_replicas: r.pick(&max),
            target_cpu_utilization_percentage: target_cpu,
            target_memory_utilization_percentage: target_memory,
            metrics,
            behavior,
        };
        errors.extend(rules::min_replicas_within_max(&r, &hpa, &min.key, &max.key));
        hpa
    });
    let replicas_knob = knob!(replicas);
    let replicas = r.pick(&replicas_knob);
    rules::replicas_left_to_autoscaler(&mut r, &replicas_knob.key, autoscaling.as_ref());

    let resources = container_resources(&mut r, None, spec.resources.as_ref());
    let sidecar_resources = spec
        .sidecars
        .iter()
        .map(|s| {
            let scope = format!("sidecars[{}]", s.name);
            let own = container_resources(&mut r, Some(&scope), s.resources.as_ref());
            (s.name.clone(), own)
        })
        .collect();

    let readiness_probe = readiness_probe(&mut r, spec);

    let pre_stop = knob!(pre_stop_sleep_seconds);
    let pre_stop_sleep_seconds = r.pick(&pre_stop);
    let pre_stop_sleep_seconds = rules::pre_stop_sleep_floor(
        &mut r,
        &pre_stop.key,
        &platform.layers,
        pre_stop_sleep_seconds,
    );
    let grace = knob!(termination_grace_period_seconds);
    let termination_grace_period_seconds = r.pick(&grace);
    let termination_grace_period_seconds = rules::grace_outlasts_pre_stop(
        &mut r,
        &grace.key,
        pre_stop_sleep_seconds,
        termination_grace_period_seconds,
    );

    let surge = knob!(rolling_update.max_surge);
    let max_surge = r.pick(&surge);
    let unavailable = knob!(rolling_update.max_unavailable);
    let max_unavailable = r.pick(&unavailable);
    errors.extend(rules::rollout_can_progress(
        &r,
        (&max_surge, &surge.key),
        (&max_unavailable, &unavailable.key),
    ));
    let min_ready_seconds = r.pick(&knob!(min_ready_seconds));
    let progress_deadline_seconds = r.pick(&knob!(progress_deadline_seconds));
    let revision_history_limit = r.pick(&knob!(revision_history_limit));

    let minimum_replicas = autoscaling.as_ref().map_or(replicas, |h| h.min_replicas);
    let pdb_enabled_knob = knob!(pod_disruption_budget.enabled);
    let pdb_enabled = r.pick(&pdb_enabled_knob);
    let pdb_max_unavailable = r.pick(&knob!(pod_disruption_budget.max_unavailable));
    let pdb_max_unavailable = rules::pdb_max_unavailable(
        &mut r,
        &pdb_enabled_knob.key,
        workload && pdb_enabled,
        minimum_replicas,
        pdb_max_unavailable,
    );

    let ingress = ingress(&mut r, spec, &name, &namespace, &mut errors);

    let pod_security_context = r.pick(&knob!(pod_security_context));
    let container_security_context = r.pick(&knob!(container_security_context));
    let automount_service_account_token = r.pick(&knob!(automount_service_account_token));
    let topology_spread = r
        .pick(&knob!(topology_spread.enabled))
        .then(|| TopologySettings {
            topology_keys: r.pick(&knob!(topology_spread.topology_keys)),
            max_skew: r.pick(&knob!(topology_spread.max_skew)),
            when_unsatisfiable: r.pick(&knob!(topology_spread.when_unsatisfiable)),
        });
    let placement = PlacementSettings {
        node_selector: r.pick_optional(&knob!(node_selector)),
        tolerations: r.pick_optional(&knob!(tolerations)),
        affinity: r.pick_optional(&knob!(affinity)),
        priority_class_name: r.pick_optional(&knob!(priority_class_name)),
    };
    let image_pull_secrets = r
        .merged_by_name(&knob!(image_pull_secrets), |s| s.name.as_str())
        .into_iter()
        .map(|s| s.name)
        .collect();
    let labels = r.merged_map(&knob!(labels));
    let annotations = r.merged_map(&knob!(annotations));
    let config_mount_path = r.pick(&knob!(config_mount_path));
    let migration = spec.migrate.as_ref().map(|_| MigrationSettings {
        job: JobSettings {
            timeout_seconds: r.pick(&knob!(migrate.timeout_seconds)),
            backoff_limit: r.pick(&knob!(migrate.backoff_limit)),
        },
        history_limit: r.pick(&knob!(migrate.history_limit)),
    });
    let cron_jobs = spec
        .cron_jobs
        .iter()
        .map(|entry| cron_job(&mut r, spec, entry, &mut errors))
        .collect();
    record_app_fields(&mut r, spec);

    if !errors.is_empty() {
        return Err(RenderError::InvalidSpec(errors));
    }
    let settings = Settings {
        name,
        namespace,
        autoscaling,
        replicas,
        resources,
        sidecar_resources,
        readiness_probe,
        pre_stop_sleep_seconds,
        termination_grace_period_seconds,
        max_surge,
        max_unavailable,
        min_ready_seconds,
        progress_deadline_seconds,
        revision_history_limit,
        pdb_max_unavailable,
        ingress,
        pod_security_context,
        container_security_context,
        automount_service_account_token,
        topology_spread,
        placement,
        image_pull_secrets,
        labels,
        annotations,
        config_mount_path,
        migration,
        cron_jobs,
        batch_only: !workload,
        provenance: r.into_provenance(),
        platforms: platform.names(),
    };
    let errors = child_rules::check(spec, &settings);
    if !errors.is_empty() {
        return Err(RenderError::InvalidSpec(errors));
    }
    Ok(settings)
}

/// What the App sets itself, as the top layer: the knobs an App has a field for. Container
/// resources are read per container (see [`container_resources`]); every other knob is the Platform's.
fn app_layer(spec: &AppSpec) -> PlatformDefaults {
    let wants_autoscaling = rules::app_wants_autoscaling(spec);
    PlatformDefaults {
        replicas: spec.replicas,
        autoscaling: (spec.autoscaling.is_some() || wants_autoscaling.is_some()).then(|| {
            Autoscaling {
                enabled: wants_autoscaling,
                ..spec.autoscaling.clone().unwrap_or_default()
            }
        }),
        readiness_probe: spec.readiness_probe.clone(),
        ingress: spec.ingress.as_ref().map(|own| IngressDefaults {
            enabled: own.enabled,
            ..IngressDefaults::default()
        }),
        config_mount_path: spec.config.as_ref().and_then(|c| c.mount_path.clone()),
        pre_stop_sleep_seconds: spec.pre_stop_sleep_seconds,
        termination_grace_period_seconds: spec.termination_grace_period_seconds,
        node_selector: spec.node_selector.clone(),
        tolerations: spec.tolerations.clone(),
        affinity: spec.affinity.clone(),
        priority_class_name: spec.priority_class_name.clone(),
        image_pull_secrets: (!spec.image_pull_secrets.is_empty())
            .then(|| spec.image_pull_secrets.clone()),
        migrate: spec.migrate.as_ref().map(|m| MigrateDefaults {
            timeout_seconds: m.timeout_seconds,
            backoff_limit: m.backoff_limit,
            history_limit: None,
        }),
        ..PlatformDefaults::default()
    }
}

/// One cron job: its own values, else the Platforms', else the built-in ones, each recorded
/// under `cronJobs[<name>].…`. Its resources are its own field by field over the App's.
fn cron_job(
    r: &mut Resolver<'_>,
    spec: &AppSpec,
    entry: &CronJobEntry,
    errors: &mut Vec<FieldError>,
) -> CronJobSettings {
    let name = entry.name.as_str();
    let own = PlatformDefaults {
        cron_jobs: Some(CronJobDefaults {
            time_zone: entry.time_zone.clone(),
            timeout_seconds: entry.timeout_seconds,
            backoff_limit: entry.backoff_limit,
            ..CronJobDefaults::default()
        }),
        ..PlatformDefaults::default()
    };
    errors.extend(rules::schedule_runs_forwards(entry));
    let resources = field_by_field(entry.resources.as_ref(), spec.resources.as_ref());
    let scope = format!("cronJobs[{name}]");
    CronJobSettings {
        name: entry.name.clone(),
        time_zone: r.pick_in(&own, &knob!(cron_jobs.time_zone).of_entry(name)),
        concurrency_policy: r.pick_in(&own, &knob!(cron_jobs.concurrency_policy).of_entry(name)),
        starting_deadline_seconds: r.pick_in(
            &own,
            &knob!(cron_jobs.starting_deadline_seconds).of_entry(name),
        ),
        successful_jobs_history_limit: r.pick_in(
            &own,
            &knob!(cron_jobs.successful_jobs_history_limit).of_entry(name),
        ),
        failed_jobs_history_limit: r.pick_in(
            &own,
            &knob!(cron_jobs.failed_jobs_history_limit).of_entry(name),
        ),
        job: JobSettings {
            timeout_seconds: r.pick_in(&own, &knob!(cron_jobs.timeout_seconds).of_entry(name)),
            backoff_limit: r.pick_in(&own, &knob!(cron_jobs.backoff_limit).of_entry(name)),
        },
        resources: container_resources(r, Some(&scope), resources.as_ref()),
    }
}

/// `own`'s fields, each falling back to `base`'s.
fn field_by_field(own: Option<&Resources>, base: Option<&Resources>) -> Option<Resources> {
    let (own, base) = match (own, base) {
        (None, base) => return base.cloned(),
        (Some(own), None) => return Some(own.clone()),
        (Some(own), Some(base)) => (own, base),
    };
    let either = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    Some(Resources {
        cpu: either(&own.cpu, &base.cpu),
        memory: either(&own.memory, &base.memory),
        cpu_limit: either(&own.cpu_limit, &base.cpu_limit),
        memory_limit: either(&own.memory_limit, &base.memory_limit),
    })
}

/// What the App sets that no Platform has a default for, recorded so that `explain` shows
/// every value the children are made of: the image and entrypoint, ports, the liveness and
/// startup probes, the names (never the values) of environment variables, config files and
/// secret keys, the sidecars', and the pods' own labels and annotations.
fn record_app_fields(r: &mut Resolver<'_>, spec: &AppSpec) {
    r.record("image", &spec.image, Source::App);
    record_entrypoint(r, "", spec.command.as_ref(), spec.args.as_ref());
    if !spec.ports.is_empty() {
        r.record("ports", &spec.ports, Source::App);
    }
    record_keys(r, "env", spec.env.keys());
    if let Some(config) = &spec.config {
        record_keys(r, "config.env", config.env.keys());
        record_keys(r, "config.files", config.files.keys());
    }
    if let Some(secrets) = &spec.secrets {
        record_keys(r, "secrets.generate", secrets.generate.iter());
        record_keys(r, "secrets.supplied", secrets.supplied.iter());
    }
    record_own_probe(
        r,
        "livenessProbe",
        spec.liveness_probe.as_ref(),
        &spec.ports,
    );
    record_own_probe(r, "startupProbe", spec.startup_probe.as_ref(), &spec.ports);
    for sidecar in &spec.sidecars {
        let scope = format!("sidecars[{}]", sidecar.name);
        r.record(&format!("{scope}.image"), &sidecar.image, Source::App);
        record_entrypoint(r, &scope, sidecar.command.as_ref(), sidecar.args.as_ref());
        if !sidecar.ports.is_empty() {
            r.record(&format!("{scope}.ports"), &sidecar.ports, Source::App);
        }
        record_keys(r, &format!("{scope}.env"), sidecar.env.keys());
        for (name, probe) in [
            ("readinessProbe", &sidecar.readiness_probe),
            ("livenessProbe", &sidecar.liveness_probe),
            ("startupProbe", &sidecar.startup_probe),
        ] {
            if probe.is_some() {
                let key = format!("{scope}.{name}");
                record_own_probe(r, &key, probe.as_ref(), &sidecar.ports);
            }
        }
    }
    if !spec.volumes.is_empty() {
        r.record("volumes", &spec.volumes, Source::App);
    }
    if !spec.pod_labels.is_empty() {
        r.record("podLabels", &spec.pod_labels, Source::App);
    }
    if !spec.pod_annotations.is_empty() {
        r.record("podAnnotations", &spec.pod_annotations, Source::App);
    }
}

fn record_entrypoint(
    r: &mut Resolver<'_>,
    scope: &str,
    command: Option<&Vec<String>>,
    args: Option<&Vec<String>>,
) {
    let prefix = if scope.is_empty() {
        String::new()
    } else {
        format!("{scope}.")
    };
    if let Some(command) = command {
        r.record(&format!("{prefix}command"), command, Source::App);
    }
    if let Some(args) = args {
        r.record(&format!("{prefix}args"), args, Source::App);
    }
}

/// The names in `keys` under `key`, when there are any.
fn record_keys<'k>(r: &mut Resolver<'_>, key: &str, keys: impl Iterator<Item = &'k String>) {
    let names: Vec<&String> = keys.collect();
    if !names.is_empty() {
        r.record(key, &names, Source::App);
    }
}

/// A probe only the App sets: as the container gets it (on its first TCP port unless it
/// names one), or none.
fn record_own_probe(r: &mut Resolver<'_>, key: &str, probe: Option<&Probe>, ports: &[Port]) {
    match probe {
        Some(probe) => {
            let port = probe.port.clone().or_else(|| {
                // An exec probe runs in the container and uses no port.
                (probe.exec.is_none())
                    .then(|| rules::first_tcp_port(ports).map(|p| p.name.clone()))
                    .flatten()
            });
            let probe = Probe {
                port,
                ..probe.clone()
            };
            r.record(key, &probe, Source::App);
        }
        None => r.record(key, &serde_json::Value::Null, Source::BuiltIn),
    }
}

/// Requests and limits of one container: the App's main container (`scope` `None`) or a sidecar.
fn container_resources(
    r: &mut Resolver<'_>,
    scope: Option<&str>,
    own: Option<&Resources>,
) -> ResourceSettings {
    let own = PlatformDefaults {
        resources: own.cloned(),
        ..PlatformDefaults::default()
    };
    let cpu = r.pick_in(&own, &within(scope, knob!(resources.cpu)));
    let memory = r.pick_in(&own, &within(scope, knob!(resources.memory)));
    let cpu_limit = r.pick_optional_in(&own, &within(scope, knob!(resources.cpu_limit)));
    let memory_limit_knob = within(scope, knob!(resources.memory_limit));
    let memory_limit = r.pick_optional_in(&own, &memory_limit_knob);
    let memory_limit =
        rules::memory_limit_or_request(r, &memory_limit_knob.key, memory_limit, &memory);
    ResourceSettings {
        cpu,
        memory,
        cpu_limit,
        memory_limit,
    }
}

fn within<G>(scope: Option<&str>, knob: Knob<G>) -> Knob<G> {
    match scope {
        Some(scope) => knob.within(scope),
        None => knob,
    }
}

/// The App's readiness probe over the Platform's default probe, leaf by leaf, except that the
/// handler (`path`, `exec` or `grpc`) is the highest layer's: an App's exec probe replaces a
/// Platform's HTTP path instead of adding a second handler to it.
fn readiness_probe(r: &mut Resolver<'_>, spec: &AppSpec) -> Option<Probe> {
    if spec.readiness_probe.is_none() && rules::first_tcp_port(&spec.ports).is_none() {
        // Nothing to connect to: a TCP probe cannot check a UDP or SCTP port.
        return None;
    }
    let path_knob = knob!(readiness_probe.path);
    let exec_knob = knob!(readiness_probe.exec);
    let grpc_knob = knob!(readiness_probe.grpc);
    let path = r.pick_optional(&path_knob);
    let exec = r.pick_optional(&exec_knob);
    let grpc = r.pick_optional(&grpc_knob);
    let set = [
        path.is_some().then_some(path_knob.key.as_str()),
        exec.is_some().then_some(exec_knob.key.as_str()),
        grpc.is_some().then_some(grpc_knob.key.as_str()),
    ];
    let handler = rules::probe_handler_of_highest_layer(r, set.into_iter().flatten());
    let path = path.filter(|_| handler == Some(path_knob.key.as_str()));
    let exec = exec.filter(|_| handler == Some(exec_knob.key.as_str()));
    let grpc = grpc.filter(|_| handler == Some(grpc_knob.key.as_str()));
    let scheme_knob = knob!(readiness_probe.scheme);
    let scheme = r.pick_optional(&scheme_knob);
    let headers_knob = knob!(readiness_probe.http_headers);
    let http_headers = r.pick_optional(&headers_knob);
    let scheme = rules::only_for_http_probe(r, &scheme_knob.key, path.is_some(), scheme);
    let http_headers =
        rules::only_for_http_probe(r, &headers_knob.key, path.is_some(), http_headers);
    let port_knob = knob!(readiness_probe.port);
    let port = match r.pick_optional(&port_knob) {
        _ if exec.is_some() => rules::no_port_for_exec_probe(r, &port_knob.key),
        Some(port) => rules::probe_port_of_app(r, &port_knob.key, port, &spec.ports),
        None => rules::first_port(r, &port_knob.key, &spec.ports),
    };
    Some(Probe {
        path,
        scheme,
        http_headers,
        exec,
        grpc,
        port,
        initial_delay_seconds: r.pick_optional(&knob!(readiness_probe.initial_delay_seconds)),
        period_seconds: r.pick_optional(&knob!(readiness_probe.period_seconds)),
        timeout_seconds: r.pick_optional(&knob!(readiness_probe.timeout_seconds)),
        failure_threshold: r.pick_optional(&knob!(readiness_probe.failure_threshold)),
    })
}

fn ingress(
    r: &mut Resolver<'_>,
    spec: &AppSpec,
    name: &str,
    namespace: &str,
    errors: &mut Vec<FieldError>,
) -> Option<IngressSettings> {
    let own = spec.ingress.clone().unwrap_or_default();
    let enabled_knob = knob!(ingress.enabled);
    let enabled = r.pick(&enabled_knob);
    // An Ingress carries HTTP: without a TCP port there is nothing for it to route to.
    let first_port = rules::ingress_needs_a_port(r, &enabled_knob.key, enabled, &spec.ports)?;
    if !enabled {
        return None;
    }
    let class_name = r.pick_optional(&knob!(ingress.class_name));
    let host_template = knob!(ingress.host_template);
    let template = r.pick(&host_template);
    let host = match own.host {
        Some(host) => {
            r.record("ingress.host", &host, Source::App);
            host
        }
        None => {
            let host = template
                .replace("{name}", name)
                .replace("{namespace}", namespace);
            errors.extend(rules::templated_host_is_dns_name(
                &template,
                &r.source_of(&host_template.key),
                &host,
            ));
            host
        }
    };
    let paths = if own.paths.is_empty() {
        let all = vec!["/".to_string()];
        r.record("ingress.paths", &all, Source::BuiltIn);
        all
    } else {
        r.record("ingress.paths", &own.paths, Source::App);
        own.paths
    };
    let port = match own.port {
        Some(port) => {
            r.record("ingress.port", &port, Source::App);
            port
        }
        None => rules::first_port(r, "ingress.port", std::slice::from_ref(first_port))
            .unwrap_or_else(|| first_port.name.clone()),
    };
    let tls = r.pick(&knob!(ingress.tls.enabled)).then(|| {
        let cluster_issuer = r.pick_optional(&knob!(ingress.tls.cluster_issuer));
        let secret_name_template = knob!(ingress.tls.secret_name_template);
        let secret_name = r.pick(&secret_name_template).replace("{name}", name);
        errors.extend(rules::tls_secret_name_is_valid(
            &secret_name,
            &r.source_of(&secret_name_template.key),
        ));
        TlsSettings {
            cluster_issuer,
            secret_name,
        }
    });
    Some(IngressSettings {
        class_name,
        host,
        paths,
        port,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::platform::PlatformLimits;

    /// The paths of a Platform's `defaults` that hold one knob's value each.
    fn knob_paths(value: &Value, prefix: &str, paths: &mut BTreeSet<String>) {
        const WHOLE_VALUES: [&str; 8] = [
            "nodeSelector",
            "affinity",
            "autoscaling.behavior.scaleUp",
            "autoscaling.behavior.scaleDown",
            "podSecurityContext",
            "containerSecurityContext",
            "labels",
            "annotations",
        ];
        match value {
            Value::Object(fields) if !WHOLE_VALUES.contains(&prefix) => {
                for (field, inner) in fields {
                    let path = match prefix {
                        "" => field.clone(),
                        _ => format!("{prefix}.{field}"),
                    };
                    knob_paths(inner, &path, paths);
                }
            }
            _ => {
                paths.insert(prefix.to_string());
            }
        }
    }

    #[test]
    fn every_default_a_platform_sets_is_read_and_explained_under_its_own_path() {
        let defaults = json!({
            "replicas": 4,
            "autoscaling": {
                "enabled": true, "minReplicas": 3, "maxReplicas": 9,
                "targetCPUUtilizationPercentage": 60, "targetMemoryUtilizationPercentage": 80,
                "metrics": [{"type": "Pods", "pods": {"metric": {"name": "queue"}, "target": {"type": "AverageValue", "averageValue": "5"}}}],
                "behavior": {"scaleUp": {"selectPolicy": "Max"}, "scaleDown": {"stabilizationWindowSeconds": 600}},
            },
            "resources": {"cpu": "300m", "memory": "300Mi", "cpuLimit": "1", "memoryLimit": "400Mi"},
            "readinessProbe": {"path": "/ready", "port": "http", "initialDelaySeconds": 2, "periodSeconds": 7, "timeoutSeconds": 2, "failureThreshold": 4},
            "preStopSleepSeconds": 12,
            "terminationGracePeriodSeconds": 50,
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"},
            "minReadySeconds": 3,
            "progressDeadlineSeconds": 300,
            "revisionHistoryLimit": 2,
            "podDisruptionBudget": {"enabled": true, "maxUnavailable": "50%"},
            "ingress": {"enabled": true, "className": "nginx", "hostTemplate": "{name}.example.org", "tls": {"enabled": true, "clusterIssuer": "ca", "secretNameTemplate": "{name}-cert"}},
            "podSecurityContext": {"runAsNonRoot": true},
            "containerSecurityContext": {"readOnlyRootFilesystem": true},
            "automountServiceAccountToken": true,
            "topologySpread": {"enabled": true, "topologyKeys": ["zone"], "maxSkew": 2, "whenUnsatisfiable": "DoNotSchedule"},
            "labels": {"team": "web"},
            "annotations": {"owner": "sre"},
            "configMountPath": "/etc/app",
            "nodeSelector": {"kubernetes.io/arch": "arm64"},
            "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["web"]}]}}]}},
            "priorityClassName": "high",
            "migrate": {"timeoutSeconds": 300, "backoffLimit": 2, "historyLimit": 5},
            "cronJobs": {"concurrencyPolicy": "Replace", "startingDeadlineSeconds": 60, "successfulJobsHistoryLimit": 5, "failedJobsHistoryLimit": 2, "backoffLimit": 3, "timeoutSeconds": 120, "timeZone": "Asia/Tokyo"},
        });
        let platform = EffectivePlatform {
            layers: vec![PlatformLayer {
                name: "everything".into(),
                priority: 0,
                defaults: serde_json::from_value(defaults.clone()).unwrap(),
                limits: PlatformLimits::default(),
            }],
        };
        let app: App = serde_json::from_value(json!({
            "apiVersion": "baseplate.dev/v1alpha1",
            "kind": "App",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "image": "web:1",
                "ports": [{"name": "http", "containerPort": 8080}],
                "migrate": {"command": ["migrate"]},
                "cronJobs": [{"name": "nightly", "schedule": "0 3 * * *", "command": ["report"]}],
            },
        }))
        .unwrap();

        let settings = resolve(&app, &platform).unwrap();

        // A cron job's knobs are explained per entry: `cronJobs[nightly].timeZone` is the
        // Platform's `cronJobs.timeZone`, `cronJobs[nightly].resources.cpu` its `resources.cpu`.
        let platform_path = |key: &str| match key.split_once("cronJobs[nightly].") {
            Some((_, rest)) if rest.starts_with("resources.") => rest.to_string(),
            Some((_, rest)) => format!("cronJobs.{rest}"),
            None => key.to_string(),
        };
        let from_platform: BTreeSet<String> = settings
            .provenance
            .iter()
            .filter(|(_, p)| p.source == Source::Platform("everything".into()))
            .map(|(key, _)| platform_path(key))
            .collect();
        let mut set = BTreeSet::new();
        knob_paths(&defaults, "", &mut set);
        // Under the autoscaler the Platform's replica count is read but has no effect: the
        // rule that says so is what `explain` shows.
        set.remove("replicas");
        assert!(
            matches!(&settings.provenance["replicas"].source, Source::Rule(r) if r.contains("HorizontalPodAutoscaler"))
        );
        assert_eq!(from_platform, set);
        for (key, explained) in &settings.provenance {
            if explained.source != Source::Platform("everything".into()) {
                continue;
            }
            let pointer = format!("/{}", platform_path(key).replace('.', "/"));
            let explained: Value = serde_json::from_str(&explained.value).unwrap();
            assert_eq!(Some(&explained), defaults.pointer(&pointer), "{key}");
        }
        assert!(
            settings
                .provenance
                .contains_key("cronJobs[nightly].timeZone"),
            "each cron job's settings are explained under its own name"
        );
    }
}
