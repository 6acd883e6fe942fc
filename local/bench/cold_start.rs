//! Cold start: each function as a fresh process under the Lambda emulator. Init is the time from
//! spawn to the first Runtime API `next`; the first event is played once init is done (emulator
//! delays zero), and the peak RSS (VmHWM) read after it. The peer is the same user-profile
//! resource in Python (bench/peer/user_profile.py: crhelper + boto3) run by awslambdaric.
//!
//! The floors (issue #27), in the same run under the same emulators: `minimal-function` (nothing
//! but `lambda_runtime`) for init, and `plain-sdk-user-profile` (the user-profile Create's calls
//! made by plain SDK clients) for the first event; both in examples/floors.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::{AuthMode, UserSettings};
use local_cloud::cloud::LocalCloud;
use local_cloud::cloudformation::RequestType;
use local_cloud::lambda::{FunctionConfig, signed_request_event};
use sagemaker_emulator::Options;
use serde_json::{Value, json};

use crate::Settings;
use crate::report::Part;
use crate::util::{binary, format_duration, format_mb, format_ratio, median, ms, peak_rss_mb, timed_send, wait_init};

const ROLE: &str = "arn:aws:iam::123456789012:role/StudioExecution";
pub const PEER: &str = "python-user-profile";
/// The init floor and the first-event floor of the user-profile Create.
pub const MINIMAL: &str = "minimal-function";
pub const PLAIN_SDK: &str = "plain-sdk-user-profile";
const ASSET_BUCKET: &str = "bench-cold-assets";
/// The sign-in function's trusted caller: a portal backend's role and a session of it.
const PORTAL_ROLE: &str = "arn:aws:iam::123456789012:role/PortalBackend";
const PORTAL: &str = "arn:aws:sts::123456789012:assumed-role/PortalBackend/bench";

/// What is measured, in the order measured within a run.
const SUBJECTS: [(&str, &str); 8] = [
    (MINIMAL, "echo (a direct invoke)"),
    (PLAIN_SDK, "user-profile Create"),
    ("studio-user-profile", "user-profile Create"),
    (PEER, "user-profile Create"),
    ("studio-domain", "domain Create"),
    ("studio-lifecycle-config", "lifecycle-config Create (a 3-file asset)"),
    ("studio-space", "space Create (shared)"),
    ("studio-signin-url", "Function URL request (a portal backend)"),
];

#[derive(Default)]
struct Samples {
    init_ms: Vec<f64>,
    first_event_ms: Vec<f64>,
    peak_rss_mb: Vec<f64>,
    error: Option<String>,
}

/// What every run's functions work against: a domain with a profile, and an asset zip.
struct Fixture {
    domain_id: String,
}

pub async fn run(settings: &Settings) -> Part {
    let warmups = if settings.smoke { 0 } else { 1 };
    let mut samples: BTreeMap<&str, Samples> = BTreeMap::new();
    let mut errors = Vec::new();
    for run in 0..warmups + settings.runs {
        let counted = run >= warmups;
        // The service's own page sizes (each List* operation's default MaxResults), not the
        // tests' pages of two: ListTags answers a profile's tags in one page, as SageMaker does.
        let options = Options { transition_delay: Duration::ZERO, page_size: usize::MAX, ..Options::default() };
        let cloud = match LocalCloud::start_with(options).await {
            Ok(cloud) => cloud,
            Err(e) => {
                errors.push(format!("cold start: cannot start the local cloud: {e}"));
                break;
            }
        };
        let fixture = match seed(&cloud).await {
            Ok(fixture) => fixture,
            Err(e) => {
                errors.push(format!("cold start: seeding failed: {e}"));
                break;
            }
        };
        for (function, _) in SUBJECTS {
            let entry = samples.entry(function).or_default();
            if entry.error.is_some() {
                continue; // failed once: not tried again
            }
            match measure(&cloud, &fixture, settings, function, run).await {
                Ok(_) if !counted => {}
                Ok((init, first_event, rss)) => {
                    entry.init_ms.push(ms(init));
                    entry.first_event_ms.push(ms(first_event));
                    entry.peak_rss_mb.push(rss);
                }
                Err(e) => {
                    errors.push(format!("cold start of {function}: {e}"));
                    entry.error = Some(first_line(&e));
                }
            }
        }
    }
    report(settings, &samples, errors)
}

