//! Continuing an operation in a fresh invocation before this one's deadline.
//!
//! The payload wraps the original event with the progress so far, and is sealed: the core
//! MACs it with the KMS HMAC key only the functions may use, and opens (verifies) it before
//! anything else when resuming. Anyone who may invoke the function can hand it a payload,
//! but only the function can make one that opens, so progress it resumes is its own.
//!
//! As sent: `{"StudioContinuation": {"Payload": "<the continuation as JSON text>", "Mac": "<base64>"}}`.
//! The MAC covers the exact text (no canonical JSON needed) and the function's name, so a
//! continuation of one function cannot be replayed to another that shares the key.

use crate::outbound::{MacError, MacSigner};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ENVELOPE_KEY: &str = "StudioContinuation";
const DOMAIN_SEPARATOR: &[u8] = b"studio-cfn continuation v1\0";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
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
            // Nobody waits for this Delete: nothing of it may be PUT anywhere.
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

/// The ResponseURL's signature is a credential: never in logs.
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

/// What an invocation was handed.
#[derive(Debug)]
pub enum Payload {
    /// A CloudFormation event (or something claiming to be one).
    Event(Value),
    /// A continuation, not yet opened: nothing in it is trusted before its MAC is verified.
    Sealed(Sealed),
    /// The envelope key with something else inside.
    Malformed { reason: String, event: Value },
}

/// A continuation as it arrived.
#[derive(Debug, Clone)]
pub struct Sealed {
    payload: String,
    mac: Vec<u8>,
}

impl Sealed {
    /// The event inside, read without trusting it: only to find where a refusal may be answered.
    pub fn untrusted_event(&self) -> Value {
        serde_json::from_str::<Value>(&self.payload).ok().and_then(|v| v.get("Event").cloned()).unwrap_or_default()
    }
}

/// Why a continuation could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the continuation's MAC could not be made or checked: {0}")]
    Mac(#[from] MacError),
    #[error("the continuation payload is not valid JSON of a continuation: {0}")]
    Corrupt(String),
}

pub fn split(payload: Value) -> Payload {
    match payload {
        Value::Object(mut map) if map.contains_key(ENVELOPE_KEY) => {
            let envelope = map.remove(ENVELOPE_KEY).unwrap_or_default();
            let text = |key: &str| envelope.get(key).and_then(Value::as_str).map(str::to_string);
            match (text("Payload"), text("Mac").and_then(|m| BASE64.decode(m).ok())) {
                (Some(payload), Some(mac)) => Payload::Sealed(Sealed { payload, mac }),
                _ => Payload::Malformed {
                    reason: "a continuation without a signed Payload and Mac (continuations are only accepted as this function sealed them)".into(),
                    event: envelope.get("Event").cloned().unwrap_or_default(),
                },
            }
        }
        other => Payload::Event(other),
    }
}

/// What is MACed: the payload text, bound to the function that may resume it. KMS takes at
/// most 4096 bytes, so the (up to 256 KiB) payload is hashed first.
fn message(function_name: &str, payload: &str) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(DOMAIN_SEPARATOR);
    hash.update(function_name.as_bytes());
    hash.update([0]);
    hash.update(payload.as_bytes());
    hash.finalize().to_vec()
}

/// The invoke payload carrying `continuation`, MACed.
pub async fn seal(continuation: &Continuation, function_name: &str, signer: &dyn MacSigner) -> Result<Vec<u8>, SealError> {
    let payload = serde_json::to_string(continuation).map_err(|e| SealError::Corrupt(e.to_string()))?;
    let mac = signer.generate_mac(&message(function_name, &payload)).await?;
    let envelope = json!({ ENVELOPE_KEY: { "Payload": payload, "Mac": BASE64.encode(mac) } });
    serde_json::to_vec(&envelope).map_err(|e| SealError::Corrupt(e.to_string()))
}

/// The continuation, once its MAC is verified; nothing of it is read before.
pub async fn open(sealed: &Sealed, function_name: &str, signer: &dyn MacSigner) -> Result<Continuation, SealError> {
    signer.verify_mac(&message(function_name, &sealed.payload), &sealed.mac).await?;
    serde_json::from_str(&sealed.payload).map_err(|e| SealError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemorySigner;

    #[test]
    fn a_cleanup_carries_no_response_url_and_debug_shows_none() {
        let event = json!({"RequestType": "Update", "ResponseURL": "https://h/k?X-Amz-Signature=secret", "PhysicalResourceId": "old"});
        let cleanup = Continuation::cleanup(&event, "new", 1);
        assert_eq!(cleanup.event["ResponseURL"], "");
        let mut c = cleanup.clone();
        c.event = event;
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret") && shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test]
    async fn a_sealed_continuation_opens_only_unchanged_for_the_same_function() {
        let signer = MemorySigner::new(b"key");
        let c = Continuation::cleanup(&json!({"RequestType": "Update", "PhysicalResourceId": "d-victim"}), "d-new", 7);
        let sealed = seal(&c, "studio-domain", &signer).await.unwrap();
        let Payload::Sealed(s) = split(serde_json::from_slice(&sealed).unwrap()) else { panic!("not sealed") };
        assert_eq!(open(&s, "studio-domain", &signer).await.unwrap(), c);
        // Another function sharing the key, another key, or one changed byte: refused.
        assert_eq!(open(&s, "studio-space", &signer).await.unwrap_err(), SealError::Mac(MacError::Invalid));
        assert_eq!(open(&s, "studio-domain", &MemorySigner::new(b"other")).await.unwrap_err(), SealError::Mac(MacError::Invalid));
        let tampered = Sealed { payload: s.payload.replace("d-new", "d-vict"), mac: s.mac.clone() };
        assert_eq!(open(&tampered, "studio-domain", &signer).await.unwrap_err(), SealError::Mac(MacError::Invalid));
        // An unsigned envelope (the old format, or a forgery) never reaches the MAC check.
        let unsigned = json!({ENVELOPE_KEY: {"Event": {"RequestType": "Delete"}, "Progress": null}});
        assert!(matches!(split(unsigned), Payload::Malformed { .. }));
    }
}
