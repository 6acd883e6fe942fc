//! CloudFormation's own state while the driver plays a stack's events, served through the
//! query API (form-encoded POST, XML answers as the SDK parses them): DescribeStackResource and
//! DescribeStacks. The functions ask it whether an event is real (issue 13), so every test that
//! plays events through the driver goes through that check.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use emulator_kit::{AwsError, Handle, Output, Protocol, Request, Route, Service, xml_escape as xml};

use crate::lock;

/// A logical resource as CloudFormation shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StackResource {
    pub resource_type: String,
    pub physical_id: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub status: String,
    pub resources: BTreeMap<String, StackResource>,
}

/// Every stack of the local cloud, by stack id. Cheap to clone.
#[derive(Clone, Default)]
pub struct Stacks {
    inner: Arc<Mutex<BTreeMap<String, Stack>>>,
}

impl Stacks {
    pub fn stack_status(&self, stack_id: &str) -> Option<String> {
        lock(&self.inner).get(stack_id).map(|s| s.status.clone())
    }

    pub fn resource(&self, stack_id: &str, logical_id: &str) -> Option<StackResource> {
        lock(&self.inner).get(stack_id).and_then(|s| s.resources.get(logical_id).cloned())
    }

    /// Changes a stack (made, named after its id, if new) under the lock.
    pub fn update<T>(&self, stack_id: &str, change: impl FnOnce(&mut Stack) -> T) -> T {
        let mut stacks = lock(&self.inner);
        let stack = stacks.entry(stack_id.to_string()).or_insert_with(|| Stack {
            name: stack_name(stack_id).to_string(),
            status: "REVIEW_IN_PROGRESS".into(),
            resources: BTreeMap::new(),
        });
        change(stack)
    }

    fn find(&self, stack_name_or_id: &str) -> Option<(String, Stack)> {
        lock(&self.inner).iter().find(|(id, stack)| *id == stack_name_or_id || stack.name == stack_name_or_id).map(|(id, stack)| (id.clone(), stack.clone()))
    }
}

/// "arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>" -> name.
fn stack_name(stack_id: &str) -> &str {
    stack_id.split('/').nth(1).unwrap_or(stack_id)
}

/// The query API on 127.0.0.1, for AWS_ENDPOINT_URL_CLOUDFORMATION; derefs to the kit's
/// [`Emulator`](emulator_kit::Emulator) (calls made, faults).
pub struct CloudFormationApi(Handle<Stacks>);

emulator_kit::deref_to_emulator!(CloudFormationApi);

impl CloudFormationApi {
    pub async fn start(stacks: Stacks) -> std::io::Result<Self> {
        Ok(Self(Handle::start(stacks).await?))
    }
}

impl Service for Stacks {
    fn route(request: &Request) -> Route {
        let action = request.form().remove("Action").unwrap_or_default();
        Route::new(action, "cloudformation", Protocol::Query { namespace: NS })
    }

    /// CloudFormation answers an unknown stack or resource with a 400 ValidationError.
    fn call(&mut self, route: &Route, request: &Request) -> Result<Output, AwsError> {
        let form = request.form();
        let param = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        let answer = match route.operation.as_str() {
            "DescribeStackResource" => describe_stack_resource(self, param("StackName"), param("LogicalResourceId")),
            "DescribeStacks" => describe_stacks(self, param("StackName")),
            other => Err(format!("Unsupported action {other:?}")),
        };
        answer.map(Output::Xml).map_err(|message| AwsError::new("ValidationError", message))
    }
}

const NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
const TIMESTAMP: &str = "2026-01-01T00:00:00.000Z";

fn describe_stack_resource(stacks: &Stacks, stack_name: &str, logical_id: &str) -> Result<String, String> {
    let (stack_id, stack) = stacks.find(stack_name).ok_or_else(|| format!("Stack '{stack_name}' does not exist"))?;
    let resource = stack.resources.get(logical_id).ok_or_else(|| format!("Resource {logical_id} does not exist for stack {stack_name}"))?;
    let physical = resource.physical_id.as_deref().map(|id| format!("<PhysicalResourceId>{}</PhysicalResourceId>", xml(id))).unwrap_or_default();
    Ok(format!(
        "<StackResourceDetail><StackId>{}</StackId><StackName>{}</StackName><LogicalResourceId>{}</LogicalResourceId>{physical}\
         <ResourceType>{}</ResourceType><LastUpdatedTimestamp>{TIMESTAMP}</LastUpdatedTimestamp>\
         <ResourceStatus>{}</ResourceStatus></StackResourceDetail>",
        xml(&stack_id),
        xml(&stack.name),
        xml(logical_id),
        xml(&resource.resource_type),
        xml(&resource.status)
    ))
}

fn describe_stacks(stacks: &Stacks, stack_name: &str) -> Result<String, String> {
    let (stack_id, stack) = stacks.find(stack_name).ok_or_else(|| format!("Stack with id {stack_name} does not exist"))?;
    Ok(format!(
        "<Stacks><member><StackId>{}</StackId><StackName>{}</StackName><CreationTime>{TIMESTAMP}</CreationTime>\
         <StackStatus>{}</StackStatus></member></Stacks>",
        xml(&stack_id),
        xml(&stack.name),
        xml(&stack.status)
    ))
}
