//! Baseplate's API types and its pure rendering: one `App` plus the matching `Platform`s in,
//! the seven Kubernetes children out. No client and no I/O live in this crate, so what the
//! operator applies and what `baseplate render` prints come from the same functions.

pub mod admission;
pub mod app;
pub mod builtin;
pub mod cel_rule;
pub mod child;
pub mod crds;
pub mod error;
pub mod image;
pub mod labels;
pub mod manifest;
pub mod namespace_selector;
pub mod platform;
pub mod policy;
pub mod quantity;
pub mod render;
pub mod resolve;
pub mod schemas;
pub mod secrets;
pub mod status;
pub mod strict_fields;

pub use app::{App, AppSpec};
pub use child::{ChildKind, ChildObject, ChildRef};
pub use error::{FieldError, RenderError};
pub use platform::{Platform, PlatformSpec};
pub use render::{Children, render};
pub use resolve::{EffectivePlatform, Settings, Source};
pub use secrets::SecretState;
pub use status::AppStatus;
