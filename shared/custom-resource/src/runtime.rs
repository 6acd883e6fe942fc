//! The custom-resource loop: event in, exactly one response out (or a continuation).
//!
//! The stages of one invocation: [`Core::handle`] opens a sealed continuation (nothing in one
//! is read before its MAC is verified) and parses the event; [`Core::drive`] turns away Deletes
//! of ids this function never made, asks CloudFormation whether the request is its own and
//! parses the properties; [`Core::operate`] picks the request's own step (create, update or
//! delete, each with its progress type) and [`Core::steps`] runs it until it finishes, each
//! step bounded by its deadline; after a pending or retryable step, the pure [`decide`] says
//! whether to poll again, continue in a new invocation or fail. Every outbound effect goes
//! through [`Ports`], and all time through its clock.

use crate::clock::{SharedClock, epoch_ms, from_epoch_ms, until};
use crate::continuation::{self, Continuation, Payload};
use crate::event::{CREATE_FAILED_PREFIX, MAX_SERVICE_TIMEOUT, RawIds, Request, RequestType};
use crate::outbound::Ports;
use crate::patience::Patience;
use crate::properties;
use crate::resource::{Change, CustomResource, Done, Error, Outcome, Progress, Retry, Step, StepResult};
use crate::responder::Responder;
use crate::response::{Response, Status};
use crate::response_url::Allowlist;
use crate::verification;
use futures::FutureExt;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{Instrument, error, info, warn};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serve one custom resource. `init` builds it from the AWS configuration of the standard
/// environment; if it fails, every event is answered FAILED with the reason instead of
/// leaving stacks waiting.
///
/// Init is only what every event needs first: logs. The configuration, the clients and the
/// resource ([`start`]) are built on the warm-up thread meanwhile ([`function_base::warm_up`]).
pub async fn run<R, F, Fut>(init: F) -> Result<(), BoxError>
where
    R: CustomResource,
    F: Fn(aws_config::SdkConfig) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, String>> + 'static,
{
    function_base::logging::init();
    let init = Arc::new(init);
    let core = function_base::warm_up::prepare(move || start(init.clone()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let core = core.clone();
        // Boxed: the nested state machines are otherwise too deep for the compiler's layout queries.
        Box::pin(async move { core.get().await.handle(event.payload, from_epoch_ms(event.context.deadline)).await })
    }))
    .await
}

/// The core with its real ports and the resource, once per process.
async fn start<R, F, Fut>(init: Arc<F>) -> Core<R>
where
    R: CustomResource,
    F: Fn(aws_config::SdkConfig) -> Fut,
    Fut: Future<Output = Result<R, String>>,
{
    let config = function_base::aws::load_config().await;
    let ports = Ports::from_config(&config);
    let (resource, patience) = match Patience::from_env() {
        Ok(patience) => (init(config).await, patience),
        Err(e) => (Err(e), Patience::default()),
    };
    if let Err(e) = &resource {
        error!(error = %e, "initialisation failed; every request will be answered FAILED");
    }
    let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    Core::new(resource, ports, Allowlist::from_env(), patience, function_name)
}

/// The custom-resource protocol around one resource kind, with its outbound ports.
pub struct Core<R> {
    resource: Result<Arc<R>, String>,
    ports: Ports,
    responder: Responder,
    patience: Patience,
    /// Binds sealed continuations to this function (AWS_LAMBDA_FUNCTION_NAME).
    function_name: String,
}

/// How an invocation ends.
enum Conclusion {
    Respond(Response),
    Continued { attempt: u32 },
}

