//! The migration Job and the CronJobs: the App's container (its image, env, config and secrets)
//! with another command, run to completion under the Platform's security context.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

use super::ChildMeta;
use super::workload::{image_pull_secrets, main_env, pod_volumes, resources};
use crate::app::App;
use crate::labels;
use crate::names;
use crate::secrets::short_hex;
use crate::settings::{JobSettings, ResourceSettings, Settings};

pub const MIGRATION_COMPONENT: &str = "migration";
pub const CRON_JOB_COMPONENT: &str = "cron-job";
const MIGRATION_CONTAINER: &str = "migrate";
/// Hex digits of the version in a migration Job's name.
const VERSION_LENGTH: usize = 10;

/// The version a migration runs for: a digest of what makes one version of the App's code and
/// configuration differ from another. That is the App's image, command and args, the
/// migration's own image, command and args, and the contents of the App's ConfigMap (env,
/// config.env, config.files) and of its Secret's declared keys, and the App's name (so that two
/// Apps never share a Job name). Not in it: replica counts, autoscaling, resources, probes,
/// sidecars, the migration's timeout and retries, and everything a Platform sets; so a resync,
/// a restart or such a change never runs the migration again.
pub(super) fn migration_version(app: &App, config_hash: &str, secret_hash: &str) -> String {
    let spec = &app.spec;
    let migrate = spec.migrate.as_ref();
    let inputs = serde_json::json!([
        app.metadata.name,
        spec.image,
        spec.command,
        spec.args,
        migrate.map(|m| &m.image),
        migrate.map(|m| &m.command),
        migrate.map(|m| &m.args),
        config_hash,
        secret_hash,
    ]);
    let digest = Sha256::digest(inputs.to_string().as_bytes());
    short_hex(&digest)[..VERSION_LENGTH].to_string()
}

/// The migration Job of the current version. No `ttlSecondsAfterFinished`: the Job must stay
/// until the operator has read its outcome; old ones are pruned by `migrate.historyLimit`.
pub(super) fn migration_job(
    app: &App,
    settings: &Settings,
    meta: &ChildMeta,
    version: &str,
) -> Option<Job> {
    let migrate = app.spec.migrate.as_ref()?;
    let migration = settings.migration.as_ref()?;
    let name = names::migration_job(&meta.name, version);
    let mut metadata = meta.object_meta_named(&name, MIGRATION_COMPONENT);
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(labels::VERSION.into(), version.into());
    let container = Container {
        name: MIGRATION_CONTAINER.into(),
        image: Some(
            migrate
                .image
                .clone()
                .unwrap_or_else(|| app.spec.image.clone()),
        ),
        command: Some(migrate.command.clone()),
        args: migrate.args.clone(),
        ..Default::default()
    };
    Some(Job {
        metadata,
        spec: Some(job_spec(
            &migration.job,
            pod_template(
                app,
                settings,
                meta,
                &name,
                MIGRATION_COMPONENT,
                container,
                &settings.resources,
            ),
        )),
        status: None,
    })
}

/// One CronJob per entry of `cronJobs`, in the App's order.
pub(super) fn cron_jobs(app: &App, settings: &Settings, meta: &ChildMeta) -> Vec<CronJob> {
    app.spec
        .cron_jobs
        .iter()
        .zip(&settings.cron_jobs)
        .map(|(entry, resolved)| {
            let name = names::cron_job(&meta.name, &entry.name);
            let container = Container {
                name: entry.name.clone(),
                image: Some(
                    entry
                        .image
                        .clone()
                        .unwrap_or_else(|| app.spec.image.clone()),
                ),
                command: entry.command.clone(),
                args: entry.args.clone(),
                ..Default::default()
            };
            let template = pod_template(
                app,
                settings,
                meta,
                &name,
                CRON_JOB_COMPONENT,
                container,
                &resolved.resources,
            );
            CronJob {
                metadata: meta.object_meta_named(&name, CRON_JOB_COMPONENT),
                spec: Some(CronJobSpec {
                    schedule: entry.schedule.clone(),
                    time_zone: Some(resolved.time_zone.clone()),
                    concurrency_policy: Some(resolved.concurrency_policy.clone()),
                    starting_deadline_seconds: Some(resolved.starting_deadline_seconds),
                    successful_jobs_history_limit: Some(resolved.successful_jobs_history_limit),
                    failed_jobs_history_limit: Some(resolved.failed_jobs_history_limit),
                    job_template: JobTemplateSpec {
                        metadata: None,
                        spec: Some(job_spec(&resolved.job, template)),
                    },
                    suspend: None,
                }),
                status: None,
            }
        })
        .collect()
}

fn job_spec(job: &JobSettings, template: PodTemplateSpec) -> JobSpec {
    JobSpec {
        backoff_limit: Some(job.backoff_limit),
        active_deadline_seconds: Some(job.timeout_seconds),
        template,
        ..Default::default()
    }
}

/// A pod that runs `container` once: the App's env, config and secrets, the Platform's security
/// context and the App's placement, no probes, no preStop, `restartPolicy: Never` (the Job
/// counts retries itself).
fn pod_template(
    app: &App,
    settings: &Settings,
    meta: &ChildMeta,
    instance: &str,
    component: &str,
    container: Container,
    resource_settings: &ResourceSettings,
) -> PodTemplateSpec {
    let mut extra = settings.labels.clone();
    extra.extend(app.spec.pod_labels.clone());
    let mut annotations = settings.annotations.clone();
    annotations.extend(app.spec.pod_annotations.clone());
    let (mounts, volumes) = pod_volumes(app, settings, meta);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels::batch_pod_labels(
                &meta.name, instance, component, &extra,
            )),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                env: Some(main_env(app, &meta.name)),
                resources: Some(resources(resource_settings)),
                security_context: Some(settings.container_security_context.clone()),
                volume_mounts: Some(mounts),
                ..container
            }],
            restart_policy: Some("Never".into()),
            volumes: Some(volumes),
            security_context: Some(settings.pod_security_context.clone()),
            automount_service_account_token: Some(settings.automount_service_account_token),
            // The same nodes as the App's other pods: a migration needs the same network paths.
            node_selector: settings.placement.node_selector.clone(),
            tolerations: settings.placement.tolerations.clone(),
            affinity: settings.placement.affinity.clone(),
            priority_class_name: settings.placement.priority_class_name.clone(),
            image_pull_secrets: image_pull_secrets(settings),
            ..Default::default()
        }),
    }
}
