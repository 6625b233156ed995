//! Layering: built-in defaults < matching Platforms (ascending priority, then name) < the App.
//!
//! Every resolved value records where it came from, so `baseplate render --explain` and the
//! App's status can say which layer set what. Cross-field rules (grace period versus preStop,
//! PDB versus minimum replicas, HPA versus fixed replicas) are computed here, not left to users.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{PodSecurityContext, SecurityContext};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};
use serde::Serialize;

use crate::app::{App, AppSpec, Probe, Resources};
use crate::builtin;
use crate::error::{FieldError, RenderError};
use crate::platform::{Platform, PlatformDefaults, PlatformLimits};

/// Which layer a resolved value came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    BuiltIn,
    Platform(String),
    App,
    /// Computed from other settings by a cross-field rule, which the text names.
    Rule(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("built-in"),
            Source::Platform(name) => write!(f, "platform/{name}"),
            Source::App => f.write_str("app"),
            Source::Rule(rule) => write!(f, "rule: {rule}"),
        }
    }
}

/// A resolved value (as JSON text) and the layer that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub value: String,
    pub source: Source,
}

/// One Platform that applies to the App's namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformLayer {
    pub name: String,
    pub priority: i32,
    pub defaults: PlatformDefaults,
    pub limits: PlatformLimits,
}

/// The Platforms that apply to one namespace, lowest priority first.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct EffectivePlatform {
    pub layers: Vec<PlatformLayer>,
}

impl EffectivePlatform {
    /// No Platform at all: only the built-in defaults apply.
    pub fn builtin_only() -> Self {
        Self::default()
    }

    /// The Platforms whose `namespaceSelector` matches a namespace with these labels.
    ///
    /// A Platform with a selector that cannot be parsed matches nothing: applying its
    /// defaults to namespaces it may not have meant would be worse than skipping it.
    pub fn select<'a>(
        platforms: impl IntoIterator<Item = &'a Platform>,
        namespace_labels: &BTreeMap<String, String>,
    ) -> Self {
        let mut layers: Vec<PlatformLayer> = platforms
            .into_iter()
            .filter(|p| platform_matches(p, namespace_labels))
            .map(|p| PlatformLayer {
                name: p.name_any(),
                priority: p.spec.priority,
                defaults: p.spec.defaults.clone(),
                limits: p.spec.limits.clone(),
            })
            .collect();
        layers.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        Self { layers }
    }

    pub fn names(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.name.clone()).collect()
    }
}

/// Whether a Platform's `namespaceSelector` matches a namespace's labels; no selector matches all.
pub fn platform_matches(platform: &Platform, namespace_labels: &BTreeMap<String, String>) -> bool {
    match &platform.spec.namespace_selector {
        None => true,
        Some(selector) => Selector::try_from(selector.clone())
            .map(|s| s.matches(namespace_labels))
            .unwrap_or(false),
    }
}

/// Autoscaler settings when autoscaling is on.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSettings {
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub target_cpu_utilization_percentage: i32,
}

