//! The studio-domain resource: create and update (delete is in [`crate::teardown`]).

use crate::properties::{Identity, Properties};
use crate::settings::{self, Changes};
use crate::sso;
use crate::teardown::{DeleteProgress, Deletion, reason};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::create_domain::builders::CreateDomainFluentBuilder;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::operation::update_domain::builders::UpdateDomainFluentBuilder;
use aws_sdk_sagemaker::types::{
    AppDetails, AppNetworkAccessType, AppSecurityGroupManagement, AppStatus, AuthMode, DomainStatus, HomeEfsFileSystemCreation, RetentionPolicy, RetentionType,
    Tag, TagPropagation,
};
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, PropertyError, Retry, Step};
use serde::{Deserialize, Serialize};
use studio::names::is_domain_id;
use studio::nfs_security_groups::NfsSecurityGroups;
use studio::sso_assigned::Record;
use studio::summary::Summary;
use studio::visibility::{CreatedAt, never_became_visible, not_visible_yet};
use studio::{AwsError, AwsResult, Kind, Owner, child_stacks, describe, tags};
use tracing::{info, warn};

mod adopt;

pub struct StudioDomain {
    sagemaker: aws_sdk_sagemaker::Client,
    identity_center: studio::IdentityCenter,
    nfs: NfsSecurityGroups,
}

/// Create: a new domain is on its way to InService.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Creating {
    pub domain_id: String,
    /// When CreateDomain answered: within the visibility patience, not-found means not visible yet.
    pub created_at: CreatedAt,
}

/// Where a pending Create resumes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CreateProgress {
    Creating(Creating),
    /// ExistingDomainId: the domain is this resource's now (tagged); UpdateDomain was called
    /// with what the template changes, waiting for InService. `summary`: the Reason to answer.
    Adopting {
        domain_id: String,
        summary: String,
    },
}

/// Where a pending Update resumes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UpdateProgress {
    /// A replacing domain is on its way to InService.
    Replacing(Creating),
    /// The domain is busy with another operation; the update starts when it ends.
    WaitingToUpdate,
    /// UpdateDomain was called; waiting for InService. `summary`: the Reason to answer.
    Updating {
        #[serde(default)]
        summary: String,
    },
}

/// What bringing a live domain to the template did: all of it now, or UpdateDomain was sent
/// and the domain is updating. Either way, the Reason to answer with once it is InService.
enum Applied {
    Done(String),
    Updating(String),
}

impl StudioDomain {
    pub fn new(clients: &studio::Clients, nfs: NfsSecurityGroups) -> Self {
        Self::with(clients.sagemaker.clone(), clients.identity_center.clone(), nfs)
    }

    pub fn with(sagemaker: aws_sdk_sagemaker::Client, identity_center: studio::IdentityCenter, nfs: NfsSecurityGroups) -> Self {
        Self { sagemaker, identity_center, nfs }
    }

    /// The domains named `domain_name`: those this very request created (Lambda delivered the
    /// event twice, perhaps at the same moment, or an earlier attempt timed out after
    /// CreateDomain), first-created first, and the ids of the others.
    async fn named(&self, step: &Step, domain_name: &str) -> Result<Named, AwsError> {
        let mut named = Named::default();
        let mut made = Vec::new();
        for domain in describe::domains(&self.sagemaker).await?.iter().filter(|d| d.domain_name() == Some(domain_name)) {
            let (Some(id), Some(arn)) = (domain.domain_id(), domain.domain_arn()) else { continue };
            // Being deleted (a duplicate another delivery removes): not one to settle on.
            if domain.status() == Some(&DomainStatus::Deleting) {
                continue;
            }
            // Listed but gone by now (a duplicate another delivery deleted): not one to settle on.
            let Some(tags) = self.tags_unless_gone(id, arn).await? else { continue };
            if Owner::from(step.request()).made(&tags) {
                let created = domain.creation_time().map(|t| (t.secs(), t.subsec_nanos())).unwrap_or((i64::MAX, 0));
                made.push((created, id.to_string()));
            } else {
                named.others.push(id.to_string());
            }
        }
        // Every delivery settles on the same one: the first created, ties broken by id.
        made.sort();
        named.made = made.into_iter().map(|(_, id)| id).collect();
        Ok(named)
    }

    /// The domain's tags; None when it vanished meanwhile (see [`tags::list_unless_gone`]).
    async fn tags_unless_gone(&self, domain_id: &str, arn: &str) -> Result<Option<Vec<(String, String)>>, AwsError> {
        let sagemaker = &self.sagemaker;
        tags::list_unless_gone(sagemaker, arn, || async move { Ok(describe::domain(sagemaker, domain_id).await?.is_some()) }).await
    }

    /// The first domain this request made, when it is not `domain_id`: where a delivery looking
    /// at a domain that vanished or is being deleted (a duplicate) settles.
    async fn settled_elsewhere(&self, step: &Step, p: &Properties, domain_id: &str) -> Result<Option<String>, AwsError> {
        Ok(self.named(step, &p.domain_name).await?.made.into_iter().next().filter(|first| first != domain_id))
    }

