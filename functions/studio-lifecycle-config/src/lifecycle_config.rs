//! The custom resource: stage the assets, create the config named by its content hash,
//! replace it when the content changes, delete it (or retain it while in use) with its assets.

use crate::claim::{Claim, Claims, StagedBy};
use crate::plan::{self, NAME_HASH_LEN, Plan};
use crate::properties::{Location, Properties, Spec};
use crate::script::FULL_SCRIPT_FILE;
use crate::staging::s3::S3Bucket;
use crate::staging::store::ObjectSink;
use crate::staging::zip_index::Limits;
use crate::staging::{self, Tuning};

use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, Request, Step};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use studio::summary::Summary;
use studio::{AwsResult, Kind, Owner, delete_options, describe, tags};
use tracing::{info, warn};

/// Staging stops this far before the step's deadline (half of the step's time, at most 2
/// minutes), so that the file under way, the full script and CreateStudioLifecycleConfig
/// still fit in the step; staging any number of files so spans steps and continuations.
const FILE_RESERVE: Duration = Duration::from_secs(120);
/// Optional: at most this many seconds of staging per step (tests use it to cut staging into many steps).
pub const SLICE_ENV: &str = "STAGING_SLICE_SECONDS";
/// At most this long is spent removing a failed staging's files before reporting the failure.
const CLEANUP_BUDGET: Duration = Duration::from_secs(30);

pub struct LifecycleConfig {
    sagemaker: aws_sdk_sagemaker::Client,
    s3: aws_sdk_s3::Client,
    tuning: Tuning,
    limits: Limits,
    slice: Option<Duration>,
    /// This account (EXPECTED_BUCKET_OWNER, set by the template): every S3 call carries it as
    /// ExpectedBucketOwner, so that a bucket name now owned by another account is refused.
    bucket_owner: Option<String>,
}

pub const BUCKET_OWNER_ENV: &str = "EXPECTED_BUCKET_OWNER";

/// Create, or an Update to new content: staging. Assets before `asset` are done, and its
/// files before `file`. The hash pins the content: if the sources change in between, the
/// staging fails instead of mixing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staging {
    pub content_sha256: String,
    pub asset: usize,
    pub file: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeleteProgress {
    /// The config is gone; its staged files are being removed.
    RemovingAssets,
}

/// A config ARN this function made: `arn:<partition>:sagemaker:<region>:<account>:studio-lifecycle-config/<base>-<10 hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigArn {
    pub name: String,
    pub base: String,
    pub hash: String,
}

impl ConfigArn {
    pub fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let ["arn", _partition, "sagemaker", _region, _account, resource] = parts.as_slice() else {
            return None;
        };
        let name = resource.strip_prefix("studio-lifecycle-config/")?;
        let (base, hash) = name.rsplit_once('-')?;
        let hex = hash.len() == NAME_HASH_LEN && hash.chars().all(|c| c.is_ascii_hexdigit());
        (hex && !base.is_empty()).then(|| Self { name: name.to_string(), base: base.to_string(), hash: hash.to_ascii_lowercase() })
    }
}

impl LifecycleConfig {
    /// Configuration errors are returned so that every event is answered FAILED with them.
    pub fn from_env(sagemaker: aws_sdk_sagemaker::Client, s3: aws_sdk_s3::Client) -> Result<Self, String> {
        let slice = match std::env::var(SLICE_ENV) {
            Err(_) => None,
            Ok(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=600.0).contains(s))
                .map(Duration::from_secs_f64)
                .map(Some)
                .ok_or_else(|| format!("{SLICE_ENV} must be a number of seconds from 0 to 600, got {text:?}"))?,
        };
        let bucket_owner = match std::env::var(BUCKET_OWNER_ENV) {
            Err(_) => None,
            Ok(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => Some(id),
            Ok(other) => return Err(format!("{BUCKET_OWNER_ENV} must be a 12-digit account id, got {other:?}")),
        };
        Ok(Self { sagemaker, s3, tuning: Tuning::default(), limits: Limits::default(), slice, bucket_owner })
    }

