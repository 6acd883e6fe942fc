//! The space resource: create, update (in place or by replacement) and delete, one step at a time.

use crate::properties::{EBS_SIZE, Properties, ebs_size};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use aws_sdk_sagemaker::types::{SharingType, SpaceSettings, SpaceStatus};
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, PropertyError, Step};
use serde::{Deserialize, Serialize};
use serde_json::json;
use studio::arn::ChildKey;
use studio::child::{self, Adoptable, CreateProgress, Lifecycle, Sent, TagChange, UpdateProgress};
use studio::live_diff::Changed;
use studio::teardown::{Teardown, summary};
use studio::{AwsResult, Owner, describe, live_diff};
use tracing::info;

/// SpaceSettings members fixed at creation: UpdateSpace refuses them, changed or not.
const FIXED_SETTINGS: &[&str] = &["AppType"];

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
        properties.validate()?;
        let tags = properties.adoption_tags()?;
        self.lifecycle(step, &properties.domain_id, &properties.space_name).create_step(progress, &tags, self.start_create(step, properties)).await
    }

    async fn update(&self, step: &Step, change: Change<'_, Properties>, progress: Option<UpdateProgress>) -> StepResult<UpdateProgress> {
        let properties = change.properties;
        properties.validate()?;
        // The delete options are recorded with the tags, at the end of the Update.
        let tags = TagChange::new(properties.template_tags()?, change.old.map(Properties::tag_pairs));
        let start = self.start_update(step, change, &tags);
        self.lifecycle(step, &properties.domain_id, &properties.space_name).update_step(change.physical_id, progress, &tags, start).await
    }

    async fn delete(&self, step: &Step, physical_id: &str, properties: &Properties, progress: Option<DeleteProgress>) -> StepResult<DeleteProgress> {
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
        // Every step: the space of this name may no longer be the one this stack resource made.
        let lifecycle = self.lifecycle(step, domain, &name);
        // Adopted: handed back (its apps and EBS volume untouched) unless DeleteAdopted was recorded.
        if let Err(retained_gone_or_released) = lifecycle.guard_delete(physical_id, first_step, properties.delete_adopted).await? {
            return Ok(retained_gone_or_released.into());
        }
        // A DeleteFailed from before this operation is tried again; one after ours is a failure.
        let teardown = Teardown { sagemaker: &self.sagemaker, domain_id: domain, retry_failed_delete: first_step, listed_apps: None };
        let left = teardown.space(space).await?;
        match left.as_slice() {
            [] => Ok(lifecycle.deleted(physical_id).into()),
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
    /// only then is it worth the calls that tell whose it is. With AdoptExisting, an existing
    /// space of the name is adopted instead.
    async fn start_create(&self, step: &Step, properties: &Properties) -> StepResult<CreateProgress> {
        properties.validate()?;
        let (domain, name) = (&properties.domain_id, &properties.space_name);
        let lifecycle = self.lifecycle(step, domain, name);
        // May this stack put a space into that domain? Asked before anything is made (or adopted).
        let (_, domain_tags) = lifecycle.admitted_domain().await?;
        if properties.adopt_existing {
            match lifecycle.adoptable(&domain_tags).await? {
                Adoptable::Absent => {}
                Adoptable::Answered(answer) => return answer,
                Adoptable::Found { child, tags } => {
                    let differing = fixed_differences(&child, properties)
                        .into_iter()
                        .map(|member| {
                            let (found, wanted) = (live_value(&child, member), wanted_value(properties, member));
                            format!("{member}: the space has {}, the template {}", found.as_deref().unwrap_or("none"), wanted.as_deref().unwrap_or("none"))
                        })
                        .collect::<Vec<_>>();
                    lifecycle.check_matches(&differing)?;
                    check_ebs_growth(properties, &child, name)?;
                    let InPlace { settings, display, changed } = in_place_update(properties, None, &child)?;
                    let update = (settings.is_some() || display.is_some()).then(|| {
                        let update = self
                            .sagemaker
                            .update_space()
                            .domain_id(domain)
                            .space_name(name)
                            .set_space_settings(settings)
                            .set_space_display_name(display)
                            .send();
                        (Sent::of(&changed), async { update.await.aws("UpdateSpace") })
                    });
                    return lifecycle.take_over(child, &tags, &properties.adoption_tags()?, update).await;
                }
            }
        }
        if let Some(owner) = properties.owner() {
            self.check_owner(domain, owner).await?;
        }
        let tags = Owner::from(step.request()).creation_tags(&properties.template_tags()?);
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

        if let Some(member) = replaced_member(&space, properties) {
            if current.is(domain, name) {
                return Err(Error::new(format!(
                    "{member} cannot change in place{}: a new space is made for it, and it needs a name that space {name} still holds in domain {domain}; change SpaceName as well to replace the space, or keep {member} as the space has it{}",
                    if member == APP_TYPE { " (SageMaker fixes a space's AppType when it is created; UpdateSpace refuses it)" } else { "" },
                    live_value(&space, member).map(|v| format!(" ({v})")).unwrap_or_default(),
                )));
            }
            info!(from = physical_id, DomainId = %domain, SpaceName = %name, member, "replacing the space");
            return self.replace(step, properties).await;
        }
        if !current.is(domain, name) {
            info!(from = physical_id, DomainId = %domain, SpaceName = %name, "replacing the space");
            return self.replace(step, properties).await;
        }

        check_ebs_growth(properties, &space, name)?;
        // Against the live space, not the old template: a rollback to what the space already is
        // calls nothing, and a change made outside the stack is put back. AppType is never sent.
        let InPlace { mut settings, display, changed } = in_place_update(properties, old, &space)?;
        let mut sent = Sent::of(&changed);
        let lifecycle = self.lifecycle(step, domain, name);
        if settings.is_none() && display.is_none() {
            if space.status() != Some(&SpaceStatus::UpdateFailed) {
                return lifecycle.finish_update(physical_id, space, tags, sent).await;
            }
            // An earlier update failed: an update with the settings it has brings it back to InService.
            settings = properties.space_settings.as_ref().map(|s| without_fixed(&s.0));
            sent.members.push("SpaceSettings (sent again after a failed update)".to_string());
        }
        let update = self.sagemaker.update_space().domain_id(domain).space_name(name).set_space_settings(settings).set_space_display_name(display).send();
        lifecycle.send_update(&space, sent, async { update.await.aws("UpdateSpace") }).await
    }

    /// Spaces cannot move, be renamed or change owner or sharing: a new one is made;
    /// CloudFormation deletes the old one afterwards.
    async fn replace(&self, step: &Step, properties: &Properties) -> StepResult<UpdateProgress> {
        Ok(self.start_create(step, properties).await?.map_progress(UpdateProgress::Replacing))
    }
}

const APP_TYPE: &str = "SpaceSettings.AppType";

/// Volumes only grow: refused before anything is changed.
fn check_ebs_growth(properties: &Properties, space: &DescribeSpaceOutput, name: &str) -> Result<(), Error> {
    match (properties.ebs_size(), ebs_size(space.space_settings())) {
        (Some(wanted), Some(now)) if wanted < now => Err(PropertyError::new(
            EBS_SIZE,
            format!("{wanted} GB is below the {now} GB space {name} has now; an EBS volume can only grow (keep {now} or more, or replace the space under a new SpaceName)"),
        )
        .into()),
        _ => Ok(()),
    }
}

/// What UpdateSpace must send for the live space to be the template's.
struct InPlace {
    /// See [`settings_update`].
    settings: Option<SpaceSettings>,
    display: Option<String>,
    /// What changes, for the Reason.
    changed: Vec<Changed>,
}

/// The SpaceSettings and SpaceDisplayName the live space lacks.
fn in_place_update(new: &Properties, old: Option<&Properties>, live: &DescribeSpaceOutput) -> Result<InPlace, Error> {
    let (settings, mut changed) = match settings_update(new, old, live)? {
        Some((settings, changed)) => {
            info!(members = ?changed, "UpdateSpace: the live space lacks these SpaceSettings members");
            (Some(settings), changed)
        }
        None => (None, Vec::new()),
    };
    let display = new.space_display_name.clone().filter(|wanted| live.space_display_name() != Some(wanted.as_str()));
    if let Some(wanted) = &display {
        let old = old.and_then(|o| o.space_display_name.as_deref());
        changed.push(Changed {
            path: "SpaceDisplayName".to_string(),
            from: live.space_display_name().map(|d| json!(d)),
            to: json!(wanted),
            drift: old.is_some_and(|old| live.space_display_name() != Some(old)),
        });
    }
    Ok(InPlace { settings, display, changed })
}

/// The member whose change needs a new space, compared with the live space (so that a rollback
/// to what the space is needs none): see [`fixed_differences`].
fn replaced_member(space: &DescribeSpaceOutput, properties: &Properties) -> Option<&'static str> {
    fixed_differences(space, properties).into_iter().next()
}

