//! Where the config files are mounted: an absolute directory that does not overlap the pod's
//! writable `/tmp` volume. Paths are read as the kubelet reads them, so `/tmp/`, `//tmp` and
//! `/etc/../tmp` are all `/tmp`.

/// The directory every container mounts its writable scratch volume at.
pub const TMP: &str = "/tmp";

/// CEL for a mount path: absolute, no `.` or `..` part (CEL cannot resolve them, so they are
/// refused rather than read), and after collapsing slashes neither `/`, `/tmp` nor under `/tmp`.
pub const RULE: &str = "self.startsWith('/') && !self.matches('(^|/)[.][.]?(/|$)') && !self.matches('^/*(tmp/*)?$') && !self.matches('^/+tmp/+[^/]')";

/// CEL for a mount path written as the kubelet mounts it: no repeated and no trailing `/`.
pub const NORMALISED_RULE: &str = "!self.contains('//') && !self.endsWith('/')";

/// Whether the directories `a` and `b` (normalised) are one, or one holds the other.
pub fn overlap(a: &str, b: &str) -> bool {
    let inside = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    a == b || inside(a, b) || inside(b, a)
}

/// The rule's message after the field's name.
macro_rules! message {
    () => {
        "must be an absolute directory other than / and /tmp and not inside /tmp (each container mounts its writable /tmp volume there), without '.' or '..' parts; write the directory itself, such as /etc/app"
    };
}
pub(crate) use message;

/// The path with repeated and trailing slashes removed: `//etc/app/` is `/etc/app`.
pub fn normalised(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// Why `path` cannot hold the config files, exactly as [`RULE`] decides; `None` when it can.
pub fn problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("it is not absolute");
    }
    if path.split('/').any(|part| part == "." || part == "..") {
        return Some("it has a '.' or '..' part");
    }
    let path = normalised(path);
    if path == "/" {
        Some("it is the root directory")
    } else if path == TMP {
        Some("it is /tmp, where the writable volume is")
    } else if path.starts_with("/tmp/") {
        Some("it lies inside /tmp, where the writable volume is")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_as_the_kubelet_reads_them() {
        for refused in [
            "/",
            "//",
            "/tmp",
            "/tmp/",
            "//tmp//",
            "/tmp/app",
            "/etc/../tmp",
            "/etc/./app",
            "etc/app",
            "",
        ] {
            assert!(problem(refused).is_some(), "{refused:?}");
        }
        for fine in [
            "/etc/app",
            "/etc//app/",
            "/srv/conf.d",
            "/tmpfiles",
            "/var/tmp",
            "/etc/.hidden",
        ] {
            assert_eq!(problem(fine), None, "{fine:?}");
        }
        assert_eq!(normalised("//etc//app/"), "/etc/app");
        assert!(overlap("/etc/app", "/etc/app"));
        assert!(overlap("/etc/app/cache", "/etc/app"));
        assert!(overlap("/etc", "/etc/app"));
        assert!(!overlap("/etc/application", "/etc/app"));
        assert!(!overlap("/var/cache", "/etc/app"));
    }
}