    /// CreateDomain (unless this request already made the domain), then wait for InService.
    async fn start_create(&self, step: &Step, p: &Properties) -> Result<Outcome<Creating>, Error> {
        if sso::names_any(p) {
            // A typo in a name fails here, with nothing made.
            let store = sso::account_instance(&self.identity_center).await?.identity_store_id;
            let (users, groups) = sso::template_names(p);
            sso::resolve(&self.identity_center, &store, &users, &groups).await?;
        }
        if let Some(id) = self.named(step, &p.domain_name).await?.made.first() {
            info!(DomainId = %id, "found the domain this request already created; not creating another");
            return self.wait_created(step, p, id, CreatedAt::at(step.now())).await;
        }
        match self.create_domain(step, p).await? {
            Some(id) => {
                // A step that fails now would run again from the start, where ListDomains may not
                // show this domain yet (SageMaker's lag): a second domain. So an error that the
                // core would retry is a pending step instead, whose progress names the domain.
                let created_at = CreatedAt::at(step.now());
                match self.wait_created(step, p, &id, created_at).await {
                    Err(e) if !matches!(e.retry, Retry::No) => {
                        warn!(DomainId = %id, error = %e.reason, "looking at the new domain failed; looking again");
                        let waiting_for = format!("domain {id} to become InService (the last look failed: {})", e.reason);
                        Ok(Pending::new(Creating { domain_id: id.clone(), created_at }, waiting_for).resource(&id).into())
                    }
                    looked => looked,
                }
            }
            // The name is taken: by another delivery of this request (settle on its domain), or by someone else.
            None => {
                let named = self.named(step, &p.domain_name).await?;
                match (named.made.first(), named.others.first()) {
                    (Some(id), _) => self.wait_created(step, p, id, CreatedAt::at(step.now())).await,
                    (None, Some(other)) => Err(PropertyError::new(
                        "DomainName",
                        format!("domain {other} is already named {:?} and does not belong to this stack resource; choose another DomainName", p.domain_name),
                    )
                    .into()),
                    // The domain that takes the name is not visible yet: look again, for about as
                    // long as SageMaker takes to show a new domain (bounded like a server error).
                    (None, None) => Err(Error::new(format!(
                        "CreateDomain: the DomainName {:?} is taken (ResourceInUse) by a domain ListDomains does not show yet; \
                         if it never appears, choose another DomainName",
                        p.domain_name
                    ))
                    .retry(Retry::ServerError)),
                }
            }
        }
    }

