//! What a reconcile reads besides the App: the labels of its namespace, the Platforms they
//! select, the App's Secret (from the cache, memory, or the API server), and the pods of its
//! rollout (from the cache).

use std::collections::BTreeMap;
use std::time::Duration;

use baseplate_crd::resolve::platform_matches;
use baseplate_crd::waves::{self, AppAtRevision, Phase, RolloutView};
use baseplate_crd::{
    App, ChildKind, EffectivePlatform, Platform, PlatformSpec, SecretState, labels,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use super::apply::CACHE_LAG_ALLOWANCE;
use super::context::{Context, RememberedSecret};
use super::error::Error;
use super::owner::{child_of, owned_by};
use super::pod_health;
use super::revisions;
use super::rollout;
use super::status::{self, Rollout, Stalled};

/// The Platforms that apply to the App, chosen by its namespace's labels, and the revision of
/// each staged Platform (one with `spec.rollout`) the App renders from.
///
/// A staged Platform lends the App the spec of the revision [`waves::assigned`] picks, read
/// from its ControllerRevision; selection stays the live Platform's. Until the rollout loop has
/// recorded a revision for the live spec, the App keeps to the revisions recorded, so an edit
/// never reaches Apps ahead of their wave.
pub fn platform(app: &App, ctx: &Context) -> (EffectivePlatform, Vec<(String, String)>) {
    let namespace = app.namespace().unwrap_or_default();
    let namespace_labels: BTreeMap<String, String> = ctx
        .namespaces
        .get(&ObjectRef::new(&namespace))
        .map(|ns| ns.labels().clone())
        .unwrap_or_default();
    let platforms = ctx.platforms.state();
    let mut followed = Vec::new();
    let layered: Vec<Platform> = platforms
        .iter()
        .filter(|p| platform_matches(p, &namespace_labels))
        .map(|p| match staged_spec(app, ctx, p, &namespace_labels) {
            Some((revision, spec)) => {
                followed.push((p.name_any(), revision));
                let mut lent = Platform::new(&p.name_any(), spec);
                lent.spec.namespace_selector = None;
                lent
            }
            None => p.as_ref().clone(),
        })
        .collect();
    (
        EffectivePlatform::select(layered.iter(), &namespace_labels),
        followed,
    )
}

/// The revision of a staged Platform the App renders from and its spec; `None` for a Platform
/// without `rollout` or one whose first revision is not recorded yet (the live spec applies).
fn staged_spec(
    app: &App,
    ctx: &Context,
    platform: &Platform,
    namespace_labels: &BTreeMap<String, String>,
) -> Option<(String, PlatformSpec)> {
    let policy = platform.spec.rollout.as_ref()?;
    let status = platform.status.as_ref()?;
    let newest = status.revision.clone()?;
    let app_status = app.status.clone().unwrap_or_default();
    let follows = app_status
        .platform_revisions
        .iter()
        .find(|r| r.platform == platform.name_any())
        .map(|r| r.revision.as_str());
    let view = RolloutView {
        newest,
        wave: usize::try_from(status.wave.unwrap_or(0)).unwrap_or(0),
        paused: status.phase.as_deref() == Some(Phase::Paused.as_str()),
        shares: policy.shares(),
    };
    let name = app.name_any();
    let namespace = app.namespace().unwrap_or_default();
    let candidate = AppAtRevision {
        namespace: &namespace,
        name: &name,
        canary: policy
            .canary_namespace_label
            .as_ref()
            .is_some_and(|key| namespace_labels.contains_key(key)),
        follows,
        degraded: app_status
            .conditions
            .iter()
            .any(|c| c.type_ == status::DEGRADED && c.status == "True"),
    };
    let assigned = waves::assigned(&view, &candidate).to_string();
    let live = waves::revision_name(&platform.name_any(), &waves::spec_hash(&platform.spec));
    if assigned == live {
        return Some((assigned, platform.spec.clone()));
    }
    // A revision no longer stored (or not cached yet) cannot be rendered: the newest can.
    [assigned.as_str(), view.newest.as_str()]
        .into_iter()
        .find_map(|r| revisions::spec_named(ctx, platform, r).map(|spec| (r.to_string(), spec)))
        .or_else(|| Some((live, platform.spec.clone())))
}

/// The App's Secret as it is, and the names of the generated keys given new values.
pub struct SecretValues {
    pub state: SecretState,
    pub generated: Vec<String>,
}

/// The App's Secret as it is, with values made for generated keys that have none. Looks at
/// the Secret only when the App declares keys, reads it from the API server only when the
/// cache shows a version not remembered (or `read_first`), and generates only when it truly
/// lacks values. `None` when a Secret of that name exists that this App does not own: values
/// generated for it could never be stored, and pods would roll on every reconcile.
pub async fn secret(
    app: &App,
    ctx: &Context,
    read_first: bool,
) -> Result<Option<SecretValues>, Error> {
    if app
        .spec
        .secrets
        .as_ref()
        .is_none_or(|s| s.generate.is_empty() && s.supplied.is_empty())
    {
        return Ok(Some(SecretValues {
            state: SecretState::default(),
            generated: Vec::new(),
        }));
    }
    let known = if read_first {
        None
    } else {
        match remembered_secret(app, ctx) {
            Some(state) => Some(state),
            None => {
                list_secrets_once(app, ctx).await?;
                remembered_secret(app, ctx)
            }
        }
    };
    let mut state = match known {
        Some(state) => state,
        None => match read_secret(app, ctx).await? {
            Some(state) => state,
            None => return Ok(None),
        },
    };
    let generated = state.generate_missing(&app.spec, ctx.generate_secret);
    Ok(Some(SecretValues { state, generated }))
}

/// The Secret's values as last read or written, if the cache shows that same version (or
/// shows nothing yet, moments after Baseplate created it); none while the cache shows no
/// Secret and nothing is remembered: a new App's Secret is created, not looked for (a
/// create never overwrites one that exists, see `apply::CREATE_ONLY_VERSION`).
fn remembered_secret(app: &App, ctx: &Context) -> Option<SecretState> {
    let child = child_of(app, ChildKind::Secret);
    let cached = ctx.children.meta(&child);
    let memory = ctx.memory.lock().expect("lock");
    let Some(remembered) = memory.secrets.get(&child) else {
        return cached.is_none().then(SecretState::default);
    };
    let current = match &cached {
        Some(meta) => {
            meta.resource_version.is_some()
                && meta.resource_version == remembered.resource_version
                && owned_by(meta, app)
        }
        None => remembered.read_at.elapsed() < CACHE_LAG_ALLOWANCE,
    };
    current.then(|| remembered.values.clone())
}

/// Remembers every Secret Baseplate made, from one paged LIST, the first time an App's
/// Secret is not known: an operator that has just started then knows each App's values
/// without one GET per App. Secrets this process wrote or read since are kept as they are.
async fn list_secrets_once(app: &App, ctx: &Context) -> Result<(), Error> {
    ctx.secrets_listed
        .get_or_try_init(async || {
            let api: Api<Secret> = Api::all(ctx.client.clone());
            let mut params = ListParams::default()
                .labels(&format!(
                    "{}={}",
                    labels::MANAGED_BY,
                    labels::MANAGED_BY_VALUE
                ))
                .limit(500);
            loop {
                let page = api.list(&params).await.map_err(|source| Error::Read {
                    child: child_of(app, ChildKind::Secret),
                    source,
                })?;
                let mut memory = ctx.memory.lock().expect("lock");
                for secret in page.items {
                    let child = ChildKind::Secret.of(
                        secret.metadata.namespace.as_deref().unwrap_or_default(),
                        secret.metadata.name.as_deref().unwrap_or_default(),
                    );
                    memory
                        .secrets
                        .entry(child)
                        .or_insert_with(|| RememberedSecret {
                            resource_version: secret.metadata.resource_version,
                            values: SecretState::new(secret.data.unwrap_or_default()),
                            read_at: Instant::now(),
                        });
                }
                match page.metadata.continue_ {
                    Some(token) if !token.is_empty() => params = params.continue_token(&token),
                    _ => return Ok(()),
                }
            }
        })
        .await
        .copied()
}

/// Reads the Secret; `None` when it is not this App's.
async fn read_secret(app: &App, ctx: &Context) -> Result<Option<SecretState>, Error> {
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
    let existing = api
        .get_opt(&app.name_any())
        .await
        .map_err(|source| Error::Read {
            child: child_of(app, ChildKind::Secret),
            source,
        })?;
    if let Some(secret) = &existing
        && !owned_by(&secret.metadata, app)
    {
        return Ok(None);
    }
    let Some(secret) = existing else {
        return Ok(Some(SecretState::default()));
    };
    Ok(Some(remember_secret(app, ctx, secret)))
}

/// Remembers the Secret as read or as the API server answered its apply.
pub fn remember_secret(app: &App, ctx: &Context, secret: Secret) -> SecretState {
    let values = SecretState::new(secret.data.unwrap_or_default());
    ctx.memory.lock().expect("lock").secrets.insert(
        child_of(app, ChildKind::Secret),
        RememberedSecret {
            resource_version: secret.metadata.resource_version,
            values: values.clone(),
            read_at: Instant::now(),
        },
    );
    values
}

/// What the pods of the App's rollout tell.
#[derive(Debug, Default)]
pub struct PodsSeen {
    /// Why the new version's pods do not become available.
    pub stalled: Option<Stalled>,
    /// When to look again although no pod will change: a container not ready yet whose
    /// readiness probe has not used up its allowance.
    pub recheck: Option<Duration>,
}

/// The pods of the Deployment's newest ReplicaSet, diagnosed, while its rollout is observed
/// by the Deployment controller and not complete; nothing is read otherwise.
pub fn rollout_pods(app: &App, ctx: &Context, deployment: Option<&Deployment>) -> PodsSeen {
    let Some(deployment) = deployment else {
        return PodsSeen::default();
    };
    let rollout = Rollout::from_deployment(deployment);
    if !rollout.observed || rollout.complete() {
        return PodsSeen::default();
    }
    let pods = rollout::of_app(
        &ctx.workload.pods.state(),
        &app.namespace().unwrap_or_default(),
        &app.name_any(),
    );
    let Some(versions) = rollout::split(deployment, &ctx.workload.replica_sets.state(), &pods)
    else {
        return PodsSeen::default();
    };
    let now = (ctx.clock)();
    PodsSeen {
        stalled: pod_health::diagnose(&versions.new, &now).map(|problem| Stalled {
            problem,
            old_serving: versions.old_serving,
        }),
        recheck: pod_health::settles_in(&versions.new, &now),
    }
}
