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

/// The fenced `yaml` blocks of README.md that hold Apps or Platforms, with their first line.
fn readme_manifests() -> Vec<(usize, String)> {
    let readme = std::fs::read_to_string(common::examples_dir().join("../README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (number, line) in readme.lines().enumerate() {
        match (&mut open, line.trim_start()) {
            (None, "```yaml") => open = Some((number + 2, String::new())),
            (Some(_), "```") => blocks.extend(open.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
        .into_iter()
        .filter(|(_, text)| text.contains("apiVersion: baseplate.dev/"))
        .collect()
}

/// What the README shows an App or Platform to be is what the binary takes: each one
/// renders (the Apps with every Platform the README shows), and the first screen's App is
/// the file it names.
#[test]
fn every_app_and_platform_the_readme_shows_renders() {
    let blocks = readme_manifests();
    let parsed: Vec<(usize, baseplate_crd::manifest::Manifests)> = blocks
        .iter()
        .map(|(line, text)| (*line, parse(text)))
        .collect();
    let platforms: Vec<baseplate_crd::Platform> = parsed
        .iter()
        .flat_map(|(_, m)| m.platforms.clone())
        .collect();
    let mut apps = 0;
    for (line, manifests) in &parsed {
        for app in &manifests.apps {
            let secrets = fixed_secrets(app);
            baseplate_crd::render(app, &select(&platforms), &secrets)
                .unwrap_or_else(|e| panic!("README.md line {line}: {e}"));
            apps += 1;
        }
    }
    assert!(
        apps >= 1 && !platforms.is_empty(),
        "the README shows an App and a Platform: {blocks:?}"
    );
    // The Platform applies to the README's App: its defaults reach the children.
    let (_, shown) = &parsed[0];
    let with_platform = baseplate_crd::render(
        &shown.apps[0],
        &select(&platforms),
        &fixed_secrets(&shown.apps[0]),
    )
    .unwrap();
    let yaml = to_yaml(&with_platform);
    assert!(yaml.contains("apps.prod.example.com"), "{yaml}");

    let (_, first) = &blocks[0];
    let file = std::fs::read_to_string(common::examples_dir().join("hello.yaml")).unwrap();
    let without_comments: String = file
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        first, &without_comments,
        "README's first App is examples/hello.yaml"
    );
    let hello = parse(first).apps.remove(0);
    let children = baseplate_crd::render(&hello, &select(&[]), &fixed_secrets(&hello)).unwrap();
    assert_eq!(
        children.names().len(),
        7,
        "`make render` prints seven objects"
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

/// The README's account of which App fields a Platform has a default for is the types': each
/// App field is in exactly one of its two lists, and a field it says a Platform sets is one.
#[test]
fn the_readme_says_truly_which_app_fields_have_a_platform_default() {
    let readme = std::fs::read_to_string(common::examples_dir().join("../README.md")).unwrap();
    let phrase = "`defaults` holds these App knobs:";
    let start = readme.find(phrase).expect("the paragraph") + phrase.len();
    let (with_default, alone) = readme[start..]
        .split_once("The\nother App fields")
        .expect("the second list");
    let alone = &alone[..alone.find("are the App's alone").expect("its end")];
    let names = |text: &str| -> std::collections::BTreeSet<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(|name| name.split('.').next().unwrap().to_string())
            .collect()
    };
    let schema = |value: serde_json::Value, pointer: &str| -> std::collections::BTreeSet<String> {
        value
            .pointer(pointer)
            .and_then(|p| p.as_object())
            .expect("properties")
            .keys()
            .cloned()
            .collect()
    };
    let app = schema(
        baseplate_crd::json_schema::app(),
        "/properties/spec/properties",
    );
    let defaults = schema(
        baseplate_crd::json_schema::platform(),
        "/properties/spec/properties/defaults/properties",
    );
    let mut said_with_default = names(&with_default[..with_default.find("; an App's").unwrap()]);
    // `configMountPath` is the Platform's name for the App's `config.mountPath`.
    assert!(said_with_default.remove("configMountPath") && defaults.contains("configMountPath"));
    said_with_default.insert("config".into());
    for field in &said_with_default {
        assert!(app.contains(field), "{field} is no App field");
        assert!(
            defaults.contains(field) || field == "config",
            "README says a Platform sets {field}; none can"
        );
    }
    let said_alone = names(alone);
    for field in &app {
        assert!(
            said_with_default.contains(field) || said_alone.contains(field),
            "README does not say whether a Platform sets {field}"
        );
        if said_alone.contains(field) && !said_with_default.contains(field) {
            assert!(
                !defaults.contains(field),
                "README says {field} is the App's alone, but a Platform sets it"
            );
        }
    }
}
