//! studio-signin-url end to end: the real binary invoked synchronously through the Lambda
//! emulator (as `aws lambda invoke` or a portal backend would), against the SageMaker emulator.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sagemaker::types::{AuthMode, OwnershipSettings, SharingType, SpaceSharingSettings, UserSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::lambda::FunctionError;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const FUNCTION: &str = "studio-signin-url";
const ROLE: &str = "arn:aws:iam::123456789012:role/StudioExecution";

async fn cloud() -> LocalCloud {
    let cloud = LocalCloud::start().await.expect("local cloud");
    cloud.deploy(FUNCTION).await.expect("deploy");
    cloud
}

async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An InService domain with an InService user profile "alice" (and, for IAM, a private space
/// "alice-space"); returns the domain id.
async fn domain_with_alice(client: &Client, auth: AuthMode) -> String {
    let out = client
        .create_domain()
        .domain_name("portal")
        .auth_mode(auth.clone())
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-0abc")
        .vpc_id("vpc-0abc")
        .send()
        .await
        .expect("CreateDomain");
    let domain = out.domain_id().expect("DomainId").to_string();
    eventually("domain InService", || async {
        client.describe_domain().domain_id(&domain).send().await.is_ok_and(|d| d.status().map(|s| s.as_str()) == Some("InService"))
    })
    .await;
    let sso = auth == AuthMode::Sso;
    client
        .create_user_profile()
        .domain_id(&domain)
        .user_profile_name("alice")
        .set_single_sign_on_user_identifier(sso.then(|| "UserName".to_string()))
        .set_single_sign_on_user_value(sso.then(|| "alice@example.com".to_string()))
        .send()
        .await
        .expect("CreateUserProfile");
    eventually("alice InService", || async {
        let profile = client.describe_user_profile().domain_id(&domain).user_profile_name("alice").send().await;
        profile.is_ok_and(|p| p.status().map(|s| s.as_str()) == Some("InService"))
    })
    .await;
    if !sso {
        client
            .create_space()
            .domain_id(&domain)
            .space_name("alice-space")
            .ownership_settings(OwnershipSettings::builder().owner_user_profile_name("alice").build())
            .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
            .send()
            .await
            .expect("CreateSpace");
    }
    domain
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn sign_in(cloud: &LocalCloud, input: Value) -> Result<Value, FunctionError> {
    cloud.lambda.invoke(FUNCTION, input).await
}

#[tokio::test]
async fn an_iam_user_gets_a_url_and_when_it_expires_and_the_url_is_never_logged() {
    let cloud = cloud().await;
    let domain = domain_with_alice(&cloud.sagemaker_client(), AuthMode::Iam).await;

    let before = now_secs();
    let output = sign_in(
        &cloud,
        json!({"DomainId": domain, "UserProfileName": "alice", "ExpiresInSeconds": 60,
            "SessionExpirationDurationInSeconds": 1800, "LandingUri": "app:JupyterLab:lab/tree/work", "SpaceName": "alice-space"}),
    )
    .await
    .expect("a URL");
    let url = output["AuthorizedUrl"].as_str().expect("AuthorizedUrl");
    assert!(url.starts_with(&format!("https://{domain}.studio.us-east-1.sagemaker.aws/auth?token=")), "{url}");
    let expires_at = DateTime::from_str(output["ExpiresAt"].as_str().expect("ExpiresAt"), DateTimeFormat::DateTime).unwrap().secs();
    assert!((before + 60..=now_secs() + 60).contains(&expires_at), "ExpiresAt {expires_at} is not 60 s from now ({before})");

    // Without ExpiresInSeconds, the API's default of 300 s.
    let output = sign_in(&cloud, json!({"DomainId": domain, "UserProfileName": "alice"})).await.expect("a URL");
    let expires_at = DateTime::from_str(output["ExpiresAt"].as_str().unwrap(), DateTimeFormat::DateTime).unwrap().secs();
    assert!((before + 300..=now_secs() + 300).contains(&expires_at), "{expires_at}");
    let second_url = output["AuthorizedUrl"].as_str().unwrap();

    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.contains("presigned domain URL created"), "{logs}");
    for url in [url, second_url] {
        let token = url.split("token=").nth(1).unwrap();
        assert!(!logs.contains(token), "the URL's token is in the logs:\n{logs}");
    }
    assert_eq!(cloud.sagemaker.call_count("CreatePresignedDomainUrl"), 2);
}

#[tokio::test]
async fn the_sample_event_gets_a_url() {
    let cloud = cloud().await;
    let domain = domain_with_alice(&cloud.sagemaker_client(), AuthMode::Iam).await;
    let path = format!("{}/events/signin-url.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("sample event").replace("d-example12345", &domain);
    let event: Value = serde_json::from_str(&text).expect("sample event is JSON");

    let output = sign_in(&cloud, event).await.expect("a URL");
    assert!(output["AuthorizedUrl"].as_str().is_some_and(|u| u.starts_with("https://")), "{output}");
    assert!(output["ExpiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{output}");
}

#[tokio::test]
async fn invalid_input_names_the_field_without_calling_sagemaker() {
    let cloud = cloud().await;
    let base = json!({"DomainId": "d-abc123", "UserProfileName": "alice"});
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    let cases = [
        (with("ExpiresInSeconds", json!(600)), "Invalid input ExpiresInSeconds: must be from 5 to 300"),
        (with("ExpiresInSeconds", json!("4")), "Invalid input ExpiresInSeconds: must be from 5 to 300"),
        (with("SessionExpirationDurationInSeconds", json!(60)), "Invalid input SessionExpirationDurationInSeconds: must be from 1800 to 43200"),
        (with("LandingUri", json!("https://example.com/lab")), "Invalid input LandingUri: must be studio::<relative/path> or app:<App>:<relative/path>"),
        (with("UserProfileName", json!("alice smith")), "Invalid input UserProfileName: must be 1 to 63 letters"),
        (with("SpaceName", json!("-space")), "Invalid input SpaceName"),
        (with("DomainId", json!("portal")), "Invalid input DomainId: must be a domain id"),
        (with("ExpiresIn", json!(60)), "Invalid input ExpiresIn: unknown property"),
        (json!({"DomainId": "d-abc123"}), "Invalid input UserProfileName: required property is missing"),
    ];
    for (input, expected) in cases {
        let error = sign_in(&cloud, input.clone()).await.expect_err("invalid input");
        assert_eq!(error.error_type, "InvalidInput", "{input}: {error}");
        assert!(error.error_message.starts_with(expected), "{input}: {}", error.error_message);
    }
    assert_eq!(cloud.sagemaker.total_calls(), 0);
}

#[tokio::test]
async fn an_identity_center_domain_is_refused_with_an_explanation() {
    let cloud = cloud().await;
    let domain = domain_with_alice(&cloud.sagemaker_client(), AuthMode::Sso).await;

    let error = sign_in(&cloud, json!({"DomainId": domain, "UserProfileName": "alice"})).await.expect_err("no URL for SSO");
    assert_eq!(error.error_type, "UnsupportedAuthMode");
    assert!(error.error_message.contains("IAM Identity Center"), "{}", error.error_message);
    assert!(error.error_message.contains("AuthMode IAM"), "{}", error.error_message);
    assert_eq!(cloud.sagemaker.call_count("CreatePresignedDomainUrl"), 0);
}

#[tokio::test]
async fn a_missing_domain_profile_or_space_is_named() {
    let cloud = cloud().await;
    let domain = domain_with_alice(&cloud.sagemaker_client(), AuthMode::Iam).await;

    let error = sign_in(&cloud, json!({"DomainId": "d-nosuchdomain", "UserProfileName": "alice"})).await.unwrap_err();
    assert_eq!((error.error_type.as_str(), error.error_message.as_str()), ("ResourceNotFound", "DomainId: domain d-nosuchdomain does not exist"));

    let error = sign_in(&cloud, json!({"DomainId": domain, "UserProfileName": "bob"})).await.unwrap_err();
    assert_eq!(error.error_type, "ResourceNotFound");
    assert_eq!(error.error_message, format!("UserProfileName: user profile bob does not exist in domain {domain}"));

    let error = sign_in(&cloud, json!({"DomainId": domain, "UserProfileName": "alice", "SpaceName": "nospace"})).await.unwrap_err();
    assert_eq!(error.error_type, "ResourceNotFound");
    assert_eq!(error.error_message, format!("SpaceName: space nospace does not exist in domain {domain}"));
}

#[tokio::test]
async fn the_url_stays_out_of_the_logs_even_at_trace_level() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    // RUST_LOG=trace would make the SDK log every response body.
    cloud.deploy_with(FUNCTION, Duration::from_secs(60), &[("RUST_LOG", "trace")]).await.expect("deploy");
    let domain = domain_with_alice(&cloud.sagemaker_client(), AuthMode::Iam).await;

    let output = sign_in(&cloud, json!({"DomainId": domain, "UserProfileName": "alice"})).await.expect("a URL");
    let token = output["AuthorizedUrl"].as_str().and_then(|u| u.split("token=").nth(1)).expect("a token");
    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.contains("CreatePresignedDomainUrl"), "trace logging is on:\n{logs}");
    assert!(!logs.contains(token), "the URL's token is in the logs:\n{logs}");
}
