//! The user profile resource: create, update (in place or by replacement) and delete, one
//! step at a time.

use crate::properties::Properties;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput;
use aws_sdk_sagemaker::types::{AuthMode, SpaceStatus, UserProfileStatus, UserSettings};
use aws_sdk_ssoadmin::types::PrincipalType;
use custom_resource::{CustomResource, Done, Error, Outcome, Pending, PropertyError, Request, Step};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use studio::arn::ChildKey;
use studio::into_core::adopt_existing;
use studio::ownership::{SSO_ASSIGNED, name_taken};
use studio::since::Since;
use studio::teardown::{Teardown, TeardownError, summary};
use studio::visibility::{CreatedAt, never_became_visible, not_visible_yet};
use studio::{AwsError, AwsResult, IdentityCenter, Kind, Owner, describe, tags};
use tracing::{info, warn};

/// Create (or a replacement): where a pending step stands. Everything else is read back from SageMaker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CreateProgress {
    /// The profile exists (perhaps not visible yet, see [`studio::visibility`]); waiting for InService.
    Creating { created_at: CreatedAt },
    /// The created profile failed: deleting it, then answering FAILED with `reason`.
    RemovingFailed { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UpdateProgress {
    /// The profile moved or was renamed: a new one is being created.
    Replacing(CreateProgress),
    /// UpdateUserProfile accepted; waiting for InService.
    Updating,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DeleteProgress {
    /// Deleting the profile's apps (and, with ForceDelete, the spaces it owns), then the profile.
    Emptying,
    /// DeleteUserProfile accepted; waiting for the profile to be gone.
    Deleting,
    /// DeleteUserProfile refused (ResourceInUse) `since` then, though none of its apps and
    /// spaces is left: tried again for [`IN_USE_PATIENCE`], then FAILED.
    StillInUse { since: Since },
}

/// How long a ResourceInUse with nothing left to delete is taken for a transition: long
/// enough for SageMaker to notice its last space went, far shorter than ServiceTimeout.
pub const IN_USE_PATIENCE: Duration = Duration::from_secs(180);

type StepResult<P> = Result<Outcome<P>, Error>;

pub struct UserProfile {
    sagemaker: Client,
    identity_center: IdentityCenter,
}

impl UserProfile {
    pub fn new(clients: &studio::Clients) -> Self {
        Self { sagemaker: clients.sagemaker.clone(), identity_center: clients.identity_center.clone() }
    }
}

/// The IAM Identity Center user of a profile in an SSO domain, found in the identity store.
struct SsoUser {
    application_arn: String,
    user_id: String,
    /// Already assigned to the application, directly or through a group.
    assigned: bool,
}

impl CustomResource for UserProfile {
    type Properties = Properties;
    type CreateProgress = CreateProgress;
    type UpdateProgress = UpdateProgress;
    type DeleteProgress = DeleteProgress;

    fn recognizes(&self, physical_id: &str) -> bool {
        ChildKey::user_profile(physical_id).is_some()
    }

    async fn create(&self, step: &Step, properties: &Properties, progress: Option<CreateProgress>) -> StepResult<CreateProgress> {
        match progress {
            None => self.start_create(step, properties).await,
            Some(CreateProgress::Creating { created_at }) => self.wait_created(properties, created_at).await,
            Some(CreateProgress::RemovingFailed { reason }) => self.wait_removed(properties, reason).await,
        }
    }

    async fn update(
        &self,
        step: &Step,
        physical_id: &str,
        properties: &Properties,
        old: Option<&Properties>,
        progress: Option<UpdateProgress>,
    ) -> StepResult<UpdateProgress> {
        match progress {
            None => self.start_update(step, physical_id, properties, old).await,
            Some(UpdateProgress::Replacing(progress)) => self.replace(step, properties, Some(progress)).await,
            Some(UpdateProgress::Updating) => self.wait_updated(physical_id, properties, old).await,
        }
    }

    async fn delete(&self, step: &Step, physical_id: &str, properties: &Properties, progress: Option<DeleteProgress>) -> StepResult<DeleteProgress> {
        let Some(key) = ChildKey::user_profile(physical_id) else {
            return Ok(Done::new(physical_id).into());
        };
        let domain = key.domain_id.as_str();
        let Some(profile) = describe::user_profile(&self.sagemaker, domain, &key.name).await? else {
            let done = Done::new(physical_id);
            return Ok(match progress {
                None => done.reason(format!("user profile {} in domain {domain} was already gone", key.name)),
                Some(_) => done,
            }
            .into());
        };
        let name = profile.user_profile_name().unwrap_or(&key.name).to_string();
        let first_step = progress.is_none();
        let mut tags_of_first_step = Vec::new();
        if first_step {
            let tags = tags::list(&self.sagemaker, physical_id).await?;
            tags_of_first_step.clone_from(&tags);
            if let Err(not_ours) = Owner::from(step.request()).guard(&tags, format!("user profile {name} in domain {domain}")) {
                warn!(UserProfileArn = physical_id, "not owned by this stack resource; leaving it alone");
                return Ok(Done::new(physical_id).reason(not_ours.on_delete()).into());
            }
        }
        let teardown = Teardown { sagemaker: &self.sagemaker, domain_id: domain, retry_failed_delete: first_step, listed_apps: None };
        if matches!(progress, Some(DeleteProgress::Deleting)) && profile.status() == Some(&UserProfileStatus::DeleteFailed) {
            let reason = profile.failure_reason().unwrap_or("no FailureReason given");
            return Err(Error::new(format!("user profile {name} could not be deleted: {reason}")));
        }
        if profile.status() == Some(&UserProfileStatus::Deleting) {
            return Ok(deleting(&name));
        }

        // Refuse before deleting anything: a delete that cannot finish should not half-empty the profile.
        let owned = teardown.owned_spaces(&name).await?;
        let blocking: Vec<&str> = owned.iter().filter(|s| s.status() != Some(&SpaceStatus::Deleting)).filter_map(|s| s.space_name()).collect();
        if !blocking.is_empty() && !properties.force_delete {
            return Err(Error::new(format!(
                "user profile {name} still owns spaces [{}] in domain {domain}: delete them first, or set ForceDelete to true to delete them with the profile",
                blocking.join(", ")
            )));
        }
        if first_step {
            self.remove_sso_assignment(domain, &tags_of_first_step).await?;
        }
        // A DeleteFailed from before this operation is tried again (one after ours failed it above).
        let status = profile.status().filter(|s| **s != UserProfileStatus::DeleteFailed);
        let left = match teardown.user_profile(&name, status, &owned).await {
            Err(TeardownError::InUse { error, .. }) => return still_in_use(&name, domain, progress.as_ref(), error),
            left => left?,
        };
        match left.as_slice() {
            [] => Ok(Done::new(physical_id).into()),
            [only] if *only == format!("user profile {name}") => Ok(deleting(&name)),
            _ => Ok(Pending::new(DeleteProgress::Emptying, format!("{} of user profile {name} to be deleted", summary(&left))).into()),
        }
    }
}

impl UserProfile {
    /// Checks the SSO members against the domain, then creates: SageMaker refuses a taken name,
    /// and only then is it worth the calls that tell whose it is.
    async fn start_create(&self, request: &Request, properties: &Properties) -> StepResult<CreateProgress> {
        properties.validate()?;
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let described = self.domain(domain).await?;
        properties.check_auth_mode(&auth_mode(domain, &described)?)?;
        let sso_user = match properties.sso_identity() {
            (_, Some(user_name)) if described.auth_mode() == Some(&AuthMode::Sso) => Some(self.sso_user(&described, user_name).await?),
            _ => None,
        };
        let mut tags = properties.tag_pairs()?;
        // Marked before it is made, so that whatever happens next its Delete knows.
        if let Some(user) = sso_user.as_ref().filter(|u| !u.assigned) {
            tags.push((SSO_ASSIGNED.to_string(), user.user_id.clone()));
        }
        let tags = Owner::from(request).creation_tags(&tags);
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
            .await
            .aws("CreateUserProfile");
        match created {
            Ok(output) => {
                info!(UserProfileArn = output.user_profile_arn(), "creating the user profile");
                if let Some(user) = sso_user.filter(|u| !u.assigned) {
                    let arn = output.user_profile_arn().unwrap_or_default();
                    self.identity_center
                        .assign(&user.application_arn, PrincipalType::User, &user.user_id)
                        .await
                        .map_err(|e| Error::from(e).for_resource(arn))?;
                }
                let pending = Pending::new(CreateProgress::Creating { created_at: CreatedAt::now() }, becoming_in_service(name));
                Ok(match output.user_profile_arn() {
                    Some(arn) => pending.resource(arn),
                    None => pending,
                }
                .into())
            }
            // Perhaps the name is taken, by an earlier delivery of this request or by someone
            // else (SageMaker says ResourceInUse; any refusal is checked).
            Err(e) => self.take_over_existing(request, properties, e).await,
        }
    }

    /// CreateUserProfile refused: carry on with the user profile of that name if this resource made it.
    async fn take_over_existing(&self, request: &Request, properties: &Properties, refusal: AwsError) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let existing = describe::user_profile(&self.sagemaker, domain, name).await;
        let what = format!("user profile {name}");
        let existing =
            adopt_existing(&self.sagemaker, request, refusal, existing, |s| s.user_profile_arn(), name_taken("UserProfileName", &what, domain)).await?;
        info!(UserProfileArn = existing.user_profile_arn(), "the user profile exists already and belongs to this resource");
        self.created(properties, existing).await
    }

    /// A look at the profile CreateUserProfile accepted. Errors need no id here: the Pending
    /// that brought us here named the profile, and the core reports it with any error.
    async fn wait_created(&self, properties: &Properties, created_at: CreatedAt) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        match describe::user_profile(&self.sagemaker, domain, name).await? {
            Some(profile) => self.created(properties, profile).await,
            None if created_at.may_be_invisible() => {
                Ok(Pending::new(CreateProgress::Creating { created_at }, not_visible_yet(&format!("user profile {name}"))).into())
            }
            None => Err(Error::new(never_became_visible(&format!("user profile {name} in domain {domain}")))),
        }
    }

    /// A step of waiting for a profile this resource created.
    async fn created(&self, properties: &Properties, profile: DescribeUserProfileOutput) -> StepResult<CreateProgress> {
        let name = &properties.user_profile_name;
        let arn = profile_arn(&profile)?;
        match profile.status() {
            Some(UserProfileStatus::InService | UserProfileStatus::UpdateFailed) => Ok(done(&arn, &profile).into()),
            Some(UserProfileStatus::Pending | UserProfileStatus::Updating) | None => {
                Ok(Pending::new(CreateProgress::Creating { created_at: CreatedAt::now() }, becoming_in_service(name)).resource(arn).into())
            }
            Some(UserProfileStatus::Failed) => {
                let reason = format!("user profile {name} failed: {}", profile.failure_reason().unwrap_or("no FailureReason given"));
                self.remove_failed(properties, &arn, reason).await
            }
            Some(other) => Err(Error::new(format!("user profile {name} is {} instead of becoming InService", other.as_str())).for_resource(arn)),
        }
    }

    /// A failed profile still takes its name: delete it before answering FAILED.
    async fn remove_failed(&self, properties: &Properties, arn: &str, reason: String) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        match self.sagemaker.delete_user_profile().domain_id(domain).user_profile_name(name).send().await.aws("DeleteUserProfile") {
            Ok(_) => Ok(Pending::new(CreateProgress::RemovingFailed { reason }, format!("failed user profile {name} to be deleted")).resource(arn).into()),
            Err(e) if e.is(Kind::NotFound) => Err(Error::new(format!("{reason} (the failed user profile was deleted)"))),
            Err(e) if e.is(Kind::InUse) => {
                Ok(Pending::new(CreateProgress::RemovingFailed { reason }, format!("failed user profile {name} to be deleted")).resource(arn).into())
            }
            Err(e) => Err(Error::new(format!("{reason}; deleting the failed user profile failed too: {e}")).for_resource(arn)),
        }
    }

    async fn wait_removed(&self, properties: &Properties, reason: String) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let Some(profile) = describe::user_profile(&self.sagemaker, domain, name).await? else {
            return Err(Error::new(format!("{reason} (the failed user profile was deleted)")));
        };
        let arn = profile_arn(&profile)?;
        match profile.status() {
            Some(UserProfileStatus::Deleting) => {
                Ok(Pending::new(CreateProgress::RemovingFailed { reason }, format!("failed user profile {name} to be deleted")).resource(arn).into())
            }
            Some(UserProfileStatus::DeleteFailed) => {
                let why = profile.failure_reason().unwrap_or("no FailureReason given");
                Err(Error::new(format!("{reason}; deleting the failed user profile failed too: {why}")).for_resource(arn))
            }
            _ => self.remove_failed(properties, &arn, reason).await,
        }
    }

    /// Profiles cannot move or be renamed: a new one is made; CloudFormation deletes the old one afterwards.
    async fn replace(&self, step: &Step, properties: &Properties, progress: Option<CreateProgress>) -> StepResult<UpdateProgress> {
        let outcome = match progress {
            None => self.start_create(step, properties).await?,
            Some(CreateProgress::Creating { created_at }) => self.wait_created(properties, created_at).await?,
            Some(CreateProgress::RemovingFailed { reason }) => self.wait_removed(properties, reason).await?,
        };
        Ok(outcome.map_progress(UpdateProgress::Replacing))
    }

    async fn start_update(&self, step: &Step, physical_id: &str, properties: &Properties, old: Option<&Properties>) -> StepResult<UpdateProgress> {
        properties.validate()?;
        let Some(current) = ChildKey::user_profile(physical_id) else {
            return Err(Error::new(format!("PhysicalResourceId {physical_id:?} is not a user profile ARN")));
        };
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        if !current.is(domain, name) {
            // Profiles cannot move or be renamed: make the new one; CloudFormation deletes the old one afterwards.
            info!(from = physical_id, DomainId = %domain, UserProfileName = %name, "replacing the user profile");
            return self.replace(step, properties, None).await;
        }
        let Some(profile) = describe::user_profile(&self.sagemaker, domain, name).await? else {
            return Err(Error::new(format!("user profile {name} no longer exists in domain {domain}; it was deleted outside CloudFormation")));
        };
        Owner::from(step.request())
            .guard(&tags::list(&self.sagemaker, physical_id).await?, format!("user profile {name} in domain {domain}"))
            .map_err(|e| Error::new(e.on_update()))?;
        let identity = (profile.single_sign_on_user_identifier(), profile.single_sign_on_user_value());
        if identity != properties.sso_identity() {
            properties.check_auth_mode(&auth_mode(domain, &self.domain(domain).await?)?)?;
            let member = if identity.0 != properties.sso_identity().0 { "SingleSignOnUserIdentifier" } else { "SingleSignOnUserValue" };
            return Err(Error::new(format!(
                "{member}: the IAM Identity Center user of a profile cannot change in place, and the new profile needs a name that user profile {name} still holds in domain {domain}; change UserProfileName as well to replace the profile"
            )));
        }

        let settings_changed = old.is_none_or(|old| old.user_settings != properties.user_settings);
        match &properties.user_settings {
            Some(settings) if settings_changed => self.update_settings(&profile, name, settings).await,
            _ => self.finish_update(physical_id, properties, old, profile).await,
        }
    }

    async fn update_settings(&self, profile: &DescribeUserProfileOutput, name: &str, settings: &UserSettings) -> StepResult<UpdateProgress> {
        if let Some(status @ (UserProfileStatus::Pending | UserProfileStatus::Updating | UserProfileStatus::Deleting)) = profile.status() {
            return Err(Error::new(format!("user profile {name} is {}; updating it once that is over", status.as_str())).retry_later());
        }
        let updated = self
            .sagemaker
            .update_user_profile()
            .set_domain_id(profile.domain_id().map(str::to_string))
            .user_profile_name(name)
            .user_settings(settings.clone())
            .send()
            .await
            .aws("UpdateUserProfile");
        match updated {
            Ok(_) => Ok(Pending::new(UpdateProgress::Updating, format!("user profile {name} to finish updating")).into()),
            Err(e) if e.is(Kind::InUse) => Err(Error::from(e).retry_later()),
            Err(e) => Err(e.into()),
        }
    }

    async fn wait_updated(&self, physical_id: &str, properties: &Properties, old: Option<&Properties>) -> StepResult<UpdateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let Some(profile) = describe::user_profile(&self.sagemaker, domain, name).await? else {
            return Err(Error::new(format!("user profile {name} disappeared from domain {domain} while being updated")));
        };
        match profile.status() {
            Some(UserProfileStatus::InService) => self.finish_update(physical_id, properties, old, profile).await,
            Some(UserProfileStatus::Pending | UserProfileStatus::Updating) | None => {
                Ok(Pending::new(UpdateProgress::Updating, format!("user profile {name} to finish updating")).into())
            }
            Some(UserProfileStatus::UpdateFailed) => {
                let reason = profile.failure_reason().unwrap_or("no FailureReason given");
                Err(Error::new(format!("user profile {name} failed to update: {reason}")))
            }
            Some(other) => Err(Error::new(format!("user profile {name} is {} instead of finishing its update", other.as_str()))),
        }
    }

    /// Tags last: they change in place, whatever else changed.
    async fn finish_update(
        &self,
        physical_id: &str,
        properties: &Properties,
        old: Option<&Properties>,
        profile: DescribeUserProfileOutput,
    ) -> StepResult<UpdateProgress> {
        let arn = profile_arn(&profile)?;
        let old_tags = old.and_then(|old| old.tag_pairs().ok()).unwrap_or_default();
        tags::sync(&self.sagemaker, &arn, &properties.tag_pairs()?, &old_tags).await?;
        Ok(done(physical_id, &profile).into())
    }

    async fn domain(&self, domain_id: &str) -> Result<DescribeDomainOutput, Error> {
        match describe::domain(&self.sagemaker, domain_id).await? {
            Some(domain) => Ok(domain),
            None => Err(PropertyError::new("DomainId", format!("domain {domain_id} does not exist (DescribeDomain: ResourceNotFound)")).into()),
        }
    }

    /// The profile's user in the identity store of the domain's application; FAILED naming
    /// the user when there is none (before the profile is made).
    async fn sso_user(&self, domain: &DescribeDomainOutput, user_name: &str) -> Result<SsoUser, Error> {
        let domain_id = domain.domain_id().unwrap_or_default();
        let application_arn = domain
            .single_sign_on_application_arn()
            .ok_or_else(|| Error::new(format!("SSO domain {domain_id} reports no SingleSignOnApplicationArn: its users cannot be assigned")))?;
        let instance =
            self.identity_center.instance_of(application_arn).await?.ok_or_else(|| {
                Error::new(format!("IAM Identity Center application {application_arn} of domain {domain_id}, or its instance, was not found"))
            })?;
        let store = &instance.identity_store_id;
        let Some(user_id) = self.identity_center.user_id(store, user_name).await? else {
            return Err(PropertyError::new(
                "SingleSignOnUserValue",
                format!("no user named {user_name} in the IAM Identity Center identity store {store} of domain {domain_id}"),
            )
            .into());
        };
        let assigned = self.identity_center.is_assigned(store, application_arn, &user_id).await?;
        Ok(SsoUser { application_arn: application_arn.to_string(), user_id, assigned })
    }

    /// The assignment this resource made for its user (tag SSO_ASSIGNED), and only that.
    async fn remove_sso_assignment(&self, domain_id: &str, tags: &[(String, String)]) -> Result<(), Error> {
        let Some((_, user_id)) = tags.iter().find(|(key, _)| key == SSO_ASSIGNED) else {
            return Ok(());
        };
        let Some(application_arn) = describe::domain(&self.sagemaker, domain_id).await?.and_then(|d| d.single_sign_on_application_arn().map(str::to_string))
        else {
            // The domain (and its application, with its assignments) is gone.
            return Ok(());
        };
        Ok(self.identity_center.unassign(&application_arn, PrincipalType::User, user_id).await?)
    }
}

