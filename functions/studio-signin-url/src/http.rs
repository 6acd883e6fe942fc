//! The Function URL's side: the payload 2.0 request event in, an HTTP response out.

use base64::Engine;
use serde_json::{Value, json};

/// What the function reads of a Function URL request.
#[derive(Debug)]
pub struct Request {
    /// requestContext.authorizer.iam.userArn: the principal that signed the request.
    pub caller_arn: String,
    pub method: String,
    pub source_ip: String,
    /// The body, base64-decoded when the URL encoded it.
    pub body: Vec<u8>,
}

impl Request {
    /// None without a Function URL identity (a direct invoke, or a URL without AuthType AWS_IAM).
    pub fn from_event(event: &Value) -> Option<Request> {
        let context = event.get("requestContext")?;
        let caller_arn = context.pointer("/authorizer/iam/userArn")?.as_str().filter(|arn| !arn.is_empty())?;
        let text = |pointer: &str| context.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string();
        let body = event.get("body").and_then(Value::as_str).unwrap_or_default();
        let body = if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            // Undecodable: kept as it is, and then refused as a body that is not JSON.
            base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_else(|_| body.as_bytes().to_vec())
        } else {
            body.as_bytes().to_vec()
        };
        Some(Request { caller_arn: caller_arn.to_string(), method: text("/http/method"), source_ip: text("/http/sourceIp"), body })
    }
}

/// A response as a Function URL passes it on: status, headers and a JSON body (a string).
/// Never stored by a cache on the way: a sign-in URL is a credential.
pub fn response(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_and_body_come_from_the_url_event() {
        let event = json!({"version": "2.0", "body": "eyJhIjoxfQ==", "isBase64Encoded": true,
            "requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:sts::123456789012:assumed-role/R/s"}},
                "http": {"method": "POST", "sourceIp": "10.0.0.1"}}});
        let request = Request::from_event(&event).unwrap();
        assert_eq!(
            (request.caller_arn.as_str(), request.method.as_str(), request.body.as_slice()),
            ("arn:aws:sts::123456789012:assumed-role/R/s", "POST", b"{\"a\":1}".as_slice())
        );
        assert!(Request::from_event(&json!({"DomainId": "d-abc123", "UserProfileName": "alice"})).is_none());
        assert!(Request::from_event(&json!({"requestContext": {"authorizer": null, "http": {"method": "POST"}}})).is_none());
    }
}
