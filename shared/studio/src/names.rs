//! SageMaker's name, id and enum constraints, checked before calling the API so that the
//! error names the property instead of arriving as a ValidationException.

use function_base::PropertyError;
use function_base::properties::lenient_string;
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;

/// The longest SageMaker name: domains, user profiles, spaces, apps, lifecycle configs.
pub const MAX_NAME: usize = 63;

/// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`: user profile, space, app, domain and lifecycle
/// config names.
pub fn check_name(path: &str, value: &str) -> Result<(), PropertyError> {
    if is_name(value) {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("must be 1 to {MAX_NAME} letters, digits and hyphens, starting and ending with a letter or digit, got {value:?}")))
    }
}

pub fn is_name(value: &str) -> bool {
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    (1..=MAX_NAME).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && alphanumeric(value.chars().next())
        && alphanumeric(value.chars().last())
}

/// `^d-(-*[a-z0-9]){1,61}`, at most 63 characters, e.g. `d-abc123xyz`.
pub fn check_domain_id(path: &str, value: &str) -> Result<(), PropertyError> {
    if is_domain_id(value) {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("must be a domain id such as d-abc123xyz (\"d-\" then lowercase letters, digits and hyphens), got {value:?}")))
    }
}

pub fn is_domain_id(value: &str) -> bool {
    let lower_alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    value.len() <= MAX_NAME
        && value
            .strip_prefix("d-")
            .is_some_and(|rest| rest.chars().all(|c| lower_alphanumeric(c) || c == '-') && rest.chars().last().is_some_and(lower_alphanumeric))
}

/// `value` is one of `allowed` (an SDK enum's `values()`); the error lists them.
pub fn one_of(path: &str, value: &str, allowed: &[&str]) -> Result<(), PropertyError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let shown = if allowed.len() > 12 {
        format!("one of the {} values the API lists (e.g. {})", allowed.len(), allowed[..6].join(", "))
    } else {
        format!("one of {}", allowed.join(", "))
    };
    Err(PropertyError::new(path, format!("expected {shown}; got {value:?}")))
}

/// An SDK enumeration: its values are the API model's, not a copy.
pub trait SdkEnum: for<'a> From<&'a str> + Clone + PartialEq + std::fmt::Debug {
    fn values() -> &'static [&'static str];
}

macro_rules! sdk_enums {
    ($($name:ident),* $(,)?) => {$(
        impl SdkEnum for aws_sdk_sagemaker::types::$name {
            fn values() -> &'static [&'static str] {
                aws_sdk_sagemaker::types::$name::values()
            }
        }
    )*};
}

sdk_enums!(StudioLifecycleConfigAppType, RetentionType, AuthMode, AppNetworkAccessType, AppSecurityGroupManagement, TagPropagation, AppType);

/// A property holding an SDK enumeration value, refused unless the API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Enum<T>(pub T);

impl<T> std::ops::Deref for Enum<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: SdkEnum> Deserialize<'de> for Enum<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let text = lenient_string(&value).ok_or_else(|| D::Error::custom(format!("expected one of {}", T::values().join(", "))))?;
        one_of("", &text, T::values()).map_err(|e| D::Error::custom(e.message))?;
        Ok(Enum(T::from(text.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::StudioLifecycleConfigAppType;

    #[test]
    fn names_follow_the_api_pattern() {
        for ok in ["a", "Alice", "data-scientist-1", "a--b", &"x".repeat(63)] {
            assert!(check_name("UserProfileName", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a_b", "a.b", "ä", &"x".repeat(64)] {
            let e = check_name("UserProfileName", bad).unwrap_err();
            assert_eq!(e.path, "UserProfileName", "{bad}");
        }
    }

    #[test]
    fn domain_ids_follow_the_api_pattern() {
        for ok in ["d-abc123", "d-a", "d--a", "d-0"] {
            assert!(check_domain_id("DomainId", ok).is_ok(), "{ok}");
        }
        for bad in ["", "d-", "d-a-", "d-ABC", "abc", "x-abc", &format!("d-{}", "a".repeat(62))] {
            assert!(check_domain_id("DomainId", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_take_the_sdk_values() {
        let parse = |v: serde_json::Value| serde_json::from_value::<Enum<StudioLifecycleConfigAppType>>(v);
        assert_eq!(parse(serde_json::json!("CodeEditor")).unwrap().0, StudioLifecycleConfigAppType::CodeEditor);
        let e = parse(serde_json::json!("RStudio")).unwrap_err().to_string();
        assert!(e.contains("JupyterLab") && e.contains("\"RStudio\""), "{e}");
    }
}
