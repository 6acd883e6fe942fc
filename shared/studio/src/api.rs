//! SageMaker API shapes as properties, e.g. `DefaultUserSettings: Option<Api<UserSettings>>`:
//! read by the SDK's own schema-driven deserializer through the core's lenient shape reader,
//! so every nested member is checked with its full path and no copy of the model is written.

use aws_smithy_json::codec::JsonCodec;
use aws_smithy_schema::Schema;
use aws_smithy_schema::codec::Codec;
use aws_smithy_schema::serde::{SerdeError, SerializableStruct, ShapeDeserializer, ShapeSerializer};
use function_base::PropertyError;
use function_base::api_shape::read_shape;
use function_base::properties::nested_error;
use serde::de::{Deserialize, Deserializer};
use serde_json::Value;

/// An SDK type the schema-driven deserializer can build.
pub trait ApiShape: Sized {
    fn read(deserializer: &mut dyn ShapeDeserializer) -> Result<Self, SerdeError>;
}

macro_rules! api_shapes {
    ($($shape:ident),* $(,)?) => {$(
        impl ApiShape for aws_sdk_sagemaker::types::$shape {
            fn read(deserializer: &mut dyn ShapeDeserializer) -> Result<Self, SerdeError> {
                Self::deserialize(deserializer)
            }
        }
    )*};
}

// The shapes our resources accept as properties (each brings all of its nested shapes).
api_shapes!(UserSettings, DomainSettings, DefaultSpaceSettings, Tag, DomainSettingsForUpdate, SpaceSettings, OwnershipSettings, SpaceSharingSettings);

/// A property holding an API shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Api<T>(pub T);

impl<T> std::ops::Deref for Api<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: ApiShape> Deserialize<'de> for Api<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        from_value(&value).map(Api).map_err(|e| nested_error(&e))
    }
}

/// An SDK shape as JSON with the API's member names (the SDK's own schema and codec).
pub fn to_json(shape: &dyn SerializableStruct) -> Result<Value, String> {
    let mut serializer = JsonCodec::default().create_serializer();
    serializer.write_struct(shape.schema(), shape).map_err(|e| e.to_string())?;
    serde_json::from_slice(&serializer.finish()).map_err(|e| e.to_string())
}

/// Read an API shape from JSON with the API's member names.
pub fn from_value<T: ApiShape>(value: &Value) -> Result<T, PropertyError> {
    read_shape(value, T::read)
}

/// The one place listing the members of the SageMaker inputs the functions deliberately do not
/// accept as properties, as (operation, member, why). Each function's schema-walking test
/// (issue 24) reads it through [`not_accepted`]: a member of CreateDomain, UpdateDomain,
/// CreateUserProfile, UpdateUserProfile, CreateSpace, UpdateSpace or CreateStudioLifecycleConfig
/// that is neither a property nor listed here fails that test, so bumping aws-sdk-sagemaker
/// cannot silently leave a new member unsupported.
pub const NOT_ACCEPTED: &[(&str, &str, &str)] = &[
    ("CreateDomain", "HomeEfsFileSystemKmsKeyId", "deprecated in the API in favour of KmsKeyId, which is accepted and encrypts the home EFS too"),
    (
        "CreateStudioLifecycleConfig",
        "StudioLifecycleConfigContent",
        "made by the function from Commands or Script and Assets (the script, base64), never given as such",
    ),
];

/// The members of `operation`'s input listed in [`NOT_ACCEPTED`], as (member, why).
pub fn not_accepted(operation: &str) -> Vec<(&'static str, &'static str)> {
    NOT_ACCEPTED.iter().filter(|(op, _, _)| *op == operation).map(|(_, member, why)| (*member, *why)).collect()
}

/// Every member of an API input, by construction (issue 24): which members of `input` (an
/// operation's input schema, e.g. `CreateDomainInput::SCHEMA`) are neither `covered` (sent by the
/// function's own request builder from a template that sets every property, or accepted as a
/// property) nor listed in `not_accepted` as (member, why not). Also wrong: a listed member that is
/// covered after all, or that the schema does not have. Empty when every member is accounted for.
pub fn uncovered_members(input: &Schema<'_>, covered: &[String], not_accepted: &[(&str, &str)]) -> Vec<String> {
    let members: Vec<&str> = input.members().iter().filter_map(|m| m.member_name()).collect();
    let listed = |name: &str| not_accepted.iter().any(|(listed, _)| *listed == name);
    let mut problems: Vec<String> = members
        .iter()
        .filter(|name| !covered.iter().any(|c| c == *name) && !listed(name))
        .map(|name| format!("{name}: neither accepted as a property and sent, nor listed as deliberately not accepted (with why)"))
        .collect();
    for (name, why) in not_accepted {
        if !members.contains(name) {
            problems.push(format!("{name}: listed as not accepted, but {} has no such member", input.shape_id().as_str()));
        } else if covered.iter().any(|c| c == name) {
            problems.push(format!("{name}: listed as not accepted ({why}), yet it is covered: remove it from the list"));
        }
    }
    problems
}

/// The members a request carries: the top-level names of an SDK input serialized by its schema.
pub fn sent_members(input: &dyn SerializableStruct) -> Result<Vec<String>, String> {
    match to_json(input)? {
        Value::Object(members) => Ok(members.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect()),
        other => Err(format!("expected an object, got {other}")),
    }
}

