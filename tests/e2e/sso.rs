//! IAM Identity Center users and groups of SSO domains and profiles, end to end: the real
//! studio-domain and studio-user-profile binaries under the Lambda emulator, driven by the
//! CloudFormation driver, against the SageMaker and Identity Center emulators. Users and groups
//! are seeded as an administrator makes them.

use aws_sdk_sagemaker::types::{AuthMode, UserSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{Response, Status};
use local_cloud::identity_center::{Assignment, PrincipalType};
use sagemaker_emulator::Options;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const DOMAIN: &str = "studio-domain";
const PROFILE: &str = "studio-user-profile";
const ROLE: &str = "arn:aws:iam::123456789012:role/studio-execution";

async fn cloud() -> LocalCloud {
    let cloud = LocalCloud::start_with(Options { transition_delay: Duration::from_millis(100), ..Options::default() }).await.expect("local cloud");
    cloud.deploy(DOMAIN).await.expect("deploy studio-domain");
    cloud.deploy(PROFILE).await.expect("deploy studio-user-profile");
    cloud
}

fn sso_domain(name: &str, users: &[&str], groups: &[&str]) -> Value {
    json!({
        "DomainName": name,
        "AuthMode": "SSO",
        "VpcId": "vpc-0a1b2c3d",
        "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": ROLE},
        "SingleSignOnUsers": users,
        "SingleSignOnGroups": groups,
    })
}

fn reason(r: &Response) -> &str {
    r.reason.as_deref().unwrap_or_default()
}

fn succeeded(r: &Response) {
    assert_eq!(r.status, Status::Success, "{}", reason(r));
}

fn failed(r: &Response) -> &str {
    assert_eq!(r.status, Status::Failed, "expected FAILED, got SUCCESS {:?}", r.data);
    reason(r)
}

fn user(id: &str, app: &str) -> Assignment {
    Assignment { application_arn: app.to_string(), principal_type: PrincipalType::User, principal_id: id.to_string() }
}

fn group(id: &str, app: &str) -> Assignment {
    Assignment { application_arn: app.to_string(), principal_type: PrincipalType::Group, principal_id: id.to_string() }
}

fn sorted(mut assignments: Vec<Assignment>) -> Vec<Assignment> {
    assignments.sort();
    assignments
}

#[tokio::test]
async fn a_domain_assigns_its_users_and_groups_once_in_service() {
    let cloud = cloud().await;
    let center = &cloud.identity_center;
    let (alice, bob, team) = (center.add_user("alice"), center.add_user("bob"), center.add_group("data-science"));

    let r = cloud.cfn.create(DOMAIN, "Domain", sso_domain("sso-three", &["alice", "bob"], &["data-science"])).await.unwrap();
    succeeded(&r);
    let app = r.data["SingleSignOnApplicationArn"].clone();
    assert!(center.application_exists(&app), "{:?}", r.data);
    assert_eq!(r.data["DomainId"], r.physical_resource_id);
    assert_eq!(sorted(center.assignments(&app)), sorted(vec![user(&alice, &app), user(&bob, &app), group(&team, &app)]));
    let id = &r.physical_resource_id;
    assert_eq!(reason(&r), format!("created domain {id}. assigned 2 user(s) and 1 group(s) to IAM Identity Center application {app}"));
    assert!(!r.data.values().any(|v| v.contains(&alice)), "Data names no principal ids: {:?}", r.data);
}

#[tokio::test]
async fn unknown_users_and_groups_fail_the_create_before_create_domain() {
    let cloud = cloud().await;
    cloud.identity_center.add_user("alice");
    cloud.identity_center.add_group("data-science");

    let r = cloud.cfn.create(DOMAIN, "Domain", sso_domain("sso-typo", &["alice", "alcie"], &["data-sceince"])).await.unwrap();
    let why = failed(&r);
    assert!(why.contains("SingleSignOnUsers: no user named alcie"), "{why}");
    assert!(why.contains("SingleSignOnGroups: no group with display name data-sceince"), "{why}");
    assert!(why.contains(&cloud.identity_center.identity_store_id()), "{why}");
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 0, "nothing made");
    assert_eq!(cloud.identity_center.call_count("CreateApplicationAssignment"), 0);
}

#[tokio::test]
async fn an_update_assigns_added_names_and_removes_only_removed_ones() {
    let cloud = cloud().await;
    let center = &cloud.identity_center;
    let (alice, carol) = (center.add_user("alice"), center.add_user("carol"));
    let team = center.add_group("data-science");
    let old = sso_domain("sso-update", &["alice"], &["data-science"]);
    let created = cloud.cfn.create(DOMAIN, "Domain", old.clone()).await.unwrap();
    succeeded(&created);
    let app = created.data["SingleSignOnApplicationArn"].clone();
    // Someone assigned bob in the console: not the template's, so the update leaves it.
    let bob = center.add_user("bob-console");
    center.assign(&app, PrincipalType::User, &bob);

    let new = sso_domain("sso-update", &["alice", "carol"], &[]);
    let r = cloud.cfn.update(DOMAIN, "Domain", &created.physical_resource_id, new, old).await.unwrap();
    succeeded(&r);
    assert_eq!(sorted(center.assignments(&app)), sorted(vec![user(&alice, &app), user(&bob, &app), user(&carol, &app)]));
    assert!(!center.assignments(&app).contains(&group(&team, &app)));
    assert!(reason(&r).contains("assigned 1 user(s) and 0 group(s)") && reason(&r).contains("removed 0 user(s) and 1 group(s)"), "{}", reason(&r));
    assert!(reason(&r).contains("assignments added: user carol; assignments removed: group data-science"), "{}", reason(&r));
    assert_eq!(center.call_count("DeleteApplicationAssignment"), 1, "only the removed group");
}

