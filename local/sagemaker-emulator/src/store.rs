//! The emulated account: resources, their asynchronous statuses, tags, and the test knobs.
//!
//! A status change is due once the transition delay has passed since it started; changes are
//! applied lazily ([`Store::advance`]) before every request and snapshot, so no background
//! timers are needed. The delay in force when reading counts, so a test can hold resources in
//! Pending/Updating/Deleting (long delay) and then release them all (zero delay).

use crate::error::{ApiError, ApiResult, SageMakerError};
use crate::validate::Body;
use crate::{Options, Phase, ResourceKind};
pub(crate) use emulator_kit::ids::{epoch_seconds as epoch_now, random_hex, random_lower_alnum};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What a status in transition ends as.
#[derive(Debug, Clone)]
enum Outcome {
    Becomes(&'static str, Option<String>),
    Gone,
}

/// A resource's status, and the change in progress (when it started, how it ends).
#[derive(Debug, Clone)]
pub(crate) struct Lifecycle {
    pub status: &'static str,
    pub failure_reason: Option<String>,
    next: Option<(Instant, Outcome)>,
}

impl Lifecycle {
    /// True when the transition in progress was armed to fail (see `fail_next`).
    pub fn will_fail(&self) -> bool {
        matches!(&self.next, Some((_, Outcome::Becomes(_, Some(_)))))
    }

    /// Applies the transition if `delay` has passed since it started; true when the resource is gone.
    fn settle(&mut self, now: Instant, delay: Duration) -> bool {
        match self.next.take() {
            Some((started, outcome)) if now.saturating_duration_since(started) >= delay => match outcome {
                Outcome::Gone => true,
                Outcome::Becomes(status, reason) => {
                    self.status = status;
                    self.failure_reason = reason;
                    false
                }
            },
            pending => {
                self.next = pending;
                false
            }
        }
    }

    /// Statuses in which SageMaker is still working on the resource.
    pub fn is_transitional(&self) -> bool {
        matches!(self.status, "Pending" | "Updating" | "Deleting")
    }
}

/// Fields every Studio resource has.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub seq: u64,
    pub arn: String,
    pub created: f64,
    pub modified: f64,
    pub life: Lifecycle,
    /// When the Create was accepted; the visibility lag counts from here.
    pub created_at: Instant,
    /// The visibility lag in force at the Create (zero for apps: they show at once).
    pub lag: Duration,
}

