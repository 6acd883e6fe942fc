//! The resource properties (CreateSpace's members) and their rules.

use aws_sdk_sagemaker::types::{AppType, OwnershipSettings, SharingType, SpaceSettings, SpaceSharingSettings, Tag};
use custom_resource::PropertyError;
use serde::Deserialize;
use studio::Api;
use studio::adoption::DELETE_ADOPTED;
use studio::delete_options;
use studio::names::{check_domain_id, check_name, one_of};
use studio::ownership::{ADOPTED, LOGICAL_ID, REQUEST_ID, STACK_ID, TagBudget};

/// The reserved tags a space may carry: ownership, its delete options, the mark of an adopted one.
pub const TAG_BUDGET: TagBudget = TagBudget { reserved: &[STACK_ID, LOGICAL_ID, REQUEST_ID, delete_options::TAG, ADOPTED] };

/// Where a space's EBS size is set: volumes only grow.
pub const EBS_SIZE: &str = "SpaceSettings.SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub domain_id: String,
    pub space_name: String,
    pub space_display_name: Option<String>,
    pub space_settings: Option<Api<SpaceSettings>>,
    pub ownership_settings: Option<Api<OwnershipSettings>>,
    pub space_sharing_settings: Option<Api<SpaceSharingSettings>>,
    pub tags: Option<Vec<Api<Tag>>>,
    /// Create: a space of this name that exists is adopted instead, with its owner's consent
    /// (see `studio::adoption`).
    #[serde(default)]
    pub adopt_existing: bool,
    /// Delete: an adopted space is deleted (the usual rules) instead of released.
    #[serde(default)]
    pub delete_adopted: bool,
}

impl Properties {
    /// The rules that need no AWS call.
    pub fn validate(&self) -> Result<(), PropertyError> {
        check_domain_id("DomainId", &self.domain_id)?;
        check_name("SpaceName", &self.space_name)?;
        if let Some(display) = &self.space_display_name
            && display.chars().count() > 64
        {
            return Err(PropertyError::new("SpaceDisplayName", "at most 64 characters"));
        }
        if let Some(app_type) = self.space_settings.as_ref().and_then(|s| s.app_type()) {
            one_of("SpaceSettings.AppType", app_type.as_str(), AppType::values())?;
        }
        if let Some(sharing) = self.space_sharing_settings.as_ref() {
            match sharing.sharing_type() {
                Some(sharing) => one_of("SpaceSharingSettings.SharingType", sharing.as_str(), SharingType::values())?,
                None => return Err(PropertyError::new("SpaceSharingSettings.SharingType", "required property is missing (Private or Shared)")),
            }
        }
        if self.ownership_settings.is_some() && self.owner().is_none() {
            return Err(PropertyError::new("OwnershipSettings.OwnerUserProfileName", "required property is missing"));
        }
        if let Some(owner) = self.owner() {
            check_name("OwnershipSettings.OwnerUserProfileName", owner)?;
        }
        if self.is_private() && self.owner().is_none() {
            return Err(PropertyError::new(
                "OwnershipSettings.OwnerUserProfileName",
                "required: a private space (SpaceSharingSettings.SharingType Private) belongs to a user profile; name it",
            ));
        }
        self.tag_pairs().map(|_| ())
    }

    /// The user's tags as (key, value) pairs (checked: see [`studio::ownership::user_tags`]).
    pub fn tag_pairs(&self) -> Result<Vec<(String, String)>, PropertyError> {
        TAG_BUDGET.user_tags(self.tags.as_deref().unwrap_or_default())
    }

    /// The record of the delete options a Delete may use, written by every Create and Update
    /// that completes (see [`studio::delete_options`]).
    pub fn delete_options(&self) -> (String, String) {
        delete_options::record(&[(DELETE_ADOPTED, if self.delete_adopted { "true" } else { "false" })])
    }

    /// What a completed adoption leaves on the space: the template's tags, and DeleteAdopted
    /// false whatever the template says (see [`studio::adoption`]).
    pub fn adoption_tags(&self) -> Result<Vec<(String, String)>, PropertyError> {
        let mut tags = self.tag_pairs()?;
        tags.push(delete_options::record(&[(DELETE_ADOPTED, "false")]));
        Ok(tags)
    }

