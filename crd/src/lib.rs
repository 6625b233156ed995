//! Baseplate's API types and its pure rendering: one `App` plus the matching `Platform`s in,
//! the seven Kubernetes children out. No client and no I/O live in this crate, so what the
//! operator applies and what `baseplate render` prints come from the same functions.

pub mod admission;
pub mod app;
pub mod builtin;
pub mod cel_rule;
pub mod child;
pub mod child_rules;
pub mod crds;
pub mod error;
pub mod image;
pub mod int_or_percent;
pub mod json_schema;
pub mod labels;
pub mod layering;
pub mod manifest;
pub mod metrics;
pub mod mount_path;
pub mod names;
pub mod namespace_selector;
pub mod placement;
pub mod platform;
pub mod policy;
pub mod quantity;
pub mod render;
pub mod resolve;
pub mod rules;
pub mod schedule;
pub mod schemas;
pub mod secrets;
pub mod security_context;
pub mod select;
pub mod settings;
pub mod status;
pub mod strict_fields;
pub mod waves;
pub mod yaml;

pub use app::{App, AppSpec};
pub use child::{ChildKind, ChildObject, ChildRef};
pub use error::{FieldError, RenderError};
pub use platform::{Platform, PlatformSpec};
pub use render::{Children, render};
pub use secrets::SecretState;
pub use select::EffectivePlatform;
pub use settings::{Settings, Source};
pub use status::AppStatus;
