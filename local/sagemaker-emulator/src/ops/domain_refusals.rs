//! The refusals SageMaker documents for CreateDomain and UpdateDomain member combinations
//! (see [`Refusal`] for each one's source), checked before any effect.

use super::{apps_in, check_user_settings, names};
use crate::Refusal;
use crate::error::{ApiError, ApiResult};
use crate::store::{Domain, Owner, Store};
use crate::validate::{Body, opt_obj, opt_str, opt_str_list};
use serde_json::{Value, json};

/// App statuses that count as running.
const RUNNING: &[&str] = &["InService", "Pending"];
const RUNNING_OR_DELETING: &[&str] = &["InService", "Pending", "Deleting"];

/// `settings.RStudioServerProDomainSettings[ForUpdate].DomainExecutionRoleArn` is given.
fn rstudio_role(settings: Option<&Value>, member: &str) -> bool {
    settings.and_then(|s| s.get(member)).and_then(|r| r.get("DomainExecutionRoleArn")).is_some_and(|arn| !arn.is_null())
}

fn amazon_q(store: &Store, settings: Option<&Body>, auth_mode: &str) -> ApiResult<()> {
    let enabled = settings.and_then(|s| s.get("AmazonQSettings")).and_then(|q| q.get("Status")).and_then(Value::as_str) == Some("ENABLED");
    if store.refuses(Refusal::AmazonQNeedsSso) && enabled && auth_mode != "SSO" {
        return Err(ApiError::validation(format!("DomainSettings.AmazonQSettings can be enabled only for a domain whose AuthMode is SSO, not {auth_mode}")));
    }
    Ok(())
}

fn rstudio_security_groups(store: &Store, vpc_only: bool, management: Option<&str>) -> ApiResult<()> {
    if store.refuses(Refusal::RStudioSecurityGroupManagement) && vpc_only && management != Some("Service") {
        return Err(ApiError::validation(
            "AppSecurityGroupManagement must be Service when AppNetworkAccessType is VpcOnly and DomainSettings.RStudioServerProDomainSettings.DomainExecutionRoleArn is provided",
        ));
    }
    Ok(())
}

pub(super) fn on_create(store: &Store, body: &Body, auth_mode: &str) -> ApiResult<()> {
    check_user_settings(store, "DefaultUserSettings", opt_obj(body, "DefaultUserSettings")?, &[])?;
    let settings = body.get("DomainSettings");
    if rstudio_role(settings, "RStudioServerProDomainSettings") {
        let vpc_only = opt_str(body, "AppNetworkAccessType")? == Some("VpcOnly");
        rstudio_security_groups(store, vpc_only, opt_str(body, "AppSecurityGroupManagement")?)?;
    }
    amazon_q(store, opt_obj(body, "DomainSettings")?, auth_mode)
}

pub(super) fn on_update(store: &Store, domain: &Domain, body: &Body, settings_update: Option<&Body>) -> ApiResult<()> {
    let stored = |key: &str| domain.attrs.get(key);
    let id = &domain.id;
    if store.refuses(Refusal::DisableHomeEfs) && domain.home_efs_id.is_some() && opt_str(body, "HomeEfsFileSystemCreation")? == Some("Disabled") {
        return Err(ApiError::validation(format!("HomeEfsFileSystemCreation of domain {id} cannot be changed from Enabled to Disabled")));
    }
    if let (Some(new), Some(old)) = (opt_str(body, "VpcId")?, stored("VpcId").and_then(Value::as_str))
        && store.refuses(Refusal::VpcIdFixed)
        && new != old
    {
        return Err(ApiError::validation(format!("VpcId of domain {id} is {old}: UpdateDomain sets a VpcId only on a domain created without VPC settings")));
    }
    let access = opt_str(body, "AppNetworkAccessType")?;
    let current_access = stored("AppNetworkAccessType").and_then(Value::as_str);
    let access_changes = access.is_some_and(|a| Some(a) != current_access);
    if store.refuses(Refusal::VpcOnlyNeedsNetwork)
        && access == Some("VpcOnly")
        && access_changes
        && (body.get("VpcId").is_none() || body.get("SubnetIds").is_none())
    {
        return Err(ApiError::validation("Switching AppNetworkAccessType to VpcOnly requires VpcId and SubnetIds in the same UpdateDomain request"));
    }
    let sends_rstudio_role = rstudio_role(settings_update.map(|u| json!(u)).as_ref(), "RStudioServerProDomainSettingsForUpdate");
    let has_rstudio_role = rstudio_role(stored("DomainSettings"), "RStudioServerProDomainSettings");
    if store.refuses(Refusal::RStudioNetworkAccess) && access_changes && (has_rstudio_role || sends_rstudio_role) {
        return Err(ApiError::validation(format!(
            "AppNetworkAccessType of domain {id} cannot be updated: DomainSettings.RStudioServerProDomainSettings.DomainExecutionRoleArn is set or provided in the same request"
        )));
    }
    if sends_rstudio_role {
        let vpc_only = access.or(current_access) == Some("VpcOnly");
        let management = opt_str(body, "AppSecurityGroupManagement")?.or_else(|| stored("AppSecurityGroupManagement").and_then(Value::as_str));
        rstudio_security_groups(store, vpc_only, management)?;
    }
    amazon_q(store, settings_update, &domain.auth_mode)?;
    check_user_settings(store, "DefaultUserSettings", opt_obj(body, "DefaultUserSettings")?, &[stored("DefaultUserSettings")])?;
    execution_roles(store, domain, body)?;
    if store.refuses(Refusal::ChangesWhileAppsRun) {
        changes_while_apps_run(store, domain, body, settings_update, access_changes)?;
    }
    Ok(())
}

