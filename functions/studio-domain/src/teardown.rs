//! Delete: apps, then (with ForceDelete) spaces and user profiles, then the domain, then
//! (once its home EFS is gone) the NFS security groups SageMaker leaves in the VPC.
//!
//! Each step looks at the domain afresh and does what is left, so a repeated delivery or a
//! continuation simply carries on. With ForceDelete every user profile and space goes along
//! its own chain (its apps, then it; a profile after the spaces it owns), not phase by phase.

use crate::properties::{HomeEfsFileSystem, Properties};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::types::{DomainStatus, RetentionPolicy, RetentionType, SpaceDetails, SpaceStatus, UserProfileDetails, UserProfileStatus};
use custom_resource::clock::{epoch_ms, until};
use custom_resource::{Done, Error, Outcome, Pending, Step};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use studio::nfs_security_groups::{self, NfsSecurityGroups};
use studio::teardown::{Teardown, TeardownError, bounded, space_owner, summary};
use studio::{AwsError, AwsResult, Kind, Owner, describe, tags};
use tracing::{info, warn};

/// Characters of names a FAILED Reason may list per kind (the whole response is limited to 4 KB).
const NAMES_BUDGET: usize = 700;
/// Kept back from ServiceTimeout when giving up on them: more than a poll and a step take.
const NFS_GROUPS_MARGIN: Duration = Duration::from_secs(15);
const NFS_GROUPS_POLL: Duration = Duration::from_secs(3);

/// Where a Delete stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DeleteProgress {
    /// Deleting apps, and with ForceDelete the spaces and user profiles.
    Emptying,
    /// DeleteDomain was called (or the domain was Deleting already); waiting for it to be gone.
    /// Its home EFS and VPC are read before: DescribeDomain cannot tell them afterwards.
    DeletingDomain {
        home_efs_file_system_id: Option<String>,
        #[serde(default)]
        vpc_id: Option<String>,
    },
    /// The domain is gone; its NFS security groups go once its home EFS is gone, waited for
    /// from `since_ms` (epoch milliseconds) for at most the NFS patience.
    RemovingNfsSecurityGroups { home_efs_file_system_id: Option<String>, vpc_id: String, since_ms: u64 },
}

/// ": <FailureReason>" when SageMaker gave one.
pub fn reason(domain: &DescribeDomainOutput) -> String {
    domain.failure_reason().map(|r| format!(": {r}")).unwrap_or_default()
}

/// One Delete of one domain.
pub struct Deletion<'a> {
    pub sagemaker: &'a Client,
    pub nfs: &'a NfsSecurityGroups,
    pub domain_id: &'a str,
    pub properties: &'a Properties,
}

type StepResult = Result<Outcome<DeleteProgress>, Error>;

