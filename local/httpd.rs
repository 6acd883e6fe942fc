//! A minimal HTTP/1 server loop shared by the local services.

use std::future::Future;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A running server. Dropping it stops the server and drops its open connections, so that a
/// stale long-poll (e.g. a killed Lambda process's `/next`) cannot outlive it.
pub(crate) struct ServerHandle(JoinHandle<()>);

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `handler` on `listener` until the returned handle is dropped.
pub(crate) fn serve<H, F, B, E>(listener: TcpListener, handler: H) -> ServerHandle
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
pub(crate) async fn bind_loopback() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}

pub(crate) type Body = Full<Bytes>;

/// A response with a body, for handlers that cannot fail at the HTTP level.
pub(crate) fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body.into())).unwrap_or_else(|_| {
        // Only reachable with an invalid header literal in this crate.
        let mut fallback = Response::new(Full::new(Bytes::from_static(b"internal error")));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