/// The members the template sets otherwise than the live space has them and that UpdateSpace
/// cannot change: its owner, its sharing type (when the template sets one; a space made without
/// one is shared), its AppType (when the template sets one).
fn fixed_differences(space: &DescribeSpaceOutput, properties: &Properties) -> Vec<&'static str> {
    let live_owner = space.ownership_settings().and_then(|o| o.owner_user_profile_name()).filter(|o| !o.is_empty());
    let same_owner = match (live_owner, properties.owner()) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a.is_none() && b.is_none(),
    };
    let live_sharing = space.space_sharing_settings().and_then(|s| s.sharing_type()).unwrap_or(&SharingType::Shared);
    let live_app_type = space.space_settings().and_then(|s| s.app_type());
    let wanted_app_type = properties.space_settings.as_ref().and_then(|s| s.app_type());
    let differing = [
        (!same_owner, "OwnershipSettings"),
        (properties.sharing_type().is_some_and(|wanted| wanted != live_sharing), "SpaceSharingSettings"),
        (wanted_app_type.is_some() && wanted_app_type != live_app_type, APP_TYPE),
    ];
    differing.into_iter().filter(|(differs, _)| *differs).map(|(_, member)| member).collect()
}

/// What the template sets for a member that cannot change in place, for the Reason.
fn wanted_value(properties: &Properties, member: &str) -> Option<String> {
    match member {
        APP_TYPE => properties.space_settings.as_ref().and_then(|s| s.app_type()).map(|t| t.as_str().to_string()),
        "SpaceSharingSettings" => properties.sharing_type().map(|t| t.as_str().to_string()),
        "OwnershipSettings" => properties.owner().map(str::to_string),
        _ => None,
    }
}

