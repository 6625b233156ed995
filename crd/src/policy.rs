//! Guardrails: the Platforms' `limits`, checked against the resolved App. The schema cannot
//! know them, so each violation names the field, the limit and the Platform that set it.

use crate::app::AppSpec;
use crate::error::PolicyViolation;
use crate::quantity;
use crate::resolve::{EffectivePlatform, PlatformLayer, ResourceSettings, Settings};

/// Every guardrail of every matching Platform that the App crosses.
pub fn check(
    spec: &AppSpec,
    settings: &Settings,
    platform: &EffectivePlatform,
) -> Vec<PolicyViolation> {
    let mut violations = Vec::new();
    for layer in &platform.layers {
        let mut violate = |field: &str, message: String| {
            violations.push(PolicyViolation {
                field: field.to_string(),
                message,
                platform: layer.name.clone(),
            })
        };
        check_replicas(settings, layer, &mut violate);
        check_registries(spec, layer, &mut violate);
        check_required_requests(spec, layer, &mut violate);
        check_resource_caps(settings, layer, &mut violate);
    }
    violations
}

fn check_replicas(
    settings: &Settings,
    layer: &PlatformLayer,
    violate: &mut impl FnMut(&str, String),
) {
    let Some(max) = layer.limits.max_replicas else {
        return;
    };
    match &settings.autoscaling {
        Some(hpa) if hpa.max_replicas > max => violate(
            "spec.autoscaling.maxReplicas",
            format!(
                "is {} but at most {max} replicas are allowed; lower it to {max} or less",
                hpa.max_replicas
            ),
        ),
        None if settings.replicas > max => violate(
            "spec.replicas",
            format!(
                "is {} but at most {max} replicas are allowed; lower it to {max} or less",
                settings.replicas
            ),
        ),
        _ => {}
    }
}

fn check_registries(spec: &AppSpec, layer: &PlatformLayer, violate: &mut impl FnMut(&str, String)) {
    let allowed = &layer.limits.allowed_registries;
    if allowed.is_empty() {
        return;
    }
    let images = std::iter::once(("spec.image".to_string(), &spec.image)).chain(
        spec.sidecars
            .iter()
            .map(|s| (format!("spec.sidecars[{}].image", s.name), &s.image)),
    );
    for (field, image) in images {
        let full = fully_qualified(image);
        if !allowed
            .iter()
            .any(|prefix| image.starts_with(prefix.as_str()) || full.starts_with(prefix.as_str()))
        {
            violate(
                &field,
                format!(
                    "image {image:?} is not from an allowed registry; use an image under one of: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
}

/// `nginx:1.14` is `docker.io/library/nginx:1.14` to a container runtime; guardrails compare both.
pub fn fully_qualified(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let (registry, path) = match image.split_once('/') {
        Some((registry, path)) if has_registry => (registry, path),
        _ => ("docker.io", image),
    };
    // Docker Hub has two host names and keeps its official images under library/, however the
    // name is written: `docker.io/nginx` is `docker.io/library/nginx`.
    match registry {
        "docker.io" | "index.docker.io" if !path.contains('/') => {
            format!("docker.io/library/{path}")
        }
        "docker.io" | "index.docker.io" => format!("docker.io/{path}"),
        _ => image.to_string(),
    }
}

fn check_required_requests(
    spec: &AppSpec,
    layer: &PlatformLayer,
    violate: &mut impl FnMut(&str, String),
) {
    if layer.limits.require_resource_requests != Some(true) {
        return;
    }
    let containers = std::iter::once(("spec.resources".to_string(), spec.resources.as_ref()))
        .chain(spec.sidecars.iter().map(|s| {
            (
                format!("spec.sidecars[{}].resources", s.name),
                s.resources.as_ref(),
            )
        }));
    for (field, resources) in containers {
        for (name, value) in [
            ("cpu", resources.and_then(|r| r.cpu.as_ref())),
            ("memory", resources.and_then(|r| r.memory.as_ref())),
        ] {
            if value.is_none() {
                violate(
                    &format!("{field}.{name}"),
                    format!(
                        "must be set: this platform requires every container to state its own {name} request"
                    ),
                );
            }
        }
    }
}

fn check_resource_caps(
    settings: &Settings,
    layer: &PlatformLayer,
    violate: &mut impl FnMut(&str, String),
) {
    let containers = std::iter::once(("spec.resources".to_string(), &settings.resources)).chain(
        settings
            .sidecar_resources
            .iter()
            .map(|(name, r)| (format!("spec.sidecars[{name}].resources"), r)),
    );
    for (field, resources) in containers {
        let ResourceSettings {
            cpu,
            memory,
            cpu_limit,
            memory_limit,
        } = resources;
        let cpu_values = [("cpu", Some(cpu)), ("cpuLimit", cpu_limit.as_ref())];
        let memory_values = [
            ("memory", Some(memory)),
            ("memoryLimit", Some(memory_limit)),
        ];
        for (cap, values) in [
            (&layer.limits.max_cpu, &cpu_values[..]),
            (&layer.limits.max_memory, &memory_values[..]),
        ] {
            let Some(cap) = cap else { continue };
            let Some(cap_value) = quantity::parse(cap) else {
                continue;
            };
            for (name, value) in values {
                if let Some(value) = value
                    && quantity::parse(value).is_some_and(|v| v > cap_value)
                {
                    violate(
                        &format!("{field}.{name}"),
                        format!("is {value} but at most {cap} is allowed per container; lower it"),
                    );
                }
            }
        }
    }
}
