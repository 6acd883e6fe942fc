//! The ownership guards, step by step, in-process against the SageMaker emulator: progress is a
//! hint, never proof. Each test hands a step progress that points at a domain this stack
//! resource (or this request) does not own, and checks that nothing changed; a control shows
//! the same step acting on its own domain. Identity Center and EC2 point at a closed port: a
//! guard that let a call through would fail with a connection error instead of its Reason.

use crate::domain::{CreateProgress, Creating, StudioDomain, UpdateProgress};
use crate::properties::Properties;
use crate::teardown::DeleteProgress;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{AppType, AuthMode, Tag, UserSettings};
use custom_resource::clock::Clock;
use custom_resource::testing::SimClock;
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Patience, Request, RequestType, Step};
use sagemaker_emulator::{Options, Phase, ResourceKind, SageMakerEmulator};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use studio::ownership::{LOGICAL_ID, REQUEST_ID, STACK_ID};
use studio::visibility::CreatedAt;

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-a/1";
const LOGICAL: &str = "Domain";
const REQUEST: &str = "req-1";
/// Nothing listens there.
const CLOSED: &str = "http://127.0.0.1:9";

struct Fixture {
    emulator: SageMakerEmulator,
    client: Client,
    resource: StudioDomain,
}

fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_credential_types::Credentials::new("test", "test", None, None, "guard-tests");
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .build()
}

async fn fixture() -> Fixture {
    let emulator = SageMakerEmulator::start(Options { transition_delay: Duration::ZERO, ..Options::default() }).await.expect("emulator");
    let client = Client::new(&sdk_config(&emulator.endpoint()));
    let elsewhere = sdk_config(CLOSED);
    let nfs = studio::nfs_security_groups::NfsSecurityGroups::new(&elsewhere).expect("EC2 client");
    let resource = StudioDomain::with(client.clone(), studio::IdentityCenter::new(&elsewhere), nfs);
    Fixture { emulator, client, resource }
}

fn step(request_type: RequestType, physical_id: Option<&str>) -> Step {
    let request = Request::new(request_type, REQUEST, STACK, LOGICAL, physical_id);
    let clock = SimClock::new();
    let deadline = clock.now() + Duration::from_secs(60);
    Step::new(Arc::new(request), clock, Patience::default(), deadline)
}