/// Requests and limits for one container.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSettings {
    pub cpu: String,
    pub memory: String,
    pub cpu_limit: Option<String>,
    pub memory_limit: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IngressSettings {
    pub class_name: Option<String>,
    pub host: String,
    pub paths: Vec<String>,
    /// Service port name the Ingress routes to.
    pub port: String,
    pub tls: Option<TlsSettings>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TlsSettings {
    pub cluster_issuer: Option<String>,
    pub secret_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TopologySettings {
    pub topology_keys: Vec<String>,
    pub max_skew: i32,
    pub when_unsatisfiable: String,
}

/// Everything rendering needs, fully resolved. Built only by [`resolve`].
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub name: String,
    pub namespace: String,
    /// `None`: a fixed number of replicas.
    pub autoscaling: Option<HpaSettings>,
    /// Used when autoscaling is off.
    pub replicas: i32,
    pub resources: ResourceSettings,
    /// Resources of each sidecar, by sidecar name.
    pub sidecar_resources: BTreeMap<String, ResourceSettings>,
    /// `None` when the main container has no port and asked for no probe.
    pub readiness_probe: Option<Probe>,
    pub pre_stop_sleep_seconds: i64,
    pub termination_grace_period_seconds: i64,
    pub max_surge: IntOrString,
    pub max_unavailable: IntOrString,
    pub min_ready_seconds: i32,
    pub progress_deadline_seconds: i32,
    pub revision_history_limit: i32,
    /// `maxUnavailable` of the PDB, `None` when there is no PDB.
    pub pdb_max_unavailable: Option<IntOrString>,
    pub ingress: Option<IngressSettings>,
    pub pod_security_context: PodSecurityContext,
    pub container_security_context: SecurityContext,
    pub automount_service_account_token: bool,
    pub topology_spread: Option<TopologySettings>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub config_mount_path: String,
    /// Which layer set each value, keyed by its path in the Platform's `defaults`.
    pub provenance: BTreeMap<String, Provenance>,
    /// The Platforms that applied, lowest priority first.
    pub platforms: Vec<String>,
}

impl Settings {
    /// The URL the Ingress serves the App at, when it has one.
    pub fn url(&self) -> Option<String> {
        let ingress = self.ingress.as_ref()?;
        let scheme = if ingress.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let path = ingress.paths.first().map_or("/", String::as_str);
        Some(format!("{scheme}://{}{path}", ingress.host))
    }
}

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
    let mut r = Resolver::new(spec, platform);

    let autoscaling_enabled = r.pick(
        "autoscaling.enabled",
        spec.autoscaling
            .as_ref()
            .and_then(|a| a.enabled)
            // An App that states a fixed size has asked for no autoscaler.
            .or(spec.replicas.map(|_| false))
            // An App that configures autoscaling has asked for one, even where a Platform turns it off.
            .or(spec.autoscaling.as_ref().map(|_| true)),
        |d| d.autoscaling.as_ref()?.enabled,
    );
    let autoscaling = autoscaling_enabled.then(|| HpaSettings {
        min_replicas: r.pick(
            "autoscaling.minReplicas",
            spec.autoscaling.as_ref().and_then(|a| a.min_replicas),
            |d| d.autoscaling.as_ref()?.min_replicas,
        ),
        max_replicas: r.pick(
            "autoscaling.maxReplicas",
            spec.autoscaling.as_ref().and_then(|a| a.max_replicas),
            |d| d.autoscaling.as_ref()?.max_replicas,
        ),
        target_cpu_utilization_percentage: r.pick(
            "autoscaling.targetCPUUtilizationPercentage",
            spec.autoscaling
                .as_ref()
                .and_then(|a| a.target_cpu_utilization_percentage),
            |d| d.autoscaling.as_ref()?.target_cpu_utilization_percentage,
        ),
    });
    let replicas = r.pick("replicas", spec.replicas, |d| d.replicas);
    let mut errors = Vec::new();
    if let Some(hpa) = &autoscaling
        && hpa.min_replicas > hpa.max_replicas
    {
        errors.push(FieldError::new(
            "spec.autoscaling",
            format!(
                "minReplicas {} ({}) exceeds maxReplicas {} ({}); set both in spec.autoscaling",
                hpa.min_replicas,
                r.source_of("autoscaling.minReplicas"),
                hpa.max_replicas,
                r.source_of("autoscaling.maxReplicas"),
            ),
        ));
    }

    let resources = r.resources("resources", spec.resources.as_ref());
    let sidecar_resources = spec
        .sidecars
        .iter()
        .map(|s| {
            let key = format!("sidecars[{}].resources", s.name);
            (s.name.clone(), r.resources(&key, s.resources.as_ref()))
        })
        .collect();

    let readiness_probe = r.readiness_probe();

    let mut pre_stop_sleep_seconds =
        r.pick("preStopSleepSeconds", None, |d| d.pre_stop_sleep_seconds);
    if let Some((floor, platform)) = platform
        .layers
        .iter()
        .filter_map(|l| l.limits.min_pre_stop_sleep_seconds.map(|m| (m, &l.name)))
        .max()
        && pre_stop_sleep_seconds < floor
    {
        pre_stop_sleep_seconds = floor;
        r.record(
            "preStopSleepSeconds",
            &floor,
            Source::Rule(format!(
                "raised to limits.minPreStopSleepSeconds of platform/{platform}"
            )),
        );
    }
    let mut termination_grace_period_seconds = r.pick("terminationGracePeriodSeconds", None, |d| {
        d.termination_grace_period_seconds
    });
    let grace_floor = pre_stop_sleep_seconds + builtin::SHUTDOWN_MARGIN_SECONDS;
    if termination_grace_period_seconds < grace_floor {
        termination_grace_period_seconds = grace_floor;
        r.record(
            "terminationGracePeriodSeconds",
            &grace_floor,
            Source::Rule(format!(
                "raised to preStopSleepSeconds + {}s",
                builtin::SHUTDOWN_MARGIN_SECONDS
            )),
        );
    }

    let max_surge = r.pick("rollingUpdate.maxSurge", None, |d| {
        d.rolling_update.as_ref()?.max_surge.clone()
    });
    let max_unavailable = r.pick("rollingUpdate.maxUnavailable", None, |d| {
        d.rolling_update.as_ref()?.max_unavailable.clone()
    });
    if is_zero(&max_surge) && is_zero(&max_unavailable) {
        errors.push(FieldError::new(
            "rollingUpdate",
            format!(
                "maxSurge ({}) and maxUnavailable ({}) are both zero, so no rollout could progress; set one of them above zero in the Platform",
                r.source_of("rollingUpdate.maxSurge"),
                r.source_of("rollingUpdate.maxUnavailable"),
            ),
        ));
    }
    let min_ready_seconds = r.pick("minReadySeconds", None, |d| d.min_ready_seconds);
    let progress_deadline_seconds = r.pick("progressDeadlineSeconds", None, |d| {
        d.progress_deadline_seconds
    });
    let revision_history_limit = r.pick("revisionHistoryLimit", None, |d| d.revision_history_limit);

    let minimum_replicas = autoscaling.as_ref().map_or(replicas, |h| h.min_replicas);
    let pdb_enabled = r.pick("podDisruptionBudget.enabled", None, |d| {
        d.pod_disruption_budget.as_ref()?.enabled
    });
    let pdb_max_unavailable = r.pick("podDisruptionBudget.maxUnavailable", None, |d| {
        d.pod_disruption_budget.as_ref()?.max_unavailable.clone()
    });
    // One replica under a PDB blocks every node drain; a PDB only helps from two up.
    let pdb_max_unavailable = (pdb_enabled && minimum_replicas >= 2).then_some(pdb_max_unavailable);

    let ingress = r.ingress(&name, &namespace, &mut errors);

    let pod_security_context = r.pick("podSecurityContext", None, |d| {
        d.pod_security_context.clone()
    });
    let container_security_context = r.pick("containerSecurityContext", None, |d| {
        d.container_security_context.clone()
    });
    let automount_service_account_token = r.pick("automountServiceAccountToken", None, |d| {
        d.automount_service_account_token
    });
    let topology_enabled = r.pick("topologySpread.enabled", None, |d| {
        d.topology_spread.as_ref()?.enabled
    });
    let topology_spread = topology_enabled.then(|| TopologySettings {
        topology_keys: r.pick("topologySpread.topologyKeys", None, |d| {
            d.topology_spread.as_ref()?.topology_keys.clone()
        }),
        max_skew: r.pick("topologySpread.maxSkew", None, |d| {
            d.topology_spread.as_ref()?.max_skew
        }),
        when_unsatisfiable: r.pick("topologySpread.whenUnsatisfiable", None, |d| {
            d.topology_spread.as_ref()?.when_unsatisfiable.clone()
        }),
    });
    let labels = r.merged_map("labels", |d| &d.labels);
    let annotations = r.merged_map("annotations", |d| &d.annotations);
    let config_mount_path = r.pick(
        "configMountPath",
        spec.config.as_ref().and_then(|c| c.mount_path.clone()),
        |d| d.config_mount_path.clone(),
    );

    if !errors.is_empty() {
        return Err(RenderError::InvalidSpec(errors));
    }
    Ok(Settings {
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
        labels,
        annotations,
        config_mount_path,
        provenance: r.provenance,
        platforms: platform.names(),
    })
}

