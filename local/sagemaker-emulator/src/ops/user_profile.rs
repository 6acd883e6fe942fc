//! CreateUserProfile, DescribeUserProfile, UpdateUserProfile, DeleteUserProfile, ListUserProfiles.

use super::{Intent, Item, check_status, copy_members, domain_member_key, list_output, merge_member, names, page, sort};
use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::store::{Owner, Store, UserProfile, epoch_now};
use crate::validate::{self, Body, Checks, SageMakerChecks, opt_str};
use crate::{Phase, ResourceKind};
use serde_json::{Value, json};

pub(crate) fn describe(p: &UserProfile) -> Value {
    let mut out = p.attrs.clone();
    out.insert("DomainId".into(), json!(p.domain_id));
    out.insert("UserProfileArn".into(), json!(p.meta.arn));
    out.insert("UserProfileName".into(), json!(p.name));
    p.meta.describe_into(&mut out);
    Value::Object(out)
}

fn key<'a>(checks: &mut Checks, body: &'a Body) -> ApiResult<(&'a str, &'a str)> {
    domain_member_key(checks, body, "UserProfileName")
}

pub(crate) fn create(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    let sso_identifier = opt_str(body, "SingleSignOnUserIdentifier")?;
    let sso_value = opt_str(body, "SingleSignOnUserValue")?;
    if let Some(value) = sso_value {
        checks.length("SingleSignOnUserValue", value, 0, 256);
    }
    validate::settings(&mut checks, body, "UserSettings")?;
    let tags = validate::tags(&mut checks, body, "Tags")?;
    checks.finish()?;

    let domain = store.domain(domain_id)?;
    check_status(&format!("Domain {domain_id}"), &domain.meta.life, Intent::Use)?;
    // IAM Identity Center domains identify users by user name; IAM domains must not.
    if domain.auth_mode == "SSO" {
        if sso_identifier != Some("UserName") || sso_value.is_none() {
            return Err(ApiError::validation(format!(
                "Domain {domain_id} uses AuthMode SSO: SingleSignOnUserIdentifier must be 'UserName' and SingleSignOnUserValue is required"
            )));
        }
    } else if sso_identifier.is_some() || sso_value.is_some() {
        return Err(ApiError::validation(format!(
            "Domain {domain_id} uses AuthMode IAM: SingleSignOnUserIdentifier and SingleSignOnUserValue cannot be specified"
        )));
    }
    // Documented for UserSettings.SecurityGroups: required in VpcOnly mode unless the domain's
    // DefaultUserSettings has them.
    let vpc_only = domain.attrs.get("AppNetworkAccessType").and_then(Value::as_str) == Some("VpcOnly");
    let has_groups = |settings: Option<&Value>| settings.and_then(|s| s.get("SecurityGroups")).and_then(Value::as_array).is_some_and(|g| !g.is_empty());
    if vpc_only && !has_groups(body.get("UserSettings")) && !has_groups(domain.attrs.get("DefaultUserSettings")) {
        return Err(ApiError::validation(format!(
            "UserSettings.SecurityGroups is required: domain {domain_id} is VpcOnly and its DefaultUserSettings has no SecurityGroups"
        )));
    }
    let key = (domain_id.to_string(), name.to_string());
    // Names are unique regardless of case: "Alice" and "alice" cannot both exist.
    if let Some(existing) = store.profiles.values().find(|p| p.domain_id == domain_id && p.name.eq_ignore_ascii_case(name)) {
        return Err(ApiError::in_use(format!("User profile '{name}' already exists: {}", existing.meta.arn)));
    }

    let arn = store.arn(&format!("user-profile/{domain_id}/{name}"));
    let mut attrs = Body::new();
    copy_members(&mut attrs, body, &["UserSettings", "SingleSignOnUserIdentifier", "SingleSignOnUserValue"]);
    attrs.insert("HomeEfsFileSystemUid".into(), json!(store.next_uid()));
    let meta = store.new_meta(arn.clone(), ResourceKind::UserProfile);
    store.set_tags(&arn, tags);
    store.profiles.insert(key, UserProfile { meta, domain_id: domain_id.to_string(), name: name.to_string(), attrs });
    Ok(json!({ "UserProfileArn": arn }))
}

