//! The offline commands as a user runs them: the `baseplate` binary with files and pipes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn baseplate(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_baseplate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the baseplate binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let bytes = stdin.to_vec();
    // The binary may stop reading early (an oversized input): a closed pipe here is expected.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let output = child.wait_with_output().expect("the binary runs");
    writer.join().expect("writer thread");
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn app(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n{}",
        spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
    )
}

#[test]
fn the_built_in_reference_app_renders() {
    let output = baseplate(&["render"], b"");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("kind: Deployment"), "{text}");
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let many: String = (0..5)
        .map(|i| {
            app(
                &format!("web-{i}"),
                "image: nginx:1.27\nports: [{name: http, containerPort: 8080}]",
            )
        })
        .collect();
    let path = std::env::temp_dir().join(format!("baseplate-cli-pipe-{}.yaml", std::process::id()));
    std::fs::write(&path, many).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_baseplate"))
        .args(["render", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -0`: the reader closes before anything is written.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn an_input_over_16_mib_is_refused_before_it_is_read_whole() {
    let mut huge = b"# padding\n".repeat(1_700_000);
    huge.extend_from_slice(app("web", "image: nginx:1.27").as_bytes());
    let output = baseplate(&["render", "-"], &huge);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("larger than 16 MiB"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn nothing_is_printed_when_any_app_is_refused() {
    let platform = "---\napiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: caps}\nspec:\n  limits: {maxReplicas: 3}\n";
    let input = format!(
        "{}{}{platform}",
        app("good", "image: nginx:1.27\nreplicas: 2"),
        app("too-big", "image: nginx:1.27\nreplicas: 5")
    );
    let output = baseplate(&["render", "-"], input.as_bytes());
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "half a set was printed");
    let message = stderr(&output);
    assert!(
        message.contains("shop/too-big") && message.contains("spec.replicas"),
        "{message}"
    );
    assert!(message.contains("nothing was printed"), "{message}");
}

#[test]
fn the_same_app_twice_is_refused() {
    let input = format!(
        "{}{}",
        app("web", "image: nginx:1.27"),
        app("web", "image: nginx:1.28")
    );
    let output = baseplate(&["render", "-"], input.as_bytes());
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).contains("App shop/web appears more than once"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_empty_input_says_so() {
    for input in ["", "# only a comment\n", "---\n"] {
        let output = baseplate(&["render", "-"], input.as_bytes());
        assert!(!output.status.success(), "{input:?}");
        assert!(
            stderr(&output).contains("<stdin> holds no App and no Platform"),
            "{input:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn yaml_errors_name_the_document_and_line_in_plain_words() {
    let input = format!(
        "{}---\napiVersion: baseplate.dev/v1alpha1\nkind: App\nkind: App\n",
        app("web", "image: nginx:1.27")
    );
    let output = baseplate(&["render", "-"], input.as_bytes());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("<stdin>: document 2: line 12"),
        "{message}"
    );
    assert!(
        message.contains("the key `kind` appears twice"),
        "{message}"
    );
    assert!(
        !message.contains("DuplicateKeyPolicy") && !message.contains("-->"),
        "{message}"
    );
}

#[test]
fn another_kind_is_named_as_such() {
    let output = baseplate(
        &["render", "-"],
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("kind: Deployment is not an App or a Platform"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_app_with_thousands_of_ports_is_refused_on_its_size() {
    let ports: String = (0..5000)
        .map(|i| format!("  - {{name: p{i}, containerPort: {}}}\n", 1000 + i))
        .collect();
    let input = format!(
        "apiVersion: baseplate.dev/v1alpha1\nkind: App\nmetadata: {{name: web, namespace: shop}}\nspec:\n  image: nginx:1.27\n  ports:\n{ports}"
    );
    assert!(input.len() > 150_000);
    let output = baseplate(&["render", "-"], input.as_bytes());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("spec.ports"), "{message}");
    assert!(message.contains("at most"), "{message}");
}

#[test]
fn render_and_explain_speak_json_for_scripts() {
    let output = baseplate(&["render", "--output", "json"], b"");
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"Deployment") && kinds.contains(&"Service"),
        "{kinds:?}"
    );

    let output = baseplate(&["explain", "-o", "json"], b"");
    assert!(output.status.success(), "{}", stderr(&output));
    let explained: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let replicas = &explained[0]["settings"]["autoscaling.maxReplicas"];
    assert_eq!(replicas["value"], 10);
    assert_eq!(replicas["source"], "built-in");
}

#[test]
fn schema_prints_the_editor_schema_of_each_kind() {
    for (kind, constant) in [("app", "App"), ("platform", "Platform")] {
        let output = baseplate(&["schema", kind], b"");
        assert!(output.status.success(), "{}", stderr(&output));
        let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(schema["properties"]["kind"]["const"], constant);
    }
}

#[test]
fn explain_refuses_exactly_what_render_refuses() {
    let platform = "apiVersion: baseplate.dev/v1alpha1\nkind: Platform\nmetadata: {name: caps}\nspec:\n  limits: {maxReplicas: 5}\n";
    let dir = std::env::temp_dir().join(format!("baseplate-cli-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let platform_path = dir.join("platform.yaml");
    std::fs::write(&platform_path, platform).unwrap();
    let too_big = app(
        "web",
        "image: nginx:1.27\nports: [{name: http, containerPort: 8080}]\nreplicas: 9",
    );
    let args = |command| vec![command, "-", "--platform", platform_path.to_str().unwrap()];
    let render = baseplate(&args("render"), too_big.as_bytes());
    let explain = baseplate(&args("explain"), too_big.as_bytes());
    std::fs::remove_dir_all(&dir).ok();
    assert!(!render.status.success() && !explain.status.success());
    assert!(
        explain.stdout.is_empty(),
        "nothing explained of a refused App"
    );
    // The same words (a backtrace, when RUST_BACKTRACE asks for one, names the command).
    let said = |output: &Output| {
        let text = stderr(output);
        text.split("\n\nStack backtrace")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(said(&explain), said(&render));
    assert!(
        stderr(&explain).contains("spec.replicas"),
        "{}",
        stderr(&explain)
    );
}

#[test]
fn explain_shows_probes_ingress_keys_and_the_children_but_no_values() {
    let web = app(
        "web",
        "image: nginx:1.27\nports: [{name: http, containerPort: 8080}]\nreplicas: 1\nenv: {MODE: very-plain-value}\nsecrets: {supplied: [API_TOKEN]}\nstartupProbe: {path: /started, failureThreshold: 30}",
    );
    let output = baseplate(&["explain", "-"], web.as_bytes());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    for wanted in [
        "Children: ConfigMap/web, Secret/web, Deployment/web, Service/web, Ingress/web\n",
        "startupProbe ",
        "/started",
        "ingress.paths ",
        "[\"API_TOKEN\"]",
        "[\"MODE\"]",
        "left out: the App runs as few as 1 replica(s)",
    ] {
        assert!(text.contains(wanted), "{wanted:?} missing from:\n{text}");
    }
    assert!(!text.contains("very-plain-value"), "{text}");
}
