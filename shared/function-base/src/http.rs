//! One HTTP stack per function (issue #27): every SDK client and the custom-resource response
//! PUT go through the SDK's own hyper 1 / rustls (aws-lc) client, so that the platform's root
//! certificates are read once per process, and not on the way to the first `next`.
//!
//! Reading them is most of what a cold start used to spend beyond `lambda_runtime`: the SDK
//! built a connector (and with the first, read the roots) for each client at construction,
//! and reqwest read them again for the response PUT (about 3 ms each time on the benchmark
//! machine, whose /etc/ssl/certs holds 146 files). Now they are read on a thread of their own
//! while init goes on ([`warm_up_roots`]), and connectors are built at the first request.

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use std::time::Duration;

fn rustls() -> tls::Provider {
    tls::Provider::Rustls(CryptoMode::AwsLc)
}

/// The client all the SDK clients of a function share (one connection pool per timeout
/// setting). It is the SDK's default HTTPS client, built as aws-smithy-runtime builds it for
/// the latest behavior version (rustls with aws-lc, proxies from the environment), except
/// that a client's construction no longer builds a connector to validate it.
pub fn sdk_client() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = Connector::builder().tls_provider(rustls());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    OnFirstRequest(client).into_shared()
}

/// Builds connectors when a request needs one. The default `validate_base_client_config`
/// (kept as a no-op here) is where the SDK's own client builds one for every client it is
/// given to, reading the roots on the spot.
#[derive(Debug)]
struct OnFirstRequest(SharedHttpClient);

impl HttpClient for OnFirstRequest {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// Reads the platform's root certificates into the SDK's process-wide cache on a thread of
/// its own: the first HTTPS connection needs them, init does not. Whoever needs them first
/// waits for this read rather than starting another.
pub fn warm_up_roots() {
    let spawned = std::thread::Builder::new().name("tls-roots".into()).spawn(|| {
        // Building an HTTPS connector reads the roots (once per process).
        drop(Connector::builder().tls_provider(rustls()).build());
    });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "no thread to read the TLS roots on; the first connection reads them");
    }
}

/// A connector for a request made outside the SDK (the response PUT): the same TLS stack and
/// roots, no proxy, no redirects (hyper follows none).
pub fn connector(connect_timeout: Duration) -> SharedHttpConnector {
    let settings = HttpConnectorSettings::builder().connect_timeout(connect_timeout).build();
    Connector::builder().connector_settings(settings).sleep_impl(TokioSleep::new()).tls_provider(rustls()).build().into_shared()
}
