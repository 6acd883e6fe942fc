//! The user profile resource: create, update (in place or by replacement) and delete, one
//! step at a time.

use crate::properties::Properties;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput;
use aws_sdk_sagemaker::types::{AuthMode, SpaceStatus, UserProfileStatus, UserSettings};
use aws_sdk_ssoadmin::types::PrincipalType;
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, PropertyError, Step};
use serde::{Deserialize, Serialize};
use studio::arn::ChildKey;
use studio::child::{self, Adoptable, CreateProgress, Lifecycle, Sent, TagChange, UpdateProgress};
use studio::ownership::SSO_ASSIGNED;
use studio::since::Since;
use studio::teardown::{Teardown, TeardownError, summary};
use studio::{AwsError, AwsResult, IdentityCenter, Owner, delete_options, describe, live_diff};
use tracing::info;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DeleteProgress {
    /// Deleting the profile's apps (and, with ForceDelete, the spaces it owns), then the profile.
    Emptying,
    /// DeleteUserProfile accepted; waiting for the profile to be gone.
    Deleting,
    /// DeleteUserProfile refused (ResourceInUse) `since` then, though none of its apps and
    /// spaces is left: tried again for the in-use patience (3 minutes), then FAILED.
    StillInUse { since: Since },
}

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
        properties.validate()?;
        let tags = adoption_tags(properties)?;
        self.lifecycle(step, &properties.domain_id, &properties.user_profile_name).create_step(progress, &tags, self.start_create(step, properties)).await
    }

    async fn update(&self, step: &Step, change: Change<'_, Properties>, progress: Option<UpdateProgress>) -> StepResult<UpdateProgress> {
        let properties = change.properties;
        properties.validate()?;
        // The delete options are recorded with the tags, at the end of the Update.
        let tags = TagChange::new(template_tags(properties)?, change.old.map(Properties::tag_pairs));
        let start = self.start_update(step, change, &tags);
        self.lifecycle(step, &properties.domain_id, &properties.user_profile_name).update_step(change.physical_id, progress, &tags, start).await
    }

    async fn delete(&self, step: &Step, physical_id: &str, properties: &Properties, progress: Option<DeleteProgress>) -> StepResult<DeleteProgress> {
        let Some(key) = ChildKey::user_profile(physical_id) else {
            return Ok(Done::new(physical_id).into());
        };
        let domain = key.domain_id.as_str();
        let first_step = progress.is_none();
        let Some(profile) = describe::user_profile(&self.sagemaker, domain, &key.name).await? else {
            return Ok(self.lifecycle(step, domain, &key.name).gone(physical_id, first_step).into());
        };
        let name = profile.user_profile_name().unwrap_or(&key.name).to_string();
        // Every step: the profile of this name may no longer be the one this stack resource made.
        let lifecycle = self.lifecycle(step, domain, &name);
        // Adopted: handed back (its apps, home and SSO assignment untouched) unless DeleteAdopted was recorded.
        let tags = match lifecycle.guard_delete(physical_id, first_step, properties.delete_adopted).await? {
            Ok(tags) => tags,
            Err(retained_gone_or_released) => return Ok(retained_gone_or_released.into()),
        };
        // The event's ForceDelete counts only as far as the last completed Create or Update recorded it.
        let force_delete = delete_options::allowed(&tags, properties.force_delete_option());
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
        if !blocking.is_empty() && force_delete.value != "true" {
            let narrowed = force_delete.narrowed.map(|n| format!(" ({n})")).unwrap_or_default();
            return Err(Error::new(format!(
                "user profile {name} still owns spaces [{}] in domain {domain}: delete them first, or set ForceDelete to true to delete them with the profile{narrowed}. \
                 ForceDelete counts once a Create or Update that sets it has completed, so set it by a stack update before deleting \
                 (a stack whose Delete failed cannot be updated: delete the spaces, then delete the stack again)",
                blocking.join(", ")
            )));
        }
        if first_step {
            self.remove_sso_assignment(domain, &tags).await?;
        }
        // A DeleteFailed from before this operation is tried again (one after ours failed it above).
        let status = profile.status().filter(|s| **s != UserProfileStatus::DeleteFailed);
        let left = match teardown.user_profile(&name, status, &owned).await {
            Err(TeardownError::InUse { error, .. }) => return still_in_use(step, &name, domain, progress.as_ref(), error),
            left => left?,
        };
        match left.as_slice() {
            [] => Ok(lifecycle.deleted(physical_id).into()),
            [only] if *only == format!("user profile {name}") => Ok(deleting(&name)),
            _ => Ok(Pending::new(DeleteProgress::Emptying, format!("{} of user profile {name} to be deleted", summary(&left))).into()),
        }
    }
}

