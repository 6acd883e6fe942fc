//! Acting only on CloudFormation's own requests.
//!
//! Anyone who may invoke the function can hand it a made-up event or continuation, and the
//! ownership tags it would be compared with are readable. What a caller cannot forge is
//! CloudFormation's own state, so before any step that changes anything, every invocation
//! (continuations included) asks CloudFormation whether the stack is doing this to that
//! resource now:
//! - Create: the resource is CREATE_IN_PROGRESS, of the event's ResourceType;
//! - Update: the resource is UPDATE_IN_PROGRESS with the event's PhysicalResourceId;
//! - Delete: the resource is DELETE_IN_PROGRESS with the event's PhysicalResourceId, or the
//!   stack is cleaning up or rolling back and the event's PhysicalResourceId is NOT the one
//!   CloudFormation shows for the resource (a replaced id, a rolled-back create): the id a
//!   stack keeps is deleted only by that resource's own Delete;
//! - the cleanup of a replacement a failed Update left (only ever from a continuation this
//!   function sealed, and only a Delete): the stack is in or after that failed update
//!   (UPDATE_IN_PROGRESS, UPDATE_ROLLBACK_*) and the resource's physical id is NOT the
//!   replacement, so the live resource, which carries the same ownership tags, is never
//!   deleted this way. A stable status opens no window for anything else.
//!
//! A window proves that CloudFormation is doing something, not who sent the event: what the
//! function may do inside one is bounded elsewhere (sealed continuations, ownership on every
//! step, the recorded delete options).
//!
//! A continuation is also bounded in time: its StartedAtMs may not lie in the future, the
//! operation may not be older than its ServiceTimeout, and its attempts are capped.

use crate::continuation::Continuation;
use crate::event::{MAX_SERVICE_TIMEOUT, Request, RequestType};
use crate::outbound::{ResourceState, StackState};
use std::time::Duration;

/// Clock skew tolerated between Lambda hosts for a continuation's StartedAtMs.
const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// At most one continuation a second over the longest ServiceTimeout: a continuation is made
/// only when the invocation's deadline is within its margin (at least 1 s) and Lambda's shortest
/// timeout is 1 s, so a legitimate chain cannot be longer.
pub const MAX_ATTEMPTS: u32 = MAX_SERVICE_TIMEOUT.as_secs() as u32;

/// Stack statuses in which CloudFormation deletes resources it no longer keeps (all
/// transitional: a stable status opens no window for an event).
const DELETING_STACK_STATUSES: [&str; 5] = [
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
];

/// Stack statuses during and after a failed update, while its replacement may still be deleted
/// (the deletion may outlive the rollback, never ServiceTimeout).
const FAILED_UPDATE_STACK_STATUSES: [&str; 5] =
    ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"];

/// What the invocation is about to do, which CloudFormation must show it doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Claim<'a> {
    Create {
        resource_type: &'a str,
    },
    Update {
        physical_id: &'a str,
    },
    Delete {
        physical_id: &'a str,
    },
    /// The Delete of `replacement`, made by a failed Update of this resource.
    CleanupReplacement {
        replacement: &'a str,
    },
}

impl<'a> Claim<'a> {
    pub fn of(request: &'a Request, cleanup: bool) -> Self {
        let physical_id = request.physical_resource_id.as_deref().unwrap_or_default();
        match request.request_type {
            _ if cleanup => Claim::CleanupReplacement { replacement: physical_id },
            RequestType::Create => Claim::Create { resource_type: &request.resource_type },
            RequestType::Update => Claim::Update { physical_id },
            RequestType::Delete => Claim::Delete { physical_id },
        }
    }
}

enum Decision {
    Allowed,
    Refused(String),
    /// The resource alone does not tell: the stack's status decides.
    AskStack,
}

