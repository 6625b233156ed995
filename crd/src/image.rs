//! Container image references and `limits.allowedRegistries` entries, and the rule that joins
//! them.
//!
//! An image is read with the OCI distribution reference grammar
//! (`[host[:port]/]path[:tag][@digest]`) by `oci-spec`'s `distribution::Reference`, the reference
//! type of the youki / oci-client stack, which also applies Docker Hub's defaults the way
//! container runtimes do: `nginx` is `docker.io/library/nginx`, `someone/tool` is
//! `docker.io/someone/tool`, and `index.docker.io` is `docker.io`. On top of it this module
//! refuses what Docker's own parser refuses and `oci-spec` lets through: an uppercase first path
//! component (`Team/app`), non-ASCII tags, uppercase digest hex, and a normalised name longer than
//! 255 characters.
//!
//! An allowed-registries entry is a registry host (`registry.example.com`, `localhost:5000`,
//! `10.0.0.1:5000`), optionally followed by a repository path (`docker.io/library`) and a `/`.
//! An image is allowed by an entry when its registry host is the entry's host (ASCII case aside,
//! as DNS has it; a port is part of the host) and its repository path is the entry's path or
//! lies under it on a `/` boundary. So `registry.example.com` never admits
//! `registry.example.com.evil.io/...` or `registry.example.comx/...`, and `docker.io/library`
//! never admits `docker.io/library-evil/...`.

use std::sync::LazyLock;

use oci_spec::distribution::{ParseError, Reference};
use regex::Regex;

/// The reference grammar as one RE2 expression, for the CRD's CEL rule. ASCII classes only:
/// RE2's `\w` is ASCII but Rust's is not, and the API server and `baseplate render` must agree.
macro_rules! image_pattern {
    () => {
        concat!(
            "^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?/)?",
            "[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*)*",
            "(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})?",
            "(@(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}))?$"
        )
    };
}

/// CEL rule on every image field. The second clause is Docker's: a first component without `.`
/// or `:` (and not `localhost`) is a path, so it must be lowercase; the third refuses a bare
/// 64-hex name, which Docker reads as an image ID.
pub const IMAGE_RULE: &str = concat!(
    "self.matches('",
    image_pattern!(),
    "') && !self.matches('^[^/.:]*[A-Z][^/.:]*/') && !self.matches('^[a-f0-9]{64}$')"
);
pub const IMAGE_MESSAGE: &str = "image must be a non-empty image reference without spaces, [registry[:port]/]repository[:tag][@sha256:<64 lowercase hex>], such as nginx:1.27 or registry.example.com/team/api:1.4, with a lowercase repository and no scheme such as https://";

/// An allowed-registries entry, lowercase: host (with a dot, a port, or `localhost`), then an
/// optional repository path, then an optional `/`.
macro_rules! entry_pattern {
    () => {
        concat!(
            "^((localhost|[a-z0-9]([a-z0-9-]*[a-z0-9])?([.][a-z0-9]([a-z0-9-]*[a-z0-9])?)+)(:[0-9]+)?|[a-z0-9]([a-z0-9-]*[a-z0-9])?:[0-9]+)",
            "(/[a-z0-9]+(([.]|_|__|-+)[a-z0-9]+)*)*/?$"
        )
    };
}

pub const ENTRY_PATTERN: &str = entry_pattern!();
/// CEL rule on every allowed-registries entry.
pub const ENTRY_RULE: &str = concat!("self.matches('", entry_pattern!(), "')");
pub const ENTRY_MESSAGE: &str = "allowedRegistries entries must be a lowercase registry host (registry.example.com, localhost:5000) optionally followed by a repository path (docker.io/library), without a scheme, tag or spaces";

/// Docker's limit on a repository name, domain included.
const NAME_MAX_LEN: usize = 255;
/// Why a name over [`NAME_MAX_LEN`] is refused: the one rule the CRD's CEL cannot compute (it
/// needs the name normalised), so the API server stores such an App and resolution refuses it.
const TOO_LONG: &str = "its name with the registry is longer than 255 characters";

