//! CreateDomain, DescribeDomain, UpdateDomain, DeleteDomain, ListDomains, CreatePresignedDomainUrl.

use super::{Intent, Item, apps_in, check_status, copy_members, domain_id, list_output, merge, merge_member, names, page};
use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::store::{Domain, Store, epoch_now, random_hex, random_lower_alnum};
use crate::validate::{self, Body, Checks, SageMakerChecks, opt_int, opt_obj, opt_str, opt_str_list};
use crate::{Phase, ResourceKind};
use serde_json::{Value, json};

const NETWORK_ACCESS: &[&str] = &["PublicInternetOnly", "VpcOnly"];
const SG_MANAGEMENT: &[&str] = &["Service", "Customer"];
const TAG_PROPAGATION: &[&str] = &["ENABLED", "DISABLED"];
const EFS_CREATION: &[&str] = &["Enabled", "Disabled"];

pub(crate) fn describe(d: &Domain) -> Value {
    let mut out = d.attrs.clone();
    out.insert("DomainId".into(), json!(d.id));
    out.insert("DomainArn".into(), json!(d.meta.arn));
    out.insert("DomainName".into(), json!(d.name));
    out.insert("AuthMode".into(), json!(d.auth_mode));
    // HomeEfsFileSystemCreation Disabled: no home EFS, and DescribeDomain names none.
    if !d.home_efs_id.is_empty() {
        out.insert("HomeEfsFileSystemId".into(), json!(d.home_efs_id));
    }
    d.meta.describe_into(&mut out);
    Value::Object(out)
}

/// Constraints shared by CreateDomain and UpdateDomain on the members they both have.
fn check_common(checks: &mut Checks, body: &Body) -> ApiResult<()> {
    for (key, allowed) in [
        ("AppNetworkAccessType", NETWORK_ACCESS),
        ("AppSecurityGroupManagement", SG_MANAGEMENT),
        ("TagPropagation", TAG_PROPAGATION),
        ("HomeEfsFileSystemCreation", EFS_CREATION),
    ] {
        if let Some(value) = opt_str(body, key)? {
            checks.one_of(key, value, allowed);
        }
    }
    if let Some(subnets) = opt_str_list(body, "SubnetIds")? {
        checks.count("SubnetIds", &subnets, 1, 16);
        for (i, subnet) in subnets.iter().enumerate() {
            checks.vpc_id(&format!("SubnetIds.{}.member", i + 1), subnet);
        }
    }
    if let Some(vpc) = opt_str(body, "VpcId")? {
        checks.vpc_id("VpcId", vpc);
    }
    validate::settings(checks, body, "DefaultUserSettings")?;
    validate::settings(checks, body, "DefaultSpaceSettings")?;
    Ok(())
}

