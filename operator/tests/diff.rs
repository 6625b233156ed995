//! `baseplate diff` offline, as a reviewer of a GitOps pull request runs it: the current and
//! the proposed Platform files over a directory of Apps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn baseplate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baseplate"))
        .args(args)
        .output()
        .expect("the baseplate binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("baseplate-diff-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn platform(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {{name: {name}}}\nspec:\n{spec}\n"
    )
}

fn app(namespace: &str, name: &str, extra: &str) -> String {
    format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  image: nginx:1.27\n  ports: [{{name: http, containerPort: 8080}}]\n{extra}"
    )
}

fn examples() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .display()
        .to_string()
}

#[test]
fn the_same_platform_changes_nothing_and_exits_0() {
    let platform = format!("{}/platform.yaml", examples());
    let output = baseplate(&[
        "diff",
        "--platform",
        &platform,
        "--to",
        &platform,
        &examples(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).starts_with(
            "Platform production: 4 Apps selected in 3 namespaces; 0 would change, 4 unchanged\n"
        ),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_longer_pre_stop_is_summarised_then_shown_per_deployment() {
    let scratch = Scratch::new("prestop");
    let current = std::fs::read_to_string(format!("{}/platform.yaml", examples())).unwrap();
    assert!(
        current.contains("preStopSleepSeconds: 15"),
        "the example this test edits changed"
    );
    let proposed = scratch.write(
        "new.yaml",
        &current.replace("preStopSleepSeconds: 15", "preStopSleepSeconds: 20"),
    );
    let output = baseplate(&[
        "diff",
        "--platform",
        &format!("{}/platform.yaml", examples()),
        "--to",
        &proposed,
        &examples(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("Deployment spec.template.spec.containers[name=app].lifecycle.preStop.sleep.seconds 15 -> 20: 2 Deployments in 2 namespaces\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "--- shop/Deployment/storefront (current)\n+++ shop/Deployment/storefront (proposed)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("-              seconds: 15\n+              seconds: 20\n"),
        "{stdout}"
    );
}

#[test]
fn children_added_or_removed_and_new_refusals_are_counted_by_app() {
    let scratch = Scratch::new("kinds");
    scratch.write("apps/api.yaml", &app("shop", "api", ""));
    scratch.write("apps/nested/web.yaml", &app("shop", "web", ""));
    scratch.write(
        "apps/legacy.yaml",
        &app("shop", "legacy", "").replace("nginx:1.27", "registry.example.com/shop/legacy:1"),
    );
    // What a repository holds beside the Apps is skipped in a directory.
    scratch.write(
        "apps/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [api.yaml]\n",
    );
    let current = scratch.write("old.yaml", &platform("team", "  defaults: {}"));
    let proposed = scratch.write(
        "new.yaml",
        &platform(
            "team",
            "  defaults: {autoscaling: {minReplicas: 1}}\n  limits: {allowedRegistries: [registry.example.com/shop]}",
        ),
    );
    let apps = format!("{}/apps", scratch.path());
    let output = baseplate(&["diff", "-p", &current, "--to", &proposed, &apps]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(
            "Platform team: 3 Apps selected in 1 namespace; 3 would change, 0 unchanged\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("PodDisruptionBudget removed: 1 App (shop/legacy)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would be refused by a guardrail (they keep their current children): 2 Apps (shop/api, shop/web)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# App shop/api would be refused and keep its current children: "),
        "{stdout}"
    );
}

#[test]
fn an_app_accepted_again_shows_its_children_whole_with_secret_values_hidden() {
    let scratch = Scratch::new("secret");
    let apps = scratch.write(
        "apps.yaml",
        &app("shop", "api", "  secrets: {generate: [TOKEN]}\n"),
    );
    let current = scratch.write(
        "old.yaml",
        &platform(
            "team",
            "  limits: {allowedRegistries: [registry.example.com]}",
        ),
    );
    let proposed = scratch.write("new.yaml", &platform("team", "  limits: {}"));
    let output = baseplate(&["diff", "-p", &current, "--to", &proposed, &apps]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("refused now, accepted under the new Platform: 1 App (shop/api)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+++ shop/Secret/api (proposed)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("+  TOKEN: (hidden)\n"), "{stdout}");
}

#[test]
fn errors_exit_2_with_the_field_named() {
    let scratch = Scratch::new("errors");
    let apps = scratch.write("apps.yaml", &app("shop", "api", ""));
    let current = scratch.write("old.yaml", &platform("team", "  defaults: {}"));
    let proposed = scratch.write(
        "new.yaml",
        &platform("team", "  defaults: {preStopSleepSecond: 5}"),
    );
    let output = baseplate(&["diff", "-p", &current, "--to", &proposed, &apps]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("spec.defaults.preStopSleepSecond"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let missing = baseplate(&[
        "diff",
        "-p",
        &current,
        "--to",
        "/nonexistent/new.yaml",
        &apps,
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("/nonexistent/new.yaml"),
        "{}",
        text(&missing.stderr)
    );

    let files_without_to = baseplate(&["diff", "-p", &current, &apps]);
    assert_eq!(files_without_to.status.code(), Some(2));
    assert!(text(&files_without_to.stderr).contains("without --to"));
}