/// DefaultUserSettings.ExecutionRole while a user profile's app runs, DefaultSpaceSettings.
/// ExecutionRole while a shared space's app runs.
fn execution_roles(store: &Store, domain: &Domain, body: &Body) -> ApiResult<()> {
    if !store.refuses(Refusal::ExecutionRoleWhileAppsRun) {
        return Ok(());
    }
    let shared = |space: &str| {
        store.spaces.get(&(domain.id.clone(), space.to_string())).and_then(|s| s.attrs.get("SpaceSharingSettings")?.get("SharingType")?.as_str())
            == Some("Shared")
    };
    let role = |settings: Option<&Value>| settings.and_then(|s| s.get("ExecutionRole")).and_then(Value::as_str).map(str::to_string);
    for (member, holders) in [("DefaultUserSettings", "user profile"), ("DefaultSpaceSettings", "shared space")] {
        let new = role(body.get(member));
        if new.is_none() || new == role(domain.attrs.get(member)) {
            continue;
        }
        let holds = |owner: &Owner| match owner {
            Owner::UserProfile(_) => member == "DefaultUserSettings",
            Owner::Space(space) => member == "DefaultSpaceSettings" && shared(space),
        };
        let apps: Vec<String> = store
            .apps
            .values()
            .filter(|a| a.key.domain_id == domain.id && RUNNING.contains(&a.meta.life.status) && holds(&a.key.owner))
            .map(|a| a.key.label())
            .collect();
        if !apps.is_empty() {
            return Err(ApiError::validation(format!(
                "{member}.ExecutionRole of domain {} can only be updated when no application runs in any {holders} of the domain: {}",
                domain.id,
                names(&apps)
            )));
        }
    }
    Ok(())
}

/// The UpdateDomain members SageMaker documents as changeable only while no app runs.
fn changes_while_apps_run(store: &Store, domain: &Domain, body: &Body, settings_update: Option<&Body>, access_changes: bool) -> ApiResult<()> {
    let stored = |key: &str| domain.attrs.get(key);
    let kept_subnets = |new: &[&str]| stored("SubnetIds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).all(|s| new.contains(&s));
    let identity = settings_update.and_then(|u| u.get("ExecutionRoleIdentityConfig"));
    let stored_identity = stored("DomainSettings").and_then(|s| s.get("ExecutionRoleIdentityConfig")).cloned().unwrap_or(json!("DISABLED"));
    // (what changes, app statuses that block it), as the UpdateDomain model documents them.
    let mut changes: Vec<(&str, &[&str])> = Vec::new();
    if access_changes {
        changes.push(("AppNetworkAccessType", RUNNING_OR_DELETING));
    }
    if let Some(subnets) = opt_str_list(body, "SubnetIds")?
        && !kept_subnets(&subnets)
    {
        changes.push(("SubnetIds (removing a subnet)", RUNNING_OR_DELETING));
    }
    if identity.is_some_and(|i| *i != stored_identity) {
        changes.push(("DomainSettings.ExecutionRoleIdentityConfig", RUNNING));
    }
    // Users report any RStudio settings sent while apps run refused, changed or not.
    if settings_update.is_some_and(|u| u.contains_key("RStudioServerProDomainSettingsForUpdate")) {
        changes.push(("DomainSettings.RStudioServerProDomainSettings", RUNNING));
    }
    for (change, statuses) in changes {
        let apps = apps_in(store, &domain.id, statuses);
        if !apps.is_empty() {
            return Err(ApiError::validation(format!(
                "{change} of domain {} cannot be updated while apps are in status {}: {}; delete them first",
                domain.id,
                statuses.join(" or "),
                names(&apps)
            )));
        }
    }
    Ok(())
}