    /// The config's ARN, or None if there is no config of that name.
    async fn find(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(describe::lifecycle_config(&self.sagemaker, name).await?.and_then(|c| c.studio_lifecycle_config_arn().map(str::to_string)))
    }

    async fn plan(&self, spec: &Spec) -> Result<Plan, Error> {
        plan::plan(&self.s3, spec, &self.limits, self.bucket_owner.as_deref()).await
    }

    fn done(arn: &str, spec: &Spec, plan: &Plan) -> Done {
        Done::new(arn)
            .with("StudioLifecycleConfigArn", arn)
            .with("StudioLifecycleConfigName", &plan.name)
            .with("AssetsS3Uri", plan.assets_uri(spec.location.as_ref()))
            .with("ContentSha256", &plan.content_sha256)
    }

    /// The template's tags onto the config `arn` (see [`tags::changes`]); returns the Reason
    /// saying what changed after `head`, or "no change".
    async fn sync_tags(&self, arn: &str, spec: &Spec, old_tags: &[(String, String)], head: String) -> Result<String, Error> {
        let actual = tags::list(&self.sagemaker, arn).await?;
        let (add, remove) = tags::changes(&actual, &spec.tags_with_record(), old_tags);
        tags::apply(&self.sagemaker, arn, add.clone(), remove.clone()).await?;
        Ok(Summary::new(head).tags(&add, &remove).render())
    }

    fn claims<'a>(&'a self, location: &'a Location) -> Claims<'a> {
        Claims { s3: &self.s3, bucket: &location.bucket, owner: self.bucket_owner.as_deref() }
    }

    /// Before the first file is staged: the prefix is claimed for this request, unless another
    /// stack resource staged it (FAILED, nothing written) or files without a record are there
    /// (staged into, unclaimed: never removed by this resource). See [`crate::claim`].
    async fn claim(&self, request: &Request, location: &Location, prefix: &str) -> Result<(), Error> {
        let claims = self.claims(location);
        match claims.read(prefix).await? {
            claim if claim.is_foreign(request) => Err(taken(location, prefix, &claim)),
            Claim::None if claims.holds_files(prefix).await? => {
                warn!(prefix, "the prefix holds files no record claims; staging into it without claiming it (they are never removed by this resource)");
                Ok(())
            }
            _ => claims.write(prefix, &StagedBy::of(request)).await,
        }
    }

