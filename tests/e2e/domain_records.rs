//! What a domain records about its template, end to end (issues 22 and 23): the Delete options
//! the last completed Create or Update asked (`studio-cfn:delete-options`), which a Delete
//! event cannot exceed; the stacks allowed to put children into it
//! (`studio-cfn:allowed-child-stacks`); and the tags those records leave to the template.

use crate::domain::{cloud, domain, failed, succeeded, tags, with};
use crate::forged_events::{forged, invoke};
use aws_sdk_sagemaker::types::UserSettings;
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::RequestType;
use serde_json::{Value, json};

const FUNCTION: &str = "studio-domain";
/// The logical id `forged_events::forged` writes.
const LOGICAL_ID: &str = "StudioDomain";
const DELETE_OPTIONS: &str = "studio-cfn:delete-options";
const ALLOWED_CHILD_STACKS: &str = "studio-cfn:allowed-child-stacks";

/// forged_events' domain (the logical id its `forged` writes), with a tag of the template's own.
fn properties(name: &str) -> Value {
    with(crate::forged_events::properties(name), "Tags", json!([{"Key": "team", "Value": "research"}]))
}

fn profiles(cloud: &LocalCloud) -> Vec<String> {
    let snapshot = cloud.sagemaker.snapshot();
    snapshot["profiles"].as_array().into_iter().flatten().filter_map(|p| p["UserProfileName"].as_str().map(str::to_string)).collect()
}

/// Issue 22: while the victim's stack really deletes its domain (its template keeps the home EFS
/// and has no ForceDelete; a user has a profile there), a Delete of the same resource forged
/// with ForceDelete and RetentionPolicy Delete deletes no profile and no EFS. What the template
/// asks through an Update still works.
#[tokio::test]
async fn a_forged_delete_inside_the_stack_s_own_delete_does_no_more_than_the_template_asked() {
    let cloud = cloud().await;
    let template = properties("victim");
    let created = cloud.cfn.create(FUNCTION, LOGICAL_ID, template.clone()).await.unwrap();
    succeeded(&created);
    let id = created.physical_resource_id.clone();
    let efs = created.data["HomeEfsFileSystemId"].clone();
    assert_eq!(
        tags(&cloud, &id)[DELETE_OPTIONS],
        "ForceDelete=false RetentionPolicy.HomeEfsFileSystem=Retain DeleteNfsSecurityGroups=true DeleteAdopted=false"
    );
    let sm = cloud.sagemaker_client();
    sm.create_user_profile().domain_id(&id).user_profile_name("alice").user_settings(UserSettings::builder().build()).send().await.unwrap();
    local_cloud::seed::settled(&cloud).await;

    // The stack deletes the domain: CloudFormation shows the resource DELETE_IN_PROGRESS.
    cloud.cfn.event(RequestType::Delete, FUNCTION, LOGICAL_ID, Some(&id), template.clone(), None).await.unwrap();
    assert_eq!(cloud.stacks.resource(cloud.cfn.stack_id(), LOGICAL_ID).map(|r| r.status).as_deref(), Some("DELETE_IN_PROGRESS"));
    let destroy = with(with(template.clone(), "ForceDelete", json!("true")), "RetentionPolicy", json!({"HomeEfsFileSystem": "Delete"}));
    let (event, request_id) = forged(&cloud, "Delete", Some(&id), destroy).await;
    let body = invoke(&cloud, FUNCTION, event, &request_id).await;

    assert_eq!(body["Status"], "FAILED", "{body}");
    let reason = body["Reason"].as_str().unwrap_or_default();
    for expected in [
        "still has 1 user profile (alice)",
        "ForceDelete true ignored: the template's last completed Create or Update set ForceDelete to false",
        "RetentionPolicy.HomeEfsFileSystem Delete ignored",
        "update the stack",
        "A stack whose Delete failed cannot be updated",
    ] {
        assert!(reason.contains(expected), "{expected:?} in {reason}");
    }
    assert_eq!(profiles(&cloud), ["alice"], "the user's profile (home directory) is kept");
    assert_eq!(domain(&cloud, &id).map(|d| d["Status"].clone()), Some(json!("InService")));
    assert_eq!(cloud.sagemaker.snapshot()["efs"][efs.as_str()], "Available");
    for operation in ["DeleteUserProfile", "DeleteDomain", "DeleteApp"] {
        assert_eq!(cloud.sagemaker.call_count(operation), 0, "{operation}");
    }

    // The template's owners set ForceDelete by an Update (recorded at its end), then delete.
    let forced = with(template.clone(), "ForceDelete", json!(true));
    succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, forced.clone(), template).await.unwrap());
    assert_eq!(tags(&cloud, &id)[DELETE_OPTIONS], "ForceDelete=true RetentionPolicy.HomeEfsFileSystem=Retain DeleteNfsSecurityGroups=true DeleteAdopted=false");
    assert_eq!(cloud.sagemaker.call_count("UpdateDomain"), 0, "a record, not a domain setting");
    let reason = succeeded(&cloud.cfn.delete(FUNCTION, LOGICAL_ID, &id, forced).await.unwrap());
    assert!(domain(&cloud, &id).is_none() && profiles(&cloud).is_empty());
    assert_eq!(cloud.sagemaker.snapshot()["efs"][efs.as_str()], "Retained", "{reason}");
}

