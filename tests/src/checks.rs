//! What the e2e suite asserts about an App and its children, as a user would check it.

use anyhow::{anyhow, ensure};
use baseplate_crd::App;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::ResourceExt;
use serde_json::Value;

use crate::Result;

/// A child carries Baseplate's labels and a controller reference to its App.
pub fn check_owned(child: &str, meta: &ObjectMeta, app: &App) -> Result {
    let labels = meta.labels.clone().unwrap_or_default();
    ensure!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str)
            == Some("baseplate")
            && labels.get("baseplate.dev/app") == Some(&app.name_any()),
        "{child} lacks Baseplate's labels: {labels:?}"
    );
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    ensure!(
        controller.is_some_and(|o| o.kind == "App" && Some(&o.uid) == app.metadata.uid.as_ref()),
        "{child} is not controlled by App {}: {:?}",
        app.name_any(),
        meta.owner_references
    );
    Ok(())
}

pub fn condition<'a>(app: &'a App, type_: &str) -> Option<&'a Condition> {
    app.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

/// `Ok` when the App's condition has this status (and reason, when given).
pub fn check_condition(app: &App, type_: &str, status: &str, reason: Option<&str>) -> Result {
    let found =
        condition(app, type_).ok_or_else(|| anyhow!("no {type_} condition in {:?}", app.status))?;
    ensure!(
        found.status == status && reason.is_none_or(|r| found.reason == r),
        "{type_} is {} ({}: {}), want {status} {reason:?}",
        found.status,
        found.reason,
        found.message
    );
    Ok(())
}

/// Nothing needs a person: `Degraded` is False, or it only says that the cluster has no
/// node for the pods (the suite runs on clusters without nodes too, where a scheduler says
/// so of every pod).
pub fn check_not_degraded(app: &App) -> Result {
    if let Some(found) = condition(app, "Degraded")
        && found.reason == "Unschedulable"
        && found.message.contains("no nodes available")
    {
        return Ok(());
    }
    check_condition(app, "Degraded", "False", None)
}

/// The fields `manager` owns through server-side apply (`fieldsV1`), or `null`.
pub fn applied_fields(meta: &ObjectMeta, manager: &str) -> Value {
    meta.managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(manager) && m.operation.as_deref() == Some("Apply"))
        .and_then(|m| m.fields_v1.as_ref())
        .map_or(Value::Null, |f| f.0.clone())
}