/// What the live space has for a member that cannot change in place, for the Reason.
fn live_value(space: &DescribeSpaceOutput, member: &str) -> Option<String> {
    match member {
        APP_TYPE => space.space_settings().and_then(|s| s.app_type()).map(|t| t.as_str().to_string()),
        "SpaceSharingSettings" => space.space_sharing_settings().and_then(|s| s.sharing_type()).map(|t| t.as_str().to_string()),
        "OwnershipSettings" => space.ownership_settings().and_then(|o| o.owner_user_profile_name()).map(str::to_string),
        _ => None,
    }
}

/// What UpdateSpace must send for the live space to have the template's SpaceSettings (see
/// [`studio::live_diff`]), never AppType, with what changes, leaf by leaf; None when
/// it has them. Removing SpaceSettings from the template leaves the space's as they are.
fn settings_update(new: &Properties, old: Option<&Properties>, live: &DescribeSpaceOutput) -> Result<Option<(SpaceSettings, Vec<live_diff::Changed>)>, Error> {
    let Some(settings) = &new.space_settings else {
        return Ok(None);
    };
    let old = old.and_then(|o| o.space_settings.as_deref());
    live_diff::shape_update("SpaceSettings", Some(&settings.0), old, live.space_settings(), FIXED_SETTINGS).map_err(Error::new)
}

