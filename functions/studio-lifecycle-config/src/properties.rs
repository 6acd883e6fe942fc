//! The resource's properties, and their validation into a [`Spec`] before any AWS call.

use crate::staging::Exclude;
use aws_sdk_sagemaker::types::{StudioLifecycleConfigAppType, Tag};
use custom_resource::PropertyError;
use serde::Deserialize;
use studio::Api;
use studio::delete_options::{self, DeleteOption};
use studio::names::Enum;
use studio::ownership::{LOGICAL_ID, REQUEST_ID, STACK_ID, TagBudget};

/// The longest base name: a hyphen and 10 hex characters of the content hash are appended,
/// within the API's 63.
pub const MAX_BASE_NAME: usize = 52;
pub const DEFAULT_ASSET_PREFIX: &str = "lifecycle-assets";
/// The reserved tags a config may carry: ownership and its delete options.
pub const TAG_BUDGET: TagBudget = TagBudget { reserved: &[STACK_ID, LOGICAL_ID, REQUEST_ID, delete_options::TAG] };

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub studio_lifecycle_config_name: String,
    pub studio_lifecycle_config_app_type: Enum<StudioLifecycleConfigAppType>,
    pub commands: Option<Vec<String>>,
    pub script: Option<String>,
    #[serde(default)]
    pub assets: Vec<AssetProperties>,
    pub asset_bucket: Option<String>,
    pub asset_prefix: Option<String>,
    #[serde(default)]
    pub retain_assets: bool,
    #[serde(default)]
    pub tags: Vec<Api<Tag>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AssetProperties {
    pub name: String,
    pub source_bucket: String,
    pub source_key: String,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Where staged files go: `s3://bucket/prefix<base>/<content hash>/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: String,
    /// Empty, or ending with `/`.
    pub prefix: String,
}

impl Location {
    /// The key prefix of everything staged for one content hash.
    pub fn staged_prefix(&self, base: &str, content_sha256: &str) -> String {
        format!("{}{base}/{content_sha256}/", self.prefix)
    }

    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// An asset, checked.
#[derive(Debug, Clone)]
pub struct AssetSpec {
    pub name: String,
    pub source_bucket: String,
    pub source_key: String,
    pub exclude: Exclude,
    /// `Assets[i]`, for messages.
    pub path: String,
}

/// Validated properties: everything needed to plan the config.
#[derive(Debug, Clone)]
pub struct Spec {
    pub base: String,
    pub app_type: StudioLifecycleConfigAppType,
    /// The user's shell text: Commands joined by newlines, or Script.
    pub body: String,
    /// "Commands" or "Script": which property `body` came from.
    pub body_property: &'static str,
    pub assets: Vec<AssetSpec>,
    pub location: Option<Location>,
    pub tags: Vec<(String, String)>,
    /// The record of the delete options (see [`Properties::delete_options`]).
    pub delete_options: (String, String),
}

impl Spec {
    /// The tags a completed Create or Update leaves on the config: the template's and the
    /// record of its delete options.
    pub fn tags_with_record(&self) -> Vec<(String, String)> {
        self.tags.iter().cloned().chain([self.delete_options.clone()]).collect()
    }
}

impl Properties {
    pub fn validate(&self) -> Result<Spec, PropertyError> {
        let base = self.studio_lifecycle_config_name.clone();
        studio::names::check_name("StudioLifecycleConfigName", &base)?;
        if base.len() > MAX_BASE_NAME {
            return Err(PropertyError::new(
                "StudioLifecycleConfigName",
                format!(
                    "at most {MAX_BASE_NAME} characters (\"-\" and 10 hex characters of the content hash are appended, within SageMaker's 63), got {}",
                    base.len()
                ),
            ));
        }
        let (body, body_property) = match (&self.commands, &self.script) {
            (Some(_), Some(_)) => return Err(PropertyError::new("Script", "give either Commands or Script, not both")),
            (Some(commands), None) => (commands.join("\n"), "Commands"),
            (None, Some(script)) => (script.clone(), "Script"),
            (None, None) => (String::new(), "Commands"),
        };
        if body.trim().is_empty() && self.assets.is_empty() {
            return Err(PropertyError::new("Commands", "give Commands (a list of shell lines) or Script (the script's text), or Assets to copy"));
        }
        let location = self.location()?;
        if !self.assets.is_empty() && location.is_none() {
            return Err(PropertyError::new("AssetBucket", "required with Assets: the bucket the assets are staged to"));
        }
        let mut assets: Vec<AssetSpec> = Vec::new();
        for (i, asset) in self.assets.iter().enumerate() {
            let path = format!("Assets[{i}]");
            check_asset_name(&format!("{path}.Name"), &asset.name)?;
            if assets.iter().any(|a| a.name == asset.name) {
                return Err(PropertyError::new(format!("{path}.Name"), format!("{:?} appears twice; asset names must be unique", asset.name)));
            }
            check_bucket(&format!("{path}.SourceBucket"), &asset.source_bucket)?;
            if asset.source_key.is_empty() {
                return Err(PropertyError::new(format!("{path}.SourceKey"), "must name the zip object"));
            }
            let exclude =
                Exclude::new(&asset.exclude).map_err(|(j, e)| PropertyError::new(format!("{path}.Exclude[{j}]"), format!("not a valid glob pattern: {e}")))?;
            assets.push(AssetSpec {
                name: asset.name.clone(),
                source_bucket: asset.source_bucket.clone(),
                source_key: asset.source_key.clone(),
                exclude,
                path,
            });
        }
        let tags = TAG_BUDGET.user_tags(&self.tags)?;
        let delete_options = self.delete_options();
        Ok(Spec { base, app_type: self.studio_lifecycle_config_app_type.0.clone(), body, body_property, assets, location, tags, delete_options })
    }

    /// The record of the delete options a Delete may use, written by every Create and Update
    /// that completes (see [`studio::delete_options`]).
    pub fn delete_options(&self) -> (String, String) {
        delete_options::record(&[("RetainAssets", if self.retain_assets { "true" } else { "false" })])
    }

    /// RetainAssets as this Delete asks it: narrowed by the record on the config (keeping the
    /// staged files is the conservative choice).
    pub fn retain_assets_option(&self) -> DeleteOption<'static> {
        DeleteOption { name: "RetainAssets", asked: if self.retain_assets { "true" } else { "false" }, conservative: "true" }
    }

    /// AssetBucket and AssetPrefix, checked (None without AssetBucket).
    pub fn location(&self) -> Result<Option<Location>, PropertyError> {
        let Some(bucket) = &self.asset_bucket else {
            return Ok(None);
        };
        check_bucket("AssetBucket", bucket)?;
        let prefix = self.asset_prefix.as_deref().unwrap_or(DEFAULT_ASSET_PREFIX).trim_matches('/');
        let safe = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c);
        let bad_part = !prefix.is_empty() && prefix.split('/').any(|part| part.is_empty() || part == "." || part == "..");
        if !prefix.chars().all(safe) || bad_part {
            return Err(PropertyError::new(
                "AssetPrefix",
                format!("must be a key prefix of letters, digits and !-_.*'() separated by single slashes, got {prefix:?}"),
            ));
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(Some(Location { bucket: bucket.clone(), prefix }))
    }
}

/// Asset names become a directory under $ASSETS_DIR and a key prefix.
fn check_asset_name(path: &str, name: &str) -> Result<(), PropertyError> {
    let valid = (1..=100).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("must be 1 to 100 letters, digits, '.', '_' and '-', starting with a letter or digit, got {name:?}")))
    }
}

/// S3's bucket naming rules, checked before any call.
fn check_bucket(path: &str, bucket: &str) -> Result<(), PropertyError> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(bucket.chars().next())
        && edge(bucket.chars().last());
    if valid {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("must be an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-'), got {bucket:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(value: Value) -> Result<Properties, PropertyError> {
        custom_resource::properties::parse(value.as_object().unwrap())
    }

    fn spec(value: Value) -> Result<Spec, PropertyError> {
        parse(value)?.validate()
    }

    fn minimal() -> Value {
        json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "StudioLifecycleConfigName": "lab-setup", "StudioLifecycleConfigAppType": "JupyterLab",
            "Commands": ["echo one", "echo two"]})
    }

    #[test]
    fn commands_are_joined_and_defaults_apply() {
        let mut value = minimal();
        value["Assets"] = json!([{"Name": "tools", "SourceBucket": "src-bucket", "SourceKey": "a/tools.zip", "Exclude": ["*.pyc"]}]);
        value["AssetBucket"] = json!("staging-bucket");
        value["RetainAssets"] = json!("true");
        let p = parse(value).unwrap();
        assert!(p.retain_assets);
        let s = p.validate().unwrap();
        assert_eq!(s.body, "echo one\necho two");
        assert_eq!(s.location, Some(Location { bucket: "staging-bucket".into(), prefix: "lifecycle-assets/".into() }));
        assert_eq!(s.assets[0].path, "Assets[0]");
        assert!(s.assets[0].exclude.matches("x/y.pyc"));
    }

    #[test]
    fn names_buckets_and_prefixes_are_checked_with_their_path() {
        let mut value = minimal();
        value["StudioLifecycleConfigName"] = json!("x".repeat(53));
        assert_eq!(spec(value).unwrap_err().path, "StudioLifecycleConfigName");
        let mut value = minimal();
        value["StudioLifecycleConfigName"] = json!("bad_name");
        assert_eq!(spec(value).unwrap_err().path, "StudioLifecycleConfigName");
        let mut value = minimal();
        value["StudioLifecycleConfigAppType"] = json!("RStudio");
        assert_eq!(parse(value).unwrap_err().path, "StudioLifecycleConfigAppType");
        let mut value = minimal();
        value["AssetBucket"] = json!("Not_A_Bucket");
        assert_eq!(spec(value).unwrap_err().path, "AssetBucket");
        let mut value = minimal();
        value["AssetBucket"] = json!("bucket");
        value["AssetPrefix"] = json!("a/../b");
        assert_eq!(spec(value).unwrap_err().path, "AssetPrefix");
        let mut value = minimal();
        value["AssetBucket"] = json!("bucket");
        value["AssetPrefix"] = json!("/team/assets/");
        assert_eq!(spec(value).unwrap().location.unwrap().prefix, "team/assets/");
    }

    #[test]
    fn assets_need_a_bucket_unique_names_and_valid_patterns() {
        let asset = |name: &str, exclude: Value| json!({"Name": name, "SourceBucket": "src-bucket", "SourceKey": "k.zip", "Exclude": exclude});
        let mut value = minimal();
        value["Assets"] = json!([asset("tools", json!([]))]);
        assert_eq!(spec(value.clone()).unwrap_err().path, "AssetBucket");
        value["AssetBucket"] = json!("bucket");
        value["Assets"] = json!([asset("tools", json!([])), asset("tools", json!([]))]);
        assert_eq!(spec(value.clone()).unwrap_err().path, "Assets[1].Name");
        value["Assets"] = json!([asset("../up", json!([]))]);
        assert_eq!(spec(value.clone()).unwrap_err().path, "Assets[0].Name");
        value["Assets"] = json!([asset("tools", json!(["*.pyc", "[oops"]))]);
        let e = spec(value.clone()).unwrap_err();
        assert_eq!(e.path, "Assets[0].Exclude[1]");
        value["Assets"] = json!([{"Name": "tools", "SourceBucket": "src-bucket"}]);
        assert_eq!(parse(value).unwrap_err().path, "Assets[0].SourceKey");
    }

    #[test]
    fn commands_or_script_but_not_both() {
        let mut value = minimal();
        value["Script"] = json!("echo hi");
        assert_eq!(spec(value).unwrap_err().path, "Script");
        let mut value = minimal();
        value.as_object_mut().unwrap().remove("Commands");
        assert_eq!(spec(value.clone()).unwrap_err().path, "Commands");
        value["Script"] = json!("#!/bin/bash\necho hi\n");
        let s = spec(value).unwrap();
        assert_eq!((s.body.as_str(), s.body_property), ("#!/bin/bash\necho hi\n", "Script"));
    }

    #[test]
    fn reserved_tags_are_refused() {
        let mut value = minimal();
        value["Tags"] = json!([{"Key": "studio-cfn:stack-id", "Value": "x"}]);
        assert_eq!(spec(value).unwrap_err().path, "Tags[0].Key");
    }

    /// Issue 24: every member of CreateStudioLifecycleConfig is a property, or listed as deliberately not
    /// accepted, with why, in the one place: `studio::api::NOT_ACCEPTED`. Fails when the SDK gains a member or a property goes.
    #[test]
    fn every_member_of_the_api_is_a_property_or_listed_as_not_accepted() {
        let schema = aws_sdk_sagemaker::operation::create_studio_lifecycle_config::CreateStudioLifecycleConfigInput::SCHEMA;
        let problems = studio::api::uncovered_properties::<Properties>(&[("CreateStudioLifecycleConfig", schema)]);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
