//! The Argo CD health check for Apps (deploy/argocd/baseplate.dev/App) run as Argo CD runs it:
//! `health.lua` with the object in the global `obj`, against every case of its
//! `health_test.yaml` (Argo CD's own test format), in Lua 5.1 like Argo CD's gopher-lua.

use std::path::{Path, PathBuf};

use baseplate_crd::App;
use mlua::{Lua, LuaSerdeExt};
use serde::Deserialize;
use serde_json::Value;

fn check_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/argocd/baseplate.dev/App")
}

#[derive(Deserialize)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: HealthStatus,
    input_path: String,
}

#[derive(Deserialize, Debug, PartialEq)]
struct HealthStatus {
    status: String,
    message: String,
}

fn run_health_check(object: &Value) -> HealthStatus {
    let lua = Lua::new();
    let script = std::fs::read_to_string(check_dir().join("health.lua")).unwrap();
    lua.globals()
        .set("obj", lua.to_value(object).unwrap())
        .unwrap();
    let result: mlua::Value = lua.load(&script).eval().unwrap();
    lua.from_value(result).unwrap()
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_case_of_health_test_yaml_gets_its_status_and_message() {
    let text = std::fs::read_to_string(check_dir().join("health_test.yaml")).unwrap();
    let cases: HealthTests = serde_saphyr::from_str(&text).unwrap();
    let statuses: Vec<&str> = cases
        .tests
        .iter()
        .map(|t| t.health_status.status.as_str())
        .collect();
    for wanted in ["Healthy", "Progressing", "Degraded"] {
        assert!(statuses.contains(&wanted), "no case for {wanted}");
    }
    for case in &cases.tests {
        let object = read(&check_dir().join(&case.input_path));
        assert_eq!(
            run_health_check(&object),
            case.health_status,
            "{}",
            case.input_path
        );
    }
}

#[test]
fn the_test_objects_are_apps_as_the_operator_writes_them() {
    for entry in std::fs::read_dir(check_dir().join("testdata")).unwrap() {
        let path = entry.unwrap().path();
        let object = read(&path);
        serde_path_to_error::deserialize::<_, App>(object)
            .unwrap_or_else(|e| panic!("{}: not an App: {e}", path.display()));
    }
}

#[test]
fn a_status_for_an_older_generation_is_never_healthy() {
    let mut object = read(&check_dir().join("testdata/healthy.yaml"));
    object["metadata"]["generation"] = 7.into();
    let health = run_health_check(&object);
    assert_eq!(health.status, "Progressing", "{health:?}");
}
