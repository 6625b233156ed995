//! The commands that need no cluster: `render`, `explain`, `crds`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use baseplate_crd::manifest::{self, Manifests};
use baseplate_crd::{
    App, Children, EffectivePlatform, SecretState, Settings, crds, json_schema, resolve,
};
use rand::Rng;

use crate::cli::{Output, RenderArgs, SchemaArgs, SchemaKind};

/// The README's first App, rendered when no file is given: one that starts under the
/// built-in restricted defaults.
pub const FIRST_APP: &str = include_str!("../../examples/hello.yaml");

/// What the command line named, read and checked.
struct Inputs {
    apps: Vec<App>,
    platform: EffectivePlatform,
}

/// The most one file or standard input may hold. Apps and Platforms are small (the App schema
/// alone caps most lists); anything this large is a mistake, and reading it whole could
/// exhaust memory.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

pub fn render(args: &RenderArgs) -> anyhow::Result<()> {
    let Inputs { apps, platform } = load(args)?;
    let objects: Vec<serde_json::Value> = render_all(&apps, &platform)?
        .iter()
        .flat_map(Children::to_values)
        .collect();
    let output = match args.output {
        Output::Yaml => manifest::to_yaml_stream(objects),
        // A List, which `kubectl apply -f` takes as it takes the YAML stream.
        Output::Json => to_json(&serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": objects,
        })),
    };
    write_stdout(&output)
}

/// Every App's children, or the reasons of every App that cannot be rendered. All or
/// nothing: `render | kubectl apply -f -` must never apply half a set of Apps, and `explain`
/// refuses exactly what `render` refuses.
fn render_all(apps: &[App], platform: &EffectivePlatform) -> anyhow::Result<Vec<Children>> {
    let mut rendered = Vec::new();
    let mut failures = Vec::new();
    for app in apps {
        let mut secrets = SecretState::default();
        secrets.generate_missing(&app.spec, random_secret_value);
        match baseplate_crd::render(app, platform, &secrets) {
            Ok(children) => rendered.push(children),
            Err(e) => failures.push(format!(
                "App {}/{}: {e}",
                namespace_of(app),
                app.metadata.name.as_deref().unwrap_or_default()
            )),
        }
    }
    if !failures.is_empty() {
        bail!(
            "{}\nnothing was printed: fix the App{} above and run again",
            failures.join("\n"),
            if failures.len() == 1 { "" } else { "s" }
        );
    }
    Ok(rendered)
}

fn to_json(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Writes to standard output; a reader that went away (`render | head`) is no error.
pub(crate) fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to standard output"),
    }
}

pub fn explain(args: &RenderArgs) -> anyhow::Result<()> {
    let Inputs { apps, platform } = load(args)?;
    let rendered = render_all(&apps, &platform)?;
    let mut explained = Vec::new();
    for (app, children) in apps.iter().zip(&rendered) {
        // Cannot fail: rendering resolved the same App against the same Platforms.
        let settings = resolve::resolve(app, &platform)
            .with_context(|| format!("App {}", app.metadata.name.as_deref().unwrap_or_default()))?;
        explained.push((settings, children.names()));
    }
    let output = match args.output {
        Output::Yaml => explained
            .iter()
            .map(|(settings, children)| explain_text(settings, children))
            .collect(),
        Output::Json => to_json(&serde_json::Value::Array(
            explained
                .iter()
                .map(|(settings, children)| explain_json(settings, children))
                .collect(),
        )),
    };
    write_stdout(&output)
}

fn explain_text(settings: &Settings, children: &[String]) -> String {
    use std::fmt::Write;
    let mut output = String::new();
    let _ = writeln!(output, "App {}/{}", settings.namespace, settings.name);
    let platforms = settings.platforms.join(", ");
    let _ = writeln!(
        output,
        "Platforms: {}",
        if platforms.is_empty() {
            "none (built-in defaults only)"
        } else {
            &platforms
        }
    );
    let _ = writeln!(output, "Children: {}", children.join(", "));
    let width = settings
        .provenance
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0);
    for (key, p) in &settings.provenance {
        let _ = writeln!(output, "  {key:width$}  {:<40}  {}", p.value, p.source);
    }
    output
}

