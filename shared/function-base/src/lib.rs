//! What every function is built on, custom resource or not: JSON logs ([`logging`]), the AWS
//! configuration of the standard environment and Reasons built from AWS errors ([`aws`]), the
//! one HTTP client of a function ([`http`]), what the first event needs prepared during init ([`warm_up`]), and typed, lenient JSON input with full-path errors ([`properties`], [`api_shape`]).
//!
//! The custom-resource core and the sign-in function both use it; neither depends on the other.

pub mod api_shape;
pub mod aws;
pub mod http;
pub mod logging;
pub mod properties;
pub mod warm_up;

pub use properties::PropertyError;
