//! Teardown: apps (of a domain, a user profile or a space), spaces (their apps first) and
//! user profiles (their apps and every space they own first). Each call takes one step:
//! it starts what can be started and returns what is still going, so that the caller can
//! return Pending and look again; an empty list means gone.
//!
//! Apps: InService ones are deleted; Pending ones are waited for (the service deletes only
//! InService apps); Deleting ones are on their way; Deleted and Failed ones are finished.

use crate::describe::{self, AppKey, AppOwner};
use crate::error::{AwsError, AwsResult, Kind};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{AppDetails, AppStatus, SpaceDetails, SpaceStatus, UserProfileStatus};
use futures::StreamExt;
use std::future::Future;
use tracing::info;

/// How many deletes (and chains of them) run at once: fast on big domains; throttling is
/// retried by the SDK.
pub const CONCURRENT_DELETES: usize = 16;

/// Why a teardown cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeardownError {
    Aws(AwsError),
    /// SageMaker reported the delete failed (DeleteFailed), with its FailureReason.
    Failed(String),
    /// DeleteUserProfile refused (ResourceInUse) though none of its apps and spaces is left:
    /// perhaps a transition, perhaps something SageMaker does not list. `what` is its label.
    InUse {
        what: String,
        error: AwsError,
    },
}

impl From<AwsError> for TeardownError {
    fn from(e: AwsError) -> Self {
        TeardownError::Aws(e)
    }
}

impl std::fmt::Display for TeardownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TeardownError::Aws(e) => e.fmt(f),
            TeardownError::Failed(reason) => f.write_str(reason),
            TeardownError::InUse { error, .. } => error.fmt(f),
        }
    }
}

impl std::error::Error for TeardownError {}

/// One domain's teardown. `retry_failed_delete`: a space or profile whose earlier delete
/// failed is tried again (the first step of an operation); afterwards that is a failure.
#[derive(Debug, Clone, Copy)]
pub struct Teardown<'a> {
    pub sagemaker: &'a Client,
    pub domain_id: &'a str,
    pub retry_failed_delete: bool,
    /// The domain's apps, listed once for this step (a big teardown lists them once instead of
    /// once per profile and space); None: each owner's apps are listed when needed.
    pub listed_apps: Option<&'a [AppDetails]>,
}

