//! Invalid Apps and Platforms, each rejected with the offending field and a message that says
//! what to do. The table is `data/invalid.yaml` (the e2e suite sends the same cases to a real
//! API server): admission cases go through `manifest::parse` (strict fields + the CRDs' CEL
//! rules, as `kubectl apply` would); guardrails and resolve-time rules go through `render`.

mod common;

use baseplate_crd::error::{ManifestError, PolicyViolation};
use baseplate_crd::{FieldError, RenderError, manifest};
use common::{app_with_spec, platform_with_spec, try_render};

use common::cases::{self, Case, Reason, Where};

/// The cases of `crd/tests/data/invalid.yaml` this issue started from; the table holds at
/// least 100 more.
const CASES_BEFORE_ISSUE_9_PART_2: usize = 177;

#[test]
fn the_table_has_at_least_100_new_cases_with_unique_names() {
    let cases = cases::all();
    assert!(
        cases.len() >= CASES_BEFORE_ISSUE_9_PART_2 + 100,
        "{} cases",
        cases.len()
    );
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    for case in &cases {
        assert!(!case.errors.is_empty(), "{}: no expected error", case.name);
        assert!(
            case.platforms.is_empty() || case.refused == Where::Status,
            "{}: only status cases have Platforms",
            case.name
        );
    }
}

/// Each case is refused exactly where the table says: admission and offline cases by
/// `manifest::parse` (strict fields, the CRDs' schema and CEL, as `kubectl apply` would),
/// status cases not there but by `render` with their Platforms, with exactly the listed errors.
#[test]
fn every_case_is_refused_where_the_table_says_with_its_field_and_the_fix() {
    let cases = cases::all();
    let failures: Vec<String> = cases.iter().filter_map(|case| check(case).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn check(case: &Case) -> Result<(), String> {
    let text = case.document();
    let found: Vec<(String, String)> = match (case.refused, manifest::parse("test", &text)) {
        (Where::Admission | Where::Offline, Err(ManifestError::Invalid { errors, .. })) => {
            errors.into_iter().map(|e| (e.field, e.message)).collect()
        }
        (Where::Admission | Where::Offline, other) => {
            return Err(format!(
                "{}: expected field errors, got {other:?}",
                case.name
            ));
        }
        (Where::Status, Ok(manifests)) => {
            let [app] = &manifests.apps[..] else {
                return Err(format!("{}: expected one App", case.name));
            };
            let mut platforms = Vec::new();
            for (name, document) in case.platform_documents() {
                let parsed = manifest::parse(&name, &document)
                    .map_err(|e| format!("{}: its Platform {name} is refused: {e}", case.name))?;
                platforms.extend(parsed.platforms);
            }
            let found: Vec<(String, String)> = match (case.reason, try_render(app, &platforms)) {
                (Reason::InvalidSpec, Err(RenderError::InvalidSpec(errors))) => {
                    errors.into_iter().map(|e| (e.field, e.message)).collect()
                }
                (Reason::PolicyViolation, Err(RenderError::PolicyViolation(violations))) => {
                    // What a user reads: field, limit and Platform in one line.
                    let text = RenderError::PolicyViolation(violations.clone()).to_string();
                    if !text.contains("(limit set by platform/p0)") {
                        return Err(format!("{}: the Platform is not named: {text}", case.name));
                    }
                    violations
                        .into_iter()
                        .map(|v| (v.field, v.message))
                        .collect()
                }
                (_, other) => {
                    return Err(format!(
                        "{}: expected {:?}, got {other:?}",
                        case.name, case.reason
                    ));
                }
            };
            if found.len() != case.errors.len() {
                return Err(format!(
                    "{}: expected {} errors, got {found:?}",
                    case.name,
                    case.errors.len()
                ));
            }
            found
        }
        (Where::Status, Err(e)) => {
            return Err(format!(
                "{}: a status case must pass admission, but: {e}",
                case.name
            ));
        }
    };
    let missing: Vec<String> = case
        .errors
        .iter()
        .filter(|want| {
            !found
                .iter()
                .any(|(field, message)| *field == want.field && message.contains(&want.message))
        })
        .map(|want| format!("{} with {:?}", want.field, want.message))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: expected {}; got:\n{}",
            case.name,
            missing.join(", "),
            found
                .iter()
                .map(|(f, m)| format!("    {f}: {m}\n"))
                .collect::<String>()
        ))
    }
}

const PORT: &str = "ports: [{name: http, containerPort: 8080}]";

/// The documents the cases build on are valid, so each case fails for what it adds.
#[test]
fn the_base_documents_are_valid() {
    let app = app_with_spec("web", &format!("image: nginx:1.27\n{PORT}\n"));
    assert!(baseplate_crd::admission::check_app(&app).is_empty());
    let platform = platform_with_spec("defaults", "{}");
    assert!(baseplate_crd::admission::check_platform(&platform).is_empty());
}

