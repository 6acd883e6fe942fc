//! AddTags, DeleteTags, ListTags: tags by resource ARN (also set by the Tags member of Create*).

use super::{Item, list_output, page};
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::validate::{self, Body, Checks, RESOURCE_ARN_PATTERN, SageMakerChecks, opt_str, opt_str_list, sagemaker_arn_resource};
use serde_json::{Value, json};

const MAX_TAGS: usize = 50;

/// The ResourceArn member, checked, of a resource that exists.
fn resource_arn<'a>(checks: &mut Checks, body: &'a Body) -> ApiResult<Option<&'a str>> {
    let arn = checks.required("ResourceArn", opt_str(body, "ResourceArn")?);
    if let Some(arn) = arn {
        checks.length("ResourceArn", arn, 0, 256);
        checks.pattern("ResourceArn", arn, sagemaker_arn_resource(arn).is_some(), RESOURCE_ARN_PATTERN);
    }
    Ok(arn)
}

fn ensure_exists(store: &Store, arn: &str) -> ApiResult<()> {
    if store.arn_exists(arn) { Ok(()) } else { Err(ApiError::validation(format!("Resource {arn} does not exist"))) }
}

pub(crate) fn add(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let arn = resource_arn(&mut checks, body)?;
    checks.required("Tags", body.get("Tags").filter(|v| !v.is_null()));
    let tags = validate::tags(&mut checks, body, "Tags")?;
    checks.finish()?;
    let arn = arn.unwrap_or_default();
    ensure_exists(store, arn)?;

    let existing = store.tags.get(arn).map(Vec::as_slice).unwrap_or_default();
    let new_keys = tags.iter().filter(|(k, _)| !existing.iter().any(|(e, _)| e == k)).count();
    if existing.len() + new_keys > MAX_TAGS {
        return Err(ApiError::validation(format!("Resource {arn} would have {} tags; a resource can have at most {MAX_TAGS}", existing.len() + new_keys)));
    }
    let echoed: Vec<Value> = tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    store.set_tags(arn, tags);
    Ok(json!({ "Tags": echoed }))
}

pub(crate) fn delete(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let arn = resource_arn(&mut checks, body)?;
    let keys = checks.required("TagKeys", opt_str_list(body, "TagKeys")?);
    if let Some(keys) = &keys {
        checks.count("TagKeys", keys, 1, 50);
        for (i, key) in keys.iter().enumerate() {
            checks.length(&format!("TagKeys.{}.member", i + 1), key, 1, 128);
        }
    }
    checks.finish()?;
    let arn = arn.unwrap_or_default();
    ensure_exists(store, arn)?;

    let keys = keys.unwrap_or_default();
    if let Some(tags) = store.tags.get_mut(arn) {
        tags.retain(|(k, _)| !keys.contains(&k.as_str()));
    }
    Ok(json!({}))
}

pub(crate) fn list(store: &mut Store, body: &Body) -> ApiResult<Value> {
    let mut checks = Checks::default();
    let arn = resource_arn(&mut checks, body)?;
    // ListTags pages hold 50 to 100 tags in the model.
    let max = checks.max_results(body, 50)?;
    checks.finish()?;
    let arn = arn.unwrap_or_default();
    ensure_exists(store, arn)?;

    let items: Vec<Item> = store
        .tags
        .get(arn)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Item { seq: i as u64, created: 0.0, modified: 0.0, name: k.clone(), value: json!({ "Key": k, "Value": v }) })
        .collect();
    Ok(list_output("Tags", page(store, body, items, max)?))
}