/// Time kept back from the Lambda deadline: a step may not run into it, and a pause that
/// would is replaced by a continuation. A fraction of the invocation, within bounds.
fn margin(remaining: Duration) -> Duration {
    (remaining / 5).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Pause before the next poll, having waited `waited` for the same thing: look again at once
/// (many things are ready by then), then every 0.25 s, backing off in proportion to the time
/// waited up to 10 s. A change is so noticed within a tenth of the wait (or 0.25 s) after it
/// happens: a teardown's chain of short transitions is not stretched by its polls, and long
/// waits cost a few calls a minute.
fn backoff(first_look: bool, waited: Duration) -> Duration {
    if first_look {
        return Duration::ZERO;
    }
    (waited / 10).clamp(Duration::from_millis(250), Duration::from_secs(10))
}

/// The span every line of an invocation is logged in (never the ResponseURL).
macro_rules! invocation_span {
    ($request:expr) => {
        tracing::info_span!(
            "invocation",
            RequestType = $request.request_type.as_str(),
            StackId = %$request.stack_id,
            LogicalResourceId = %$request.logical_resource_id,
            RequestId = %$request.request_id,
        )
    };
}

impl<R: CustomResource> Core<R> {
    /// `resource` Err: the initialisation failed, and every event is answered FAILED with it.
    pub fn new(resource: Result<R, String>, ports: Ports, allowlist: Allowlist, patience: Patience, function_name: impl Into<String>) -> Self {
        let responder = Responder::new(ports.responses.clone(), ports.clock.clone(), allowlist);
        Self { resource: resource.map(Arc::new), ports, responder, patience, function_name: function_name.into() }
    }

    fn clock(&self) -> &SharedClock {
        &self.ports.clock
    }

    fn now_ms(&self) -> u64 {
        epoch_ms(self.clock().now())
    }

    /// One invocation: `payload` as Lambda delivered it, `deadline` Lambda's.
    pub async fn handle(&self, payload: Value, deadline: SystemTime) -> Result<Value, BoxError> {
        let remaining = until(self.clock().now(), deadline);
        let (raw, continuation) = match continuation::split(payload) {
            Payload::Event(event) => (event, None),
            Payload::Malformed { reason, event } => return self.refuse_continuation(&event, reason, deadline).await,
            Payload::Sealed(sealed) => match continuation::open(&sealed, &self.function_name, &*self.ports.signer).await {
                Ok(c) => (c.event.clone(), Some(c)),
                Err(e) => return self.refuse_continuation(&sealed.untrusted_event(), e.to_string(), deadline).await,
            },
        };
        let cleanup = continuation.as_ref().is_some_and(|c| c.cleanup);
        // A panic outside the step (parsing, building the response) still answers FAILED;
        // a cleanup is answered by nobody.
        let answer_to = if cleanup { None } else { RawIds::find(&raw) };
        match AssertUnwindSafe(self.serve(&raw, continuation, cleanup, deadline, remaining)).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                let reason = format!("internal error: {}", panic_message(panic));
                error!(%reason, "the invocation panicked");
                match answer_to {
                    Some(ids) => self.answer_failed(ids, reason, deadline).await,
                    None => Err(reason.into()),
                }
            }
        }
    }

    /// A continuation this function did not seal (or cannot verify now): nothing in it is acted
    /// on or logged; its event may be answered FAILED at an allowed ResponseURL.
    async fn refuse_continuation(&self, untrusted_event: &Value, why: String, deadline: SystemTime) -> Result<Value, BoxError> {
        error!(%why, "refused: a continuation this function did not seal; nothing done");
        match RawIds::find(untrusted_event).filter(|ids| !ids.response_url.is_empty()) {
            Some(ids) => self.answer_failed(ids, format!("refused: {why}"), deadline).await,
            None => Err(format!("refused: {why}").into()),
        }
    }

    async fn serve(
        &self,
        raw: &Value,
        continuation: Option<Continuation>,
        cleanup: bool,
        deadline: SystemTime,
        remaining: Duration,
    ) -> Result<Value, BoxError> {
        let request = match Request::parse(raw) {
            Ok(request) => request,
            Err(reason) => return self.answer_unparseable(raw, reason, deadline).await,
        };
        // An event whose ResponseURL may not be answered is not acted on either.
        if !cleanup && let Err(e) = self.responder.admit(&request.response_url) {
            error!(error = %e, "refused: the ResponseURL is not allowed; nothing done, nothing sent");
            return Err(e.into());
        }
        let span = invocation_span!(request);
        async {
            let conclusion = match &self.resource {
                Err(e) => Conclusion::Respond(failed(&request, format!("the function failed to initialise: {e}"), None)),
                Ok(resource) => Box::pin(self.drive(resource, &request, raw, continuation, deadline, remaining)).await,
            };
            match conclusion {
                Conclusion::Continued { attempt } => Ok(json!({ "Continued": attempt })),
                // The failed Update was answered already; nobody waits for this one.
                Conclusion::Respond(response) if cleanup => Ok(log_cleanup(&response)),
                Conclusion::Respond(response) => self.respond(&request.response_url, response, deadline).await,
            }
        }
        .instrument(span)
        .await
    }

    /// A payload that is not a valid CloudFormation event: answer FAILED if it at least
    /// has a ResponseURL, otherwise there is no one to tell but the caller.
    async fn answer_unparseable(&self, raw: &Value, reason: String, deadline: SystemTime) -> Result<Value, BoxError> {
        let Some(ids) = RawIds::find(raw) else {
            error!(%reason, "not a CloudFormation event and no ResponseURL to answer");
            return Err(reason.into());
        };
        self.answer_failed(ids, reason, deadline).await
    }

    /// FAILED from the raw ids, to an allowed ResponseURL only.
    async fn answer_failed(&self, ids: RawIds, reason: String, deadline: SystemTime) -> Result<Value, BoxError> {
        if let Err(e) = self.responder.admit(&ids.response_url) {
            error!(%reason, error = %e, "cannot answer: the ResponseURL is not allowed");
            return Err(format!("{reason}; not answered: {e}").into());
        }
        let response = Response {
            status: Status::Failed,
            reason: Some(reason),
            physical_resource_id: ids.physical_resource_id.unwrap_or_else(|| format!("{CREATE_FAILED_PREFIX}{}", ids.request_id)),
            stack_id: ids.stack_id,
            request_id: ids.request_id,
            logical_resource_id: ids.logical_resource_id,
            no_echo: false,
            data: Default::default(),
        };
        self.respond(&ids.response_url, response, deadline).await
    }

    async fn respond(&self, url: &str, response: Response, deadline: SystemTime) -> Result<Value, BoxError> {
        let status = response.status;
        match status {
            Status::Success => info!(PhysicalResourceId = %response.physical_resource_id, reason = response.reason.as_deref().unwrap_or(""), "SUCCESS"),
            Status::Failed => warn!(PhysicalResourceId = %response.physical_resource_id, reason = response.reason.as_deref().unwrap_or(""), "FAILED"),
        }
        self.responder.send(url, response.into_body(), deadline).await.map_err(|e| {
            error!(error = %e, "could not deliver the response");
            BoxError::from(e)
        })?;
        Ok(json!({ "Responded": status }))
    }

    /// FAILED. An Update that made a replacement first schedules the replacement's Delete in
    /// a fresh invocation: CloudFormation keeps the old id after a failed Update, so it would
    /// never delete the new resource, and it may take longer than this invocation has left.
    async fn fail(&self, run: &Run<'_>, reason: String, resource_id: Option<String>) -> Conclusion {
        let request = run.request.as_ref();
        let replacement = match (&resource_id, &request.physical_resource_id) {
            (Some(new), Some(old)) if request.request_type == RequestType::Update && new != old => Some(new.as_str()),
            _ => None,
        };
        let Some(replacement) = replacement else {
            return Conclusion::Respond(failed(request, reason, resource_id));
        };
        // Half of what is left, keeping time to answer FAILED whatever Lambda does.
        let budget = until(self.clock().now(), run.deadline).saturating_sub(Duration::from_secs(1)) / 2;
        let reason = match self.schedule(&Continuation::cleanup(run.raw, replacement, self.now_ms()), budget).await {
            Ok(()) => {
                info!(replacement, "the update failed: deleting its replacement in a new invocation");
                format!("{reason} (the replacement {replacement} made during this update is being deleted)")
            }
            Err(e) => {
                warn!(replacement, error = %e, "could not schedule the deletion of the replacement");
                format!(
                    "{reason} (the replacement {replacement} made during this update is not managed by the stack, and its deletion could not be started ({e}): delete it if unwanted)"
                )
            }
        };
        Conclusion::Respond(failed(request, reason, resource_id))
    }

    /// Seals `continuation` and invokes this function again with it, asynchronously, within `budget`.
    async fn schedule(&self, continuation: &Continuation, budget: Duration) -> Result<(), String> {
        let invoke = async {
            let payload = continuation::seal(continuation, &self.function_name, &*self.ports.signer).await.map_err(|e| e.to_string())?;
            self.ports.invoker.invoke_async(payload).await.map_err(|e| e.to_string())
        };
        tokio::time::timeout(budget, invoke).await.unwrap_or_else(|_| Err("Lambda Invoke did not answer in time".into()))
    }

    /// A continuation within its bounds, of an operation CloudFormation is carrying out.
    async fn admit(&self, request: &Request, continuation: Option<&Continuation>) -> Result<(), String> {
        let cleanup = continuation.is_some_and(|c| c.cleanup);
        if let Some(c) = continuation {
            let service_timeout = if cleanup { MAX_SERVICE_TIMEOUT } else { request.service_timeout().unwrap_or(MAX_SERVICE_TIMEOUT) };
            verification::check_continuation(c, service_timeout, self.now_ms())?;
        }
        verification::verify(&*self.ports.stacks, request, cleanup).await
    }

    /// Deletes of ids this function never made, then CloudFormation's check, then the
    /// properties, then the operation.
    async fn drive(
        &self,
        resource: &Arc<R>,
        request: &Request,
        raw: &Value,
        continuation: Option<Continuation>,
        deadline: SystemTime,
        remaining: Duration,
    ) -> Conclusion {
        if let Some(done) = nothing_to_delete(resource.as_ref(), request) {
            return Conclusion::Respond(succeeded(request, done));
        }
        // Nothing changes unless CloudFormation shows it doing this now.
        if let Err(refusal) = self.admit(request, continuation.as_ref()).await {
            warn!(%refusal, "refused: not a request CloudFormation is making");
            return Conclusion::Respond(failed(request, format!("refused: {refusal}"), None));
        }
        let cleanup = continuation.as_ref().is_some_and(|c| c.cleanup);
        let parsed = match Parsed::<R>::from(request, cleanup) {
            Ok(parsed) => parsed,
            Err(reason) => return Conclusion::Respond(failed(request, reason, None)),
        };
        let run = Run { request: Arc::new(request.clone()), raw, deadline, margin: margin(remaining), service_timeout: parsed.service_timeout };
        Box::pin(self.operate(resource, &run, parsed, continuation)).await
    }

    /// The request's own step: each request kind resumes only progress of its own type.
    async fn operate(&self, resource: &Arc<R>, run: &Run<'_>, parsed: Parsed<R>, continuation: Option<Continuation>) -> Conclusion {
        let physical_id = run.request.physical_resource_id.clone().unwrap_or_default();
        let (resource, properties, old) = (resource.clone(), parsed.properties, parsed.old);
        match run.request.request_type {
            // A stack whose Create failed (with rollback disabled) is updated from the marker:
            // there is nothing to update, so create the resource; the marker's Delete is a no-op.
            RequestType::Create | RequestType::Update if run.request.request_type == RequestType::Create || physical_id.starts_with(CREATE_FAILED_PREFIX) => {
                let step = move |step: Step, progress: Option<R::CreateProgress>| {
                    let (resource, properties) = (resource.clone(), properties.clone());
                    async move { resource.create(&step, &properties, progress).await }
                };
                self.steps(run, continuation, step).await
            }
            RequestType::Update => {
                let step = move |step: Step, progress: Option<R::UpdateProgress>| {
                    let (resource, properties, old, physical_id) = (resource.clone(), properties.clone(), old.clone(), physical_id.clone());
                    async move {
                        let change = Change { physical_id: &physical_id, properties: &*properties, old: old.as_deref() };
                        resource.update(&step, change, progress).await
                    }
                };
                self.steps(run, continuation, step).await
            }
            _ => {
                let step = move |step: Step, progress: Option<R::DeleteProgress>| {
                    let (resource, properties, physical_id) = (resource.clone(), properties.clone(), physical_id.clone());
                    async move { resource.delete(&step, &physical_id, &properties, progress).await }
                };
                self.steps(run, continuation, step).await
            }
        }
    }

    /// Steps until done, failed, out of ServiceTimeout or continued in a new invocation.
    async fn steps<P, F, Fut>(&self, run: &Run<'_>, continuation: Option<Continuation>, step: F) -> Conclusion
    where
        P: Progress + Clone,
        F: Fn(Step, Option<P>) -> Fut,
        Fut: Future<Output = StepResult<P>> + Send + 'static,
    {
        let clock = self.clock();
        let mut state = match State::<P>::resume(continuation, self.now_ms()) {
            Ok(state) => state,
            Err((reason, resource_id)) => return self.fail(run, reason, resource_id).await,
        };
        state.log_resumption();
        loop {
            let step_deadline = run.deadline.checked_sub(run.margin / 2).unwrap_or(run.deadline);
            let service_deadline = from_epoch_ms(state.started_at_ms) + run.service_timeout;
            let this_step = Step::new(run.request.clone(), clock.clone(), self.patience, step_deadline).with_service_deadline(service_deadline);
            let ran = run_step(step(this_step, state.progress.clone()), until(clock.now(), step_deadline), &state.waiting_for).await;
            let now = clock.now();
            let ended = match ran {
                Ok(Outcome::Done(done)) => return Conclusion::Respond(succeeded(&run.request, done)),
                Ok(Outcome::Pending(pending)) => state.pending(pending),
                Err(e) if e.is_retryable() => state.retrying(e, epoch_ms(now)),
                Err(e) => {
                    let id = e.physical_resource_id.or(state.resource_id);
                    return self.fail(run, e.reason, id).await;
                }
            };
            let pause = ended.unwrap_or_else(|| state.backoff(now));
            let since = |ms: u64| Duration::from_millis(epoch_ms(now).saturating_sub(ms));
            let situation = Situation {
                elapsed: since(state.started_at_ms),
                service_timeout: run.service_timeout,
                time_left: until(now, run.deadline),
                margin: run.margin,
                pause,
                waiting_for: &state.waiting_for,
                server_error: state.server_error.as_ref().map(|(first, reason)| (since(*first), reason.as_str())),
                server_error_patience: self.patience.server_errors,
            };
            match decide(&situation) {
                Next::Poll(pause) => {
                    // Even a zero sleep waits for the timer's next millisecond tick.
                    if !pause.is_zero() {
                        clock.sleep(pause).await;
                    }
                }
                Next::Fail(reason) => return self.fail(run, reason, state.resource_id).await,
                Next::Continue => return self.continue_later(run, state).await,
            }
        }
    }

    /// Hands the operation to a new invocation before this one's deadline.
    async fn continue_later<P: Progress>(&self, run: &Run<'_>, state: State<P>) -> Conclusion {
        let attempt = state.attempt + 1;
        let next = Continuation {
            event: run.raw.clone(),
            progress: serde_json::to_value(&state.progress).unwrap_or_default(),
            attempt,
            started_at_ms: state.started_at_ms,
            physical_resource_id: state.resource_id.clone(),
            waiting_for: state.waiting_for.clone(),
            cleanup: state.cleanup,
            server_error_since_ms: state.server_error.as_ref().map(|(since, _)| *since),
        };
        // Bounded so a failing Invoke still leaves time to answer FAILED.
        let budget = until(self.clock().now(), run.deadline).saturating_sub(run.margin / 2);
        match self.schedule(&next, budget).await {
            Ok(()) => {
                info!(attempt, waiting_for = %state.waiting_for, "deadline near; continuing in a new invocation");
                Conclusion::Continued { attempt }
            }
            Err(e) => self.fail(run, format!("could not continue waiting for {}: {e}", state.waiting_for), state.resource_id).await,
        }
    }
}

