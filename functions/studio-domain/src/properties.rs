//! The properties of a studio-domain resource: CreateDomain's members with the API's names and
//! shapes (so an AWS::SageMaker::Domain template works as it is), plus RetentionPolicy,
//! ForceDelete, AllowReplacement, DeleteNfsSecurityGroups, AllowedChildStacks and the Identity
//! Center principals. [`Properties::validate`] checks what the API documents before anything is
//! sent, naming the property at fault.

use aws_sdk_sagemaker::types::{
    AppInstanceType, AppNetworkAccessType, AppSecurityGroupManagement, AppType, AuthMode, AutoMountHomeEfs, DataSourceName, DefaultSpaceSettings,
    DomainSettings, ExecutionRoleIdentityConfig, FeatureStatus, HomeEfsFileSystemCreation, IpAddressType, LifecycleManagement, MlTools, NotebookOutputOption,
    RStudioServerProAccessStatus, RStudioServerProUserGroup, SageMakerImageName, StudioWebPortal, TagPropagation, UserSettings,
};
use custom_resource::PropertyError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use studio::Api;
use studio::api::to_json;
use studio::delete_options::{self, DeleteOption};
use studio::names::{check_name, is_domain_id, one_of};
use studio::ownership::{self, DOMAIN_RESERVED_TAGS, MAX_DOMAIN_USER_TAGS as MAX_TAGS};
use studio::{child_stacks, sso_assigned};

/// Why a domain's `Tags` stop short of SageMaker's 50.
const RESERVED_TAGS_WHY: &str = "this function keeps up to 10 tags of its own on a domain: ownership, the delete options, \
     AllowedChildStacks, adoption and the record of the IAM Identity Center assignments it made";
const _: () = assert!(DOMAIN_RESERVED_TAGS == 10, "RESERVED_TAGS_WHY says 10");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub domain_name: String,
    pub auth_mode: String,
    pub default_user_settings: Api<UserSettings>,
    pub subnet_ids: Vec<String>,
    pub vpc_id: String,
    pub app_network_access_type: Option<String>,
    pub app_security_group_management: Option<String>,
    pub default_space_settings: Option<Api<DefaultSpaceSettings>>,
    pub domain_settings: Option<Api<DomainSettings>>,
    pub kms_key_id: Option<String>,
    pub tag_propagation: Option<String>,
    /// Enabled (the API's default) or Disabled: no home EFS (Disabled -> Enabled in place only).
    pub home_efs_file_system_creation: Option<String>,
    #[serde(default)]
    pub tags: Vec<Api<aws_sdk_sagemaker::types::Tag>>,
    #[serde(default)]
    pub retention_policy: RetentionPolicy,
    /// Delete the domain's spaces and user profiles (users' EBS volumes and home directories) with it.
    #[serde(default)]
    pub force_delete: bool,
    /// Let an update that SageMaker cannot apply in place create a new domain (new, empty home EFS).
    #[serde(default)]
    pub allow_replacement: bool,
    /// After a Delete that deleted the home EFS, delete the two NFS security groups SageMaker
    /// leaves in the VPC.
    #[serde(default = "yes")]
    pub delete_nfs_security_groups: bool,
    /// IAM Identity Center user names to assign to the domain's application (SSO domains).
    #[serde(default)]
    pub single_sign_on_users: Vec<String>,
    /// IAM Identity Center group display names to assign to the domain's application (SSO domains).
    #[serde(default)]
    pub single_sign_on_groups: Vec<String>,
    /// Stack-name patterns (`*` wildcard) whose stacks may put user profiles and spaces into this
    /// domain, besides its own stack (recorded in `studio-cfn:allowed-child-stacks`).
    #[serde(default)]
    pub allowed_child_stacks: Vec<String>,
    /// Adopt this existing domain (with its owner's consent, see `studio::adoption`) instead of
    /// creating one; its Delete then releases it.
    pub existing_domain_id: Option<String>,
    /// The Delete of an adopted domain deletes it (with the usual rules) instead of releasing it.
    #[serde(default)]
    pub delete_adopted: bool,
}

fn yes() -> bool {
    true
}

