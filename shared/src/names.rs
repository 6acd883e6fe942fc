//! SageMaker's name and id constraints, checked before calling the API so that the error
//! names the property instead of arriving as a ValidationException.

use crate::properties::PropertyError;

/// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, at most 63 characters: user profile, space and
/// app names.
pub fn check_name(path: &str, value: &str) -> Result<(), PropertyError> {
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let valid = (1..=63).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && alphanumeric(value.chars().next())
        && alphanumeric(value.chars().last());
    if valid {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("must be 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit, got {value:?}")))
    }
}

/// `^d-(-*[a-z0-9]){1,61}`, at most 63 characters, e.g. `d-abc123xyz`.
pub fn check_domain_id(path: &str, value: &str) -> Result<(), PropertyError> {
    let lower_alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = value.len() <= 63
        && value
            .strip_prefix("d-")
            .is_some_and(|rest| rest.chars().all(|c| lower_alphanumeric(c) || c == '-') && rest.chars().last().is_some_and(lower_alphanumeric));
    if valid {
        Ok(())
    } else {
        Err(PropertyError::new(path, format!("must be a domain id such as d-abc123xyz (\"d-\" then lowercase letters, digits and hyphens), got {value:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
