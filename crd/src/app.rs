//! The `App` custom resource: what an app engineer writes.
//!
//! Every field but `image` is optional; what is left out comes from the Platform layers
//! (see [`crate::resolve`]). Unknown fields are rejected: by the API server through the
//! structural schema and strict field validation, offline through `deny_unknown_fields`.
//!
//! Cross-field rules live here as CEL (`x-kubernetes-validations`) so that `kubectl apply`
//! rejects a bad App with the field named; `baseplate render` evaluates the very same rules
//! client-side (see [`crate::admission`]).

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscalerBehavior, MetricSpec};
use k8s_openapi::api::core::v1::{Affinity, Toleration};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::builtin::shutdown_margin;
use crate::status::AppStatus;

/// Probe rules shared by the App's main container and every sidecar: the two structs carry
/// the same field names, so one set of CEL expressions serves both. Every handler but `exec`
/// (which runs inside the container) connects to a TCP port of the container.
macro_rules! probe_port_rule {
    ($probe:literal) => {
        concat!(
            "!has(self.",
            $probe,
            ") || has(self.",
            $probe,
            ".exec) || (has(self.",
            $probe,
            ".port) ? ",
            "(has(self.ports) && self.ports.exists(p, p.name == self.",
            $probe,
            ".port && ",
            tcp!("p"),
            ")) : ",
            "(has(self.ports) && self.ports.exists(p, ",
            tcp!("p"),
            ")))"
        )
    };
}

/// Whether the port `$p` speaks TCP (the default protocol), as a CEL expression.
macro_rules! tcp {
    ($p:literal) => {
        concat!("(!has(", $p, ".protocol) || ", $p, ".protocol == 'TCP')")
    };
}

/// The protocol of port `$p`, with TCP for none, as a CEL expression.
macro_rules! protocol_of {
    ($p:literal) => {
        concat!("(has(", $p, ".protocol) ? ", $p, ".protocol : 'TCP')")
    };
}

/// Two ports `$p` and `$q` that would bind the same socket: one number, one protocol.
macro_rules! same_socket {
    ($p:literal, $q:literal) => {
        concat!(
            $p,
            ".containerPort == ",
            $q,
            ".containerPort && ",
            protocol_of!($p),
            " == ",
            protocol_of!($q)
        )
    };
}

/// All declared secret keys as one CEL list.
macro_rules! secret_keys {
    () => {
        "((has(self.secrets.generate) ? self.secrets.generate : []) + (has(self.secrets.supplied) ? self.secrets.supplied : []))"
    };
}

macro_rules! probe_port_message {
    ($probe:literal) => {
        concat!(
            $probe,
            ".port must name one of this container's ports that speaks TCP (probes cannot check UDP or SCTP ports); or leave it out to probe the first TCP port, which the container must then have (only an exec probe needs no port)"
        )
    };
}

/// Whether the App is batch-only, as CEL: see [`AppSpec::is_batch_only`].
macro_rules! batch_only {
    () => {
        "has(self.cronJobs) && size(self.cronJobs) > 0 && (!has(self.ports) || size(self.ports) == 0) && !has(self.replicas) && !has(self.autoscaling)"
    };
}

