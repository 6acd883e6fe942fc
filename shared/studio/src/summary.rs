//! What a SUCCESS says it did, in CloudFormation's stack events: CloudFormation itself shows
//! only "UPDATE_COMPLETE", so the Reason names what the function sent (full paths, old -> new
//! for scalars), the tags and Identity Center assignments it added and removed, the drift it put
//! back, or "no change"; within a budget, the rest counted ("... and 12 more").

use crate::live_diff::Changed;
use crate::ownership::is_reserved_key;

/// The part of CloudFormation's 4096-byte response a Reason may take: the ids and Data take the rest.
pub const REASON_BUDGET: usize = 2048;

/// What one Create, Update or Delete did, section by section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// "updated domain d-1", "adopted user profile alice in domain d-1".
    head: String,
    sections: Vec<(&'static str, Vec<String>)>,
}

impl Summary {
    pub fn new(head: impl Into<String>) -> Self {
        Self { head: head.into(), sections: Vec::new() }
    }

    /// Adds `items` under `label` ("sent", "tags set", ...); nothing when there are none.
    pub fn section(mut self, label: &'static str, items: impl IntoIterator<Item = String>) -> Self {
        let items: Vec<String> = items.into_iter().collect();
        if items.is_empty() {
            return self;
        }
        match self.sections.iter_mut().find(|(l, _)| *l == label) {
            Some((_, existing)) => existing.extend(items),
            None => self.sections.push((label, items)),
        }
        self
    }

    /// The values an update sent ("sent: path (a -> b)") and, among them, the drift it put back
    /// ("drift corrected: path").
    pub fn changed(self, changed: &[Changed]) -> Self {
        let drift: Vec<String> = changed.iter().filter(|c| c.drift).map(|c| c.path.clone()).collect();
        self.section("sent", changed.iter().map(Changed::describe)).section("drift corrected", drift)
    }

    /// The template's tags added or changed, and removed (the function's own are not listed).
    pub fn tags(self, added: &[(String, String)], removed: &[String]) -> Self {
        let added = added.iter().filter(|(k, _)| !is_reserved_key(k)).map(|(k, v)| format!("{k}={v}"));
        let removed = removed.iter().filter(|k| !is_reserved_key(k)).cloned();
        self.section("tags set", added).section("tags removed", removed)
    }

    /// A free-form note at the end ("its home EFS kept").
    pub fn note(self, note: impl Into<String>) -> Self {
        self.section("", [note.into()])
    }

    /// Whether no section was added (an Update that changed nothing).
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The Reason, within [`REASON_BUDGET`] bytes.
    pub fn render(&self) -> String {
        self.render_within(REASON_BUDGET)
    }

    /// "head: sent a (1 -> 2), b; tags set: k=v; drift corrected: a", or "head: no change";
    /// items past `budget` bytes are counted, not shown ("... and 12 more").
    pub fn render_within(&self, budget: usize) -> String {
        if self.sections.is_empty() {
            return format!("{}: no change", self.head);
        }
        let total: usize = self.sections.iter().map(|(_, items)| items.len()).sum();
        // Room for " ... and NNNNN more" whatever happens.
        let room = budget.saturating_sub(24);
        let mut out = self.head.clone();
        let mut shown = 0;
        'sections: for (label, items) in &self.sections {
            let lead = match (shown, label.is_empty()) {
                (_, true) => ". ".to_string(),
                (0, false) => format!(": {label}: "),
                (_, false) => format!("; {label}: "),
            };
            for (i, item) in items.iter().enumerate() {
                let piece = if i == 0 { format!("{lead}{item}") } else { format!(", {item}") };
                if out.len() + piece.len() > room {
                    break 'sections;
                }
                out.push_str(&piece);
                shown += 1;
            }
        }
        if shown < total {
            out.push_str(&format!(" ... and {} more", total - shown));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changed(path: &str, from: &str, to: &str, drift: bool) -> Changed {
        Changed { path: path.into(), from: Some(json!(from)), to: json!(to), drift }
    }

    #[test]
    fn an_update_names_what_it_sent_the_tags_and_the_drift() {
        let summary = Summary::new("updated domain d-1")
            .changed(&[changed("DefaultUserSettings.ExecutionRole", "a", "b", true), changed("AppNetworkAccessType", "x", "y", false)])
            .tags(&[("team".into(), "ml".into()), ("studio-cfn:delete-options".into(), "ForceDelete=false".into())], &["old".into()]);
        assert_eq!(
            summary.render(),
            "updated domain d-1: sent: DefaultUserSettings.ExecutionRole (a -> b), AppNetworkAccessType (x -> y); \
             drift corrected: DefaultUserSettings.ExecutionRole; tags set: team=ml; tags removed: old"
        );
        assert_eq!(Summary::new("updated space s").tags(&[("studio-cfn:x".into(), "1".into())], &[]).render(), "updated space s: no change");
        assert_eq!(Summary::new("created space s").note("its home EFS kept").render(), "created space s. its home EFS kept");
    }

    #[test]
    fn what_does_not_fit_is_counted() {
        let many: Vec<Changed> = (0..200).map(|i| changed(&format!("DefaultUserSettings.Member{i:03}"), "old-value", "new-value", false)).collect();
        let reason = Summary::new("updated domain d-1").changed(&many).render_within(1000);
        assert!(reason.len() <= 1000, "{}", reason.len());
        let more: usize = reason.rsplit_once(" ... and ").and_then(|(_, n)| n.strip_suffix(" more")).unwrap().parse().unwrap();
        let shown = reason.matches("DefaultUserSettings.Member").count();
        assert_eq!(shown + more, 200, "{reason}");
        assert!(Summary::new("x").changed(&many).render().len() <= REASON_BUDGET);
    }
}