fn explain_json(settings: &Settings, children: &[String]) -> serde_json::Value {
    let values: serde_json::Map<String, serde_json::Value> = settings
        .provenance
        .iter()
        .map(|(key, p)| {
            let value = serde_json::from_str(&p.value)
                .unwrap_or_else(|_| serde_json::Value::String(p.value.clone()));
            (
                key.clone(),
                serde_json::json!({"value": value, "source": p.source.to_string()}),
            )
        })
        .collect();
    serde_json::json!({
        "app": settings.name,
        "namespace": settings.namespace,
        "platforms": settings.platforms,
        "children": children,
        "settings": values,
    })
}

pub fn crds() -> anyhow::Result<()> {
    write_stdout(&crds::to_yaml())
}

pub fn schema(args: &SchemaArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.write {
        for (name, schema) in json_schema::files() {
            let path = dir.join(name);
            std::fs::write(&path, json_schema::to_text(&schema))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(());
    }
    let schema = match args.kind {
        Some(SchemaKind::Platform) => json_schema::platform(),
        _ => json_schema::app(),
    };
    write_stdout(&json_schema::to_text(&schema))
}

/// Reads every input, fills in the namespace of Apps that have none, and picks the
/// Platforms that select that namespace.
fn load(args: &RenderArgs) -> anyhow::Result<Inputs> {
    let mut all = Manifests::default();
    if args.files.is_empty() {
        all = manifest::parse("built-in example App (examples/hello.yaml)", FIRST_APP)?;
    }
    for path in args.files.iter().chain(&args.platforms) {
        let (name, text) = read_input(path)?;
        let found = manifest::parse(&name, &text)?;
        if found.apps.is_empty() && found.platforms.is_empty() {
            bail!(
                "{name} holds no App and no Platform{}",
                if text.trim().is_empty() {
                    " (it is empty)"
                } else {
                    ""
                }
            );
        }
        all.apps.extend(found.apps);
        all.platforms.extend(found.platforms);
    }
    for app in &mut all.apps {
        app.metadata
            .namespace
            .get_or_insert_with(|| args.namespace.clone());
    }
    refuse_duplicates(&all)?;
    let namespace_labels: BTreeMap<String, String> =
        args.namespace_labels.iter().cloned().collect();
    Ok(Inputs {
        apps: all.apps,
        platform: EffectivePlatform::select(&all.platforms, &namespace_labels),
    })
}

/// The same App (or Platform) twice in one input would be rendered twice, and the second
/// would silently win when applied: refused.
fn refuse_duplicates(all: &Manifests) -> anyhow::Result<()> {
    let mut seen = BTreeMap::new();
    let names = all
        .apps
        .iter()
        .map(|a| format!("App {}/{}", namespace_of(a), name_of(&a.metadata)))
        .chain(
            all.platforms
                .iter()
                .map(|p| format!("Platform {}", name_of(&p.metadata))),
        );
    let mut duplicates = Vec::new();
    for name in names {
        let count = seen.entry(name.clone()).or_insert(0);
        *count += 1;
        if *count == 2 {
            duplicates.push(name);
        }
    }
    if !duplicates.is_empty() {
        bail!(
            "{} appear{} more than once in the input; keep one of each",
            duplicates.join(", "),
            if duplicates.len() == 1 { "s" } else { "" }
        );
    }
    Ok(())
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

pub(crate) fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    let (name, reader): (String, Box<dyn Read>) = if path == Path::new("-") {
        ("<stdin>".into(), Box::new(std::io::stdin()))
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        (path.display().to_string(), Box::new(file))
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {name}"))?;
    if bytes.len() > MAX_INPUT_BYTES {
        bail!(
            "{name} is larger than {} MiB, more than any set of Apps and Platforms needs; split it into several files",
            MAX_INPUT_BYTES / (1024 * 1024)
        );
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok((name, text))
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