/// An application: one container image plus a few switches, expanded by Baseplate into a
/// Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, Ingress, ConfigMap
/// and Secret carrying the platform's defaults.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "baseplate.dev",
    version = "v1alpha1",
    kind = "App",
    namespaced,
    status = "AppStatus",
    shortname = "bapp",
    category = "baseplate",
    derive = "PartialEq",
    doc = "An application that Baseplate expands into its Kubernetes children with the platform's defaults.",
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason"),
    printcolumn(name = "Replicas", type_ = "string", json_path = ".status.replicasSummary"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.url"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = (
        "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",
        "metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters) because it names the Service and every other child"
    ),
    // The CronJob controller names each run `<cronjob>-<minutes>` (11 more characters), and a
    // Job's name must fit a 63-character label: hence Kubernetes' 52 for CronJob names.
    validation = Rule::new("!has(self.spec.cronJobs) || self.spec.cronJobs.all(c, size(self.metadata.name) + 1 + size(c.name) <= 52)")
        .message("each CronJob is named <App name>-<cronJobs[].name>, and Kubernetes allows at most 52 characters for a CronJob name; shorten the cron job's name or the App's")
        .field_path(".spec.cronJobs")
)]
#[x_kube(
    validation = Rule::new("!has(self.replicas) || !has(self.autoscaling) || (has(self.autoscaling.enabled) && !self.autoscaling.enabled)")
        .message("set either spec.replicas (a fixed size) or spec.autoscaling, not both; remove one of them")
        .field_path(".replicas"),
    validation = Rule::new(probe_port_rule!("readinessProbe")).message(probe_port_message!("readinessProbe")).field_path(".readinessProbe"),
    validation = Rule::new(probe_port_rule!("livenessProbe")).message(probe_port_message!("livenessProbe")).field_path(".livenessProbe"),
    validation = Rule::new(probe_port_rule!("startupProbe")).message(probe_port_message!("startupProbe")).field_path(".startupProbe"),
    validation = Rule::new("!has(self.env) || !has(self.config) || !has(self.config.env) || self.env.all(k, !(k in self.config.env))")
        .message("a key appears in both spec.env and spec.config.env; keep it in one of them")
        .field_path(".env"),
    validation = Rule::new(concat!("!has(self.secrets) || !has(self.env) || self.env.all(k, !(k in ", secret_keys!(), "))"))
        .message("a key in spec.env is also declared in spec.secrets; keep it in one place")
        .field_path(".secrets"),
    validation = Rule::new(concat!("!has(self.secrets) || !has(self.config) || !has(self.config.env) || self.config.env.all(k, !(k in ", secret_keys!(), "))"))
        .message("a key in spec.config.env is also declared in spec.secrets; keep it in one place")
        .field_path(".secrets"),
    validation = Rule::new(concat!("!has(self.ingress) || (has(self.ingress.enabled) && !self.ingress.enabled) || (has(self.ports) && self.ports.exists(p, ", tcp!("p"), "))"))
        .message("spec.ingress needs at least one entry in spec.ports that speaks TCP to route to (an Ingress carries HTTP, never UDP or SCTP); add a TCP port or set ingress.enabled: false")
        .field_path(".ingress"),
    validation = Rule::new(concat!("!has(self.ingress) || !has(self.ingress.port) || (has(self.ports) && self.ports.exists(p, p.name == self.ingress.port && ", tcp!("p"), "))"))
        .message("spec.ingress.port must name one of spec.ports that speaks TCP (an Ingress carries HTTP, never UDP or SCTP)")
        .field_path(".ingress.port"),
    // Containers of one pod share its network: a port name or a socket (number and protocol)
    // may appear once in the whole pod, as the API server requires of names.
    validation = Rule::new("!has(self.sidecars) || !has(self.ports) || self.sidecars.all(s, !has(s.ports) || s.ports.all(p, !self.ports.exists(q, q.name == p.name)))")
        .message("a sidecar's port has the same name as one of spec.ports; port names must be unique in the whole pod, so rename one")
        .field_path(".sidecars"),
    validation = Rule::new(concat!("!has(self.sidecars) || !has(self.ports) || self.sidecars.all(s, !has(s.ports) || s.ports.all(p, !self.ports.exists(q, ", same_socket!("p", "q"), ")))"))
        .message("a sidecar listens on the same containerPort and protocol as one of spec.ports; containers of one pod share its network, so give one of them another port")
        .field_path(".sidecars"),
    validation = Rule::new(concat!("!has(self.sidecars) || self.sidecars.all(s, self.sidecars.all(t, s.name == t.name || !has(s.ports) || !has(t.ports) || s.ports.all(p, !t.ports.exists(q, q.name == p.name || (", same_socket!("p", "q"), ")))))"))
        .message("two sidecars have a port with the same name, or the same containerPort and protocol; ports must be unique in the whole pod, so change one of them")
        .field_path(".sidecars"),
    validation = Rule::new(concat!("!has(self.terminationGracePeriodSeconds) || self.terminationGracePeriodSeconds >= (has(self.preStopSleepSeconds) ? self.preStopSleepSeconds : 0) + ", shutdown_margin!()))
        .message(concat!("spec.terminationGracePeriodSeconds must be at least spec.preStopSleepSeconds (0 when left out) + ", shutdown_margin!(), ": the containers need that long after the preStop sleep to finish in-flight work before they are killed; raise it or lower preStopSleepSeconds"))
        .field_path(".terminationGracePeriodSeconds"),
    // spec.env and config.files share the ConfigMap's keys: the file would replace the variable.
    validation = Rule::new("!has(self.env) || !has(self.config) || !has(self.config.files) || self.env.all(k, !(k in self.config.files))")
        .message("a key in spec.env is also a spec.config.files name; both live in the App's ConfigMap, so rename one")
        .field_path(".env"),
    // The App's own config.mountPath; a Platform's (or the built-in /etc/app) is checked on
    // resolution, see `child_rules`.
    validation = Rule::new("!has(self.volumes) || !has(self.config) || !has(self.config.files) || !has(self.config.mountPath) || self.volumes.all(v, !(v.mountPath == self.config.mountPath || v.mountPath.startsWith(self.config.mountPath + '/') || self.config.mountPath.startsWith(v.mountPath + '/')))")
        .message("a volume's mountPath is config.mountPath, or lies inside it or around it; the config files are mounted read-only there, so give the volume another directory")
        .field_path(".volumes"),
    // A batch-only App (see `AppSpec::is_batch_only`) has no Deployment for sidecars to run in.
    validation = Rule::new(concat!("!(", batch_only!(), ") || !has(self.sidecars) || size(self.sidecars) == 0"))
        .message("spec.sidecars run beside the Deployment's container, and an App with cronJobs but no ports, replicas or autoscaling is batch-only, without a Deployment; set replicas to keep a Deployment, or remove the sidecars")
        .field_path(".sidecars"),
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// Container image, e.g. `nginx:1.14` or `registry.example.com/team/api@sha256:...`.
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::image::IMAGE_RULE, crate::image::IMAGE_MESSAGE)))]
    #[schemars(length(max = 512))]
    pub image: String,

    /// Named ports the main container listens on. The Service exposes all of them; the
    /// first one is the default for probes and the Ingress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(
        validation = ("self.all(p, self.exists_one(q, q.name == p.name))", "port names must be unique"),
        validation = (concat!("self.all(p, self.exists_one(q, ", same_socket!("p", "q"), "))"), "containerPort numbers must be unique per protocol: one number may serve TCP and UDP (as DNS does), but not twice for one protocol"),
    )]
    #[schemars(length(max = 20))]
    pub ports: Vec<Port>,

    /// Plain environment variables. They are stored in the App's ConfigMap, so pods roll
    /// when a value changes. Shorthand for `config.env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = ("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))", "environment variable names must be letters, digits and '_', not starting with a digit"))]
    #[schemars(extend("maxProperties" = 256))]
    pub env: BTreeMap<String, String>,

    /// A fixed number of replicas. Turns autoscaling off for this App.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 1000", "replicas must be between 0 and 1000"))]
    pub replicas: Option<i32>,

    /// Horizontal autoscaling on CPU. Defaults come from the Platform (built-in: 2..10 at 70%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,

    /// CPU and memory for the main container. Defaults come from the Platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,

    /// Overrides the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub command: Option<Vec<String>>,

    /// Arguments to the entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub args: Option<Vec<String>>,

    /// When the container may receive traffic. Default: the Platform's probe (built-in: TCP on the first port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,

    /// Restart the container when this fails. Off unless asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,

    /// Hold the other probes until the app has started. Off unless asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,

    /// Extra containers in the same pod, in the same small style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = ("self.all(c, self.exists_one(d, d.name == c.name))", "sidecar names must be unique"))]
    #[schemars(length(max = 10))]
    pub sidecars: Vec<Sidecar>,

    /// Configuration stored in the App's ConfigMap: environment variables and files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,

    /// Secret keys (never values) the app reads as environment variables from the App's Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Secrets>,

    /// Writable directories (`emptyDir` volumes) of the main container, its migration and its
    /// cron jobs, beside the writable `/tmp` every container has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(
        validation = ("self.all(v, self.exists_one(w, w.name == v.name))", "volumes names must be unique"),
        validation = ("self.all(v, self.all(w, v.name == w.name || !(v.mountPath == w.mountPath || v.mountPath.startsWith(w.mountPath + '/'))))", "two volumes have the same mountPath, or one lies inside the other; give each a directory of its own"),
    )]
    #[schemars(length(max = 16))]
    pub volumes: Vec<ScratchVolume>,

    /// Secrets for pulling images from private registries, added to the Platforms' (by name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = ("self.all(s, self.exists_one(t, t.name == s.name))", "imagePullSecrets names must be unique"))]
    #[schemars(length(max = 16))]
    pub image_pull_secrets: Vec<ImagePullSecret>,

    /// External HTTP routing. On by default when the App has a port; `enabled: false` turns it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,

    /// Seconds every container sleeps in preStop so endpoints drain before SIGTERM; 0 turns the
    /// sleep off (for Apps no Service routes to). Default: the Platform's (built-in 10), raised
    /// to the Platforms' `limits.minPreStopSleepSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 600", "preStopSleepSeconds must be between 0 and 600"))]
    pub pre_stop_sleep_seconds: Option<i64>,
    /// Seconds the pods get to stop (queue workers need more than a web server). At least the
    /// preStop sleep plus 20: a lower value from a layer below the App's preStop is raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 3600", "terminationGracePeriodSeconds must be between 0 and 3600"))]
    pub termination_grace_period_seconds: Option<i64>,

    /// Node labels the pods must run on (`kubernetes.io/arch: arm64`, a spot pool's label).
    /// Replaces the Platform's value as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::placement::node_selector_rules(), "maxProperties" = 64, "additionalProperties" = crate::placement::node_selector_values()))]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Taints the pods tolerate, in the pod's own shape. Replaces the Platform's value as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::placement::toleration_rules()))]
    #[schemars(length(max = 32))]
    pub tolerations: Option<Vec<Toleration>>,
    /// Node and pod (anti-)affinity, in the pod's own shape. Replaces the Platform's value as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// The PriorityClass of the pods. Replaces the Platform's value as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::SUBDOMAIN_RULE, "priorityClassName must name a PriorityClass: a DNS-1123 subdomain of lowercase letters, digits, '-' and '.', at most 253 characters, such as high-priority")))]
    #[schemars(length(max = 253))]
    pub priority_class_name: Option<String>,

    /// Extra labels for the pods (never for the selector).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::all([
        crate::cel_rule::on_keys("!k.startsWith('app.kubernetes.io/') && !k.startsWith('baseplate.dev/')", "podLabels may not set app.kubernetes.io/* or baseplate.dev/* labels: Baseplate owns them"),
        crate::cel_rule::on_keys(crate::labels::KEY_PREDICATE, &format!("podLabels {}", crate::labels::KEYS_MESSAGE)),
    ])))]
    // Values by pattern, not CEL: a regex over every value of a map is beyond the API server's
    // CEL cost budget (over its keys it is not: their size is bounded with maxProperties).
    #[schemars(extend("maxProperties" = 64, "additionalProperties" = {"type": "string", "maxLength": 63, "pattern": crate::labels::VALUE_PATTERN}))]
    pub pod_labels: BTreeMap<String, String>,

    /// Extra annotations for the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::all([
        crate::cel_rule::on_keys("!k.startsWith('baseplate.dev/')", "podAnnotations may not set baseplate.dev/* annotations: Baseplate owns them"),
        crate::cel_rule::on_keys(crate::labels::KEY_PREDICATE, &format!("podAnnotations {}", crate::labels::KEYS_MESSAGE)),
    ])))]
    // The count bounds the CEL rules' cost; the API server's own limit is on the total size
    // (256 KiB), which CEL cannot add up and resolution checks.
    #[schemars(extend("maxProperties" = 256))]
    pub pod_annotations: BTreeMap<String, String>,

    /// A one-off task, typically a database migration, run as a Job for each new version of the
    /// pods before the Deployment rolls to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<Migrate>,

    /// Scheduled jobs, each a CronJob named `<App name>-<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = ("self.all(c, self.exists_one(d, d.name == c.name))", "cronJobs names must be unique"))]
    #[schemars(length(max = 20))]
    pub cron_jobs: Vec<CronJobEntry>,
}