    /// Makes the config for `plan`: stages (in slices), then CreateStudioLifecycleConfig.
    async fn provision(
        &self,
        step: &Step,
        spec: &Spec,
        plan: &Plan,
        old_tags: &[(String, String)],
        progress: Option<Staging>,
    ) -> Result<Outcome<Staging>, Error> {
        let request = step.request();
        let (mut asset, mut file) = match progress {
            Some(Staging { content_sha256, asset, file }) => {
                if content_sha256 != plan.content_sha256 {
                    // What was staged so far is the old content's: removed if this request staged it.
                    if let Some(location) = &spec.location {
                        self.remove_own_staging(request, location, &location.staged_prefix(&spec.base, &content_sha256)).await;
                    }
                    return Err(Error::new("the assets changed while they were being staged (their content hash differs); update the stack again"));
                }
                // Staging goes on only into a prefix no other stack resource has claimed since.
                if let (Some(location), Some(prefix)) = (&spec.location, &plan.staged_prefix) {
                    let claim = self.claims(location).read(prefix).await?;
                    if claim.is_foreign(request) {
                        return Err(taken(location, prefix, &claim));
                    }
                }
                (asset, file)
            }
            None => {
                // The same content may already have a config: a duplicate delivery, or a
                // return to content this resource had before (then it is reused).
                if let Some(arn) = self.find(&plan.name).await? {
                    if !Owner::from(request).owns(&tags::list(&self.sagemaker, &arn).await?) {
                        return Err(Error::new(format!(
                            "a Studio lifecycle config named {} already exists and was not created by this stack's {}; \
                             give this resource another StudioLifecycleConfigName",
                            plan.name, request.logical_resource_id
                        )));
                    }
                    info!(arn, "a config with this content exists already; reusing it");
                    let summary = self.sync_tags(&arn, spec, old_tags, format!("reused lifecycle config {} (it has this content already)", plan.name)).await?;
                    return Ok(Self::done(&arn, spec, plan).reason(summary).into());
                }
                let stages = !plan.assets.is_empty() || plan.full_script.is_some();
                if let (Some(location), Some(prefix), true) = (&spec.location, &plan.staged_prefix, stages) {
                    self.claim(request, location, prefix).await?;
                }
                (0, 0)
            }
        };

        let until = self.work_until(step);
        if let (Some(location), Some(prefix)) = (&spec.location, &plan.staged_prefix) {
            let sink = Arc::new(S3Bucket::new(&self.s3, &location.bucket, self.bucket_owner.as_deref()));
            while asset < plan.assets.len() {
                let planned = &plan.assets[asset];
                let started = Instant::now();
                let staged = staging::stage(planned.source.clone(), sink.clone(), &planned.zip, &planned.dest_prefix(prefix), file, until, &self.tuning)
                    .await
                    .map_err(|e| plan::asset_error(&planned.spec, e));
                let staged = match staged {
                    Ok(staged) => staged,
                    Err(e) => return Err(self.failed_staging(request, spec, plan, e).await),
                };
                info!(
                    asset = %planned.spec.name,
                    files = staged.files,
                    bytes = staged.bytes,
                    staged_through = staged.next,
                    of = planned.zip.files.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    peak_rss_mb = peak_rss_mb(),
                    "staged"
                );
                file = staged.next;
                if file >= planned.zip.files.len() {
                    (asset, file) = (asset + 1, 0);
                }
                if asset < plan.assets.len() && Instant::now() >= until {
                    let waiting_for = match plan.assets.get(asset) {
                        Some(next) => format!("staging asset {} ({} of {} files done)", next.spec.name, file, next.zip.files.len()),
                        None => "staging the assets".to_string(),
                    };
                    let progress = Staging { content_sha256: plan.content_sha256.clone(), asset, file };
                    return Ok(Pending::new(progress, waiting_for).poll_after(Duration::ZERO).into());
                }
            }
            if let Some(full) = &plan.full_script {
                let put = sink.put(&format!("{prefix}{FULL_SCRIPT_FILE}"), full.clone().into_bytes().into()).await;
                if let Err(e) = put {
                    return Err(self.failed_staging(request, spec, plan, e).await);
                }
            }
        }
        self.create_config(request, spec, plan).await
    }

    async fn create_config(&self, request: &Request, spec: &Spec, plan: &Plan) -> Result<Outcome<Staging>, Error> {
        let tags = Owner::from(request).creation_tags(&spec.tags_with_record());
        let created = self
            .sagemaker
            .create_studio_lifecycle_config()
            .studio_lifecycle_config_name(&plan.name)
            .studio_lifecycle_config_content(&plan.content)
            .studio_lifecycle_config_app_type(spec.app_type.clone())
            .set_tags(Some(tags))
            .send()
            .await
            .aws("CreateStudioLifecycleConfig");
        match created {
            Ok(output) => {
                let arn = output.studio_lifecycle_config_arn().unwrap_or_default().to_string();
                info!(arn, name = %plan.name, "created the lifecycle config");
                Ok(Self::done(&arn, spec, plan).reason(format!("created lifecycle config {}", plan.name)).into())
            }
            // Another delivery of this very request got there first.
            Err(e) if e.is(Kind::InUse) => match self.find(&plan.name).await? {
                Some(arn) if Owner::from(request).made(&tags::list(&self.sagemaker, &arn).await?) => {
                    Ok(Self::done(&arn, spec, plan).reason(format!("created lifecycle config {}", plan.name)).into())
                }
                _ => Err(e.into()),
            },
            Err(e) => Err(self.failed_staging(request, spec, plan, e.into()).await),
        }
    }

