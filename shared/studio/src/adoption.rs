//! Adoption: a stack resource takes over a domain, user profile or space that exists (made in
//! the console, by `AWS::SageMaker::*`, or by SageMaker at an SSO user's first sign-in), with its
//! owner's consent, and hands it back on Delete.
//!
//! A stack author acts with the functions' role, so naming a resource must not be enough to
//! take it: its owner consents with the tag `studio-cfn:adoptable-by` whose value names the
//! adopting stack (stack names separated by spaces; tag values allow no `*`). A resource that
//! carries another stack resource's ownership tags is never taken. Once adopted, it carries the
//! ownership tags plus `studio-cfn:adopted`, and the consent tag is removed (it was used).
//!
//! Release (the Delete of an adopted resource, unless the template's last completed Create or
//! Update recorded `DeleteAdopted=true`): every `studio-cfn:*` tag is removed and nothing else
//! is touched, so the resource is as its owner left it plus the settings and tags the stack set.
//!
//! An adopting Create records the conservative delete options whatever its template says (no
//! DeleteAdopted, no ForceDelete, home EFS retained): a Create forged while the adoption's window
//! is open (the same stack resource, CREATE_IN_PROGRESS) could otherwise record harsher ones on
//! a resource full of users' data, for a forged Delete to use, say during the rollback of the
//! real adoption. The template's options count once a stack Update recorded them (as for
//! ForceDelete: set it by an Update before deleting).

use crate::child_stacks::stack_name;
use crate::ownership::{ADOPTABLE_BY, ADOPTED, LOGICAL_ID, Owner, RESERVED_PREFIX, STACK_ID};

/// The name of the option that lets a Delete destroy an adopted resource (in the delete-options record).
pub const DELETE_ADOPTED: &str = "DeleteAdopted";

/// Whether `tags` (a resource's) say it was adopted, not created, by its stack resource.
pub fn is_adopted(tags: &[(String, String)]) -> bool {
    tags.iter().any(|(k, v)| k == ADOPTED && v == "true")
}

/// Whether the consent tag on a resource names the stack `stack_id`.
pub fn consents(tags: &[(String, String)], stack_id: &str) -> bool {
    let name = stack_name(stack_id);
    tags.iter().any(|(k, v)| k == ADOPTABLE_BY && v.split_whitespace().any(|named| named == name))
}

/// Why `owner` may not adopt the resource `what` (e.g. "domain d-1", with ARN `arn`) carrying
/// `tags`; Ok when it may: it consents (`consented`, e.g. the tag, or for a profile or space its
/// domain's own stack), and no other stack resource owns it. A resource this stack resource
/// owns already (an earlier attempt of this adoption) is Ok.
pub fn check(owner: &Owner<'_>, tags: &[(String, String)], what: &str, arn: &str, consented: bool) -> Result<(), String> {
    if owner.owns(tags) {
        return Ok(());
    }
    let value = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if let Some(stack) = value(STACK_ID) {
        return Err(format!(
            "{what} belongs to stack {}'s resource {} (its {STACK_ID} and {LOGICAL_ID} tags): a resource is never taken from another stack \
             resource; nothing was changed",
            stack_name(stack),
            value(LOGICAL_ID).unwrap_or("?"),
        ));
    }
    if consented {
        return Ok(());
    }
    let name = stack_name(owner.stack_id);
    Err(format!(
        "{what} does not carry the tag {ADOPTABLE_BY} naming this stack ({name}), so it was not adopted and nothing was changed. \
         Its owner consents with: aws sagemaker add-tags --resource-arn {arn} --tags Key={ADOPTABLE_BY},Value={name} \
         (several stacks: names separated by spaces)"
    ))
}

/// The tags that make an adopted resource this owner's: (to add, keys to remove). The consent
/// is used up: its tag goes.
pub fn take(owner: &Owner<'_>, tags: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let mut add = owner.tags();
    add.push((ADOPTED.to_string(), "true".to_string()));
    add.retain(|(k, v)| !tags.iter().any(|(tk, tv)| tk == k && tv == v));
    let remove = tags.iter().filter(|(k, _)| k == ADOPTABLE_BY).map(|(k, _)| k.clone()).collect();
    (add, remove)
}

/// The keys a release removes: every tag of ours (ownership, records, adoption), nothing else.
pub fn release(tags: &[(String, String)]) -> Vec<String> {
    tags.iter().filter(|(k, _)| k.to_ascii_lowercase().starts_with(RESERVED_PREFIX)).map(|(k, _)| k.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::REQUEST_ID;

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    const OWNER: Owner<'static> = Owner { stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/team-a/1", logical_id: "Domain", request_id: "req-1" };
    const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:domain/d-1";

    #[test]
    fn consent_names_the_stack_among_others() {
        assert!(consents(&[pair(ADOPTABLE_BY, "team-b team-a")], OWNER.stack_id));
        assert!(!consents(&[pair(ADOPTABLE_BY, "team-ab")], OWNER.stack_id));
        assert!(!consents(&[pair(ADOPTABLE_BY, "team-*")], OWNER.stack_id), "no wildcards");
        assert!(!consents(&[pair("team", "team-a")], OWNER.stack_id));
    }

    #[test]
    fn without_consent_the_reason_gives_the_command() {
        let e = check(&OWNER, &[pair("team", "ml")], "domain d-1", ARN, false).unwrap_err();
        assert!(e.contains(ADOPTABLE_BY) && e.contains("aws sagemaker add-tags --resource-arn arn:") && e.contains("Value=team-a"), "{e}");
        assert!(check(&OWNER, &[], "domain d-1", ARN, true).is_ok());
    }

    #[test]
    fn another_stack_s_resource_is_never_taken_even_with_consent() {
        let theirs = [pair(STACK_ID, "arn:aws:cloudformation:us-east-1:123456789012:stack/team-b/9"), pair(LOGICAL_ID, "Domain")];
        let e = check(&OWNER, &theirs, "domain d-1", ARN, true).unwrap_err();
        assert!(e.contains("stack team-b's resource Domain"), "{e}");
        // Another logical id of the same stack is another stack resource.
        let sibling = [pair(STACK_ID, OWNER.stack_id), pair(LOGICAL_ID, "Other")];
        assert!(check(&OWNER, &sibling, "domain d-1", ARN, true).is_err());
        // Already this resource's: an earlier attempt of the same adoption.
        assert!(check(&OWNER, &OWNER.tags(), "domain d-1", ARN, false).is_ok());
    }

    #[test]
    fn taking_adds_ownership_and_uses_up_the_consent_release_removes_only_ours() {
        let tags = vec![pair("team", "ml"), pair(ADOPTABLE_BY, "team-a")];
        let (add, remove) = take(&OWNER, &tags);
        assert_eq!(add.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), [STACK_ID, LOGICAL_ID, REQUEST_ID, ADOPTED]);
        assert_eq!(remove, [ADOPTABLE_BY]);
        let mut adopted = tags.clone();
        adopted.extend(add);
        adopted.retain(|(k, _)| k != ADOPTABLE_BY);
        assert!(is_adopted(&adopted) && OWNER.owns(&adopted));
        let released = release(&adopted);
        assert_eq!(released.len(), 4);
        assert!(!released.contains(&"team".to_string()));
    }
}
