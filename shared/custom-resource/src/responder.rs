//! Delivers the response to CloudFormation's pre-signed URL, insisting on a 2xx.
//!
//! Only to an allowed ResponseURL (response_url.rs), and only while the invocation has time
//! left; each attempt goes through the [`ResponseTransport`] port (no proxy, no redirect).

use crate::clock::{SharedClock, until};
use crate::outbound::ResponseTransport;
use crate::response_url::Allowlist;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{info, warn};
use url::Url;

/// CloudFormation's own guidance is "retry"; at least five attempts are the contract.
pub const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Less than this left before the deadline: another attempt could not finish.
const MIN_ATTEMPT: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Responder {
    transport: Arc<dyn ResponseTransport>,
    clock: SharedClock,
    allowlist: Allowlist,
}

/// Why a response could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    NotAllowed(String),
    #[error("response PUT to {target} refused with HTTP {status}")]
    Refused { target: String, status: u16 },
    #[error("response PUT to {target} failed after {attempts} attempts: {last}")]
    GaveUp { target: String, attempts: u32, last: String },
}

impl Responder {
    pub fn new(transport: Arc<dyn ResponseTransport>, clock: SharedClock, allowlist: Allowlist) -> Self {
        Self { transport, clock, allowlist }
    }

    /// The URL a response may be PUT to, or why not (the event must then not be acted on).
    pub fn admit(&self, response_url: &str) -> Result<Url, String> {
        self.allowlist.check(response_url)
    }

    /// PUT the body. Connection errors, 5xx and 429 are retried with jittered exponential
    /// backoff until `deadline`; another status is final.
    pub async fn send(&self, url: &str, body: Vec<u8>, deadline: SystemTime) -> Result<(), SendError> {
        let url = self.admit(url).map_err(SendError::NotAllowed)?;
        let target = redact(url.as_str());
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let left = until(self.clock.now(), deadline);
            let last = match self.transport.put(&url, &body, left.min(ATTEMPT_TIMEOUT)).await {
                Ok(status) if (200..300).contains(&status) => {
                    info!(attempt, status, url = %target, "response delivered");
                    return Ok(());
                }
                Ok(status) if status >= 500 || status == 429 => {
                    warn!(attempt, status, url = %target, "response PUT failed, will retry");
                    format!("HTTP {status}")
                }
                Ok(status) => {
                    warn!(attempt, status, url = %target, "response PUT refused");
                    return Err(SendError::Refused { target, status });
                }
                Err(e) => {
                    warn!(attempt, error = %e, url = %target, "response PUT failed, will retry");
                    e.0
                }
            };
            // Full jitter: spread retries of many functions over the window.
            let pause = backoff.mul_f64(0.5 + fastrand::f64() / 2.0);
            if attempt == ATTEMPTS || until(self.clock.now(), deadline) < pause + MIN_ATTEMPT {
                return Err(SendError::GaveUp { target, attempts: attempt, last });
            }
            self.clock.sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        unreachable!("the last attempt returns")
    }
}

/// The URL without its query string: the signature in it is a credential.
pub fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::HttpResponses;
    use crate::clock::SystemClock;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn responder(allowed: &str) -> Responder {
        Responder::new(Arc::new(HttpResponses::new()), Arc::new(SystemClock), Allowlist::parse(allowed))
    }

    /// The real HTTP adapter: a redirect is not followed, an unlisted URL gets no connection.
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
        let deadline = SystemTime::now() + Duration::from_secs(10);
        let e = responder(&format!("127.0.0.1:{port},127.0.0.1:{target_port}"))
            .send(&format!("http://127.0.0.1:{port}/k?sig"), b"{}".to_vec(), deadline)
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Refused { status: 307, .. }), "{e}");
        assert!(tokio::time::timeout(Duration::from_millis(300), target.accept()).await.is_err(), "the redirect was followed");

        let e = responder(&format!("127.0.0.1:{port}")).send(&format!("http://127.0.0.1:{target_port}/k"), b"{}".to_vec(), deadline).await.unwrap_err();
        assert!(e.to_string().contains("CFN_RESPONSE_URL_ALLOWED_HOSTS"), "{e}");
        assert!(tokio::time::timeout(Duration::from_millis(300), target.accept()).await.is_err(), "an unlisted URL was connected to");
    }

    #[test]
    fn redact_drops_the_signature() {
        let url = "https://cfn.s3.amazonaws.com/key?X-Amz-Signature=secret&X-Amz-Credential=AKIA";
        let r = redact(url);
        assert!(!r.contains("secret") && !r.contains("AKIA"), "{r}");
        assert!(r.starts_with("https://cfn.s3.amazonaws.com/key"));
    }
}
