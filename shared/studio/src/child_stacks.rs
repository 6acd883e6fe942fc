//! Stacks stay in their own domains.
//!
//! A stack author acts with the functions' role, so which domain a user profile or space joins
//! is a privilege decision between teams. A domain the domain function made records its own
//! stack (ownership tags) and the stacks it lets in (`AllowedChildStacks`, stack-name patterns
//! with `*`, in the reserved tag `studio-cfn:allowed-child-stacks`); a profile or space is made
//! in (or moved to) such a domain only by its own stack or a stack those patterns match.
//! Domains these functions did not make carry no ownership tags and are not restricted.
//!
//! Tag values allow no `*`, so the record writes `*` as `+` (which no stack name contains),
//! patterns separated by spaces.

use crate::ownership::STACK_ID;
use function_base::PropertyError;

pub const TAG: &str = "studio-cfn:allowed-child-stacks";
/// SageMaker's limit on a tag value.
const MAX_VALUE_CHARS: usize = 256;

/// A stack-name pattern: letters, digits and hyphens, `*` matching any run of them.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let valid = !pattern.is_empty() && pattern.len() <= 128 && pattern.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*');
    if valid { Ok(()) } else { Err(format!("{pattern:?} is not a stack-name pattern (1-128 letters, digits, hyphens and * wildcards)")) }
}

/// The tag recording `patterns` (already checked), or why they do not fit in one tag value.
pub fn record(patterns: &[String]) -> Result<(String, String), PropertyError> {
    for (i, pattern) in patterns.iter().enumerate() {
        check_pattern(pattern).map_err(|e| PropertyError::new(format!("AllowedChildStacks[{i}]"), e))?;
    }
    let value = patterns.iter().map(|p| p.replace('*', "+")).collect::<Vec<_>>().join(" ");
    if value.len() > MAX_VALUE_CHARS {
        return Err(PropertyError::new(
            "AllowedChildStacks",
            format!(
                "the patterns take {} characters written on the domain (space-separated); at most {MAX_VALUE_CHARS} fit in its tag: use wildcards",
                value.len()
            ),
        ));
    }
    Ok((TAG.to_string(), value))
}

/// The patterns a domain's tags record.
pub fn recorded(tags: &[(String, String)]) -> Vec<String> {
    tags.iter().find(|(k, _)| k == TAG).map(|(_, v)| v.split_whitespace().map(|p| p.replace('+', "*")).collect()).unwrap_or_default()
}

/// "arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>" -> name.
pub fn stack_name(stack_id: &str) -> &str {
    stack_id.split('/').nth(1).unwrap_or(stack_id)
}

/// Whether `name` matches `pattern` (`*`: any run of characters; case-sensitive, as stack names are).
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else { return pattern == name };
    if parts.len() == 1 {
        return pattern == name;
    }
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether the domain carrying `domain_tags` is one of ours that lets the stack `stack_id` in by
/// name: its own stack, or one its AllowedChildStacks match (a domain no stack of ours owns does
/// not: it grants nothing, it only restricts nothing). A profile or space in such a domain may be
/// adopted by that stack without a consent tag of its own.
pub fn grants(domain_tags: &[(String, String)], stack_id: &str) -> bool {
    domain_tags.iter().any(|(k, _)| k == STACK_ID) && admit("", domain_tags, stack_id).is_ok()
}

/// Why the stack `stack_id` may not put a child into the domain carrying `domain_tags`, or
/// Ok when it may (its own stack, an allowed one, or a domain no stack of ours owns).
pub fn admit(domain_id: &str, domain_tags: &[(String, String)], stack_id: &str) -> Result<(), String> {
    let Some((_, owner)) = domain_tags.iter().find(|(k, _)| k == STACK_ID) else {
        return Ok(());
    };
    if owner == stack_id {
        return Ok(());
    }
    let patterns = recorded(domain_tags);
    let name = stack_name(stack_id);
    if patterns.iter().any(|p| matches(p, name)) {
        return Ok(());
    }
    let allowed = if patterns.is_empty() { "none".to_string() } else { patterns.join(", ") };
    Err(format!(
        "domain {domain_id} belongs to stack {} and its AllowedChildStacks ({allowed}) do not include this stack ({name}): \
         add a pattern matching {name} to that domain's AllowedChildStacks, or use a domain of this stack",
        stack_name(owner)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(owner: Option<&str>, allowed: &[&str]) -> Vec<(String, String)> {
        let mut tags = Vec::new();
        if let Some(owner) = owner {
            tags.push((STACK_ID.to_string(), format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{owner}/1")));
        }
        if !allowed.is_empty() {
            tags.push(record(&allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap());
        }
        tags
    }

    const TEAM_A: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-a-profiles/2";

    #[test]
    fn wildcards_match_runs_of_characters() {
        assert!(matches("team-a-*", "team-a-profiles"));
        assert!(matches("*-profiles", "team-a-profiles"));
        assert!(matches("team-*-prof*", "team-a-profiles"));
        assert!(matches("*", "anything"));
        assert!(!matches("team-b-*", "team-a-profiles"));
        assert!(!matches("team-a", "team-a-profiles"));
        assert!(!matches("Team-a-*", "team-a-profiles"), "case-sensitive");
        assert!(!matches("a*a", "a"));
    }

    #[test]
    fn only_the_domain_s_stack_and_its_allowed_stacks_get_in() {
        assert!(admit("d-1", &tags(None, &[]), TEAM_A).is_ok(), "a domain no stack of ours owns");
        assert!(admit("d-1", &tags(Some("team-a-profiles"), &[]), &TEAM_A.replace("/2", "/1")).is_ok(), "its own stack");
        assert!(admit("d-1", &tags(Some("platform"), &["team-a-*"]), TEAM_A).is_ok());
        let refused = admit("d-1", &tags(Some("platform"), &["team-b-*"]), TEAM_A).unwrap_err();
        assert!(refused.contains("domain d-1 belongs to stack platform") && refused.contains("AllowedChildStacks (team-b-*)"), "{refused}");
        assert!(admit("d-1", &tags(Some("platform"), &[]), TEAM_A).unwrap_err().contains("(none)"));
        assert!(!grants(&tags(None, &[]), TEAM_A), "a domain no stack of ours owns grants nothing");
        assert!(grants(&tags(Some("platform"), &["team-a-*"]), TEAM_A) && !grants(&tags(Some("platform"), &["team-b-*"]), TEAM_A));
    }

    #[test]
    fn patterns_are_checked_and_fit_one_tag() {
        let (_, value) = record(&["team-*".to_string(), "ops".to_string()]).unwrap();
        assert_eq!(value, "team-+ ops");
        assert_eq!(record(&["team_a".to_string()]).unwrap_err().path, "AllowedChildStacks[0]");
        let many: Vec<String> = (0..40).map(|i| format!("team-{i:03}-stack")).collect();
        assert_eq!(record(&many).unwrap_err().path, "AllowedChildStacks");
    }
}
