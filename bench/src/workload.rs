//! The load: N Apps spread over the load namespaces, the load Platform, and the children
//! rendered offline. No API calls.

use std::collections::BTreeMap;

use baseplate_crd::app::{Port, Secrets};
use baseplate_crd::{App, AppSpec, Children, EffectivePlatform, SecretState};
use k8s_openapi::ByteString;
use kube::Resource;
use serde_json::{Value, json};

/// Label on every namespace, App and Platform the harness makes, and nothing else.
pub const LOAD_LABEL: &str = "baseplate-load";
/// Field manager of the baseline's direct applies.
pub const BASELINE_MANAGER: &str = "baseplate-load-baseline";
/// Field manager of the Apps and the Platform the harness writes.
pub const HARNESS_MANAGER: &str = "baseplate-load";
/// preStopSleepSeconds of the load Platform until the Platform change: the built-in default,
/// so the Platform exists from the start (as in a cluster run by SREs) and changes nothing
/// the baseline renders.
pub const INITIAL_PRE_STOP_SECONDS: i64 = 10;
/// The Platform the harness creates (and deletes) in the platform-change phase.
pub const PLATFORM_NAME: &str = "baseplate-load";

/// The generated secret key every load App declares, so the Secret path is exercised.
pub const SECRET_KEY: &str = "SESSION_KEY";

pub fn namespace_name(index: usize) -> String {
    format!("load-{index}")
}

pub fn namespaces(count: usize) -> Vec<String> {
    (0..count).map(namespace_name).collect()
}

/// `(namespace, name)` of App `index` of `apps`, round-robin over `namespaces` namespaces.
pub fn app_ref(index: usize, namespaces: usize) -> (String, String) {
    (
        namespace_name(index % namespaces),
        format!("app-{index:05}"),
    )
}

/// The reference App (one port, a few env vars) plus one generated secret key: what a typical
/// web service declares. Deterministic in `index`.
pub fn app(index: usize, namespaces: usize) -> App {
    let (namespace, name) = app_ref(index, namespaces);
    let spec = AppSpec {
        image: "nginxinc/nginx-unprivileged:1.27".into(),
        ports: vec![Port {
            name: "http".into(),
            container_port: 8080,
            protocol: None,
        }],
        env: BTreeMap::from([
            ("CURRENT_ENVIRONMENT".into(), "load".into()),
            ("APP_INDEX".into(), index.to_string()),
        ]),
        secrets: Some(Secrets {
            generate: vec![SECRET_KEY.into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut app = App::new(&name, spec);
    app.meta_mut().namespace = Some(namespace);
    app.meta_mut().labels = Some(BTreeMap::from([(LOAD_LABEL.into(), "true".into())]));
    app
}

pub fn apps(count: usize, namespaces: usize) -> Vec<App> {
    (0..count).map(|i| app(i, namespaces)).collect()
}

/// A fixed secret value per App, so the baseline is reproducible.
pub fn secret_state(app: &App) -> SecretState {
    let name = app.meta().name.clone().unwrap_or_default();
    SecretState::new(BTreeMap::from([(
        SECRET_KEY.to_string(),
        ByteString(format!("load-secret-{name}").into_bytes()),
    )]))
}

/// The children of every App with only the built-in defaults, as the operator would render
/// them for an App without a UID (so without owner references).
pub fn render_all(apps: &[App]) -> anyhow::Result<Vec<Children>> {
    render_all_with(apps, &EffectivePlatform::builtin_only())
}

/// The children of every App under `platform`.
pub fn render_all_with(
    apps: &[App],
    platform: &EffectivePlatform,
) -> anyhow::Result<Vec<Children>> {
    apps.iter()
        .map(|app| {
            baseplate_crd::render(app, platform, &secret_state(app))
                .map_err(|e| anyhow::anyhow!("rendering {:?}: {e}", app.meta().name))
        })
        .collect()
}

/// The Deployments of every App once the load Platform's preStop is `pre_stop_seconds`:
/// what the Platform change makes the operator apply.
pub fn deployments_after_platform_change(
    apps: &[App],
    pre_stop_seconds: i64,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let platform: baseplate_crd::Platform =
        serde_json::from_value(platform_manifest(pre_stop_seconds))?;
    let namespace_labels = BTreeMap::from([(LOAD_LABEL.to_string(), "true".to_string())]);
    let effective = EffectivePlatform::select([&platform], &namespace_labels);
    Ok(render_all_with(apps, &effective)?
        .into_iter()
        // The load Apps serve, so each has a Deployment.
        .filter_map(|c| c.deployment.map(|d| serde_json::to_value(&d)))
        .collect::<Result<_, _>>()?)
}

/// The Platform of the platform-change phase: `preStopSleepSeconds: 15`, limited to the load
/// namespaces so that nobody else's Apps move.
pub fn platform_manifest(pre_stop_seconds: i64) -> Value {
    json!({
        "apiVersion": "baseplate.dev/v1alpha1",
        "kind": "Platform",
        "metadata": {"name": PLATFORM_NAME, "labels": {LOAD_LABEL: "true"}},
        "spec": {
            "namespaceSelector": {"matchLabels": {LOAD_LABEL: "true"}},
            "defaults": {"preStopSleepSeconds": pre_stop_seconds},
        },
    })
}

/// The App as the harness applies it: apiVersion, kind, metadata and spec, nothing else.
pub fn app_manifest(app: &App) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": App::api_version(&()),
        "kind": App::kind(&()),
        "metadata": {
            "name": app.meta().name,
            "namespace": app.meta().namespace,
            "labels": app.meta().labels,
        },
        "spec": app.spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_spread_over_namespaces_deterministically() {
        let apps = apps(25, 10);
        assert_eq!(apps.len(), 25);
        assert_eq!(apps[0].meta().namespace.as_deref(), Some("load-0"));
        assert_eq!(apps[13].meta().namespace.as_deref(), Some("load-3"));
        assert_eq!(apps[13].meta().name.as_deref(), Some("app-00013"));
        assert_eq!(app(13, 10), apps[13]);
    }

    #[test]
    fn every_load_app_has_seven_children() {
        let children = render_all(&apps(3, 10)).unwrap();
        for c in &children {
            assert_eq!(c.to_values().len(), 7, "{:?}", c.names());
        }
        // Same input, same bytes.
        assert_eq!(children, render_all(&apps(3, 10)).unwrap());
        let manifest = app_manifest(&app(1, 10));
        assert_eq!(manifest["kind"], "App");
        assert_eq!(manifest["metadata"]["labels"][LOAD_LABEL], "true");
        assert!(manifest.get("status").is_none());
    }
}