/// What one invocation works within.
struct Run<'a> {
    request: Arc<Request>,
    raw: &'a Value,
    /// The Lambda deadline.
    deadline: SystemTime,
    /// Kept back from the deadline for continuing or responding.
    margin: Duration,
    service_timeout: Duration,
}

/// The properties and limits of a request, parsed.
struct Parsed<R: CustomResource> {
    properties: Arc<R::Properties>,
    old: Option<Arc<R::Properties>>,
    service_timeout: Duration,
}

impl<R: CustomResource> Parsed<R> {
    fn from(request: &Request, cleanup: bool) -> Result<Self, String> {
        let service_timeout = match (request.service_timeout(), request.request_type) {
            // The ServiceTimeout was the failed Update's: it is spent.
            _ if cleanup => MAX_SERVICE_TIMEOUT,
            (Ok(t), _) => t,
            // A Delete must not fail on what already failed its Create or Update.
            (Err(_), RequestType::Delete) => MAX_SERVICE_TIMEOUT,
            (Err(e), _) => return Err(format!("Invalid property {e}")),
        };
        let properties = properties::parse(&request.properties).map_err(|e| format!("Invalid property {e}"))?;
        let old = request.old_properties.as_ref().and_then(|m| match properties::parse(m) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                warn!(error = %e, "OldResourceProperties do not parse; updating without them");
                None
            }
        });
        Ok(Self { properties: Arc::new(properties), old, service_timeout })
    }
}

