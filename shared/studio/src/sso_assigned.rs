//! Which IAM Identity Center assignments of a domain's application the domain function made.
//!
//! A name removed from `SingleSignOnUsers` / `SingleSignOnGroups` loses its assignment only if
//! the function made it: one an administrator made (in the console, before the stack or since)
//! stays. So each assignment the function makes is recorded on the domain, in reserved tags.
//!
//! Encoding: a principal is `base64(SHA-256("<USER|GROUP>:<principal id>"))[..8]` (48 bits;
//! letters, digits, `+` and `/`, all allowed in tag values), digests separated by spaces, at
//! most [`PER_TAG`] in one tag value (SageMaker allows 256 characters), in at most [`MAX_TAGS`]
//! tags: `studio-cfn:sso-assigned`, `studio-cfn:sso-assigned-2`, `studio-cfn:sso-assigned-3`.
//! So a domain records at most [`MAX_PRINCIPALS`] assignments; a template naming more users
//! and groups than that is refused before anything is made (groups scale further). The digest
//! only has to tell apart the principals of one application: two of a few thousand sharing 48
//! bits is about as likely as one in 10^8.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The first tag's key (the reserved `ownership::SSO_ASSIGNED`, written out: ownership counts
/// this module's tags); the others add `-2`, `-3`.
pub const TAG: &str = "studio-cfn:sso-assigned";
pub const MAX_TAGS: usize = 3;
/// Characters of one digest.
const DIGEST_CHARS: usize = 8;
/// Digests in one tag value: 28 digests and 27 spaces are 251 of the 256 characters allowed.
pub const PER_TAG: usize = (256 + 1) / (DIGEST_CHARS + 1);
pub const MAX_PRINCIPALS: usize = MAX_TAGS * PER_TAG;

/// A principal's kind, as Identity Center names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User,
    Group,
}

impl Principal {
    fn as_str(self) -> &'static str {
        match self {
            Principal::User => "USER",
            Principal::Group => "GROUP",
        }
    }
}

/// The key of the `n`th record tag (from 1).
pub fn key(n: usize) -> String {
    if n <= 1 { TAG.to_string() } else { format!("{TAG}-{n}") }
}

fn is_record_key(key: &str) -> bool {
    (1..=MAX_TAGS).any(|n| self::key(n) == key)
}

fn digest(kind: Principal, id: &str) -> String {
    let hash = Sha256::digest(format!("{}:{id}", kind.as_str()));
    STANDARD_NO_PAD.encode(&hash[..DIGEST_CHARS * 6 / 8])
}

/// The assignments a domain's tags record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record(BTreeSet<String>);

impl Record {
    pub fn from_tags(tags: &[(String, String)]) -> Self {
        Self(tags.iter().filter(|(k, _)| is_record_key(k)).flat_map(|(_, v)| v.split_whitespace().map(str::to_string)).collect())
    }

    pub fn contains(&self, kind: Principal, id: &str) -> bool {
        self.0.contains(&digest(kind, id))
    }

    pub fn insert(&mut self, kind: Principal, id: &str) {
        self.0.insert(digest(kind, id));
    }

    pub fn remove(&mut self, kind: Principal, id: &str) {
        self.0.remove(&digest(kind, id));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The record tags with values (None: the tag is not needed), `MAX_TAGS` of them in key order.
    /// Digests beyond [`MAX_PRINCIPALS`] (which [`check_count`] keeps templates from asking) are
    /// not recorded: an assignment not recorded is left in place, never removed by mistake.
    pub fn tags(&self) -> Vec<(String, Option<String>)> {
        let digests: Vec<&str> = self.0.iter().map(String::as_str).collect();
        (1..=MAX_TAGS)
            .map(|n| {
                let chunk = digests.chunks(PER_TAG).nth(n - 1).map(|chunk| chunk.join(" "));
                (key(n), chunk)
            })
            .collect()
    }

    /// What to change so that a domain carrying `current` tags records this: (tags to add or
    /// overwrite, keys to delete).
    pub fn changes(&self, current: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
        let mut add = Vec::new();
        let mut remove = Vec::new();
        for (key, wanted) in self.tags() {
            let now = current.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
            match (wanted, now) {
                (Some(value), now) if now != Some(value.as_str()) => add.push((key, value)),
                (None, Some(_)) => remove.push(key),
                _ => {}
            }
        }
        (add, remove)
    }
}

/// The template may name at most [`MAX_PRINCIPALS`] users and groups together.
pub fn check_count(users: usize, groups: usize) -> Result<(), String> {
    if users + groups <= MAX_PRINCIPALS {
        return Ok(());
    }
    Err(format!(
        "at most {MAX_PRINCIPALS} users and groups together (SingleSignOnUsers and SingleSignOnGroups), got {}: the domain records which \
         assignments this function made in {MAX_TAGS} tags, so that removing a name never removes an assignment made elsewhere; \
         assign large audiences through IAM Identity Center groups",
        users + groups
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(record: &Record) -> Vec<(String, String)> {
        record.tags().into_iter().filter_map(|(k, v)| Some((k, v?))).collect()
    }

    #[test]
    fn the_record_is_the_reserved_tag() {
        assert_eq!(TAG, crate::ownership::SSO_ASSIGNED);
    }

    #[test]
    fn digests_are_compact_tag_values_distinct_per_kind() {
        let user = digest(Principal::User, "906722f4-4001-70a8-d5d3-c1d5ad2e1e6c");
        assert_eq!(user.len(), DIGEST_CHARS);
        assert!(user.chars().all(|c| c.is_ascii_alphanumeric() || "+/".contains(c)), "{user}");
        assert_ne!(user, digest(Principal::Group, "906722f4-4001-70a8-d5d3-c1d5ad2e1e6c"));
        assert_eq!(PER_TAG, 28);
        assert_eq!(MAX_PRINCIPALS, 84);
    }

    #[test]
    fn a_record_round_trips_through_at_most_three_tags() {
        let mut record = Record::default();
        for i in 0..MAX_PRINCIPALS {
            record.insert(Principal::User, &format!("user-{i}"));
        }
        let written = tags(&record);
        assert_eq!(written.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), [TAG, "studio-cfn:sso-assigned-2", "studio-cfn:sso-assigned-3"]);
        assert!(written.iter().all(|(_, v)| v.len() <= 256), "{written:?}");
        let mut with_others = written.clone();
        with_others.push(("team".into(), "x y".into()));
        let read = Record::from_tags(&with_others);
        assert_eq!(read, record);
        assert!(read.contains(Principal::User, "user-7") && !read.contains(Principal::Group, "user-7"));
    }

    #[test]
    fn changes_touch_only_the_record_tags_that_differ() {
        let mut record = Record::default();
        record.insert(Principal::User, "alice");
        let (add, remove) = record.changes(&[]);
        assert_eq!((add.len(), remove.len()), (1, 0));
        let current = tags(&record);
        assert_eq!(record.changes(&current), (vec![], vec![]));
        record.remove(Principal::User, "alice");
        assert!(record.is_empty());
        assert_eq!(record.changes(&current), (vec![], vec![TAG.to_string()]));
    }

    #[test]
    fn too_many_principals_are_refused_saying_why() {
        assert!(check_count(80, 4).is_ok());
        let e = check_count(80, 5).unwrap_err();
        assert!(e.starts_with("at most 84 users and groups together") && e.contains("groups"), "{e}");
    }
}
