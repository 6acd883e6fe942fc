//! The emulator driven by the real aws-sdk-sagemaker client. One test binary, so the large SDK
//! is linked once.

mod common;
mod domain;
mod fidelity;
mod lifecycle_config;
mod protocol;
mod refusals;
mod studio;
