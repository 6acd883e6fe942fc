//! The CloudFormation custom-resource core.
//!
//! A function implements [`CustomResource`] (create / update / delete with typed properties,
//! each step returning done or pending with progress of its own request kind) and calls
//! [`run`]. The core owns the rest of the CloudFormation protocol: parsing and validating the
//! event, CloudFormation's own say on whether it is real, polling and sealed continuations,
//! error retries, the one response per event, logging. It knows CloudFormation, Lambda and
//! KMS (for the continuations' MAC), nothing of the service behind the resource.
//!
//! Every outbound effect goes through [`outbound::Ports`] and all time through its
//! [`clock::Clock`], so [`testing::Simulation`] plays whole flows in-process.

mod adapters;
pub mod clock;
mod continuation;
mod event;
pub mod outbound;
pub mod patience;
pub mod properties;
mod resource;
mod responder;
mod response;
pub mod response_url;
mod runtime;
pub mod testing;
mod verification;

pub use event::{Request, RequestType};
pub use function_base::PropertyError;
pub use outbound::KEY_ENV as CONTINUATION_KEY_ENV;
pub use patience::Patience;
pub use resource::{Change, CustomResource, Done, Error, Outcome, Pending, Retry, Step, StepResult};
pub use response::MAX_BODY_BYTES;
pub use runtime::{BoxError, Core, run};
