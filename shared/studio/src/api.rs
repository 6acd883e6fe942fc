//! SageMaker API shapes as properties, e.g. `DefaultUserSettings: Option<Api<UserSettings>>`:
//! read by the SDK's own schema-driven deserializer through the core's lenient shape reader,
//! so every nested member is checked with its full path and no copy of the model is written.

use aws_smithy_json::codec::JsonCodec;
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
