//! The commands that need no cluster: `render`, `explain`, `crds`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use baseplate_crd::manifest::{self, Manifests};
use baseplate_crd::{App, EffectivePlatform, SecretState, crds, resolve};
use rand::Rng;

use crate::cli::RenderArgs;

/// The reference App of the README, rendered when no file is given.
pub const REFERENCE_APP: &str = include_str!("../../examples/my-application.yaml");

/// What the command line named, read and checked.
struct Inputs {
    apps: Vec<App>,
    platform: EffectivePlatform,
}

pub fn render(args: &RenderArgs) -> anyhow::Result<()> {
    let Inputs { apps, platform } = load(args)?;
    let mut output = String::new();
    let mut failures = Vec::new();
    for app in &apps {
        let mut secrets = SecretState::default();
        secrets.generate_missing(&app.spec, random_secret_value);
        match baseplate_crd::render(app, &platform, &secrets) {
            Ok(children) => output.push_str(&manifest::to_yaml_stream(children.to_values())),
            Err(e) => failures.push(format!(
                "App {}/{}: {e}",
                namespace_of(app),
                app.metadata.name.as_deref().unwrap_or_default()
            )),
        }
    }
    print!("{output}");
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}

pub fn explain(args: &RenderArgs) -> anyhow::Result<()> {
    let Inputs { apps, platform } = load(args)?;
    for app in &apps {
        let settings = resolve::resolve(app, &platform)
            .with_context(|| format!("App {}", app.metadata.name.as_deref().unwrap_or_default()))?;
        println!("App {}/{}", settings.namespace, settings.name);
        let platforms = settings.platforms.join(", ");
        println!(
            "Platforms: {}",
            if platforms.is_empty() {
                "none (built-in defaults only)"
            } else {
                &platforms
            }
        );
        let width = settings
            .provenance
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0);
        for (key, p) in &settings.provenance {
            println!("  {key:width$}  {:<40}  {}", p.value, p.source);
        }
    }
    Ok(())
}

pub fn crds() -> anyhow::Result<()> {
    print!("{}", crds::to_yaml());
    Ok(())
}

/// Reads every input, fills in the namespace of Apps that have none, and picks the
/// Platforms that select that namespace.
fn load(args: &RenderArgs) -> anyhow::Result<Inputs> {
    let mut all = Manifests::default();
    if args.files.is_empty() {
        all = manifest::parse("built-in reference App", REFERENCE_APP)?;
    }
    for path in args.files.iter().chain(&args.platforms) {
        let (name, text) = read_input(path)?;
        let found = manifest::parse(&name, &text)?;
        all.apps.extend(found.apps);
        all.platforms.extend(found.platforms);
    }
    for app in &mut all.apps {
        app.metadata
            .namespace
            .get_or_insert_with(|| args.namespace.clone());
    }
    let namespace_labels: BTreeMap<String, String> =
        args.namespace_labels.iter().cloned().collect();
    Ok(Inputs {
        apps: all.apps,
        platform: EffectivePlatform::select(&all.platforms, &namespace_labels),
    })
}

fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(("<stdin>".into(), text));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

fn namespace_of(app: &App) -> &str {
    app.metadata.namespace.as_deref().unwrap_or_default()
}

/// 32 random alphanumeric characters from the OS's CSPRNG (via rand's thread RNG).
pub fn random_secret_value() -> String {
    rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(baseplate_crd::builtin::GENERATED_SECRET_LENGTH)
        .map(char::from)
        .collect()
}
