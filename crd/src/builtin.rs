//! The built-in layer: production-grade, zero-downtime defaults that hold when no Platform
//! says otherwise. Every knob that has a value is set here, so resolution always ends.

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::app::{Autoscaling, Probe, Resources};
use crate::platform::{
    CronJobDefaults, IngressDefaults, MigrateDefaults, PdbDefaults, PlatformDefaults,
    RollingUpdateDefaults, TlsDefaults, TopologySpreadDefaults,
};

pub const PRE_STOP_SLEEP_SECONDS: i64 = 10;
/// Time a container gets after its preStop sleep to finish in-flight work before SIGKILL.
pub const SHUTDOWN_MARGIN_SECONDS: i64 = 20;
/// [`SHUTDOWN_MARGIN_SECONDS`] as a literal, for the CRDs' CEL rules.
macro_rules! shutdown_margin {
    () => {
        "20"
    };
}
pub(crate) use shutdown_margin;
pub const HOST_TEMPLATE: &str = "{name}.{namespace}.apps.example.com";
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
/// Length of a generated secret value (alphanumeric, about 190 bits).
pub const GENERATED_SECRET_LENGTH: usize = 32;

pub fn defaults() -> PlatformDefaults {
    PlatformDefaults {
        replicas: Some(2),
        autoscaling: Some(Autoscaling {
            enabled: Some(true),
            min_replicas: Some(2),
            max_replicas: Some(10),
            target_cpu_utilization_percentage: Some(70),
            // No memory metric, no extra metrics, Kubernetes' own scaling behaviour.
            target_memory_utilization_percentage: None,
            metrics: None,
            behavior: None,
        }),
        resources: Some(Resources {
            cpu: Some("100m".into()),
            memory: Some("128Mi".into()),
            // No CPU limit (throttling hurts latency); the memory limit follows the request.
            cpu_limit: None,
            memory_limit: None,
        }),
        readiness_probe: Some(Probe {
            // A TCP connect: no handler set.
            path: None,
            scheme: None,
            http_headers: None,
            exec: None,
            grpc: None,
            port: None,
            initial_delay_seconds: Some(0),
            period_seconds: Some(5),
            timeout_seconds: Some(1),
            failure_threshold: Some(3),
        }),
        pre_stop_sleep_seconds: Some(PRE_STOP_SLEEP_SECONDS),
        termination_grace_period_seconds: Some(PRE_STOP_SLEEP_SECONDS + SHUTDOWN_MARGIN_SECONDS),
        rolling_update: Some(RollingUpdateDefaults {
            max_surge: Some(IntOrString::String("25%".into())),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
        min_ready_seconds: Some(5),
        progress_deadline_seconds: Some(600),
        revision_history_limit: Some(5),
        pod_disruption_budget: Some(PdbDefaults {
            enabled: Some(true),
            max_unavailable: Some(IntOrString::Int(1)),
        }),
        ingress: Some(IngressDefaults {
            enabled: Some(true),
            class_name: None,
            host_template: Some(HOST_TEMPLATE.into()),
            tls: Some(TlsDefaults {
                enabled: Some(false),
                cluster_issuer: None,
                secret_name_template: Some("{name}-tls".into()),
            }),
        }),
        pod_security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..Default::default()
        }),
        container_security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            seccomp_profile: Some(runtime_default_seccomp()),
            ..Default::default()
        }),
        automount_service_account_token: Some(false),
        topology_spread: Some(TopologySpreadDefaults {
            enabled: Some(true),
            topology_keys: Some(vec![ZONE_KEY.into(), HOSTNAME_KEY.into()]),
            max_skew: Some(1),
            when_unsatisfiable: Some("ScheduleAnyway".into()),
        }),
        // Anywhere the scheduler likes, at the cluster's default priority.
        node_selector: None,
        tolerations: None,
        affinity: None,
        priority_class_name: None,
        image_pull_secrets: None,
        labels: Default::default(),
        annotations: Default::default(),
        config_mount_path: Some("/etc/app".into()),
        migrate: Some(MigrateDefaults {
            timeout_seconds: Some(600),
            backoff_limit: Some(0),
            history_limit: Some(3),
        }),
        cron_jobs: Some(CronJobDefaults {
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(300),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            backoff_limit: Some(2),
            timeout_seconds: Some(3600),
            // Explicit, so a schedule never depends on the controller manager's local time.
            time_zone: Some("Etc/UTC".into()),
        }),
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cel_literal_of_the_shutdown_margin_is_the_margin() {
        assert_eq!(
            shutdown_margin!().parse::<i64>(),
            Ok(super::SHUTDOWN_MARGIN_SECONDS)
        );
    }
}