    /// A creation that cannot succeed: its staged files are removed if this request staged
    /// them (no config uses them: none of this name existed when staging began) and the error
    /// is returned. Retryable errors are returned as they are: the core runs the step again.
    async fn failed_staging(&self, request: &Request, spec: &Spec, plan: &Plan, error: Error) -> Error {
        if !error.is_retryable()
            && let (Some(location), Some(prefix)) = (&spec.location, &plan.staged_prefix)
        {
            self.remove_own_staging(request, location, prefix).await;
        }
        error
    }

    /// Removes what this very request staged under `prefix` (its record says so), best effort
    /// within a bounded time: a failure is logged, not reported. Anyone else's files stay.
    async fn remove_own_staging(&self, request: &Request, location: &Location, prefix: &str) {
        let claims = self.claims(location);
        let removed = match claims.read(prefix).await {
            Ok(claim) if claim.is_request(request) => claims.remove(prefix, Instant::now() + CLEANUP_BUDGET).await,
            Ok(claim) => {
                warn!(prefix, staged_by = claim.describe(), "the files under this prefix were not staged by this request; leaving them");
                return;
            }
            Err(e) => Err(e),
        };
        match removed {
            Ok(true) => info!(prefix, "removed the files staged before the failure"),
            Ok(false) => warn!(prefix, "could not remove all files staged before the failure in time"),
            Err(e) => warn!(prefix, error = %e.reason, "could not remove the files staged before the failure"),
        }
    }

    /// When a step's staging or removal stops: see [`FILE_RESERVE`] and [`SLICE_ENV`].
    fn work_until(&self, step: &Step) -> Instant {
        let reserve = (step.remaining() / 2).min(FILE_RESERVE);
        let until = step.deadline().checked_sub(reserve).unwrap_or_else(Instant::now);
        self.slice.map_or(until, |slice| until.min(Instant::now() + slice))
    }

    /// Removes the staged files of the config `arn` names (`<prefix><base>/<hash...>/`): only
    /// prefixes whose record says this stack resource staged them (checked on every step: the
    /// location comes from the event's properties, which its sender wrote).
    async fn remove_assets(&self, step: &Step, physical_id: &str, arn: &ConfigArn, base: &str, location: &Location) -> Result<Outcome<DeleteProgress>, Error> {
        let parent = format!("{}{base}/", location.prefix);
        let uri = location.uri(&format!("{parent}{}.../", arn.hash));
        let until = self.work_until(step).max(Instant::now() + Duration::from_secs(1));
        let removed = async {
            let claims = self.claims(location);
            let mut kept = Vec::new();
            for prefix in self.staged_prefixes(location, &parent, &arn.hash).await? {
                let claim = claims.read(&prefix).await?;
                if !claim.is_resource_of(step.request()) {
                    kept.push((prefix, claim));
                } else if !claims.remove(&prefix, until).await? {
                    return Ok(None);
                }
            }
            Ok::<_, Error>(Some(kept))
        };
        match removed.await {
            Ok(Some(kept)) if kept.is_empty() => Ok(Done::new(physical_id).reason(format!("deleted {} and its staged assets", arn.name)).into()),
            Ok(Some(kept)) => {
                let (prefix, claim) = &kept[0];
                warn!(prefix, staged_by = claim.describe(), "not staged by this stack resource; leaving it");
                Ok(Done::new(physical_id)
                    .reason(format!(
                        "deleted {}; the staged assets at {} are kept: they were not staged by this stack resource (their record names {})",
                        arn.name,
                        location.uri(prefix),
                        claim.describe()
                    ))
                    .into())
            }
            Ok(None) => Ok(Pending::new(DeleteProgress::RemovingAssets, format!("removing the staged assets at {uri}")).poll_after(Duration::ZERO).into()),
            Err(e) if e.is_retryable() => Err(e),
            // The config is gone; leftover files must not fail the stack's delete.
            Err(e) => Ok(Done::new(physical_id)
                .reason(format!("deleted {}, but its staged assets at {uri} could not be removed: {}; remove them by hand", arn.name, e.reason))
                .into()),
        }
    }

