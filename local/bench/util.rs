//! Small helpers shared by the benchmarks.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use local_cloud::cloudformation::{CloudFormation, Response, Status};
use local_cloud::lambda::{LambdaService, ProcessRecord};
use serde_json::Value;

/// A workspace function binary (from LOCAL_CLOUD_BIN_DIR, which bench/run sets).
pub fn binary(name: &str) -> Result<PathBuf, String> {
    let name = name.to_string();
    std::panic::catch_unwind(move || local_cloud::binaries::function_binary(&name)).map_err(|panic| {
        let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
        message.unwrap_or_else(|| "binary not found".into())
    })
}

/// Peak resident set (VmHWM) of a live process, in MB (10^6 bytes).
pub fn peak_rss_mb(pid: Option<u32>) -> Result<f64, String> {
    let pid = pid.ok_or("no process id")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))?;
    Ok(kb * 1024.0 / 1e6)
}

/// The median; NaN for no values.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Waits until the function's newest process has asked for its first invocation.
pub async fn wait_init(lambda: &LambdaService, name: &str, timeout: Duration) -> Result<ProcessRecord, String> {
    let started = Instant::now();
    loop {
        if let Some(process) = lambda.processes(name).pop()
            && process.first_next.is_some()
        {
            return Ok(process);
        }
        if started.elapsed() > timeout {
            return Err(format!("{name} did not finish its init within {timeout:?}\n{}", tail(&lambda.logs(name))));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Plays `event` to `function` and checks that the one response is SUCCESS. The time is from
/// the invocation to the arrival of the response's PUT at the local S3 (CloudFormation's receipt).
pub async fn timed_send(cfn: &CloudFormation, lambda: &LambdaService, function: &str, event: Value) -> Result<(Duration, Response), String> {
    let request_id = event["RequestId"].as_str().ok_or("event without RequestId")?.to_string();
    let started = Instant::now();
    let response = cfn.send(function, event).await.map_err(|e| format!("{e}\n{}", tail(&lambda.logs(function))))?;
    if response.status != Status::Success {
        return Err(format!("FAILED: {}", response.reason.clone().unwrap_or_default()));
    }
    let received = cfn.puts_for(&request_id).into_iter().find(|put| put.succeeded()).ok_or("no recorded response PUT")?.received_at;
    Ok((received.saturating_duration_since(started), response))
}

/// The last lines of a log, for error messages.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// "1.23 s", "45.6 ms", "789 µs".
pub fn format_duration(seconds: f64) -> String {
    if seconds.is_nan() {
        "n/a".into()
    } else if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.001 {
        format!("{:.1} ms", seconds * 1000.0)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

/// "12.3 MB"
pub fn format_mb(mb: f64) -> String {
    if mb.is_nan() { "n/a".into() } else { format!("{mb:.1} MB") }
}

/// "12.3x"
pub fn format_ratio(ratio: f64) -> String {
    if ratio.is_nan() || ratio.is_infinite() {
        "n/a".into()
    } else if ratio >= 10.0 {
        format!("{ratio:.0}x")
    } else {
        format!("{ratio:.2}x")
    }
}
