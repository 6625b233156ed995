//! What the children must satisfy, checked on the resolved settings: the rules the API server or
//! the kubelet would otherwise be the first to apply, where a Platform's default can break them
//! (a CPU limit below the App's request) or where CEL cannot compute them (sums of sizes, whole
//! bytes, an image's normalised name). The CRDs' CEL rules check each App and Platform on its own; these run on every
//! resolution, by the operator (which reports `Degraded/InvalidSpec` and leaves the children as
//! they were) and by `baseplate render` alike, so the two refuse the same Apps.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::MetricSpec;

use crate::app::AppSpec;
use crate::error::FieldError;
use crate::image::ImageRef;
use crate::labels;
use crate::mount_path;
use crate::names;
use crate::quantity;
use crate::secrets::DIGEST_HEX_LEN;
use crate::settings::{ResourceSettings, Settings};

/// The API server's limit on a ConfigMap's or a Secret's data (`MaxSecretSize`, 1 MiB).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// Every rule of this module the App breaks with these settings.
pub fn check(spec: &AppSpec, settings: &Settings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let source = |key: &str| {
        settings
            .provenance
            .get(key)
            .map_or_else(|| "unset".to_string(), |p| p.source.to_string())
    };
    errors.extend(namespace_is_a_name(&settings.namespace));
    let images = std::iter::once(("spec.image".to_string(), &spec.image)).chain(
        spec.sidecars
            .iter()
            .map(|s| (format!("spec.sidecars[{}].image", s.name), &s.image)),
    );
    for (field, image) in images {
        // Admission has checked the grammar; the name's length is left to this check.
        if let Err(e) = ImageRef::parse(image)
            && e.is_only_too_long()
        {
            errors.push(FieldError::new(field, e.to_string()));
        }
    }
    errors.extend(container_resources(
        "spec.resources",
        "resources",
        &settings.resources,
        &source,
    ));
    for (name, resources) in &settings.sidecar_resources {
        errors.extend(container_resources(
            &format!("spec.sidecars[{name}].resources"),
            &format!("sidecars[{name}].resources"),
            resources,
            &source,
        ));
    }
    errors.extend(rollout_deadline(settings, &source));
    errors.extend(metadata(spec, settings, &source));
    errors.extend(config_size(spec));
    if let Some(hpa) = &settings.autoscaling {
        errors.extend(metric_quantities(
            &hpa.metrics,
            &source("autoscaling.metrics"),
        ));
    }
    errors.extend(scratch_volumes(spec, settings, &source));
    if spec.config.as_ref().is_some_and(|c| !c.files.is_empty()) {
        errors.extend(
            mount_path::problem(&settings.config_mount_path).map(|problem| {
                FieldError::new(
                    "spec.config.mountPath",
                    format!(
                        "{:?} ({}) cannot hold the config files: {problem}; config.mountPath {}",
                        settings.config_mount_path,
                        source("configMountPath"),
                        mount_path::message!()
                    ),
                )
            }),
        );
    }
    errors
}

/// The App's writable volumes against what CEL cannot see: the config mount path a Platform or
/// the built-in layer sets (normalised as the kubelet reads it), and a Memory volume bigger
/// than the memory limit it counts against, which the container would never get to fill.
fn scratch_volumes(
    spec: &AppSpec,
    settings: &Settings,
    source: &impl Fn(&str) -> String,
) -> Vec<FieldError> {
    let has_files = spec.config.as_ref().is_some_and(|c| !c.files.is_empty());
    let config_path = mount_path::normalised(&settings.config_mount_path);
    let mut errors = Vec::new();
    for volume in &spec.volumes {
        let path = mount_path::normalised(&volume.mount_path);
        if has_files && mount_path::overlap(&path, &config_path) {
            errors.push(FieldError::new(
                format!("spec.volumes[{}].mountPath", volume.name),
                format!(
                    "{:?} overlaps the config files' directory {config_path:?} ({}), which is mounted read-only; give the volume another directory or set config.mountPath",
                    volume.mount_path,
                    source("configMountPath"),
                ),
            ));
        }
        let memory_limit = &settings.resources.memory_limit;
        if volume.medium.is_some()
            && let Some(size) = &volume.size_limit
            && quantity::compare(size, memory_limit) == Some(std::cmp::Ordering::Greater)
        {
            errors.push(FieldError::new(
                format!("spec.volumes[{}].sizeLimit", volume.name),
                format!(
                    "{size} is more than the container's memory limit {memory_limit} ({}), and a Memory volume's files count against that limit: the container would be killed for memory long before the volume is full; lower sizeLimit or raise resources.memoryLimit",
                    source("resources.memoryLimit"),
                ),
            ));
        }
    }
    errors
}

/// Target values of extra metrics that are no Kubernetes quantity: the HPA's schema (and so
/// the App's) takes any string there, the HPA's validation does not.
fn metric_quantities(metrics: &[MetricSpec], source: &str) -> Vec<FieldError> {
    let targets = metrics.iter().enumerate().flat_map(|(i, m)| {
        [
            ("resource", m.resource.as_ref().map(|s| &s.target)),
            (
                "containerResource",
                m.container_resource.as_ref().map(|s| &s.target),
            ),
            ("pods", m.pods.as_ref().map(|s| &s.target)),
            ("object", m.object.as_ref().map(|s| &s.target)),
            ("external", m.external.as_ref().map(|s| &s.target)),
        ]
        .into_iter()
        .filter_map(move |(kind, target)| Some((format!("{i}].{kind}"), target?)))
    });
    targets
        .flat_map(|(at, target)| {
            [("value", &target.value), ("averageValue", &target.average_value)]
                .into_iter()
                .filter_map(move |(name, value)| {
                    let value = value.as_ref()?;
                    (!quantity::is_valid(&value.0)).then(|| {
                        FieldError::new(
                            format!("spec.autoscaling.metrics[{at}.target.{name}"),
                            format!(
                                "{:?} ({source}) is not a Kubernetes quantity; write a number such as 100, 0.5 or 2k",
                                value.0
                            ),
                        )
                    })
                })
        })
        .collect()
}

