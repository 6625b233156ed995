//! The API server's admission checks, evaluated offline: the same CEL rules the CRDs carry,
//! run client-side through kube's `cel` feature, so `baseplate render` rejects what
//! `kubectl apply` would.

use kube::core::cel;

use crate::app::App;
use crate::error::FieldError;
use crate::platform::Platform;

/// Every CEL rule of the App CRD that this App breaks.
pub fn check_app(app: &App) -> Vec<FieldError> {
    to_field_errors(cel::validate_cel(app))
}

/// Every CEL rule of the Platform CRD that this Platform breaks.
pub fn check_platform(platform: &Platform) -> Vec<FieldError> {
    to_field_errors(cel::validate_cel(platform))
}

fn to_field_errors(result: Result<(), cel::ValidationErrors>) -> Vec<FieldError> {
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => {
            let mut errors: Vec<FieldError> = errors
                .into_vec()
                .into_iter()
                .map(|e| {
                    let field = if e.field_path.is_empty() {
                        "metadata.name".to_string()
                    } else {
                        e.field_path
                    };
                    FieldError::new(field, e.message)
                })
                .collect();
            errors.sort_by(|a, b| (&a.field, &a.message).cmp(&(&b.field, &b.message)));
            errors
        }
    }
}
