//! The S3 side: a zip object read by ranges (pinned to the ETag it had when first read, so
//! a zip replaced mid-way is noticed), a bucket written by PUT and multipart upload, and the
//! removal of a staged prefix.

use super::store::{ObjectSink, Part, RangeSource};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::Bytes;
use custom_resource::{Error, Retry};
use std::time::Instant;
use studio::{AwsResult, Kind};

/// Body reads that fail mid-way are retried this many times (the SDK retries only the request).
const BODY_ATTEMPTS: u32 = 3;

/// A zip object in S3.
#[derive(Debug, Clone)]
pub struct S3Object {
    client: Client,
    bucket: String,
    key: String,
    /// ExpectedBucketOwner on every call: a bucket of another account is refused by S3.
    owner: Option<String>,
    etag: Option<String>,
    pub len: u64,
}

impl S3Object {
    /// Looks the object up (HeadObject): its size, and the ETag later reads are pinned to.
    pub async fn open(client: &Client, bucket: &str, key: &str, owner: Option<&str>) -> Result<Self, Error> {
        let head =
            client.head_object().bucket(bucket).set_expected_bucket_owner(owner.map(str::to_string)).key(key).send().await.aws("HeadObject").map_err(|e| {
                let not_found = e.is(Kind::NotFound);
                let mut error = Error::from(e);
                if not_found {
                    error.reason = format!("s3://{bucket}/{key} does not exist ({})", error.reason);
                }
                error
            })?;
        let len = head.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or_default();
        Ok(Self {
            client: client.clone(),
            bucket: bucket.into(),
            key: key.into(),
            etag: head.e_tag().map(str::to_string),
            owner: owner.map(str::to_string),
            len,
        })
    }

    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

impl RangeSource for S3Object {
    async fn read(&self, start: u64, end: u64) -> Result<Vec<Bytes>, Error> {
        if end <= start {
            return Ok(Vec::new());
        }
        let mut attempt = 1;
        loop {
            let object = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .set_expected_bucket_owner(self.owner.clone())
                .key(&self.key)
                .range(format!("bytes={start}-{}", end - 1))
                .set_if_match(self.etag.clone())
                .send()
                .await
                .aws("GetObject")
                .map_err(|e| match e.code() {
                    Some("PreconditionFailed") => Error::new(format!("{} was replaced while it was being staged; try again", self.uri())),
                    _ => e.into(),
                })?;
            match object.body.collect().await {
                Ok(body) => return Ok(body.into_segments().collect()),
                Err(e) if attempt < BODY_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "reading a GetObject body failed; retrying");
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Error::new(format!("GetObject {}: reading the body failed: {e}", self.uri())).retry(Retry::ServerError));
                }
            }
        }
    }
}

/// A bucket that staged files are written to.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: Client,
    bucket: String,
    /// ExpectedBucketOwner on every call.
    owner: Option<String>,
}

impl S3Bucket {
    pub fn new(client: &Client, bucket: &str, owner: Option<&str>) -> Self {
        Self { client: client.clone(), bucket: bucket.into(), owner: owner.map(str::to_string) }
    }
}

impl ObjectSink for S3Bucket {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .aws("PutObject")?;
        Ok(())
    }

    async fn create_multipart(&self, key: &str) -> Result<String, Error> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .aws("CreateMultipartUpload")?;
        upload.upload_id().map(str::to_string).ok_or_else(|| Error::new("CreateMultipartUpload returned no UploadId"))
    }

    async fn upload_part(&self, key: &str, upload_id: &str, number: i32, body: Bytes) -> Result<Part, Error> {
        let part = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .send()
            .await
            .aws("UploadPart")?;
        Ok(Part { number, etag: part.e_tag().unwrap_or_default().to_string(), checksum_crc32: part.checksum_crc32().map(str::to_string) })
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<Part>) -> Result<(), Error> {
        let parts =
            parts.into_iter().map(|p| CompletedPart::builder().part_number(p.number).e_tag(p.etag).set_checksum_crc32(p.checksum_crc32).build()).collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .aws("CompleteMultipartUpload")?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), Error> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .aws("AbortMultipartUpload")?;
        Ok(())
    }
}

/// Deletes the objects under `prefix` whose keys `select` accepts, until none is left (true)
/// or `until` passes (false: call again; deleted keys no longer list, so it resumes).
pub async fn delete_prefix(
    client: &Client,
    bucket: &str,
    owner: Option<&str>,
    prefix: &str,
    select: impl Fn(&str) -> bool,
    until: Instant,
) -> Result<bool, Error> {
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .aws("ListObjectsV2")
            .map_err(|e| match e.code() {
                Some("NoSuchBucket") => Error::new(format!("ListObjectsV2: NoSuchBucket: the bucket {bucket} does not exist")),
                _ => e.into(),
            })?;
        let keys: Vec<ObjectIdentifier> =
            page.contents().iter().filter_map(|o| o.key()).filter(|k| select(k)).filter_map(|k| ObjectIdentifier::builder().key(k).build().ok()).collect();
        if !keys.is_empty() {
            let delete = Delete::builder().set_objects(Some(keys)).quiet(true).build().map_err(|e| Error::new(format!("DeleteObjects: {e}")))?;
            let output =
                client.delete_objects().bucket(bucket).set_expected_bucket_owner(owner.map(str::to_string)).delete(delete).send().await.aws("DeleteObjects")?;
            if let Some(failed) = output.errors().first() {
                return Err(Error::new(format!(
                    "DeleteObjects: {}: {} (s3://{bucket}/{})",
                    failed.code().unwrap_or("Error"),
                    failed.message().unwrap_or_default(),
                    failed.key().unwrap_or_default()
                )));
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
    }
}