/// A Delete of an id this function cannot have made (a create-failed marker, another kind's
/// id) succeeds without touching AWS.
fn nothing_to_delete<R: CustomResource>(resource: &R, request: &Request) -> Option<Done> {
    if request.request_type != RequestType::Delete {
        return None;
    }
    let id = request.physical_resource_id.as_deref().unwrap_or_default();
    if !id.is_empty() && !id.starts_with(CREATE_FAILED_PREFIX) && resource.recognizes(id) {
        return None;
    }
    info!(PhysicalResourceId = id, "not a resource this function created: nothing to delete");
    Some(
        Done::new(if id.is_empty() { request.create_failed_marker() } else { id.to_string() })
            .reason(format!("nothing to delete: {id:?} was not created by this function")),
    )
}

/// Where an operation stands between steps, in this invocation and across continuations.
struct State<P> {
    progress: Option<P>,
    attempt: u32,
    started_at_ms: u64,
    resource_id: Option<String>,
    waiting_for: String,
    /// When this invocation began waiting for `waiting_for` (None: not yet looked).
    waiting_since: Option<SystemTime>,
    cleanup: bool,
    /// Since when (epoch ms) steps end in a server error, and the latest one's Reason.
    server_error: Option<(u64, String)>,
}

impl<P: Progress> State<P> {
    fn resume(continuation: Option<Continuation>, now_ms: u64) -> Result<Self, (String, Option<String>)> {
        let Some(c) = continuation else {
            return Ok(Self {
                progress: None,
                attempt: 0,
                started_at_ms: now_ms,
                resource_id: None,
                waiting_for: String::new(),
                waiting_since: None,
                cleanup: false,
                server_error: None,
            });
        };
        let progress = match c.progress {
            Value::Null => None,
            value => Some(serde_json::from_value(value).map_err(|e| (format!("corrupt continuation progress: {e}"), c.physical_resource_id.clone()))?),
        };
        let server_error = c.server_error_since_ms.map(|since| (since, format!("a server error while waiting for {}", c.waiting_for)));
        Ok(Self {
            progress,
            attempt: c.attempt,
            started_at_ms: c.started_at_ms,
            resource_id: c.physical_resource_id,
            waiting_for: c.waiting_for,
            waiting_since: None,
            cleanup: c.cleanup,
            server_error,
        })
    }

