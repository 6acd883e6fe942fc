//! One HTTP stack per function (issue #27): every SDK client and the custom-resource response
//! PUT go through the SDK's own hyper 1 / rustls (aws-lc) client, so that the platform's root
//! certificates are read once per process, and not on the way to the first `next`.
//!
//! Reading them is most of what a cold start used to spend beyond `lambda_runtime`: the SDK
//! built a connector (and with the first, read the roots) for each client at construction,
//! and reqwest read them again for the response PUT (about 3 ms each time on the benchmark
//! machine, whose /etc/ssl/certs holds 146 files). Now they are read on a thread of their own
//! while init goes on ([`crate::warm_up`]), and connectors are built at the first request.

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use std::io::Read;
use std::path::PathBuf;
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

/// Reads the platform's root certificates into the SDK's process-wide cache (once per process:
/// whoever needs them meanwhile waits for this read rather than starting another). The
/// warm-up thread does it ([`crate::warm_up`]); the first event did wait for it, for
/// milliseconds, until the roots came from the bundle alone ([`roots_from_the_platform_bundle`]).
pub(crate) fn read_roots() {
    // Building an HTTPS connector reads the roots.
    drop(Connector::builder().tls_provider(rustls()).build());
}

/// A connector for a request made outside the SDK (the response PUT): the same TLS stack and
/// roots, no proxy, no redirects (hyper follows none).
pub fn connector(connect_timeout: Duration) -> SharedHttpConnector {
    let settings = HttpConnectorSettings::builder().connect_timeout(connect_timeout).build();
    Connector::builder().connector_settings(settings).sleep_impl(TokioSleep::new()).tls_provider(rustls()).build().into_shared()
}

/// Has the roots read from the platform's CA bundle alone, by naming it in `SSL_CERT_FILE`.
///
/// Without either variable, the SDK's loader (rustls-native-certs) reads the bundle *and* every
/// file of the certificate directory, which holds the same roots again: on Debian 146 files
/// (each root twice more, as a file and as a hash link), on Amazon Linux the bundle's directory.
/// That made the read about 4 ms, longer than init, so the first event waited for it. An
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` set by the deployment is left as it is (a private CA keeps
/// working), and so is a platform without a bundle file.
///
/// Setting a variable is sound only while no other thread runs: it is done only when this is
/// the process's one thread (every function runs a one-thread runtime, and this comes before
/// the warm-up thread starts), and skipped otherwise.
pub(crate) fn roots_from_the_platform_bundle() {
    let named = std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some();
    if let Some(bundle) = bundle_to_name(named, only_thread, || openssl_probe::probe().cert_file) {
        // SAFETY: no other thread exists (bundle_to_name checked), so none reads the environment meanwhile.
        unsafe { std::env::set_var("SSL_CERT_FILE", bundle) };
    }
}

/// The bundle to name in `SSL_CERT_FILE`, if any: none when the environment names roots
/// already, or when another thread runs; otherwise the platform's bundle file, if it has one.
fn bundle_to_name(named: bool, only_thread: impl FnOnce() -> bool, probe: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
    if named || !only_thread() {
        return None;
    }
    probe()
}

/// Whether the process runs a single thread (Linux's /proc; elsewhere: not known, so no).
fn only_thread() -> bool {
    // One read of up to a page: procfs files have no size, so `read_to_string` would read
    // from 32 bytes up, a system call each time (8 more on every cold start).
    let mut status = [0u8; 4096];
    let Ok(read) = std::fs::File::open("/proc/self/status").and_then(|mut file| file.read(&mut status)) else {
        return false;
    };
    one_thread_in(&String::from_utf8_lossy(&status[..read]))
}

/// Whether a /proc/<pid>/status text counts one thread.
fn one_thread_in(status: &str) -> bool {
    status.lines().any(|line| line.strip_prefix("Threads:").is_some_and(|n| n.trim() == "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_bundle_is_named_only_when_nothing_else_is_and_no_other_thread_runs() {
        let bundle = || Some(PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"));
        assert_eq!(bundle_to_name(false, || true, bundle), bundle());
        // The deployment's own SSL_CERT_FILE or SSL_CERT_DIR (a private CA) is kept.
        assert_eq!(bundle_to_name(true, || true, bundle), None);
        // Setting a variable while another thread may read the environment is unsound.
        assert_eq!(bundle_to_name(false, || false, bundle), None);
        // No bundle file: the loader's own search (file and directory) stays.
        assert_eq!(bundle_to_name(false, || true, || None), None);
    }

    #[test]
    fn the_thread_count_is_read_from_the_status_text() {
        let status = |threads: &str| format!("Name:\tstudio-user-pro\nUmask:\t0022\nState:\tR (running)\nThreads:\t{threads}\nSigQ:\t0/31411\n");
        assert!(one_thread_in(&status("1")));
        assert!(!one_thread_in(&status("2")));
        assert!(!one_thread_in(&status("11")));
        assert!(!one_thread_in("Name:\tx\n"));
    }

    #[test]
    fn a_second_thread_is_seen() {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || stopped.recv());
        assert!(!only_thread());
        drop(stop);
        let _ = other.join();
    }
}
