//! Delete: apps, then (with ForceDelete) spaces and user profiles, then the domain.
//!
//! Each step looks at the domain afresh and does what is left, so a repeated delivery or a
//! continuation simply carries on. App deletion can take many minutes: the steps return
//! Pending and the core keeps polling (across invocations when needed).

use crate::domain::{Progress, StudioDomain, reason};
use crate::properties::{HomeEfsFileSystem, Properties};
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::types::{AppDetails, AppStatus, DomainStatus, RetentionPolicy, RetentionType};
use futures::StreamExt;
use shared::aws::error_code;
use shared::{Done, Error, Outcome, Pending, Request, ownership};
use std::future::Future;
use tracing::{info, warn};

/// How many delete calls run at once: fast on big domains without provoking throttling.
const CONCURRENT_DELETES: usize = 8;
/// Characters of names a FAILED Reason may list per kind (the whole response is limited to 4 KB).
const NAMES_BUDGET: usize = 700;

/// A DeleteApp or DescribeApp request for `app` (the two builders are distinct types).
macro_rules! naming_the_app {
    ($request:expr, $domain_id:expr, $app:expr) => {
        $request
            .domain_id($domain_id)
            .set_user_profile_name($app.user_profile_name().map(str::to_string))
            .set_space_name($app.space_name().map(str::to_string))
            .set_app_type($app.app_type().cloned())
            .set_app_name($app.app_name().map(str::to_string))
    };
}

/// The children of a domain that hold users' data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Space,
    UserProfile,
}

/// What became of one delete call.
enum Deletion {
    Started,
    /// Something still uses it (an app started meanwhile): the apps go first.
    InUse,
}

impl StudioDomain {
    pub(crate) async fn delete_step(&self, request: &Request, domain_id: &str, p: &Properties, progress: Option<Progress>) -> Result<Outcome<Progress>, Error> {
        match progress {
            None => self.begin_delete(request, domain_id, p).await,
            Some(Progress::DeletingApps) => self.delete_apps(domain_id, p).await,
            Some(Progress::DeletingSpaces { requested }) => self.force_delete(Kind::Space, domain_id, p, requested).await,
            Some(Progress::DeletingUserProfiles { requested }) => self.force_delete(Kind::UserProfile, domain_id, p, requested).await,
            Some(Progress::DeletingDomain { requested, home_efs_file_system_id }) => self.delete_domain(domain_id, p, requested, home_efs_file_system_id).await,
            Some(other) => Err(Error::new(format!("internal error: a Delete cannot resume from {other:?}"))),
        }
    }

    async fn begin_delete(&self, request: &Request, domain_id: &str, p: &Properties) -> Result<Outcome<Progress>, Error> {
        let Some(domain) = self.describe(domain_id).await? else {
            return Ok(Done::new(domain_id).reason(format!("domain {domain_id} does not exist (any more): nothing to delete")).into());
        };
        let tags = self.list_tags(domain.domain_arn().unwrap_or_default()).await?;
        if !ownership::owned_by(&tags, request) {
            warn!(DomainId = domain_id, "the domain's ownership tags do not name this stack and logical id: leaving it untouched");
            return Ok(Done::new(domain_id)
                .reason(format!(
                    "domain {domain_id} left untouched: it is not ours (its {} and {} tags do not name this stack and {})",
                    ownership::STACK_ID,
                    ownership::LOGICAL_ID,
                    request.logical_resource_id
                ))
                .into());
        }
        if domain.status() == Some(&DomainStatus::Deleting) {
            return self.delete_domain(domain_id, p, true, domain.home_efs_file_system_id().map(str::to_string)).await;
        }
        // Fail before stopping anyone's apps when the delete cannot go through anyway.
        if !p.force_delete {
            self.refuse_if_occupied(domain_id).await?;
        }
        self.delete_apps(domain_id, p).await
    }