    fn log_resumption(&self) {
        if self.cleanup && self.attempt == 1 && self.progress.is_none() {
            info!(PhysicalResourceId = self.resource_id.as_deref().unwrap_or_default(), "deleting the replacement a failed update left behind");
        } else if self.attempt > 0 {
            info!(attempt = self.attempt, waiting_for = %self.waiting_for, "continuing");
        }
    }

    /// A pending step: its progress, and the pause it asked for.
    fn pending(&mut self, pending: crate::resource::Pending<P>) -> Option<Duration> {
        self.resource_id = pending.physical_resource_id.or(self.resource_id.take());
        self.progress = Some(pending.progress);
        self.server_error = None;
        self.now_waiting_for(pending.waiting_for);
        pending.poll_after
    }

    /// A step that failed in a way worth trying again.
    fn retrying(&mut self, e: Error, now_ms: u64) -> Option<Duration> {
        warn!(error = %e.reason, retry = ?e.retry, "retryable error; trying the step again");
        // A step that made something names it even when it is to be retried: should the retries
        // run out, the FAILED names it too (CloudFormation's rollback then deletes or releases it).
        if let Some(id) = e.physical_resource_id {
            self.resource_id = Some(id);
        }
        self.server_error = match (e.retry, self.server_error.take()) {
            (Retry::ServerError, Some((since, _))) => Some((since, e.reason.clone())),
            (Retry::ServerError, None) => Some((now_ms, e.reason.clone())),
            _ => None,
        };
        self.now_waiting_for(format!("a retry after: {}", e.reason));
        None
    }