    /// CreateDomain; None when SageMaker refuses the name as taken (ResourceInUse).
    async fn create_domain(&self, step: &Step, p: &Properties) -> Result<Option<String>, Error> {
        let created = create_domain_request(&self.sagemaker, p, creation_tags(step, p)?).send().await.aws("CreateDomain");
        let created = match created {
            Ok(created) => created,
            Err(e) if e.is(Kind::InUse) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // Older API versions answer with the ARN only: arn:...:domain/d-xxxx
        let domain_id = created
            .domain_id()
            .or_else(|| created.domain_arn().and_then(|arn| arn.rsplit_once('/')).map(|(_, id)| id))
            .filter(|id| is_domain_id(id))
            .ok_or_else(|| Error::new("CreateDomain answered without a DomainId"))?;
        info!(DomainId = domain_id, "CreateDomain accepted");
        Ok(Some(domain_id.to_string()))
    }

    /// One look at a new domain: InService -> its principals assigned, done; Failed -> FAILED,
    /// the domain deleted. Every error names the domain, so that the rollback's Delete removes it.
    async fn wait_created(&self, step: &Step, p: &Properties, domain_id: &str, created_at: CreatedAt) -> Result<Outcome<Creating>, Error> {
        self.look_at_created(step, p, domain_id, created_at).await.map_err(|e| match e.physical_resource_id {
            Some(_) => e,
            None => e.for_resource(domain_id),
        })
    }

    async fn look_at_created(&self, step: &Step, p: &Properties, domain_id: &str, created_at: CreatedAt) -> Result<Outcome<Creating>, Error> {
        let pending = |waiting_for: String| Pending::new(Creating { domain_id: domain_id.to_string(), created_at }, waiting_for).resource(domain_id).into();
        let Some(domain) = describe::domain(&self.sagemaker, domain_id).await? else {
            // Only the delivery that made a domain deletes it as a duplicate: not found is "not
            // visible yet" for as long as SageMaker may take to show a new domain, even when
            // another delivery's domain is listed already (this one must go, not be left behind).
            let what = format!("domain {domain_id}");
            if created_at.may_be_invisible(step) {
                return Ok(pending(not_visible_yet(&what)));
            }
            // Gone for good (deleted outside): settle on this request's first domain, if any.
            if let Some(first) = self.settled_elsewhere(step, p, domain_id).await? {
                info!(DomainId = domain_id, kept = %first, "the domain is gone; another delivery of this request settled on an earlier one");
                return self.look_at_created_first(step, p, &first).await;
            }
            return Err(Error::new(never_became_visible(&what, step)));
        };
        match domain.status() {
            Some(DomainStatus::InService) => {
                // Two deliveries at the same moment may each have made a domain: all settle on the first.
                let elsewhere = self.settled_elsewhere(step, p, domain_id).await?;
                // Progress is a hint: act (delete a duplicate, assign principals) only on a
                // domain that carries this request's tags.
                let Some(tags) = self.made_by_request(step, &domain).await? else {
                    return self.vanished(step, p, domain_id).await;
                };
                if let Some(first) = elsewhere {
                    info!(DomainId = domain_id, kept = %first, "another delivery of this request made a domain first: deleting this one");
                    self.delete_duplicate(domain_id).await?;
                    return self.look_at_created_first(step, p, &first).await;
                }
                let created = Summary::new(format!("created domain {domain_id}"));
                if !sso::names_any(p) {
                    return Ok(done(domain_id, &domain).reason(created.render()).into());
                }
                let application = sso_application(&domain)?;
                let mut record = Record::from_tags(&tags);
                let assigned = sso::assign_all(&self.identity_center, application, p, &mut record).await?;
                self.write_record(&domain, &tags, &record).await?;
                Ok(done(domain_id, &domain).reason(created.note(assigned).render()).into())
            }
            Some(DomainStatus::Pending) => Ok(pending(format!("domain {domain_id} to become InService"))),
            Some(DomainStatus::Failed) => match self.made_by_request(step, &domain).await? {
                Some(_) => Err(self.discard_failed(domain_id, &domain).await),
                None => self.vanished(step, p, domain_id).await,
            },
            // A duplicate another delivery is deleting: settle on the first.
            Some(DomainStatus::Deleting) => match self.settled_elsewhere(step, p, domain_id).await? {
                Some(first) => {
                    info!(DomainId = domain_id, kept = %first, "the domain is being deleted; another delivery of this request settled on an earlier one");
                    self.look_at_created_first(step, p, &first).await
                }
                None => Err(Error::new(format!("domain {domain_id} is Deleting instead of becoming InService{}", reason(&domain))).for_resource(domain_id)),
            },
            status => Err(Error::new(format!(
                "domain {domain_id} is {} instead of becoming InService{}",
                status.map(|s| s.as_str()).unwrap_or("without a status"),
                reason(&domain)
            ))
            .for_resource(domain_id)),
        }
    }

    /// The domain's tags, when this request made it (its RequestId tag); None when it vanished
    /// meanwhile; FAILED, naming no domain, when another request made it.
    async fn made_by_request(&self, step: &Step, domain: &DescribeDomainOutput) -> Result<Option<Vec<(String, String)>>, Error> {
        let domain_id = domain.domain_id().unwrap_or_default();
        let Some(tags) = self.tags_unless_gone(domain_id, domain.domain_arn().unwrap_or_default()).await? else {
            return Ok(None);
        };
        if Owner::from(step.request()).made(&tags) {
            return Ok(Some(tags));
        }
        warn!(DomainId = domain_id, "the domain does not carry this request's tags: not acting on it");
        // Not this request's: the answer must not name it (a rollback would delete what it names).
        let kept = step.request().physical_resource_id.clone().unwrap_or_else(|| step.request().create_failed_marker());
        Err(Error::new(format!(
            "domain {domain_id} does not carry this request's ownership tags ({}): it was not made by this request, so nothing was done to it",
            studio::ownership::REQUEST_ID
        ))
        .for_resource(kept))
    }

    /// The domain looked at vanished: another delivery's domain, or FAILED.
    async fn vanished(&self, step: &Step, p: &Properties, domain_id: &str) -> Result<Outcome<Creating>, Error> {
        match self.settled_elsewhere(step, p, domain_id).await? {
            Some(first) => self.look_at_created_first(step, p, &first).await,
            None => Err(Error::new(format!("domain {domain_id} disappeared while being created (deleted outside this stack)"))),
        }
    }

    /// Writes the Identity Center record on the domain (only the record tags that change).
    async fn write_record(&self, domain: &DescribeDomainOutput, current: &[(String, String)], record: &Record) -> Result<(), Error> {
        let (add, remove) = record.changes(current);
        tags::apply(&self.sagemaker, domain.domain_arn().unwrap_or_default(), add, remove).await?;
        Ok(())
    }

    /// The domain a duplicate delivery settles on (visible, since it was listed).
    async fn look_at_created_first(&self, step: &Step, p: &Properties, first: &str) -> Result<Outcome<Creating>, Error> {
        Box::pin(self.wait_created(step, p, first, CreatedAt::at(step.now()))).await
    }

    /// A domain made by a duplicate delivery, seconds old: nobody's data is in it.
    async fn delete_duplicate(&self, domain_id: &str) -> Result<(), Error> {
        let retention = RetentionPolicy::builder().home_efs_file_system(RetentionType::Delete).build();
        match self.sagemaker.delete_domain().domain_id(domain_id).retention_policy(retention).send().await.aws("DeleteDomain") {
            Ok(_) => Ok(()),
            Err(e) if e.is(Kind::NotFound) => Ok(()),
            // Being deleted already (an earlier attempt of this step): what was asked.
            Err(e) if e.is(Kind::InUse) && describe::domain(&self.sagemaker, domain_id).await?.is_none_or(|d| d.status() == Some(&DomainStatus::Deleting)) => {
                Ok(())
            }
            Err(e) => Err(Error::from(e).for_resource(domain_id)),
        }
    }

    /// A Failed domain still counts against the account's domain quota: delete it (with its
    /// home EFS, which never held user data) and report the failure.
    async fn discard_failed(&self, domain_id: &str, domain: &DescribeDomainOutput) -> Error {
        let failure = format!("domain {domain_id} failed to create{}", reason(domain));
        let retention = RetentionPolicy::builder().home_efs_file_system(RetentionType::Delete).build();
        let cleanup = match self.sagemaker.delete_domain().domain_id(domain_id).retention_policy(retention).send().await.aws("DeleteDomain") {
            Ok(_) => "; the failed domain is being deleted so that it does not count against the domain quota".to_string(),
            Err(e) if e.is(Kind::NotFound) => String::new(),
            Err(e) => {
                warn!(error = %e, "could not delete the failed domain");
                format!("; deleting the failed domain failed too ({e}): the stack's Delete will retry")
            }
        };
        Error::new(failure + &cleanup).for_resource(domain_id)
    }

    async fn start_update(&self, step: &Step, domain_id: &str, p: &Properties, old: Option<&Properties>) -> Result<Outcome<UpdateProgress>, Error> {
        // A domain is adopted by a Create; the resource stays the domain it created or adopted.
        if let Some(existing) = p.existing_domain_id.as_deref().filter(|existing| *existing != domain_id) {
            return Err(PropertyError::new(
                "ExistingDomainId",
                format!(
                    "this resource is domain {domain_id}; a domain is adopted only when a resource is created, so {existing} cannot be \
                     adopted by an update: set ExistingDomainId back to {domain_id}, or adopt {existing} with a new resource (a new logical id)"
                ),
            )
            .into());
        }
        // A change the old template shows needs a new domain: refused before any call.
        if let Some(old) = old
            && !p.allow_replacement
        {
            let replaced = p.replaced_members(&old.identity());
            if !replaced.is_empty() {
                return Err(Error::new(replacement_refused(domain_id, &replaced)));
            }
        }
        let Some(domain) = describe::domain(&self.sagemaker, domain_id).await? else {
            return Err(Error::new(format!("domain {domain_id} no longer exists: it cannot be updated")));
        };
        let current = old.map(Properties::identity).unwrap_or_else(|| identity(&domain));
        let replaced = p.replaced_members(&current);
        if !replaced.is_empty() {
            if !p.allow_replacement {
                return Err(Error::new(replacement_refused(domain_id, &replaced)));
            }
            // Both domains exist until CloudFormation's cleanup: SageMaker may refuse the name as taken.
            let live_name = domain.domain_name().unwrap_or(&current.domain_name);
            if p.domain_name.eq_ignore_ascii_case(live_name) || p.domain_name.eq_ignore_ascii_case(&current.domain_name) {
                return Err(PropertyError::new("DomainName", same_name_replacement(domain_id, &replaced, live_name)).into());
            }
            info!(members = ?replaced, "replacing the domain: AllowReplacement is true");
            // CloudFormation deletes the old domain in its cleanup, once the new one is reported.
            return self.start_create(step, p).await.map(|o| o.map_progress(UpdateProgress::Replacing)).map_err(|e| replacement_failed(e, domain_id));
        }
        if matches!(domain.status(), Some(DomainStatus::Pending | DomainStatus::Updating | DomainStatus::Deleting)) {
            let status = domain.status().map(|s| s.as_str()).unwrap_or_default();
            return Ok(Pending::new(UpdateProgress::WaitingToUpdate, format!("domain {domain_id} to finish the operation in progress ({status})")).into());
        }
        let arn = domain.domain_arn().unwrap_or_default();
        let current_tags = tags::list(&self.sagemaker, arn).await?;
        Owner::from(step.request()).guard(&current_tags, format!("domain {domain_id}")).map_err(|e| Error::new(e.on_update()))?;
        let head = format!("updated domain {domain_id}");
        Ok(match self.apply_template(&domain, &current_tags, p, old, head, p.delete_options_record()).await? {
            Applied::Done(summary) => done(domain_id, &domain).reason(summary).into(),
            Applied::Updating(summary) => Pending::new(UpdateProgress::Updating { summary }, format!("domain {domain_id} to finish updating")).into(),
        })
    }

    /// Brings the live `domain` (this resource's, carrying `current_tags`) to the template `p`:
    /// Identity Center assignments, tags, and UpdateDomain with what the domain lacks (not what
    /// the template changed: a rollback to what the domain already is sends nothing, so SageMaker
    /// cannot refuse it). `old`: the previous template, None when unknown (an adoption).
    /// `delete_options`: the record to write when all is done (see [`Self::record_template`]).
    async fn apply_template(
        &self,
        domain: &DescribeDomainOutput,
        current_tags: &[(String, String)],
        p: &Properties,
        old: Option<&Properties>,
        head: String,
        delete_options: (String, String),
    ) -> Result<Applied, Error> {
        let domain_id = domain.domain_id().unwrap_or_default();
        let mut changes = Changes::between(p, old, domain)?;
        // Only an UpdateDomain brings an Update_Failed domain back to InService: with nothing to
        // change, DefaultUserSettings are sent as they are (a no-op never refused while apps run).
        if changes.is_empty() && domain.status() == Some(&DomainStatus::UpdateFailed) {
            info!("domain is Update_Failed: UpdateDomain with its DefaultUserSettings unchanged, to bring it back to InService");
            changes.default_user_settings = Some(p.default_user_settings.0.clone());
        }
        self.refuse_while_apps_run(domain_id, &changes.refused_while_apps_run()).await?;
        let mut summary = Summary::new(head).changed(&changes.changed);
        let principals = sso::NameChanges::between(p, old);
        if !principals.is_empty() {
            let mut record = Record::from_tags(current_tags);
            let assigned = sso::apply(&self.identity_center, sso_application(domain)?, &principals, &mut record).await?;
            self.write_record(domain, current_tags, &record).await?;
            let named = |users: &[&str], groups: &[&str]| {
                users.iter().map(|u| format!("user {u}")).chain(groups.iter().map(|g| format!("group {g}"))).collect::<Vec<_>>()
            };
            summary = summary
                .section("assignments added", named(&principals.added_users, &principals.added_groups))
                .section("assignments removed", named(&principals.removed_users, &principals.removed_groups))
                .note(assigned);
        }
        // Tags change in place; only tags the old template had are removed.
        let old_tags = old.and_then(|old| old.tag_pairs().ok()).unwrap_or_default();
        let (add, remove) = tags::changes(current_tags, &p.tag_pairs()?, &old_tags);
        summary = summary.tags(&add, &remove);
        tags::apply(&self.sagemaker, domain.domain_arn().unwrap_or_default(), add, remove).await?;
        if changes.is_empty() {
            info!("the domain already has every setting of the template: UpdateDomain not needed");
            self.record_template(domain, current_tags, p, delete_options).await?;
            return Ok(Applied::Done(summary.render()));
        }
        info!(members = ?changes.members(), "UpdateDomain");
        update_domain_request(&self.sagemaker, domain_id, changes).send().await.aws("UpdateDomain")?;
        Ok(Applied::Updating(summary.render()))
    }

    /// The end of every successful Update: the domain records what this template says a Delete
    /// may do and which stacks may put children into it (reserved tags, only those that change).
    /// `options`: the delete-options record, the template's ([`Properties::delete_options_record`])
    /// except at an adoption.
    async fn record_template(
        &self,
        domain: &DescribeDomainOutput,
        current: &[(String, String)],
        p: &Properties,
        options: (String, String),
    ) -> Result<(), Error> {
        let value = |key: &str| current.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let mut add = Vec::new();
        let mut remove = Vec::new();
        if value(&options.0) != Some(options.1.as_str()) {
            add.push(options);
        }
        match p.allowed_child_stacks_record()? {
            Some((key, patterns)) if value(&key) != Some(patterns.as_str()) => add.push((key, patterns)),
            None if value(child_stacks::TAG).is_some() => remove.push(child_stacks::TAG.to_string()),
            _ => {}
        }
        tags::apply(&self.sagemaker, domain.domain_arn().unwrap_or_default(), add, remove).await?;
        Ok(())
    }

    /// SageMaker refuses `refused` (changes, see [`Changes::refused_while_apps_run`]) while apps
    /// run: fail before anything changes, naming the apps to delete first.
    async fn refuse_while_apps_run(&self, domain_id: &str, refused: &[String]) -> Result<(), Error> {
        if refused.is_empty() {
            return Ok(());
        }
        let apps = describe::apps(&self.sagemaker, domain_id, None).await?;
        let running: Vec<String> = apps.iter().filter(|a| !matches!(a.status(), Some(AppStatus::Deleted | AppStatus::Failed))).map(app_label).collect();
        if running.is_empty() {
            return Ok(());
        }
        // The Reason must fit CloudFormation's 4 KB response.
        const SHOWN: usize = 10;
        let more = match running.len().checked_sub(SHOWN) {
            Some(more) if more > 0 => format!(" and {more} more"),
            _ => String::new(),
        };
        Err(Error::new(format!(
            "SageMaker refuses to change {} of domain {domain_id} while apps run: {}{more}. Nothing was changed; \
             delete these apps first (or wait until they are deleted), then update again.",
            refused.join(", "),
            running.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", "),
        )))
    }

