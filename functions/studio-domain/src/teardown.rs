//! Delete: apps, then (with ForceDelete) spaces and user profiles, then the domain, then
//! (once its home EFS is gone) the NFS security groups SageMaker leaves in the VPC.
//!
//! Each step looks at the domain afresh and does what is left, so a repeated delivery or a
//! continuation simply carries on. With ForceDelete every user profile and space goes along
//! its own chain (its apps, then it; a profile after the spaces it owns), not phase by phase.
//!
//! Progress is a hint, never proof: every step that changes something first checks, in that
//! invocation, that the domain is this stack's and logical id's (its ownership tags), and the
//! NFS security groups are touched only once the domain is gone. The options that make a Delete
//! destroy more (ForceDelete, RetentionPolicy, DeleteNfsSecurityGroups) take effect as the last
//! completed Create or Update recorded them on the domain ([`studio::delete_options`]): a Delete
//! event's properties are whatever its sender wrote.

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
use studio::{adoption, delete_options};
use tracing::{info, warn};

/// Characters of names a FAILED Reason may list per kind (the whole response is limited to 4 KB).
const NAMES_BUDGET: usize = 700;
/// Kept back from ServiceTimeout when giving up on them: more than a poll and a step take.
const NFS_GROUPS_MARGIN: Duration = Duration::from_secs(15);
const NFS_GROUPS_POLL: Duration = Duration::from_secs(3);

/// Where a Delete stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DeleteProgress {
    /// Deleting apps (and, in a continuation of a version before `ForceEmptying`, with
    /// ForceDelete the spaces and user profiles).
    Emptying,
    /// With ForceDelete: deleting apps, spaces and user profiles; `removed`, those this Delete
    /// has deleted so far, for the Reason only (each step lists what is left afresh).
    ForceEmptying { removed: Removed },
    /// DeleteDomain was called (or the domain was Deleting already); waiting for it to be gone.
    /// Its home EFS and VPC are read before: DescribeDomain cannot tell them afterwards; so are
    /// the options the domain's record allowed, which decide what happens once it is gone.
    DeletingDomain {
        home_efs_file_system_id: Option<String>,
        #[serde(default)]
        vpc_id: Option<String>,
        /// Whether the domain was described (so a missing home EFS id means it had none).
        #[serde(default)]
        described: bool,
        #[serde(default)]
        options: Options,
    },
    /// The domain is gone; its NFS security groups go once its home EFS is gone, waited for
    /// from `since_ms` (epoch milliseconds) for at most the NFS patience.
    RemovingNfsSecurityGroups {
        home_efs_file_system_id: Option<String>,
        vpc_id: String,
        since_ms: u64,
        /// What the record narrowed, for the Reason.
        #[serde(default)]
        narrowed: Vec<String>,
        #[serde(default)]
        removed: Removed,
    },
}

/// The spaces and user profiles a ForceDelete removed, for the Reason: at most
/// [`Removed::KEPT`] names of each kind (a continuation's payload is bounded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub user_profiles: Vec<String>,
    pub spaces: Vec<String>,
}

impl Removed {
    const KEPT: usize = 100;

    /// Adds the names of a step's listing (each kept once).
    fn add(&mut self, profiles: &[UserProfileDetails], spaces: &[SpaceDetails]) {
        keep(&mut self.user_profiles, profiles.iter().filter_map(|p| p.user_profile_name()));
        keep(&mut self.spaces, spaces.iter().filter_map(|s| s.space_name()));
    }

    /// "ForceDelete removed 1 user profile (alice) and 2 spaces (alice-notebooks, team-shared)".
    fn summary(&self) -> Option<String> {
        let listed: Vec<String> = [("user profile", &self.user_profiles), ("space", &self.spaces)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(noun, names)| {
                let counted = if names.len() >= Self::KEPT { format!("{} or more {noun}s", Self::KEPT) } else { count(names.len(), noun) };
                format!("{counted} ({})", list_names(names, NAMES_BUDGET / 2))
            })
            .collect();
        (!listed.is_empty()).then(|| format!("ForceDelete removed {}", listed.join(" and ")))
    }
}