impl AppSpec {
    /// An App whose only workload is its cron jobs: `cronJobs` and no ports, no `replicas` and no
    /// `autoscaling`. It gets no Deployment, Service, HPA, PDB or Ingress. A worker without ports
    /// (no `cronJobs`) is not batch-only, and setting `replicas` keeps a Deployment beside the
    /// cron jobs.
    pub fn is_batch_only(&self) -> bool {
        !self.cron_jobs.is_empty()
            && self.ports.is_empty()
            && self.replicas.is_none()
            && self.autoscaling.is_none()
    }
}

/// The migration Job: the App's container with another command, run to completion.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Migrate {
    /// What the Job runs, e.g. `["bin/rails", "db:migrate"]`.
    #[x_kube(validation = ("size(self) > 0", "migrate.command needs at least one entry, the program to run"))]
    // Bounded items: the API server prices the rule by them (see `Secrets`).
    #[schemars(length(max = 64), inner(length(max = 4096)))]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub args: Option<Vec<String>>,
    /// Image of the Job. Default: the App's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::image::IMAGE_RULE, crate::image::IMAGE_MESSAGE)))]
    #[schemars(length(max = 512))]
    pub image: Option<String>,
    /// Seconds the migration may run before it counts as failed. Default: the Platform's (built-in 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 86400", "timeoutSeconds must be between 1 and 86400"))]
    pub timeout_seconds: Option<i64>,
    /// Retries after a failed pod. Default: the Platform's (built-in 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 10", "backoffLimit must be between 0 and 10"))]
    pub backoff_limit: Option<i32>,
}