pub(crate) fn create(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let name = checks.required("DomainName", opt_str(body, "DomainName")?);
    if let Some(name) = name {
        checks.name("DomainName", name);
    }
    let auth_mode = checks.required("AuthMode", opt_str(body, "AuthMode")?);
    if let Some(mode) = auth_mode {
        checks.one_of("AuthMode", mode, &["SSO", "IAM"]);
    }
    checks.required("DefaultUserSettings", opt_obj(body, "DefaultUserSettings")?);
    checks.required("SubnetIds", opt_str_list(body, "SubnetIds")?);
    checks.required("VpcId", opt_str(body, "VpcId")?);
    for key in ["KmsKeyId", "HomeEfsFileSystemKmsKeyId"] {
        if let Some(kms) = opt_str(body, key)? {
            checks.kms_key(key, kms);
        }
    }
    opt_obj(body, "DomainSettings")?;
    check_common(&mut checks, body)?;
    let tags = validate::tags(&mut checks, body, "Tags")?;
    checks.finish()?;
    let (name, auth_mode) = (name.unwrap_or_default(), auth_mode.unwrap_or_default());

    if let Some(quota) = store.domain_quota
        && store.domains.len() >= quota
    {
        let used = store.domains.len();
        return Err(ApiError::limit_exceeded(format!(
            "The account-level service limit 'Total domains' is {quota} Domains, with current utilization of {used} Domains and a request delta of 1 Domains. Please use AWS Service Quotas to request an increase for this quota."
        )));
    }
    if let Some(existing) = store.domains.values().find(|d| store.unique_domain_names && d.name == name) {
        return Err(ApiError::in_use(format!("Domain '{name}' already exists: {}", existing.meta.arn)));
    }
    let id = format!("d-{}", random_lower_alnum(12));
    let arn = store.arn(&format!("domain/{id}"));
    let url = format!("https://{id}.studio.{}.sagemaker.aws", store.region);
    let hooks = store.hooks.clone();
    // The application first: without an Identity Center instance nothing is made.
    let sso_application = match (&hooks, auth_mode) {
        (Some(hooks), "SSO") => Some(hooks.create_sso_application(&id, name).map_err(ApiError::validation)?),
        _ => None,
    };
    let home_efs_id = match &hooks {
        // No home EFS (nor its NFS security groups and mount targets) for a Disabled domain.
        _ if opt_str(body, "HomeEfsFileSystemCreation")? == Some("Disabled") => String::new(),
        Some(hooks) => {
            let vpc = opt_str(body, "VpcId")?.unwrap_or_default();
            let subnets = opt_str_list(body, "SubnetIds")?.unwrap_or_default();
            let subnets: Vec<String> = subnets.iter().map(|s| s.to_string()).collect();
            hooks.create_home_efs(&id, &arn, vpc, &subnets)
        }
        None => format!("fs-{}", random_hex(17)),
    };

    let mut attrs = Body::new();
    attrs.insert("AppNetworkAccessType".into(), json!("PublicInternetOnly"));
    attrs.insert("TagPropagation".into(), json!("DISABLED"));
    copy_members(
        &mut attrs,
        body,
        &[
            "VpcId",
            "SubnetIds",
            "AppNetworkAccessType",
            "AppSecurityGroupManagement",
            "DefaultUserSettings",
            "DomainSettings",
            "DefaultSpaceSettings",
            "KmsKeyId",
            "HomeEfsFileSystemKmsKeyId",
            "HomeEfsFileSystemCreation",
            "TagPropagation",
        ],
    );
    attrs.insert("Url".into(), json!(url));
    attrs.insert("SecurityGroupIdForDomainBoundary".into(), json!(format!("sg-{}", random_hex(17))));
    if auth_mode == "SSO" {
        let instance = random_hex(16);
        attrs.insert("SingleSignOnManagedApplicationInstanceId".into(), json!(format!("ins-{instance}")));
        let application = sso_application.unwrap_or_else(|| format!("arn:aws:sso::{}:application/ssoins-{instance}/apl-{}", store.account_id, random_hex(16)));
        attrs.insert("SingleSignOnApplicationArn".into(), json!(application));
    }

    let meta = store.new_meta(arn.clone(), ResourceKind::Domain);
    if !home_efs_id.is_empty() {
        store.efs.insert(home_efs_id.clone(), "Available");
    }
    store.set_tags(&arn, tags);
    store
        .domains
        .insert(id.clone(), Domain { meta, id: id.clone(), name: name.to_string(), auth_mode: auth_mode.to_string(), home_efs_id, attrs, retention: None });
    Ok(json!({ "DomainArn": arn, "DomainId": id, "Url": url }))
}

pub(crate) fn describe_op(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let id = domain_id(&mut checks, body)?;
    checks.finish()?;
    Ok(describe(store.domain(id.unwrap_or_default())?))
}