pub(crate) fn describe_op(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    checks.finish()?;
    Ok(describe(store.user_profile(domain_id, name)?))
}

pub(crate) fn update(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    validate::settings(&mut checks, body, "UserSettings")?;
    checks.finish()?;

    let profile = store.user_profile(domain_id, name)?;
    check_status(&format!("User profile {name}"), &profile.meta.life, Intent::Update)?;
    let mut attrs = profile.attrs.clone();
    merge_member(&mut attrs, body, "UserSettings");
    let life = store.start(ResourceKind::UserProfile, Phase::Update);
    let key = (domain_id.to_string(), name.to_string());
    let Some(profile) = store.profiles.get_mut(&key) else {
        return Err(ApiError::not_found(name));
    };
    if !life.will_fail() {
        profile.attrs = attrs;
    }
    profile.meta.life = life;
    profile.meta.modified = epoch_now();
    Ok(json!({ "UserProfileArn": profile.meta.arn }))
}

pub(crate) fn delete(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    checks.finish()?;

    let profile = store.user_profile(domain_id, name)?;
    check_status(&format!("User profile {name}"), &profile.meta.life, Intent::Delete)?;
    let owner = Owner::UserProfile(name.to_string());
    let apps: Vec<String> =
        store.apps.values().filter(|a| a.key.domain_id == domain_id && a.key.owner == owner && a.is_active()).map(|a| a.key.label()).collect();
    let spaces: Vec<String> = store.spaces.values().filter(|s| s.domain_id == domain_id && s.owner() == Some(name)).map(|s| s.name.clone()).collect();
    // Every space the profile owns blocks it, shared ones too (remove-user-profile docs).
    if !apps.is_empty() || !spaces.is_empty() {
        return Err(ApiError::in_use(format!(
            "User profile {name} cannot be deleted: it still has apps {} and owns spaces {}; delete them first",
            names(&apps),
            names(&spaces)
        )));
    }
    let life = store.start(ResourceKind::UserProfile, Phase::Delete);
    let key = (domain_id.to_string(), name.to_string());
    let Some(profile) = store.profiles.get_mut(&key) else {
        return Err(ApiError::not_found(name));
    };
    profile.meta.life = life;
    profile.meta.modified = epoch_now();
    Ok(json!({}))
}

pub(crate) fn list(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let max = checks.max_results(body, 1)?;
    let domain_filter = opt_str(body, "DomainIdEquals")?;
    if let Some(id) = domain_filter {
        checks.domain_id("DomainIdEquals", id);
    }
    let name_filter = opt_str(body, "UserProfileNameContains")?;
    if let Some(name) = name_filter {
        checks.length("UserProfileNameContains", name, 0, 63);
    }
    let mut items: Vec<Item> = store
        .profiles
        .values()
        .filter(|p| store.is_visible(&p.meta))
        .filter(|p| domain_filter.is_none_or(|id| p.domain_id == id))
        .filter(|p| name_filter.is_none_or(|n| p.name.contains(n)))
        .map(|p| Item {
            seq: p.meta.seq,
            created: p.meta.created,
            modified: p.meta.modified,
            name: p.name.clone(),
            value: json!({
                "DomainId": p.domain_id,
                "UserProfileName": p.name,
                "Status": p.meta.life.status,
                "CreationTime": p.meta.created,
                "LastModifiedTime": p.meta.modified,
            }),
        })
        .collect();
    sort(&mut checks, body, &["CreationTime", "LastModifiedTime"], &mut items)?;
    checks.finish()?;
    Ok(list_output("UserProfiles", page(store, body, items, max)?))
}
