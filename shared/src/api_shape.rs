//! SageMaker API shapes as properties.
//!
//! Properties mirror the API's member names, so a nested shape such as `DefaultUserSettings`
//! is read straight into the SDK's own type through the SDK's schema-driven deserializer.
//! [`ShapeReader`] feeds it the property JSON: it tracks the path, coerces stringified
//! numbers and booleans, and rejects members the API does not have — for every nested
//! setting, without a hand-written copy of the model.

use crate::properties::{PropertyError, describe_value, join, lenient_bool, lenient_f64, lenient_i64, lenient_string};
use aws_smithy_schema::Schema;
use aws_smithy_schema::serde::{SerdeError, ShapeDeserializer};
use aws_smithy_types::{BigDecimal, BigInteger, Blob, DateTime, Document, Number};
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

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
api_shapes!(UserSettings, DomainSettings, DefaultSpaceSettings, Tag, DomainSettingsForUpdate,);

/// A property holding an API shape, e.g. `DefaultUserSettings: Option<Api<UserSettings>>`.
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
        from_value(&value).map(Api).map_err(|e| D::Error::custom(NestedError::encode(&e)))
    }
}

/// Read an API shape from JSON with the API's member names.
pub fn from_value<T: ApiShape>(value: &Value) -> Result<T, PropertyError> {
    let state = RefCell::new(ReadState::default());
    let mut reader = ShapeReader { value, path: String::new(), state: &state };
    let result = T::read(&mut reader);
    let state = state.into_inner();
    match (result, state.error) {
        (Ok(shape), None) => Ok(shape),
        (_, Some(error)) => Err(error),
        // Not raised by our reader (the SDK's own checks): the struct read last is the one.
        (Err(e), None) => Err(PropertyError::new(state.last_struct, e.to_string())),
    }
}

/// Carries a nested shape's own path through serde's error type (which only has a message).
pub(crate) struct NestedError {
    pub path: String,
    pub message: String,
}

const MARK: char = '\u{1}';

impl NestedError {
    fn encode(e: &PropertyError) -> String {
        format!("{MARK}{}{MARK}{}", e.path, e.message)
    }

    pub(crate) fn decode(message: &str) -> Option<NestedError> {
        let rest = message.strip_prefix(MARK)?;
        let (path, message) = rest.split_once(MARK)?;
        Some(NestedError { path: path.to_string(), message: message.to_string() })
    }
}

#[derive(Default)]
struct ReadState {
    error: Option<PropertyError>,
    last_struct: String,
}

struct ShapeReader<'a> {
    value: &'a Value,
    path: String,
    state: &'a RefCell<ReadState>,
}

