//! The space resource: create, update (in place or by replacement) and delete, one step at a time.

use crate::properties::{EBS_SIZE, Properties, ebs_size};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use aws_sdk_sagemaker::types::{SpaceSettings, SpaceStatus};
use custom_resource::{CustomResource, Done, Error, Outcome, Pending, PropertyError, Request, Step};
use serde::{Deserialize, Serialize};
use studio::arn::ChildKey;
use studio::into_core::adopt_existing;
use studio::ownership::name_taken;
use studio::teardown::{Teardown, summary};
use studio::visibility::{CreatedAt, never_became_visible, not_visible_yet};
use studio::{AwsError, AwsResult, Kind, Owner, describe, tags};
use tracing::{info, warn};

/// Create (or a replacement): where a pending step stands. Everything else is read back from SageMaker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CreateProgress {
    /// The space exists (perhaps not visible yet, see [`studio::visibility`]); waiting for InService.
    Creating { created_at: CreatedAt },
    /// The created space failed: deleting it, then answering FAILED with `reason`.
    RemovingFailed { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UpdateProgress {
    /// The space moved, was renamed or changed owner or sharing: a new one is being created.
    Replacing(CreateProgress),
    /// UpdateSpace accepted; waiting for InService.
    Updating,
}

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

    async fn delete(&self, step: &Step, physical_id: &str, _properties: &Properties, progress: Option<DeleteProgress>) -> StepResult<DeleteProgress> {
        let Some(key) = ChildKey::space(physical_id) else {
            return Ok(Done::new(physical_id).into());
        };
        let domain = key.domain_id.as_str();
        // Listed, not described: DescribeSpace answers a missing space with a ValidationException.
        let listed = describe::spaces(&self.sagemaker, domain).await?;
        let Some(space) = listed.iter().find(|s| s.space_name().is_some_and(|n| n.eq_ignore_ascii_case(&key.name))) else {
            let done = Done::new(physical_id);
            return Ok(match progress {
                None => done.reason(format!("space {} in domain {domain} was already gone", key.name)),
                Some(_) => done,
            }
            .into());
        };
        let name = space.space_name().unwrap_or(&key.name).to_string();
        let first_step = progress.is_none();
        if first_step {
            let tags = tags::list(&self.sagemaker, physical_id).await?;
            if let Err(not_ours) = Owner::from(step.request()).guard(&tags, format!("space {name} in domain {domain}")) {
                warn!(SpaceArn = physical_id, "not owned by this stack resource; leaving it alone");
                return Ok(Done::new(physical_id).reason(not_ours.on_delete()).into());
            }
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
    /// Checks a private space's owner exists, then creates: SageMaker refuses a taken name, and
    /// only then is it worth the calls that tell whose it is.
    async fn start_create(&self, request: &Request, properties: &Properties) -> StepResult<CreateProgress> {
        properties.validate()?;
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        if let Some(owner) = properties.owner() {
            self.check_owner(domain, owner).await?;
        }
        let tags = Owner::from(request).creation_tags(&properties.tag_pairs()?);
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
            .aws("CreateSpace");
        match created {
            Ok(output) => {
                info!(SpaceArn = output.space_arn(), "creating the space");
                let pending = Pending::new(CreateProgress::Creating { created_at: CreatedAt::now() }, becoming_in_service(name));
                Ok(match output.space_arn() {
                    Some(arn) => pending.resource(arn),
                    None => pending,
                }
                .into())
            }
            // Perhaps the name is taken, by an earlier delivery of this request or by someone else.
            Err(e) => self.take_over_existing(request, properties, e).await,
        }
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

    /// CreateSpace refused: carry on with the space of that name if this resource made it.
    async fn take_over_existing(&self, request: &Request, properties: &Properties, refusal: AwsError) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let existing = describe::space(&self.sagemaker, domain, name).await;
        let what = format!("space {name}");
        let existing = adopt_existing(&self.sagemaker, request, refusal, existing, |s| s.space_arn(), name_taken("SpaceName", &what, domain)).await?;
        info!(SpaceArn = existing.space_arn(), "the space exists already and belongs to this resource");
        self.created(properties, existing).await
    }

    /// A look at the space CreateSpace accepted (the Pending that brought us here named it).
    async fn wait_created(&self, properties: &Properties, created_at: CreatedAt) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        match describe::space(&self.sagemaker, domain, name).await? {
            Some(space) => self.created(properties, space).await,
            None if created_at.may_be_invisible() => {
                Ok(Pending::new(CreateProgress::Creating { created_at }, not_visible_yet(&format!("space {name}"))).into())
            }
            None => Err(Error::new(never_became_visible(&format!("space {name} in domain {domain}")))),
        }
    }

    /// A step of waiting for a space this resource created.
    async fn created(&self, properties: &Properties, space: DescribeSpaceOutput) -> StepResult<CreateProgress> {
        let name = &properties.space_name;
        let arn = space_arn(&space)?;
        match space.status() {
            Some(SpaceStatus::InService | SpaceStatus::UpdateFailed) => Ok(done(&arn, &space).into()),
            Some(SpaceStatus::Pending | SpaceStatus::Updating) | None => {
                Ok(Pending::new(CreateProgress::Creating { created_at: CreatedAt::now() }, becoming_in_service(name)).resource(arn).into())
            }
            Some(SpaceStatus::Failed) => {
                let reason = format!("space {name} failed: {}", space.failure_reason().unwrap_or("no FailureReason given"));
                self.remove_failed(properties, &arn, reason).await
            }
            Some(other) => Err(Error::new(format!("space {name} is {} instead of becoming InService", other.as_str())).for_resource(arn)),
        }
    }

    /// A failed space still takes its name: delete it before answering FAILED.
    async fn remove_failed(&self, properties: &Properties, arn: &str, reason: String) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let removing = |reason| Pending::new(CreateProgress::RemovingFailed { reason }, format!("failed space {name} to be deleted")).resource(arn).into();
        match self.sagemaker.delete_space().domain_id(domain).space_name(name).send().await.aws("DeleteSpace") {
            Ok(_) => Ok(removing(reason)),
            Err(e) if e.is(Kind::NotFound) => Err(Error::new(format!("{reason} (the failed space was deleted)"))),
            Err(e) if e.is(Kind::InUse) => Ok(removing(reason)),
            Err(e) => Err(Error::new(format!("{reason}; deleting the failed space failed too: {e}")).for_resource(arn)),
        }
    }

    async fn wait_removed(&self, properties: &Properties, reason: String) -> StepResult<CreateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let Some(space) = describe::space(&self.sagemaker, domain, name).await? else {
            return Err(Error::new(format!("{reason} (the failed space was deleted)")));
        };
        let arn = space_arn(&space)?;
        match space.status() {
            Some(SpaceStatus::Deleting) => {
                Ok(Pending::new(CreateProgress::RemovingFailed { reason }, format!("failed space {name} to be deleted")).resource(arn).into())
            }
            Some(SpaceStatus::DeleteFailed) => {
                let why = space.failure_reason().unwrap_or("no FailureReason given");
                Err(Error::new(format!("{reason}; deleting the failed space failed too: {why}")).for_resource(arn))
            }
            _ => self.remove_failed(properties, &arn, reason).await,
        }
    }

    /// Spaces cannot move, be renamed or change owner or sharing: a new one is made;
    /// CloudFormation deletes the old one afterwards.
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
        let Some(current) = ChildKey::space(physical_id) else {
            return Err(Error::new(format!("PhysicalResourceId {physical_id:?} is not a space ARN")));
        };
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let Some(space) = describe::space(&self.sagemaker, &current.domain_id, &current.name).await? else {
            if !current.is(domain, name) {
                return self.replace(step, properties, None).await;
            }
            return Err(Error::new(format!("space {} no longer exists in domain {}; it was deleted outside CloudFormation", current.name, current.domain_id)));
        };
        Owner::from(step.request())
            .guard(&tags::list(&self.sagemaker, physical_id).await?, format!("space {} in domain {}", current.name, current.domain_id))
            .map_err(|e| Error::new(e.on_update()))?;

        if let Some(member) = replaced_member(&space, properties, old) {
            if current.is(domain, name) {
                return Err(Error::new(format!(
                    "{member} cannot change in place: a new space is made for it, and it needs a name that space {name} still holds in domain {domain}; change SpaceName as well to replace the space"
                )));
            }
            info!(from = physical_id, DomainId = %domain, SpaceName = %name, member, "replacing the space");
            return self.replace(step, properties, None).await;
        }
        if !current.is(domain, name) {
            info!(from = physical_id, DomainId = %domain, SpaceName = %name, "replacing the space");
            return self.replace(step, properties, None).await;
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
        let settings = properties.space_settings.as_ref().map(|s| &s.0).filter(|_| settings_changed);
        let display = properties.space_display_name.as_deref().filter(|_| display_changed);
        if settings.is_none() && display.is_none() {
            return self.finish_update(physical_id, properties, old, space).await;
        }
        self.update_space(&space, name, settings, display).await
    }

    async fn update_space(
        &self,
        space: &DescribeSpaceOutput,
        name: &str,
        settings: Option<&SpaceSettings>,
        display: Option<&str>,
    ) -> StepResult<UpdateProgress> {
        if let Some(status @ (SpaceStatus::Pending | SpaceStatus::Updating | SpaceStatus::Deleting)) = space.status() {
            return Err(Error::new(format!("space {name} is {}; updating it once that is over", status.as_str())).retry_later());
        }
        let updated = self
            .sagemaker
            .update_space()
            .set_domain_id(space.domain_id().map(str::to_string))
            .space_name(name)
            .set_space_settings(settings.cloned())
            .set_space_display_name(display.map(str::to_string))
            .send()
            .await
            .aws("UpdateSpace");
        match updated {
            Ok(_) => Ok(Pending::new(UpdateProgress::Updating, format!("space {name} to finish updating")).into()),
            Err(e) if e.is(Kind::InUse) => Err(Error::from(e).retry_later()),
            Err(e) => Err(e.into()),
        }
    }

    async fn wait_updated(&self, physical_id: &str, properties: &Properties, old: Option<&Properties>) -> StepResult<UpdateProgress> {
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let Some(space) = describe::space(&self.sagemaker, domain, name).await? else {
            return Err(Error::new(format!("space {name} disappeared from domain {domain} while being updated")));
        };
        match space.status() {
            Some(SpaceStatus::InService) => self.finish_update(physical_id, properties, old, space).await,
            Some(SpaceStatus::Pending | SpaceStatus::Updating) | None => {
                Ok(Pending::new(UpdateProgress::Updating, format!("space {name} to finish updating")).into())
            }
            Some(SpaceStatus::UpdateFailed) => {
                let reason = space.failure_reason().unwrap_or("no FailureReason given");
                Err(Error::new(format!("space {name} failed to update: {reason}")))
            }
            Some(other) => Err(Error::new(format!("space {name} is {} instead of finishing its update", other.as_str()))),
        }
    }

    /// Tags last: they change in place, whatever else changed.
    async fn finish_update(
        &self,
        physical_id: &str,
        properties: &Properties,
        old: Option<&Properties>,
        space: DescribeSpaceOutput,
    ) -> StepResult<UpdateProgress> {
        let arn = space_arn(&space)?;
        let old_tags = old.and_then(|old| old.tag_pairs().ok()).unwrap_or_default();
        tags::sync(&self.sagemaker, &arn, &properties.tag_pairs()?, &old_tags).await?;
        Ok(done(physical_id, &space).into())
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

fn space_arn(space: &DescribeSpaceOutput) -> Result<String, Error> {
    space.space_arn().map(str::to_string).ok_or_else(|| Error::new("DescribeSpace returned no SpaceArn"))
}

/// SUCCESS with the attributes Fn::GetAtt reads.
fn done(physical_id: &str, space: &DescribeSpaceOutput) -> Done {
    let mut done = Done::new(physical_id)
        .with("SpaceArn", space.space_arn().unwrap_or(physical_id))
        .with("SpaceName", space.space_name().unwrap_or_default())
        .with("DomainId", space.domain_id().unwrap_or_default());
    if let Some(url) = space.url() {
        done = done.with("Url", url);
    }
    if let Some(uid) = space.home_efs_file_system_uid() {
        done = done.with("HomeEfsFileSystemUid", uid);
    }
    done
}

fn becoming_in_service(name: &str) -> String {
    format!("space {name} to become InService")
}