fn keep<'a>(kept: &mut Vec<String>, names: impl Iterator<Item = &'a str>) {
    for name in names {
        if kept.len() < Removed::KEPT && !kept.iter().any(|k| k == name) {
            kept.push(name.to_string());
        }
    }
}

/// The Delete options in effect: the event's, narrowed to what the domain's record allows.
/// The default is the conservative choice of each (what a domain without a record gets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    pub force_delete: bool,
    pub retention: HomeEfsFileSystem,
    pub delete_nfs_security_groups: bool,
    /// An adopted domain is deleted, not released.
    #[serde(default)]
    pub delete_adopted: bool,
    /// "ForceDelete true ignored: ...", for the Reason.
    pub narrowed: Vec<String>,
    /// Not an option: what ForceDelete removed so far, carried along for the Reason.
    #[serde(default)]
    pub removed: Removed,
}

impl Options {
    /// What the Delete event `p` asks, as far as the domain's `tags` record allows it.
    pub fn allowed(p: &Properties, tags: &[(String, String)]) -> Self {
        let [force, retention, nfs, adopted] = p.delete_options_asked().map(|option| delete_options::allowed(tags, option));
        // The NFS security groups matter only once the home EFS goes.
        let nfs_matters = retention.value == HomeEfsFileSystem::Delete.as_str();
        // DeleteAdopted matters only on a domain that was adopted.
        let adopted_matters = adoption::is_adopted(tags);
        let narrowed = [&force, &retention]
            .into_iter()
            .chain(nfs_matters.then_some(&nfs))
            .chain(adopted_matters.then_some(&adopted))
            .filter_map(|a| a.narrowed.clone())
            .collect();
        Options {
            force_delete: force.value == "true",
            retention: if retention.value == HomeEfsFileSystem::Delete.as_str() { HomeEfsFileSystem::Delete } else { HomeEfsFileSystem::Retain },
            delete_nfs_security_groups: nfs.value == "true",
            delete_adopted: adopted.value == "true",
            narrowed,
            removed: Removed::default(),
        }
    }

    /// A Reason with what ForceDelete removed and what was narrowed appended.
    fn reason(&self, reason: String) -> String {
        let reason = match self.removed.summary() {
            Some(removed) => format!("{reason}; {removed}"),
            None => reason,
        };
        if self.narrowed.is_empty() { reason } else { format!("{reason}. {}", self.narrowed.join("; ")) }
    }

    /// The progress while the domain is emptied.
    fn emptying(&self) -> DeleteProgress {
        if self.force_delete { DeleteProgress::ForceEmptying { removed: self.removed.clone() } } else { DeleteProgress::Emptying }
    }
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

/// What a look at the domain found, in this invocation.
enum Look {
    Gone,
    /// Its ownership tags name another stack resource (or none): the Reason to answer with.
    NotOurs(String),
    /// Ours: what DescribeDomain showed, and the options its record allows.
    Ours(Seen, Options),
    /// Ours by adoption, and the record does not allow deleting it: handed back instead.
    Release {
        arn: String,
        tags: Vec<(String, String)>,
        options: Options,
    },
}

/// What a look at the domain saw.
#[derive(Debug, Default)]
struct Seen {
    known: Known,
    status: Option<DomainStatus>,
    /// ": <FailureReason>" when SageMaker gave one.
    failure: String,
}

impl Deletion<'_> {
    pub async fn step(&self, step: &Step, progress: Option<DeleteProgress>) -> StepResult {
        match progress {
            None => self.begin(step).await,
            Some(DeleteProgress::Emptying) => self.empty(step, false, None, Removed::default()).await,
            Some(DeleteProgress::ForceEmptying { removed }) => self.empty(step, false, None, removed).await,
            Some(DeleteProgress::DeletingDomain { home_efs_file_system_id, vpc_id, described, options }) => {
                self.wait_deleted(step, Known { home_efs_file_system_id, vpc_id, described }, options).await
            }
            Some(DeleteProgress::RemovingNfsSecurityGroups { home_efs_file_system_id, vpc_id, since_ms, narrowed, removed }) => {
                // Never a live domain's groups, whatever the progress says.
                if describe::domain(self.sagemaker, self.domain_id).await?.is_some() {
                    warn!(DomainId = self.domain_id, "the domain exists: its NFS security groups are not touched");
                    return Err(Error::new(format!(
                        "domain {} still exists: its NFS security groups are removed only once it is gone; nothing was changed",
                        self.domain_id
                    )));
                }
                // Only a Delete whose options allowed it got here (see domain_gone).
                let options = Options {
                    force_delete: false,
                    retention: HomeEfsFileSystem::Delete,
                    delete_nfs_security_groups: true,
                    delete_adopted: false,
                    narrowed,
                    removed,
                };
                self.remove_nfs_security_groups(step, home_efs_file_system_id, vpc_id, since_ms, &options).await
            }
        }
    }