/// Issue 23: a name removed from the template loses its assignment only if this function made
/// it; one an administrator made in the console (before the template named it) stays.
#[tokio::test]
async fn an_assignment_made_in_the_console_survives_the_removal_of_its_name() {
    let cloud = cloud().await;
    let center = &cloud.identity_center;
    let (alice, bob) = (center.add_user("alice"), center.add_user("bob"));
    let first = sso_domain("sso-console", &["alice"], &[]);
    let created = cloud.cfn.create(DOMAIN, "Domain", first.clone()).await.unwrap();
    succeeded(&created);
    let (id, app) = (created.physical_resource_id.clone(), created.data["SingleSignOnApplicationArn"].clone());
    // The record of what the function assigned: one digest, no principal id.
    let arn = created.data["DomainArn"].clone();
    let record = tags(&cloud, &arn).await.get("studio-cfn:sso-assigned").cloned().unwrap_or_default();
    assert_eq!(record.len(), 8, "{record:?}");
    assert!(!record.contains(&alice));

    // An administrator assigns bob in the console; later the template names him too.
    center.assign(&app, PrincipalType::User, &bob);
    let both = sso_domain("sso-console", &["alice", "bob"], &[]);
    let r = cloud.cfn.update(DOMAIN, "Domain", &id, both.clone(), first).await.unwrap();
    succeeded(&r);
    assert!(reason(&r).contains("1 of them were assigned already"), "{}", reason(&r));
    assert_eq!(center.call_count("CreateApplicationAssignment"), 1, "only alice's, at the Create");

    // Both names leave the template: the function's assignment goes, the console's stays.
    let r = cloud.cfn.update(DOMAIN, "Domain", &id, sso_domain("sso-console", &[], &[]), both).await.unwrap();
    succeeded(&r);
    assert_eq!(center.assignments(&app), vec![user(&bob, &app)]);
    assert!(reason(&r).contains("removed 1 user(s) and 0 group(s)"), "{}", reason(&r));
    assert!(reason(&r).contains("left the assignment of user bob: this function did not make it"), "{}", reason(&r));
    assert!(!tags(&cloud, &arn).await.contains_key("studio-cfn:sso-assigned"), "nothing left to record");
}

#[tokio::test]
async fn the_properties_on_an_iam_domain_fail_before_any_call() {
    let cloud = cloud().await;
    cloud.identity_center.add_user("alice");
    let mut props = sso_domain("iam-users", &["alice"], &[]);
    props["AuthMode"] = json!("IAM");
    let r = cloud.cfn.create(DOMAIN, "Domain", props).await.unwrap();
    let why = failed(&r);
    assert!(why.contains("SingleSignOnUsers: only allowed with AuthMode SSO"), "{why}");

    let mut props = sso_domain("iam-groups", &[], &["data-science"]);
    props["AuthMode"] = json!("IAM");
    let r = cloud.cfn.create(DOMAIN, "Domain", props).await.unwrap();
    assert!(failed(&r).contains("SingleSignOnGroups: only allowed with AuthMode SSO"), "{}", reason(&r));
    assert_eq!(cloud.sagemaker.call_count("CreateDomain"), 0);
    assert!(cloud.identity_center.calls().is_empty(), "{:?}", cloud.identity_center.calls());
}

#[tokio::test]
async fn throttled_identity_center_calls_are_retried() {
    let cloud = cloud().await;
    let alice = cloud.identity_center.add_user("alice");
    cloud.identity_center.throttle_next(3);
    let r = cloud.cfn.create(DOMAIN, "Domain", sso_domain("sso-throttled", &["alice"], &[])).await.unwrap();
    succeeded(&r);
    let app = r.data["SingleSignOnApplicationArn"].clone();
    assert_eq!(cloud.identity_center.assignments(&app), vec![user(&alice, &app)]);
    let calls = cloud.identity_center.calls();
    let expected = ["ListInstances", "ListInstances", "ListInstances", "ListInstances", "GetUserId"];
    assert_eq!(calls.get(..5), Some(&expected.map(String::from)[..]), "three throttled answers, then the call went through: {calls:?}");

    // The profile function too.
    let dana = cloud.identity_center.add_user("dana");
    cloud.identity_center.set_throttle_rate(0.3);
    let r = cloud.cfn.create(PROFILE, "Dana", profile(&r.physical_resource_id, "dana", "dana")).await.unwrap();
    cloud.identity_center.set_throttle_rate(0.0);
    succeeded(&r);
    assert!(cloud.identity_center.assignments(&app).contains(&user(&dana, &app)));
}