impl Meta {
    /// Status, FailureReason, CreationTime, LastModifiedTime as Describe* returns them.
    pub fn describe_into(&self, out: &mut Body) {
        out.insert("Status".into(), json!(self.life.status));
        if let Some(reason) = &self.life.failure_reason {
            out.insert("FailureReason".into(), json!(reason));
        }
        out.insert("CreationTime".into(), json!(self.created));
        out.insert("LastModifiedTime".into(), json!(self.modified));
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Domain {
    pub meta: Meta,
    pub id: String,
    pub name: String,
    pub auth_mode: String,
    pub home_efs_id: String,
    /// Describe-visible members stored as given (settings, VpcId, SubnetIds, ...).
    pub attrs: Body,
    /// RetentionPolicy.HomeEfsFileSystem of the DeleteDomain in progress.
    pub retention: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct UserProfile {
    pub meta: Meta,
    pub domain_id: String,
    pub name: String,
    pub attrs: Body,
}

#[derive(Debug, Clone)]
pub(crate) struct Space {
    pub meta: Meta,
    pub domain_id: String,
    pub name: String,
    pub attrs: Body,
}

impl Space {
    pub fn owner(&self) -> Option<&str> {
        self.attrs.get("OwnershipSettings")?.get("OwnerUserProfileName")?.as_str()
    }
}

/// Who an app belongs to: a user profile or a space.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Owner {
    UserProfile(String),
    Space(String),
}

impl Owner {
    pub fn name(&self) -> &str {
        match self {
            Owner::UserProfile(n) | Owner::Space(n) => n,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AppKey {
    pub domain_id: String,
    pub owner: Owner,
    pub app_type: String,
    pub app_name: String,
}

impl AppKey {
    /// "UserProfile alice/JupyterServer/default": how dependants are named in messages.
    pub fn label(&self) -> String {
        let kind = match self.owner {
            Owner::UserProfile(_) => "UserProfile",
            Owner::Space(_) => "Space",
        };
        format!("{kind} {}/{}/{}", self.owner.name(), self.app_type, self.app_name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub meta: Meta,
    pub key: AppKey,
    pub attrs: Body,
}

impl App {
    /// Deleted and Failed apps are finished: they cannot be deleted and block nothing.
    pub fn is_active(&self) -> bool {
        !matches!(self.meta.life.status, "Deleted" | "Failed")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LifecycleConfig {
    pub seq: u64,
    pub arn: String,
    pub name: String,
    pub content: String,
    pub app_type: String,
    pub created: f64,
    pub modified: f64,
}

/// Everything the emulator knows, behind one lock.
pub(crate) struct Store {
    pub region: String,
    pub account_id: String,
    pub delay: Duration,
    pub page_size: usize,
    pub visibility_lag: Duration,
    pub domain_quota: Option<usize>,
    pub unique_domain_names: bool,
    seq: u64,
    next_uid: u64,
    faults: HashMap<(ResourceKind, Phase), VecDeque<String>>,
    pub domains: BTreeMap<String, Domain>,
    pub profiles: BTreeMap<(String, String), UserProfile>,
    pub spaces: BTreeMap<(String, String), Space>,
    pub apps: BTreeMap<AppKey, App>,
    pub configs: BTreeMap<String, LifecycleConfig>,
    /// Tags by resource ARN, in the order they were added.
    pub tags: BTreeMap<String, Vec<(String, String)>>,
    /// Home EFS file systems: "Available", then "Retained" or "Deleted" with their domain.
    pub efs: BTreeMap<String, &'static str>,
    pub hooks: Option<std::sync::Arc<dyn crate::DomainHooks>>,
}

impl Store {
    pub fn new(options: Options) -> Self {
        Self {
            region: options.region,
            account_id: options.account_id,
            delay: options.transition_delay,
            page_size: options.page_size.max(1),
            visibility_lag: options.visibility_lag,
            domain_quota: options.domain_quota,
            unique_domain_names: options.unique_domain_names,
            seq: 0,
            next_uid: 200_000,
            faults: HashMap::new(),
            domains: BTreeMap::new(),
            profiles: BTreeMap::new(),
            spaces: BTreeMap::new(),
            apps: BTreeMap::new(),
            configs: BTreeMap::new(),
            tags: BTreeMap::new(),
            efs: BTreeMap::new(),
            hooks: None,
        }
    }

    pub fn arn(&self, resource: &str) -> String {
        format!("arn:aws:sagemaker:{}:{}:{resource}", self.region, self.account_id)
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// POSIX uid of a new home directory on the domain's EFS.
    pub fn next_uid(&mut self) -> String {
        self.next_uid += 1;
        self.next_uid.to_string()
    }

    /// The common fields of a resource being created now: its Create transition started, and
    /// hidden for the visibility lag unless it is an app (apps show at once).
    pub fn new_meta(&mut self, arn: String, kind: ResourceKind) -> Meta {
        let now = epoch_now();
        Meta {
            seq: self.next_seq(),
            arn,
            created: now,
            modified: now,
            life: self.start(kind, Phase::Create),
            created_at: Instant::now(),
            lag: match kind {
                ResourceKind::App => Duration::ZERO,
                _ => self.visibility_lag,
            },
        }
    }

    pub fn arm_fault(&mut self, kind: ResourceKind, phase: Phase, reason: &str) {
        self.faults.entry((kind, phase)).or_default().push_back(reason.to_string());
    }

    /// Starts the asynchronous part of a Create/Update/Delete, consuming an armed fault.
    pub fn start(&mut self, kind: ResourceKind, phase: Phase) -> Lifecycle {
        let fault = self.faults.get_mut(&(kind, phase)).and_then(VecDeque::pop_front);
        let (status, outcome) = match (phase, kind, fault) {
            (Phase::Create, _, None) => ("Pending", Outcome::Becomes("InService", None)),
            (Phase::Create, _, Some(r)) => ("Pending", Outcome::Becomes("Failed", Some(r))),
            (Phase::Update, _, None) => ("Updating", Outcome::Becomes("InService", None)),
            (Phase::Update, _, Some(r)) => ("Updating", Outcome::Becomes("Update_Failed", Some(r))),
            // Apps end Deleted, and AppStatus has no Delete_Failed: a failed app delete is Failed.
            (Phase::Delete, ResourceKind::App, None) => ("Deleting", Outcome::Becomes("Deleted", None)),
            (Phase::Delete, ResourceKind::App, Some(r)) => ("Deleting", Outcome::Becomes("Failed", Some(r))),
            (Phase::Delete, _, None) => ("Deleting", Outcome::Gone),
            (Phase::Delete, _, Some(r)) => ("Deleting", Outcome::Becomes("Delete_Failed", Some(r))),
        };
        Lifecycle { status, failure_reason: None, next: Some((Instant::now(), outcome)) }
    }

    /// Applies every status change that is due by now; removes resources whose delete finished.
    pub fn advance(&mut self) {
        let (now, delay) = (Instant::now(), self.delay);
        let mut gone_arns = Vec::new();
        let mut gone_domains = Vec::new();
        self.domains.retain(|id, d| {
            let gone = d.meta.life.settle(now, delay);
            if gone {
                gone_arns.push(d.meta.arn.clone());
                let application = d.attrs.get("SingleSignOnApplicationArn").and_then(serde_json::Value::as_str).map(str::to_string);
                gone_domains.push((id.clone(), d.home_efs_id.clone(), d.retention.clone(), application));
            }
            !gone
        });
        settle_all(&mut self.profiles, |p| &mut p.meta, (now, delay), &mut gone_arns);
        settle_all(&mut self.spaces, |s| &mut s.meta, (now, delay), &mut gone_arns);
        // Apps never go: their delete ends Deleted.
        settle_all(&mut self.apps, |a| &mut a.meta, (now, delay), &mut gone_arns);
        for (domain_id, efs_id, retention, application) in gone_domains {
            let retain = retention.as_deref() != Some("Delete");
            if let Some(hooks) = &self.hooks {
                hooks.domain_deleted(application.as_deref(), &efs_id, retain);
            }
            // A domain without a home EFS (HomeEfsFileSystemCreation Disabled) leaves none.
            if !efs_id.is_empty() {
                let state = if retain { "Retained" } else { "Deleted" };
                self.efs.insert(efs_id, state);
            }
            // Deleted apps stay listed only while their domain exists.
            self.apps.retain(|k, _| k.domain_id != domain_id);
        }
        for arn in gone_arns {
            self.tags.remove(&arn);
        }
    }

    /// Whether Describe*/List* see the resource yet: its lag, shortened by a lower lag set
    /// since (so zero shows everything at once).
    pub fn is_visible(&self, meta: &Meta) -> bool {
        meta.created_at.elapsed() >= meta.lag.min(self.visibility_lag)
    }

    /// The domain of that id, if it exists and is visible yet.
    pub fn domain(&self, id: &str) -> ApiResult<&Domain> {
        self.domains.get(id).filter(|d| self.is_visible(&d.meta)).ok_or_else(|| ApiError::not_found(format!("Domain '{id}' does not exist")))
    }

    /// A visible user profile of a visible domain.
    pub fn user_profile(&self, domain_id: &str, name: &str) -> ApiResult<&UserProfile> {
        self.in_domain(&self.profiles, |p| &p.meta, domain_id, name, "User profile")
    }

    /// A visible space of a visible domain.
    pub fn space(&self, domain_id: &str, name: &str) -> ApiResult<&Space> {
        self.in_domain(&self.spaces, |s| &s.meta, domain_id, name, "Space")
    }

    fn in_domain<'a, T>(&self, map: &'a BTreeMap<(String, String), T>, meta: fn(&T) -> &Meta, domain_id: &str, name: &str, kind: &str) -> ApiResult<&'a T> {
        self.domain(domain_id)?;
        map.get(&(domain_id.to_string(), name.to_string()))
            .filter(|r| self.is_visible(meta(r)))
            .ok_or_else(|| ApiError::not_found(format!("{kind} '{name}' does not exist in domain {domain_id}")))
    }

    /// Whether an ARN names a resource that exists (for the tagging operations).
    pub fn arn_exists(&self, arn: &str) -> bool {
        self.domains.values().any(|d| d.meta.arn == arn)
            || self.profiles.values().any(|p| p.meta.arn == arn)
            || self.spaces.values().any(|s| s.meta.arn == arn)
            || self.apps.values().any(|a| a.meta.arn == arn)
            || self.configs.values().any(|c| c.arn == arn)
    }

    pub fn set_tags(&mut self, arn: &str, tags: Vec<(String, String)>) {
        let stored = self.tags.entry(arn.to_string()).or_default();
        for (key, value) in tags {
            match stored.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => stored.push((key, value)),
            }
        }
    }
}

/// Settles every resource of a map, dropping those whose delete finished (their ARNs are
/// added to `gone`).
fn settle_all<K: Ord, V>(map: &mut BTreeMap<K, V>, meta: impl Fn(&mut V) -> &mut Meta, (now, delay): (Instant, Duration), gone: &mut Vec<String>) {
    map.retain(|_, resource| {
        let meta = meta(resource);
        let is_gone = meta.life.settle(now, delay);
        if is_gone {
            gone.push(meta.arn.clone());
        }
        !is_gone
    });
}
