//! CreateApp, DescribeApp, DeleteApp, ListApps. Apps belong to a user profile or a space;
//! deleted apps stay listed with status Deleted.

use super::{APP_TYPES, Intent, Item, check_status, copy_members, domain_id, list_output, page, sort};
use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::store::{App, AppKey, Owner, Store, epoch_now};
use crate::validate::{self, Body, Checks, SageMakerChecks, opt_str};
use crate::{Phase, ResourceKind};
use serde_json::{Value, json};

fn owner_member(owner: &Owner) -> &'static str {
    match owner {
        Owner::UserProfile(_) => "UserProfileName",
        Owner::Space(_) => "SpaceName",
    }
}

pub(crate) fn describe(a: &App) -> Value {
    let mut out = a.attrs.clone();
    out.insert("AppArn".into(), json!(a.meta.arn));
    out.insert("AppType".into(), json!(a.key.app_type));
    out.insert("AppName".into(), json!(a.key.app_name));
    out.insert("DomainId".into(), json!(a.key.domain_id));
    out.insert(owner_member(&a.key.owner).into(), json!(a.key.owner.name()));
    a.meta.describe_into(&mut out);
    // Apps have no LastModifiedTime in the API.
    out.remove("LastModifiedTime");
    Value::Object(out)
}

/// DomainId, AppType, AppName and exactly one of UserProfileName / SpaceName.
fn key(checks: &mut Checks, body: &Body) -> ApiResult<AppKey> {
    let domain_id = domain_id(checks, body)?;
    let app_type = checks.required("AppType", opt_str(body, "AppType")?);
    if let Some(t) = app_type {
        checks.one_of("AppType", t, APP_TYPES);
    }
    let app_name = checks.required("AppName", opt_str(body, "AppName")?);
    if let Some(n) = app_name {
        checks.name("AppName", n);
    }
    let profile = opt_str(body, "UserProfileName")?;
    let space = opt_str(body, "SpaceName")?;
    if let Some(p) = profile {
        checks.name("UserProfileName", p);
    }
    if let Some(s) = space {
        checks.name("SpaceName", s);
    }
    // The caller's finish() reports a missing or doubled owner; the placeholder is never used.
    let owner = match (profile, space) {
        (Some(p), None) => Owner::UserProfile(p.to_string()),
        (None, Some(s)) => Owner::Space(s.to_string()),
        _ => {
            checks.rule(false, "Exactly one of UserProfileName and SpaceName must be specified");
            Owner::UserProfile(String::new())
        }
    };
    Ok(AppKey {
        domain_id: domain_id.unwrap_or_default().to_string(),
        owner,
        app_type: app_type.unwrap_or_default().to_string(),
        app_name: app_name.unwrap_or_default().to_string(),
    })
}

fn get<'a>(store: &'a Store, key: &AppKey) -> ApiResult<&'a App> {
    store.domain(&key.domain_id)?;
    store.apps.get(key).ok_or_else(|| ApiError::not_found(format!("App '{}' does not exist", key.label())))
}

pub(crate) fn create(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let key = key(&mut checks, body)?;
    validate::resource_spec(&mut checks, body, "ResourceSpec", "ResourceSpec")?;
    let tags = validate::tags(&mut checks, body, "Tags")?;
    checks.finish()?;
    if key.app_type == "JupyterServer" && key.app_name != "default" {
        return Err(ApiError::validation("AppName must be 'default' for AppType JupyterServer"));
    }

    let domain_id = key.domain_id.as_str();
    let domain = store.domain(domain_id)?;
    check_status(&format!("Domain {domain_id}"), &domain.meta.life, Intent::Use)?;
    let (owner_label, owner_life) = match &key.owner {
        Owner::UserProfile(p) => (format!("User profile {p}"), &store.user_profile(domain_id, p)?.meta.life),
        Owner::Space(s) => (format!("Space {s}"), &store.space(domain_id, s)?.meta.life),
    };
    check_status(&owner_label, owner_life, Intent::Use)?;
    if let Some(existing) = store.apps.get(&key).filter(|a| a.is_active()) {
        return Err(ApiError::in_use(format!("App '{}' already exists: {}", key.label(), existing.meta.arn)));
    }

    let arn = store.arn(&format!("app/{domain_id}/{}/{}/{}", key.owner.name(), key.app_type.to_lowercase(), key.app_name));
    let mut attrs = Body::new();
    copy_members(&mut attrs, body, &["ResourceSpec", "RecoveryMode"]);
    let meta = store.new_meta(arn.clone(), ResourceKind::App);
    store.set_tags(&arn, tags);
    // Re-creating an app that was deleted (or failed) replaces the finished record.
    store.apps.insert(key.clone(), App { meta, key, attrs });
    Ok(json!({ "AppArn": arn }))
}

