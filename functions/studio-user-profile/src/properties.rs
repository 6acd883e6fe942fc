//! The resource properties (CreateUserProfile's members, plus ForceDelete) and their rules.

use aws_sdk_sagemaker::types::{AuthMode, Tag, UserSettings};
use custom_resource::PropertyError;
use serde::Deserialize;
use studio::Api;
use studio::adoption::DELETE_ADOPTED;
use studio::delete_options::{self, DeleteOption};
use studio::names::{check_domain_id, check_name};
use studio::ownership::{ADOPTED, LOGICAL_ID, REQUEST_ID, SSO_ASSIGNED, STACK_ID, TagBudget};

/// The only SingleSignOnUserIdentifier SageMaker supports.
pub const USER_NAME: &str = "UserName";

/// The reserved tags a profile may carry: ownership, the assignment it made, its delete options,
/// the mark of an adopted one.
pub const TAG_BUDGET: TagBudget = TagBudget { reserved: &[STACK_ID, LOGICAL_ID, REQUEST_ID, SSO_ASSIGNED, delete_options::TAG, ADOPTED] };

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub domain_id: String,
    pub user_profile_name: String,
    pub single_sign_on_user_identifier: Option<String>,
    pub single_sign_on_user_value: Option<String>,
    pub user_settings: Option<Api<UserSettings>>,
    pub tags: Option<Vec<Api<Tag>>>,
    /// Delete the profile's private spaces with it, instead of failing while any are left.
    #[serde(default)]
    pub force_delete: bool,
    /// Create: a profile of this name that exists (e.g. made by SageMaker at the user's first
    /// sign-in) is adopted instead, with its owner's consent (see `studio::adoption`).
    #[serde(default)]
    pub adopt_existing: bool,
    /// Delete: an adopted profile is deleted (the usual rules) instead of released.
    #[serde(default)]
    pub delete_adopted: bool,
}

impl Properties {
    /// The rules that need no AWS call.
    pub fn validate(&self) -> Result<(), PropertyError> {
        check_domain_id("DomainId", &self.domain_id)?;
        check_name("UserProfileName", &self.user_profile_name)?;
        if let Some(identifier) = &self.single_sign_on_user_identifier
            && identifier != USER_NAME
        {
            return Err(PropertyError::new(
                "SingleSignOnUserIdentifier",
                format!("must be \"{USER_NAME}\" (the only identifier SageMaker supports), got {identifier:?}"),
            ));
        }
        if let Some(value) = &self.single_sign_on_user_value
            && !(1..=256).contains(&value.chars().count())
        {
            return Err(PropertyError::new("SingleSignOnUserValue", "must be 1 to 256 characters (an IAM Identity Center user name)"));
        }
        self.tag_pairs().map(|_| ())
    }

    /// The SSO members must match how the domain signs users in.
    pub fn check_auth_mode(&self, auth_mode: &AuthMode) -> Result<(), PropertyError> {
        let domain = &self.domain_id;
        if *auth_mode == AuthMode::Sso {
            if self.single_sign_on_user_identifier.is_none() {
                return Err(PropertyError::new(
                    "SingleSignOnUserIdentifier",
                    format!("required: domain {domain} uses IAM Identity Center (AuthMode SSO); set it to \"{USER_NAME}\""),
                ));
            }
            if self.single_sign_on_user_value.is_none() {
                return Err(PropertyError::new(
                    "SingleSignOnUserValue",
                    format!("required: domain {domain} uses IAM Identity Center (AuthMode SSO); set it to the user's IAM Identity Center user name"),
                ));
            }
        } else {
            let mode = auth_mode.as_str();
            if self.single_sign_on_user_identifier.is_some() {
                return Err(PropertyError::new("SingleSignOnUserIdentifier", format!("not allowed: domain {domain} uses AuthMode {mode}; remove it")));
            }
            if self.single_sign_on_user_value.is_some() {
                return Err(PropertyError::new("SingleSignOnUserValue", format!("not allowed: domain {domain} uses AuthMode {mode}; remove it")));
            }
        }
        Ok(())
    }

    /// The user's tags as (key, value) pairs (checked: see [`studio::ownership::user_tags`]).
    pub fn tag_pairs(&self) -> Result<Vec<(String, String)>, PropertyError> {
        TAG_BUDGET.user_tags(self.tags.as_deref().unwrap_or_default())
    }

    /// The record of the delete options a Delete may use, written by every Create and Update
    /// that completes (see [`studio::delete_options`]).
    pub fn delete_options(&self) -> (String, String) {
        delete_options::record(&[("ForceDelete", bool_str(self.force_delete)), (DELETE_ADOPTED, bool_str(self.delete_adopted))])
    }

