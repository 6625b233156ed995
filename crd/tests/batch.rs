//! The migration Job and the CronJobs: what their pods run with, that no selector of the App's
//! picks them, which changes make a new migration version and which do not, and batch-only Apps.

mod common;

use std::collections::BTreeMap;

use baseplate_crd::{App, Children, SecretState};
use common::{
    app_with_spec, deployment_selector, fixed_secrets, platform_with_spec, render, select,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::PodSpec;

const RAILS: &str = "image: registry.example.com/shop/api:1.4.2\nports: [{name: http, containerPort: 3000}]\nenv: {RAILS_ENV: production}\nsecrets: {supplied: [DATABASE_URL]}\nmigrate: {command: [bin/rails, 'db:migrate']}\ncronJobs: [{name: nightly-report, schedule: '0 3 * * *', command: [bin/rails, 'reports:nightly'], timeZone: Asia/Tokyo}]";

fn job_name(children: &Children) -> String {
    children
        .migration_job
        .as_ref()
        .and_then(|j| j.metadata.name.clone())
        .expect("a migration Job")
}

fn job_pod(children: &Children) -> &PodSpec {
    children
        .migration_job
        .as_ref()
        .and_then(|j| j.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .expect("a pod template")
}

fn rails(edit: &str) -> App {
    app_with_spec("api", &format!("{RAILS}\n{edit}"))
}

#[test]
fn the_migration_runs_the_apps_container_once_without_probes_or_prestop() {
    let children = render(&rails(""));
    let name = job_name(&children);
    assert!(name.starts_with("api-migrate-") && name.len() == "api-migrate-".len() + 10);
    let job = children
        .migration_job
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap();
    assert_eq!(job.backoff_limit, Some(0));
    assert_eq!(job.active_deadline_seconds, Some(600));
    assert_eq!(
        job.ttl_seconds_after_finished, None,
        "kept until the gate has read it"
    );
    let pod = job_pod(&children);
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/shop/api:1.4.2")
    );
    assert_eq!(
        container.command,
        Some(vec!["bin/rails".to_string(), "db:migrate".into()])
    );
    assert!(container.readiness_probe.is_none() && container.liveness_probe.is_none());
    assert!(container.lifecycle.is_none(), "no preStop");
    // The App's env, config and secrets, by reference, and the Platform's security context.
    let env: Vec<&str> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(env, ["RAILS_ENV", "DATABASE_URL"]);
    assert!(
        container
            .env
            .iter()
            .flatten()
            .all(|e| e.value.is_none() && e.value_from.is_some())
    );
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_non_root,
        Some(true)
    );
    let requests = container
        .resources
        .as_ref()
        .unwrap()
        .requests
        .clone()
        .unwrap();
    assert_eq!(requests["cpu"].0, "100m");
}

#[test]
fn no_selector_of_the_app_picks_a_job_pod() {
    let children = render(&rails(""));
    let selector = deployment_selector(&children).clone();
    let selects =
        |labels: &BTreeMap<String, String>| selector.iter().all(|(k, v)| labels.get(k) == Some(v));
    let migration_labels = children
        .migration_job
        .as_ref()
        .and_then(|j| j.spec.as_ref())
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap();
    let cron_labels = children.cron_jobs[0]
        .spec
        .as_ref()
        .and_then(|s| s.job_template.spec.as_ref())
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap();
    for labels in [&migration_labels, &cron_labels] {
        assert!(!selects(labels), "{labels:?} matches {selector:?}");
        assert_eq!(labels["app.kubernetes.io/name"], "api");
        assert_eq!(labels["baseplate.dev/app"], "api");
    }
    assert_eq!(migration_labels["app.kubernetes.io/component"], "migration");
    assert_eq!(cron_labels["app.kubernetes.io/component"], "cron-job");
    // The Service and the PDB select exactly what the Deployment does.
    let service = children.service.as_ref().unwrap().spec.as_ref().unwrap();
    assert_eq!(service.selector.as_ref(), Some(&selector));
}

#[test]
fn a_new_version_is_a_change_of_image_command_env_config_or_secret_values() {
    let base = job_name(&render(&rails("")));
    for edit in [
        "args: [--verbose]",
        "config: {files: {settings.yml: 'a: 1'}}",
        "command: [bin/rails, server]",
    ] {
        assert_ne!(job_name(&render(&rails(edit))), base, "{edit}");
    }
    let image = rails("").spec.image.replace("1.4.2", "1.4.3");
    let mut other = rails("");
    other.spec.image = image;
    assert_ne!(job_name(&render(&other)), base, "image");
    let mut env = rails("");
    env.spec.env.insert("RAILS_ENV".into(), "staging".into());
    assert_ne!(job_name(&render(&env)), base, "env");
    // A new secret value is a new version too (the digest, never the value, is in the name).
    let app = rails("");
    let changed = SecretState::new(BTreeMap::from([(
        "DATABASE_URL".to_string(),
        ByteString(b"postgres://new".to_vec()),
    )]));
    let with_new_secret = baseplate_crd::render(&app, &select(&[]), &changed).unwrap();
    assert_ne!(job_name(&with_new_secret), base, "secret value");
    assert!(!job_name(&with_new_secret).contains("postgres"));
}

