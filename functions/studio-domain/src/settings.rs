//! What UpdateDomain must send to turn the old properties into the new ones.
//!
//! UpdateDomain merges: a member left out keeps its value. So a setting removed from the
//! template must be sent explicitly emptied (e.g. `LifecycleConfigArns: []`), and members
//! that did not change are not sent at all (some, like SubnetIds or AppNetworkAccessType,
//! are refused while apps run). Settings are compared as JSON with the API's member names,
//! serialized by the SDK's own schema, so "60" and 60 compare equal.

use crate::properties::Properties;
use aws_sdk_sagemaker::types::{AppNetworkAccessType, AppSecurityGroupManagement, DefaultSpaceSettings, DomainSettingsForUpdate, TagPropagation, UserSettings};
use aws_smithy_schema::serde::SerializableStruct;
use custom_resource::Error;
use serde_json::{Map, Value};
use studio::api::{self, ApiShape, to_json};

/// The settings members of a set of properties, as JSON.
#[derive(Debug, Clone, Default)]
pub struct SettingsJson {
    pub default_user_settings: Option<Value>,
    pub default_space_settings: Option<Value>,
    pub domain_settings: Option<Value>,
}

/// The settings members as JSON with the API's member names, to compare and clear ([`crate::settings`]).
pub fn settings_json(p: &Properties) -> Result<SettingsJson, Error> {
    let json = |path: &str, shape: &dyn SerializableStruct| to_json(shape).map_err(|e| Error::new(format!("internal error: {path} cannot be serialized: {e}")));
    Ok(SettingsJson {
        default_user_settings: Some(json("DefaultUserSettings", &*p.default_user_settings)?),
        default_space_settings: p.default_space_settings.as_ref().map(|s| json("DefaultSpaceSettings", &**s)).transpose()?,
        domain_settings: p.domain_settings.as_ref().map(|s| json("DomainSettings", &**s)).transpose()?,
    })
}

/// The members of an UpdateDomain call; all None when nothing changes.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub default_user_settings: Option<UserSettings>,
    pub default_space_settings: Option<DefaultSpaceSettings>,
    pub domain_settings_for_update: Option<DomainSettingsForUpdate>,
    pub subnet_ids: Option<Vec<String>>,
    pub app_network_access_type: Option<AppNetworkAccessType>,
    pub app_security_group_management: Option<AppSecurityGroupManagement>,
    pub tag_propagation: Option<TagPropagation>,
}