    /// After UpdateDomain: InService -> the template recorded, SUCCESS with `summary`.
    async fn wait_updated(&self, step: &Step, domain_id: &str, p: &Properties, summary: String) -> Result<Outcome<UpdateProgress>, Error> {
        let Some(domain) = describe::domain(&self.sagemaker, domain_id).await? else {
            return Err(Error::new(format!("domain {domain_id} disappeared while being updated")));
        };
        match domain.status() {
            Some(DomainStatus::InService) => {
                // Progress is a hint: the record is written only on this stack resource's domain.
                let current = tags::list(&self.sagemaker, domain.domain_arn().unwrap_or_default()).await?;
                Owner::from(step.request()).guard(&current, format!("domain {domain_id}")).map_err(|e| Error::new(e.on_update()))?;
                self.record_template(&domain, &current, p, p.delete_options_record()).await?;
                Ok(done(domain_id, &domain).reason(summary).into())
            }
            Some(DomainStatus::Updating) => Ok(Pending::new(UpdateProgress::Updating { summary }, format!("domain {domain_id} to finish updating")).into()),
            Some(DomainStatus::UpdateFailed) => Err(Error::new(format!("updating domain {domain_id} failed{}", reason(&domain)))),
            status => Err(Error::new(format!(
                "domain {domain_id} is {} instead of finishing its update{}",
                status.map(|s| s.as_str()).unwrap_or("without a status"),
                reason(&domain)
            ))),
        }
    }
}

