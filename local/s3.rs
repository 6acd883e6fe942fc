//! A real S3-protocol server in-process: s3s + s3s-fs over a temp directory, SigV4 verified
//! for the access key "test"/"test" (so presigned URLs are really checked), wrapped in a thin
//! layer that records every PUT and can inject faults.

use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::sync::watch;

use crate::httpd::{self, ServerHandle};
use crate::{REGION, lock};

/// The access key and secret the server accepts (and every local client uses).
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "test";

/// PUT bodies up to this size are kept in the record (CloudFormation responses, small objects).
const KEEP_BODY_LIMIT: usize = 64 * 1024;

/// One PUT request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedPut {
    /// "/bucket/key", percent-decoded: the object the PUT addressed.
    pub path: String,
    /// The URL without its query (a presigned URL's query is a credential).
    pub url: String,
    /// Whether the URL carried a presigned signature (X-Amz-Signature in the query).
    pub presigned: bool,
    /// Request headers, names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The Content-Type header: None if absent, Some("") if present and empty.
    pub content_type: Option<String>,
    /// The Content-Length header as sent (None if absent or not a number).
    pub content_length: Option<u64>,
    /// Bytes actually received in the body (aws-chunked framing included).
    pub body_len: usize,
    /// The body, kept when it is at most 64 KiB.
    pub body: Option<Bytes>,
    /// The status the client got back.
    pub status: u16,
    /// Whether `status` came from `fail_puts` rather than from S3.
    pub injected: bool,
    /// When the whole request had arrived (before S3 stored anything).
    pub received_at: std::time::Instant,
}

impl RecordedPut {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// An S3 server on 127.0.0.1. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct S3Server {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    root: tempfile::TempDir,
    shared: Arc<Shared>,
    _server: ServerHandle,
}

#[derive(Default)]
struct Shared {
    puts: Mutex<Vec<RecordedPut>>,
    faults: Mutex<Vec<Fault>>,
    /// Bumped after every recorded PUT, so waiters need not poll.
    put_count: watch::Sender<usize>,
}

struct Fault {
    prefix: String,
    remaining: usize,
    status: u16,
}

impl S3Server {
    pub async fn start() -> std::io::Result<Self> {
        let root = tempfile::Builder::new().prefix("local-s3-").tempdir()?;
        let fs = s3s_fs::FileSystem::new(root.path()).map_err(|e| std::io::Error::other(format!("s3s-fs: {e:?}")))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();

        let shared = Arc::new(Shared::default());
        let listener = httpd::bind_loopback().await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let handler_shared = shared.clone();
        let server = httpd::serve(listener, move |req| handle(handler_shared.clone(), service.clone(), req));
        Ok(Self { inner: Arc::new(Inner { endpoint, root, shared, _server: server }) })
    }

    /// "http://127.0.0.1:PORT", for AWS_ENDPOINT_URL_S3.
    pub fn endpoint(&self) -> String {
        self.inner.endpoint.clone()
    }

    /// The directory holding the buckets (one sub-directory per bucket).
    pub fn root(&self) -> &Path {
        self.inner.root.path()
    }

    /// An SDK client for this server: path-style, us-east-1, credentials test/test.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "local-cloud"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Creates a bucket (idempotent). s3s-fs keeps a bucket as a directory under the root.
    pub async fn create_bucket(&self, name: &str) -> std::io::Result<()> {
        // S3's rules (s3s enforces them on every request): 3-63 of [a-z0-9.-].
        let valid = (3..=63).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !name.starts_with('.');
        if !valid {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad bucket name {name:?}")));
        }
        tokio::fs::create_dir_all(self.root().join(name)).await
    }

    /// Every PUT whose path ("/bucket/key", decoded) starts with `path_prefix`, oldest first.
    pub fn recorded_puts(&self, path_prefix: &str) -> Vec<RecordedPut> {
        let prefix = absolute(path_prefix);
        lock(&self.inner.shared.puts).iter().filter(|put| put.path.starts_with(&prefix)).cloned().collect()
    }

    /// Answers the next `n` PUTs under `path_prefix` with `status` (e.g. 500, 503) without
    /// storing anything; later PUTs pass through.
    pub fn fail_puts(&self, path_prefix: &str, n: usize, status: u16) {
        lock(&self.inner.shared.faults).push(Fault { prefix: absolute(path_prefix), remaining: n, status });
    }

    /// Notified (with the total count) after every recorded PUT.
    pub(crate) fn subscribe_puts(&self) -> watch::Receiver<usize> {
        self.inner.shared.put_count.subscribe()
    }
}

fn absolute(prefix: &str) -> String {
    if prefix.starts_with('/') { prefix.to_string() } else { format!("/{prefix}") }
}

async fn handle(shared: Arc<Shared>, service: S3Service, req: Request<Incoming>) -> Result<Response<s3s::Body>, s3s::HttpError> {
    if req.method() != Method::PUT {
        return service.call(req.map(s3s::Body::from)).await;
    }
    // Buffer the body to count its bytes; s3s parses aws-chunked framing from the same bytes.
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|e| s3s::HttpError::new(Box::new(e)))?.to_bytes();
    let mut record = record_put(&parts, &body);

    let injected = shared.take_fault(&record.path);
    let result = match injected {
        Some(status) => Ok(fault_response(status)),
        None => service.call(Request::from_parts(parts, s3s::Body::from(body))).await,
    };
    record.injected = injected.is_some();
    record.status = result.as_ref().map_or(0, |r| r.status().as_u16());
    if record.status >= 400 {
        tracing::debug!(path = %record.path, status = record.status, injected = record.injected, "S3 PUT refused");
    }
    let count = {
        let mut puts = lock(&shared.puts);
        puts.push(record);
        puts.len()
    };
    shared.put_count.send_replace(count);
    result
}

impl Shared {
    fn take_fault(&self, path: &str) -> Option<u16> {
        let mut faults = lock(&self.faults);
        let fault = faults.iter_mut().find(|f| f.remaining > 0 && path.starts_with(&f.prefix))?;
        fault.remaining -= 1;
        Some(fault.status)
    }
}

fn record_put(parts: &http::request::Parts, body: &Bytes) -> RecordedPut {
    let headers: Vec<(String, String)> =
        parts.headers.iter().map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())).collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let raw_path = parts.uri.path();
    let host = find("host").unwrap_or_default();
    RecordedPut {
        path: percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy().into_owned(),
        url: format!("http://{host}{raw_path}"),
        presigned: parts.uri.query().is_some_and(|q| q.contains("X-Amz-Signature=")),
        content_type: find("content-type"),
        content_length: find("content-length").and_then(|v| v.trim().parse().ok()),
        headers,
        body_len: body.len(),
        body: (body.len() <= KEEP_BODY_LIMIT).then(|| body.clone()),
        status: 0,
        injected: false,
        received_at: std::time::Instant::now(),
    }
}

fn fault_response(status: u16) -> Response<s3s::Body> {
    let code = match status {
        500 => "InternalError",
        503 => "SlowDown",
        _ => "InjectedFault",
    };
    let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>fault injected by the local S3 server</Message></Error>");
    let mut response = Response::new(s3s::Body::from(xml));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    response
}
