//! CreateSpace, DescribeSpace, UpdateSpace, DeleteSpace, ListSpaces.

use super::{APP_TYPES, Intent, Item, check_status, copy_members, domain_member_key, list_output, merge_member, names, page, sort};
use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::store::{Owner, Space, Store, epoch_now};
use crate::validate::{self, Body, Checks, SageMakerChecks, opt_obj, opt_str};
use crate::{Phase, ResourceKind};
use serde_json::{Map, Value, json};

pub(crate) fn describe(s: &Space) -> Value {
    let mut out = s.attrs.clone();
    out.insert("DomainId".into(), json!(s.domain_id));
    out.insert("SpaceArn".into(), json!(s.meta.arn));
    out.insert("SpaceName".into(), json!(s.name));
    s.meta.describe_into(&mut out);
    Value::Object(out)
}

fn key<'a>(checks: &mut Checks, body: &'a Body) -> ApiResult<(&'a str, &'a str)> {
    domain_member_key(checks, body, "SpaceName")
}

/// SpaceSettings and SpaceDisplayName, accepted by CreateSpace and UpdateSpace.
fn check_settings(checks: &mut Checks, body: &Body) -> ApiResult<()> {
    if let Some(display) = opt_str(body, "SpaceDisplayName")? {
        checks.length("SpaceDisplayName", display, 0, 64);
    }
    if let Some(settings) = opt_obj(body, "SpaceSettings")?
        && let Some(app_type) = opt_str(settings, "AppType")?
    {
        checks.one_of("SpaceSettings.AppType", app_type, APP_TYPES);
    }
    validate::settings(checks, body, "SpaceSettings")
}

pub(crate) fn create(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    check_settings(&mut checks, body)?;
    let owner = match opt_obj(body, "OwnershipSettings")? {
        Some(o) => checks.required("OwnershipSettings.OwnerUserProfileName", opt_str(o, "OwnerUserProfileName")?),
        None => None,
    };
    if let Some(owner) = owner {
        checks.name("OwnershipSettings.OwnerUserProfileName", owner);
    }
    let sharing = match opt_obj(body, "SpaceSharingSettings")? {
        Some(s) => checks.required("SpaceSharingSettings.SharingType", opt_str(s, "SharingType")?),
        None => None,
    };
    if let Some(sharing) = sharing {
        checks.one_of("SpaceSharingSettings.SharingType", sharing, &["Private", "Shared"]);
    }
    let tags = validate::tags(&mut checks, body, "Tags")?;
    checks.finish()?;
    if sharing == Some("Private") && owner.is_none() {
        return Err(ApiError::validation("OwnershipSettings.OwnerUserProfileName is required when SpaceSharingSettings.SharingType is Private"));
    }

    let domain = store.domain(domain_id)?;
    check_status(&format!("Domain {domain_id}"), &domain.meta.life, Intent::Use)?;
    // DescribeSpace's Url: the domain's Studio address (users append `&redirect=<AppType>`).
    let url = domain.attrs.get("Url").cloned();
    if let Some(owner) = owner {
        store.user_profile(domain_id, owner)?;
    }
    let key = (domain_id.to_string(), name.to_string());
    if let Some(existing) = store.spaces.get(&key) {
        return Err(ApiError::in_use(format!("Space '{name}' already exists: {}", existing.meta.arn)));
    }

    let arn = store.arn(&format!("space/{domain_id}/{name}"));
    let mut attrs = Body::new();
    copy_members(&mut attrs, body, &["SpaceSettings", "OwnershipSettings", "SpaceSharingSettings", "SpaceDisplayName"]);
    attrs.insert("HomeEfsFileSystemUid".into(), json!(store.next_uid()));
    if let Some(url) = url {
        attrs.insert("Url".into(), url);
    }
    let meta = store.new_meta(arn.clone(), ResourceKind::Space);
    store.set_tags(&arn, tags);
    store.spaces.insert(key, Space { meta, domain_id: domain_id.to_string(), name: name.to_string(), attrs });
    Ok(json!({ "SpaceArn": arn }))
}

pub(crate) fn describe_op(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    checks.finish()?;
    store.domain(domain_id)?;
    match store.space(domain_id, name) {
        Ok(space) => Ok(describe(space)),
        Err(err) if err.code == "ResourceNotFound" => Err(ApiError::record_not_found(err.message)),
        Err(err) => Err(err),
    }
}

