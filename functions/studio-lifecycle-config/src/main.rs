//! studio-lifecycle-config: a CloudFormation custom resource that stages lifecycle assets
//! (zip objects in S3) to an S3 prefix by streaming, and creates a Studio lifecycle config
//! whose script copies them into `$ASSETS_DIR` before running the user's commands.

mod claim;
mod lifecycle_config;
mod plan;
mod properties;
mod script;
mod staging;

use lifecycle_config::LifecycleConfig;

// One thread, as the other functions (issue #27): staging's own CPU work (CRC-32 with the
// CPU's carry-less multiply, inflate, the SDK's hashing) is small beside its transfers, Lambda
// gives a small function under one vCPU, and worker threads cost every cold start their
// spawning. Measured against two workers: the same staging times, 5-8 MB less peak RSS.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), custom_resource::BoxError> {
    release_large_buffers();
    custom_resource::run(|config| async move {
        let clients = studio::Clients::new(&config);
        LifecycleConfig::from_env(clients.sagemaker.clone(), clients.s3())
    })
    .await
}

/// Buffers of a megabyte or more (file parts, read windows) are mapped and unmapped on their
/// own, so freed ones go back to the OS at once. Otherwise glibc raises its mmap threshold as
/// such buffers are freed and its heaps keep them: tens of MB more at 128 MB of memory.
///
/// Two arenas at most: glibc otherwise gives each thread (the roots thread, blocking threads)
/// an arena of its own, whose freed chunks stay resident.
fn release_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt is thread-safe and only adjusts the allocator's parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