/// The rules, given what CloudFormation shows; `stack_status` only once asked for.
fn decide(claim: Claim, resource: &ResourceState, stack_status: Option<&str>) -> Decision {
    let shown = format!(
        "CloudFormation shows the resource {} (PhysicalResourceId {:?}, {})",
        resource.status,
        resource.physical_id.as_deref().unwrap_or_default(),
        resource.resource_type
    );
    let is = |status: &str, physical_id: &str| resource.status == status && resource.physical_id.as_deref() == Some(physical_id);
    match (claim, stack_status) {
        (Claim::Create { resource_type }, _) if resource.status == "CREATE_IN_PROGRESS" && resource.resource_type == resource_type => Decision::Allowed,
        (Claim::Create { resource_type }, _) => Decision::Refused(format!("{shown}, not CREATE_IN_PROGRESS as {resource_type}")),
        (Claim::Update { physical_id }, _) if is("UPDATE_IN_PROGRESS", physical_id) => Decision::Allowed,
        (Claim::Update { physical_id }, _) => Decision::Refused(format!("{shown}, not UPDATE_IN_PROGRESS as {physical_id:?}")),
        (Claim::Delete { physical_id }, _) if is("DELETE_IN_PROGRESS", physical_id) => Decision::Allowed,
        (Claim::Delete { .. } | Claim::CleanupReplacement { .. }, None) => Decision::AskStack,
        (Claim::Delete { physical_id }, Some(stack)) if resource.physical_id.as_deref() == Some(physical_id) => {
            Decision::Refused(format!("{shown} in a stack {stack}: {physical_id:?} is the id the stack keeps, deleted only by that resource's own Delete"))
        }
        (Claim::Delete { .. }, Some(stack)) if DELETING_STACK_STATUSES.contains(&stack) => Decision::Allowed,
        (Claim::Delete { physical_id }, Some(stack)) => {
            Decision::Refused(format!("{shown} in a stack {stack}: not deleting {physical_id:?}, nor cleaning up or rolling back"))
        }
        (Claim::CleanupReplacement { replacement }, Some(_)) if resource.physical_id.as_deref() == Some(replacement) => {
            Decision::Refused(format!("{shown}: {replacement:?} is the resource the stack keeps, not a replacement left by a failed update"))
        }
        (Claim::CleanupReplacement { .. }, Some(stack)) if FAILED_UPDATE_STACK_STATUSES.contains(&stack) => Decision::Allowed,
        (Claim::CleanupReplacement { replacement }, Some(stack)) => {
            Decision::Refused(format!("the stack is {stack}: not in a failed update that could have left {replacement:?} behind"))
        }
    }
}

/// A continuation that cannot be a link of a legitimate chain.
pub fn check_continuation(continuation: &Continuation, service_timeout: Duration, now_ms: u64) -> Result<(), String> {
    let skew = CLOCK_SKEW.as_millis() as u64;
    if continuation.started_at_ms > now_ms.saturating_add(skew) {
        return Err(format!("the continuation's StartedAtMs {} lies in the future", continuation.started_at_ms));
    }
    let age = Duration::from_millis(now_ms.saturating_sub(continuation.started_at_ms));
    if age > service_timeout + CLOCK_SKEW {
        return Err(format!("the operation started {} s ago, longer than its ServiceTimeout of {} s allows", age.as_secs(), service_timeout.as_secs()));
    }
    if !(1..=MAX_ATTEMPTS).contains(&continuation.attempt) {
        return Err(format!("continuation attempt {} is not between 1 and {MAX_ATTEMPTS}", continuation.attempt));
    }
    Ok(())
}

