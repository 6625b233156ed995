//! `baseplate diff`: what a Platform change would do to every App it selects, before anyone
//! applies it. Reads only (files, or Apps, namespaces and Platforms from the API server),
//! writes nothing.

mod changes;
mod impact;
mod live;
mod objects;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use baseplate_crd::manifest::{self, Manifests};
use baseplate_crd::{App, Platform};
use kube::ResourceExt;

use crate::cli::DiffArgs;
use crate::offline::read_input;
use changes::{AppChange, classify};
use impact::{World, compare};

/// As `kubectl diff`: 0 when nothing would change, 1 when something would, 2 on errors.
pub fn run(args: &DiffArgs) -> ExitCode {
    match diff(args) {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints the summary and the differences; whether anything would change.
fn diff(args: &DiffArgs) -> anyhow::Result<bool> {
    let inputs = match &args.to {
        Some(proposed) => offline_inputs(args, proposed)?,
        None => {
            if !args.files.is_empty() {
                bail!(
                    "App files were given without --to: offline, --platform names the current Platforms and --to the proposed ones (baseplate diff --platform OLD.yaml --to NEW.yaml apps/); against the cluster, give only --platform NEW.yaml"
                );
            }
            let proposed = read_platforms(&args.platforms)?;
            let cluster = tokio::runtime::Runtime::new()?.block_on(live::read())?;
            Inputs {
                apps: cluster.apps,
                namespace_labels: cluster.namespace_labels,
                current: cluster.platforms,
                proposed,
            }
        }
    };
    let impacts = compare(&World {
        apps: &inputs.apps,
        namespace_labels: &inputs.namespace_labels,
        current: &inputs.current,
        proposed: &inputs.proposed,
    });
    let outcomes: Vec<_> = impacts
        .into_iter()
        .map(|impact| {
            let change = classify(&impact);
            (impact, change)
        })
        .collect();
    let names: Vec<String> = inputs.proposed.iter().map(ResourceExt::name_any).collect();
    let mut text = summary::summary(&names, &outcomes);
    let diffs = objects::object_diffs(&outcomes);
    if !diffs.is_empty() {
        text.push('\n');
        text.push_str(&diffs);
    }
    crate::offline::write_stdout(&text)?;
    Ok(outcomes
        .iter()
        .any(|(_, change)| *change != AppChange::Unchanged))
}

struct Inputs {
    apps: Vec<App>,
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    current: Vec<Platform>,
    proposed: Vec<Platform>,
}

fn offline_inputs(args: &DiffArgs, proposed: &Path) -> anyhow::Result<Inputs> {
    if args.files.is_empty() {
        bail!(
            "--to compares over App files: name them (baseplate diff --platform OLD.yaml --to NEW.yaml apps/)"
        );
    }
    let mut apps = Vec::new();
    for path in &args.files {
        if path.is_dir() {
            apps.extend(apps_under(path)?);
            continue;
        }
        let (name, text) = read_input(path)?;
        let manifests = manifest::parse(&name, &text)?;
        if !manifests.platforms.is_empty() {
            bail!(
                "{name} holds a Platform; give the current Platforms with --platform and the proposed ones with --to"
            );
        }
        apps.extend(manifests.apps);
    }
    for app in &mut apps {
        app.metadata
            .namespace
            .get_or_insert_with(|| args.namespace.clone());
    }
    let labels: BTreeMap<String, String> = args.namespace_labels.iter().cloned().collect();
    let namespace_labels = apps
        .iter()
        .map(|a| (a.namespace().unwrap_or_default(), labels.clone()))
        .collect();
    Ok(Inputs {
        apps,
        namespace_labels,
        current: read_platforms(&args.platforms)?,
        proposed: read_platforms(std::slice::from_ref(&proposed.to_path_buf()))?,
    })
}

fn read_platforms(paths: &[PathBuf]) -> anyhow::Result<Vec<Platform>> {
    let mut platforms = Vec::new();
    for path in paths {
        let (name, text) = read_input(path)?;
        let found = manifest::parse(&name, &text)?;
        if !found.apps.is_empty() || found.platforms.is_empty() {
            bail!("{name} must hold Platforms and nothing else");
        }
        platforms.extend(found.platforms);
    }
    Ok(platforms)
}

/// The Apps of every `.yaml`/`.yml` file under a directory (a GitOps repository's apps/).
/// Other documents there (a kustomization, a Namespace, the repository's Platforms, which
/// --platform and --to name) are skipped, as they would not be in a file named on the command line.
fn apps_under(dir: &Path) -> anyhow::Result<Vec<App>> {
    let mut files = Vec::new();
    collect_yaml_files(dir, &mut files)?;
    files.sort();
    let mut apps = Vec::new();
    for file in &files {
        let (name, text) = read_input(file)?;
        let Manifests { apps: found, .. } = manifest::parse_ours(&name, &text)?;
        apps.extend(found);
    }
    Ok(apps)
}

fn collect_yaml_files(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml_files(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
    Ok(())
}