/// An image reference, with Docker Hub's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, port included: `docker.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path on that registry: `library/nginx`, `team/api`.
    pub repository: String,
}

/// Why a string is not an image reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{IMAGE_MESSAGE} (got {value:?}; {reason})")]
pub struct ImageError {
    pub value: String,
    pub reason: &'static str,
}

impl ImageError {
    /// Whether the reference follows the grammar (as the CRD's CEL rule checks it) and only its
    /// normalised name is too long.
    pub fn is_only_too_long(&self) -> bool {
        self.reason == TOO_LONG
    }
}

impl ImageRef {
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        let refuse = |reason| ImageError {
            value: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(refuse("it is empty"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("it contains a space or a control character"));
        }
        if text.contains("://") {
            return Err(refuse(
                "it starts with a scheme; image references have none",
            ));
        }
        if !text.is_ascii() {
            return Err(refuse("it contains a character that is not ASCII"));
        }
        let reference = Reference::try_from(text).map_err(|e| {
            refuse(match e {
                ParseError::DigestInvalidFormat | ParseError::DigestInvalidLength => {
                    "its digest is not <algorithm>:<hex> of the algorithm's length (64 hex characters for sha256)"
                }
                ParseError::DigestUnsupported => {
                    "its digest algorithm is not sha256, sha384 or sha512"
                }
                ParseError::NameContainsUppercase => "its repository has uppercase letters",
                ParseError::NameEmpty => "it has no repository",
                ParseError::NameTooLong => TOO_LONG,
                ParseError::ReferenceInvalidFormat | ParseError::TagInvalidFormat => {
                    "it does not follow the grammar (an uppercase repository, a bad tag or port, or a stray character)"
                }
            })
        })?;
        let repository = reference.repository();
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(refuse("its repository has uppercase letters"));
        }
        if let Some(digest) = reference.digest()
            && digest.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(refuse("its digest has uppercase hex digits"));
        }
        if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(refuse(
                "it is a 64-character hex string, which reads as an image ID",
            ));
        }
        if reference.registry().len() + 1 + repository.len() > NAME_MAX_LEN {
            return Err(refuse(TOO_LONG));
        }
        Ok(Self {
            registry: reference.registry().to_string(),
            repository: repository.to_string(),
        })
    }
}

/// One `limits.allowedRegistries` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryEntry {
    pub host: String,
    /// Repository path prefix without a trailing `/`; empty admits the whole registry.
    pub path: String,
}

static ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(ENTRY_PATTERN).expect("the entry pattern compiles"));

impl RegistryEntry {
    /// `None` when the entry is not a registry host or host/path.
    pub fn parse(text: &str) -> Option<Self> {
        if !ENTRY.is_match(text) {
            return None;
        }
        let text = text.trim_end_matches('/');
        let (host, path) = text.split_once('/').unwrap_or((text, ""));
        // The image side maps Docker Hub's legacy host the same way.
        let host = if host == "index.docker.io" {
            "docker.io"
        } else {
            host
        };
        Some(Self {
            host: host.to_string(),
            path: path.to_string(),
        })
    }

