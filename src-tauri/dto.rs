//! What crosses the IPC boundary. Domain types stay in core; the UI receives
//! these small, serializable shapes. No secret is ever a field here.

use educloud_core::CoreError;
use serde::Serialize;

/// An error as the UI sees it: a stable code its catalogs translate, the
/// field it belongs under, and diagnostic detail (never a secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorDto {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<CoreError> for ErrorDto {
    fn from(e: CoreError) -> Self {
        tracing::warn!(code = e.code(), error = %e, "command failed");
        ErrorDto {
            code: e.code().to_string(),
            field: e.field().map(str::to_string),
            detail: e.detail(),
        }
    }
}

pub type CmdResult<T> = Result<T, ErrorDto>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_shape_is_stable() {
        let dto = ErrorDto::from(CoreError::invalid("nickname", "nickname.empty"));
        assert_eq!(
            serde_json::to_value(&dto).unwrap(),
            serde_json::json!({"code": "nickname.empty", "field": "nickname"})
        );
    }
}
