//! Typed input from JSON: CloudFormation's ResourceProperties, a Function URL's body.
//!
//! CloudFormation passes template values through as written, but numbers and booleans
//! usually arrive as strings ("60", "true"). [`from_value`] accepts both wherever the target
//! type wants a number or a boolean, rejects unknown members, and names the full path
//! of whatever is wrong, e.g. `Settings.Idle.IdleTimeoutInMinutes: expected an integer, got "sixty"`.
//!
//! Input structs derive `Deserialize` with `#[serde(rename_all = "PascalCase", deny_unknown_fields)]`;
//! AWS API shapes are embedded through [`crate::api_shape::read_shape`] (e.g. `studio::Api`).

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::Value;
use std::fmt;

/// A property that is missing, unknown or malformed, with the path that names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct PropertyError {
    /// Dotted path from the top of ResourceProperties, `[i]` for list items.
    pub path: String,
    pub message: String,
}

impl PropertyError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// Carries a nested value's own error path through serde's error type (which only has a
/// message), for deserializers that track paths themselves, e.g. API shapes.
pub fn nested_error<E: de::Error>(e: &PropertyError) -> E {
    E::custom(format!("{MARK}{}{MARK}{}", e.path, e.message))
}

const MARK: char = '\u{1}';

fn decode_nested(message: &str) -> Option<(&str, &str)> {
    message.strip_prefix(MARK)?.split_once(MARK)
}

/// Deserialize any JSON value leniently into `T`.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, PropertyError> {
    serde_path_to_error::deserialize(Lenient(value)).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        describe(path, err.into_inner().0)
    })
}

/// Turn serde's wording into ours: nested API-shape errors carry their own sub-path,
/// and an unknown field becomes part of the path it was found at.
fn describe(path: String, message: String) -> PropertyError {
    if let Some((nested_path, nested_message)) = decode_nested(&message) {
        return PropertyError::new(join(&path, nested_path), nested_message);
    }
    if let Some((name, expected)) = message.strip_prefix("unknown field `").and_then(|rest| rest.split_once('`')) {
        let allowed = expected.trim_start_matches(", ").replace("expected one of ", "").replace("expected ", "");
        // The path already ends at the unknown key.
        let path = if path.ends_with(name) { path } else { join(&path, name) };
        return PropertyError::new(path, format!("unknown property; allowed here: {allowed}"));
    }
    if let Some(name) = message.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
        return PropertyError::new(join(&path, name), "required property is missing");
    }
    PropertyError::new(path, message)
}

pub fn join(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_string(),
        (_, true) => parent.to_string(),
        _ if child.starts_with('[') => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

/// How a value reads in an error message: strings quoted, containers named.
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Parse a boolean the way CloudFormation users write it.
pub fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

pub fn lenient_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn lenient_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

/// Strings are accepted where text is wanted even when a template wrote a number.
pub fn lenient_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[derive(Debug)]
pub struct LenientError(String);

impl fmt::Display for LenientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LenientError {}
impl de::Error for LenientError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        LenientError(msg.to_string())
    }
}

/// A serde deserializer over a JSON value that coerces strings to numbers and booleans.
struct Lenient<'a>(&'a Value);

impl Lenient<'_> {
    fn expected(&self, what: &str) -> LenientError {
        LenientError(format!("expected {what}, got {}", describe_value(self.0)))
    }

    fn integer<T: TryFrom<i64>>(&self, min: i128, max: i128) -> Result<T, LenientError> {
        let n = lenient_i64(self.0).ok_or_else(|| self.expected("an integer"))?;
        T::try_from(n).map_err(|_| self.expected(&format!("an integer between {min} and {max}")))
    }
}

