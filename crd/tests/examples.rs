//! Every App in `examples/` renders, with the built-in defaults and with
//! `examples/platform.yaml`, and the full child set is pinned by an insta snapshot.
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).

mod common;

use common::{Reason, example_files, example_platform, fixed_secrets, parse, select, to_yaml};

/// Every App of every example, with the name of the file it came from.
fn example_apps() -> Vec<(String, baseplate_crd::App)> {
    let mut apps = Vec::new();
    for (stem, text) in example_files() {
        for app in parse(&text).apps {
            apps.push((stem.clone(), app));
        }
    }
    apps
}

#[test]
fn the_examples_exist() {
    let stems: Vec<String> = example_files().into_iter().map(|(stem, _)| stem).collect();
    for expected in [
        "batch-only",
        "my-application",
        "platform",
        "rails-api",
        "web-app",
        "worker",
    ] {
        assert!(
            stems.iter().any(|s| s == expected),
            "examples/{expected}.yaml is missing: {stems:?}"
        );
    }
    assert!(example_apps().len() >= 3);
}

#[test]
fn every_example_app_renders_with_the_builtin_defaults() {
    for (stem, app) in example_apps() {
        let secrets = fixed_secrets(&app);
        let platform = select(&[]);
        let first = baseplate_crd::render(&app, &platform, &secrets)
            .unwrap_or_else(|e| panic!("{stem}: {e}"));
        let second = baseplate_crd::render(&app, &platform, &secrets).unwrap();
        assert_eq!(
            to_yaml(&first),
            to_yaml(&second),
            "{stem}: rendering twice gave different bytes"
        );
        insta::assert_yaml_snapshot!(stem.clone(), first.to_values());
    }
}

/// With the example Platform an App either renders, or is refused by a guardrail; both outcomes
/// are pinned so that a change in either is reviewed.
#[test]
fn every_example_app_renders_with_the_example_platform() {
    let platforms = vec![example_platform()];
    let mut rendered = 0;
    for (stem, app) in example_apps() {
        let secrets = fixed_secrets(&app);
        let platform = select(&platforms);
        assert_eq!(
            platform.names(),
            ["production"],
            "the example Platform applies to every namespace"
        );
        match baseplate_crd::render(&app, &platform, &secrets) {
            Ok(first) => {
                let second = baseplate_crd::render(&app, &platform, &secrets).unwrap();
                assert_eq!(
                    to_yaml(&first),
                    to_yaml(&second),
                    "{stem}: rendering twice gave different bytes"
                );
                insta::assert_yaml_snapshot!(format!("{stem}-with-platform"), first.to_values());
                rendered += 1;
            }
            Err(error) => {
                assert_eq!(error.reason(), "PolicyViolation", "{stem}: {error}");
                insta::assert_snapshot!(format!("{stem}-with-platform-refused"), error.to_string());
            }
        }
    }
    // The full-featured examples are written to pass the example Platform's guardrails.
    assert!(
        rendered >= 2,
        "only {rendered} examples fit examples/platform.yaml"
    );
}

/// The built-in defaults, read as a Platform, pass the Platform CRD's admission; every example
/// passes admission (in `parse`) and resolution, and its children pass what the API server and
/// the kubelet check, with the built-in defaults, with the example Platform and with the
/// built-in defaults as a Platform of their own.
#[test]
fn the_builtin_defaults_and_every_example_pass_the_same_checks() {
    use baseplate_crd::platform::PlatformSpec;
    use baseplate_crd::{Platform, admission, builtin};

    let builtin = Platform::new(
        "builtin",
        PlatformSpec {
            defaults: builtin::defaults(),
            ..Default::default()
        },
    );
    assert_eq!(admission::check_platform(&builtin), vec![]);
    let layers = [vec![], vec![example_platform()], vec![builtin]];
    for (stem, app) in example_apps() {
        for platforms in &layers {
            let names: Vec<String> = select(platforms).names();
            match baseplate_crd::render(&app, &select(platforms), &fixed_secrets(&app)) {
                Ok(children) => {
                    let problems = common::api_rules::problems(&children);
                    assert!(problems.is_empty(), "{stem} with {names:?}: {problems:?}");
                }
                // Only the example Platform's guardrails may refuse an example (pinned above).
                Err(error) => assert_eq!(
                    (error.reason(), names.as_slice()),
                    ("PolicyViolation", &["production".to_string()][..]),
                    "{stem}: {error}"
                ),
            }
        }
    }
}