impl<'a> ShapeReader<'a> {
    fn child(&self, value: &'a Value, segment: &str) -> ShapeReader<'a> {
        ShapeReader { value, path: join(&self.path, segment), state: self.state }
    }

    /// Record the first error with its path; the SDK code only propagates it.
    fn fail(&self, message: String) -> SerdeError {
        let mut state = self.state.borrow_mut();
        if state.error.is_none() {
            state.error = Some(PropertyError::new(self.path.clone(), message.clone()));
        }
        SerdeError::custom(message)
    }

    fn expected(&self, what: &str) -> SerdeError {
        self.fail(format!("expected {what}, got {}", describe_value(self.value)))
    }

    fn integer<T: TryFrom<i64>>(&self, min: i128, max: i128) -> Result<T, SerdeError> {
        let n = lenient_i64(self.value).ok_or_else(|| self.expected("an integer"))?;
        T::try_from(n).map_err(|_| self.expected(&format!("an integer between {min} and {max}")))
    }
}

fn member_names(schema: &Schema<'_>) -> String {
    let names: Vec<String> = schema.members().iter().filter_map(|m| m.member_name()).map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

impl ShapeDeserializer for ShapeReader<'_> {
    fn read_struct(
        &mut self,
        schema: &Schema<'_>,
        state: &mut dyn FnMut(&Schema<'_>, &mut dyn ShapeDeserializer) -> Result<(), SerdeError>,
    ) -> Result<(), SerdeError> {
        let Value::Object(members) = self.value else {
            return Err(self.expected("an object"));
        };
        for (name, value) in members {
            let mut child = self.child(value, name);
            let Some(member) = schema.member_schema(name) else {
                return Err(child.fail(format!("unknown property; allowed here: {}", member_names(schema))));
            };
            state(member, &mut child)?;
        }
        self.state.borrow_mut().last_struct = self.path.clone();
        Ok(())
    }

    fn read_list(&mut self, _schema: &Schema<'_>, state: &mut dyn FnMut(&mut dyn ShapeDeserializer) -> Result<(), SerdeError>) -> Result<(), SerdeError> {
        let Value::Array(items) = self.value else {
            return Err(self.expected("a list"));
        };
        for (index, item) in items.iter().enumerate() {
            state(&mut self.child(item, &format!("[{index}]")))?;
        }
        Ok(())
    }

    fn read_map(
        &mut self,
        _schema: &Schema<'_>,
        state: &mut dyn FnMut(String, &mut dyn ShapeDeserializer) -> Result<(), SerdeError>,
    ) -> Result<(), SerdeError> {
        let Value::Object(entries) = self.value else {
            return Err(self.expected("an object"));
        };
        for (key, value) in entries {
            state(key.clone(), &mut self.child(value, key))?;
        }
        Ok(())
    }

    fn read_boolean(&mut self, _: &Schema<'_>) -> Result<bool, SerdeError> {
        lenient_bool(self.value).ok_or_else(|| self.expected("a boolean (true or false)"))
    }
    fn read_byte(&mut self, _: &Schema<'_>) -> Result<i8, SerdeError> {
        self.integer(i8::MIN as i128, i8::MAX as i128)
    }
    fn read_short(&mut self, _: &Schema<'_>) -> Result<i16, SerdeError> {
        self.integer(i16::MIN as i128, i16::MAX as i128)
    }
    fn read_integer(&mut self, _: &Schema<'_>) -> Result<i32, SerdeError> {
        self.integer(i32::MIN as i128, i32::MAX as i128)
    }
    fn read_long(&mut self, _: &Schema<'_>) -> Result<i64, SerdeError> {
        self.integer(i64::MIN as i128, i64::MAX as i128)
    }
    fn read_float(&mut self, _: &Schema<'_>) -> Result<f32, SerdeError> {
        lenient_f64(self.value).map(|f| f as f32).ok_or_else(|| self.expected("a number"))
    }
    fn read_double(&mut self, _: &Schema<'_>) -> Result<f64, SerdeError> {
        lenient_f64(self.value).ok_or_else(|| self.expected("a number"))
    }
    fn read_big_integer(&mut self, _: &Schema<'_>) -> Result<BigInteger, SerdeError> {
        let text = lenient_string(self.value).ok_or_else(|| self.expected("an integer"))?;
        text.parse().map_err(|_| self.expected("an integer"))
    }
    fn read_big_decimal(&mut self, _: &Schema<'_>) -> Result<BigDecimal, SerdeError> {
        let text = lenient_string(self.value).ok_or_else(|| self.expected("a number"))?;
        text.parse().map_err(|_| self.expected("a number"))
    }
    fn read_string(&mut self, _: &Schema<'_>) -> Result<String, SerdeError> {
        lenient_string(self.value).ok_or_else(|| self.expected("a string"))
    }
    fn read_blob(&mut self, _: &Schema<'_>) -> Result<Blob, SerdeError> {
        Err(self.fail("binary values cannot be given as properties".into()))
    }
    fn read_timestamp(&mut self, _: &Schema<'_>) -> Result<DateTime, SerdeError> {
        if let Some(seconds) = lenient_f64(self.value) {
            return Ok(DateTime::from_secs_f64(seconds));
        }
        let text = lenient_string(self.value).ok_or_else(|| self.expected("a timestamp"))?;
        DateTime::from_str(&text, aws_smithy_types::date_time::Format::DateTime).map_err(|_| self.expected("an RFC 3339 timestamp or epoch seconds"))
    }
    fn read_document(&mut self, _: &Schema<'_>) -> Result<Document, SerdeError> {
        Ok(to_document(self.value))
    }
    fn is_null(&self) -> bool {
        self.value.is_null()
    }
    fn skip_value(&mut self) -> Result<(), SerdeError> {
        Ok(())
    }
    fn container_size(&self) -> Option<usize> {
        match self.value {
            Value::Array(items) => Some(items.len()),
            Value::Object(map) => Some(map.len()),
            _ => None,
        }
    }
}

fn to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Document::Number(Number::PosInt(u)),
            (_, Some(i)) => Document::Number(Number::NegInt(i)),
            _ => Document::Number(Number::Float(n.as_f64().unwrap_or_default())),
        },
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        Value::Object(map) => Document::Object(map.iter().map(|(k, v)| (k.clone(), to_document(v))).collect::<HashMap<_, _>>()),
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
}