pub(crate) fn describe_op(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let key = key(&mut checks, body)?;
    checks.finish()?;
    store.domain(&key.domain_id)?;
    match get(store, &key) {
        Ok(app) => Ok(describe(app)),
        Err(err) if err.code == "ResourceNotFound" => Err(ApiError::record_not_found(err.message)),
        Err(err) => Err(err),
    }
}

pub(crate) fn delete(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let key = key(&mut checks, body)?;
    checks.finish()?;

    let app = get(store, &key)?;
    // Only InService apps can be deleted (terraform-provider-aws matches these messages).
    match app.meta.life.status {
        "InService" => {}
        "Deleted" => {
            return Err(ApiError::validation(format!("App {} has already been deleted.", app.meta.arn)));
        }
        "Failed" => {
            return Err(ApiError::validation(format!(
                "App {} previously failed and cannot be deleted: {}",
                app.meta.arn,
                app.meta.life.failure_reason.as_deref().unwrap_or("unknown reason")
            )));
        }
        status => {
            return Err(ApiError::validation(format!("App {} is in status {status}: only apps in status InService can be deleted", app.meta.arn)));
        }
    }
    let life = store.start(ResourceKind::App, Phase::Delete);
    let Some(app) = store.apps.get_mut(&key) else {
        return Err(ApiError::not_found(key.label()));
    };
    app.meta.life = life;
    app.meta.modified = epoch_now();
    Ok(json!({}))
}

pub(crate) fn list(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let max = checks.max_results(body, 1)?;
    let domain_filter = opt_str(body, "DomainIdEquals")?;
    if let Some(id) = domain_filter {
        checks.domain_id("DomainIdEquals", id);
    }
    let profile_filter = opt_str(body, "UserProfileNameEquals")?;
    if let Some(p) = profile_filter {
        checks.name("UserProfileNameEquals", p);
    }
    let space_filter = opt_str(body, "SpaceNameEquals")?;
    if let Some(s) = space_filter {
        checks.name("SpaceNameEquals", s);
    }
    let mut items: Vec<Item> = store
        .apps
        .values()
        .filter(|a| domain_filter.is_none_or(|id| a.key.domain_id == id))
        .filter(|a| profile_filter.is_none_or(|p| a.key.owner == Owner::UserProfile(p.to_string())))
        .filter(|a| space_filter.is_none_or(|s| a.key.owner == Owner::Space(s.to_string())))
        .map(|a| {
            let mut value = json!({
                "DomainId": a.key.domain_id,
                owner_member(&a.key.owner): a.key.owner.name(),
                "AppType": a.key.app_type,
                "AppName": a.key.app_name,
                "Status": a.meta.life.status,
                "CreationTime": a.meta.created,
            });
            if let (Some(spec), Some(map)) = (a.attrs.get("ResourceSpec"), value.as_object_mut()) {
                map.insert("ResourceSpec".into(), spec.clone());
            }
            Item { seq: a.meta.seq, created: a.meta.created, modified: a.meta.modified, name: a.key.app_name.clone(), value }
        })
        .collect();
    sort(&mut checks, body, &["CreationTime"], &mut items)?;
    checks.finish()?;
    Ok(list_output("Apps", page(store, body, items, max)?))
}
