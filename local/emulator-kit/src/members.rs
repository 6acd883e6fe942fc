//! Request members of the JSON protocols: typed access, and the model's constraints reported
//! the way AWS's services report them.
//!
//! A member of the wrong JSON type is a SerializationException (the request cannot be read);
//! a member that breaks a constraint is collected by [`Checks`]: "N validation errors detected:
//! Value 'x' at 'memberPath' failed to satisfy constraint: ...".

use serde_json::{Map, Value};

use crate::error::AwsError;

/// A JSON request body or one of its structures.
pub type Body = Map<String, Value>;

/// A member that is not of the JSON type the model says.
pub fn wrong_type(key: &str, expected: &str) -> AwsError {
    AwsError::serialization(format!("Member '{key}' must be {expected}"))
}

/// A member read as `read` finds it; absent or null is None, another JSON type an error.
fn opt_member<'a, T>(m: &'a Body, key: &str, expected: &str, read: impl Fn(&'a Value) -> Option<T>) -> Result<Option<T>, AwsError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => read(value).map(Some).ok_or_else(|| wrong_type(key, expected)),
    }
}

pub fn opt_str<'a>(m: &'a Body, key: &str) -> Result<Option<&'a str>, AwsError> {
    opt_member(m, key, "a string", Value::as_str)
}

pub fn opt_int(m: &Body, key: &str) -> Result<Option<i64>, AwsError> {
    opt_member(m, key, "an integer", Value::as_i64)
}

pub fn opt_bool(m: &Body, key: &str) -> Result<Option<bool>, AwsError> {
    opt_member(m, key, "a boolean", Value::as_bool)
}

/// A timestamp member: epoch seconds, the JSON protocols' format.
pub fn opt_time(m: &Body, key: &str) -> Result<Option<f64>, AwsError> {
    opt_member(m, key, "a timestamp (epoch seconds)", Value::as_f64)
}

pub fn opt_obj<'a>(m: &'a Body, key: &str) -> Result<Option<&'a Body>, AwsError> {
    opt_member(m, key, "an object", Value::as_object)
}

pub fn opt_str_list<'a>(m: &'a Body, key: &str) -> Result<Option<Vec<&'a str>>, AwsError> {
    opt_member(m, key, "a list of strings", |v| v.as_array()?.iter().map(Value::as_str).collect())
}

/// "DefaultUserSettings.ExecutionRole" -> "defaultUserSettings.executionRole": services name
/// members in camelCase in their validation messages.
fn member_path(path: &str) -> String {
    path.split('.')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(".")
}

/// Collects the constraint violations of one request.
#[derive(Default)]
pub struct Checks {
    errors: Vec<String>,
}

impl Checks {
    /// Records a violation of `constraint` by `value` (None: null) at `path`.
    pub fn fail(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let value = value.map_or("null".to_string(), |v| format!("'{v}'"));
        self.errors.push(format!("Value {value} at '{}' failed to satisfy constraint: {constraint}", member_path(path)));
    }

    /// Records a missing required member; passes the value through.
    pub fn required<T>(&mut self, path: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.fail(None, path, "Member must not be null");
        }
        value
    }

    /// Length in characters.
    pub fn length(&mut self, path: &str, value: &str, min: usize, max: usize) {
        self.size(path, value, value.chars().count(), min, max);
    }

    /// A size (bytes of a blob, characters of a text) shown as `shown`.
    pub fn size(&mut self, path: &str, shown: &str, size: usize, min: usize, max: usize) {
        if size < min {
            self.fail(Some(shown), path, &format!("Member must have length greater than or equal to {min}"));
        } else if size > max {
            self.fail(Some(shown), path, &format!("Member must have length less than or equal to {max}"));
        }
    }

    /// The size in bytes of a sensitive blob (a KMS message or MAC): its value is not shown.
    pub fn blob_length(&mut self, path: &str, size: usize, min: usize, max: usize) {
        let limit = if size < min {
            format!("greater than or equal to {min}")
        } else if size > max {
            format!("less than or equal to {max}")
        } else {
            return;
        };
        self.errors.push(format!("Value at '{}' failed to satisfy constraint: Member must have length {limit}", member_path(path)));
    }

    pub fn pattern(&mut self, path: &str, value: &str, matches: bool, pattern: &str) {
        if !matches {
            self.fail(Some(value), path, &format!("Member must satisfy regular expression pattern: {pattern}"));
        }
    }

    pub fn one_of(&mut self, path: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.fail(Some(value), path, &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")));
        }
    }

    pub fn range(&mut self, path: &str, value: i64, min: i64, max: i64) {
        let shown = value.to_string();
        if value < min {
            self.fail(Some(&shown), path, &format!("Member must have value greater than or equal to {min}"));
        } else if value > max {
            self.fail(Some(&shown), path, &format!("Member must have value less than or equal to {max}"));
        }
    }

    /// The number of items of a list.
    pub fn count(&mut self, path: &str, items: &[&str], min: usize, max: usize) {
        self.size(path, &format!("[{}]", items.join(", ")), items.len(), min, max);
    }

    /// A constraint the model cannot express (e.g. "exactly one of"): the message as is.
    pub fn rule(&mut self, ok: bool, message: &str) {
        if !ok {
            self.errors.push(message.to_string());
        }
    }

    pub fn finish(self) -> Result<(), AwsError> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(AwsError::validation(format!("1 validation error detected: {}", self.errors[0]))),
            n => Err(AwsError::validation(format!("{n} validation errors detected: {}", self.errors.join("; ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_count_the_violations_and_name_members_in_camel_case() {
        let mut checks = Checks::default();
        checks.length("DomainName", "", 1, 63);
        checks.required::<&str>("DefaultUserSettings.ExecutionRole", None);
        let err = checks.finish().unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.starts_with("2 validation errors detected: Value '' at 'domainName'"), "{}", err.message);
        assert!(err.message.contains("Value null at 'defaultUserSettings.executionRole' failed to satisfy constraint: Member must not be null"));
    }

    #[test]
    fn a_member_of_the_wrong_type_cannot_be_read() {
        let body = json!({"Name": 7, "Flag": "yes"});
        let body = body.as_object().unwrap();
        assert_eq!(opt_str(body, "Name").unwrap_err().code, "SerializationException");
        assert_eq!(opt_bool(body, "Flag").unwrap_err().code, "SerializationException");
        assert_eq!(opt_str(body, "Absent").unwrap(), None);
    }
}
