//! studio-signin-url end to end: the real binary behind the Lambda emulator's Function URL
//! (AuthType AWS_IAM: the event carries the signed request's principal), against the SageMaker
//! emulator. Portal backends (trusted callers) and users themselves (self-service roles).

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sagemaker::types::{AuthMode, OwnershipSettings, SharingType, SpaceSharingSettings, UserSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::lambda::{FunctionUrlResponse, signed_request_event};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const FUNCTION: &str = "studio-signin-url";
const ROLE: &str = "arn:aws:iam::123456789012:role/StudioExecution";
/// A portal backend's role, with a path (its sessions' ARNs do not show it).
const PORTAL_ROLE: &str = "arn:aws:iam::123456789012:role/portal/backend/PortalBackend";
const PORTAL: &str = "arn:aws:sts::123456789012:assumed-role/PortalBackend/i-0123456789abcdef0";
/// The role users sign in to the console with (an IAM Identity Center permission set's role).
const USERS_ROLE: &str = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataScientist_0123456789abcdef";

/// The ARN of `user`'s session of the self-service role.
fn user(name: &str) -> String {
    format!("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef/{name}")
}

/// Deploys the function allowed to sign in to `domains`, with the two caller roles above.
async fn deploy(cloud: &LocalCloud, domains: &[&str], env: &[(&str, &str)]) {
    let domains = domains.join(",");
    let mut all = vec![("SIGNIN_TRUSTED_CALLER_ARNS", PORTAL_ROLE), ("SIGNIN_SELF_SERVICE_ROLE_ARNS", USERS_ROLE), ("SIGNIN_DOMAIN_IDS", domains.as_str())];
    all.extend_from_slice(env);
    cloud.deploy_with(FUNCTION, Duration::from_secs(60), &all).await.expect("deploy");
}

/// A signed POST from `caller` to the function's URL.
async fn post(cloud: &LocalCloud, caller: &str, body: Value) -> FunctionUrlResponse {
    cloud.lambda.invoke_url(FUNCTION, signed_request_event(caller, "POST", &body.to_string())).await.expect("the URL answers")
}

/// Asserts an error response: status, errorType, and the start of errorMessage.
fn assert_error(response: &FunctionUrlResponse, status: u16, error_type: &str, message_start: &str) {
    let body = response.json();
    assert_eq!((response.status, body["errorType"].as_str()), (status, Some(error_type)), "{body}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.starts_with(message_start), "{message:?} does not start with {message_start:?}");
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

/// An InService domain `name` with an InService user profile "alice" (and, for IAM, a private space
/// "alice-space"); returns the domain id.
async fn domain_with_alice(client: &Client, name: &str, auth: AuthMode) -> String {
    let out = client
        .create_domain()
        .domain_name(name)
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

fn expires_at(response: &FunctionUrlResponse) -> i64 {
    DateTime::from_str(response.json()["ExpiresAt"].as_str().expect("ExpiresAt"), DateTimeFormat::DateTime).unwrap().secs()
}

fn token(response: &FunctionUrlResponse) -> String {
    let body = response.json();
    body["AuthorizedUrl"].as_str().and_then(|u| u.split("token=").nth(1)).expect("a URL with a token").to_string()
}

#[tokio::test]
async fn a_trusted_caller_gets_a_url_for_any_profile_of_an_allowed_domain_and_the_url_is_never_logged() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let client = cloud.sagemaker_client();
    let domain = domain_with_alice(&client, "portal", AuthMode::Iam).await;
    client.create_user_profile().domain_id(&domain).user_profile_name("bob").send().await.expect("CreateUserProfile bob");
    deploy(&cloud, &[&domain], &[]).await;

    let before = now_secs();
    let response = post(
        &cloud,
        PORTAL,
        json!({"DomainId": domain, "UserProfileName": "alice", "ExpiresInSeconds": 60,
            "SessionExpirationDurationInSeconds": 1800, "LandingUri": "app:JupyterLab:lab/tree/work", "SpaceName": "alice-space"}),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!((response.header("content-type"), response.header("cache-control")), (Some("application/json"), Some("no-store")));
    let url = response.json()["AuthorizedUrl"].as_str().expect("AuthorizedUrl").to_string();
    assert!(url.starts_with(&format!("https://{domain}.studio.us-east-1.sagemaker.aws/auth?token=")), "{url}");
    assert!((before + 60..=now_secs() + 60).contains(&expires_at(&response)), "ExpiresAt is not 60 s from now");

    // Any profile of the domain; without ExpiresInSeconds, the API's default of 300 s.
    let for_bob = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "bob"})).await;
    assert_eq!(for_bob.status, 200, "{}", for_bob.body);
    assert!((before + 300..=now_secs() + 300).contains(&expires_at(&for_bob)));

    let logs = cloud.lambda.logs(FUNCTION);
    let issued: Vec<Value> =
        logs.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|l| l["fields"]["message"] == "presigned domain URL created").collect();
    assert_eq!(issued.len(), 2, "{logs}");
    for (line, profile) in issued.iter().zip(["alice", "bob"]) {
        let span = &line["span"];
        assert_eq!(
            (span["CallerArn"].as_str(), span["DomainId"].as_str(), span["UserProfileName"].as_str()),
            (Some(PORTAL), Some(domain.as_str()), Some(profile)),
            "{line}"
        );
        assert!(line["fields"]["ExpiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{line}");
    }
    for token in [token(&response), token(&for_bob)] {
        assert!(!logs.contains(&token), "the URL's token is in the logs:\n{logs}");
    }
    assert_eq!(cloud.sagemaker.call_count("CreatePresignedDomainUrl"), 2);
}

#[tokio::test]
async fn a_trusted_caller_is_refused_a_domain_not_allowed_without_a_sagemaker_call() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let client = cloud.sagemaker_client();
    let allowed = domain_with_alice(&client, "portal", AuthMode::Iam).await;
    let other = domain_with_alice(&client, "other", AuthMode::Iam).await;
    deploy(&cloud, &[&allowed], &[]).await;

    let calls = cloud.sagemaker.total_calls();
    let response = post(&cloud, PORTAL, json!({"DomainId": other, "UserProfileName": "alice"})).await;
    assert_error(&response, 403, "AccessDenied", &format!("DomainId: this function does not sign in to domain {other}"));
    assert_eq!(cloud.sagemaker.total_calls(), calls, "a refusal called SageMaker: {:?}", cloud.sagemaker.calls());
    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.lines().any(|l| l.contains("\"refused\"") && l.contains(PORTAL)), "the refusal is not logged with the caller:\n{logs}");
}

