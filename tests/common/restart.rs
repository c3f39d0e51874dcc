//! Restarts on the same store, as after `kill -9`: each run starts the
//! server at a given instant in a fresh actix system on its own thread, on a
//! copy of the previous run's database files, and tears it all down after.
//! The embedded store keeps its lock until the process exits, hence copies.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use cms_actors::ManualClock;
use cms_server::config::Config;

use super::TestApp;

/// What a run does against its server.
pub type Body<T> =
    Box<dyn FnOnce(TestApp, Arc<ManualClock>) -> Pin<Box<dyn Future<Output = T>>> + Send>;

/// Copies the database directory as it is on disk, lock file and all:
/// what a restart after `kill -9` finds.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Run number `run_no` (0 starts empty) at `now` (RFC 3339), returning what
/// `body` returns.
pub fn run<T: Send + 'static>(
    config: &Config,
    dirs: &tempfile::TempDir,
    run_no: usize,
    now: &str,
    body: Body<T>,
) -> T {
    let mut config = config.clone();
    let db = dirs.path().join(format!("db{run_no}"));
    if run_no > 0 {
        copy_dir(&dirs.path().join(format!("db{}", run_no - 1)), &db);
    }
    config.database.url = format!("surrealkv://{}", db.display());
    let now = super::notify::instant(now);
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let clock = Arc::new(ManualClock::new(now));
            let app = cms_server::startup::Application::build_with_clock(config, clock.clone())
                .await
                .expect("server builds");
            let app = super::serve(app);
            let handle = app.handle.clone();
            let out = body(app, clock).await;
            if let Some(h) = handle {
                h.stop().await;
            }
            out
        })
    })
    .join()
    .expect("server thread")
}