pub(crate) fn update(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let id = domain_id(&mut checks, body)?;
    check_common(&mut checks, body)?;
    let settings_update = opt_obj(body, "DomainSettingsForUpdate")?;
    checks.finish()?;
    let id = id.unwrap_or_default();

    let domain = store.domain(id)?;
    check_status(&format!("Domain {id}"), &domain.meta.life, Intent::Update)?;
    // HomeEfsFileSystemCreation goes Disabled -> Enabled only.
    let home_efs_now = domain.attrs.get("HomeEfsFileSystemCreation").and_then(Value::as_str).unwrap_or("Enabled");
    let enables_home_efs = match opt_str(body, "HomeEfsFileSystemCreation")? {
        Some("Disabled") if home_efs_now != "Disabled" => {
            return Err(ApiError::validation(format!(
                "HomeEfsFileSystemCreation cannot be changed from Enabled to Disabled for domain {id}: only Disabled to Enabled is supported"
            )));
        }
        Some("Enabled") => home_efs_now == "Disabled",
        _ => false,
    };
    refuse_while_apps_run(store, domain, body, settings_update)?;
    let mut attrs = domain.attrs.clone();
    for key in ["DefaultUserSettings", "DefaultSpaceSettings"] {
        merge_member(&mut attrs, body, key);
    }
    if let Some(update) = settings_update {
        // DomainSettingsForUpdate updates DomainSettings; only its RStudio member is named differently.
        let mut update = update.clone();
        if let Some(rstudio) = update.remove("RStudioServerProDomainSettingsForUpdate") {
            update.insert("RStudioServerProDomainSettings".into(), rstudio);
        }
        merge(attrs.entry("DomainSettings").or_insert(json!({})), &Value::Object(update));
    }
    copy_members(
        &mut attrs,
        body,
        &["SubnetIds", "VpcId", "AppNetworkAccessType", "AppSecurityGroupManagement", "TagPropagation", "HomeEfsFileSystemCreation"],
    );

    let life = store.start(ResourceKind::Domain, Phase::Update);
    // Turned on: SageMaker makes the home EFS (and its NFS security groups) now.
    let new_home_efs = match (&store.hooks, enables_home_efs && !life.will_fail()) {
        (_, false) => None,
        (Some(hooks), true) => {
            let domain = store.domain(id)?;
            let vpc = domain.attrs.get("VpcId").and_then(Value::as_str).unwrap_or_default().to_string();
            let subnets: Vec<String> =
                domain.attrs.get("SubnetIds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
            Some(hooks.create_home_efs(id, &domain.meta.arn, &vpc, &subnets))
        }
        (None, true) => Some(format!("fs-{}", random_hex(17))),
    };
    if let Some(efs) = &new_home_efs {
        store.efs.insert(efs.clone(), "Available");
    }
    let Some(domain) = store.domains.get_mut(id) else {
        return Err(ApiError::not_found(id));
    };
    if let Some(efs) = new_home_efs {
        domain.home_efs_id = efs;
    }
    // A failing update leaves the settings as they were.
    if !life.will_fail() {
        domain.attrs = attrs;
    }
    domain.meta.life = life;
    domain.meta.modified = epoch_now();
    Ok(json!({ "DomainArn": domain.meta.arn }))
}

/// The UpdateDomain members SageMaker documents as changeable only while no app runs, and
/// the VpcOnly switch that needs the network in the same request.
fn refuse_while_apps_run(store: &Store, domain: &Domain, body: &Body, settings_update: Option<&Body>) -> ApiResult<()> {
    let stored = |key: &str| domain.attrs.get(key);
    let access = opt_str(body, "AppNetworkAccessType")?;
    let current_access = stored("AppNetworkAccessType").and_then(Value::as_str);
    if access == Some("VpcOnly") && current_access != Some("VpcOnly") && (body.get("VpcId").is_none() || body.get("SubnetIds").is_none()) {
        return Err(ApiError::validation("Switching AppNetworkAccessType to VpcOnly requires VpcId and SubnetIds in the same UpdateDomain request"));
    }
    let kept_subnets = |new: &[&str]| stored("SubnetIds").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).all(|s| new.contains(&s));
    let stored_settings = stored("DomainSettings");
    let identity = settings_update.and_then(|u| u.get("ExecutionRoleIdentityConfig"));
    let stored_identity = stored_settings.and_then(|s| s.get("ExecutionRoleIdentityConfig")).cloned().unwrap_or(json!("DISABLED"));
    // (what changes, app statuses that block it), as the UpdateDomain model documents them.
    let mut changes: Vec<(&str, &[&str])> = Vec::new();
    const RUNNING_OR_DELETING: &[&str] = &["InService", "Pending", "Deleting"];
    const RUNNING: &[&str] = &["InService", "Pending"];
    if access.is_some_and(|a| Some(a) != current_access) {
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

pub(crate) fn delete(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let id = domain_id(&mut checks, body)?;
    let retention = match opt_obj(body, "RetentionPolicy")? {
        Some(policy) => opt_str(policy, "HomeEfsFileSystem")?,
        None => None,
    };
    if let Some(r) = retention {
        checks.one_of("RetentionPolicy.HomeEfsFileSystem", r, &["Retain", "Delete"]);
    }
    checks.finish()?;
    let id = id.unwrap_or_default();

    let domain = store.domain(id)?;
    check_status(&format!("Domain {id}"), &domain.meta.life, Intent::Delete)?;
    let profiles: Vec<String> = store.profiles.values().filter(|p| p.domain_id == id).map(|p| p.name.clone()).collect();
    let spaces: Vec<String> = store.spaces.values().filter(|s| s.domain_id == id).map(|s| s.name.clone()).collect();
    let apps: Vec<String> = store.apps.values().filter(|a| a.key.domain_id == id && a.is_active()).map(|a| a.key.label()).collect();
    if !(profiles.is_empty() && spaces.is_empty() && apps.is_empty()) {
        return Err(ApiError::in_use(format!(
            "Domain {id} cannot be deleted: it still has user profiles {}, spaces {}, apps {}; delete them first",
            names(&profiles),
            names(&spaces),
            names(&apps)
        )));
    }

    let life = store.start(ResourceKind::Domain, Phase::Delete);
    let Some(domain) = store.domains.get_mut(id) else {
        return Err(ApiError::not_found(id));
    };
    domain.retention = Some(retention.unwrap_or("Retain").to_string());
    domain.meta.life = life;
    domain.meta.modified = epoch_now();
    Ok(json!({}))
}

pub(crate) fn list(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let max = checks.max_results(body, 1)?;
    checks.finish()?;
    let mut items: Vec<Item> = store
        .domains
        .values()
        .filter(|d| store.is_visible(&d.meta))
        .map(|d| Item {
            seq: d.meta.seq,
            created: d.meta.created,
            modified: d.meta.modified,
            name: d.name.clone(),
            value: json!({
                "DomainArn": d.meta.arn,
                "DomainId": d.id,
                "DomainName": d.name,
                "Status": d.meta.life.status,
                "CreationTime": d.meta.created,
                "LastModifiedTime": d.meta.modified,
                "Url": d.attrs.get("Url"),
            }),
        })
        .collect();
    items.sort_by_key(|i| i.seq);
    Ok(list_output("Domains", page(store, body, items, max)?))
}

pub(crate) fn presigned_url(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let id = domain_id(&mut checks, body)?;
    let profile = checks.required("UserProfileName", opt_str(body, "UserProfileName")?);
    if let Some(profile) = profile {
        checks.name("UserProfileName", profile);
    }
    let space = opt_str(body, "SpaceName")?;
    if let Some(space) = space {
        checks.name("SpaceName", space);
    }
    if let Some(expires) = opt_int(body, "ExpiresInSeconds")? {
        checks.range("ExpiresInSeconds", expires, 5, 300);
    }
    if let Some(session) = opt_int(body, "SessionExpirationDurationInSeconds")? {
        checks.range("SessionExpirationDurationInSeconds", session, 1800, 43200);
    }
    if let Some(landing) = opt_str(body, "LandingUri")? {
        checks.length("LandingUri", landing, 0, 1023);
    }
    checks.finish()?;
    let (id, profile) = (id.unwrap_or_default(), profile.unwrap_or_default());

    let domain = store.domain(id)?;
    if domain.auth_mode != "IAM" {
        return Err(ApiError::validation(format!(
            "CreatePresignedDomainUrl is only supported for domains with AuthMode IAM; domain {id} uses {}",
            domain.auth_mode
        )));
    }
    store.user_profile(id, profile)?;
    if let Some(space) = space {
        store.space(id, space)?;
    }
    let url = format!("https://{id}.studio.{}.sagemaker.aws/auth?token={}", store.region, random_lower_alnum(64));
    Ok(json!({ "AuthorizedUrl": url }))
}