/// An SSO domain made with the SDK, as another stack would; returns (DomainId, application ARN).
async fn domain_made_elsewhere(cloud: &LocalCloud, name: &str) -> (String, String) {
    let client = cloud.sagemaker_client();
    let out = client
        .create_domain()
        .domain_name(name)
        .auth_mode(AuthMode::Sso)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-0a")
        .vpc_id("vpc-0a")
        .send()
        .await
        .expect("CreateDomain");
    let id = out.domain_id().expect("DomainId").to_string();
    for _ in 0..200 {
        let domain = client.describe_domain().domain_id(&id).send().await.expect("DescribeDomain");
        if domain.status().map(|s| s.as_str()) == Some("InService") {
            return (id, domain.single_sign_on_application_arn().expect("SingleSignOnApplicationArn").to_string());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("domain {id} never became InService");
}

fn profile(domain: &str, name: &str, user_name: &str) -> Value {
    json!({"DomainId": domain, "UserProfileName": name, "SingleSignOnUserIdentifier": "UserName", "SingleSignOnUserValue": user_name})
}

async fn tags(cloud: &LocalCloud, arn: &str) -> BTreeMap<String, String> {
    // Every page: SageMaker pages ListTags.
    let pages: Vec<_> = cloud.sagemaker_client().list_tags().resource_arn(arn).into_paginator().send().collect().await;
    pages
        .into_iter()
        .flat_map(|page| page.expect("ListTags").tags.unwrap_or_default())
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test]
async fn a_profile_assigns_an_unassigned_user_and_its_delete_removes_only_that() {
    let cloud = cloud().await;
    let (domain, app) = domain_made_elsewhere(&cloud, "sso-profiles").await;
    let center = &cloud.identity_center;
    let (dana, erin) = (center.add_user("dana"), center.add_user("erin"));
    center.assign(&app, PrincipalType::User, &erin);

    let r = cloud.cfn.create(PROFILE, "Dana", profile(&domain, "dana", "dana")).await.unwrap();
    succeeded(&r);
    assert_eq!(center.assignments(&app), vec![user(&erin, &app), user(&dana, &app)]);
    assert_eq!(tags(&cloud, &r.physical_resource_id).await.get("studio-cfn:sso-assigned"), Some(&dana));

    let deleted = cloud.cfn.delete(PROFILE, "Dana", &r.physical_resource_id, profile(&domain, "dana", "dana")).await.unwrap();
    succeeded(&deleted);
    assert_eq!(center.assignments(&app), vec![user(&erin, &app)], "erin's assignment was not this resource's");
    assert_eq!(center.call_count("DeleteApplicationAssignment"), 1);
}

#[tokio::test]
async fn a_profile_for_a_user_assigned_through_a_group_makes_no_assignment() {
    let cloud = cloud().await;
    let (domain, app) = domain_made_elsewhere(&cloud, "sso-group").await;
    let center = &cloud.identity_center;
    let (dana, team) = (center.add_user("dana"), center.add_group("data-science"));
    // Direct assignments of others, so that the group is found past the first page.
    for other in ["x", "y", "z"] {
        let id = center.add_user(other);
        center.assign(&app, PrincipalType::User, &id);
    }
    center.add_membership(&team, &dana);
    center.assign(&app, PrincipalType::Group, &team);
    let before = center.assignments(&app);

    let r = cloud.cfn.create(PROFILE, "Dana", profile(&domain, "dana", "dana")).await.unwrap();
    succeeded(&r);
    assert_eq!(center.assignments(&app), before);
    assert_eq!(center.call_count("CreateApplicationAssignment"), 0);
    assert!(!tags(&cloud, &r.physical_resource_id).await.contains_key("studio-cfn:sso-assigned"));

    let deleted = cloud.cfn.delete(PROFILE, "Dana", &r.physical_resource_id, profile(&domain, "dana", "dana")).await.unwrap();
    succeeded(&deleted);
    assert_eq!(center.assignments(&app), before, "the group's assignment is not the profile's");
    assert_eq!(center.call_count("DeleteApplicationAssignment"), 0);
}

#[tokio::test]
async fn an_unknown_sso_user_fails_before_create_user_profile() {
    let cloud = cloud().await;
    let (domain, app) = domain_made_elsewhere(&cloud, "sso-ghost").await;
    let r = cloud.cfn.create(PROFILE, "Ghost", profile(&domain, "ghost", "ghost")).await.unwrap();
    let why = failed(&r);
    assert!(why.starts_with("Invalid property SingleSignOnUserValue: no user named ghost"), "{why}");
    assert_eq!(cloud.sagemaker.call_count("CreateUserProfile"), 0);
    assert!(cloud.identity_center.assignments(&app).is_empty());
}