    /// Without ForceDelete, spaces and user profiles are users' data: FAILED, listing them.
    async fn refuse_if_occupied(&self, domain_id: &str) -> Result<(), Error> {
        let remaining = |children: Vec<(String, String)>| -> Vec<String> {
            children.into_iter().filter(|(_, status)| status != "Deleting").map(|(name, _)| name).collect()
        };
        let spaces = remaining(self.list_children(Kind::Space, domain_id).await?);
        let profiles = remaining(self.list_children(Kind::UserProfile, domain_id).await?);
        if spaces.is_empty() && profiles.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = [(Kind::Space, &spaces), (Kind::UserProfile, &profiles)]
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(kind, names)| format!("{} ({})", count(names.len(), kind.noun()), list_names(names, NAMES_BUDGET)))
            .collect();
        Err(Error::new(format!(
            "domain {domain_id} still has {}. Spaces hold users' EBS volumes and user profiles their home directories, so they are \
             not deleted unless ForceDelete is true: delete them first, or set ForceDelete: true to delete them with the domain.",
            listed.join(" and ")
        )))
    }

    /// Deletes every app that runs (of user profiles and of spaces); done when none is left
    /// but Deleted and Failed ones.
    async fn delete_apps(&self, domain_id: &str, p: &Properties) -> Result<Outcome<Progress>, Error> {
        let apps: Vec<AppDetails> = self
            .sagemaker
            .list_apps()
            .domain_id_equals(domain_id)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("ListApps", &e))?;
        let active: Vec<AppDetails> = apps.into_iter().filter(|a| !matches!(a.status(), Some(AppStatus::Deleted | AppStatus::Failed))).collect();
        if active.is_empty() {
            return self.after_apps(domain_id, p).await;
        }
        // Pending apps cannot be deleted yet and Deleting ones are on their way: wait for both.
        let running: Vec<AppDetails> = active.iter().filter(|a| a.status() == Some(&AppStatus::InService)).cloned().collect();
        if !running.is_empty() {
            info!(count = running.len(), "DeleteApp");
        }
        bounded(running, |app| async move { self.delete_app(domain_id, &app).await }).await.into_iter().collect::<Result<Vec<()>, Error>>()?;
        Ok(Pending::new(Progress::DeletingApps, format!("{} of domain {domain_id} to be deleted", count(active.len(), "app"))).into())
    }

    async fn delete_app(&self, domain_id: &str, app: &AppDetails) -> Result<(), Error> {
        let result = naming_the_app!(self.sagemaker.delete_app(), domain_id, app).send().await;
        match result {
            Ok(_) => Ok(()),
            // Gone, or busy with something else: the next look decides.
            Err(e) if matches!(error_code(&e), Some("ResourceNotFound" | "ResourceInUse")) => Ok(()),
            // "has already been deleted" / "previously failed": confirmed by its status, not the message.
            Err(e) if error_code(&e) == Some("ValidationException") => match self.app_status(domain_id, app).await? {
                None | Some(AppStatus::Deleted | AppStatus::Deleting | AppStatus::Failed) => Ok(()),
                Some(_) => Err(Error::aws("DeleteApp", &e)),
            },
            Err(e) => Err(Error::aws("DeleteApp", &e)),
        }
    }

    async fn app_status(&self, domain_id: &str, app: &AppDetails) -> Result<Option<AppStatus>, Error> {
        let result = naming_the_app!(self.sagemaker.describe_app(), domain_id, app).send().await;
        match result {
            Ok(described) => Ok(described.status().cloned()),
            Err(e) if error_code(&e) == Some("ResourceNotFound") => Ok(None),
            Err(e) => Err(Error::aws("DescribeApp", &e)),
        }
    }

    async fn after_apps(&self, domain_id: &str, p: &Properties) -> Result<Outcome<Progress>, Error> {
        if p.force_delete {
            return self.force_delete(Kind::Space, domain_id, p, Vec::new()).await;
        }
        // Someone may have added a space or user profile while the apps went.
        self.refuse_if_occupied(domain_id).await?;
        self.delete_domain(domain_id, p, false, None).await
    }

    /// ForceDelete: deletes the spaces, then the user profiles, then the domain, resuming at `kind`.
    async fn force_delete(&self, kind: Kind, domain_id: &str, p: &Properties, requested: Vec<String>) -> Result<Outcome<Progress>, Error> {
        let (spaces_requested, profiles_requested) = match kind {
            Kind::Space => (requested, Vec::new()),
            Kind::UserProfile => (Vec::new(), requested),
        };
        if kind == Kind::Space
            && let Some(pending) = self.delete_children(Kind::Space, domain_id, spaces_requested).await?
        {
            return Ok(pending);
        }
        if let Some(pending) = self.delete_children(Kind::UserProfile, domain_id, profiles_requested).await? {
            return Ok(pending);
        }
        self.delete_domain(domain_id, p, false, None).await
    }

    /// Deletes the spaces or user profiles of the domain; None once they are all gone.
    /// `requested` are those this delete asked for: a Delete_Failed among them fails the
    /// stack operation; an older Delete_Failed is retried.
    async fn delete_children(&self, kind: Kind, domain_id: &str, mut requested: Vec<String>) -> Result<Option<Outcome<Progress>>, Error> {
        let children = self.list_children(kind, domain_id).await?;
        if children.is_empty() {
            return Ok(None);
        }
        let mut deletable = Vec::new();
        for (name, status) in &children {
            match status.as_str() {
                "Pending" | "Updating" | "Deleting" => {}
                "Delete_Failed" if requested.contains(name) => {
                    let why = self.failure_reason(kind, domain_id, name).await?;
                    return Err(Error::new(format!("deleting {} {name} of domain {domain_id} failed{why}", kind.noun())));
                }
                _ => deletable.push(name.clone()),
            }
        }
        if !deletable.is_empty() {
            info!(count = deletable.len(), kind = kind.noun(), "deleting (ForceDelete)");
        }
        let outcomes = bounded(deletable.clone(), |name| self.delete_child(kind, domain_id, name)).await;
        for outcome in outcomes {
            if let Deletion::InUse = outcome? {
                // An app was started meanwhile: back to deleting apps, then here again.
                return Ok(Some(Pending::new(Progress::DeletingApps, format!("apps of domain {domain_id} to be deleted")).into()));
            }
        }
        requested.extend(deletable);
        let waiting_for = format!("{} of domain {domain_id} to be deleted", count(children.len(), kind.noun()));
        let progress = match kind {
            Kind::Space => Progress::DeletingSpaces { requested },
            Kind::UserProfile => Progress::DeletingUserProfiles { requested },
        };
        Ok(Some(Pending::new(progress, waiting_for).into()))
    }

    /// (name, status) of every space or user profile of the domain.
    async fn list_children(&self, kind: Kind, domain_id: &str) -> Result<Vec<(String, String)>, Error> {
        let status = |s: Option<&str>| s.unwrap_or_default().to_string();
        match kind {
            Kind::Space => {
                let spaces: Vec<_> = self
                    .sagemaker
                    .list_spaces()
                    .domain_id_equals(domain_id)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| Error::aws("ListSpaces", &e))?;
                Ok(spaces.iter().map(|s| (s.space_name().unwrap_or_default().to_string(), status(s.status().map(|s| s.as_str())))).collect())
            }
            Kind::UserProfile => {
                let profiles: Vec<_> = self
                    .sagemaker
                    .list_user_profiles()
                    .domain_id_equals(domain_id)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| Error::aws("ListUserProfiles", &e))?;
                Ok(profiles.iter().map(|p| (p.user_profile_name().unwrap_or_default().to_string(), status(p.status().map(|s| s.as_str())))).collect())
            }
        }
    }

    async fn delete_child(&self, kind: Kind, domain_id: &str, name: String) -> Result<Deletion, Error> {
        match kind {
            Kind::Space => deletion("DeleteSpace", self.sagemaker.delete_space().domain_id(domain_id).space_name(&name).send().await),
            Kind::UserProfile => deletion("DeleteUserProfile", self.sagemaker.delete_user_profile().domain_id(domain_id).user_profile_name(&name).send().await),
        }
    }

    async fn failure_reason(&self, kind: Kind, domain_id: &str, name: &str) -> Result<String, Error> {
        let reason = match kind {
            Kind::Space => self
                .sagemaker
                .describe_space()
                .domain_id(domain_id)
                .space_name(name)
                .send()
                .await
                .map(|s| s.failure_reason().map(str::to_string))
                .map_err(|e| Error::aws("DescribeSpace", &e))?,
            Kind::UserProfile => self
                .sagemaker
                .describe_user_profile()
                .domain_id(domain_id)
                .user_profile_name(name)
                .send()
                .await
                .map(|p| p.failure_reason().map(str::to_string))
                .map_err(|e| Error::aws("DescribeUserProfile", &e))?,
        };
        Ok(reason.map(|r| format!(": {r}")).unwrap_or_default())
    }

    /// DeleteDomain with the RetentionPolicy (once), then wait until the domain is gone.
    async fn delete_domain(
        &self,
        domain_id: &str,
        p: &Properties,
        requested: bool,
        home_efs_file_system_id: Option<String>,
    ) -> Result<Outcome<Progress>, Error> {
        let retention = p.retention_policy.home_efs_file_system;
        let Some(domain) = self.describe(domain_id).await? else {
            return Ok(Done::new(domain_id).reason(deleted(domain_id, retention, home_efs_file_system_id.as_deref())).into());
        };
        // Read while the domain exists: DescribeDomain cannot tell it afterwards.
        let home_efs_file_system_id = home_efs_file_system_id.or_else(|| domain.home_efs_file_system_id().map(str::to_string));
        let waiting = |requested| {
            Pending::new(
                Progress::DeletingDomain { requested, home_efs_file_system_id: home_efs_file_system_id.clone() },
                format!("domain {domain_id} to be deleted"),
            )
            .into()
        };
        match (domain.status(), requested) {
            (Some(DomainStatus::Deleting), _) => return Ok(waiting(true)),
            (Some(DomainStatus::DeleteFailed), true) => {
                return Err(Error::new(format!("deleting domain {domain_id} failed{}", reason(&domain))));
            }
            // Just asked: SageMaker may not show Deleting yet.
            (_, true) => return Ok(waiting(true)),
            (_, false) => {}
        }
        let policy = RetentionPolicy::builder().home_efs_file_system(RetentionType::from(retention.as_str())).build();
        info!(DomainId = domain_id, RetentionPolicy = retention.as_str(), "DeleteDomain");
        match self.sagemaker.delete_domain().domain_id(domain_id).retention_policy(policy).send().await {
            Ok(_) => Ok(waiting(true)),
            Err(e) if error_code(&e) == Some("ResourceNotFound") => {
                Ok(Done::new(domain_id).reason(deleted(domain_id, retention, home_efs_file_system_id.as_deref())).into())
            }
            // A space, user profile or app appeared meanwhile: start over from the apps.
            Err(e) if error_code(&e) == Some("ResourceInUse") => {
                warn!(error = %shared::aws::describe("DeleteDomain", &e), "domain still in use; deleting what uses it first");
                Ok(Pending::new(Progress::DeletingApps, format!("apps of domain {domain_id} to be deleted")).into())
            }
            Err(e) => Err(Error::aws("DeleteDomain", &e)),
        }
    }
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Space => "space",
            Kind::UserProfile => "user profile",
        }
    }
}