impl CustomResource for StudioDomain {
    type Properties = Properties;
    type CreateProgress = CreateProgress;
    type UpdateProgress = UpdateProgress;
    type DeleteProgress = DeleteProgress;

    fn recognizes(&self, physical_id: &str) -> bool {
        is_domain_id(physical_id)
    }

    async fn create(&self, step: &Step, properties: &Properties, progress: Option<CreateProgress>) -> Result<Outcome<CreateProgress>, Error> {
        match progress {
            None => {
                properties.validate()?;
                match &properties.existing_domain_id {
                    Some(existing) => self.start_adopt(step, properties, existing).await,
                    None => Ok(self.start_create(step, properties).await?.map_progress(CreateProgress::Creating)),
                }
            }
            Some(CreateProgress::Creating(Creating { domain_id, created_at })) => {
                Ok(self.wait_created(step, properties, &domain_id, created_at).await?.map_progress(CreateProgress::Creating))
            }
            Some(CreateProgress::Adopting { domain_id, summary }) => self.wait_adopted(step, properties, &domain_id, summary).await,
        }
    }

    async fn update(&self, step: &Step, change: Change<'_, Properties>, progress: Option<UpdateProgress>) -> Result<Outcome<UpdateProgress>, Error> {
        let Change { physical_id, properties, old } = change;
        match progress {
            None | Some(UpdateProgress::WaitingToUpdate) => {
                properties.validate()?;
                self.start_update(step, physical_id, properties, old).await
            }
            Some(UpdateProgress::Replacing(Creating { domain_id, created_at })) => self
                .wait_created(step, properties, &domain_id, created_at)
                .await
                .map(|o| o.map_progress(UpdateProgress::Replacing))
                .map_err(|e| replacement_failed(e, physical_id)),
            Some(UpdateProgress::Updating { summary }) => self.wait_updated(step, physical_id, properties, summary).await,
        }
    }

