//! In-memory adapters for the core's ports and a simulated clock, so that the protocol rules
//! (one response, retries, 4096 bytes, deadlines, continuations, refusals of forged and
//! out-of-window events) are tested in-process in milliseconds, as CDK's `simulateEvent`
//! tests its provider framework. [`Simulation`] wires them to a [`Core`] and plays events the
//! way CloudFormation and Lambda would, continuations included.

mod probe;

pub use probe::{Probe, ProbeProgress, ProbeProperties};

use crate::clock::{Clock, SharedClock, Sleep, epoch_ms};
use crate::continuation::ENVELOPE_KEY;
use crate::outbound::{InvokeError, MacError, MacSigner, Ports, ResourceState, ResponseTransport, SelfInvoker, StackState, StackStateError, TransportError};
use crate::patience::Patience;
use crate::resource::CustomResource;
use crate::response_url::Allowlist;
use crate::runtime::{BoxError, Core};
use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A clock that only moves when slept on or advanced: minutes of patience pass at once.
#[derive(Debug)]
pub struct SimClock {
    now: Mutex<SystemTime>,
}

impl SimClock {
    /// Starting at a fixed moment (2026-01-01), so runs repeat.
    pub fn new() -> Arc<Self> {
        Arc::new(Self { now: Mutex::new(UNIX_EPOCH + Duration::from_secs(1_767_225_600)) })
    }

    pub fn advance(&self, by: Duration) {
        *lock(&self.now) += by;
    }
}

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        *lock(&self.now)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.advance(duration);
        Box::pin(tokio::task::yield_now())
    }
}

/// A MAC signer with a key of its own (SHA-256 over key and message: a stand-in for KMS's
/// HMAC that is just as unforgeable to a test that does not know the key).
pub struct MemorySigner {
    key: Option<Vec<u8>>,
    calls: Mutex<Vec<&'static str>>,
}

impl MemorySigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: Some(key.to_vec()), calls: Mutex::default() }
    }

    /// As with CONTINUATION_KMS_KEY_ID unset.
    pub fn without_key() -> Self {
        Self { key: None, calls: Mutex::default() }
    }

    /// "GenerateMac" / "VerifyMac", in order.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    fn mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError> {
        let key = self.key.as_ref().ok_or(MacError::NoKey)?;
        Ok(Sha256::new().chain_update(key).chain_update(message).finalize().to_vec())
    }
}

#[async_trait]
impl MacSigner for MemorySigner {
    async fn generate_mac(&self, message: &[u8]) -> Result<Vec<u8>, MacError> {
        lock(&self.calls).push("GenerateMac");
        self.mac(message)
    }

    async fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<(), MacError> {
        lock(&self.calls).push("VerifyMac");
        if self.mac(message)? == mac { Ok(()) } else { Err(MacError::Invalid) }
    }
}

/// One response PUT as it arrived.
#[derive(Debug, Clone)]
pub struct Put {
    pub url: String,
    pub body: Vec<u8>,
    /// What the transport answered (scripted).
    pub status: Result<u16, String>,
}

impl Put {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn delivered(&self) -> bool {
        matches!(self.status, Ok(200..=299))
    }
}

/// Records every response PUT; answers 200 unless told otherwise.
#[derive(Default)]
pub struct RecordedResponses {
    puts: Mutex<Vec<Put>>,
    script: Mutex<VecDeque<Result<u16, String>>>,
}

impl RecordedResponses {
    /// The next PUTs get these answers (an Err: a connection error), then 200 again.
    pub fn answer_next(&self, answers: impl IntoIterator<Item = Result<u16, String>>) {
        lock(&self.script).extend(answers);
    }

    pub fn puts(&self) -> Vec<Put> {
        lock(&self.puts).clone()
    }

    /// The delivered responses to one request.
    pub fn delivered_to(&self, request_id: &str) -> Vec<Value> {
        self.puts().iter().filter(|p| p.delivered()).map(Put::json).filter(|b| b["RequestId"] == request_id).collect()
    }
}

#[async_trait]
impl ResponseTransport for RecordedResponses {
    async fn put(&self, url: &Url, body: &[u8], _timeout: Duration) -> Result<u16, TransportError> {
        let status = lock(&self.script).pop_front().unwrap_or(Ok(200));
        lock(&self.puts).push(Put { url: url.to_string(), body: body.to_vec(), status: status.clone() });
        status.map_err(TransportError)
    }
}

/// Records every asynchronous self-invocation (the continuations' payloads).
#[derive(Default)]
pub struct RecordedInvocations {
    payloads: Mutex<VecDeque<Value>>,
    all: Mutex<Vec<Value>>,
    refuse: Mutex<Option<String>>,
}

impl RecordedInvocations {
    /// Every later Invoke fails with `error` (None: succeeds again).
    pub fn refuse(&self, error: Option<&str>) {
        *lock(&self.refuse) = error.map(str::to_string);
    }