impl Changes {
    /// `old` is None when the previous properties are unknown: then everything given is sent.
    pub fn between(new: &Properties, old: Option<&Properties>) -> Result<Changes, Error> {
        let new_json = settings_json(new)?;
        let old_json = old.map(settings_json).transpose()?;
        let old_json = old_json.as_ref();
        let changed = |new: Option<&String>, old: Option<&String>| match old {
            Some(_) => new != old,
            None => new.is_some(),
        };
        let with_default = |value: &Option<String>, default: &str| Some(value.clone().unwrap_or_else(|| default.to_string()));
        let network_default = AppNetworkAccessType::PublicInternetOnly.as_str();
        let propagation_default = TagPropagation::Disabled.as_str();
        Ok(Changes {
            default_user_settings: changed_shape(
                "DefaultUserSettings",
                new_json.default_user_settings.as_ref(),
                old_json.map(|o| o.default_user_settings.as_ref()),
            )?,
            default_space_settings: changed_shape(
                "DefaultSpaceSettings",
                new_json.default_space_settings.as_ref(),
                old_json.map(|o| o.default_space_settings.as_ref()),
            )?,
            domain_settings_for_update: changed_shape(
                "DomainSettings",
                new_json.domain_settings.map(for_update).as_ref(),
                old_json.map(|o| o.domain_settings.clone().map(for_update)).as_ref().map(Option::as_ref),
            )?,
            subnet_ids: match old {
                Some(old) if old.subnet_ids == new.subnet_ids => None,
                _ => Some(new.subnet_ids.clone()),
            },
            // A removed member means the API's default again.
            app_network_access_type: match old {
                Some(old) => changed(
                    with_default(&new.app_network_access_type, network_default).as_ref(),
                    with_default(&old.app_network_access_type, network_default).as_ref(),
                )
                .then(|| AppNetworkAccessType::from(new.app_network_access_type.as_deref().unwrap_or(network_default))),
                None => new.app_network_access_type.as_deref().map(AppNetworkAccessType::from),
            },
            tag_propagation: match old {
                Some(old) => {
                    changed(with_default(&new.tag_propagation, propagation_default).as_ref(), with_default(&old.tag_propagation, propagation_default).as_ref())
                        .then(|| TagPropagation::from(new.tag_propagation.as_deref().unwrap_or(propagation_default)))
                }
                None => new.tag_propagation.as_deref().map(TagPropagation::from),
            },
            // Has no default to return to: removing it leaves the domain as it is.
            app_security_group_management: changed(new.app_security_group_management.as_ref(), old.and_then(|o| o.app_security_group_management.as_ref()))
                .then(|| new.app_security_group_management.as_deref().map(AppSecurityGroupManagement::from))
                .flatten(),
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// The names of the members that change, for the log.
    pub fn members(&self) -> Vec<&'static str> {
        [
            ("DefaultUserSettings", self.default_user_settings.is_some()),
            ("DefaultSpaceSettings", self.default_space_settings.is_some()),
            ("DomainSettings", self.domain_settings_for_update.is_some()),
            ("SubnetIds", self.subnet_ids.is_some()),
            ("AppNetworkAccessType", self.app_network_access_type.is_some()),
            ("AppSecurityGroupManagement", self.app_security_group_management.is_some()),
            ("TagPropagation", self.tag_propagation.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}

/// DomainSettings as UpdateDomain takes them: the same members, RStudio's under another name.
fn for_update(mut settings: Value) -> Value {
    if let Some(members) = settings.as_object_mut()
        && let Some(rstudio) = members.remove("RStudioServerProDomainSettings")
    {
        members.insert("RStudioServerProDomainSettingsForUpdate".into(), rstudio);
    }
    settings
}

/// The value to send for a settings member, or None when it did not change. `old` is None
/// when the old properties are unknown, Some(None) when they did not have the member.
fn changed_shape<T: ApiShape>(path: &str, new: Option<&Value>, old: Option<Option<&Value>>) -> Result<Option<T>, Error> {
    let update = match old {
        Some(old) if old == new => return Ok(None),
        None => match new {
            Some(new) => new.clone(),
            None => return Ok(None),
        },
        Some(None) => new.cloned().unwrap_or_else(|| Value::Object(Map::new())),
        Some(Some(old)) => with_removals_cleared(new.unwrap_or(&Value::Object(Map::new())), old),
    };
    if update.as_object().is_some_and(Map::is_empty) {
        return Ok(None);
    }
    api::from_value(&update).map(Some).map_err(|e| Error::new(format!("internal error: {path}.{e}")))
}

/// `new`, plus an explicit empty value for each list (at any depth) that `old` had and `new`
/// lacks: UpdateDomain clears a list it is sent empty and keeps one it is not sent.
/// Removed scalars cannot be cleared that way and keep their value.
pub fn with_removals_cleared(new: &Value, old: &Value) -> Value {
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
    use serde_json::json;

    fn properties(changes: Value) -> Properties {
        let mut value = json!({
            "DomainName": "research",
            "AuthMode": "IAM",
            "VpcId": "vpc-1",
            "SubnetIds": ["subnet-1"],
            "DefaultUserSettings": {
                "ExecutionRole": "arn:aws:iam::123456789012:role/studio",
                "JupyterLabAppSettings": {
                    "LifecycleConfigArns": ["arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/a"],
                    "DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}
                }
            }
        });
        for (key, member) in changes.as_object().cloned().unwrap_or_default() {
            match member {
                Value::Null => value.as_object_mut().unwrap().remove(&key),
                member => value.as_object_mut().unwrap().insert(key, member),
            };
        }
        custom_resource::properties::parse(value.as_object().unwrap()).unwrap()
    }

    #[test]
    fn json_round_trip_uses_the_api_member_names() {
        let p = properties(json!({}));
        let json = to_json(&*p.default_user_settings).unwrap();
        assert_eq!(json["JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"], "ml.t3.medium");
    }

    #[test]
    fn nothing_changes_when_only_the_extras_or_number_spelling_change() {
        let old = properties(json!({"DefaultSpaceSettings": {"SpaceStorageSettings": {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": 5}}}}));
        let new = properties(json!({
            "DefaultSpaceSettings": {"SpaceStorageSettings": {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": "5"}}},
            "Tags": [{"Key": "a", "Value": "b"}], "ForceDelete": "true", "AllowReplacement": true
        }));
        assert!(Changes::between(&new, Some(&old)).unwrap().is_empty());
    }

    #[test]
    fn removed_lists_are_sent_empty() {
        let old = properties(json!({}));
        let new = properties(json!({"DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio"}}));
        let changes = Changes::between(&new, Some(&old)).unwrap();
        assert_eq!(changes.members(), ["DefaultUserSettings"]);
        let sent = to_json(changes.default_user_settings.as_ref().unwrap()).unwrap();
        assert_eq!(sent, json!({"ExecutionRole": "arn:aws:iam::123456789012:role/studio", "JupyterLabAppSettings": {"LifecycleConfigArns": []}}));
    }

    #[test]
    fn removed_settings_members_and_network_members_return_to_the_defaults() {
        let old = properties(json!({
            "DomainSettings": {"SecurityGroupIds": ["sg-1"], "RStudioServerProDomainSettings": {"DomainExecutionRoleArn": "arn:aws:iam::123456789012:role/r"}},
            "AppNetworkAccessType": "VpcOnly", "TagPropagation": "ENABLED", "SubnetIds": ["subnet-1", "subnet-2"]
        }));
        let new = properties(json!({}));
        let changes = Changes::between(&new, Some(&old)).unwrap();
        assert_eq!(to_json(changes.domain_settings_for_update.as_ref().unwrap()).unwrap(), json!({"SecurityGroupIds": []}));
        assert_eq!(changes.app_network_access_type, Some(AppNetworkAccessType::PublicInternetOnly));
        assert_eq!(changes.tag_propagation, Some(TagPropagation::Disabled));
        assert_eq!(changes.subnet_ids, Some(vec!["subnet-1".to_string()]));
        assert_eq!(changes.default_user_settings, None);
    }

    #[test]
    fn rstudio_settings_are_renamed_for_update() {
        let new = properties(json!({"DomainSettings": {"RStudioServerProDomainSettings": {"DomainExecutionRoleArn": "arn:aws:iam::123456789012:role/r"}}}));
        let changes = Changes::between(&new, Some(&properties(json!({})))).unwrap();
        let sent = changes.domain_settings_for_update.unwrap();
        assert_eq!(sent.r_studio_server_pro_domain_settings_for_update().and_then(|r| r.domain_execution_role_arn()), Some("arn:aws:iam::123456789012:role/r"));
    }

    #[test]
    fn unknown_old_properties_send_everything_given() {
        let new = properties(json!({}));
        let changes = Changes::between(&new, None).unwrap();
        assert_eq!(changes.members(), ["DefaultUserSettings", "SubnetIds"]);
    }
}
