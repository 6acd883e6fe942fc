//! API errors as SageMaker sends them: HTTP 400 with an awsJson body `{"__type", "message"}`.
//! The SDK takes the error code from `__type` and the text from `message`.

use axum::http::StatusCode;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFound", message)
    }

    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new("ResourceInUse", message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// The body is not JSON, or a member has the wrong JSON type.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn throttling() -> Self {
        Self::new("ThrottlingException", "Rate exceeded")
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::new("UnknownOperationException", format!("Unknown operation: '{target}'"))
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.code, "message": self.message })
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
