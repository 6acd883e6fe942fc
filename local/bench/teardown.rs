//! Teardown: a domain made by studio-domain, seeded with user profiles, each with a running
//! JupyterServer app and a private space running a JupyterLab app, deleted with ForceDelete
//! while every transition takes `delay` and a fifth of all SageMaker calls are throttled.
//! The critical path is four transitions: apps, then spaces, then profiles, then the domain.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::DisplayErrorContext;
use aws_sdk_sagemaker::types::{AppType, OwnershipSettings, SharingType, SpaceSharingSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::RequestType;
use sagemaker_emulator::Options;
use serde_json::{Value, json};

use crate::Settings;
use crate::report::Part;
use crate::util::{format_duration, format_ratio, median, timed_send};

const FUNCTION: &str = "studio-domain";
const THROTTLE_RATE: f64 = 0.2;
/// Items per List* page: SageMaker's default when MaxResults is not given.
const PAGE_SIZE: usize = 10;

struct Sample {
    wall: Duration,
    calls: BTreeMap<String, usize>,
}

pub async fn run(settings: &Settings) -> Part {
    let (profiles, delay) = if settings.smoke { (2, Duration::from_millis(200)) } else { (20, Duration::from_secs(2)) };
    let critical_path = delay * 4;
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    for run in 0..settings.runs {
        match measure(profiles, delay, run).await {
            Ok(sample) => samples.push(sample),
            Err(e) => {
                errors.push(format!("teardown: {e}"));
                break;
            }
        }
    }
    report(settings, profiles, delay, critical_path, &samples, errors)
}

fn properties(run: usize) -> Value {
    json!({
        "DomainName": format!("bench-teardown-{run}"),
        "AuthMode": "IAM",
        "VpcId": "vpc-0bench",
        "SubnetIds": ["subnet-0a", "subnet-0b"],
        "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/StudioExecution"},
        "ForceDelete": true,
    })
}

async fn measure(profiles: usize, delay: Duration, run: usize) -> Result<Sample, String> {
    let options = Options { transition_delay: Duration::ZERO, page_size: PAGE_SIZE, ..Options::default() };
    let mut cloud = LocalCloud::start_with(options).await.map_err(|e| format!("cannot start the local cloud: {e}"))?;
    cloud.cfn.set_timeout(Duration::from_secs(600));
    crate::util::binary(FUNCTION)?; // a missing binary is an error here, not a panic in deploy
    cloud.deploy(FUNCTION).await.map_err(|e| format!("deploy: {e}"))?;
    let created = cloud.cfn.create(FUNCTION, "Domain", properties(run)).await.map_err(|e| e.to_string())?;
    if created.status != local_cloud::cloudformation::Status::Success {
        return Err(format!("domain Create FAILED: {}", created.reason.unwrap_or_default()));
    }
    let domain_id = created.physical_resource_id.clone();
    seed(&cloud, &domain_id, profiles).await?;

    cloud.sagemaker.set_transition_delay(delay);
    cloud.sagemaker.set_throttle_rate(THROTTLE_RATE);
    let before = cloud.sagemaker.calls().len();
    let event = cloud.cfn.event(RequestType::Delete, FUNCTION, "Domain", Some(&domain_id), properties(run), None).await.map_err(|e| e.to_string())?;
    let (wall, _) = timed_send(&cloud.cfn, &cloud.lambda, FUNCTION, event).await.map_err(|e| format!("domain Delete: {e}"))?;
    let mut calls = BTreeMap::new();
    for operation in cloud.sagemaker.calls().into_iter().skip(before) {
        *calls.entry(operation).or_insert(0) += 1;
    }
    cloud.sagemaker.set_throttle_rate(0.0);
    let left = cloud.sagemaker.snapshot();
    let remaining = |kind: &str| left[kind].as_array().map_or(0, Vec::len);
    if remaining("domains") + remaining("profiles") + remaining("spaces") > 0 {
        return Err(format!("SUCCESS, but resources are left: {left}"));
    }
    Ok(Sample { wall, calls })
}