/// DeleteDomain's RetentionPolicy.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RetentionPolicy {
    #[serde(default)]
    pub home_efs_file_system: HomeEfsFileSystem,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HomeEfsFileSystem {
    #[default]
    Retain,
    Delete,
}

impl HomeEfsFileSystem {
    pub fn as_str(self) -> &'static str {
        match self {
            HomeEfsFileSystem::Retain => "Retain",
            HomeEfsFileSystem::Delete => "Delete",
        }
    }
}

/// The members that identify a domain: SageMaker cannot change them on an existing one.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub domain_name: String,
    pub auth_mode: String,
    pub vpc_id: String,
    pub kms_key_id: Option<String>,
    /// Whether the domain has (or may get) a home EFS: Disabled -> Enabled happens in place,
    /// Enabled -> Disabled never.
    pub home_efs_enabled: bool,
}

/// The options a Delete takes as the last completed Create or Update recorded them.
pub const FORCE_DELETE: &str = "ForceDelete";
pub const RETENTION_POLICY: &str = "RetentionPolicy.HomeEfsFileSystem";
pub const DELETE_NFS_SECURITY_GROUPS: &str = "DeleteNfsSecurityGroups";
pub use studio::adoption::DELETE_ADOPTED;

impl Properties {
    pub fn identity(&self) -> Identity {
        Identity {
            domain_name: self.domain_name.clone(),
            auth_mode: self.auth_mode.clone(),
            vpc_id: self.vpc_id.clone(),
            kms_key_id: self.kms_key_id.clone(),
            home_efs_enabled: self.home_efs_enabled(),
        }
    }

    /// HomeEfsFileSystemCreation as the template asks it (the API's default is Enabled).
    pub fn home_efs_enabled(&self) -> bool {
        self.home_efs_file_system_creation.as_deref() != Some(HomeEfsFileSystemCreation::Disabled.as_str())
    }

    /// The properties whose change needs a new domain, compared with the domain as it is.
    pub fn replaced_members(&self, current: &Identity) -> Vec<&'static str> {
        let wanted = self.identity();
        [
            ("DomainName", wanted.domain_name != current.domain_name),
            ("AuthMode", wanted.auth_mode != current.auth_mode),
            ("VpcId", wanted.vpc_id != current.vpc_id),
            ("KmsKeyId", wanted.kms_key_id != current.kms_key_id),
            // SageMaker never turns a home EFS off (Disabled -> Enabled is an update).
            ("HomeEfsFileSystemCreation", current.home_efs_enabled && !wanted.home_efs_enabled),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }

    /// The record of the options a Delete may use (written on the domain when a Create or Update completes).
    pub fn delete_options_record(&self) -> (String, String) {
        delete_options::record(&[
            (FORCE_DELETE, bool_str(self.force_delete)),
            (RETENTION_POLICY, self.retention_policy.home_efs_file_system.as_str()),
            (DELETE_NFS_SECURITY_GROUPS, bool_str(self.delete_nfs_security_groups)),
            (DELETE_ADOPTED, bool_str(self.delete_adopted)),
        ])
    }

    /// The record an adopting Create writes: the value that destroys least of each option,
    /// whatever the template says (see domain/adopt.rs); an Update records the template's.
    pub fn adoption_delete_options_record(&self) -> (String, String) {
        delete_options::record(&self.delete_options_asked().map(|option| (option.name, option.conservative)))
    }

    /// The Delete options this event asks, each with the value that destroys least.
    pub fn delete_options_asked(&self) -> [DeleteOption<'static>; 4] {
        [
            DeleteOption { name: FORCE_DELETE, asked: bool_str(self.force_delete), conservative: "false" },
            DeleteOption { name: RETENTION_POLICY, asked: self.retention_policy.home_efs_file_system.as_str(), conservative: "Retain" },
            DeleteOption { name: DELETE_NFS_SECURITY_GROUPS, asked: bool_str(self.delete_nfs_security_groups), conservative: "false" },
            DeleteOption { name: DELETE_ADOPTED, asked: bool_str(self.delete_adopted), conservative: "false" },
        ]
    }

    /// `studio-cfn:allowed-child-stacks` as this template sets it (None: no patterns).
    pub fn allowed_child_stacks_record(&self) -> Result<Option<(String, String)>, PropertyError> {
        if self.allowed_child_stacks.is_empty() {
            return Ok(None);
        }
        child_stacks::record(&self.allowed_child_stacks).map(Some)
    }

