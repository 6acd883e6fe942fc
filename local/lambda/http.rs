//! Small HTTP helpers of the Runtime and Invoke APIs.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::httpd;

pub(super) async fn read_body(req: Request<Incoming>) -> Result<Bytes, hyper::Error> {
    Ok(req.into_body().collect().await?.to_bytes())
}

pub(super) fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

pub(super) fn accepted() -> Response<Full<Bytes>> {
    httpd::response(202, &[("content-type", "application/json")], "{\"status\":\"OK\"}")
}

pub(super) fn not_found() -> Response<Full<Bytes>> {
    httpd::response(404, &[], "not found")
}

pub(super) fn bad_request(message: &str) -> Response<Full<Bytes>> {
    httpd::response(400, &[], message.to_string())
}
