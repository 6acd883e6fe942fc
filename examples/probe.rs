//! A custom resource whose properties choose its behaviour: the core's end-to-end tests run
//! it as a real Lambda process to exercise every protocol rule (see tests/e2e/core_protocol.rs;
//! the same rules are tested in-process in shared/custom-resource/tests/protocol.rs).

use aws_sdk_sagemaker::types::UserSettings;
use custom_resource::{Change, CustomResource, Done, Error, Outcome, Pending, Step};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use studio::Api;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Properties {
    name: String,
    #[serde(default)]
    behavior: Behavior,
    wait_seconds: Option<u64>,
    settings: Option<Settings>,
    default_user_settings: Option<Api<UserSettings>>,
    data: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default, PartialEq)]
enum Behavior {
    #[default]
    Succeed,
    Fail,
    Panic,
    /// Pending until WaitSeconds have passed since the first step.
    Wait,
    /// A long, non-ASCII failure Reason.
    LongReason,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Settings {
    idle: Idle,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Idle {
    idle_timeout_in_minutes: u32,
    enabled: bool,
}

#[derive(Serialize, Deserialize, Clone)]
struct Progress {
    started_ms: u64,
    steps: u32,
}

struct Probe;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl Probe {
    fn step(&self, p: &Properties, progress: Option<Progress>) -> Result<Outcome<Progress>, Error> {
        let id = format!("probe-{}", p.name);
        match p.behavior {
            Behavior::Fail => return Err(Error::new(format!("probe {} failed as asked", p.name))),
            Behavior::LongReason => return Err(Error::new("échec \"probe\" ".repeat(600))),
            Behavior::Panic => panic!("probe {} panicked as asked", p.name),
            Behavior::Wait => {
                let progress = progress.unwrap_or(Progress { started_ms: now_ms(), steps: 0 });
                let waited = Duration::from_millis(now_ms() - progress.started_ms);
                if waited < Duration::from_secs(p.wait_seconds.unwrap_or(1)) {
                    let next = Progress { steps: progress.steps + 1, ..progress };
                    return Ok(Pending::new(next, format!("probe {} to finish waiting", p.name)).resource(&id).into());
                }
            }
            Behavior::Succeed => {}
        }
        let mut done = Done::new(id).with("Name", &p.name);
        if let Some(s) = &p.settings {
            done = done.with("DoubledIdleTimeout", (s.idle.idle_timeout_in_minutes * 2).to_string()).with("IdleEnabled", s.idle.enabled.to_string());
        }
        if let Some(idle) =
            p.default_user_settings.as_ref().and_then(|u| u.jupyter_lab_app_settings()?.app_lifecycle_management()?.idle_settings()?.idle_timeout_in_minutes())
        {
            done = done.with("JupyterLabIdleTimeout", idle.to_string());
        }
        for (k, v) in p.data.clone().unwrap_or_default() {
            done = done.with(k, v);
        }
        Ok(done.into())
    }
}

impl CustomResource for Probe {
    type Properties = Properties;
    type CreateProgress = Progress;
    type UpdateProgress = Progress;
    type DeleteProgress = Progress;

    fn recognizes(&self, physical_id: &str) -> bool {
        physical_id.starts_with("probe-")
    }

    async fn create(&self, _: &Step, p: &Properties, progress: Option<Progress>) -> Result<Outcome<Progress>, Error> {
        self.step(p, progress)
    }

    async fn update(&self, _: &Step, change: Change<'_, Properties>, progress: Option<Progress>) -> Result<Outcome<Progress>, Error> {
        self.step(change.properties, progress)
    }

    async fn delete(&self, _: &Step, id: &str, p: &Properties, progress: Option<Progress>) -> Result<Outcome<Progress>, Error> {
        match p.behavior {
            Behavior::Wait => self.step(p, progress),
            _ => Ok(Done::new(id).into()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), custom_resource::BoxError> {
    custom_resource::run(|_config| async {
        // Stands for a bad configuration found at start-up.
        match std::env::var("PROBE_INIT_ERROR") {
            Ok(e) => Err(e),
            Err(_) => Ok(Probe),
        }
    })
    .await
}