pub(crate) fn update(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    check_settings(&mut checks, body)?;
    checks.finish()?;

    let space = store.space(domain_id, name)?;
    check_status(&format!("Space {name}"), &space.meta.life, Intent::Update)?;
    // An EBS volume only grows.
    if let (Some(now), Some(wanted)) = (ebs_size(&space.attrs), ebs_size(body))
        && wanted < now
    {
        return Err(ApiError::validation(format!(
            "Invalid request provided: EbsVolumeSizeInGb {wanted} is less than the space's current EBS volume size {now}; the size cannot be decreased"
        )));
    }
    let mut attrs = space.attrs.clone();
    merge_member(&mut attrs, body, "SpaceSettings");
    copy_members(&mut attrs, body, &["SpaceDisplayName"]);
    let life = store.start(ResourceKind::Space, Phase::Update);
    let key = (domain_id.to_string(), name.to_string());
    let Some(space) = store.spaces.get_mut(&key) else {
        return Err(ApiError::not_found(name));
    };
    if !life.will_fail() {
        space.attrs = attrs;
    }
    space.meta.life = life;
    space.meta.modified = epoch_now();
    Ok(json!({ "SpaceArn": space.meta.arn }))
}

/// SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb.
fn ebs_size(attrs: &Body) -> Option<i64> {
    attrs.get("SpaceSettings")?.get("SpaceStorageSettings")?.get("EbsStorageSettings")?.get("EbsVolumeSizeInGb")?.as_i64()
}

pub(crate) fn delete(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let (domain_id, name) = key(&mut checks, body)?;
    checks.finish()?;

    let space = store.space(domain_id, name)?;
    check_status(&format!("Space {name}"), &space.meta.life, Intent::Delete)?;
    let owner = Owner::Space(name.to_string());
    let apps: Vec<String> =
        store.apps.values().filter(|a| a.key.domain_id == domain_id && a.key.owner == owner && a.is_active()).map(|a| a.key.label()).collect();
    if !apps.is_empty() {
        return Err(ApiError::in_use(format!("Space {name} cannot be deleted: it still has apps {}; delete them first", names(&apps))));
    }
    let life = store.start(ResourceKind::Space, Phase::Delete);
    let key = (domain_id.to_string(), name.to_string());
    let Some(space) = store.spaces.get_mut(&key) else {
        return Err(ApiError::not_found(name));
    };
    space.meta.life = life;
    space.meta.modified = epoch_now();
    Ok(json!({}))
}

/// SpaceDetails: the summaries are the listed subsets of the settings.
fn details(s: &Space) -> Value {
    let mut out = Map::new();
    out.insert("DomainId".into(), json!(s.domain_id));
    out.insert("SpaceName".into(), json!(s.name));
    out.insert("Status".into(), json!(s.meta.life.status));
    out.insert("CreationTime".into(), json!(s.meta.created));
    out.insert("LastModifiedTime".into(), json!(s.meta.modified));
    if let Some(display) = s.attrs.get("SpaceDisplayName") {
        out.insert("SpaceDisplayName".into(), display.clone());
    }
    if let Some(settings) = s.attrs.get("SpaceSettings").and_then(Value::as_object) {
        let summary: Map<String, Value> = settings
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "AppType" | "RemoteAccess" | "SpaceStorageSettings"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("SpaceSettingsSummary".into(), Value::Object(summary));
    }
    if let Some(sharing) = s.attrs.get("SpaceSharingSettings") {
        out.insert("SpaceSharingSettingsSummary".into(), sharing.clone());
    }
    if let Some(owner) = s.attrs.get("OwnershipSettings") {
        out.insert("OwnershipSettingsSummary".into(), owner.clone());
    }
    Value::Object(out)
}

pub(crate) fn list(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let max = checks.max_results(body, 1)?;
    let domain_filter = opt_str(body, "DomainIdEquals")?;
    if let Some(id) = domain_filter {
        checks.domain_id("DomainIdEquals", id);
    }
    let name_filter = opt_str(body, "SpaceNameContains")?;
    if let Some(name) = name_filter {
        checks.length("SpaceNameContains", name, 0, 63);
    }
    let mut items: Vec<Item> = store
        .spaces
        .values()
        .filter(|s| store.is_visible(&s.meta))
        .filter(|s| domain_filter.is_none_or(|id| s.domain_id == id))
        .filter(|s| name_filter.is_none_or(|n| s.name.contains(n)))
        .map(|s| Item { seq: s.meta.seq, created: s.meta.created, modified: s.meta.modified, name: s.name.clone(), value: details(s) })
        .collect();
    sort(&mut checks, body, &["CreationTime", "LastModifiedTime"], &mut items)?;
    checks.finish()?;
    Ok(list_output("Spaces", page(store, body, items, max)?))
}
