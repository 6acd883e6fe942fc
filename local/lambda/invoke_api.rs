//! The Invoke API: POST /2015-03-31/functions/{FunctionName}/invocations, served to clients on
//! the service endpoint and to each function process on its own endpoint.

use std::sync::Weak;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Value, json};

use super::http::{bad_request, header, read_body};
use super::state::Inner;
use super::types::{Error, InvocationSource, Outcome, timed_out_document};
use crate::httpd;

pub(super) const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

pub(super) async fn invoke_api(service: &Weak<Inner>, caller: Option<&str>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(inner) = service.upgrade() else {
        return aws_error(500, "ServiceException", "the Lambda emulator is shutting down");
    };
    let path = req.uri().path().to_string();
    let function_name = path
        .strip_prefix(INVOKE_PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .map(|name| percent_encoding::percent_decode_str(name).decode_utf8_lossy().into_owned());
    let (Some(function_name), true) = (function_name, req.method() == Method::POST) else {
        return aws_error(404, "UnknownOperationException", "unknown operation");
    };
    let name = name_from_function_name(&function_name);
    if let Some(key) = header(&req, "authorization").as_deref().and_then(emulator_kit::access_key_id) {
        crate::lock(&inner.signed).push((key, "Invoke".to_string()));
    }
    let invocation_type = header(&req, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    let Ok(body) = read_body(req).await else { return bad_request("unreadable body") };

    let asynchronous = match invocation_type.as_str() {
        "Event" => true,
        "RequestResponse" | "DryRun" => false,
        other => {
            return aws_error(400, "InvalidParameterValueException", &format!("bad InvocationType {other:?}"));
        }
    };
    let payload: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(payload) => payload,
            Err(e) => return aws_error(400, "InvalidRequestContentException", &format!("Could not parse request body into json: {e}")),
        }
    };
    if invocation_type == "DryRun" {
        return match inner.function(&name) {
            Some(_) => httpd::response(204, &[], Bytes::new()),
            None => service_error(&Error::FunctionNotFound(name)),
        };
    }
    let source = match caller {
        None => InvocationSource::Api,
        Some(caller) if caller == name => InvocationSource::SelfInvoke,
        Some(caller) => InvocationSource::Function(caller.to_string()),
    };
    let reply = match inner.submit(&name, payload, body.len(), source, !asynchronous) {
        Ok(reply) => reply,
        Err(error) => return service_error(&error),
    };
    drop(inner); // do not keep the service alive while waiting for the function
    let Some(reply) = reply else {
        return httpd::response(202, &[], Bytes::new());
    };
    let Ok(outcome) = reply.await else {
        return service_error(&Error::Stopped(name));
    };
    let version = ("x-amz-executed-version", "$LATEST");
    match outcome {
        Outcome::Response(value) => httpd::response(200, &[("content-type", "application/json"), version], serde_json::to_vec(&value).unwrap_or_default()),
        Outcome::Error(document) => function_error_response(&document),
        Outcome::TimedOut => function_error_response(&timed_out_document()),
    }
}

fn function_error_response(document: &Value) -> Response<Full<Bytes>> {
    httpd::response(
        200,
        &[("content-type", "application/json"), ("x-amz-executed-version", "$LATEST"), ("x-amz-function-error", "Unhandled")],
        serde_json::to_vec(document).unwrap_or_default(),
    )
}

/// FunctionName may be a name, "NAME:QUALIFIER", a partial ARN "ACCOUNT:function:NAME" or an ARN.
fn name_from_function_name(function_name: &str) -> String {
    let parts: Vec<&str> = function_name.split(':').collect();
    match parts.iter().position(|part| *part == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1].to_string(),
        _ => parts[0].to_string(),
    }
}

fn service_error(error: &Error) -> Response<Full<Bytes>> {
    aws_error(error.status(), error.code(), &error.to_string())
}

/// An error in the shape restJson1 clients parse: the code in x-amzn-ErrorType and __type.
fn aws_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"__type": code, "Type": "User", "message": message});
    httpd::response(status, &[("content-type", "application/json"), ("x-amzn-errortype", code)], body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::function_arn;

    #[test]
    fn function_names_and_arns() {
        assert_eq!(name_from_function_name("f"), "f");
        assert_eq!(name_from_function_name("f:$LATEST"), "f");
        assert_eq!(name_from_function_name("123456789012:function:f"), "f");
        assert_eq!(name_from_function_name(&function_arn("f")), "f");
        assert_eq!(name_from_function_name("arn:aws:lambda:us-east-1:123456789012:function:f:alias"), "f");
    }
}