    pub fn is_vpc_only(&self) -> bool {
        self.app_network_access_type.as_deref() == Some(AppNetworkAccessType::VpcOnly.as_str())
    }

    /// Everything the API documents that can be checked without calling it.
    pub fn validate(&self) -> Result<(), PropertyError> {
        check_name("DomainName", &self.domain_name)?;
        one_of("AuthMode", &self.auth_mode, AuthMode::values())?;
        if !(1..=16).contains(&self.subnet_ids.len()) {
            return Err(PropertyError::new("SubnetIds", format!("expected 1 to 16 subnet ids, got {}", self.subnet_ids.len())));
        }
        for (i, subnet) in self.subnet_ids.iter().enumerate() {
            check_vpc_id(&format!("SubnetIds[{i}]"), subnet)?;
        }
        check_vpc_id("VpcId", &self.vpc_id)?;
        if let Some(value) = &self.app_network_access_type {
            one_of("AppNetworkAccessType", value, AppNetworkAccessType::values())?;
        }
        if let Some(value) = &self.app_security_group_management {
            one_of("AppSecurityGroupManagement", value, AppSecurityGroupManagement::values())?;
        }
        if let Some(value) = &self.tag_propagation {
            one_of("TagPropagation", value, TagPropagation::values())?;
        }
        if let Some(value) = &self.home_efs_file_system_creation {
            one_of("HomeEfsFileSystemCreation", value, HomeEfsFileSystemCreation::values())?;
        }
        self.allowed_child_stacks_record()?;
        if let Some(id) = &self.existing_domain_id
            && !is_domain_id(id)
        {
            return Err(PropertyError::new("ExistingDomainId", format!("{id:?} is not a DomainId (d- followed by lowercase letters and digits)")));
        }
        if let Some(key) = &self.kms_key_id {
            check_kms_key_id("KmsKeyId", key)?;
        }
        self.validate_tags()?;
        self.validate_principals()?;
        let user_settings = shape_json("DefaultUserSettings", &*self.default_user_settings)?;
        check_members("DefaultUserSettings", &user_settings)?;
        if let Some(space_settings) = &self.default_space_settings {
            check_members("DefaultSpaceSettings", &shape_json("DefaultSpaceSettings", &**space_settings)?)?;
        }
        if let Some(domain_settings) = &self.domain_settings {
            check_members("DomainSettings", &shape_json("DomainSettings", &**domain_settings)?)?;
        }
        self.validate_network()
    }

    /// The user's tags as (key, value) pairs; errors name the tag.
    pub fn tag_pairs(&self) -> Result<Vec<(String, String)>, PropertyError> {
        ownership::user_tags_within(&self.tags, MAX_TAGS, RESERVED_TAGS_WHY)
    }

    fn validate_tags(&self) -> Result<(), PropertyError> {
        for (i, (key, value)) in self.tag_pairs()?.iter().enumerate() {
            let path = format!("Tags[{i}].Key");
            check_length(&path, key, 1, 128)?;
            check_tag_chars(&path, key)?;
            // AWS reserves the prefix in any case.
            if key.to_ascii_lowercase().starts_with("aws:") {
                return Err(PropertyError::new(path, format!("{key:?}: keys starting with aws: are reserved by AWS")));
            }
            let path = format!("Tags[{i}].Value");
            check_length(&path, value, 0, 256)?;
            check_tag_chars(&path, value)?;
        }
        Ok(())
    }

    /// SingleSignOnUsers / SingleSignOnGroups: only where people sign in through Identity Center.
    fn validate_principals(&self) -> Result<(), PropertyError> {
        for (member, names) in [("SingleSignOnUsers", &self.single_sign_on_users), ("SingleSignOnGroups", &self.single_sign_on_groups)] {
            if !names.is_empty() && self.auth_mode != AuthMode::Sso.as_str() {
                return Err(PropertyError::new(
                    member,
                    format!(
                        "only allowed with AuthMode SSO (this domain uses {}): IAM domains have no IAM Identity Center application; remove it",
                        self.auth_mode
                    ),
                ));
            }
            for (i, name) in names.iter().enumerate() {
                check_length(&format!("{member}[{i}]"), name, 1, 1024)?;
            }
        }
        sso_assigned::check_count(self.single_sign_on_users.len(), self.single_sign_on_groups.len())
            .map_err(|e| PropertyError::new("SingleSignOnUsers and SingleSignOnGroups", e))
    }