    /// Every payload invoked so far.
    pub fn all(&self) -> Vec<Value> {
        lock(&self.all).clone()
    }

    fn next(&self) -> Option<Value> {
        lock(&self.payloads).pop_front()
    }
}

#[async_trait]
impl SelfInvoker for RecordedInvocations {
    async fn invoke_async(&self, payload: Vec<u8>) -> Result<(), InvokeError> {
        if let Some(error) = lock(&self.refuse).clone() {
            return Err(InvokeError(error));
        }
        let payload: Value = serde_json::from_slice(&payload).map_err(|e| InvokeError(e.to_string()))?;
        lock(&self.all).push(payload.clone());
        lock(&self.payloads).push_back(payload);
        Ok(())
    }
}

/// CloudFormation's state, as the test sets it (or as [`Simulation::sends`] sets it the way
/// CloudFormation does when it sends an event).
/// A stack's status and its resources by logical id.
type Stack = (String, BTreeMap<String, ResourceState>);

#[derive(Default)]
pub struct ScriptedStacks {
    stacks: Mutex<BTreeMap<String, Stack>>,
    calls: Mutex<usize>,
}

impl ScriptedStacks {
    pub fn set_stack_status(&self, stack_id: &str, status: &str) {
        lock(&self.stacks).entry(stack_id.into()).or_default().0 = status.into();
    }

    pub fn set_resource(&self, stack_id: &str, logical_id: &str, status: &str, physical_id: Option<&str>, resource_type: &str) {
        let state = ResourceState {
            stack_id: stack_id.into(),
            status: status.into(),
            physical_id: physical_id.map(str::to_string),
            resource_type: resource_type.into(),
        };
        lock(&self.stacks).entry(stack_id.into()).or_default().1.insert(logical_id.into(), state);
    }

    pub fn stack_status(&self, stack_id: &str) -> Option<String> {
        lock(&self.stacks).get(stack_id).map(|(status, _)| status.clone())
    }

    pub fn resource(&self, stack_id: &str, logical_id: &str) -> Option<ResourceState> {
        lock(&self.stacks).get(stack_id).and_then(|(_, resources)| resources.get(logical_id).cloned())
    }

    /// DescribeStackResource and DescribeStacks calls so far.
    pub fn calls(&self) -> usize {
        *lock(&self.calls)
    }
}

#[async_trait]
impl StackState for ScriptedStacks {
    async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<ResourceState, StackStateError> {
        *lock(&self.calls) += 1;
        ScriptedStacks::resource(self, stack_id, logical_id)
            .ok_or_else(|| StackStateError(format!("ValidationError: Resource {logical_id} does not exist for stack {stack_id}")))
    }

    async fn stack_status(&self, stack_id: &str) -> Result<String, StackStateError> {
        *lock(&self.calls) += 1;
        ScriptedStacks::stack_status(self, stack_id).ok_or_else(|| StackStateError(format!("ValidationError: Stack with id {stack_id} does not exist")))
    }
}

/// The host response URLs point at in a simulation (allowed by its allowlist).
pub const RESPONSE_HOST: &str = "cfn-responses.test";
pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/sim/00000000-0000-4000-8000-000000000000";

/// A [`Core`] on in-memory ports, playing events as CloudFormation and Lambda would.
pub struct Simulation<R> {
    pub core: Core<R>,
    pub clock: Arc<SimClock>,
    pub responses: Arc<RecordedResponses>,
    pub invocations: Arc<RecordedInvocations>,
    pub signer: Arc<MemorySigner>,
    pub stacks: Arc<ScriptedStacks>,
    /// How long each invocation may run (Lambda's timeout).
    pub invocation_timeout: Duration,
    requests: Mutex<usize>,
}

impl<R: CustomResource> Simulation<R> {
    pub fn new(resource: Result<R, String>) -> Self {
        Self::with(resource, MemorySigner::new(b"the functions' own key"), Patience::default())
    }

    pub fn with(resource: Result<R, String>, signer: MemorySigner, patience: Patience) -> Self {
        let (clock, responses, invocations, signer, stacks) = (
            SimClock::new(),
            Arc::new(RecordedResponses::default()),
            Arc::new(RecordedInvocations::default()),
            Arc::new(signer),
            Arc::new(ScriptedStacks::default()),
        );
        let ports = Ports {
            clock: clock.clone() as SharedClock,
            responses: responses.clone(),
            invoker: invocations.clone(),
            signer: signer.clone(),
            stacks: stacks.clone(),
        };
        let core = Core::new(resource, ports, Allowlist::parse(RESPONSE_HOST), patience, "sim-function");
        Self { core, clock, responses, invocations, signer, stacks, invocation_timeout: Duration::from_secs(900), requests: Mutex::new(0) }
    }

