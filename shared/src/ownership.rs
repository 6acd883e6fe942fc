//! Ownership tags: which stack and logical resource made an AWS resource, and in which
//! request. A Delete never destroys what another stack owns, and a second delivery of the
//! same Create finds what the first one made instead of making it twice.

use crate::event::Request;

pub const STACK_ID: &str = "studio-cfn:stack-id";
pub const LOGICAL_ID: &str = "studio-cfn:logical-id";
pub const REQUEST_ID: &str = "studio-cfn:request-id";

/// The tags to put on a resource created for `request`, as (key, value) pairs.
pub fn tags(request: &Request) -> Vec<(String, String)> {
    vec![
        (STACK_ID.to_string(), request.stack_id.clone()),
        (LOGICAL_ID.to_string(), request.logical_resource_id.clone()),
        (REQUEST_ID.to_string(), request.request_id.clone()),
    ]
}

fn value<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The tags a new resource is created with: the user's, then ours.
pub fn creation_tags(user_tags: Vec<(String, String)>, request: &Request) -> Vec<aws_sdk_sagemaker::types::Tag> {
    user_tags.into_iter().chain(tags(request)).map(|(key, value)| aws_sdk_sagemaker::types::Tag::builder().key(key).value(value).build()).collect()
}

/// Whether the resource carrying `tags` belongs to this stack's logical resource.
pub fn owned_by(tags: &[(String, String)], request: &Request) -> bool {
    value(tags, STACK_ID) == Some(request.stack_id.as_str()) && value(tags, LOGICAL_ID) == Some(request.logical_resource_id.as_str())
}

/// Whether the resource carrying `tags` was created by this very request (a duplicate delivery).
pub fn made_by(tags: &[(String, String)], request: &Request) -> bool {
    owned_by(tags, request) && value(tags, REQUEST_ID) == Some(request.request_id.as_str())
}

/// Whether a user-supplied tag key is one of ours (users may not set or remove those).
pub fn is_ownership_key(key: &str) -> bool {
    [STACK_ID, LOGICAL_ID, REQUEST_ID].contains(&key)
}

/// The user's `Tags` property as (key, value) pairs: keys present, unique, and neither ours
/// nor AWS's (`aws:*`). Errors name the property, e.g. `Tags[1].Key`.
pub fn user_tags(tags: &[crate::Api<aws_sdk_sagemaker::types::Tag>]) -> Result<Vec<(String, String)>, crate::PropertyError> {
    use crate::PropertyError;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let Some(key) = tag.key().filter(|k| !k.is_empty()) else {
            return Err(PropertyError::new(format!("Tags[{i}].Key"), "required property is missing"));
        };
        if is_ownership_key(key) || key.starts_with("aws:") {
            return Err(PropertyError::new(
                format!("Tags[{i}].Key"),
                format!("{key:?} is reserved (aws:* and studio-cfn:* keys are set by AWS and by this function)"),
            ));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(PropertyError::new(format!("Tags[{i}].Key"), format!("{key:?} appears twice; tag keys must be unique")));
        }
        let Some(value) = tag.value() else {
            return Err(PropertyError::new(format!("Tags[{i}].Value"), "required property is missing"));
        };
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// What to change so that a resource carrying `actual` tags ends up with the user's `desired`
/// tags: (tags to add or overwrite, keys to remove). Ownership and aws:* tags are left alone.
pub fn tag_changes(actual: &[(String, String)], desired: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let add = desired.iter().filter(|(k, v)| !actual.iter().any(|(ak, av)| ak == k && av == v)).cloned().collect();
    let remove =
        actual.iter().map(|(k, _)| k).filter(|k| !is_ownership_key(k) && !k.starts_with("aws:") && !desired.iter().any(|(d, _)| d == *k)).cloned().collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Api;
    use aws_sdk_sagemaker::types::Tag;

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn user_tags_refuse_reserved_and_duplicate_keys() {
        let tag = |k: &str, v: &str| Api(Tag::builder().key(k).value(v).build());
        assert_eq!(user_tags(&[tag("team", "ml")]).unwrap(), vec![pair("team", "ml")]);
        assert_eq!(user_tags(&[tag("a", "1"), tag(STACK_ID, "x")]).unwrap_err().path, "Tags[1].Key");
        assert_eq!(user_tags(&[tag("aws:cloudformation:x", "1")]).unwrap_err().path, "Tags[0].Key");
        assert!(user_tags(&[tag("a", "1"), tag("a", "2")]).unwrap_err().message.contains("twice"));
    }

    #[test]
    fn tag_changes_touch_only_user_tags() {
        let actual = vec![pair(STACK_ID, "s"), pair("aws:x", "1"), pair("team", "ml"), pair("old", "1"), pair("same", "v")];
        let desired = vec![pair("team", "research"), pair("same", "v"), pair("new", "2")];
        let (add, remove) = tag_changes(&actual, &desired);
        assert_eq!(add, vec![pair("team", "research"), pair("new", "2")]);
        assert_eq!(remove, vec!["old".to_string()]);
    }
}
