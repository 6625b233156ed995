//! The name rules Kubernetes applies to object names and host names, for names Baseplate
//! builds from templates (which the API server would otherwise refuse only at apply time), and
//! the CEL rules that apply the same to the names an App or a Platform states.

/// CEL for an Ingress host: lowercase DNS labels of at most 63 characters, at most 253 in all,
/// a wildcard only as the whole first label, and no IP address.
pub const HOST_RULE: &str = "self.matches('^([*][.])?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$') && size(self) <= 253 && !self.matches('^[0-9]+([.][0-9]+){3}$')";
pub const HOST_MESSAGE: &str = "ingress.host must be a lowercase DNS name such as shop.example.com: labels of at most 63 letters, digits and '-', at most 253 characters in all, '*.' only as the whole first label, and not an IP address";

/// CEL for Ingress paths, which the Ingress controller reads as URL path prefixes.
pub const PATHS_RULE: &str =
    "self.all(p, p.startsWith('/') && !p.contains('..') && !p.contains('//'))";
pub const PATHS_MESSAGE: &str = "ingress paths must start with '/' and contain no '..' or '//', such as /api; write the path prefix itself";

/// The longest App name or namespace, standing in for any in the template rules.
macro_rules! longest_name {
    () => {
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    };
}

/// CEL for a Platform's host template: only the placeholders `{name}` and `{namespace}`, and
/// a DNS name ([`HOST_RULE`]) for every App, however long its name and namespace (63 characters
/// each at most): the template is checked with both at their longest.
pub const HOST_TEMPLATE_RULE: &str = concat!(
    "self.replace('{name}', '",
    longest_name!(),
    "').replace('{namespace}', '",
    longest_name!(),
    "').matches('^([*][.])?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?([.][a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$') && ",
    "size(self.replace('{name}', '",
    longest_name!(),
    "').replace('{namespace}', '",
    longest_name!(),
    "')) <= 253"
);
pub const HOST_TEMPLATE_MESSAGE: &str = "hostTemplate may use only the placeholders {name} and {namespace} and must give every App a lowercase DNS host name: with a name and a namespace of 63 characters each, every label at most 63 characters and the host at most 253; give each placeholder a label of its own, such as {name}.{namespace}.apps.example.com";

/// CEL for a Platform's TLS Secret name template: only `{name}`, and a DNS-1123 subdomain for
/// every App name.
pub const SECRET_TEMPLATE_RULE: &str = concat!(
    "self.replace('{name}', '",
    longest_name!(),
    "').matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') && ",
    "size(self.replace('{name}', '",
    longest_name!(),
    "')) <= 253"
);
pub const SECRET_TEMPLATE_MESSAGE: &str = "ingress.tls.secretNameTemplate may use only the placeholder {name} and must give every App a Secret name: lowercase letters, digits, '-' and '.', at most 253 characters with a 63-character App name, such as {name}-tls";

/// CEL for a name Kubernetes checks as a DNS-1123 subdomain (an IngressClass, a Secret).
pub const SUBDOMAIN_RULE: &str = "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') && size(self) <= 253";

/// A DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// A DNS-1123 subdomain, as Kubernetes checks object names such as a Secret's: at most 253
/// characters, with no 63-character limit on the parts between dots (unlike DNS host names).
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A host name as an Ingress rule takes it: DNS labels of at most 63 characters, at most 253 in
/// all, optionally with a leading `*.`, and not an IP address ([`HOST_RULE`]).
pub fn is_dns_name(text: &str) -> bool {
    let host = text.strip_prefix("*.").unwrap_or(text);
    is_dns_subdomain(host) && host.split('.').all(is_dns_label) && !is_dotted_quad(host)
}

/// Four dot-separated numbers, as an IPv4 address is written.
fn is_dotted_quad(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}
