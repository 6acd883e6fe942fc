//! Ownership tags: which stack and logical resource made an AWS resource, and in which
//! request. Nothing is changed or deleted that another stack resource owns, and a second
//! delivery of the same Create finds what the first one made instead of making it twice.

use crate::api::Api;
use aws_sdk_sagemaker::types::Tag;
use function_base::PropertyError;

pub const STACK_ID: &str = "studio-cfn:stack-id";
pub const LOGICAL_ID: &str = "studio-cfn:logical-id";
pub const REQUEST_ID: &str = "studio-cfn:request-id";
/// On a user profile whose IAM Identity Center user this function assigned to the domain's
/// application (value: the UserId): its Delete removes that assignment, and no other.
pub const SSO_ASSIGNED: &str = "studio-cfn:sso-assigned";
/// On a resource whose owner consents to its adoption (value: the adopting stack names).
pub const ADOPTABLE_BY: &str = "studio-cfn:adoptable-by";
/// On a resource a stack adopted instead of creating it.
pub const ADOPTED: &str = "studio-cfn:adopted";
/// Keys under this prefix (in any case) are ours: users may not set them.
pub const RESERVED_PREFIX: &str = "studio-cfn:";
/// SageMaker allows 50 tags on a resource.
pub const MAX_TAGS: usize = 50;
/// SageMaker allows 50 tags on a resource; the ownership tags take some of them.
pub const MAX_USER_TAGS: usize = MAX_TAGS - 3;
/// Every reserved tag a domain can carry at once: the three ownership tags,
/// [`crate::delete_options::TAG`], [`crate::child_stacks::TAG`], [`ADOPTABLE_BY`], [`ADOPTED`]
/// and the [`crate::sso_assigned::MAX_TAGS`] tags recording the Identity Center assignments the
/// domain function made.
pub const DOMAIN_RESERVED_TAGS: usize = 3 + 1 + 1 + 2 + crate::sso_assigned::MAX_TAGS;
/// What is left of SageMaker's 50 for a domain's own `Tags`.
pub const MAX_DOMAIN_USER_TAGS: usize = MAX_TAGS - DOMAIN_RESERVED_TAGS;

/// Who creates: a stack's logical resource, in one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    pub stack_id: &'a str,
    pub logical_id: &'a str,
    pub request_id: &'a str,
}

impl Owner<'_> {
    /// The tags to put on a resource this owner creates, as (key, value) pairs.
    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            (STACK_ID.to_string(), self.stack_id.to_string()),
            (LOGICAL_ID.to_string(), self.logical_id.to_string()),
            (REQUEST_ID.to_string(), self.request_id.to_string()),
        ]
    }

    /// The tags a new resource is created with: the user's, then ours.
    pub fn creation_tags(&self, user_tags: &[(String, String)]) -> Vec<Tag> {
        user_tags.iter().cloned().chain(self.tags()).map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
    }

    /// Whether the resource carrying `tags` belongs to this stack's logical resource.
    pub fn owns(&self, tags: &[(String, String)]) -> bool {
        value(tags, STACK_ID) == Some(self.stack_id) && value(tags, LOGICAL_ID) == Some(self.logical_id)
    }

    /// Whether the resource carrying `tags` was created by this very request (a duplicate delivery).
    pub fn made(&self, tags: &[(String, String)]) -> bool {
        self.owns(tags) && value(tags, REQUEST_ID) == Some(self.request_id)
    }

    /// The ownership guard, the same on Update and Delete: Err names what is not ours.
    pub fn guard(&self, tags: &[(String, String)], what: impl Into<String>) -> Result<(), NotOurs> {
        if self.owns(tags) { Ok(()) } else { Err(NotOurs { what: what.into(), logical_id: self.logical_id.to_string() }) }
    }
}

fn value<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A resource another stack resource (or nobody) owns: left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOurs {
    pub what: String,
    pub logical_id: String,
}

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not ours: its {STACK_ID} and {LOGICAL_ID} tags do not name this stack's {}", self.what, self.logical_id)
    }
}

impl NotOurs {
    /// The SUCCESS Reason of a Delete that leaves it.
    pub fn on_delete(&self) -> String {
        format!("retained: {self}; nothing was deleted")
    }

    /// The FAILED Reason of an Update that refuses to change it.
    pub fn on_update(&self) -> String {
        format!("{self}; nothing was changed")
    }
}

/// A name (the `property`) that `what`, e.g. "space x", already has in `domain_id`, and that
/// this request did not make: only a redelivery of the Create that made it takes it over
/// (another request's, even of this stack resource, may have been planted).
pub fn name_taken(property: &str, what: &str, domain_id: &str) -> PropertyError {
    PropertyError::new(
        property,
        format!(
            "{what} already exists in domain {domain_id} and was not made by this request (an existing one is taken over only by a redelivery \
             of the Create that made it); it is left as it is: choose another name, or delete it first"
        ),
    )
}

/// Whether a tag key is reserved: ours (`studio-cfn:*`) or AWS's (`aws:*`), in any case.
pub fn is_reserved_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with(RESERVED_PREFIX) || lower.starts_with("aws:")
}

