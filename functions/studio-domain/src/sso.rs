//! The IAM Identity Center users and groups an SSO domain names (SingleSignOnUsers,
//! SingleSignOnGroups): resolved before anything is made, assigned to the domain's application
//! once it is InService, and on Update only the names the template added or removed change.
//! Each assignment the function makes is recorded on the domain ([`studio::sso_assigned`]); a
//! removed name loses its assignment only when the record says the function made it, so an
//! assignment an administrator made (before the stack, or since) stays.

use crate::properties::Properties;
use aws_sdk_ssoadmin::types::PrincipalType;
use custom_resource::Error;
use studio::IdentityCenter;
use studio::identity_center::Instance;
use studio::sso_assigned::{Principal, Record};
use tracing::{info, warn};

/// Names resolved to ids, in the template's order.
#[derive(Debug, Default)]
pub struct Principals {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Principals {
    fn all(&self) -> impl Iterator<Item = (PrincipalType, &str)> {
        let users = self.users.iter().map(|id| (PrincipalType::User, id.as_str()));
        users.chain(self.groups.iter().map(|id| (PrincipalType::Group, id.as_str())))
    }
}

fn principal(kind: &PrincipalType) -> Principal {
    if *kind == PrincipalType::Group { Principal::Group } else { Principal::User }
}

/// Assigns `principals` that are not assigned yet, recording those this call made in `record`;
/// returns how many were assigned already (made elsewhere: never recorded).
async fn assign_missing(center: &IdentityCenter, application_arn: &str, principals: &Principals, record: &mut Record) -> Result<usize, Error> {
    let existing = center.assignments(application_arn).await?;
    let mut before = 0;
    for (kind, id) in principals.all() {
        if existing.iter().any(|(k, i)| *k == kind && i == id) {
            before += 1;
            continue;
        }
        // Conflict (someone assigned it meanwhile, e.g. another delivery): not ours to record.
        if center.assign_new(application_arn, kind.clone(), id).await? {
            record.insert(principal(&kind), id);
        } else {
            before += 1;
        }
    }
    Ok(before)
}

/// The names an Update adds and removes.
#[derive(Debug, Default)]
pub struct NameChanges<'a> {
    pub added_users: Vec<&'a str>,
    pub added_groups: Vec<&'a str>,
    pub removed_users: Vec<&'a str>,
    pub removed_groups: Vec<&'a str>,
}

impl<'a> NameChanges<'a> {
    /// Without the old template every name is (re)assigned and nothing removed.
    pub fn between(p: &'a Properties, old: Option<&'a Properties>) -> Self {
        let (old_users, old_groups) = old.map(|o| (&o.single_sign_on_users[..], &o.single_sign_on_groups[..])).unwrap_or_default();
        Self {
            added_users: missing_from(&p.single_sign_on_users, old_users),
            added_groups: missing_from(&p.single_sign_on_groups, old_groups),
            removed_users: missing_from(old_users, &p.single_sign_on_users),
            removed_groups: missing_from(old_groups, &p.single_sign_on_groups),
        }
    }

    pub fn is_empty(&self) -> bool {
        [&self.added_users, &self.added_groups, &self.removed_users, &self.removed_groups].iter().all(|names| names.is_empty())
    }
}

fn missing_from<'a>(names: &'a [String], other: &[String]) -> Vec<&'a str> {
    names.iter().filter(|n| !other.contains(n)).map(String::as_str).collect()
}

pub fn names_any(p: &Properties) -> bool {
    !p.single_sign_on_users.is_empty() || !p.single_sign_on_groups.is_empty()
}

/// The instance a new SSO domain gets (the account's).
pub async fn account_instance(center: &IdentityCenter) -> Result<Instance, Error> {
    center.account_instance().await?.ok_or_else(|| {
        Error::new("SingleSignOnUsers / SingleSignOnGroups: the account has no IAM Identity Center instance (ListInstances found none); enable IAM Identity Center first")
    })
}

/// The instance of the domain's application.
pub async fn instance_of(center: &IdentityCenter, application_arn: &str) -> Result<Instance, Error> {
    center.instance_of(application_arn).await?.ok_or_else(|| {
        Error::new(format!(
            "IAM Identity Center application {application_arn} of the domain, or its instance, was not found (DescribeApplication, ListInstances)"
        ))
    })
}

/// Every name resolved; names that do not exist -> one FAILED naming all of them.
pub async fn resolve(center: &IdentityCenter, store: &str, users: &[&str], groups: &[&str]) -> Result<Principals, Error> {
    let mut resolved = Principals::default();
    let (mut unknown_users, mut unknown_groups) = (Vec::new(), Vec::new());
    for name in users {
        match center.user_id(store, name).await? {
            Some(id) => resolved.users.push(id),
            None => unknown_users.push(*name),
        }
    }
    for name in groups {
        match center.group_id(store, name).await? {
            Some(id) => resolved.groups.push(id),
            None => unknown_groups.push(*name),
        }
    }
    let mut unknown = Vec::new();
    if !unknown_users.is_empty() {
        unknown.push(format!("SingleSignOnUsers: no user named {}", unknown_users.join(", ")));
    }
    if !unknown_groups.is_empty() {
        unknown.push(format!("SingleSignOnGroups: no group with display name {}", unknown_groups.join(", ")));
    }
    if unknown.is_empty() { Ok(resolved) } else { Err(Error::new(format!("{} in the IAM Identity Center identity store {store}", unknown.join("; ")))) }
}