    /// Constraints between members.
    fn validate_network(&self) -> Result<(), PropertyError> {
        let rstudio_role = self.domain_settings.as_ref().and_then(|s| s.r_studio_server_pro_domain_settings()).map(|r| r.domain_execution_role_arn());
        if rstudio_role == Some(None) {
            return Err(PropertyError::new("DomainSettings.RStudioServerProDomainSettings.DomainExecutionRoleArn", "required property is missing"));
        }
        if !self.is_vpc_only() {
            return Ok(());
        }
        if self.default_user_settings.security_groups().is_empty() {
            return Err(PropertyError::new(
                "DefaultUserSettings.SecurityGroups",
                "required when AppNetworkAccessType is VpcOnly: give 1 to 5 security groups that allow NFS (TCP 2049) to the home EFS and the traffic Studio apps need",
            ));
        }
        if rstudio_role.is_some() && self.app_security_group_management.is_none() {
            return Err(PropertyError::new(
                "AppSecurityGroupManagement",
                "required when AppNetworkAccessType is VpcOnly and RStudio is configured (DomainSettings.RStudioServerProDomainSettings): set it to Service, the only value SageMaker takes with RStudio",
            ));
        }
        Ok(())
    }
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn shape_json(path: &str, shape: &dyn aws_smithy_schema::serde::SerializableStruct) -> Result<Value, PropertyError> {
    to_json(shape).map_err(|e| PropertyError::new(path, e))
}

/// Checks every member of a settings shape (as JSON with the API's member names) whose
/// constraints the API documents: enumerations, role and lifecycle config ARNs, counts, ranges.
fn check_members(path: &str, value: &Value) -> Result<(), PropertyError> {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let member_path = format!("{path}.{name}");
                check_member(&member_path, name, member)?;
                check_members(&member_path, member)?;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_members(&format!("{path}[{i}]"), item)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_member(path: &str, name: &str, value: &Value) -> Result<(), PropertyError> {
    if let Some(allowed) = enumeration(name) {
        for (item_path, item) in strings(path, value) {
            one_of(&item_path, item, allowed)?;
        }
    }
    let integer = || value.as_i64().unwrap_or_default();
    match name {
        "ExecutionRole" | "DomainExecutionRoleArn" => {
            for (item_path, role) in strings(path, value) {
                check_role_arn(&item_path, role)?;
            }
        }
        "LifecycleConfigArns" | "LifecycleConfigArn" | "BuiltInLifecycleConfigArn" => {
            for (item_path, arn) in strings(path, value) {
                check_lifecycle_config_arn(&item_path, arn)?;
            }
        }
        "SecurityGroups" => check_count(path, value, 5)?,
        "SecurityGroupIds" => check_count(path, value, 3)?,
        "IdleTimeoutInMinutes" | "MinIdleTimeoutInMinutes" | "MaxIdleTimeoutInMinutes" => check_range(path, integer(), 60, 525_600)?,
        "Uid" => check_range(path, integer(), 10_000, 4_000_000)?,
        "Gid" => check_range(path, integer(), 1_001, 4_000_000)?,
        "DefaultEbsVolumeSizeInGb" | "MaximumEbsVolumeSizeInGb" => check_range(path, integer(), 5, 16_384)?,
        "DefaultEbsStorageSettings" => {
            let size = |member: &str| value.get(member).and_then(Value::as_i64);
            if let (Some(default), Some(maximum)) = (size("DefaultEbsVolumeSizeInGb"), size("MaximumEbsVolumeSizeInGb"))
                && default > maximum
            {
                return Err(PropertyError::new(
                    format!("{path}.DefaultEbsVolumeSizeInGb"),
                    format!("{default} is larger than MaximumEbsVolumeSizeInGb ({maximum})"),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The values of the enumerations in UserSettings, DefaultSpaceSettings and DomainSettings,
/// by member name (each name has one enumeration in these shapes).
fn enumeration(member: &str) -> Option<&'static [&'static str]> {
    Some(match member {
        "StudioWebPortal" => StudioWebPortal::values(),
        "AutoMountHomeEFS" => AutoMountHomeEfs::values(),
        "NotebookOutputOption" => NotebookOutputOption::values(),
        "AccessStatus" => RStudioServerProAccessStatus::values(),
        "UserGroup" => RStudioServerProUserGroup::values(),
        "Status" | "EnableDockerAccess" | "RootlessDocker" | "StudioWebPortalAccess" => FeatureStatus::values(),
        "DataSourceName" => DataSourceName::values(),
        "InstanceType" | "HiddenInstanceTypes" => AppInstanceType::values(),
        "LifecycleManagement" => LifecycleManagement::values(),
        "HiddenMlTools" => MlTools::values(),
        "HiddenAppTypes" => AppType::values(),
        "SageMakerImageName" => SageMakerImageName::values(),
        "ExecutionRoleIdentityConfig" => ExecutionRoleIdentityConfig::values(),
        "IpAddressType" => IpAddressType::values(),
        _ => return None,
    })
}

/// A string member, or each string of a list member, with its path.
fn strings<'a>(path: &str, value: &'a Value) -> Vec<(String, &'a str)> {
    match value {
        Value::String(s) => vec![(path.to_string(), s.as_str())],
        Value::Array(items) => items.iter().enumerate().filter_map(|(i, item)| item.as_str().map(|s| (format!("{path}[{i}]"), s))).collect(),
        _ => Vec::new(),
    }
}

fn check_length(path: &str, value: &str, min: usize, max: usize) -> Result<(), PropertyError> {
    let length = value.chars().count();
    if (min..=max).contains(&length) {
        Ok(())
    } else {
        // Long values are not echoed: the Reason has to fit CloudFormation's 4 KB response.
        let shown = if length <= 64 { format!(" in {value:?}") } else { String::new() };
        Err(PropertyError::new(path, format!("expected {min} to {max} characters, got {length}{shown}")))
    }
}

fn check_count(path: &str, value: &Value, max: usize) -> Result<(), PropertyError> {
    let count = value.as_array().map_or(0, Vec::len);
    if count <= max { Ok(()) } else { Err(PropertyError::new(path, format!("at most {max} items, got {count}"))) }
}

fn check_range(path: &str, value: i64, min: i64, max: i64) -> Result<(), PropertyError> {
    if (min..=max).contains(&value) { Ok(()) } else { Err(PropertyError::new(path, format!("expected {min} to {max}, got {value}"))) }
}

/// VpcId and subnet ids: `[-0-9a-zA-Z]+`, at most 32 characters.
fn check_vpc_id(path: &str, id: &str) -> Result<(), PropertyError> {
    check_length(path, id, 1, 32)?;
    if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("{id:?} must be letters, digits and hyphens")))
    }
}

/// `^[a-zA-Z0-9:/_-]*$`, at most 2048 characters.
fn check_kms_key_id(path: &str, key: &str) -> Result<(), PropertyError> {
    check_length(path, key, 1, 2048)?;
    if key.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c)) {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("{key:?} is not a KMS key id or ARN")))
    }
}

