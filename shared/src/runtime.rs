//! The custom-resource loop: event in, exactly one response out (or a continuation).

use crate::aws::Clients;
use crate::continuation::{self, Continuation};
use crate::event::{CREATE_FAILED_PREFIX, RawIds, Request, RequestType};
use crate::properties;
use crate::resource::{CustomResource, Done, Outcome};
use crate::responder::Responder;
use crate::response::{Response, Status};
use crate::verification::{self, Verifier};
use futures::FutureExt;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{Instrument, error, info, warn};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serve one custom resource. `init` builds it from the AWS clients; if it fails, every
/// event is answered FAILED with the reason instead of leaving stacks waiting.
pub async fn run<R, F, Fut>(init: F) -> Result<(), BoxError>
where
    R: CustomResource,
    F: FnOnce(Clients) -> Fut,
    Fut: Future<Output = Result<R, String>>,
{
    crate::logging::init();
    let clients = Clients::from_env().await;
    let resource = init(clients.clone()).await.map(Arc::new);
    if let Err(e) = &resource {
        error!(error = %e, "initialisation failed; every request will be answered FAILED");
    }
    let core = Arc::new(Core {
        resource,
        lambda: clients.lambda,
        responder: Responder::new(),
        verifier: Verifier::new(clients.cloudformation.clone()),
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let core = core.clone();
        // Boxed: the nested state machines are otherwise too deep for the compiler's layout queries.
        Box::pin(async move { core.handle(event).await })
    }))
    .await
}