    /// The staged prefixes `<parent><64 hex starting with hash10>/` there are, files or a record:
    /// never another base's.
    async fn staged_prefixes(&self, location: &Location, parent: &str, hash10: &str) -> Result<Vec<String>, Error> {
        let mut found = std::collections::BTreeSet::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&location.bucket)
                .set_expected_bucket_owner(self.bucket_owner.clone())
                .prefix(format!("{parent}{hash10}"))
                .delimiter("/")
                .set_continuation_token(token)
                .send()
                .await
                .aws("ListObjectsV2")?;
            let dirs = page.common_prefixes().iter().filter_map(|p| p.prefix()).filter_map(|p| p.strip_prefix(parent)?.strip_suffix('/'));
            let records = page.contents().iter().filter_map(|o| o.key()).filter_map(|k| k.strip_prefix(parent)?.strip_suffix(crate::claim::SUFFIX));
            for hash in dirs.chain(records) {
                if hash.len() == 64 && hash.starts_with(hash10) && hash.chars().all(|c| c.is_ascii_hexdigit()) {
                    found.insert(format!("{parent}{hash}/"));
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return Ok(found.into_iter().collect());
            }
        }
    }
}

/// The FAILED Reason when another stack resource staged the prefix this content goes to.
fn taken(location: &Location, prefix: &str, claim: &Claim) -> Error {
    Error::new(format!(
        "the assets of this content would be staged at {}, which {} staged (identical content under the same AssetBucket, AssetPrefix and \
         StudioLifecycleConfigName); nothing was written: give this resource another StudioLifecycleConfigName or AssetPrefix",
        location.uri(prefix),
        claim.describe()
    ))
}

/// Peak resident memory of this process (Linux), for the staging logs.
fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

impl LifecycleConfig {
    /// The ownership guard on Update, as on Delete.
    async fn guard_update(&self, step: &Step, arn: &str, name: &str) -> Result<(), Error> {
        let tags = tags::list(&self.sagemaker, arn).await?;
        Owner::from(step.request()).guard(&tags, format!("lifecycle config {name}")).map_err(|e| Error::new(e.on_update()))
    }
}

impl CustomResource for LifecycleConfig {
    type Properties = Properties;
    type CreateProgress = Staging;
    type UpdateProgress = Staging;
    type DeleteProgress = DeleteProgress;

    fn recognizes(&self, physical_id: &str) -> bool {
        ConfigArn::parse(physical_id).is_some()
    }

    async fn create(&self, step: &Step, properties: &Properties, progress: Option<Staging>) -> Result<Outcome<Staging>, Error> {
        let spec = properties.validate()?;
        let plan = self.plan(&spec).await?;
        self.provision(step, &spec, &plan, &[], progress).await
    }

    async fn update(&self, step: &Step, change: Change<'_, Properties>, progress: Option<Staging>) -> Result<Outcome<Staging>, Error> {
        let Change { physical_id, properties, old } = change;
        let spec = properties.validate()?;
        let plan = self.plan(&spec).await?;
        // Tags the old template had (and only those) are removed when the new one drops them.
        let old_tags = old.and_then(|old| studio::ownership::user_tags(&old.tags).ok()).unwrap_or_default();
        // Same content, same config: only the tags can have changed.
        let same = ConfigArn::parse(physical_id).is_some_and(|arn| arn.name.eq_ignore_ascii_case(&plan.name));
        if progress.is_none() && same {
            if let Some(arn) = self.find(&plan.name).await? {
                self.guard_update(step, &arn, &plan.name).await?;
                let summary = self.sync_tags(&arn, &spec, &old_tags, format!("updated lifecycle config {}", plan.name)).await?;
                return Ok(Self::done(physical_id, &spec, &plan).reason(summary).into());
            }
            warn!(name = %plan.name, "the config is gone; creating it again");
        }
        // New content: a new config (new PhysicalResourceId); CloudFormation deletes the old
        // one in its cleanup, after the domain or profiles have moved to the new one.
        self.provision(step, &spec, &plan, &old_tags, progress).await
    }