/// Issue 23: AllowedChildStacks is recorded on the domain (a reserved tag, `*` written `+`) and
/// changed in place; the template's own Tags are not touched by it.
#[tokio::test]
async fn allowed_child_stacks_are_recorded_on_the_domain_and_changed_in_place() {
    let cloud = cloud().await;
    let first = with(properties("shared"), "AllowedChildStacks", json!(["team-a-*", "ops"]));
    let id = {
        let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, first.clone()).await.unwrap();
        succeeded(&r);
        r.physical_resource_id
    };
    assert_eq!(tags(&cloud, &id)[ALLOWED_CHILD_STACKS], "team-a-+ ops");

    let second = with(properties("shared"), "AllowedChildStacks", json!(["team-b-*"]));
    let r = cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, second.clone(), first).await.unwrap();
    succeeded(&r);
    assert_eq!(r.physical_resource_id, id, "in place");
    assert_eq!(tags(&cloud, &id)[ALLOWED_CHILD_STACKS], "team-b-+");

    succeeded(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, properties("shared"), second).await.unwrap());
    let now = tags(&cloud, &id);
    assert!(now.get(ALLOWED_CHILD_STACKS).is_none(), "{now}");
    assert_eq!(now["team"], "research");
    assert_eq!((cloud.sagemaker.call_count("UpdateDomain"), cloud.sagemaker.call_count("CreateDomain")), (0, 1));

    // A pattern that is no stack name fails before any call, naming it.
    let calls = cloud.sagemaker.total_calls();
    let bad = with(properties("shared"), "AllowedChildStacks", json!(["team_a"]));
    let reason = failed(&cloud.cfn.update(FUNCTION, LOGICAL_ID, &id, bad, properties("shared")).await.unwrap());
    assert!(reason.starts_with("Invalid property AllowedChildStacks[0]: \"team_a\" is not a stack-name pattern"), "{reason}");
    assert_eq!(cloud.sagemaker.total_calls(), calls);
}

/// SageMaker allows 50 tags on a domain; the function keeps up to 10 of its own there (ownership,
/// records): 40 are the template's, and the 41st fails naming Tags before any call.
#[tokio::test]
async fn a_domain_takes_forty_tags_of_the_template_and_refuses_more_naming_tags() {
    let cloud = cloud().await;
    let many = |n: usize| json!((0..n).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect::<Vec<_>>());
    let reason = failed(&cloud.cfn.create(FUNCTION, LOGICAL_ID, with(properties("tagged"), "Tags", many(41))).await.unwrap());
    assert!(reason.starts_with("Invalid property Tags: at most 40 tags, got 41 (SageMaker allows 50 and this function keeps up to 10"), "{reason}");
    assert_eq!(cloud.sagemaker.total_calls(), 0);

    let full = with(with(properties("tagged"), "Tags", many(40)), "AllowedChildStacks", json!(["team-*"]));
    let r = cloud.cfn.create(FUNCTION, LOGICAL_ID, full).await.unwrap();
    succeeded(&r);
    let count = tags(&cloud, &r.physical_resource_id).as_object().map_or(0, |t| t.len());
    assert_eq!(count, 45, "40 of the template, 3 ownership tags, the delete options and AllowedChildStacks");
}