struct Core<R> {
    resource: Result<Arc<R>, String>,
    lambda: aws_sdk_lambda::Client,
    responder: Responder,
    /// Asks CloudFormation whether an event is real (issue 13).
    verifier: Verifier,
    function_name: Option<String>,
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
/// (many things are ready by then), then every 0.5 s, backing off in proportion to the time
/// waited up to 10 s. A change is so noticed within a fifth of the wait (or 0.5 s) after it
/// happens, at a few calls a minute for long waits.
fn backoff(first_look: bool, waited: Duration) -> Duration {
    if first_look {
        return Duration::ZERO;
    }
    (waited / 5).clamp(Duration::from_millis(500), Duration::from_secs(10))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl<R: CustomResource> Core<R> {
    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, BoxError> {
        let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms()));
        let deadline = Instant::now() + remaining;
        let (raw, continuation) = continuation::split(event.payload);
        let cleanup = matches!(&continuation, Some(Ok(c)) if c.cleanup);
        // A panic outside the step (parsing, building the response) still answers FAILED
        // (issue 13); a cleanup is answered by nobody.
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

    async fn serve(
        &self,
        raw: &Value,
        continuation: Option<Result<Continuation, String>>,
        cleanup: bool,
        deadline: Instant,
        remaining: Duration,
    ) -> Result<Value, BoxError> {
        let request = match Request::parse(raw) {
            Ok(request) => request,
            Err(reason) => return self.answer_unparseable(raw, reason, deadline).await,
        };
        // Issue 13: an event whose ResponseURL may not be answered is not acted on either.
        if !cleanup && let Err(e) = self.responder.admit(&request.response_url) {
            error!(error = %e, "refused: the ResponseURL is not allowed; nothing done, nothing sent");
            return Err(e.into());
        }
        let span = crate::invocation_span!(request);
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
    async fn answer_unparseable(&self, raw: &Value, reason: String, deadline: Instant) -> Result<Value, BoxError> {
        let Some(ids) = RawIds::find(raw) else {
            error!(%reason, "not a CloudFormation event and no ResponseURL to answer");
            return Err(reason.into());
        };
        self.answer_failed(ids, reason, deadline).await
    }

    /// FAILED from the raw ids, to an allowed ResponseURL only.
    async fn answer_failed(&self, ids: RawIds, reason: String, deadline: Instant) -> Result<Value, BoxError> {
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

    async fn respond(&self, url: &str, response: Response, deadline: Instant) -> Result<Value, BoxError> {
        let status = response.status;
        match status {
            Status::Success => info!(PhysicalResourceId = %response.physical_resource_id, reason = response.reason.as_deref().unwrap_or(""), "SUCCESS"),
            Status::Failed => warn!(PhysicalResourceId = %response.physical_resource_id, reason = response.reason.as_deref().unwrap_or(""), "FAILED"),
        }
        self.responder.send(url, response.into_body(), deadline.into()).await.map_err(|e| {
            error!(error = %e, "could not deliver the response");
            BoxError::from(e)
        })?;
        Ok(json!({ "Responded": status }))
    }

    /// FAILED. An Update that made a replacement first schedules the replacement's Delete in
    /// a fresh invocation: CloudFormation keeps the old id after a failed Update, so it would
    /// never delete the new resource, and it may take longer than this invocation has left.
    async fn fail(&self, request: &Request, raw: &Value, reason: String, resource_id: Option<String>, deadline: Instant) -> Conclusion {
        let replacement = match (&resource_id, &request.physical_resource_id) {
            (Some(new), Some(old)) if request.request_type == RequestType::Update && new != old => Some(new.as_str()),
            _ => None,
        };
        let Some(replacement) = replacement else {
            return Conclusion::Respond(failed(request, reason, resource_id));
        };
        // Half of what is left, keeping time to answer FAILED whatever Lambda does.
        let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(Duration::from_secs(1)) / 2;
        let reason = match self.schedule(&Continuation::cleanup(raw, replacement, now_ms()), budget).await {
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

    /// Invokes this function again, asynchronously, with `continuation`, within `budget`.
    async fn schedule(&self, continuation: &Continuation, budget: Duration) -> Result<(), String> {
        let Some(function_name) = &self.function_name else {
            return Err("AWS_LAMBDA_FUNCTION_NAME is not set".into());
        };
        tokio::time::timeout(budget, continuation::schedule(&self.lambda, function_name, continuation))
            .await
            .unwrap_or_else(|_| Err("Lambda Invoke did not answer in time".into()))
    }

    /// A continuation within its bounds, of an operation CloudFormation is carrying out.
    async fn admit(&self, request: &Request, continuation: Option<&Continuation>) -> Result<(), String> {
        let cleanup = continuation.is_some_and(|c| c.cleanup);
        if let Some(c) = continuation {
            let service_timeout =
                if cleanup { crate::event::MAX_SERVICE_TIMEOUT } else { request.service_timeout().unwrap_or(crate::event::MAX_SERVICE_TIMEOUT) };
            verification::check_continuation(c, service_timeout, now_ms())?;
        }
        self.verifier.verify(request, cleanup).await
    }

    async fn drive(
        &self,
        resource: &Arc<R>,
        request: &Request,
        raw: &Value,
        continuation: Option<Result<Continuation, String>>,
        deadline: Instant,
        remaining: Duration,
    ) -> Conclusion {
        let continuation = match continuation.transpose() {
            Ok(c) => c,
            Err(e) => return Conclusion::Respond(failed(request, e, None)),
        };
        if request.request_type == RequestType::Delete {
            let id = request.physical_resource_id.as_deref().unwrap_or_default();
            if id.is_empty() || id.starts_with(CREATE_FAILED_PREFIX) || !resource.recognizes(id) {
                info!(PhysicalResourceId = id, "not a resource this function created: nothing to delete");
                let done = Done::new(if id.is_empty() { request.create_failed_marker() } else { id.to_string() })
                    .reason(format!("nothing to delete: {id:?} was not created by this function"));
                return Conclusion::Respond(succeeded(request, done));
            }
        }
        // Issue 13: nothing changes unless CloudFormation shows it doing this now.
        if let Err(refusal) = self.admit(request, continuation.as_ref()).await {
            warn!(%refusal, "refused: not a request CloudFormation is making");
            return Conclusion::Respond(failed(request, format!("refused: {refusal}"), None));
        }
        let cleanup = continuation.as_ref().is_some_and(|c| c.cleanup);
        let service_timeout = match (request.service_timeout(), request.request_type) {
            // The ServiceTimeout was the failed Update's: it is spent.
            _ if cleanup => crate::event::MAX_SERVICE_TIMEOUT,
            (Ok(t), _) => t,
            // A Delete must not fail on what already failed its Create or Update.
            (Err(_), RequestType::Delete) => crate::event::MAX_SERVICE_TIMEOUT,
            (Err(e), _) => return Conclusion::Respond(failed(request, format!("Invalid property {e}"), None)),
        };
        let properties: Arc<R::Properties> = match properties::parse(&request.properties) {
            Ok(p) => Arc::new(p),
            Err(e) => return Conclusion::Respond(failed(request, format!("Invalid property {e}"), None)),
        };
        let old: Option<Arc<R::Properties>> = request.old_properties.as_ref().and_then(|m| match properties::parse(m) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                warn!(error = %e, "OldResourceProperties do not parse; updating without them");
                None
            }
        });

        let started_at_ms = continuation.as_ref().map_or_else(now_ms, |c| c.started_at_ms);
        let mut attempt = continuation.as_ref().map_or(0, |c| c.attempt);
        let mut resource_id = continuation.as_ref().and_then(|c| c.physical_resource_id.clone());
        let mut waiting_for = continuation.as_ref().map(|c| c.waiting_for.clone()).unwrap_or_default();
        let mut progress: Option<R::Progress> = match continuation.map(|c| serde_json::from_value(c.progress)) {
            None => None,
            Some(Ok(p)) => p,
            Some(Err(e)) => return self.fail(request, raw, format!("corrupt continuation progress: {e}"), resource_id, deadline).await,
        };
        if cleanup && attempt == 1 && progress.is_none() {
            info!(PhysicalResourceId = resource_id.as_deref().unwrap_or_default(), "deleting the replacement a failed update left behind");
        } else if attempt > 0 {
            info!(attempt, waiting_for = %waiting_for, "continuing");
        }
        let margin = margin(remaining);
        let request = Arc::new(request.clone());
        let mut waiting_since: Option<Instant> = None;
        loop {
            let step_budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(margin / 2);
            let task = tokio::spawn(step(resource.clone(), request.clone(), properties.clone(), old.clone(), progress.clone()));
            let abort = task.abort_handle();
            let pending = match tokio::time::timeout(step_budget, task).await {
                Err(_) => {
                    abort.abort();
                    let reason = format!("the function ran out of time during a step{}", describing(&waiting_for));
                    return self.fail(&request, raw, reason, resource_id, deadline).await;
                }
                Ok(Err(join_error)) => {
                    let reason = if join_error.is_panic() {
                        format!("internal error: {}", panic_message(join_error.into_panic()))
                    } else {
                        "internal error: the step was cancelled".to_string()
                    };
                    error!(%reason, "step panicked");
                    return self.fail(&request, raw, reason, resource_id, deadline).await;
                }
                Ok(Ok(Ok(Outcome::Done(done)))) => return Conclusion::Respond(succeeded(&request, done)),
                Ok(Ok(Err(e))) if e.retryable => {
                    warn!(error = %e.reason, "retryable error; trying the step again");
                    (format!("a retry after: {}", e.reason), None)
                }
                Ok(Ok(Err(e))) => {
                    let id = e.physical_resource_id.or(resource_id);
                    return self.fail(&request, raw, e.reason, id, deadline).await;
                }
                Ok(Ok(Ok(Outcome::Pending(p)))) => {
                    resource_id = p.physical_resource_id.or(resource_id);
                    progress = Some(p.progress);
                    (p.waiting_for, p.poll_after)
                }
            };
            let (now_waiting_for, poll_after) = pending;
            if now_waiting_for != waiting_for {
                waiting_since = None;
                waiting_for = now_waiting_for;
            }
            let first_look = waiting_since.is_none();
            let waited = waiting_since.get_or_insert_with(Instant::now).elapsed();
            let pause = poll_after.unwrap_or_else(|| backoff(first_look, waited));
            let elapsed = Duration::from_millis(now_ms().saturating_sub(started_at_ms));
            if elapsed + pause >= service_timeout {
                let reason = format!("timed out after {} s waiting for {waiting_for} (ServiceTimeout {} s)", elapsed.as_secs(), service_timeout.as_secs());
                return self.fail(&request, raw, reason, resource_id, deadline).await;
            }
            if deadline.saturating_duration_since(Instant::now()) < pause + margin {
                attempt += 1;
                let next = Continuation {
                    event: raw.clone(),
                    progress: serde_json::to_value(&progress).unwrap_or_default(),
                    attempt,
                    started_at_ms,
                    physical_resource_id: resource_id.clone(),
                    waiting_for: waiting_for.clone(),
                    cleanup,
                };
                // Bounded so a failing Invoke still leaves time to answer FAILED.
                let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(margin / 2);
                return match self.schedule(&next, budget).await {
                    Ok(()) => {
                        info!(attempt, waiting_for = %waiting_for, "deadline near; continuing in a new invocation");
                        Conclusion::Continued { attempt }
                    }
                    Err(e) => self.fail(&request, raw, format!("could not continue waiting for {waiting_for}: {e}"), resource_id, deadline).await,
                };
            }
            // Even a zero sleep waits for the timer's next millisecond tick.
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }
}

async fn step<R: CustomResource>(
    resource: Arc<R>,
    request: Arc<Request>,
    properties: Arc<R::Properties>,
    old: Option<Arc<R::Properties>>,
    progress: Option<R::Progress>,
) -> Result<Outcome<R::Progress>, crate::resource::Error> {
    let physical_id = request.physical_resource_id.clone().unwrap_or_default();
    match request.request_type {
        RequestType::Create => resource.create(&request, &properties, progress).await,
        // A stack whose Create failed (with rollback disabled) is updated from the marker:
        // there is nothing to update, so create the resource; the marker's Delete is a no-op.
        RequestType::Update if physical_id.starts_with(CREATE_FAILED_PREFIX) => resource.create(&request, &properties, progress).await,
        RequestType::Update => resource.update(&request, &physical_id, &properties, old.as_deref(), progress).await,
        RequestType::Delete => resource.delete(&request, &physical_id, &properties, progress).await,
    }
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
        assert_eq!(backoff(false, Duration::ZERO), Duration::from_millis(500));
        assert_eq!(backoff(false, Duration::from_secs(5)), Duration::from_secs(1));
        assert_eq!(backoff(false, Duration::from_secs(3600)), Duration::from_secs(10));
    }

    #[test]
    fn a_change_is_noticed_within_a_fifth_of_the_wait() {
        // Poll as the loop does and check every gap against the time waited before it.
        let mut waited = Duration::ZERO;
        let mut polls = 0;
        while waited < Duration::from_secs(900) {
            let pause = backoff(false, waited);
            assert!(pause <= (waited / 5).max(Duration::from_millis(500)), "at {waited:?}: {pause:?}");
            waited += pause;
            polls += 1;
        }
        assert!(polls < 150, "{polls} polls in 15 minutes");
    }
}