/// One scheduled job.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.command) || has(self.image)")
    .message("a cron job needs a command, or an image of its own whose entrypoint is the job")
    .field_path(".command"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronJobEntry {
    /// Names the CronJob `<App name>-<name>`: lowercase letters, digits and '-'.
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
        "cronJobs name must be lowercase letters, digits and '-', starting and ending with a letter or digit"
    ))]
    #[schemars(length(max = 50))]
    pub name: String,
    /// Cron schedule, e.g. `0 3 * * *`, read in `timeZone`.
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(&crate::schedule::SCHEDULE_RULE, crate::schedule::SCHEDULE_MESSAGE)))]
    #[schemars(length(max = 128))]
    pub schedule: String,
    /// IANA time zone of the schedule, e.g. `Asia/Tokyo`. Default: the Platform's (built-in `Etc/UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(&crate::schedule::TIME_ZONE_RULE, crate::schedule::TIME_ZONE_MESSAGE)))]
    #[schemars(length(max = 64))]
    pub time_zone: Option<String>,
    /// Image of the job. Default: the App's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::image::IMAGE_RULE, crate::image::IMAGE_MESSAGE)))]
    #[schemars(length(max = 512))]
    pub image: Option<String>,
    /// What the job runs. Default: the image's entrypoint (only with an image of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), inner(length(max = 4096)))]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub args: Option<Vec<String>>,
    /// CPU and memory, field by field over the App's `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Seconds one run may take before it counts as failed. Default: the Platform's (built-in 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 86400", "timeoutSeconds must be between 1 and 86400"))]
    pub timeout_seconds: Option<i64>,
    /// Retries after a failed pod within one run. Default: the Platform's (built-in 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 10", "backoffLimit must be between 0 and 10"))]
    pub backoff_limit: Option<i32>,
}