/// `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`
fn check_tag_chars(path: &str, text: &str) -> Result<(), PropertyError> {
    match text.chars().find(|&c| !(c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))) {
        None => Ok(()),
        Some(c) => Err(PropertyError::new(path, format!("{c:?} is not allowed in tags (letters, digits, spaces and _ . : / = + - @)"))),
    }
}

/// `^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`, 20 to 2048 characters.
fn check_role_arn(path: &str, arn: &str) -> Result<(), PropertyError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            is_partition(partition)
                && is_account(account)
                && resource
                    .strip_prefix("role")
                    .map(|name| name.strip_prefix('/').unwrap_or(name))
                    .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c)))
        }
        _ => false,
    };
    if !valid {
        return Err(PropertyError::new(path, format!("{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")));
    }
    check_length(path, arn, 20, 2048)
}

/// `arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:studio-lifecycle-config/.*`, at most 256 characters.
fn check_lifecycle_config_arn(path: &str, arn: &str) -> Result<(), PropertyError> {
    check_length(path, arn, 1, 256)?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let valid = match parts.as_slice() {
        ["arn", partition, "sagemaker", region, account, resource] => {
            is_partition(partition)
                && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && is_account(account)
                && resource.starts_with("studio-lifecycle-config/")
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("{arn:?} is not a Studio lifecycle config ARN (arn:aws:sagemaker:REGION:ACCOUNT:studio-lifecycle-config/NAME)")))
    }
}

