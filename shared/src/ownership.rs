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
