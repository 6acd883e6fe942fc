//! Emptying a user profile before DeleteUserProfile: its apps, and its private spaces (each
//! after its own apps). Every call starts what can be started and reports what is still going,
//! so that the caller can return Pending and look again.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{AppDetails, AppStatus, SharingType, SpaceDetails, SpaceStatus};
use shared::Error;
use shared::aws::{describe, error_code};

/// Whose apps to delete.
#[derive(Debug, Clone, Copy)]
pub enum AppOwner<'a> {
    UserProfile(&'a str),
    Space(&'a str),
}

/// Starts deleting the owner's apps that still run (Deleted and Failed apps are finished and
/// stay listed for a while). Returns the apps not gone yet, e.g. "app JupyterLab/default".
pub async fn delete_apps(sagemaker: &Client, domain_id: &str, owner: AppOwner<'_>) -> Result<Vec<String>, Error> {
    let list = sagemaker.list_apps().domain_id_equals(domain_id);
    let list = match owner {
        AppOwner::UserProfile(name) => list.user_profile_name_equals(name),
        AppOwner::Space(name) => list.space_name_equals(name),
    };
    let mut pages = list.into_paginator().items().send();
    let mut apps = Vec::new();
    while let Some(app) = pages.next().await {
        apps.push(app.map_err(|e| Error::aws("ListApps", &e))?);
    }
    let mut left = Vec::new();
    for app in &apps {
        let (Some(app_type), Some(app_name)) = (app.app_type(), app.app_name()) else {
            continue;
        };
        let label = format!("app {}/{app_name}", app_type.as_str());
        match app.status() {
            Some(AppStatus::Deleted | AppStatus::Failed) => continue,
            Some(AppStatus::Deleting) => {
                left.push(label);
                continue;
            }
            _ => {}
        }
        let (profile, space) = app_owner(app, owner);
        let result = sagemaker
            .delete_app()
            .domain_id(domain_id)
            .app_type(app_type.clone())
            .app_name(app_name)
            .set_user_profile_name(profile.clone())
            .set_space_name(space.clone())
            .send()
            .await;
        match result {
            Ok(_) => left.push(label),
            Err(e) => match error_code(&e) {
                Some("ResourceNotFound") => {}
                // Still starting: it can be deleted once it runs.
                Some("ResourceInUse") => left.push(label),
                // "has already been deleted" / "previously failed": finished since it was listed.
                Some("ValidationException") if is_finished(sagemaker, domain_id, app, profile, space).await => {}
                _ => return Err(Error::aws("DeleteApp", &e)),
            },
        }
    }
    Ok(left)
}

/// The owner an app is addressed by: its own listing says, the filter used is the fallback.
fn app_owner(app: &AppDetails, owner: AppOwner<'_>) -> (Option<String>, Option<String>) {
    match (app.space_name(), app.user_profile_name(), owner) {
        (Some(space), _, _) => (None, Some(space.to_string())),
        (None, Some(profile), _) => (Some(profile.to_string()), None),
        (None, None, AppOwner::UserProfile(profile)) => (Some(profile.to_string()), None),
        (None, None, AppOwner::Space(space)) => (None, Some(space.to_string())),
    }
}

async fn is_finished(sagemaker: &Client, domain_id: &str, app: &AppDetails, profile: Option<String>, space: Option<String>) -> bool {
    let described = sagemaker
        .describe_app()
        .domain_id(domain_id)
        .set_app_type(app.app_type().cloned())
        .set_app_name(app.app_name().map(str::to_string))
        .set_user_profile_name(profile)
        .set_space_name(space)
        .send()
        .await;
    match described {
        Ok(app) => matches!(app.status(), Some(AppStatus::Deleted | AppStatus::Failed)),
        Err(e) => error_code(&e) == Some("ResourceNotFound"),
    }
}

/// The private spaces `profile` owns in the domain.
pub async fn private_spaces(sagemaker: &Client, domain_id: &str, profile: &str) -> Result<Vec<SpaceDetails>, Error> {
    let mut pages = sagemaker.list_spaces().domain_id_equals(domain_id).into_paginator().items().send();
    let mut spaces = Vec::new();
    while let Some(space) = pages.next().await {
        let space = space.map_err(|e| Error::aws("ListSpaces", &e))?;
        let private = space.space_sharing_settings_summary().and_then(|s| s.sharing_type()) == Some(&SharingType::Private);
        let owner = space.ownership_settings_summary().and_then(|o| o.owner_user_profile_name());
        // Profile names are not case sensitive.
        if private && owner.is_some_and(|o| o.eq_ignore_ascii_case(profile)) {
            spaces.push(space);
        }
    }
    Ok(spaces)
}

/// Takes one step towards deleting a space: its apps first, then the space. Returns what is
/// still going. A space whose earlier delete failed is tried again only when
/// `retry_failed_delete` (the first step of an operation); afterwards that is a failure.
pub async fn delete_space(sagemaker: &Client, domain_id: &str, space: &SpaceDetails, retry_failed_delete: bool) -> Result<Vec<String>, Error> {
    let Some(name) = space.space_name() else {
        return Ok(Vec::new());
    };
    let label = format!("space {name}");
    match space.status() {
        Some(SpaceStatus::Deleting) => return Ok(vec![label]),
        Some(SpaceStatus::DeleteFailed) if !retry_failed_delete => {
            let reason = match sagemaker.describe_space().domain_id(domain_id).space_name(name).send().await {
                Ok(described) => described.failure_reason().unwrap_or("no FailureReason given").to_string(),
                Err(e) => describe("DescribeSpace", &e),
            };
            return Err(Error::new(format!("space {name} could not be deleted: {reason}")));
        }
        _ => {}
    }
    let mut left = delete_apps(sagemaker, domain_id, AppOwner::Space(name)).await?;
    if !left.is_empty() {
        left.push(label);
        return Ok(left);
    }
    match sagemaker.delete_space().domain_id(domain_id).space_name(name).send().await {
        Ok(_) => Ok(vec![label]),
        Err(e) => match error_code(&e) {
            Some("ResourceNotFound") => Ok(Vec::new()),
            Some("ResourceInUse") => Ok(vec![label]),
            _ => Err(Error::aws("DeleteSpace", &e)),
        },
    }
}
