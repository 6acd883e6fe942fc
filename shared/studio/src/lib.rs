//! The Studio layer: what the functions do with SageMaker (and S3), written once.
//!
//! Clients, AWS errors classified by kind, describe-or-absent, tags and their one sync
//! policy, teardown of apps and spaces, the ownership guard, ARNs, names and enums, and the
//! one lifecycle of a domain's children (user profiles, spaces). It knows nothing of the
//! CloudFormation protocol: [`into_core`] is where its errors become the core's step errors
//! and a request names an owner, and [`child`] answers in the core's step types.

pub mod adoption;
pub mod api;
pub mod arn;
pub mod child;
pub mod child_stacks;
pub mod clients;
pub mod delete_options;
pub mod describe;
pub mod ec2;
pub mod error;
pub mod identity_center;
pub mod into_core;
pub mod live_diff;
pub mod names;
pub mod nfs_security_groups;
pub mod ownership;
pub mod since;
pub mod sso_assigned;
pub mod summary;
pub mod tags;
pub mod teardown;
pub mod visibility;

pub use api::Api;
pub use clients::Clients;
pub use error::{AwsError, AwsResult, Kind};
pub use identity_center::IdentityCenter;
pub use ownership::Owner;
