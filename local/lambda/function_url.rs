//! Lambda Function URLs (AuthType AWS_IAM): the payload 2.0 event a URL hands the function for
//! a signed request, and the HTTP response the URL makes of the function's answer.
//!
//! Modelled on the Lambda developer guide ("Invoking Lambda function URLs": request and response
//! payloads): a response object with `statusCode` is taken as it is (headers, body,
//! isBase64Encoded); any other JSON answer becomes a 200 with that JSON as body; a function
//! error or timeout becomes a 502.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};

use super::types::Outcome;
use crate::{ACCOUNT_ID, REGION, uuid_v4};

/// The URL id Lambda gives the function's URL (`https://<id>.lambda-url.<region>.on.aws/`).
const URL_ID: &str = "localcloudurl000000000000000000";

/// The event of a signed request from `caller_arn` (the principal's ARN as IAM reports it,
/// e.g. `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`) to the URL's root path.
pub fn signed_request_event(caller_arn: &str, method: &str, body: &str) -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let domain = format!("{URL_ID}.lambda-url.{REGION}.on.aws");
    // Lambda reports the principal's unique id (AROA... for a role) with the session name.
    let session = caller_arn.rsplit_once('/').map(|(_, session)| session).unwrap_or_default();
    let user_id = if caller_arn.contains(":assumed-role/") { format!("AROAEXAMPLEROLEID0000:{session}") } else { "AIDAEXAMPLEUSERID0000".to_string() };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": domain,
            "x-amz-date": "20261201T000000Z",
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": URL_ID,
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLEACCESSKEY",
                "accountId": ACCOUNT_ID,
                "callerId": user_id,
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": caller_arn,
                "userId": user_id,
            }},
            "domainName": domain,
            "domainPrefix": URL_ID,
            "http": {"method": method, "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local-cloud"},
            "requestId": uuid_v4(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": now.as_millis() as u64,
        },
        "body": body,
        "isBase64Encoded": false,
    })
}

/// What the URL answered.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionUrlResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl FunctionUrlResponse {
    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The HTTP response a Function URL makes of an invocation's outcome.
pub(super) fn http_response(outcome: Outcome) -> FunctionUrlResponse {
    let json_headers = || BTreeMap::from([("content-type".to_string(), "application/json".to_string())]);
    match outcome {
        Outcome::Response(Value::Object(object)) if object.contains_key("statusCode") => {
            let status = object.get("statusCode").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok());
            let Some(status) = status else { return bad_gateway() };
            let headers = object
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| h.iter().filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default();
            let body = object.get("body").and_then(Value::as_str).unwrap_or_default();
            let body = if object.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                match base64::engine::general_purpose::STANDARD.decode(body) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(_) => return bad_gateway(),
                }
            } else {
                body.to_string()
            };
            FunctionUrlResponse { status, headers, body }
        }
        Outcome::Response(value) => FunctionUrlResponse { status: 200, headers: json_headers(), body: value.to_string() },
        Outcome::Error(_) | Outcome::TimedOut => bad_gateway(),
    }
}

fn bad_gateway() -> FunctionUrlResponse {
    let headers = BTreeMap::from([("content-type".to_string(), "application/json".to_string())]);
    FunctionUrlResponse { status: 502, headers, body: json!({"Message": "Internal Server Error"}).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_as_a_function_url_makes_them() {
        let answer = json!({"statusCode": 403, "headers": {"Content-Type": "application/json"}, "body": "{\"a\":1}"});
        let response = http_response(Outcome::Response(answer));
        assert_eq!((response.status, response.header("content-type"), response.json()), (403, Some("application/json"), json!({"a": 1})));
        let response = http_response(Outcome::Response(json!({"statusCode": 200, "body": "aGk=", "isBase64Encoded": true})));
        assert_eq!(response.body, "hi");
        let response = http_response(Outcome::Response(json!({"AuthorizedUrl": "x"})));
        assert_eq!((response.status, response.json()), (200, json!({"AuthorizedUrl": "x"})));
        assert_eq!(http_response(Outcome::TimedOut).status, 502);
        assert_eq!(http_response(Outcome::Error(json!({"errorType": "x"}))).status, 502);
    }

    #[test]
    fn the_event_carries_the_signed_principal() {
        let event = signed_request_event("arn:aws:sts::123456789012:assumed-role/Portal/alice", "POST", "{}");
        assert_eq!(event["requestContext"]["authorizer"]["iam"]["userArn"], "arn:aws:sts::123456789012:assumed-role/Portal/alice");
        assert_eq!(event["requestContext"]["authorizer"]["iam"]["userId"], "AROAEXAMPLEROLEID0000:alice");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
    }
}