    fn now_waiting_for(&mut self, waiting_for: String) {
        if waiting_for != self.waiting_for {
            self.waiting_since = None;
            self.waiting_for = waiting_for;
        }
    }

    fn backoff(&mut self, now: SystemTime) -> Duration {
        let first_look = self.waiting_since.is_none();
        backoff(first_look, now.duration_since(*self.waiting_since.get_or_insert(now)).unwrap_or_default())
    }
}

/// Runs one step as its own task, so that a panic is caught and the deadline enforced.
async fn run_step<P: Send + 'static>(step: impl Future<Output = StepResult<P>> + Send + 'static, time_left: Duration, waiting_for: &str) -> StepResult<P> {
    let task = tokio::spawn(step);
    let abort = task.abort_handle();
    match tokio::time::timeout(time_left, task).await {
        Ok(Ok(result)) => result,
        Err(_) => {
            abort.abort();
            Err(Error::new(format!("the function ran out of time during a step{}", describing(waiting_for))))
        }
        Ok(Err(join_error)) => {
            let reason = if join_error.is_panic() {
                format!("internal error: {}", panic_message(join_error.into_panic()))
            } else {
                "internal error: the step was cancelled".to_string()
            };
            error!(%reason, "step panicked");
            Err(Error::new(reason))
        }
    }
}