    async fn delete(
        &self,
        step: &Step,
        physical_id: &str,
        properties: &Properties,
        progress: Option<DeleteProgress>,
    ) -> Result<Outcome<DeleteProgress>, Error> {
        let Some(arn) = ConfigArn::parse(physical_id) else {
            return Ok(Done::new(physical_id).into());
        };
        // ARNs may show names in lower case; the properties keep the case the config has.
        let base = if properties.studio_lifecycle_config_name.eq_ignore_ascii_case(&arn.base) {
            properties.studio_lifecycle_config_name.clone()
        } else {
            arn.base.clone()
        };
        let name = format!("{base}-{}", arn.hash);
        let location = properties.location().ok().flatten();
        let staged = location.as_ref().map(|l| l.uri(&format!("{}{base}/{}.../", l.prefix, arn.hash))).unwrap_or_default();

        // The staged files go only when the config went in this Delete, and as the record on it
        // allows: the event's RetainAssets is its sender's (see studio::delete_options).
        if progress != Some(DeleteProgress::RemovingAssets) {
            let Some(config_arn) = self.find(&name).await? else {
                info!(name, "the config is already gone");
                let kept = if staged.is_empty() {
                    String::new()
                } else {
                    format!("; staged assets at {staged}, if any, are kept (with the config gone, no record says they may go)")
                };
                return Ok(Done::new(physical_id).reason(format!("nothing to delete: lifecycle config {name} is already gone{kept}")).into());
            };
            let tags = tags::list(&self.sagemaker, &config_arn).await?;
            if let Err(not_ours) = Owner::from(step.request()).guard(&tags, format!("lifecycle config {name}")) {
                return Ok(Done::new(physical_id).reason(not_ours.on_delete()).into());
            }
            let retain = delete_options::allowed(&tags, properties.retain_assets_option());
            let deleted = self.sagemaker.delete_studio_lifecycle_config().studio_lifecycle_config_name(&name).send().await.aws("DeleteStudioLifecycleConfig");
            match deleted {
                Ok(_) => info!(name, "deleted the lifecycle config"),
                Err(e) if e.is(Kind::NotFound) => info!(name, "the config is already gone"),
                Err(e) if e.is(Kind::InUse) => {
                    let why = e.message.as_deref().unwrap_or("a domain, user profile, space or running app uses it");
                    let kept = if staged.is_empty() { String::new() } else { format!("; its staged assets at {staged} are kept so that it keeps working") };
                    return Ok(Done::new(physical_id).reason(format!("retained: in use: {why}{kept}. Delete it once nothing uses it")).into());
                }
                Err(e) => return Err(e.into()),
            }
            if location.is_some() && retain.value == "true" {
                let why = retain.narrowed.unwrap_or_else(|| "RetainAssets".to_string());
                return Ok(Done::new(physical_id).reason(format!("deleted {name}; its staged assets at {staged} are kept ({why})")).into());
            }
        }
        match location {
            Some(location) => self.remove_assets(step, physical_id, &arn, &base, &location).await,
            None => Ok(Done::new(physical_id).reason(format!("deleted {}", arn.name)).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_config_arns_named_by_content_hash_are_recognised() {
        let arn = ConfigArn::parse("arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/lab-setup-0123456789").unwrap();
        assert_eq!((arn.name.as_str(), arn.base.as_str(), arn.hash.as_str()), ("lab-setup-0123456789", "lab-setup", "0123456789"));
        for other in [
            "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/handmade",
            "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/lab-012345678",
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-abc/lab-0123456789",
            "create-failed:6d1f2a3b",
            "lab-0123456789",
        ] {
            assert_eq!(ConfigArn::parse(other), None, "{other}");
        }
    }
}
