//! The space resource: create, update (in place or by replacement) and delete, one step at a time.

use crate::properties::{EBS_SIZE, Properties, ebs_size};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, PropertyError, Step};
use serde::{Deserialize, Serialize};
use studio::arn::ChildKey;
use studio::child::{self, CreateProgress, Lifecycle, TagChange, UpdateProgress};
use studio::teardown::{Teardown, summary};
use studio::{AwsResult, Owner, describe};
use tracing::info;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DeleteProgress {
    /// Deleting the space's apps, then the space.
    Emptying,
    /// DeleteSpace accepted; waiting for the space to be gone.
    Deleting,
}

type StepResult<P> = Result<Outcome<P>, Error>;

pub struct Space {
    sagemaker: Client,
}

impl Space {
    pub fn new(sagemaker: Client) -> Self {
        Self { sagemaker }
    }
}

impl CustomResource for Space {
    type Properties = Properties;
    type CreateProgress = CreateProgress;
    type UpdateProgress = UpdateProgress;
    type DeleteProgress = DeleteProgress;

    fn recognizes(&self, physical_id: &str) -> bool {
        ChildKey::space(physical_id).is_some()
    }

    async fn create(&self, step: &Step, properties: &Properties, progress: Option<CreateProgress>) -> StepResult<CreateProgress> {
        self.lifecycle(step, &properties.domain_id, &properties.space_name).create_step(progress, self.start_create(step, properties)).await
    }

    async fn update(&self, step: &Step, change: Change<'_, Properties>, progress: Option<UpdateProgress>) -> StepResult<UpdateProgress> {
        let properties = change.properties;
        properties.validate()?;
        let tags = TagChange::new(properties.tag_pairs()?, change.old.map(Properties::tag_pairs));
        let start = self.start_update(step, change, &tags);
        self.lifecycle(step, &properties.domain_id, &properties.space_name).update_step(change.physical_id, progress, &tags, start).await
    }

    async fn delete(&self, step: &Step, physical_id: &str, _properties: &Properties, progress: Option<DeleteProgress>) -> StepResult<DeleteProgress> {
        let Some(key) = ChildKey::space(physical_id) else {
            return Ok(Done::new(physical_id).into());
        };
        let domain = key.domain_id.as_str();
        // Listed, not described: DescribeSpace answers a missing space with a ValidationException.
        let listed = describe::spaces(&self.sagemaker, domain).await?;
        let first_step = progress.is_none();
        let Some(space) = listed.iter().find(|s| s.space_name().is_some_and(|n| n.eq_ignore_ascii_case(&key.name))) else {
            return Ok(self.lifecycle(step, domain, &key.name).gone(physical_id, first_step).into());
        };
        let name = space.space_name().unwrap_or(&key.name).to_string();
        if first_step && let Err(retained) = self.lifecycle(step, domain, &name).guard_delete(physical_id).await? {
            return Ok(retained.into());
        }
        // A DeleteFailed from before this operation is tried again; one after ours is a failure.
        let teardown = Teardown { sagemaker: &self.sagemaker, domain_id: domain, retry_failed_delete: first_step, listed_apps: None };
        let left = teardown.space(space).await?;
        match left.as_slice() {
            [] => Ok(Done::new(physical_id).into()),
            [only] if *only == format!("space {name}") => Ok(Pending::new(DeleteProgress::Deleting, format!("space {name} to be deleted")).into()),
            _ => Ok(Pending::new(DeleteProgress::Emptying, format!("{} to be deleted", summary(&left))).into()),
        }
    }
}

impl Space {
    fn lifecycle<'a>(&'a self, step: &'a Step, domain_id: &'a str, name: &'a str) -> Lifecycle<'a, DescribeSpaceOutput> {
        Lifecycle { step, sagemaker: &self.sagemaker, domain_id, name, done }
    }

    /// Checks a private space's owner exists, then creates: SageMaker refuses a taken name, and
    /// only then is it worth the calls that tell whose it is.
    async fn start_create(&self, step: &Step, properties: &Properties) -> StepResult<CreateProgress> {
        properties.validate()?;
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        if let Some(owner) = properties.owner() {
            self.check_owner(domain, owner).await?;
        }
        let tags = Owner::from(step.request()).creation_tags(&properties.tag_pairs()?);
        let created = self
            .sagemaker
            .create_space()
            .domain_id(domain)
            .space_name(name)
            .set_space_display_name(properties.space_display_name.clone())
            .set_space_settings(properties.space_settings.as_ref().map(|s| s.0.clone()))
            .set_ownership_settings(properties.ownership_settings.as_ref().map(|s| s.0.clone()))
            .set_space_sharing_settings(properties.space_sharing_settings.as_ref().map(|s| s.0.clone()))
            .set_tags(Some(tags))
            .send()
            .await
            .aws("CreateSpace")
            .map(|created| created.space_arn);
        self.lifecycle(step, domain, name).created_by(created).await
    }

