//! Continuing an operation in a fresh invocation before this one's deadline.
//!
//! The payload wraps the original event with the progress so far; the new invocation
//! resumes the loop as if it had never stopped.

use serde::{Deserialize, Serialize};
use serde_json::Value;

const ENVELOPE_KEY: &str = "StudioContinuation";
/// Lambda refuses asynchronous payloads over 256 KiB.
const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Continuation {
    pub event: Value,
    pub progress: Value,
    /// 1 for the first continuation.
    pub attempt: u32,
    /// When the first invocation started (epoch ms): bounds the whole operation.
    pub started_at_ms: u64,
    pub physical_resource_id: Option<String>,
    pub waiting_for: String,
    /// A Delete of a replacement that a failed Update left behind (CloudFormation keeps the
    /// old id, so it would never delete the new one). The Update was answered FAILED already:
    /// this operation is logged, not answered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleanup: bool,
    /// Since when (epoch ms) every step has ended in a server error: bounds how long those are retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_error_since_ms: Option<u64>,
}

impl Continuation {
    /// The Delete of `replacement`, made by the failed Update `event`, to run in a fresh
    /// invocation.
    pub fn cleanup(event: &Value, replacement: &str, now_ms: u64) -> Self {
        let mut event = event.clone();
        if let Some(fields) = event.as_object_mut() {
            fields.insert("RequestType".into(), Value::from("Delete"));
            fields.insert("PhysicalResourceId".into(), Value::from(replacement));
            fields.remove("OldResourceProperties");
            // Nobody waits for this Delete: nothing of it may be PUT anywhere (issue 13).
            fields.insert("ResponseURL".into(), Value::from(""));
        }
        Continuation {
            event,
            progress: Value::Null,
            attempt: 1,
            started_at_ms: now_ms,
            physical_resource_id: Some(replacement.to_string()),
            waiting_for: String::new(),
            cleanup: true,
            server_error_since_ms: None,
        }
    }
}

/// The ResponseURL's signature is a credential: never in logs (issue 13).
impl std::fmt::Debug for Continuation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut event = self.event.clone();
        if let Some(url) = event.get_mut("ResponseURL") {
            *url = Value::from("<redacted>");
        }
        f.debug_struct("Continuation")
            .field("event", &event)
            .field("progress", &self.progress)
            .field("attempt", &self.attempt)
            .field("started_at_ms", &self.started_at_ms)
            .field("physical_resource_id", &self.physical_resource_id)
            .field("waiting_for", &self.waiting_for)
            .field("cleanup", &self.cleanup)
            .finish()
    }
}

/// The CloudFormation event, and the continuation state if this is a continuation.
pub fn split(payload: Value) -> (Value, Option<Result<Continuation, String>>) {
    match payload {
        Value::Object(mut map) if map.contains_key(ENVELOPE_KEY) => {
            let envelope = map.remove(ENVELOPE_KEY).unwrap_or_default();
            match serde_json::from_value::<Continuation>(envelope.clone()) {
                Ok(c) => (c.event.clone(), Some(Ok(c))),
                Err(e) => (envelope.get("Event").cloned().unwrap_or_default(), Some(Err(format!("corrupt continuation payload: {e}")))),
            }
        }
        other => (other, None),
    }
}

/// Invoke this function again, asynchronously, with the continuation.
pub async fn schedule(lambda: &aws_sdk_lambda::Client, function_name: &str, continuation: &Continuation) -> Result<(), String> {
    let payload = serde_json::to_vec(&serde_json::json!({ ENVELOPE_KEY: continuation })).map_err(|e| e.to_string())?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(format!("continuation payload of {} bytes exceeds Lambda's {MAX_PAYLOAD_BYTES}-byte limit", payload.len()));
    }
    let result = lambda
        .invoke()
        .function_name(function_name)
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await;
    match result {
        Ok(out) if (200..300).contains(&out.status_code()) => Ok(()),
        Ok(out) => Err(format!("Lambda Invoke answered HTTP {}", out.status_code())),
        Err(e) => Err(crate::aws::describe("Lambda Invoke", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleanup_carries_no_response_url_and_debug_shows_none() {
        let event = serde_json::json!({"RequestType": "Update", "ResponseURL": "https://h/k?X-Amz-Signature=secret", "PhysicalResourceId": "old"});
        let cleanup = Continuation::cleanup(&event, "new", 1);
        assert_eq!(cleanup.event["ResponseURL"], "");
        let mut c = cleanup.clone();
        c.event = event;
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret") && shown.contains("<redacted>"), "{shown}");
    }
}
