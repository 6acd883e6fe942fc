//! What the local cloud's AWS API emulators share: one way to serve (hyper, a request read
//! whole, a [`Service`] answering under its own lock), one call log (operation, IAM action and
//! the access key id that signed each call), one fault vocabulary (refuse next, throttle, deny,
//! outage, latency: see [`Emulator`]), AWS's error shapes per protocol ([`Protocol`]), one
//! paging scheme and the request member checks AWS's validation messages come from.
//!
//! A crate of its own because the SageMaker emulator is a crate of its own (its own tests,
//! no dependency on the rest of the local cloud) and the local cloud's other emulators
//! (IAM Identity Center, EC2/EFS, CloudFormation, KMS) live in the `local-cloud` package:
//! what both use must sit below both.
//!
//! An emulator is a newtype of [`Handle<S>`] (its state `S: Service` and the [`Emulator`]
//! serving it) and derefs to that [`Emulator`], so every emulator has the same test knobs
//! (`refuse_next`, `throttle_next`, `set_denied`, `fail_operation`, `set_latency`) and the
//! same records (`calls`, `call_count`, `signed_calls`, `signed_actions`).

mod calls;
mod emulator;
mod error;
pub mod http;
pub mod ids;
pub mod members;
pub mod paging;

pub use calls::{Call, Fault, Outage};
pub use emulator::{Emulator, Handle, Request, Route, Service};
pub use error::{AwsError, Output, Protocol};

/// `impl Deref<Target = Emulator>` for an emulator, a newtype of [`Handle`]: every emulator
/// then has the kit's knobs and records as its own methods.
#[macro_export]
macro_rules! deref_to_emulator {
    ($emulator:ty) => {
        impl std::ops::Deref for $emulator {
            type Target = $crate::Emulator;

            fn deref(&self) -> &$crate::Emulator {
                &self.0
            }
        }
    };
}

/// Locks a mutex of an emulator. Poisoning only follows a panic elsewhere (reported there);
/// the state is still what later calls and tests want to see.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// "AKID" of `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sagemaker/aws4_request, ...`:
/// each deployed function signs with its own name, so this tells who called.
pub fn access_key_id(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then(|| key.to_string())
}

/// Text escaped for an XML element or attribute (the query protocols' answers).
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_key_id_is_read_from_a_sigv4_header() {
        let header = "AWS4-HMAC-SHA256 Credential=studio-domain/20260101/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(access_key_id(header).as_deref(), Some("studio-domain"));
        assert_eq!(access_key_id("Bearer x"), None);
        assert_eq!(access_key_id("AWS4-HMAC-SHA256 Credential=/x"), None);
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
