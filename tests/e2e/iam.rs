//! Rule 7 of issue 12: each function's role in template.yaml allows every SageMaker, S3,
//! Lambda, IAM Identity Center, EC2 and EFS action the function calls. The calls are not guessed from the code: each deployed
//! function signs with its own name as access key id, the emulators record (key id, operation),
//! and the test plays the demo stack plus the calls the demo does not make (a lifecycle config's
//! tags-only Update that removes a tag, a sign-in URL, a continuation), then checks every recorded call against
//! the Allow statements of that function's role (both branches of an !If count as allowed).

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::Status;
use local_cloud::lambda::signed_request_event;
use serde_json::json;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const FUNCTIONS: [&str; 5] = ["studio-domain", "studio-user-profile", "studio-space", "studio-lifecycle-config", "studio-signin-url"];

/// Looks through CloudFormation's short-form tags (!If, !Sub, ...) to the value they wrap.
fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    untagged(value).as_mapping()?.get(key)
}

/// Statements of a policy document, with both branches of each !If (AWS::NoValue dropped).
fn statements(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Tagged(tagged) if tagged.tag == "If" => {
            for branch in tagged.value.as_sequence().into_iter().flatten().skip(1) {
                statements(branch, out);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| statements(item, out)),
        Value::Mapping(_) => out.push(value.clone()),
        _ => {}
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value.map(untagged) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(items)) => items.iter().filter_map(|v| untagged(v).as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// binary name -> actions its role allows, from template.yaml.
fn allowed_actions() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    let template: Value = serde_yaml::from_str(&text).expect("template.yaml parses");
    let resources = get(&template, "Resources").and_then(Value::as_mapping).expect("Resources");
    let mut out = BTreeMap::new();
    for resource in resources.values() {
        if get(resource, "Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = get(resource, "Metadata").and_then(|m| get(m, "BuildProperties")).and_then(|b| get(b, "Binary"));
        let role = get(resource, "Properties").and_then(|p| get(p, "Role")).map(untagged);
        let (Some(binary), Some(role)) = (binary.and_then(Value::as_str), role.and_then(Value::as_str)) else {
            panic!("every function names its Binary and a !GetAtt Role: {resource:?}");
        };
        let role_id = role.split('.').next().unwrap_or_default();
        let policies = resources
            .get(role_id)
            .and_then(|r| get(r, "Properties"))
            .and_then(|p| get(p, "Policies"))
            .and_then(|p| untagged(p).as_sequence())
            .unwrap_or_else(|| panic!("role {role_id} of {binary} has Policies"));
        let mut found = Vec::new();
        for policy in policies {
            let document = get(policy, "PolicyDocument").and_then(|d| get(d, "Statement"));
            let mut all = Vec::new();
            statements(document.unwrap_or(&Value::Null), &mut all);
            for statement in all.iter().filter(|s| get(s, "Effect").and_then(Value::as_str) == Some("Allow")) {
                found.extend(strings(get(statement, "Action")));
            }
        }
        out.insert(binary.to_string(), found);
    }
    out
}

/// IAM's action matching: case-insensitive, `*` any run, `?` one character.
fn matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

fn allowed(actions: &[String], action: &str) -> bool {
    actions.iter().any(|pattern| matches(pattern, action))
}

/// The IAM actions an S3 operation needs (s3s names operations as the S3 API does).
fn s3_actions(operation: &str) -> &'static [&'static str] {
    match operation {
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => &["s3:PutObject"],
        "GetObject" | "HeadObject" => &["s3:GetObject"],
        "CopyObject" | "UploadPartCopy" => &["s3:GetObject", "s3:PutObject"],
        "DeleteObject" | "DeleteObjects" => &["s3:DeleteObject"],
        "AbortMultipartUpload" => &["s3:AbortMultipartUpload"],
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => &["s3:ListBucket"],
        "ListMultipartUploads" => &["s3:ListBucketMultipartUploads"],
        "ListParts" => &["s3:ListMultipartUploadParts"],
        other => panic!("S3 operation {other} has no IAM action in this test yet: add it"),
    }
}

#[test]
fn the_checker_reads_the_template_and_refuses_what_a_role_lacks() {
    let roles = allowed_actions();
    assert_eq!(roles.keys().map(String::as_str).collect::<BTreeSet<_>>(), FUNCTIONS.into_iter().collect());
    let signin = &roles["studio-signin-url"];
    assert!(allowed(signin, "sagemaker:CreatePresignedDomainUrl"));
    assert!(!allowed(signin, "sagemaker:DeleteDomain"), "a role allows only what it lists");
    assert!(matches("s3:Get*", "s3:GetObject") && !matches("s3:Get*", "s3:PutObject"));
    // Conditional statements (!If) count: the lifecycle function's staging is behind one.
    assert!(allowed(&roles["studio-lifecycle-config"], "s3:PutObject"));
}

#[tokio::test]
async fn every_call_a_function_makes_is_allowed_by_its_role() {
    let options = sagemaker_emulator::Options { transition_delay: Duration::from_millis(100), ..Default::default() };
    let cloud = LocalCloud::start_with(options).await.expect("local cloud");
    // The demo's own test checks its outcome; here only the calls it made matter.
    if let Err(e) = local_cloud::demo::play_stack(&cloud).await {
        eprintln!("demo: {e} (see tests/e2e/demo.rs)");
    }

    // A tags-only Update of a lifecycle config that drops a tag: AddTags and DeleteTags.
    let config = |tags: serde_json::Value| json!({"StudioLifecycleConfigName": "iam-check", "StudioLifecycleConfigAppType": "JupyterLab", "Commands": ["echo hi"], "Tags": tags});
    let old = config(json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]));
    let new = config(json!([{"Key": "a", "Value": "changed"}]));
    let created = cloud.cfn.create("studio-lifecycle-config", "IamConfig", old.clone()).await.expect("Create response");
    assert_eq!(created.status, Status::Success, "{:?}", created.reason);
    let updated = cloud.cfn.update("studio-lifecycle-config", "IamConfig", &created.physical_resource_id, new, old).await.expect("Update response");
    assert_eq!(updated.status, Status::Success, "{:?}", updated.reason);

    // A sign-in URL for a profile of an IAM domain.
    let client = cloud.sagemaker_client();
    let domain = client
        .create_domain()
        .domain_name("iam-check")
        .auth_mode(aws_sdk_sagemaker::types::AuthMode::Iam)
        .default_user_settings(aws_sdk_sagemaker::types::UserSettings::builder().execution_role("arn:aws:iam::123456789012:role/x").build())
        .subnet_ids("subnet-0a")
        .vpc_id("vpc-0a")
        .send()
        .await
        .expect("CreateDomain");
    let domain_id = domain.domain_id().unwrap_or_default().to_string();
    let in_service = |status: Option<&str>| status == Some("InService");
    for _ in 0..100 {
        let d = client.describe_domain().domain_id(&domain_id).send().await.ok();
        if in_service(d.as_ref().and_then(|d| d.status()).map(|s| s.as_str())) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.create_user_profile().domain_id(&domain_id).user_profile_name("alice").send().await.expect("CreateUserProfile");
    for _ in 0..100 {
        let p = client.describe_user_profile().domain_id(&domain_id).user_profile_name("alice").send().await.ok();
        if in_service(p.as_ref().and_then(|p| p.status()).map(|s| s.as_str())) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Through its Function URL, as a trusted portal backend (a direct invoke is refused).
    let portal_role = "arn:aws:iam::123456789012:role/PortalBackend";
    let env = [("SIGNIN_TRUSTED_CALLER_ARNS", portal_role), ("SIGNIN_DOMAIN_IDS", domain_id.as_str())];
    cloud.deploy_with("studio-signin-url", Duration::from_secs(30), &env).await.expect("deploy studio-signin-url");
    let body = json!({"DomainId": domain_id, "UserProfileName": "alice"}).to_string();
    let caller = "arn:aws:sts::123456789012:assumed-role/PortalBackend/portal";
    let url = cloud.lambda.invoke_url("studio-signin-url", signed_request_event(caller, "POST", &body)).await.expect("the URL answers");
    assert_eq!(url.status, 200, "{url:?}");

    // IAM Identity Center and EC2/EFS: an SSO domain with a user assigned, an SSO profile that
    // assigns its own user (its Delete removes that), and a Delete that removes the home EFS and
    // then the NFS security groups.
    cloud.identity_center.add_user("ines");
    cloud.identity_center.add_user("omar");
    let sso_domain = json!({
        "DomainName": "iam-sso", "AuthMode": "SSO", "VpcId": "vpc-0sso", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/x"},
        "SingleSignOnUsers": ["ines"], "RetentionPolicy": {"HomeEfsFileSystem": "Delete"}
    });
    let sso = cloud.cfn.create("studio-domain", "SsoDomain", sso_domain.clone()).await.expect("Create response");
    assert_eq!(sso.status, Status::Success, "{:?}", sso.reason);
    let omar =
        json!({"DomainId": sso.physical_resource_id, "UserProfileName": "omar", "SingleSignOnUserIdentifier": "UserName", "SingleSignOnUserValue": "omar"});
    let profile = cloud.cfn.create("studio-user-profile", "Omar", omar.clone()).await.expect("Create response");
    assert_eq!(profile.status, Status::Success, "{:?}", profile.reason);
    let deleted = cloud.cfn.delete("studio-user-profile", "Omar", &profile.physical_resource_id, omar).await.expect("Delete response");
    assert_eq!(deleted.status, Status::Success, "{:?}", deleted.reason);
    let deleted = cloud.cfn.delete("studio-domain", "SsoDomain", &sso.physical_resource_id, sso_domain).await.expect("Delete response");
    assert_eq!(deleted.status, Status::Success, "{:?}", deleted.reason);

    // A continuation: a 3 s Lambda timeout against 4 s transitions makes the domain function
    // invoke itself (lambda:InvokeFunction).
    let slow_options = sagemaker_emulator::Options { transition_delay: Duration::from_secs(4), ..Default::default() };
    let slow = LocalCloud::start_with(slow_options).await.expect("local cloud");
    slow.deploy_with("studio-domain", Duration::from_secs(3), &[]).await.expect("deploy studio-domain");
    let domain_props = json!({
        "DomainName": "slow", "AuthMode": "IAM", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/x"}
    });
    let created = slow.cfn.create("studio-domain", "SlowDomain", domain_props).await.expect("Create response");
    assert_eq!(created.status, Status::Success, "{:?}", created.reason);

    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // The emulator kit records each call's IAM action.
    let iam_named = [&cloud, &slow]
        .into_iter()
        .flat_map(|c| [&*c.sagemaker, &*c.identity_center, &*c.network, &*c.kms, &*c.cloudformation_api].map(|emulator| emulator.signed_actions()));
    for (function, action) in iam_named.flatten().filter(|(key, _)| FUNCTIONS.contains(&key.as_str())) {
        calls.entry(function).or_default().insert(action);
    }
    let recorded = [&cloud, &slow].into_iter().flat_map(|c| [(c.s3.signed_calls(), "s3"), (c.lambda.signed_calls(), "lambda")]);
    for (records, service) in recorded {
        for (function, operation) in records.into_iter().filter(|(key, _)| FUNCTIONS.contains(&key.as_str())) {
            let actions: Vec<String> = match service {
                "s3" => s3_actions(&operation).iter().map(|a| a.to_string()).collect(),
                _ => vec!["lambda:InvokeFunction".to_string()],
            };
            calls.entry(function).or_default().extend(actions);
        }
    }
    for function in FUNCTIONS {
        assert!(calls.get(function).is_some_and(|c| c.len() > 1), "{function} made recorded calls: {calls:?}");
    }
    assert!(calls["studio-lifecycle-config"].contains("sagemaker:DeleteTags"), "the tag removal was played");
    assert!(calls["studio-lifecycle-config"].contains("s3:PutObject"), "the asset staging was played");
    assert!(calls["studio-domain"].contains("lambda:InvokeFunction"), "the continuation was played");
    for played in ["sso:CreateApplicationAssignment", "identitystore:GetUserId", "ec2:DeleteSecurityGroup", "elasticfilesystem:DescribeFileSystems"] {
        assert!(calls["studio-domain"].contains(played), "{played} was played: {:?}", calls["studio-domain"]);
    }
    assert!(calls["studio-user-profile"].contains("sso:DeleteApplicationAssignment"), "the profile's assignment was removed");

    let roles = allowed_actions();
    let denied: Vec<String> = calls
        .iter()
        .flat_map(|(function, actions)| {
            let role = &roles[function];
            actions.iter().filter(|a| !allowed(role, a)).map(move |a| format!("{function}: {a}"))
        })
        .collect();
    assert!(denied.is_empty(), "template.yaml's roles do not allow: {denied:#?}\nrecorded: {calls:#?}");
}
