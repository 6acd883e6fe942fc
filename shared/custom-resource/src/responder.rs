//! Delivers the response to CloudFormation's pre-signed URL, insisting on a 2xx.

use std::time::Duration;
use tracing::{info, warn};

const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

#[derive(Clone)]
pub struct Responder {
    http: reqwest::Client,
}

impl Responder {
    pub fn new() -> Self {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(20)).build().unwrap_or_default();
        Self { http }
    }

    /// PUT the body: empty Content-Type (the URL was signed without one), Content-Length in
    /// bytes (reqwest counts the body). Connection errors and 5xx are retried with jittered
    /// exponential backoff; another status is final.
    pub async fn send(&self, url: &str, body: Vec<u8>) -> Result<(), String> {
        let target = redact(url);
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let result = self.http.put(url).header(reqwest::header::CONTENT_TYPE, "").body(body.clone()).send().await;
            let retry = match result {
                Ok(r) if r.status().is_success() => {
                    info!(attempt, status = r.status().as_u16(), url = %target, "response delivered");
                    return Ok(());
                }
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    warn!(attempt, status = r.status().as_u16(), url = %target, "response PUT failed, will retry");
                    format!("HTTP {}", r.status().as_u16())
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    warn!(attempt, status, url = %target, "response PUT refused");
                    return Err(format!("response PUT to {target} refused with HTTP {status}"));
                }
                Err(e) => {
                    let e = redact_error(&e);
                    warn!(attempt, error = %e, url = %target, "response PUT failed, will retry");
                    e
                }
            };
            if attempt == ATTEMPTS {
                return Err(format!("response PUT to {target} failed after {ATTEMPTS} attempts: {retry}"));
            }
            // Full jitter: spread retries of many functions over the window.
            tokio::time::sleep(backoff.mul_f64(0.5 + fastrand::f64() / 2.0)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        unreachable!("the loop returns on its last attempt")
    }
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL without its query string: the signature in it is a credential.
pub fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_string(),
    }
}

/// reqwest errors print the full URL, signature included: describe them without it.
fn redact_error(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection error"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request error"
    };
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {}", redact(&source.to_string())),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_drops_the_signature() {
        let url = "https://cfn.s3.amazonaws.com/key?X-Amz-Signature=secret&X-Amz-Credential=AKIA";
        let r = super::redact(url);
        assert!(!r.contains("secret") && !r.contains("AKIA"), "{r}");
        assert!(r.starts_with("https://cfn.s3.amazonaws.com/key"));
    }
}
