//! An unmodified Phoenix client (the `phoenix` npm package, run by Node)
//! chats with the server and sees presence: one socket authenticates with
//! the `token` param, the other with phoenix.js 1.8's `authToken`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Installs the script's Node packages if a fresh checkout lacks them.
fn ensure_node_modules(dir: &Path) {
    if dir.join("node_modules/phoenix").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm runs (Node.js is required for this test)");
    assert!(status.success(), "npm ci failed");
}

#[actix_web::test]
async fn the_phoenix_npm_client_chats_and_sees_presence() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/phoenix-client");
    ensure_node_modules(&dir);
    let output = tokio::process::Command::new("node")
        .arg("chat.mjs")
        .current_dir(&dir)
        .env("CMS_URL", &app.base)
        .env("PARENT_TOKEN", &t.parent1.token)
        .env("TUTOR_TOKEN", &t.tutor.token)
        .env("PARENT_ID", &t.parent1.id)
        .env("TUTOR_ID", &t.tutor.id)
        .env("CONVERSATION_ID", &t.conversation)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed:\n{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("a JSON result line");
    let result: serde_json::Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["presence_both"], true, "{result}");
    assert_eq!(result["tutor_got"], "hello from phoenix.js", "{result}");
    assert_eq!(result["seqs"], serde_json::json!([1, 2]), "{result}");
    let after: Vec<&str> = result["presence_after_leave"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        after,
        vec![t.parent1.id.as_str()],
        "the tutor left presence"
    );
}
