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

/// Longest name of a Job (its name becomes the value of its pods' `job-name` label).
pub const MAX_JOB_NAME: usize = 63;

/// The migration Job of one version: `<app>-migrate-<version>`, the App's name cut short when
/// the whole would pass 63 characters. The version digest covers the App's name, so two Apps
/// whose names share the kept prefix still get different Jobs.
pub fn migration_job(app: &str, version: &str) -> String {
    let suffix = format!("-migrate-{version}");
    let room = MAX_JOB_NAME.saturating_sub(suffix.len());
    let prefix = app.get(..room.min(app.len())).unwrap_or(app);
    format!("{}{suffix}", prefix.trim_end_matches('-'))
}

/// The CronJob of the App's cron job `entry`.
pub fn cron_job(app: &str, entry: &str) -> String {
    format!("{app}-{entry}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_jobs_fit_a_label_even_for_the_longest_app_names() {
        assert_eq!(
            migration_job("shop", "0123456789"),
            "shop-migrate-0123456789"
        );
        let longest = format!("a{}", "b".repeat(62));
        let name = migration_job(&longest, "0123456789");
        assert_eq!(name.len(), MAX_JOB_NAME);
        assert!(is_dns_label(&name), "{name}");
        assert!(name.ends_with("-migrate-0123456789"));
        // A cut that would end in '-' drops it rather than leave `--migrate`.
        let dashed = format!("{}-{}", "a".repeat(43), "b".repeat(19));
        let name = migration_job(&dashed, "0123456789");
        assert!(is_dns_label(&name) && !name.contains("--"), "{name}");
    }
}