    /// DescribeDomain, its tags (the ownership guard) and the options its record allows.
    async fn look(&self, step: &Step) -> Result<Look, AwsError> {
        let (sagemaker, domain_id) = (self.sagemaker, self.domain_id);
        let Some(domain) = describe::domain(sagemaker, domain_id).await? else {
            return Ok(Look::Gone);
        };
        let exists = || async move { Ok(describe::domain(sagemaker, domain_id).await?.is_some()) };
        let Some(tags) = tags::list_unless_gone(sagemaker, domain.domain_arn().unwrap_or_default(), exists).await? else {
            return Ok(Look::Gone);
        };
        if let Err(not_ours) = Owner::from(step.request()).guard(&tags, format!("domain {domain_id}")) {
            warn!(DomainId = domain_id, "the domain's ownership tags do not name this stack and logical id: leaving it untouched");
            return Ok(Look::NotOurs(not_ours.on_delete()));
        }
        let options = Options::allowed(self.properties, &tags);
        if !options.narrowed.is_empty() {
            warn!(DomainId = domain_id, narrowed = ?options.narrowed, "the Delete asks more than the domain's record allows");
        }
        if adoption::is_adopted(&tags) && !options.delete_adopted {
            return Ok(Look::Release { arn: domain.domain_arn().unwrap_or_default().to_string(), tags, options });
        }
        Ok(Look::Ours(Seen { known: Known::of(&domain), status: domain.status().cloned(), failure: reason(&domain) }, options))
    }

    /// An adopted domain's Delete: our tags go, nothing else is touched.
    async fn release(&self, arn: &str, tags: &[(String, String)], options: &Options) -> StepResult {
        let domain_id = self.domain_id;
        let ours = adoption::release(tags);
        info!(DomainId = domain_id, keys = ?ours, "releasing the adopted domain");
        studio::tags::apply(self.sagemaker, arn, Vec::new(), ours).await?;
        Ok(Done::new(domain_id)
            .reason(options.reason(format!(
                "released domain {domain_id}: it was adopted, so only this stack's tags were removed and nothing was deleted (the domain, \
                 its apps, user profiles, spaces and home EFS are as they were; DeleteAdopted: true deletes an adopted domain)"
            )))
            .into())
    }

    fn gone(&self) -> StepResult {
        let domain_id = self.domain_id;
        Ok(Done::new(domain_id).reason(format!("domain {domain_id} does not exist (any more): nothing to delete")).into())
    }

    async fn begin(&self, step: &Step) -> StepResult {
        let (seen, options) = match self.look(step).await? {
            Look::Gone => return self.gone(),
            Look::NotOurs(reason) => return Ok(Done::new(self.domain_id).reason(reason).into()),
            Look::Release { arn, tags, options } => return self.release(&arn, &tags, &options).await,
            Look::Ours(seen, options) => (seen, options),
        };
        if seen.status == Some(DomainStatus::Deleting) {
            return Ok(deleting(self.domain_id, seen.known, options));
        }
        // Fail before stopping anyone's apps when the delete cannot go through anyway.
        if !options.force_delete {
            self.refuse_if_occupied(&options).await?;
        }
        self.empty(step, true, Some(options), Removed::default()).await
    }