    /// The template's tags with the delete-options record: what a completed Create or Update
    /// leaves on the space.
    pub fn template_tags(&self) -> Result<Vec<(String, String)>, PropertyError> {
        let mut tags = self.tag_pairs()?;
        tags.push(self.delete_options());
        Ok(tags)
    }

    /// The user profile the space belongs to, if any.
    pub fn owner(&self) -> Option<&str> {
        self.ownership_settings.as_ref().and_then(|o| o.owner_user_profile_name()).filter(|o| !o.is_empty())
    }

    pub fn sharing_type(&self) -> Option<&SharingType> {
        self.space_sharing_settings.as_ref().and_then(|s| s.sharing_type())
    }

    pub fn is_private(&self) -> bool {
        self.sharing_type() == Some(&SharingType::Private)
    }

    /// The EBS volume size asked for, in GB.
    pub fn ebs_size(&self) -> Option<i32> {
        ebs_size(self.space_settings.as_deref())
    }
}

/// The EBS volume size in a space's settings, in GB.
pub fn ebs_size(settings: Option<&SpaceSettings>) -> Option<i32> {
    settings?.space_storage_settings()?.ebs_storage_settings()?.ebs_volume_size_in_gb()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<Properties, PropertyError> {
        custom_resource::properties::parse(value.as_object().unwrap())
    }

    fn minimal() -> serde_json::Value {
        json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", "DomainId": "d-abc123", "SpaceName": "team"})
    }

    #[test]
    fn properties_parse_with_nested_settings_and_string_numbers() {
        let mut value = minimal();
        value["SpaceSettings"] = json!({"AppType": "JupyterLab",
            "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": "20"}},
            "JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": "60"}}}});
        value["SpaceSharingSettings"] = json!({"SharingType": "Private"});
        value["OwnershipSettings"] = json!({"OwnerUserProfileName": "alice"});
        let p = parse(value).unwrap();
        p.validate().unwrap();
        assert_eq!(p.ebs_size(), Some(20));
        assert!(p.is_private());
        assert_eq!(p.owner(), Some("alice"));
        let idle = p.space_settings.as_ref().unwrap().jupyter_lab_app_settings().unwrap().app_lifecycle_management().unwrap().idle_settings().unwrap();
        assert_eq!(idle.idle_timeout_in_minutes(), Some(60));
    }

    #[test]
    fn invalid_properties_are_named() {
        let with = |key: &str, v: serde_json::Value| {
            let mut value = minimal();
            value[key] = v;
            value
        };
        assert_eq!(parse(with("SpaceName", json!("team_a"))).unwrap().validate().unwrap_err().path, "SpaceName");
        let private = with("SpaceSharingSettings", json!({"SharingType": "Private"}));
        assert_eq!(parse(private).unwrap().validate().unwrap_err().path, "OwnershipSettings.OwnerUserProfileName");
        let odd = with("SpaceSharingSettings", json!({"SharingType": "Everyone"}));
        assert_eq!(parse(odd).unwrap().validate().unwrap_err().path, "SpaceSharingSettings.SharingType");
        let bad_size = with("SpaceSettings", json!({"SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": "big"}}}));
        assert_eq!(parse(bad_size).unwrap_err().path, EBS_SIZE);
        assert_eq!(parse(with("SpaceSettings", json!({"Colour": "red"}))).unwrap_err().path, "SpaceSettings.Colour");
        assert_eq!(parse(with("Owner", json!("alice"))).unwrap_err().path, "Owner");
    }

    /// Issue 24: every member of CreateSpace and UpdateSpace is a property, or listed as deliberately not
    /// accepted, with why, in the one place: `studio::api::NOT_ACCEPTED`. Fails when the SDK gains a member or a property goes.
    #[test]
    fn every_member_of_the_api_is_a_property_or_listed_as_not_accepted() {
        let problems = studio::api::uncovered_properties::<Properties>(&[
            ("CreateSpace", aws_sdk_sagemaker::operation::create_space::CreateSpaceInput::SCHEMA),
            ("UpdateSpace", aws_sdk_sagemaker::operation::update_space::UpdateSpaceInput::SCHEMA),
        ]);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
