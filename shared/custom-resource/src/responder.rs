//! Delivers the response to CloudFormation's pre-signed URL, insisting on a 2xx.
//!
//! Only to an allowed ResponseURL (response_url.rs), with no proxy and no redirect followed,
//! and only while the invocation has time left (issue 13).

use crate::response_url::Allowlist;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};
use url::Url;

const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Less than this left before the deadline: another attempt could not finish.
const MIN_ATTEMPT: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Responder {
    /// Err: the HTTP client could not be built (reported on each send, never a panic).
    http: Result<reqwest::Client, String>,
    allowlist: Allowlist,
}

impl Responder {
    pub fn new() -> Self {
        Self::with_allowlist(Allowlist::from_env())
    }

    pub fn with_allowlist(allowlist: Allowlist) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(ATTEMPT_TIMEOUT)
            // A ResponseURL is checked as given: no proxy, no redirect to anywhere else.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", redact_error(&e)));
        Self { http, allowlist }
    }

    /// The URL a response may be PUT to, or why not (the event must then not be acted on).
    pub fn admit(&self, response_url: &str) -> Result<Url, String> {
        self.allowlist.check(response_url)
    }

    /// PUT the body: empty Content-Type (the URL was signed without one), Content-Length in
    /// bytes (reqwest counts the body). Connection errors and 5xx are retried with jittered
    /// exponential backoff until `deadline`; another status is final.
    pub async fn send(&self, url: &str, body: Vec<u8>, deadline: Instant) -> Result<(), String> {
        let url = self.admit(url)?;
        let http = self.http.as_ref().map_err(Clone::clone)?;
        let target = redact(url.as_str());
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            let request = http.put(url.clone()).header(reqwest::header::CONTENT_TYPE, "").timeout(left.min(ATTEMPT_TIMEOUT)).body(body.clone());
            let retry = match request.send().await {
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
            // Full jitter: spread retries of many functions over the window.
            let pause = backoff.mul_f64(0.5 + fastrand::f64() / 2.0);
            let left = deadline.saturating_duration_since(Instant::now());
            if attempt == ATTEMPTS || left < pause + MIN_ATTEMPT {
                return Err(format!("response PUT to {target} failed after {attempt} attempts: {retry}"));
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        Err(format!("response PUT to {target} was not attempted"))
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
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_an_unlisted_url_gets_no_connection() {
        let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_port = target.local_addr().unwrap().port();
        let redirector = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = redirector.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = redirector.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let answer = format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target_port}/\r\nContent-Length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        // Both hosts listed: only the redirect policy stands between them.
        let responder = Responder::with_allowlist(Allowlist::parse(&format!("127.0.0.1:{port},127.0.0.1:{target_port}")));
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = responder.send(&format!("http://127.0.0.1:{port}/k?sig"), b"{}".to_vec(), deadline).await.unwrap_err();
        assert!(e.contains("HTTP 307"), "{e}");
        assert!(tokio::time::timeout(Duration::from_millis(300), target.accept()).await.is_err(), "the redirect was followed");

        let unlisted = Responder::with_allowlist(Allowlist::parse(&format!("127.0.0.1:{port}")));
        let e = unlisted.send(&format!("http://127.0.0.1:{target_port}/k"), b"{}".to_vec(), deadline).await.unwrap_err();
        assert!(e.contains("CFN_RESPONSE_URL_ALLOWED_HOSTS"), "{e}");
        assert!(tokio::time::timeout(Duration::from_millis(300), target.accept()).await.is_err(), "an unlisted URL was connected to");
    }

    #[tokio::test]
    async fn retries_stop_when_the_invocation_has_no_time_left() {
        // Nothing listens on this port: every attempt is a connection error, retried.
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let responder = Responder::with_allowlist(Allowlist::parse(&format!("127.0.0.1:{port}")));
        let started = Instant::now();
        let e = responder.send(&format!("http://127.0.0.1:{port}/k"), b"{}".to_vec(), started + Duration::from_millis(600)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());
        assert!(!e.contains(&format!("after {ATTEMPTS} attempts")), "{e}");
    }

    #[test]
    fn redact_drops_the_signature() {
        let url = "https://cfn.s3.amazonaws.com/key?X-Amz-Signature=secret&X-Amz-Credential=AKIA";
        let r = super::redact(url);
        assert!(!r.contains("secret") && !r.contains("AKIA"), "{r}");
        assert!(r.starts_with("https://cfn.s3.amazonaws.com/key"));
    }
}
