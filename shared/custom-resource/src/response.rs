//! The response body CloudFormation reads, always within its 4096-byte limit.

use serde::Serialize;
use std::collections::BTreeMap;

pub const MAX_BODY_BYTES: usize = 4096;
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    pub data: BTreeMap<String, String>,
}

impl Response {
    /// Serialize, turning what cannot fit into a FAILED that says so, and trimming the
    /// Reason last (it is the only part that can be shortened without lying).
    pub fn into_body(mut self) -> Vec<u8> {
        if self.status == Status::Failed && self.reason.as_deref().is_none_or(str::is_empty) {
            self.reason = Some("failed without a reason (this is a bug in the function)".into());
        }
        if self.physical_resource_id.len() > MAX_PHYSICAL_ID_BYTES {
            let id_len = self.physical_resource_id.len();
            self.physical_resource_id = truncate(&self.physical_resource_id, MAX_PHYSICAL_ID_BYTES).to_string();
            self.fail(format!("PhysicalResourceId of {id_len} bytes exceeds CloudFormation's {MAX_PHYSICAL_ID_BYTES}-byte limit"));
        }
        let body = self.to_json();
        if body.len() <= MAX_BODY_BYTES {
            return body;
        }
        if !self.data.is_empty() {
            let keys: Vec<&str> = self.data.keys().map(String::as_str).collect();
            let reason = format!(
                "the response Data ({} attributes: {}) makes the response {} bytes, over CloudFormation's {MAX_BODY_BYTES}-byte limit",
                keys.len(),
                keys.join(", "),
                body.len()
            );
            self.data.clear();
            self.fail(reason);
        }
        self.fit_reason()
    }

    fn fail(&mut self, reason: String) {
        self.status = Status::Failed;
        self.reason = Some(match self.reason.take() {
            Some(previous) if !previous.is_empty() => format!("{reason}; {previous}"),
            _ => reason,
        });
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }

    /// Longest Reason prefix (on a char boundary) whose body fits, found by bisection
    /// because JSON escaping makes the serialized length non-linear in the text.
    fn fit_reason(mut self) -> Vec<u8> {
        const MARK: &str = " ... (truncated)";
        let full = self.reason.take().unwrap_or_default();
        let (mut low, mut high) = (0usize, full.len());
        let mut best = None;
        while low <= high {
            let mid = (low + high) / 2;
            self.reason = Some(format!("{}{MARK}", truncate(&full, mid)));
            let body = self.to_json();
            if body.len() <= MAX_BODY_BYTES {
                best = Some(body);
                low = mid + 1;
            } else if mid == 0 {
                break;
            } else {
                high = mid - 1;
            }
        }
        best.unwrap_or_else(|| {
            self.reason = Some("response too large".into());
            self.to_json()
        })
    }
}

fn truncate(text: &str, max_bytes: usize) -> &str {
    let mut end = max_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: Status, reason: Option<&str>) -> Response {
        Response {
            status,
            reason: reason.map(str::to_string),
            physical_resource_id: "d-abc".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            request_id: "r".into(),
            logical_resource_id: "Domain".into(),
            no_echo: false,
            data: BTreeMap::new(),
        }
    }

    fn parse(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn long_non_ascii_reason_is_trimmed_to_fit_in_bytes() {
        let body = response(Status::Failed, Some(&"é\"🙂".repeat(3000))).into_body();
        assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
        assert!(body.len() > MAX_BODY_BYTES - 16, "trimmed too much: {}", body.len());
        let v = parse(&body);
        assert!(v["Reason"].as_str().unwrap().ends_with("(truncated)"));
        assert_eq!(v["Status"], "FAILED");
    }

    #[test]
    fn oversized_data_becomes_failed_naming_the_attributes() {
        let mut r = response(Status::Success, None);
        r.data.insert("Big".into(), "x".repeat(5000));
        let v = parse(&r.into_body());
        assert_eq!(v["Status"], "FAILED");
        assert!(v["Reason"].as_str().unwrap().contains("Big"));
        assert_eq!(v["Data"], serde_json::json!({}));
    }

    #[test]
    fn failed_always_has_a_reason() {
        let v = parse(&response(Status::Failed, None).into_body());
        assert!(!v["Reason"].as_str().unwrap().is_empty());
    }
}
