//! The studio-domain resource: create and update (delete is in [`crate::teardown`]).

use crate::properties::{Identity, Properties};
use crate::settings::Changes;
use crate::sso;
use crate::teardown::{DeleteProgress, Deletion, reason};
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::types::{
    AppDetails, AppNetworkAccessType, AppSecurityGroupManagement, AppStatus, AuthMode, DomainStatus, RetentionPolicy, RetentionType, TagPropagation,
};
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, PropertyError, Retry, Step};
use serde::{Deserialize, Serialize};
use studio::names::is_domain_id;
use studio::nfs_security_groups::NfsSecurityGroups;
use studio::visibility::{CreatedAt, never_became_visible, not_visible_yet};
use studio::{AwsError, AwsResult, Kind, Owner, describe, tags};
use tracing::{info, warn};

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

/// Where a pending Update resumes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UpdateProgress {
    /// A replacing domain is on its way to InService.
    Replacing(Creating),
    /// The domain is busy with another operation; the update starts when it ends.
    WaitingToUpdate,
    /// UpdateDomain was called; waiting for InService.
    Updating,
}

impl StudioDomain {
    pub fn new(clients: &studio::Clients, nfs: NfsSecurityGroups) -> Self {
        Self { sagemaker: clients.sagemaker.clone(), identity_center: clients.identity_center.clone(), nfs }
    }

    /// The domains named `domain_name`: those this very request created (Lambda delivered the
    /// event twice, perhaps at the same moment, or an earlier attempt timed out after
    /// CreateDomain), first-created first, and the ids of the others.
    async fn named(&self, step: &Step, domain_name: &str) -> Result<Named, AwsError> {
        let mut named = Named::default();
        let mut made = Vec::new();
        for domain in describe::domains(&self.sagemaker).await?.iter().filter(|d| d.domain_name() == Some(domain_name)) {
            let (Some(id), Some(arn)) = (domain.domain_id(), domain.domain_arn()) else { continue };
            let tags = match tags::list(&self.sagemaker, arn).await {
                Ok(tags) => tags,
                // Listed but not yet (or no longer) answering: not one to settle on.
                Err(e) if e.is(Kind::NotFound) => continue,
                Err(e) => return Err(e),
            };
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
            Some(id) => self.wait_created(step, p, &id, CreatedAt::at(step.now())).await,
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
        let tags = Owner::from(step.request()).creation_tags(&p.tag_pairs()?);
        let created = self
            .sagemaker
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
            .set_tags(Some(tags))
            .send()
            .await
            .aws("CreateDomain");
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
            let what = format!("domain {domain_id}");
            if created_at.may_be_invisible(step) {
                return Ok(pending(not_visible_yet(&what)));
            }
            return Err(Error::new(never_became_visible(&what, step)));
        };
        match domain.status() {
            Some(DomainStatus::InService) => {
                // Two deliveries at the same moment may each have made a domain: all settle on the first.
                if let Some(first) = self.named(step, &p.domain_name).await?.made.first().filter(|first| *first != domain_id) {
                    info!(DomainId = domain_id, kept = %first, "another delivery of this request made a domain first: deleting this one");
                    self.delete_duplicate(domain_id).await?;
                    return self.look_at_created_first(step, p, first).await;
                }
                if !sso::names_any(p) {
                    return Ok(done(domain_id, &domain).into());
                }
                let application = sso_application(&domain)?;
                let assigned = sso::assign_all(&self.identity_center, application, p).await?;
                Ok(done(domain_id, &domain).reason(assigned).into())
            }
            Some(DomainStatus::Pending) => Ok(pending(format!("domain {domain_id} to become InService"))),
            Some(DomainStatus::Failed) => Err(self.discard_failed(domain_id, &domain).await),
            status => Err(Error::new(format!(
                "domain {domain_id} is {} instead of becoming InService{}",
                status.map(|s| s.as_str()).unwrap_or("without a status"),
                reason(&domain)
            ))
            .for_resource(domain_id)),
        }
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
        // What the domain lacks, not what the template changed: a rollback to what the domain
        // already is sends nothing, so SageMaker cannot refuse it.
        let mut changes = Changes::between(p, old, &domain)?;
        // Only an UpdateDomain brings an Update_Failed domain back to InService: with nothing to
        // change, DefaultUserSettings are sent as they are (a no-op never refused while apps run).
        if changes.is_empty() && domain.status() == Some(&DomainStatus::UpdateFailed) {
            info!("domain is Update_Failed: UpdateDomain with its DefaultUserSettings unchanged, to bring it back to InService");
            changes.default_user_settings = Some(p.default_user_settings.0.clone());
        }
        self.refuse_while_apps_run(domain_id, &changes.refused_while_apps_run()).await?;
        let principals = sso::NameChanges::between(p, old);
        let assigned = match principals.is_empty() {
            true => None,
            false => Some(sso::apply(&self.identity_center, sso_application(&domain)?, &principals).await?),
        };
        // Tags change in place; only tags the old template had are removed.
        let old_tags = old.and_then(|old| old.tag_pairs().ok()).unwrap_or_default();
        tags::sync(&self.sagemaker, arn, &p.tag_pairs()?, &old_tags).await?;
        if changes.is_empty() {
            info!("the domain already has every setting of the template: UpdateDomain not needed");
            let done = done(domain_id, &domain);
            return Ok(match assigned {
                Some(assigned) => done.reason(assigned),
                None => done,
            }
            .into());
        }
        info!(members = ?changes.members(), "UpdateDomain");
        self.sagemaker
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
            .send()
            .await
            .aws("UpdateDomain")?;
        Ok(Pending::new(UpdateProgress::Updating, format!("domain {domain_id} to finish updating")).into())
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

    async fn wait_updated(&self, domain_id: &str) -> Result<Outcome<UpdateProgress>, Error> {
        let Some(domain) = describe::domain(&self.sagemaker, domain_id).await? else {
            return Err(Error::new(format!("domain {domain_id} disappeared while being updated")));
        };
        match domain.status() {
            Some(DomainStatus::InService) => Ok(done(domain_id, &domain).into()),
            Some(DomainStatus::Updating) => Ok(Pending::new(UpdateProgress::Updating, format!("domain {domain_id} to finish updating")).into()),
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
    type CreateProgress = Creating;
    type UpdateProgress = UpdateProgress;
    type DeleteProgress = DeleteProgress;

    fn recognizes(&self, physical_id: &str) -> bool {
        is_domain_id(physical_id)
    }

    async fn create(&self, step: &Step, properties: &Properties, progress: Option<Creating>) -> Result<Outcome<Creating>, Error> {
        match progress {
            None => {
                properties.validate()?;
                self.start_create(step, properties).await
            }
            Some(Creating { domain_id, created_at }) => self.wait_created(step, properties, &domain_id, created_at).await,
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
            Some(UpdateProgress::Updating) => self.wait_updated(physical_id).await,
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
        .with("HomeEfsFileSystemId", domain.home_efs_file_system_id().unwrap_or_default())
        .with("SecurityGroupIdForDomainBoundary", domain.security_group_id_for_domain_boundary().unwrap_or_default());
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
    }
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