#[tokio::test]
async fn a_self_service_caller_gets_their_own_profile_and_nobody_elses() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let client = cloud.sagemaker_client();
    let domain = domain_with_alice(&client, "portal", AuthMode::Iam).await;
    client.create_user_profile().domain_id(&domain).user_profile_name("bob").send().await.expect("CreateUserProfile bob");
    deploy(&cloud, &[&domain], &[]).await;

    let own = post(&cloud, &user("alice"), json!({"DomainId": domain, "UserProfileName": "alice", "SpaceName": "alice-space"})).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(own.json()["AuthorizedUrl"].as_str().is_some_and(|u| u.starts_with("https://")));

    let calls = cloud.sagemaker.total_calls();
    let response = post(&cloud, &user("alice"), json!({"DomainId": domain, "UserProfileName": "bob"})).await;
    assert_error(
        &response,
        403,
        "AccessDenied",
        "UserProfileName: a self-service caller may sign in only as the user profile named like its role session (alice), not as bob",
    );
    assert_eq!(cloud.sagemaker.total_calls(), calls, "a refusal called SageMaker: {:?}", cloud.sagemaker.calls());
    assert_eq!(cloud.sagemaker.call_count("CreatePresignedDomainUrl"), 1);
    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.lines().any(|l| l.contains("\"refused\"") && l.contains(&user("alice")) && l.contains("not as bob")), "{logs}");
}