fn is_zero(value: &IntOrString) -> bool {
    match value {
        IntOrString::Int(n) => *n == 0,
        IntOrString::String(s) => s.trim_end_matches('%').trim() == "0",
    }
}

/// Walks the layers for one knob at a time and records where each value came from.
struct Resolver<'a> {
    spec: &'a AppSpec,
    layers: &'a [PlatformLayer],
    builtin: PlatformDefaults,
    provenance: BTreeMap<String, Provenance>,
}

impl<'a> Resolver<'a> {
    fn new(spec: &'a AppSpec, platform: &'a EffectivePlatform) -> Self {
        Self {
            spec,
            layers: &platform.layers,
            builtin: builtin::defaults(),
            provenance: BTreeMap::new(),
        }
    }

    fn record<T: Serialize>(&mut self, key: &str, value: &T, source: Source) {
        let value = serde_json::to_string(value).unwrap_or_default();
        self.provenance
            .insert(key.to_string(), Provenance { value, source });
    }

    fn source_of(&self, key: &str) -> String {
        self.provenance
            .get(key)
            .map_or_else(|| "unset".to_string(), |p| p.source.to_string())
    }

    /// The App's value if it set one, else the highest Platform's, else the built-in one.
    fn pick_optional<T: Clone + Serialize>(
        &mut self,
        key: &str,
        from_app: Option<T>,
        from_defaults: impl Fn(&PlatformDefaults) -> Option<T>,
    ) -> Option<T> {
        let found = from_app.map(|v| (v, Source::App)).or_else(|| {
            self.layers
                .iter()
                .rev()
                .find_map(|l| {
                    from_defaults(&l.defaults).map(|v| (v, Source::Platform(l.name.clone())))
                })
                .or_else(|| from_defaults(&self.builtin).map(|v| (v, Source::BuiltIn)))
        });
        if let Some((value, source)) = &found {
            self.record(key, value, source.clone());
        }
        found.map(|(value, _)| value)
    }

