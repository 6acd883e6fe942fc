//! A domain's children, user profiles and spaces: one lifecycle for both.
//!
//! SageMaker gives the two the same life (Pending -> InService, Updating, Failed, Deleting,
//! and the same failure states), so the steps of it are written once here, over [`Child`]:
//! wait for InService after a Create (not-found first meaning "not visible yet", see
//! [`crate::visibility`]), remove a Failed one before answering FAILED, carry on with one an
//! earlier delivery made, wait for an update, replace. What is a function's own stays there:
//! properties, the Create and Update calls, the Data it reports, its Delete rules.
//!
//! Every step that changes a child checks, in that invocation, that it is this stack
//! resource's (its ownership tags; right after a Create, this very request's): progress says
//! where a request stands, never whose the child of that name is now.
//!
//! Like [`crate::into_core`], this module speaks the core's step types (Outcome, Pending, Done).

use crate::delete_options::{self, DeleteOption};
use crate::error::{AwsError, AwsResult, Kind};
use crate::into_core::adopt_existing;
use crate::live_diff::Changed;
use crate::ownership::{MAX_TAGS, Owner, REQUEST_ID, name_taken};
use crate::summary::Summary;
use crate::visibility::{CreatedAt, never_became_visible, not_visible_yet};
use crate::{adoption, child_stacks, describe, tags};
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::operation::describe_space::DescribeSpaceOutput;
use aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput;
use custom_resource::{Done, Error, Outcome, Pending, PropertyError, Step, StepResult};
use serde::{Deserialize, Serialize};
use std::future::Future;
use tracing::{info, warn};

/// Create (or a replacement): where a pending step stands. Everything else is read back from SageMaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CreateProgress {
    /// Created (perhaps not visible yet, see [`crate::visibility`]); waiting for InService.
    Creating { created_at: CreatedAt },
    /// The created child failed: deleting it, then answering FAILED with `reason`.
    RemovingFailed { reason: String },
    /// AdoptExisting: the child carries this resource's ownership tags and the Update call
    /// that brings it to the template's settings (`sent`) was accepted; waiting for InService,
    /// then the template's tags.
    Adopting { sent: Sent },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UpdateProgress {
    /// What identifies the child changed: a new one is being created (CloudFormation deletes
    /// the old one afterwards).
    Replacing(CreateProgress),
    /// The Update call was accepted (`sent`, for the Reason); waiting for InService.
    Updating { sent: Sent },
}

/// What an Update call sent, as the SUCCESS Reason says it ([`Summary::changed`]'s sections):
/// carried in progress from the call to the step that answers once the child is InService
/// again. Strings, already shortened, so that progress stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// "UserSettings.ExecutionRole (a -> b)", as [`Changed::describe`] says it.
    pub members: Vec<String>,
    /// The paths among them where the live child had been changed outside the stack.
    pub drift: Vec<String>,
}

impl Sent {
    pub fn of(changed: &[Changed]) -> Self {
        Self { members: changed.iter().map(Changed::describe).collect(), drift: changed.iter().filter(|c| c.drift).map(|c| c.path.clone()).collect() }
    }

    /// `summary` with what was sent ("sent: ..."; "drift corrected: ...").
    pub fn summarize(&self, summary: Summary) -> Summary {
        summary.section("sent", self.members.clone()).section("drift corrected", self.drift.clone())
    }
}

/// DeleteAdopted as a Delete asks it (see [`crate::delete_options`]): an adopted child is
/// deleted only when the template's last completed Create or Update recorded it too.
fn delete_adopted_option(asked: bool) -> DeleteOption<'static> {
    DeleteOption { name: adoption::DELETE_ADOPTED, asked: if asked { "true" } else { "false" }, conservative: "false" }
}

/// What AdoptExisting found under the child's name.
pub enum Adoptable<C> {
    /// Nothing: the Create makes it.
    Absent,
    /// Made by an earlier delivery of this very request: the answer is that Create's.
    Answered(StepResult<CreateProgress>),
    /// To adopt (its owner consents), or adopted already by an earlier attempt of this stack
    /// resource: the function compares it with the template, then [`Lifecycle::take_over`].
    Found { child: C, tags: Vec<(String, String)> },
}

/// The status of a user profile or a space (UserProfileStatus and SpaceStatus have the same members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pending,
    InService,
    Updating,
    UpdateFailed,
    Failed,
    Deleting,
    DeleteFailed,
    /// A status this code does not know yet, as SageMaker spells it.
    Other(String),
}

impl Status {
    /// From SageMaker's spelling (the SDK enums' `as_str`).
    pub fn of(status: &str) -> Self {
        match status {
            "Pending" => Self::Pending,
            "InService" => Self::InService,
            "Updating" => Self::Updating,
            "Update_Failed" => Self::UpdateFailed,
            "Failed" => Self::Failed,
            "Deleting" => Self::Deleting,
            "Delete_Failed" => Self::DeleteFailed,
            other => Self::Other(other.to_string()),
        }
    }

    /// SageMaker's spelling, as the Reasons show it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::InService => "InService",
            Self::Updating => "Updating",
            Self::UpdateFailed => "Update_Failed",
            Self::Failed => "Failed",
            Self::Deleting => "Deleting",
            Self::DeleteFailed => "Delete_Failed",
            Self::Other(other) => other,
        }
    }
}

/// What the lifecycle needs of a child: implemented by its Describe output.
pub trait Child: Sized + Send + Sync + 'static {
    /// "user profile", "space": how Reasons name it.
    const KIND: &'static str;
    /// The Describe operation and its ARN member, for a Reason when the member is missing.
    const DESCRIBE: &'static str;
    const ARN_MEMBER: &'static str;
    /// The member naming it in the Create call, named when the name is taken.
    const NAME_MEMBER: &'static str;

    /// None when absent (see [`crate::describe`]).
    fn describe(sagemaker: &Client, domain_id: &str, name: &str) -> impl Future<Output = Result<Option<Self>, AwsError>> + Send;
    fn delete(sagemaker: &Client, domain_id: &str, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The child's tags (ListTags on its ARN).
    fn tags(sagemaker: &Client, arn: &str) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send {
        tags::list(sagemaker, arn)
    }
    fn arn(&self) -> Option<&str>;
    fn name(&self) -> Option<&str>;
    fn domain(&self) -> Option<&str>;
    fn home_efs_uid(&self) -> Option<&str>;
    fn state(&self) -> Option<Status>;
    /// SageMaker's FailureReason, or a word saying it gave none.
    fn failure(&self) -> &str;
}

const NO_FAILURE_REASON: &str = "no FailureReason given";