macro_rules! integer_methods {
    ($($method:ident => $visit:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
            visitor.$visit(self.integer::<$t>(<$t>::MIN as i128, <$t>::MAX as i128)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Lenient<'_> {
    type Error = LenientError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, Some(f)) => visitor.visit_f64(f),
                _ => Err(self.expected("a number")),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(map) => visitor.visit_map(Entries { iter: map.iter(), value: None }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_bool(lenient_bool(self.0).ok_or_else(|| self.expected("a boolean (true or false)"))?)
    }

    integer_methods!(
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_f64(lenient_f64(self.0).ok_or_else(|| self.expected("a number"))?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_string(lenient_string(self.0).ok_or_else(|| self.expected("a string"))?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            _ => Err(self.expected("a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries { iter: map.iter(), value: None }),
            _ => Err(self.expected("an object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, LenientError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, variants: &'static [&'static str], visitor: V) -> Result<V::Value, LenientError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(self.expected(&format!("one of {}", variants.join(", ")))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, LenientError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! { bytes byte_buf unit_struct tuple tuple_struct identifier }
}

struct Items<'a>(std::slice::Iter<'a, Value>);

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = LenientError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, LenientError> {
        self.0.next().map(|v| seed.deserialize(Lenient(v))).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = LenientError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, LenientError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, LenientError> {
        let value = self.value.take().ok_or_else(|| LenientError("value without key".into()))?;
        seed.deserialize(Lenient(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Props {
        name: String,
        count: Option<i32>,
        enabled: Option<bool>,
        ratio: Option<f64>,
        settings: Option<Settings>,
        #[allow(dead_code)]
        items: Option<Vec<Item>>,
        mode: Option<Mode>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Settings {
        idle: Idle,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Idle {
        idle_timeout_in_minutes: u32,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Item {
        #[allow(dead_code)]
        size: u8,
    }
    #[derive(Debug, Deserialize, PartialEq)]
    enum Mode {
        Fast,
        Slow,
    }

    fn props(v: Value) -> Result<Props, PropertyError> {
        from_value(&v)
    }

    #[test]
    fn stringified_numbers_and_booleans_are_accepted() {
        let p = props(json!({"Name": "a", "Count": "60",
            "Enabled": "true", "Ratio": "0.5", "Settings": {"Idle": {"IdleTimeoutInMinutes": "90"}}, "Mode": "Slow"}))
        .unwrap();
        assert_eq!(p.count, Some(60));
        assert_eq!(p.enabled, Some(true));
        assert_eq!(p.ratio, Some(0.5));
        assert_eq!(p.settings.unwrap().idle.idle_timeout_in_minutes, 90);
        assert_eq!(p.mode, Some(Mode::Slow));
        assert_eq!(props(json!({"Name": 7, "Count": 3, "Enabled": false})).unwrap().name, "7");
    }

    #[test]
    fn errors_name_the_full_path() {
        let e = props(json!({"Name": "a", "Settings": {"Idle": {"IdleTimeoutInMinutes": "sixty"}}})).unwrap_err();
        assert_eq!(e.to_string(), r#"Settings.Idle.IdleTimeoutInMinutes: expected an integer, got "sixty""#);
        let e = props(json!({"Name": "a", "Items": [{"Size": "1"}, {"Size": "300"}]})).unwrap_err();
        assert_eq!(e.path, "Items[1].Size");
        assert!(e.message.contains("between 0 and 255"), "{e}");
        let e = props(json!({"Name": "a", "Enabled": "yes"})).unwrap_err();
        assert_eq!(e.to_string(), r#"Enabled: expected a boolean (true or false), got "yes""#);
    }

    #[test]
    fn unknown_and_missing_properties_are_named() {
        let e = props(json!({"Name": "a", "Colour": "red"})).unwrap_err();
        assert_eq!(e.path, "Colour");
        assert!(e.message.starts_with("unknown property; allowed here: `Name`"), "{e}");
        let e = props(json!({"Name": "a", "Settings": {"Idle": {"IdleTimeoutInMinutes": 1, "Extra": 1}}})).unwrap_err();
        assert_eq!(e.path, "Settings.Idle.Extra");
        let e = props(json!({"Count": 1})).unwrap_err();
        assert_eq!(e.to_string(), "Name: required property is missing");
        let e = props(json!({"Name": "a", "Mode": "Medium"})).unwrap_err();
        assert_eq!(e.path, "Mode");
        assert!(e.message.contains("`Fast` or `Slow`"), "{e}");
    }
}
