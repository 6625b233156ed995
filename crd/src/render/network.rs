//! The Service (every port of the main container) and the Ingress in front of it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec as K8sIngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::ChildMeta;
use crate::app::App;
use crate::labels;
use crate::settings::Settings;

/// `None` when the App has no port: nothing to route to.
pub(super) fn service(app: &App, meta: &ChildMeta) -> Option<Service> {
    if app.spec.ports.is_empty() {
        return None;
    }
    Some(Service {
        metadata: meta.object_meta(),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(meta.selector()),
            ports: Some(
                app.spec
                    .ports
                    .iter()
                    .map(|p| ServicePort {
                        name: Some(p.name.clone()),
                        port: p.container_port,
                        target_port: Some(IntOrString::String(p.name.clone())),
                        protocol: Some(p.protocol.unwrap_or_default().as_str().into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    })
}

pub(super) fn ingress(settings: &Settings, meta: &ChildMeta) -> Option<Ingress> {
    let ingress = settings.ingress.as_ref()?;
    let mut metadata = meta.object_meta();
    if let Some(issuer) = ingress.tls.as_ref().and_then(|t| t.cluster_issuer.as_ref()) {
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(labels::CERT_MANAGER_ISSUER.into(), issuer.clone());
    }
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: meta.name.clone(),
            port: Some(ServiceBackendPort {
                name: Some(ingress.port.clone()),
                number: None,
            }),
        }),
        resource: None,
    };
    Some(Ingress {
        metadata,
        spec: Some(K8sIngressSpec {
            ingress_class_name: ingress.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(ingress.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: ingress
                        .paths
                        .iter()
                        .map(|path| HTTPIngressPath {
                            path: Some(path.clone()),
                            path_type: "Prefix".into(),
                            backend: backend.clone(),
                        })
                        .collect(),
                }),
            }]),
            tls: ingress.tls.as_ref().map(|tls| {
                vec![IngressTLS {
                    hosts: Some(vec![ingress.host.clone()]),
                    secret_name: Some(tls.secret_name.clone()),
                }]
            }),
            default_backend: None,
        }),
        status: None,
    })
}
