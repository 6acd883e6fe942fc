//! What an Update call must send to make a live resource (as its Describe shows it) what the
//! template says, for one settings member (UserSettings, SpaceSettings, ...).
//!
//! SageMaker's Update calls merge: a member left out keeps its value. So only what the live
//! resource does not have yet is sent, down to the changed sub-member, sent whole as the
//! template has it. The old template only answers "what did the template set before": a list it
//! had and the new one lacks is sent empty while the live resource still has it (an empty list
//! clears; a removed scalar keeps its value). Settings are compared as JSON with the API's
//! member names, serialized by the SDK's own schema, so "60" and 60 compare equal. A rollback to
//! what the resource already is sends nothing, and a change made outside the stack is undone.
//!
//! The domain function (its three settings members), the profile and space functions use it.

use crate::api::{self, ApiShape, to_json};
use aws_smithy_schema::serde::SerializableStruct;
use serde_json::{Map, Value};

/// A shape as JSON with the API's member names (None stays None).
pub fn as_json<T: SerializableStruct>(path: &str, shape: Option<&T>) -> Result<Option<Value>, String> {
    shape.map(|shape| to_json(shape).map_err(|e| format!("internal error: {path} cannot be serialized: {e}"))).transpose()
}

/// What to send for the settings member `path` (the template's `new`, the old template's `old`,
/// the live resource's `live`) and what changes in it, leaf by leaf (for logs and the Reason);
/// None when the live resource has it already. `fixed` names sub-members set at creation that the Update call
/// refuses (never compared, never sent).
pub fn shape_update<T: ApiShape + SerializableStruct>(
    path: &str,
    new: Option<&T>,
    old: Option<&T>,
    live: Option<&T>,
    fixed: &[&str],
) -> Result<Option<(T, Vec<Changed>)>, String> {
    let json = |shape: Option<&T>| -> Result<Option<Value>, String> {
        let mut value = as_json(path, shape)?;
        if let Some(Value::Object(members)) = value.as_mut() {
            members.retain(|name, _| !fixed.contains(&name.as_str()));
        }
        Ok(value)
    };
    let (new, old, live) = (json(new)?, json(old)?, json(live)?);
    let changed = changed(path, new.as_ref(), old.as_ref(), live.as_ref());
    Ok(update::<T>(path, new.as_ref(), old.as_ref(), live.as_ref())?.map(|update| (update, changed)))
}

/// The value to send for a settings member (`path` names it in errors), or None when the live
/// resource has it already. `new`, `old` and `live` are the member as JSON.
pub fn update<T: ApiShape>(path: &str, new: Option<&Value>, old: Option<&Value>, live: Option<&Value>) -> Result<Option<T>, String> {
    let update = update_of(new, old, live);
    if update.is_empty() {
        return Ok(None);
    }
    api::from_value(&Value::Object(update)).map(Some).map_err(|e| format!("internal error: {path}.{e}"))
}

/// The names of the sub-members [`update`] would send (for logs and Reasons).
pub fn changed_members(new: Option<&Value>, old: Option<&Value>, live: Option<&Value>) -> Vec<String> {
    update_of(new, old, live).into_iter().map(|(name, _)| name).collect()
}

/// One value an update changes: its full path (`UserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType`),
/// the live value it replaces and the value sent, and whether the live resource had drifted
/// there from the old template (changed outside the stack).
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub path: String,
    pub from: Option<Value>,
    pub to: Value,
    pub drift: bool,
}

impl Changed {
    /// "path (a -> b)" for scalars, "path" for lists and structures (their values are long).
    pub fn describe(&self) -> String {
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
            _ => None,
        };
        match (self.from.as_ref().map_or(Some("(unset)".to_string()), scalar), scalar(&self.to)) {
            (Some(from), Some(to)) => format!("{} ({} -> {})", self.path, shorten(&from), shorten(&to)),
            _ => self.path.clone(),
        }
    }
}

/// A value as a Reason shows it: at most 60 characters, the end kept (ARNs differ at their end).
fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    match value.char_indices().rev().nth(MAX - 1) {
        Some((at, _)) if at > 0 => format!("...{}", &value[at..]),
        _ => value.to_string(),
    }
}

/// What [`update_of`] changes in the member `path`, leaf by leaf: each scalar or list the live
/// resource does not hold yet (structures are entered), with `drift` where the old template set
/// a value the live resource no longer has.
pub fn changed(path: &str, new: Option<&Value>, old: Option<&Value>, live: Option<&Value>) -> Vec<Changed> {
    let mut out = Vec::new();
    leaves(path, &Value::Object(update_of(new, old, live)), old, live, &mut out);
    out
}

