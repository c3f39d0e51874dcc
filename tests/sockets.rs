//! The socket's edges: authentication at the upgrade, authorization at
//! join, bad frames, limits, logout and presence.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use crate::common;

use std::time::Duration;

use cms_loadtest::{ClientError, PhxClient};
use cms_protocol::ReplyStatus;
use common::*;
use serde_json::json;

#[actix_web::test]
async fn upgrade_without_a_valid_token_is_refused_with_403() {
    let app = spawn_app().await;
    let user = app.register("parent", "Pat").await;
    let bad = [
        format!("ws://127.0.0.1:{}/socket/websocket?vsn=2.0.0", app.port),
        app.ws_url("not-a-token"),
        app.ws_url(&format!("{}x", user.token)),
    ];
    for url in bad {
        match PhxClient::connect(&url).await {
            Err(ClientError::Http(status)) => assert_eq!(status, 403, "{url}"),
            other => panic!("{url}: expected 403, got {:?}", other.map(|_| ())),
        }
    }
    // The real token works.
    app.connect(&user).await;
}

#[actix_web::test]
async fn joining_a_topic_of_someone_else_is_unauthorized() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let stranger = app.register("parent", "Stranger").await;
    let other_tutor = app.register("tutor", "Other Tutor").await;
    for (user, topic) in [
        (&stranger, topic(&t.conversation)),
        (&other_tutor, topic(&t.conversation)),
        (
            &stranger,
            format!("family:{}", t.parent1.family_id.clone().expect("family")),
        ),
        (&stranger, format!("tutor:{}", t.tutor.id)),
        (&stranger, format!("user:{}", t.parent1.id)),
        (&stranger, "conversation:doesnotexist".to_owned()),
    ] {
        let c = app.connect(user).await;
        let r = c.join(&topic, json!({})).await.expect("reply");
        assert_eq!(r.status, ReplyStatus::Error, "{topic}");
        assert_eq!(r.response["reason"], "unauthorized", "{topic}");
        // …and nothing is sent there on its behalf.
        let r = c
            .push(
                &topic,
                "message:send",
                json!({ "client_msg_id": "x", "body": "hi" }),
            )
            .await
            .expect("reply");
        assert_eq!(r.status, ReplyStatus::Error);
    }
    // Members do get in: both parents to the family, the tutor to theirs.
    let family = format!("family:{}", t.parent1.family_id.clone().expect("family"));
    for (user, topic) in [
        (&t.parent2, family),
        (&t.tutor, format!("tutor:{}", t.tutor.id)),
        (&t.parent1, format!("user:{}", t.parent1.id)),
    ] {
        let r = app
            .connect(user)
            .await
            .join(&topic, json!({}))
            .await
            .expect("reply");
        assert_eq!(r.status, ReplyStatus::Ok, "{topic}: {:?}", r.response);
    }
}

#[actix_web::test]
async fn malformed_frames_get_an_error_reply_and_the_socket_lives_on() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let c = app.connect(&t.parent1).await;
    for bad in [
        "not json",
        "{\"a\":1}",
        "[1,2,3]",
        "[\"1\",\"2\",\"phoenix\"]",
    ] {
        c.send_raw_text(bad.to_owned()).await.expect("sent");
        let f = c
            .next_event_named("phoenix", "phx_reply", WAIT)
            .await
            .expect("error reply");
        assert_eq!(f.payload["status"], "error", "{bad}");
        assert_eq!(f.payload["response"]["reason"], "malformed", "{bad}");
    }
    let topic = topic(&t.conversation);
    c.join(&topic, json!({})).await.expect("join");
    // Bad payloads on a good topic: error replies, nothing stored.
    for payload in [
        json!({ "body": "no id" }),
        json!({ "client_msg_id": "a", "body": 5 }),
        json!("text"),
        json!({ "client_msg_id": "a", "body": "x", "extra": 1 }),
    ] {
        let r = c
            .push(&topic, "message:send", payload.clone())
            .await
            .expect("reply");
        assert_eq!(r.status, ReplyStatus::Error, "{payload}");
        assert_eq!(r.response["reason"], "bad_request", "{payload}");
    }
    let r = c
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "long", "body": "x".repeat(4001) }),
        )
        .await
        .expect("reply");
    assert_eq!(r.response["reason"], "body_too_long");
    let r = c.push(&topic, "no:such", json!({})).await.expect("reply");
    assert_eq!(r.response["reason"], "unknown_event");
    let r = c
        .push(
            &topic,
            "message:send",
            json!({ "client_msg_id": "ok", "body": "x".repeat(4000) }),
        )
        .await
        .expect("reply");
    assert_eq!(r.status, ReplyStatus::Ok, "4000 characters are allowed");
    assert_eq!(r.response["message"]["seq"], 1, "nothing bad was stored");
    c.heartbeat().await.expect("heartbeat answered");
}

#[actix_web::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let c = app.connect(&t.parent1).await;
    let body = "x".repeat(70 * 1024);
    let frame = json!([null, "1", "phoenix", "heartbeat", { "pad": body }]).to_string();
    c.send_raw_text(frame).await.expect("sent");
    let closed = c.closed(WAIT).await.expect("closed");
    assert_eq!(closed.map(|(code, _)| code), Some(1009));
}

