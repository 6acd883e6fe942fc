//! What tests make directly with the SageMaker SDK, as another tool or the console would (not
//! through a function), each waited until InService; and sample events played against the
//! local cloud. For tests: these panic when the local cloud does not answer as expected.

use crate::cloud::LocalCloud;
use crate::cloudformation::Response;
use crate::lambda::function_arn;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{AppStatus, AppType, AuthMode, OwnershipSettings, SharingType, SpaceSharingSettings, UserSettings};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

pub const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/StudioExecution";

/// An InService domain; returns its id.
pub async fn domain(client: &Client, name: &str, auth: AuthMode) -> String {
    let out = client
        .create_domain()
        .domain_name(name)
        .auth_mode(auth)
        .default_user_settings(UserSettings::builder().execution_role(EXECUTION_ROLE).build())
        .subnet_ids("subnet-0abc")
        .vpc_id("vpc-0abc")
        .send()
        .await
        .expect("CreateDomain");
    let id = out.domain_id().expect("DomainId").to_string();
    eventually(&format!("domain {id} InService"), || async {
        let domain = client.describe_domain().domain_id(&id).send().await.ok()?;
        (domain.status().map(|s| s.as_str()) == Some("InService")).then_some(())
    })
    .await;
    id
}

/// An InService user profile.
pub async fn user_profile(client: &Client, domain: &str, name: &str) {
    client.create_user_profile().domain_id(domain).user_profile_name(name).send().await.expect("CreateUserProfile");
    eventually(&format!("profile {name} InService"), || async {
        let p = client.describe_user_profile().domain_id(domain).user_profile_name(name).send().await.ok()?;
        (p.status().map(|s| s.as_str()) == Some("InService")).then_some(())
    })
    .await;
}

/// An InService space; owned by `owner` if given (private, or shared by its owner).
pub async fn space(client: &Client, domain: &str, name: &str, owner: Option<&str>, sharing: SharingType) {
    client
        .create_space()
        .domain_id(domain)
        .space_name(name)
        .set_ownership_settings(owner.map(|o| OwnershipSettings::builder().owner_user_profile_name(o).build()))
        .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(sharing).build())
        .send()
        .await
        .expect("CreateSpace");
    eventually(&format!("space {name} InService"), || async {
        let described = client.describe_space().domain_id(domain).space_name(name).send().await.ok()?;
        (described.status().map(|s| s.as_str()) == Some("InService")).then_some(())
    })
    .await;
}

/// An InService app of a user profile or a space.
pub async fn app(client: &Client, domain: &str, profile: Option<&str>, space: Option<&str>, app_type: AppType, name: &str) {
    let (profile, space) = (profile.map(str::to_string), space.map(str::to_string));
    let create = client.create_app().domain_id(domain).set_user_profile_name(profile.clone()).set_space_name(space.clone());
    create.app_type(app_type.clone()).app_name(name).send().await.expect("CreateApp");
    eventually(&format!("app {name} InService"), || async {
        let describe = client.describe_app().domain_id(domain).set_user_profile_name(profile.clone()).set_space_name(space.clone());
        let described = describe.app_type(app_type.clone()).app_name(name).send().await.ok()?;
        (described.status() == Some(&AppStatus::InService)).then_some(())
    })
    .await;
}

/// Decided by listing: DescribeSpace reports a missing space as a ValidationException on the real service.
pub async fn space_exists(client: &Client, domain: &str, name: &str) -> bool {
    let spaces: Vec<_> = client.list_spaces().domain_id_equals(domain).into_paginator().items().send().collect().await;
    spaces.into_iter().map(|s| s.expect("ListSpaces")).any(|s| s.space_name() == Some(name))
}

/// A resource's tags, every page.
pub async fn tags(client: &Client, arn: &str) -> BTreeMap<String, String> {
    let tags: Vec<_> = client.list_tags().resource_arn(arn).into_paginator().items().send().collect().await;
    tags.into_iter().map(|t| t.expect("ListTags")).map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

/// `probe`'s value once it has one, looking every 50 ms for up to 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Plays a sample event from events/ to `function`, made to address this cloud: its stack, a
/// fresh RequestId and ResponseURL, and `domain` in place of the sample's domain id.
pub async fn play_sample(cloud: &LocalCloud, function: &str, file: &str, domain: &str) -> Response {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("sample event").replace("d-example12345", domain);
    let mut event: Value = serde_json::from_str(&text).expect("sample event is JSON");
    let request_id = crate::uuid_v4();
    let logical_id = event["LogicalResourceId"].as_str().expect("LogicalResourceId").to_string();
    event["RequestId"] = json!(request_id);
    event["StackId"] = json!(cloud.cfn.stack_id());
    event["ResponseURL"] = json!(cloud.cfn.response_url(&logical_id, &request_id).await.expect("response URL"));
    event["ServiceToken"] = json!(function_arn(function));
    event["ResourceProperties"]["ServiceToken"] = json!(function_arn(function));
    cloud.cfn.send(function, event).await.expect("a valid response")
}

/// Waits (up to 10 s) until nothing in the emulated account is Pending, Updating or Deleting.
pub async fn settled(cloud: &LocalCloud) {
    eventually("the emulated account to settle", || async {
        let snapshot = cloud.sagemaker.snapshot();
        let busy = ["domains", "profiles", "spaces", "apps"]
            .iter()
            .any(|kind| snapshot[kind].as_array().into_iter().flatten().any(|r| matches!(r["Status"].as_str(), Some("Pending" | "Updating" | "Deleting"))));
        (!busy).then_some(())
    })
    .await
}
