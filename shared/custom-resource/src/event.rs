//! The CloudFormation request as the resource logic sees it.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as CfnRequest;
use serde_json::{Map, Value};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Create => "Create",
            RequestType::Update => "Update",
            RequestType::Delete => "Delete",
        }
    }
}

/// Everything of the event except the properties (which the core parses into the resource's
/// own types) and the ResponseURL (a credential only the responder sees).
#[derive(Clone)]
pub struct Request {
    pub request_type: RequestType,
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    pub resource_type: String,
    /// Present on Update and Delete.
    pub physical_resource_id: Option<String>,
    pub(crate) response_url: String,
    pub(crate) properties: Map<String, Value>,
    pub(crate) old_properties: Option<Map<String, Value>>,
}

/// Every field but the ResponseURL, whose signature is a credential (issue 13).
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("request_type", &self.request_type)
            .field("request_id", &self.request_id)
            .field("stack_id", &self.stack_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("resource_type", &self.resource_type)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("response_url", &"<redacted>")
            .field("properties", &self.properties)
            .field("old_properties", &self.old_properties)
            .finish()
    }
}

/// CloudFormation's default and maximum wait for a custom resource.
pub const MAX_SERVICE_TIMEOUT: Duration = Duration::from_secs(3600);

impl Request {
    pub fn parse(event: &Value) -> Result<Self, String> {
        let parsed: CfnRequest<Value, Value> = serde_json::from_value(event.clone()).map_err(|e| format!("malformed CloudFormation event: {e}"))?;
        let (request_type, c, physical, props, old) = match parsed {
            CfnRequest::Create(r) => {
                (RequestType::Create, (r.request_id, r.response_url, r.stack_id, r.logical_resource_id, r.resource_type), None, r.resource_properties, None)
            }
            CfnRequest::Update(r) => (
                RequestType::Update,
                (r.request_id, r.response_url, r.stack_id, r.logical_resource_id, r.resource_type),
                Some(r.physical_resource_id),
                r.resource_properties,
                Some(r.old_resource_properties),
            ),
            CfnRequest::Delete(r) => (
                RequestType::Delete,
                (r.request_id, r.response_url, r.stack_id, r.logical_resource_id, r.resource_type),
                Some(r.physical_resource_id),
                r.resource_properties,
                None,
            ),
            _ => return Err("unsupported RequestType".into()),
        };
        let (request_id, response_url, stack_id, logical_resource_id, resource_type) = c;
        let properties = match props {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => return Err(format!("ResourceProperties must be an object, got {}", function_base::properties::describe_value(&other))),
        };
        let old_properties = old.map(|v| match v {
            Value::Object(map) => map,
            _ => Map::new(),
        });
        Ok(Request {
            request_type,
            request_id,
            stack_id,
            logical_resource_id,
            resource_type,
            physical_resource_id: physical.filter(|id| !id.is_empty()),
            response_url,
            properties,
            old_properties,
        })
    }

    /// A request with no properties, for unit tests of resource logic.
    pub fn new(request_type: RequestType, request_id: &str, stack_id: &str, logical_resource_id: &str, physical_resource_id: Option<&str>) -> Self {
        Request {
            request_type,
            request_id: request_id.into(),
            stack_id: stack_id.into(),
            logical_resource_id: logical_resource_id.into(),
            resource_type: "Custom::Test".into(),
            physical_resource_id: physical_resource_id.map(str::to_string),
            response_url: String::new(),
            properties: Map::new(),
            old_properties: None,
        }
    }

    /// How long CloudFormation waits for this resource: ServiceTimeout (1-3600 s), default 3600.
    pub fn service_timeout(&self) -> Result<Duration, String> {
        match self.properties.get("ServiceTimeout") {
            None | Some(Value::Null) => Ok(MAX_SERVICE_TIMEOUT),
            Some(v) => match function_base::properties::lenient_i64(v) {
                Some(s @ 1..=3600) => Ok(Duration::from_secs(s as u64)),
                _ => Err(format!("ServiceTimeout: expected an integer from 1 to 3600 (seconds), got {}", function_base::properties::describe_value(v))),
            },
        }
    }

    /// The PhysicalResourceId reported when a Create fails before a resource exists:
    /// recognisable and stable for this request, never empty, never random.
    pub fn create_failed_marker(&self) -> String {
        format!("{CREATE_FAILED_PREFIX}{}", self.request_id)
    }
}

pub const CREATE_FAILED_PREFIX: &str = "create-failed:";

/// The ids of a raw event, for answering one that does not parse.
pub(crate) struct RawIds {
    pub response_url: String,
    pub request_id: String,
    pub stack_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

impl RawIds {
    pub(crate) fn find(event: &Value) -> Option<RawIds> {
        let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
        Some(RawIds {
            response_url: text("ResponseURL")?,
            request_id: text("RequestId").unwrap_or_default(),
            stack_id: text("StackId").unwrap_or_default(),
            logical_resource_id: text("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: text("PhysicalResourceId").filter(|s| !s.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_response_url() {
        let event = serde_json::json!({
            "RequestType": "Create", "ServiceToken": "arn", "ResponseURL": "https://h/k?X-Amz-Signature=secret",
            "StackId": "s", "RequestId": "r", "LogicalResourceId": "L", "ResourceType": "Custom::X", "ResourceProperties": {}
        });
        let request = Request::parse(&event).unwrap();
        let shown = format!("{request:?}");
        assert!(!shown.contains("secret") && shown.contains("<redacted>"), "{shown}");
    }
}