    /// The owner of a private space must be a profile of the domain: said before CreateSpace,
    /// naming the property.
    async fn check_owner(&self, domain: &str, owner: &str) -> Result<(), Error> {
        match describe::user_profile(&self.sagemaker, domain, owner).await? {
            Some(_) => Ok(()),
            None => Err(PropertyError::new(
                "OwnershipSettings.OwnerUserProfileName",
                format!("user profile {owner} does not exist in domain {domain} (DescribeUserProfile: ResourceNotFound); create it first (DependsOn)"),
            )
            .into()),
        }
    }

    /// `properties` validated.
    async fn start_update(&self, step: &Step, change: Change<'_, Properties>, tags: &TagChange) -> StepResult<UpdateProgress> {
        let Change { physical_id, properties, old } = change;
        let Some(current) = ChildKey::space(physical_id) else {
            return Err(Error::new(format!("PhysicalResourceId {physical_id:?} is not a space ARN")));
        };
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let Some(space) = describe::space(&self.sagemaker, &current.domain_id, &current.name).await? else {
            if !current.is(domain, name) {
                return self.replace(step, properties).await;
            }
            return Err(Error::new(format!("space {} no longer exists in domain {}; it was deleted outside CloudFormation", current.name, current.domain_id)));
        };
        self.lifecycle(step, &current.domain_id, &current.name).guard_update(physical_id).await?;

        if let Some(member) = replaced_member(&space, properties, old) {
            if current.is(domain, name) {
                return Err(Error::new(format!(
                    "{member} cannot change in place: a new space is made for it, and it needs a name that space {name} still holds in domain {domain}; change SpaceName as well to replace the space"
                )));
            }
            info!(from = physical_id, DomainId = %domain, SpaceName = %name, member, "replacing the space");
            return self.replace(step, properties).await;
        }
        if !current.is(domain, name) {
            info!(from = physical_id, DomainId = %domain, SpaceName = %name, "replacing the space");
            return self.replace(step, properties).await;
        }

        // Volumes only grow: refused before anything is changed.
        if let (Some(wanted), Some(now)) = (properties.ebs_size(), ebs_size(space.space_settings()))
            && wanted < now
        {
            return Err(PropertyError::new(
                EBS_SIZE,
                format!("{wanted} GB is below the {now} GB space {name} has now; an EBS volume can only grow (keep {now} or more, or replace the space under a new SpaceName)"),
            )
            .into());
        }
        let settings_changed = old.is_none_or(|old| old.space_settings != properties.space_settings);
        let display_changed = old.is_none_or(|old| old.space_display_name != properties.space_display_name);
        let settings = properties.space_settings.as_ref().map(|s| s.0.clone()).filter(|_| settings_changed);
        let display = properties.space_display_name.clone().filter(|_| display_changed);
        let lifecycle = self.lifecycle(step, domain, name);
        if settings.is_none() && display.is_none() {
            return lifecycle.finish_update(physical_id, space, tags).await;
        }
        let update = self.sagemaker.update_space().domain_id(domain).space_name(name).set_space_settings(settings).set_space_display_name(display).send();
        lifecycle.send_update(&space, async { update.await.aws("UpdateSpace") }).await
    }

    /// Spaces cannot move, be renamed or change owner or sharing: a new one is made;
    /// CloudFormation deletes the old one afterwards.
    async fn replace(&self, step: &Step, properties: &Properties) -> StepResult<UpdateProgress> {
        Ok(self.start_create(step, properties).await?.map_progress(UpdateProgress::Replacing))
    }
}

/// The member whose change needs a new space: compared with the old template, or (when that no
/// longer parses) with what SageMaker reports.
fn replaced_member(space: &DescribeSpaceOutput, properties: &Properties, old: Option<&Properties>) -> Option<&'static str> {
    let (old_owner, old_sharing) = match old {
        Some(old) => (old.owner().map(str::to_string), old.sharing_type().cloned()),
        None => (
            space.ownership_settings().and_then(|o| o.owner_user_profile_name()).map(str::to_string),
            space.space_sharing_settings().and_then(|s| s.sharing_type()).cloned(),
        ),
    };
    let owner_changed = !match (&old_owner, properties.owner()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a.is_none() && b.is_none(),
    };
    if owner_changed {
        Some("OwnershipSettings")
    } else if old_sharing.as_ref() != properties.sharing_type() {
        Some("SpaceSharingSettings")
    } else {
        None
    }
}

/// SUCCESS with the attributes Fn::GetAtt reads: every child's, and the space's Url.
fn done(physical_id: &str, space: &DescribeSpaceOutput) -> Done {
    let done = child::data(physical_id, space);
    match space.url() {
        Some(url) => done.with("Url", url),
        None => done,
    }
}