fn leaves(path: &str, sent: &Value, old: Option<&Value>, live: Option<&Value>, out: &mut Vec<Changed>) {
    match sent {
        Value::Object(members) => {
            for (name, value) in members {
                let (old, live) = (old.and_then(|v| v.get(name)), live.and_then(|v| v.get(name)));
                leaves(&format!("{path}.{name}"), value, old, live, out);
            }
        }
        _ if holds(live, sent) => {}
        _ => out.push(Changed { path: path.to_string(), from: live.cloned(), to: sent.clone(), drift: old.is_some_and(|old| !holds(live, old)) }),
    }
}

/// The sub-members of a settings member to send: each that `new` sets and `live` does not hold
/// yet, whole, with the lists `old` had in it sent empty; and each `old` set and `new` dropped
/// whose lists `live` still has, as empty lists.
pub fn update_of(new: Option<&Value>, old: Option<&Value>, live: Option<&Value>) -> Map<String, Value> {
    let member = |value: Option<&Value>, name: &str| value.and_then(|v| v.get(name)).cloned();
    let cleared = match old.and_then(|old| still_live_removals(new, old, live)) {
        Some(Value::Object(cleared)) => cleared,
        _ => Map::new(),
    };
    let mut update = Map::new();
    for (name, value) in new.and_then(Value::as_object).into_iter().flatten() {
        if holds(live.and_then(|l| l.get(name)), value) && !cleared.contains_key(name) {
            continue;
        }
        let sent = match member(old, name) {
            Some(old_value) => with_removals_cleared(value, &old_value),
            None => value.clone(),
        };
        update.insert(name.clone(), sent);
    }
    for (name, emptied) in cleared {
        update.entry(name).or_insert(emptied);
    }
    update
}

/// Whether `live` already has every value `new` sets (members `new` leaves out are not asked
/// about; a list nobody set and an empty one are the same).
pub fn holds(live: Option<&Value>, new: &Value) -> bool {
    match (new, live) {
        (Value::Object(members), live) => members.iter().all(|(name, value)| holds(live.and_then(|l| l.get(name)), value)),
        (Value::Array(items), Some(Value::Array(live_items))) => {
            items.len() == live_items.len() && items.iter().zip(live_items).all(|(item, live_item)| holds(Some(live_item), item))
        }
        (Value::Array(items), None) => items.is_empty(),
        (Value::Null, None) => true,
        (new, live) => live == Some(new),
    }
}

/// What clears the lists `old` had and `new` lacks that `live` still has: empty lists at their
/// paths, or None when there are none.
fn still_live_removals(new: Option<&Value>, old: &Value, live: Option<&Value>) -> Option<Value> {
    match (old, live) {
        (Value::Array(_), Some(Value::Array(items))) if new.is_none() && !items.is_empty() => Some(Value::Array(Vec::new())),
        (Value::Object(old), Some(Value::Object(live))) => {
            let cleared: Map<String, Value> = old
                .iter()
                .filter_map(|(name, old_value)| Some((name.clone(), still_live_removals(new.and_then(|n| n.get(name)), old_value, live.get(name))?)))
                .collect();
            (!cleared.is_empty()).then_some(Value::Object(cleared))
        }
        _ => None,
    }
}

/// `new`, plus an explicit empty value for each list (at any depth) that `old` had and `new`
/// lacks: the Update calls clear a list they are sent empty and keep one they are not sent.
fn with_removals_cleared(new: &Value, old: &Value) -> Value {
    match (new, old) {
        (Value::Object(new), Value::Object(old)) => {
            let mut out = Map::new();
            for (name, value) in new {
                let value = match old.get(name) {
                    Some(old_value) => with_removals_cleared(value, old_value),
                    None => value.clone(),
                };
                out.insert(name.clone(), value);
            }
            for (name, old_value) in old {
                if !new.contains_key(name)
                    && let Some(emptied) = emptied(old_value)
                {
                    out.insert(name.clone(), emptied);
                }
            }
            Value::Object(out)
        }
        _ => new.clone(),
    }
}

