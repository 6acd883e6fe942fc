//! The operations, one module per resource, and what they share: status rules, settings
//! merge, sorting and pagination.

pub(crate) mod app;
pub(crate) mod domain;
pub(crate) mod lifecycle_config;
pub(crate) mod space;
pub(crate) mod tags;
pub(crate) mod user_profile;

use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::store::{Lifecycle, Store};
use crate::validate::{Body, Checks, SageMakerChecks, opt_str};
use serde_json::{Map, Value, json};

pub(crate) fn dispatch(store: &mut Store, operation: &str, body: &Body) -> ApiResult<Value> {
    match operation {
        "CreateDomain" => domain::create(store, body),
        "DescribeDomain" => domain::describe_op(store, body),
        "UpdateDomain" => domain::update(store, body),
        "DeleteDomain" => domain::delete(store, body),
        "ListDomains" => domain::list(store, body),
        "CreatePresignedDomainUrl" => domain::presigned_url(store, body),
        "CreateUserProfile" => user_profile::create(store, body),
        "DescribeUserProfile" => user_profile::describe_op(store, body),
        "UpdateUserProfile" => user_profile::update(store, body),
        "DeleteUserProfile" => user_profile::delete(store, body),
        "ListUserProfiles" => user_profile::list(store, body),
        "CreateSpace" => space::create(store, body),
        "DescribeSpace" => space::describe_op(store, body),
        "UpdateSpace" => space::update(store, body),
        "DeleteSpace" => space::delete(store, body),
        "ListSpaces" => space::list(store, body),
        "CreateApp" => app::create(store, body),
        "DescribeApp" => app::describe_op(store, body),
        "DeleteApp" => app::delete(store, body),
        "ListApps" => app::list(store, body),
        "CreateStudioLifecycleConfig" => lifecycle_config::create(store, body),
        "DescribeStudioLifecycleConfig" => lifecycle_config::describe_op(store, body),
        "DeleteStudioLifecycleConfig" => lifecycle_config::delete(store, body),
        "ListStudioLifecycleConfigs" => lifecycle_config::list(store, body),
        "AddTags" => tags::add(store, body),
        "DeleteTags" => tags::delete(store, body),
        "ListTags" => tags::list(store, body),
        _ => Err(ApiError::unknown_operation(operation)),
    }
}

/// All state, as the Describe* operations show it (see `SageMakerEmulator::snapshot`); hidden
/// resources (visibility lag) included, so tests see what the account really holds.
pub(crate) fn snapshot(store: &Store) -> Value {
    let tags: Map<String, Value> = store
        .tags
        .iter()
        .map(|(arn, tags)| {
            let tags: Map<String, Value> = tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            (arn.clone(), Value::Object(tags))
        })
        .collect();
    json!({
        "domains": in_creation_order(store.domains.values().map(|d| (d.meta.seq, domain::describe(d)))),
        "profiles": in_creation_order(store.profiles.values().map(|p| (p.meta.seq, user_profile::describe(p)))),
        "spaces": in_creation_order(store.spaces.values().map(|s| (s.meta.seq, space::describe(s)))),
        "apps": in_creation_order(store.apps.values().map(|a| (a.meta.seq, app::describe(a)))),
        "configs": in_creation_order(store.configs.values().map(|c| (c.seq, lifecycle_config::describe(c)))),
        "tags": tags,
        "efs": store.efs,
    })
}

fn in_creation_order(items: impl Iterator<Item = (u64, Value)>) -> Vec<Value> {
    let mut items: Vec<(u64, Value)> = items.collect();
    items.sort_by_key(|(seq, _)| *seq);
    items.into_iter().map(|(_, v)| v).collect()
}

/// Reads and checks a required DomainId member.
pub(crate) fn domain_id<'a>(checks: &mut Checks, body: &'a Body) -> ApiResult<Option<&'a str>> {
    let id = checks.required("DomainId", opt_str(body, "DomainId")?);
    if let Some(id) = id {
        checks.domain_id("DomainId", id);
    }
    Ok(id)
}

/// DomainId and the name member (`SpaceName`, `UserProfileName`) of something in a domain,
/// both required.
pub(crate) fn domain_member_key<'a>(checks: &mut Checks, body: &'a Body, name_member: &'static str) -> ApiResult<(&'a str, &'a str)> {
    let id = domain_id(checks, body)?;
    let name = checks.required(name_member, opt_str(body, name_member)?);
    if let Some(name) = name {
        checks.name(name_member, name);
    }
    Ok((id.unwrap_or_default(), name.unwrap_or_default()))
}

/// Every AppType (Spaces and apps).
pub(crate) const APP_TYPES: &[&str] =
    &["JupyterServer", "KernelGateway", "DetailedProfiler", "TensorBoard", "CodeEditor", "JupyterLab", "RStudioServerPro", "RSessionGateway", "Canvas"];

/// Labels of the domain's apps in one of `statuses` (what blocks some UpdateDomain changes).
pub(crate) fn apps_in(store: &Store, domain_id: &str, statuses: &[&str]) -> Vec<String> {
    store.apps.values().filter(|a| a.key.domain_id == domain_id && statuses.contains(&a.meta.life.status)).map(|a| a.key.label()).collect()
}

