//! Process supervision: one supervisor task per function delivers its queue one invocation at a
//! time to an instance (a child process and its Runtime API server), replacing instances that
//! exit, crash or miss their deadline.

use std::convert::Infallible;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::runtime_api::{Delivery, RuntimeApi, RuntimeEvent, body_value};
use super::state::{Function, Inner, Queued};
use super::types::{InvocationRecord, Outcome, ProcessRecord, error_document};
use crate::httpd::{self, ServerHandle};
use crate::{REGION, lock};

/// How long a new process may take to ask for its first invocation (Lambda's init limit).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn supervise(function: Arc<Function>, service: Weak<Inner>, mut instance: Option<Instance>, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(queued) = queue.recv().await {
        let started = Instant::now();
        function.log(format!("START RequestId: {} Version: $LATEST", queued.request_id));
        let outcome = run_invocation(&function, &service, &mut instance, &queued).await;
        let duration = started.elapsed();
        function.log(format!("END RequestId: {}", queued.request_id));
        function.log(format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tMemory Size: {} MB",
            queued.request_id,
            duration.as_secs_f64() * 1000.0,
            function.config.memory_mb
        ));
        // Record before replying and before going idle, so that waiters see the record.
        lock(&function.state).records.push(InvocationRecord {
            request_id: queued.request_id,
            payload: queued.payload,
            source: queued.source,
            asynchronous: queued.reply.is_none(),
            outcome: outcome.clone(),
            duration,
        });
        if let Some(reply) = queued.reply {
            let _ = reply.send(outcome);
        }
        function.busy.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Delivers one invocation to the instance (starting one if needed) and waits for its outcome.
async fn run_invocation(function: &Arc<Function>, service: &Weak<Inner>, slot: &mut Option<Instance>, queued: &Queued) -> Outcome {
    if let Some(instance) = slot
        && let Ok(Some(status)) = instance.child.try_wait()
    {
        function.log(format!("process exited while idle ({status}); starting a new one"));
        *slot = None;
    }
    let instance = match slot {
        Some(instance) => instance,
        None => match Instance::spawn(function, service).await {
            Ok(instance) => slot.insert(instance),
            Err(error) => {
                function.log(format!("cannot start {}: {error}", function.config.binary.display()));
                return Outcome::Error(error_document("Runtime.StartError", error.to_string()));
            }
        },
    };

    let delivery = Delivery { request_id: queued.request_id.clone(), payload: queued.payload.clone() };
    if instance.next.send(delivery).await.is_err() {
        *slot = None;
        return Outcome::Error(error_document("Runtime.Unknown", "the runtime API of the process is gone"));
    }

    // Until the process picks the invocation up, it has the init limit; then the function timeout.
    let mut deadline = Instant::now() + INIT_TIMEOUT;
    let mut picked = false;
    let id = queued.request_id.as_str();
    let (outcome, discard) = loop {
        tokio::select! {
            event = instance.events.recv() => match event {
                Some(RuntimeEvent::Picked { request_id, deadline: d }) if request_id == id => {
                    picked = true;
                    deadline = d;
                }
                Some(RuntimeEvent::Response { request_id, body }) if request_id == id => {
                    break (Outcome::Response(body_value(&body)), false);
                }
                Some(RuntimeEvent::Error { request_id, body }) if request_id == id => {
                    break (Outcome::Error(body), false);
                }
                // Lambda resets the sandbox after an init error; the invocation fails with it.
                Some(RuntimeEvent::InitError(body)) => break (Outcome::Error(body), true),
                Some(_) => {} // about another request id: a confused runtime, ignored
                None => break (Outcome::Error(error_document("Runtime.Unknown", "runtime API closed")), true),
            },
            status = instance.child.wait() => {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                let message = format!("RequestId: {id} Error: Runtime exited ({status})");
                function.log(&message);
                break (Outcome::Error(error_document("Runtime.ExitError", message)), true);
            }
            () = tokio::time::sleep_until(deadline) => {
                if picked {
                    function.log(format!(
                        "{id} Task timed out after {:.2} seconds",
                        function.config.timeout.as_secs_f64()
                    ));
                    break (Outcome::TimedOut, true);
                }
                let message = format!("the process did not ask for an invocation within {INIT_TIMEOUT:?}");
                function.log(&message);
                break (Outcome::Error(error_document("Runtime.InitTimeout", message)), true);
            }
        }
    };
    if discard && let Some(mut instance) = slot.take() {
        let _ = instance.child.kill().await;
    }
    outcome
}

// ---------------------------------------------------------------------------------------------
// An instance: one process and its Runtime API server.

pub(super) struct Instance {
    child: Child,
    next: mpsc::Sender<Delivery>,
    events: mpsc::UnboundedReceiver<RuntimeEvent>,
    _server: ServerHandle,
}

impl Instance {
    pub(super) async fn spawn(function: &Arc<Function>, service: &Weak<Inner>) -> std::io::Result<Self> {
        let config = &function.config;
        let listener = httpd::bind_loopback().await?;
        let runtime_api = listener.local_addr()?.to_string();
        let (next, next_rx) = mpsc::channel(1);
        let (events_tx, events) = mpsc::unbounded_channel();
        let process = {
            let mut state = lock(&function.state);
            state.processes.push(ProcessRecord { pid: None, spawned: std::time::Instant::now(), first_next: None });
            state.processes.len() - 1
        };
        let api =
            Arc::new(RuntimeApi { function: function.clone(), process, next: tokio::sync::Mutex::new(next_rx), events: events_tx, service: service.clone() });
        let server = httpd::serve(listener, move |req| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(req).await) }
        });

        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let mut command = Command::new(&config.binary);
        command
            .args(&config.args)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &config.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", config.name))
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", crate::s3::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", crate::s3::SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_LAMBDA", format!("http://{runtime_api}"))
            .env("PATH", path)
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        lock(&function.state).processes[process].spawned = std::time::Instant::now();
        let mut child = command.spawn().map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {}: {e}", config.binary.display())))?;
        lock(&function.state).processes[process].pid = child.id();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(capture(stdout, function.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(capture(stderr, function.clone()));
        }
        Ok(Instance { child, next, events, _server: server })
    }
}

/// Appends the process's output to the function's logs, line by line.
async fn capture(stream: impl AsyncRead + Unpin, function: Arc<Function>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                tracing::debug!(target: "local_cloud::lambda", function = %function.config.name, "{text}");
                function.log(text);
            }
        }
    }
}

/// "YYYY/MM/DD/[$LATEST]<32 hex>", as Lambda names log streams.
fn log_stream_name() -> String {
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}/{month:02}/{day:02}/[$LATEST]{:032x}", fastrand::u128(..))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}
