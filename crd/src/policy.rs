//! Guardrails: the Platforms' `limits`, checked against the resolved App. The schema cannot
//! know them, so each violation names the field, the limit and the Platform that set it.

use crate::app::AppSpec;
use crate::error::PolicyViolation;
use crate::image::{ImageRef, RegistryEntry};
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
    let Some(max) = layer.limits.max_replicas.filter(|_| !settings.batch_only) else {
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

/// An image is allowed when one entry admits it (see [`crate::image`] for the exact matching).
/// An image that cannot be parsed is refused, never waved through.
fn check_registries(spec: &AppSpec, layer: &PlatformLayer, violate: &mut impl FnMut(&str, String)) {
    let allowed = &layer.limits.allowed_registries;
    if allowed.is_empty() {
        return;
    }
    let parsed: Vec<(&str, Option<RegistryEntry>)> = allowed
        .iter()
        .map(|text| (text.as_str(), RegistryEntry::parse(text)))
        .collect();
    let entries: Vec<&RegistryEntry> = parsed.iter().filter_map(|(_, e)| e.as_ref()).collect();
    let listed: Vec<&str> = parsed
        .iter()
        .filter(|(_, e)| e.is_some())
        .map(|(text, _)| *text)
        .collect();
    // Admission refuses such entries; one in a Platform from before that rule admits nothing.
    let malformed: Vec<String> = parsed
        .iter()
        .filter(|(_, e)| e.is_none())
        .map(|(text, _)| format!("{text:?}"))
        .collect();
    let ignored = if malformed.is_empty() {
        String::new()
    } else {
        format!(
            " (not a registry host or host/path, so admitting nothing: {})",
            malformed.join(", ")
        )
    };
    // Every image a pod of the App's runs, the jobs' included.
    let images = std::iter::once(("spec.image".to_string(), &spec.image))
        .chain(
            spec.sidecars
                .iter()
                .map(|s| (format!("spec.sidecars[{}].image", s.name), &s.image)),
        )
        .chain(
            spec.migrate
                .iter()
                .filter_map(|m| m.image.as_ref())
                .map(|image| ("spec.migrate.image".to_string(), image)),
        )
        .chain(spec.cron_jobs.iter().filter_map(|c| {
            c.image
                .as_ref()
                .map(|image| (format!("spec.cronJobs[{}].image", c.name), image))
        }));
    for (field, image) in images {
        let parsed = match ImageRef::parse(image) {
            Ok(parsed) => parsed,
            Err(e) => {
                violate(
                    &field,
                    format!("cannot be checked against allowedRegistries: {e}"),
                );
                continue;
            }
        };
        if !entries.iter().any(|entry| entry.admits(&parsed)) {
            violate(
                &field,
                format!(
                    "image {image:?} is not from an allowed registry; use an image under one of: {}{ignored} \
                     (this one is registry {}, repository {}; an entry admits its registry host exactly \
                     and the repositories under its path)",
                    listed.join(", "),
                    parsed.registry,
                    parsed.repository,
                ),
            );
        }
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

/// Requests and limits against `maxCpu` / `maxMemory`, compared exactly. A value or a limit that
/// cannot be compared is a violation, never skipped.
fn check_resource_caps(
    settings: &Settings,
    layer: &PlatformLayer,
    violate: &mut impl FnMut(&str, String),
) {
    let mut parse_cap = |name: &str, cap: &Option<String>| {
        let cap = cap.as_ref()?;
        match quantity::parse(cap) {
            Ok(value) => Some((cap.clone(), value)),
            Err(e) => {
                violate(
                    &format!("spec.limits.{name}"),
                    format!("is {cap:?}, which {e}; fix this Platform's limits.{name}"),
                );
                None
            }
        }
    };
    let cpu_cap = parse_cap("maxCpu", &layer.limits.max_cpu);
    let memory_cap = parse_cap("maxMemory", &layer.limits.max_memory);
    // The migration runs with the main container's resources; cron jobs with their own.
    let containers = std::iter::once(("spec.resources".to_string(), &settings.resources))
        .chain(
            settings
                .sidecar_resources
                .iter()
                .map(|(name, r)| (format!("spec.sidecars[{name}].resources"), r)),
        )
        .chain(
            settings
                .cron_jobs
                .iter()
                .map(|c| (format!("spec.cronJobs[{}].resources", c.name), &c.resources)),
        );
    for (field, resources) in containers {
        let ResourceSettings {
            cpu,
            memory,
            cpu_limit,
            memory_limit,
        } = resources;
        let checks = [
            (&cpu_cap, "maxCpu", "cpu", Some(cpu)),
            (&cpu_cap, "maxCpu", "cpuLimit", cpu_limit.as_ref()),
            (&memory_cap, "maxMemory", "memory", Some(memory)),
            (&memory_cap, "maxMemory", "memoryLimit", Some(memory_limit)),
        ];
        for (cap, cap_name, name, value) in checks {
            let (Some((cap, cap_value)), Some(value)) = (cap, value) else {
                continue;
            };
            let field = format!("{field}.{name}");
            match quantity::parse(value) {
                Ok(parsed) if parsed > *cap_value => violate(
                    &field,
                    format!("is {value} but at most {cap} is allowed per container; lower it"),
                ),
                Ok(_) => {}
                Err(e) => violate(
                    &field,
                    format!(
                        "is {value:?}, which {e}; it must compare with limits.{cap_name} {cap}"
                    ),
                ),
            }
        }
    }
}