#[tokio::test]
async fn unknown_callers_and_a_direct_invoke_are_refused_without_a_sagemaker_call() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Iam).await;
    deploy(&cloud, &[&domain], &[]).await;
    let calls = cloud.sagemaker.total_calls();
    let body = json!({"DomainId": domain, "UserProfileName": "alice"});

    for caller in [
        "arn:aws:sts::123456789012:assumed-role/PowerUser/alice",
        // The trusted role's name in another account; an IAM user named like it.
        "arn:aws:sts::210987654321:assumed-role/PortalBackend/i-0123456789abcdef0",
        "arn:aws:iam::123456789012:user/PortalBackend",
        "arn:aws:iam::123456789012:root",
    ] {
        let response = post(&cloud, caller, body.clone()).await;
        assert_error(&response, 403, "AccessDenied", &format!("{caller} is neither a trusted caller nor a self-service role"));
    }

    // A direct invoke (aws lambda invoke) carries no caller: the answer is a 403 as well.
    let answer = cloud.lambda.invoke(FUNCTION, body.clone()).await.expect("an answer, not a function error");
    assert_eq!(answer["statusCode"], 403, "{answer}");
    let error: Value = serde_json::from_str(answer["body"].as_str().unwrap_or_default()).expect("a JSON body");
    assert_eq!(error["errorType"], "AccessDenied");
    assert!(error["errorMessage"].as_str().unwrap_or_default().starts_with("no caller identity: call this function through its Function URL"), "{error}");

    // A URL without IAM authentication (no authorizer in the event) identifies nobody either.
    let mut unsigned = signed_request_event(PORTAL, "POST", &body.to_string());
    unsigned["requestContext"]["authorizer"] = Value::Null;
    let response = cloud.lambda.invoke_url(FUNCTION, unsigned).await.expect("the URL answers");
    assert_error(&response, 403, "AccessDenied", "no caller identity");

    assert_eq!(cloud.sagemaker.total_calls(), calls, "a refusal called SageMaker: {:?}", cloud.sagemaker.calls());
    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.lines().any(|l| l.contains("\"refused\"") && l.contains("assumed-role/PowerUser/alice")), "{logs}");
}

#[tokio::test]
async fn a_session_longer_than_the_cap_is_refused_naming_the_cap() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Iam).await;
    deploy(&cloud, &[&domain], &[("SIGNIN_MAX_SESSION_SECONDS", "3600")]).await;
    let calls = cloud.sagemaker.total_calls();

    let response = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "alice", "SessionExpirationDurationInSeconds": 7200})).await;
    assert_error(
        &response,
        400,
        "InvalidInput",
        "Invalid input SessionExpirationDurationInSeconds: must be at most 3600, the longest Studio session this function issues (SIGNIN_MAX_SESSION_SECONDS), got 7200",
    );
    assert_eq!(cloud.sagemaker.total_calls(), calls);
    // At the cap, and without asking (the cap is asked for, not SageMaker's 12 hours): a URL.
    for body in [
        json!({"DomainId": domain, "UserProfileName": "alice", "SessionExpirationDurationInSeconds": 3600}),
        json!({"DomainId": domain, "UserProfileName": "alice"}),
    ] {
        let response = post(&cloud, PORTAL, body).await;
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let logs = cloud.lambda.logs(FUNCTION);
    let sessions: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|l| l["fields"]["SessionExpirationDurationInSeconds"].clone())
        .filter(|s| !s.is_null())
        .collect();
    assert_eq!(sessions, [json!(3600), json!(3600)], "{logs}");
}

#[tokio::test]
async fn the_sample_events_get_urls() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Iam).await;
    deploy(&cloud, &[&domain], &[]).await;
    for name in ["signin-url.json", "signin-url-self-service.json"] {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).expect("sample event").replace("d-example12345", &domain);
        let event: Value = serde_json::from_str(&text).expect("sample event is JSON");
        let response = cloud.lambda.invoke_url(FUNCTION, event).await.expect("the URL answers");
        assert_eq!(response.status, 200, "{name}: {}", response.body);
        let body = response.json();
        assert!(body["AuthorizedUrl"].as_str().is_some_and(|u| u.starts_with("https://")), "{name}: {body}");
        assert!(body["ExpiresAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{name}: {body}");
    }
}