/// The members both Describe outputs name alike (they share no SDK trait).
macro_rules! alike {
    () => {
        fn domain(&self) -> Option<&str> {
            self.domain_id()
        }

        fn home_efs_uid(&self) -> Option<&str> {
            self.home_efs_file_system_uid()
        }

        fn state(&self) -> Option<Status> {
            self.status().map(|s| Status::of(s.as_str()))
        }

        fn failure(&self) -> &str {
            self.failure_reason().unwrap_or(NO_FAILURE_REASON)
        }
    };
}

impl Child for DescribeUserProfileOutput {
    const KIND: &'static str = "user profile";
    const DESCRIBE: &'static str = "DescribeUserProfile";
    const ARN_MEMBER: &'static str = "UserProfileArn";
    const NAME_MEMBER: &'static str = "UserProfileName";

    async fn describe(sagemaker: &Client, domain_id: &str, name: &str) -> Result<Option<Self>, AwsError> {
        describe::user_profile(sagemaker, domain_id, name).await
    }

    async fn delete(sagemaker: &Client, domain_id: &str, name: &str) -> Result<(), AwsError> {
        sagemaker.delete_user_profile().domain_id(domain_id).user_profile_name(name).send().await.aws("DeleteUserProfile").map(|_| ())
    }

    fn arn(&self) -> Option<&str> {
        self.user_profile_arn()
    }

    fn name(&self) -> Option<&str> {
        self.user_profile_name()
    }

    alike!();
}

impl Child for DescribeSpaceOutput {
    const KIND: &'static str = "space";
    const DESCRIBE: &'static str = "DescribeSpace";
    const ARN_MEMBER: &'static str = "SpaceArn";
    const NAME_MEMBER: &'static str = "SpaceName";

    async fn describe(sagemaker: &Client, domain_id: &str, name: &str) -> Result<Option<Self>, AwsError> {
        describe::space(sagemaker, domain_id, name).await
    }

    async fn delete(sagemaker: &Client, domain_id: &str, name: &str) -> Result<(), AwsError> {
        sagemaker.delete_space().domain_id(domain_id).space_name(name).send().await.aws("DeleteSpace").map(|_| ())
    }

    fn arn(&self) -> Option<&str> {
        self.space_arn()
    }

    fn name(&self) -> Option<&str> {
        self.space_name()
    }

    alike!();
}

/// SUCCESS with the Data every child reports: its ARN and name (under the API's member
/// names), DomainId, and HomeEfsFileSystemUid when SageMaker reports one.
pub fn data<C: Child>(physical_id: &str, child: &C) -> Done {
    let done = Done::new(physical_id)
        .with(C::ARN_MEMBER, child.arn().unwrap_or(physical_id))
        .with(C::NAME_MEMBER, child.name().unwrap_or_default())
        .with("DomainId", child.domain().unwrap_or_default());
    match child.home_efs_uid() {
        Some(uid) => done.with("HomeEfsFileSystemUid", uid),
        None => done,
    }
}

/// The tags an Update syncs: the template's, and the old template's (only those are removed).
#[derive(Debug, Clone, Default)]
pub struct TagChange {
    pub new: Vec<(String, String)>,
    pub old: Vec<(String, String)>,
}

impl TagChange {
    /// `old` is None when the old template's tags no longer parse: then none is removed.
    pub fn new<E>(new: Vec<(String, String)>, old: Option<Result<Vec<(String, String)>, E>>) -> Self {
        Self { new, old: old.and_then(Result::ok).unwrap_or_default() }
    }
}

/// Whose the child of a name is now, as far as this request knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    /// By this request.
    Here,
    /// By someone else (another request, of this stack resource too, or another tool).
    Elsewhere,
    /// Nobody's: it is gone.
    Gone,
}

/// The steps of one child, named by its domain and name, in one step of a request.
pub struct Lifecycle<'a, C> {
    pub step: &'a Step,
    pub sagemaker: &'a Client,
    pub domain_id: &'a str,
    pub name: &'a str,
    /// SUCCESS with the attributes Fn::GetAtt reads, for a PhysicalResourceId: [`data`], and
    /// whatever else the function reports.
    pub done: fn(&str, &C) -> Done,
}