    /// The record an adopting Create writes: nothing a Delete could destroy more with.
    pub fn adoption_delete_options(&self) -> (String, String) {
        delete_options::record(&[("ForceDelete", "false"), (DELETE_ADOPTED, "false")])
    }

    /// ForceDelete as this Delete asks it: narrowed by the record on the profile.
    pub fn force_delete_option(&self) -> DeleteOption<'static> {
        DeleteOption { name: "ForceDelete", asked: bool_str(self.force_delete), conservative: "false" }
    }

    /// The IAM Identity Center user the profile belongs to, if any.
    pub fn sso_identity(&self) -> (Option<&str>, Option<&str>) {
        (self.single_sign_on_user_identifier.as_deref(), self.single_sign_on_user_value.as_deref())
    }
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<Properties, PropertyError> {
        custom_resource::properties::parse(value.as_object().unwrap())
    }

    fn minimal() -> serde_json::Value {
        json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", "DomainId": "d-abc123", "UserProfileName": "alice"})
    }

    #[test]
    fn properties_parse_with_nested_settings_and_string_booleans() {
        let mut value = minimal();
        value["UserSettings"] = json!({"ExecutionRole": "arn:aws:iam::123456789012:role/r",
            "JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"IdleTimeoutInMinutes": "60"}}}});
        value["ForceDelete"] = json!("true");
        value["Tags"] = json!([{"Key": "team", "Value": "ml"}]);
        let p = parse(value).unwrap();
        assert!(p.force_delete);
        assert_eq!(p.tag_pairs().unwrap(), vec![("team".to_string(), "ml".to_string())]);
        let idle = p.user_settings.as_ref().unwrap().jupyter_lab_app_settings().unwrap().app_lifecycle_management().unwrap().idle_settings().unwrap();
        assert_eq!(idle.idle_timeout_in_minutes(), Some(60));
        p.validate().unwrap();
    }

    #[test]
    fn invalid_properties_are_named() {
        let mut value = minimal();
        value["UserProfileName"] = json!("alice_smith");
        assert_eq!(parse(value).unwrap().validate().unwrap_err().path, "UserProfileName");

        let mut value = minimal();
        value["SingleSignOnUserIdentifier"] = json!("Email");
        assert_eq!(parse(value).unwrap().validate().unwrap_err().path, "SingleSignOnUserIdentifier");

        let mut value = minimal();
        value["Tags"] = json!([{"Key": "a", "Value": "1"}, {"Key": "studio-cfn:stack-id", "Value": "x"}]);
        assert_eq!(parse(value).unwrap().validate().unwrap_err().path, "Tags[1].Key");

        let mut value = minimal();
        value["UserSettings"] = json!({"JupyterLabAppSettings": {"Colour": "red"}});
        assert_eq!(parse(value).unwrap_err().path, "UserSettings.JupyterLabAppSettings.Colour");
    }

    #[test]
    fn sso_members_follow_the_domain_auth_mode() {
        let iam = parse(minimal()).unwrap();
        iam.check_auth_mode(&AuthMode::Iam).unwrap();
        assert_eq!(iam.check_auth_mode(&AuthMode::Sso).unwrap_err().path, "SingleSignOnUserIdentifier");

        let mut value = minimal();
        value["SingleSignOnUserIdentifier"] = json!("UserName");
        let half = parse(value.clone()).unwrap();
        assert_eq!(half.check_auth_mode(&AuthMode::Sso).unwrap_err().path, "SingleSignOnUserValue");
        value["SingleSignOnUserValue"] = json!("alice@example.com");
        let sso = parse(value).unwrap();
        sso.check_auth_mode(&AuthMode::Sso).unwrap();
        let e = sso.check_auth_mode(&AuthMode::Iam).unwrap_err();
        assert_eq!(e.path, "SingleSignOnUserIdentifier");
        assert!(e.message.contains("AuthMode IAM"), "{e}");
    }

    /// Issue 24: every member of CreateUserProfile and UpdateUserProfile is a property, or listed as deliberately not
    /// accepted, with why, in the one place: `studio::api::NOT_ACCEPTED`. Fails when the SDK gains a member or a property goes.
    #[test]
    fn every_member_of_the_api_is_a_property_or_listed_as_not_accepted() {
        let problems = studio::api::uncovered_properties::<Properties>(&[
            ("CreateUserProfile", aws_sdk_sagemaker::operation::create_user_profile::CreateUserProfileInput::SCHEMA),
            ("UpdateUserProfile", aws_sdk_sagemaker::operation::update_user_profile::UpdateUserProfileInput::SCHEMA),
        ]);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