/// Real label selectors and well-formed registry entries pass admission, and the selector matches.
#[test]
fn real_selectors_and_registry_entries_are_accepted() {
    let platform = platform_with_spec(
        "guarded",
        "namespaceSelector:\n  matchLabels: {kubernetes.io/metadata.name: shop}\n  matchExpressions:\n    - {key: example.com/tier, operator: In, values: [prod, staging]}\n    - {key: team, operator: NotIn, values: [sandbox]}\n    - {key: owner, operator: Exists}\n    - {key: legacy, operator: DoesNotExist}\nlimits:\n  allowedRegistries: [registry.example.com, registry.example.com/, docker.io/library, 'localhost:5000', 'myregistry:5000/team/', 10.0.0.1, index.docker.io/bitnami]\n",
    );
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let shop = labels(&[
        ("kubernetes.io/metadata.name", "shop"),
        ("example.com/tier", "prod"),
        ("team", "payments"),
        ("owner", "sre"),
    ]);
    let select = |labels| {
        baseplate_crd::EffectivePlatform::select(std::slice::from_ref(&platform), labels).names()
    };
    assert_eq!(select(&shop), ["guarded"]);
    let mut legacy = shop.clone();
    legacy.insert("legacy".into(), "yes".into());
    assert!(select(&legacy).is_empty());
}

#[test]
fn yaml_that_is_not_yaml_is_a_parse_error_with_the_source_name() {
    let error = manifest::parse("broken.yaml", "spec: [unclosed").unwrap_err();
    assert!(matches!(error, ManifestError::Parse { .. }), "{error}");
    assert!(error.to_string().starts_with("broken.yaml: "), "{error}");
}