impl UserProfile {
    fn lifecycle<'a>(&'a self, step: &'a Step, domain_id: &'a str, name: &'a str) -> Lifecycle<'a, DescribeUserProfileOutput> {
        // The Data is every child's: see [`studio::child::data`].
        Lifecycle { step, sagemaker: &self.sagemaker, domain_id, name, done: child::data }
    }

    /// Checks the SSO members against the domain, then creates: SageMaker refuses a taken name,
    /// and only then is it worth the calls that tell whose it is. With AdoptExisting, an
    /// existing profile of the name is adopted instead.
    async fn start_create(&self, step: &Step, properties: &Properties) -> StepResult<CreateProgress> {
        properties.validate()?;
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        let lifecycle = self.lifecycle(step, domain, name);
        // Before anything else (the identity store included): may this stack use that domain?
        // (Adoption is allowed only where creation would be.)
        let (described, domain_tags) = lifecycle.admitted_domain().await?;
        properties.check_auth_mode(&auth_mode(domain, &described)?)?;
        if properties.adopt_existing {
            match lifecycle.adoptable(&domain_tags).await? {
                Adoptable::Absent => {}
                Adoptable::Answered(answer) => return answer,
                Adoptable::Found { child, tags } => {
                    lifecycle.check_matches(&different_user(properties, &child))?;
                    let update = settings_update(properties, None, &child)?.map(|(settings, changed)| {
                        let update = self.sagemaker.update_user_profile().domain_id(domain).user_profile_name(name).user_settings(settings).send();
                        (Sent::of(&changed), async { update.await.aws("UpdateUserProfile") })
                    });
                    return lifecycle.take_over(child, &tags, &adoption_tags(properties)?, update).await;
                }
            }
        }
        let sso_user = match properties.sso_identity() {
            (_, Some(user_name)) if described.auth_mode() == Some(&AuthMode::Sso) => Some(self.sso_user(&described, user_name).await?),
            _ => None,
        };
        let mut tags = template_tags(properties)?;
        // Marked before it is made, so that whatever happens next its Delete knows.
        if let Some(user) = sso_user.as_ref().filter(|u| !u.assigned) {
            tags.push((SSO_ASSIGNED.to_string(), user.user_id.clone()));
        }
        let tags = Owner::from(step.request()).creation_tags(&tags);
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
            .aws("CreateUserProfile")
            .map(|created| created.user_profile_arn);
        if let (Ok(arn), Some(user)) = (&created, sso_user.filter(|u| !u.assigned)) {
            let arn = arn.as_deref().unwrap_or_default();
            self.identity_center.assign(&user.application_arn, PrincipalType::User, &user.user_id).await.map_err(|e| Error::from(e).for_resource(arn))?;
        }
        // Refused: perhaps the name is taken, by an earlier delivery of this request or by
        // someone else (SageMaker says ResourceInUse; any refusal is checked).
        self.lifecycle(step, domain, name).created_by(created).await
    }

