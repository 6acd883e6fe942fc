//! The user profile resource: create, update (in place or by replacement) and delete, one
//! step at a time.

use crate::cleanup::{self, AppOwner};
use crate::properties::{ProfileKey, Properties};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput;
use aws_sdk_sagemaker::types::{AuthMode, SpaceStatus, Tag, UserProfileStatus, UserSettings};
use serde::{Deserialize, Serialize};
use shared::aws::{describe, error_code};
use shared::{CustomResource, Done, Error, Outcome, Pending, PropertyError, Request, ownership};
use tracing::{info, warn};

/// Where a pending operation stands. Everything else is read back from SageMaker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Progress {
    /// Create (or replacement): the profile exists; waiting for InService.
    Creating,
    /// The created profile failed: deleting it, then answering FAILED with `reason`.
    RemovingFailed { reason: String },
    /// UpdateUserProfile accepted; waiting for InService.
    Updating,
    /// Delete: deleting the profile's apps (and private spaces with ForceDelete).
    Emptying,
    /// DeleteUserProfile accepted; waiting for the profile to be gone.
    Deleting,
}

type Step = Result<Outcome<Progress>, Error>;

pub struct UserProfile {
    sagemaker: Client,
}

impl UserProfile {
    pub fn new(sagemaker: Client) -> Self {
        Self { sagemaker }
    }
}

impl CustomResource for UserProfile {
    type Properties = Properties;
    type Progress = Progress;

    fn recognizes(&self, physical_id: &str) -> bool {
        ProfileKey::from_arn(physical_id).is_some()
    }

    async fn create(&self, request: &Request, properties: &Properties, progress: Option<Progress>) -> Step {
        match progress {
            None => self.start_create(request, properties).await,
            Some(Progress::Creating) => self.wait_created(properties).await,
            Some(Progress::RemovingFailed { reason }) => self.wait_removed(properties, reason).await,
            Some(other) => Err(unexpected(&other)),
        }
    }

    async fn update(&self, request: &Request, physical_id: &str, properties: &Properties, old: Option<&Properties>, progress: Option<Progress>) -> Step {
        match progress {
            None => self.start_update(request, physical_id, properties, old).await,
            // A replacement is a create.
            Some(Progress::Creating | Progress::RemovingFailed { .. }) => self.create(request, properties, progress).await,
            Some(Progress::Updating) => self.wait_updated(physical_id, properties).await,
            Some(other) => Err(unexpected(&other)),
        }
    }

    async fn delete(&self, request: &Request, physical_id: &str, properties: &Properties, progress: Option<Progress>) -> Step {
        let Some(key) = ProfileKey::from_arn(physical_id) else {
            return Ok(Done::new(physical_id).into());
        };
        let domain = key.domain_id.as_str();
        let Some(profile) = self.describe(domain, &key.name).await? else {
            let done = Done::new(physical_id);
            return Ok(match progress {
                None => done.reason(format!("user profile {} in domain {domain} was already gone", key.name)),
                Some(_) => done,
            }
            .into());
        };
        let name = profile.user_profile_name().unwrap_or(&key.name).to_string();
        let first_step = progress.is_none();
        if first_step {
            let tags = self.tags(physical_id).await?;
            if !ownership::owned_by(&tags, request) {
                warn!(UserProfileArn = physical_id, "not owned by this stack resource; leaving it alone");
                let reason = format!(
                    "retained: user profile {name} in domain {domain} is not owned by {} of this stack (its {} and {} tags differ); nothing was deleted",
                    request.logical_resource_id,
                    ownership::STACK_ID,
                    ownership::LOGICAL_ID
                );
                return Ok(Done::new(physical_id).reason(reason).into());
            }
        }
        match (profile.status(), &progress) {
            (Some(UserProfileStatus::Deleting), _) => return Ok(deleting(&name)),
            (Some(UserProfileStatus::DeleteFailed), Some(Progress::Deleting)) => {
                let reason = profile.failure_reason().unwrap_or("no FailureReason given");
                return Err(Error::new(format!("user profile {name} could not be deleted: {reason}")));
            }
            _ => {}
        }

        // Refuse before deleting anything: a delete that cannot finish should not half-empty the profile.
        let spaces = cleanup::private_spaces(&self.sagemaker, domain, &name).await?;
        let blocking: Vec<&str> = spaces.iter().filter(|s| s.status() != Some(&SpaceStatus::Deleting)).filter_map(|s| s.space_name()).collect();
        if !blocking.is_empty() && !properties.force_delete {
            return Err(Error::new(format!(
                "user profile {name} still owns private spaces [{}] in domain {domain}: delete them first, or set ForceDelete to true to delete them with the profile",
                blocking.join(", ")
            )));
        }
        let mut waiting = cleanup::delete_apps(&self.sagemaker, domain, AppOwner::UserProfile(&name)).await?;
        for space in &spaces {
            waiting.extend(cleanup::delete_space(&self.sagemaker, domain, space, first_step).await?);
        }
        if !waiting.is_empty() {
            return Ok(Pending::new(Progress::Emptying, format!("{} of user profile {name} to be deleted", summary(&waiting))).into());
        }

        match self.sagemaker.delete_user_profile().domain_id(domain).user_profile_name(&name).send().await {
            Ok(_) => {
                info!(UserProfileArn = physical_id, "deleting the user profile");
                Ok(deleting(&name))
            }
            Err(e) => match error_code(&e) {
                Some("ResourceNotFound") => Ok(Done::new(physical_id).into()),
                // In a transition, or still in use by something not gone yet.
                Some("ResourceInUse") => {
                    Ok(Pending::new(Progress::Emptying, format!("user profile {name} to become deletable ({})", describe("DeleteUserProfile", &e))).into())
                }
                _ => Err(Error::aws("DeleteUserProfile", &e)),
            },
        }
    }
}

