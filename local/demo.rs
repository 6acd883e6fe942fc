//! The demo: a whole stack lifecycle played through the real function binaries on the local
//! cloud. The resources of examples/cloudformation/studio.yaml (a lifecycle config with an asset,
//! a domain that uses it, two user profiles, a shared team space) are created, updated in place, then deleted in
//! CloudFormation's order. Prints every response.

use crate::cloud::LocalCloud;
use crate::cloudformation::{Response, Status};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

const SOURCE_BUCKET: &str = "demo-asset-sources";
const ASSET_BUCKET: &str = "demo-lifecycle-assets";

/// Plays the stack on a new local cloud; Err if any response was not the expected SUCCESS.
pub async fn run() -> Result<(), String> {
    let options = sagemaker_emulator::Options { transition_delay: Duration::from_millis(300), ..Default::default() };
    let cloud = LocalCloud::start_with(options).await.map_err(|e| format!("starting the local cloud: {e}"))?;
    println!("local cloud: SageMaker {}  S3 {}  Lambda {}", cloud.sagemaker.endpoint(), cloud.s3.endpoint(), cloud.lambda.endpoint());
    play_stack(&cloud).await
}

/// Deploys the stack's functions on `cloud` and plays the stack (tests inspect the cloud after).
pub async fn play_stack(cloud: &LocalCloud) -> Result<(), String> {
    for function in ["studio-lifecycle-config", "studio-domain", "studio-user-profile", "studio-space"] {
        cloud.deploy(function).await.map_err(|e| format!("deploying {function}: {e}"))?;
    }
    stage_sources(cloud).await?;
    let mut play = Play::default();

    let config_props = json!({
        "StudioLifecycleConfigName": "demo-jupyterlab",
        "StudioLifecycleConfigAppType": "JupyterLab",
        "Commands": ["pip install --quiet -r \"$ASSETS_DIR/tools/requirements.txt\"", "echo ready"],
        "Assets": [{"Name": "tools", "SourceBucket": SOURCE_BUCKET, "SourceKey": "assets/tools.zip", "Exclude": ["*.pyc"]}],
        "AssetBucket": ASSET_BUCKET,
        "ServiceTimeout": 600
    });
    let config = play.step("Create", "LifecycleConfig", cloud.cfn.create("studio-lifecycle-config", "LifecycleConfig", config_props.clone()).await);
    let config_arn = config.as_ref().and_then(|r| r.data.get("StudioLifecycleConfigArn").cloned()).unwrap_or_default();

    let domain_props = |team: &str| {
        json!({
            "DomainName": "demo-studio",
            "AuthMode": "IAM",
            "VpcId": "vpc-0a1b2c3d",
            "SubnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
            "AppNetworkAccessType": "VpcOnly",
            "DefaultUserSettings": {
                "ExecutionRole": "arn:aws:iam::123456789012:role/demo-studio-execution",
                "SecurityGroups": ["sg-0a1b2c3d"],
                "JupyterLabAppSettings": {
                    "LifecycleConfigArns": [config_arn],
                    "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60}}
                }
            },
            "Tags": [{"Key": "team", "Value": team}],
            "ServiceTimeout": 1800
        })
    };
    let domain = play.step("Create", "Domain", cloud.cfn.create("studio-domain", "Domain", domain_props("ml")).await);
    let domain_id = domain.as_ref().map(|r| r.physical_resource_id.clone()).unwrap_or_default();

    // As in examples/cloudformation/studio.yaml: alice with the domain's defaults, bob with his own idle timeout.
    let profile_props = |name: &str, idle: Option<u32>| {
        let mut props = json!({"DomainId": domain_id, "UserProfileName": name, "Tags": [{"Key": "owner", "Value": name}]});
        if let Some(idle) = idle {
            props["UserSettings"] = json!({"JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": idle}}}});
        }
        props
    };
    let mut profiles = Vec::new();
    for (logical_id, name, idle) in [("AliceProfile", "alice", None), ("BobProfile", "bob", Some(60))] {
        let created = play.step("Create", logical_id, cloud.cfn.create("studio-user-profile", logical_id, profile_props(name, idle)).await);
        profiles.push((logical_id, name, created.map(|r| r.physical_resource_id).unwrap_or_default()));
    }

    // As in the example: a shared team space.
    let space_props = json!({
        "DomainId": domain_id,
        "SpaceName": "team",
        "SpaceDisplayName": "Team space",
        "SpaceSharingSettings": {"SharingType": "Shared"},
        "SpaceSettings": {"AppType": "JupyterLab", "SpaceStorageSettings": {"EbsStorageSettings": {"EbsVolumeSizeInGb": 50}}},
        "Tags": [{"Key": "team", "Value": "demo-studio"}],
        "ServiceTimeout": 1800
    });
    let space = play.step("Create", "TeamSpace", cloud.cfn.create("studio-space", "TeamSpace", space_props.clone()).await);
    let space_arn = space.map(|r| r.physical_resource_id).unwrap_or_default();

    // Updates in place: a tag edit on the domain, bob's idle timeout.
    play.step("Update", "Domain", cloud.cfn.update("studio-domain", "Domain", &domain_id, domain_props("ml-platform"), domain_props("ml")).await);
    let bob_arn = &profiles[1].2;
    play.step(
        "Update",
        "BobProfile",
        cloud.cfn.update("studio-user-profile", "BobProfile", bob_arn, profile_props("bob", Some(120)), profile_props("bob", Some(60))).await,
    );

    // Stack delete: dependants first.
    play.step("Delete", "TeamSpace", cloud.cfn.delete("studio-space", "TeamSpace", &space_arn, space_props).await);
    for (logical_id, name, arn) in &profiles {
        let idle = (*name == "bob").then_some(120);
        play.step("Delete", logical_id, cloud.cfn.delete("studio-user-profile", logical_id, arn, profile_props(name, idle)).await);
    }
    play.step("Delete", "Domain", cloud.cfn.delete("studio-domain", "Domain", &domain_id, domain_props("ml-platform")).await);
    play.step("Delete", "LifecycleConfig", cloud.cfn.delete("studio-lifecycle-config", "LifecycleConfig", &config_arn, config_props).await);

    // Every Delete answers SUCCESS even when it removed nothing: the account must be empty.
    let left = leftovers(cloud).await?;
    if !left.is_empty() {
        return Err(format!("the stack's Deletes left {}", left.join(", ")));
    }
    match play.failures {
        0 => {
            println!("\nall responses SUCCESS; SageMaker API calls: {}", cloud.sagemaker.total_calls());
            Ok(())
        }
        n => Err(format!("{n} step(s) did not succeed")),
    }
}

