//! CloudFormation's own state while the driver plays a stack's events, served through the
//! query API (form-encoded POST, XML answers as the SDK parses them): DescribeStackResource and
//! DescribeStacks. The functions ask it whether an event is real (issue 13), so every test that
//! plays events through the driver goes through that check.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;

use crate::httpd::{self, Body, ServerHandle};
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
    calls: Arc<Mutex<Vec<String>>>,
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

    /// How many times the functions called an action (DescribeStackResource, DescribeStacks).
    pub fn call_count(&self, action: &str) -> usize {
        lock(&self.calls).iter().filter(|a| *a == action).count()
    }

    fn find(&self, stack_name_or_id: &str) -> Option<(String, Stack)> {
        lock(&self.inner).iter().find(|(id, stack)| *id == stack_name_or_id || stack.name == stack_name_or_id).map(|(id, stack)| (id.clone(), stack.clone()))
    }
}

/// "arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>" -> name.
fn stack_name(stack_id: &str) -> &str {
    stack_id.split('/').nth(1).unwrap_or(stack_id)
}

/// The query API on 127.0.0.1, for AWS_ENDPOINT_URL_CLOUDFORMATION.
pub struct CloudFormationApi {
    endpoint: String,
    _server: ServerHandle,
}

impl CloudFormationApi {
    pub async fn start(stacks: Stacks) -> std::io::Result<Self> {
        let listener = httpd::bind_loopback().await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let server = httpd::serve(listener, move |req| handle(stacks.clone(), req));
        Ok(Self { endpoint, _server: server })
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }
}

async fn handle(stacks: Stacks, req: Request<Incoming>) -> Result<hyper::Response<Body>, std::convert::Infallible> {
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let param = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let action = param("Action").to_string();
    lock(&stacks.calls).push(action.clone());
    let request_id = crate::uuid_v4();
    let answer = match action.as_str() {
        "DescribeStackResource" => describe_stack_resource(&stacks, param("StackName"), param("LogicalResourceId")),
        "DescribeStacks" => describe_stacks(&stacks, param("StackName")),
        other => Err(format!("Unsupported action {other:?}")),
    };
    Ok(match answer {
        Ok(result) => httpd::response(
            200,
            &[("content-type", "text/xml")],
            format!(
                "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result>\
                 <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ),
        ),
        // CloudFormation answers an unknown stack or resource with a 400 ValidationError.
        Err(message) => httpd::response(
            400,
            &[("content-type", "text/xml")],
            format!(
                "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>ValidationError</Code>\
                 <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml(&message)
            ),
        ),
    })
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

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