impl Teardown<'_> {
    /// The apps of the domain (`None`), or of one user profile or space, not gone yet, e.g.
    /// "app JupyterLab/default"; DeleteApp started on those InService.
    pub async fn apps(&self, owner: Option<&AppOwner>) -> Result<Vec<String>, TeardownError> {
        let listed;
        let apps: Vec<&AppDetails> = match self.listed_apps {
            Some(all) => all.iter().filter(|app| owner.is_none_or(|owner| owned_by(app, owner))).collect(),
            None => {
                listed = describe::apps(self.sagemaker, self.domain_id, owner).await?;
                listed.iter().collect()
            }
        };
        let mut running = Vec::new();
        let mut left = Vec::new();
        for app in apps {
            let Some(key) = AppKey::of(self.domain_id, app) else { continue };
            match app.status() {
                Some(AppStatus::Deleted | AppStatus::Failed) => continue,
                Some(AppStatus::InService) => running.push(key.clone()),
                _ => {}
            }
            left.push(key.label());
        }
        if !running.is_empty() {
            info!(count = running.len(), "DeleteApp");
        }
        for outcome in bounded(running, |key| async move { self.delete_app(&key).await }).await {
            outcome?;
        }
        Ok(left)
    }

    async fn delete_app(&self, key: &AppKey) -> Result<(), AwsError> {
        let (profile, space) = match &key.owner {
            AppOwner::UserProfile(p) => (Some(p.clone()), None),
            AppOwner::Space(s) => (None, Some(s.clone())),
        };
        let result = self
            .sagemaker
            .delete_app()
            .domain_id(self.domain_id)
            .app_type(key.app_type.clone())
            .app_name(&key.app_name)
            .set_user_profile_name(profile)
            .set_space_name(space)
            .send()
            .await
            .aws("DeleteApp");
        match result {
            Ok(_) => Ok(()),
            // Gone, or busy with something else: the next look decides.
            Err(e) if e.is(Kind::NotFound) || e.is(Kind::InUse) => Ok(()),
            // "has already been deleted" / "previously failed": confirmed by its status, not the message.
            Err(e) if e.is(Kind::Validation) => match describe::app(self.sagemaker, key).await? {
                None => Ok(()),
                Some(app) if matches!(app.status(), Some(AppStatus::Deleted | AppStatus::Deleting | AppStatus::Failed)) => Ok(()),
                Some(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// One step towards deleting a space: its apps first, then DeleteSpace.
    pub async fn space(&self, space: &SpaceDetails) -> Result<Vec<String>, TeardownError> {
        let Some(name) = space.space_name() else {
            return Ok(Vec::new());
        };
        let label = format!("space {name}");
        match space.status() {
            Some(SpaceStatus::Deleting) => return Ok(vec![label]),
            Some(SpaceStatus::DeleteFailed) if !self.retry_failed_delete => {
                let reason = match describe::space(self.sagemaker, self.domain_id, name).await? {
                    Some(described) => described.failure_reason().unwrap_or("no FailureReason given").to_string(),
                    None => return Ok(Vec::new()),
                };
                return Err(TeardownError::Failed(format!("space {name} could not be deleted: {reason}")));
            }
            _ => {}
        }
        let mut left = self.apps(Some(&AppOwner::Space(name.to_string()))).await?;
        if !left.is_empty() {
            left.push(label);
            return Ok(left);
        }
        match self.sagemaker.delete_space().domain_id(self.domain_id).space_name(name).send().await.aws("DeleteSpace") {
            Ok(_) => Ok(vec![label]),
            Err(e) if e.is(Kind::NotFound) => Ok(Vec::new()),
            Err(e) if e.is(Kind::InUse) => Ok(vec![label]),
            Err(e) => Err(e.into()),
        }
    }

    /// Each space's step, at most [`CONCURRENT_DELETES`] at once: a space goes as soon as its own apps are gone.
    pub async fn spaces(&self, spaces: &[SpaceDetails]) -> Result<Vec<String>, TeardownError> {
        let mut left = Vec::new();
        for outcome in bounded(spaces.to_vec(), |space| async move { self.space(&space).await }).await {
            left.extend(outcome?);
        }
        Ok(left)
    }

    /// Every space `profile` owns, private or shared (DeleteUserProfile is blocked by both).
    pub async fn owned_spaces(&self, profile: &str) -> Result<Vec<SpaceDetails>, AwsError> {
        let spaces = describe::spaces(self.sagemaker, self.domain_id).await?;
        Ok(spaces.into_iter().filter(|s| space_owner(s).is_some_and(|o| o.eq_ignore_ascii_case(profile))).collect())
    }

    /// One step towards deleting a user profile: its apps and the spaces it owns (`owned`, see
    /// [`Self::owned_spaces`]) first, then DeleteUserProfile. `status` is the profile's as last
    /// described (None: unknown). A refusal with nothing left is [`TeardownError::InUse`].
    pub async fn user_profile(&self, name: &str, status: Option<&UserProfileStatus>, owned: &[SpaceDetails]) -> Result<Vec<String>, TeardownError> {
        let label = format!("user profile {name}");
        match status {
            Some(UserProfileStatus::Deleting) => return Ok(vec![label]),
            Some(UserProfileStatus::DeleteFailed) if !self.retry_failed_delete => {
                let reason = match describe::user_profile(self.sagemaker, self.domain_id, name).await? {
                    Some(described) => described.failure_reason().unwrap_or("no FailureReason given").to_string(),
                    None => return Ok(Vec::new()),
                };
                return Err(TeardownError::Failed(format!("user profile {name} could not be deleted: {reason}")));
            }
            _ => {}
        }
        let owner = AppOwner::UserProfile(name.to_string());
        let (apps, spaces) = futures::join!(self.apps(Some(&owner)), self.spaces(owned));
        let mut left = apps?;
        left.extend(spaces?);
        if !left.is_empty() {
            return Ok(left);
        }
        match self.sagemaker.delete_user_profile().domain_id(self.domain_id).user_profile_name(name).send().await.aws("DeleteUserProfile") {
            Ok(_) => {
                info!(UserProfileName = name, "DeleteUserProfile");
                Ok(vec![label])
            }
            Err(e) if e.is(Kind::NotFound) => Ok(Vec::new()),
            // In a transition, or still used by something not listed (yet): the caller decides how long to wait.
            Err(e) if e.is(Kind::InUse) => Err(TeardownError::InUse { what: label, error: e }),
            Err(e) => Err(e.into()),
        }
    }
}

/// The user profile a space belongs to, if any (profile names are not case sensitive).
pub fn space_owner(space: &SpaceDetails) -> Option<&str> {
    space.ownership_settings_summary().and_then(|o| o.owner_user_profile_name())
}

/// Whether a listed app is `owner`'s.
fn owned_by(app: &AppDetails, owner: &AppOwner) -> bool {
    match owner {
        AppOwner::UserProfile(name) => app.space_name().is_none() && app.user_profile_name().is_some_and(|p| p.eq_ignore_ascii_case(name)),
        AppOwner::Space(name) => app.space_name().is_some_and(|s| s.eq_ignore_ascii_case(name)),
    }
}

/// Runs `f` on each item, at most [`CONCURRENT_DELETES`] at a time.
pub async fn bounded<T, R, F, Fut>(items: Vec<T>, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures::stream::iter(items).map(f).buffer_unordered(CONCURRENT_DELETES).collect().await
}

/// At most a few names: the text travels in continuations and ends up in a Reason.
pub fn summary(items: &[String]) -> String {
    const SHOWN: usize = 5;
    match items.len() {
        n if n <= SHOWN => items.join(", "),
        n => format!("{} and {} more", items[..SHOWN].join(", "), n - SHOWN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_summarised() {
        let items: Vec<String> = (1..=7).map(|i| format!("app JupyterLab/a{i}")).collect();
        assert_eq!(summary(&items[..2]), "app JupyterLab/a1, app JupyterLab/a2");
        assert!(summary(&items).ends_with("app JupyterLab/a5 and 2 more"), "{}", summary(&items));
    }
}