/// What a DeleteSpace / DeleteUserProfile answer means; already gone counts as started.
fn deletion<T, E, R>(operation: &str, result: Result<T, SdkError<E, R>>) -> Result<Deletion, Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(Deletion::Started),
        Err(e) if error_code(&e) == Some("ResourceNotFound") => Ok(Deletion::Started),
        Err(e) if error_code(&e) == Some("ResourceInUse") => Ok(Deletion::InUse),
        Err(e) => Err(Error::aws(operation, &e)),
    }
}

/// The SUCCESS Reason: what was deleted and what SageMaker leaves behind.
fn deleted(domain_id: &str, retention: HomeEfsFileSystem, home_efs_file_system_id: Option<&str>) -> String {
    let efs = home_efs_file_system_id.map(|id| format!(" {id}")).unwrap_or_default();
    let home = match retention {
        HomeEfsFileSystem::Retain => format!("its home EFS file system{efs} was retained (RetentionPolicy.HomeEfsFileSystem: Retain)"),
        HomeEfsFileSystem::Delete => format!("its home EFS file system{efs} was deleted"),
    };
    format!(
        "domain {domain_id} deleted; {home}. SageMaker leaves security groups security-group-for-inbound-nfs-{domain_id} and \
         security-group-for-outbound-nfs-{domain_id} behind"
    )
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

/// Runs `f` on each item, at most [`CONCURRENT_DELETES`] at a time.
async fn bounded<T, R, F, Fut>(items: Vec<T>, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures::stream::iter(items).map(f).buffer_unordered(CONCURRENT_DELETES).collect().await
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
