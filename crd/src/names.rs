//! The name rules Kubernetes applies to object names and host names, for names Baseplate
//! builds from templates (which the API server would otherwise refuse only at apply time).

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
/// all, optionally with a leading `*.`.
pub fn is_dns_name(text: &str) -> bool {
    let host = text.strip_prefix("*.").unwrap_or(text);
    is_dns_subdomain(host) && host.split('.').all(is_dns_label)
}
