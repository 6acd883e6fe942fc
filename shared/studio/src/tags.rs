//! Tags: listed with paging, and changed in place with one policy for every resource kind.

use crate::error::{AwsError, AwsResult, Kind};
use crate::ownership::is_reserved_key;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::Tag;
use tracing::info;

/// Every tag of the resource `arn`, as (key, value) pairs.
pub async fn list(sagemaker: &Client, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut pages = sagemaker.list_tags().resource_arn(arn).into_paginator().items().send();
    let mut tags = Vec::new();
    while let Some(tag) = pages.next().await {
        let tag = tag.aws("ListTags")?;
        if let Some(key) = tag.key() {
            tags.push((key.to_string(), tag.value().unwrap_or_default().to_string()));
        }
    }
    Ok(tags)
}

/// The tags of a resource that may vanish while it is looked at (a duplicate another delivery
/// deletes): None when it is gone. ListTags answers an ARN that names nothing with
/// ValidationException on SageMaker (not a kind of its own), so such an answer counts as gone
/// only when `exists` (e.g. a Describe) says the resource is not there any more.
pub async fn list_unless_gone<F>(sagemaker: &Client, arn: &str, exists: impl FnOnce() -> F) -> Result<Option<Vec<(String, String)>>, AwsError>
where
    F: std::future::Future<Output = Result<bool, AwsError>>,
{
    match list(sagemaker, arn).await {
        Ok(tags) => Ok(Some(tags)),
        Err(e) if e.is(Kind::NotFound) => Ok(None),
        Err(e) if e.is(Kind::Validation) => match exists().await? {
            false => Ok(None),
            true => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// AddTags `add`, then DeleteTags `remove` (each only when not empty).
pub async fn apply(sagemaker: &Client, arn: &str, add: Vec<(String, String)>, remove: Vec<String>) -> Result<(), AwsError> {
    if !add.is_empty() {
        info!(keys = ?add.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), "AddTags");
        let tags = add.into_iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect();
        sagemaker.add_tags().resource_arn(arn).set_tags(Some(tags)).send().await.aws("AddTags")?;
    }
    if !remove.is_empty() {
        info!(keys = ?remove, "DeleteTags");
        sagemaker.delete_tags().resource_arn(arn).set_tag_keys(Some(remove)).send().await.aws("DeleteTags")?;
    }
    Ok(())
}

/// What to change so that a resource carrying `actual` tags has the template's: (tags to add
/// or overwrite, keys to remove). Only keys the old template had are removed; tags set
/// elsewhere (other tools, SageMaker's `sagemaker:*`, ours, AWS's) stay.
pub fn changes(actual: &[(String, String)], desired: &[(String, String)], old_template: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let add = desired.iter().filter(|(k, v)| !actual.iter().any(|(ak, av)| ak == k && av == v)).cloned().collect();
    let remove = actual
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !is_reserved_key(k) && old_template.iter().any(|(o, _)| o == *k) && !desired.iter().any(|(d, _)| d == *k))
        .cloned()
        .collect();
    (add, remove)
}

/// Brings the template's tags onto the resource `arn` (see [`changes`]): AddTags, DeleteTags.
pub async fn sync(sagemaker: &Client, arn: &str, desired: &[(String, String)], old_template: &[(String, String)]) -> Result<(), AwsError> {
    let actual = list(sagemaker, arn).await?;
    let (add, remove) = changes(&actual, desired, old_template);
    apply(sagemaker, arn, add, remove).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::STACK_ID;

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn only_keys_the_old_template_had_are_removed() {
        let actual = vec![
            pair(STACK_ID, "s"),
            pair("aws:x", "1"),
            pair("sagemaker:domain-arn", "arn"),
            pair("team", "ml"),
            pair("old", "1"),
            pair("someone-elses", "x"),
            pair("same", "v"),
        ];
        let old_template = vec![pair("team", "ml"), pair("old", "1"), pair("same", "v")];
        let desired = vec![pair("team", "research"), pair("same", "v"), pair("new", "2")];
        let (add, remove) = changes(&actual, &desired, &old_template);
        assert_eq!(add, vec![pair("team", "research"), pair("new", "2")]);
        assert_eq!(remove, vec!["old".to_string()]);
        // Without an old template (it no longer parses) nothing is removed.
        assert_eq!(changes(&actual, &desired, &[]).1, Vec::<String>::new());
    }
}
