//! CreateStudioLifecycleConfig, DescribeStudioLifecycleConfig, DeleteStudioLifecycleConfig,
//! ListStudioLifecycleConfigs. Configs have no status and no update API.

use super::{Item, list_output, names, page, sort};
use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::store::{LifecycleConfig, Store, epoch_now};
use crate::validate::{self, Body, Checks, SageMakerChecks, opt_str, opt_time};
use serde_json::{Value, json};

const APP_TYPES: &[&str] = &["JupyterServer", "KernelGateway", "JupyterLab", "CodeEditor"];

pub(crate) fn describe(c: &LifecycleConfig) -> Value {
    json!({
        "StudioLifecycleConfigArn": c.arn,
        "StudioLifecycleConfigName": c.name,
        "CreationTime": c.created,
        "LastModifiedTime": c.modified,
        "StudioLifecycleConfigContent": c.content,
        "StudioLifecycleConfigAppType": c.app_type,
    })
}

fn name<'a>(checks: &mut Checks, body: &'a Body) -> ApiResult<&'a str> {
    let name = checks.required("StudioLifecycleConfigName", opt_str(body, "StudioLifecycleConfigName")?);
    if let Some(name) = name {
        checks.name("StudioLifecycleConfigName", name);
    }
    Ok(name.unwrap_or_default())
}

fn get<'a>(store: &'a Store, name: &str) -> ApiResult<&'a LifecycleConfig> {
    store.configs.get(name).ok_or_else(|| ApiError::not_found(format!("Studio lifecycle config '{name}' does not exist")))
}

pub(crate) fn create(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let name = name(&mut checks, body)?;
    let content = checks.required("StudioLifecycleConfigContent", opt_str(body, "StudioLifecycleConfigContent")?);
    if let Some(content) = content {
        checks.length("StudioLifecycleConfigContent", content, 1, 16384);
    }
    let app_type = checks.required("StudioLifecycleConfigAppType", opt_str(body, "StudioLifecycleConfigAppType")?);
    if let Some(app_type) = app_type {
        checks.one_of("StudioLifecycleConfigAppType", app_type, APP_TYPES);
    }
    let tags = validate::tags(&mut checks, body, "Tags")?;
    checks.finish()?;

    if let Some(existing) = store.configs.get(name) {
        return Err(ApiError::in_use(format!("Studio lifecycle config '{name}' already exists: {}", existing.arn)));
    }
    let arn = store.arn(&format!("studio-lifecycle-config/{name}"));
    let now = epoch_now();
    let config = LifecycleConfig {
        seq: store.next_seq(),
        arn: arn.clone(),
        name: name.to_string(),
        content: content.unwrap_or_default().to_string(),
        app_type: app_type.unwrap_or_default().to_string(),
        created: now,
        modified: now,
    };
    store.set_tags(&arn, tags);
    store.configs.insert(name.to_string(), config);
    Ok(json!({ "StudioLifecycleConfigArn": arn }))
}

pub(crate) fn describe_op(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let name = name(&mut checks, body)?;
    checks.finish()?;
    Ok(describe(get(store, name)?))
}

/// Whether settings reference `arn`: any LifecycleConfigArns list, or a LifecycleConfigArn /
/// BuiltInLifecycleConfigArn member (DefaultResourceSpec, an app's ResourceSpec), at any depth.
fn references(value: &Value, arn: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, v)| match key.as_str() {
            "LifecycleConfigArn" | "BuiltInLifecycleConfigArn" => v.as_str() == Some(arn),
            "LifecycleConfigArns" => v.as_array().is_some_and(|list| list.iter().any(|a| a.as_str() == Some(arn))),
            _ => references(v, arn),
        }),
        Value::Array(items) => items.iter().any(|v| references(v, arn)),
        _ => false,
    }
}

/// ARNs of the domains, profiles, spaces and active apps whose settings use the config.
fn users(store: &Store, arn: &str) -> Vec<String> {
    let uses = |attrs: &Body| references(&Value::Object(attrs.clone()), arn);
    let domains = store.domains.values().filter(|d| uses(&d.attrs)).map(|d| d.meta.arn.clone());
    let profiles = store.profiles.values().filter(|p| uses(&p.attrs)).map(|p| p.meta.arn.clone());
    let spaces = store.spaces.values().filter(|s| uses(&s.attrs)).map(|s| s.meta.arn.clone());
    let apps = store.apps.values().filter(|a| a.is_active() && uses(&a.attrs)).map(|a| a.meta.arn.clone());
    domains.chain(profiles).chain(spaces).chain(apps).collect()
}

pub(crate) fn delete(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let name = name(&mut checks, body)?;
    checks.finish()?;

    let arn = get(store, name)?.arn.clone();
    let users = users(store, &arn);
    if !users.is_empty() {
        return Err(ApiError::in_use(format!("Studio lifecycle config {arn} is in use by {}; remove it from their settings first", names(&users))));
    }
    store.configs.remove(name);
    store.tags.remove(&arn);
    Ok(json!({}))
}

pub(crate) fn list(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let max = checks.max_results(body, 1)?;
    let name_filter = opt_str(body, "NameContains")?;
    if let Some(n) = name_filter {
        checks.length("NameContains", n, 0, 63);
    }
    let app_type = opt_str(body, "AppTypeEquals")?;
    if let Some(t) = app_type {
        checks.one_of("AppTypeEquals", t, APP_TYPES);
    }
    let created_before = opt_time(body, "CreationTimeBefore")?;
    let created_after = opt_time(body, "CreationTimeAfter")?;
    let modified_before = opt_time(body, "ModifiedTimeBefore")?;
    let modified_after = opt_time(body, "ModifiedTimeAfter")?;
    let mut items: Vec<Item> = store
        .configs
        .values()
        .filter(|c| name_filter.is_none_or(|n| c.name.contains(n)))
        .filter(|c| app_type.is_none_or(|t| c.app_type == t))
        .filter(|c| created_before.is_none_or(|t| c.created < t) && created_after.is_none_or(|t| c.created > t))
        .filter(|c| modified_before.is_none_or(|t| c.modified < t) && modified_after.is_none_or(|t| c.modified > t))
        .map(|c| Item {
            seq: c.seq,
            created: c.created,
            modified: c.modified,
            name: c.name.clone(),
            value: json!({
                "StudioLifecycleConfigArn": c.arn,
                "StudioLifecycleConfigName": c.name,
                "CreationTime": c.created,
                "LastModifiedTime": c.modified,
                "StudioLifecycleConfigAppType": c.app_type,
            }),
        })
        .collect();
    sort(&mut checks, body, &["CreationTime", "LastModifiedTime", "Name"], &mut items)?;
    checks.finish()?;
    Ok(list_output("StudioLifecycleConfigs", page(store, body, items, max)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_at_any_depth() {
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/x";
        assert!(references(&json!({"DefaultUserSettings": {"JupyterLabAppSettings": {"LifecycleConfigArns": [arn]}}}), arn));
        assert!(references(&json!({"SpaceSettings": {"KernelGatewayAppSettings": {"DefaultResourceSpec": {"LifecycleConfigArn": arn}}}}), arn));
        assert!(references(&json!({"ResourceSpec": {"LifecycleConfigArn": arn}}), arn));
        assert!(!references(&json!({"DefaultUserSettings": {"JupyterLabAppSettings": {"LifecycleConfigArns": []}}}), arn));
        assert!(!references(&json!({"Description": arn}), arn));
    }
}