/// What the loop knows after a step that did not finish.
#[derive(Debug, Clone)]
struct Situation<'a> {
    /// Since the operation started (its first invocation).
    elapsed: Duration,
    service_timeout: Duration,
    /// Until this invocation's deadline.
    time_left: Duration,
    margin: Duration,
    /// The pause before the next step.
    pause: Duration,
    waiting_for: &'a str,
    /// How long steps have been ending in server errors, and the latest Reason.
    server_error: Option<(Duration, &'a str)>,
    server_error_patience: Duration,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
enum Next {
    /// Step again after the pause, in this invocation.
    Poll(Duration),
    /// Hand over to a new invocation: the pause would run into the deadline's margin.
    Continue,
    Fail(String),
}

/// The poll / continue / fail decision, free of clocks and I/O.
fn decide(s: &Situation<'_>) -> Next {
    if let Some((persisting, reason)) = s.server_error
        && persisting + s.pause >= s.server_error_patience
    {
        return Next::Fail(format!("{reason} (server errors persisted for {} s)", persisting.as_secs()));
    }
    if s.elapsed + s.pause >= s.service_timeout {
        return Next::Fail(format!(
            "timed out after {} s waiting for {} (ServiceTimeout {} s)",
            s.elapsed.as_secs(),
            s.waiting_for,
            s.service_timeout.as_secs()
        ));
    }
    if s.time_left < s.pause + s.margin {
        return Next::Continue;
    }
    Next::Poll(s.pause)
}

fn describing(waiting_for: &str) -> String {
    if waiting_for.is_empty() { String::new() } else { format!(" (waiting for {waiting_for})") }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => format!("panicked: {s}"),
        Err(payload) => match payload.downcast::<&str>() {
            Ok(s) => format!("panicked: {s}"),
            Err(_) => "panicked".to_string(),
        },
    }
}

fn succeeded(request: &Request, done: Done) -> Response {
    Response {
        status: Status::Success,
        reason: done.reason,
        physical_resource_id: done.physical_resource_id,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        no_echo: done.no_echo,
        data: done.data,
    }
}

/// The end of a replacement's cleanup, for the logs (its Update was answered long ago).
fn log_cleanup(response: &Response) -> Value {
    let reason = response.reason.as_deref().unwrap_or_default();
    match response.status {
        Status::Success => info!(PhysicalResourceId = %response.physical_resource_id, reason, "the replacement a failed update left behind is deleted"),
        Status::Failed => {
            error!(PhysicalResourceId = %response.physical_resource_id, reason, "could not delete the replacement a failed update left behind: delete it by hand")
        }
    }
    json!({ "CleanedUp": response.status })
}

