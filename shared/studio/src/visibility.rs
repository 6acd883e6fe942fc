//! Eventual consistency right after a Create: SageMaker answers CreateDomain,
//! CreateUserProfile or CreateSpace, yet Describe*/List* may not find the new resource for a
//! while. Within the visibility patience ([`custom_resource::Patience::visibility`], 2 minutes)
//! of the Create, not-found means "not visible yet", never "gone".

pub use crate::since::Since as CreatedAt;
use custom_resource::Step;

impl CreatedAt {
    /// Whether a not-found may still be the lag.
    pub fn may_be_invisible(&self, step: &Step) -> bool {
        self.within(step.now(), step.patience().visibility)
    }
}

/// The Pending's "waiting for" text while a new resource is not visible yet.
pub fn not_visible_yet(what: &str) -> String {
    format!("{what} to become visible (SageMaker may not list a resource for a while after creating it)")
}

/// The FAILED Reason once the lag is over and the resource is still not found.
pub fn never_became_visible(what: &str, step: &Step) -> String {
    format!(
        "{what} was created but is still not found {} s later; it may appear later and is reported as this resource so that a Delete removes it",
        step.patience().visibility.as_secs()
    )
}
