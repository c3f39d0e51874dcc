//! The HTTP edge under abuse: slow bodies cut off while the server keeps
//! answering, connections per address capped, security headers on every
//! response. Raw TCP, since a polite client cannot be slow on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes or `limit` passes; what arrived.
async fn read_all(stream: &mut TcpStream, limit: Duration) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[actix_web::test]
async fn a_body_trickled_slower_than_the_deadline_gets_408_while_others_are_served() {
    let mut config = test_config();
    config.limits.request_body_timeout_secs = 1;
    let app = spawn_app_with(config).await;
    let mut slow = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    slow.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    // Meanwhile the server answers everyone else.
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, 200);
    // The rest of the body never comes; the server gives up on it and
    // closes the connection (a real wait: this is the server's own timer).
    let answer = read_all(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn a_socket_outlives_the_body_deadline_but_a_slow_body_with_an_upgrade_header_does_not() {
    let mut config = test_config();
    config.limits.request_body_timeout_secs = 1;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let room = topic(&t.conversation);
    let c = app.joined(&t.parent1, &room).await;
    // Past the deadline (a real wait: it is the server's own timer), the
    // socket is still open: its liveness is the heartbeat, not the body
    // deadline of the request that opened it.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.heartbeat()
        .await
        .expect("still open after the body deadline");
    let sent = send(&c, &room, "still here").await;
    assert_eq!(sent["body"], "still here", "{sent}");
    assert!(
        c.closed(Duration::from_millis(100)).await.is_err(),
        "the socket closed"
    );

    // Saying "upgrade" on an ordinary request does not lift the deadline.
    let mut slow = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    slow.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
          Upgrade: websocket\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let answer = read_all(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[actix_web::test]
async fn an_address_holds_at_most_the_configured_connections() {
    let mut config = test_config();
    config.limits.connections_per_address = 3;
    let app = spawn_app_with(config).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        c.write_all(request).await.unwrap();
        let mut buf = [0u8; 12];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(c);
    }
    let mut fourth = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    fourth.write_all(request).await.unwrap();
    let answer = read_all(&mut fourth, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.contains("\"error\":\"too_many_requests\""),
        "{answer}"
    );

    // Closing one gives the address its place back.
    drop(held.pop());
    drop(fourth);
    let mut again = None;
    for _ in 0..50 {
        let mut c = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        c.write_all(request).await.unwrap();
        let mut buf = [0u8; 12];
        c.read_exact(&mut buf).await.unwrap();
        if &buf == b"HTTP/1.1 200" {
            again = Some(c);
            break;
        }
        // The server notices the close when it next reads that socket.
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a freed place is usable again");
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    for path in ["/healthz", "/api/v1/me", "/api/v1/nothing"] {
        let res = http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        assert!(
            h.get("strict-transport-security").is_none(),
            "plain HTTP: {path}"
        );
    }
    // Served over TLS (as the public URL says): HSTS too.
    let mut config = test_config();
    config.public_url = Some("https://api.example.org".into());
    let tls = spawn_app_with(config).await;
    let res = http
        .get(format!("{}/healthz", tls.base))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}