fn is_partition(partition: &str) -> bool {
    partition.strip_prefix("aws").is_some_and(|rest| rest.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
}

fn is_account(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use studio::names::is_domain_id;

    fn parse(value: Value) -> Result<Properties, PropertyError> {
        let map = value.as_object().cloned().unwrap_or_default();
        custom_resource::properties::parse(&map)
    }

    fn valid() -> Value {
        json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:studio-domain",
            "DomainName": "research",
            "AuthMode": "IAM",
            "VpcId": "vpc-0abc",
            "SubnetIds": ["subnet-1", "subnet-2"],
            "AppNetworkAccessType": "VpcOnly",
            "DefaultUserSettings": {
                "ExecutionRole": "arn:aws:iam::123456789012:role/service-role/studio",
                "SecurityGroups": ["sg-1"],
                "JupyterLabAppSettings": {
                    "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": "120"}},
                    "LifecycleConfigArns": ["arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/setup-0123456789"]
                },
                "SpaceStorageSettings": {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": "5", "MaximumEbsVolumeSizeInGb": "100"}},
                "CustomPosixUserConfig": {"Uid": "200001", "Gid": "1001"}
            },
            "DomainSettings": {"DockerSettings": {"EnableDockerAccess": "ENABLED"}},
            "Tags": [{"Key": "team", "Value": "research"}],
            "RetentionPolicy": {"HomeEfsFileSystem": "Delete"},
            "ForceDelete": "true"
        })
    }

    fn with(mut value: Value, pointer: &str, member: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        value.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_string(), member);
        value
    }

    fn invalid(value: Value) -> PropertyError {
        match parse(value) {
            Ok(p) => p.validate().expect_err("should be invalid"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_vpc_only_domain_with_stringified_numbers_is_valid() {
        let p = parse(valid()).unwrap();
        p.validate().unwrap();
        assert!(p.force_delete);
        assert!(!p.allow_replacement);
        assert_eq!(p.retention_policy.home_efs_file_system, HomeEfsFileSystem::Delete);
        let idle = p.default_user_settings.jupyter_lab_app_settings().unwrap().app_lifecycle_management().unwrap().idle_settings().unwrap();
        assert_eq!(idle.idle_timeout_in_minutes(), Some(120));
    }

    #[test]
    fn defaults_retain_the_home_file_system_and_refuse_force_and_replacement() {
        let mut value = valid();
        let map = value.as_object_mut().unwrap();
        map.remove("RetentionPolicy");
        map.remove("ForceDelete");
        let p = parse(value).unwrap();
        assert_eq!(p.retention_policy.home_efs_file_system, HomeEfsFileSystem::Retain);
        assert!(!p.force_delete && !p.allow_replacement);
    }

    #[test]
    fn errors_name_the_property() {
        let cases = [
            (with(valid(), "/DomainName", json!("-bad")), "DomainName"),
            (with(valid(), "/DomainName", json!("a".repeat(64))), "DomainName"),
            (with(valid(), "/AuthMode", json!("OIDC")), "AuthMode"),
            (with(valid(), "/SubnetIds", json!([])), "SubnetIds"),
            (with(valid(), "/SubnetIds", json!((0..17).map(|i| format!("subnet-{i}")).collect::<Vec<_>>())), "SubnetIds"),
            (with(valid(), "/SubnetIds", json!(["subnet-1", "subnet_2"])), "SubnetIds[1]"),
            (with(valid(), "/VpcId", json!("")), "VpcId"),
            (with(valid(), "/KmsKeyId", json!("key id")), "KmsKeyId"),
            (with(valid(), "/AppNetworkAccessType", json!("Private")), "AppNetworkAccessType"),
            (with(valid(), "/TagPropagation", json!("On")), "TagPropagation"),
            (with(valid(), "/Tags", json!([{"Key": "aws:cloudformation:stack-name", "Value": "x"}])), "Tags[0].Key"),
            (with(valid(), "/Tags", json!([{"Key": "studio-cfn:stack-id", "Value": "x"}])), "Tags[0].Key"),
            (with(valid(), "/Tags", json!([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])), "Tags[1].Key"),
            (with(valid(), "/Tags", json!([{"Key": "a", "Value": "x".repeat(257)}])), "Tags[0].Value"),
            (with(valid(), "/Tags", json!([{"Key": "AWS:owner", "Value": "x"}])), "Tags[0].Key"),
            (with(valid(), "/Tags", json!([{"Key": "a"}])), "Tags[0].Value"),
            (with(valid(), "/Tags", json!((0..48).map(|i| json!({"Key": format!("k{i}"), "Value": ""})).collect::<Vec<_>>())), "Tags"),
            (with(valid(), "/DefaultUserSettings/SecurityGroups", json!([])), "DefaultUserSettings.SecurityGroups"),
            (with(valid(), "/DefaultUserSettings/SecurityGroups", json!(["1", "2", "3", "4", "5", "6"])), "DefaultUserSettings.SecurityGroups"),
            (with(valid(), "/DefaultUserSettings/ExecutionRole", json!("studio-role")), "DefaultUserSettings.ExecutionRole"),
            (with(valid(), "/DefaultUserSettings/StudioWebPortal", json!("ON")), "DefaultUserSettings.StudioWebPortal"),
            (
                with(valid(), "/DefaultUserSettings/JupyterLabAppSettings/AppLifecycleManagement/IdleSettings/IdleTimeoutInMinutes", json!("5")),
                "DefaultUserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes",
            ),
            (
                with(valid(), "/DefaultUserSettings/JupyterLabAppSettings/AppLifecycleManagement/IdleSettings/LifecycleManagement", json!("On")),
                "DefaultUserSettings.JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.LifecycleManagement",
            ),
            (
                with(valid(), "/DefaultUserSettings/JupyterLabAppSettings/LifecycleConfigArns", json!(["arn:aws:sagemaker:us-east-1:123456789012:app/x"])),
                "DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns[0]",
            ),
            (
                with(valid(), "/DefaultUserSettings/StudioWebPortalSettings", json!({"HiddenAppTypes": ["JupyterLab", "Excel"]})),
                "DefaultUserSettings.StudioWebPortalSettings.HiddenAppTypes[1]",
            ),
            (with(valid(), "/DefaultUserSettings/CustomPosixUserConfig/Uid", json!("100")), "DefaultUserSettings.CustomPosixUserConfig.Uid"),
            (
                with(valid(), "/DefaultUserSettings/SpaceStorageSettings/DefaultEbsStorageSettings/DefaultEbsVolumeSizeInGb", json!("200")),
                "DefaultUserSettings.SpaceStorageSettings.DefaultEbsStorageSettings.DefaultEbsVolumeSizeInGb",
            ),
            (with(valid(), "/DomainSettings/DockerSettings/EnableDockerAccess", json!("YES")), "DomainSettings.DockerSettings.EnableDockerAccess"),
            (with(valid(), "/DomainSettings/SecurityGroupIds", json!(["a", "b", "c", "d"])), "DomainSettings.SecurityGroupIds"),
            (with(valid(), "/RetentionPolicy", json!({"HomeEfsFileSystem": "Keep"})), "RetentionPolicy.HomeEfsFileSystem"),
            (with(valid(), "/ForceDelete", json!("yes")), "ForceDelete"),
            (with(valid(), "/HomeDirectory", json!("x")), "HomeDirectory"),
            (with(valid(), "/HomeEfsFileSystemCreation", json!("Off")), "HomeEfsFileSystemCreation"),
            (with(valid(), "/AllowedChildStacks", json!(["team-*", "team a"])), "AllowedChildStacks[1]"),
            (with(valid(), "/AllowedChildStacks", json!((0..40).map(|i| format!("team-{i:03}-stack")).collect::<Vec<_>>())), "AllowedChildStacks"),
            (with(valid(), "/Tags", json!((0..41).map(|i| json!({"Key": format!("k{i}"), "Value": ""})).collect::<Vec<_>>())), "Tags"),
        ];
        for (value, path) in cases {
            let e = invalid(value);
            assert_eq!(e.path, path, "{e}");
        }
        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("VpcId");
        assert_eq!(invalid(missing).to_string(), "VpcId: required property is missing");
    }

    #[test]
    fn the_identity_center_record_caps_the_principals_of_a_template() {
        let names = |n: usize| json!((0..n).map(|i| format!("user-{i}")).collect::<Vec<_>>());
        let sso = |users: usize, groups: usize| {
            with(with(with(valid(), "/AuthMode", json!("SSO")), "/SingleSignOnUsers", names(users)), "/SingleSignOnGroups", names(groups))
        };
        parse(sso(80, 4)).unwrap().validate().unwrap();
        let e = invalid(sso(80, 5));
        assert_eq!(e.path, "SingleSignOnUsers and SingleSignOnGroups");
        assert!(e.message.starts_with("at most 84 users and groups together"), "{e}");
    }

    #[test]
    fn a_domain_keeps_ten_of_sagemaker_s_fifty_tags() {
        let forty = with(valid(), "/Tags", json!((0..40).map(|i| json!({"Key": format!("k{i}"), "Value": ""})).collect::<Vec<_>>()));
        parse(forty).unwrap().validate().unwrap();
        let e = invalid(with(valid(), "/Tags", json!((0..41).map(|i| json!({"Key": format!("k{i}"), "Value": ""})).collect::<Vec<_>>())));
        assert!(e.to_string().starts_with("Tags: at most 40 tags, got 41 (SageMaker allows 50 and this function keeps up to 10 tags"), "{e}");
    }

    #[test]
    fn the_records_a_create_writes() {
        let p = parse(with(valid(), "/AllowedChildStacks", json!(["team-*", "ops"]))).unwrap();
        assert_eq!(p.allowed_child_stacks_record().unwrap(), Some(("studio-cfn:allowed-child-stacks".to_string(), "team-+ ops".to_string())));
        assert_eq!(parse(valid()).unwrap().allowed_child_stacks_record().unwrap(), None);
        let (_, options) = p.delete_options_record();
        assert_eq!(options, "ForceDelete=true RetentionPolicy.HomeEfsFileSystem=Delete DeleteNfsSecurityGroups=true DeleteAdopted=false");
    }

    #[test]
    fn enumeration_errors_list_the_allowed_values() {
        let e = invalid(with(valid(), "/AuthMode", json!("OIDC")));
        assert_eq!(e.to_string(), r#"AuthMode: expected one of IAM, SSO; got "OIDC""#);
    }

    #[test]
    fn rstudio_in_vpc_only_needs_app_security_group_management() {
        let value =
            with(valid(), "/DomainSettings/RStudioServerProDomainSettings", json!({"DomainExecutionRoleArn": "arn:aws:iam::123456789012:role/rstudio"}));
        assert_eq!(invalid(value.clone()).path, "AppSecurityGroupManagement");
        parse(with(value, "/AppSecurityGroupManagement", json!("Service"))).unwrap().validate().unwrap();
    }

    #[test]
    fn replacement_is_needed_for_the_identifying_members_only() {
        let p = parse(valid()).unwrap();
        assert!(p.replaced_members(&p.identity()).is_empty());
        let mut other = p.identity();
        other.vpc_id = "vpc-other".into();
        other.kms_key_id = Some("alias/x".into());
        assert_eq!(p.replaced_members(&other), ["VpcId", "KmsKeyId"]);
        // A home EFS is never turned off; turning it on is an update.
        let off = parse(with(valid(), "/HomeEfsFileSystemCreation", json!("Disabled"))).unwrap();
        assert_eq!(off.replaced_members(&p.identity()), ["HomeEfsFileSystemCreation"]);
        assert!(p.replaced_members(&off.identity()).is_empty());
    }

    #[test]
    fn domain_ids() {
        assert!(is_domain_id("d-abc123def456"));
        assert!(!is_domain_id("d-"));
        assert!(!is_domain_id("d-ABC"));
        assert!(!is_domain_id("create-failed:1234"));
        assert!(!is_domain_id("arn:aws:sagemaker:us-east-1:123456789012:domain/d-abc"));
    }
}