#[test]
fn documents_of_another_kind_are_refused() {
    let error = manifest::parse(
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    )
    .unwrap_err();
    assert!(
        matches!(&error, ManifestError::UnexpectedKind { index: 1, problem, .. } if problem == "kind: Deployment is not an App or a Platform"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// Through render(): rules that need the Platforms, and the guardrails.

fn invalid_spec(app_spec: &str, platforms: &[&str]) -> Vec<FieldError> {
    let app = app_with_spec("web", app_spec);
    let platforms: Vec<_> = platforms
        .iter()
        .enumerate()
        .map(|(i, spec)| platform_with_spec(&format!("p{i}"), spec))
        .collect();
    match try_render(&app, &platforms) {
        Err(RenderError::InvalidSpec(errors)) => errors,
        other => panic!("expected InvalidSpec, got {other:?}"),
    }
}

#[test]
fn min_replicas_from_a_platform_above_the_apps_max_names_both_layers() {
    let errors = invalid_spec(
        "image: nginx:1.27\nautoscaling: {maxReplicas: 3}",
        &["defaults: {autoscaling: {minReplicas: 5}}"],
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "spec.autoscaling");
    assert!(
        errors[0]
            .message
            .contains("minReplicas 5 (platform/p0) exceeds maxReplicas 3 (app)"),
        "{}",
        errors[0]
    );
}

/// Admission refuses such a template (it cannot give every App a host name); one in a Platform
/// stored before that rule is caught when an App is resolved.
#[test]
fn a_host_template_that_gives_an_invalid_host_is_an_error() {
    let app = app_with_spec("web", &format!("image: nginx:1.27\n{PORT}"));
    let stored_earlier: baseplate_crd::Platform = serde_saphyr::from_str(
        "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: p0}\nspec:\n  defaults: {ingress: {hostTemplate: '{name}_{namespace}.example.com'}}\n",
    )
    .unwrap();
    let errors = match try_render(&app, &[stored_earlier]) {
        Err(RenderError::InvalidSpec(errors)) => errors,
        other => panic!("expected InvalidSpec, got {other:?}"),
    };
    assert_eq!(errors[0].field, "spec.ingress.host");
    assert!(
        errors[0]
            .message
            .contains("\"web_default.example.com\", which is not a valid DNS name"),
        "{}",
        errors[0]
    );
    assert!(errors[0].message.contains("platform/p0"), "{}", errors[0]);
}

#[test]
fn rolling_update_zero_across_two_platforms_is_an_error() {
    let errors = invalid_spec(
        &format!("image: nginx:1.27\n{PORT}"),
        &[
            "priority: 1\ndefaults: {rollingUpdate: {maxSurge: 0}}",
            "priority: 2\ndefaults: {rollingUpdate: {maxUnavailable: 0%}}",
        ],
    );
    assert_eq!(errors[0].field, "rollingUpdate");
    assert!(
        errors[0]
            .message
            .contains("maxSurge (platform/p0) and maxUnavailable (platform/p1) are both zero"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_app_without_a_namespace_cannot_be_resolved() {
    let mut app = app_with_spec("web", "image: nginx:1.27");
    app.metadata.namespace = None;
    let error = baseplate_crd::render(&app, &common::select(&[]), &Default::default()).unwrap_err();
    assert!(
        matches!(&error, RenderError::InvalidSpec(e) if e[0].field == "metadata.namespace"),
        "{error}"
    );
}

#[test]
fn a_generated_secret_without_a_value_is_reported_not_invented() {
    let app = app_with_spec("web", "image: nginx:1.27\nsecrets: {generate: [TOKEN]}");
    let error = baseplate_crd::render(&app, &common::select(&[]), &Default::default()).unwrap_err();
    assert_eq!(error, RenderError::GeneratedSecretMissing("TOKEN".into()));
}

fn violations(
    app_spec: &str,
    platforms: &[(&str, &str)],
) -> Result<baseplate_crd::Children, Vec<PolicyViolation>> {
    let app = app_with_spec("web", app_spec);
    let platforms: Vec<_> = platforms
        .iter()
        .map(|(name, spec)| platform_with_spec(name, spec))
        .collect();
    match try_render(&app, &platforms) {
        Ok(children) => Ok(children),
        Err(RenderError::PolicyViolation(violations)) => Err(violations),
        Err(other) => panic!("expected a policy violation, got {other}"),
    }
}

#[test]
fn values_within_the_guardrails_render() {
    let within: &[(&str, &str)] = &[
        (
            "image: nginx:1.27\nautoscaling: {maxReplicas: 10}",
            "maxReplicas: 10",
        ),
        ("image: nginx:1.27\nreplicas: 10", "maxReplicas: 10"),
        (
            "image: registry.example.com/team/api:1",
            "allowedRegistries: [registry.example.com/]",
        ),
        (
            "image: nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: docker.io/library/nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: docker.io/nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: index.docker.io/library/nginx:1.27",
            "allowedRegistries: [docker.io/library/]",
        ),
        (
            "image: someone/tool:1",
            "allowedRegistries: [docker.io/someone/]",
        ),
        (
            "image: localhost:5000/api:1",
            "allowedRegistries: ['localhost:5000/']",
        ),
        (
            "image: nginx:1.27\nresources: {cpu: 100m, memory: 128Mi}",
            "requireResourceRequests: true",
        ),
        (
            "image: nginx:1.27\nresources: {cpu: 4000m, memory: 8Gi}",
            "maxCpu: '4'\nmaxMemory: 8Gi",
        ),
        // Entries without the trailing `/`, with paths, and with ports; images with digests.
        (
            "image: registry.example.com/team/api:1",
            "allowedRegistries: [registry.example.com]",
        ),
        (
            "image: registry.example.com/team/sub/api:1",
            "allowedRegistries: [registry.example.com/team]",
        ),
        (
            "image: registry.example.com/team:1",
            "allowedRegistries: [registry.example.com/team]",
        ),
        (
            "image: Registry.Example.com/team/api:1",
            "allowedRegistries: [registry.example.com]",
        ),
        (
            "image: registry.example.com/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "allowedRegistries: [registry.example.com]",
        ),
        (
            "image: registry.example.com/api:1.4@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "allowedRegistries: [registry.example.com/]",
        ),
        ("image: nginx", "allowedRegistries: [docker.io/library]"),
        ("image: someone/tool:1", "allowedRegistries: [docker.io]"),
        (
            "image: nginx:1.27",
            "allowedRegistries: [index.docker.io/library]",
        ),
        (
            "image: localhost:5000/api:1",
            "allowedRegistries: ['localhost:5000']",
        ),
        (
            "image: 10.0.0.1:5000/team/api:1",
            "allowedRegistries: ['10.0.0.1:5000/team']",
        ),
        (
            "image: registry.example.com/api:1\nsidecars: [{name: proxy, image: 'ghcr.io/acme/envoy:1'}]",
            "allowedRegistries: [registry.example.com, ghcr.io/acme]",
        ),
        // Equal values in other forms are within the limit; binary values cap at 2^63-1.
        (
            "image: nginx:1.27\nresources: {cpu: '4e0', cpuLimit: 0.004k, memory: '8589934592'}",
            "maxCpu: 4000m\nmaxMemory: 8Gi",
        ),
        (
            "image: nginx:1.27\nresources: {cpu: 4000000000n, memory: 8388608Ki}",
            "maxCpu: '4'\nmaxMemory: 8Gi",
        ),
        (
            "image: nginx:1.27\nresources: {memory: 16Ei}",
            "maxMemory: 8Ei",
        ),
    ];
    for (app, limits) in within {
        let limits: String = limits.lines().map(|l| format!("  {l}\n")).collect();
        if let Err(found) = violations(app, &[("guardrails", &format!("limits:\n{limits}"))]) {
            panic!("{app} under {limits}: {found:?}");
        }
    }
}

#[test]
fn every_matching_platforms_limits_hold_and_each_violation_names_its_own_platform() {
    let found = violations(
        "image: nginx:1.27\nreplicas: 8",
        &[
            ("team", "priority: 100\nlimits: {maxReplicas: 20}"),
            (
                "org",
                "priority: 0\nlimits: {maxReplicas: 5, allowedRegistries: [registry.example.com/]}",
            ),
        ],
    )
    .unwrap_err();
    let mut pairs: Vec<(&str, &str)> = found
        .iter()
        .map(|v| (v.field.as_str(), v.platform.as_str()))
        .collect();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        [("spec.image", "org"), ("spec.replicas", "org")],
        "a higher priority does not lift a lower Platform's limit: {found:?}"
    );
}
