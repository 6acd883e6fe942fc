//! The service's shared state: the deployed functions, their queues, records and logs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::types::{EVENT_PAYLOAD_LIMIT, Error, FunctionConfig, InvocationRecord, InvocationSource, Outcome, ProcessRecord, SYNC_PAYLOAD_LIMIT};
use crate::httpd::ServerHandle;
use crate::{lock, uuid_v4};

pub(super) struct Inner {
    pub(super) endpoint: String,
    pub(super) functions: Mutex<HashMap<String, Arc<Function>>>,
    /// (access key id, "Invoke") of every signed Invoke API call, in order.
    pub(super) signed: Mutex<Vec<(String, String)>>,
    pub(super) supervisors: Mutex<Vec<JoinHandle<()>>>,
    pub(super) _server: ServerHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A supervisor owns its function's process (kill_on_drop): aborting it kills the process.
        for supervisor in lock(&self.supervisors).drain(..) {
            supervisor.abort();
        }
    }
}

pub(super) struct Function {
    pub(super) config: FunctionConfig,
    pub(super) queue: mpsc::UnboundedSender<Queued>,
    pub(super) state: Mutex<FunctionState>,
    /// Queued plus running invocations.
    pub(super) busy: watch::Sender<usize>,
    pub(super) logs: Mutex<String>,
}

#[derive(Default)]
pub(super) struct FunctionState {
    pub(super) records: Vec<InvocationRecord>,
    pub(super) init_errors: Vec<Value>,
    pub(super) processes: Vec<ProcessRecord>,
}

pub(super) struct Queued {
    pub(super) request_id: String,
    pub(super) payload: Value,
    pub(super) source: InvocationSource,
    pub(super) reply: Option<oneshot::Sender<Outcome>>,
}

impl Inner {
    pub(super) fn function(&self, name: &str) -> Option<Arc<Function>> {
        lock(&self.functions).get(name).cloned()
    }

    /// Queues an invocation; with `want_reply`, returns where the outcome will arrive.
    pub(super) fn submit(
        &self,
        name: &str,
        payload: Value,
        size: usize,
        source: InvocationSource,
        want_reply: bool,
    ) -> Result<Option<oneshot::Receiver<Outcome>>, Error> {
        let limit = if want_reply { SYNC_PAYLOAD_LIMIT } else { EVENT_PAYLOAD_LIMIT };
        if size > limit {
            return Err(Error::PayloadTooLarge { size, limit });
        }
        let function = self.function(name).ok_or_else(|| Error::FunctionNotFound(name.to_string()))?;
        let (reply, receiver) = if want_reply {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        function.busy.send_modify(|n| *n += 1);
        let queued = Queued { request_id: uuid_v4(), payload, source, reply };
        if function.queue.send(queued).is_err() {
            function.busy.send_modify(|n| *n = n.saturating_sub(1));
            return Err(Error::Stopped(name.to_string()));
        }
        Ok(receiver)
    }
}

impl Function {
    pub(super) fn log(&self, line: impl AsRef<str>) {
        let mut logs = lock(&self.logs);
        logs.push_str(line.as_ref());
        logs.push('\n');
    }
}