    async fn delete(
        &self,
        step: &Step,
        physical_id: &str,
        properties: &Properties,
        progress: Option<DeleteProgress>,
    ) -> Result<Outcome<DeleteProgress>, Error> {
        Deletion { sagemaker: &self.sagemaker, nfs: &self.nfs, domain_id: physical_id, properties }.step(step, progress).await
    }
}

/// SUCCESS with the attributes Fn::GetAtt reads (the AWS::SageMaker::Domain ones).
fn done(domain_id: &str, domain: &DescribeDomainOutput) -> Done {
    let done = Done::new(domain_id)
        .with("DomainId", domain_id)
        .with("DomainArn", domain.domain_arn().unwrap_or_default())
        .with("Url", domain.url().unwrap_or_default())
        .with("SecurityGroupIdForDomainBoundary", domain.security_group_id_for_domain_boundary().unwrap_or_default());
    // HomeEfsFileSystemCreation Disabled: no home EFS, no attribute (GetAtt fails rather than read "").
    let done = match domain.home_efs_file_system_id().filter(|id| !id.is_empty()) {
        Some(efs) => done.with("HomeEfsFileSystemId", efs),
        None => done,
    };
    if domain.auth_mode() == Some(&AuthMode::Sso) {
        done.with("SingleSignOnApplicationArn", domain.single_sign_on_application_arn().unwrap_or_default())
            .with("SingleSignOnManagedApplicationInstanceId", domain.single_sign_on_managed_application_instance_id().unwrap_or_default())
    } else {
        done
    }
}

/// The IAM Identity Center application SageMaker made for an SSO domain.
fn sso_application(domain: &DescribeDomainOutput) -> Result<&str, Error> {
    domain.single_sign_on_application_arn().ok_or_else(|| {
        let id = domain.domain_id().unwrap_or_default();
        Error::new(format!("domain {id} reports no SingleSignOnApplicationArn: SingleSignOnUsers / SingleSignOnGroups need an SSO domain's application"))
    })
}

/// "app JupyterLab/default of space team is InService"
fn app_label(app: &AppDetails) -> String {
    let owner = match (app.space_name(), app.user_profile_name()) {
        (Some(space), _) => format!(" of space {space}"),
        (None, Some(profile)) => format!(" of profile {profile}"),
        (None, None) => String::new(),
    };
    let (app_type, name) = (app.app_type().map(|t| t.as_str()).unwrap_or("?"), app.app_name().unwrap_or("?"));
    format!("app {app_type}/{name}{owner} is {}", app.status().map(|s| s.as_str()).unwrap_or("in an unknown status"))
}