/// Ok when CloudFormation shows the stack doing what `request` claims (`cleanup`: the Delete
/// of a replacement, from a sealed continuation); otherwise why not (a refusal: nothing may be
/// changed). Errors asking are refusals too: fail closed.
pub async fn verify(stacks: &dyn StackState, request: &Request, cleanup: bool) -> Result<(), String> {
    if cleanup && request.request_type != RequestType::Delete {
        return Err(format!("a replacement's cleanup is a Delete, not a {}", request.request_type.as_str()));
    }
    let claim = Claim::of(request, cleanup);
    let resource = stacks.resource(&request.stack_id, &request.logical_resource_id).await.map_err(|e| e.to_string())?;
    if resource.stack_id != request.stack_id {
        return Err(format!("the StackId {:?} is not the id of a stack (CloudFormation names {:?})", request.stack_id, resource.stack_id));
    }
    let decision = match decide(claim, &resource, None) {
        Decision::AskStack => decide(claim, &resource, Some(&stacks.stack_status(&request.stack_id).await.map_err(|e| e.to_string())?)),
        decision => decision,
    };
    match decision {
        Decision::Allowed => Ok(()),
        Decision::Refused(reason) => Err(reason),
        Decision::AskStack => Err("CloudFormation's state is undecided".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(status: &str, physical_id: Option<&str>) -> ResourceState {
        ResourceState { stack_id: "s".into(), status: status.into(), physical_id: physical_id.map(str::to_string), resource_type: "Custom::Domain".into() }
    }

    fn allowed(claim: Claim, r: &ResourceState, stack: Option<&str>) -> bool {
        match decide(claim, r, stack) {
            Decision::Allowed => true,
            Decision::Refused(_) => false,
            Decision::AskStack => panic!("asked for the stack"),
        }
    }

    #[test]
    fn create_and_update_need_the_resource_in_that_operation() {
        let create = Claim::Create { resource_type: "Custom::Domain" };
        assert!(allowed(create, &resource("CREATE_IN_PROGRESS", None), None));
        assert!(!allowed(create, &resource("CREATE_COMPLETE", Some("d-1")), None));
        assert!(!allowed(Claim::Create { resource_type: "Custom::Other" }, &resource("CREATE_IN_PROGRESS", None), None));
        let update = Claim::Update { physical_id: "d-1" };
        assert!(allowed(update, &resource("UPDATE_IN_PROGRESS", Some("d-1")), None));
        assert!(!allowed(update, &resource("UPDATE_IN_PROGRESS", Some("d-2")), None));
        assert!(!allowed(update, &resource("UPDATE_COMPLETE", Some("d-1")), None));
    }

    #[test]
    fn delete_needs_the_resource_deleting_or_the_stack_cleaning_up() {
        let delete = Claim::Delete { physical_id: "d-1" };
        assert!(allowed(delete, &resource("DELETE_IN_PROGRESS", Some("d-1")), None));
        let replaced = resource("UPDATE_COMPLETE", Some("d-2"));
        assert!(matches!(decide(delete, &replaced, None), Decision::AskStack));
        assert!(allowed(delete, &replaced, Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")));
        assert!(allowed(delete, &resource("CREATE_FAILED", None), Some("ROLLBACK_IN_PROGRESS")));
        // The id the stack keeps goes only by its own Delete, whatever the stack is doing.
        for stack in DELETING_STACK_STATUSES {
            assert!(!allowed(delete, &resource("UPDATE_COMPLETE", Some("d-1")), Some(stack)), "{stack}");
        }
        // A stable status opens no window, even for a replaced id.
        assert!(!allowed(delete, &replaced, Some("UPDATE_ROLLBACK_COMPLETE")));
        assert!(!allowed(delete, &replaced, Some("UPDATE_COMPLETE")));
        assert!(!allowed(delete, &resource("CREATE_COMPLETE", Some("d-1")), Some("CREATE_COMPLETE")));
        assert!(!allowed(delete, &resource("UPDATE_COMPLETE", Some("d-1")), Some("UPDATE_IN_PROGRESS")));
    }

    #[test]
    fn a_replacement_cleanup_never_deletes_the_resource_the_stack_keeps() {
        let cleanup = Claim::CleanupReplacement { replacement: "d-2" };
        assert!(allowed(cleanup, &resource("UPDATE_FAILED", Some("d-1")), Some("UPDATE_ROLLBACK_IN_PROGRESS")));
        assert!(allowed(cleanup, &resource("UPDATE_IN_PROGRESS", Some("d-1")), Some("UPDATE_IN_PROGRESS")));
        assert!(allowed(cleanup, &resource("UPDATE_COMPLETE", Some("d-1")), Some("UPDATE_ROLLBACK_COMPLETE")));
        assert!(!allowed(cleanup, &resource("UPDATE_FAILED", Some("d-2")), Some("UPDATE_ROLLBACK_IN_PROGRESS")));
        assert!(!allowed(cleanup, &resource("CREATE_COMPLETE", Some("d-1")), Some("CREATE_COMPLETE")));
        assert!(!allowed(cleanup, &resource("UPDATE_COMPLETE", Some("d-1")), Some("UPDATE_COMPLETE")));
    }

    #[test]
    fn continuations_are_bounded_in_time_and_attempts() {
        let now = 10_000_000;
        let at = |started_at_ms, attempt| Continuation { started_at_ms, attempt, ..Continuation::cleanup(&serde_json::json!({}), "x", 0) };
        let hour = Duration::from_secs(3600);
        assert!(check_continuation(&at(now - 1000, 1), hour, now).is_ok());
        assert!(check_continuation(&at(now + 60_000, 1), hour, now).unwrap_err().contains("future"));
        assert!(check_continuation(&at(now - 120_000, 1), Duration::from_secs(60), now).unwrap_err().contains("ServiceTimeout"));
        assert!(check_continuation(&at(now, 0), hour, now).is_err());
        assert!(check_continuation(&at(now, MAX_ATTEMPTS + 1), hour, now).is_err());
    }
}
