//! The CRDs' openAPIV3 schemas and their compiled CEL rules, built once per process (per thread
//! for the compiled rules): generating a CRD and compiling its rules costs far more than checking
//! one document against them.

use std::sync::LazyLock;

use kube::CustomResourceExt;
use kube::core::cel::{CompiledSchema, ValidationErrors, Validator, compile_schema};
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::platform::Platform;

/// A Baseplate custom resource whose CRD schema the offline checks walk.
pub trait Checked: CustomResourceExt + Serialize {
    /// The CRD's openAPIV3Schema.
    fn schema() -> &'static Value;
    /// The CRD's CEL rules against a serialized object, as kube's `validate_cel` evaluates them.
    fn validate_cel(object: &Value) -> Result<(), ValidationErrors>;
}

fn openapi_schema<K: CustomResourceExt>() -> Value {
    let mut crd = serde_json::to_value(K::crd()).expect("CRDs serialize");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].take()
}

static APP_SCHEMA: LazyLock<Value> = LazyLock::new(openapi_schema::<App>);
static PLATFORM_SCHEMA: LazyLock<Value> = LazyLock::new(openapi_schema::<Platform>);

thread_local! {
    static APP_CEL: (Validator, CompiledSchema) = (Validator::new(), compile_schema(&APP_SCHEMA));
    static PLATFORM_CEL: (Validator, CompiledSchema) =
        (Validator::new(), compile_schema(&PLATFORM_SCHEMA));
}

impl Checked for App {
    fn schema() -> &'static Value {
        &APP_SCHEMA
    }

    fn validate_cel(object: &Value) -> Result<(), ValidationErrors> {
        APP_CEL.with(|(validator, compiled)| validator.validate_compiled(compiled, object, None))
    }
}

impl Checked for Platform {
    fn schema() -> &'static Value {
        &PLATFORM_SCHEMA
    }

    fn validate_cel(object: &Value) -> Result<(), ValidationErrors> {
        PLATFORM_CEL
            .with(|(validator, compiled)| validator.validate_compiled(compiled, object, None))
    }
}
