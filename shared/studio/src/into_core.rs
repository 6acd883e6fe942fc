//! The one place the Studio layer meets the custom-resource core: an AWS error becomes a
//! step error (throttling and busy resources retried within ServiceTimeout, server errors
//! for a bounded time), and a request names the owner of what it creates.

use crate::error::{AwsError, Kind};
use crate::ownership::Owner;
use crate::teardown::TeardownError;
use custom_resource::{Error, Request, Retry};

impl From<AwsError> for Error {
    fn from(e: AwsError) -> Self {
        let retry = match e.kind {
            Kind::Throttled => Retry::Throttled,
            Kind::ServerError => Retry::ServerError,
            _ => Retry::No,
        };
        Error::new(e.to_string()).retry(retry)
    }
}

impl From<TeardownError> for Error {
    fn from(e: TeardownError) -> Self {
        match e {
            TeardownError::Aws(e) => e.into(),
            TeardownError::Failed(reason) => Error::new(reason),
        }
    }
}

impl<'a> From<&'a Request> for Owner<'a> {
    fn from(request: &'a Request) -> Self {
        Owner { stack_id: &request.stack_id, logical_id: &request.logical_resource_id, request_id: &request.request_id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_the_retry() {
        let error = |kind, code: &str| AwsError { operation: "DescribeDomain", kind, code: Some(code.into()), message: None, detail: None };
        assert_eq!(Error::from(error(Kind::Throttled, "ThrottlingException")).retry, Retry::Throttled);
        let server = Error::from(error(Kind::ServerError, "InternalFailure"));
        assert_eq!((server.retry, server.reason.as_str()), (Retry::ServerError, "DescribeDomain: InternalFailure"));
        assert_eq!(Error::from(error(Kind::Validation, "ValidationException")).retry, Retry::No);
    }
}
