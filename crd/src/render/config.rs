//! The ConfigMap (env values and files) and the Secret (generated keys only).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use sha2::{Digest, Sha256};

use super::ChildMeta;
use crate::app::App;
use crate::error::RenderError;
use crate::secrets::{SecretState, generated_keys, short_hex};

/// Plain env values (`env` and `config.env`) and config files, one key each.
pub(super) fn config_map(app: &App, meta: &ChildMeta) -> ConfigMap {
    let mut data: BTreeMap<String, String> = app.spec.env.clone();
    if let Some(config) = &app.spec.config {
        data.extend(config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        data.extend(config.files.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    ConfigMap {
        metadata: meta.object_meta(),
        data: Some(data),
        ..Default::default()
    }
}

/// Env keys of the ConfigMap, in the order the container lists them.
pub(super) fn config_env_keys(app: &App) -> Vec<&str> {
    let mut keys: Vec<&str> = app.spec.env.keys().map(String::as_str).collect();
    if let Some(config) = &app.spec.config {
        keys.extend(config.env.keys().map(String::as_str));
    }
    keys.sort_unstable();
    keys
}

/// The App's Secret with the generated keys only: supplied keys belong to whoever writes them,
/// and server-side apply leaves fields Baseplate does not send with their owners.
pub(super) fn secret(
    app: &App,
    secrets: &SecretState,
    meta: &ChildMeta,
) -> Result<Secret, RenderError> {
    let data = generated_keys(&app.spec)
        .map(|key| {
            secrets
                .get(key)
                .filter(|v| !v.0.is_empty())
                .map(|v| (key.to_string(), ByteString(v.0.clone())))
                .ok_or_else(|| RenderError::GeneratedSecretMissing(key.to_string()))
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(Secret {
        metadata: meta.object_meta(),
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    })
}

/// A digest of the ConfigMap's data, so pods roll when config changes.
pub(super) fn config_digest(config_map: &ConfigMap) -> String {
    let mut hasher = Sha256::new();
    for (key, value) in config_map.data.iter().flatten() {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    short_hex(&hasher.finalize())
}
