//! API errors as SageMaker sends them: HTTP 400 with an awsJson body `{"__type", "message"}`
//! (the kit's [`AwsError`]); the codes below are SageMaker's own.

pub(crate) use emulator_kit::AwsError as ApiError;

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// SageMaker's error codes.
pub(crate) trait SageMakerError {
    fn not_found(message: impl Into<String>) -> Self;
    fn in_use(message: impl Into<String>) -> Self;
    /// How DescribeApp and DescribeSpace say "no such app/space" (terraform-provider-aws's
    /// sagemaker find.go matches ValidationException with "RecordNotFound" in the message).
    fn record_not_found(what: impl std::fmt::Display) -> Self;
    fn limit_exceeded(message: impl Into<String>) -> Self;
}

impl SageMakerError for ApiError {
    fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFound", message)
    }

    fn in_use(message: impl Into<String>) -> Self {
        Self::new("ResourceInUse", message)
    }

    fn record_not_found(what: impl std::fmt::Display) -> Self {
        Self::validation(format!("RecordNotFound: {what}"))
    }

    fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("ResourceLimitExceeded", message)
    }
}
