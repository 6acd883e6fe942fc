//! A Delete can do no more than the template asked.
//!
//! A Delete event's properties are whatever its sender wrote: inside the victim's own Delete, a
//! forged one could ask for ForceDelete or a RetentionPolicy of Delete. So the options that make
//! a Delete destroy more (ForceDelete, RetentionPolicy, DeleteNfsSecurityGroups, RetainAssets)
//! take effect as the function recorded them on the resource (the reserved tag
//! `studio-cfn:delete-options`) when it last completed a Create or Update of it. Where the event
//! and the record differ, the more conservative value wins; a resource without a record counts
//! as recorded with the conservative value of each.
//!
//! The record is `Name=Value` pairs separated by spaces (tag values allow letters, digits,
//! spaces and `_ . : / = + - @`).

use std::collections::BTreeMap;

pub const TAG: &str = "studio-cfn:delete-options";

/// One option a Delete reads: its name (the property's), the value the event asks, and the
/// value that destroys least.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteOption<'a> {
    pub name: &'a str,
    pub asked: &'a str,
    pub conservative: &'a str,
}

/// The record to write: the options as the template that is being completed asks them.
pub fn record(options: &[(&str, &str)]) -> (String, String) {
    let value = options.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(" ");
    (TAG.to_string(), value)
}

/// The options as recorded on a resource (None: no record).
pub fn recorded(tags: &[(String, String)]) -> Option<BTreeMap<String, String>> {
    let (_, value) = tags.iter().find(|(key, _)| key == TAG)?;
    Some(value.split_whitespace().filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// What a Delete may do with one option, and why it was narrowed if it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub value: String,
    /// For the Reason, e.g. "ForceDelete true ignored: the template's last Create or Update did not set it".
    pub narrowed: Option<String>,
}

/// The value `option` takes in a Delete of a resource carrying `tags`.
pub fn allowed(tags: &[(String, String)], option: DeleteOption<'_>) -> Allowed {
    let DeleteOption { name, asked, conservative } = option;
    if asked == conservative {
        return Allowed { value: asked.to_string(), narrowed: None };
    }
    let record = recorded(tags);
    match record.as_ref().and_then(|r| r.get(name)) {
        Some(value) if value == asked => Allowed { value: asked.to_string(), narrowed: None },
        found => {
            let why = match (record.is_some(), found) {
                (false, _) => format!("the resource has no record of its delete options ({TAG}), written by a completed Create or Update"),
                (true, Some(value)) => format!("the template's last completed Create or Update set {name} to {value}"),
                (true, None) => format!("the template's last completed Create or Update did not set {name}"),
            };
            Allowed { value: conservative.to_string(), narrowed: Some(format!("{name} {asked} ignored: {why}")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(record: Option<&str>) -> Vec<(String, String)> {
        let mut tags = vec![("team".to_string(), "ml".to_string())];
        if let Some(r) = record {
            tags.push((TAG.to_string(), r.to_string()));
        }
        tags
    }

    const FORCE: DeleteOption<'static> = DeleteOption { name: "ForceDelete", asked: "true", conservative: "false" };

    #[test]
    fn the_harsher_value_needs_the_record_to_agree() {
        let (key, value) = record(&[("ForceDelete", "true"), ("RetentionPolicy", "Delete")]);
        assert_eq!((key.as_str(), value.as_str()), (TAG, "ForceDelete=true RetentionPolicy=Delete"));
        assert_eq!(allowed(&tags(Some(&value)), FORCE), Allowed { value: "true".into(), narrowed: None });
        let narrowed = allowed(&tags(Some("ForceDelete=false RetentionPolicy=Delete")), FORCE);
        assert_eq!(narrowed.value, "false");
        assert_eq!(narrowed.narrowed.as_deref(), Some("ForceDelete true ignored: the template's last completed Create or Update set ForceDelete to false"));
        // No record at all: the conservative value, saying why.
        let none = allowed(&tags(None), FORCE);
        assert_eq!(none.value, "false");
        assert!(none.narrowed.unwrap().contains("has no record"));
        // The event asking less than the record: the event's (the more conservative) wins.
        let keep = DeleteOption { name: "ForceDelete", asked: "false", conservative: "false" };
        assert_eq!(allowed(&tags(Some("ForceDelete=true")), keep), Allowed { value: "false".into(), narrowed: None });
    }
}