impl<C: Child> Lifecycle<'_, C> {
    /// "space x".
    pub fn label(&self) -> String {
        format!("{} {}", C::KIND, self.name)
    }

    /// "space x in domain d-y".
    pub fn label_in_domain(&self) -> String {
        format!("{} {} in domain {}", C::KIND, self.name, self.domain_id)
    }

    fn arn_of(&self, child: &C) -> Result<String, Error> {
        child.arn().map(str::to_string).ok_or_else(|| Error::new(format!("{} returned no {}", C::DESCRIBE, C::ARN_MEMBER)))
    }

    /// A Create's step: the function's first one (`start`: its checks and the Create call), or a
    /// later one. `tags`: the template's (with the function's records), which an adoption adds last.
    pub async fn create_step(
        &self,
        progress: Option<CreateProgress>,
        tags: &[(String, String)],
        start: impl Future<Output = StepResult<CreateProgress>>,
    ) -> StepResult<CreateProgress> {
        match progress {
            None => start.await,
            Some(progress) => self.resume_create(progress, tags).await,
        }
    }

    /// An Update's step: the function's first one (`start`: its checks, then a replacement,
    /// [`Self::send_update`] or [`Self::finish_update`]), or a later one.
    pub async fn update_step(
        &self,
        physical_id: &str,
        progress: Option<UpdateProgress>,
        tags: &TagChange,
        start: impl Future<Output = StepResult<UpdateProgress>>,
    ) -> StepResult<UpdateProgress> {
        match progress {
            None => start.await,
            Some(UpdateProgress::Replacing(progress)) => Ok(self.resume_create(progress, &tags.new).await?.map_progress(UpdateProgress::Replacing)),
            Some(UpdateProgress::Updating { sent }) => self.wait_updated(physical_id, tags, sent).await,
        }
    }

    /// The answer to the function's Create call (the new child's ARN, or the refusal): wait
    /// for InService; refused, perhaps because the name is taken (by an earlier delivery of
    /// this request, or by someone else), carry on with the child of that name if this stack
    /// resource made it.
    pub async fn created_by(&self, answer: Result<Option<String>, AwsError>) -> StepResult<CreateProgress> {
        match answer {
            Ok(arn) => Ok(self.creating(arn.as_deref())),
            Err(refusal) => self.adopt(refusal).await,
        }
    }

    /// The Pending after the Create call was accepted (`arn` from its answer).
    fn creating(&self, arn: Option<&str>) -> Outcome<CreateProgress> {
        info!(arn, "creating the {}", C::KIND);
        let pending = self.becoming_in_service(CreatedAt::at(self.step.now()));
        match arn {
            Some(arn) => pending.resource(arn),
            None => pending,
        }
        .into()
    }

    fn becoming_in_service(&self, created_at: CreatedAt) -> Pending<CreateProgress> {
        Pending::new(CreateProgress::Creating { created_at }, format!("{} to become InService", self.label()))
    }

    /// The Create call was refused: carry on with the child of that name if this stack
    /// resource made it (an earlier delivery of this request), else the name is taken.
    async fn adopt(&self, refusal: AwsError) -> StepResult<CreateProgress> {
        let existing = C::describe(self.sagemaker, self.domain_id, self.name).await;
        let taken = name_taken(C::NAME_MEMBER, &self.label(), self.domain_id);
        let existing = adopt_existing(self.sagemaker, self.step.request(), refusal, existing, C::arn, taken).await?;
        info!(arn = existing.arn(), "the {} exists already and belongs to this resource", C::KIND);
        self.created(existing).await
    }

    /// A later step of a Create.
    async fn resume_create(&self, progress: CreateProgress, tags: &[(String, String)]) -> StepResult<CreateProgress> {
        match progress {
            CreateProgress::Creating { created_at } => self.wait_created(created_at).await,
            CreateProgress::RemovingFailed { reason } => self.wait_removed(reason).await,
            CreateProgress::Adopting { sent } => self.wait_adopted(sent, tags).await,
        }
    }

    /// A look at the child the Create call accepted. Errors need no id here: the Pending that
    /// brought us here named it, and the core reports it with any error.
    async fn wait_created(&self, created_at: CreatedAt) -> StepResult<CreateProgress> {
        match C::describe(self.sagemaker, self.domain_id, self.name).await? {
            Some(child) => self.created(child).await,
            None if created_at.may_be_invisible(self.step) => Ok(Pending::new(CreateProgress::Creating { created_at }, not_visible_yet(&self.label())).into()),
            None => Err(Error::new(never_became_visible(&self.label_in_domain(), self.step))),
        }
    }

    /// A step of waiting for a child this resource created. Before it is reported as this
    /// resource, or deleted because it failed, it must still be the one this request made.
    async fn created(&self, child: C) -> StepResult<CreateProgress> {
        let arn = self.arn_of(&child)?;
        match child.state() {
            Some(Status::InService | Status::UpdateFailed) => match self.made(&arn).await? {
                Made::Here => Ok((self.done)(&arn, &child).reason(format!("created {}", self.label_in_domain())).into()),
                // Gone between the two looks: the next look decides.
                Made::Gone => Ok(self.becoming_in_service(CreatedAt::at(self.step.now())).resource(arn).into()),
                Made::Elsewhere => Err(Error::new(self.not_made_here())),
            },
            Some(Status::Pending | Status::Updating) | None => Ok(self.becoming_in_service(CreatedAt::at(self.step.now())).resource(arn).into()),
            Some(Status::Failed) => {
                let reason = format!("{} failed: {}", self.label(), child.failure());
                self.remove_failed(&arn, reason).await
            }
            Some(other) => Err(Error::new(format!("{} is {} instead of becoming InService", self.label(), other.as_str())).for_resource(arn)),
        }
    }

    fn removing_failed(&self, arn: &str, reason: String) -> Outcome<CreateProgress> {
        Pending::new(CreateProgress::RemovingFailed { reason }, format!("failed {} to be deleted", self.label())).resource(arn).into()
    }

    /// A failed child still takes its name: delete it before answering FAILED, if it is still
    /// the one this request made (progress saying "removing the failed one" is no proof).
    async fn remove_failed(&self, arn: &str, reason: String) -> StepResult<CreateProgress> {
        match self.made(arn).await? {
            Made::Here => {}
            Made::Gone => return Err(Error::new(format!("{reason} (the failed {} was deleted)", C::KIND))),
            Made::Elsewhere => return Err(Error::new(format!("{reason}; {}", self.not_made_here()))),
        }
        match C::delete(self.sagemaker, self.domain_id, self.name).await {
            Ok(()) => Ok(self.removing_failed(arn, reason)),
            Err(e) if e.is(Kind::NotFound) => Err(Error::new(format!("{reason} (the failed {} was deleted)", C::KIND))),
            Err(e) if e.is(Kind::InUse) => Ok(self.removing_failed(arn, reason)),
            Err(e) => Err(Error::new(format!("{reason}; deleting the failed {} failed too: {e}", C::KIND)).for_resource(arn)),
        }
    }

    async fn wait_removed(&self, reason: String) -> StepResult<CreateProgress> {
        let Some(child) = C::describe(self.sagemaker, self.domain_id, self.name).await? else {
            return Err(Error::new(format!("{reason} (the failed {} was deleted)", C::KIND)));
        };
        let arn = self.arn_of(&child)?;
        match child.state() {
            Some(Status::Deleting) => Ok(self.removing_failed(&arn, reason)),
            Some(Status::DeleteFailed) => {
                Err(Error::new(format!("{reason}; deleting the failed {} failed too: {}", C::KIND, child.failure())).for_resource(arn))
            }
            _ => self.remove_failed(&arn, reason).await,
        }
    }

    /// The child's tags, or None when it is gone (ListTags answers not-found, or a validation
    /// error, and a second look no longer finds it: it vanished while we looked).
    async fn tags_of(&self, arn: &str) -> Result<Option<Vec<(String, String)>>, Error> {
        match C::tags(self.sagemaker, arn).await {
            Ok(tags) => Ok(Some(tags)),
            Err(e) if e.is(Kind::NotFound) || e.is(Kind::Validation) => match C::describe(self.sagemaker, self.domain_id, self.name).await? {
                None => Ok(None),
                Some(_) => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the child `arn` is the one this request made (its RequestId tag).
    async fn made(&self, arn: &str) -> Result<Made, Error> {
        Ok(match self.tags_of(arn).await? {
            None => Made::Gone,
            Some(tags) if Owner::from(self.step.request()).made(&tags) => Made::Here,
            Some(_) => {
                warn!(arn, "the child of this name was not made by this request; leaving it alone");
                Made::Elsewhere
            }
        })
    }

    fn not_made_here(&self) -> String {
        format!(
            "the {} now named {} in domain {} was not made by this request (its {REQUEST_ID} tag names another): it is left as it is",
            C::KIND,
            self.name,
            self.domain_id
        )
    }

    /// The ownership guard on Update: FAILED, changing nothing, when the child is not ours.
    /// Returns its tags.
    pub async fn guard_update(&self, arn: &str) -> Result<Vec<(String, String)>, Error> {
        let Some(tags) = self.tags_of(arn).await? else {
            return Err(Error::new(format!("{} no longer exists in domain {}; it was deleted outside CloudFormation", self.label(), self.domain_id)));
        };
        Owner::from(self.step.request()).guard(&tags, self.label_in_domain()).map_err(|e| Error::new(e.on_update()))?;
        Ok(tags)
    }

    /// The ownership guard on Delete, on every step (a later step may meet a child of the same
    /// name that is no longer ours): Ok with the child's tags when the usual Delete rules apply,
    /// Err with the SUCCESS that leaves it: not ours, gone, or adopted and released (see
    /// [`Self::release`]; `delete_adopted`: DeleteAdopted as the Delete event asks it).
    pub async fn guard_delete(&self, physical_id: &str, first_step: bool, delete_adopted: bool) -> Result<Result<Vec<(String, String)>, Done>, Error> {
        let Some(tags) = self.tags_of(physical_id).await? else {
            return Ok(Err(self.gone(physical_id, first_step)));
        };
        if let Err(not_ours) = Owner::from(self.step.request()).guard(&tags, self.label_in_domain()) {
            warn!(arn = physical_id, "not owned by this stack resource; leaving it alone");
            return Ok(Err(Done::new(physical_id).reason(not_ours.on_delete())));
        }
        Ok(match self.release(physical_id, &tags, delete_adopted_option(delete_adopted)).await? {
            Some(released) => Err(released),
            None => Ok(tags),
        })
    }

    /// The domain a new child goes into, checked before anything is made: it exists (else
    /// FAILED naming DomainId), and this stack may put children into it: a domain the domain
    /// function made for another stack admits only the stacks its AllowedChildStacks name
    /// (see [`crate::child_stacks`]).
    /// Returns the domain and its tags.
    pub async fn admitted_domain(&self) -> Result<(DescribeDomainOutput, Vec<(String, String)>), Error> {
        let missing = || Error::from(PropertyError::new("DomainId", format!("domain {} does not exist (DescribeDomain: ResourceNotFound)", self.domain_id)));
        let Some(domain) = describe::domain(self.sagemaker, self.domain_id).await? else {
            return Err(missing());
        };
        let arn = domain.domain_arn().ok_or_else(|| Error::new(format!("DescribeDomain {} returned no DomainArn", self.domain_id)))?;
        let tags = match tags::list(self.sagemaker, arn).await {
            Ok(tags) => tags,
            Err(e) if e.is(Kind::NotFound) || e.is(Kind::Validation) => match describe::domain(self.sagemaker, self.domain_id).await? {
                None => return Err(missing()),
                Some(_) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        };
        child_stacks::admit(self.domain_id, &tags, &self.step.request().stack_id).map_err(|refused| {
            warn!(DomainId = self.domain_id, "this stack may not put a child into the domain");
            Error::from(PropertyError::new("DomainId", refused))
        })?;
        Ok((domain, tags))
    }

    /// The SUCCESS of a Delete that found nothing: on its first step it was gone already; on a
    /// later one, the Delete deleted it.
    pub fn gone(&self, physical_id: &str, first_step: bool) -> Done {
        if first_step { Done::new(physical_id).reason(format!("{} was already gone", self.label_in_domain())) } else { self.deleted(physical_id) }
    }

    /// The Update call (`update`, only run when the child can take it; `sent` says what it
    /// sends), then wait for InService.
    pub async fn send_update<T>(&self, child: &C, sent: Sent, update: impl Future<Output = Result<T, AwsError>>) -> StepResult<UpdateProgress> {
        if let Some(status @ (Status::Pending | Status::Updating | Status::Deleting)) = child.state() {
            return Err(Error::new(format!("{} is {}; updating it once that is over", self.label(), status.as_str())).retry_later());
        }
        update.await.map_err(busy_later)?;
        Ok(self.finishing_update(sent))
    }

    fn finishing_update(&self, sent: Sent) -> Outcome<UpdateProgress> {
        Pending::new(UpdateProgress::Updating { sent }, format!("{} to finish updating", self.label())).into()
    }

    async fn wait_updated(&self, physical_id: &str, tags: &TagChange, sent: Sent) -> StepResult<UpdateProgress> {
        let Some(child) = C::describe(self.sagemaker, self.domain_id, self.name).await? else {
            return Err(Error::new(format!("{} disappeared from domain {} while being updated", self.label(), self.domain_id)));
        };
        match child.state() {
            Some(Status::InService) => self.finish_update(physical_id, child, tags, sent).await,
            Some(Status::Pending | Status::Updating) | None => Ok(self.finishing_update(sent)),
            Some(Status::UpdateFailed) => Err(Error::new(format!("{} failed to update: {}", self.label(), child.failure()))),
            Some(other) => Err(Error::new(format!("{} is {} instead of finishing its update", self.label(), other.as_str()))),
        }
    }

    /// Tags last: they change in place, whatever else changed (checked ours in this step). The
    /// Reason says what the Update did: `sent`, the tags set and removed, or "no change".
    pub async fn finish_update(&self, physical_id: &str, child: C, tags: &TagChange, sent: Sent) -> StepResult<UpdateProgress> {
        let arn = self.arn_of(&child)?;
        let actual = self.guard_update(&arn).await?;
        let (add, remove) = tags::changes(&actual, &tags.new, &tags.old);
        tags::apply(self.sagemaker, &arn, add.clone(), remove.clone()).await?;
        let summary = sent.summarize(Summary::new(format!("updated {}", self.label_in_domain()))).tags(&add, &remove);
        Ok((self.done)(physical_id, &child).reason(summary.render()).into())
    }

    /// The SUCCESS of a Delete that deleted the child.
    pub fn deleted(&self, physical_id: &str) -> Done {
        Done::new(physical_id).reason(format!("deleted {}", self.label_in_domain()))
    }

    /// AdoptExisting, before any Create call: what exists under the child's name. An existing
    /// child is adoptable with its owner's consent (the tag [`crate::ownership::ADOPTABLE_BY`]
    /// naming this stack, or its domain, `domain_tags`, being this stack's own or listing it in
    /// AllowedChildStacks) and only if no other stack resource owns it; else FAILED, nothing
    /// changed. One this stack resource adopted already (an earlier attempt) carries on; one it
    /// created carries on only for a redelivery of the Create that made it.
    pub async fn adoptable(&self, domain_tags: &[(String, String)]) -> Result<Adoptable<C>, Error> {
        let Some(child) = C::describe(self.sagemaker, self.domain_id, self.name).await? else {
            return Ok(Adoptable::Absent);
        };
        let arn = self.arn_of(&child)?;
        let Some(tags) = self.tags_of(&arn).await? else {
            return Ok(Adoptable::Absent);
        };
        let owner = Owner::from(self.step.request());
        if owner.owns(&tags) && !adoption::is_adopted(&tags) {
            if owner.made(&tags) {
                return Ok(Adoptable::Answered(self.created(child).await));
            }
            // Made by another request of this stack resource (perhaps a forged one): as without AdoptExisting.
            return Err(name_taken(C::NAME_MEMBER, &self.label(), self.domain_id).into());
        }
        let stack_id = &self.step.request().stack_id;
        let consented = adoption::consents(&tags, stack_id) || child_stacks::grants(domain_tags, stack_id);
        adoption::check(&owner, &tags, &self.label_in_domain(), &arn, consented).map_err(|refused| {
            warn!(arn, "not adopted");
            Error::from(PropertyError::new("AdoptExisting", refused))
        })?;
        // Ours already (an earlier attempt): whatever fails from here names it, so that a rollback releases it.
        let ours = |e: Error| if owner.owns(&tags) { e.for_resource(arn.as_str()) } else { e };
        match child.state() {
            Some(Status::InService | Status::UpdateFailed) => Ok(Adoptable::Found { child, tags }),
            Some(status @ (Status::Pending | Status::Updating)) => {
                Err(ours(Error::new(format!("{} is {}; adopting it once that is over", self.label(), status.as_str())).retry_later()))
            }
            None => Err(ours(Error::new(format!("{} reports no status; adopting it once it does", self.label())).retry_later())),
            Some(status) => Err(ours(Error::new(format!("{} is {}: it cannot be adopted; nothing was changed", self.label_in_domain(), status.as_str())))),
        }
    }

    /// FAILED before anything is changed when the child found by [`Self::adoptable`] differs from
    /// the template in what the Update call cannot change (`differing`: each member, with both values).
    pub fn check_matches(&self, differing: &[String]) -> Result<(), Error> {
        if differing.is_empty() {
            return Ok(());
        }
        Err(Error::new(format!(
            "{} differs from the template in what cannot change in place: {}; it was not adopted and nothing was changed \
             (set these properties as it has them, or choose another name to create a new one)",
            self.label_in_domain(),
            differing.join("; ")
        )))
    }

    /// Adopts the child found by [`Self::adoptable`] (`tags`: its own): its ownership tags
    /// first (from here on a FAILED names it, so that CloudFormation's rollback Delete releases
    /// it), then `update` if the template's settings need one (`Sent` says what it sends), then
    /// `desired`, the template's tags with the function's records.
    pub async fn take_over<T>(
        &self,
        child: C,
        tags: &[(String, String)],
        desired: &[(String, String)],
        update: Option<(Sent, impl Future<Output = Result<T, AwsError>>)>,
    ) -> StepResult<CreateProgress> {
        let arn = self.arn_of(&child)?;
        let (add, remove) = adoption::take(&Owner::from(self.step.request()), tags);
        self.check_tag_room(tags, &add, &remove, desired)?;
        let taking = async {
            tags::apply(self.sagemaker, &arn, add, remove).await?;
            info!(arn, "adopting: ownership tags added");
            match update {
                Some((sent, update)) => {
                    update.await.map_err(busy_later)?;
                    Ok(Pending::new(CreateProgress::Adopting { sent }, format!("adopted {} to take the template's settings", self.label()))
                        .resource(&arn)
                        .into())
                }
                None => self.finish_adoption(child, Sent::default(), desired).await,
            }
        };
        taking.await.map_err(|e: Error| e.for_resource(arn.as_str()))
    }

    /// SageMaker allows 50 tags: the child's own, ours and the template's must fit, checked
    /// before anything is changed (an adopted child may carry any number of its own).
    fn check_tag_room(&self, tags: &[(String, String)], add: &[(String, String)], remove: &[String], desired: &[(String, String)]) -> Result<(), Error> {
        let mut keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).filter(|k| !remove.iter().any(|r| r == k)).collect();
        keys.extend(add.iter().chain(desired).map(|(k, _)| k.as_str()));
        keys.retain(|k| !k.to_ascii_lowercase().starts_with("aws:"));
        keys.sort_unstable();
        keys.dedup();
        if keys.len() <= MAX_TAGS {
            return Ok(());
        }
        Err(PropertyError::new(
            "Tags",
            format!(
                "{} carries {} tags; with the template's Tags and this function's own it would carry {}, more than SageMaker's {MAX_TAGS}: \
                 remove some of its tags (or the template's) first; it was not adopted and nothing was changed",
                self.label_in_domain(),
                tags.len(),
                keys.len()
            ),
        )
        .into())
    }

    async fn wait_adopted(&self, sent: Sent, desired: &[(String, String)]) -> StepResult<CreateProgress> {
        let Some(child) = C::describe(self.sagemaker, self.domain_id, self.name).await? else {
            return Err(Error::new(format!("{} disappeared from domain {} while being adopted", self.label(), self.domain_id)));
        };
        let arn = self.arn_of(&child)?;
        match child.state() {
            Some(Status::InService) => self.finish_adoption(child, sent, desired).await,
            Some(Status::Pending | Status::Updating) | None => {
                Ok(Pending::new(CreateProgress::Adopting { sent }, format!("adopted {} to take the template's settings", self.label())).resource(arn).into())
            }
            Some(Status::UpdateFailed) => {
                Err(Error::new(format!("adopted {} failed to take the template's settings: {}", self.label(), child.failure())).for_resource(arn))
            }
            Some(other) => Err(Error::new(format!("adopted {} is {} instead of finishing its update", self.label(), other.as_str())).for_resource(arn)),
        }
    }

    /// The template's tags and records last (the delete options among them: only a completed
    /// adoption records them, so the rollback of a failed one releases), checked ours in this step.
    async fn finish_adoption(&self, child: C, sent: Sent, desired: &[(String, String)]) -> StepResult<CreateProgress> {
        let arn = self.arn_of(&child)?;
        let actual =
            self.tags_of(&arn).await?.ok_or_else(|| Error::new(format!("{} disappeared from domain {} while being adopted", self.label(), self.domain_id)))?;
        Owner::from(self.step.request()).guard(&actual, self.label_in_domain()).map_err(|e| Error::new(e.on_update()))?;
        let (add, remove) = tags::changes(&actual, desired, &[]);
        tags::apply(self.sagemaker, &arn, add.clone(), remove.clone()).await.map_err(|e| Error::from(e).for_resource(arn.as_str()))?;
        let head = format!("adopted {}", self.label_in_domain());
        let summary = sent.summarize(Summary::new(head.clone())).tags(&add, &remove);
        let reason = if summary.is_empty() { format!("{head}: it had the template's settings and tags already") } else { summary.render() };
        Ok((self.done)(&arn, &child).reason(reason).into())
    }

    /// The Delete of a child this stack resource adopted (`tags`: its own, checked ours):
    /// released, only our tags removed, unless DeleteAdopted (`delete_adopted`, as the template
    /// recorded it) lets the usual Delete rules apply (then None).
    async fn release(&self, physical_id: &str, tags: &[(String, String)], delete_adopted: DeleteOption<'_>) -> Result<Option<Done>, Error> {
        if !adoption::is_adopted(tags) {
            return Ok(None);
        }
        let allowed = delete_options::allowed(tags, delete_adopted);
        if allowed.value == "true" {
            return Ok(None);
        }
        tags::apply(self.sagemaker, physical_id, Vec::new(), adoption::release(tags)).await?;
        info!(arn = physical_id, "released: ownership tags removed");
        let narrowed = allowed.narrowed.map(|n| format!(" ({n})")).unwrap_or_default();
        Ok(Some(Done::new(physical_id).reason(format!("released {} (ownership tags removed; nothing was deleted){narrowed}", self.label_in_domain()))))
    }
}

/// A busy child (ResourceInUse) takes the call later; any other refusal stands.
fn busy_later(e: AwsError) -> Error {
    if e.is(Kind::InUse) { Error::from(e).retry_later() } else { e.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sagemaker::types::{SpaceStatus, UserProfileStatus};
    use custom_resource::clock::Clock;
    use custom_resource::testing::SimClock;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    #[test]
    fn both_status_enums_map_onto_one_and_back() {
        for status in UserProfileStatus::values().iter().chain(SpaceStatus::values()) {
            let ours = Status::of(status);
            assert!(!matches!(ours, Status::Other(_)), "{status} is not mapped");
            assert_eq!(ours.as_str(), *status);
        }
        assert_eq!(Status::of("Hibernating"), Status::Other("Hibernating".into()));
        assert_eq!(DescribeSpaceOutput::builder().status(SpaceStatus::UpdateFailed).build().state(), Some(Status::UpdateFailed));
        assert_eq!(DescribeUserProfileOutput::builder().status(UserProfileStatus::DeleteFailed).build().state(), Some(Status::DeleteFailed));
    }

    /// A child whose Describe and Delete answers are scripted, one a call, per test thread.
    #[derive(Debug, Clone)]
    struct Fake {
        status: Status,
        failure: Option<&'static str>,
    }

    /// A scripted ListTags answer.
    type Listed = Result<Vec<(String, String)>, AwsError>;

    thread_local! {
        static DESCRIBED: RefCell<VecDeque<Option<Fake>>> = const { RefCell::new(VecDeque::new()) };
        static DELETES: RefCell<VecDeque<Result<(), AwsError>>> = const { RefCell::new(VecDeque::new()) };
        static TAGS: RefCell<VecDeque<Listed>> = const { RefCell::new(VecDeque::new()) };
    }

    const ARN: &str = "arn:aws:sagemaker:us-east-1:123456789012:space/d-abc123/team";

    impl Child for Fake {
        const KIND: &'static str = "space";
        const DESCRIBE: &'static str = "DescribeSpace";
        const ARN_MEMBER: &'static str = "SpaceArn";
        const NAME_MEMBER: &'static str = "SpaceName";

        async fn describe(_: &Client, _: &str, _: &str) -> Result<Option<Self>, AwsError> {
            Ok(DESCRIBED.with(|d| d.borrow_mut().pop_front()).expect("a scripted Describe answer"))
        }

        async fn delete(_: &Client, _: &str, _: &str) -> Result<(), AwsError> {
            DELETES.with(|d| d.borrow_mut().pop_front()).expect("a scripted Delete answer")
        }

        async fn tags(_: &Client, _: &str) -> Result<Vec<(String, String)>, AwsError> {
            TAGS.with(|t| t.borrow_mut().pop_front()).expect("a scripted ListTags answer")
        }

        fn arn(&self) -> Option<&str> {
            Some(ARN)
        }

        fn name(&self) -> Option<&str> {
            Some("team")
        }

        fn domain(&self) -> Option<&str> {
            Some("d-abc123")
        }

        fn home_efs_uid(&self) -> Option<&str> {
            None
        }

        fn state(&self) -> Option<Status> {
            Some(self.status.clone())
        }

        fn failure(&self) -> &str {
            self.failure.unwrap_or(NO_FAILURE_REASON)
        }
    }

    fn described(status: Status) -> Option<Fake> {
        Some(Fake { status, failure: Some("no capacity") })
    }

    fn aws(kind: Kind, code: &str) -> AwsError {
        AwsError { operation: "DeleteSpace", kind, code: Some(code.into()), message: None, detail: None }
    }

    fn script(describes: impl IntoIterator<Item = Option<Fake>>, deletes: impl IntoIterator<Item = Result<(), AwsError>>) {
        script_tags(describes, deletes, []);
    }

    fn script_tags(
        describes: impl IntoIterator<Item = Option<Fake>>,
        deletes: impl IntoIterator<Item = Result<(), AwsError>>,
        tags: impl IntoIterator<Item = Listed>,
    ) {
        DESCRIBED.with(|d| *d.borrow_mut() = describes.into_iter().collect());
        DELETES.with(|d| *d.borrow_mut() = deletes.into_iter().collect());
        TAGS.with(|t| *t.borrow_mut() = tags.into_iter().collect());
    }

    fn unused() -> bool {
        DESCRIBED.with(|d| d.borrow().is_empty()) && DELETES.with(|d| d.borrow().is_empty()) && TAGS.with(|t| t.borrow().is_empty())
    }

    /// The tags a child carries: made by `request` of this stack resource (the fixture's is "req-1").
    fn tagged(stack: &str, request: &str) -> Listed {
        Ok(Owner { stack_id: stack, logical_id: "Space", request_id: request }.tags())
    }

    fn ours() -> Listed {
        tagged("stack-1", "req-1")
    }

    /// A client that is never called (the Fake answers) and a step on a simulated clock.
    struct Fixture {
        sagemaker: Client,
        step: Step,
    }

    fn client() -> Fixture {
        let sagemaker = Client::from_conf(
            aws_sdk_sagemaker::Config::builder().behavior_version_latest().region(aws_sdk_sagemaker::config::Region::new("us-east-1")).build(),
        );
        let request = custom_resource::Request::new(custom_resource::RequestType::Create, "req-1", "stack-1", "Space", None);
        let clock = SimClock::new();
        let deadline = clock.now() + std::time::Duration::from_secs(60);
        Fixture { sagemaker, step: Step::new(std::sync::Arc::new(request), clock, custom_resource::Patience::default(), deadline) }
    }

    fn lifecycle(fx: &Fixture) -> Lifecycle<'_, Fake> {
        Lifecycle { step: &fx.step, sagemaker: &fx.sagemaker, domain_id: "d-abc123", name: "team", done: |id, _| Done::new(id).with("SpaceName", "team") }
    }

    fn pending<P>(outcome: Outcome<P>) -> Pending<P> {
        match outcome {
            Outcome::Pending(p) => p,
            Outcome::Done(done) => panic!("expected Pending, got {done:?}"),
        }
    }

    fn waiting() -> CreateProgress {
        CreateProgress::Creating { created_at: CreatedAt::at(SimClock::new().now()) }
    }

    #[tokio::test]
    async fn a_create_waits_for_in_service_and_reports_the_function_data() {
        let sagemaker = client();
        script_tags([described(Status::Pending), described(Status::InService)], [], [ours()]);
        let first = pending(lifecycle(&sagemaker).create_step(Some(waiting()), &[], first_step()).await.unwrap());
        assert_eq!((first.waiting_for.as_str(), first.physical_resource_id.as_deref()), ("space team to become InService", Some(ARN)));
        let Outcome::Done(done) = lifecycle(&sagemaker).create_step(Some(first.progress), &[], first_step()).await.unwrap() else { panic!("not done") };
        assert_eq!((done.physical_resource_id.as_str(), done.data["SpaceName"].as_str()), (ARN, "team"));
        assert!(unused());
    }

    #[test]
    fn an_accepted_create_names_the_child_at_once() {
        let sagemaker = client();
        let created = pending(lifecycle(&sagemaker).creating(Some(ARN)));
        assert!(matches!(created.progress, CreateProgress::Creating { created_at } if created_at.may_be_invisible(&sagemaker.step)));
        assert_eq!((created.waiting_for.as_str(), created.physical_resource_id.as_deref()), ("space team to become InService", Some(ARN)));
    }

    #[tokio::test]
    async fn not_found_is_the_visibility_lag_only_within_it() {
        let sagemaker = client();
        script([None, None], []);
        let lag = pending(lifecycle(&sagemaker).resume_create(waiting(), &[]).await.unwrap());
        assert!(lag.waiting_for.starts_with("space team to become visible"), "{}", lag.waiting_for);
        let long_ago = CreateProgress::Creating { created_at: CreatedAt(1) };
        let e = lifecycle(&sagemaker).resume_create(long_ago, &[]).await.unwrap_err();
        assert!(e.reason.starts_with("space team in domain d-abc123 was created but is still not found"), "{}", e.reason);
        assert!(unused());
    }

    #[tokio::test]
    async fn a_failed_child_is_deleted_before_failed_is_answered() {
        let sagemaker = client();
        script_tags([described(Status::Failed), described(Status::Deleting), None], [Ok(())], [ours()]);
        let removing = pending(lifecycle(&sagemaker).resume_create(waiting(), &[]).await.unwrap());
        assert_eq!(removing.progress, CreateProgress::RemovingFailed { reason: "space team failed: no capacity".into() });
        assert_eq!((removing.waiting_for.as_str(), removing.physical_resource_id.as_deref()), ("failed space team to be deleted", Some(ARN)));
        let still = pending(lifecycle(&sagemaker).resume_create(removing.progress, &[]).await.unwrap());
        let e = lifecycle(&sagemaker).resume_create(still.progress, &[]).await.unwrap_err();
        assert_eq!(e.reason, "space team failed: no capacity (the failed space was deleted)");
        assert!(unused());
    }

    #[tokio::test]
    async fn removing_a_failed_child_reports_what_went_wrong() {
        let sagemaker = client();
        let reason = || CreateProgress::RemovingFailed { reason: "space team failed: x".into() };
        // Busy: tried again; refused otherwise: FAILED naming both, with the child's id.
        script_tags(
            [described(Status::Failed), described(Status::Failed)],
            [Err(aws(Kind::InUse, "ResourceInUse")), Err(aws(Kind::Other, "AccessDenied"))],
            [ours(), ours()],
        );
        assert!(matches!(pending(lifecycle(&sagemaker).resume_create(reason(), &[]).await.unwrap()).progress, CreateProgress::RemovingFailed { .. }));
        let e = lifecycle(&sagemaker).resume_create(reason(), &[]).await.unwrap_err();
        assert_eq!(e.reason, "space team failed: x; deleting the failed space failed too: DeleteSpace: AccessDenied");
        assert_eq!(e.physical_resource_id.as_deref(), Some(ARN));
        // DeleteFailed: SageMaker's FailureReason.
        script([described(Status::DeleteFailed)], []);
        let e = lifecycle(&sagemaker).resume_create(reason(), &[]).await.unwrap_err();
        assert_eq!(e.reason, "space team failed: x; deleting the failed space failed too: no capacity");
        assert!(unused());
    }

    #[tokio::test]
    async fn a_create_that_ends_elsewhere_fails_with_the_status() {
        let sagemaker = client();
        script([described(Status::Deleting)], []);
        let e = lifecycle(&sagemaker).resume_create(waiting(), &[]).await.unwrap_err();
        assert_eq!((e.reason.as_str(), e.physical_resource_id.as_deref()), ("space team is Deleting instead of becoming InService", Some(ARN)));
    }

    #[tokio::test]
    async fn an_update_waits_for_a_busy_child_and_never_calls_it_then() {
        let sagemaker = client();
        let mut called = false;
        let busy = Fake { status: Status::Updating, failure: None };
        let update = async {
            called = true;
            Ok::<(), AwsError>(())
        };
        let e = lifecycle(&sagemaker).send_update(&busy, Sent::default(), update).await.unwrap_err();
        assert_eq!((e.reason.as_str(), e.is_retryable(), called), ("space team is Updating; updating it once that is over", true, false));

        let ready = Fake { status: Status::InService, failure: None };
        let refused = lifecycle(&sagemaker).send_update(&ready, Sent::default(), async { Err::<(), _>(aws(Kind::InUse, "ResourceInUse")) }).await.unwrap_err();
        assert!(refused.is_retryable());
        let invalid =
            lifecycle(&sagemaker).send_update(&ready, Sent::default(), async { Err::<(), _>(aws(Kind::Validation, "ValidationException")) }).await.unwrap_err();
        assert!(!invalid.is_retryable());
        let accepted = pending(lifecycle(&sagemaker).send_update(&ready, Sent::default(), async { Ok::<_, AwsError>(()) }).await.unwrap());
        assert_eq!((accepted.progress, accepted.waiting_for.as_str()), (UpdateProgress::Updating { sent: Sent::default() }, "space team to finish updating"));
    }

    #[tokio::test]
    async fn waiting_for_an_update_ends_in_its_failure_reason() {
        let sagemaker = client();
        let tags = TagChange::default();
        let lc = lifecycle(&sagemaker);
        let step = |progress| lc.update_step(ARN, Some(progress), &tags, first_step());
        script([described(Status::Updating), described(Status::UpdateFailed), None], []);
        let updating = || UpdateProgress::Updating { sent: Sent::default() };
        assert_eq!(pending(step(updating()).await.unwrap()).progress, updating());
        assert_eq!(step(updating()).await.unwrap_err().reason, "space team failed to update: no capacity");
        let gone = step(updating()).await.unwrap_err();
        assert_eq!(gone.reason, "space team disappeared from domain d-abc123 while being updated");
        // A replacement resumes as a Create, its progress wrapped.
        script([described(Status::Pending)], []);
        let replacing = pending(step(UpdateProgress::Replacing(waiting())).await.unwrap());
        assert!(matches!(replacing.progress, UpdateProgress::Replacing(CreateProgress::Creating { .. })));
        assert!(unused());
    }

    /// A function's first step, which a later step must never run again.
    async fn first_step<P>() -> StepResult<P> {
        panic!("the first step ran again")
    }

    #[tokio::test]
    async fn the_first_step_is_the_function_s_own() {
        let sagemaker = client();
        let started = lifecycle(&sagemaker).create_step(None, &[], async { Ok(Done::new("made").into()) }).await.unwrap();
        assert!(matches!(started, Outcome::Done(done) if done.physical_resource_id == "made"));
        let tags = TagChange::default();
        let started = lifecycle(&sagemaker).update_step(ARN, None, &tags, async { Err(Error::new("refused")) }).await.unwrap_err();
        assert_eq!(started.reason, "refused");
    }

    #[test]
    fn every_child_reports_its_identity_as_data() {
        let space = DescribeSpaceOutput::builder().space_arn(ARN).space_name("team").domain_id("d-abc123").home_efs_file_system_uid("200001").build();
        let done = data(ARN, &space);
        let expected = [("DomainId", "d-abc123"), ("HomeEfsFileSystemUid", "200001"), ("SpaceArn", ARN), ("SpaceName", "team")];
        assert_eq!(done.data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(), expected);
        let profile = DescribeUserProfileOutput::builder().user_profile_name("alice").domain_id("d-abc123").build();
        let done = data("arn:profile", &profile);
        assert_eq!(done.data.keys().map(String::as_str).collect::<Vec<_>>(), ["DomainId", "UserProfileArn", "UserProfileName"]);
        assert_eq!(done.data["UserProfileArn"], "arn:profile");
    }

    #[test]
    fn progress_keeps_its_serialized_form() {
        let json = serde_json::to_value(UpdateProgress::Replacing(CreateProgress::RemovingFailed { reason: "r".into() })).unwrap();
        assert_eq!(json, serde_json::json!({"Replacing": {"RemovingFailed": {"reason": "r"}}}));
        assert_eq!(serde_json::to_value(CreateProgress::Creating { created_at: CreatedAt(7) }).unwrap(), serde_json::json!({"Creating": {"created_at": 7}}));
    }

    #[tokio::test]
    async fn a_child_this_request_did_not_make_is_neither_removed_nor_reported() {
        let sagemaker = client();
        let removing = || CreateProgress::RemovingFailed { reason: "space team failed: x".into() };
        // The failed one is gone and another took the name (another request of this very stack
        // resource, or anyone): progress saying "remove the failed one" deletes nothing.
        for planted in [tagged("stack-1", "req-0"), tagged("stack-2", "req-1"), Ok(Vec::new())] {
            script_tags([described(Status::InService)], [], [planted]);
            let e = lifecycle(&sagemaker).resume_create(removing(), &[]).await.unwrap_err();
            assert!(e.reason.starts_with("space team failed: x; the space now named team in domain d-abc123 was not made by this request"), "{}", e.reason);
            assert!(unused(), "no DeleteSpace");
        }
        // Nor is it reported as this resource once InService.
        script_tags([described(Status::InService)], [], [tagged("stack-1", "req-0")]);
        let e = lifecycle(&sagemaker).resume_create(waiting(), &[]).await.unwrap_err();
        assert!(e.reason.contains("was not made by this request"), "{}", e.reason);
        assert!(unused());
    }

    #[tokio::test]
    async fn a_child_that_vanishes_while_its_tags_are_read_is_gone() {
        let sagemaker = client();
        let vanished =
            || Err(AwsError { operation: "ListTags", kind: Kind::Validation, code: Some("ValidationException".into()), message: None, detail: None });
        script_tags([described(Status::Failed), None], [], [vanished()]);
        let e = lifecycle(&sagemaker).resume_create(waiting(), &[]).await.unwrap_err();
        assert_eq!(e.reason, "space team failed: no capacity (the failed space was deleted)");
        // A Delete's guard: gone, not an error.
        script_tags([None], [], [vanished()]);
        let gone = lifecycle(&sagemaker).guard_delete(ARN, true, false).await.unwrap().unwrap_err();
        assert_eq!(gone.reason.as_deref(), Some("space team in domain d-abc123 was already gone"));
        // Still there: the error stands.
        script_tags([described(Status::InService)], [], [vanished()]);
        assert!(lifecycle(&sagemaker).guard_delete(ARN, false, false).await.is_err());
        assert!(unused());
    }

    #[tokio::test]
    async fn every_delete_step_checks_the_child_is_ours() {
        let sagemaker = client();
        script_tags([], [], [ours(), tagged("stack-2", "req-9")]);
        assert!(lifecycle(&sagemaker).guard_delete(ARN, true, false).await.unwrap().is_ok());
        let retained = lifecycle(&sagemaker).guard_delete(ARN, false, false).await.unwrap().unwrap_err();
        assert!(retained.reason.unwrap_or_default().starts_with("retained: space team in domain d-abc123 is not ours"));
        assert!(unused());
    }

    #[test]
    fn a_delete_that_found_nothing_says_so_and_a_later_step_that_it_deleted_it() {
        let sagemaker = client();
        let lc = lifecycle(&sagemaker);
        assert_eq!(lc.gone(ARN, true).reason.as_deref(), Some("space team in domain d-abc123 was already gone"));
        assert_eq!(lc.gone(ARN, false).reason.as_deref(), Some("deleted space team in domain d-abc123"));
    }
}