/// The user's `Tags` property as (key, value) pairs: at most [`MAX_USER_TAGS`], keys present,
/// unique and not reserved. Errors name the property, e.g. `Tags[1].Key`.
pub fn user_tags(tags: &[Api<Tag>]) -> Result<Vec<(String, String)>, PropertyError> {
    user_tags_within(tags, MAX_USER_TAGS, "this function adds its ownership tags")
}

/// [`user_tags`] for a kind that keeps more reserved tags: at most `max`, the error saying
/// `why` (what takes the rest of SageMaker's 50).
pub fn user_tags_within(tags: &[Api<Tag>], max: usize, why: &str) -> Result<Vec<(String, String)>, PropertyError> {
    if tags.len() > max {
        return Err(PropertyError::new("Tags", format!("at most {max} tags, got {} (SageMaker allows {MAX_TAGS} and {why})", tags.len())));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let Some(key) = tag.key().filter(|k| !k.is_empty()) else {
            return Err(PropertyError::new(format!("Tags[{i}].Key"), "required property is missing"));
        };
        if is_reserved_key(key) {
            return Err(PropertyError::new(
                format!("Tags[{i}].Key"),
                format!("{key:?} is reserved (aws:* and studio-cfn:* keys, in any case, are set by AWS and by this function)"),
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

/// The reserved tags a kind of child resource may carry (ours, each at most once): SageMaker's
/// 50 minus these are the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagBudget {
    pub reserved: &'static [&'static str],
}

impl TagBudget {
    /// How many tags the template may set.
    pub const fn max_user_tags(&self) -> usize {
        MAX_TAGS - self.reserved.len()
    }

    /// [`user_tags`] for a kind with this budget.
    pub fn user_tags(&self, tags: &[Api<Tag>]) -> Result<Vec<(String, String)>, PropertyError> {
        let why = format!("this function may add its own {}: {}", self.reserved.len(), self.reserved.join(", "));
        user_tags_within(tags, self.max_user_tags(), &why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    const OWNER: Owner<'static> = Owner { stack_id: "stack-1", logical_id: "Domain", request_id: "req-1" };

    #[test]
    fn user_tags_refuse_reserved_and_duplicate_keys() {
        let tag = |k: &str, v: &str| Api(Tag::builder().key(k).value(v).build());
        assert_eq!(user_tags(&[tag("team", "ml")]).unwrap(), vec![pair("team", "ml")]);
        assert_eq!(user_tags(&[tag("a", "1"), tag(STACK_ID, "x")]).unwrap_err().path, "Tags[1].Key");
        assert_eq!(user_tags(&[tag("aws:cloudformation:x", "1")]).unwrap_err().path, "Tags[0].Key");
        // The whole prefix, in any case.
        assert_eq!(user_tags(&[tag("Studio-CFN:Anything", "1")]).unwrap_err().path, "Tags[0].Key");
        assert_eq!(user_tags(&[tag("AWS:x", "1")]).unwrap_err().path, "Tags[0].Key");
        assert!(user_tags(&[tag("a", "1"), tag("a", "2")]).unwrap_err().message.contains("twice"));
        let many: Vec<_> = (0..48).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert_eq!(user_tags(&many).unwrap_err().path, "Tags");
        let e = user_tags_within(&many[..41], MAX_DOMAIN_USER_TAGS, "the domain keeps 10 of its own").unwrap_err();
        assert_eq!(e.to_string(), "Tags: at most 40 tags, got 41 (SageMaker allows 50 and the domain keeps 10 of its own)");
        assert_eq!(user_tags_within(&many[..40], MAX_DOMAIN_USER_TAGS, "").unwrap().len(), 40);
    }

    #[test]
    fn a_kind_with_more_reserved_tags_leaves_the_user_fewer() {
        let tag = |i: usize| Api(Tag::builder().key(format!("k{i}")).value("v").build());
        let budget = TagBudget { reserved: &[STACK_ID, LOGICAL_ID, REQUEST_ID, SSO_ASSIGNED, "studio-cfn:delete-options"] };
        assert_eq!(budget.max_user_tags(), 45);
        assert!(budget.user_tags(&(0..45).map(tag).collect::<Vec<_>>()).is_ok());
        let e = budget.user_tags(&(0..46).map(tag).collect::<Vec<_>>()).unwrap_err();
        assert_eq!(e.path, "Tags");
        assert!(e.message.starts_with("at most 45 tags, got 46") && e.message.contains("studio-cfn:sso-assigned"), "{e}");
    }

    #[test]
    fn the_guard_has_one_reason() {
        let ours = OWNER.tags();
        assert!(OWNER.guard(&ours, "domain d-1").is_ok());
        assert!(OWNER.made(&ours));
        let theirs = vec![pair(STACK_ID, "stack-2"), pair(LOGICAL_ID, "Domain")];
        let refused = OWNER.guard(&theirs, "domain d-1").unwrap_err();
        assert!(refused.on_delete().starts_with("retained: domain d-1 is not ours"), "{}", refused.on_delete());
        assert!(refused.on_update().ends_with("nothing was changed"));
        assert!(!OWNER.made(&[pair(STACK_ID, "stack-1"), pair(LOGICAL_ID, "Domain"), pair(REQUEST_ID, "req-0")]));
    }
}