/// A named container port.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    /// IANA service name: at most 15 lowercase letters, digits and '-', with at least one letter.
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self) <= 15 && self.matches('[a-z]') && !self.contains('--')",
        "port name must be at most 15 lowercase letters, digits and single '-', with at least one letter (e.g. http, grpc, metrics)"
    ))]
    #[schemars(length(max = 15))]
    pub name: String,
    /// Port number the container listens on.
    #[x_kube(validation = ("self >= 1 && self <= 65535", "containerPort must be between 1 and 65535"))]
    pub container_port: i32,
    /// TCP (default), UDP or SCTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// Horizontal autoscaling: on CPU by default, on memory and on any HPA v2 metric when asked.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas")
        .message("autoscaling.minReplicas must not exceed autoscaling.maxReplicas")
        .field_path(".minReplicas"),
    validation = Rule::new("!has(self.metrics) || !has(self.targetCPUUtilizationPercentage) || !self.metrics.exists(m, has(m.resource) && m.resource.name == 'cpu')")
        .message("autoscaling.metrics has a cpu Resource metric and targetCPUUtilizationPercentage is set too: the HPA would get two CPU targets; keep one of them")
        .field_path(".metrics"),
    validation = Rule::new("!has(self.metrics) || !has(self.targetMemoryUtilizationPercentage) || !self.metrics.exists(m, has(m.resource) && m.resource.name == 'memory')")
        .message("autoscaling.metrics has a memory Resource metric and targetMemoryUtilizationPercentage is set too: the HPA would get two memory targets; keep one of them")
        .field_path(".metrics"),
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscaling {
    /// Set to false to run a fixed number of replicas instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 1000", "minReplicas must be between 1 and 1000"))]
    pub min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 1000", "maxReplicas must be between 1 and 1000"))]
    pub max_replicas: Option<i32>,
    /// Average CPU utilisation (percent of the request) the autoscaler aims for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 100", "targetCPUUtilizationPercentage must be between 1 and 100"))]
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: Option<i32>,
    /// Average memory utilisation (percent of the request) the autoscaler aims for. No memory
    /// metric unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 100", "targetMemoryUtilizationPercentage must be between 1 and 100"))]
    #[serde(rename = "targetMemoryUtilizationPercentage")]
    pub target_memory_utilization_percentage: Option<i32>,
    /// Extra metrics in the HorizontalPodAutoscaler's own (autoscaling/v2) shape: `Pods`,
    /// `Object`, `External`, `ContainerResource` or `Resource`. Given by a layer above the one
    /// that set `targetCPUUtilizationPercentage` (an App's metrics over the built-in 70%), they
    /// replace the CPU target instead of adding to it. The list is taken as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::metrics::metric_rules()))]
    #[schemars(length(max = 10))]
    pub metrics: Option<Vec<MetricSpec>>,
    /// Scale-up and scale-down rules in the HorizontalPodAutoscaler's own shape. Each direction
    /// is taken as a whole from the highest layer that sets it. Built-in: Kubernetes' defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::metrics::behavior_rules()))]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// CPU and memory as Kubernetes quantities (`100m`, `0.5`, `128Mi`, `1Gi`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[schemars(extend("x-kubernetes-validations" = crate::quantity::limit_rules()))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::quantity::CPU_RULE, crate::quantity::CPU_MESSAGE)))]
    #[schemars(length(max = 32))]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::quantity::memory_rules()))]
    #[schemars(length(max = 32))]
    pub memory: Option<String>,
    /// CPU limit. No CPU limit unless set here or by the Platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::quantity::CPU_RULE, crate::quantity::CPU_MESSAGE)))]
    #[schemars(length(max = 32))]
    pub cpu_limit: Option<String>,
    /// Memory limit. Defaults to the memory request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::quantity::memory_rules()))]
    #[schemars(length(max = 32))]
    pub memory_limit: Option<String>,
}