/// The domain's identifying members as SageMaker reports them (when the old properties are unknown).
fn identity(domain: &DescribeDomainOutput) -> Identity {
    Identity {
        domain_name: domain.domain_name().unwrap_or_default().to_string(),
        auth_mode: domain.auth_mode().map(|m| m.as_str().to_string()).unwrap_or_default(),
        vpc_id: domain.vpc_id().unwrap_or_default().to_string(),
        kms_key_id: domain.kms_key_id().map(str::to_string),
        home_efs_enabled: settings::home_efs_enabled(domain),
    }
}

/// The tags a new domain is created with: the template's, the ownership tags, and the records
/// of its delete options and AllowedChildStacks (as a completed Create leaves them).
fn creation_tags(step: &Step, p: &Properties) -> Result<Vec<Tag>, PropertyError> {
    let mut tags = p.tag_pairs()?;
    tags.push(p.delete_options_record());
    tags.extend(p.allowed_child_stacks_record()?);
    Ok(Owner::from(step.request()).creation_tags(&tags))
}

/// CreateDomain as the template asks it (every member of the API forwarded; see the members test).
pub(crate) fn create_domain_request(sagemaker: &Client, p: &Properties, tags: Vec<Tag>) -> CreateDomainFluentBuilder {
    sagemaker
        .create_domain()
        .domain_name(&p.domain_name)
        .auth_mode(AuthMode::from(p.auth_mode.as_str()))
        .default_user_settings(p.default_user_settings.0.clone())
        .set_subnet_ids(Some(p.subnet_ids.clone()))
        .vpc_id(&p.vpc_id)
        .set_app_network_access_type(p.app_network_access_type.as_deref().map(AppNetworkAccessType::from))
        .set_app_security_group_management(p.app_security_group_management.as_deref().map(AppSecurityGroupManagement::from))
        .set_default_space_settings(p.default_space_settings.as_ref().map(|s| s.0.clone()))
        .set_domain_settings(p.domain_settings.as_ref().map(|s| s.0.clone()))
        .set_kms_key_id(p.kms_key_id.clone())
        .set_tag_propagation(p.tag_propagation.as_deref().map(TagPropagation::from))
        .set_home_efs_file_system_creation(p.home_efs_file_system_creation.as_deref().map(HomeEfsFileSystemCreation::from))
        .set_tags(Some(tags))
}

/// UpdateDomain carrying `changes` (what the live domain lacks).
pub(crate) fn update_domain_request(sagemaker: &Client, domain_id: &str, changes: Changes) -> UpdateDomainFluentBuilder {
    sagemaker
        .update_domain()
        .domain_id(domain_id)
        .set_default_user_settings(changes.default_user_settings)
        .set_default_space_settings(changes.default_space_settings)
        .set_domain_settings_for_update(changes.domain_settings_for_update)
        .set_subnet_ids(changes.subnet_ids)
        .set_vpc_id(changes.vpc_id)
        .set_app_network_access_type(changes.app_network_access_type)
        .set_app_security_group_management(changes.app_security_group_management)
        .set_tag_propagation(changes.tag_propagation)
        .set_home_efs_file_system_creation(changes.home_efs_file_system_creation)
}

fn replacement_refused(domain_id: &str, members: &[&str]) -> String {
    format!(
        "changing {} needs a new domain: SageMaker cannot change {} on an existing one. A new domain would be created with a new, \
         empty home EFS file system, and domain {domain_id} with every user's home directory would be deleted afterwards \
         (its home EFS kept or deleted as its RetentionPolicy says). To allow this, set AllowReplacement: true; \
         otherwise change {} back.",
        members.join(", "),
        if members.len() == 1 { "it" } else { "them" },
        if members.len() == 1 { "it" } else { "them" },
    )
}

fn same_name_replacement(domain_id: &str, members: &[&str], name: &str) -> String {
    format!(
        "changing {} replaces domain {domain_id}, and the new domain needs a new DomainName: both exist until CloudFormation \
         deletes the old one, so SageMaker may refuse {name:?} as taken (and the account's domain quota must allow both for a \
         while). Nothing was created; set a new DomainName.",
        members.join(", "),
    )
}

/// The domains of one name (see [`StudioDomain::named`]).
#[derive(Debug, Default)]
struct Named {
    /// Made by this request, first-created first.
    made: Vec<String>,
    others: Vec<String>,
}

