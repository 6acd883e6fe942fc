//! A tiny real Lambda function for testing the local cloud (Runtime API, Invoke API and the
//! CloudFormation driver). Payload commands, all optional:
//!   {"sleep_ms": N}       sleep first (to miss a deadline)
//!   {"fail": "message"}   return an error
//!   {"exit": CODE}        exit the process (a crash)
//!   {"env": true}         return the process environment
//!   {"self_invoke": P}    invoke this function again with payload P (InvocationType=Event)
//! Anything else is echoed back. A CloudFormation event (RequestType + ResponseURL) is answered
//! by a PUT to its ResponseURL, shaped by ResourceProperties (strings, as CloudFormation sends):
//!   Status (SUCCESS), Reason, PhysicalResourceId, Data, NoEcho, PadReason (N extra bytes),
//!   ContentType (header value, "" by default; "omit" sends none),
//!   ContentLength ("bytes" | "chars": counts characters | "chunked": none, chunked encoding),
//!   Responses (how many PUTs, 1 by default).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(message) = payload.get("fail").and_then(Value::as_str) {
        return Err(message.into());
    }
    if let Some(code) = payload.get("exit").and_then(Value::as_i64) {
        eprintln!("exiting with {code} as asked");
        std::process::exit(code as i32);
    }
    if payload.get("env").is_some() {
        return Ok(json!(std::env::vars().collect::<std::collections::BTreeMap<_, _>>()));
    }
    if let Some(next) = payload.get("self_invoke") {
        return self_invoke(next).await;
    }
    if payload.get("RequestType").is_some() && payload.get("ResponseURL").is_some() {
        return respond_to_cloudformation(&payload).await;
    }
    println!("echoing {payload}");
    Ok(payload)
}

async fn self_invoke(next: &Value) -> Result<Value, Error> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let client = aws_sdk_lambda::Client::new(&config);
    let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME")?;
    let output = client
        .invoke()
        .function_name(name)
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(serde_json::to_vec(next)?))
        .send()
        .await?;
    Ok(json!({"self_invoked": output.status_code()}))
}

async fn respond_to_cloudformation(event: &Value) -> Result<Value, Error> {
    let no_properties = json!({});
    let properties = event.get("ResourceProperties").unwrap_or(&no_properties);
    let property = |name: &str| properties.get(name).and_then(Value::as_str);
    let field = |name: &str| event.get(name).cloned().unwrap_or(Value::Null);

    let mut reason = property("Reason").unwrap_or("").to_string();
    if let Some(pad) = property("PadReason").and_then(|n| n.parse::<usize>().ok()) {
        reason.push_str(&"x".repeat(pad));
    }
    let physical_id = property("PhysicalResourceId")
        .map(str::to_string)
        .or_else(|| event.get("PhysicalResourceId").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| format!("echo-{}", field("LogicalResourceId").as_str().unwrap_or("")));
    let mut body = json!({
        "Status": property("Status").unwrap_or("SUCCESS"),
        "PhysicalResourceId": physical_id,
        "StackId": field("StackId"),
        "RequestId": field("RequestId"),
        "LogicalResourceId": field("LogicalResourceId"),
    });
    if !reason.is_empty() {
        body["Reason"] = json!(reason);
    }
    if let Some(data) = properties.get("Data") {
        body["Data"] = data.clone();
    }
    if let Some(no_echo) = property("NoEcho") {
        body["NoEcho"] = json!(no_echo == "true");
    }
    let body = body.to_string();
    let url = event["ResponseURL"].as_str().ok_or("ResponseURL is not a string")?;
    let responses = property("Responses").and_then(|n| n.parse().ok()).unwrap_or(1);
    let mut statuses = Vec::new();
    for _ in 0..responses {
        statuses.push(put(url, &body, property("ContentType").unwrap_or(""), property("ContentLength").unwrap_or("bytes")).await?);
    }
    println!("responded {statuses:?}");
    Ok(json!({"statuses": statuses}))
}

/// A hand-written HTTP/1.1 PUT, so that the headers are exactly what a test asks for.
async fn put(url: &str, body: &str, content_type: &str, content_length: &str) -> Result<u16, Error> {
    let url = url::Url::parse(url)?;
    let host = format!("{}:{}", url.host_str().ok_or("no host")?, url.port_or_known_default().ok_or("no port")?);
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let mut request = format!("PUT {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if content_type != "omit" {
        request.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    match content_length {
        "chunked" => {
            request.push_str("Transfer-Encoding: chunked\r\n\r\n");
            request.push_str(&format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()));
        }
        "chars" => request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.chars().count())),
        _ => request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len())),
    }
    let mut stream = tokio::net::TcpStream::connect(&host).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // The server may close early (e.g. after a short Content-Length): keep what was read.
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    let status: u16 = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no HTTP status")?;
    if status >= 300 {
        println!("PUT refused: {response}");
    }
    Ok(status)
}
