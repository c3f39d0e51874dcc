//! The quarantine's retry loop: while clamd is configured, files it could
//! not scan (it was down, or answered with an error) are tried again every
//! `uploads.rescan_every_secs` on the injected clock, so a test moves time
//! instead of waiting. Without a scanner there is nothing to do.

use super::Documents;

pub fn start(documents: Documents, every_secs: u64) {
    if documents.uploads.scanner.is_none() {
        return;
    }
    let every = chrono::Duration::seconds(every_secs.max(1) as i64);
    tokio::spawn(async move {
        loop {
            let next = documents.clock.now() + every;
            documents.clock.sleep_until(next).await;
            if let Err(e) = documents.rescan().await {
                tracing::warn!(error = %e, "rescanning quarantined uploads failed");
            }
        }
    });
}