    /// One step of emptying the domain; the domain itself once nothing is left. `checked`: the
    /// options from a look at the domain earlier in this step; None: look now. `removed`: what
    /// earlier steps removed.
    async fn empty(&self, step: &Step, first_step: bool, checked: Option<Options>, removed: Removed) -> StepResult {
        // Everything listed at once: the listings, not the deletes, take most of a step. The
        // look at the domain (ownership) runs alongside; nothing is deleted before it answers.
        // Profiles and spaces are listed when the event asks ForceDelete; the record decides.
        let (sagemaker, domain_id) = (self.sagemaker, self.domain_id);
        let asked_force = checked.as_ref().map_or(self.properties.force_delete, |o| o.force_delete);
        let look = async {
            match checked {
                Some(options) => Ok(Look::Ours(Seen::default(), options)),
                None => self.look(step).await,
            }
        };
        let (look, apps, children) = futures::join!(look, describe::apps(sagemaker, domain_id, None), async move {
            if !asked_force {
                return Ok((Vec::new(), Vec::new()));
            }
            futures::try_join!(describe::user_profiles(sagemaker, domain_id), describe::spaces(sagemaker, domain_id))
        });
        let mut options = match look? {
            Look::Gone => return self.gone(),
            Look::NotOurs(reason) => return Ok(Done::new(domain_id).reason(reason).into()),
            Look::Release { arn, tags, options } => return self.release(&arn, &tags, &options).await,
            Look::Ours(_, options) => Options { removed, ..options },
        };
        let (apps, (profiles, spaces)) = (apps?, children?);
        let teardown = Teardown { sagemaker, domain_id, retry_failed_delete: first_step, listed_apps: Some(&apps) };
        let left = if options.force_delete {
            options.removed.add(&profiles, &spaces);
            self.force_empty(&teardown, &profiles, &spaces).await?
        } else {
            teardown.apps(None).await?
        };
        if !left.is_empty() {
            return Ok(Pending::new(options.emptying(), format!("{} of domain {} to be deleted", summary(&left), domain_id)).into());
        }
        if !options.force_delete {
            // Someone may have added a space or user profile while the apps went.
            self.refuse_if_occupied(&options).await?;
        }
        self.request_delete(step, options).await
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
    async fn refuse_if_occupied(&self, options: &Options) -> Result<(), Error> {
        let domain_id = self.domain_id;
        let (spaces, profiles) = futures::try_join!(describe::spaces(self.sagemaker, domain_id), describe::user_profiles(self.sagemaker, domain_id))?;
        let spaces: Vec<String> =
            spaces.iter().filter(|s| s.status() != Some(&SpaceStatus::Deleting)).filter_map(|s| s.space_name().map(str::to_string)).collect();
        let profiles: Vec<String> =
            profiles.iter().filter(|p| p.status() != Some(&UserProfileStatus::Deleting)).filter_map(|p| p.user_profile_name().map(str::to_string)).collect();
        if spaces.is_empty() && profiles.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = [("space", &spaces), ("user profile", &profiles)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(noun, names)| format!("{} ({})", count(names.len(), noun), list_names(names, NAMES_BUDGET)))
            .collect();
        Err(Error::new(options.reason(format!(
            "domain {domain_id} still has {}. Spaces hold users' EBS volumes and user profiles their home directories, so they are \
             not deleted unless ForceDelete: true was set by the stack's last completed Create or Update (a Delete's own properties \
             cannot ask it): delete them first, or set ForceDelete: true in the template and update the stack, then delete it. \
             A stack whose Delete failed cannot be updated: delete them yourself, then retry the Delete",
            listed.join(" and ")
        ))))
    }

    /// DeleteDomain with the RetentionPolicy (the domain was looked at in this step), then wait.
    async fn request_delete(&self, step: &Step, options: Options) -> StepResult {
        let domain_id = self.domain_id;
        let Some(domain) = describe::domain(self.sagemaker, domain_id).await? else {
            return self.gone();
        };
        // Read while the domain exists: DescribeDomain cannot tell them afterwards.
        let known = Known::of(&domain);
        if domain.status() == Some(&DomainStatus::Deleting) {
            return Ok(deleting(domain_id, known, options));
        }
        let retention = options.retention;
        let policy = RetentionPolicy::builder().home_efs_file_system(RetentionType::from(retention.as_str())).build();
        info!(DomainId = domain_id, RetentionPolicy = retention.as_str(), "DeleteDomain");
        match self.sagemaker.delete_domain().domain_id(domain_id).retention_policy(policy).send().await.aws("DeleteDomain") {
            Ok(_) => Ok(deleting(domain_id, known, options)),
            Err(e) if e.is(Kind::NotFound) => self.domain_gone(step, known, options).await,
            // A space, user profile or app appeared meanwhile: start over from the apps.
            Err(e) if e.is(Kind::InUse) => {
                warn!(error = %e, "domain still in use; deleting what uses it first");
                Ok(Pending::new(options.emptying(), format!("apps of domain {domain_id} to be deleted")).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// DeleteDomain was called: wait until the domain is gone. What happens then (its NFS
    /// security groups) is decided by the last look at it while it existed: ownership and options
    /// are checked again at every look, not taken from the progress.
    async fn wait_deleted(&self, step: &Step, known: Known, options: Options) -> StepResult {
        let domain_id = self.domain_id;
        let removed = options.removed.clone();
        let (seen, options) = match self.look(step).await? {
            Look::Gone => return self.domain_gone(step, known, options).await,
            Look::NotOurs(reason) => return Ok(Done::new(domain_id).reason(reason).into()),
            // Only a record that allowed it let DeleteDomain go; one that no longer does stops here.
            Look::Release { arn, tags, options } => return self.release(&arn, &tags, &options).await,
            Look::Ours(seen, options) => (seen, Options { removed, ..options }),
        };
        match seen.status {
            Some(DomainStatus::DeleteFailed) => Err(Error::new(format!("deleting domain {domain_id} failed{}", seen.failure))),
            // Deleting; or just asked, and SageMaker does not show Deleting yet.
            _ => Ok(deleting(domain_id, known.or(seen.known), options)),
        }
    }

    /// The domain is gone: its NFS security groups next, unless they stay.
    async fn domain_gone(&self, step: &Step, known: Known, options: Options) -> StepResult {
        let left =
            |why: &str| Ok(Done::new(self.domain_id).reason(options.reason(self.groups_left(&options, known.home_efs_file_system_id.as_deref(), why))).into());
        if known.described && known.home_efs_file_system_id.is_none() {
            // HomeEfsFileSystemCreation Disabled: no home EFS, so no NFS security groups either.
            let reason = format!(
                "domain {} deleted; it had no home EFS file system (HomeEfsFileSystemCreation: Disabled), so no NFS security groups either",
                self.domain_id
            );
            return Ok(Done::new(self.domain_id).reason(options.reason(reason)).into());
        }
        match (options.retention, options.delete_nfs_security_groups, known.vpc_id) {
            (HomeEfsFileSystem::Retain, _, _) => left("the retained home EFS file system uses them (deleting it later frees them to be deleted)"),
            (_, false, _) => left("DeleteNfsSecurityGroups is false"),
            (_, _, None) => left("the domain's VpcId could not be read before it was deleted"),
            (HomeEfsFileSystem::Delete, true, Some(vpc_id)) => {
                self.remove_nfs_security_groups(step, known.home_efs_file_system_id, vpc_id, epoch_ms(step.now()), &options).await
            }
        }
    }

    /// One look: the home EFS gone, then revoke and delete the groups. Something else still
    /// using them past the patience (or near ServiceTimeout) is reported, not failed: the
    /// domain itself is gone.
    async fn remove_nfs_security_groups(
        &self,
        step: &Step,
        home_efs_file_system_id: Option<String>,
        vpc_id: String,
        since_ms: u64,
        options: &Options,
    ) -> StepResult {
        let domain_id = self.domain_id;
        let waited = Duration::from_millis(epoch_ms(step.now()).saturating_sub(since_ms));
        let out_of_patience = waited >= step.patience().nfs || step.service_deadline().is_some_and(|d| until(step.now(), d) < NFS_GROUPS_MARGIN);
        let efs = home_efs_file_system_id.as_deref();
        let waiting = |what: String| {
            let progress = DeleteProgress::RemovingNfsSecurityGroups {
                home_efs_file_system_id: home_efs_file_system_id.clone(),
                vpc_id: vpc_id.clone(),
                since_ms,
                narrowed: options.narrowed.clone(),
                removed: options.removed.clone(),
            };
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
                .reason(options.reason(format!(
                    "{}; its NFS security groups {} were deleted (or were gone already)",
                    deleted(domain_id, HomeEfsFileSystem::Delete, efs),
                    nfs_security_groups::names(domain_id).join(" and ")
                )))
                .into()),
            Ok(Err(why)) if out_of_patience => {
                warn!(DomainId = domain_id, why, "giving up on the NFS security groups");
                Ok(Done::new(domain_id).reason(options.reason(self.groups_left(options, efs, &format!("{why} (waited {} s)", waited.as_secs())))).into())
            }
            Ok(Err(why)) => waiting(format!("the NFS security groups of domain {domain_id} to become deletable: {why}")),
            Err(e) if matches!(e.kind, Kind::Throttled | Kind::ServerError) => Err(e.into()),
            // The domain is gone: a refused call (e.g. a role without the EC2 permissions) is reported, not failed.
            Err(e) => {
                warn!(DomainId = domain_id, error = %e, "could not remove the NFS security groups");
                Ok(Done::new(domain_id).reason(options.reason(self.groups_left(options, efs, &e.to_string()))).into())
            }
        }
    }

    /// The SUCCESS Reason when the NFS security groups stay.
    fn groups_left(&self, options: &Options, home_efs_file_system_id: Option<&str>, why: &str) -> String {
        let domain_id = self.domain_id;
        format!(
            "{}. Security groups {} were left in the VPC: {why}",
            deleted(domain_id, options.retention, home_efs_file_system_id),
            nfs_security_groups::names(domain_id).join(" and ")
        )
    }
}

/// What a Delete read of the domain before deleting it.
#[derive(Debug, Default)]
struct Known {
    home_efs_file_system_id: Option<String>,
    vpc_id: Option<String>,
    /// Whether DescribeDomain answered (so that no home EFS id means it has none).
    described: bool,
}

impl Known {
    fn of(domain: &DescribeDomainOutput) -> Self {
        Known {
            home_efs_file_system_id: domain.home_efs_file_system_id().filter(|id| !id.is_empty()).map(str::to_string),
            vpc_id: domain.vpc_id().map(str::to_string),
            described: true,
        }
    }

    /// What `self` knows, completed with `later`.
    fn or(self, later: Known) -> Self {
        Known {
            home_efs_file_system_id: self.home_efs_file_system_id.or(later.home_efs_file_system_id),
            vpc_id: self.vpc_id.or(later.vpc_id),
            described: self.described || later.described,
        }
    }
}

/// Waiting for DeleteDomain to finish.
fn deleting(domain_id: &str, known: Known, options: Options) -> Outcome<DeleteProgress> {
    let Known { home_efs_file_system_id, vpc_id, described } = known;
    Pending::new(DeleteProgress::DeletingDomain { home_efs_file_system_id, vpc_id, described, options }, format!("domain {domain_id} to be deleted")).into()
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

    fn asked(value: serde_json::Value) -> Properties {
        let mut props = serde_json::json!({"DomainName": "d", "AuthMode": "IAM", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"], "DefaultUserSettings": {}});
        for (k, v) in value.as_object().cloned().unwrap_or_default() {
            props[k] = v;
        }
        custom_resource::properties::parse(props.as_object().unwrap()).unwrap()
    }

    fn record(value: &str) -> Vec<(String, String)> {
        vec![(delete_options::TAG.to_string(), value.to_string())]
    }

    #[test]
    fn the_record_narrows_what_a_delete_asks_and_the_reason_says_so() {
        let all = asked(serde_json::json!({"ForceDelete": true, "RetentionPolicy": {"HomeEfsFileSystem": "Delete"}}));
        let (key, value) = all.delete_options_record();
        assert_eq!(
            (key.as_str(), value.as_str()),
            (delete_options::TAG, "ForceDelete=true RetentionPolicy.HomeEfsFileSystem=Delete DeleteNfsSecurityGroups=true DeleteAdopted=false")
        );
        let agreed = Options::allowed(&all, &record(&value));
        assert_eq!(
            agreed,
            Options {
                force_delete: true,
                retention: HomeEfsFileSystem::Delete,
                delete_nfs_security_groups: true,
                delete_adopted: false,
                narrowed: vec![],
                removed: Removed::default()
            }
        );

        let kept = record("ForceDelete=false RetentionPolicy.HomeEfsFileSystem=Retain DeleteNfsSecurityGroups=true");
        let narrowed = Options::allowed(&all, &kept);
        assert_eq!((narrowed.force_delete, narrowed.retention, narrowed.delete_nfs_security_groups), (false, HomeEfsFileSystem::Retain, true));
        assert_eq!(narrowed.narrowed.len(), 2, "{:?}", narrowed.narrowed);
        assert_eq!(narrowed.reason("x".into()), format!("x. {}", narrowed.narrowed.join("; ")));

        // No record: the conservative value of each; DeleteNfsSecurityGroups is only mentioned when the EFS goes.
        let none = Options::allowed(&asked(serde_json::json!({})), &[]);
        assert_eq!(none, Options::default());
        let none = Options::allowed(&all, &[]);
        assert!(none.narrowed.iter().all(|n| n.contains("has no record")) && none.narrowed.len() == 2, "{:?}", none.narrowed);
        // The event asking less than the record: the event wins.
        let less = Options::allowed(&asked(serde_json::json!({"DeleteNfsSecurityGroups": false})), &record(&value));
        assert_eq!((less.force_delete, less.delete_nfs_security_groups, less.narrowed.len()), (false, false, 0));
    }

    #[test]
    fn names_are_listed_within_the_budget() {
        let names: Vec<String> = (0..100).map(|i| format!("space-{i:02}")).collect();
        let listed = list_names(&names, 40);
        assert!(listed.starts_with("space-00, space-01"), "{listed}");
        assert!(listed.ends_with(" and 96 more"), "{listed}");
        assert_eq!(list_names(&names[..2], 40), "space-00, space-01");
    }

    #[test]
    fn the_reason_names_what_force_delete_removed_once_each_and_bounded() {
        let profile = |name: &str| UserProfileDetails::builder().user_profile_name(name).build();
        let space = |name: &str| SpaceDetails::builder().space_name(name).build();
        let mut options = Options { force_delete: true, ..Options::default() };
        // Two steps list the same space again: it is named once.
        options.removed.add(&[profile("alice")], &[space("alice-notebooks"), space("team-shared")]);
        options.removed.add(&[], &[space("team-shared")]);
        assert_eq!(
            options.reason("domain d-1 deleted".into()),
            "domain d-1 deleted; ForceDelete removed 1 user profile (alice) and 2 spaces (alice-notebooks, team-shared)"
        );
        // What the progress carries reads back the same (a continuation).
        let progress: DeleteProgress = serde_json::from_value(serde_json::to_value(options.emptying()).unwrap()).unwrap();
        assert!(matches!(&progress, DeleteProgress::ForceEmptying { removed } if *removed == options.removed), "{progress:?}");
        // The previous version's progress still reads.
        assert!(matches!(serde_json::from_value::<DeleteProgress>(serde_json::json!("Emptying")).unwrap(), DeleteProgress::Emptying));
        let nfs = serde_json::json!({"RemovingNfsSecurityGroups": {"home_efs_file_system_id": null, "vpc_id": "vpc-0a", "since_ms": 0}});
        assert!(
            matches!(serde_json::from_value::<DeleteProgress>(nfs).unwrap(), DeleteProgress::RemovingNfsSecurityGroups { removed, .. } if removed == Removed::default())
        );
        // Nothing removed: the Reason is as it was.
        assert_eq!(Options::default().reason("x".into()), "x");
        // A payload of bounded size, however many there were.
        let many: Vec<UserProfileDetails> = (0..250).map(|i| profile(&format!("user-{i:03}"))).collect();
        let mut removed = Removed::default();
        removed.add(&many, &[]);
        assert_eq!(removed.user_profiles.len(), Removed::KEPT);
        let summary = removed.summary().unwrap();
        assert!(summary.starts_with("ForceDelete removed 100 or more user profiles (user-000, user-001"), "{summary}");
        assert!(summary.len() < NAMES_BUDGET, "{}", summary.len());
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