/// A probe with one handler: an HTTP GET when `path` is set, a command with `exec`, a gRPC
/// health check with `grpc`, and a TCP connect when none of them is.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(
    validation = Rule::new("(has(self.path) ? 1 : 0) + (has(self.exec) ? 1 : 0) + (has(self.grpc) ? 1 : 0) <= 1")
        .message("a probe has one handler: path (an HTTP GET), exec (a command) or grpc (a gRPC health check), or none of them for a TCP connect; keep one of path, exec and grpc"),
    validation = Rule::new("!has(self.scheme) || has(self.path)")
        .message("scheme is the scheme of an HTTP probe's GET; set path beside it, or remove scheme")
        .field_path(".scheme"),
    validation = Rule::new("!has(self.httpHeaders) || has(self.path)")
        .message("httpHeaders are sent with an HTTP probe's GET; set path beside them, or remove httpHeaders")
        .field_path(".httpHeaders"),
    validation = Rule::new("!has(self.exec) || !has(self.port)")
        .message("an exec probe runs its command inside the container and uses no port; remove port")
        .field_path(".port"),
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    /// HTTP path to GET, e.g. `/healthz`. Leave out (with `exec` and `grpc`) for a TCP probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self.startsWith('/')", "probe path must start with '/'"))]
    #[schemars(length(max = 1024))]
    pub path: Option<String>,
    /// `HTTP` (default) or `HTTPS` for the GET; the kubelet does not verify the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<ProbeScheme>,
    /// Headers of the GET, e.g. a `Host` the app routes on. Taken as a whole from one layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self.all(h, self.exists_one(g, g.name.lowerAscii() == h.name.lowerAscii()))", "httpHeaders names must be unique (HTTP header names ignore case)"))]
    #[schemars(length(max = 16))]
    pub http_headers: Option<Vec<ProbeHeader>>,
    /// A command run in the container; the probe succeeds when it exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ProbeExec>,
    /// A gRPC health check (`grpc.health.v1.Health/Check`) on `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<ProbeGrpc>,
    /// Name of the port to probe. Default: the container's first TCP port. Not for `exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 15))]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 0 && self <= 3600", "initialDelaySeconds must be between 0 and 3600"))]
    pub initial_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 3600", "periodSeconds must be between 1 and 3600"))]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 600", "timeoutSeconds must be between 1 and 600"))]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = ("self >= 1 && self <= 100", "failureThreshold must be between 1 and 100"))]
    pub failure_threshold: Option<i32>,
}