    /// Like [`Self::pick_optional`] for knobs the built-in layer always sets.
    fn pick<T: Clone + Serialize>(
        &mut self,
        key: &str,
        from_app: Option<T>,
        from_defaults: impl Fn(&PlatformDefaults) -> Option<T>,
    ) -> T {
        self.pick_optional(key, from_app, from_defaults)
            .unwrap_or_else(|| panic!("built-in defaults set every required knob, but not {key}"))
    }

    fn resources(&mut self, key: &str, own: Option<&Resources>) -> ResourceSettings {
        let cpu = self.pick(
            &format!("{key}.cpu"),
            own.and_then(|r| r.cpu.clone()),
            |d| d.resources.as_ref()?.cpu.clone(),
        );
        let memory = self.pick(
            &format!("{key}.memory"),
            own.and_then(|r| r.memory.clone()),
            |d| d.resources.as_ref()?.memory.clone(),
        );
        let cpu_limit = self.pick_optional(
            &format!("{key}.cpuLimit"),
            own.and_then(|r| r.cpu_limit.clone()),
            |d| d.resources.as_ref()?.cpu_limit.clone(),
        );
        let memory_key = format!("{key}.memoryLimit");
        let memory_limit =
            match self.pick_optional(&memory_key, own.and_then(|r| r.memory_limit.clone()), |d| {
                d.resources.as_ref()?.memory_limit.clone()
            }) {
                Some(limit) => limit,
                None => {
                    self.record(
                        &memory_key,
                        &memory,
                        Source::Rule("equal to the memory request".into()),
                    );
                    memory.clone()
                }
            };
        ResourceSettings {
            cpu,
            memory,
            cpu_limit,
            memory_limit,
        }
    }

    /// The App's readiness probe over the Platform's default probe, leaf by leaf.
    fn readiness_probe(&mut self) -> Option<Probe> {
        let own = self.spec.readiness_probe.clone();
        if own.is_none() && self.spec.ports.is_empty() {
            // Nothing to connect to: a default TCP probe would never pass.
            return None;
        }
        let own = own.unwrap_or_default();
        let probe = Probe {
            path: self.pick_optional("readinessProbe.path", own.path, |d| {
                d.readiness_probe.as_ref()?.path.clone()
            }),
            port: self.readiness_probe_port(own.port),
            initial_delay_seconds: self.pick_optional(
                "readinessProbe.initialDelaySeconds",
                own.initial_delay_seconds,
                |d| d.readiness_probe.as_ref()?.initial_delay_seconds,
            ),
            period_seconds: self.pick_optional(
                "readinessProbe.periodSeconds",
                own.period_seconds,
                |d| d.readiness_probe.as_ref()?.period_seconds,
            ),
            timeout_seconds: self.pick_optional(
                "readinessProbe.timeoutSeconds",
                own.timeout_seconds,
                |d| d.readiness_probe.as_ref()?.timeout_seconds,
            ),
            failure_threshold: self.pick_optional(
                "readinessProbe.failureThreshold",
                own.failure_threshold,
                |d| d.readiness_probe.as_ref()?.failure_threshold,
            ),
        };
        Some(probe)
    }