fn auth_mode(domain_id: &str, domain: &DescribeDomainOutput) -> Result<AuthMode, Error> {
    domain.auth_mode().cloned().ok_or_else(|| Error::new(format!("DescribeDomain {domain_id} returned no AuthMode")))
}

fn profile_arn(profile: &DescribeUserProfileOutput) -> Result<String, Error> {
    profile.user_profile_arn().map(str::to_string).ok_or_else(|| Error::new("DescribeUserProfile returned no UserProfileArn"))
}

/// SUCCESS with the attributes Fn::GetAtt reads.
fn done(physical_id: &str, profile: &DescribeUserProfileOutput) -> Done {
    let mut done = Done::new(physical_id)
        .with("UserProfileArn", profile.user_profile_arn().unwrap_or(physical_id))
        .with("UserProfileName", profile.user_profile_name().unwrap_or_default())
        .with("DomainId", profile.domain_id().unwrap_or_default());
    if let Some(uid) = profile.home_efs_file_system_uid() {
        done = done.with("HomeEfsFileSystemUid", uid);
    }
    done
}

fn becoming_in_service(name: &str) -> String {
    format!("user profile {name} to become InService")
}

/// DeleteUserProfile refused with nothing left that the profile's Delete could remove.
fn still_in_use(name: &str, domain: &str, progress: Option<&DeleteProgress>, error: AwsError) -> StepResult<DeleteProgress> {
    let since = match progress {
        Some(DeleteProgress::StillInUse { since }) => *since,
        _ => Since::now(),
    };
    if since.within(IN_USE_PATIENCE) {
        return Ok(Pending::new(DeleteProgress::StillInUse { since }, format!("user profile {name} to be no longer in use ({error})")).into());
    }
    Err(Error::new(format!(
        "user profile {name} in domain {domain} is still in use {} s after its apps and the spaces it owns were deleted \
         ({error}); something SageMaker does not list uses it. The profile is left in place.",
        IN_USE_PATIENCE.as_secs()
    )))
}

fn deleting(name: &str) -> Outcome<DeleteProgress> {
    Pending::new(DeleteProgress::Deleting, format!("user profile {name} to be deleted")).into()
}