/// Profiles, private spaces and apps, all InService (delays are zero while seeding).
async fn seed(cloud: &LocalCloud, domain_id: &str, profiles: usize) -> Result<(), String> {
    let sm = cloud.sagemaker_client();
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("seeding, {what}: {e}");
    for n in 0..profiles {
        let user = format!("user-{n:02}");
        sm.create_user_profile().domain_id(domain_id).user_profile_name(&user).send().await.map_err(|e| fail("CreateUserProfile", &DisplayErrorContext(e)))?;
    }
    cloud.sagemaker.snapshot(); // settles everything started so far
    for n in 0..profiles {
        let user = format!("user-{n:02}");
        sm.create_space()
            .domain_id(domain_id)
            .space_name(format!("{user}-private"))
            .ownership_settings(OwnershipSettings::builder().owner_user_profile_name(&user).build())
            .space_sharing_settings(SpaceSharingSettings::builder().sharing_type(SharingType::Private).build())
            .send()
            .await
            .map_err(|e| fail("CreateSpace", &DisplayErrorContext(e)))?;
    }
    cloud.sagemaker.snapshot();
    for n in 0..profiles {
        let user = format!("user-{n:02}");
        app(&sm, domain_id, Some(&user), None, AppType::JupyterServer).await?;
        app(&sm, domain_id, None, Some(&format!("{user}-private")), AppType::JupyterLab).await?;
    }
    let seeded = cloud.sagemaker.snapshot();
    let in_service = seeded["apps"].as_array().into_iter().flatten().filter(|a| a["Status"] == "InService").count();
    if in_service != 2 * profiles {
        return Err(format!("seeding: {in_service} apps InService, expected {}", 2 * profiles));
    }
    Ok(())
}

async fn app(sm: &Client, domain_id: &str, profile: Option<&str>, space: Option<&str>, app_type: AppType) -> Result<(), String> {
    sm.create_app()
        .domain_id(domain_id)
        .set_user_profile_name(profile.map(str::to_string))
        .set_space_name(space.map(str::to_string))
        .app_type(app_type)
        .app_name("default")
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("seeding, CreateApp: {}", DisplayErrorContext(e)))
}

fn report(settings: &Settings, profiles: usize, delay: Duration, critical_path: Duration, samples: &[Sample], errors: Vec<String>) -> Part {
    let mut md = format!(
        "### Teardown\n\nA domain (made by `{FUNCTION}`) with {profiles} user profiles, each with a running \
         JupyterServer app and a private space running a JupyterLab app, deleted with ForceDelete. Every \
         SageMaker transition takes {} and {:.0}% of all calls are throttled; List* pages of {PAGE_SIZE}. \
         Critical path: apps, then spaces, then profiles, then the domain = 4 x {}. Wall time: from the \
         Delete event to the response; median of {} run(s).\n\n",
        format_duration(delay.as_secs_f64()),
        THROTTLE_RATE * 100.0,
        format_duration(delay.as_secs_f64()),
        settings.runs
    );
    if samples.is_empty() {
        let error = errors.first().cloned().unwrap_or_else(|| "not run".into());
        md.push_str(&format!("Not measured: {}\n", error.lines().next().unwrap_or_default()));
        return Part { markdown: md, json: json!({"error": error}), errors };
    }
    let wall = median(&samples.iter().map(|s| s.wall.as_secs_f64()).collect::<Vec<_>>());
    let total = median(&samples.iter().map(|s| s.calls.values().sum::<usize>() as f64).collect::<Vec<_>>());
    let ratio = wall / critical_path.as_secs_f64();
    // Calls per operation in the run whose total is the median's (or nearest above it).
    let mut by_total: Vec<&Sample> = samples.iter().collect();
    by_total.sort_by_key(|s| s.calls.values().sum::<usize>());
    let typical = by_total[by_total.len() / 2];
    let breakdown: Vec<String> = typical.calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
    md.push_str(&format!(
        "| critical path | wall time | wall / critical path | target | SageMaker calls (throttled ones included) |\n|---:|---:|---:|---|---:|\n\
         | {} | {} | **{}** | ≤ 1.25x: {} | {total:.0} |\n\nCalls of a typical run: {}.\n",
        format_duration(critical_path.as_secs_f64()),
        format_duration(wall),
        format_ratio(ratio),
        if ratio <= 1.25 { "met" } else { "**not met**" },
        breakdown.join(", ")
    ));
    let json = json!({
        "runs": samples.len(), "profiles": profiles, "apps": 2 * profiles, "spaces": profiles,
        "delay_s": delay.as_secs_f64(), "throttle_rate": THROTTLE_RATE, "page_size": PAGE_SIZE,
        "critical_path_s": critical_path.as_secs_f64(), "wall_s": wall, "ratio": ratio, "calls": total,
        "calls_by_operation": typical.calls,
    });
    Part { markdown: md, json, errors }
}
