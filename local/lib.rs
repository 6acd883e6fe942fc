//! The local cloud: emulators and drivers that run the Lambda functions as real processes
//! against local services on 127.0.0.1.

mod api_calls;
mod httpd;

pub mod binaries;
pub mod cloud;
pub mod cloudformation;
pub mod demo;
pub mod identity_center;
pub mod lambda;
pub mod network;
pub mod s3;
pub mod seed;
pub mod stacks;

/// The account and region every local ARN uses.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// A random version-4 UUID, as AWS request ids look.
pub fn uuid_v4() -> String {
    let bits = fastrand::u128(..);
    let hex = format!("{bits:032x}");
    let variant = ["8", "9", "a", "b"][fastrand::usize(..4)];
    format!("{}-{}-4{}-{variant}{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// Locks a mutex of the harness. Poisoning only follows a panic elsewhere (reported there);
/// the recorded data is still what tests want to see.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