/// What is left in the local account after the stack's delete: domains, user profiles, spaces,
/// lifecycle configs and staged assets.
async fn leftovers(cloud: &LocalCloud) -> Result<Vec<String>, String> {
    let sagemaker = cloud.sagemaker_client();
    let mut left = Vec::new();
    let domains = sagemaker.list_domains().send().await.map_err(|e| format!("ListDomains: {e}"))?;
    for domain in domains.domains() {
        left.push(format!("domain {}", domain.domain_id().unwrap_or_default()));
        let profiles = sagemaker.list_user_profiles().set_domain_id_equals(domain.domain_id().map(str::to_string)).send().await;
        let profiles = profiles.map_err(|e| format!("ListUserProfiles: {e}"))?;
        left.extend(profiles.user_profiles().iter().map(|p| format!("user profile {}", p.user_profile_name().unwrap_or_default())));
        let spaces = sagemaker.list_spaces().set_domain_id_equals(domain.domain_id().map(str::to_string)).send().await;
        let spaces = spaces.map_err(|e| format!("ListSpaces: {e}"))?;
        left.extend(spaces.spaces().iter().map(|s| format!("space {}", s.space_name().unwrap_or_default())));
    }
    let configs = sagemaker.list_studio_lifecycle_configs().send().await.map_err(|e| format!("ListStudioLifecycleConfigs: {e}"))?;
    left.extend(configs.studio_lifecycle_configs().iter().map(|c| format!("lifecycle config {}", c.studio_lifecycle_config_name().unwrap_or_default())));
    let objects = cloud.s3.client().await.list_objects_v2().bucket(ASSET_BUCKET).send().await.map_err(|e| format!("ListObjectsV2: {e}"))?;
    left.extend(objects.contents().iter().map(|o| format!("s3://{ASSET_BUCKET}/{}", o.key().unwrap_or_default())));
    Ok(left)
}

/// Prints each response and counts those that were not SUCCESS.
#[derive(Default)]
struct Play {
    failures: usize,
}

impl Play {
    fn step(&mut self, request_type: &str, logical_id: &str, result: Result<Response, crate::cloudformation::ProtocolError>) -> Option<Response> {
        let response = match result {
            Ok(r) => {
                let data: Value = serde_json::to_value(&r.data).unwrap_or_default();
                let status = if r.status == Status::Success { "SUCCESS" } else { "FAILED" };
                println!("\n{request_type} {logical_id}: {status} {}", r.physical_resource_id);
                if let Some(reason) = &r.reason {
                    println!("  Reason: {reason}");
                }
                if !r.data.is_empty() {
                    println!("  Data: {data}");
                }
                if r.status != Status::Success {
                    self.failures += 1;
                }
                Some(r)
            }
            Err(e) => {
                println!("\n{request_type} {logical_id}: no valid response: {e}");
                self.failures += 1;
                None
            }
        };
        let _ = std::io::stdout().flush();
        response
    }
}

/// The asset as `aws cloudformation package` or a CDK asset would leave it: a zip in S3.
async fn stage_sources(cloud: &LocalCloud) -> Result<(), String> {
    for bucket in [SOURCE_BUCKET, ASSET_BUCKET] {
        cloud.s3.create_bucket(bucket).await.map_err(|e| format!("creating bucket {bucket}: {e}"))?;
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let files = [("requirements.txt", "jupyterlab-git\n"), ("bin/setup.sh", "#!/bin/bash\necho setting up\n"), ("cache/x.pyc", "junk")];
    for (name, content) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default()).map_err(|e| e.to_string())?;
        zip.write_all(content.as_bytes()).map_err(|e| e.to_string())?;
    }
    let bytes = zip.finish().map_err(|e| e.to_string())?.into_inner();
    cloud
        .s3
        .client()
        .await
        .put_object()
        .bucket(SOURCE_BUCKET)
        .key("assets/tools.zip")
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| format!("uploading the demo asset: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(())
}