/// FAILED, reporting `resource` when the operation got as far as making one; otherwise the
/// event's id, or for a Create the create-failed marker.
fn failed(request: &Request, reason: String, resource: Option<String>) -> Response {
    let physical_resource_id = match request.request_type {
        RequestType::Create => resource,
        _ => request.physical_resource_id.clone().or(resource),
    }
    .unwrap_or_else(|| request.create_failed_marker());
    Response {
        status: Status::Failed,
        reason: Some(reason),
        physical_resource_id,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        no_echo: false,
        data: Default::default(),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_scales_with_the_invocation_within_bounds() {
        assert_eq!(margin(Duration::from_secs(900)), Duration::from_secs(60));
        assert_eq!(margin(Duration::from_secs(3)), Duration::from_secs(1));
        assert_eq!(margin(Duration::from_secs(20)), Duration::from_secs(4));
    }

    #[test]
    fn polls_look_again_at_once_then_back_off_with_the_wait() {
        assert_eq!(backoff(true, Duration::from_secs(30)), Duration::ZERO);
        assert_eq!(backoff(false, Duration::ZERO), Duration::from_millis(250));
        assert_eq!(backoff(false, Duration::from_secs(5)), Duration::from_millis(500));
        assert_eq!(backoff(false, Duration::from_secs(3600)), Duration::from_secs(10));
    }

    fn situation<'a>(elapsed: u64, time_left: u64, server_error: Option<(u64, &'a str)>) -> Situation<'a> {
        Situation {
            elapsed: Duration::from_secs(elapsed),
            service_timeout: Duration::from_secs(3600),
            time_left: Duration::from_secs(time_left),
            margin: Duration::from_secs(60),
            pause: Duration::from_secs(10),
            waiting_for: "domain d-1 to become InService",
            server_error: server_error.map(|(s, r)| (Duration::from_secs(s), r)),
            server_error_patience: Patience::default().server_errors,
        }
    }

    #[test]
    fn decide_polls_continues_or_times_out() {
        assert_eq!(decide(&situation(100, 600, None)), Next::Poll(Duration::from_secs(10)));
        // The pause would run into the margin kept for continuing.
        assert_eq!(decide(&situation(100, 65, None)), Next::Continue);
        let Next::Fail(reason) = decide(&situation(3595, 600, None)) else { panic!("past ServiceTimeout") };
        assert_eq!(reason, "timed out after 3595 s waiting for domain d-1 to become InService (ServiceTimeout 3600 s)");
    }

    /// Simulated time: a server error that persists ends in FAILED within 5 minutes of its
    /// first occurrence, naming the operation and code, across continuations; throttling
    /// alone runs on until ServiceTimeout.
    #[test]
    fn a_persisting_server_error_fails_within_five_minutes() {
        let reason = "DescribeDomain: InternalFailure: try later";
        let (mut now, first) = (1000, 1000);
        let outcome = loop {
            // Each invocation lasts 900 s; a step takes 1 s.
            let step = situation(now, 900 - (now % 900).min(899), Some((now - first, reason)));
            match decide(&step) {
                Next::Poll(pause) => now += 1 + pause.as_secs(),
                Next::Continue => now += 1,
                Next::Fail(reason) => break (now - first, reason),
            }
        };
        let patience = Patience::default().server_errors.as_secs();
        assert!(outcome.0 <= patience && patience < 300, "failed {} s after the first server error", outcome.0);
        assert!(outcome.0 + 20 >= patience, "gave up early: {} s", outcome.0);
        assert!(outcome.1.starts_with(reason) && outcome.1.contains("persisted"), "{}", outcome.1);
        // Throttling (no server error) keeps polling.
        assert_eq!(decide(&situation(1000, 600, None)), Next::Poll(Duration::from_secs(10)));
    }

    #[test]
    fn a_change_is_noticed_within_a_tenth_of_the_wait() {
        // Poll as the loop does and check every gap against the time waited before it.
        let mut waited = Duration::ZERO;
        let mut polls = 0;
        while waited < Duration::from_secs(900) {
            let pause = backoff(false, waited);
            assert!(pause <= (waited / 10).max(Duration::from_millis(250)), "at {waited:?}: {pause:?}");
            waited += pause;
            polls += 1;
        }
        assert!(polls < 150, "{polls} polls in 15 minutes");
    }
}