    /// An event as CloudFormation sends it (properties as given; ServiceToken added).
    pub fn event(&self, request_type: &str, logical_id: &str, physical_id: Option<&str>, properties: Value, old: Option<Value>) -> Value {
        let request_id = {
            let mut n = lock(&self.requests);
            *n += 1;
            format!("00000000-0000-4000-8000-{:012}", *n)
        };
        let mut event = json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:sim-function",
            "ResponseURL": format!("https://{RESPONSE_HOST}/responses/{request_id}?X-Amz-Signature=secret"),
            "StackId": STACK_ID,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": format!("Custom::{logical_id}"),
            "ResourceProperties": properties,
        });
        if let Some(id) = physical_id {
            event["PhysicalResourceId"] = json!(id);
        }
        if let Some(old) = old {
            event["OldResourceProperties"] = old;
        }
        event
    }

    /// CloudFormation's state once it sends `event` (see `local/cloudformation.rs` for the same
    /// rules against real processes).
    pub fn begin(&self, event: &Value) {
        let text = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let (stack, logical, physical, kind) = (text("StackId"), text("LogicalResourceId"), text("PhysicalResourceId"), text("ResourceType"));
        let physical = Some(physical.as_str()).filter(|p| !p.is_empty());
        match text("RequestType").as_str() {
            "Create" => {
                self.stacks.set_stack_status(&stack, "CREATE_IN_PROGRESS");
                self.stacks.set_resource(&stack, &logical, "CREATE_IN_PROGRESS", None, &kind);
            }
            "Update" => {
                self.stacks.set_stack_status(&stack, "UPDATE_IN_PROGRESS");
                self.stacks.set_resource(&stack, &logical, "UPDATE_IN_PROGRESS", physical, &kind);
            }
            _ => {
                self.stacks.set_stack_status(&stack, "DELETE_IN_PROGRESS");
                self.stacks.set_resource(&stack, &logical, "DELETE_IN_PROGRESS", physical, &kind);
            }
        }
    }

    /// CloudFormation sends `event`: its state shows it, Lambda invokes, and every continuation
    /// runs after it (each in a new invocation, the clock moving on) until none is left.
    pub async fn sends(&self, event: Value) -> Vec<Result<Value, String>> {
        self.begin(&event);
        self.invoke(event).await
    }

    /// Lambda delivers `payload` (as anyone allowed to invoke could), then the continuations.
    pub async fn invoke(&self, payload: Value) -> Vec<Result<Value, String>> {
        let mut results = vec![self.once(payload).await];
        while let Some(next) = self.invocations.next() {
            results.push(self.once(next).await);
        }
        results
    }

    /// One invocation only: continuations it schedules are left for [`Self::next_continuation`].
    pub async fn once(&self, payload: Value) -> Result<Value, String> {
        let deadline = self.clock.now() + self.invocation_timeout;
        let result = self.core.handle(payload, deadline).await.map_err(|e: BoxError| e.to_string());
        // Lambda's next invocation starts a moment later.
        self.clock.advance(Duration::from_millis(10));
        result
    }

    /// The next continuation scheduled and not yet run.
    pub fn next_continuation(&self) -> Option<Value> {
        self.invocations.next()
    }

    /// Runs the continuations scheduled so far, one invocation each, until a replacement's
    /// cleanup is scheduled; returns it without running it.
    pub async fn until_cleanup(&self) -> Option<Value> {
        while let Some(next) = self.next_continuation() {
            if unsealed(&next)["Cleanup"] == Value::Bool(true) {
                return Some(next);
            }
            let _ = self.once(next).await;
        }
        None
    }

    pub fn now_ms(&self) -> u64 {
        epoch_ms(self.clock.now())
    }
}

/// The continuation inside an invoke payload, as JSON (read without verifying: for tests).
pub fn unsealed(payload: &Value) -> Value {
    payload[ENVELOPE_KEY]["Payload"].as_str().and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null)
}

/// `payload` with its sealed continuation changed by `change` and sealed again without the
/// key: what a forger can make.
pub fn tampered(payload: &Value, change: impl FnOnce(&mut Value)) -> Value {
    let mut inner = unsealed(payload);
    change(&mut inner);
    let mut forged = payload.clone();
    forged[ENVELOPE_KEY]["Payload"] = Value::from(inner.to_string());
    forged
}

/// `continuation` (JSON of a continuation, e.g. [`unsealed`] and changed) sealed with `signer`'s
/// key for `function_name`: what only the function could make. For tests of what a function does
/// with progress it resumes, which is a hint even when sealed: every step that changes something
/// re-checks ownership.
pub async fn sealed_with_key(continuation: &Value, function_name: &str, signer: &dyn MacSigner) -> Result<Value, String> {
    let continuation: crate::continuation::Continuation = serde_json::from_value(continuation.clone()).map_err(|e| e.to_string())?;
    let bytes = crate::continuation::seal(&continuation, function_name, signer).await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
