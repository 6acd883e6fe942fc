//! The one place the Studio layer meets the custom-resource core: an AWS error becomes a
//! step error (throttling and busy resources retried within ServiceTimeout, server errors
//! for a bounded time), a request names the owner of what it creates, and a Create refused
//! because the name is taken carries on with what this stack resource made.

use crate::error::{AwsError, Kind};
use crate::ownership::Owner;
use crate::tags;
use crate::teardown::TeardownError;
use aws_sdk_sagemaker::Client;
use custom_resource::{Error, PropertyError, Request, Retry};

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
            TeardownError::InUse { error, .. } => Error::from(error).retry_later(),
        }
    }
}

impl<'a> From<&'a Request> for Owner<'a> {
    fn from(request: &'a Request) -> Self {
        Owner { stack_id: &request.stack_id, logical_id: &request.logical_resource_id, request_id: &request.request_id }
    }
}

/// A Create SageMaker refused (`refusal`), perhaps because the name is taken by an earlier
/// delivery of this request or by someone else: `existing` is what a Describe of that name
/// found afterwards. Made by this very request (its RequestId tag: a redelivery) -> carry on
/// with it; anyone else's, another request of this stack resource included (a Create forged
/// inside this one's window could have planted it) -> `taken` (see
/// [`crate::ownership::name_taken`]), left as it is. Nothing found, or gone before its tags
/// could be read -> the refusal stands; ResourceInUse then means the parent was busy, so it is
/// tried again.
pub async fn adopt_existing<T>(
    sagemaker: &Client,
    request: &Request,
    refusal: AwsError,
    existing: Result<Option<T>, AwsError>,
    arn_of: fn(&T) -> Option<&str>,
    taken: PropertyError,
) -> Result<T, Error> {
    let busy = refusal.is(Kind::InUse);
    let stands = |refusal: AwsError| if busy { Error::from(refusal).retry_later() } else { refusal.into() };
    let existing = match existing {
        Ok(Some(existing)) => existing,
        _ => return Err(stands(refusal)),
    };
    let tags = match tags::list(sagemaker, arn_of(&existing).unwrap_or_default()).await {
        Ok(tags) => tags,
        // Gone while we looked (e.g. a failed one the other delivery removed).
        Err(e) if e.is(Kind::NotFound) || e.is(Kind::Validation) => return Err(stands(refusal)),
        Err(e) => return Err(e.into()),
    };
    if !Owner::from(request).made(&tags) {
        return Err(taken.into());
    }
    Ok(existing)
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
