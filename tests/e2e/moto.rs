//! studio-domain against an emulator nobody here wrote: moto's server (installed by
//! scripts/install-moto into target/moto-venv). moto implements CreateDomain, DescribeDomain,
//! DeleteDomain, ListDomains and tags, so a Create and a tags-only Update must succeed; it lacks
//! ListApps/ListSpaces/ListUserProfiles (it answers them with an HTTP 500 HTML page), so the
//! Delete must end FAILED within 5 minutes naming what failed, not hang until ServiceTimeout.
//!
//! Without moto the test is skipped with a reason, except under CI=true, where it fails.

use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::{ProtocolError, Response, Status};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const FUNCTION: &str = "studio-domain";

/// moto_server on 127.0.0.1, killed when dropped.
struct Moto {
    endpoint: String,
    _process: tokio::process::Child,
}

fn moto_server() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
    path.is_file().then_some(path)
}

async fn start_moto(binary: PathBuf) -> Moto {
    // A free port: bind, read, release (moto_server binds it itself).
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let process = tokio::process::Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("moto_server starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "moto_server did not listen on {port} within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Moto { endpoint: format!("http://127.0.0.1:{port}"), _process: process }
}

fn properties(team: &str) -> Value {
    json!({
        "DomainName": "moto-studio",
        "AuthMode": "IAM",
        "VpcId": "vpc-0a1b2c3d",
        "SubnetIds": ["subnet-0a", "subnet-0b"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/studio-execution"},
        "Tags": [{"Key": "team", "Value": team}],
        "ServiceTimeout": 600
    })
}

fn with_service_timeout(mut props: Value, seconds: u64) -> Value {
    props["ServiceTimeout"] = json!(seconds);
    props
}

fn succeeded(step: &str, response: &Response) {
    assert_eq!(response.status, Status::Success, "{step}: {:?}", response.reason);
}

#[tokio::test]
async fn the_domain_function_plays_create_update_and_a_bounded_delete_on_moto() {
    let Some(binary) = moto_server() else {
        let reason = "target/moto-venv/bin/moto_server is missing: run scripts/install-moto";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: {reason}");
        eprintln!("skipped: {reason}");
        return;
    };
    let moto = start_moto(binary).await;
    let mut cloud = LocalCloud::start().await.expect("local cloud");
    cloud.deploy_with(FUNCTION, Duration::from_secs(900), &[("AWS_ENDPOINT_URL_SAGEMAKER", &moto.endpoint)]).await.expect("deploy studio-domain");
    cloud.cfn.set_timeout(Duration::from_secs(120));

    let created = cloud.cfn.create(FUNCTION, "Domain", properties("ml")).await.expect("Create response");
    succeeded("Create", &created);
    let domain_id = created.physical_resource_id.clone();
    assert!(domain_id.starts_with("d-"), "a DomainId from moto: {domain_id}");

    let updated = cloud.cfn.update(FUNCTION, "Domain", &domain_id, properties("ml-platform"), properties("ml")).await.expect("Update response");
    succeeded("tags-only Update", &updated);

    // CloudFormation would wait up to ServiceTimeout (900 s here); the function must give up on
    // a persistent server error well before: within 5 minutes, naming the operation.
    cloud.cfn.set_timeout(Duration::from_secs(300));
    let started = Instant::now();
    let deleted = match cloud.cfn.delete(FUNCTION, "Domain", &domain_id, with_service_timeout(properties("ml-platform"), 900)).await {
        Ok(response) => response,
        Err(ProtocolError::NoResponse { waited, .. }) => {
            let logs = cloud.lambda.logs(FUNCTION);
            let last = logs.lines().last().unwrap_or_default();
            panic!("the Delete did not answer within {waited:?}; the function's last log line: {last}")
        }
        Err(other) => panic!("the Delete's response: {other}"),
    };
    let took = started.elapsed();
    assert_eq!(deleted.status, Status::Failed, "moto lacks the listing calls a Delete needs: {:?}", deleted.reason);
    let reason = deleted.reason.clone().unwrap_or_default();
    assert!(["ListApps", "ListSpaces", "ListUserProfiles"].iter().any(|op| reason.contains(op)), "the Reason names the operation moto lacks: {reason}");
    assert!(took < Duration::from_secs(300), "FAILED within 5 minutes, not at ServiceTimeout (took {took:?})");
}
