//! Wire-level behaviour: validation messages, throttling, unknown operations, bad bodies.

use crate::common::*;
use aws_config::retry::RetryConfig;
use aws_sdk_sagemaker::types::{AuthMode, Tag, UserSettings};
use emulator_kit::http::post_raw;

/// Sends a raw awsJson request; returns the status code and body.
async fn raw(endpoint: &str, target: &str, body: &str) -> (u16, serde_json::Value) {
    let headers = [("X-Amz-Target", target), ("Content-Type", "application/x-amz-json-1.1")];
    let response = post_raw(endpoint, &headers, body).await.expect("an HTTP answer");
    (response.status, response.json())
}

#[tokio::test]
async fn validation_errors_name_the_member() {
    let Env { client, emulator } = env().await;
    let create = || {
        client
            .create_domain()
            .domain_name("studio")
            .auth_mode(AuthMode::Iam)
            .default_user_settings(UserSettings::builder().build())
            .subnet_ids("subnet-1")
            .vpc_id("vpc-1")
    };
    let cases = [
        (create().domain_name("my_domain").send().await, "'domainName'", "regular expression pattern"),
        (create().auth_mode("LDAP".into()).send().await, "'authMode'", "enum value set: [SSO, IAM]"),
        (create().set_subnet_ids(Some((0..17).map(|i| format!("subnet-{i}")).collect())).send().await, "'subnetIds'", "less than or equal to 16"),
        (create().set_subnet_ids(Some(vec![])).send().await, "'subnetIds'", "greater than or equal to 1"),
        (create().set_vpc_id(None).send().await, "'vpcId'", "must not be null"),
        (create().app_network_access_type("Private".into()).send().await, "'appNetworkAccessType'", "VpcOnly"),
        (create().tag_propagation("ON".into()).send().await, "'tagPropagation'", "ENABLED"),
        (
            create().default_user_settings(UserSettings::builder().execution_role("my-role").build()).send().await,
            "'defaultUserSettings.executionRole'",
            "pattern",
        ),
        (
            create().set_tags(Some((0..51).map(|i| Tag::builder().key(format!("k{i}")).value("v").build()).collect())).send().await,
            "'tags'",
            "less than or equal to 50",
        ),
        (create().tags(Tag::builder().key("k".repeat(129)).value("v").build()).send().await, "'tags.1.member.key'", "128"),
    ];
    for (result, member, constraint) in cases {
        let (code, message) = error(result);
        assert_eq!(code, "ValidationException", "{message}");
        assert!(message.contains(member), "{message} should name {member}");
        assert!(message.contains(constraint), "{message} should say {constraint}");
    }
    assert!(emulator.snapshot()["domains"].as_array().is_some_and(|d| d.is_empty()), "nothing was created");
}

#[tokio::test]
async fn throttling_answers_before_any_effect_and_the_sdk_sees_the_code() {
    let Env { client, emulator } = env().await;
    emulator.set_throttle_rate(1.0);
    let (code, message) = error(client.list_domains().send().await);
    assert_eq!(code, "ThrottlingException");
    assert!(!message.is_empty());
    let (code, _) = error(
        client
            .create_domain()
            .domain_name("studio")
            .auth_mode(AuthMode::Iam)
            .default_user_settings(UserSettings::builder().build())
            .subnet_ids("subnet-1")
            .vpc_id("vpc-1")
            .send()
            .await,
    );
    assert_eq!(code, "ThrottlingException");
    assert!(emulator.snapshot()["domains"].as_array().is_some_and(|d| d.is_empty()), "a throttled create has no effect");

    // The SDK classifies it as retryable: with 3 attempts it calls 3 times, then gives up.
    let retrying =
        crate::common::client(&emulator.endpoint(), RetryConfig::standard().with_max_attempts(3).with_initial_backoff(std::time::Duration::from_millis(10)))
            .await;
    let before = emulator.call_count("ListDomains");
    let (code, _) = error(retrying.list_domains().send().await);
    assert_eq!(code, "ThrottlingException");
    assert_eq!(emulator.call_count("ListDomains") - before, 3);

    emulator.set_throttle_rate(0.0);
    client.list_domains().send().await.expect("no throttling at rate 0");
    assert_eq!(emulator.calls().first().map(String::as_str), Some("ListDomains"));
    assert_eq!(emulator.total_calls(), emulator.calls().len());
}

#[tokio::test]
async fn an_armed_refusal_answers_the_next_call_of_its_operation_only() {
    let Env { client, emulator } = env().await;
    emulator.refuse_next("ListDomains", "ValidationException", "refused as asked");
    let (code, message) = error(client.list_domains().send().await);
    assert_eq!((code.as_str(), message.as_str()), ("ValidationException", "refused as asked"));
    client.list_domains().send().await.expect("one refusal per arming");
    assert_eq!(emulator.call_count("ListDomains"), 2);
}

#[tokio::test]
async fn unknown_operations_and_malformed_bodies_are_400s() {
    let Env { emulator, client: _ } = env().await;
    let endpoint = emulator.endpoint();
    let (status, body) = raw(&endpoint, "SageMaker.LaunchRocket", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");

    let (status, body) = raw(&endpoint, "SageMaker.CreateDomain", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");

    let (status, body) = raw(&endpoint, "SageMaker.CreateDomain", r#"{"DomainName": 7}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("DomainName")), "{body}");

    let (status, body) = raw(&endpoint, "SageMaker.DescribeDomain", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "ValidationException");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("'domainId'")), "{body}");

    assert_eq!(emulator.call_count("LaunchRocket"), 1);
    assert_eq!(emulator.call_count("CreateDomain"), 2);
}
