//! Describe-or-absent: `Ok(None)` when the resource does not exist, every other error kept.
//!
//! Domains, user profiles and lifecycle configs answer ResourceNotFound. DescribeApp and
//! DescribeSpace on the real service answer ValidationException ("RecordNotFound") instead,
//! so for apps and spaces absence is decided by listing, never by a message.

use crate::error::{AwsError, AwsResult, Kind, absent_if_not_found};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_app::DescribeAppOutput;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use aws_sdk_sagemaker::operation::describe_studio_lifecycle_config::DescribeStudioLifecycleConfigOutput;
use aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput;
use aws_sdk_sagemaker::types::{AppDetails, AppType, SpaceDetails};

pub async fn domain(sagemaker: &Client, domain_id: &str) -> Result<Option<DescribeDomainOutput>, AwsError> {
    absent_if_not_found(sagemaker.describe_domain().domain_id(domain_id).send().await.aws("DescribeDomain"))
}

pub async fn user_profile(sagemaker: &Client, domain_id: &str, name: &str) -> Result<Option<DescribeUserProfileOutput>, AwsError> {
    absent_if_not_found(sagemaker.describe_user_profile().domain_id(domain_id).user_profile_name(name).send().await.aws("DescribeUserProfile"))
}

pub async fn lifecycle_config(sagemaker: &Client, name: &str) -> Result<Option<DescribeStudioLifecycleConfigOutput>, AwsError> {
    absent_if_not_found(sagemaker.describe_studio_lifecycle_config().studio_lifecycle_config_name(name).send().await.aws("DescribeStudioLifecycleConfig"))
}

pub async fn space(sagemaker: &Client, domain_id: &str, name: &str) -> Result<Option<DescribeSpaceOutput>, AwsError> {
    match sagemaker.describe_space().domain_id(domain_id).space_name(name).send().await.aws("DescribeSpace") {
        Ok(space) => Ok(Some(space)),
        Err(e) if e.is(Kind::NotFound) || e.is(Kind::Validation) => {
            let listed = spaces(sagemaker, domain_id).await?.iter().any(|s| s.space_name().is_some_and(|n| n.eq_ignore_ascii_case(name)));
            if listed { Err(e) } else { Ok(None) }
        }
        Err(e) => Err(e),
    }
}

/// Which app: of a user profile or of a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOwner {
    UserProfile(String),
    Space(String),
}

/// One app, as DescribeApp and DeleteApp name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKey {
    pub domain_id: String,
    pub owner: AppOwner,
    pub app_type: AppType,
    pub app_name: String,
}

impl AppKey {
    /// The key of a listed app (None when the listing lacks a member).
    pub fn of(domain_id: &str, app: &AppDetails) -> Option<Self> {
        let owner = match (app.space_name(), app.user_profile_name()) {
            (Some(space), _) => AppOwner::Space(space.to_string()),
            (None, Some(profile)) => AppOwner::UserProfile(profile.to_string()),
            (None, None) => return None,
        };
        Some(Self { domain_id: domain_id.to_string(), owner, app_type: app.app_type()?.clone(), app_name: app.app_name()?.to_string() })
    }

    fn owner_names(&self) -> (Option<String>, Option<String>) {
        match &self.owner {
            AppOwner::UserProfile(p) => (Some(p.clone()), None),
            AppOwner::Space(s) => (None, Some(s.clone())),
        }
    }

    /// "app JupyterLab/default".
    pub fn label(&self) -> String {
        format!("app {}/{}", self.app_type.as_str(), self.app_name)
    }
}

pub async fn app(sagemaker: &Client, key: &AppKey) -> Result<Option<DescribeAppOutput>, AwsError> {
    let (profile, space) = key.owner_names();
    let described = sagemaker
        .describe_app()
        .domain_id(&key.domain_id)
        .app_type(key.app_type.clone())
        .app_name(&key.app_name)
        .set_user_profile_name(profile)
        .set_space_name(space)
        .send()
        .await
        .aws("DescribeApp");
    match described {
        Ok(app) => Ok(Some(app)),
        Err(e) if e.is(Kind::NotFound) || e.is(Kind::Validation) => {
            let listed = apps(sagemaker, &key.domain_id, Some(&key.owner)).await?.iter().any(|a| AppKey::of(&key.domain_id, a).as_ref() == Some(key));
            if listed { Err(e) } else { Ok(None) }
        }
        Err(e) => Err(e),
    }
}

/// The apps of a domain, or of one user profile or space in it (Deleted ones stay listed a while).
pub async fn apps(sagemaker: &Client, domain_id: &str, owner: Option<&AppOwner>) -> Result<Vec<AppDetails>, AwsError> {
    let list = sagemaker.list_apps().domain_id_equals(domain_id);
    let list = match owner {
        Some(AppOwner::UserProfile(name)) => list.user_profile_name_equals(name),
        Some(AppOwner::Space(name)) => list.space_name_equals(name),
        None => list,
    };
    let mut pages = list.into_paginator().items().send();
    let mut apps = Vec::new();
    while let Some(app) = pages.next().await {
        apps.push(app.aws("ListApps")?);
    }
    Ok(apps)
}

/// The spaces of a domain.
pub async fn spaces(sagemaker: &Client, domain_id: &str) -> Result<Vec<SpaceDetails>, AwsError> {
    let mut pages = sagemaker.list_spaces().domain_id_equals(domain_id).into_paginator().items().send();
    let mut spaces = Vec::new();
    while let Some(space) = pages.next().await {
        spaces.push(space.aws("ListSpaces")?);
    }
    Ok(spaces)
}

/// The user profiles of a domain.
pub async fn user_profiles(sagemaker: &Client, domain_id: &str) -> Result<Vec<aws_sdk_sagemaker::types::UserProfileDetails>, AwsError> {
    let mut pages = sagemaker.list_user_profiles().domain_id_equals(domain_id).into_paginator().items().send();
    let mut profiles = Vec::new();
    while let Some(profile) = pages.next().await {
        profiles.push(profile.aws("ListUserProfiles")?);
    }
    Ok(profiles)
}

/// Every domain of the account.
pub async fn domains(sagemaker: &Client) -> Result<Vec<aws_sdk_sagemaker::types::DomainDetails>, AwsError> {
    let mut pages = sagemaker.list_domains().into_paginator().items().send();
    let mut domains = Vec::new();
    while let Some(domain) = pages.next().await {
        domains.push(domain.aws("ListDomains")?);
    }
    Ok(domains)
}