/// What a request wants to do with a resource whose status is checked.
#[derive(Clone, Copy)]
pub(crate) enum Intent {
    Update,
    Delete,
    /// Create something inside it (a profile in a domain, an app in a space ...).
    Use,
}

/// SageMaker refuses to act on a resource it is still working on (ResourceInUse: retry later),
/// and refuses to update or build on one that failed (ValidationException: retrying won't help).
pub(crate) fn check_status(what: &str, life: &Lifecycle, intent: Intent) -> ApiResult<()> {
    let status = life.status;
    let verb = match intent {
        Intent::Update => "updated",
        Intent::Delete => "deleted",
        Intent::Use => "used",
    };
    if life.is_transitional() {
        return Err(ApiError::in_use(format!("{what} is in status {status} and cannot be {verb} until the operation in progress finishes")));
    }
    let allowed = match intent {
        Intent::Update => matches!(status, "InService" | "Update_Failed"),
        Intent::Delete => true,
        Intent::Use => status == "InService",
    };
    if allowed { Ok(()) } else { Err(ApiError::validation(format!("{what} is in status {status} and cannot be {verb}"))) }
}

/// Update semantics of the settings structures: objects merge member by member, any other
/// value (a list too, an empty list clears) replaces the stored one.
pub(crate) fn merge(stored: &mut Value, update: &Value) {
    match (stored, update) {
        (Value::Object(stored), Value::Object(update)) => {
            for (key, value) in update {
                match stored.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        stored.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (stored, update) => *stored = update.clone(),
    }
}

/// Merges `body[key]` into `attrs[key]`.
pub(crate) fn merge_member(attrs: &mut Body, body: &Body, key: &str) {
    if let Some(update) = body.get(key).filter(|v| !v.is_null()) {
        merge(attrs.entry(key.to_string()).or_insert(Value::Null), update);
    }
}

/// Copies the members that are present from the request into the stored attributes.
pub(crate) fn copy_members(attrs: &mut Body, body: &Body, keys: &[&str]) {
    for key in keys {
        if let Some(value) = body.get(*key).filter(|v| !v.is_null()) {
            attrs.insert(key.to_string(), value.clone());
        }
    }
}

/// One listed item: its creation sequence (the pagination cursor) and sort keys.
pub(crate) struct Item {
    pub seq: u64,
    pub created: f64,
    pub modified: f64,
    pub name: String,
    pub value: Value,
}

/// Validates SortBy/SortOrder and orders the items (default: CreationTime, Ascending).
pub(crate) fn sort(checks: &mut Checks, body: &Body, sort_keys: &[&str], items: &mut [Item]) -> ApiResult<()> {
    let sort_by = opt_str(body, "SortBy")?;
    let order = opt_str(body, "SortOrder")?;
    if let Some(s) = sort_by {
        checks.one_of("SortBy", s, sort_keys);
    }
    if let Some(o) = order {
        checks.one_of("SortOrder", o, &["Ascending", "Descending"]);
    }
    match sort_by {
        Some("LastModifiedTime") => items.sort_by(|a, b| a.modified.total_cmp(&b.modified).then(a.seq.cmp(&b.seq))),
        Some("Name") => items.sort_by(|a, b| a.name.cmp(&b.name).then(a.seq.cmp(&b.seq))),
        _ => items.sort_by(|a, b| a.created.total_cmp(&b.created).then(a.seq.cmp(&b.seq))),
    }
    if order == Some("Descending") {
        items.reverse();
    }
    Ok(())
}

/// One page of ordered items (the kit's paging, keyed by creation sequence). Pages hold at
/// most `min(MaxResults, page_size)` items.
pub(crate) fn page(store: &Store, body: &Body, items: Vec<Item>, max_results: Option<usize>) -> ApiResult<(Vec<Value>, Option<String>)> {
    let limit = max_results.unwrap_or(usize::MAX).min(store.page_size);
    let items = items.into_iter().map(|i| (i.seq, i.value)).collect();
    emulator_kit::paging::page(items, opt_str(body, "NextToken")?, limit).map_err(ApiError::validation)
}

/// `{ <key>: [...], "NextToken": ... }`
pub(crate) fn list_output(key: &str, (items, token): (Vec<Value>, Option<String>)) -> Value {
    let mut out = json!({ key: items });
    if let (Some(token), Some(map)) = (token, out.as_object_mut()) {
        map.insert("NextToken".into(), json!(token));
    }
    out
}

/// "[a, b]" for messages naming dependants.
pub(crate) fn names(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_lists_and_merges_objects() {
        let mut stored =
            json!({"ExecutionRole": "r1", "JupyterServerAppSettings": {"LifecycleConfigArns": ["a"], "DefaultResourceSpec": {"InstanceType": "system"}}});
        merge(&mut stored, &json!({"JupyterServerAppSettings": {"LifecycleConfigArns": []}}));
        assert_eq!(
            stored,
            json!({"ExecutionRole": "r1", "JupyterServerAppSettings": {"LifecycleConfigArns": [], "DefaultResourceSpec": {"InstanceType": "system"}}})
        );
    }
}