    /// `properties` validated.
    async fn start_update(&self, step: &Step, change: Change<'_, Properties>, tags: &TagChange) -> StepResult<UpdateProgress> {
        let Change { physical_id, properties, old } = change;
        let Some(current) = ChildKey::user_profile(physical_id) else {
            return Err(Error::new(format!("PhysicalResourceId {physical_id:?} is not a user profile ARN")));
        };
        let (domain, name) = (&properties.domain_id, &properties.user_profile_name);
        if !current.is(domain, name) {
            // Profiles cannot move or be renamed: make the new one; CloudFormation deletes the old one afterwards.
            info!(from = physical_id, DomainId = %domain, UserProfileName = %name, "replacing the user profile");
            return Ok(self.start_create(step, properties).await?.map_progress(UpdateProgress::Replacing));
        }
        let Some(profile) = describe::user_profile(&self.sagemaker, domain, name).await? else {
            return Err(Error::new(format!("user profile {name} no longer exists in domain {domain}; it was deleted outside CloudFormation")));
        };
        let lifecycle = self.lifecycle(step, domain, name);
        lifecycle.guard_update(physical_id).await?;
        let identity = (profile.single_sign_on_user_identifier(), profile.single_sign_on_user_value());
        if identity != properties.sso_identity() {
            properties.check_auth_mode(&auth_mode(domain, &self.domain(domain).await?)?)?;
            let member = if identity.0 != properties.sso_identity().0 { "SingleSignOnUserIdentifier" } else { "SingleSignOnUserValue" };
            return Err(Error::new(format!(
                "{member}: the IAM Identity Center user of a profile cannot change in place, and the new profile needs a name that user profile {name} still holds in domain {domain}; change UserProfileName as well to replace the profile"
            )));
        }

        // Against the live profile, not the old template: a rollback to what the profile already
        // is calls nothing, and a change made outside the stack is put back.
        let update = match settings_update(properties, old, &profile)? {
            Some((settings, members)) => {
                info!(members = ?members, "UpdateUserProfile: the live profile lacks these UserSettings members");
                Some((Some(settings), Sent::of(&members)))
            }
            // An earlier update failed: an update with the settings it has brings it back to InService.
            None if profile.status() == Some(&UserProfileStatus::UpdateFailed) => {
                let sent = Sent { members: vec!["UserSettings (sent again after a failed update)".to_string()], drift: Vec::new() };
                Some((properties.user_settings.as_ref().map(|s| s.0.clone()), sent))
            }
            None => None,
        };
        match update {
            Some((settings, sent)) => {
                let update = self.sagemaker.update_user_profile().domain_id(domain).user_profile_name(name).set_user_settings(settings).send();
                lifecycle.send_update(&profile, sent, async { update.await.aws("UpdateUserProfile") }).await
            }
            None => lifecycle.finish_update(physical_id, profile, tags, Sent::default()).await,
        }
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

/// What UpdateUserProfile must send for the live profile to have the template's UserSettings
/// (see [`studio::live_diff`]), with what changes, leaf by leaf; None when it has them.
/// Removing UserSettings from the template leaves the profile's as they are.
fn settings_update(
    new: &Properties,
    old: Option<&Properties>,
    live: &DescribeUserProfileOutput,
) -> Result<Option<(UserSettings, Vec<live_diff::Changed>)>, Error> {
    let Some(settings) = &new.user_settings else {
        return Ok(None);
    };
    let old = old.and_then(|o| o.user_settings.as_deref());
    live_diff::shape_update("UserSettings", Some(&settings.0), old, live.user_settings(), &[]).map_err(Error::new)
}

/// The template's tags with the delete-options record: what a completed Create or Update leaves on the profile.
fn template_tags(properties: &Properties) -> Result<Vec<(String, String)>, Error> {
    let mut tags = properties.tag_pairs()?;
    tags.push(properties.delete_options());
    Ok(tags)
}

/// What a completed adoption leaves on the profile: the template's tags, and the conservative
/// delete options whatever the template says (see [`studio::adoption`]).
fn adoption_tags(properties: &Properties) -> Result<Vec<(String, String)>, Error> {
    let mut tags = properties.tag_pairs()?;
    tags.push(properties.adoption_delete_options());
    Ok(tags)
}

/// The IAM Identity Center user of an existing profile, where it differs from the template's:
/// what an adoption cannot change (each member, with both values).
fn different_user(properties: &Properties, live: &DescribeUserProfileOutput) -> Vec<String> {
    let (wanted, found) = (properties.sso_identity(), (live.single_sign_on_user_identifier(), live.single_sign_on_user_value()));
    [("SingleSignOnUserIdentifier", wanted.0, found.0), ("SingleSignOnUserValue", wanted.1, found.1)]
        .into_iter()
        .filter(|(_, wanted, found)| wanted != found)
        .map(|(member, wanted, found)| format!("{member}: the profile has {}, the template {}", found.unwrap_or("none"), wanted.unwrap_or("none")))
        .collect()
}

fn auth_mode(domain_id: &str, domain: &DescribeDomainOutput) -> Result<AuthMode, Error> {
    domain.auth_mode().cloned().ok_or_else(|| Error::new(format!("DescribeDomain {domain_id} returned no AuthMode")))
}

/// DeleteUserProfile refused with nothing left that the profile's Delete could remove.
fn still_in_use(step: &Step, name: &str, domain: &str, progress: Option<&DeleteProgress>, error: AwsError) -> StepResult<DeleteProgress> {
    let since = match progress {
        Some(DeleteProgress::StillInUse { since }) => *since,
        _ => Since::at(step.now()),
    };
    let patience = step.patience().in_use;
    if since.within(step.now(), patience) {
        return Ok(Pending::new(DeleteProgress::StillInUse { since }, format!("user profile {name} to be no longer in use ({error})")).into());
    }
    Err(Error::new(format!(
        "user profile {name} in domain {domain} is still in use {} s after its apps and the spaces it owns were deleted \
         ({error}); something SageMaker does not list uses it. The profile is left in place.",
        patience.as_secs()
    )))
}

fn deleting(name: &str) -> Outcome<DeleteProgress> {
    Pending::new(DeleteProgress::Deleting, format!("user profile {name} to be deleted")).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ROLE: &str = "arn:aws:iam::123456789012:role/studio";

    fn properties(settings: Value) -> Properties {
        let value = json!({"DomainId": "d-abc123", "UserProfileName": "alice", "UserSettings": settings});
        custom_resource::properties::parse(value.as_object().unwrap()).unwrap()
    }

    /// The profile as DescribeUserProfile shows it after a Create or Update from `p`.
    fn live(p: &Properties) -> DescribeUserProfileOutput {
        DescribeUserProfileOutput::builder().set_user_settings(p.user_settings.as_ref().map(|s| s.0.clone())).status(UserProfileStatus::InService).build()
    }

    #[test]
    fn an_update_sends_what_the_live_profile_lacks_and_a_rollback_nothing() {
        let old = properties(json!({"ExecutionRole": ROLE, "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}}));
        let new = properties(json!({"ExecutionRole": ROLE, "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.m5.large"}}}));
        let (sent, members) = settings_update(&new, Some(&old), &live(&old)).unwrap().expect("a change");
        let paths: Vec<&str> = members.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["UserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType"]);
        assert_eq!(sent.execution_role(), None, "an unchanged member is not re-sent");
        // The failed update's rollback: the profile still is what the old template says.
        assert!(settings_update(&old, Some(&new), &live(&old)).unwrap().is_none());
        // A change made outside the stack is put back, though both templates agree.
        let drifted = properties(
            json!({"ExecutionRole": "arn:aws:iam::123456789012:role/console", "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}}),
        );
        let (sent, _) = settings_update(&old, Some(&old), &live(&drifted)).unwrap().expect("drift corrected");
        assert_eq!(sent.execution_role(), Some(ROLE));
    }

    #[test]
    fn a_template_without_user_settings_leaves_the_profile_s_as_they_are() {
        let bare: Properties = custom_resource::properties::parse(json!({"DomainId": "d-abc123", "UserProfileName": "alice"}).as_object().unwrap()).unwrap();
        let old = properties(json!({"ExecutionRole": ROLE, "SecurityGroups": ["sg-1"]}));
        assert!(settings_update(&bare, Some(&old), &live(&old)).unwrap().is_none());
    }

    #[test]
    fn the_delete_options_are_recorded_with_the_tags() {
        let mut p = properties(json!({"ExecutionRole": ROLE}));
        assert_eq!(p.delete_options(), ("studio-cfn:delete-options".to_string(), "ForceDelete=false DeleteAdopted=false".to_string()));
        p.force_delete = true;
        let record = vec![p.delete_options()];
        assert_eq!(studio::delete_options::allowed(&record, p.force_delete_option()).value, "true");
        assert_eq!(studio::delete_options::allowed(&[], p.force_delete_option()).value, "false", "no record: no ForceDelete");
    }
}
