//! The HTTP/1 server loop every local service runs on (the emulators, S3, Lambda).

use std::future::Future;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A running server. Dropping it stops the server and drops its open connections, so that a
/// stale long-poll (e.g. a killed Lambda process's `/next`) cannot outlive it.
pub struct ServerHandle(JoinHandle<()>);

impl ServerHandle {
    /// Stops serving now (dropping the handle does the same).
    pub fn abort(&self) {
        self.0.abort();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `handler` on `listener` until the returned handle is dropped.
pub fn serve<H, F, B, E>(listener: TcpListener, handler: H) -> ServerHandle
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<B>, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    ServerHandle(tokio::spawn(async move {
        // Connections live in this set: aborting the accept loop drops them all.
        let mut connections = JoinSet::new();
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            // As AWS endpoints do: without it, a response written in pieces (a streamed S3 body)
            // waits on Nagle and the client's delayed ACK, 40 ms at a time.
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(handler);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
            while connections.try_join_next().is_some() {}
        }
    }))
}

/// Binds a listener on an ephemeral loopback port.
pub async fn bind_loopback() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}

pub type Body = Full<Bytes>;

/// A response with a body, for handlers that cannot fail at the HTTP level.
pub fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body.into())).unwrap_or_else(|_| {
        // Only reachable with an invalid header value given by a caller.
        let mut fallback = Response::new(Full::new(Bytes::from_static(b"internal error")));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

/// An answer read by [`post_raw`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (Null when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// A hand-written HTTP/1 POST to `endpoint` ("http://127.0.0.1:PORT"), for what no SDK sends
/// (malformed bodies, unknown targets) and for tests of the kit itself.
pub async fn post_raw(endpoint: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<RawResponse> {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!("POST / HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("no HTTP response"))?;
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or_default();
    let headers = lines.filter_map(|l| l.split_once(": ")).map(|(n, v)| (n.to_string(), v.to_string())).collect();
    Ok(RawResponse { status, headers, body: body.to_string() })
}
