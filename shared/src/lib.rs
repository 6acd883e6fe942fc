//! The custom-resource core shared by the Studio functions.
//!
//! A function implements [`CustomResource`] (create / update / delete with typed properties,
//! each step returning done or pending) and calls [`run`]. The core owns the rest of the
//! CloudFormation protocol: parsing and validating the event, polling and continuations,
//! the one response per event, logging. It knows nothing of SageMaker's behaviour.

pub mod api_shape;
pub mod aws;
pub mod continuation;
pub mod event;
pub mod logging;
pub mod names;
pub mod ownership;
pub mod properties;
pub mod resource;
pub mod responder;
pub mod response;
pub mod response_url;
pub mod runtime;
pub mod verification;

pub use api_shape::Api;
pub use aws::Clients;
pub use event::{Request, RequestType};
pub use properties::PropertyError;
pub use resource::{CustomResource, Done, Error, Outcome, Pending};
pub use runtime::{BoxError, run};