#[test]
fn replicas_resources_timeouts_and_platforms_are_not_a_new_version() {
    let base = job_name(&render(&rails("")));
    for edit in [
        "replicas: 7",
        "resources: {cpu: '2', memory: 1Gi}",
        "podLabels: {team: orders}",
        "readinessProbe: {path: /up}",
    ] {
        assert_eq!(job_name(&render(&rails(edit))), base, "{edit}");
    }
    let mut slower = rails("");
    slower.spec.migrate.as_mut().unwrap().timeout_seconds = Some(3000);
    assert_eq!(job_name(&render(&slower)), base, "timeoutSeconds");
    let platform = platform_with_spec(
        "sre",
        "defaults: {preStopSleepSeconds: 30, labels: {tier: gold}, migrate: {backoffLimit: 2}, podSecurityContext: {runAsNonRoot: true, runAsUser: 1000}}",
    );
    let app = rails("");
    let with_platform =
        baseplate_crd::render(&app, &select(&[platform]), &fixed_secrets(&app)).unwrap();
    assert_eq!(job_name(&with_platform), base, "a Platform change");
    assert_eq!(
        with_platform
            .migration_job
            .as_ref()
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .backoff_limit,
        Some(2)
    );
}

#[test]
fn the_longest_app_name_still_gives_a_job_name_of_63_characters() {
    // Without the cron job: `<App>-<cron job>` must fit 52 characters.
    let spec = RAILS.rsplit_once("\ncronJobs").unwrap().0;
    let name = format!("a{}", "b".repeat(62));
    let long = app_with_spec(&name, spec);
    let job = job_name(&render(&long));
    assert_eq!(job.len(), 63, "{job}");
    assert!(common::is_dns_label(&job), "{job}");
    // Another App sharing the first 44 characters gets a Job of its own.
    let twin = app_with_spec(&format!("a{}c", "b".repeat(61)), spec);
    assert_ne!(job_name(&render(&twin)), job);
}

#[test]
fn cron_jobs_carry_the_schedule_the_time_zone_and_safe_defaults() {
    let children = render(&rails(""));
    assert_eq!(children.cron_jobs.len(), 1);
    let cron = &children.cron_jobs[0];
    assert_eq!(cron.metadata.name.as_deref(), Some("api-nightly-report"));
    let spec = cron.spec.as_ref().unwrap();
    assert_eq!(spec.schedule, "0 3 * * *");
    assert_eq!(spec.time_zone.as_deref(), Some("Asia/Tokyo"));
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(spec.starting_deadline_seconds, Some(300));
    assert_eq!(spec.successful_jobs_history_limit, Some(3));
    assert_eq!(spec.failed_jobs_history_limit, Some(1));
    let job = spec.job_template.spec.as_ref().unwrap();
    assert_eq!(job.backoff_limit, Some(2));
    assert_eq!(job.active_deadline_seconds, Some(3600));
    let pod = job.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod.containers[0].name, "nightly-report");
    // An entry without a time zone takes the Platform's.
    let platform = platform_with_spec(
        "sre",
        "defaults: {cronJobs: {timeZone: Europe/Berlin, concurrencyPolicy: Replace}}",
    );
    let app = app_with_spec(
        "api",
        "image: nginx:1.27\nreplicas: 1\ncronJobs: [{name: sweep, schedule: '@hourly', command: [sweep]}]",
    );
    let children = baseplate_crd::render(&app, &select(&[platform]), &fixed_secrets(&app)).unwrap();
    let spec = children.cron_jobs[0].spec.as_ref().unwrap();
    assert_eq!(spec.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Replace"));
}

#[test]
fn a_batch_only_app_gets_its_config_and_cron_jobs_and_nothing_that_serves() {
    let app = app_with_spec(
        "mailer",
        "image: nginx:1.27\nenv: {A: b}\ncronJobs: [{name: send, schedule: '0 8 * * MON', command: [send]}]",
    );
    let children = render(&app);
    assert_eq!(
        children.names(),
        ["ConfigMap/mailer", "Secret/mailer", "CronJob/mailer-send"]
    );
    // A Platform guardrail on replicas does not concern it.
    let guarded = platform_with_spec("sre", "limits: {maxReplicas: 1}");
    assert!(baseplate_crd::render(&app, &select(&[guarded]), &fixed_secrets(&app)).is_ok());
    // With replicas it keeps a Deployment; a worker without cronJobs is no batch-only App.
    let with_replicas = app_with_spec(
        "mailer",
        "image: nginx:1.27\nreplicas: 1\ncronJobs: [{name: send, schedule: '0 8 * * MON', command: [send]}]",
    );
    assert!(render(&with_replicas).deployment.is_some());
    let worker = app_with_spec("worker", "image: nginx:1.27\ncommand: [work]");
    assert!(render(&worker).deployment.is_some());
}
