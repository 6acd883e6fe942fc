//! AWS API shapes as properties, read through the SDK's own schema-driven deserializers.
//!
//! Properties mirror the API's member names, so a nested shape such as `DefaultUserSettings`
//! is read straight into the SDK's own type. [`read_shape`] feeds such a deserializer the
//! property JSON: it tracks the path, coerces stringified numbers and booleans, and rejects
//! members the API does not have, for every nested setting, without a hand-written copy of
//! the model. It knows no service: the Studio layer names the shapes (`studio::Api`).

use crate::properties::{PropertyError, describe_value, join, lenient_bool, lenient_f64, lenient_i64, lenient_string};
use aws_smithy_schema::Schema;
use aws_smithy_schema::serde::{SerdeError, ShapeDeserializer};
use aws_smithy_types::{BigDecimal, BigInteger, Blob, DateTime, Document, Number};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// An SDK shape's schema-driven deserializer, e.g. `UserSettings::deserialize`.
pub type ReadFn<T> = fn(&mut dyn ShapeDeserializer) -> Result<T, SerdeError>;

/// Read an API shape from JSON with the API's member names.
pub fn read_shape<T>(value: &Value, read: ReadFn<T>) -> Result<T, PropertyError> {
    let state = RefCell::new(ReadState::default());
    let mut reader = ShapeReader { value, path: String::new(), state: &state };
    let result = read(&mut reader);
    let state = state.into_inner();
    match (result, state.error) {
        (Ok(shape), None) => Ok(shape),
        (_, Some(error)) => Err(error),
        // Not raised by our reader (the SDK's own checks): the struct read last is the one.
        (Err(e), None) => Err(PropertyError::new(state.last_struct, e.to_string())),
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