#[tokio::test]
async fn invalid_input_names_the_field_without_calling_sagemaker() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    deploy(&cloud, &["d-abc123"], &[]).await;
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
        (json!(["d-abc123", "alice"]), "Invalid input body: must be a JSON object"),
    ];
    for (input, expected) in cases {
        let response = post(&cloud, PORTAL, input.clone()).await;
        assert_error(&response, 400, "InvalidInput", expected);
    }
    let response = cloud.lambda.invoke_url(FUNCTION, signed_request_event(PORTAL, "POST", "DomainId=d-abc123")).await.expect("the URL answers");
    assert_error(&response, 400, "InvalidInput", "Invalid input body: must be a JSON object");
    let response = cloud.lambda.invoke_url(FUNCTION, signed_request_event(PORTAL, "GET", "")).await.expect("the URL answers");
    assert_error(&response, 405, "MethodNotAllowed", "use POST");
    assert_eq!(cloud.sagemaker.total_calls(), 0);
}

#[tokio::test]
async fn an_identity_center_domain_is_refused_with_an_explanation() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Sso).await;
    deploy(&cloud, &[&domain], &[]).await;

    let response = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "alice"})).await;
    assert_error(&response, 400, "UnsupportedAuthMode", &format!("domain {domain} uses IAM Identity Center (AuthMode SSO)"));
    assert!(
        response.json()["errorMessage"].as_str().unwrap_or_default().contains("presigned URLs exist only for domains with AuthMode IAM"),
        "{}",
        response.body
    );
    assert_eq!(cloud.sagemaker.call_count("CreatePresignedDomainUrl"), 0);
}

#[tokio::test]
async fn a_missing_domain_profile_or_space_is_named() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Iam).await;
    deploy(&cloud, &[&domain, "d-nosuchdomain"], &[]).await;

    let response = post(&cloud, PORTAL, json!({"DomainId": "d-nosuchdomain", "UserProfileName": "alice"})).await;
    assert_error(&response, 404, "ResourceNotFound", "DomainId: domain d-nosuchdomain does not exist");
    let response = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "bob"})).await;
    assert_error(&response, 404, "ResourceNotFound", &format!("UserProfileName: user profile bob does not exist in domain {domain}"));
    let response = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "alice", "SpaceName": "nospace"})).await;
    assert_error(&response, 404, "ResourceNotFound", &format!("SpaceName: space nospace does not exist in domain {domain}"));
}

#[tokio::test]
async fn a_sagemaker_failure_is_a_502_with_its_code() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Iam).await;
    deploy(&cloud, &[&domain], &[]).await;
    cloud.sagemaker.refuse_next("CreatePresignedDomainUrl", "ValidationException", "not authorized to perform sagemaker:CreatePresignedDomainUrl");

    let response = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "alice"})).await;
    assert_eq!(response.status, 502, "{}", response.body);
    assert!(
        response.json()["errorMessage"].as_str().unwrap_or_default().contains("not authorized to perform sagemaker:CreatePresignedDomainUrl"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn a_misconfigured_function_does_not_start_and_says_why() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    deploy(&cloud, &["d-abc123"], &[("SIGNIN_TRUSTED_CALLER_ARNS", "PortalBackend")]).await;

    let response = post(&cloud, PORTAL, json!({"DomainId": "d-abc123", "UserProfileName": "alice"})).await;
    assert_eq!(response.status, 502, "{}", response.body);
    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.lines().any(|l| l.contains("SIGNIN_TRUSTED_CALLER_ARNS") && l.contains("PortalBackend") && l.contains("is not an IAM role ARN")), "{logs}");
    assert_eq!(cloud.sagemaker.total_calls(), 0);
}

#[tokio::test]
async fn the_url_stays_out_of_the_logs_even_at_trace_level() {
    let cloud = LocalCloud::start().await.expect("local cloud");
    let domain = domain_with_alice(&cloud.sagemaker_client(), "portal", AuthMode::Iam).await;
    // RUST_LOG=trace would make the SDK log every response body.
    deploy(&cloud, &[&domain], &[("RUST_LOG", "trace")]).await;

    let response = post(&cloud, PORTAL, json!({"DomainId": domain, "UserProfileName": "alice"})).await;
    let token = token(&response);
    let logs = cloud.lambda.logs(FUNCTION);
    assert!(logs.contains("CreatePresignedDomainUrl"), "trace logging is on:\n{logs}");
    assert!(!logs.contains(&token), "the URL's token is in the logs:\n{logs}");
}