    pub fn admits(&self, image: &ImageRef) -> bool {
        image.registry.eq_ignore_ascii_case(&self.host)
            && (self.path.is_empty()
                || image
                    .repository
                    .strip_prefix(&self.path)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn docker_hub_defaults_apply_as_a_container_runtime_reads_them() {
        for (text, registry, repository) in [
            ("nginx", "docker.io", "library/nginx"),
            ("nginx:1.27", "docker.io", "library/nginx"),
            ("docker.io/nginx", "docker.io", "library/nginx"),
            ("index.docker.io/nginx:1", "docker.io", "library/nginx"),
            ("someone/tool:1", "docker.io", "someone/tool"),
            ("localhost/app", "localhost", "app"),
            ("localhost:5000/team/app:1", "localhost:5000", "team/app"),
            (
                "registry.example.com/team/api:1.4",
                "registry.example.com",
                "team/api",
            ),
        ] {
            let parsed = image(text);
            assert_eq!(
                (parsed.registry.as_str(), parsed.repository.as_str()),
                (registry, repository),
                "{text}"
            );
        }
    }

    #[test]
    fn the_cel_rule_and_the_parser_agree() {
        let cel_pattern = Regex::new(image_pattern!()).unwrap();
        let uppercase_path = Regex::new("^[^/.:]*[A-Z][^/.:]*/").unwrap();
        let image_id = Regex::new("^[a-f0-9]{64}$").unwrap();
        let sha = "a".repeat(64);
        for text in [
            "nginx",
            "nginx:1.27",
            "Nginx",
            "team/App",
            "Team/app",
            "Registry.Example.com/team/app",
            "https://registry.example.com/app",
            "nginx:",
            "nginx:t\u{e4}g",
            "nginx@sha256:abc",
            &format!("nginx@sha256:{sha}"),
            &format!("nginx@sha256:{}", sha.to_uppercase()),
            &format!("nginx@md5:{sha}"),
            &format!("nginx:1@sha512:{}", "f".repeat(128)),
            &sha,
            "localhost:5000/app",
            "registry:5000/app:v1",
            "a--b/c__d.e",
            "a/-b",
            "nginx:-x",
        ] {
            let by_cel = cel_pattern.is_match(text)
                && !uppercase_path.is_match(text)
                && !image_id.is_match(text);
            assert_eq!(
                ImageRef::parse(text).is_ok(),
                by_cel,
                "{text}: the parser and the CEL rule disagree"
            );
        }
        // The one rule CEL does not make: Docker's 255-character limit on the normalised name.
        let long_path = format!("registry.example.com/{}", "a".repeat(240));
        assert!(cel_pattern.is_match(&long_path));
        assert!(ImageRef::parse(&long_path).is_err());
    }

    #[test]
    fn an_entry_admits_its_host_exactly_and_paths_under_it() {
        let entry = |text| RegistryEntry::parse(text).unwrap();
        let registry = entry("registry.example.com");
        assert!(registry.admits(&image("registry.example.com/team/api:1")));
        assert!(registry.admits(&image("REGISTRY.example.com/team/api:1")));
        assert!(!registry.admits(&image("registry.example.com.evil.io/team/api:1")));
        assert!(!registry.admits(&image("registry.example.comx/team/api:1")));
        assert!(!registry.admits(&image("registry.example.com:5000/team/api:1")));
        let library = entry("docker.io/library/");
        assert!(library.admits(&image("nginx")));
        assert!(library.admits(&image("docker.io/library/nginx")));
        assert!(!library.admits(&image("docker.io/library-evil/nginx")));
        assert!(!library.admits(&image("someone/nginx")));
        let team = entry("registry.example.com/team");
        assert!(team.admits(&image("registry.example.com/team/api")));
        assert!(!team.admits(&image("registry.example.com/teammate/api")));
        assert!(!team.admits(&image("registry.example.com/api")));
        assert!(entry("index.docker.io/library").admits(&image("nginx:1")));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in [
            "",
            " ",
            "https://registry.example.com",
            "registry.example.com//team",
            "Registry.example.com",
            "registry.example.com/Team",
            "registry",
            "library/nginx",
            "registry.example.com/team/api:1.0",
            "registry.example.com ",
            "*.example.com",
            "registry.example.com/team@sha256:abc",
        ] {
            assert_eq!(RegistryEntry::parse(bad), None, "{bad:?}");
        }
        for good in [
            "registry.example.com",
            "registry.example.com/",
            "registry.example.com/team/sub",
            "localhost",
            "localhost:5000/",
            "myregistry:5000",
            "10.0.0.1:5000/team",
            "docker.io/library/",
        ] {
            assert!(RegistryEntry::parse(good).is_some(), "{good:?}");
        }
    }
}
