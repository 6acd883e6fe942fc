//! AWS's answers, per protocol: the error an emulator or a fault makes, and how it is written.

use std::borrow::Cow;

use hyper::Response;
use serde_json::{Map, Value, json};

use crate::calls::{Fault, Outage};
use crate::http::{self, Body};
use crate::xml_escape;

/// An error answer: HTTP status, code, message, and the members some error shapes add.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    pub status: u16,
    pub code: Cow<'static, str>,
    pub message: String,
    /// E.g. Identity Center's ResourceType, RetryAfterSeconds.
    pub fields: Map<String, Value>,
}

impl AwsError {
    /// HTTP 400, or 500/503 for the codes AWS answers with those.
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        let code = code.into();
        let status = match code.as_ref() {
            "InternalFailure" | "InternalError" | "InternalServerError" | "InternalServerException" | "KMSInternalException" => 500,
            "ServiceUnavailable" | "Unavailable" => 503,
            _ => 400,
        };
        Self { status, code, message: message.into(), fields: Map::new() }
    }

    pub fn with_status(self, status: u16) -> Self {
        Self { status, ..self }
    }

    pub fn with_field(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.to_string(), value);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// The body is not JSON, or a member has the wrong JSON type.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::new("UnknownOperationException", format!("Unknown operation: '{target}'"))
    }
}

/// What a successful call answers: a JSON document, or the XML inside the query protocols'
/// `<ActionResponse>` wrapper.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Json(Value),
    Xml(String),
}

/// The wire protocol of a call: how its answer and its errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsJson1_1: `{"__type": code, <message_key>: message}` (SageMaker and KMS write
    /// "message", Identity Center "Message").
    AwsJson { message_key: &'static str },
    /// restJson1 as EFS writes errors: `x-amzn-ErrorType` and `{"ErrorCode", "Message"}`.
    RestJson,
    /// EC2's query protocol: `<ActionResponse>` with a requestId; `<Response><Errors>`.
    Ec2Query,
    /// The AWS query protocol (CloudFormation): `<ActionResponse><ActionResult>`; `<ErrorResponse>`.
    Query { namespace: &'static str },
}

impl Protocol {
    /// The error this protocol's services answer for a fault (not [`Outage::NotImplemented`],
    /// which is a bare HTML page whatever the protocol). `action` is the IAM action named in
    /// access-denied messages.
    pub fn fault_error(self, action: &str, fault: &Fault) -> AwsError {
        let ec2 = self == Protocol::Ec2Query;
        match fault {
            Fault::Throttled => match self {
                Protocol::Ec2Query => AwsError::new("RequestLimitExceeded", "Request limit exceeded.").with_status(503),
                Protocol::RestJson => AwsError::new("ThrottlingException", "Rate exceeded").with_status(429),
                Protocol::Query { .. } => AwsError::new("Throttling", "Rate exceeded"),
                Protocol::AwsJson { .. } => AwsError::new("ThrottlingException", "Rate exceeded"),
            },
            Fault::Denied => match self {
                Protocol::Ec2Query => AwsError::new(
                    "UnauthorizedOperation",
                    format!("You are not authorized to perform this operation. User is not authorized to perform: {action}"),
                ),
                Protocol::RestJson => AwsError::new("AccessDeniedException", format!("User is not authorized to perform: {action}")).with_status(403),
                Protocol::Query { .. } => AwsError::new("AccessDenied", format!("User is not authorized to perform: {action}")).with_status(403),
                Protocol::AwsJson { .. } => AwsError::new("AccessDeniedException", format!("User is not authorized to perform: {action}")),
            },
            Fault::Refused { code, message } | Fault::Outage(Outage::Refusal { code, message }) => AwsError::new(code.clone(), message.clone()),
            Fault::Outage(Outage::ServiceUnavailable) if ec2 => AwsError::new("Unavailable", "The server is overloaded and can't handle the request."),
            Fault::Outage(Outage::ServiceUnavailable) => AwsError::new("ServiceUnavailable", "The service is unavailable. Please try again later."),
            Fault::Outage(_) if ec2 => AwsError::new("InternalError", "An internal error has occurred."),
            Fault::Outage(_) => AwsError::new("InternalFailure", "We encountered an internal error. Please try again."),
        }
    }

    /// The HTTP answer of one call of `operation`.
    pub(crate) fn render(self, operation: &str, request_id: &str, result: Result<Output, AwsError>) -> Response<Body> {
        match (self, result) {
            (_, Ok(Output::Json(value))) => {
                let content_type = if self == Protocol::RestJson { "application/json" } else { "application/x-amz-json-1.1" };
                http::response(200, &[("content-type", content_type), ("x-amzn-requestid", request_id)], value.to_string())
            }
            (Protocol::Query { namespace }, Ok(Output::Xml(inner))) => http::response(
                200,
                &[("content-type", "text/xml")],
                format!(
                    "<{operation}Response xmlns=\"{namespace}\"><{operation}Result>{inner}</{operation}Result>\
                     <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
                ),
            ),
            (_, Ok(Output::Xml(inner))) => http::response(
                200,
                &[("content-type", "text/xml;charset=UTF-8")],
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{operation}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
                     <requestId>{request_id}</requestId>{inner}</{operation}Response>"
                ),
            ),
            (Protocol::AwsJson { message_key }, Err(error)) => {
                let mut body = json!({ "__type": error.code, message_key: error.message });
                body.as_object_mut().into_iter().for_each(|b| b.extend(error.fields.clone()));
                http::response(error.status, &[("content-type", "application/x-amz-json-1.1"), ("x-amzn-requestid", request_id)], body.to_string())
            }
            (Protocol::RestJson, Err(error)) => {
                let mut body = json!({ "ErrorCode": error.code, "Message": error.message });
                body.as_object_mut().into_iter().for_each(|b| b.extend(error.fields.clone()));
                let headers = [("content-type", "application/json"), ("x-amzn-requestid", request_id), ("x-amzn-errortype", error.code.as_ref())];
                http::response(error.status, &headers, body.to_string())
            }
            (Protocol::Ec2Query, Err(error)) => http::response(
                error.status,
                &[("content-type", "text/xml;charset=UTF-8")],
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors>\
                     <RequestID>{request_id}</RequestID></Response>",
                    xml_escape(&error.code),
                    xml_escape(&error.message)
                ),
            ),
            (Protocol::Query { namespace }, Err(error)) => {
                let kind = if error.status >= 500 { "Receiver" } else { "Sender" };
                http::response(
                    error.status,
                    &[("content-type", "text/xml")],
                    format!(
                        "<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error>\
                         <RequestId>{request_id}</RequestId></ErrorResponse>",
                        xml_escape(&error.code),
                        xml_escape(&error.message)
                    ),
                )
            }
        }
    }
}

/// The page a Python web server (moto's) serves for an unhandled exception.
pub(crate) const INTERNAL_ERROR_PAGE: &str = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request.</p>\n";