impl Deletion<'_> {
    pub async fn step(&self, step: &Step, progress: Option<DeleteProgress>) -> StepResult {
        match progress {
            None => self.begin(step).await,
            Some(DeleteProgress::Emptying) => self.empty(step, false).await,
            Some(DeleteProgress::DeletingDomain { home_efs_file_system_id, vpc_id }) => {
                self.delete_domain(step, true, Known { home_efs_file_system_id, vpc_id }).await
            }
            Some(DeleteProgress::RemovingNfsSecurityGroups { home_efs_file_system_id, vpc_id, since_ms }) => {
                self.remove_nfs_security_groups(step, home_efs_file_system_id, vpc_id, since_ms).await
            }
        }
    }

    async fn begin(&self, step: &Step) -> StepResult {
        let domain_id = self.domain_id;
        let Some(domain) = describe::domain(self.sagemaker, domain_id).await? else {
            return Ok(Done::new(domain_id).reason(format!("domain {domain_id} does not exist (any more): nothing to delete")).into());
        };
        let tags = tags::list(self.sagemaker, domain.domain_arn().unwrap_or_default()).await?;
        if let Err(not_ours) = Owner::from(step.request()).guard(&tags, format!("domain {domain_id}")) {
            warn!(DomainId = domain_id, "the domain's ownership tags do not name this stack and logical id: leaving it untouched");
            return Ok(Done::new(domain_id).reason(not_ours.on_delete()).into());
        }
        if domain.status() == Some(&DomainStatus::Deleting) {
            return self.delete_domain(step, true, Known::default()).await;
        }
        // Fail before stopping anyone's apps when the delete cannot go through anyway.
        if !self.properties.force_delete {
            self.refuse_if_occupied().await?;
        }
        self.empty(step, true).await
    }

    /// One step of emptying the domain; the domain itself once nothing is left.
    async fn empty(&self, step: &Step, first_step: bool) -> StepResult {
        // Everything listed at once: the listings, not the deletes, take most of a step.
        let (sagemaker, domain_id, force) = (self.sagemaker, self.domain_id, self.properties.force_delete);
        let (apps, children) = futures::join!(describe::apps(sagemaker, domain_id, None), async move {
            if !force {
                return Ok((Vec::new(), Vec::new()));
            }
            futures::try_join!(describe::user_profiles(sagemaker, domain_id), describe::spaces(sagemaker, domain_id))
        });
        let (apps, (profiles, spaces)) = (apps?, children?);
        let teardown = Teardown { sagemaker: self.sagemaker, domain_id: self.domain_id, retry_failed_delete: first_step, listed_apps: Some(&apps) };
        let left = if self.properties.force_delete { self.force_empty(&teardown, &profiles, &spaces).await? } else { teardown.apps(None).await? };
        if !left.is_empty() {
            return Ok(Pending::new(DeleteProgress::Emptying, format!("{} of domain {} to be deleted", summary(&left), self.domain_id)).into());
        }
        if !self.properties.force_delete {
            // Someone may have added a space or user profile while the apps went.
            self.refuse_if_occupied().await?;
        }
        self.delete_domain(step, false, Known::default()).await
    }

    /// ForceDelete: each user profile (its apps and the spaces it owns, then it) and each space
    /// no profile owns, side by side: each goes as soon as what it depends on is gone.
    async fn force_empty(&self, teardown: &Teardown<'_>, profiles: &[UserProfileDetails], spaces: &[SpaceDetails]) -> Result<Vec<String>, Error> {
        let owner_of =
            |space: &SpaceDetails| space_owner(space).and_then(|o| profiles.iter().filter_map(|p| p.user_profile_name()).find(|p| p.eq_ignore_ascii_case(o)));
        let unowned: Vec<SpaceDetails> = spaces.iter().filter(|s| owner_of(s).is_none()).cloned().collect();
        let chains: Vec<(String, Option<UserProfileStatus>, Vec<SpaceDetails>)> = profiles
            .iter()
            .filter_map(|p| {
                let name = p.user_profile_name()?;
                Some((name.to_string(), p.status().cloned(), spaces.iter().filter(|s| owner_of(s) == Some(name)).cloned().collect()))
            })
            .collect();
        if !chains.is_empty() || !unowned.is_empty() {
            info!(user_profiles = chains.len(), spaces = unowned.len(), "deleting (ForceDelete)");
        }
        let (spaces_left, profiles_left) = futures::join!(
            teardown.spaces(&unowned),
            bounded(chains, |(name, status, owned)| async move { teardown.user_profile(&name, status.as_ref(), &owned).await })
        );
        let mut left = spaces_left?;
        for profile in profiles_left {
            match profile {
                // Refused while its last apps and spaces finish going: looked at again next step.
                Err(TeardownError::InUse { what, .. }) => left.push(what),
                other => left.extend(other?),
            }
        }
        // Apps of nobody listed (e.g. of a profile that went meanwhile) still block DeleteDomain.
        if left.is_empty() {
            left = teardown.apps(None).await?;
        }
        Ok(left)
    }

    /// Without ForceDelete, spaces and user profiles are users' data: FAILED, listing them.
    async fn refuse_if_occupied(&self) -> Result<(), Error> {
        let domain_id = self.domain_id;
        let spaces: Vec<String> = describe::spaces(self.sagemaker, domain_id)
            .await?
            .iter()
            .filter(|s| s.status() != Some(&SpaceStatus::Deleting))
            .filter_map(|s| s.space_name().map(str::to_string))
            .collect();
        let profiles: Vec<String> = describe::user_profiles(self.sagemaker, domain_id)
            .await?
            .iter()
            .filter(|p| p.status() != Some(&UserProfileStatus::Deleting))
            .filter_map(|p| p.user_profile_name().map(str::to_string))
            .collect();
        if spaces.is_empty() && profiles.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = [("space", &spaces), ("user profile", &profiles)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(noun, names)| format!("{} ({})", count(names.len(), noun), list_names(names, NAMES_BUDGET)))
            .collect();
        Err(Error::new(format!(
            "domain {domain_id} still has {}. Spaces hold users' EBS volumes and user profiles their home directories, so they are \
             not deleted unless ForceDelete is true: delete them first, or set ForceDelete: true to delete them with the domain.",
            listed.join(" and ")
        )))
    }

    /// DeleteDomain with the RetentionPolicy (once: `requested`), then wait until the domain is gone.
    async fn delete_domain(&self, step: &Step, requested: bool, known: Known) -> StepResult {
        let domain_id = self.domain_id;
        let Some(domain) = describe::domain(self.sagemaker, domain_id).await? else {
            return self.domain_gone(step, known).await;
        };
        // Read while the domain exists: DescribeDomain cannot tell them afterwards.
        let known = Known {
            home_efs_file_system_id: known.home_efs_file_system_id.or_else(|| domain.home_efs_file_system_id().map(str::to_string)),
            vpc_id: known.vpc_id.or_else(|| domain.vpc_id().map(str::to_string)),
        };
        let waiting = || {
            Pending::new(
                DeleteProgress::DeletingDomain { home_efs_file_system_id: known.home_efs_file_system_id.clone(), vpc_id: known.vpc_id.clone() },
                format!("domain {domain_id} to be deleted"),
            )
            .into()
        };
        match (domain.status(), requested) {
            (Some(DomainStatus::Deleting), _) => return Ok(waiting()),
            (Some(DomainStatus::DeleteFailed), true) => {
                return Err(Error::new(format!("deleting domain {domain_id} failed{}", reason(&domain))));
            }
            // Just asked: SageMaker may not show Deleting yet.
            (_, true) => return Ok(waiting()),
            (_, false) => {}
        }
        let retention = self.properties.retention_policy.home_efs_file_system;
        let policy = RetentionPolicy::builder().home_efs_file_system(RetentionType::from(retention.as_str())).build();
        info!(DomainId = domain_id, RetentionPolicy = retention.as_str(), "DeleteDomain");
        match self.sagemaker.delete_domain().domain_id(domain_id).retention_policy(policy).send().await.aws("DeleteDomain") {
            Ok(_) => Ok(waiting()),
            Err(e) if e.is(Kind::NotFound) => self.domain_gone(step, known).await,
            // A space, user profile or app appeared meanwhile: start over from the apps.
            Err(e) if e.is(Kind::InUse) => {
                warn!(error = %e, "domain still in use; deleting what uses it first");
                Ok(Pending::new(DeleteProgress::Emptying, format!("apps of domain {domain_id} to be deleted")).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The domain is gone: its NFS security groups next, unless they stay.
    async fn domain_gone(&self, step: &Step, known: Known) -> StepResult {
        let retention = self.properties.retention_policy.home_efs_file_system;
        let left = |why: &str| Ok(Done::new(self.domain_id).reason(self.groups_left(known.home_efs_file_system_id.as_deref(), why)).into());
        match (retention, self.properties.delete_nfs_security_groups, known.vpc_id) {
            (HomeEfsFileSystem::Retain, _, _) => left("the retained home EFS file system uses them (deleting it later frees them to be deleted)"),
            (_, false, _) => left("DeleteNfsSecurityGroups is false"),
            (_, _, None) => left("the domain's VpcId could not be read before it was deleted"),
            (HomeEfsFileSystem::Delete, true, Some(vpc_id)) => {
                self.remove_nfs_security_groups(step, known.home_efs_file_system_id, vpc_id, epoch_ms(step.now())).await
            }
        }
    }

    /// One look: the home EFS gone, then revoke and delete the groups. Something else still
    /// using them past the patience (or near ServiceTimeout) is reported, not failed: the
    /// domain itself is gone.
    async fn remove_nfs_security_groups(&self, step: &Step, home_efs_file_system_id: Option<String>, vpc_id: String, since_ms: u64) -> StepResult {
        let domain_id = self.domain_id;
        let waited = Duration::from_millis(epoch_ms(step.now()).saturating_sub(since_ms));
        let out_of_patience = waited >= step.patience().nfs || step.service_deadline().is_some_and(|d| until(step.now(), d) < NFS_GROUPS_MARGIN);
        let efs = home_efs_file_system_id.as_deref();
        let waiting = |what: String| {
            let progress =
                DeleteProgress::RemovingNfsSecurityGroups { home_efs_file_system_id: home_efs_file_system_id.clone(), vpc_id: vpc_id.clone(), since_ms };
            Ok(Pending::new(progress, what).poll_after(NFS_GROUPS_POLL).into())
        };
        let attempt = async {
            if let Some(id) = efs
                && let Some(efs_left) = self.nfs.file_system_left(id).await?
            {
                return Ok(Err(format!("{efs_left} still uses them")));
            }
            let in_use = self.nfs.remove(&vpc_id, domain_id).await?;
            if in_use.is_empty() {
                return Ok(Ok(()));
            }
            let mut why = Vec::new();
            for group in &in_use {
                // Naming the users is worth a call only when giving up.
                let users = if out_of_patience { self.nfs.users(&group.id).await? } else { Vec::new() };
                let users: Vec<String> =
                    users.iter().map(|i| if i.description.is_empty() { i.id.clone() } else { format!("{} ({})", i.id, i.description) }).collect();
                let by = if users.is_empty() { group.message.clone() } else { format!("used by {}", list_names(&users, NAMES_BUDGET)) };
                why.push(format!("{} ({}) is still in use: {by}", group.name, group.id));
            }
            Ok::<_, AwsError>(Err(why.join("; ")))
        };
        match attempt.await {
            Ok(Ok(())) => Ok(Done::new(domain_id)
                .reason(format!(
                    "{}; its NFS security groups {} were deleted (or were gone already)",
                    deleted(domain_id, HomeEfsFileSystem::Delete, efs),
                    nfs_security_groups::names(domain_id).join(" and ")
                ))
                .into()),
            Ok(Err(why)) if out_of_patience => {
                warn!(DomainId = domain_id, why, "giving up on the NFS security groups");
                Ok(Done::new(domain_id).reason(self.groups_left(efs, &format!("{why} (waited {} s)", waited.as_secs()))).into())
            }
            Ok(Err(why)) => waiting(format!("the NFS security groups of domain {domain_id} to become deletable: {why}")),
            Err(e) if matches!(e.kind, Kind::Throttled | Kind::ServerError) => Err(e.into()),
            // The domain is gone: a refused call (e.g. a role without the EC2 permissions) is reported, not failed.
            Err(e) => {
                warn!(DomainId = domain_id, error = %e, "could not remove the NFS security groups");
                Ok(Done::new(domain_id).reason(self.groups_left(efs, &e.to_string())).into())
            }
        }
    }

    /// The SUCCESS Reason when the NFS security groups stay.
    fn groups_left(&self, home_efs_file_system_id: Option<&str>, why: &str) -> String {
        let domain_id = self.domain_id;
        format!(
            "{}. Security groups {} were left in the VPC: {why}",
            deleted(domain_id, self.properties.retention_policy.home_efs_file_system, home_efs_file_system_id),
            nfs_security_groups::names(domain_id).join(" and ")
        )
    }
}

/// What a Delete read of the domain before deleting it.
#[derive(Debug, Default)]
struct Known {
    home_efs_file_system_id: Option<String>,
    vpc_id: Option<String>,
}

/// The SUCCESS Reason: what was deleted and what SageMaker leaves behind.
fn deleted(domain_id: &str, retention: HomeEfsFileSystem, home_efs_file_system_id: Option<&str>) -> String {
    let efs = home_efs_file_system_id.map(|id| format!(" {id}")).unwrap_or_default();
    let home = match retention {
        HomeEfsFileSystem::Retain => format!("its home EFS file system{efs} was retained (RetentionPolicy.HomeEfsFileSystem: Retain)"),
        HomeEfsFileSystem::Delete => format!("its home EFS file system{efs} was deleted"),
    };
    format!("domain {domain_id} deleted; {home}")
}

/// "1 space", "3 user profiles".
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Names, comma-separated, as many as fit in `budget` characters; "and N more" for the rest.
fn list_names(names: &[String], budget: usize) -> String {
    let mut shown = String::new();
    for (i, name) in names.iter().enumerate() {
        let separator = if i == 0 { "" } else { ", " };
        if shown.len() + separator.len() + name.len() > budget {
            return format!("{shown} and {} more", names.len() - i);
        }
        shown.push_str(separator);
        shown.push_str(name);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_listed_within_the_budget() {
        let names: Vec<String> = (0..100).map(|i| format!("space-{i:02}")).collect();
        let listed = list_names(&names, 40);
        assert!(listed.starts_with("space-00, space-01"), "{listed}");
        assert!(listed.ends_with(" and 96 more"), "{listed}");
        assert_eq!(list_names(&names[..2], 40), "space-00, space-01");
    }

    #[test]
    fn the_reason_says_what_was_kept() {
        let reason = deleted("d-1", HomeEfsFileSystem::Retain, Some("fs-1"));
        assert!(reason.contains("fs-1 was retained"), "{reason}");
        assert!(deleted("d-1", HomeEfsFileSystem::Delete, Some("fs-1")).contains("fs-1 was deleted"));
        assert_eq!(count(1, "space"), "1 space");
        assert_eq!(count(2, "user profile"), "2 user profiles");
    }
}