/// What clears `old`: an empty list, or an object of what clears its members.
fn emptied(old: &Value) -> Option<Value> {
    match old {
        Value::Array(_) => Some(Value::Array(Vec::new())),
        Value::Object(members) => {
            let cleared: Map<String, Value> = members.iter().filter_map(|(name, v)| emptied(v).map(|e| (name.clone(), e))).collect();
            (!cleared.is_empty()).then_some(Value::Object(cleared))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::UserSettings;
    use serde_json::json;

    fn settings(value: Value) -> Value {
        let shape: UserSettings = api::from_value(&value).unwrap();
        as_json("UserSettings", Some(&shape)).unwrap().unwrap()
    }

    #[test]
    fn fixed_members_are_never_compared_nor_sent() {
        use aws_sdk_sagemaker::types::SpaceSettings;
        let shape = |value: Value| -> SpaceSettings { api::from_value(&value).unwrap() };
        let live = shape(json!({"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 20}}}));
        let new = shape(json!({"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 50}}}));
        let (sent, members) = shape_update("SpaceSettings", Some(&new), Some(&live), Some(&live), &["AppType"]).unwrap().unwrap();
        let paths: Vec<&str> = members.iter().map(|c| c.path.as_str()).collect();
        assert_eq!((sent.app_type(), paths.as_slice()), (None, &["SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb"][..]));
        assert!(shape_update("SpaceSettings", Some(&live), Some(&new), Some(&live), &["AppType"]).unwrap().is_none(), "a rollback sends nothing");
    }

    #[test]
    fn only_the_changed_sub_member_is_sent_whole() {
        let live =
            settings(json!({"ExecutionRole": "arn:aws:iam::1:role/a", "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}}));
        let new =
            settings(json!({"ExecutionRole": "arn:aws:iam::1:role/a", "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.m5.large"}}}));
        let sent: UserSettings = update("UserSettings", Some(&new), Some(&live), Some(&live)).unwrap().unwrap();
        assert_eq!(sent.execution_role(), None, "the unchanged member is not sent");
        assert_eq!(
            sent.jupyter_lab_app_settings().and_then(|j| j.default_resource_spec()).and_then(|s| s.instance_type()).map(|t| t.as_str()),
            Some("ml.m5.large")
        );
        assert_eq!(changed_members(Some(&new), Some(&live), Some(&live)), ["JupyterLabAppSettings"]);
        let [leaf] = changed("UserSettings", Some(&new), Some(&live), Some(&live)).try_into().unwrap();
        assert_eq!(leaf.describe(), "UserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType (ml.t3.medium -> ml.m5.large)");
        assert!(!leaf.drift);
    }

    #[test]
    fn what_the_live_resource_is_already_sends_nothing_and_numbers_compare_as_numbers() {
        let live = settings(json!({"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": 60}}}}));
        let new = settings(json!({"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": "60"}}}}));
        let failed = settings(json!({"ExecutionRole": "arn:aws:iam::1:role/other"}));
        assert!(update::<UserSettings>("UserSettings", Some(&new), Some(&failed), Some(&live)).unwrap().is_none());
        // What SageMaker fills in and the template does not mention is left alone.
        let filled = settings(
            json!({"StudioWebPortal": "ENABLED", "JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": 60}}}}),
        );
        assert!(update_of(Some(&new), None, Some(&filled)).is_empty());
    }

    #[test]
    fn removed_lists_are_sent_empty_while_the_live_resource_has_them() {
        let old = settings(
            json!({"SecurityGroups": ["sg-1"], "JupyterLabAppSettings": {"LifecycleConfigArns": ["arn:aws:sagemaker:us-east-1:1:studio-lifecycle-config/a"]}}),
        );
        let new = settings(json!({}));
        assert_eq!(
            Value::Object(update_of(Some(&new), Some(&old), Some(&old))),
            json!({"SecurityGroups": [], "JupyterLabAppSettings": {"LifecycleConfigArns": []}})
        );
        assert!(update_of(Some(&new), Some(&old), Some(&new)).is_empty(), "already gone: nothing to send");
    }

    #[test]
    fn a_change_made_outside_the_stack_is_undone() {
        let template = settings(json!({"ExecutionRole": "arn:aws:iam::1:role/a"}));
        let drifted = settings(json!({"ExecutionRole": "arn:aws:iam::1:role/console"}));
        assert_eq!(Value::Object(update_of(Some(&template), Some(&template), Some(&drifted))), json!({"ExecutionRole": "arn:aws:iam::1:role/a"}));
        let [leaf] = changed("UserSettings", Some(&template), Some(&template), Some(&drifted)).try_into().unwrap();
        assert!(leaf.drift, "the live value is not what the old template set");
        assert_eq!(leaf.describe(), "UserSettings.ExecutionRole (arn:aws:iam::1:role/console -> arn:aws:iam::1:role/a)");
        // A value the old template did not set is not drift, and a long one keeps its end.
        let long = settings(json!({"ExecutionRole": format!("arn:aws:iam::123456789012:role/{}", "x".repeat(80))}));
        let [leaf] = changed("UserSettings", Some(&long), None, Some(&drifted)).try_into().unwrap();
        assert!(!leaf.drift && leaf.describe().contains("-> ...xxxx") && leaf.describe().len() < 140, "{}", leaf.describe());
    }
}