pub fn template_names(p: &Properties) -> (Vec<&str>, Vec<&str>) {
    (p.single_sign_on_users.iter().map(String::as_str).collect(), p.single_sign_on_groups.iter().map(String::as_str).collect())
}

/// Assigns every principal the template names to the application, recording in `record` the
/// assignments this call made; the Reason's sentence.
pub async fn assign_all(center: &IdentityCenter, application_arn: &str, p: &Properties, record: &mut Record) -> Result<String, Error> {
    let store = instance_of(center, application_arn).await?.identity_store_id;
    let (users, groups) = template_names(p);
    let principals = resolve(center, &store, &users, &groups).await?;
    let before = assign_missing(center, application_arn, &principals, record).await?;
    Ok(assigned_sentence(principals.users.len(), principals.groups.len(), before, application_arn))
}

/// Update: assigns the added names, removes the removed ones' assignments, only those this
/// function made (by `record`, which is kept up to date). Every added name is resolved before
/// anything changes; a removed name that no longer exists has no assignment left to remove.
pub async fn apply(center: &IdentityCenter, application_arn: &str, changes: &NameChanges<'_>, record: &mut Record) -> Result<String, Error> {
    let store = instance_of(center, application_arn).await?.identity_store_id;
    let added = resolve(center, &store, &changes.added_users, &changes.added_groups).await?;
    let mut removed = Vec::new();
    for (kind, names) in [(PrincipalType::User, &changes.removed_users), (PrincipalType::Group, &changes.removed_groups)] {
        for name in names.iter() {
            let id = match kind {
                PrincipalType::Group => center.group_id(&store, name).await?,
                _ => center.user_id(&store, name).await?,
            };
            match id {
                Some(id) => removed.push((kind.clone(), id, *name)),
                None => warn!(name, kind = kind.as_str(), "a removed principal no longer exists; no assignment to remove"),
            }
        }
    }
    let before = assign_missing(center, application_arn, &added, record).await?;
    let (mut users, mut groups, mut left) = (0, 0, Vec::new());
    for (kind, id, name) in removed {
        let noun = if kind == PrincipalType::Group { "group" } else { "user" };
        if !record.contains(principal(&kind), &id) {
            info!(name, kind = kind.as_str(), "not removing an assignment this function did not make");
            left.push(format!("{noun} {name}"));
            continue;
        }
        center.unassign(application_arn, kind.clone(), &id).await?;
        record.remove(principal(&kind), &id);
        if kind == PrincipalType::Group { groups += 1 } else { users += 1 }
    }
    let mut reason =
        format!("{}; removed {users} user(s) and {groups} group(s)", assigned_sentence(added.users.len(), added.groups.len(), before, application_arn));
    if !left.is_empty() {
        reason.push_str(&format!(
            "; left the assignment of {}: this function did not make it (it existed before or was made elsewhere, e.g. in the console); \
             remove it in IAM Identity Center if it should go",
            left.join(", ")
        ));
    }
    Ok(reason)
}

fn assigned_sentence(users: usize, groups: usize, before: usize, application_arn: &str) -> String {
    let mut sentence = format!("assigned {users} user(s) and {groups} group(s) to IAM Identity Center application {application_arn}");
    if before > 0 {
        sentence.push_str(&format!(" ({before} of them were assigned already: made elsewhere, they stay if removed from the template)"));
    }
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(users: &[&str], groups: &[&str]) -> Properties {
        let value = json!({
            "DomainName": "d", "AuthMode": "SSO", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"],
            "DefaultUserSettings": {}, "SingleSignOnUsers": users, "SingleSignOnGroups": groups
        });
        custom_resource::properties::parse(value.as_object().unwrap()).unwrap()
    }

    #[test]
    fn only_names_the_template_added_or_removed_change() {
        let old = props(&["alice", "bob"], &["ds"]);
        let new = props(&["bob", "carol"], &["ds", "ml"]);
        let changes = NameChanges::between(&new, Some(&old));
        assert_eq!((changes.added_users, changes.added_groups), (vec!["carol"], vec!["ml"]));
        assert_eq!((changes.removed_users, changes.removed_groups), (vec!["alice"], vec![]));
        assert!(NameChanges::between(&old, Some(&old)).is_empty());
        // Without the old template: everything (re)assigned, nothing removed.
        let unknown_old = NameChanges::between(&new, None);
        assert_eq!(unknown_old.added_users, vec!["bob", "carol"]);
        assert!(unknown_old.removed_users.is_empty() && unknown_old.removed_groups.is_empty());
    }
}
