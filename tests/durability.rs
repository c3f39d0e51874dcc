//! Durability on the embedded surrealkv store, with the real binary in its
//! own process: history survives a restart, and every acknowledged message
//! survives `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use common::process::{signal, start};
use common::*;
use serde_json::json;

async fn send_all(app: &TestApp, user: &User, topic: &str, n: usize, tag: &str) -> Vec<u64> {
    let c = app.connect(user).await;
    c.join(topic, json!({})).await.expect("join");
    let pending: Vec<_> = (0..n)
        .map(|i| {
            c.push(
                topic,
                "message:send",
                json!({ "client_msg_id": format!("{tag}-{i}"), "body": format!("{tag} {i}") }),
            )
        })
        .collect();
    let replies = futures_util::future::join_all(pending).await;
    if replies.iter().any(|r| r.is_err()) {
        panic!("socket closed: {:?}", c.closed(WAIT).await);
    }
    replies
        .into_iter()
        .map(|r| {
            r.expect("acknowledged").response["message"]["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect()
}

async fn history(app: &TestApp, user: &User, topic: &str) -> Vec<(u64, String)> {
    let c = app.connect(user).await;
    let mut out = Vec::new();
    let r = c
        .join(topic, json!({ "since_seq": 0 }))
        .await
        .expect("join");
    let mut more = r.response["more"].as_bool().expect("more");
    let mut page = r.response["messages"].as_array().expect("messages").clone();
    loop {
        for m in &page {
            out.push((
                m["seq"].as_u64().expect("seq"),
                m["body"].as_str().expect("body").to_owned(),
            ));
        }
        if !more {
            return out;
        }
        let after = out.last().map(|m| m.0).unwrap_or(0);
        let r = c
            .push(
                topic,
                "message:history",
                json!({ "after_seq": after, "limit": 100 }),
            )
            .await
            .expect("page");
        more = r.response["more"].as_bool().expect("more");
        page = r.response["messages"].as_array().expect("messages").clone();
    }
}

#[tokio::test]
async fn history_survives_a_graceful_restart_and_acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path());
    let app = TestApp::remote(server.port);
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let first = send_all(&app, &t.parent1, &topic, 20, "before restart").await;
    assert_eq!(first.len(), 20);

    // SIGTERM: a clean stop, exit code 0.
    signal(&server.child, "-TERM");
    let status = server.child.wait().expect("exits");
    drop(server);
    assert!(status.success(), "graceful stop exits 0, got {status}");

    let server = start(dir.path());
    let app = TestApp::remote(server.port);
    let h = history(&app, &t.tutor, &topic).await;
    let expected: Vec<(u64, String)> = (0..20)
        .map(|i| (i + 1, format!("before restart {i}")))
        .collect();
    assert_eq!(
        h, expected,
        "history intact after restart; tokens still valid"
    );

    // kill -9 straight after the acknowledgements.
    let acked = send_all(&app, &t.tutor, &topic, 200, "before kill").await;
    signal(&server.child, "-KILL");
    drop(server);

    let server = start(dir.path());
    let app = TestApp::remote(server.port);
    let h = history(&app, &t.parent2, &topic).await;
    assert_eq!(h.len(), 220, "every acknowledged message is there");
    let seqs: Vec<u64> = h.iter().map(|m| m.0).collect();
    assert_eq!(seqs, (1..=220).collect::<Vec<u64>>());
    for seq in acked {
        assert!(
            h.iter()
                .any(|m| m.0 == seq && m.1.starts_with("before kill"))
        );
    }
}

/// Phoenix clients put the bearer token in the socket URL; the access log
/// names the path, never the query.
#[tokio::test]
async fn the_access_log_never_holds_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::process::start_logging(dir.path(), "info");
    let app = TestApp::remote(server.port);
    let t = thread(&app).await;
    let c = app.joined(&t.parent1, &topic(&t.conversation)).await;
    c.close().await;
    let deadline = std::time::Instant::now() + WAIT;
    let logged = |needle: &str| {
        server
            .output
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    };
    while !logged("/socket/websocket") {
        assert!(
            std::time::Instant::now() < deadline,
            "the upgrade is logged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!logged(&t.parent1.token), "a token reached the log");
    assert!(!logged("token="), "a query string reached the log");
}