/// Settings as UpdateSpace takes them: without the members fixed at creation.
fn without_fixed(settings: &SpaceSettings) -> SpaceSettings {
    let mut settings = settings.clone();
    settings.app_type = None;
    settings
}

/// SUCCESS with the attributes Fn::GetAtt reads: every child's, and the space's Url.
fn done(physical_id: &str, space: &DescribeSpaceOutput) -> Done {
    let done = child::data(physical_id, space);
    match space.url() {
        Some(url) => done.with("Url", url),
        None => done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn properties(changes: Value) -> Properties {
        let mut value = json!({"DomainId": "d-abc123", "SpaceName": "team", "SpaceSharingSettings": {"SharingType": "Shared"},
            "SpaceSettings": {"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 20}}}});
        for (key, member) in changes.as_object().cloned().unwrap_or_default() {
            value[key] = member;
        }
        custom_resource::properties::parse(value.as_object().unwrap()).unwrap()
    }

    /// The space as DescribeSpace shows it after a Create from `p`.
    fn live(p: &Properties) -> DescribeSpaceOutput {
        DescribeSpaceOutput::builder()
            .set_space_settings(p.space_settings.as_ref().map(|s| s.0.clone()))
            .set_space_sharing_settings(p.space_sharing_settings.as_ref().map(|s| s.0.clone()))
            .set_ownership_settings(p.ownership_settings.as_ref().map(|s| s.0.clone()))
            .build()
    }

    #[test]
    fn update_space_never_carries_app_type() {
        let old = properties(json!({}));
        let new = properties(json!({"SpaceSettings": {"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 50}}}}));
        let (sent, members) = settings_update(&new, Some(&old), &live(&old)).unwrap().expect("a change");
        let paths: Vec<&str> = members.iter().map(|c| c.path.as_str()).collect();
        assert_eq!((sent.app_type(), paths.as_slice()), (None, &["SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb"][..]));
        assert!(settings_update(&old, Some(&new), &live(&old)).unwrap().is_none(), "a rollback to what the space is sends nothing");
        assert_eq!(without_fixed(&new.space_settings.as_ref().unwrap().0).app_type(), None);
    }

    #[test]
    fn what_needs_a_new_space_is_compared_with_the_live_space() {
        let shared = properties(json!({}));
        assert_eq!(replaced_member(&live(&shared), &shared), None);
        let code = properties(json!({"SpaceSettings": {"AppType": "CodeEditor"}}));
        assert_eq!(replaced_member(&live(&shared), &code), Some(APP_TYPE));
        // A template that does not set AppType keeps the space's.
        assert_eq!(
            replaced_member(&live(&shared), &properties(json!({"SpaceSettings": {"SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 20}}}}))),
            None
        );
        let private = properties(json!({"SpaceSharingSettings": {"SharingType": "Private"}, "OwnershipSettings": {"OwnerUserProfileName": "bob"}}));
        assert_eq!(replaced_member(&live(&shared), &private), Some("OwnershipSettings"));
        assert_eq!(replaced_member(&live(&private), &properties(json!({"OwnershipSettings": {"OwnerUserProfileName": "Bob"}}))), Some("SpaceSharingSettings"));
        // The rollback of a refused change: the template is what the space is.
        assert_eq!(replaced_member(&live(&private), &private), None);
        assert_eq!(live_value(&live(&shared), APP_TYPE).as_deref(), Some("JupyterLab"));
    }
}
