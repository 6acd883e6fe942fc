//! AWS errors classified once, from `.code()` and the HTTP status, never from message text.

use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What a failed AWS call means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NotFound,
    /// Busy with another operation, or still used by something.
    InUse,
    Throttled,
    Validation,
    /// 5xx, InternalFailure / ServiceUnavailable, an answer that could not be read, or no answer.
    ServerError,
    /// ResourceLimitExceeded: an account quota (see [`quota_of`]).
    QuotaExceeded,
    Other,
}

const NOT_FOUND: [&str; 5] = ["ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NotFound"];
const THROTTLING: [&str; 6] =
    ["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "ProvisionedThroughputExceededException"];
const SERVER: [&str; 5] = ["InternalFailure", "ServiceUnavailable", "InternalError", "InternalServerError", "InternalServerException"];

impl Kind {
    /// The kind of an error code the service answered with (and the answer's HTTP status).
    pub fn of(code: Option<&str>, status: Option<u16>) -> Kind {
        match code {
            Some(c) if NOT_FOUND.contains(&c) => Kind::NotFound,
            Some("ResourceInUse") => Kind::InUse,
            Some("ResourceLimitExceeded") => Kind::QuotaExceeded,
            Some(c) if THROTTLING.contains(&c) => Kind::Throttled,
            Some(c) if SERVER.contains(&c) => Kind::ServerError,
            Some("ValidationException") => Kind::Validation,
            _ if status.is_some_and(|s| s >= 500) => Kind::ServerError,
            _ if status == Some(429) => Kind::Throttled,
            _ => Kind::Other,
        }
    }
}

/// A failed AWS call: the operation, its kind, and the service's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: Kind,
    pub code: Option<String>,
    pub message: Option<String>,
    /// For errors without a service answer (transport, timeouts): what the SDK says.
    pub detail: Option<String>,
}

impl AwsError {
    pub fn new<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(e) => {
                let (code, message) = (e.err().code(), e.err().message());
                let kind = Kind::of(code, Some(e.raw().status().as_u16()));
                Self { operation, kind, code: code.map(str::to_string), message: message.map(str::to_string), detail: None }
            }
            SdkError::ConstructionFailure(_) => Self::without_answer(operation, Kind::Other, err),
            // No answer, or one that could not be read: the service's side, retried for a while.
            _ => Self::without_answer(operation, Kind::ServerError, err),
        }
    }

    fn without_answer<E: std::error::Error + 'static>(operation: &'static str, kind: Kind, err: &SdkError<E, HttpResponse>) -> Self {
        Self { operation, kind, code: None, message: None, detail: Some(DisplayErrorContext(err).to_string()) }
    }

    pub fn is(&self, kind: Kind) -> bool {
        self.kind == kind
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

/// "Operation: Code: message" (`to_string()` on an SDK error would say only "service error"),
/// and for a quota, which quota and what to do.
impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, &self.message, &self.detail) {
            (Some(code), Some(message), _) => write!(f, "{}: {code}: {message}", self.operation)?,
            (Some(code), None, _) => write!(f, "{}: {code}", self.operation)?,
            (None, _, Some(detail)) => write!(f, "{}: {detail}", self.operation)?,
            (None, _, None) => write!(f, "{}: failed without an error code", self.operation)?,
        }
        if self.kind == Kind::QuotaExceeded {
            let quota = quota_of(self.operation);
            write!(f, " (the account's quota of {quota} is used up: delete unused ones, or request an increase in Service Quotas)")?;
        }
        Ok(())
    }
}

/// The account quota a ResourceLimitExceeded from `operation` is about.
pub fn quota_of(operation: &str) -> &'static str {
    match operation {
        "CreateDomain" => "SageMaker domains per Region",
        "CreateUserProfile" => "user profiles per domain",
        "CreateSpace" => "spaces per domain",
        "CreateApp" => "apps per domain (or instances of that type)",
        "CreateStudioLifecycleConfig" => "Studio lifecycle configurations per Region",
        _ => "SageMaker resources of this kind",
    }
}

impl std::error::Error for AwsError {}

/// `.aws("Operation")` on an SDK call's result: the error classified.
pub trait AwsResult<T> {
    fn aws(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> AwsResult<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn aws(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::new(operation, &e))
    }
}

/// The code the service answered with, if any (prefer [`AwsError::kind`]).
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Ok(None) for a not-found answer.
pub fn absent_if_not_found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is(Kind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_codes_and_statuses() {
        assert_eq!(Kind::of(Some("ResourceNotFound"), Some(400)), Kind::NotFound);
        assert_eq!(Kind::of(Some("ResourceNotFoundException"), Some(400)), Kind::NotFound);
        assert_eq!(Kind::of(Some("ResourceInUse"), Some(400)), Kind::InUse);
        assert_eq!(Kind::of(Some("ThrottlingException"), Some(400)), Kind::Throttled);
        assert_eq!(Kind::of(Some("ValidationException"), Some(400)), Kind::Validation);
        assert_eq!(Kind::of(Some("InternalFailure"), Some(500)), Kind::ServerError);
        assert_eq!(Kind::of(Some("ServiceUnavailable"), Some(503)), Kind::ServerError);
        assert_eq!(Kind::of(None, Some(502)), Kind::ServerError);
        assert_eq!(Kind::of(Some("SomethingNew"), Some(500)), Kind::ServerError);
        assert_eq!(Kind::of(Some("ResourceLimitExceeded"), Some(400)), Kind::QuotaExceeded);
        // RecordNotFound arrives as a ValidationException: not a not-found.
        assert_eq!(Kind::of(Some("ValidationException"), Some(400)), Kind::Validation);
    }

    #[test]
    fn the_reason_names_operation_code_and_message() {
        let e = AwsError { operation: "DeleteApp", kind: Kind::InUse, code: Some("ResourceInUse".into()), message: Some("busy".into()), detail: None };
        assert_eq!(e.to_string(), "DeleteApp: ResourceInUse: busy");
    }

    #[test]
    fn a_quota_refusal_names_the_quota() {
        let code = Some("ResourceLimitExceeded".to_string());
        let e = AwsError { operation: "CreateDomain", kind: Kind::QuotaExceeded, code, message: Some("limit".into()), detail: None };
        let reason = e.to_string();
        assert!(reason.starts_with("CreateDomain: ResourceLimitExceeded: limit (the account's quota of SageMaker domains per Region"), "{reason}");
        assert!(reason.contains("Service Quotas"), "{reason}");
    }
}
