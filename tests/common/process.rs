//! The real `cms-server` binary in a child process, on a surrealkv store.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub child: Child,
    pub port: u16,
    /// Everything the server has printed so far.
    pub output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// A failed assertion must not leave a server running.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cms-server` on a surrealkv directory and waits for its address.
pub fn start(dir: &Path) -> Server {
    start_logging(dir, "warn")
}

/// As [`start`], logging at `filter`.
pub fn start_logging(dir: &Path, filter: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cms-server"))
        .args([
            "--config",
            "/nonexistent/cms.toml",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
        ])
        .arg(format!("surrealkv://{}", dir.join("db").display()))
        .env("CMS_AUTH_SECRET", "durability-test")
        .env("CMS_LOG_FILTER", filter)
        // The test sends in bursts far above a person's rate.
        .env("CMS_SOCKET_RATE_BURST", "100000")
        .env("CMS_LIMITS_MESSAGES_PER_USER_PER_SECOND", "100000")
        // Tutors here are booked without DBS paperwork.
        .env("CMS_DOCUMENTS_REQUIRE_DBS", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line.clone());
            if let Some(addr) = line.split("http://").nth(1) {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server printed its address");
    let port = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    Server {
        child,
        port,
        output,
    }
}

pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}