impl UserProfile {
    /// Checks the SSO members against the domain, then creates: SageMaker refuses a taken name,
    /// and only then is it worth the calls that tell whose it is.
    async fn start_create(&self, request: &Request, properties: &Properties) -> Step {
        properties.validate()?;
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        properties.check_auth_mode(&self.auth_mode(domain).await?)?;
        let tags = ownership::creation_tags(properties.tag_pairs()?, request);
        let created = self
            .sagemaker
            .create_user_profile()
            .domain_id(domain)
            .user_profile_name(name)
            .set_single_sign_on_user_identifier(properties.single_sign_on_user_identifier.clone())
            .set_single_sign_on_user_value(properties.single_sign_on_user_value.clone())
            .set_user_settings(properties.user_settings.as_ref().map(|s| s.0.clone()))
            .set_tags(Some(tags))
            .send()
            .await;
        match created {
            Ok(output) => {
                info!(UserProfileArn = output.user_profile_arn(), "creating the user profile");
                let pending = Pending::new(Progress::Creating, becoming_in_service(name));
                Ok(match output.user_profile_arn() {
                    Some(arn) => pending.resource(arn),
                    None => pending,
                }
                .into())
            }
            // Perhaps the name is taken, by an earlier delivery of this request or by someone
            // else (SageMaker says ResourceInUse; any refusal is checked).
            Err(e) => {
                let busy = error_code(&e) == Some("ResourceInUse");
                self.take_over_existing(request, properties, Error::aws("CreateUserProfile", &e), busy).await
            }
        }
    }

    /// CreateUserProfile refused: carry on with the profile of that name if this resource made
    /// it, refuse if someone else did. Without one the refusal stands; ResourceInUse (`busy`)
    /// then means the domain was busy, so try again.
    async fn take_over_existing(&self, request: &Request, properties: &Properties, refusal: Error, busy: bool) -> Step {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let existing = match self.describe(domain, name).await {
            Ok(Some(existing)) => existing,
            Ok(None) | Err(_) if busy => return Err(retryable(refusal)),
            Ok(None) | Err(_) => return Err(refusal),
        };
        let tags = self.tags(existing.user_profile_arn().unwrap_or_default()).await?;
        if !ownership::owned_by(&tags, request) {
            return Err(PropertyError::new(
                "UserProfileName",
                format!("user profile {name} already exists in domain {domain} and does not belong to this stack resource; choose another name"),
            )
            .into());
        }
        info!(UserProfileArn = existing.user_profile_arn(), "the user profile exists already and belongs to this resource");
        self.created(properties, existing).await
    }

    async fn wait_created(&self, properties: &Properties) -> Step {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        match self.describe(domain, name).await? {
            Some(profile) => self.created(properties, profile).await,
            None => Err(Error::new(format!("user profile {name} disappeared from domain {domain} while being created"))),
        }
    }

    /// A step of waiting for a profile this resource created.
    async fn created(&self, properties: &Properties, profile: DescribeUserProfileOutput) -> Step {
        let name = &properties.user_profile_name;
        let arn = profile_arn(&profile)?;
        match profile.status() {
            Some(UserProfileStatus::InService | UserProfileStatus::UpdateFailed) => Ok(done(&arn, &profile)),
            Some(UserProfileStatus::Pending | UserProfileStatus::Updating) | None => {
                Ok(Pending::new(Progress::Creating, becoming_in_service(name)).resource(arn).into())
            }
            Some(UserProfileStatus::Failed) => {
                let reason = format!("user profile {name} failed: {}", profile.failure_reason().unwrap_or("no FailureReason given"));
                self.remove_failed(properties, &arn, reason).await
            }
            Some(other) => Err(Error::new(format!("user profile {name} is {} instead of becoming InService", other.as_str())).for_resource(arn)),
        }
    }

