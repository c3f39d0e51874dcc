//! `cms-server admin create` makes an admin from the password on stdin; the
//! admin can then log in and read every conversation's audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::process::start;
use common::*;
use serde_json::json;

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("surrealkv://{}", dir.path().join("db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_cms-server"))
        .args([
            "--config",
            "/nonexistent/cms.toml",
            "--database-url",
            &db,
            "admin",
            "create",
            "--email",
            "Ops@Example.test",
        ])
        .env("CMS_LOG_FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long admin password\n")
        .expect("write");
    let out = child.wait_with_output().expect("exits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ops@example.test"));

    let server = start(dir.path());
    let app = TestApp::remote(server.port);
    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "ops@example.test", "password": "a long admin password" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "admin");
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "ops@example.test", "password": "wrong password" }),
        )
        .await;
    assert_eq!(status, 401);
}
