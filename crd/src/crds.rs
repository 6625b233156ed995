//! The CustomResourceDefinitions, generated from the types. `deploy/crds.yaml` is this output;
//! a test fails when the committed copy is stale.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::app::App;
use crate::platform::Platform;

pub fn all() -> Vec<CustomResourceDefinition> {
    vec![App::crd(), Platform::crd()]
}

/// Both CRDs as one multi-document YAML stream.
pub fn to_yaml() -> String {
    crate::manifest::to_yaml_stream(
        all()
            .iter()
            .map(|crd| serde_json::to_value(crd).expect("CRDs serialize")),
    )
}
