//! What UpdateDomain must send to make the live domain (DescribeDomain) what the template says.
//!
//! UpdateDomain merges: a member left out keeps its value. So only what the live domain does
//! not have yet is sent, down to the changed sub-member (a change in DomainSettings.DockerSettings
//! does not re-send RStudioServerProDomainSettings, which SageMaker refuses while apps run); a
//! changed sub-member is sent whole, as the template has it. The old template only answers
//! "what did the template set before": a list it had and the new one lacks is sent empty while
//! the live domain still has it. Settings are compared as JSON with the API's member names,
//! serialized by the SDK's own schema, so "60" and 60 compare equal.

use crate::properties::Properties;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::types::{
    AppNetworkAccessType, AppSecurityGroupManagement, DefaultSpaceSettings, DomainSettingsForUpdate, HomeEfsFileSystemCreation, TagPropagation, UserSettings,
};
use aws_smithy_schema::serde::SerializableStruct;
use custom_resource::Error;
use serde_json::{Value, json};
use studio::api::{ApiShape, to_json};
use studio::live_diff::{self, Changed};

/// The settings members, as JSON with the API's member names.
#[derive(Debug, Default)]
struct SettingsJson {
    default_user_settings: Option<Value>,
    default_space_settings: Option<Value>,
    domain_settings: Option<Value>,
}

fn as_json(path: &str, shape: Option<&dyn SerializableStruct>) -> Result<Option<Value>, Error> {
    shape.map(|shape| to_json(shape).map_err(|e| Error::new(format!("internal error: {path} cannot be serialized: {e}")))).transpose()
}

impl SettingsJson {
    fn of_template(p: &Properties) -> Result<Self, Error> {
        Ok(SettingsJson {
            default_user_settings: as_json("DefaultUserSettings", Some(&*p.default_user_settings as &dyn SerializableStruct))?,
            default_space_settings: as_json("DefaultSpaceSettings", p.default_space_settings.as_ref().map(|s| &**s as &dyn SerializableStruct))?,
            domain_settings: as_json("DomainSettings", p.domain_settings.as_ref().map(|s| &**s as &dyn SerializableStruct))?,
        })
    }

    fn of_live(domain: &DescribeDomainOutput) -> Result<Self, Error> {
        let mut domain_settings = as_json("DomainSettings", domain.domain_settings().map(|s| s as &dyn SerializableStruct))?.unwrap_or_else(|| json!({}));
        // DescribeDomain may leave out what is at its default.
        if let Some(members) = domain_settings.as_object_mut() {
            members.entry("ExecutionRoleIdentityConfig").or_insert(json!("DISABLED"));
        }
        Ok(SettingsJson {
            default_user_settings: as_json("DefaultUserSettings", domain.default_user_settings().map(|s| s as &dyn SerializableStruct))?,
            default_space_settings: as_json("DefaultSpaceSettings", domain.default_space_settings().map(|s| s as &dyn SerializableStruct))?,
            domain_settings: Some(domain_settings),
        })
    }
}

/// The members of an UpdateDomain call; all None when nothing changes.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub default_user_settings: Option<UserSettings>,
    pub default_space_settings: Option<DefaultSpaceSettings>,
    pub domain_settings_for_update: Option<DomainSettingsForUpdate>,
    pub subnet_ids: Option<Vec<String>>,
    pub vpc_id: Option<String>,
    pub app_network_access_type: Option<AppNetworkAccessType>,
    pub app_security_group_management: Option<AppSecurityGroupManagement>,
    pub tag_propagation: Option<TagPropagation>,
    /// Only ever Enabled: SageMaker turns a home EFS on in place, never off.
    pub home_efs_file_system_creation: Option<HomeEfsFileSystemCreation>,
    /// Subnets the live domain has that the template drops (refused while apps run).
    removed_subnets: Vec<String>,
    /// What changes, leaf by leaf, with the drift it puts back: for the Reason.
    pub changed: Vec<Changed>,
}

/// Whether the live domain has its home EFS turned on: HomeEfsFileSystemCreation as
/// DescribeDomain reports it, or (when it leaves the member out) whether it names a home EFS.
pub fn home_efs_enabled(domain: &DescribeDomainOutput) -> bool {
    match domain.home_efs_file_system_creation() {
        Some(creation) => *creation != HomeEfsFileSystemCreation::Disabled,
        None => domain.home_efs_file_system_id().is_some_and(|id| !id.is_empty()),
    }
}

