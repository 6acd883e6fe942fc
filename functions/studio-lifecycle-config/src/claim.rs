//! Who staged a prefix. The staged files of one content (`<AssetPrefix>/<base>/<content hash>/`)
//! are derived from the properties and the hash, and whoever may invoke the function writes
//! both (inside a window CloudFormation really opened: their own stack's Create or Delete). Two
//! resources with the same content share the prefix. So before the first file is staged, a
//! small object beside the prefix (`<AssetPrefix>/<base>/<content hash>.staged-by`) records the
//! stack, logical resource and request that staged it, and nothing under a prefix is deleted
//! unless that record names this stack resource (and, when a Create or Update cleans up after
//! itself, this very request). A prefix someone else staged is never taken over; one that holds
//! files but no record (staged by an earlier version of this function) is staged into without a
//! claim, and its files are kept.

use crate::staging::s3::delete_prefix;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use custom_resource::{Error, Request};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use studio::{AwsResult, Kind};

/// Appended to the staged prefix (without its slash) to name the record.
pub const SUFFIX: &str = ".staged-by";

/// The stack resource and request that staged a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StagedBy {
    pub stack_id: String,
    pub logical_resource_id: String,
    pub request_id: String,
}

impl StagedBy {
    pub fn of(request: &Request) -> Self {
        Self { stack_id: request.stack_id.clone(), logical_resource_id: request.logical_resource_id.clone(), request_id: request.request_id.clone() }
    }

    /// Staged by this stack resource (any of its requests).
    pub fn is_resource_of(&self, request: &Request) -> bool {
        self.stack_id == request.stack_id && self.logical_resource_id == request.logical_resource_id
    }

    /// Staged by this very request.
    pub fn is_request(&self, request: &Request) -> bool {
        self.is_resource_of(request) && self.request_id == request.request_id
    }
}

/// What the record of a staged prefix says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No record.
    None,
    By(StagedBy),
    /// A record that is not ours to read: counts as someone else's.
    Unreadable,
}

impl Claim {
    pub fn is_resource_of(&self, request: &Request) -> bool {
        matches!(self, Claim::By(by) if by.is_resource_of(request))
    }

    pub fn is_request(&self, request: &Request) -> bool {
        matches!(self, Claim::By(by) if by.is_request(request))
    }

    /// Someone else's (another stack resource, or unreadable).
    pub fn is_foreign(&self, request: &Request) -> bool {
        !matches!(self, Claim::None) && !self.is_resource_of(request)
    }

    /// For Reasons: "stack X's Y".
    pub fn describe(&self) -> String {
        match self {
            Claim::None => "nobody on record".to_string(),
            Claim::By(by) => format!("stack {}'s {}", studio::child_stacks::stack_name(&by.stack_id), by.logical_resource_id),
            Claim::Unreadable => "an unreadable record".to_string(),
        }
    }
}

/// The record's key for a staged prefix: "a/lab/<hash>/" -> "a/lab/<hash>.staged-by".
pub fn key(staged_prefix: &str) -> String {
    format!("{}{SUFFIX}", staged_prefix.trim_end_matches('/'))
}

/// The records of one bucket.
pub struct Claims<'a> {
    pub s3: &'a Client,
    pub bucket: &'a str,
    /// ExpectedBucketOwner on every call.
    pub owner: Option<&'a str>,
}

impl Claims<'_> {
    pub async fn read(&self, staged_prefix: &str) -> Result<Claim, Error> {
        let got = self
            .s3
            .get_object()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.map(str::to_string))
            .key(key(staged_prefix))
            .send()
            .await
            .aws("GetObject");
        let object = match got {
            Ok(object) => object,
            Err(e) if e.is(Kind::NotFound) => return Ok(Claim::None),
            Err(e) => return Err(e.into()),
        };
        let body = object.body.collect().await.map_err(|e| Error::new(format!("GetObject s3://{}/{}: {e}", self.bucket, key(staged_prefix))))?;
        Ok(serde_json::from_slice::<StagedBy>(&body.into_bytes()).map_or(Claim::Unreadable, Claim::By))
    }

    pub async fn write(&self, staged_prefix: &str, by: &StagedBy) -> Result<(), Error> {
        let body = serde_json::to_vec(by).map_err(|e| Error::new(format!("internal error: {e}")))?;
        self.s3
            .put_object()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.map(str::to_string))
            .key(key(staged_prefix))
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .aws("PutObject")?;
        Ok(())
    }

    /// Whether anything is stored under `prefix`.
    pub async fn holds_files(&self, prefix: &str) -> Result<bool, Error> {
        let page = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.map(str::to_string))
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await
            .aws("ListObjectsV2")?;
        Ok(!page.contents().is_empty())
    }

    /// Removes a prefix's files, then its record (so that a removal cut short is resumed under
    /// the same check). True once both are gone; false when `until` passed first.
    pub async fn remove(&self, staged_prefix: &str, until: Instant) -> Result<bool, Error> {
        if !delete_prefix(self.s3, self.bucket, self.owner, staged_prefix, |_| true, until).await? {
            return Ok(false);
        }
        self.s3
            .delete_object()
            .bucket(self.bucket)
            .set_expected_bucket_owner(self.owner.map(str::to_string))
            .key(key(staged_prefix))
            .send()
            .await
            .aws("DeleteObject")?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custom_resource::RequestType;

    fn request(stack: &str, logical: &str, id: &str) -> Request {
        Request::new(RequestType::Create, id, stack, logical, None)
    }

    #[test]
    fn the_record_sits_beside_the_prefix_and_names_a_stack_resource_and_request() {
        assert_eq!(key("lifecycle-assets/lab/0123abcd/"), "lifecycle-assets/lab/0123abcd.staged-by");
        let stager = request("arn:aws:cloudformation:us-east-1:1:stack/team-a/1", "Lifecycle", "req-1");
        let claim = Claim::By(StagedBy::of(&stager));
        assert!(claim.is_request(&stager) && claim.is_resource_of(&stager) && !claim.is_foreign(&stager));
        // A later request of the same stack resource (its Delete): the resource's, not the request's.
        let later = request("arn:aws:cloudformation:us-east-1:1:stack/team-a/1", "Lifecycle", "req-2");
        assert!(claim.is_resource_of(&later) && !claim.is_request(&later));
        // Another stack, or the same logical id in another stack: foreign.
        for other in [request("arn:aws:cloudformation:us-east-1:1:stack/team-b/2", "Lifecycle", "req-1"), request(&stager.stack_id, "Other", "req-1")] {
            assert!(claim.is_foreign(&other) && !claim.is_resource_of(&other));
        }
        assert_eq!(claim.describe(), "stack team-a's Lifecycle");
        assert!(Claim::Unreadable.is_foreign(&stager));
        assert!(!Claim::None.is_foreign(&stager) && !Claim::None.is_resource_of(&stager));
        let json = serde_json::to_value(StagedBy::of(&stager)).unwrap();
        assert_eq!(json["LogicalResourceId"], "Lifecycle");
    }
}