/// A replacement that failed leaves the old domain as it was; say so.
fn replacement_failed(error: Error, old_domain_id: &str) -> Error {
    let reason = format!("replacing domain {old_domain_id} failed (it is unchanged): {}", error.reason);
    Error { reason, ..error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::operation::create_domain::CreateDomainInput;
    use aws_sdk_sagemaker::operation::update_domain::UpdateDomainInput;
    use serde_json::json;
    use studio::api::{not_accepted, sent_members, uncovered_members};

    /// A client that is never sent anything: the builders only show what would be sent.
    fn offline() -> Client {
        let config = aws_sdk_sagemaker::Config::builder().behavior_version_latest().region(aws_sdk_sagemaker::config::Region::new("us-east-1")).build();
        Client::from_conf(config)
    }

    /// A template that sets every property (`vpc_only`: the network's settings of a VpcOnly domain).
    fn every_property(vpc_only: bool, efs: &str, role: &str) -> Properties {
        let value = json!({
            "DomainName": "research", "AuthMode": "IAM", "VpcId": "vpc-0a", "SubnetIds": if vpc_only { json!(["subnet-0a", "subnet-0b"]) } else { json!(["subnet-0a"]) },
            "AppNetworkAccessType": if vpc_only { "VpcOnly" } else { "PublicInternetOnly" },
            "AppSecurityGroupManagement": if vpc_only { "Customer" } else { "Service" },
            "DefaultUserSettings": {"ExecutionRole": role, "SecurityGroups": ["sg-0a"]},
            "DefaultSpaceSettings": {"ExecutionRole": role},
            "DomainSettings": {"SecurityGroupIds": [if vpc_only { "sg-0b" } else { "sg-0c" }]},
            "KmsKeyId": "alias/studio", "TagPropagation": if vpc_only { "ENABLED" } else { "DISABLED" },
            "HomeEfsFileSystemCreation": efs,
            "Tags": [{"Key": "team", "Value": "ml"}],
            "RetentionPolicy": {"HomeEfsFileSystem": "Delete"}, "ForceDelete": true, "AllowReplacement": true,
            "DeleteNfsSecurityGroups": false, "AllowedChildStacks": ["team-*"]
        });
        let p: Properties = custom_resource::properties::parse(value.as_object().unwrap()).unwrap();
        p.validate().unwrap();
        p
    }

    /// What `sent` carries (by its schema), checked against the operation's input schema.
    fn check(operation: &str, schema: &aws_smithy_schema::Schema<'_>, sent: &dyn aws_smithy_schema::serde::SerializableStruct) {
        let problems = uncovered_members(schema, &sent_members(sent).unwrap(), &not_accepted(operation));
        assert!(
            problems.is_empty(),
            "{operation}: every member must be a property that is sent, or listed in studio::api::NOT_ACCEPTED with why:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn every_member_of_create_domain_is_a_property_that_is_sent_or_listed() {
        let p = every_property(true, "Disabled", "arn:aws:iam::123456789012:role/a");
        let tags = vec![Tag::builder().key("team").value("ml").build()];
        let input: CreateDomainInput = create_domain_request(&offline(), &p, tags).as_input().clone().build().unwrap();
        check("CreateDomain", CreateDomainInput::SCHEMA, &input);
    }

    #[test]
    fn every_member_of_update_domain_is_a_property_that_is_sent_or_listed() {
        // The live domain differs from the template in every member UpdateDomain has.
        let old = every_property(false, "Disabled", "arn:aws:iam::123456789012:role/a");
        let live = DescribeDomainOutput::builder()
            .domain_id("d-abc123")
            .vpc_id(&old.vpc_id)
            .set_subnet_ids(Some(old.subnet_ids.clone()))
            .app_network_access_type(AppNetworkAccessType::PublicInternetOnly)
            .app_security_group_management(AppSecurityGroupManagement::Service)
            .tag_propagation(TagPropagation::Disabled)
            .home_efs_file_system_creation(HomeEfsFileSystemCreation::Disabled)
            .default_user_settings(old.default_user_settings.0.clone())
            .set_default_space_settings(old.default_space_settings.as_ref().map(|s| s.0.clone()))
            .set_domain_settings(old.domain_settings.as_ref().map(|s| s.0.clone()))
            .build();
        let new = every_property(true, "Enabled", "arn:aws:iam::123456789012:role/b");
        let changes = Changes::between(&new, Some(&old), &live).unwrap();
        let input: UpdateDomainInput = update_domain_request(&offline(), "d-abc123", changes).as_input().clone().build().unwrap();
        check("UpdateDomain", UpdateDomainInput::SCHEMA, &input);
    }

    #[test]
    fn data_names_no_home_efs_when_there_is_none() {
        let without = DescribeDomainOutput::builder().domain_arn("arn:aws:sagemaker:us-east-1:123456789012:domain/d-abc123").build();
        assert!(!done("d-abc123", &without).data.contains_key("HomeEfsFileSystemId"));
        let with = DescribeDomainOutput::builder().home_efs_file_system_id("fs-0a").build();
        assert_eq!(done("d-abc123", &with).data["HomeEfsFileSystemId"], "fs-0a");
    }

    #[test]
    fn a_change_needing_a_new_domain_is_named() {
        let old = every_property(true, "Enabled", "arn:aws:iam::123456789012:role/a");
        let mut new = every_property(true, "Disabled", "arn:aws:iam::123456789012:role/a");
        assert_eq!(new.replaced_members(&old.identity()), ["HomeEfsFileSystemCreation"]);
        assert!(old.replaced_members(&new.identity()).is_empty(), "Disabled -> Enabled is an update");
        new.allow_replacement = false;
        let reason = replacement_refused("d-abc123", &new.replaced_members(&old.identity()));
        assert!(reason.starts_with("changing HomeEfsFileSystemCreation needs a new domain") && reason.contains("AllowReplacement: true"), "{reason}");
    }
}
