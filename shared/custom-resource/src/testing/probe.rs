//! A custom resource whose properties choose its behaviour, for the core's own tests: the
//! in-process protocol and fuzz suites, and (as examples/probe.rs) the real-process ones.

use crate::clock::epoch_ms;
use crate::{Change, CustomResource, Done, Error, Outcome, Pending, Retry, Step, StepResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProbeProperties {
    name: String,
    #[serde(default)]
    behavior: Behavior,
    wait_seconds: Option<u64>,
    settings: Option<Settings>,
    data: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default, PartialEq)]
enum Behavior {
    #[default]
    Succeed,
    Fail,
    Panic,
    /// Pending (resource `probe-<Name>`) until WaitSeconds have passed on the step's clock.
    Wait,
    /// A long, non-ASCII failure Reason.
    LongReason,
    /// Every step ends in a server error.
    ServerError,
    /// Every step finds `probe-<Name>` made and busy: retried later, the error naming it.
    Busy,
}

/// A nested, typed property: numbers and booleans arrive as strings from CloudFormation.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Settings {
    idle_timeout_in_minutes: u32,
    enabled: bool,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct ProbeProgress {
    started_ms: u64,
}

/// Answers as its properties say (its PhysicalResourceId is `probe-<Name>`) and records each
/// step it runs ("create <Name>", "update <Name>", "delete <id>").
#[derive(Clone, Default)]
pub struct Probe {
    steps: Arc<Mutex<Vec<String>>>,
}

impl Probe {
    pub fn steps(&self) -> Vec<String> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, step: String) {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).push(step);
    }

    fn step(&self, step: &Step, p: &ProbeProperties, progress: Option<ProbeProgress>) -> StepResult<ProbeProgress> {
        let id = format!("probe-{}", p.name);
        let now_ms = epoch_ms(step.now());
        match p.behavior {
            Behavior::Fail => return Err(Error::new(format!("probe {} failed as asked", p.name))),
            Behavior::LongReason => return Err(Error::new("échec \"probe\" ".repeat(600))),
            Behavior::Panic => panic!("probe {} panicked as asked", p.name),
            Behavior::ServerError => return Err(Error::new("DescribeProbe: InternalFailure: try later").retry(Retry::ServerError)),
            Behavior::Busy => return Err(Error::new(format!("probe {} is busy", p.name)).for_resource(&id).retry_later()),
            Behavior::Wait => {
                let progress = progress.unwrap_or(ProbeProgress { started_ms: now_ms });
                let waited = Duration::from_millis(now_ms.saturating_sub(progress.started_ms));
                if waited < Duration::from_secs(p.wait_seconds.unwrap_or(1)) {
                    return Ok(Pending::new(progress, format!("probe {} to finish waiting", p.name)).resource(&id).poll_after(Duration::from_secs(1)).into());
                }
            }
            Behavior::Succeed => {}
        }
        let mut done = Done::new(id).with("Name", &p.name);
        if let Some(s) = &p.settings {
            done = done.with("DoubledIdleTimeout", (s.idle_timeout_in_minutes * 2).to_string()).with("IdleEnabled", s.enabled.to_string());
        }
        for (k, v) in p.data.clone().unwrap_or_default() {
            done = done.with(k, v);
        }
        Ok(done.into())
    }
}

impl CustomResource for Probe {
    type Properties = ProbeProperties;
    type CreateProgress = ProbeProgress;
    type UpdateProgress = ProbeProgress;
    type DeleteProgress = ProbeProgress;

    fn recognizes(&self, physical_id: &str) -> bool {
        physical_id.starts_with("probe-")
    }

    async fn create(&self, step: &Step, p: &ProbeProperties, progress: Option<ProbeProgress>) -> StepResult<ProbeProgress> {
        self.record(format!("create {}", p.name));
        self.step(step, p, progress)
    }

    async fn update(&self, step: &Step, change: Change<'_, ProbeProperties>, progress: Option<ProbeProgress>) -> StepResult<ProbeProgress> {
        self.record(format!("update {}", change.properties.name));
        self.step(step, change.properties, progress)
    }

    async fn delete(&self, step: &Step, id: &str, p: &ProbeProperties, progress: Option<ProbeProgress>) -> Result<Outcome<ProbeProgress>, Error> {
        self.record(format!("delete {id}"));
        match p.behavior {
            Behavior::Wait => self.step(step, p, progress),
            _ => Ok(Done::new(id).into()),
        }
    }
}