#[actix_web::test]
async fn a_flooding_socket_gets_errors_then_is_closed() {
    let mut config = test_config();
    config.socket.rate_per_second = 5.0;
    config.socket.rate_burst = 5.0;
    config.socket.rate_close_after = 20;
    let app = spawn_app_with(config).await;
    let t = thread(&app).await;
    let c = app.connect(&t.parent1).await;
    for _ in 0..40 {
        if c.push_no_wait("phoenix", "heartbeat", json!({}))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut limited = 0;
    while let Ok(f) = c
        .next_event_named("phoenix", "phx_reply", Duration::from_secs(2))
        .await
    {
        if f.payload["response"]["reason"] == "rate_limited" {
            limited += 1;
        }
    }
    assert!(limited >= 1, "refused frames get rate_limited replies");
    let closed = c.closed(WAIT).await.expect("closed");
    assert_eq!(closed.map(|(code, _)| code), Some(1008));
}

#[actix_web::test]
async fn logout_revokes_the_token_and_closes_its_sockets_only() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let a = app.connect(&t.parent1).await;
    let b = app.connect(&t.parent1).await;
    let other = app.connect(&t.tutor).await;
    let (status, _) = app
        .post("/api/v1/auth/logout", Some(&t.parent1.token), json!({}))
        .await;
    assert_eq!(status, 204);
    for c in [&a, &b] {
        let closed = c.closed(WAIT).await.expect("closed");
        assert!(closed.is_some(), "socket closed by the server");
    }
    let (status, body) = app.get("/api/v1/me", Some(&t.parent1.token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    match PhxClient::connect(&app.ws_url(&t.parent1.token)).await {
        Err(ClientError::Http(403)) => {}
        other => panic!("revoked token must be refused, got {:?}", other.map(|_| ())),
    }
    // Another user's socket is untouched.
    other.heartbeat().await.expect("still open");
}

#[actix_web::test]
async fn presence_shows_who_is_online() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let topic = topic(&t.conversation);
    let p = app.joined(&t.parent1, &topic).await;
    let state = p
        .next_event_named(&topic, "presence_state", WAIT)
        .await
        .expect("state");
    assert!(state.payload[&t.parent1.id]["metas"][0]["phx_ref"].is_string());
    let tu = app.joined(&t.tutor, &topic).await;
    let state = tu
        .next_event_named(&topic, "presence_state", WAIT)
        .await
        .expect("state");
    let mut keys: Vec<&String> = state.payload.as_object().expect("map").keys().collect();
    keys.sort();
    let mut want = vec![&t.parent1.id, &t.tutor.id];
    want.sort();
    assert_eq!(keys, want);
    let diff = p
        .next_event_named(&topic, "presence_diff", WAIT)
        .await
        .expect("diff");
    assert_eq!(
        diff.payload["joins"][&t.tutor.id]["metas"][0]["name"],
        "Tina Tutor"
    );
    tu.close().await;
    let diff = p
        .next_event_named(&topic, "presence_diff", WAIT)
        .await
        .expect("diff");
    assert!(
        diff.payload["leaves"][&t.tutor.id].is_object(),
        "{}",
        diff.payload
    );
}

#[actix_web::test]
async fn shutdown_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let t = thread(&app).await;
    let c = app.connect(&t.parent1).await;
    c.heartbeat().await.expect("open");
    let handle = app.handle.clone().expect("in-process");
    actix_web::rt::spawn(async move { handle.stop().await });
    let closed = c.closed(WAIT).await.expect("closed");
    assert_eq!(closed.map(|(code, _)| code), Some(1001));
}

#[actix_web::test]
async fn the_token_can_travel_in_the_websocket_protocol_header() {
    use base64::Engine;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app().await;
    let user = app.register("parent", "Header").await;
    let url = format!("ws://127.0.0.1:{}/socket/websocket?vsn=2.0.0", app.port);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&user.token);
    let mut req = url.as_str().into_client_request().expect("request");
    let protocols = format!("phoenix, base64url.bearer.phx.{encoded}");
    req.headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().expect("header"));
    let c = PhxClient::connect_with_request(req)
        .await
        .expect("accepted with phoenix subprotocol");
    let r = c
        .join(&format!("user:{}", user.id), json!({}))
        .await
        .expect("join");
    assert_eq!(r.status, ReplyStatus::Ok);
    // A forged header is refused like a forged param.
    let mut req = url.as_str().into_client_request().expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "phoenix, base64url.bearer.phx.Zm9v"
            .parse()
            .expect("header"),
    );
    assert!(matches!(
        PhxClient::connect_with_request(req).await,
        Err(ClientError::Http(403))
    ));
}

#[actix_web::test]
async fn origins_outside_the_allowlist_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut config = test_config();
    config.socket.allowed_origins = vec!["https://app.example.test".into()];
    let app = spawn_app_with(config).await;
    let user = app.register("parent", "Origin").await;
    for (origin, ok) in [
        ("https://app.example.test", true),
        ("https://evil.example.test", false),
    ] {
        let mut req = app
            .ws_url(&user.token)
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("origin", origin.parse().expect("header"));
        match PhxClient::connect_with_request(req).await {
            Ok(_) => assert!(ok, "{origin} must be refused"),
            Err(ClientError::Http(403)) => assert!(!ok, "{origin} must be allowed"),
            Err(e) => panic!("{origin}: {e}"),
        }
    }
}