    /// A failed profile still takes its name: delete it before answering FAILED.
    async fn remove_failed(&self, properties: &Properties, arn: &str, reason: String) -> Step {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        match self.sagemaker.delete_user_profile().domain_id(domain).user_profile_name(name).send().await {
            Ok(_) => Ok(Pending::new(Progress::RemovingFailed { reason }, format!("failed user profile {name} to be deleted")).resource(arn).into()),
            Err(e) => match error_code(&e) {
                Some("ResourceNotFound") => Err(Error::new(format!("{reason} (the failed user profile was deleted)"))),
                Some("ResourceInUse") => {
                    Ok(Pending::new(Progress::RemovingFailed { reason }, format!("failed user profile {name} to be deleted")).resource(arn).into())
                }
                _ => Err(Error::new(format!("{reason}; deleting the failed user profile failed too: {}", describe("DeleteUserProfile", &e))).for_resource(arn)),
            },
        }
    }

    async fn wait_removed(&self, properties: &Properties, reason: String) -> Step {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let Some(profile) = self.describe(domain, name).await? else {
            return Err(Error::new(format!("{reason} (the failed user profile was deleted)")));
        };
        let arn = profile_arn(&profile)?;
        match profile.status() {
            Some(UserProfileStatus::Deleting) => {
                Ok(Pending::new(Progress::RemovingFailed { reason }, format!("failed user profile {name} to be deleted")).resource(arn).into())
            }
            Some(UserProfileStatus::DeleteFailed) => {
                let why = profile.failure_reason().unwrap_or("no FailureReason given");
                Err(Error::new(format!("{reason}; deleting the failed user profile failed too: {why}")).for_resource(arn))
            }
            _ => self.remove_failed(properties, &arn, reason).await,
        }
    }

    async fn start_update(&self, request: &Request, physical_id: &str, properties: &Properties, old: Option<&Properties>) -> Step {
        properties.validate()?;
        let Some(current) = ProfileKey::from_arn(physical_id) else {
            return Err(Error::new(format!("PhysicalResourceId {physical_id:?} is not a user profile ARN")));
        };
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        if !current.is(domain, name) {
            // Profiles cannot move or be renamed: make the new one; CloudFormation deletes the old one afterwards.
            info!(from = physical_id, DomainId = %domain, UserProfileName = %name, "replacing the user profile");
            return self.create(request, properties, None).await;
        }
        let Some(profile) = self.describe(domain, name).await? else {
            return Err(Error::new(format!("user profile {name} no longer exists in domain {domain}; it was deleted outside CloudFormation")));
        };
        let identity = (profile.single_sign_on_user_identifier(), profile.single_sign_on_user_value());
        if identity != properties.sso_identity() {
            properties.check_auth_mode(&self.auth_mode(domain).await?)?;
            let member = if identity.0 != properties.sso_identity().0 { "SingleSignOnUserIdentifier" } else { "SingleSignOnUserValue" };
            return Err(Error::new(format!(
                "{member}: the IAM Identity Center user of a profile cannot change in place, and the new profile needs a name that user profile {name} still holds in domain {domain}; change UserProfileName as well to replace the profile"
            )));
        }

        let settings_changed = old.is_none_or(|old| old.user_settings != properties.user_settings);
        match &properties.user_settings {
            Some(settings) if settings_changed => self.update_settings(&profile, name, settings).await,
            _ => self.finish_update(physical_id, properties, profile).await,
        }
    }

    async fn update_settings(&self, profile: &DescribeUserProfileOutput, name: &str, settings: &UserSettings) -> Step {
        if let Some(status @ (UserProfileStatus::Pending | UserProfileStatus::Updating | UserProfileStatus::Deleting)) = profile.status() {
            return Err(retryable(Error::new(format!("user profile {name} is {}; updating it once that is over", status.as_str()))));
        }
        let updated = self
            .sagemaker
            .update_user_profile()
            .set_domain_id(profile.domain_id().map(str::to_string))
            .user_profile_name(name)
            .user_settings(settings.clone())
            .send()
            .await;
        match updated {
            Ok(_) => Ok(Pending::new(Progress::Updating, format!("user profile {name} to finish updating")).into()),
            Err(e) if error_code(&e) == Some("ResourceInUse") => Err(retryable(Error::aws("UpdateUserProfile", &e))),
            Err(e) => Err(Error::aws("UpdateUserProfile", &e)),
        }
    }