/// A namespace Kubernetes could not create (a file's `metadata.namespace`, `--namespace`).
pub fn namespace_is_a_name(namespace: &str) -> Option<FieldError> {
    (!names::is_dns_label(namespace)).then(|| {
        FieldError::new(
            "metadata.namespace",
            format!(
                "{namespace:?} is not a namespace name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit; fix metadata.namespace or --namespace"
            ),
        )
    })
}

/// Limits at least their requests and memory in whole bytes, whichever layers set them.
fn container_resources(
    field: &str,
    key: &str,
    resources: &ResourceSettings,
    source: &impl Fn(&str) -> String,
) -> Vec<FieldError> {
    let ResourceSettings {
        cpu,
        memory,
        cpu_limit,
        memory_limit,
    } = resources;
    let mut errors = Vec::new();
    let pairs = [
        ("cpu", cpu, "cpuLimit", cpu_limit.as_ref()),
        ("memory", memory, "memoryLimit", Some(memory_limit)),
    ];
    for (request, request_value, limit, limit_value) in pairs {
        let Some(limit_value) = limit_value else {
            continue;
        };
        if quantity::limit_below_request(request_value, limit_value) == Some(true) {
            let request_source = source(&format!("{key}.{request}"));
            let limit_source = source(&format!("{key}.{limit}"));
            errors.push(FieldError::new(
                format!("{field}.{limit}"),
                format!(
                    "{limit} {limit_value} ({limit_source}) is below the request {request} {request_value} ({request_source}); a limit must be at least its request: raise {limit} or lower {request} where they are set"
                ),
            ));
        }
    }
    for (name, value) in [("memory", memory), ("memoryLimit", memory_limit)] {
        if quantity::is_whole(value) == Some(false) {
            errors.push(FieldError::new(
                format!("{field}.{name}"),
                format!(
                    "{name} {value:?} ({}) is not a whole number of bytes, which the API server refuses for a pod's memory; write whole bytes, such as 128Mi, 512k or 1073741824",
                    source(&format!("{key}.{name}"))
                ),
            ));
        }
    }
    errors
}

/// A Deployment whose pods must stay ready longer than its progress deadline always fails.
fn rollout_deadline(settings: &Settings, source: &impl Fn(&str) -> String) -> Option<FieldError> {
    (settings.min_ready_seconds >= settings.progress_deadline_seconds).then(|| {
        FieldError::new(
            "minReadySeconds",
            format!(
                "minReadySeconds {} ({}) is not below progressDeadlineSeconds {} ({}), so every rollout would be reported as failed before its pods count as ready; lower minReadySeconds or raise progressDeadlineSeconds in the Platform",
                settings.min_ready_seconds,
                source("minReadySeconds"),
                settings.progress_deadline_seconds,
                source("progressDeadlineSeconds"),
            ),
        )
    })
}

/// Label and annotation keys of every layer, and the annotations' total size on the children
/// and on the pods (the Platforms' annotations, the App's pod annotations and Baseplate's two
/// digests).
fn metadata(
    spec: &AppSpec,
    settings: &Settings,
    source: &impl Fn(&str) -> String,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, map, key) in [
        ("labels", &settings.labels, "labels"),
        ("annotations", &settings.annotations, "annotations"),
    ] {
        for name in map.keys().filter(|k| !labels::is_key(k)) {
            errors.push(FieldError::new(
                field,
                format!(
                    "{name:?} ({}): {field} {}",
                    source(key),
                    labels::KEYS_MESSAGE
                ),
            ));
        }
    }
    let children = labels::annotations_size(&settings.annotations);
    let digests = labels::CONFIG_HASH.len() + labels::SECRET_HASH.len() + 2 * DIGEST_HEX_LEN;
    let pods = pod_annotations_size(&settings.annotations, &spec.pod_annotations) + digests;
    let limit = labels::MAX_ANNOTATIONS_BYTES;
    if children > limit {
        errors.push(FieldError::new(
            "annotations",
            format!(
                "the annotations ({}) add up to {children} bytes, above the API server's limit of {limit} bytes per object; shorten or drop some",
                source("annotations")
            ),
        ));
    } else if pods > limit {
        errors.push(FieldError::new(
            "spec.podAnnotations",
            format!(
                "the pods' annotations (spec.podAnnotations, the Platforms' annotations and Baseplate's two digests) add up to {pods} bytes, above the API server's limit of {limit} bytes per object; shorten or drop some"
            ),
        ));
    }
    errors
}

/// The pods' annotations as the Deployment's template gets them: the App's win on a shared key.
fn pod_annotations_size(
    platform: &BTreeMap<String, String>,
    app: &BTreeMap<String, String>,
) -> usize {
    let mut merged = platform.clone();
    merged.extend(app.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels::annotations_size(&merged)
}

/// The App's ConfigMap (`env`, `config.env`, `config.files`) within the API server's 1 MiB.
fn config_size(spec: &AppSpec) -> Option<FieldError> {
    let mut data = spec.env.clone();
    if let Some(config) = &spec.config {
        data.extend(config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        data.extend(config.files.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    (size > MAX_CONFIG_BYTES).then(|| {
        FieldError::new(
            "spec.config",
            format!(
                "spec.env, spec.config.env and spec.config.files add up to {size} bytes, above the {MAX_CONFIG_BYTES} bytes (1 MiB) a ConfigMap may hold; move large files into the image or a volume"
            ),
        )
    })
}
