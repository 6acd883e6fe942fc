//! API errors as SageMaker sends them: HTTP 400 (500/503 for server faults) with an awsJson body `{"__type", "message"}`.
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

    /// How DescribeApp and DescribeSpace say "no such app/space" (terraform-provider-aws's
    /// sagemaker find.go matches ValidationException with "RecordNotFound" in the message).
    pub fn record_not_found(what: impl std::fmt::Display) -> Self {
        Self::validation(format!("RecordNotFound: {what}"))
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("ResourceLimitExceeded", message)
    }

    /// The body is not JSON, or a member has the wrong JSON type.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn throttling() -> Self {
        Self::new("ThrottlingException", "Rate exceeded")
    }

    pub fn internal_failure() -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, ..Self::new("InternalFailure", "We encountered an internal error. Please try again.") }
    }

    pub fn service_unavailable() -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, ..Self::new("ServiceUnavailable", "The service is unavailable. Please try again later.") }
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::new("UnknownOperationException", format!("Unknown operation: '{target}'"))
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.code, "message": self.message })
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