impl Changes {
    /// What turns the `live` domain into `new`. `old` (the previous template, None when unknown)
    /// only tells which members the template stopped setting.
    pub fn between(new: &Properties, old: Option<&Properties>, live: &DescribeDomainOutput) -> Result<Changes, Error> {
        let (new_json, live_json) = (SettingsJson::of_template(new)?, SettingsJson::of_live(live)?);
        let old_json = old.map(SettingsJson::of_template).transpose()?.unwrap_or_default();
        // A member the old template set and the new one does not returns to the API's default.
        let wanted = |new: &Option<String>, old: Option<&Option<String>>, default: &str| {
            new.clone().or_else(|| old.and_then(Option::as_ref).map(|_| default.to_string()))
        };
        let differs = |wanted: Option<String>, live: Option<&str>| wanted.filter(|w| Some(w.as_str()) != live);
        let app_network_access_type = differs(
            wanted(&new.app_network_access_type, old.map(|o| &o.app_network_access_type), AppNetworkAccessType::PublicInternetOnly.as_str()),
            // The API's default when DescribeDomain leaves it out.
            Some(live.app_network_access_type().unwrap_or(&AppNetworkAccessType::PublicInternetOnly).as_str()),
        )
        .map(|a| AppNetworkAccessType::from(a.as_str()));
        let tag_propagation = differs(
            wanted(&new.tag_propagation, old.map(|o| &o.tag_propagation), TagPropagation::Disabled.as_str()),
            Some(live.tag_propagation().unwrap_or(&TagPropagation::Disabled).as_str()),
        )
        .map(|t| TagPropagation::from(t.as_str()));
        // Has no default to return to: removing it leaves the domain as it is.
        let app_security_group_management = differs(new.app_security_group_management.clone(), live.app_security_group_management().map(|m| m.as_str()))
            .map(|m| AppSecurityGroupManagement::from(m.as_str()));
        let same_subnets = {
            let (mut wanted, mut live) = (new.subnet_ids.clone(), live.subnet_ids().to_vec());
            wanted.sort();
            live.sort();
            wanted == live
        };
        // Disabled -> Enabled only; the other way needs a new domain (Properties::replaced_members).
        let efs_wanted = wanted(&new.home_efs_file_system_creation, old.map(|o| &o.home_efs_file_system_creation), HomeEfsFileSystemCreation::Enabled.as_str());
        let home_efs_file_system_creation = (efs_wanted.as_deref() == Some(HomeEfsFileSystemCreation::Enabled.as_str()) && !home_efs_enabled(live))
            .then_some(HomeEfsFileSystemCreation::Enabled);
        // UpdateDomain refuses VpcOnly without the network in the same request.
        let to_vpc_only = app_network_access_type == Some(AppNetworkAccessType::VpcOnly);
        let mut changed = Vec::new();
        for (path, new, old, live) in [
            ("DefaultUserSettings", &new_json.default_user_settings, &old_json.default_user_settings, &live_json.default_user_settings),
            ("DefaultSpaceSettings", &new_json.default_space_settings, &old_json.default_space_settings, &live_json.default_space_settings),
            ("DomainSettings", &new_json.domain_settings, &old_json.domain_settings, &live_json.domain_settings),
        ] {
            changed.extend(live_diff::changed(path, new.as_ref(), old.as_ref(), live.as_ref()));
        }
        let scalar = |path: &str, sent: Option<&str>, old: Option<&Option<String>>, live: Option<&str>| {
            sent.map(|to| Changed {
                path: path.to_string(),
                from: live.map(|l| json!(l)),
                to: json!(to),
                drift: old.and_then(Option::as_deref).is_some_and(|old| Some(old) != live),
            })
        };
        // (member, what is sent, what the old template set, what the live domain has)
        let scalars = [
            (
                "AppNetworkAccessType",
                app_network_access_type.as_ref().map(|a| a.as_str()),
                old.map(|o| &o.app_network_access_type),
                live.app_network_access_type().map(|a| a.as_str()),
            ),
            (
                "AppSecurityGroupManagement",
                app_security_group_management.as_ref().map(|a| a.as_str()),
                old.map(|o| &o.app_security_group_management),
                live.app_security_group_management().map(|a| a.as_str()),
            ),
            ("TagPropagation", tag_propagation.as_ref().map(|t| t.as_str()), old.map(|o| &o.tag_propagation), live.tag_propagation().map(|t| t.as_str())),
            (
                "HomeEfsFileSystemCreation",
                home_efs_file_system_creation.as_ref().map(|h| h.as_str()),
                old.map(|o| &o.home_efs_file_system_creation),
                live.home_efs_file_system_creation().map(|h| h.as_str()),
            ),
        ];
        changed.extend(scalars.into_iter().filter_map(|(path, sent, old, live)| scalar(path, sent, old, live)));
        if !same_subnets {
            let sorted = |mut ids: Vec<String>| {
                ids.sort();
                ids
            };
            changed.push(Changed {
                path: "SubnetIds".to_string(),
                from: Some(json!(live.subnet_ids())),
                to: json!(new.subnet_ids),
                drift: old.is_some_and(|o| sorted(o.subnet_ids.clone()) != sorted(live.subnet_ids().to_vec())),
            });
        }
        Ok(Changes {
            changed,
            default_user_settings: settings_update(
                "DefaultUserSettings",
                new_json.default_user_settings.as_ref(),
                old_json.default_user_settings.as_ref(),
                live_json.default_user_settings.as_ref(),
            )?,
            default_space_settings: settings_update(
                "DefaultSpaceSettings",
                new_json.default_space_settings.as_ref(),
                old_json.default_space_settings.as_ref(),
                live_json.default_space_settings.as_ref(),
            )?,
            domain_settings_for_update: settings_update::<DomainSettingsForUpdate>(
                "DomainSettings",
                new_json.domain_settings.map(for_update).as_ref(),
                old_json.domain_settings.map(for_update).as_ref(),
                live_json.domain_settings.map(for_update).as_ref(),
            )?,
            subnet_ids: (!same_subnets || to_vpc_only).then(|| new.subnet_ids.clone()),
            vpc_id: to_vpc_only.then(|| new.vpc_id.clone()),
            removed_subnets: live.subnet_ids().iter().filter(|s| !new.subnet_ids.contains(s)).cloned().collect(),
            app_network_access_type,
            app_security_group_management,
            tag_propagation,
            home_efs_file_system_creation,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// The names of the members that change, for the log.
    pub fn members(&self) -> Vec<&'static str> {
        [
            ("DefaultUserSettings", self.default_user_settings.is_some()),
            ("DefaultSpaceSettings", self.default_space_settings.is_some()),
            ("DomainSettings", self.domain_settings_for_update.is_some()),
            ("SubnetIds", self.subnet_ids.is_some()),
            ("VpcId", self.vpc_id.is_some()),
            ("AppNetworkAccessType", self.app_network_access_type.is_some()),
            ("AppSecurityGroupManagement", self.app_security_group_management.is_some()),
            ("TagPropagation", self.tag_propagation.is_some()),
            ("HomeEfsFileSystemCreation", self.home_efs_file_system_creation.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }

    /// What this update changes that SageMaker refuses while apps run (background.md): the
    /// network access type, removing subnets, the execution role identity, RStudio's settings
    /// (refused when sent at all, changed or not).
    pub fn refused_while_apps_run(&self) -> Vec<String> {
        let settings = self.domain_settings_for_update.as_ref();
        let mut refused = Vec::new();
        if self.app_network_access_type.is_some() {
            refused.push("AppNetworkAccessType".to_string());
        }
        if self.subnet_ids.is_some() && !self.removed_subnets.is_empty() {
            refused.push(format!("SubnetIds (removing {})", self.removed_subnets.join(", ")));
        }
        if settings.is_some_and(|s| s.execution_role_identity_config().is_some()) {
            refused.push("DomainSettings.ExecutionRoleIdentityConfig".to_string());
        }
        if settings.is_some_and(|s| s.r_studio_server_pro_domain_settings_for_update().is_some()) {
            refused.push("DomainSettings.RStudioServerProDomainSettings".to_string());
        }
        refused
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

/// The value to send for a settings member, or None when the live domain has it already (the
/// rules the profile and space functions follow too: `studio::live_diff`).
fn settings_update<T: ApiShape>(path: &str, new: Option<&Value>, old: Option<&Value>, live: Option<&Value>) -> Result<Option<T>, Error> {
    live_diff::update(path, new, old, live).map_err(Error::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::{DomainSettings, ExecutionRoleIdentityConfig};

    const RSTUDIO: &str = "arn:aws:iam::123456789012:role/r";

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

    /// The domain as DescribeDomain shows it after a Create from `p`, with SageMaker's defaults.
    fn live(p: &Properties) -> DescribeDomainOutput {
        DescribeDomainOutput::builder()
            .domain_id("d-abc123")
            .vpc_id(&p.vpc_id)
            .set_subnet_ids(Some(p.subnet_ids.clone()))
            .app_network_access_type(AppNetworkAccessType::from(p.app_network_access_type.as_deref().unwrap_or("PublicInternetOnly")))
            .tag_propagation(TagPropagation::from(p.tag_propagation.as_deref().unwrap_or("DISABLED")))
            .set_app_security_group_management(p.app_security_group_management.as_deref().map(AppSecurityGroupManagement::from))
            .default_user_settings(p.default_user_settings.0.clone())
            .set_default_space_settings(p.default_space_settings.as_ref().map(|s| s.0.clone()))
            .set_domain_settings(p.domain_settings.as_ref().map(|s| s.0.clone()))
            .build()
    }

    fn sent<T: SerializableStruct>(shape: Option<&T>) -> Value {
        to_json(shape.expect("sent")).unwrap()
    }

    #[test]
    fn json_round_trip_uses_the_api_member_names() {
        let p = properties(json!({}));
        let json = to_json(&*p.default_user_settings).unwrap();
        assert_eq!(json["JupyterLabAppSettings"]["DefaultResourceSpec"]["InstanceType"], "ml.t3.medium");
    }

    #[test]
    fn a_rollback_to_what_the_domain_is_sends_nothing() {
        // The failed update's template had other settings everywhere; the domain kept the old ones.
        let domain = properties(json!({"DefaultSpaceSettings": {"SpaceStorageSettings": {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": 5}}}}));
        let failed = properties(json!({
            "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/other"},
            "AppNetworkAccessType": "VpcOnly", "TagPropagation": "ENABLED", "SubnetIds": ["subnet-2"],
            "DomainSettings": {"RStudioServerProDomainSettings": {"DomainExecutionRoleArn": RSTUDIO}}
        }));
        let rollback = properties(json!({
            "DefaultSpaceSettings": {"SpaceStorageSettings": {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": "5"}}},
            "Tags": [{"Key": "a", "Value": "b"}], "ForceDelete": "true", "AllowReplacement": true
        }));
        let changes = Changes::between(&rollback, Some(&failed), &live(&domain)).unwrap();
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn a_changed_domain_settings_member_is_sent_without_the_others() {
        let old = properties(json!({"DomainSettings": {
            "DockerSettings": {"EnableDockerAccess": "DISABLED"},
            "RStudioServerProDomainSettings": {"DomainExecutionRoleArn": RSTUDIO},
            "SecurityGroupIds": ["sg-1"]
        }}));
        let mut new_value = json!({"DomainSettings": {
            "DockerSettings": {"EnableDockerAccess": "ENABLED"},
            "RStudioServerProDomainSettings": {"DomainExecutionRoleArn": RSTUDIO},
            "SecurityGroupIds": ["sg-1"]
        }});
        let new = properties(new_value.clone());
        let changes = Changes::between(&new, Some(&old), &live(&old)).unwrap();
        assert_eq!(changes.members(), ["DomainSettings"]);
        assert_eq!(sent(changes.domain_settings_for_update.as_ref()), json!({"DockerSettings": {"EnableDockerAccess": "ENABLED"}}));
        assert!(changes.refused_while_apps_run().is_empty());

        // A change inside RStudio's settings sends them whole (DomainExecutionRoleArn is required), and is refused while apps run.
        new_value["DomainSettings"]["RStudioServerProDomainSettings"]["DefaultResourceSpec"] = json!({"InstanceType": "system"});
        let changes = Changes::between(&properties(new_value), Some(&old), &live(&old)).unwrap();
        let update = sent(changes.domain_settings_for_update.as_ref());
        assert_eq!(
            update["RStudioServerProDomainSettingsForUpdate"],
            json!({"DomainExecutionRoleArn": RSTUDIO, "DefaultResourceSpec": {"InstanceType": "system"}})
        );
        assert_eq!(changes.refused_while_apps_run(), ["DomainSettings.RStudioServerProDomainSettings"]);
    }

    #[test]
    fn what_sagemaker_fills_in_and_the_template_does_not_mention_is_left_alone() {
        let p = properties(json!({}));
        let mut settings = p.default_user_settings.0.clone();
        settings.studio_web_portal = Some(aws_sdk_sagemaker::types::StudioWebPortal::Enabled);
        let domain = DescribeDomainOutput::builder()
            .vpc_id("vpc-1")
            .subnet_ids("subnet-1")
            .app_network_access_type(AppNetworkAccessType::PublicInternetOnly)
            .default_user_settings(settings)
            .domain_settings(DomainSettings::builder().execution_role_identity_config(ExecutionRoleIdentityConfig::Disabled).build())
            .build();
        assert!(Changes::between(&p, Some(&p), &domain).unwrap().is_empty());
        assert!(Changes::between(&p, None, &domain).unwrap().is_empty());
    }

    #[test]
    fn a_change_made_outside_the_template_is_undone() {
        let p = properties(json!({}));
        let drifted = properties(json!({"DefaultUserSettings": {
            "ExecutionRole": "arn:aws:iam::123456789012:role/studio",
            "JupyterLabAppSettings": {
                "LifecycleConfigArns": ["arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/a"],
                "DefaultResourceSpec": {"InstanceType": "ml.m5.large"}
            }
        }}));
        let changes = Changes::between(&p, Some(&p), &live(&drifted)).unwrap();
        assert_eq!(
            sent(changes.default_user_settings.as_ref()),
            json!({"JupyterLabAppSettings": to_json(p.default_user_settings.jupyter_lab_app_settings().unwrap()).unwrap()})
        );
        // The Reason names each changed leaf as drift put back, with the live value it replaces.
        let drift: Vec<String> = changes.changed.iter().filter(|c| c.drift).map(Changed::describe).collect();
        assert_eq!(drift, ["DefaultUserSettings.JupyterLabAppSettings.DefaultResourceSpec.InstanceType (ml.m5.large -> ml.t3.medium)"]);
        let fresh = Changes::between(&p, None, &live(&drifted)).unwrap();
        assert!(!fresh.changed.is_empty() && fresh.changed.iter().all(|c| !c.drift), "without the old template nothing is drift");
    }

    #[test]
    fn removed_lists_are_sent_empty_while_the_domain_has_them() {
        let old = properties(json!({}));
        let new = properties(json!({"DefaultUserSettings": {
            "ExecutionRole": "arn:aws:iam::123456789012:role/studio",
            "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}
        }}));
        let changes = Changes::between(&new, Some(&old), &live(&old)).unwrap();
        assert_eq!(changes.members(), ["DefaultUserSettings"]);
        assert_eq!(
            sent(changes.default_user_settings.as_ref()),
            json!({"JupyterLabAppSettings": {"LifecycleConfigArns": [], "DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}}})
        );
        // A whole sub-member removed: only its lists can be cleared.
        let bare = properties(json!({"DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio"}}));
        let changes = Changes::between(&bare, Some(&old), &live(&old)).unwrap();
        assert_eq!(sent(changes.default_user_settings.as_ref()), json!({"JupyterLabAppSettings": {"LifecycleConfigArns": []}}));
        // The domain has no such list any more: nothing to send.
        assert!(Changes::between(&new, Some(&old), &live(&new)).unwrap().is_empty());
    }

    #[test]
    fn removed_network_members_return_to_the_defaults() {
        let old = properties(json!({
            "DomainSettings": {"SecurityGroupIds": ["sg-1"]},
            "AppNetworkAccessType": "VpcOnly", "TagPropagation": "ENABLED", "SubnetIds": ["subnet-1", "subnet-2"]
        }));
        let new = properties(json!({}));
        let changes = Changes::between(&new, Some(&old), &live(&old)).unwrap();
        assert_eq!(sent(changes.domain_settings_for_update.as_ref()), json!({"SecurityGroupIds": []}));
        assert_eq!(changes.app_network_access_type, Some(AppNetworkAccessType::PublicInternetOnly));
        assert_eq!(changes.tag_propagation, Some(TagPropagation::Disabled));
        assert_eq!(changes.subnet_ids, Some(vec!["subnet-1".to_string()]));
        assert_eq!((changes.default_user_settings.as_ref(), changes.vpc_id.as_ref()), (None, None));
        assert_eq!(changes.refused_while_apps_run(), ["AppNetworkAccessType", "SubnetIds (removing subnet-2)"]);
        // Without the old template nobody knows they were set: the domain keeps them.
        assert_eq!(Changes::between(&new, None, &live(&old)).unwrap().members(), ["SubnetIds"]);
    }

    #[test]
    fn vpc_only_is_sent_with_the_vpc_and_its_subnets() {
        let old = properties(json!({}));
        let new = properties(json!({"AppNetworkAccessType": "VpcOnly"}));
        let changes = Changes::between(&new, Some(&old), &live(&old)).unwrap();
        assert_eq!(changes.members(), ["SubnetIds", "VpcId", "AppNetworkAccessType"]);
        assert_eq!((changes.subnet_ids.as_deref(), changes.vpc_id.as_deref()), (Some(&["subnet-1".to_string()][..]), Some("vpc-1")));
        assert_eq!(changes.refused_while_apps_run(), ["AppNetworkAccessType"]);
        // Adding a subnet alone is allowed while apps run.
        let more = properties(json!({"SubnetIds": ["subnet-2", "subnet-1"]}));
        let changes = Changes::between(&more, Some(&old), &live(&old)).unwrap();
        assert_eq!((changes.members(), changes.refused_while_apps_run()), (vec!["SubnetIds"], Vec::<String>::new()));
        assert!(
            Changes::between(&more, Some(&old), &live(&properties(json!({"SubnetIds": ["subnet-1", "subnet-2"]})))).unwrap().is_empty(),
            "order does not matter"
        );
    }

    #[test]
    fn an_execution_role_identity_change_is_refused_while_apps_run() {
        let old = properties(json!({}));
        let new = properties(json!({"DomainSettings": {"ExecutionRoleIdentityConfig": "USER_PROFILE_NAME"}}));
        let changes = Changes::between(&new, Some(&old), &live(&old)).unwrap();
        assert_eq!(changes.refused_while_apps_run(), ["DomainSettings.ExecutionRoleIdentityConfig"]);
        // DescribeDomain leaving it out means DISABLED.
        let disabled = properties(json!({"DomainSettings": {"ExecutionRoleIdentityConfig": "DISABLED"}}));
        assert!(Changes::between(&disabled, Some(&old), &live(&old)).unwrap().is_empty());
    }

    #[test]
    fn a_home_efs_is_turned_on_in_place_and_never_off() {
        let disabled = properties(json!({"HomeEfsFileSystemCreation": "Disabled"}));
        let mut live_disabled = live(&disabled);
        live_disabled.home_efs_file_system_creation = Some(HomeEfsFileSystemCreation::Disabled);
        let enabled = properties(json!({"HomeEfsFileSystemCreation": "Enabled"}));
        let changes = Changes::between(&enabled, Some(&disabled), &live_disabled).unwrap();
        assert_eq!(
            (changes.members(), changes.home_efs_file_system_creation.clone()),
            (vec!["HomeEfsFileSystemCreation"], Some(HomeEfsFileSystemCreation::Enabled))
        );
        assert!(changes.refused_while_apps_run().is_empty());
        // Removed from the template: back to the API's default, Enabled.
        let unset = properties(json!({}));
        assert_eq!(Changes::between(&unset, Some(&disabled), &live_disabled).unwrap().members(), ["HomeEfsFileSystemCreation"]);
        assert!(Changes::between(&disabled, Some(&disabled), &live_disabled).unwrap().is_empty());
        assert!(Changes::between(&unset, Some(&unset), &live_disabled).unwrap().is_empty(), "never set: left as it is");
        // Enabled (a home EFS named, the member left out) is never sent Disabled.
        let mut live_enabled = live(&unset);
        live_enabled.home_efs_file_system_id = Some("fs-1".into());
        assert!(home_efs_enabled(&live_enabled) && !home_efs_enabled(&live_disabled));
        assert!(Changes::between(&disabled, Some(&unset), &live_enabled).unwrap().is_empty());
    }

    #[test]
    fn rstudio_settings_are_renamed_for_update() {
        let new = properties(json!({"DomainSettings": {"RStudioServerProDomainSettings": {"DomainExecutionRoleArn": RSTUDIO}}}));
        let old = properties(json!({}));
        let changes = Changes::between(&new, Some(&old), &live(&old)).unwrap();
        let sent = changes.domain_settings_for_update.unwrap();
        assert_eq!(sent.r_studio_server_pro_domain_settings_for_update().and_then(|r| r.domain_execution_role_arn()), Some(RSTUDIO));
    }
}