    fn readiness_probe_port(&mut self, own: Option<String>) -> Option<String> {
        let key = "readinessProbe.port";
        let port = self.pick_optional(key, own, |d| d.readiness_probe.as_ref()?.port.clone())?;
        if self.spec.ports.iter().any(|p| p.name == port) {
            return Some(port);
        }
        // Admission checks the App's own port names, so this one is a Platform default that
        // does not fit this App. Probing the first port beats silently having no probe at all.
        let first = self.spec.ports.first().map(|p| p.name.clone());
        self.record(
            key,
            &first,
            Source::Rule(format!(
                "the default port {port:?} is not one of this App's ports; the first port"
            )),
        );
        first
    }

    fn ingress(
        &mut self,
        name: &str,
        namespace: &str,
        errors: &mut Vec<FieldError>,
    ) -> Option<IngressSettings> {
        let own = self.spec.ingress.clone().unwrap_or_default();
        let enabled = self.pick("ingress.enabled", own.enabled, |d| {
            d.ingress.as_ref()?.enabled
        });
        let first_port = self.spec.ports.first()?;
        if !enabled {
            return None;
        }
        let class_name = self.pick_optional("ingress.className", None, |d| {
            d.ingress.as_ref()?.class_name.clone()
        });
        let template = self.pick("ingress.hostTemplate", None, |d| {
            d.ingress.as_ref()?.host_template.clone()
        });
        let host = match own.host {
            Some(host) => {
                self.record("ingress.host", &host, Source::App);
                host
            }
            None => {
                let host = template
                    .replace("{name}", name)
                    .replace("{namespace}", namespace);
                if !is_dns_name(&host) {
                    errors.push(FieldError::new(
                        "spec.ingress.host",
                        format!(
                            "the host template {template:?} ({}) gives {host:?}, which is not a valid DNS name (labels of at most 63 lowercase characters); set spec.ingress.host or fix ingress.hostTemplate in the Platform",
                            self.source_of("ingress.hostTemplate")
                        ),
                    ));
                }
                host
            }
        };
        let paths = if own.paths.is_empty() {
            vec!["/".to_string()]
        } else {
            own.paths
        };
        let port = own.port.unwrap_or_else(|| first_port.name.clone());
        let tls_enabled = self.pick("ingress.tls.enabled", None, |d| {
            d.ingress.as_ref()?.tls.as_ref()?.enabled
        });
        let tls = if tls_enabled {
            let cluster_issuer = self.pick_optional("ingress.tls.clusterIssuer", None, |d| {
                d.ingress.as_ref()?.tls.as_ref()?.cluster_issuer.clone()
            });
            let secret_name = self
                .pick("ingress.tls.secretNameTemplate", None, |d| {
                    d.ingress
                        .as_ref()?
                        .tls
                        .as_ref()?
                        .secret_name_template
                        .clone()
                })
                .replace("{name}", name);
            if !is_dns_subdomain(&secret_name) {
                errors.push(FieldError::new(
                    "ingress.tls.secretNameTemplate",
                    format!(
                        "gives the Secret name {secret_name:?}, which is not a valid DNS-1123 subdomain; fix it in {}",
                        self.source_of("ingress.tls.secretNameTemplate")
                    ),
                ));
            }
            Some(TlsSettings {
                cluster_issuer,
                secret_name,
            })
        } else {
            None
        };
        Some(IngressSettings {
            class_name,
            host,
            paths,
            port,
            tls,
        })
    }

    /// Maps add up across layers; a higher layer wins on the same key.
    fn merged_map(
        &mut self,
        key: &str,
        get: impl Fn(&PlatformDefaults) -> &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut merged = get(&self.builtin).clone();
        let mut sources = Vec::new();
        for layer in self.layers {
            let map = get(&layer.defaults);
            if !map.is_empty() {
                sources.push(layer.name.clone());
                merged.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        if !merged.is_empty() {
            let source = match sources.len() {
                0 => Source::BuiltIn,
                1 => Source::Platform(sources.remove(0)),
                _ => Source::Platform(sources.join("+")),
            };
            self.record(key, &merged, source);
        }
        merged
    }
}

/// A DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// A DNS-1123 subdomain, as Kubernetes checks object names such as a Secret's: at most 253
/// characters, with no 63-character limit on the parts between dots (unlike DNS host names).
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A host name as an Ingress rule takes it: DNS labels of at most 63 characters, at most 253 in
/// all, optionally with a leading `*.`.
fn is_dns_name(text: &str) -> bool {
    let host = text.strip_prefix("*.").unwrap_or(text);
    is_dns_subdomain(host) && host.split('.').all(is_dns_label)
}