/// [`uncovered_members`] of each operation's input (name, schema) against the properties `T`
/// accepts, each problem prefixed with its operation: what a function's schema test asserts empty.
pub fn uncovered_properties<T: serde::de::DeserializeOwned>(operations: &[(&str, &Schema<'_>)]) -> Vec<String> {
    let accepted = property_names::<T>();
    operations
        .iter()
        .flat_map(|(operation, schema)| uncovered_members(schema, &accepted, &not_accepted(operation)).into_iter().map(move |p| format!("{operation}: {p}")))
        .collect()
}

/// The property names a `#[derive(Deserialize)]` struct accepts (after `rename_all`), as serde
/// declares them: what `deny_unknown_fields` lets through.
pub fn property_names<T: serde::de::DeserializeOwned>() -> Vec<String> {
    let mut names = Vec::new();
    let _ = T::deserialize(FieldNames(&mut names));
    names
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames<'a>(&'a mut Vec<String>);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only struct field names are read"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(self, _: &'static str, fields: &'static [&'static str], _: V) -> Result<V::Value, Self::Error> {
        self.0.extend(fields.iter().map(|f| f.to_string()));
        Err(serde::de::Error::custom("only struct field names are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
        newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::UserSettings;
    use serde_json::json;

    #[test]
    fn nested_settings_with_stringified_numbers() {
        let settings: UserSettings = from_value(&json!({
            "ExecutionRole": "arn:aws:iam::123456789012:role/studio",
            "SecurityGroups": ["sg-1"],
            "JupyterLabAppSettings": {
                "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": "60"}},
                "LifecycleConfigArns": []
            },
            "SpaceStorageSettings": {"DefaultEbsStorageSettings": {"DefaultEbsVolumeSizeInGb": "5", "MaximumEbsVolumeSizeInGb": 100}},
            "CustomFileSystemConfigs": [{"EFSFileSystemConfig": {"FileSystemId": "fs-1", "FileSystemPath": "/"}}]
        }))
        .unwrap();
        let idle = settings.jupyter_lab_app_settings().unwrap().app_lifecycle_management().unwrap().idle_settings().unwrap();
        assert_eq!(idle.idle_timeout_in_minutes(), Some(60));
        let ebs = settings.space_storage_settings().unwrap().default_ebs_storage_settings().unwrap();
        assert_eq!(ebs.default_ebs_volume_size_in_gb(), Some(5));
        assert_eq!(settings.custom_file_system_configs().len(), 1);
        assert_eq!(settings.jupyter_lab_app_settings().unwrap().lifecycle_config_arns(), &[] as &[String]);
    }

    #[test]
    fn errors_carry_the_nested_path() {
        let e = from_value::<UserSettings>(&json!({"JupyterLabAppSettings": {"AppLifecycleManagement":
            {"IdleSettings": {"IdleTimeoutInMinutes": "sixty"}}}}))
        .unwrap_err();
        assert_eq!(e.to_string(), r#"JupyterLabAppSettings.AppLifecycleManagement.IdleSettings.IdleTimeoutInMinutes: expected an integer, got "sixty""#);
        let e = from_value::<UserSettings>(&json!({"JupyterLabAppSettings": {"Colour": "red"}})).unwrap_err();
        assert_eq!(e.path, "JupyterLabAppSettings.Colour");
        assert!(e.message.contains("`LifecycleConfigArns`"), "{e}");
        let e = from_value::<UserSettings>(&json!({"SecurityGroups": ["sg-1", {"x": 1}]})).unwrap_err();
        assert_eq!(e.to_string(), "SecurityGroups[1]: expected a string, got an object");
    }

    #[test]
    fn members_are_accounted_for_or_named() {
        use aws_sdk_sagemaker::operation::update_user_profile::UpdateUserProfileInput;
        let sent = UpdateUserProfileInput::builder().domain_id("d-1").user_profile_name("a").user_settings(UserSettings::builder().build()).build().unwrap();
        let covered = sent_members(&sent).unwrap();
        assert_eq!(covered, ["DomainId", "UserProfileName", "UserSettings"]);
        assert!(uncovered_members(UpdateUserProfileInput::SCHEMA, &covered, &[]).is_empty());
        let problems = uncovered_members(UpdateUserProfileInput::SCHEMA, &covered[..2], &[("Colour", "no such thing"), ("DomainId", "the physical id")]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("UserSettings: neither accepted"), "{problems:?}");
        assert!(problems[1].starts_with("Colour: listed as not accepted, but com.amazonaws.sagemaker.synthetic#UpdateUserProfileInput"), "{problems:?}");
        assert!(problems[2].starts_with("DomainId: listed as not accepted (the physical id), yet it is covered"), "{problems:?}");
    }

    #[test]
    fn property_names_are_read_from_the_struct() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "PascalCase", deny_unknown_fields)]
        #[allow(dead_code)]
        struct Props {
            domain_id: String,
            #[serde(default)]
            user_settings: Option<Api<UserSettings>>,
        }
        assert_eq!(property_names::<Props>(), ["DomainId", "UserSettings"]);
    }

    #[test]
    fn nested_errors_keep_their_path_inside_properties() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "PascalCase", deny_unknown_fields)]
        struct Props {
            #[allow(dead_code)]
            user_settings: Api<UserSettings>,
        }
        let props = json!({"UserSettings": {"JupyterLabAppSettings": {"Colour": "red"}}});
        let e = custom_resource::properties::parse::<Props>(props.as_object().unwrap()).unwrap_err();
        assert_eq!(e.path, "UserSettings.JupyterLabAppSettings.Colour");
    }
}