/// The scheme of an HTTP probe.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProbeScheme {
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

impl ProbeScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeScheme::Http => "HTTP",
            ProbeScheme::Https => "HTTPS",
        }
    }
}

/// One header of an HTTP probe's GET.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeHeader {
    /// The header's name: letters, digits and '-', as the API server requires.
    #[x_kube(validation = ("self.matches('^[-A-Za-z0-9]+$')", "httpHeaders name must be letters, digits and '-' (an HTTP header name such as Host or X-Probe)"))]
    #[schemars(length(max = 256))]
    pub name: String,
    #[schemars(length(max = 4096))]
    pub value: String,
}

/// The command of an exec probe.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeExec {
    /// The program and its arguments, run without a shell, e.g. `["pg_isready", "-q"]`.
    #[x_kube(validation = ("size(self) > 0", "exec.command needs at least one entry, the program to run"))]
    // Bounded items: the API server prices the rule by them (see `Secrets`).
    #[schemars(length(max = 64), inner(length(max = 4096)))]
    pub command: Vec<String>,
}

/// A gRPC health check.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProbeGrpc {
    /// The service name sent in the health check request. Default: the server's overall health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub service: Option<String>,
}

/// An extra container in the App's pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(
    validation = Rule::new(probe_port_rule!("readinessProbe")).message(probe_port_message!("readinessProbe")).field_path(".readinessProbe"),
    validation = Rule::new(probe_port_rule!("livenessProbe")).message(probe_port_message!("livenessProbe")).field_path(".livenessProbe"),
    validation = Rule::new(probe_port_rule!("startupProbe")).message(probe_port_message!("startupProbe")).field_path(".startupProbe"),
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sidecar {
    /// Container name: a DNS-1123 label; `app` is taken by the main container.
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self) <= 63 && self != 'app'",
        "sidecar name must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters) other than 'app'"
    ))]
    #[schemars(length(max = 63))]
    pub name: String,
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::image::IMAGE_RULE, crate::image::IMAGE_MESSAGE)))]
    #[schemars(length(max = 512))]
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(
        validation = ("self.all(p, self.exists_one(q, q.name == p.name))", "port names must be unique"),
        validation = (concat!("self.all(p, self.exists_one(q, ", same_socket!("p", "q"), "))"), "containerPort numbers must be unique per protocol: one number may serve TCP and UDP (as DNS does), but not twice for one protocol"),
    )]
    #[schemars(length(max = 20))]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = ("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))", "environment variable names must be letters, digits and '_', not starting with a digit"))]
    #[schemars(extend("maxProperties" = 256))]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
}

/// A writable scratch directory of the App's container (the root filesystem is read-only): an
/// `emptyDir` volume, empty at each pod's start and gone with the pod.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScratchVolume {
    /// The volume's name in the pod: a DNS-1123 label; `tmp` and `config` are Baseplate's.
    #[x_kube(validation = (
        "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && self != 'tmp' && self != 'config'",
        "volumes name must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters) other than tmp and config, which name Baseplate's own volumes"
    ))]
    #[schemars(length(max = 63))]
    pub name: String,
    /// Where the directory appears, e.g. `/var/cache/app`.
    #[x_kube(
        validation = (crate::mount_path::RULE, concat!("volumes mountPath ", crate::mount_path::message!())),
        // Written as the kubelet will mount it, so the overlap rules can compare plain strings.
        validation = (crate::mount_path::NORMALISED_RULE, "volumes mountPath must be written without '//' and without a trailing '/', such as /var/cache/app"),
    )]
    #[schemars(length(max = 512))]
    pub mount_path: String,
    /// The most the volume may hold, e.g. `1Gi`; a pod that writes more is evicted. Default: no
    /// limit but the node's disk (or, for `medium: Memory`, the pod's memory limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::quantity::memory_rules()))]
    #[schemars(length(max = 32))]
    pub size_limit: Option<String>,
    /// `Memory` for a tmpfs: fast, and counted against the container's memory limit. Default:
    /// the node's disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<VolumeMedium>,
}