    async fn wait_updated(&self, physical_id: &str, properties: &Properties) -> Step {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let Some(profile) = self.describe(domain, name).await? else {
            return Err(Error::new(format!("user profile {name} disappeared from domain {domain} while being updated")));
        };
        match profile.status() {
            Some(UserProfileStatus::InService) => self.finish_update(physical_id, properties, profile).await,
            Some(UserProfileStatus::Pending | UserProfileStatus::Updating) | None => {
                Ok(Pending::new(Progress::Updating, format!("user profile {name} to finish updating")).into())
            }
            Some(UserProfileStatus::UpdateFailed) => {
                let reason = profile.failure_reason().unwrap_or("no FailureReason given");
                Err(Error::new(format!("user profile {name} failed to update: {reason}")))
            }
            Some(other) => Err(Error::new(format!("user profile {name} is {} instead of finishing its update", other.as_str()))),
        }
    }

    /// Tags last: they change in place, whatever else changed.
    async fn finish_update(&self, physical_id: &str, properties: &Properties, profile: DescribeUserProfileOutput) -> Step {
        let arn = profile_arn(&profile)?;
        let actual = self.tags(&arn).await?;
        let (add, remove) = ownership::tag_changes(&actual, &properties.tag_pairs()?);
        if !remove.is_empty() {
            self.sagemaker.delete_tags().resource_arn(&arn).set_tag_keys(Some(remove)).send().await.map_err(|e| Error::aws("DeleteTags", &e))?;
        }
        if !add.is_empty() {
            let tags = add.into_iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect();
            self.sagemaker.add_tags().resource_arn(&arn).set_tags(Some(tags)).send().await.map_err(|e| Error::aws("AddTags", &e))?;
        }
        Ok(done(physical_id, &profile))
    }

    async fn describe(&self, domain_id: &str, name: &str) -> Result<Option<DescribeUserProfileOutput>, Error> {
        match self.sagemaker.describe_user_profile().domain_id(domain_id).user_profile_name(name).send().await {
            Ok(profile) => Ok(Some(profile)),
            Err(e) if error_code(&e) == Some("ResourceNotFound") => Ok(None),
            Err(e) => Err(Error::aws("DescribeUserProfile", &e)),
        }
    }

    async fn auth_mode(&self, domain_id: &str) -> Result<AuthMode, Error> {
        match self.sagemaker.describe_domain().domain_id(domain_id).send().await {
            Ok(domain) => domain.auth_mode().cloned().ok_or_else(|| Error::new(format!("DescribeDomain {domain_id} returned no AuthMode"))),
            Err(e) if error_code(&e) == Some("ResourceNotFound") => {
                Err(PropertyError::new("DomainId", format!("domain {domain_id} does not exist ({})", describe("DescribeDomain", &e))).into())
            }
            Err(e) => Err(Error::aws("DescribeDomain", &e)),
        }
    }

    async fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, Error> {
        let mut pages = self.sagemaker.list_tags().resource_arn(arn).into_paginator().items().send();
        let mut tags = Vec::new();
        while let Some(tag) = pages.next().await {
            let tag = tag.map_err(|e| Error::aws("ListTags", &e))?;
            if let Some(key) = tag.key() {
                tags.push((key.to_string(), tag.value().unwrap_or_default().to_string()));
            }
        }
        Ok(tags)
    }
}

fn profile_arn(profile: &DescribeUserProfileOutput) -> Result<String, Error> {
    profile.user_profile_arn().map(str::to_string).ok_or_else(|| Error::new("DescribeUserProfile returned no UserProfileArn"))
}

/// SUCCESS with the attributes Fn::GetAtt reads.
fn done(physical_id: &str, profile: &DescribeUserProfileOutput) -> Outcome<Progress> {
    let mut done = Done::new(physical_id)
        .with("UserProfileArn", profile.user_profile_arn().unwrap_or(physical_id))
        .with("UserProfileName", profile.user_profile_name().unwrap_or_default())
        .with("DomainId", profile.domain_id().unwrap_or_default());
    if let Some(uid) = profile.home_efs_file_system_uid() {
        done = done.with("HomeEfsFileSystemUid", uid);
    }
    done.into()
}

/// At most a few names: the text travels in continuations and ends up in a Reason.
fn summary(items: &[String]) -> String {
    const SHOWN: usize = 5;
    match items.len() {
        n if n <= SHOWN => items.join(", "),
        n => format!("{} and {} more", items[..SHOWN].join(", "), n - SHOWN),
    }
}

fn becoming_in_service(name: &str) -> String {
    format!("user profile {name} to become InService")
}

fn deleting(name: &str) -> Outcome<Progress> {
    Pending::new(Progress::Deleting, format!("user profile {name} to be deleted")).into()
}

fn retryable(mut error: Error) -> Error {
    error.retryable = true;
    error
}

fn unexpected(progress: &Progress) -> Error {
    Error::new(format!("internal error: progress {progress:?} does not belong to this request type"))
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