fn properties(extra: Value) -> Properties {
    let mut value = json!({
        "DomainName": "research", "AuthMode": "IAM", "VpcId": "vpc-0a", "SubnetIds": ["subnet-0a"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio"}
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        value[k] = v;
    }
    custom_resource::properties::parse(value.as_object().unwrap()).unwrap()
}

/// Ownership tags naming `stack`'s `Domain` made in request `request`, plus `extra`.
fn tags(stack: &str, request: &str, extra: &[(&str, &str)]) -> Vec<Tag> {
    let mut pairs = vec![(STACK_ID, stack), (LOGICAL_ID, LOGICAL), (REQUEST_ID, request)];
    pairs.extend_from_slice(extra);
    pairs.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// A domain made with the SDK, InService.
async fn domain(fx: &Fixture, name: &str, tags: Vec<Tag>) -> String {
    let out = fx
        .client
        .create_domain()
        .domain_name(name)
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().execution_role("arn:aws:iam::123456789012:role/studio").build())
        .subnet_ids("subnet-0a")
        .vpc_id("vpc-0a")
        .set_tags(Some(tags))
        .send()
        .await
        .expect("CreateDomain");
    let id = out.domain_id().expect("DomainId").to_string();
    fx.client.describe_domain().domain_id(&id).send().await.expect("settled");
    id
}

/// A user profile with a running app in the domain.
async fn occupy(fx: &Fixture, domain_id: &str) {
    fx.client.create_user_profile().domain_id(domain_id).user_profile_name("alice").send().await.expect("CreateUserProfile");
    fx.client.describe_user_profile().domain_id(domain_id).user_profile_name("alice").send().await.expect("settled");
    fx.client
        .create_app()
        .domain_id(domain_id)
        .user_profile_name("alice")
        .app_type(AppType::JupyterServer)
        .app_name("default")
        .send()
        .await
        .expect("CreateApp");
}

/// How many calls of each operation that changes something the emulator received.
fn changes(fx: &Fixture) -> Vec<String> {
    let reads = ["Describe", "List"];
    fx.emulator.calls().into_iter().filter(|op| !reads.iter().any(|r| op.starts_with(r))).collect()
}

fn done<P: std::fmt::Debug>(outcome: Result<Outcome<P>, Error>) -> Done {
    match outcome {
        Ok(Outcome::Done(done)) => done,
        other => panic!("expected Done, got {other:?}"),
    }
}

fn failed<P: std::fmt::Debug>(outcome: Result<Outcome<P>, Error>) -> Error {
    match outcome {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

const OTHER_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/team-b/2";

#[tokio::test]
async fn an_emptying_step_leaves_another_stack_s_domain_untouched() {
    let fx = fixture().await;
    let theirs = domain(&fx, "theirs", tags(OTHER_STACK, "req-9", &[])).await;
    occupy(&fx, &theirs).await;
    let before = changes(&fx);
    let p = properties(json!({"ForceDelete": true}));
    let delete = step(RequestType::Delete, Some(&theirs));
    let answer = done(fx.resource.delete(&delete, &theirs, &p, Some(DeleteProgress::Emptying)).await);
    assert!(answer.reason.as_deref().unwrap_or_default().starts_with(&format!("retained: domain {theirs} is not ours")), "{answer:?}");
    assert_eq!(changes(&fx), before, "nothing deleted");

    // Control: the same step on this stack resource's own domain deletes its apps.
    let ours = domain(&fx, "ours", tags(STACK, "req-0", &[("studio-cfn:delete-options", "ForceDelete=true")])).await;
    occupy(&fx, &ours).await;
    let outcome = fx.resource.delete(&step(RequestType::Delete, Some(&ours)), &ours, &p, Some(DeleteProgress::Emptying)).await;
    assert!(matches!(outcome, Ok(Outcome::Pending(_))), "{outcome:?}");
    assert_eq!(fx.emulator.call_count("DeleteApp"), 1);
}

#[tokio::test]
async fn a_deleting_domain_step_leaves_another_stack_s_domain_untouched() {
    let fx = fixture().await;
    let theirs = domain(&fx, "theirs", tags(OTHER_STACK, "req-9", &[])).await;
    let before = changes(&fx);
    let progress =
        DeleteProgress::DeletingDomain { home_efs_file_system_id: None, vpc_id: Some("vpc-0a".into()), described: false, options: Default::default() };
    let answer = done(fx.resource.delete(&step(RequestType::Delete, Some(&theirs)), &theirs, &properties(json!({})), Some(progress)).await);
    assert!(answer.reason.as_deref().unwrap_or_default().starts_with("retained:"), "{answer:?}");
    assert_eq!(changes(&fx), before);
}

#[tokio::test]
async fn the_nfs_security_groups_of_a_live_domain_are_never_touched() {
    let fx = fixture().await;
    let live = domain(&fx, "live", tags(STACK, "req-0", &[])).await;
    let progress = DeleteProgress::RemovingNfsSecurityGroups {
        home_efs_file_system_id: None,
        vpc_id: "vpc-0a".into(),
        since_ms: 0,
        narrowed: vec![],
        removed: Default::default(),
    };
    let e = failed(fx.resource.delete(&step(RequestType::Delete, Some(&live)), &live, &properties(json!({})), Some(progress)).await);
    assert!(e.reason.starts_with(&format!("domain {live} still exists: its NFS security groups are removed only once it is gone")), "{e:?}");
}

#[tokio::test]
async fn a_delete_does_no_more_than_the_record_allows() {
    let fx = fixture().await;
    let recorded = "ForceDelete=false RetentionPolicy.HomeEfsFileSystem=Retain DeleteNfsSecurityGroups=true";
    let ours = domain(&fx, "ours", tags(STACK, "req-0", &[("studio-cfn:delete-options", recorded)])).await;
    occupy(&fx, &ours).await;
    let before = changes(&fx);
    let asked = properties(json!({"ForceDelete": "true", "RetentionPolicy": {"HomeEfsFileSystem": "Delete"}}));
    let e = failed(fx.resource.delete(&step(RequestType::Delete, Some(&ours)), &ours, &asked, None).await);
    for expected in [
        "still has 1 user profile (alice)",
        "ForceDelete true ignored: the template's last completed Create or Update set ForceDelete to false",
        "RetentionPolicy.HomeEfsFileSystem Delete ignored",
        "A stack whose Delete failed cannot be updated",
    ] {
        assert!(e.reason.contains(expected), "{expected:?} in {}", e.reason);
    }
    assert_eq!(changes(&fx), before, "no app stopped, no profile deleted");

    // No record at all (a domain made before records existed): the conservative choice.
    let unrecorded = domain(&fx, "old", tags(STACK, "req-0", &[])).await;
    occupy(&fx, &unrecorded).await;
    let e = failed(fx.resource.delete(&step(RequestType::Delete, Some(&unrecorded)), &unrecorded, &asked, None).await);
    assert!(e.reason.contains("ForceDelete true ignored: the resource has no record of its delete options"), "{}", e.reason);
}

#[tokio::test]
async fn a_create_step_acts_only_on_a_domain_of_this_request() {
    let fx = fixture().await;
    fx.emulator.set_unique_domain_names(false);
    // The stack's own domain, made by an earlier request (e.g. the one the stack keeps).
    let kept = domain(&fx, "research", tags(STACK, "req-0", &[])).await;
    let create = step(RequestType::Create, None);
    let progress = || Some(CreateProgress::Creating(Creating { domain_id: kept.clone(), created_at: CreatedAt::at(create.now()) }));
    let before = changes(&fx);

    // InService with principals to assign: refused before any Identity Center call.
    let sso = properties(json!({"AuthMode": "SSO", "SingleSignOnUsers": ["mallory"]}));
    let e = failed(fx.resource.create(&create, &sso, progress()).await);
    assert!(e.reason.starts_with(&format!("domain {kept} does not carry this request's ownership tags")), "{e:?}");
    assert_eq!(e.physical_resource_id.as_deref(), Some("create-failed:req-1"), "the answer does not name it, so no rollback deletes it");

    // A duplicate of this request's own domain would be deleted; another request's never is.
    domain(&fx, "research", tags(STACK, REQUEST, &[])).await;
    let e = failed(fx.resource.create(&create, &properties(json!({})), progress()).await);
    assert!(e.reason.contains("does not carry this request's ownership tags"), "{e:?}");

    // Failed: a Failed domain of this request is deleted; another request's is left.
    fx.emulator.fail_next(ResourceKind::Domain, Phase::Create, "no capacity");
    let failed_one = domain(&fx, "other", tags(STACK, "req-0", &[])).await;
    let progress = Some(CreateProgress::Creating(Creating { domain_id: failed_one.clone(), created_at: CreatedAt::at(create.now()) }));
    let e = failed(fx.resource.create(&create, &properties(json!({"DomainName": "other"})), progress).await);
    assert!(e.reason.contains("does not carry this request's ownership tags"), "{e:?}");
    assert_eq!(changes(&fx), [before, vec!["CreateDomain".to_string(), "CreateDomain".to_string()]].concat(), "nothing deleted or assigned");
}

#[tokio::test]
async fn an_update_step_writes_no_record_on_another_stack_s_domain() {
    let fx = fixture().await;
    let theirs = domain(&fx, "theirs", tags(OTHER_STACK, "req-9", &[])).await;
    let before = changes(&fx);
    let p = properties(json!({"DomainName": "theirs", "ForceDelete": true}));
    let update = step(RequestType::Update, Some(&theirs));
    let change = Change { physical_id: &theirs, properties: &p, old: Some(&p) };
    let e = failed(fx.resource.update(&update, change, Some(UpdateProgress::Updating { summary: String::new() })).await);
    assert!(e.reason.starts_with(&format!("domain {theirs} is not ours")), "{e:?}");
    assert_eq!(changes(&fx), before, "no AddTags");
}