/// Where an `emptyDir` keeps its files, when not on the node's disk.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeMedium {
    Memory,
}

/// A Secret of type `kubernetes.io/dockerconfigjson` in the App's namespace, for pulling images
/// from a private registry. Baseplate only names it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagePullSecret {
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::SUBDOMAIN_RULE, "imagePullSecrets name must name a Secret: a DNS-1123 subdomain of lowercase letters, digits, '-' and '.', at most 253 characters, such as registry-credentials")))]
    #[schemars(length(max = 253))]
    pub name: String,
}

/// Configuration kept in the App's ConfigMap.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.env) || !has(self.files) || self.env.all(k, !(k in self.files))")
    .message("a name is used both as a config.env key and a config.files name; rename one")
    .field_path(".files"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Environment variables, like `spec.env`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = ("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))", "environment variable names must be letters, digits and '_', not starting with a digit"))]
    #[schemars(extend("maxProperties" = 256))]
    pub env: BTreeMap<String, String>,
    /// Files by name, mounted read-only under `mountPath`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = ("self.all(k, k.matches('^[-._a-zA-Z0-9]+$') && size(k) <= 253 && k != '.' && !k.startsWith('..'))", "config file names must be letters, digits, '-', '_' and '.', at most 253 characters, not '.' and not starting with '..' (the kubelet keeps its own files under ..data); rename the file"))]
    #[schemars(extend("maxProperties" = 256))]
    pub files: BTreeMap<String, String>,
    /// Where the files appear in the container. Default: the Platform's (built-in `/etc/app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = (crate::mount_path::RULE, concat!("config.mountPath ", crate::mount_path::message!())))]
    #[schemars(length(max = 1024))]
    pub mount_path: Option<String>,
}

/// Secret keys. An App never carries a secret value.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.generate) || !has(self.supplied) || self.generate.all(k, !(k in self.supplied))")
    .message("a key is listed in both secrets.generate and secrets.supplied; list it once")
    .field_path(".supplied"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secrets {
    /// Keys whose value Baseplate generates once (32 random characters) and keeps for the App's life.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = ("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$') && self.exists_one(j, j == k))", "secrets.generate keys must be unique environment variable names"))]
    // The API server prices a rule by its inputs' bounds; an unbounded string counts as 3 MiB,
    // which puts the rules over these keys above the cost budget and fails the CRD's install.
    #[schemars(length(max = 64), inner(length(max = 253)))]
    pub generate: Vec<String>,
    /// Keys whose value people or tools put into the App's Secret. Baseplate never writes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = ("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$') && self.exists_one(j, j == k))", "secrets.supplied keys must be unique environment variable names"))]
    // The API server prices a rule by its inputs' bounds; an unbounded string counts as 3 MiB,
    // which puts the rules over these keys above the cost budget and fails the CRD's install.
    #[schemars(length(max = 64), inner(length(max = 253)))]
    pub supplied: Vec<String>,
}

impl Secrets {
    /// Every declared key, generated first, in declaration order.
    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.generate
            .iter()
            .chain(&self.supplied)
            .map(String::as_str)
    }
}

/// External HTTP routing for the App's Service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSpec {
    /// Set to false to have no Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Host name. Default: the Platform's host template (built-in `{name}.{namespace}.apps.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = crate::cel_rule::quoting_value(crate::names::HOST_RULE, crate::names::HOST_MESSAGE)))]
    #[schemars(length(max = 253))]
    pub host: Option<String>,
    /// URL path prefixes routed to the App. Default `/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = (crate::names::PATHS_RULE, crate::names::PATHS_MESSAGE))]
    #[schemars(length(max = 32), inner(length(max = 1024)))]
    pub paths: Vec<String>,
    /// Name of the port to route to. Default: the first port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 15))]
    pub port: Option<String>,
}