async fn seed(cloud: &LocalCloud) -> Result<Fixture, String> {
    let sm = cloud.sagemaker_client();
    let domain = sm
        .create_domain()
        .domain_name("bench-cold-start")
        .auth_mode(AuthMode::Iam)
        .default_user_settings(UserSettings::builder().execution_role(ROLE).build())
        .subnet_ids("subnet-0bench")
        .vpc_id("vpc-0bench")
        .send()
        .await
        .map_err(|e| format!("CreateDomain: {}", aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    let domain_id = domain.domain_id().ok_or("CreateDomain without DomainId")?.to_string();
    cloud.sagemaker.snapshot(); // settles the domain (delays are zero)
    sm.create_user_profile()
        .domain_id(&domain_id)
        .user_profile_name("signin-user")
        .send()
        .await
        .map_err(|e| format!("CreateUserProfile: {}", aws_sdk_sagemaker::error::DisplayErrorContext(e)))?;
    cloud.sagemaker.snapshot();

    cloud.s3.create_bucket(ASSET_BUCKET).await.map_err(|e| e.to_string())?;
    let zip = crate::staging::small_zip(&[("setup.sh", "echo ready\n"), ("requirements.txt", "requests\n"), ("lib/tool.py", "print('tool')\n")])?;
    cloud
        .s3
        .client()
        .await
        .put_object()
        .bucket(ASSET_BUCKET)
        .key("tools.zip")
        .body(zip.into())
        .send()
        .await
        .map_err(|e| format!("PutObject: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(Fixture { domain_id })
}

/// Deploys one fresh process of `function`, waits for its init, plays its first event.
/// Returns (init, first event, peak RSS in MB).
async fn measure(cloud: &LocalCloud, fixture: &Fixture, settings: &Settings, function: &str, run: usize) -> Result<(Duration, Duration, f64), String> {
    let mut config = if function == PEER {
        let python = settings.venv.join("bin/python");
        FunctionConfig::new(function, python).args(["-m", "awslambdaric", "user_profile.handler"]).env("PYTHONPATH", settings.peer.display().to_string())
    } else {
        FunctionConfig::new(function, binary(function)?)
    };
    config = config.timeout(Duration::from_secs(120));
    for (name, value) in cloud.function_env() {
        config = config.env(name, value);
    }
    if function == "studio-signin-url" {
        config = config.env("SIGNIN_TRUSTED_CALLER_ARNS", PORTAL_ROLE).env("SIGNIN_DOMAIN_IDS", &fixture.domain_id);
    }
    cloud.lambda.deploy(config).await.map_err(|e| format!("deploy: {e}"))?;
    let process = wait_init(&cloud.lambda, function, Duration::from_secs(60)).await?;
    let init = process.init_duration().ok_or("no init time")?;

    let first_event = match function {
        MINIMAL => {
            let started = Instant::now();
            let echo = cloud.lambda.invoke(function, json!({"run": run})).await.map_err(|e| format!("{}: {}", e.error_type, e.error_message))?;
            let elapsed = started.elapsed();
            if echo != json!({"run": run}) {
                return Err(format!("the echo came back as {echo}"));
            }
            elapsed
        }
        "studio-user-profile" | PEER | PLAIN_SDK => {
            let who = match function {
                PEER => "python",
                PLAIN_SDK => "plain",
                _ => "rust",
            };
            let props = json!({
                "DomainId": fixture.domain_id,
                "UserProfileName": format!("{who}-{run}"),
                "UserSettings": {"ExecutionRole": ROLE},
                "Tags": [{"Key": "team", "Value": "bench"}],
            });
            create(cloud, function, "Profile", props).await?
        }
        "studio-space" => {
            let props = json!({
                "DomainId": fixture.domain_id,
                "SpaceName": format!("bench-space-{run}"),
                "SpaceSharingSettings": {"SharingType": "Shared"},
                "SpaceSettings": {"AppType": "JupyterLab"},
            });
            create(cloud, function, "Space", props).await?
        }
        "studio-domain" => {
            let props = json!({
                "DomainName": format!("bench-domain-{run}"),
                "AuthMode": "IAM",
                "VpcId": "vpc-0bench",
                "SubnetIds": ["subnet-0a", "subnet-0b"],
                "DefaultUserSettings": {"ExecutionRole": ROLE},
            });
            create(cloud, function, "Domain", props).await?
        }
        "studio-lifecycle-config" => {
            let props = json!({
                "StudioLifecycleConfigName": format!("bench-cold-{run}"),
                "StudioLifecycleConfigAppType": "JupyterLab",
                "Commands": ["bash \"$ASSETS_DIR/tools/setup.sh\""],
                "Assets": [{"Name": "tools", "SourceBucket": ASSET_BUCKET, "SourceKey": "tools.zip"}],
                "AssetBucket": ASSET_BUCKET,
            });
            create(cloud, function, "LifecycleConfig", props).await?
        }
        "studio-signin-url" => {
            let started = Instant::now();
            let body = json!({"DomainId": fixture.domain_id, "UserProfileName": "signin-user", "ExpiresInSeconds": 60});
            let event = signed_request_event(PORTAL, "POST", &body.to_string());
            let response = cloud.lambda.invoke_url(function, event).await.map_err(|e| e.to_string())?;
            let elapsed = started.elapsed();
            if response.status != 200 || response.json().get("AuthorizedUrl").and_then(Value::as_str).is_none() {
                return Err(format!("no AuthorizedUrl: {} {}", response.status, response.body));
            }
            elapsed
        }
        other => return Err(format!("no first event for {other}")),
    };
    let rss = peak_rss_mb(process.pid)?;
    Ok((init, first_event, rss))
}

async fn create(cloud: &LocalCloud, function: &str, logical_id: &str, props: Value) -> Result<Duration, String> {
    let event = cloud.cfn.event(RequestType::Create, function, logical_id, None, props, None).await.map_err(|e| e.to_string())?;
    let (elapsed, _) = timed_send(&cloud.cfn, &cloud.lambda, function, event).await?;
    Ok(elapsed)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

struct Medians {
    init_ms: f64,
    first_event_ms: f64,
    peak_rss_mb: f64,
}

fn medians(samples: Option<&Samples>) -> Option<Medians> {
    let s = samples.filter(|s| s.error.is_none() && !s.init_ms.is_empty())?;
    Some(Medians { init_ms: median(&s.init_ms), first_event_ms: median(&s.first_event_ms), peak_rss_mb: median(&s.peak_rss_mb) })
}

fn label(function: &str) -> String {
    match function {
        PEER => "Python peer (crhelper + boto3, awslambdaric)".into(),
        MINIMAL => format!("**floor**: `{MINIMAL}` (`lambda_runtime` only)"),
        PLAIN_SDK => format!("**floor**: `{PLAIN_SDK}` (the same calls, plain SDK clients)"),
        _ => format!("`{function}`"),
    }
}

fn report(settings: &Settings, samples: &BTreeMap<&str, Samples>, errors: Vec<String>) -> Part {
    let mut md = format!(
        "### Cold start\n\nA fresh process per function and run; median of {} run(s). Init: from spawn to the first \
         Runtime API `next`. First event: from the invocation to the arrival of the response PUT \
         (emulator delays 0). Peak RSS: VmHWM after the first event. x of floor: init against \
         `{MINIMAL}`'s, the user-profile Create against `{PLAIN_SDK}`'s (same run, same emulators).\n\n\
         | function | first event | init | x of floor | first event time | x of floor | peak RSS |\n|---|---|---:|---:|---:|---:|---:|\n",
        settings.runs
    );
    let init_floor = medians(samples.get(MINIMAL)).map(|m| m.init_ms);
    let event_floor = medians(samples.get(PLAIN_SDK)).map(|m| m.first_event_ms);
    let of = |value: f64, floor: Option<f64>| floor.map_or_else(|| "n/a".to_string(), |floor| format_ratio(value / floor));
    let mut rows = Vec::new();
    for (function, event) in SUBJECTS {
        let label = label(function);
        let row = match (medians(samples.get(function)), samples.get(function).and_then(|s| s.error.clone())) {
            (Some(m), _) => {
                let same_event = matches!(function, "studio-user-profile" | PEER | PLAIN_SDK);
                md.push_str(&format!(
                    "| {label} | {event} | {} | {} | {} | {} | {} |\n",
                    format_duration(m.init_ms / 1000.0),
                    of(m.init_ms, init_floor),
                    format_duration(m.first_event_ms / 1000.0),
                    if same_event { of(m.first_event_ms, event_floor) } else { "".into() },
                    format_mb(m.peak_rss_mb)
                ));
                json!({"function": function, "event": event, "init_ms": m.init_ms, "first_event_ms": m.first_event_ms, "peak_rss_mb": m.peak_rss_mb})
            }
            (None, error) => {
                let error = error.unwrap_or_else(|| "not run".into());
                md.push_str(&format!("| {label} | {event} | not measured: {} | | | | |\n", error.replace('|', "/")));
                json!({"function": function, "event": event, "error": error})
            }
        };
        rows.push(row);
    }
    let met = |ok: bool| if ok { "met" } else { "**not met**" };
    let ours = medians(samples.get("studio-user-profile"));
    let peer = medians(samples.get(PEER));
    let mut ratios = Value::Null;
    if let (Some(ours), Some(peer)) = (&ours, peer) {
        let init = peer.init_ms / ours.init_ms;
        let first = peer.first_event_ms / ours.first_event_ms;
        let rss = peer.peak_rss_mb / ours.peak_rss_mb;
        md.push_str(&format!(
            "\nPeer / `studio-user-profile`: init **{}** (target ≥ 30x: {}), first event **{}** (target ≥ 10x: {}), \
             peak RSS **{}** (target ≥ 3x: {}).\n",
            format_ratio(init),
            met(init >= 30.0),
            format_ratio(first),
            met(first >= 10.0),
            format_ratio(rss),
            met(rss >= 3.0)
        ));
        ratios = json!({"init": init, "first_event": first, "peak_rss": rss});
    }
    // Against the floors: every custom-resource function's init, and the user-profile Create.
    let mut floors = Value::Null;
    if let Some(init_floor) = init_floor {
        let worst = SUBJECTS
            .iter()
            .filter(|(f, _)| f.starts_with("studio-") && *f != "studio-signin-url")
            .filter_map(|(f, _)| medians(samples.get(f)).map(|m| (*f, m.init_ms / init_floor)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let first = ours.as_ref().zip(event_floor).map(|(ours, floor)| ours.first_event_ms / floor);
        let mut line = String::from("\nAgainst the floors:");
        if let Some((function, ratio)) = worst {
            line.push_str(&format!(
                " the slowest custom-resource init (`{function}`) is **{}** the minimal function's (target ≤ 2x: {});",
                format_ratio(ratio),
                met(ratio <= 2.0)
            ));
        }
        if let Some(first) = first {
            line.push_str(&format!(" the user-profile Create is **{}** the plain-SDK floor's (target ≤ 2x: {}).", format_ratio(first), met(first <= 2.0)));
        }
        md.push_str(&line);
        md.push('\n');
        floors = json!({"init_floor_ms": init_floor, "first_event_floor_ms": event_floor, "worst_init_over_floor": worst.map(|w| json!({"function": w.0, "ratio": w.1})), "user_profile_first_event_over_floor": first});
    }
    Part { markdown: md, json: json!({"runs": settings.runs, "rows": rows, "peer_over_ours": ratios, "over_floor": floors}), errors }
}
