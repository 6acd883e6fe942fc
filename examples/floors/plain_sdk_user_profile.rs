//! The first-event floor (issue #27): the calls `studio-user-profile` makes for a Create, made
//! by plain SDK clients the way a hand-written function would make them, with none of the
//! core's protocol (no property schema, no ownership tags, no continuations, no retry budget):
//! CloudFormation DescribeStackResource (the core's check that the request is the stack's),
//! SageMaker DescribeDomain, ListTags of the domain (the function reads which stacks may add
//! profiles to it), CreateUserProfile, DescribeUserProfile until InService, ListTags of the
//! profile (the function reads back its ownership tags), and the response PUT to the
//! ResponseURL. Only the happy path: anything else is an error.

use aws_sdk_sagemaker::types::{Tag, UserProfileStatus, UserSettings};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

struct Clients {
    sagemaker: aws_sdk_sagemaker::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    http: reqwest::Client,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = Clients {
        sagemaker: aws_sdk_sagemaker::Client::new(&config),
        cloudformation: aws_sdk_cloudformation::Client::new(&config),
        http: reqwest::Client::new(),
    };
    let clients = &clients;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| create(clients, event.payload))).await
}

async fn create(clients: &Clients, event: Value) -> Result<Value, Error> {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("no {pointer} in the event"));
    let (stack_id, logical_id, request_id, url) = (text("/StackId")?, text("/LogicalResourceId")?, text("/RequestId")?, text("/ResponseURL")?);
    let (domain_id, name, role) =
        (text("/ResourceProperties/DomainId")?, text("/ResourceProperties/UserProfileName")?, text("/ResourceProperties/UserSettings/ExecutionRole")?);
    let tags = event.pointer("/ResourceProperties/Tags").and_then(Value::as_array).cloned().unwrap_or_default();
    let tags = tags
        .iter()
        .map(|t| Tag::builder().key(t["Key"].as_str().unwrap_or_default()).value(t["Value"].as_str().unwrap_or_default()).build())
        .collect::<Vec<_>>();

    clients.cloudformation.describe_stack_resource().stack_name(&stack_id).logical_resource_id(&logical_id).send().await?;
    let domain = clients.sagemaker.describe_domain().domain_id(&domain_id).send().await?;
    clients.sagemaker.list_tags().resource_arn(domain.domain_arn().unwrap_or_default()).send().await?;
    let created = clients
        .sagemaker
        .create_user_profile()
        .domain_id(&domain_id)
        .user_profile_name(&name)
        .user_settings(UserSettings::builder().execution_role(role).build())
        .set_tags(Some(tags))
        .send()
        .await?;
    let arn = created.user_profile_arn().unwrap_or_default().to_string();
    loop {
        let profile = clients.sagemaker.describe_user_profile().domain_id(&domain_id).user_profile_name(&name).send().await?;
        match profile.status() {
            Some(UserProfileStatus::InService) => break,
            Some(UserProfileStatus::Pending) | None => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            Some(other) => return Err(format!("user profile {name} is {}", other.as_str()).into()),
        }
    }
    clients.sagemaker.list_tags().resource_arn(&arn).send().await?;
    let body = json!({
        "Status": "SUCCESS",
        "PhysicalResourceId": arn,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "Data": {"UserProfileArn": arn, "UserProfileName": name, "DomainId": domain_id},
    });
    // As the core sends it: no Content-Type (the URL was signed without one).
    let response = clients.http.put(&url).header("content-type", "").body(body.to_string()).send().await?;
    Ok(json!({"Responded": response.status().as_u16()}))
}
