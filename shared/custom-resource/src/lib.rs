//! The CloudFormation custom-resource core.
//!
//! A function implements [`CustomResource`] (create / update / delete with typed properties,
//! each step returning done or pending with progress of its own request kind) and calls
//! [`run`]. The core owns the rest of the CloudFormation protocol: parsing and validating the
//! event, polling and continuations, error retries, the one response per event, logging. It
//! knows CloudFormation and Lambda, nothing of the service behind the resource.

pub mod api_shape;
pub mod aws;
pub mod continuation;
pub mod event;
pub mod logging;
pub mod properties;
pub mod resource;
pub mod responder;
pub mod response;
pub mod response_url;
pub mod runtime;
pub mod verification;

pub use event::{Request, RequestType};
pub use properties::PropertyError;
pub use resource::{Change, CustomResource, Done, Error, Outcome, Pending, Retry, Step, StepResult};
pub use runtime::{BoxError, run};
