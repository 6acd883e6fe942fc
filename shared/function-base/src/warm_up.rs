//! What the first event needs and init does not, prepared on a thread of its own while init
//! goes on (issue #27): a function's configuration and SDK clients, which cost as much as the
//! rest of init (each SDK's endpoint partition table above all), then the TLS roots. Lambda's
//! init ends at the first `next`, which then no longer waits for them; the first event waits
//! only for what is not done yet. On AWS its first call needs the roots anyway.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::OnceCell;

type Build<T> = dyn Fn() -> Pin<Box<dyn Future<Output = T>>> + Send + Sync;

/// A value built once per process: on the warm-up thread, or by the first [`Prepared::get`]
/// if it comes first (the other then waits for it rather than building again).
pub struct Prepared<T> {
    value: Arc<OnceCell<T>>,
    build: Arc<Build<T>>,
}

impl<T> Clone for Prepared<T> {
    fn clone(&self) -> Self {
        Self { value: self.value.clone(), build: self.build.clone() }
    }
}

impl<T> Prepared<T> {
    pub async fn get(&self) -> &T {
        self.value.get_or_init(|| (self.build)()).await
    }
}

/// Starts the warm-up thread: `build`, then the TLS roots ([`crate::http`]), after naming the
/// platform's CA bundle in `SSL_CERT_FILE` (see `http::roots_from_the_platform_bundle`). To be
/// called from the one-thread runtime of `main`, before anything else starts a thread (setting
/// a variable is sound only then); that runtime drives whatever I/O or timers `build` uses
/// (none, where Lambda's environment holds the region and credentials). Without a thread, the
/// first `get` builds and the first connection reads the roots.
pub fn prepare<T, F, Fut>(build: F) -> Prepared<T>
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
{
    let prepared = Prepared { value: Arc::new(OnceCell::new()), build: Arc::new(move || Box::pin(build()) as Pin<Box<dyn Future<Output = T>>>) };
    crate::http::roots_from_the_platform_bundle();
    let (warm, runtime) = (prepared.clone(), tokio::runtime::Handle::current());
    let spawned = std::thread::Builder::new().name("warm-up".into()).spawn(move || {
        yield_to_the_main_thread();
        runtime.block_on(warm.get());
        crate::http::read_roots();
    });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "no thread to warm up on; the first event builds what it needs and reads the TLS roots");
    }
    prepared
}

/// Runs this thread at the lowest priority (nice 19, a per-thread attribute on Linux), so that
/// it takes no CPU from the main thread on its way to `next`, nor from the process that answers
/// `next` (in Lambda, its own agent in the same VM): a function of up to 1,769 MB has at most one
/// vCPU, where an equal share would slow init by as much as this thread works. Whenever the
/// main thread waits (for the first event, or for what this thread builds), it runs.
fn yield_to_the_main_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: changes only this thread's scheduling priority; a refusal leaves it as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// This thread's nice value.
    fn nice() -> i32 {
        // SAFETY: reads this thread's own scheduling priority.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    /// The threads a value was built on: name and nice value.
    type Builders = Arc<Mutex<Vec<(String, i32)>>>;

    /// A value that records the threads it was built on, taking `build_time` to build.
    fn recorded(build_time: Duration) -> (Prepared<u32>, Builders) {
        let builders = Arc::new(Mutex::new(Vec::new()));
        let seen = builders.clone();
        let prepared = prepare(move || {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push((std::thread::current().name().unwrap_or_default().to_string(), nice()));
                std::thread::sleep(build_time);
                7
            }
        });
        (prepared, builders)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_value_is_built_on_the_warm_up_thread_while_init_goes_on() {
        let (prepared, builders) = recorded(Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(200)).await;
        // At the lowest priority: it takes no CPU from the main thread on its way to `next`.
        assert_eq!(*builders.lock().unwrap(), [("warm-up".to_string(), 19)]);
        assert_ne!(nice(), 19, "the main thread keeps its priority");
        assert_eq!(*prepared.get().await, 7);
        assert_eq!(builders.lock().unwrap().len(), 1, "the first event uses what the warm-up built");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_event_that_comes_while_it_is_built_waits_for_it_and_nothing_is_built_twice() {
        let (prepared, builders) = recorded(Duration::from_millis(100));
        let (first, second) = tokio::join!(prepared.get(), prepared.clone().get_owned());
        assert_eq!((*first, second), (7, 7));
        assert_eq!(builders.lock().unwrap().len(), 1);
    }

    impl<T: Clone> Prepared<T> {
        async fn get_owned(self) -> T {
            self.get().await.clone()
        }
    }
}
